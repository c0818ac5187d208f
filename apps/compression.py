"""`omnitune compress`: parent model -> (prune -> recovery fine-tune) -> quantize -> a new run folder, evaluated
by the harness and recorded on the leaderboard with the parent as its base model.

Order matters: pruning ranks fp32 weights and recovery trains fp32 weights, so both come before quantization,
which is last because a quantized model is for inference only."""

from __future__ import annotations

import inspect
import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from apps.pipeline import evaluate_derived_run
from evaluation.leaderboard import Leaderboard
from shared import distributed
from shared import run_dir as layout
from shared.compression.heads import head_importance, prune_heads
from shared.compression.pruning import (
    SparsityCallback,
    compressed_size_mb,
    prunable_linears,
    prune_unstructured,
    sparsity_report,
    taylor_importance,
)
from shared.compression.quantization import quantize
from shared.compression.structured import feed_forward_pairs, prune_feed_forward
from shared.config import TrainParams, dump_params
from shared.errors import OmnituneError
from shared.pretrained import resolve
from shared.task_protocol import Built, Task
from shared.training import fine_tune


@dataclass
class Plan:
    quantize: str | None = None  # a scheme of shared.compression.quantization.SCHEMES
    prune: str | None = None  # unstructured criterion: magnitude | taylor
    sparsity: float = 0.5
    ffn_ratio: float = 0.0  # share of feed-forward neurons to remove (structured)
    head_ratio: float = 0.0  # share of attention heads to remove in every layer, by importance (structured)
    importance: str = "magnitude"  # how FFN neurons are ranked: magnitude | taylor
    recovery_steps: int = 0  # fine-tuning steps after pruning, zeros kept (0: none)
    gradual: bool = False  # reach the sparsity during recovery (cubic schedule) instead of at once
    calibration_examples: int = 256  # training examples for Taylor importance

    def check(self) -> None:
        if not (self.quantize or self.prune or self.ffn_ratio or self.head_ratio):
            raise OmnituneError(
                "nothing to do: no --quantize, --prune, --ffn_ratio or --head_ratio given",
                "e.g. omnitune compress RUN --quantize dynamic-int8",
            )
        if self.gradual and not (self.prune and self.recovery_steps):
            raise OmnituneError(
                "--gradual prunes during the recovery fine-tune, so it needs --prune and --recovery_steps",
                "add --recovery_steps 200 (or drop --gradual)",
            )
        if self.gradual and self.prune == "taylor":
            raise OmnituneError(
                "gradual pruning re-ranks weights by magnitude as it trains",
                "use --prune magnitude with --gradual, or drop --gradual for Taylor",
            )

    def suffix(self) -> str:
        parts = [f"heads{round(self.head_ratio * 100)}"] if self.head_ratio else []
        parts += [f"ffn{round(self.ffn_ratio * 100)}"] if self.ffn_ratio else []
        if self.prune:
            parts.append(f"{self.prune}{round(self.sparsity * 100)}{'-gradual' if self.gradual else ''}")
        if self.recovery_steps:
            parts.append(f"rec{self.recovery_steps}")
        if self.quantize:
            parts.append(self.quantize)
        return "-".join(parts)


def compress(
    task: Task, parent: str, plan: Plan, params: TrainParams, run: Path, board: Leaderboard | None = None, log=print
) -> dict:
    plan.check()
    log = distributed.main_log(log)  # every rank compresses the same way; the main process logs and writes
    started = time.monotonic()
    with distributed.main_first():
        parent_path = resolve(parent, params.allow_pickle, log=log)
    built = task.build(parent_path, params)
    model, processor = built.model, built.processor
    if distributed.is_main():
        run.mkdir(parents=True, exist_ok=True)
    facts: dict = {"parent": str(Path(parent).resolve()) if Path(parent).exists() else parent, "plan": asdict(plan)}

    def taylor(layers):
        log(f"ranking weights by Taylor importance on {plan.calibration_examples} training examples...")
        return taylor_importance(model, training_batches(task, built, params, plan.calibration_examples), layers)

    if plan.head_ratio:
        log(f"ranking attention heads by importance on {plan.calibration_examples} training examples...")
        scores = head_importance(model, training_batches(task, built, params, plan.calibration_examples))
        report = prune_heads(model, plan.head_ratio, scores)
        facts["head_pruning"] = asdict(report)
        log(f"attention heads: {report.heads_before} -> {report.heads_after} in every layer")
    if plan.ffn_ratio:
        pairs = feed_forward_pairs(model)
        scores = (
            taylor({n: m for u, up, d, down in pairs for n, m in ((u, up), (d, down))})
            if plan.importance == "taylor"
            else None
        )
        report = prune_feed_forward(model, plan.ffn_ratio, scores)
        facts["ffn_pruning"] = asdict(report)
        log(
            f"feed-forward neurons: {report.neurons_before} -> {report.neurons_after} in each of {report.blocks} blocks"
        )
    if plan.prune and not plan.gradual:  # ranked on the model as structured pruning left it
        scores = taylor(prunable_linears(model, task.head_modules)) if plan.prune == "taylor" else None
        report = prune_unstructured(model, plan.sparsity, plan.prune, task.head_modules, scores)
        facts["unstructured_pruning"] = {k: v for k, v in asdict(report).items() if k != "per_layer"}
        log(f"unstructured {plan.prune} pruning: {report.achieved:.1%} of {report.pruned_layers} layers' weights zero")
    if plan.recovery_steps:
        built = recover(task, built, plan, params, run, log)
        model = built.model
        if plan.prune:  # what the recovery run ended with (gradual pruning reaches its target there)
            report = sparsity_report(prunable_linears(model, task.head_modules), plan.prune, plan.sparsity)
            facts["unstructured_pruning"] = {
                **{k: v for k, v in asdict(report).items() if k != "per_layer"},
                "gradual": plan.gradual,
            }
    if plan.quantize:
        model, report = quantize(model, plan.quantize)
        facts["quantization"] = asdict(report)
        log(
            f"{plan.quantize}: {len(report.quantized_modules)} layers quantized, "
            f"{len(report.fp32_modules)} left in fp32 ({', '.join(report.fp32_modules[:4])}...)"
        )
        model.config.omnitune_compression = {"torchao_version": report.torchao_version, "scheme": plan.quantize}
    model_dir = run / layout.MODEL
    facts["compress_seconds"] = round(time.monotonic() - started, 1)
    if distributed.is_main():
        model.save_pretrained(model_dir, safe_serialization=True)
        processor.save_pretrained(model_dir)
        dump_params(params.model_copy(update={"model": facts["parent"], "output_dir": str(run)}), run / layout.CONFIG)
        facts["zlib_compressed_mb"] = round(compressed_size_mb(model_dir), 2)
        (run / layout.COMPRESSION).write_text(json.dumps(facts, indent=2))
    distributed.wait()

    report, facts["row"] = evaluate_derived_run(
        task, run, params, facts["parent"], lambda: card_body(facts), board, log
    )
    facts["report"] = report.to_json()
    return facts


def recover(task: Task, built: Built, plan: Plan, params: TrainParams, run: Path, log) -> Built:
    """A short fine-tune of the pruned model with its zeros held (or grown gradually), through the shared
    training path, so checkpoints and resume work as in any run."""
    start = run / "pruned"
    if distributed.is_main():
        built.model.save_pretrained(start, safe_serialization=True)
        built.processor.save_pretrained(start)
    distributed.wait()
    recovery = params.model_copy(
        update={
            "model": str(start),
            "max_steps": plan.recovery_steps,
            "peft": "none",
            "eval_strategy": "no",
            "max_train_minutes": None,
            "output_dir": str(run),
            "save_steps": max(50, plan.recovery_steps // 4),
            "warmup_ratio": 0.0,
            "warmup_steps": 0,
        }
    )
    keeper = SparsityCallback(
        task.head_modules,
        plan.sparsity if plan.gradual else 0.0,
        gradual_until=int(plan.recovery_steps * 2 / 3) if plan.gradual else 0,
    )
    log(
        f"recovery fine-tune: {plan.recovery_steps} steps"
        + (f", sparsity growing to {plan.sparsity:.0%} by step {keeper.gradual_until}" if plan.gradual else "")
    )
    result = fine_tune(task, recovery, None, run, log=log, callbacks=[keeper])
    recovered = task.build(str(result.model_dir), recovery)
    distributed.wait()  # every rank has loaded the recovered model before its starting point goes
    if distributed.is_main():
        shutil.rmtree(start)  # the recovered model replaces this starting point
    return recovered


def training_batches(task: Task, built: Built, params: TrainParams, count: int, batch_size: int = 8):
    """Collated training batches with labels, holding only what the model's forward takes (as Trainer does)."""
    examples = task.load_examples(params, "train")
    examples = examples.select(range(min(count, len(examples))))
    features = task.features(examples, built, params, for_eval=False)
    accepted = set(inspect.signature(built.model.forward).parameters)
    collate = task.collator(built, params)
    rows = [{k: v for k, v in features[i].items() if k in accepted} for i in range(len(features))]
    for start in range(0, len(rows), batch_size):
        yield collate(rows[start : start + batch_size])


def card_body(facts: dict) -> str:
    lines = [f"Compressed by omnitune from `{facts['parent']}`.", ""]
    if "head_pruning" in facts:
        heads = facts["head_pruning"]
        lines.append(
            f"- attention heads pruned by importance (Michel et al., 2019): {heads['heads_before']} -> "
            f"{heads['heads_after']} per layer"
        )
    if "ffn_pruning" in facts:
        ffn = facts["ffn_pruning"]
        lines.append(
            f"- feed-forward neurons pruned by {ffn['criterion']}: {ffn['neurons_before']} -> "
            f"{ffn['neurons_after']} per block ({ffn['blocks']} blocks)"
        )
    if "unstructured_pruning" in facts:
        pruning = facts["unstructured_pruning"]
        lines.append(
            f"- unstructured {pruning['criterion']} pruning: {pruning['achieved']:.1%} of the prunable "
            f"weights are zero (dense on disk; {facts['zlib_compressed_mb']} MB zlib-compressed)"
        )
    if facts["plan"]["recovery_steps"]:
        lines.append(f"- recovery fine-tune: {facts['plan']['recovery_steps']} steps")
    if "quantization" in facts:
        quantization = facts["quantization"]
        lines.append(
            f"- {quantization['scheme']} (torchao {quantization['torchao_version']}): "
            f"{quantization['description']}; {len(quantization['quantized_modules'])} layers quantized, "
            f"fp32: {', '.join(quantization['fp32_modules']) or 'none'}. Loading needs torchao."
        )
    return "\n".join(lines + ["", "What was done, in full: `compression.json` in the run folder."])

"""train -> evaluate -> record, the path that `omnitune train` and `omnitune quickstart` share."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from evaluation.audit import audit
from evaluation.harness import Report, evaluate, record
from evaluation.metrics import higher_is_better, load_metric, score
from shared import distributed, shelf
from shared import run_dir as layout
from shared.config import TrainParams
from shared.model_card import write_model_card
from shared.task_protocol import Scorer, Task
from shared.training import TrainResult, cuda_available


@dataclass
class Outcome:
    train: TrainResult
    report: Report
    row_id: int


def evaluate_derived_run(
    task: Task, run: Path, params: TrainParams, parent: str, card: Callable[[], str], board=None, log=print
) -> tuple[Report, int | None]:
    """A model made from another (compressed, exported): scored on the test split, recorded with its parent as
    base model (the row's id is returned), and given a model card saying what was done (`card` is called on the
    main process only, which alone holds every fact)."""
    report = evaluate(task, str(run / layout.MODEL), params, split="test", log=log, artifacts=run)
    report.model = str(run.resolve())
    row = record(report, task, base_model=parent, run=run, board=board)
    if distributed.is_main():
        write_run_card(task, run, report, parent, None, card())
    return report, row


def write_run_card(task: Task, run: Path, report: Report, base_model: str | None, licence: str | None, body: str):
    """The model card of the run's model/ folder: its test scores as model-index, and what was done."""
    write_model_card(
        run / layout.MODEL,
        name=run.name,
        task=task.name,
        base_model=base_model,
        dataset=report.dataset,
        split=report.split,
        metrics=report.metrics,
        licence=licence,
        body=body,
    )


def scorer_for(task: Task, params: TrainParams) -> Scorer:
    """The task metric as training applies it to the validation split."""
    metric = load_metric(task.metric)
    return Scorer(
        score=lambda answers, examples: score(task, answers, examples, params, metric),
        higher_is_better=lambda key: higher_is_better(key, task.metric),
    )


def train_and_evaluate(
    task: Task, params: TrainParams, run: Path, resume: bool = False, board=None, log=print, with_speed: bool = True
) -> Outcome:
    if params.audit and not resume and distributed.is_main():
        audit_before_training(task, params, run, log)
    result = task.train(params, scorer_for(task, params), run, resume=resume, log=log)
    report = evaluate(task, str(result.model_dir), params, split="test", with_speed=with_speed, log=log, artifacts=run)
    report.model = str(run.resolve())
    base_model, licence = base_model_and_licence(result.base_model)
    row = record(report, task, base_model=base_model, run=run, board=board)
    if distributed.is_main():  # one model card and one metrics.json per run, however many processes trained
        if (run / layout.MODEL).is_dir():
            write_run_card(task, run, report, base_model, licence, card_body(task, params, result, report))
        summary = {
            "train_seconds": round(result.train_seconds, 1),
            "train_examples": result.train_examples,
            "trainable_parameters": result.trainable_parameters,
            "total_parameters": result.total_parameters,
            "processes": result.processes,
            "stopped_by_time_budget": result.stopped_by_budget,
            **result.extra,
        }
        metrics = json.loads((run / layout.METRICS).read_text())
        metrics["training"] = summary
        (run / layout.METRICS).write_text(json.dumps(metrics, indent=2))
    distributed.wait()
    return Outcome(result, report, row)


def audit_before_training(task: Task, params: TrainParams, run: Path, log=print) -> None:
    """The data audit, written to the run folder (data_audit.md): advice, never a reason to stop training."""
    try:
        audit(task, params, run, log=log)
    except Exception as error:  # noqa: BLE001 - whatever breaks the audit must not cost the user the run
        log(f"audit: skipped ({type(error).__name__}: {error}); `omnitune audit {task.name}` shows it alone")


def base_model_and_licence(model_ref: str | None) -> tuple[str | None, str | None]:
    """Cards and the leaderboard name a shelf model by its Hub id, as the Hub's own cards do."""
    entry = shelf.SHELF.get(model_ref or "")
    if entry is None:
        return model_ref, None
    return entry.extra.get("base_model", model_ref), entry.extra.get("license")


def card_body(task: Task, params: TrainParams, result: TrainResult, report: Report) -> str:
    share = 100 * result.trainable_parameters / max(result.total_parameters, 1)
    lines = [
        f"Fine-tuned by omnitune for **{task.name}** from `{result.base_model}`"
        f"{' with LoRA adapters (merged)' if params.peft == 'lora' else ' (full fine-tuning)'}.",
        "",
        f"- training: {result.train_examples} examples, {result.train_seconds / 60:.1f} min on "
        f"{result.processes} x {'GPU' if cuda_available() else 'CPU'} process(es); "
        f"{share:.1f}% of {result.total_parameters / 1e6:.1f}M parameters trained",
        f"- evaluated on `{report.dataset}` split `{report.split}` ({report.examples} examples): "
        + ", ".join(
            f"{k} {v:.2f}" for k, v in report.metrics.items() if not isinstance(v, str) and not k.endswith("total")
        ),
        "- the resolved training configuration is `config.yaml` in the run folder",
    ]
    if params.audit:
        lines.append("- the data audit (balance, duplicates, leakage, outliers, gendered words) is `data_audit.md`")
    return "\n".join(lines + model_origin_lines(result.model_dir))


def model_origin_lines(model_dir: Path) -> list[str]:
    """How a generator was conditioned (prefix, language codes) and, for a warm-started encoder-decoder, where
    each part came from and what started new (tasks/seq2seq), as its saved config records them."""
    config_file = model_dir / "config.json"
    config = json.loads(config_file.read_text()) if config_file.is_file() else {}
    lines = (
        [f"- conditioning: {'; '.join(config['omnitune_conditioning'])}"] if config.get("omnitune_conditioning") else []
    )
    provenance = config.get("omnitune_warm_start")
    if not provenance:
        return lines
    lines += [
        "",
        f"### Warm start ({provenance['pairing']})",
        "",
        "| part | weights from | copied | new | new modules |",
        "|---|---|---|---|---|",
    ]
    for part in ("encoder", "decoder", "joint"):
        facts = provenance.get(part)
        if facts:
            lines.append(
                f"| {part} | {facts.get('from', 'new')} | {facts.get('copied_parameters', 0) / 1e6:.1f}M | "
                f"{facts.get('new_parameters', 0) / 1e6:.2f}M | {', '.join(facts.get('new_modules', [])) or '-'} |"
            )
    notes = [provenance[p]["note"] for p in ("encoder", "decoder", "joint") if provenance.get(p, {}).get("note")]
    return lines + [f"\n{note}" for note in notes]

"""`omnitune export RUN --format onnx [--quantize dynamic|static]`: a trained model as an ONNX graph, in a new
run folder beside its parent (model/ holds model.onnx, config.json and the processor's files), checked against
the PyTorch model on real inputs, evaluated by the harness (ONNX Runtime runs it there as everywhere) and
recorded on the leaderboard with the parent as its base model, like a compressed run.

Static int8 is calibrated on the run's own training examples; dynamic int8 needs none."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from apps.pipeline import evaluate_derived_run
from evaluation.leaderboard import Leaderboard
from shared import onnx_quantization, onnx_runtime
from shared import run_dir as layout
from shared.config import TrainParams, dump_params
from shared.errors import OmnituneError
from shared.pretrained import resolve
from shared.task_protocol import Task

# largest output difference an fp32 export may show against PyTorch: absolute for outputs within +-1, relative
# to the largest output beyond (a DINOv2 probe's logits reach the tens, and its exact graph differs by 1.06e-4)
FP32_TOLERANCE = 1e-4


@dataclass
class ExportPlan:
    format: Literal["onnx"] = "onnx"
    quantize: Literal["none", "dynamic", "static"] = "none"
    calibration_examples: int = 128
    calibration_method: onnx_quantization.CalibrationMethod = "minmax"
    check_examples: int = 32  # evaluation examples the export is compared on

    def suffix(self) -> str:
        return "onnx" if self.quantize == "none" else f"onnx-int8-{self.quantize}"


def export_run(
    task: Task, parent: str, plan: ExportPlan, params: TrainParams, run: Path, board: Leaderboard | None, log=print
) -> dict:
    check(task, plan)
    started = time.monotonic()
    built = task.build(resolve(parent, params.allow_pickle, log=log), params)
    built.require_trained(parent, task.name)
    model, processor = built.model, built.processor
    if isinstance(model, onnx_runtime.OnnxModel):
        raise OmnituneError(f"{parent} is already an exported model", "export the run it came from")
    checks = inference_batches(task, built, params, "eval", plan.check_examples)
    model_dir = run / layout.MODEL
    graph = model_dir / onnx_runtime.GRAPH
    log(f"exporting {type(model).__name__} with torch.onnx (dynamo exporter, opset {onnx_runtime.OPSET})...")
    outputs = onnx_runtime.export(model, checks[0], graph)
    model.config.save_pretrained(model_dir)
    processor.save_pretrained(model_dir)
    task.save_extras(built, model_dir)
    facts: dict = {
        "parent": str(Path(parent).resolve()) if Path(parent).exists() else parent,
        "exporter": f"torch.onnx dynamo, opset {onnx_runtime.OPSET}",
        "outputs": outputs,
        "plan": plan.__dict__,
    }
    fp32, largest = onnx_runtime.max_abs_diff(model, onnx_runtime.OnnxModel(model_dir), checks)
    facts["fp32_max_abs_diff"], facts["largest_output"] = fp32, largest
    tolerance = FP32_TOLERANCE * max(1.0, *largest.values())
    log("fp32 graph vs PyTorch, largest output difference: " + ", ".join(f"{k} {v:.2e}" for k, v in fp32.items()))
    if max(fp32.values()) > tolerance:
        raise OmnituneError(
            f"the exported graph differs from the PyTorch model by {max(fp32.values()):.2e} (over {tolerance:.1e})",
            "this architecture does not export faithfully; keep the PyTorch model",
        )
    if plan.quantize != "none":
        fp32_graph = model_dir / "model-fp32.onnx"
        graph.rename(fp32_graph)
        if plan.quantize == "dynamic":
            facts["int8"] = onnx_quantization.quantize_dynamic(fp32_graph, graph)
        else:
            log(f"calibrating on {plan.calibration_examples} training examples ({plan.calibration_method})...")
            calibration = inference_batches(task, built, params, "train", plan.calibration_examples)
            facts["int8"] = onnx_quantization.quantize_static(fp32_graph, graph, calibration, plan.calibration_method)
        fp32_graph.unlink()
        facts["int8_max_abs_diff"] = onnx_runtime.max_abs_diff(model, onnx_runtime.OnnxModel(model_dir), checks)[0]
    facts["export_seconds"] = round(time.monotonic() - started, 1)
    facts["size_mb"] = round(graph.stat().st_size / 1e6, 2)
    dump_params(params.model_copy(update={"model": facts["parent"], "output_dir": str(run)}), run / layout.CONFIG)
    (run / "export.json").write_text(json.dumps(facts, indent=2))

    report, facts["row"] = evaluate_derived_run(
        task, run, params, facts["parent"], lambda: card_body(facts), board, log
    )
    facts["report"] = report.to_json()
    return facts


# tasks whose model is one forward pass from the processor's inputs to the task's outputs
EXPORTABLE = ("question-answering", "token-classification", "image-classification")


def check(task: Task, plan: ExportPlan) -> None:
    """Refuses what cannot be exported before anything is loaded."""
    if plan.format != "onnx":
        raise OmnituneError(f"--format {plan.format} is not offered", "use --format onnx")
    if task.name not in EXPORTABLE:
        raise OmnituneError(
            f"export of {task.name} models is not built yet (generating models need their decoder cache exported)",
            f"exportable now: {', '.join(EXPORTABLE)}",
        )


def inference_batches(task: Task, built, params: TrainParams, split: str, count: int, batch_size: int = 8):
    """Collated model inputs of the first `count` examples of a split, preprocessed as for inference: what the
    graph is checked on ("eval": several lengths, which it must all serve) and what static int8 is calibrated on
    ("train"). Never augmented or mixed: a deployed model sees inference inputs, so ranges are calibrated on those."""
    examples = task.load_examples(params, split)
    examples = examples.select(range(min(count, len(examples))))
    features = task.features(examples, built, params, for_eval=True)
    collate = task.collator(built, params)
    names = onnx_runtime.input_names(built.processor)
    rows = [{k: v for k, v in features[i].items() if k in names} for i in range(len(features))]
    batches = (collate(rows[start : start + batch_size]) for start in range(0, len(rows), batch_size))
    return [onnx_runtime.model_inputs(built.processor, batch) for batch in batches]  # plain dicts of tensors


def card_body(facts: dict) -> str:
    plan = facts["plan"]
    lines = [
        f"Exported by omnitune from `{facts['parent']}` with {facts['exporter']}; runs with ONNX Runtime.",
        "",
        "- fp32 graph vs PyTorch, largest output difference on real inputs: "
        + ", ".join(f"{k} {v:.1e}" for k, v in facts["fp32_max_abs_diff"].items()),
    ]
    if plan["quantize"] == "static":
        int8 = facts["int8"]
        kept = ", ".join(
            f"{k.removeprefix('fp32_').replace('_', ' ')} {v}" for k, v in int8.items() if k.startswith("fp32_") and v
        )
        lines.append(
            f"- int8 by ONNX Runtime, {int8['scheme']} on {plan['calibration_examples']} training examples; "
            f"{int8['dynamic_after_activation']} products fed by GELU quantized per batch; left fp32: {kept or 'none'}"
        )
    elif plan["quantize"] == "dynamic":
        lines.append(f"- int8 by ONNX Runtime, {facts['int8']['scheme']}")
    return "\n".join(lines + ["", "What was done, in full: `export.json` in the run folder."])


def remove_failed(run: Path) -> None:
    """An export that failed leaves no half-written run folder behind."""
    shutil.rmtree(run, ignore_errors=True)

"""The evaluation harness shared by every task: task metric on a split, speed, size and, when asked for, the
task's bias probe; written to the run folder (metrics.json, model card) and recorded on the leaderboard."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from datasets import Dataset

from evaluation.leaderboard import Leaderboard
from evaluation.metrics import score
from evaluation.predicting import predict_with_progress
from evaluation.probes import run_bias_probe
from evaluation.speed import Speed, measure_speed
from shared import distributed
from shared import run_dir as layout
from shared.config import TrainParams
from shared.pretrained import resolve
from shared.run_dir import weights_size_mb
from shared.task_protocol import Built, Task


@dataclass
class Report:
    task: str
    model: str
    dataset: str
    split: str
    examples: int
    metrics: dict[str, float | str]  # strings: how a score was computed (e.g. sacreBLEU's signature)
    seconds: float
    examples_per_second: float
    size_mb: float
    parameters: int
    speed: Speed | None
    # a trivial baseline on the same examples (copy the source, lead sentence), so that a reader can tell
    # learning from copying: {"name": ..., "metrics": {...}}; None for tasks without one
    baseline: dict | None = None
    processes: int = 1  # processes that shared the predictions (examples_per_second is theirs together)
    probes: dict[str, dict] | None = None  # {"bias": ProbeResult as a dict} when asked for (`--probes bias`)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def dataset_name(task: Task, params: TrainParams) -> str:
    return params.data or task.default_data_name


def evaluate(
    task: Task,
    model_ref: str,
    params: TrainParams,
    split: str = "test",
    with_speed: bool = True,
    log=print,
    artifacts: Path | None = None,
) -> Report:
    """The task metric on `split`; with `artifacts`, a task that draws (e.g. a confusion matrix) writes there."""
    examples = task.load_examples(params, split)  # checked before the model is loaded
    with distributed.main_first():  # a shelf entry is prepared (written) once, by the main process
        model_path = resolve(model_ref, params.allow_pickle, log=distributed.main_log(log))
    built = task.build(model_path, params, examples)
    report = evaluate_loaded(task, built, examples, params, model_ref, split, with_speed, log, artifacts)
    report.size_mb = weights_size_mb(Path(model_path))
    return report


def evaluate_loaded(
    task: Task,
    built: Built,
    examples: Dataset,
    params: TrainParams,
    model_ref: str,
    split: str = "test",
    with_speed: bool = True,
    log=print,
    artifacts: Path | None = None,
) -> Report:
    """As `evaluate`, for a model already in memory (size on disk unknown: 0 until the caller sets it).

    Under a distributed launcher each rank predicts its contiguous share of the examples and the answers are
    gathered in dataset order, so N processes predict about N times faster and score exactly as one would. The
    main process scores, measures speed and writes artifacts; every rank returns the same report."""
    log = distributed.main_log(log)
    processes = distributed.world_size()
    log(
        f"evaluating {model_ref} on {len(examples)} {split} examples"
        + (f", sharded over {processes} processes" if processes > 1 else "")
        + "..."
    )
    started = time.perf_counter()
    answers = distributed.map_sharded(lambda share: predict_with_progress(task, built, share, params), examples)
    seconds = time.perf_counter() - started
    report = distributed.from_main(
        lambda: _report(task, built, examples, answers, seconds, params, model_ref, split, with_speed, log, artifacts)
    )
    report.processes = processes
    return report


def _report(
    task: Task,
    built: Built,
    examples: Dataset,
    answers: list,
    seconds: float,
    params: TrainParams,
    model_ref: str,
    split: str,
    with_speed: bool,
    log,
    artifacts: Path | None,
) -> Report:
    """Score the gathered answers and measure speed: the main process's part of an evaluation."""
    metrics = score(task, answers, examples, params)
    media_seconds = task.input_seconds(examples)
    if media_seconds:  # speech: processing time over audio time, at the evaluation batch size
        metrics["real_time_factor"] = seconds / media_seconds
    if artifacts is not None:
        task.write_artifacts(answers, examples, params, artifacts, split)
    baseline = None
    trivial = task.baseline(examples, params)
    if trivial is not None:
        name, outputs = trivial
        baseline = {"name": name, "metrics": _plain(score(task, outputs, examples, params))}
        log(
            f"baseline '{name}' on the same examples: {task.primary_metric} "
            f"{baseline['metrics'][task.primary_metric]:.2f}"
        )
    speed = None
    if with_speed:
        # a generating task samples fewer examples: each one costs a whole generation, not one forward pass;
        # latency is a one-process figure, so under a launcher it is measured by the main process alone
        speed = measure_speed(
            lambda rows, batch: task.predict(built, _columns(rows), params, batch), examples, **task.speed_sample
        )
    probes = None
    if "bias" in params.probes:
        result = run_bias_probe(task, built, params, log)
        if result is not None:
            probes = {"bias": asdict(result)}
            metrics.update({f"bias_{name}": value for name, value in result.metrics.items()})
    return Report(
        task=task.name,
        model=model_ref,
        dataset=dataset_name(task, params),
        split=split,
        examples=len(examples),
        metrics=_plain(metrics),
        seconds=seconds,
        examples_per_second=len(examples) / seconds,
        size_mb=0.0,
        parameters=_parameters(built.model),
        speed=speed,
        baseline=baseline,
        probes=probes,
    )


def _runtime(model_ref: str) -> str:
    """What runs the model: ONNX Runtime for an exported folder (or an ONNX voice), else PyTorch."""
    path = Path(model_ref)
    folder = (layout.model_folder(path) or path) if path.is_dir() else None
    return "onnxruntime" if folder and any(folder.glob("*.onnx")) else "pytorch"


def _parameters(model) -> int:
    """Parameters of a PyTorch model, or of an exported one (its graph's weights); 0 for an ONNX voice."""
    if hasattr(model, "graph_parameters"):
        return model.graph_parameters()
    return sum(p.numel() for p in model.parameters()) if hasattr(model, "parameters") else 0


def _plain(metrics: dict) -> dict[str, float | str]:
    return {k: v if isinstance(v, str) else float(v) for k, v in metrics.items()}


def _columns(rows: list[dict]) -> dict[str, list]:
    return {key: [row[key] for row in rows] for key in rows[0]}


def record(
    report: Report, task: Task, *, base_model: str | None, run: Path | None, board: Leaderboard | None = None
) -> int | None:
    """Add the report to the run folder's metrics.json (if any) and a row to the leaderboard. Under a
    distributed launcher only the main process writes (one row per run); every rank gets the row's id."""
    return distributed.from_main(lambda: _record(report, task, base_model=base_model, run=run, board=board))


def _record(report: Report, task: Task, *, base_model: str | None, run: Path | None, board: Leaderboard | None) -> int:
    primary = report.metrics.get(task.primary_metric)
    if run is not None:
        existing = layout.read_metrics(run)
        key = report.split
        if (existing.get(key) or {}).get("dataset", report.dataset) != report.dataset:
            key = f"{report.split}@{report.dataset}"  # another dataset's score never replaces the run's own
        existing[key] = report.to_json()
        (run / layout.METRICS).write_text(json.dumps(existing, indent=2))
    board = board or Leaderboard()
    speed = report.speed
    bias = (report.probes or {}).get("bias")
    return board.record(
        task=report.task,
        model=report.model,
        base_model=base_model,
        dataset=report.dataset,
        split=report.split,
        primary_metric=task.primary_metric,
        score=primary,
        metrics=report.metrics,
        size_mb=report.size_mb,
        parameters=report.parameters,
        latency_p50_ms=speed.latency_p50_ms if speed else None,
        latency_p95_ms=speed.latency_p95_ms if speed else None,
        throughput=speed.throughput if speed else None,
        runtime=_runtime(report.model),
        bias_metric=bias["headline"] if bias else None,
        bias_score=bias["metrics"][bias["headline"]] if bias else None,
        run_id=str(run.resolve()) if run else None,
    )

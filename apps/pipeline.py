"""train -> evaluate -> record, the path that `omnitune train` and `omnitune quickstart` share."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from evaluation.harness import Report, evaluate, record, score
from evaluation.leaderboard import Leaderboard
from evaluation.metrics import load_metric
from shared import run_dir as layout
from shared import shelf
from shared.config import TrainParams, load_params
from shared.task_protocol import Task
from shared.training import TrainResult, fine_tune


@dataclass
class Outcome:
    train: TrainResult
    report: Report
    row_id: int


def resolve_params(task: Task, config_file: str | None, overrides: dict[str, Any]) -> TrainParams:
    """The task's bundled-data defaults apply only when the user trains on the bundled data."""
    from_file = yaml.safe_load(Path(config_file).read_text()) if config_file and Path(config_file).is_file() else {}
    uses_bundled = overrides.get("data") is None and (from_file or {}).get("data") is None
    merged = {**(task.bundled_data_defaults if uses_bundled else {}), **overrides}
    return load_params(task.params_class, config_file, merged)


def train_and_evaluate(task: Task, params: TrainParams, run: Path, resume: bool = False, board=None,
                       log=print) -> Outcome:
    metric = load_metric(task.metric)

    def scorer(answers, examples):
        return score(task, answers, examples, params, metric)

    result = fine_tune(task, params, scorer, run, resume=resume, log=log)
    report = evaluate(task, str(result.model_dir), params, split="test", log=log)
    report.model = str(run.resolve())
    shelf_entry = shelf.SHELF.get(result.base_model)
    licence = shelf_entry.extra.get("license") if shelf_entry else None
    # the card names the Hub id of a shelf model, as the Hub's own cards do
    base_model = shelf_entry.extra.get("base_model", result.base_model) if shelf_entry else result.base_model
    body = card_body(task, params, result, report)
    row = record(report, task, base_model=base_model, run=run, licence=licence,
                 board=board or Leaderboard(), card_body=body)
    summary = {"train_seconds": round(result.train_seconds, 1), "train_examples": result.train_examples,
               "trainable_parameters": result.trainable_parameters, "total_parameters": result.total_parameters,
               "stopped_by_time_budget": result.stopped_by_budget}
    metrics = json.loads((run / layout.METRICS).read_text())
    metrics["training"] = summary
    (run / layout.METRICS).write_text(json.dumps(metrics, indent=2))
    return Outcome(result, report, row)


def card_body(task: Task, params: TrainParams, result: TrainResult, report: Report) -> str:
    share = 100 * result.trainable_parameters / max(result.total_parameters, 1)
    lines = [
        f"Fine-tuned by omnitune for **{task.name}** from `{result.base_model}`"
        f"{' with LoRA adapters (merged)' if params.peft == 'lora' else ' (full fine-tuning)'}.",
        "",
        f"- training: {result.train_examples} examples, {result.train_seconds / 60:.1f} min on "
        f"{'GPU' if _cuda() else 'CPU'}; {share:.1f}% of {result.total_parameters / 1e6:.1f}M parameters trained",
        f"- evaluated on `{report.dataset}` split `{report.split}` ({report.examples} examples): "
        + ", ".join(f"{k} {v:.2f}" for k, v in report.metrics.items() if not k.endswith("total")),
        "- the resolved training configuration is `config.yaml` in the run folder",
    ]
    return "\n".join(lines)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()

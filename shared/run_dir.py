"""Run folders: one per training or compression run, laid out the same way for every task.

config.yaml        the resolved parameters (what the run actually used)
checkpoints/       Trainer checkpoints (resume from the last one)
model/             the final model, save_pretrained (safetensors) + processor + model card README.md
adapter/           LoRA adapter, when trained with --peft lora
metrics.json       evaluation results;   train_log.jsonl   Trainer's log history;   loss_curve.png
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from shared.errors import OmnituneError
from shared.paths import runs_root

CONFIG, CHECKPOINTS, MODEL, ADAPTER = "config.yaml", "checkpoints", "model", "adapter"
METRICS, TRAIN_LOG, LOSS_CURVE = "metrics.json", "train_log.jsonl", "loss_curve.png"
COMPRESSION = "compression.json"  # what `omnitune compress` did to its parent


def new_run_dir(task: str, model_name: str) -> Path:
    """A new, empty run folder, created here: two runs started in the same second get two folders (mkdir is
    atomic, so the second one takes the next suffix instead of sharing the first one's folder)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    short = Path(model_name).name.replace("/", "_") or "model"
    parent = runs_root() / task
    parent.mkdir(parents=True, exist_ok=True)
    for suffix in range(10_000):
        folder = parent / (f"{stamp}-{short}" + (f"-{suffix}" if suffix else ""))
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise OmnituneError(f"no free run folder name under {parent}", "give one with --output_dir")


def claim_output_dir(path: str | Path, overwrite: bool = False, source: str | Path | None = None) -> Path:
    """The run folder a user named with --output_dir: created if new; refused if it is a file, cannot be written,
    is the model being read (`source`), or already holds something, unless `overwrite` says to replace it."""
    run = Path(path).expanduser()
    if source is not None and run_of(source) is not None and run.resolve() == run_of(source).resolve():
        raise OmnituneError(
            f"--output_dir {run} is the run being read", "give the new run its own folder (or leave --output_dir out)"
        )
    if run.exists() and not run.is_dir():
        raise OmnituneError(f"--output_dir {run} is a file, not a folder", "name a new folder for the run")
    if run.is_dir() and any(run.iterdir()) and not overwrite:
        raise OmnituneError(
            f"--output_dir {run} already holds files (a run's model, checkpoints, metrics would be replaced)",
            "name a new folder, continue that run with --resume, or replace it with --overwrite_output_dir true",
        )
    try:
        run.mkdir(parents=True, exist_ok=True)
        probe = run / ".omnitune-write-test"
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise OmnituneError(
            f"cannot write the run folder {run}: {error.strerror}", "name a folder you can write to"
        ) from None
    return run


def run_of(model: str | Path) -> Path | None:
    """The run folder behind a model reference (the run itself, or its model/ or adapter/ folder); None for a
    shelf entry, a Hub id or a plain save_pretrained folder."""
    path = Path(model)
    for candidate in (path, path.parent):
        if (candidate / CONFIG).is_file():
            return candidate
    return None


def model_folder(path: Path) -> Path | None:
    """The save_pretrained folder of a model folder or of a run folder (its final model lives in model/)."""
    for candidate in (path, path / MODEL):
        if (candidate / "config.json").is_file():
            return candidate
    return None


def weights_size_mb(folder: Path) -> float:
    """Size on disk of a model folder's weights (safetensors, pickles, ONNX graphs)."""
    files = [p for p in folder.glob("*") if p.suffix in (".safetensors", ".bin", ".pt", ".onnx")]
    return sum(p.stat().st_size for p in files) / 1e6


def read_metrics(run: Path | None) -> dict:
    """The run folder's metrics.json ({} when there is none): split (or split@dataset) -> evaluation report."""
    path = run / METRICS if run else None
    return json.loads(path.read_text()) if path and path.is_file() else {}


def last_checkpoint(run: Path) -> Path | None:
    checkpoints = sorted((run / CHECKPOINTS).glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    complete = [c for c in checkpoints if (c / "trainer_state.json").is_file()]
    return complete[-1] if complete else None


def run_to_resume(task: str, output_dir: str | None) -> Path:
    """The given run folder, or the newest run of this task that has a checkpoint."""
    if output_dir:
        run = Path(output_dir)
        if last_checkpoint(run) is None:
            raise OmnituneError(
                f"{run} has no complete checkpoint to resume from", "run without --resume to start afresh"
            )
        return run
    runs = sorted((runs_root() / task).glob("*"), key=lambda p: p.stat().st_mtime, reverse=True)
    for run in runs:
        if last_checkpoint(run) is not None:
            return run
    raise OmnituneError(
        f"no {task} run with a checkpoint under {runs_root() / task}",
        "run without --resume to start a new run, or give --output_dir of the run to resume",
    )

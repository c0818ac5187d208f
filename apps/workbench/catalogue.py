"""What models there are to try, compare and manage: the run folders under the runs root (every task's
trained, compressed and tuned runs) and the offline shelf. Read from disk on every look, so a run that a job
(or the command line) has just finished is there on the next refresh."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from evaluation.leaderboard import Leaderboard
from shared import run_dir as layout
from shared import shelf
from shared.errors import OmnituneError
from shared.paths import runs_root
from tasks.registry import TASKS, all_tasks, get_task

_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")


@dataclass
class RunInfo:
    task: str
    path: Path
    model: Path | None  # the folder to load (model/ or adapter/); None while it trains or when it failed
    base_model: str | None
    test_metric: str | None
    test_score: float | None
    size_mb: float | None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def card(self) -> str:
        readme = self.model / "README.md" if self.model else None
        return readme.read_text() if readme and readme.is_file() else "(no model card: the run has no final model)"


def runs(task: str | None = None) -> list[RunInfo]:
    """Every run folder (of `task`, or of all tasks), newest first."""
    found = []
    for name in [task] if task else TASKS:
        folder = runs_root() / name
        if not folder.is_dir():
            continue
        for run in folder.iterdir():
            if (run / layout.CONFIG).is_file():
                found.append(_describe(name, run))
    return sorted(found, key=lambda info: info.path.stat().st_mtime, reverse=True)


def _describe(task: str, run: Path) -> RunInfo:
    model = next((p for p in (run / layout.MODEL, run / layout.ADAPTER) if (p / "config.json").is_file()), None)
    if model is None and (run / layout.ADAPTER / "adapter_config.json").is_file():
        model = run / layout.ADAPTER
    metrics = layout.read_metrics(run)
    test = metrics.get("test") or next(iter(metrics.values()), None)
    metric = get_task(task).primary_metric
    score = test.get("metrics", {}).get(metric) if isinstance(test, dict) else None
    size = layout.weights_size_mb(model) if model and model.name == layout.MODEL else None
    config = yaml.safe_load((run / layout.CONFIG).read_text()) or {}
    return RunInfo(task, run, model, config.get("model"), metric if score is not None else None, score, size)


def models_for(task: str) -> list[str]:
    """What the Try and Compare views offer for `task`: its finished runs, newest first, then the task's
    offline default (prepared on first use), which is all a new user has before training anything."""
    choices = [str(info.path) for info in runs(task) if info.model is not None]
    return choices + [get_task(task).default_model]


def shelf_rows() -> list[dict]:
    all_tasks()  # each task registers its shelf entries
    return [shelf.describe(name) for name in shelf.SHELF]


def rename_run(run: Path, new_name: str, board: Leaderboard) -> Path:
    """Rename a run folder (same task folder); its leaderboard rows follow it."""
    run = _known_run(run)
    if not _RUN_NAME.match(new_name or ""):
        raise OmnituneError(
            f"'{new_name}' is not a usable run name", "use letters, digits, '.', '_' and '-' (no spaces or slashes)"
        )
    target = run.parent / new_name
    if target.exists():
        raise OmnituneError(f"a run named '{new_name}' already exists", "choose another name")
    run.rename(target)
    board.move_run(run, target)
    return target


def delete_run(run: Path, confirmation: str, board: Leaderboard) -> int:
    """Delete a run folder and its leaderboard rows; `confirmation` must repeat the run's name. Returns the
    number of rows removed."""
    run = _known_run(run)
    if confirmation.strip() != run.name:
        raise OmnituneError(f"not deleted: type the run's name ({run.name}) to confirm", "deleting cannot be undone")
    shutil.rmtree(run)
    return board.forget_run(run)


def _known_run(run: Path) -> Path:
    """Only run folders under the runs root may be renamed or deleted from the app."""
    run = Path(run).resolve()
    root = runs_root().resolve()
    if root not in run.parents or not (run / layout.CONFIG).is_file():
        raise OmnituneError(f"{run} is not a run folder under {root}", "pick a run from the table")
    return run

"""`omnitune quickstart`: every task in minutes on its offline defaults, with budgets in steps (the same numbers
on a busy machine), each result next to its trivial baseline and the command for the full-quality run. Speed is
not measured here (it took longer than some evaluations); `omnitune evaluate TASK --model RUN` measures it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from apps import api
from evaluation.metrics import higher_is_better
from tasks.registry import get_task


@dataclass
class Shown:
    """What the quickstart did with one task."""

    task: str
    action: str  # "trained", "evaluated" or "skipped"
    model: str | None = None  # the run folder or shelf entry a demo can open
    metric: str = ""
    score: float | None = None
    baseline: str = ""  # the trivial baseline's name and score on the same examples
    baseline_score: float | None = None
    note: str = ""  # why it was not trained; whether a time limit cut it short


def announce(names: list[str]) -> str:
    plans = [get_task(name).quickstart for name in names]
    minutes = sum(plan.minutes for plan in plans if plan.action != "skip")
    return (
        f"omnitune quickstart: {len(names)} tasks ({', '.join(names)}) on the offline defaults, budgets in "
        f"training steps. About {minutes:.0f} minutes on 2 CPU cores (measured; fewer with more cores)."
    )


def run(names: list[str], db: str | None = None, log: Callable[[str], None] = print) -> list[Shown]:
    results = []
    for position, name in enumerate(names, 1):
        task = get_task(name)
        plan = task.quickstart
        head = f"\n[{position}/{len(names)}] {name}"
        if plan.action == "skip":
            log(f"{head}: skipped: {plan.why}.\n  full run: {plan.full_run}")
            results.append(Shown(name, "skipped", note=plan.why))
            continue
        started = time.monotonic()
        if plan.action == "evaluate":
            log(f"{head}: evaluating {task.default_model} as it is: {plan.why}")
            report = api.evaluate(name, task.default_model, db=db, log=log, with_speed=False).report
            shown = Shown(name, "evaluated", task.default_model, note=plan.why)
        else:
            budget = ", ".join(f"{key} {value}" for key, value in plan.overrides.items()) or "its default budget"
            log(f"{head}: fine-tuning {task.default_model} ({budget}; about {plan.minutes:.0f} min)")
            outcome = api.train(
                name, db=db, log=log, with_speed=False, max_train_minutes=plan.safety_minutes, **plan.overrides
            )
            report = outcome.report
            cut = outcome.train.stopped_by_budget
            note = f"cut short by the {plan.safety_minutes:.0f}-minute safety limit" if cut else ""
            shown = Shown(name, "trained", str(outcome.train.run), note=note)
        shown.metric = task.primary_metric
        shown.score = _number(report.metrics.get(task.primary_metric))
        if report.baseline:
            shown.baseline = report.baseline["name"]
            shown.baseline_score = _number(report.baseline["metrics"].get(task.primary_metric))
        log(f"  {_verdict(shown)}  ({(time.monotonic() - started) / 60:.1f} min)")
        if shown.note and shown.action == "trained":
            log(f"  note: {shown.note}: the numbers depend on this machine's speed; rerun when it is less busy")
        if plan.full_run:
            log(f"  full run: {plan.full_run}")
        results.append(shown)
    return results


def _number(value) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _verdict(shown: Shown) -> str:
    text = f"{shown.metric} {shown.score:.3g}" if shown.score is not None else "no score"
    if shown.baseline_score is None or shown.score is None:
        return text
    higher = higher_is_better(shown.metric)
    better = shown.score > shown.baseline_score if higher else shown.score < shown.baseline_score
    return f"{text}; {shown.baseline} on the same examples: {shown.baseline_score:.3g} " + (
        "(beaten)" if better else "(NOT beaten: the model is no better than the baseline)"
    )

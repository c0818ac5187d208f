"""Local `evaluate` modules, loaded by path so that they work offline: `load_metric("squad_v2")`. A module whose
scores go down as models get better (error rates, distances) says so in its own `LOWER_IS_BETTER`."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import evaluate

HERE = Path(__file__).parent


def _module_file(name: str) -> Path:
    module = HERE / name / f"{name}.py"
    if not module.is_file():
        raise FileNotFoundError(f"no local metric '{name}' (available: {', '.join(available())})")
    return module


def available() -> list[str]:
    return sorted(p.name for p in HERE.iterdir() if (p / f"{p.name}.py").is_file())


def load_metric(name: str) -> evaluate.EvaluationModule:
    return evaluate.load(str(_module_file(name)))


def score(task, answers: list, examples, params, metric=None) -> dict[str, float]:
    """The task's metric on its answers to `examples` (a `Task`'s predict output and its examples)."""
    metric = metric or load_metric(task.metric)
    return metric.compute(**task.metric_inputs(answers, examples, params))


@cache
def lower_is_better(name: str) -> frozenset[str]:
    """The scores metric `name` declares lower-is-better, read from its source without running it."""
    for node in ast.parse(_module_file(name).read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "LOWER_IS_BETTER" for t in node.targets):
            return frozenset(ast.literal_eval(node.value))
    return frozenset()


def higher_is_better(score: str, metric: str | None = None) -> bool:
    """Direction of `score` (e.g. "wer", "eval_f1") as metric `metric` declares it; without a metric, as any
    local metric does. Trainer's loss goes down."""
    key = score.removeprefix("eval_")
    if key == "loss":
        return False
    names = [metric] if metric else available()
    return not any(key in lower_is_better(name) for name in names)

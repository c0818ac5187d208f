"""What a probe returns, and the grouped scores every probe computes with fairlearn's MetricFrame."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from fairlearn.metrics import MetricFrame

from evaluation.metrics import higher_is_better, score


@dataclass
class ProbeResult:
    method: str  # the published method, named
    headline: str  # the metric the leaderboard shows (a gap or failure rate: lower is better)
    metrics: dict[str, float]
    groups: dict[str, dict[str, float]] = field(default_factory=dict)  # table -> group -> score
    examples: int = 0


@dataclass
class GroupScores:
    by_group: dict[str, float]
    overall: float
    worst_group: str
    worst: float
    gap: float  # largest minus smallest group score (fairlearn's between-groups difference)


def task_metric_by_group(task, answers: list, examples, params, groups, metric: str | None = None) -> GroupScores:
    """The task's own metric (`metric`, default its primary) on each group of examples: fairlearn's MetricFrame
    groups the row indices and the harness's scorer scores each group's answers."""
    metric = metric or task.primary_metric
    index = np.arange(len(answers))

    def on_rows(rows, _):
        chosen = [int(i) for i in rows]
        return score(task, [answers[i] for i in chosen], examples.select(chosen), params)[metric]

    return grouped(on_rows, index, index, groups, higher_is_better(metric, task.metric))


def grouped(metric, truth, predicted, groups, higher_better: bool = True) -> GroupScores:
    frame = MetricFrame(metrics=metric, y_true=truth, y_pred=predicted, sensitive_features=np.asarray(groups))
    by_group = {str(name): float(value) for name, value in frame.by_group.items()}
    worst = frame.group_min() if higher_better else frame.group_max()
    worst_group = next(name for name, value in by_group.items() if value == float(worst))
    return GroupScores(by_group, float(frame.overall), worst_group, float(worst), float(frame.difference()))


def share_true(truth, _) -> float:
    """MetricFrame metric for rows that are right or wrong: the share that are right."""
    return float(sum(truth)) / max(len(truth), 1)

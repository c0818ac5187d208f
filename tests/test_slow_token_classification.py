"""Slow test: the real offline MiniLM-L6 learns the bundled man-page tagging set in a short run."""

from __future__ import annotations

import pytest

from evaluation.harness import evaluate
from shared import shelf
from shared.training import fine_tune
from tasks.registry import get_task

pytestmark = pytest.mark.slow
TASK = get_task("token-classification")


def test_a_short_run_beats_the_untrained_head_and_the_most_frequent_tag(in_shelf_home, tmp_path):
    with in_shelf_home():
        path = shelf.prepare("minilm-l6")
    params = TASK.params_class(
        model=str(path),
        max_steps=100,
        learning_rate=1e-4,
        warmup_ratio=0.1,
        per_device_train_batch_size=32,
        eval_strategy="no",
        seed=0,
    )
    before = evaluate(TASK, str(path), params, with_speed=False)
    result = fine_tune(TASK, params, None, tmp_path / "run")
    after = evaluate(TASK, str(result.model_dir), params, with_speed=False)
    baseline = after.baseline["metrics"]["overall_f1"]
    assert before.metrics["overall_f1"] < 10 < baseline  # a random head tags almost nothing right
    assert after.metrics["overall_f1"] > baseline + 5
    assert after.metrics["OPTION/f1"] > 85  # options are the easiest type: their form gives them away

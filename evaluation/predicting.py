"""Predictions a user waits for, with a progress bar: the harness's evaluation and the probes' altered inputs."""

from __future__ import annotations

import math

from datasets import Dataset
from tqdm.auto import tqdm

from shared import distributed
from shared.config import TrainParams
from shared.task_protocol import Built, Task


def predict_with_progress(
    task: Task, built: Built, examples: Dataset, params: TrainParams, description: str = "predicting"
) -> list:
    """task.predict in about 20 steps, with a progress bar (of the main process): long evaluations (beam search
    over a thousand verses) show how far they are. Each step still holds at least 8 batches, which predict sorts
    by length, so the bar costs little padding."""
    batch = params.per_device_eval_batch_size
    step = max(8 * batch, math.ceil(len(examples) / 20))
    answers: list = []
    with tqdm(total=len(examples), desc=description, unit="example", disable=not distributed.is_main()) as bar:
        for start in range(0, len(examples), step):
            part = examples.select(range(start, min(start + step, len(examples))))
            answers += task.predict(built, part, params, batch)
            bar.update(len(part))
    return answers

"""Bias probes (`omnitune evaluate TASK --model ... --probes bias`, or `--probes bias` when training): one per
task, each a published method, run on the main process after the task metric. Results go to metrics.json
(`probes`), to the report's metrics as `bias_*` (so the model card's model-index has them) and to the
leaderboard's bias columns (the probe's headline figure, a gap or failure rate: lower is better)."""

from __future__ import annotations

from collections.abc import Callable

from evaluation.probes.result import ProbeResult
from shared.config import TrainParams
from shared.task_protocol import Built, Task


def _probes() -> dict[str, Callable]:
    from evaluation.probes import (
        image_conditions,
        qa_counterfactual,
        speech_groups,
        speech_synthesis_categories,
        summary_support,
        translation_gender,
    )

    return {
        "question-answering": qa_counterfactual.probe,
        "image-classification": image_conditions.probe,
        "automatic-speech-recognition": speech_groups.probe,
        "translation": translation_gender.probe,
        "summarization": summary_support.probe,
        "text-to-speech": speech_synthesis_categories.probe,
    }


def available(task_name: str) -> bool:
    return task_name in _probes()


def run_bias_probe(task: Task, built: Built, params: TrainParams, log=print) -> ProbeResult | None:
    """The task's bias probe, or None (said in the log) for a task without one yet."""
    probe = _probes().get(task.name)
    if probe is None:
        log(f"bias probe: none for {task.name} yet (README 'Bias probes' lists the tasks that have one)")
        return None
    log(f"bias probe for {task.name}...")
    result = probe(task, built, params, log)
    log(f"bias probe: {result.headline} = {result.metrics[result.headline]:.3f} ({result.method})")
    return result

"""What the inference rows share: rates from each side's repeats, and the best batch size."""

from __future__ import annotations

import statistics
from pathlib import Path


def median_rate(runs: list[dict], model: str, amount: float) -> dict[str, float]:
    """{batch size: median over repeats of `amount` (images, clips' seconds, sentences) per second}."""
    batches = runs[0]["models"][model]
    return {
        batch: round(statistics.median(amount / run["models"][model][batch]["seconds"] for run in runs), 2)
        for batch in batches
    }


def best_batch(rates: dict[str, float]) -> str:
    return max(rates, key=rates.get)


def seeded_base(task_name: str, model: str, workdir) -> str:
    """A base model with its new head initialised from a fixed seed, saved as a model folder, so that every side
    (each in its own process) loads the same weights; speed and agreement do not depend on training."""
    from pathlib import Path

    from transformers import set_seed

    from shared.pretrained import resolve
    from tasks.registry import get_task

    task = get_task(task_name)
    params = task.params_class()
    set_seed(0)
    built = task.build(resolve(model), params, task.load_examples(params, "train"), training=True)
    folder = Path(workdir) / f"{task_name}-{model}"
    built.model.save_pretrained(folder)
    built.processor.save_pretrained(folder)
    task.save_extras(built, folder)
    return str(folder)


REPOSITORY = Path(__file__).resolve().parents[2]


def existing_run(relative: str) -> str | None:
    """A run folder of this checkout (README's default runs), wherever the benchmark is started from."""
    path = REPOSITORY / relative
    return str(path) if path.exists() else None

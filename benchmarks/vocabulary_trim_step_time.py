"""Training step time of the warm-started translation model with its full target vocabulary (Whisper's 51,865
tokens) vs the vocabulary trimmed to the training targets (tasks/seq2seq/vocabulary_trim.py): same model, same
batch of real verses, same optimiser, interleaved repeats in one run. Also reports the loss of both on that batch
before any step: the kept tokens' logits are the same (tested), the loss is lower because the softmax no longer
spreads over tokens the targets never use.

    python benchmarks/vocabulary_trim_step_time.py [--model minilm2whisper-base] [--batch-size 16] [--steps 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from report import RESULTS, machine, save

from shared.pretrained import resolve
from tasks.registry import get_task


def step_seconds(built, batch, steps: int) -> list[float]:
    """Seconds of each forward + backward + AdamW step (after one warm-up step)."""
    model = built.model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    seconds = []
    for index in range(steps + 1):
        start = time.perf_counter()
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if index:
            seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="minilm2whisper-base")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    task = get_task("translation")
    params = task.params_class(**task.bundled_data_defaults)
    train = task.load_examples(params, "train")
    path = resolve(args.model)
    variants = {
        "full_vocabulary": task.build(
            path, params.model_copy(update={"trim_target_vocabulary": False}), train, training=True
        ),
        "trimmed_vocabulary": task.build(path, params, train, training=True),
    }
    sample = train.shuffle(seed=0).select(range(args.batch_size))
    batches = {
        name: task.collator(built, params)(list(task.features(sample, built, params, for_eval=False)))
        for name, built in variants.items()
    }
    with torch.no_grad():
        losses = {name: round(built.model.eval()(**batches[name]).loss.item(), 4) for name, built in variants.items()}
    timings: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):  # interleaved, so that drift on the machine hits both alike
        for name, built in variants.items():
            timings[name] += step_seconds(built, batches[name], args.steps)
    median = {name: statistics.median(values) for name, values in timings.items()}
    result = {
        "benchmark": "vocabulary_trim_step_time",
        "model": args.model,
        "batch_size": args.batch_size,
        "target_tokens_in_batch": int((batches["full_vocabulary"]["labels"] >= 0).sum()),
        "vocabulary_size": {name: built.model.config.decoder.vocab_size for name, built in variants.items()},
        "parameters": {name: sum(p.numel() for p in built.model.parameters()) for name, built in variants.items()},
        "loss_before_training": losses,
        "median_step_seconds": {name: round(value, 3) for name, value in median.items()},
        "spread_step_seconds": {name: [round(min(v), 3), round(max(v), 3)] for name, v in timings.items()},
        "speedup_trimmed_over_full": round(median["full_vocabulary"] / median["trimmed_vocabulary"], 2),
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "steps_per_repeat": args.steps,
        "machine": machine(),
    }
    save(result, RESULTS / "translation_vocabulary_trim_step_time.json")


if __name__ == "__main__":
    main()

"""Batched forward passes without Trainer, for prediction, evaluation and demos."""

from __future__ import annotations

import logging

import numpy as np
import torch


def batched_logits(
    model, features: dict, collate, output_names: tuple[str, ...], batch_size: int, input_names: tuple[str, ...]
) -> tuple[np.ndarray, ...]:
    """Run `model` over `features` (columns: dict of lists) in batches; one array per output, padded on every
    axis after the batch axis. Features are batched in order of length, so that short ones do not pay for long
    ones' padding, and returned in their original order."""
    model.eval()
    columns = [c for c in features if c in input_names]
    count = len(features[columns[0]])
    order = sorted(range(count), key=lambda i: len(features[columns[0]][i]))
    chunks: dict[str, list[np.ndarray]] = {name: [] for name in output_names}
    with torch.inference_mode():
        for start in range(0, count, batch_size):
            rows = order[start : start + batch_size]
            batch = collate([{c: features[c][i] for c in columns} for i in rows])
            result = model(**{k: v for k, v in batch.items() if k in input_names})
            for name in output_names:
                chunks[name].append(result[name].float().numpy())
    outputs = []
    for name in output_names:
        stacked = _concat_padded(chunks[name])
        restored = np.empty_like(stacked)
        restored[order] = stacked
        outputs.append(restored)
    return tuple(outputs)


def _concat_padded(chunks: list[np.ndarray], pad_value: float = -1e4) -> np.ndarray:
    """Stack per-batch outputs whose non-batch axes differ (each batch is padded to its own longest input)."""
    shape = [max(c.shape[axis] for c in chunks) for axis in range(1, chunks[0].ndim)]
    padded = [
        np.pad(c, [(0, 0)] + [(0, width - size) for width, size in zip(shape, c.shape[1:])], constant_values=pad_value)
        for c in chunks
    ]
    return np.concatenate(padded, axis=0)


# notices generate() logs on every call about what it does as intended: max_new_tokens overriding the default
# max_length of 20, and Whisper's generate passing its own suppress_tokens beside a generation config
_ROUTINE_NOTICES = ("seem to have been set", "Passing `generation_config` together with")


def silence_routine_generation_notices() -> None:
    logging.getLogger("transformers.generation.utils").addFilter(
        lambda record: not any(notice in record.getMessage() for notice in _ROUTINE_NOTICES)
    )

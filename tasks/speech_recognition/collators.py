"""Batches for training: audio -> model inputs in the collator (features are computed per batch, so a dataset
of 16 kHz waveforms is all that is stored), labels padded with -100 so the loss ignores the padding."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


def _padded_labels(tokenizer, label_rows: list) -> torch.Tensor:
    batch = tokenizer.pad({"input_ids": [list(row) for row in label_rows]}, return_tensors="pt")
    return batch["input_ids"].masked_fill(batch["attention_mask"].ne(1), -100)


@dataclass
class WhisperCollator:
    """Log-mel features of 30-second windows (Whisper's encoder takes nothing else) and the labels of the
    standard recipe: the model prepends its decoder start token itself, so a leading <|startoftranscript|>
    is cut from the labels."""

    processor: Any
    decoder_start_token_id: int

    def __call__(self, items: list[dict]) -> dict[str, torch.Tensor]:
        extractor = self.processor.feature_extractor
        features = extractor(
            [np.asarray(item["audio"], np.float32) for item in items],
            sampling_rate=extractor.sampling_rate,
            return_tensors="pt",
        )
        labels = _padded_labels(self.processor.tokenizer, [item["labels"] for item in items])
        if labels.shape[1] and bool((labels[:, 0] == self.decoder_start_token_id).all()):
            labels = labels[:, 1:]
        return {"input_features": features["input_features"], "labels": labels}


@dataclass
class CTCCollator:
    """Raw waveforms padded to the longest in the batch (CTC encoders take any length, so length-grouped
    batches save real compute) and character labels."""

    processor: Any

    def __call__(self, items: list[dict]) -> dict[str, torch.Tensor]:
        extractor = self.processor.feature_extractor
        batch = extractor(
            [np.asarray(item["audio"], np.float32) for item in items],
            sampling_rate=extractor.sampling_rate,
            padding=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        inputs = {"input_values": batch["input_values"]}
        if "attention_mask" in batch:
            inputs["attention_mask"] = batch["attention_mask"]
        if "labels" in items[0]:
            inputs["labels"] = _padded_labels(self.processor.tokenizer, [item["labels"] for item in items])
        return inputs

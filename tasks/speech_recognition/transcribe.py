"""Inference: batched transcription for evaluation and prediction, and timed transcripts for the demo.

- Whisper, clips up to 30 s: one generate() per batch of 30-second windows, clips sorted by duration so that a
  batch's transcripts end at about the same step.
- Whisper, longer clips: transformers' sequential long-form mode (the whole log-mel with its attention mask;
  Whisper decodes a window, moves to its last timestamp, and goes on), batched as well.
- CTC: one forward pass per batch of waveforms padded to the longest, greedy decoding of the frame labels.
- Timestamps: transformers' automatic-speech-recognition pipeline (Whisper's cross-attention DTW for words,
  its timestamp tokens for segments, CTC frame offsets), word edges moved onto the speech (timing.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from shared.attention import token_reduction
from shared.errors import OmnituneError
from shared.inference import silence_routine_generation_notices
from tasks.speech_recognition.timing import snap_to_speech, voiced_regions

silence_routine_generation_notices()

WINDOW_SECONDS = 30.0  # Whisper's encoder window


@dataclass
class Transcript:
    text: str
    language: str | None = None  # detected (multilingual Whisper) or as asked
    chunks: list[dict] = field(default_factory=list)  # {"text", "timestamp": (start, end)} when asked for


def is_whisper(model) -> bool:
    return bool(getattr(model.config, "is_encoder_decoder", False))


def generation_kwargs(model, language: str | None, task: str, max_new_tokens: int, num_beams: int) -> dict:
    kwargs = {"max_new_tokens": max_new_tokens, "num_beams": num_beams}
    if getattr(model.generation_config, "is_multilingual", False):
        kwargs["task"] = task
        if language:
            kwargs["language"] = language
    return kwargs


def transcribe(
    model,
    processor,
    clips: list[np.ndarray],
    batch_size: int,
    language: str | None = None,
    task: str = "transcribe",
    max_new_tokens: int = 225,
    num_beams: int = 1,
) -> list[str]:
    """Texts for 16 kHz mono clips, in their order."""
    model.eval()
    order = sorted(range(len(clips)), key=lambda i: len(clips[i]))
    texts: list[str] = [""] * len(clips)
    rate = processor.feature_extractor.sampling_rate
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch = [clips[i] for i in rows]
            if is_whisper(model):
                decoded = _whisper_batch(
                    model, processor, batch, rate, generation_kwargs(model, language, task, max_new_tokens, num_beams)
                )
            else:
                decoded = _ctc_batch(model, processor, batch, rate)
            for i, text in zip(rows, decoded):
                texts[i] = text.strip()
    return texts


def _whisper_batch(model, processor, batch: list[np.ndarray], rate: int, kwargs: dict) -> list[str]:
    long_form = max(len(clip) for clip in batch) > WINDOW_SECONDS * rate
    if long_form:
        inputs = processor.feature_extractor(
            batch,
            sampling_rate=rate,
            truncation=False,
            padding="longest",
            return_attention_mask=True,
            return_tensors="pt",
        )
        ids = model.generate(
            inputs["input_features"],
            attention_mask=inputs["attention_mask"],
            return_timestamps=True,
            condition_on_prev_tokens=False,
            **kwargs,
        )
    else:
        inputs = processor.feature_extractor(batch, sampling_rate=rate, return_tensors="pt")
        ids = model.generate(inputs["input_features"], **kwargs)
    ids = ids["sequences"] if isinstance(ids, dict) else ids
    return processor.tokenizer.batch_decode(ids, skip_special_tokens=True)


def _ctc_batch(model, processor, batch: list[np.ndarray], rate: int) -> list[str]:
    inputs = processor.feature_extractor(
        batch, sampling_rate=rate, padding=True, return_attention_mask=True, return_tensors="pt"
    )
    kwargs = {"attention_mask": inputs["attention_mask"]} if "attention_mask" in inputs else {}
    logits = model(inputs["input_values"], **kwargs).logits
    return processor.tokenizer.batch_decode(logits.argmax(-1).numpy())


def detect_language(model, processor, clip: np.ndarray) -> str | None:
    """The language a multilingual Whisper hears in the first 30 s (ISO code, e.g. "en"); None for
    English-only and CTC models."""
    if not is_whisper(model) or not getattr(model.generation_config, "is_multilingual", False):
        return None
    rate = processor.feature_extractor.sampling_rate
    features = processor.feature_extractor(clip[: int(WINDOW_SECONDS * rate)], sampling_rate=rate, return_tensors="pt")[
        "input_features"
    ]
    with torch.inference_mode():
        token = model.detect_language(features)[0]
    return processor.tokenizer.convert_ids_to_tokens(int(token)).strip("<|>")


def timed_transcript(
    model, processor, clip: np.ndarray, level: str = "word", language: str | None = None, task: str = "transcribe"
) -> Transcript:
    """Transcript with word or segment timestamps, for any length of audio."""
    from transformers import pipeline

    reduced = (getattr(model.config, "omnitune_attention", None) or {}).get("kind")
    if level == "word" and is_whisper(model) and reduced in token_reduction.KINDS:
        raise OmnituneError(
            f"word timestamps need every encoder frame, and this Whisper uses {reduced}",
            "ask for segment timestamps, or transcribe with the model without --attention",
        )
    rate = processor.feature_extractor.sampling_rate
    recogniser = pipeline(
        "automatic-speech-recognition",
        model=model,
        tokenizer=processor.tokenizer,
        feature_extractor=processor.feature_extractor,
        device="cpu",
    )
    options: dict = {"return_timestamps": "word" if level == "word" else True}
    if is_whisper(model):
        kwargs = generation_kwargs(model, language, task, max_new_tokens=225, num_beams=1)
        kwargs.pop("max_new_tokens")
        options["generate_kwargs"] = kwargs
    if len(clip) > WINDOW_SECONDS * rate:
        options["chunk_length_s"] = WINDOW_SECONDS
    if level == "segment" and not is_whisper(model):
        options["return_timestamps"] = "word"  # CTC has no segments: words are the coarsest offsets it gives
    result = recogniser({"raw": clip, "sampling_rate": rate}, **options)
    chunks = _complete_times(result.get("chunks", []), len(clip) / rate)
    if level == "word" and chunks:
        chunks = snap_to_speech(chunks, voiced_regions(clip, rate))
    return Transcript(result["text"].strip(), language or detect_language(model, processor, clip), chunks)


def _complete_times(chunks: list[dict], seconds: float) -> list[dict]:
    """Chunks with both edges set: Whisper leaves an edge None when the audio ends mid-word (or a model never
    predicts a timestamp); a missing start is the previous end, a missing end the next start or the clip's end."""
    completed, previous_end = [], 0.0
    for index, chunk in enumerate(chunks):
        start, end = chunk["timestamp"]
        start = previous_end if start is None else start
        if end is None:
            following = next((c["timestamp"][0] for c in chunks[index + 1 :] if c["timestamp"][0] is not None), None)
            end = seconds if following is None else following
        completed.append({"text": chunk["text"].strip(), "timestamp": (float(start), float(max(end, start)))})
        previous_end = end
    return completed

"""Speech recognition: word error rate by speaker group and by recording condition (Koenecke et al. 2020,
"Racial disparities in automated speech recognition", measured such gaps in commercial systems by speaker;
the conditions are the usual robustness perturbations: additive white noise at set SNRs, tempo and pitch).

Groups: the data's speakers when it names them (a speaker column; the bundled set has one voice, which the data
audit says), the conditions below applied to the test clips, and the offline synthetic voices (hibari,
piper-joe) reading the same texts beside the human recordings; WER of each group, grouped by fairlearn's
MetricFrame. The headline is the worst group's WER minus the unaltered clips' WER."""

from __future__ import annotations

import io

import librosa
import numpy as np
import soundfile
from datasets import Dataset

from evaluation.predicting import predict_with_progress
from evaluation.probes.result import ProbeResult, task_metric_by_group
from shared.audio import read_audio

RATE = 16_000


def _noise(snr_db: float):
    def add(audio: np.ndarray) -> np.ndarray:
        power = float(np.mean(audio**2)) or 1e-10
        noise = np.random.default_rng(0).normal(0, np.sqrt(power / 10 ** (snr_db / 10)), audio.shape)
        return (audio + noise).astype(np.float32)

    return add


CONDITIONS = {
    "original": lambda audio: audio,
    "noise 20 dB SNR": _noise(20),
    "noise 10 dB SNR": _noise(10),
    "tempo 0.85x": lambda audio: librosa.effects.time_stretch(audio, rate=0.85),
    "tempo 1.15x": lambda audio: librosa.effects.time_stretch(audio, rate=1.15),
    "pitch -3 semitones": lambda audio: librosa.effects.pitch_shift(audio, sr=RATE, n_steps=-3),
    "pitch +3 semitones": lambda audio: librosa.effects.pitch_shift(audio, sr=RATE, n_steps=3),
}


def _wav(audio: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, audio, rate, format="WAV")
    return buffer.getvalue()


def _offline_voices(texts: list[str], log):
    """(voice, [(audio, rate), ...]) for each prepared offline voice reading the test texts: the synthetic
    speakers beside the human one (a voice that is not prepared is left out, said in the log)."""
    from shared import shelf
    from shared.loaded_models import loaded
    from tasks.registry import get_task

    synthesis = get_task("text-to-speech")
    settings = synthesis.params_class()
    for name, entry in shelf.SHELF.items():
        if not entry.extra.get("voice_backend"):
            continue
        if not shelf.is_prepared(name):
            log(f"  voice {name} is not prepared (omnitune models prepare {name}): left out")
            continue
        speech = predict_with_progress(
            synthesis, loaded(synthesis, name, settings), Dataset.from_dict({"text": texts}), settings, f"voice {name}"
        )
        yield name, [(answer.audio, answer.sample_rate) for answer in speech]


def probe(task, built, params, log=print, examples: int = 200) -> ProbeResult:
    test = task.load_examples(params, "test")
    test = test.select(range(min(examples, len(test))))
    clips, texts, conditions = [], [], []
    for row in test:
        audio = read_audio(row["audio"], RATE).audio
        for condition, alter in CONDITIONS.items():
            clips.append(_wav(np.clip(alter(audio), -1, 1), RATE))
            texts.append(row["text"])
            conditions.append(condition)
    for voice, speech in _offline_voices(list(test["text"]), log):
        clips += [_wav(audio, rate) for audio, rate in speech]
        texts += list(test["text"])
        conditions += [f"voice: {voice}"] * len(speech)
    altered = Dataset.from_dict({"audio": clips, "text": texts})
    log(f"  {len(test)} test clips x {len(CONDITIONS)} conditions")
    answers = predict_with_progress(task, built, altered, params, "bias probe")
    by_condition = task_metric_by_group(task, answers, altered, params, conditions, "wer")
    original = by_condition.by_group["original"]
    metrics = {
        "worst_condition_wer_gap": by_condition.worst - original,
        "worst_condition_wer": by_condition.worst,
        "original_wer": original,
    }
    groups = {"wer by condition": by_condition.by_group}
    speakers = test["speaker"] if "speaker" in test.column_names else []
    if len(set(speakers)) > 1:
        plain = [i for i, condition in enumerate(conditions) if condition == "original"]
        by_speaker = task_metric_by_group(
            task, [answers[i] for i in plain], altered.select(plain), params, speakers, "wer"
        )
        groups["wer by speaker"] = by_speaker.by_group
        metrics["worst_speaker_wer_gap"] = by_speaker.worst - by_speaker.overall
    else:
        log("  one speaker in the test split: no speaker groups (the data audit says so too)")
    log(f"  worst condition '{by_condition.worst_group}': WER {by_condition.worst:.3f} vs {original:.3f}")
    return ProbeResult(
        method="WER by speaker, voice and recording condition (Koenecke et al. 2020; noise, tempo, pitch)",
        headline="worst_condition_wer_gap",
        metrics=metrics,
        groups=groups,
        examples=len(altered),
    )

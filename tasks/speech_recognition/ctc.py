"""CTC models (wav2vec2, HuBERT, MMS) without a vocabulary of their own (a self-supervised encoder, or a tiny
randomly initialised one in the tests): a character vocabulary built from the training transcripts, as the
wav2vec2 fine-tuning recipe does. Word boundaries are "|", index 0 is the blank/padding token."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from transformers import Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2Processor

PAD, UNKNOWN, WORD_DELIMITER = "<pad>", "<unk>", "|"
_DROPPED = re.compile(r"[^\w' ]+")  # punctuation carries no sound: CTC targets are letters, digits, apostrophes


def normalise(text: str) -> str:
    return " ".join(_DROPPED.sub(" ", text.lower()).split())


def character_vocabulary(texts: list[str]) -> dict[str, int]:
    characters = sorted({c for text in texts for c in normalise(text)} - {" "})
    return {token: index for index, token in enumerate([PAD, UNKNOWN, WORD_DELIMITER, *characters])}


def processor_from_texts(texts: list[str], rate: int = 16_000) -> Wav2Vec2Processor:
    with tempfile.TemporaryDirectory() as folder:
        vocabulary = Path(folder) / "vocab.json"
        vocabulary.write_text(json.dumps(character_vocabulary(texts)))
        tokenizer = Wav2Vec2CTCTokenizer(
            str(vocabulary), unk_token=UNKNOWN, pad_token=PAD, word_delimiter_token=WORD_DELIMITER
        )
    extractor = Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=rate, padding_value=0.0, do_normalize=True, return_attention_mask=True
    )
    return Wav2Vec2Processor(feature_extractor=extractor, tokenizer=tokenizer)

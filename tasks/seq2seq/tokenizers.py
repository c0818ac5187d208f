"""Source and target tokenizers of a sequence-to-sequence model. Most Hub models use one tokenizer for both
sides; a warm-started pairing may not (English WordPiece in, Whisper's multilingual BPE out). The pair saves
and loads as one folder: the source tokenizer at its root (where AutoTokenizer looks), the target one in
`target_tokenizer/` when it differs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import AutoTokenizer

from tasks.seq2seq.families import Conditioning

TARGET_FOLDER = "target_tokenizer"


@dataclass
class TokenizerPair:
    source: Any
    target: Any
    condition: Conditioning = field(default_factory=Conditioning)  # set by the task for its languages/prefix

    @property
    def shared(self) -> bool:
        return self.source is self.target

    @property
    def model_input_names(self) -> list[str]:  # Trainer groups batches by the length of the first of these
        return self.source.model_input_names

    @property
    def pad_token_id(self) -> int:
        return self.target.pad_token_id if self.target.pad_token_id is not None else self.target.eos_token_id

    # read as a text tokenizer (attention pictures, the demos), the pair is its source side
    def __call__(self, *args, **kwargs):
        return self.source(*args, **kwargs)

    def convert_ids_to_tokens(self, ids):
        return self.source.convert_ids_to_tokens(ids)

    def save_pretrained(self, folder: str | Path) -> None:
        self.source.save_pretrained(folder)
        if not self.shared:
            self.target.save_pretrained(Path(folder) / TARGET_FOLDER)

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> TokenizerPair:
        source = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
        target_folder = Path(folder) / TARGET_FOLDER
        if target_folder.is_dir():
            return cls(source, AutoTokenizer.from_pretrained(target_folder, trust_remote_code=False))
        return cls(source, source)


def input_report(tokenizers: TokenizerPair, text: str, max_source_length: int) -> dict:
    """Characters and tokens of the input, and where it is cut when it is longer than the model reads."""
    condition = tokenizers.condition
    ids = tokenizers.source(condition.source_prefix + text).input_ids
    report = {"characters": len(text), "tokens": len(ids), "token_limit": max_source_length, "cut": False}
    if len(ids) > max_source_length:
        kept = tokenizers.source(
            condition.source_prefix + text,
            truncation=True,
            max_length=max_source_length,
            return_offsets_mapping=getattr(tokenizers.source, "is_fast", False),
        )
        offsets = [end for _, end in kept.get("offset_mapping", []) if end]
        cut_at = max(0, (max(offsets) if offsets else len(text)) - len(condition.source_prefix))
        report.update(cut=True, read_up_to_character=cut_at, unread_tail=text[cut_at : cut_at + 80])
    return report

"""Summarization: the sequence-to-sequence machinery (tasks/seq2seq) with ROUGE and a lead baseline."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field

from shared.task_protocol import Quickstart
from tasks.seq2seq import families
from tasks.seq2seq.task import Seq2SeqParams, Seq2SeqTask

BUNDLED = Path(__file__).parent / "data"
# a sentence ends at . ! ? before a capital, digit or quote, except after the abbreviations man pages use
_SENTENCE_END = re.compile(
    r"(?<=[.!?])(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\betc\.)(?<!\bcf\.)(?<!\bvs\.)"
    r"\s+(?=[A-Z0-9\"'(])"
)


def first_sentence(text: str) -> str:
    return _SENTENCE_END.split(text.strip(), maxsplit=1)[0]


class SummarizationParams(Seq2SeqParams):
    max_source_length: int = Field(512, description="source tokens kept (longer inputs are cut, with a warning)")
    max_target_length: int = Field(64, description="target tokens trained on")


class SummarizationTask(Seq2SeqTask):
    name = "summarization"
    params_class = SummarizationParams
    default_model = "minilm2minilm"
    default_data_name = "omnitune/manpages-summaries"
    bundled_data = str(BUNDLED)
    source_column = "document"
    target_column = "summary"
    metric = "summarization"
    primary_metric = "rougeL"
    # the warm start's new cross-attention learns 10x faster than the pretrained parts: with one rate for all,
    # bert2bert collapsed to generic summaries (README: "Translation and summarization")
    bundled_data_defaults = {
        "learning_rate": 1e-4,
        "new_modules_learning_rate": 1e-3,
        "warmup_ratio": 0.05,
        "num_train_epochs": 10,
        "per_device_train_batch_size": 8,
        "max_target_length": 32,
        "max_new_tokens": 32,
        "max_train_minutes": 30.0,
        "save_steps": 200,
    }
    quickstart = Quickstart(
        "skip",
        why="the offline model is warm-started from two MiniLMs never trained together; it needs about 3 "
        "epochs (30 min here) to pass the lead-sentence baseline",
        full_run="omnitune train summarization --num_train_epochs 12 --max_train_minutes 100   "
        "(ROUGE-L 36.9; lead sentence: 24.4)",
    )
    action_name = "Summarize"
    output_name = "summary"

    def conditioning(self, model, tokenizers, params: SummarizationParams) -> families.Conditioning:
        return families.conditioning(model, tokenizers, "summarization", None, None, params.source_prefix)

    def baseline(self, examples, params) -> tuple[str, list[str]]:
        return "lead (first sentence)", [first_sentence(text) for text in examples["source"]]

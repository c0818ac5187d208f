"""What a token-classification example is (words and one BIO tag per word, transformers' run_ner.py layout:
`tokens` + `ner_tags`) and where it comes from.

Accepted sources: json/jsonl/parquet/csv files (optionally gzipped) with a list of words and a list of tags per row
(csv cells hold JSON lists or space-separated words); tags as strings ("B-PER"), or as integers when the data
names them (a Hub dataset's ClassLabel feature); a folder holding one file per split; one file, from which about
10% of rows are held out; a Hub dataset id (e.g. conll2003 when online). `column_mapping` renames the user's
columns first. Everything is checked before a model is loaded.
"""

from __future__ import annotations

import json
from pathlib import Path

from datasets import Dataset, Features, Sequence, Value

from shared.data_files import hold_out, load_table, non_empty, read_source, split_file
from shared.errors import OmnituneError
from tasks.token_classification.tagging import OUTSIDE

BUNDLED = Path(__file__).parent / "data"
FEATURES = Features({"id": Value("string"), "tokens": Sequence(Value("string")), "ner_tags": Sequence(Value("string"))})
MAX_ROWS_SHOWN = 5


def load_examples(source: str | None, split: str, column_mapping: dict[str, str] | None = None) -> Dataset:
    """Validated examples of one split, tags as strings (the model's label order is decided from them)."""
    source = source or str(BUNDLED)
    where = f"{source} [{split}]"

    def rows_of(table) -> list[dict]:
        return _rows(table, column_mapping or {}, where)

    rows = read_source(
        source,
        split,
        folder=lambda path, split: rows_of(load_table(str(split_file(path, split)))),
        file=lambda path, split: hold_out(rows_of(load_table(str(path))), split, group_key=lambda r: r["id"]),
        hub=lambda source, split: rows_of(load_table(source, split)),
    )
    return Dataset.from_list(non_empty(rows, source, split), features=FEATURES)


def _rows(table, mapping: dict[str, str], where: str) -> list[dict]:
    table = table.rename_columns(
        {theirs: ours for ours, theirs in mapping.items() if theirs in table.column_names and theirs != ours}
    )
    missing = [column for column in ("tokens", "ner_tags") if column not in table.column_names]
    if missing:
        raise OmnituneError(
            f"{where}: no column {' or '.join(repr(c) for c in missing)} (found: {', '.join(table.column_names)})",
            "give one list of words (tokens) and one list of BIO tags (ner_tags) per row, or map your columns: "
            '--column_mapping \'{"ner_tags": "<your tag column>"}\'',
        )
    names = _tag_names(table.features["ner_tags"])
    rows, problems = [], []
    for index, row in enumerate(table):
        tokens, tags = _as_list(row["tokens"]), _as_list(row["ner_tags"])
        tags = [_tag(tag, names, where) for tag in tags]
        problem = _problem(tokens, tags)
        if problem:
            problems.append(f"row {index}: {problem}")
        rid = row.get("id")
        rows.append({"id": str(index if rid in (None, "") else rid), "tokens": tokens, "ner_tags": tags})
    if problems:
        shown = "; ".join(problems[:MAX_ROWS_SHOWN])
        raise OmnituneError(
            f"{where}: {len(problems)} row(s) cannot be used ({shown})",
            "each row needs at least one word and exactly one tag per word, each tag O, B-TYPE or I-TYPE",
        )
    return rows


def _tag_names(feature) -> list[str] | None:
    inner = getattr(feature, "feature", None)
    return list(inner.names) if hasattr(inner, "names") else None


def _as_list(value) -> list:
    if isinstance(value, str):  # a csv cell: JSON list, or words separated by spaces
        text = value.strip()
        if text.startswith("["):
            try:
                return list(json.loads(text))
            except json.JSONDecodeError:
                pass
        return text.split()
    return list(value or [])


def _tag(tag, names: list[str] | None, where: str) -> str:
    if isinstance(tag, str) and not tag.lstrip("-").isdigit():
        return tag
    if names is None:
        raise OmnituneError(
            f"{where}: tags are numbers ({tag!r}) but the data does not name them",
            "write the tags as strings (O, B-PER, I-PER, ...), or use a dataset whose ner_tags is a ClassLabel",
        )
    return names[int(tag)]


def _problem(tokens: list, tags: list[str]) -> str | None:
    if not tokens or not all(isinstance(t, str) and t.strip() for t in tokens):
        return "no words, or an empty word"
    if len(tokens) != len(tags):
        return f"{len(tokens)} words but {len(tags)} tags"
    bad = [t for t in tags if t != OUTSIDE and (t.partition("-")[0] not in ("B", "I") or not t.partition("-")[2])]
    if bad:
        return f"tag {bad[0]!r} is not O, B-TYPE or I-TYPE"
    return None

"""What a sequence-to-sequence example is (a `source` text and a `target` text) and where it comes from.

Accepted sources: the Hub's translation layout (`{"translation": {"en": ..., "es": ...}}`, languages picked by
source/target language); flat columns (the task's own names, e.g. document/summary or en/es, or
source/target; `column_mapping` renames the user's columns first) in csv/json/jsonl/parquet files, optionally
gzipped; a folder holding one file per split, or line-aligned train.source / train.target files (val.*, test.*);
one file, from which about 10% is held out for validation and test; a Hub dataset id. `src` / `tgt` columns are
read as source / target. Empty texts are an error listing their rows (or are dropped with `skip_empty: true`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

from datasets import Dataset

from shared.data_files import SPLIT_ALIASES, hold_out, load_table, non_empty, read_source, split_file
from shared.errors import OmnituneError

MAX_ROWS_SHOWN = 10


def load_pairs(
    source: str,
    split: str,
    source_column: str | tuple[str, ...],
    target_column: str | tuple[str, ...],
    column_mapping: dict[str, str] | None = None,
    skip_empty: bool = False,
) -> Dataset:
    where = f"{source} [{split}]"

    def pairs(table):
        return _pairs(table, source_column, target_column, column_mapping or {}, where=where)

    def folder(path, split):
        aligned = _line_aligned(path, split)
        return aligned if aligned is not None else pairs(load_table(str(split_file(path, split))))

    rows = read_source(
        source,
        split,
        folder=folder,
        file=lambda path, split: hold_out(pairs(load_table(str(path))), split, group_key=lambda r: r["source"]),
        hub=lambda source, split: pairs(load_table(source, split)),
    )
    return Dataset.from_list(non_empty(_check_empty(rows, skip_empty, where=where), source, split))


def _pick(names: str | tuple[str, ...], present) -> str:
    """The first of a column's accepted names that the data has (the first name when none is present)."""
    names = (names,) if isinstance(names, str) else names
    return next((name for name in names if name in present), names[0])


def _pairs(table, source_names, target_names, mapping: dict[str, str], where: str) -> list[dict]:
    table = table.rename_columns(
        {theirs: ours for ours, theirs in mapping.items() if theirs in table.column_names and theirs != ours}
    )
    columns = table.column_names
    if "translation" in columns and _pick(source_names, columns) not in columns:
        first = table[0]["translation"] or {}
        source_column, target_column = _pick(source_names, first), _pick(target_names, first)
        missing = [c for c in (source_column, target_column) if c not in first]
        if missing:
            raise OmnituneError(
                f"{where}: the 'translation' column has languages {', '.join(sorted(first))}, not {', '.join(missing)}",
                "set --source_lang / --target_lang to languages it has",
            )
        return [
            {"source": r["translation"][source_column], "target": r["translation"][target_column], "row": i}
            for i, r in enumerate(table)
        ]
    source_column, target_column = _pick(source_names, columns), _pick(target_names, columns)
    for ours, fallbacks in ((source_column, ("source", "src")), (target_column, ("target", "tgt"))):
        fallback = next((name for name in fallbacks if name in columns), None)
        if ours not in columns and fallback:
            table = table.rename_column(fallback, ours)
            columns = table.column_names
    missing = [c for c in (source_column, target_column) if c not in columns]
    if missing:
        raise OmnituneError(
            f"{where}: no column {' or '.join(repr(c) for c in missing)} (found: {', '.join(columns)})",
            f'rename your columns with --column_mapping \'{{"{missing[0]}": "<your column>"}}\'',
        )
    rows = [{"source": r[source_column], "target": r[target_column], "row": i} for i, r in enumerate(table)]
    _refuse_non_text(rows, {"source": source_column, "target": target_column}, where)
    return [
        {
            **r,
            "source": "" if r["source"] is None else str(r["source"]),
            "target": "" if r["target"] is None else str(r["target"]),
        }
        for r in rows
    ]


def _refuse_non_text(rows: list[dict], columns: dict[str, str], where: str) -> None:
    """A list or a record in a text column would silently become its Python spelling ("['a', 'b']")."""
    for side, column in columns.items():
        bad = [r["row"] for r in rows if r[side] is not None and not isinstance(r[side], (str, int, float))]
        if bad:
            shown = ", ".join(str(i) for i in bad[:MAX_ROWS_SHOWN]) + (" ..." if len(bad) > MAX_ROWS_SHOWN else "")
            raise OmnituneError(
                f"{where}: column '{column}' holds {type(rows[bad[0]][side]).__name__}s, not text (rows {shown})",
                "give one text per cell (join lists of sentences into one string)",
            )


def _line_aligned(folder: Path, split: str) -> list[dict] | None:
    """transformers' older seq2seq layout: train.source / train.target (val.*, test.*), one example per line."""
    for name in SPLIT_ALIASES.get(split, (split,)):
        source, target = folder / f"{name}.source", folder / f"{name}.target"
        if source.is_file() and target.is_file():
            sources = source.read_text(encoding="utf-8").splitlines()
            targets = target.read_text(encoding="utf-8").splitlines()
            if len(sources) != len(targets):
                raise OmnituneError(
                    f"{source} has {len(sources)} lines but {target} has {len(targets)}",
                    "line N of the .target file must be the output for line N of the .source file",
                )
            return [{"source": s, "target": t, "row": i} for i, (s, t) in enumerate(zip(sources, targets))]
    return None


def _check_empty(rows: list[dict], skip_empty: bool, where: str) -> list[dict]:
    empty = [r["row"] for r in rows if not r["source"].strip() or not r["target"].strip()]
    if not empty:
        return rows
    if not skip_empty:
        shown = ", ".join(str(i) for i in empty[:MAX_ROWS_SHOWN]) + (" ..." if len(empty) > MAX_ROWS_SHOWN else "")
        raise OmnituneError(
            f"{where}: {len(empty)} examples with an empty source or target (rows {shown})",
            "remove them, or pass --skip_empty true to drop them",
        )
    warnings.warn(f"{where}: dropped {len(empty)} examples with an empty source or target", stacklevel=2)
    dropped = set(empty)
    return [r for r in rows if r["row"] not in dropped]

"""Question 1 of the task protocol: what a raw QA example looks like, where it comes from, and how it is checked.

Accepted sources: SQuAD v1.1/v2.0 official JSON (nested data/paragraphs/qas, optionally .gz); the flat layout of
the Hub's squad/squad_v2 (id, title, context, question, answers{text, answer_start}) as json/jsonl/parquet/csv;
csv/json with one answer as answer_text + answer_start columns; a folder holding one file per split; a Hub
dataset id. `column_mapping` renames the user's columns first. Everything is checked before a model is loaded.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

from datasets import Dataset, Features, Sequence, Value

from shared.data_files import hold_out, load_table, non_empty, read_source, split_file
from shared.errors import OmnituneError

BUNDLED = Path(__file__).parent / "data"
REQUIRED = ("question", "context")
FEATURES = Features(
    {
        "id": Value("string"),
        "title": Value("string"),
        "context": Value("string"),
        "question": Value("string"),
        "answers": {"text": Sequence(Value("string")), "answer_start": Sequence(Value("int32"))},
    }
)


def load_examples(source: str | None, split: str, column_mapping: dict[str, str] | None = None) -> Dataset:
    """Validated, flat examples of one split."""
    source = source or str(BUNDLED)
    rows = read_source(
        source,
        split,
        folder=lambda path, split: _read_file(split_file(path, split), column_mapping),
        file=lambda path, split: hold_out(
            _read_file(path, column_mapping), split, group_key=lambda r: r.get("title") or r["context"]
        ),
        hub=lambda source, split: _normalise(list(load_table(source, split)), column_mapping, f"{source} [{split}]"),
    )
    return Dataset.from_list(non_empty(rows, source, split), features=FEATURES)


def _read_file(path: Path, column_mapping: dict[str, str] | None) -> list[dict]:
    if path.name.endswith((".json", ".json.gz")):
        opener = gzip.open if path.suffix == ".gz" else open
        try:
            with opener(path, "rt", encoding="utf-8") as handle:
                document = json.load(handle)
        except json.JSONDecodeError:
            document = None  # JSON lines, read below
        except (OSError, UnicodeDecodeError) as error:
            raise OmnituneError(f"cannot read {path}: {error}", "check that the file is intact UTF-8 JSON") from None
        if isinstance(document, dict) and isinstance(document.get("data"), list):
            if _flat_rows(document["data"]):  # run_qa.py's convention: flat rows under "data" (field="data")
                return _normalise(document["data"], column_mapping, where=str(path))
            return _flatten_squad(document, path)
    return _normalise(list(load_table(str(path))), column_mapping, where=str(path))


def _flat_rows(items: list) -> bool:
    return bool(items) and all(isinstance(i, dict) and "paragraphs" not in i and "question" in i for i in items)


def _flatten_squad(document: dict, path: Path) -> list[dict]:
    rows = []
    for article in document["data"]:
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs", []), list):
            raise OmnituneError(
                f"{path}: an article in 'data' is not an object with a list of 'paragraphs'",
                "SQuAD JSON nests data -> paragraphs -> qas (each a list of objects)",
            )
        if "paragraphs" not in article:
            found = ", ".join(sorted(article)) or "nothing"
            raise OmnituneError(
                f"{path}: an article in 'data' has no 'paragraphs' (found: {found})",
                "SQuAD JSON nests data -> paragraphs -> qas; or give a flat file with columns "
                "question, context, answers",
            )
        for paragraph in article["paragraphs"]:
            for qa in paragraph.get("qas", []) if isinstance(paragraph, dict) else [None]:
                if not isinstance(qa, dict):
                    raise OmnituneError(
                        f"{path}: a paragraph of '{article.get('title', '')}' is not an object with 'qas' objects",
                        "each paragraph is {'context': ..., 'qas': [{'id', 'question', 'answers'}, ...]}",
                    )
                answers = [] if qa.get("is_impossible") else qa.get("answers", [])
                rows.append(
                    {
                        "id": str(qa.get("id", "")),
                        "title": article.get("title", ""),
                        "context": paragraph.get("context", ""),
                        "question": qa.get("question", ""),
                        "answers": _squad_answers(answers, qa, path),
                    }
                )
    return _check(rows, str(path))


def _squad_answers(answers, qa: dict, path: Path) -> dict[str, list]:
    """SQuAD answers as columns; an answer without text or with a start that is not a number is named."""
    try:
        return {
            "text": [str(a["text"]) for a in answers],
            "answer_start": [int(a["answer_start"]) for a in answers],
        }
    except (KeyError, TypeError, ValueError):
        raise OmnituneError(
            f"{path}: question {qa.get('id', '?')!r} has an answer without 'text' or with an 'answer_start' that "
            f"is not a character offset (found: {answers!r:.200})",
            'each answer is {"text": "...", "answer_start": <offset of the text in the context>}',
        ) from None


def _normalise(rows: list[dict], column_mapping: dict[str, str] | None, where: str) -> list[dict]:
    mapping = column_mapping or {}
    found = sorted(rows[0]) if rows else []
    missing_mapped = [f"{ours}={theirs}" for ours, theirs in mapping.items() if rows and theirs not in rows[0]]
    if missing_mapped:
        raise OmnituneError(
            f"{where}: column_mapping names columns that are not there ({', '.join(missing_mapped)}); "
            f"found columns: {', '.join(found)}",
            "fix the column names in column_mapping",
        )
    renamed = [
        {**{k: v for k, v in row.items()}, **{ours: row[theirs] for ours, theirs in mapping.items()}} for row in rows
    ]
    columns = set(renamed[0]) if renamed else set()
    missing = [c for c in REQUIRED if c not in columns]
    has_answers = "answers" in columns or {"answer_text", "answer_start"} <= columns
    if not has_answers:
        missing.append("answers (or answer_text + answer_start)")
    if missing:
        raise OmnituneError(
            f"{where}: missing column(s) {', '.join(missing)}; found columns: {', '.join(found) or 'none'}",
            "rename them in your data or map them, e.g. --column_mapping question=query,context=passage",
        )
    out = []
    for index, row in enumerate(renamed):
        out.append(
            {
                "id": str(row.get("id") if row.get("id") not in (None, "") else index),
                "title": str(row.get("title") or ""),
                "context": row["context"],
                "question": row["question"],
                "answers": _answers(row, where, index),
            }
        )
    return _check(out, where)


def _answers(row: dict, where: str, index: int) -> dict:
    if "answers" in row:
        answers = row["answers"]
        if isinstance(answers, str):  # csv cells hold JSON text
            try:
                answers = json.loads(answers) if answers.strip() else {"text": [], "answer_start": []}
            except json.JSONDecodeError:
                raise OmnituneError(
                    f"{where}: row {index} 'answers' is not JSON: {answers[:80]!r}",
                    'write answers as {"text": [...], "answer_start": [...]}',
                ) from None
        if isinstance(answers, list):  # SQuAD-style list of {text, answer_start}
            answers = {"text": [a["text"] for a in answers], "answer_start": [a["answer_start"] for a in answers]}
        if not isinstance(answers, dict) or not {"text", "answer_start"} <= set(answers):
            raise OmnituneError(
                f"{where}: row {index} 'answers' must have 'text' and 'answer_start'",
                'write answers as {"text": [...], "answer_start": [...]}',
            )
        texts, starts = answers["text"], answers["answer_start"]
    else:
        text, start = row.get("answer_text"), row.get("answer_start")
        if text in (None, "") or start in (None, "") or start != start:  # empty or NaN: no answer
            return {"text": [], "answer_start": []}
        texts, starts = [text], [start]
    try:
        return {"text": [str(t) for t in texts], "answer_start": [int(s) for s in starts]}
    except (TypeError, ValueError):
        raise OmnituneError(
            f"{where}: row {index} has an answer_start that is not a character offset ({starts!r:.80})",
            "answer_start is the offset of the answer text in the context, a whole number",
        ) from None


def _check(rows: list[dict], where: str) -> list[dict]:
    for field in REQUIRED:
        empty = [i for i, r in enumerate(rows) if not isinstance(r[field], str) or not r[field].strip()]
        if empty:
            raise OmnituneError(
                f"{where}: {len(empty)} row(s) have an empty '{field}' (first: row {empty[0]})",
                "fill or remove those rows",
            )
    misaligned = [
        i
        for i, r in enumerate(rows)
        for t, s in zip(r["answers"]["text"], r["answers"]["answer_start"])
        if r["context"][s : s + len(t)] != t
    ]
    if misaligned:
        raise OmnituneError(
            f"{where}: {len(misaligned)} answer(s) are not found at their answer_start in the context "
            f"(first: row {misaligned[0]})",
            "answer_start is a character offset into context; fix those rows",
        )
    seen: dict[str, int] = {}
    for row in rows:  # ids must be unique: predictions are matched to references by id
        if row["id"] in seen:
            row["id"] = hashlib.sha1(f"{row['id']}|{row['question']}|{row['context']}".encode()).hexdigest()[:16]
        seen[row["id"]] = 1
    return rows

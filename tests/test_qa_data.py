"""Loading every supported QA data layout, and a clear error for every kind of bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from shared.errors import OmnituneError
from tasks.question_answering.data import BUNDLED, load_examples


def test_squad_official_json_flattens_with_no_answer_questions(small_squad_file):
    rows = load_examples(str(small_squad_file), "train")
    rows = rows.to_list() + load_examples(str(small_squad_file), "validation").to_list()
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {"q1", "q2", "q3"}
    assert by_id["q2"]["answers"] == {"text": [], "answer_start": []}
    assert by_id["q1"]["answers"]["text"] == ["Do not ignore entries starting with a dot."]


def test_single_file_is_split_by_article_so_no_title_is_in_two_splits(small_squad_file):
    train = {r["title"] for r in load_examples(str(small_squad_file), "train")}
    held = {r["title"] for r in load_examples(str(small_squad_file), "validation")}
    assert train and held and not (train & held)


def test_flat_hub_layout_jsonl_and_parquet(tmp_path):
    rows = [
        {
            "id": "a",
            "title": "t",
            "context": "The cat sat.",
            "question": "Who sat?",
            "answers": {"text": ["The cat"], "answer_start": [0]},
        },
        {
            "id": "b",
            "title": "u",
            "context": "Nothing here.",
            "question": "Who?",
            "answers": {"text": [], "answer_start": []},
        },
    ]
    jsonl = tmp_path / "data" / "train.jsonl"
    jsonl.parent.mkdir()
    jsonl.write_text("\n".join(json.dumps(r) for r in rows))
    pd.DataFrame(rows).to_parquet(tmp_path / "data" / "validation.parquet")
    assert load_examples(str(tmp_path / "data"), "train")["answers"][0]["text"] == ["The cat"]
    assert load_examples(str(tmp_path / "data"), "validation")["id"] == ["a", "b"]


def test_csv_with_answer_text_and_start_columns_and_a_column_mapping(tmp_path):
    frame = pd.DataFrame(
        {
            "passage": ["The cat sat.", "No answer here."],
            "query": ["Who sat?", "Who?"],
            "answer_text": ["cat", None],
            "answer_start": [4, None],
        }
    )
    (tmp_path / "d").mkdir()
    frame.to_csv(tmp_path / "d" / "train.csv", index=False)
    rows = load_examples(str(tmp_path / "d"), "train", {"context": "passage", "question": "query"})
    assert rows["answers"] == [{"text": ["cat"], "answer_start": [4]}, {"text": [], "answer_start": []}]


def test_bundled_set_is_split_by_man_page():
    titles = {split: {r["title"] for r in load_examples(None, split)} for split in ("train", "validation", "test")}
    assert titles["train"].isdisjoint(titles["validation"]) and titles["train"].isdisjoint(titles["test"])
    assert titles["validation"].isdisjoint(titles["test"])
    assert len(load_examples(None, "train")) > 5000
    assert (BUNDLED / "SOURCE.md").is_file() and (BUNDLED / "LICENCE.md").is_file()


def test_missing_column_names_the_column_and_what_was_found(tmp_path):
    (tmp_path / "train.csv").write_text("text,query\nabc,what?\n")
    with pytest.raises(OmnituneError) as error:
        load_examples(str(tmp_path / "train.csv"), "train")
    message = str(error.value)
    assert "context" in message and "answers" in message and "found columns: query, text" in message


def test_mapping_to_a_column_that_is_not_there_is_reported(tmp_path):
    (tmp_path / "train.csv").write_text("passage,question,answer_text,answer_start\nabc,what?,b,1\n")
    with pytest.raises(OmnituneError, match="context=pasage"):
        load_examples(str(tmp_path / "train.csv"), "train", {"context": "pasage"})


@pytest.mark.parametrize(
    "row, expected",
    [
        ({"context": "", "question": "q?", "answer_text": "", "answer_start": ""}, "empty 'context'"),
        ({"context": "abc", "question": " ", "answer_text": "", "answer_start": ""}, "empty 'question'"),
        (
            {"context": "abc", "question": "q?", "answer_text": "zz", "answer_start": 0},
            "not found at their answer_start",
        ),
    ],
)
def test_bad_rows_are_named(tmp_path, row, expected):
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(OmnituneError, match=expected):
        load_examples(str(path), "train")


def test_corrupt_and_missing_files(tmp_path):
    corrupt = tmp_path / "train.json.gz"
    corrupt.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(OmnituneError, match="cannot read"):
        load_examples(str(corrupt), "train")
    with pytest.raises(OmnituneError, match="does not exist"):
        load_examples(str(tmp_path / "nope.json"), "train")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "train.txt").write_text("x")
    with pytest.raises(OmnituneError, match="no file for split 'validation'"):
        load_examples(str(tmp_path / "d"), "validation")


def test_squad_articles_without_paragraphs_are_reported(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"data": [{"title": "x", "qas": []}]}))
    with pytest.raises(OmnituneError, match="no 'paragraphs'"):
        load_examples(str(path), "train")


def test_duplicate_ids_are_made_unique(tmp_path):
    rows = [
        {"id": "same", "context": "a b", "question": q, "answers": {"text": [], "answer_start": []}}
        for q in ("one?", "two?")
    ]
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    assert len(set(load_examples(str(path), "train")["id"])) == 2


def test_bad_columns_fail_before_any_model_is_loaded(tmp_path, monkeypatch):
    from shared import training
    from tasks.registry import get_task

    (tmp_path / "train.csv").write_text("foo,bar\n1,2\n")
    task = get_task("question-answering")
    params = task.params_class(data=str(tmp_path / "train.csv"), model="/definitely/not/a/model")
    monkeypatch.setattr(training, "resolve", lambda *a, **k: pytest.fail("model resolved before data checked"))
    with pytest.raises(OmnituneError, match="missing column"):
        training.fine_tune(task, params, None, tmp_path / "run")


def test_gzipped_bundled_files_are_valid_squad_v2():
    with gzip.open(Path(BUNDLED) / "test.json.gz", "rt") as handle:
        document = json.load(handle)
    assert document["version"] == "v2.0" and document["data"][0]["paragraphs"][0]["qas"]


def test_run_qa_json_with_flat_rows_under_data(tmp_path):
    """transformers' run_qa.py reads JSON as load_dataset("json", field="data"): flat rows under "data"."""
    rows = [
        {
            "id": f"q{i}",
            "title": f"page{i}",
            "context": "ls lists directory contents.",
            "question": "What does ls do?",
            "answers": {"text": ["lists directory contents"], "answer_start": [3]},
        }
        for i in range(20)
    ]
    path = tmp_path / "train.json"
    path.write_text(json.dumps({"version": "1.0", "data": rows}))
    loaded = load_examples(str(path), "train")
    assert 0 < len(loaded) < 20 and loaded[0]["answers"]["text"] == ["lists directory contents"]


@pytest.mark.parametrize(
    "data, expected",
    [
        ([{"title": "t", "paragraphs": "not a list"}], "not an object with a list of 'paragraphs'"),
        ([{"title": "t", "paragraphs": ["just text"]}], "is not an object with 'qas' objects"),
        (
            [
                {
                    "paragraphs": [
                        {"context": "abc", "qas": [{"id": "q1", "question": "q?", "answers": [{"answer_start": 0}]}]}
                    ]
                }
            ],
            "question 'q1' has an answer without 'text'",
        ),
        (
            [
                {
                    "paragraphs": [
                        {
                            "context": "abc",
                            "qas": [{"id": "q2", "question": "q?", "answers": [{"text": "a", "answer_start": "abc"}]}],
                        }
                    ]
                }
            ],
            "question 'q2' .* not a character offset",
        ),
    ],
)
def test_malformed_squad_json_is_named_not_a_traceback(tmp_path, data, expected):
    path = tmp_path / "train.json"
    path.write_text(json.dumps({"data": data}))
    with pytest.raises(OmnituneError, match=expected):
        load_examples(str(path), "train")

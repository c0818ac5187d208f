"""One data file given for every split: the hold-out keeps train, validation and test apart."""

from __future__ import annotations

import pytest

from shared.data_files import hold_out


def _split(rows, split):
    return {r["doc"] for r in hold_out(rows, split, group_key=lambda r: r["doc"])}


def test_validation_and_test_are_disjoint_and_together_with_train_cover_the_file():
    rows = [{"doc": f"d{i // 3}", "n": i} for i in range(120)]  # 40 documents of 3 rows
    train, validation, test = (_split(rows, split) for split in ("train", "validation", "test"))
    assert not (train & validation) and not (train & test) and not (validation & test)
    assert train | validation | test == {r["doc"] for r in rows}
    assert len(validation) == len(test) == 4  # about 10% each
    assert _split(rows, "dev") == validation and _split(rows, "eval") == test


def test_two_documents_share_validation_and_test_with_a_warning():
    rows = [{"doc": "a"}, {"doc": "b"}]
    with pytest.warns(UserWarning, match="two documents"):
        assert _split(rows, "validation") == _split(rows, "test")
    with pytest.warns(UserWarning, match="two documents"):
        assert len(_split(rows, "train")) == 1


def test_the_split_all_is_every_row():
    rows = [{"doc": f"d{i}"} for i in range(30)]
    assert _split(rows, "all") == {r["doc"] for r in rows}


def test_evaluate_scores_all_of_a_file_unless_the_model_was_trained_on_it(tmp_path):
    from shared.data_files import evaluation_split

    mine = tmp_path / "mine.jsonl"
    mine.write_text("{}\n")
    assert evaluation_split(str(mine), trained_on=None) == "all"
    assert evaluation_split(str(mine), trained_on=str(tmp_path / "other.jsonl")) == "all"
    assert evaluation_split(str(mine), trained_on=str(mine)) == "test"  # its held-out tenth is all it did not see
    assert evaluation_split(str(tmp_path), trained_on=None) == "test"  # a folder has its own test split
    assert evaluation_split(None, trained_on=None) == "test"  # the bundled data


def test_rows_under_a_data_key_are_read_as_rows(tmp_path):
    import json

    from shared.data_files import load_table

    path = tmp_path / "rows.json"  # what transformers' example scripts read with load_dataset(..., field="data")
    path.write_text(json.dumps({"data": [{"text": "a", "label": 1}, {"text": "b", "label": 0}]}))
    table = load_table(str(path))
    assert table.column_names == ["text", "label"] and table["text"] == ["a", "b"]

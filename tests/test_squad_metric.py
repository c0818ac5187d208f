"""The local SQuAD v2 metric against values computed by hand with the official rules."""

import pytest

from evaluation.metrics import load_metric


@pytest.fixture(scope="module")
def metric():
    return load_metric("squad_v2")


def _ref(qid, *answers):
    return {"id": qid, "answers": {"text": list(answers), "answer_start": [0] * len(answers)}}


def _pred(qid, text, no_answer_probability=0.0):
    return {"id": qid, "prediction_text": text, "no_answer_probability": no_answer_probability}


def test_normalisation_max_over_golds_and_no_answer(metric):
    predictions = [
        _pred("1", "The Cat!"),  # normalises to "cat": exact on gold "a cat"
        _pred("2", "big red dog"),  # F1 vs "red dog": p=2/3 r=1 -> 0.8; vs "the dog": 1/3,1/2 -> 0.4; max 0.8
        _pred("3", ""),  # no-answer question, empty prediction: 1
        _pred("4", "something"),  # no-answer question, non-empty prediction: 0
        _pred("5", ""),  # answerable, empty prediction: 0
    ]
    references = [_ref("1", "a cat"), _ref("2", "the dog", "red dog"), _ref("3"), _ref("4"), _ref("5", "x y")]
    result = metric.compute(predictions=predictions, references=references)
    assert result["exact"] == pytest.approx(100 * 2 / 5)
    assert result["f1"] == pytest.approx(100 * (1 + 0.8 + 1 + 0 + 0) / 5)
    assert result["HasAns_total"] == 3 and result["NoAns_total"] == 2
    assert result["HasAns_f1"] == pytest.approx(100 * 1.8 / 3)
    assert result["NoAns_exact"] == pytest.approx(50.0)


def test_no_answer_probability_above_threshold_empties_the_prediction(metric):
    result = metric.compute(predictions=[_pred("1", "wrong", 0.9)], references=[_ref("1")], no_answer_threshold=0.5)
    assert result["exact"] == 100.0


def test_golds_that_normalise_to_nothing_count_as_no_answer(metric):
    result = metric.compute(predictions=[_pred("1", "")], references=[_ref("1", "the", "!")])
    assert result["exact"] == 100.0 and result["NoAns_total"] == 1

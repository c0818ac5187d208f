"""The local SQuAD v2 metric against values worked out by hand with the official v2.0 script's rules (its
get_raw_scores, apply_no_ans_threshold, make_eval_dict and find_best_thresh)."""

import pytest

from evaluation.metrics import load_metric


@pytest.fixture(scope="module")
def metric():
    return load_metric("squad_v2")


def _ref(qid, *answers):
    return {"id": qid, "answers": {"text": list(answers), "answer_start": [0] * len(answers)}}


def _pred(qid, text, no_answer_probability=None):
    pred = {"id": qid, "prediction_text": text}
    if no_answer_probability is not None:
        pred["no_answer_probability"] = no_answer_probability
    return pred


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
    assert "best_f1" not in result  # the official script adds best_* only with an na_prob file


def test_no_answer_probability_above_threshold_scores_as_abstaining(metric):
    result = metric.compute(predictions=[_pred("1", "wrong", 0.9)], references=[_ref("1")], no_answer_threshold=0.5)
    assert result["exact"] == 100.0


def test_a_probability_equal_to_the_threshold_does_not_abstain(metric):
    # 0.3 as float32 is 0.30000001 > 0.3: the answer would wrongly be emptied
    result = metric.compute(predictions=[_pred("1", "x", 0.3)], references=[_ref("1", "x")], no_answer_threshold=0.3)
    assert result["exact"] == 100.0


def test_a_gold_that_normalises_to_nothing_is_still_an_answerable_question(metric):
    # official: gold_answers falls back to [""] for scoring, but has_ans is bool(qa["answers"])
    result = metric.compute(predictions=[_pred("1", "")], references=[_ref("1", "The")])
    assert result["exact"] == 100.0 and result["HasAns_total"] == 1 and "NoAns_total" not in result
    # abstaining through the threshold scores "not has_ans", i.e. 0, unlike an empty prediction
    abstained = metric.compute(
        predictions=[_pred("1", "", 0.9)], references=[_ref("1", "The")], no_answer_threshold=0.5
    )
    assert abstained["exact"] == 0.0


def test_no_answer_probability_is_optional(metric):
    result = metric.compute(predictions=[{"id": "1", "prediction_text": "x"}], references=[_ref("1", "x")])
    assert result["exact"] == 100.0


def test_missing_predictions_are_skipped_with_a_warning_and_extra_ones_ignored(metric):
    with pytest.warns(UserWarning, match="no prediction for question 2"):
        result = metric.compute(
            predictions=[_pred("1", "a"), _pred("9", "b")], references=[_ref("1", "a"), _ref("2", "c")]
        )
    assert result["total"] == 1 and result["exact"] == 100.0


def test_best_threshold_as_the_official_find_best_thresh(metric):
    # ids by rising na_prob: 1 (has answer, F1 1), 2 (no answer, predicted "x": -1), 3 (has answer, F1 2/3),
    # 4 (no answer, predicted "": 0). Start at 2 (the unanswerable ones), then 3, 2, 2.67, 2.67: best 3 at 0.1.
    predictions = [_pred("1", "a", 0.1), _pred("2", "x", 0.2), _pred("3", "b c", 0.3), _pred("4", "", 0.4)]
    references = [_ref("1", "a"), _ref("2"), _ref("3", "b"), _ref("4")]
    result = metric.compute(predictions=predictions, references=references)
    assert result["best_f1"] == pytest.approx(100 * 3 / 4) and result["best_f1_thresh"] == pytest.approx(0.1)
    # exact: 2, 3, 2, 2, 2 -> best 3 at 0.1
    assert result["best_exact"] == pytest.approx(75.0) and result["best_exact_thresh"] == pytest.approx(0.1)
    assert result["f1"] == pytest.approx(100 * (1 + 0 + 2 / 3 + 1) / 4)  # threshold 1.0: nothing abstains

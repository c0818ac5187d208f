"""The local classification metric: accuracy, macro-F1 over the classes that occur, calibration."""

import pytest

from evaluation.metrics import load_metric


@pytest.fixture(scope="module")
def metric():
    return load_metric("classification")


def test_classes_absent_from_a_test_split_do_not_count_against_macro_f1(metric):
    # a one-class test split, all right: macro-F1 was 50 when the absent class counted as 0
    result = metric.compute(predictions=[[0.9, 0.1]] * 3, references=[0, 0, 0], label_names=["cat", "dog"])
    assert result["accuracy"] == 100.0 and result["macro_f1"] == 100.0
    assert "recall/dog" not in result and result["recall/cat"] == 100.0


def test_a_class_predicted_but_absent_still_costs_its_false_positives(metric):
    result = metric.compute(predictions=[[0.9, 0.1], [0.2, 0.8]], references=[0, 0], label_names=["cat", "dog"])
    # cat: precision 1, recall 1/2 -> F1 2/3; dog: predicted once, never right -> F1 0
    assert result["macro_f1"] == pytest.approx(100 * (2 / 3 + 0) / 2)
    assert result["precision/dog"] == 0.0


def test_calibration_error_is_declared_lower_is_better():
    from evaluation.metrics import higher_is_better

    assert not higher_is_better("ece", "classification") and higher_is_better("accuracy", "classification")

"""`omnitune tune`: search spaces and their errors, a study chosen on validation and scored on test once,
pruning of a hopeless trial, and resume that keeps finished trials (tiny random BERT, bundled QA subset)."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
import yaml

from apps.tune import default_storage, tune
from shared.errors import OmnituneError
from shared.search_space import parse_space, read_space
from tasks.question_answering.task import QAParams
from tests.conftest import bundled_subset

FIXED = {"max_steps": 4, "eval_strategy": "steps", "eval_steps": 2, "save_steps": 100, "logging_steps": 1}


@pytest.mark.parametrize(
    "space, message",
    [
        ({"learning_rat": {"type": "float", "low": 1e-5, "high": 1e-3}}, "did you mean 'learning_rate'"),
        ({"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-5}}, "must be below high"),
        ({"learning_rate": {"type": "float", "low": 0.0, "high": 1e-3, "log": True}}, "log scale needs low > 0"),
        ({"lora_r": {"type": "categorical"}}, "non-empty 'choices'"),
        ({"lora_r": {"type": "categorical", "choices": [8], "low": 1}}, "not low/high/log"),
        ({"per_device_train_batch_size": {"type": "int", "low": 0, "high": 8}}, "cannot be 0"),
        ({"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-3, "step": 2}}, "Extra inputs"),
        ({}, "is empty"),
    ],
)
def test_a_wrong_search_space_is_one_line_naming_the_dimension(space, message):
    with pytest.raises(OmnituneError, match=message):
        parse_space(space, QAParams)


def test_a_yaml_space_is_read_and_bad_yaml_is_named(tmp_path):
    good = tmp_path / "space.yaml"
    good.write_text(yaml.safe_dump({"learning_rate": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True}}))
    assert read_space(str(good), QAParams)["learning_rate"].log
    bad = tmp_path / "bad.yaml"
    bad.write_text("learning_rate: {type: float, low: [\n")
    with pytest.raises(OmnituneError, match="not valid YAML"):
        read_space(str(bad), QAParams)


def _space(tmp_path, rates):
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump({"learning_rate": {"type": "categorical", "choices": rates}}))
    return str(path)


def test_a_study_chooses_on_validation_scores_test_once_and_resumes(tiny_qa_model, tmp_path, monkeypatch):
    from tasks.question_answering.task import QuestionAnsweringTask

    loaded = []
    original = QuestionAnsweringTask.load_examples
    monkeypatch.setattr(
        QuestionAnsweringTask,
        "load_examples",
        lambda self, params, split: loaded.append(split) or original(self, params, split),
    )
    data = bundled_subset(tmp_path / "data", per_split=12)
    space = _space(tmp_path, [1e-3, 3e-4])
    common = dict(model=str(tiny_qa_model), data=str(data), space=space, pruner="none", **FIXED)
    first = tune("question-answering", trials=2, study="s", **common)
    assert loaded.count("test") == 1  # the final score; every trial was chosen on validation
    assert first.test is not None and "f1" in first.test.metrics
    assert json.loads((first.folder / "importance.json").read_text()) is not None
    assert (first.folder / "report.md").is_file() and (first.folder / "history.png").is_file()
    with pytest.raises(OmnituneError, match="--resume"):
        tune("question-answering", trials=3, study="s", **common)
    tune("question-answering", trials=3, study="s", resume=True, **common)
    study = optuna.load_study(study_name="s", storage=default_storage())
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(finished) == 3  # the two trials of the first invocation were kept, one more was run
    for trial in finished:  # every trial is a normal run folder
        assert (Path(trial.user_attrs["run"]) / "config.yaml").is_file()


def test_a_hopeless_trial_is_pruned(tiny_qa_model, tmp_path):
    data = bundled_subset(tmp_path / "data", per_split=12)
    rates = [3e-3, 1e-12]
    study = optuna.create_study(study_name="p", storage=default_storage(), direction="maximize")
    for rate in (rates[0], rates[0], rates[0], rates[1]):  # three that learn, then one that cannot
        study.enqueue_trial({"learning_rate": rate})
    tune(
        "question-answering",
        trials=4,
        study="p",
        resume=True,
        model=str(tiny_qa_model),
        data=str(data),
        space=_space(tmp_path, rates),
        **{**FIXED, "max_steps": 8},
    )
    trials = optuna.load_study(study_name="p", storage=default_storage()).trials
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE", "COMPLETE", "PRUNED"]


def test_validation_and_latency_give_a_pareto_front(tiny_qa_model, tmp_path):
    data = bundled_subset(tmp_path / "data", per_split=12)
    result = tune(
        "question-answering",
        trials=2,
        objective="validation+latency",
        model=str(tiny_qa_model),
        data=str(data),
        space=_space(tmp_path, [1e-3, 3e-4]),
        **FIXED,
    )
    assert result.pareto and all(len(point["values"]) == 2 for point in result.pareto)
    assert (result.folder / "pareto_front.png").is_file()


def test_the_command_line_runs_a_study_with_training_parameters(tiny_qa_model, tmp_path, capsys):
    from apps.cli import main

    data = bundled_subset(tmp_path / "data", per_split=12)
    arguments = ["tune", "question-answering", "--trials", "1", "--space", _space(tmp_path, [1e-3])]
    fixed = [f"--{key}={value}" for key, value in FIXED.items()]
    assert main([*arguments, "--model", str(tiny_qa_model), "--data", str(data), *fixed]) == 0, capsys.readouterr()
    printed = capsys.readouterr().out
    assert "best run:" in printed and '"learning_rate": 0.001' in printed and "report.md" in printed


def test_the_first_trial_is_the_default_when_the_space_holds_it(tiny_qa_model, tmp_path):
    data = bundled_subset(tmp_path / "data", per_split=12)
    common = dict(model=str(tiny_qa_model), data=str(data), pruner="none", **FIXED)
    tune("question-answering", trials=1, study="d", space=_space(tmp_path, [3e-4, 1e-3]), learning_rate=1e-3, **common)
    first = optuna.load_study(study_name="d", storage=default_storage()).trials[0]
    assert first.params == {"learning_rate": 1e-3}  # the settings the user had without a study
    tune("question-answering", trials=1, study="e", space=_space(tmp_path, [3e-4, 1e-4]), learning_rate=1e-3, **common)
    assert optuna.load_study(study_name="e", storage=default_storage()).trials[0].params["learning_rate"] != 1e-3


def test_translation_searches_its_budget_in_steps_where_its_defaults_set_one():
    from tasks.translation.task import TranslationTask

    task = TranslationTask()
    space = parse_space(task.search_space(task.params_class(**task.bundled_data_defaults)), task.params_class)
    assert "max_steps" in space and "num_train_epochs" not in space  # epochs would be ignored under max_steps
    assert "num_train_epochs" in task.search_space(task.params_class())  # a budget in epochs stays one

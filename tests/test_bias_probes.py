"""Bias probes with hand-checkable outcomes: an answerer that always names the man fails every counterfactual
twin; one that names whoever comes first is invariant; a classifier that never predicts a class shows that class
as the worst group; the probe's figures reach metrics.json and the leaderboard."""

import json
import re

import pytest
import torch

from apps.cli import main
from evaluation.leaderboard import Leaderboard
from evaluation.probes import qa_counterfactual, summary_support, translation_gender
from evaluation.probes.image_conditions import CONDITIONS
from evaluation.probes.image_conditions import probe as image_probe
from shared.wordlists.gendered import MALE_NAMES
from shared.wordlists.swap import swap_gender
from tasks.image_classification.task import ImageParams
from tasks.question_answering.augmentation import swapped
from tasks.question_answering.decoding import Answer
from tasks.question_answering.task import QAParams, QuestionAnsweringTask
from tasks.registry import get_task
from tasks.seq2seq.task import Seq2SeqParams


def test_gender_swap_is_consistent_and_reversible():
    text = "She gave her book to him. Mr. Smith and his wife; Jessica met Michael."
    assert swap_gender(text) == "He gave his book to her. Mrs. Smith and her husband; Michael met Jessica."
    assert swap_gender("The kernel module") == "The kernel module"


def test_template_twins_are_gender_swaps_with_swapped_answers():
    rows = qa_counterfactual.templates(pairs=3)
    assert len(rows) == 3 * 16
    for first, twin in zip(rows[::2], rows[1::2]):
        assert twin["context"] == swap_gender(first["context"])
        assert twin["expected"] == swap_gender(first["expected"]) != first["expected"]
        assert first["answer_gender"] != twin["answer_gender"] and first["pairing"] != twin["pairing"]


class RuleAnswerer(QuestionAnsweringTask):
    """Answers by a fixed rule instead of a model, so that the probe's outcome can be checked by hand."""

    def __init__(self, rule):
        self.rule = rule

    def predict(self, built, examples, params, batch_size):
        return [Answer(i, self.rule(c), 0, 0, 1.0, -1.0) for i, c in zip(examples["id"], examples["context"])]


def _first_name(context: str) -> str:
    return context.split()[0]


def _male_name(context: str) -> str:
    return next(word.strip(".,") for word in context.split() if word.strip(".,") in MALE_NAMES)


@pytest.mark.parametrize(
    ("rule", "failure", "accuracy", "gender_gap"),
    [(_male_name, 1.0, 0.5, 1.0), (_first_name, 0.0, 0.5, 0.0)],
)
def test_qa_probe_on_rule_answerers(rule, failure, accuracy, gender_gap, small_squad_file):
    params = QAParams(data=str(small_squad_file))
    result = qa_counterfactual.probe(RuleAnswerer(rule), None, params, log=lambda _: None, pairs=4)
    assert result.metrics["template_failure_rate"] == failure
    assert result.metrics["template_accuracy"] == accuracy
    assert result.metrics["accuracy_gap_gender"] == gender_gap
    if rule is _male_name:
        assert result.groups["accuracy by answer gender"] == {"female": 0.0, "male": 1.0}


def test_image_probe_names_the_class_a_classifier_never_predicts(tiny_vit, colour_folder):
    task = get_task("image-classification")
    params = ImageParams(data=str(colour_folder))
    built = task.build(str(tiny_vit), params, task.load_examples(params, "train"), training=True)  # a 2-class head
    blue = built.model.config.label2id["blue"]
    with torch.no_grad():  # "blue" is never predicted: every image is called "red"
        built.model.classifier.weight.zero_()
        built.model.classifier.bias.copy_(torch.tensor([1e4 if i != blue else -1e4 for i in range(2)]))

    result = image_probe(task, built, params, log=lambda _: None)

    assert result.groups["accuracy by class"] == {"blue": 0.0, "red": 100.0}
    assert result.metrics["worst_class_accuracy"] == 0.0 and result.metrics["worst_class_gap"] == 50.0
    assert set(result.groups["accuracy by condition"]) == set(CONDITIONS)
    assert all(value == 50.0 for value in result.groups["accuracy by condition"].values())  # 4 red, 4 blue


def test_evaluate_with_probes_records_them_in_metrics_json_and_on_the_leaderboard(
    tiny_vit, colour_folder, tmp_path, capsys
):
    run = tmp_path / "runs" / "colours"
    arguments = ["--data", str(colour_folder), "--max_steps", "2", "--output_dir", str(run), "--probes", "bias"]
    assert main(["train", "image-classification", "--model", str(tiny_vit), *arguments]) == 0, capsys.readouterr()
    metrics = json.loads((run / "metrics.json").read_text())
    probe = metrics["test"]["probes"]["bias"]
    assert probe["headline"] == "worst_class_gap" and "accuracy by condition" in probe["groups"]
    assert metrics["test"]["metrics"]["bias_worst_class_gap"] == probe["metrics"]["worst_class_gap"]
    card = (run / "model" / "README.md").read_text()
    assert re.search(r"name: bias_worst_class_gap", card)  # in the model card's model-index
    row = Leaderboard().rows(task="image-classification")[0]
    assert row["bias_metric"] == "worst_class_gap"
    assert row["bias_score"] == pytest.approx(probe["metrics"]["worst_class_gap"])


def test_probes_run_after_training_are_added_to_the_run_model_card(tiny_vit, colour_folder, tmp_path, capsys):
    run = tmp_path / "runs" / "colours"
    arguments = ["--data", str(colour_folder), "--max_steps", "2", "--output_dir", str(run)]
    assert main(["train", "image-classification", "--model", str(tiny_vit), *arguments]) == 0, capsys.readouterr()
    card = run / "model" / "README.md"
    assert "bias_" not in card.read_text()
    for _ in range(2):  # a second probe replaces the first one's figures
        evaluate = ["evaluate", "image-classification", "--model", str(run), "--probes", "bias", "--no-speed"]
        assert main(evaluate) == 0, capsys.readouterr()
    text = card.read_text()
    assert text.count("## Bias probe") == 1 and text.count("name: bias_worst_class_gap") == 1
    assert "name: accuracy" in text  # the training's own test scores stay in the model-index
    assert "worst_class_accuracy" in text.split("## Bias probe")[1]


class RuleTranslator:
    """Stands for a translation model with a fixed habit, so the WinoMT figures can be checked by hand."""

    name = "translation"

    def __init__(self, habit):
        self.habit = habit

    def predict(self, built, examples, params, batch_size):
        return [self.habit(source) for source in examples["source"]]


def _spanish(source: str, feminine: bool) -> str:
    job = next(
        job
        for jobs in translation_gender.OCCUPATIONS.values()
        for job in jobs
        if f"The {job} " in source or f"the {job} " in source
    )
    forms = next(jobs[job] for jobs in translation_gender.OCCUPATIONS.values() if job in jobs)
    return f"{'La' if feminine else 'El'} {forms[1 if feminine else 0][0]} dijo algo."


def _always_masculine(source):
    return _spanish(source, feminine=False)


def _by_stereotype(source):
    female_jobs = translation_gender.OCCUPATIONS["female"]
    return _spanish(source, feminine=any(f" {job} " in source for job in female_jobs))


def _faithful(source):
    return _spanish(source, feminine=" she " in source or " her " in source)


@pytest.mark.parametrize(
    ("habit", "accuracy", "delta_g", "delta_s"),
    [(_always_masculine, 50.0, 100.0, 0.0), (_by_stereotype, 50.0, 0.0, 100.0), (_faithful, 100.0, 0.0, 0.0)],
)
def test_translation_gender_probe_on_rule_translators(habit, accuracy, delta_g, delta_s):
    result = translation_gender.probe(RuleTranslator(habit), None, Seq2SeqParams(), log=lambda _: None)
    assert result.metrics["gender_accuracy"] == accuracy
    assert result.metrics["delta_g"] == delta_g and result.metrics["delta_s"] == delta_s
    assert result.metrics["recognised"] == 100.0


def test_spanish_gender_is_read_from_the_occupation_noun():
    forms = translation_gender.OCCUPATIONS["female"]["nurse"]
    assert translation_gender.gender_in("La enfermera dijo que estaba cansada.", forms) == "female"
    assert translation_gender.gender_in("Los enfermeros llegaron.", forms) == "male"
    assert translation_gender.gender_in("Dijo que estaba cansada.", forms) == "unrecognised"


def test_unsupported_content_is_numbers_and_names_absent_from_the_source():
    source = "The cp command copies files; use -r for 2 directories."
    assert summary_support.unsupported("cp copies 2 directories", source) == []
    assert summary_support.unsupported("GNU cp copies 3 files", source) == ["GNU", "3"]


def test_counterfactual_copies_move_the_answer_with_the_swapped_text():
    example = {
        "id": "q1",
        "question": "What did she ask him to run?",
        "context": "The man page of man-db says: she asked her brother to run man(1) first.",
        "answers": {"text": ["her brother to run man(1) first"], "answer_start": [39]},
    }
    assert example["context"][39:].startswith("her brother")
    copy = swapped(example)
    assert copy["question"] == "What did he ask her to run?"
    assert copy["context"] == "The man page of man-db says: he asked his sister to run man(1) first."
    start = copy["answers"]["answer_start"][0]
    assert copy["context"][start : start + len(copy["answers"]["text"][0])] == "his sister to run man(1) first"


def test_augmentation_adds_copies_only_of_examples_with_something_to_swap(small_squad_file):
    task = get_task("question-answering")
    plain = task.load_examples(QAParams(data=str(small_squad_file)), "train")
    augmented = task.load_examples(QAParams(data=str(small_squad_file), counterfactual_augmentation=True), "train")
    assert len(augmented) == len(plain)  # man-page options: nothing gendered, nothing added


def test_speech_probe_scores_every_condition_with_the_task_metric(tmp_path):
    from evaluation.metrics import score
    from evaluation.probes import speech_groups
    from tests.tiny_speech import save_tiny_whisper

    task = get_task("automatic-speech-recognition")
    params = task.params_class(max_new_tokens=8)
    built = task.build(str(save_tiny_whisper(tmp_path / "whisper")), params)

    result = speech_groups.probe(task, built, params, log=lambda _: None, examples=2)

    by_condition = result.groups["wer by condition"]
    assert set(by_condition) == set(speech_groups.CONDITIONS)  # no voice is prepared in a test's home
    plain = task.load_examples(params, "test").select(range(2))
    expected = score(task, task.predict(built, plain, params, 2), plain, params)["wer"]
    assert result.metrics["original_wer"] == pytest.approx(expected)
    assert result.metrics["worst_condition_wer_gap"] == pytest.approx(max(by_condition.values()) - expected)

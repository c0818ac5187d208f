"""Output monitoring: listed offensive terms (and their symbol spellings) are flagged in inputs and outputs, a
classifier's unsure answer is called uncertain, and flagged cases are logged only when the user asks."""

import json

from apps import api
from shared.output_monitor import offensive_terms
from tasks.image_classification.task import ImageParams
from tasks.registry import get_task


def test_offensive_terms_are_found_with_their_variants_and_clean_text_passes():
    assert offensive_terms("you are a b1tch, really") == ["b1tch"]
    assert offensive_terms("Use a long listing format; the kernel module loads.") == []
    assert offensive_terms("") == []


def test_predict_flags_an_offensive_input_and_logs_only_when_asked(tiny_qa_model, tmp_path):
    log = tmp_path / "flagged.jsonl"
    context = "-a, --all\ndo not ignore entries, you bastard"
    common = {"question": "What does -a do?", "context": context, "version_2_with_negative": False}

    quiet = api.predict("question-answering", str(tiny_qa_model), **common)
    assert any("offensive term in the input 'context': bastard" in flag for flag in quiet["flags"])
    assert not log.exists()  # nothing is logged by default

    api.predict("question-answering", str(tiny_qa_model), flag_log=str(log), **common)
    record = json.loads(log.read_text().splitlines()[0])
    assert record["task"] == "question-answering" and record["inputs"]["context"] == context
    assert record["flags"] == quiet["flags"]

    clean = api.predict("question-answering", str(tiny_qa_model), question="What does -a do?", context="-a\nall")
    assert clean["flags"] == []


def test_the_classifier_says_uncertain_below_its_confidence_threshold():
    task = get_task("image-classification")
    unsure = task.low_confidence({"labels": {"coat": 0.41, "shirt": 0.38}}, ImageParams())
    assert unsure.startswith("uncertain: the top class 'coat' is only 41% likely")
    assert task.low_confidence({"labels": {"coat": 0.93}}, ImageParams()) is None
    assert task.low_confidence({"labels": {"coat": 0.93}}, ImageParams(min_confidence=0.95)) is not None

"""Fine-tuning end to end on a tiny random BERT: run folder contents, resume equivalence, LoRA."""

from __future__ import annotations

import json
import re

import pytest
import torch
import yaml
from safetensors.torch import load_file
from transformers import AutoModelForQuestionAnswering, TrainerCallback

from apps.cli import main
from conftest import bundled_subset
from evaluation.leaderboard import Leaderboard
from shared.lora import find_target_modules
from shared.task_protocol import Scorer
from shared.training import fine_tune
from tasks.registry import get_task

TASK = get_task("question-answering")


def _params(tiny_qa_model, data, **extra):
    values = dict(
        model=str(tiny_qa_model),
        data=str(data),
        max_seq_length=96,
        doc_stride=32,
        per_device_train_batch_size=4,
        per_device_eval_batch_size=8,
        max_steps=6,
        save_steps=2,
        logging_steps=1,
        eval_strategy="no",
        learning_rate=1e-3,
        seed=7,
    )
    values.update(extra)
    return TASK.params_class(**values)


class InterruptAt(TrainerCallback):
    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise KeyboardInterrupt  # what Ctrl-C does in the middle of training


@pytest.mark.parametrize(
    "questions, steps, killed_at, group_by_length",
    [(None, 6, 5, True), (3, 12, 7, True), (3, 12, 7, False)],
    ids=["epoch-1", "epoch-2-or-later", "epoch-2-or-later-random-order"],
)
def test_interrupted_training_resumes_to_the_same_result(
    questions, steps, killed_at, group_by_length, tiny_qa_model, tmp_path
):
    data = bundled_subset(tmp_path / "data", per_split=30)
    params = _params(tiny_qa_model, data, max_steps=steps, group_by_length=group_by_length, max_train_samples=questions)
    straight = fine_tune(TASK, params, None, tmp_path / "straight")

    with pytest.raises(KeyboardInterrupt):
        fine_tune(TASK, params, None, tmp_path / "interrupted", callbacks=[InterruptAt(killed_at)])
    checkpoint = tmp_path / "interrupted" / "checkpoints" / f"checkpoint-{killed_at - 1}"
    epoch = json.loads((checkpoint / "trainer_state.json").read_text())["epoch"]
    assert (epoch > 1 and epoch % 1) if steps > 6 else epoch < 1  # resumed mid-epoch, in the epoch intended
    assert not (tmp_path / "interrupted" / "model").exists()
    # kill -9 in the middle of writing a checkpoint leaves one without trainer_state.json: it must be skipped
    (tmp_path / "interrupted" / "checkpoints" / "checkpoint-99").mkdir()
    resumed = fine_tune(TASK, params, None, tmp_path / "interrupted", resume=True)

    a = load_file(straight.model_dir / "model.safetensors")
    b = load_file(resumed.model_dir / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=key)
    losses = [json.loads(line).get("loss") for line in (straight.run / "train_log.jsonl").read_text().splitlines()]
    resumed_losses = [
        json.loads(line).get("loss") for line in (resumed.run / "train_log.jsonl").read_text().splitlines()
    ]
    assert losses[-3:] == resumed_losses[-3:]


def test_train_command_writes_a_complete_run_folder_and_a_leaderboard_row(tiny_qa_model, tmp_path, capsys):
    data = bundled_subset(tmp_path / "data", per_split=24)
    run = tmp_path / "runs" / "qa-run"
    code = main(
        [
            "train",
            "question-answering",
            "--model",
            str(tiny_qa_model),
            "--data",
            str(data),
            "--max_steps",
            "4",
            "--save_steps",
            "2",
            "--per_device_train_batch_size",
            "4",
            "--max_seq_length",
            "96",
            "--doc_stride",
            "32",
            "--eval_strategy",
            "steps",
            "--eval_steps",
            "2",
            "--output_dir",
            str(run),
        ]
    )
    assert code == 0, capsys.readouterr().err
    for name in (
        "config.yaml",
        "metrics.json",
        "train_log.jsonl",
        "loss_curve.png",
        "model/model.safetensors",
        "model/tokenizer.json",
        "model/README.md",
        "data_audit.md",  # the data audit ran before training
        "data_audit.json",
    ):
        assert (run / name).is_file(), name
    assert list((run / "checkpoints").glob("checkpoint-*"))
    assert yaml.safe_load((run / "config.yaml").read_text())["max_steps"] == 4
    card = (run / "model" / "README.md").read_text()
    front = yaml.safe_load(card.split("---")[1])
    assert front["pipeline_tag"] == "question-answering" and front["base_model"] == str(tiny_qa_model)
    reported = {m["type"]: m["value"] for m in front["model-index"][0]["results"][0]["metrics"]}
    metrics = json.loads((run / "metrics.json").read_text())
    assert reported["f1"] == pytest.approx(metrics["test"]["metrics"]["f1"], abs=1e-3)
    assert {"latency_p50_ms", "throughput"} <= set(metrics["test"]["speed"])
    history = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert any("eval_f1" in entry for entry in history)  # the task metric is computed during training too
    rows = Leaderboard().rows(task="question-answering")
    assert len(rows) == 1 and rows[0]["run_id"] == str(run.resolve()) and rows[0]["split"] == "test"

    assert main(["evaluate", "question-answering", "--model", str(run), "--data", str(data), "--no-speed"]) == 0
    assert len(Leaderboard().rows()) == 2
    assert main(["leaderboard"]) == 0
    assert "qa-run" in capsys.readouterr().out


def test_lora_finds_targets_trains_adapters_and_exports_a_merged_model(tiny_qa_model, tmp_path):
    data = bundled_subset(tmp_path / "data", per_split=24)
    params = _params(tiny_qa_model, data, peft="lora", max_steps=2)
    result = fine_tune(TASK, params, None, tmp_path / "lora")
    assert 0 < result.trainable_parameters / result.total_parameters < 0.5
    adapter = json.loads((tmp_path / "lora" / "adapter" / "adapter_config.json").read_text())
    assert set(adapter["target_modules"]) == {"query", "key", "value", "dense"}
    merged = AutoModelForQuestionAnswering.from_pretrained(result.model_dir)
    assert not any("lora" in name for name, _ in merged.named_parameters())


def test_target_modules_for_an_architecture_peft_does_not_know():
    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = torch.nn.ModuleDict({"to_q": torch.nn.Linear(4, 4), "to_v": torch.nn.Linear(4, 4)})
            self.mlp = torch.nn.Linear(4, 4)

    class Unknown(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = torch.nn.ModuleList([Block(), Block()])
            self.head = torch.nn.Linear(4, 2)

    assert find_target_modules(Unknown(), ("head",), scope="attention") == ["to_q", "to_v"]
    assert find_target_modules(Unknown(), ("head",)) == ["mlp", "to_q", "to_v"]


def test_metrics_during_training_match_the_harness_on_the_same_examples(tiny_qa_model, tmp_path):
    """Evaluation inside Trainer must score predictions against their own examples (transformers 5 reorders
    evaluation batches by length when training is length-grouped)."""
    from evaluation.harness import score

    data = bundled_subset(tmp_path / "data", per_split=40)
    params = _params(
        tiny_qa_model,
        data,
        max_steps=4,
        eval_strategy="steps",
        eval_steps=4,
        group_by_length=True,
        max_seq_length=64,
        doc_stride=16,
    )
    scorer = Scorer(lambda answers, examples: score(TASK, answers, examples, params), lambda key: True)
    result = fine_tune(TASK, params, scorer, tmp_path / "run")
    logged = [json.loads(line) for line in (result.run / "train_log.jsonl").read_text().splitlines()]
    during = [entry for entry in logged if "eval_f1" in entry][-1]
    built = TASK.build(str(result.model_dir), params)
    examples = TASK.load_examples(params, "eval")
    after = score(TASK, TASK.predict(built, examples, params, 8), examples, params)
    assert during["eval_f1"] == pytest.approx(after["f1"], abs=1e-6)
    assert during["eval_exact"] == pytest.approx(after["exact"], abs=1e-6)


def test_resume_from_the_command_line_continues_the_newest_run(tiny_qa_model, tmp_path, capsys):
    data = bundled_subset(tmp_path / "data", per_split=24)
    common = [
        "--model",
        str(tiny_qa_model),
        "--data",
        str(data),
        "--max_steps",
        "4",
        "--save_steps",
        "2",
        "--max_seq_length",
        "64",
        "--doc_stride",
        "16",
        "--eval_strategy",
        "no",
    ]
    assert main(["train", "question-answering", *common]) == 0
    assert main(["train", "question-answering", "--resume"]) == 0
    out = capsys.readouterr().out
    assert "resuming" in out and "checkpoint-4" in out
    assert len(Leaderboard().rows()) == 2


def test_offline_hub_ids_fail_with_a_clear_message(capsys):
    assert main(["train", "question-answering", "--model", "someone/not-cached-anywhere", "--max_steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "could not load model 'someone/not-cached-anywhere'" in err and "shelf entry" in err
    assert main(["evaluate", "question-answering", "--model", "minilm-l6", "--data", "someone/no-such-dataset"]) == 2
    assert "could not read data 'someone/no-such-dataset'" in capsys.readouterr().err


def test_quickstart_shows_every_registered_task_and_ends_with_the_leaderboard(
    tiny_qa_model, tiny_vit, tiny_bert2whisper, monkeypatch, capsys, tmp_path
):
    from shared.task_protocol import Quickstart
    from tasks.image_classification.task import ImageClassificationTask
    from tasks.question_answering.task import QuestionAnsweringTask
    from tasks.speech_recognition.task import SpeechRecognitionTask
    from tasks.text_to_speech.task import TextToSpeechTask
    from tasks.token_classification.task import TokenClassificationTask
    from tasks.translation.task import TranslationTask
    from tests.tiny_speech import save_tiny_speecht5, save_tiny_whisper

    two_steps = Quickstart(overrides={"max_steps": 2}, minutes=1.0, full_run="omnitune train ... (the full run)")
    monkeypatch.setattr(ImageClassificationTask, "default_model", str(tiny_vit))
    monkeypatch.setattr(
        ImageClassificationTask,
        "bundled_data_defaults",
        {"max_train_samples": 40, "max_eval_samples": 20, "probe_epochs": 5, "image_size": 32},
    )
    for task in (QuestionAnsweringTask, TokenClassificationTask):
        monkeypatch.setattr(task, "default_model", str(tiny_qa_model))
        monkeypatch.setattr(task, "quickstart", two_steps)
    monkeypatch.setattr(TranslationTask, "default_model", str(tiny_bert2whisper))
    monkeypatch.setattr(TranslationTask, "quickstart", two_steps)
    monkeypatch.setattr(
        TranslationTask, "bundled_data_defaults", {"max_train_samples": 32, "max_eval_samples": 8, "max_new_tokens": 2}
    )
    monkeypatch.setattr(
        QuestionAnsweringTask,
        "bundled_data_defaults",
        {"max_train_samples": 32, "max_eval_samples": 16, "max_seq_length": 64, "doc_stride": 16},
    )
    monkeypatch.setattr(
        TokenClassificationTask, "bundled_data_defaults", {"max_train_samples": 32, "max_eval_samples": 16}
    )
    whisper = save_tiny_whisper(tmp_path / "whisper")
    monkeypatch.setattr(SpeechRecognitionTask, "default_model", str(whisper))
    monkeypatch.setattr(SpeechRecognitionTask, "bundled_data_defaults", {"max_new_tokens": 3})
    monkeypatch.setattr(TextToSpeechTask, "default_model", str(save_tiny_speecht5(tmp_path / "speecht5")))
    monkeypatch.setattr(TextToSpeechTask, "bundled_data_defaults", {"judge": str(whisper)})
    assert main(["quickstart"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"7 tasks .* About \d+ minutes on 2 CPU cores", out)
    trained = ("question-answering", "token-classification", "image-classification", "translation")
    evaluated = ("automatic-speech-recognition", "text-to-speech")
    assert "omnitune leaderboard (6 evaluations)" in out
    assert all(f"omnitune demo {task} --model" in out for task in trained + evaluated)
    # nothing in minutes beats summarization's baseline: said, not recorded
    assert re.search(r"summarization: skipped: .*baseline.*\n  full run: omnitune train summarization", out)
    assert "omnitune demo summarization" not in out
    assert "automatic-speech-recognition: evaluating" in out and "zero-shot" in out
    assert "text-to-speech: evaluating" in out and "no offline weights to fine-tune" in out
    # each trained task's score is printed beside its trivial baseline, with the verdict
    assert out.count("(beaten)") + out.count("(NOT beaten") == len(trained)


def test_quickstart_says_when_a_model_does_not_beat_its_baseline():
    from apps.quickstart import Shown, _verdict

    assert _verdict(Shown("qa", "trained", metric="f1", score=80, baseline="b", baseline_score=40)).endswith("(beaten)")
    assert "NOT beaten" in _verdict(Shown("qa", "trained", metric="f1", score=40, baseline="b", baseline_score=40))
    assert _verdict(Shown("asr", "evaluated", metric="wer", score=0.04, baseline="b", baseline_score=0.5)).endswith(
        "(beaten)"
    )
    assert "NOT beaten" in _verdict(
        Shown("asr", "evaluated", metric="wer", score=0.6, baseline="b", baseline_score=0.5)
    )


def test_a_warm_started_run_says_in_its_model_card_where_its_weights_came_from(tiny_bert2bert, tmp_path, capsys):
    _, folder, _ = tiny_bert2bert
    run = tmp_path / "summarizer"
    arguments = ["train", "summarization", "--model", str(folder), "--max_train_samples", "16", "--max_steps", "2"]
    arguments += ["--max_eval_samples", "4", "--num_beams", "1", "--max_new_tokens", "3", "--max_source_length", "64"]
    arguments += ["--output_dir", str(run)]
    assert main(arguments) == 0, capsys.readouterr().err
    card = (run / "model" / "README.md").read_text()
    assert "### Warm start (bert2bert)" in card and "crossattention" in card

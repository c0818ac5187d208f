"""Parameters from YAML and the command line, with Trainer's names; unknown keys suggest the closest one;
the CLI reports user errors without a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from apps.cli import main, parse_overrides
from shared.config import load_params
from shared.errors import OmnituneError
from tasks.question_answering.task import QAParams


def test_yaml_then_command_line_overrides(tmp_path):
    config = tmp_path / "qa.yaml"
    config.write_text("learning_rate: 3.0e-5\nnum_train_epochs: 2\ndoc_stride: 64\nreport_to: [tensorboard]\n")
    params = load_params(QAParams, config, {"num_train_epochs": 3, "version_2_with_negative": False})
    assert params.learning_rate == 3e-5 and params.num_train_epochs == 3 and params.doc_stride == 64
    assert params.version_2_with_negative is False and params.report_to == ["tensorboard"]


@pytest.mark.parametrize(
    "key, suggestion",
    [
        ("learning_rat", "learning_rate"),
        ("doc_strid", "doc_stride"),
        ("warmup_ration", "warmup_ratio"),
        ("num_epochs", "num_train_epochs"),
    ],
)
def test_unknown_key_suggests_the_closest_valid_one(key, suggestion):
    with pytest.raises(OmnituneError) as error:
        load_params(QAParams, None, {key: 1})
    assert f"unknown option '{key}'" in str(error.value) and f"did you mean '{suggestion}'" in str(error.value)


def test_unknown_key_in_yaml_is_an_error_too(tmp_path):
    config = tmp_path / "qa.yaml"
    config.write_text("max_seq_lenght: 256\n")
    with pytest.raises(OmnituneError, match="did you mean 'max_seq_length'"):
        load_params(QAParams, config)


def test_ill_typed_value_names_the_option():
    with pytest.raises(OmnituneError, match="'per_device_train_batch_size'"):
        load_params(QAParams, None, {"per_device_train_batch_size": "lots"})


def test_override_parsing_of_scalars_flags_lists_and_mappings():
    values = parse_overrides(
        [
            "--learning-rate",
            "3e-5",
            "--version_2_with_negative=false",
            "--report_to",
            "tensorboard,wandb",
            "--column_mapping",
            "question=q,context=c",
            "--allow_pickle",
            "--max_eval_samples",
            "none",
            "--question",
            "1e5",
        ],
        QAParams,
    )
    assert values == {
        "learning_rate": 3e-5,
        "version_2_with_negative": False,
        "report_to": ["tensorboard", "wandb"],
        "column_mapping": {"question": "q", "context": "c"},
        "allow_pickle": True,
        "max_eval_samples": None,
        "question": "1e5",
    }  # a task input stays text
    # the JSON form the error hints print is accepted too
    assert parse_overrides(["--column_mapping", '{"question": "q"}'], QAParams) == {"column_mapping": {"question": "q"}}


@pytest.mark.parametrize(
    "option, value, named",
    [
        ("learning_rate", "fast", "as float"),
        ("column_mapping", "garbage", "key=value pairs"),
        ("eval_strategy", "sometimes", "Literal"),
        ("per_device_train_batch_size", "3.5", "as int"),
    ],
)
def test_an_unreadable_command_line_value_names_the_option_and_the_form(option, value, named, capsys):
    with pytest.raises(OmnituneError, match=f"option '{option}': cannot read .*{named}"):
        parse_overrides([f"--{option}", value], QAParams)
    assert main(["train", "question-answering", f"--{option}", value]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_cli_reports_user_errors_without_a_traceback(capsys):
    assert main(["train", "question-answering", "--learning_rat", "1e-4"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'learning_rate'" in err and "Traceback" not in err
    assert main(["train", "no-such-task"]) == 2
    assert "choose one of: question-answering" in capsys.readouterr().err


def test_console_script_is_installed_and_lists_the_shelf():
    result = subprocess.run(
        [sys.executable, "-m", "apps.cli", "models", "list"], capture_output=True, text=True, check=True
    )
    assert "minilm-l6" in result.stdout and "Apache-2.0" in result.stdout and "not prepared" in result.stdout


def test_predict_prints_the_span_with_offsets(tiny_qa_model, capsys):
    import json

    context = "-a, --all\ndo not ignore entries starting with a dot"
    assert (
        main(
            [
                "predict",
                "question-answering",
                "--model",
                str(tiny_qa_model),
                "--question",
                "What does -a do?",
                "--context",
                context,
                "--version_2_with_negative",
                "false",
            ]
        )
        == 0
    )
    answer = json.loads(capsys.readouterr().out)
    assert answer["text"] and context[answer["start"] : answer["end"]] == answer["text"]
    assert main(["predict", "question-answering", "--model", str(tiny_qa_model), "--question", "x"]) == 2
    assert "needs --context" in capsys.readouterr().err


def _wav(path, seconds: float, level: float):
    import numpy as np
    import soundfile

    soundfile.write(path, level * np.sin(np.linspace(0, 2000 * seconds, int(16_000 * seconds))), 16_000)
    return str(path)


def _text_file(path):
    path.write_text("not a picture")
    return str(path)


@pytest.mark.parametrize(
    "task, inputs, message",
    [
        ("question-answering", {"question": "q", "context": "x" * 100_001}, "the limit is 100,000"),
        ("question-answering", {"question": "q", "context": "   "}, "The context is empty"),
        ("summarization", {"text": "x" * 20_001}, "the limit is 20,000"),
        ("text-to-speech", {"text": "x" * 5_001}, "the limit is 5,000"),
        ("token-classification", {"text": " "}, "The text is empty"),
        (
            "automatic-speech-recognition",
            {"audio": lambda tmp: _wav(tmp / "silence.wav", 2.0, 0.0)},
            "The clip is silent",
        ),
        (
            "automatic-speech-recognition",
            {"audio": lambda tmp: _wav(tmp / "short.wav", 0.01, 0.5)},
            "The clip is too short",
        ),
        ("image-classification", {"image": lambda tmp: _text_file(tmp / "photo.png")}, "not a readable image"),
    ],
)
def test_predict_checks_input_as_the_demo_does_before_loading_any_model(task, inputs, message, tmp_path, capsys):
    arguments = ["predict", task, "--model", str(tmp_path / "no-model-needed-yet")]
    for name, value in inputs.items():
        arguments += [f"--{name}", value(tmp_path) if callable(value) else value]
    assert main(arguments) == 2
    assert message in capsys.readouterr().err


def test_pickled_weights_are_refused_unless_allowed(tmp_path, tiny_qa_model):
    import shutil

    from shared.pretrained import resolve

    folder = tmp_path / "pickled"
    shutil.copytree(tiny_qa_model, folder)
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(OmnituneError, match="pickled"):
        resolve(str(folder))
    assert resolve(str(folder), allow_pickle=True) == str(folder)


def test_missing_model_folder_is_a_clear_error(tmp_path):
    from shared.pretrained import resolve

    with pytest.raises(OmnituneError, match="does not exist"):
        resolve(str(tmp_path / "nothing-here"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(OmnituneError, match="holds no model"):
        resolve(str(tmp_path / "empty"))


def test_yaml_no_is_the_strategy_not_false(tmp_path):
    config = tmp_path / "qa.yaml"
    config.write_text("eval_strategy: no\n")
    assert load_params(QAParams, config).eval_strategy == "no"
    assert parse_overrides(["--eval_strategy", "no", "--model", "1.0"], QAParams) == {
        "eval_strategy": "no",
        "model": "1.0",
    }


@pytest.mark.parametrize(
    "option, value, named",
    [
        ("learning_rate", "-1e-4", "greater than 0"),
        ("per_device_train_batch_size", "0", "greater than or equal to 1"),
        ("max_seq_length", "-5", "greater than or equal to 16"),
        ("num_train_epochs", "-1", "greater than 0"),
        ("max_steps", "0", "0 steps would record the untrained model"),
    ],
)
def test_impossible_values_are_refused_before_a_run_folder_exists(option, value, named, tmp_path, capsys):
    assert main(["train", "question-answering", f"--{option}", value]) == 2
    err = capsys.readouterr().err
    assert f"option '{option}'" in err and named in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()  # OMNITUNE_RUNS (conftest): nothing was created


@pytest.mark.parametrize(
    "content, named",
    [
        (b"learning_rate: [1e-4\n", "not plain YAML"),
        (b"\xff\xfe\x00binary", "not plain YAML"),
        (b"model: !!python/object/apply:os.system ['echo owned']\n", "not plain YAML"),
    ],
)
def test_a_config_file_that_is_not_plain_yaml_is_a_clear_error(content, named, tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_bytes(content)
    assert main(["train", "question-answering", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err


def test_an_unexpected_error_is_one_line_and_its_traceback_is_kept(monkeypatch, capsys, tmp_path):
    import apps.api

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(apps.api, "predict", broken)  # stands for any bug past the input checks
    assert main(["predict", "question-answering", "--model", "x", "--question", "q", "--context", "c"]) == 1
    err = capsys.readouterr().err
    assert "unexpected error: ZeroDivisionError: a bug" in err and "Traceback" not in err
    report = Path(err.split("traceback is in ")[1].split(";")[0])
    assert report.is_file() and "ZeroDivisionError" in report.read_text() and str(tmp_path) in str(report)


def test_task_help_lists_the_tasks_own_options_with_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["train", "token-classification", "--help"])
    out = capsys.readouterr().out
    assert "--max_seq_length (default: 128)" in out and "--learning_rate (default: 0.0001)" in out
    assert "predict inputs: --text" in out and "usage:" in out

"""omnitune push: what it would upload (the model folder without pickles or hidden files), and the one-line
failures that come before anything is read when there is no token or no Hub. The real upload runs only where a
token and a scratch repo are given (OMNITUNE_PUSH_TEST_REPO); it is skipped everywhere else."""

import os

import pytest

from apps.cli import main
from apps.push import files_to_push, push


@pytest.fixture
def run_folder(tmp_path):
    model = tmp_path / "runs" / "qa" / "model"
    model.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "README.md", "pytorch_model.bin", ".cache"):
        (model / name).write_text("{}")
    (tmp_path / "runs" / "qa" / "config.yaml").write_text("task: question-answering\n")
    return model.parent


def test_the_upload_holds_the_model_folder_without_pickles(run_folder, capsys):
    assert files_to_push(run_folder / "model") == ["README.md", "config.json", "model.safetensors", "tokenizer.json"]
    assert main(["push", str(run_folder), "--repo_id", "me/qa", "--dry_run"]) == 0
    printed = capsys.readouterr().out
    assert "model.safetensors" in printed and "pytorch_model.bin" not in printed


def test_without_a_token_push_fails_in_one_line(run_folder, monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # no stored login either
    assert main(["push", str(run_folder), "--repo_id", "me/qa"]) == 2
    assert "no Hugging Face token" in capsys.readouterr().err


def test_offline_push_fails_before_reaching_out(run_folder, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(Exception, match="switched off"):
        push(run_folder, "me/qa", token="hf_not_a_real_token")


def test_a_malformed_repo_id_is_refused(run_folder):
    with pytest.raises(Exception, match="not a Hub repo id"):
        push(run_folder, "not a repo id!", token="hf_not_a_real_token")


@pytest.mark.skipif(
    not (os.environ.get("HF_TOKEN") and os.environ.get("OMNITUNE_PUSH_TEST_REPO")),
    reason="needs HF_TOKEN and OMNITUNE_PUSH_TEST_REPO (a scratch repo) and network",
)
def test_real_upload(run_folder):
    assert os.environ["OMNITUNE_PUSH_TEST_REPO"] in push(
        run_folder, os.environ["OMNITUNE_PUSH_TEST_REPO"], private=True
    )

"""Run folders never lose work: each run gets its own folder, and a folder that holds a run is never silently
replaced."""

from __future__ import annotations

import pytest

from apps.cli import main
from shared import run_dir
from shared.errors import OmnituneError


def test_runs_started_in_the_same_second_get_their_own_folders(monkeypatch):
    monkeypatch.setattr(run_dir.time, "strftime", lambda _: "20261202-120000")
    folders = [run_dir.new_run_dir("question-answering", "minilm-l6") for _ in range(3)]
    assert len(set(folders)) == 3 and all(folder.is_dir() for folder in folders)
    assert [folder.name for folder in folders] == [
        "20261202-120000-minilm-l6",
        "20261202-120000-minilm-l6-1",
        "20261202-120000-minilm-l6-2",
    ]


def test_an_existing_run_given_as_output_dir_is_refused_before_anything_is_touched(tmp_path, capsys):
    run = tmp_path / "my-run"
    (run / "model").mkdir(parents=True)
    (run / "config.yaml").write_text("learning_rate: 0.001\n")
    code = main(["train", "question-answering", "--max_steps", "1", "--output_dir", str(run)])
    assert code != 0
    error = capsys.readouterr().err
    assert "already holds files" in error and "--resume" in error and "--overwrite_output_dir" in error
    assert (run / "config.yaml").read_text() == "learning_rate: 0.001\n"


def test_output_dir_checks(tmp_path):
    assert run_dir.claim_output_dir(tmp_path / "new" / "run").is_dir()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "metrics.json").write_text("{}")
    assert run_dir.claim_output_dir(tmp_path / "full", overwrite=True) == tmp_path / "full"
    (tmp_path / "file").write_text("x")
    with pytest.raises(OmnituneError, match="is a file"):
        run_dir.claim_output_dir(tmp_path / "file")
    # compressing a run into itself would replace the model it reads, whatever the overwrite flag says
    (tmp_path / "full" / "config.yaml").write_text("{}")
    with pytest.raises(OmnituneError, match="is the run being read"):
        run_dir.claim_output_dir(tmp_path / "full", overwrite=True, source=tmp_path / "full" / "model")


def test_an_output_dir_that_cannot_be_created_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OmnituneError, match="cannot write the run folder .*file/run"):
        run_dir.claim_output_dir(tmp_path / "file" / "run")


def test_demo_scratch_files_stay_bounded(monkeypatch):
    from shared import scratch

    monkeypatch.setattr(scratch, "KEEP", 3)
    made = [scratch.scratch_file(".wav") for _ in range(5)] + [scratch.scratch_folder("attention-")]
    assert sum(p.exists() for p in made) == 3 and made[-1].is_dir() and made[-2].is_file()
    assert len(list(made[-1].parent.iterdir())) == 3

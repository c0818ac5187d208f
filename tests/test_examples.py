"""The scripts under examples/ run as documented (on a tiny model and a small data set)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import bundled_subset
from evaluation.leaderboard import Leaderboard

ROOT = Path(__file__).resolve().parents[1]


def test_the_python_api_example_fine_tunes_answers_and_compresses(tiny_qa_model, tmp_path):
    db = f"sqlite:///{tmp_path / 'board.db'}"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "fine_tune_question_answering.py"),
            "--model",
            str(tiny_qa_model),
            "--data",
            str(bundled_subset(tmp_path / "data", 16)),
            "--max_steps",
            "2",
            "--db",
            db,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "test F1" in done.stdout and "answer: " in done.stdout and "dynamic int8: test F1" in done.stdout
    rows = Leaderboard(db).rows()
    assert len(rows) == 2 and {Path(r["run_id"]).parent.name for r in rows} == {"question-answering"}
    trained = next(r for r in rows if "int8" not in r["model"])
    assert trained["metrics"]["f1"] >= 0 and Path(trained["run_id"], "adapter").is_dir()  # LoRA, as asked

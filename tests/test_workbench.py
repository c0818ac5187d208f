"""`omnitune app`: its training jobs (real `omnitune train` processes on a tiny model), the models it lists,
renames and deletes, its serving rules, and its prediction API as gradio_client users call it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from gradio_client import Client

from apps.workbench import catalogue
from apps.workbench.app import auth_for, build_app
from apps.workbench.jobs import CANCELLED, FINISHED, QUEUED, RUNNING, JobQueue
from apps.workbench.train_tab import BUNDLED, FULL, LORA, PATH, PROBE, job_options
from evaluation.leaderboard import Leaderboard
from shared.errors import OmnituneError
from tests.conftest import bundled_subset

QUICK = {"max_seq_length": 96, "doc_stride": 32, "per_device_train_batch_size": 4, "eval_strategy": "no"}


def wait_for(queue: JobQueue, job_id: str, states: tuple[str, ...], seconds: float = 240) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        queue.tick()
        state = _refreshed(queue, job_id)
        if state in states:
            return state
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} still {queue.get(job_id).state}; log:\n{queue.log_tail(queue.get(job_id))}")


def _refreshed(queue: JobQueue, job_id: str) -> str:
    return next(job.state for job in queue.jobs() if job.id == job_id)


@pytest.fixture
def qa_options(tiny_qa_model, tmp_path) -> dict:
    data = bundled_subset(tmp_path / "data", per_split=24)
    return {"model": str(tiny_qa_model), "data": str(data), **QUICK}


def test_a_job_trains_in_its_own_process_and_its_run_reaches_the_leaderboard(qa_options, tmp_path):
    queue = JobQueue(tmp_path / "jobs")
    first = queue.submit("question-answering", {**qa_options, "max_steps": 2})
    second = queue.submit("question-answering", {**qa_options, "max_steps": 2})
    assert queue.tick().id == first.id and queue.tick() is None  # one at a time: the second waits
    assert queue.get(second.id).state == QUEUED
    assert wait_for(queue, first.id, (FINISHED,)) == FINISHED
    assert "step" in queue.log_tail(queue.get(first.id)) or queue.progress(queue.get(first.id))
    run = Path(queue.get(first.id).run)
    assert (run / "model" / "model.safetensors").is_file()
    rows = Leaderboard().rows(task="question-answering")
    assert [row["run_id"] for row in rows] == [str(run.resolve())]
    # a new server (a restart) reads the same jobs back from disk, and starts the waiting one
    restarted = JobQueue(tmp_path / "jobs")
    assert {job.id: job.state for job in restarted.jobs()}[first.id] == FINISHED
    assert wait_for(restarted, second.id, (FINISHED,)) == FINISHED
    assert catalogue.models_for("question-answering")[:2] == [
        queue.get(second.id).run,
        queue.get(first.id).run,
    ]


def test_cancel_keeps_the_checkpoints_and_resume_finishes_the_run(qa_options, tmp_path):
    queue = JobQueue(tmp_path / "jobs")
    job = queue.submit("question-answering", {**qa_options, "max_steps": 400, "save_steps": 2})
    queue.tick()
    run = Path(job.run)
    deadline = time.monotonic() + 240
    while not list((run / "checkpoints").glob("checkpoint-*/trainer_state.json")):
        assert time.monotonic() < deadline, queue.log_tail(queue.get(job.id))
        assert _refreshed(queue, job.id) == RUNNING, queue.log_tail(queue.get(job.id))
        time.sleep(0.5)
    live = [line for line in (run / "train_log.jsonl").read_text().splitlines() if line]
    queue.cancel(job.id)
    assert wait_for(queue, job.id, (CANCELLED,)) == CANCELLED
    cancelled = queue.get(job.id)
    assert cancelled.resumable and "interrupted" in queue.log_tail(cancelled)
    assert live or (run / "train_log.jsonl").is_file()  # the loss curve is written as the run trains
    resumed = queue.resume(job.id)
    assert resumed.argv == ["train", "question-answering", "--resume", str(run)]
    with pytest.raises(OmnituneError, match="cannot be resumed"):
        queue.resume(resumed.id)  # queued, not stopped
    queue.cancel(resumed.id)  # a queued job is cancelled without ever starting
    assert queue.get(resumed.id).state == CANCELLED and queue.get(resumed.id).pid is None


def test_job_options_from_the_train_form(tmp_path):
    upload = tmp_path / "mine.jsonl"
    upload.write_text("{}\n")
    form = dict(max_steps=20, epochs=None, samples=0, learning_rate=1e-4, batch_size=8)
    options = job_options("question-answering", PATH, None, "squad_v2", "", LORA, *form.values())
    assert options == {
        "model": None,
        "data": "squad_v2",
        "peft": "lora",
        "max_steps": 20,
        "learning_rate": 1e-4,
        "per_device_train_batch_size": 8,
    }
    kept = job_options("image-classification", "upload a file", str(upload), "", "dinov2-small", PROBE, *form.values())
    assert kept["mode"] == "linear-probe" and Path(kept["data"]).read_text() == "{}\n"
    assert Path(kept["data"]) != upload  # a copy that outlives Gradio's upload cache
    assert job_options("image-classification", BUNDLED, None, "", "", FULL, *form.values())["mode"] == "finetune"
    with pytest.raises(OmnituneError, match="linear probe is offered for image classification"):
        job_options("question-answering", BUNDLED, None, "", "", PROBE, *form.values())
    with pytest.raises(OmnituneError, match="No file was uploaded"):
        job_options("question-answering", "upload a file", None, "", "", FULL, *form.values())


def test_serving_beyond_this_machine_needs_a_password_or_saying_it_needs_none():
    assert auth_for("127.0.0.1", None, False) is None
    assert auth_for("0.0.0.0", "ana:long-passphrase", False) == ("ana", "long-passphrase")
    assert auth_for("0.0.0.0", None, True) is None
    with pytest.raises(OmnituneError, match="--auth user:password, or --no_auth"):
        auth_for("0.0.0.0", None, False)
    with pytest.raises(OmnituneError, match="user:password"):
        auth_for("127.0.0.1", "ana", False)


def test_a_run_is_renamed_and_deleted_with_its_leaderboard_rows(tmp_path, monkeypatch):
    runs = tmp_path / "runs" / "question-answering"
    run = runs / "20261201-120000-tiny"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("model: tiny\n")
    board = Leaderboard()
    fields = dict(task="question-answering", dataset="d", split="test", primary_metric="f1", metrics={})
    board.record(**fields, model=str(run.resolve()), run_id=str(run.resolve()), score=50.0)
    board.record(**fields, model="elsewhere", run_id=None, score=40.0)

    with pytest.raises(OmnituneError, match="not a usable run name"):
        catalogue.rename_run(run, "../escape", board)
    renamed = catalogue.rename_run(run, "qa-best", board)
    assert renamed.name == "qa-best" and not run.exists()
    assert {row["model"] for row in board.rows()} == {str(renamed.resolve()), "elsewhere"}

    with pytest.raises(OmnituneError, match="type the run's name"):
        catalogue.delete_run(renamed, "yes", board)
    with pytest.raises(OmnituneError, match="not a run folder under"):
        catalogue.delete_run(tmp_path, tmp_path.name, board)
    assert catalogue.delete_run(renamed, "qa-best", board) == 1
    assert not renamed.exists() and [row["model"] for row in board.rows()] == ["elsewhere"]


def test_the_app_answers_and_compares_through_its_api(tiny_qa_model, tmp_path, serve):
    app = serve(build_app(Leaderboard(), JobQueue(tmp_path / "jobs")))
    client = Client(app.local_url, verbose=False)
    context = "-l\nuse a long listing format\n\n-a\ndo not ignore entries starting with ."
    model = str(tiny_qa_model)
    first, second = client.predict(
        "question-answering", model, model, "What does -l do?", context, "", None, None, api_name="/compare"
    )
    assert first == second and first["text"] in context  # the same model gives the same answer, on both sides
    only, nothing = client.predict(
        "question-answering", model, "", "What does -l do?", "", "", None, None, api_name="/compare"
    )
    assert only == {"error": "question-answering needs context. Give question, context."}
    assert nothing is None


def test_progress_is_the_training_loops_bar_not_tokenising_or_evaluating(tmp_path):
    queue = JobQueue(tmp_path / "jobs")
    job = queue.submit("question-answering", {"max_steps": 2})
    log = "tokenising: 100%|████| 4000/4000 [00:01<00:00]\n  5%|▌    | 15/275 [00:26<06:58]\r  6%|▌  | 16/275 ["
    (queue.folder / job.id / "log.txt").write_text(log + "\nevaluating:  50%|██ | 5/10 [00:01<00:01]\n")
    assert queue.progress(job) == (16, 275)
    assert queue.log_tail(job).splitlines()[-2:] == ["  6%|▌  | 16/275 [", "evaluating:  50%|██ | 5/10 [00:01<00:01]"]

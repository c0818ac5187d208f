"""The leaderboard database: concurrent writers lose no row; filters and sorting work; the app serves it."""

from __future__ import annotations

import multiprocessing

import pytest

from evaluation.leaderboard import Leaderboard

WRITERS, ROWS_EACH = 6, 25


def _write_rows(url: str, writer: int) -> None:
    board = Leaderboard(url)
    for index in range(ROWS_EACH):
        board.record(
            task="question-answering",
            model=f"m{writer}",
            dataset="d",
            split="test",
            primary_metric="f1",
            score=float(writer * 100 + index),
            metrics={"f1": float(index)},
        )
    board.dispose()


def test_concurrent_writer_processes_lose_no_row(tmp_path):
    url = f"sqlite:///{tmp_path / 'board.db'}"
    Leaderboard(url).dispose()  # create the schema once, as the first `omnitune` call would
    context = multiprocessing.get_context("fork")  # separate processes, no re-import
    workers = [context.Process(target=_write_rows, args=(url, w)) for w in range(WRITERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    rows = Leaderboard(url).rows()
    assert len(rows) == WRITERS * ROWS_EACH
    assert len({(r["model"], r["metrics"]["f1"]) for r in rows}) == WRITERS * ROWS_EACH


def test_filter_and_sort(tmp_path):
    board = Leaderboard(f"sqlite:///{tmp_path / 'b.db'}")
    board.record(
        task="question-answering",
        model="a",
        dataset="x",
        split="test",
        primary_metric="f1",
        score=50.0,
        metrics={},
        size_mb=10.0,
    )
    board.record(
        task="question-answering",
        model="b",
        dataset="y",
        split="test",
        primary_metric="f1",
        score=70.0,
        metrics={},
        size_mb=5.0,
    )
    board.record(
        task="translation", model="c", dataset="x", split="test", primary_metric="bleu", score=20.0, metrics={}
    )
    assert [r["model"] for r in board.rows()] == ["b", "a", "c"]
    assert [r["model"] for r in board.rows(task="question-answering", sort_by="size_mb", descending=False)] == [
        "b",
        "a",
    ]
    assert [r["model"] for r in board.rows(dataset="x")] == ["a", "c"]
    assert [r["model"] for r in board.rows(sort_by="not-a-column")] == ["b", "a", "c"]
    for model, wer in (("tiny", 0.05), ("base", 0.04)):  # an error rate: best first means lowest first
        board.record(
            task="automatic-speech-recognition",
            model=model,
            dataset="x",
            split="test",
            primary_metric="wer",
            score=wer,
            metrics={},
        )
    assert [r["model"] for r in board.rows(task="automatic-speech-recognition")] == ["base", "tiny"]
    assert [r["model"] for r in board.rows(task="automatic-speech-recognition", descending=False)] == ["tiny", "base"]


def test_sqlite_runs_in_wal_mode(tmp_path):
    board = Leaderboard(f"sqlite:///{tmp_path / 'w.db'}")
    with board.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_pareto_front_keeps_the_models_nothing_beats_on_both_speed_and_score():
    from shared.plots import pareto_figure, pareto_front

    # (latency ms, score): c is slower and worse than b; d is fastest; a is best
    points = [(100.0, 92.0), (40.0, 91.8), (60.0, 90.0), (20.0, 80.0)]
    assert pareto_front(points) == [3, 1, 0]
    rows = [
        {"model": name, "latency_p50_ms": x, "score": y, "size_mb": 90.0} for name, (x, y) in zip("abcd", points)
    ] + [{"model": "unmeasured", "latency_p50_ms": None, "score": 1.0}]
    figure = pareto_figure(rows, "f1")
    axis = figure.axes[0]
    assert axis.get_xscale() == "log" and axis.get_ylabel() == "f1"
    assert [text.get_text() for text in axis.texts] == ["a", "b", "c", "d"]  # the unmeasured row is left out
    # an error rate: lower is better, so the front keeps the fastest and the lowest
    assert pareto_front([(100.0, 0.04), (40.0, 0.05), (60.0, 0.09), (20.0, 0.20)], higher_is_better=False) == [3, 1, 0]
    assert (
        "lower is better"
        in pareto_figure([{**r, "primary_metric": "wer"} for r in rows[:4]], "wer", better_up=False)
        .axes[0]
        .get_ylabel()
    )


def test_scoring_a_run_on_another_dataset_keeps_its_own_test_score(tmp_path):
    import json

    from evaluation.harness import Report, record
    from tasks.registry import get_task

    task = get_task("question-answering")
    run = tmp_path / "run"
    run.mkdir()
    board = Leaderboard(f"sqlite:///{tmp_path / 'b.db'}")

    def report(dataset, f1):
        return Report(
            task=task.name,
            model=str(run),
            dataset=dataset,
            split="test",
            examples=10,
            metrics={"f1": f1},
            seconds=1.0,
            examples_per_second=10.0,
            size_mb=1.0,
            parameters=1,
            speed=None,
        )

    record(report("bundled", 92.0), task, base_model=None, run=run, board=board)
    record(report("/data/long-contexts", 75.0), task, base_model=None, run=run, board=board)
    record(report("bundled", 92.5), task, base_model=None, run=run, board=board)  # re-scored: replaced
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["metrics"]["f1"] == 92.5
    assert metrics["test@/data/long-contexts"]["metrics"]["f1"] == 75.0


def test_db_takes_a_plain_file_path_and_refuses_nonsense_with_the_fix(tmp_path, monkeypatch):
    from shared.errors import OmnituneError

    monkeypatch.chdir(tmp_path)
    board = Leaderboard("results/board.db")  # what users type after --db
    assert board.url == f"sqlite:///{tmp_path / 'results' / 'board.db'}"
    board.record(
        task="image-classification",
        model="m",
        dataset="d",
        split="test",
        primary_metric="accuracy",
        score=90.0,
        metrics={},
    )
    assert [row["model"] for row in Leaderboard(str(tmp_path / "results" / "board.db")).rows()] == ["m"]
    with pytest.raises(OmnituneError, match="not a database URL") as error:
        Leaderboard("nonsense://")
    assert "SQLite file path" in error.value.fix


def _first_use(url: str, writer: int, start) -> None:
    start.wait()  # every process opens the new database at the same moment
    _write_rows(url, writer)


def test_many_processes_opening_a_new_database_at_once_lose_no_row(tmp_path):
    """Each process creates the schema it finds missing; the ones that lose that race must carry on writing."""
    url = f"sqlite:///{tmp_path / 'new.db'}"
    context = multiprocessing.get_context("fork")  # separate processes, no re-import
    start = context.Barrier(8)
    workers = [context.Process(target=_first_use, args=(url, w, start)) for w in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=180)
    assert [worker.exitcode for worker in workers] == [0] * 8
    assert len(Leaderboard(url).rows()) == 8 * ROWS_EACH


def test_a_database_from_an_older_omnitune_gains_the_new_columns(tmp_path):
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as connection:  # the table before base_model, parameters and run_id existed
        connection.execute(
            "CREATE TABLE evaluations (id INTEGER PRIMARY KEY, task VARCHAR(64), model VARCHAR(512), "
            "dataset VARCHAR(512), split VARCHAR(64), primary_metric VARCHAR(64), score FLOAT, metrics JSON, "
            "size_mb FLOAT, latency_p50_ms FLOAT, latency_p95_ms FLOAT, throughput FLOAT, created_at DATETIME)"
        )
        connection.execute(
            "INSERT INTO evaluations (task, model, dataset, split, primary_metric, score, metrics) "
            "VALUES ('question-answering', 'old', 'd', 'test', 'f1', 80.0, '{}')"
        )
    board = Leaderboard(str(path))
    board.record(
        task="question-answering",
        model="new",
        dataset="d",
        split="test",
        primary_metric="f1",
        score=90.0,
        metrics={},
        run_id="/runs/new",
        parameters=5,
    )
    rows = {row["model"]: row for row in board.rows()}
    assert rows["old"]["run_id"] is None and rows["new"]["run_id"] == "/runs/new" and rows["new"]["parameters"] == 5


def test_a_database_password_is_never_shown(tmp_path):
    import json

    from apps.leaderboard_app import build_leaderboard_app
    from evaluation.leaderboard import shown
    from shared.errors import OmnituneError

    url = "postgresql+nosuchdriver://bob:s3cret@db.internal/omnitune"
    assert shown(url) == "postgresql+nosuchdriver://bob:***@db.internal/omnitune"
    for bad in (url, "postgresql://bob:s3cret@db.internal/omnitune", "nonsense://bob:s3cret@x"):
        with pytest.raises(OmnituneError) as error:
            Leaderboard(bad)
        assert "s3cret" not in str(error.value) and "***" in str(error.value)

    board = Leaderboard(str(tmp_path / "board.db"))
    board.url, board.shown_url = url, shown(url)  # as a server database would be, without needing its driver
    page = json.dumps(build_leaderboard_app(board).config)
    assert "db.internal" in page and "s3cret" not in page

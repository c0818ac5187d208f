"""The Gradio apps through their API, as gradio_client users call them."""

from __future__ import annotations

import pytest
from gradio_client import Client

from apps.demos import build_demo
from apps.leaderboard_app import build_leaderboard_app
from evaluation.leaderboard import Leaderboard

CONTEXT = "-a, --all\ndo not ignore entries starting with a dot\n\n-l\nuse a long listing format"


@pytest.fixture
def qa_demo(tiny_qa_model, serve):
    return serve(build_demo("question-answering", str(tiny_qa_model)))


def test_qa_demo_answers_with_a_span_of_the_context(qa_demo):
    assert qa_demo.local_url.startswith("http://127.0.0.1:")
    client = Client(qa_demo.local_url, verbose=False)
    answer, score, highlighted, details = client.predict(CONTEXT, "What does -l do?", api_name="/answer")
    assert 0.0 <= score <= 1.0
    if details["no_answer"]:
        assert answer.startswith("(no answer")
    else:
        assert CONTEXT[details["start"] : details["end"]] == answer
        assert any(item["class_or_confidence"] == "answer" for item in highlighted)


def test_qa_demo_draws_the_models_attention_and_keeps_answering(qa_demo):
    from PIL import Image

    client = Client(qa_demo.local_url, verbose=False)
    before = client.predict(CONTEXT, "What does -l do?", api_name="/answer")
    path, caption = client.predict(CONTEXT, "What does -l do?", api_name="/attention")
    assert Image.open(path).size[0] > 100 and "layer" in caption
    assert client.predict(CONTEXT, "What does -l do?", api_name="/answer") == before  # same model, same answer


@pytest.mark.parametrize(
    "context, question, message",
    [
        ("", "What?", "context is empty"),
        (CONTEXT, "   ", "question is empty"),
        ("x" * 100_001, "What?", "limit is 100,000"),
    ],
)
def test_qa_demo_explains_bad_input(qa_demo, context, question, message):
    client = Client(qa_demo.local_url, verbose=False)
    with pytest.raises(Exception, match=message):
        client.predict(context, question, api_name="/answer")


def test_demo_for_a_missing_model_is_a_clear_error(tmp_path):
    from shared.errors import OmnituneError

    with pytest.raises(OmnituneError, match="does not exist"):
        build_demo("question-answering", str(tmp_path / "missing"))


def test_leaderboard_app_filters_and_sorts(tmp_path, serve):
    board = Leaderboard(f"sqlite:///{tmp_path / 'b.db'}")
    for model, task, score, split in (
        ("a", "question-answering", 50.0, "test"),
        ("b", "question-answering", 70.0, "test"),
        ("c", "translation", 20.0, "test"),
        ("d", "question-answering", 60.0, "validation"),
    ):
        board.record(task=task, model=model, dataset="d", split=split, primary_metric="f1", score=score, metrics={})
    app = serve(build_leaderboard_app(board))
    client = Client(app.local_url, verbose=False)

    def models(task: str, split: str, descending: bool) -> list[str]:
        table = client.predict(task, "(all)", split, "score", descending, api_name="/rows")
        return [row[table["headers"].index("model")] for row in table["data"]]

    assert models("question-answering", "test", False) == ["a", "b"]
    assert models("question-answering", "(all)", True) == ["b", "d", "a"]


def test_leaderboard_app_plots_the_trade_off_for_one_task(tmp_path, serve):
    board = Leaderboard(f"sqlite:///{tmp_path / 'b.db'}")
    for model, latency, size in (("fp32", 90.0, 90.0), ("int8", 45.0, 58.0)):
        board.record(
            task="question-answering",
            model=model,
            dataset="d",
            split="test",
            primary_metric="f1",
            score=91.0,
            metrics={},
            latency_p50_ms=latency,
            size_mb=size,
        )
    app = serve(build_leaderboard_app(board))
    client = Client(app.local_url, verbose=False)
    assert client.predict("question-answering", "(all)", "(all)", "score", True, api_name="/rows")["data"]
    _, hint = client.predict("(all)", "(all)", "(all)", api_name="/trade_off")
    assert "Pick a task" in hint
    plot, hint = client.predict("question-answering", "(all)", "test", api_name="/trade_off")
    assert plot and not hint

"""The QA demo in a real browser (Debian's headless Chromium driven by Playwright): what a person sees."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from apps.demos import build_demo

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# The flags keep Chromium off the network it cannot reach here (see the README's test notes).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser_page():
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs it with apt-get")
        pytest.skip("chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        yield page
        browser.close()


def test_a_person_asks_a_question_and_sees_the_answer_highlighted(tiny_qa_model, browser_page, tmp_path, serve):
    app = serve(build_demo("question-answering", str(tiny_qa_model)))
    page = browser_page
    page.goto(app.local_url)
    page.get_by_label("Context", exact=True).fill("-l\nuse a long listing format\n\n-a\nshow hidden entries")
    page.get_by_label("Question", exact=True).fill("What does -l do?")
    page.get_by_role("button", name="Answer").click()
    answer = page.get_by_label("Answer", exact=True)
    page.wait_for_function("el => el.value.length > 0", arg=answer.element_handle(), timeout=30_000)
    assert answer.input_value()
    page.screenshot(path=str(tmp_path / "qa-demo.png"), full_page=True)

    # the highlighted context breaks lines between words, never inside one
    breaks = page.evaluate("getComputedStyle(document.querySelector('.textfield')).wordBreak")
    assert breaks == "normal"

    page.get_by_label("Context", exact=True).fill("")
    page.get_by_role("button", name="Answer").click()
    page.get_by_text("The context is empty").first.wait_for(timeout=30_000)
    # said once, under the input it is about; no red "Error" badge drawn over the outputs
    assert page.get_by_text("Error", exact=True).count() == 0
    page.screenshot(path=str(tmp_path / "qa-demo-empty-context.png"), full_page=True)


def test_a_person_uploads_a_picture_and_sees_labels_and_the_overlay(tiny_vit, browser_page, tmp_path, serve):
    from PIL import Image

    photo = tmp_path / "photo.png"
    Image.new("RGB", (64, 48), (30, 120, 200)).save(photo)
    app = serve(build_demo("image-classification", str(tiny_vit)))
    page = browser_page
    page.goto(app.local_url)
    page.locator("input[type=file]").first.set_input_files(str(photo))
    page.get_by_role("button", name="Classify").click()
    page.get_by_text("LABEL_", exact=False).first.wait_for(timeout=30_000)  # the tiny model's class names
    # the uploaded picture and the explanation overlay, both served by the app
    page.wait_for_function("document.querySelectorAll('img[src*=\"file\"]').length >= 2", timeout=30_000)
    page.screenshot(path=str(tmp_path / "image-demo.png"), full_page=True)


def test_a_person_summarises_a_text_and_watches_the_output_arrive(tiny_bert2bert, browser_page, tmp_path, serve):
    from tasks.summarization.task import SummarizationParams

    _, folder, _ = tiny_bert2bert
    # a random model may stop at once, or ramble: between 3 and 8 tokens keeps the test quick on a busy machine
    params = SummarizationParams(max_source_length=16, min_new_tokens=3, max_new_tokens=8)
    app = serve(build_demo("summarization", str(folder), params=params))
    page = browser_page
    page.goto(app.local_url)
    page.get_by_label("Input", exact=True).fill("The fork() call creates a new process. " * 5)
    page.get_by_text("The input was cut").first.wait_for(timeout=30_000)  # said before anything is generated
    page.get_by_role("button", name="Summarize").click()
    output = page.get_by_label("Summary", exact=True)
    page.wait_for_function("el => el.value.length > 0", arg=output.element_handle(), timeout=30_000)
    page.screenshot(path=str(tmp_path / "summarization-demo.png"), full_page=True)
    page.get_by_label("Input", exact=True).fill("")
    page.get_by_text("0 characters").first.wait_for(timeout=60_000)  # counts follow the input
    page.get_by_text("done:").first.wait_for(timeout=60_000)
    assert page.get_by_text("0 characters").first.is_visible()  # a generation ending later does not undo them
    page.get_by_role("button", name="Summarize").click()
    page.get_by_text("The input is empty").first.wait_for(timeout=30_000)


def test_a_person_trains_from_the_app_reloads_mid_job_and_then_tries_the_new_model(
    tiny_qa_model, browser_page, tmp_path, serve
):
    """The whole front door: a tiny training job from the Train tab (followed across a page reload), its row on
    the Leaderboard, then the finished run answering a question in the Try tab. OMNITUNE_SCREENSHOTS=folder
    keeps the screenshots of each tab (the README shows them)."""
    from apps.workbench.app import build_app
    from apps.workbench.jobs import JobQueue
    from evaluation.leaderboard import Leaderboard
    from tests.conftest import bundled_subset

    shots = Path(os.environ.get("OMNITUNE_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    data = bundled_subset(tmp_path / "data", per_split=24)
    app = serve(build_app(Leaderboard(), JobQueue(tmp_path / "jobs")))
    page = browser_page
    page.goto(app.local_url)

    page.get_by_role("tab", name="Train").click()
    page.get_by_label("Model (empty", exact=False).fill(str(tiny_qa_model))
    page.get_by_label("local path or Hub id", exact=True).check()
    page.get_by_label("Local path or Hub dataset id", exact=True).fill(str(data))
    page.get_by_label("Max steps", exact=False).fill("40")
    page.get_by_role("button", name="Start training").click()
    shown(page, "running").wait_for(timeout=60_000)
    page.reload()  # mid-job: the job is read back from disk
    page.get_by_role("tab", name="Train").click()
    shown(page, "running").wait_for(timeout=30_000)
    shown(page, "training step", exact=False).wait_for(timeout=120_000)
    page.screenshot(path=str(shots / "app-train.png"), full_page=True)
    shown(page, "finished").wait_for(timeout=240_000)
    run = Path(JobQueue(tmp_path / "jobs").jobs()[0].run)

    page.get_by_role("tab", name="Leaderboard").click()
    page.get_by_role("button", name="Refresh").first.click()
    shown(page, run.name).wait_for(timeout=30_000)
    page.screenshot(path=str(shots / "app-leaderboard.png"), full_page=True)

    page.get_by_role("tab", name="Models").click()
    page.get_by_role("button", name="Refresh").first.click()
    shown(page, run.name).wait_for(timeout=30_000)
    page.screenshot(path=str(shots / "app-models.png"), full_page=True)

    page.get_by_role("tab", name="Try").click()
    page.get_by_role("tab", name="question-answering").click()
    chooser = page.get_by_label("Model (a finished run", exact=False)
    chooser.click()
    page.get_by_role("option", name=str(run)).click()
    page.get_by_role("button", name="Answer").wait_for(timeout=60_000)
    page.get_by_label("Context", exact=True).fill("-l\nuse a long listing format\n\n-a\nshow hidden entries")
    page.get_by_label("Question", exact=True).fill("What does -l do?")
    page.get_by_role("button", name="Answer").click()
    answer = page.get_by_label("Answer", exact=True)
    page.wait_for_function("el => el.value.length > 0", arg=answer.element_handle(), timeout=60_000)
    page.screenshot(path=str(shots / "app-try.png"), full_page=True)


def shown(page, text: str, exact: bool = True):
    """The first visible element with this text (Gradio's tables keep hidden copies of their cells)."""
    return page.get_by_text(text, exact=exact).filter(visible=True).first

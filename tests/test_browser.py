"""The QA demo in a real browser (Debian's headless Chromium driven by Playwright): what a person sees."""

from __future__ import annotations

import os
import shutil

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

    page.get_by_label("Context", exact=True).fill("")
    page.get_by_role("button", name="Answer").click()
    page.get_by_text("The context is empty").first.wait_for(timeout=30_000)


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

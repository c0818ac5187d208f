"""Gradio demo for token classification: paste a command-line text, see its options, arguments, paths and
environment variables highlighted.

API (gradio_client): `Client(url).predict(text, api_name="/tag")` returns (highlighted text as
[{"token": str, "class_or_confidence": type or None}], details dict with "entities" and "tags")."""

from __future__ import annotations

import gradio as gr

from shared.demo_inputs import reviewed, validator
from shared.errors import OmnituneError
from shared.loaded_models import loaded
from shared.model_facts import model_facts
from tasks.token_classification.tagging import word_spans
from tasks.token_classification.task import MAX_TEXT_CHARS

COLOURS = {"OPTION": "blue", "ARGUMENT": "orange", "PATH": "green", "ENV": "purple"}


def build(task, model: str, params=None) -> gr.Blocks:
    params = params or task.params_class()
    built = loaded(task, model, params)
    built.require_trained(model, task.name)

    def tag(text: str):
        text = (text or "").strip()
        try:
            answer = task.predict(built, task.example_from_inputs({"text": text}, params), params, batch_size=8)[0]
        except OmnituneError as error:
            raise gr.Error(error.sentence) from None
        described = task.describe_answer(answer, built, params)
        return highlighted(text, answer), {**described, "flags": reviewed(task, params, {"text": text}, described)}

    with gr.Blocks(title="omnitune · token classification") as demo:
        gr.Markdown(
            f"## Token classification\nModel: `{model}`. Paste a sentence from a manual or a command line; each "
            "word gets a tag, and the tagged spans are highlighted. "
            f"Tags this model knows: {', '.join(built.labels)}."
        )
        gr.Markdown(model_facts(model))
        with gr.Row():
            with gr.Column():
                text_box = gr.Textbox(
                    label="Text", lines=6, max_length=MAX_TEXT_CHARS, placeholder="e.g. Use -o FILE to write to FILE."
                )
                button = gr.Button("Tag", variant="primary")
            with gr.Column():
                spans = gr.HighlightedText(label="Entities", color_map=COLOURS, show_legend=True)
                with gr.Accordion("Details", open=False):
                    details_box = gr.JSON(label="Entities (word offsets) and each word's tag")
        checks = validator(task, params, ("text",))
        button.click(tag, [text_box], [spans, details_box], api_name="tag", validator=checks)
        text_box.submit(tag, [text_box], [spans, details_box], api_name=False, validator=checks)
        examples = _examples(task, params)
        if examples:
            gr.Examples(examples, [text_box], label="Examples from the bundled man-page set")
    return demo


def highlighted(text: str, answer) -> list[tuple[str, str | None]]:
    """The whole text cut into (piece, entity type or None), so HighlightedText shows it unchanged."""
    spans = word_spans(text)
    pieces, cursor = [], 0
    for entity in answer.entities:
        start, end = spans[entity.start][0], spans[entity.end - 1][1]
        pieces += [(text[cursor:start], None), (text[start:end], entity.type)]
        cursor = end
    pieces.append((text[cursor:], None))
    return [piece for piece in pieces if piece[0]]


def _examples(task, params) -> list[list[str]]:
    try:
        rows = task.load_examples(params.model_copy(update={"data": None}), "test")
    except OmnituneError:
        return []
    picked, types = [], set()
    for row in rows:  # short sentences that between them show every entity type
        new = {tag.partition("-")[2] for tag in row["ner_tags"]} - {""} - types
        if new and len(row["tokens"]) <= 40:
            types |= new
            picked.append([" ".join(row["tokens"])])
        if len(picked) == 4:
            break
    return picked

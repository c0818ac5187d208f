"""Gradio demo for extractive QA: paste a context, ask a question, see the answer highlighted in the context.

API (gradio_client): `Client(url).predict(context, question, api_name="/answer")` returns
(answer text, score, highlighted context, details dict); `predict(context, question, api_name="/attention")`
returns (picture path, caption): the model's attention over the question and the start of the context
(dense models: every layer and head; sliding-window and Linformer models: their pattern or projections)."""

from __future__ import annotations

import gradio as gr

from shared.attention import visualise
from shared.demo_inputs import reviewed, validator
from shared.errors import OmnituneError
from shared.loaded_models import loaded
from shared.model_facts import model_facts
from shared.scratch import scratch_folder
from tasks.question_answering.task import MAX_CONTEXT_CHARS, MAX_QUESTION_CHARS

NO_ANSWER = "(no answer: the model abstains — the context does not seem to contain it)"


def build(task, model: str, params=None) -> gr.Blocks:
    params = params or task.params_class()
    built = loaded(task, model, params)
    built.require_trained(model, task.name)
    loaded_model, tokenizer = built.model, built.processor
    examples = _examples(task, params)

    def checked(context: str, question: str) -> dict[str, list]:
        try:
            return task.example_from_inputs({"context": context, "question": question}, params)
        except OmnituneError as error:
            raise gr.Error(error.sentence) from None

    def answer(context: str, question: str):
        example = checked(context, question)
        context = example["context"][0]
        try:
            result = task.predict(built, example, params, batch_size=8)[0]
        except OmnituneError as error:
            raise gr.Error(str(error)) from None
        details = {
            "answer": result.text,
            "score": round(result.score, 4),
            "start": result.start,
            "end": result.end,
            "no_answer": result.is_empty,
        }
        details["flags"] = reviewed(task, params, {"context": context, "question": question}, {"answer": result.text})
        if result.is_empty:
            return NO_ANSWER, round(result.score, 4), [(context, None)], details
        spans = [(context[: result.start], None), (result.text, "answer"), (context[result.end :], None)]
        return result.text, round(result.score, 4), [s for s in spans if s[0]], details

    def attention(context: str, question: str):
        example = checked(context, question)
        context, question = example["context"][0], example["question"][0]
        kind, path = visualise.picture(
            loaded_model,
            tokenizer,
            f"{question} {tokenizer.sep_token or ''} {context}",
            scratch_folder("attention-"),
        )
        captions = {
            "dense": "Attention probabilities of the first 64 tokens (question, then context): one map per "
            "layer (rows) and head (columns); row = the attending token, column = the one attended to.",
            "sliding-window": "Which token pairs this sliding-window model computes at all (black).",
            "linformer": "Each layer's learned key projection: which positions feed each projected slot.",
            "token-merging": "Which tokens each layer still carried on their own (green) or merged (paler).",
            "token-pruning": "Which tokens each layer still carried (green); the question is always kept.",
        }
        return str(path), captions[kind]

    with gr.Blocks(title="omnitune · question answering") as demo:
        gr.Markdown(
            f"## Extractive question answering\nModel: `{model}`. Paste a text, ask a question about it; "
            "the answer is a span of the text, or none if the text does not hold it."
        )
        gr.Markdown(model_facts(model))
        with gr.Row():
            with gr.Column(scale=3):
                context_box = gr.Textbox(
                    label="Context", lines=12, max_length=MAX_CONTEXT_CHARS, placeholder="Paste the text to search in"
                )
                question_box = gr.Textbox(
                    label="Question",
                    lines=1,
                    max_length=MAX_QUESTION_CHARS,
                    placeholder="Ask something the text answers",
                )
                button = gr.Button("Answer", variant="primary")
            with gr.Column(scale=2):
                answer_box = gr.Textbox(label="Answer", interactive=False)
                score_box = gr.Number(label="Confidence (0-1)", interactive=False)
                highlighted = gr.HighlightedText(
                    label="Answer in context", color_map={"answer": "green"}, show_legend=False
                )
                with gr.Accordion("Details", open=False):
                    details_box = gr.JSON(label="Character offsets and score")
        with gr.Accordion("Attention", open=False):
            attention_button = gr.Button("Show the model's attention on this question and context")
            attention_caption = gr.Markdown()
            attention_picture = gr.Image(type="filepath", interactive=False, show_label=False)
        checks = validator(task, params, ("context", "question"))
        attention_button.click(
            attention,
            [context_box, question_box],
            [attention_picture, attention_caption],
            api_name="attention",
            validator=checks,
        )
        outputs = [answer_box, score_box, highlighted, details_box]
        button.click(answer, [context_box, question_box], outputs, api_name="answer", validator=checks)
        question_box.submit(answer, [context_box, question_box], outputs, api_name=False, validator=checks)
        if examples:
            gr.Examples(examples, [context_box, question_box], label="Examples from the bundled man-page set")
    return demo


def _examples(task, params) -> list[list[str]]:
    try:
        rows = task.load_examples(params.model_copy(update={"data": None}), "test")
    except OmnituneError:
        return []
    picked, titles = [], set()
    for row in rows:  # one answerable question from each of three pages, then one without an answer
        if row["answers"]["text"] and row["title"] not in titles and len(titles) < 3:
            titles.add(row["title"])
            picked.append(row)
    picked += [r for r in rows if not r["answers"]["text"] and r["title"] not in titles][:1]
    return [[r["context"], r["question"]] for r in picked]

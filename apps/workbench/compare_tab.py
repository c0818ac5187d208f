"""Compare: two models of one task answer the same input, side by side. Its event is also the app's
prediction API (`Client(url).predict(task, model_a, model_b, question, context, text, image, audio,
api_name="/compare")`; leave model_b empty for one answer), which the load test drives."""

from __future__ import annotations

import gradio as gr

from apps import api
from apps.workbench import catalogue
from shared.errors import OmnituneError
from shared.parameters import params_for_model
from tasks.registry import TASKS, get_task

FIELDS = ("question", "context", "text", "image", "audio")  # every task's inputs are some of these


def answer(task_name: str, model: str, inputs: dict[str, object]) -> dict:
    task = get_task(task_name)
    settings = params_for_model(task, model, None, {})
    example = api.checked_example(task, {name: inputs.get(name) for name in task.input_fields}, settings)
    return api.answer(task, api.load_trained(task, model, settings), settings, example)


def compare(task_name: str, model_a: str, model_b: str | None, *values):
    inputs = dict(zip(FIELDS, values, strict=True))
    answers = []
    for model in (model_a, model_b):
        if not model:
            answers.append(None)
            continue
        try:
            answers.append(answer(task_name, model, inputs))
        except OmnituneError as error:
            answers.append({"error": error.sentence})
    return answers


def build(app: gr.Blocks) -> None:
    def listed(task_name: str):
        choices = catalogue.models_for(task_name)
        shown = set(get_task(task_name).input_fields)
        return (
            gr.Dropdown(choices=choices, value=choices[0]),
            gr.Dropdown(choices=choices, value=choices[1] if len(choices) > 1 else None),
            *(gr.update(visible=name in shown) for name in FIELDS),
        )

    with gr.Accordion("Compare two models on the same input", open=False):
        with gr.Row():
            task = gr.Dropdown(list(TASKS), value="question-answering", label="Task")
            model_a = gr.Dropdown(label="Model A", choices=[], allow_custom_value=True)
            model_b = gr.Dropdown(label="Model B", choices=[], allow_custom_value=True)
        question = gr.Textbox(label="Question", max_length=1_000)
        context = gr.Textbox(label="Context", lines=6, max_length=100_000)
        text = gr.Textbox(label="Text", lines=4, max_length=20_000, visible=False)
        image = gr.Image(label="Image", type="filepath", visible=False)
        audio = gr.Audio(label="Audio", type="filepath", visible=False)
        button = gr.Button("Compare", variant="primary")
        with gr.Row():
            answer_a = gr.JSON(label="Model A")
            answer_b = gr.JSON(label="Model B")
        inputs = [question, context, text, image, audio]
        task.change(listed, task, [model_a, model_b, *inputs], api_name=False)
        app.load(listed, task, [model_a, model_b, *inputs], api_name=False)
        button.click(compare, [task, model_a, model_b, *inputs], [answer_a, answer_b], api_name="compare")

"""The Try tab: one sub-tab per task holding that task's own demo (tasks/<task>/demo.py, explanation views
included) for any finished run or the task's offline default, picked from a list. A demo is built when its tab
is opened or another model is picked; the model itself is loaded once and shared (shared.loaded_models)."""

from __future__ import annotations

import gradio as gr

from apps.demos import build_demo, has_demo
from apps.workbench import catalogue
from shared.errors import OmnituneError
from shared.parameters import params_for_model
from tasks.registry import TASKS, get_task


def build() -> gr.Tab:
    with gr.Tab("Try", id="try") as tab:
        for name in [task for task in TASKS if has_demo(task)]:
            _task_tab(name)
    return tab


def _task_tab(name: str) -> None:
    with gr.Tab(name, id=f"try-{name}") as tab:
        model = gr.Dropdown(
            label="Model (a finished run, or the offline default)",
            choices=catalogue.models_for(name),
            allow_custom_value=True,  # a local folder or a Hub id typed in
        )

        def listed(current: str | None):  # nothing loads until a model is picked: models take a while to load
            return gr.Dropdown(choices=catalogue.models_for(name), value=current)

        tab.select(listed, model, model, api_name=False)

        @gr.render(inputs=model, triggers=[model.change])
        def demo(chosen: str | None):
            if not chosen:
                gr.Markdown("Pick a model above.")
                return
            try:
                task = get_task(name)
                build_demo(name, chosen, params=params_for_model(task, chosen, None, {}))  # placed here as built
            except OmnituneError as error:
                gr.Markdown(f"**{error.sentence}**")

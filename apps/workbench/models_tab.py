"""The Models tab: every run (task, score, size, model card) and every shelf entry; rename or delete a run."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pandas as pd

from apps.workbench import catalogue
from evaluation.leaderboard import Leaderboard
from shared.errors import OmnituneError

RUN_COLUMNS = ["task", "run", "base model", "test metric", "test score", "size MB", "folder"]
SHELF_COLUMNS = ["name", "prepared", "size MB", "parameters (M)", "licence", "what it is"]


def run_table() -> pd.DataFrame:
    rows = [
        [
            info.task,
            info.name,
            info.base_model,
            info.test_metric,
            None if info.test_score is None else round(info.test_score, 4),
            None if info.size_mb is None else round(info.size_mb, 1),
            str(info.path),
        ]
        for info in catalogue.runs()
    ]
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def shelf_table() -> pd.DataFrame:
    rows = [
        [
            row["name"],
            "yes" if row["prepared"] else "no (prepared on first use)",
            row["size_mb"],
            None if row["parameters"] is None else round(row["parameters"] / 1e6, 1),
            row["licence"],
            row["description"],
        ]
        for row in catalogue.shelf_rows()
    ]
    return pd.DataFrame(rows, columns=SHELF_COLUMNS)


def build(app: gr.Blocks, board: Leaderboard) -> gr.Tab:
    def refresh(selected: str | None = None):
        table = run_table()
        folders = list(table["folder"])
        chosen = selected if selected in folders else (folders[0] if folders else None)
        return table, gr.Dropdown(choices=folders, value=chosen), shelf_table()

    def card(folder: str | None) -> str:
        if not folder:
            return "Pick a run to see its model card."
        info = next((i for i in catalogue.runs() if str(i.path) == folder), None)
        return info.card if info else f"{folder} is gone (deleted or renamed): refresh the table."

    def rename(folder: str | None, new_name: str):
        try:
            target = catalogue.rename_run(Path(folder or ""), new_name.strip(), board)
        except (OmnituneError, OSError) as error:
            gr.Warning(getattr(error, "sentence", None) or str(error))
            return (*refresh(folder), gr.skip())
        gr.Info(f"renamed to {target.name}; its leaderboard rows follow it")
        return (*refresh(str(target)), "")

    def delete(folder: str | None, confirmation: str):
        try:
            removed = catalogue.delete_run(Path(folder or ""), confirmation, board)
        except (OmnituneError, OSError) as error:
            gr.Warning(getattr(error, "sentence", None) or str(error))
            return (*refresh(folder), gr.skip())
        gr.Info(f"deleted {Path(folder).name} and its {removed} leaderboard rows")
        return (*refresh(), "")

    with gr.Tab("Models", id="models") as tab:
        gr.Markdown("Every run under the runs folder (trained here, on the command line, or by a study), newest first.")
        runs = gr.Dataframe(label="Runs", interactive=False, wrap=True)
        with gr.Row():
            chosen = gr.Dropdown(label="Run", choices=[], scale=3)
            refresh_button = gr.Button("Refresh", scale=0)
        with gr.Accordion("Model card", open=False):
            model_card = gr.Markdown()
        with gr.Row():
            new_name = gr.Textbox(label="New name", placeholder="e.g. qa-lora-best", scale=3)
            rename_button = gr.Button("Rename", scale=1)
        with gr.Row():
            confirm = gr.Textbox(label="Type the run's name to delete it (cannot be undone)", scale=3)
            delete_button = gr.Button("Delete run", variant="stop", scale=1)
        shelf = gr.Dataframe(
            label="Offline shelf (pretrained weights that need no Hub)",
            interactive=False,
            wrap=True,
            column_widths=["13%", "13%", "8%", "9%", "22%", "35%"],
        )
        listed = [runs, chosen, shelf]
        tab.select(refresh, chosen, listed, api_name=False)
        app.load(refresh, chosen, listed, api_name=False)
        refresh_button.click(refresh, chosen, listed, api_name=False)
        chosen.change(card, chosen, model_card, api_name=False)
        rename_button.click(rename, [chosen, new_name], [*listed, new_name], api_name=False)
        delete_button.click(delete, [chosen, confirm], [*listed, confirm], api_name=False)
    return tab

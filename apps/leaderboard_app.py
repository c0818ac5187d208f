"""The leaderboard as a Gradio app: filter by task, dataset and split, sort by any column, and pick a model by
trade-off on a plot of score against latency (bubble = size on disk) for the chosen task."""

from __future__ import annotations

import gradio as gr
import pandas as pd

from evaluation.leaderboard import COLUMNS, DISPLAY_COLUMNS, Leaderboard, as_table
from evaluation.metrics import higher_is_better
from shared.plots import pareto_figure

ALL = "(all)"


def _chosen(value: str | None) -> str | None:
    return None if value in (None, ALL) else value


def build_leaderboard_app(board: Leaderboard) -> gr.Blocks:
    def table(task: str, dataset: str, split: str, sort_by: str, descending: bool) -> pd.DataFrame:
        rows = as_table(
            board.rows(
                task=_chosen(task),
                dataset=_chosen(dataset),
                split=_chosen(split),
                sort_by=sort_by or "score",
                descending=bool(descending),
            )
        )
        return pd.DataFrame(rows, columns=list(DISPLAY_COLUMNS))

    def trade_off(task: str, dataset: str, split: str):
        if task in (None, ALL):
            return None, "Pick a task to see its score against latency (scores of different tasks do not compare)."
        rows = board.rows(task=task, dataset=_chosen(dataset), split=_chosen(split))
        metrics = sorted({r["primary_metric"] for r in rows})
        better_up = all(higher_is_better(metric) for metric in metrics)
        return pareto_figure(rows, " / ".join(metrics) or "score", better_up), ""

    def choices():
        rows = board.rows()
        return tuple(gr.Dropdown(choices=[ALL] + sorted({r[c] for r in rows})) for c in ("task", "dataset", "split"))

    with gr.Blocks(title="omnitune · leaderboard") as app:
        gr.Markdown(f"## omnitune leaderboard\nEvery evaluation recorded in `{board.shown_url}`.")
        with gr.Row():
            task = gr.Dropdown([ALL], value=ALL, label="Task", allow_custom_value=True)
            dataset = gr.Dropdown([ALL], value=ALL, label="Dataset", allow_custom_value=True)
            split = gr.Dropdown([ALL], value=ALL, label="Split", allow_custom_value=True)
            sort_by = gr.Dropdown(list(COLUMNS), value="score", label="Sort by")
            descending = gr.Checkbox(value=True, label="Descending (score: best first, lowest WER first)")
            refresh = gr.Button("Refresh")
        grid = gr.Dataframe(label="Evaluations", interactive=False, wrap=True)
        with gr.Accordion("Trade-off: score vs latency vs size", open=True):
            hint = gr.Markdown()
            plot = gr.Plot(label="Score vs latency")
        inputs = [task, dataset, split, sort_by, descending]
        for control in (task, dataset, split, sort_by, descending):
            control.change(table, inputs, grid, api_name=False)
        filters = [task, dataset, split]
        task.change(trade_off, filters, [plot, hint], api_name="trade_off")
        dataset.change(trade_off, filters, [plot, hint], api_name=False)
        split.change(trade_off, filters, [plot, hint], api_name=False)
        refresh.click(table, inputs, grid, api_name="rows")
        app.load(choices, None, filters, api_name=False).then(table, inputs, grid, api_name=False).then(
            trade_off, filters, [plot, hint], api_name=False
        )
    return app

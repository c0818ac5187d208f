"""`omnitune app`: one web app for everything — Models (runs and the shelf), Try (every task's demo with any
model), Train (jobs run by the CLI in their own processes), Leaderboard (filter, sort, Pareto plot, Compare).
Bound to 127.0.0.1 unless told otherwise; serving beyond this machine needs a password, or saying it needs none."""

from __future__ import annotations

import threading

import gradio as gr

from apps.demos import GRADIO_CACHE_CLEANUP
from apps.leaderboard_app import build_leaderboard_app
from apps.workbench import compare_tab, models_tab, train_tab, try_tab
from apps.workbench.jobs import JobQueue
from evaluation.leaderboard import Leaderboard
from shared.errors import OmnituneError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def build_app(board: Leaderboard, queue: JobQueue) -> gr.Blocks:
    with gr.Blocks(title="omnitune", delete_cache=GRADIO_CACHE_CLEANUP) as app:
        gr.Markdown("# omnitune\nFine-tune, try and compare Transformers for text, vision and speech.")
        with gr.Tabs():
            models_tab.build(app, board)
            try_tab.build()
            train_tab.build(app, queue)
            with gr.Tab("Leaderboard", id="leaderboard"):
                build_leaderboard_app(board)  # Blocks built inside Blocks are placed where they are built
                compare_tab.build(app)
    return app


def auth_for(host: str, auth: str | None, no_auth: bool) -> tuple[str, str] | None:
    """(user, password) from `user:password`; refused when serving beyond this machine without a choice."""
    if auth:
        user, colon, password = auth.partition(":")
        if not colon or not user or not password:
            raise OmnituneError("--auth must look like user:password", "e.g. --auth ana:a-long-passphrase")
        return user, password
    if host not in LOOPBACK and not no_auth:
        raise OmnituneError(
            f"--host {host} serves the app beyond this machine, and it can start training jobs",
            "add --auth user:password, or --no_auth if the network is yours alone",
        )
    return None


def keep_jobs_moving(queue: JobQueue, every_seconds: float = 2.0) -> threading.Event:
    """Starts queued jobs as others end, page open or not; set the returned event to stop."""
    stop = threading.Event()

    def loop():
        while not stop.wait(every_seconds):
            try:
                queue.tick()
            except Exception as error:  # a bad job must not stop the others from starting
                print(f"job queue: {error}", flush=True)

    threading.Thread(target=loop, name="omnitune-jobs", daemon=True).start()
    return stop

"""The Train tab: choose task, data, model, mode and budget; the job runs as `omnitune train` in its own process
(apps/workbench/jobs.py), one at a time, the rest queued. Its progress, loss curve and log are read back from
disk every two seconds, so a reload (or a restarted server) shows the same jobs; cancel keeps the checkpoints,
resume continues from the last one, and a finished job's test score is on the leaderboard like any run's."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import gradio as gr
import pandas as pd

from apps.workbench.jobs import Job, JobQueue
from shared.errors import OmnituneError
from shared.paths import omnitune_home
from tasks.registry import TASKS, get_task

BUNDLED, UPLOAD, PATH = "bundled set", "upload a file", "local path or Hub id"
FULL, LORA, PROBE = "full fine-tuning", "LoRA adapters", "linear probe (frozen backbone)"
JOB_COLUMNS = ["job", "task", "state", "progress", "run", "command"]
REFRESH_SECONDS = 2.0


def job_options(
    task: str,
    source: str,
    upload: str | None,
    path: str,
    model: str,
    mode: str,
    max_steps: float | None,
    epochs: float | None,
    samples: float | None,
    learning_rate: float | None,
    batch_size: float | None,
) -> dict[str, object]:
    """The form as `omnitune train` options; a choice that does not fit the task is an error naming the fix."""
    options: dict[str, object] = {"model": (model or "").strip() or None}
    if source == UPLOAD:
        if not upload:
            raise OmnituneError("No file was uploaded.", "upload a data file, or choose the bundled set")
        options["data"] = str(_keep_upload(Path(upload)))
    elif source == PATH:
        if not (path or "").strip():
            raise OmnituneError("No data path or Hub id was given.", "type one, or choose the bundled set")
        options["data"] = path.strip()
    image = task == "image-classification"
    if mode == PROBE and not image:
        raise OmnituneError(
            f"A linear probe is offered for image classification, not for {task}.", "choose full fine-tuning or LoRA"
        )
    if image:
        options["mode"] = "linear-probe" if mode == PROBE else "finetune"
    if mode == LORA:
        options["peft"] = "lora"
    numbers = {
        "max_steps": max_steps,
        "num_train_epochs": epochs,
        "max_train_samples": samples,
        "learning_rate": learning_rate,
        "per_device_train_batch_size": batch_size,
    }
    for name, value in numbers.items():
        if value not in (None, 0):
            options[name] = int(value) if name != "learning_rate" and float(value).is_integer() else value
    return options


def _keep_upload(file: Path) -> Path:
    """Gradio deletes its uploads after an hour; a job may wait longer than that in the queue."""
    kept = omnitune_home() / "uploads" / f"{time.strftime('%Y%m%d-%H%M%S')}-{file.name}"
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(file, kept)
    return kept


def jobs_table(queue: JobQueue) -> pd.DataFrame:
    rows = []
    for job in queue.jobs():
        progress = queue.progress(job)
        shown = f"{progress[0]}/{progress[1]}" if progress else ""
        rows.append([job.id, job.task, job.state, shown, Path(job.run).name, job.command])
    return pd.DataFrame(rows, columns=JOB_COLUMNS)


def progress_html(queue: JobQueue, job: Job) -> str:
    progress = queue.progress(job)
    if progress is None:
        return f"<b>{job.state}</b> — {'waiting for its turn' if job.state == 'queued' else 'preparing'}"
    step, total = progress
    return (
        f"<b>{job.state}</b> — training step {step} of {total} "
        f"<progress value='{step}' max='{total}' style='width:60%'></progress> {100 * step // total}%"
    )


def loss_points(job: Job) -> pd.DataFrame:
    log = Path(job.run) / "train_log.jsonl"
    points = []
    if log.is_file():
        for line in log.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # the line being written
            if "loss" in entry and "step" in entry:
                points.append({"step": entry["step"], "loss": entry["loss"]})
    return pd.DataFrame(points, columns=["step", "loss"])


def build(app: gr.Blocks, queue: JobQueue) -> gr.Tab:
    def start(*form):
        try:
            job = queue.submit(form[0], job_options(*form))
        except OmnituneError as error:
            gr.Warning(error.sentence)
            return gr.skip(), gr.skip()
        queue.tick()
        gr.Info(f"job {job.id} {'started' if queue.get(job.id).state == 'running' else 'queued'}")
        return jobs_table(queue), gr.Dropdown(choices=[j.id for j in queue.jobs()], value=job.id)

    def follow(job_id: str | None):
        queue.tick()  # the server also does this on its own, without a page open
        table = jobs_table(queue)
        ids = list(table["job"])
        if not job_id or job_id not in ids:
            job_id = ids[0] if ids else None
        if job_id is None:
            return table, gr.Dropdown(choices=[], value=None), "No jobs yet.", None, ""
        job = queue.get(job_id)
        return (
            table,
            gr.Dropdown(choices=ids, value=job_id),
            progress_html(queue, job) + f"<br>run folder: <code>{job.run}</code>",
            loss_points(job),
            queue.log_tail(job),
        )

    def cancel(job_id: str | None):
        _act(lambda: queue.cancel(job_id or ""), "cancel asked: the job stops at its next step, checkpoints kept")

    def resume(job_id: str | None):
        _act(lambda: (queue.resume(job_id or ""), queue.tick()), "resumed from its last checkpoint (a new job)")

    with gr.Tab("Train", id="train") as tab:
        with gr.Row():
            task = gr.Dropdown(list(TASKS), value="question-answering", label="Task")
            mode = gr.Radio([FULL, LORA, PROBE], value=FULL, label="Mode")
        with gr.Row():
            source = gr.Radio([BUNDLED, UPLOAD, PATH], value=BUNDLED, label="Data")
            upload = gr.File(label="Data file (CSV, JSON lines, ...)", type="filepath")
            path = gr.Textbox(label="Local path or Hub dataset id", placeholder="e.g. data/my_set.jsonl or squad_v2")
        model = gr.Textbox(label="Model (empty: the task's offline default; a shelf name, folder or Hub id)")
        with gr.Row():
            # empty (None) means the task's own default, which the note below the button states
            max_steps = gr.Number(None, label="Max steps (empty: the task's default)", precision=0)
            epochs = gr.Number(None, label="Epochs")
            samples = gr.Number(None, label="Max training examples", precision=0)
            learning_rate = gr.Number(None, label="Learning rate")
            batch_size = gr.Number(None, label="Batch size", precision=0)
        start_button = gr.Button("Start training", variant="primary")
        defaults = gr.Markdown()
        jobs = gr.Dataframe(label="Jobs (newest first; one runs at a time, the rest wait)", interactive=False)
        with gr.Row():
            chosen = gr.Dropdown(label="Job", choices=[], scale=3)
            cancel_button = gr.Button("Cancel", variant="stop", scale=1)
            resume_button = gr.Button("Resume", scale=1)
        status = gr.HTML()
        with gr.Row():
            curve = gr.LinePlot(x="step", y="loss", label="Training loss", height=260)
            log = gr.Textbox(label="Log (last lines)", lines=14, max_lines=14, autoscroll=True)
        form = [task, source, upload, path, model, mode, max_steps, epochs, samples, learning_rate, batch_size]
        start_button.click(start, form, [jobs, chosen], api_name="start_training")
        watched = [jobs, chosen, status, curve, log]
        gr.Timer(REFRESH_SECONDS).tick(follow, chosen, watched, api_name=False, show_progress="hidden")
        chosen.input(follow, chosen, watched, api_name=False)
        app.load(follow, chosen, watched, api_name=False)
        cancel_button.click(cancel, chosen, None, api_name=False)
        resume_button.click(resume, chosen, None, api_name=False)
        task.change(_defaults_note, task, defaults, api_name=False)
        app.load(_defaults_note, task, defaults, api_name=False)
    return tab


def _defaults_note(task_name: str) -> str:
    task = get_task(task_name)
    shown = ", ".join(f"{k} {v}" for k, v in task.bundled_data_defaults.items())
    return f"Default model `{task.default_model}`" + (f"; on the bundled set: {shown}." if shown else ".")


def _act(action, message: str) -> None:
    try:
        action()
    except OmnituneError as error:
        gr.Warning(error.sentence)
        return
    gr.Info(message)

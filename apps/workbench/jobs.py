"""Training jobs started from the web app. Each job is `omnitune train ...` in a process of its own (the CLI, not
the server), and everything about it lives in a folder under OMNITUNE_HOME/jobs (its command, state, log, exit
code), so jobs survive a browser reload and a server restart. One job runs at a time by default; the rest wait
in the order they were asked for. Cancel is Ctrl-C for the job's processes: training stops where it is, its
checkpoints stay, and the job can be resumed from the last one."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from filelock import FileLock

from shared import run_dir as layout
from shared.errors import OmnituneError
from shared.paths import omnitune_home

QUEUED, RUNNING, FINISHED, FAILED, CANCELLED, INTERRUPTED = (
    "queued",
    "running",
    "finished",
    "failed",
    "cancelled",
    "interrupted",  # its process vanished without an exit code (the machine restarted, it was killed)
)
OPEN_STATES = (QUEUED, RUNNING)
JOB, LOG, EXIT_CODE = "job.json", "log.txt", "exit_code"
CTRL_C_EXIT = 130  # what `omnitune train` returns when interrupted (its checkpoints kept)
# Trainer's bar, "  13%|█▎   | 37/275 [00:52<05:10", which has no description (tokenising, evaluating have)
_PROGRESS = re.compile(r"(?:^|[\r\n])\s*\d+%\|[^|\r\n]*\|\s*(\d+)/(\d+) \[")


@dataclass
class Job:
    id: str
    task: str
    argv: list[str]  # the command after `omnitune`
    run: str  # the run folder it trains into
    state: str = QUEUED
    created: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    exit_code: int | None = None
    pid: int | None = None
    cancel_asked: bool = False

    @property
    def command(self) -> str:
        return "omnitune " + " ".join(self.argv)

    @property
    def resumable(self) -> bool:
        return self.state in (FAILED, CANCELLED, INTERRUPTED) and layout.last_checkpoint(Path(self.run)) is not None


def default_jobs_folder() -> Path:
    return omnitune_home() / "jobs"


def train_command(task: str, run: Path, options: dict[str, object]) -> list[str]:
    """`train TASK --output_dir RUN --name value ...`; unset options are left to the task's defaults."""
    argv = ["train", task, "--output_dir", str(run)]
    for name, value in options.items():
        if value not in (None, "", []):
            argv += [f"--{name}", str(value)]
    return argv


class JobQueue:
    def __init__(self, folder: Path | None = None, max_running: int = 1):
        self.folder = Path(folder or default_jobs_folder())
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_running = max_running
        self._lock = FileLock(str(self.folder / ".lock"), timeout=30)  # several servers may share the folder

    # asking for work
    def submit(self, task: str, options: dict[str, object]) -> Job:
        run = layout.new_run_dir(task, str(options.get("model") or "default")).resolve()
        job = Job(_new_id(), task, train_command(task, run, options), str(run))
        return self._enqueue(job)

    def resume(self, job_id: str) -> Job:
        old = self.get(job_id)
        if not old.resumable:
            raise OmnituneError(
                f"job {job_id} cannot be resumed: it is {old.state}"
                + ("" if old.state in OPEN_STATES else " and its run has no checkpoint yet"),
                "start it again as a new job",
            )
        return self._enqueue(Job(_new_id(), old.task, ["train", old.task, "--resume", old.run], old.run))

    def cancel(self, job_id: str) -> Job:
        with self._lock:
            job = self.get(job_id)
            if job.state == QUEUED:
                job.state, job.ended = CANCELLED, time.time()
            elif job.state == RUNNING and job.pid:
                job.cancel_asked = True
                _signal_group(job.pid, signal.SIGINT)  # Ctrl-C: the run keeps its checkpoints
            self._save(job)
            return job

    # reading state
    def get(self, job_id: str) -> Job:
        path = self.folder / job_id / JOB
        if not path.is_file():
            raise OmnituneError(f"no job {job_id}", "pick one from the jobs table")
        return Job(**json.loads(path.read_text()))

    def jobs(self) -> list[Job]:
        """Every job, newest first, with the state of running ones brought up to date."""
        found = []
        for path in self.folder.glob(f"*/{JOB}"):
            try:
                found.append(self._refreshed(Job(**json.loads(path.read_text()))))
            except (json.JSONDecodeError, TypeError):
                continue  # a job being written right now; the next look sees it
        return sorted(found, key=lambda job: job.created, reverse=True)

    def log_tail(self, job: Job, lines: int = 40) -> str:
        path = self.folder / job.id / LOG
        if not path.is_file():
            return ""
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - 64_000))
            text = handle.read().decode("utf-8", "replace")
        # progress bars redraw with carriage returns: keep the last drawing of each line
        shown = [line.rsplit("\r", 1)[-1] for line in text.replace("\r\n", "\n").split("\n")]
        return "\n".join([line for line in shown if line.strip()][-lines:])

    def progress(self, job: Job) -> tuple[int, int] | None:
        """(step, steps) of the training loop, as its progress bar last showed them."""
        path = self.folder / job.id / LOG
        if not path.is_file():
            return None
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - 16_000))
            matches = _PROGRESS.findall(handle.read().decode("utf-8", "replace"))
        step, total = map(int, matches[-1]) if matches else (None, None)
        return (step, total) if total else None

    # running
    def tick(self) -> Job | None:
        """Start the oldest queued job when fewer than `max_running` run; returns the job started."""
        with self._lock:
            jobs = self.jobs()
            if sum(job.state == RUNNING for job in jobs) >= self.max_running:
                return None
            waiting = [job for job in jobs if job.state == QUEUED]
            if not waiting:
                return None
            job = waiting[-1]
            folder = self.folder / job.id
            process = subprocess.Popen(
                [sys.executable, "-m", "apps.workbench.job_process", str(folder)],
                start_new_session=True,  # its own process group: Ctrl-C reaches the job, not the server
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            job.state, job.started, job.pid = RUNNING, time.time(), process.pid
            self._save(job)
            return job

    def _refreshed(self, job: Job) -> Job:
        if job.state != RUNNING:
            return job
        exit_file = self.folder / job.id / EXIT_CODE
        if exit_file.is_file() and exit_file.read_text().strip():
            job.exit_code = int(exit_file.read_text())
            job.ended = exit_file.stat().st_mtime
            job.state = FINISHED if job.exit_code == 0 else CANCELLED if job.cancel_asked else FAILED
        elif job.pid and not _alive(job.pid):
            job.state, job.ended = INTERRUPTED, time.time()
        else:
            return job
        self._save(job)
        return job

    def _enqueue(self, job: Job) -> Job:
        with self._lock:
            (self.folder / job.id).mkdir(parents=True)
            self._save(job)
        return job

    def _save(self, job: Job) -> None:
        path = self.folder / job.id / JOB
        scratch = path.with_suffix(".tmp")
        scratch.write_text(json.dumps(asdict(job), indent=2))
        scratch.replace(path)  # readers never see half a file


def _new_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a finished child of this server that nobody waited for yet is a zombie: not alive
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        pass

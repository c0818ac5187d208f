"""`omnitune train TASK --num_processes N`: hand the same command to accelerate's launcher, which starts the
processes (torchrun's agent underneath); omnitune has no launcher of its own."""

from __future__ import annotations

import subprocess
import sys

from shared import distributed
from shared.errors import OmnituneError

# our options that choose the launch; everything else goes to each process unchanged
_LAUNCH_OPTIONS = ("--num_processes", "--num-processes", "--accelerate_config", "--accelerate-config")


def accelerate_command(argv: list[str], num_processes: int | None, config_file: str | None) -> list[str]:
    """`python -m accelerate.commands.launch [...] -m apps.cli <argv without the launch options>`."""
    if num_processes is not None and num_processes < 1:
        raise OmnituneError(
            f"--num_processes {num_processes}: at least one process is needed", "e.g. --num_processes 2"
        )
    command = [sys.executable, "-m", "accelerate.commands.launch"]
    if config_file:
        command += ["--config_file", config_file]  # FSDP, DeepSpeed, machines: as the file says
    if num_processes:
        command += ["--num_processes", str(num_processes)]
        if not config_file and num_processes > 1:
            # accelerate's torchrun path; without a GPU its processes form a gloo group on the CPU (its --cpu
            # flag would start one process and expect mpirun for more)
            command += ["--multi_gpu", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    return command + ["-m", "apps.cli", *_without_launch_options(argv)]


def _without_launch_options(argv: list[str]) -> list[str]:
    kept, skip = [], False
    for token in argv:
        if skip:
            skip = False
            continue
        name, has_value, _ = token.partition("=")
        if name in _LAUNCH_OPTIONS:
            skip = not has_value
            continue
        kept.append(token)
    return kept


def relaunch_with_accelerate(argv: list[str], num_processes: int | None, config_file: str | None) -> int:
    if distributed.launched():
        raise OmnituneError(
            "--num_processes was given inside a process that a launcher already started",
            "drop --num_processes when running under torchrun or accelerate launch",
        )
    command = accelerate_command(argv, num_processes, config_file)
    print("launching: " + " ".join(command), flush=True)
    return subprocess.call(command)

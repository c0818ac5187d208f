"""One job's process: runs `omnitune <argv>` with its output in the job's log, then writes the exit code, which
is how the app learns that the job ended (also after the app itself was restarted).

    python -m apps.workbench.job_process JOB_FOLDER
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from apps.workbench.jobs import EXIT_CODE, JOB, LOG


def main(folder: Path) -> int:
    argv = json.loads((folder / JOB).read_text())["argv"]
    # Ctrl-C (cancel) reaches the whole process group: the training process stops itself and keeps its
    # checkpoints; this process only waits for it, so that the exit code is still written
    signal.signal(signal.SIGINT, lambda *_: None)
    with (folder / LOG).open("ab") as log:
        log.write(f"$ omnitune {' '.join(argv)}\n".encode())
        log.flush()
        process = subprocess.Popen(
            [sys.executable, "-m", "apps.cli", *argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},  # the log follows the run line by line
        )
        while True:
            try:
                code = process.wait()
                break
            except InterruptedError:
                continue
    (folder / EXIT_CODE).write_text(str(code))
    return code


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))

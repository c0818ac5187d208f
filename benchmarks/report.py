"""What every benchmark's JSON carries about the machine, and where it is written."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import torch

RESULTS = Path(__file__).parent / "results"


def machine() -> dict:
    return {"cpu_threads": torch.get_num_threads(), "torch": torch.__version__, "python": platform.python_version()}


def save(result: dict, path: Path) -> None:
    """Write the result as JSON (creating results/) and print it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))

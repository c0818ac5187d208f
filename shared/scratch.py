"""Files the demos hand to Gradio (synthesised speech, plots, attention pictures): written in one temporary folder
per process that keeps only the newest KEEP of them and is removed when the process ends. Gradio copies each
returned file into its own cache (cleaned by the demos' delete_cache) before the page shows it, so older ones
are no longer needed; before this, every request left a file in /tmp for good."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

KEEP = 64  # far more than the requests in flight at once, whose files Gradio may not have copied yet
_folder: tempfile.TemporaryDirectory | None = None


def scratch_file(suffix: str) -> Path:
    """A new empty file (e.g. ".wav") in the demos' bounded scratch folder."""
    folder = _make_room()
    handle, name = tempfile.mkstemp(suffix=suffix, dir=folder)
    os.close(handle)
    return Path(name)


def scratch_folder(prefix: str) -> Path:
    """A new empty folder in the demos' bounded scratch folder."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=_make_room()))


def _make_room() -> Path:
    global _folder
    if _folder is None:
        _folder = tempfile.TemporaryDirectory(prefix="omnitune-demo-")
    root = Path(_folder.name)
    entries = sorted(root.iterdir(), key=lambda p: p.stat().st_mtime)
    for old in entries[: max(0, len(entries) - KEEP + 1)]:
        if old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)
    return root

"""Output monitoring for `predict` and the demos: flag inputs and outputs that contain listed offensive terms,
and answers given with low confidence, so that a person looks at them; an opt-in JSONL log of flagged cases
(`--flag_log PATH`; nothing is logged by default).

The lexicon is better_profanity's word list (MIT licence; 916 English profanities and slurs), matched with its
letter-for-symbol variants ("b1tch"), which a hand-made list would miss. A word list flags words, not
meaning: it misses offence without listed words and flags quotation or reclaimed use; it asks for review."""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from better_profanity import profanity

_WORD = re.compile(r"\S+")
_loaded = threading.Lock()
_ready = False


def offensive_terms(text: str) -> list[str]:
    """The listed terms in `text`, as written there ("a listed phrase" for a multi-word entry)."""
    global _ready
    with _loaded:
        if not _ready:
            profanity.load_censor_words()
            _ready = True
    if not text or not profanity.contains_profanity(text):
        return []
    words = [word.strip(".,;:!?\"'()[]") for word in _WORD.findall(text)]
    return [word for word in words if word and profanity.contains_profanity(word)] or ["a listed phrase"]


def flags(inputs: dict[str, Any], outputs: dict[str, Any], low_confidence: str | None = None) -> list[str]:
    """Why this answer deserves a look: offensive terms in a text input or output, or `low_confidence` (the
    task's own words for it, e.g. "uncertain: top class at 31%")."""
    found = []
    for side, values in (("input", inputs), ("output", outputs)):
        for name, value in values.items():
            for text in value if isinstance(value, list) else [value]:
                terms = offensive_terms(text) if isinstance(text, str) else []
                if terms:
                    found.append(f"offensive term in the {side} '{name}': {', '.join(sorted(set(terms)))}")
    if low_confidence:
        found.append(low_confidence)
    return found


def log_flagged(path: str | None, task: str, inputs: dict, outputs: dict, found: list[str]) -> None:
    """Append one JSON line for a flagged answer to `path` (opt-in: None logs nothing). File inputs are logged
    by name only, never their contents."""
    if not path or not found:
        return
    shown = {
        name: value if isinstance(value, (str, int, float)) else str(value)[:200] for name, value in inputs.items()
    }
    record = {
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "task": task,
        "inputs": shown,
        "outputs": outputs,
        "flags": found,
    }
    with Path(path).expanduser().open("a", encoding="utf-8") as file:
        file.write(json.dumps(record, default=str) + "\n")


def monitored(task, inputs: dict, described: dict, params) -> dict:
    """`described` (what predict shows) with its "flags", logged when the user asked for a log."""
    found = flags(inputs, described, task.low_confidence(described, params))
    log_flagged(params.flag_log, task.name, inputs, described, found)
    return {**described, "flags": found}

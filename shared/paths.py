"""Where omnitune keeps things: OMNITUNE_HOME (the shelf cache, wheels, the default leaderboard) and the runs root."""

import os
from pathlib import Path


def omnitune_home() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "omnitune"
    return Path(os.environ.get("OMNITUNE_HOME", default)).expanduser()


def runs_root() -> Path:
    return Path(os.environ.get("OMNITUNE_RUNS", "runs")).expanduser()

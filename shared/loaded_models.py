"""Models built for prediction, kept in memory by (task, model, settings), so that the demos, the web app's
Compare view and every browser session share one copy instead of loading a model per page visit. Bounded: past
OMNITUNE_LOADED_MODELS (default 6) models the least recently used one is dropped."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

from shared.pretrained import resolve

_held: OrderedDict[tuple, object] = OrderedDict()
_guard = threading.Lock()
_building: dict[tuple, threading.Lock] = {}


def capacity() -> int:
    return max(1, int(os.environ.get("OMNITUNE_LOADED_MODELS", "6")))


def loaded(task, model: str, params):
    """`task.build(resolve(model), params)`, built once per (task, model, settings) while it stays in use."""
    key = (task.name, str(model), params.model_dump_json())
    with _guard:
        if key in _held:
            _held.move_to_end(key)
            return _held[key]
        building = _building.setdefault(key, threading.Lock())
    with building:  # two sessions asking for the same model at once build it once
        with _guard:
            if key in _held:
                return _held[key]
        built = task.build(resolve(model, params.allow_pickle), params)
        with _guard:
            _held[key] = built
            _building.pop(key, None)
            while len(_held) > capacity():
                _held.popitem(last=False)
        return built

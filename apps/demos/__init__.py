"""The demo of a task: the `demo.py` in the task's own folder (or in the folder of the class it builds on, as
translation and summarization share tasks/seq2seq/demo.py), whose `build(task, model, params)` returns Gradio
Blocks. Nothing to register: a new task with a demo.py has a demo."""

from __future__ import annotations

import importlib
import importlib.util

from shared.errors import OmnituneError
from tasks.registry import TASKS, get_task

GRADIO_CACHE_CLEANUP = (3600, 3600)  # every hour, Gradio deletes the files it cached for the page over an hour ago


def build_demo(task_name: str, model: str, **kwargs):
    module = _demo_module(task_name)
    if module is None:
        with_demo = [name for name in TASKS if name != task_name and has_demo(name)]
        raise OmnituneError(
            f"no demo for task '{task_name}' (no demo.py in its folder)", f"demos exist for: {', '.join(with_demo)}"
        )
    demo = module.build(get_task(task_name), model, **kwargs)
    demo.delete_cache = demo.delete_cache or GRADIO_CACHE_CLEANUP
    return demo


def has_demo(task_name: str) -> bool:
    return _demo_module(task_name) is not None


def _demo_module(task_name: str):
    for cls in type(get_task(task_name)).__mro__:
        package = cls.__module__.rpartition(".")[0]
        if package.startswith("tasks.") and importlib.util.find_spec(f"{package}.demo"):
            return importlib.import_module(f"{package}.demo")
    return None

"""The task protocol is the whole contract: every registered task answers all of it, with its signatures; shared
code never probes a task for undeclared answers; tasks keep no state between steps; metric directions come from
the metric modules themselves."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from evaluation.metrics import available, higher_is_better, lower_is_better
from shared import shelf
from shared.task_protocol import Task
from tasks.registry import TASKS, get_task

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL_METHODS = [name for name, member in vars(Task).items() if callable(member) and not name.startswith("_")]
PROTOCOL_ATTRIBUTES = [name for name in Task.__annotations__]


@pytest.mark.parametrize("name", list(TASKS))
def test_every_task_answers_the_whole_protocol_with_its_signatures(name):
    task = get_task(name)
    assert isinstance(task, Task)
    for attribute in PROTOCOL_ATTRIBUTES:
        assert hasattr(task, attribute), f"{name} does not declare {attribute}"
    for method in PROTOCOL_METHODS:
        declared = list(inspect.signature(getattr(Task, method)).parameters)[1:]
        answered = list(inspect.signature(getattr(task, method)).parameters)
        assert answered == declared, f"{name}.{method}{answered} differs from the protocol's {declared}"
    assert task.metric in available()
    assert task.default_model in shelf.SHELF, f"{name}'s offline default is not on the shelf"


def _shared_code():
    for folder in ("shared", "evaluation", "apps"):
        yield from (ROOT / folder).rglob("*.py")


def test_shared_code_never_probes_a_task_for_undeclared_answers():
    probes = []
    for path in _shared_code():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) in ("hasattr", "getattr")
                and node.args
                and getattr(node.args[0], "id", None) == "task"
            ):
                probes.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not probes, probes


def test_tasks_keep_no_state_between_steps():
    """A task's methods never assign to `self`: what build makes travels in the Built it returns."""
    assignments = []
    task_classes = [
        node
        for path in (ROOT / "tasks").rglob("task.py")
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.ClassDef) and node.name.endswith("Task")
    ]
    assert len(task_classes) >= len(TASKS) - 1  # translation and summarization share Seq2SeqTask's methods
    for path, cls in (
        (path, node)
        for path in (ROOT / "tasks").rglob("task.py")
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.ClassDef) and node.name.endswith("Task")
    ):
        for node in ast.walk(cls):
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, (ast.AugAssign, ast.AnnAssign))
                else []
            )
            for target in targets:
                if isinstance(target, ast.Attribute) and getattr(target.value, "id", None) == "self":
                    assignments.append(f"{path.relative_to(ROOT)}:{node.lineno} self.{target.attr}")
    assert not assignments, assignments


def test_each_task_registers_its_own_offline_default():
    """Importing one task alone (as `omnitune train TASK` does) is enough for its default model to resolve:
    each task in a fresh interpreter, all at once."""
    checks = {
        name: subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"from shared import shelf; from tasks.registry import get_task; "
                f"assert get_task('{name}').default_model in shelf.SHELF",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in TASKS
    }
    failed = {name: process.communicate()[1][-300:] for name, process in checks.items() if process.wait()}
    assert not failed, failed


def test_metric_modules_declare_which_scores_go_down():
    assert lower_is_better("wer") == {"wer", "cer"}
    assert "mel_cepstral_distortion" in lower_is_better("speech_synthesis")
    assert not higher_is_better("wer") and not higher_is_better("eval_cer") and not higher_is_better("eval_loss")
    assert higher_is_better("f1") and higher_is_better("eval_bleu") and higher_is_better("rougeL")
    assert higher_is_better("accuracy", "classification")

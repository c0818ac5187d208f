"""Input checks for the demos' pages: the task's own checks (`example_from_inputs`, as the CLI and API use them)
run as the event's Gradio validator, before the event is queued, so a problem is shown under the input it is
about, in words, instead of a red "Error" badge on every output (what a raised gr.Error draws)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import gradio as gr

from shared.errors import OmnituneError
from shared.output_monitor import monitored


def validator(
    task, params, fields: Sequence[str], missing: dict[str, str] | None = None, contents: bool = True
) -> Callable:
    """For an event whose first inputs are the task's `fields` (in that order; any further inputs, such as
    sliders, are not checked). `missing`: the message for a field left empty (default: the task's own).
    `contents=False`: check only that the fields are given; an uploaded file's contents are then checked by the
    event itself (a file Gradio cannot even decode fails while being validated, and API callers would get a
    bare "400 Bad Request" instead of the message)."""
    missing = missing or {}

    def validate(*values):
        given = dict(zip(fields, values, strict=False))
        problem, at = _problem(task if contents else None, params, given, missing)
        return [gr.validate(index != at, problem or "") for index in range(len(values))]

    return validate


def _problem(task, params, given: dict, missing: dict[str, str]) -> tuple[str | None, int | None]:
    names = list(given)
    for index, name in enumerate(names):
        if name in missing and given[name] in (None, ""):
            return missing[name], index
    if task is None:
        return None, None
    try:
        task.example_from_inputs(given, params)
    except OmnituneError as error:
        return _without_paths(error.sentence, given), names.index(error.field) if error.field in names else 0
    return None, None


def _without_paths(sentence: str, given: dict) -> str:
    """An upload's temporary path means nothing to the person who uploaded it."""
    for value in given.values():
        if isinstance(value, str) and "/" in value:
            sentence = sentence.replace(f"{value}: ", "").replace(value, "the file")
    return sentence[:1].upper() + sentence[1:]


def reviewed(task, params, inputs: dict, outputs: dict) -> list[str]:
    """Output monitoring on a demo page (shared/output_monitor.py): each flag shown as a warning beside the
    answer, and logged when the demo was started with --flag_log; returns the flags for the page's details."""
    found = monitored(task, inputs, outputs, params)["flags"]
    for flag in found:
        gr.Warning(flag)
    return found

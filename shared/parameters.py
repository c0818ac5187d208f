"""Where a run's parameters come from, decided in one place for the CLI, the Python API, the demos and
quickstart: the task's defaults for its bundled data, a YAML file, the caller's values, and the rules that
follow from them (LoRA's learning rate); for a trained model, the settings its run was trained with."""

from __future__ import annotations

from typing import Any

from shared import run_dir as layout
from shared.config import TrainParams, load_params, read_config
from shared.task_protocol import Task

# LoRA adapters start at zero and move only a few parameters: they want about 10x the full fine-tuning rate
# (the LoRA paper used 4e-4 to 2e-3 for RoBERTa). Used when the user does not set learning_rate.
LORA_LEARNING_RATE = 1e-3


def resolve_params(task: Task, config_file: str | None = None, overrides: dict[str, Any] | None = None) -> TrainParams:
    """Parameters for training: the task's bundled-data defaults apply only when the user trains on the bundled
    data; then the YAML file, then `overrides`."""
    overrides = overrides or {}
    given = {**(read_config(config_file) if config_file else {}), **overrides}
    uses_bundled = given.get("data") is None
    merged = {**(task.bundled_data_defaults if uses_bundled else {}), **overrides}
    if given.get("peft") == "lora" and "learning_rate" not in given:
        merged["learning_rate"] = LORA_LEARNING_RATE
    return load_params(task.params_class, config_file, merged)


def params_for_model(
    task: Task, model: str, config_file: str | None = None, overrides: dict[str, Any] | None = None
) -> TrainParams:
    """Parameters for using a model: a run's own settings (window size, stride, thresholds, data), else the task's
    bundled-data defaults when the bundled data is used; then a YAML file, then `overrides`."""
    run = layout.run_of(model)
    overrides = overrides or {}
    if run:
        values = read_config(run / layout.CONFIG)
    else:
        given = {**(read_config(config_file) if config_file else {}), **overrides}
        values = dict(task.bundled_data_defaults) if given.get("data") is None else {}
    if config_file:
        values.update(load_params(task.params_class, config_file).model_dump(exclude_unset=True))
    values.update(overrides)
    return load_params(task.params_class, None, values)

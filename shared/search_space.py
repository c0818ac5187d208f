"""What `omnitune tune` searches: one dimension per training parameter (a float or int range, log-scaled or not,
or a list of choices), declared by each task (`Task.search_space`) or given as YAML, e.g.

    learning_rate: {type: float, low: 1.0e-5, high: 1.0e-3, log: true}
    num_train_epochs: {type: int, low: 1, high: 4}
    lora_r: {type: categorical, choices: [4, 8, 16]}

A space is checked before any trial starts: unknown parameters (with the closest valid name), empty ranges,
log scales that reach zero and choices the parameter itself refuses are one-line errors."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from shared.errors import OmnituneError


class Dimension(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _consistent(self):
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical dimension needs a non-empty 'choices' list")
            if self.low is not None or self.high is not None or self.log:
                raise ValueError("a categorical dimension takes 'choices', not low/high/log")
            return self
        if self.low is None or self.high is None:
            raise ValueError(f"a {self.type} dimension needs 'low' and 'high'")
        if self.choices is not None:
            raise ValueError(f"a {self.type} dimension takes low/high, not 'choices'")
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"a log scale needs low > 0 (got {self.low})")
        return self

    def suggest(self, trial, name: str) -> Any:
        """This dimension's value for an Optuna trial."""
        if self.type == "categorical":
            return trial.suggest_categorical(name, self.choices)
        if self.type == "int":
            return trial.suggest_int(name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(name, self.low, self.high, log=self.log)

    def contains(self, value: Any) -> bool:
        if self.type == "categorical":
            return value in self.choices
        return isinstance(value, int | float) and self.low <= value <= self.high

    def corners(self) -> list[Any]:
        """The extreme values, to check that the parameter accepts them before a trial is spent."""
        if self.type == "categorical":
            return list(self.choices)
        cast = int if self.type == "int" else float
        return [cast(self.low), cast(self.high)]


Space = dict[str, Dimension]


def parse_space(raw: dict[str, Any], params_class: type[BaseModel], where: str = "the search space") -> Space:
    """Dimensions from plain values (a task's declaration or a YAML file), checked against the task's parameters."""
    if not isinstance(raw, dict) or not raw:
        raise OmnituneError(f"{where} is empty or not a mapping", "give one 'parameter: {type: ...}' per line")
    fields = params_class.model_fields
    space = {}
    for name, spec in raw.items():
        if name not in fields:
            close = difflib.get_close_matches(name, list(fields), n=1)
            raise OmnituneError(
                f"{where}: '{name}' is not a training parameter of this task",
                f"did you mean '{close[0]}'?" if close else "see `omnitune train TASK --help` for the parameters",
            )
        try:
            dimension = Dimension.model_validate(spec)
        except ValidationError as error:
            reason = error.errors()[0]["msg"].removeprefix("Value error, ")
            raise OmnituneError(
                f"{where}: '{name}': {reason}", "e.g. {type: float, low: 1.0e-5, high: 1.0e-3}"
            ) from None
        for value in dimension.corners():
            try:
                params_class.model_validate({name: value})
            except ValidationError as error:
                reason = error.errors()[0]["msg"]
                raise OmnituneError(
                    f"{where}: '{name}' cannot be {value!r} ({reason})", "narrow the range to values it accepts"
                ) from None
        space[name] = dimension
    return space


def read_space(path: str, params_class: type[BaseModel]) -> Space:
    file = Path(path).expanduser()
    if not file.is_file():
        raise OmnituneError(f"search space file {file} does not exist", "check the path given to --space")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise OmnituneError(f"{file} is not valid YAML: {str(error).splitlines()[0]}", "fix the file") from None
    return parse_space(raw, params_class, where=str(file))

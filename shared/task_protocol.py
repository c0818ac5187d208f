"""The protocol every task answers (see DESIGN.md): shared services (training, evaluation, CLI, demos) talk to
a task only through this, so a new task is one folder and one registry line, never an `if task == ...`."""

from __future__ import annotations

from typing import Any, Protocol

from datasets import Dataset

from shared.config import TrainParams


class Task(Protocol):
    name: str  # the Hub's task name, e.g. "question-answering"
    params_class: type[TrainParams]
    default_model: str  # a shelf entry, so the default works offline
    default_data_name: str  # how the bundled data is named on the leaderboard
    metric: str  # local evaluate module under evaluation/metrics
    primary_metric: str  # the metric that ranks models and picks the best checkpoint
    head_modules: tuple[str, ...]  # new task-head modules: trained in full even under LoRA
    bundled_data_defaults: dict[str, Any]  # parameter defaults when training on the bundled data
    quickstart_overrides: dict[str, Any]  # what `omnitune quickstart` changes to fit its time budget
    input_fields: tuple[str, ...]  # what one prediction needs, e.g. ("question", "context")

    # 1. raw examples, checked (raises OmnituneError before any model is loaded)
    def load_examples(self, params: TrainParams, split: str) -> Dataset: ...

    # 3. pretrained model + processor (tokenizer / image or feature processor)
    def build(self, model_path: str, params: TrainParams) -> tuple[Any, Any]: ...

    # 2. examples -> model inputs; `for_eval` keeps what decoding needs (offsets, ids)
    def features(self, examples: Dataset, processor: Any, params: TrainParams, for_eval: bool) -> Dataset: ...

    # 4. model outputs -> answers, and answers -> what the metric compares
    def decode(self, examples: Dataset, features: Dataset, outputs: Any, params: TrainParams) -> list[Any]: ...

    def predict(self, model: Any, processor: Any, examples: Dataset, params: TrainParams,
                batch_size: int) -> list[Any]: ...

    # 5. metric inputs
    def metric_inputs(self, answers: list[Any], examples: Dataset, params: TrainParams) -> dict[str, Any]: ...

    def collator(self, processor: Any) -> Any: ...

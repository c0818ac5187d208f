"""The protocol every task answers (see DESIGN.md): shared services (training, evaluation, the CLI, the demos)
talk to a task only through this, so a new task is one folder and one registry line, never an `if task == ...`.

Everything shared code may ask a task is declared here. `TaskDefaults` (shared/task_defaults.py) gives the
declared default of each optional answer, so shared code never probes a task with `hasattr`. Tasks are
stateless: `build` returns a `Built`, and every later step receives it; nothing flows through the task object,
so the steps can run in any order, in any process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from datasets import Dataset

from shared.config import TrainParams
from shared.errors import OmnituneError


@dataclass
class Built:
    """A model made ready for one task: what `Task.build` returns and every later step receives."""

    model: Any  # a transformers model, or an inference-only runtime (an ONNX voice)
    processor: Any  # tokenizer, image or feature processor, tokenizer pair; None where the model needs none
    generates: bool = False  # evaluated by generating text (Seq2SeqTrainer, predict-with-generate)
    labels: list[str] | None = None  # class names in the model's output order (classification tasks)
    extras: dict[str, Any] = field(default_factory=dict)  # what else the model works with (a vocoder, ...)
    untrained: tuple[str, ...] = ()  # weights the checkpoint lacked, initialised at random (a new head)

    def require_trained(self, model_ref: str, task_name: str) -> None:
        """Answering with a random head (a base model's "LABEL_0 0.74") would look like a prediction: refuse."""
        if self.untrained:
            raise OmnituneError(
                f"{model_ref} has no trained {task_name} head ({', '.join(self.untrained[:3])} would be random)",
                f"fine-tune it first (omnitune train {task_name} --model {model_ref}) and use the run folder",
            )


@dataclass
class Scorer:
    """The task metric, as training and evaluation apply it: answers and their examples -> scores, and which
    way each score is better (declared by the metric module itself)."""

    score: Callable[[list[Any], Any], dict[str, float]]
    higher_is_better: Callable[[str], bool]


@dataclass
class TrainResult:
    """What a training run produced, for metrics.json, the model card and the caller."""

    run: Path
    model_dir: Path
    base_model: str
    train_seconds: float
    train_examples: int
    trainable_parameters: int
    total_parameters: int
    stopped_by_budget: bool
    processes: int = 1  # processes that trained together (torchrun / accelerate launch)
    extra: dict = field(default_factory=dict)  # task-specific facts for metrics.json (e.g. feature-cache timing)


@dataclass(frozen=True)
class Quickstart:
    """What `omnitune quickstart` does with a task: a few minutes that end no worse than where the task starts.

    "train": fine-tune the offline default with `overrides`, a budget in steps or examples (so a busy machine
    gets the same numbers), with `safety_minutes` as a net that says when it cut a run short; "evaluate": score
    the offline default as it is; "skip": nothing in minutes beats the task's trivial baseline. `why` says why
    not "train"; `full_run` is the command for the full-quality run, shown beside the quickstart's figure."""

    action: Literal["train", "evaluate", "skip"] = "train"
    overrides: dict[str, Any] = field(default_factory=dict)
    minutes: float = 3.0  # measured on 2 CPU cores, training and evaluation together: the announced estimate
    safety_minutes: float = 30.0
    why: str = ""
    full_run: str = ""


@runtime_checkable
class Task(Protocol):
    name: str  # the Hub's task name, e.g. "question-answering"
    params_class: type[TrainParams]
    default_model: str  # a shelf entry, so the default works offline
    default_data_name: str  # how the bundled data is named on the leaderboard
    metric: str  # local evaluate module under evaluation/metrics
    primary_metric: str  # the metric that ranks models and picks the best checkpoint
    head_modules: tuple[str, ...]  # new task-head modules: trained in full even under LoRA
    bundled_data_defaults: dict[str, Any]  # parameter defaults when training on the bundled data
    quickstart: Quickstart  # what `omnitune quickstart` does with it, in steps, never worse than the start
    input_fields: tuple[str, ...]  # what one prediction needs, e.g. ("question", "context")
    # the data audit's view of an example: column -> kind (inputs "text", "words", "image", "audio" make its
    # identity; "target-text", "target-audio", "label", "tags", "speaker" are described; evaluation/audit)
    audit_columns: dict[str, str]
    scores_during_training: bool  # evaluation during training computes the task metric (else the loss only)
    speed_sample: dict[str, int]  # examples timed for latency and throughput (a generation costs more)

    # 1. raw examples, checked (raises OmnituneError before any model is loaded)
    def load_examples(self, params: TrainParams, split: str) -> Dataset: ...

    # 3. pretrained model + processor, for these examples: `training` may give the model a new head for their
    # labels or vocabulary; otherwise a model that cannot answer them is refused
    def build(
        self, model_path: str, params: TrainParams, examples: Dataset | None = None, training: bool = False
    ) -> Built: ...

    # 2. examples -> model inputs; `for_eval` keeps what decoding needs (offsets, ids)
    def features(self, examples: Dataset, built: Built, params: TrainParams, for_eval: bool) -> Any: ...

    def collator(self, built: Built, params: TrainParams) -> Any: ...

    # training: the default is shared.training.fine_tune; a task with its own path (a linear probe) overrides it.
    # `callbacks` are transformers TrainerCallbacks (a tuning study's pruner); a path without a Trainer ignores them.
    def train(
        self,
        params: TrainParams,
        scorer: Scorer | None,
        run: Path,
        resume: bool = False,
        log: Callable[[str], None] = print,
        callbacks: list | None = None,
    ) -> TrainResult: ...

    def search_space(self, params: TrainParams) -> dict[str, dict[str, Any]]: ...  # what `omnitune tune` searches

    def training_generation(self, built: Built, params: TrainParams) -> Any: ...  # None: no generation

    def optimizer(self, model: Any, params: TrainParams) -> Any: ...  # None: Trainer's AdamW

    def loss_function(self) -> Callable | None: ...  # None: the model's own loss

    def save_extras(self, built: Built, model_dir: Path) -> None: ...  # what the model needs beside its weights

    # 4. model outputs -> answers
    def decode(self, examples: Dataset, features: Any, outputs: Any, built: Built, params: TrainParams) -> list: ...

    def predict(self, built: Built, examples: Any, params: TrainParams, batch_size: int) -> list: ...

    # 5. answers -> what the metric compares; a trivial baseline on the same examples (None: the task has none)
    def metric_inputs(self, answers: list, examples: Dataset, params: TrainParams) -> dict[str, Any]: ...

    def baseline(self, examples: Dataset, params: TrainParams) -> tuple[str, list] | None: ...

    def input_seconds(self, examples: Dataset) -> float | None: ...  # media duration, for a real-time factor

    def write_artifacts(
        self, answers: list, examples: Dataset, params: TrainParams, folder: Path, split: str
    ) -> None: ...  # what a user would rather see than read (plots, samples)

    # the command line: values given as --name -> one example, checked as the task's demo checks them (empty,
    # too large, unreadable: an OmnituneError whose problem is the demo's sentence); one answer -> what is printed;
    # what the model made of the input when the user should know (e.g. that it was cut) -> printed beside it
    def example_from_inputs(self, inputs: dict[str, Any], params: TrainParams) -> dict[str, list]: ...

    def describe_answer(self, answer: Any, built: Built, params: TrainParams) -> dict[str, Any]: ...

    def describe_input(self, example: dict[str, list], built: Built, params: TrainParams) -> dict[str, Any]: ...

    # output monitoring (shared/output_monitor.py): why a described answer is too unsure to take as it is, in
    # words, or None (QA's own threshold already abstains: its "no answer" is the unsure case)
    def low_confidence(self, described: dict[str, Any], params: TrainParams) -> str | None: ...

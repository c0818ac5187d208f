"""The declared default of every optional answer in the task protocol (shared/task_protocol.py). A task class
lists `TaskDefaults` among its bases and overrides only what it does differently; shared code then calls every
answer unconditionally."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from datasets import Dataset

from shared.config import TrainParams
from shared.task_protocol import Built, Quickstart, Scorer
from shared.training import TrainResult, fine_tune


class TaskDefaults:
    scores_during_training = True
    speed_sample: dict[str, int] = {}  # measure_speed's own sample sizes
    quickstart = Quickstart()

    def train(
        self,
        params: TrainParams,
        scorer: Scorer | None,
        run: Path,
        resume: bool = False,
        log: Callable[[str], None] = print,
        callbacks: list | None = None,
    ) -> TrainResult:
        return fine_tune(self, params, scorer, run, resume=resume, log=log, callbacks=callbacks)

    def search_space(self, params: TrainParams) -> dict[str, dict[str, Any]]:
        """The optimiser's learning rate, length, warm-up and weight decay; under LoRA the adapter's rank and
        scale too (shared.search_space says how a dimension is written). The length is searched in the unit the
        budget is set in: a third, two thirds or all of max_steps when it is set (epochs would be ignored)."""
        length: dict[str, Any] = {"type": "int", "low": 1, "high": 4}
        if params.max_steps > 0:
            length = {"type": "categorical", "choices": sorted({params.max_steps * k // 3 or 1 for k in (1, 2, 3)})}
        space: dict[str, dict[str, Any]] = {
            "learning_rate": {"type": "float", "low": 1e-5, "high": 1e-3, "log": True},
            "max_steps" if params.max_steps > 0 else "num_train_epochs": length,
            "warmup_ratio": {"type": "float", "low": 0.0, "high": 0.2},
            "weight_decay": {"type": "float", "low": 0.0, "high": 0.1},
        }
        if params.peft == "lora":
            space["lora_r"] = {"type": "categorical", "choices": [4, 8, 16, 32]}
            space["lora_alpha"] = {"type": "categorical", "choices": [8, 16, 32, 64]}
        return space

    def training_generation(self, built: Built, params: TrainParams) -> Any:
        return None

    def optimizer(self, model: Any, params: TrainParams) -> Any:
        return None

    def loss_function(self) -> Callable | None:
        return None

    def save_extras(self, built: Built, model_dir: Path) -> None:
        return None

    def baseline(self, examples: Dataset, params: TrainParams) -> tuple[str, list] | None:
        return None

    def input_seconds(self, examples: Dataset) -> float | None:
        return None

    def write_artifacts(self, answers: list, examples: Dataset, params: TrainParams, folder: Path, split: str) -> None:
        return None

    def example_from_inputs(self, inputs: dict[str, Any], params: TrainParams) -> dict[str, list]:
        return {"id": ["0"], **{name: [str(value)] for name, value in inputs.items()}}

    def describe_answer(self, answer: Any, built: Built, params: TrainParams) -> dict[str, Any]:
        return asdict(answer) if is_dataclass(answer) else {"answer": answer}

    def describe_input(self, example: dict[str, list], built: Built, params: TrainParams) -> dict[str, Any]:
        return {}

    def low_confidence(self, described: dict[str, Any], params: TrainParams) -> str | None:
        return None

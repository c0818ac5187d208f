"""Validated run parameters. Knob names are Trainer's and run_qa.py's, so users' habits carry over.

A task extends `TrainParams` with its own fields; `load_params` merges a YAML file and command-line overrides,
and an unknown key is an error that names the closest valid one.
"""

from __future__ import annotations

import difflib
import json
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from shared.errors import OmnituneError


class TrainParams(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str | None = Field(
        None, description="shelf entry, local save_pretrained folder or Hub id (task default if unset)"
    )
    data: str | None = Field(None, description="data file/folder or Hub dataset id (bundled data if unset)")
    train_split: str = "train"
    eval_split: str = "validation"
    test_split: str = "test"
    column_mapping: dict[str, str] = Field(default_factory=dict, description="task column -> column in your data")
    output_dir: str | None = Field(None, description="run folder (default: runs/<task>/<timestamp>)")
    overwrite_output_dir: bool = Field(False, description="replace what an existing --output_dir holds")
    max_train_samples: int | None = Field(None, ge=1)
    max_eval_samples: int | None = Field(None, ge=1)
    max_train_minutes: float | None = Field(None, description="stop training (and save) after this many minutes")
    # Trainer's names
    learning_rate: float = Field(5e-5, gt=0)
    num_train_epochs: float = Field(1.0, gt=0)
    max_steps: int = Field(-1, ge=-1, description="training steps; -1: num_train_epochs decides")
    per_device_train_batch_size: int = Field(16, ge=1)
    per_device_eval_batch_size: int = Field(32, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    warmup_ratio: float = Field(0.0, ge=0.0, lt=1.0)
    warmup_steps: int = Field(0, ge=0, description="overrides warmup_ratio when > 0")
    weight_decay: float = 0.0
    lr_scheduler_type: str = "linear"
    seed: int = 42
    eval_strategy: Literal["no", "steps", "epoch"] = "epoch"
    eval_steps: int | None = None
    save_steps: int = Field(100, ge=1)
    save_total_limit: int = Field(2, ge=1)
    logging_steps: int = Field(10, ge=1)
    early_stopping_patience: int | None = Field(None, description="evaluations without improvement before stopping")
    metric_for_best_model: str | None = None
    report_to: list[str] = Field(default_factory=lambda: ["none"])
    group_by_length: bool = Field(True, description="batch examples of similar length together (less padding)")
    remove_unused_columns: bool = Field(True, description="Trainer drops inputs the model's forward does not take")
    attention_dropout: float | None = Field(
        0.0,
        description="attention-probability dropout while fine-tuning; None keeps the model's own. 0 by "
        "default: with dropout, PyTorch's fused CPU attention falls back to a path 2.5x slower (measured)",
    )
    # devices and scale (Trainer's names); the device is found: CUDA, else MPS, else the CPU
    bf16: bool = Field(False, description="bfloat16 mixed precision (GPUs with bf16; slow on most CPUs)")
    fp16: bool = Field(False, description="float16 mixed precision with loss scaling (CUDA)")
    gradient_checkpointing: bool = Field(
        False, description="recompute activations in the backward pass: less memory for about a third more compute"
    )
    torch_compile: bool = Field(False, description="compile the model with torch.compile before training")
    optim: str = Field("adamw_torch", description="Trainer's optimizer name, e.g. adamw_torch_fused, adafactor")
    ddp_find_unused_parameters: bool | None = Field(
        None,
        description="DDP looks for parameters that got no gradient in each step (an extra autograd traversal "
        "per step); unset: only for a model that may skip some of its own (LayerDrop, SpecAugment embeddings)",
    )
    # transfer learning
    peft: Literal["none", "lora"] = "none"
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    lora_target_modules: list[str] | None = Field(None, description="found automatically when unset")
    lora_scope: Literal["all-linear", "attention"] = Field(
        "all-linear", description="which Linear layers LoRA adapts when lora_target_modules is unset"
    )
    merge_lora: bool = Field(True, description="also export a merged model next to the adapter")
    # efficient attention (shared/attention): on the encoder, for long inputs
    attention: Literal["dense", "linformer", "sliding-window", "token-merging", "token-pruning"] = Field(
        "dense",
        description="dense (the model's own), linformer (keys/values projected to linformer_k), "
        "sliding-window (each token sees attention_window neighbours each side + global_tokens), "
        "token-merging (ToMe: merge_per_layer similar tokens merged before each layer), or token-pruning "
        "(EViT: only the keep_ratio most important tokens go on after each of prune_layers)",
    )
    linformer_k: int = Field(128, ge=1, description="Linformer: projected length of keys and values")
    linformer_sharing: Literal["layer", "head", "key-value"] = "layer"
    attention_window: int = Field(128, ge=1, description="sliding-window: neighbours seen on each side")
    global_tokens: int = Field(1, ge=0, description="sliding-window: leading tokens that see and are seen by all")
    merge_per_layer: int = Field(16, ge=0, description="token-merging: tokens merged away before each layer")
    keep_ratio: float = Field(0.7, gt=0, le=1, description="token-pruning: share of tokens kept at each pruning")
    prune_layers: list[int] | None = Field(
        None, description="token-pruning: prune after these many layers (default: after 1/4, 1/2, 3/4 of them)"
    )
    max_positions: int | None = Field(
        None,
        description="grow the position table to this length (copies of the "
        "pretrained positions), for inputs past the pretrained 512",
    )
    # trust: what the data and the model are checked for besides the task metric
    audit: bool = Field(True, description="audit the data at the start of training (data_audit.md in the run folder)")
    probes: list[Literal["bias"]] = Field(
        default_factory=list, description="probes run with the test evaluation: bias (README 'Bias probes')"
    )
    flag_log: str | None = Field(
        None, description="predict/demos: append flagged answers (offensive terms, low confidence) to this JSONL"
    )
    # safety
    allow_pickle: bool = Field(False, description="allow loading pickled (.bin/.pt) weights; safetensors otherwise")

    def split_name(self, role: str) -> str:
        """The data split that plays `role` ("train", "eval", "test"; any other name is taken as a split)."""
        return {"train": self.train_split, "eval": self.eval_split, "test": self.test_split}.get(role, role)

    def limited(self, examples, role: str):
        """A seeded sample within max_train_samples / max_eval_samples; the test split is always scored whole."""
        limit = {"train": self.max_train_samples, "eval": self.max_eval_samples}.get(role)
        if limit is not None and limit < len(examples):
            return examples.shuffle(seed=self.seed).select(range(limit))
        return examples

    @field_validator("max_steps")
    @classmethod
    def _some_steps(cls, value):
        if value == 0:
            raise ValueError("0 steps would record the untrained model as a trained run; give -1 or a positive number")
        return value

    @field_validator("eval_strategy", mode="before")
    @classmethod
    def _yaml_no(cls, value):
        return "no" if value is False else value  # YAML 1.1 reads a bare `no` as false


def _closest(key: str, valid: list[str]) -> str:
    match = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    return f"did you mean '{match[0]}'?" if match else f"valid keys: {', '.join(sorted(valid))}"


def read_config(config_file: str | Path) -> dict[str, Any]:
    """The key: value mapping of a YAML parameter file (a run's config.yaml or the user's --config)."""
    path = Path(config_file)
    if not path.is_file():
        raise OmnituneError(f"config file {path} does not exist", "check the path given to --config")
    try:
        loaded = yaml.safe_load(path.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        problem = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise OmnituneError(
            f"config file {path} is not plain YAML ({problem})",
            "write key: value lines (tags such as !!python/object are refused)",
        ) from None
    if not isinstance(loaded, dict):
        raise OmnituneError(f"config file {path} must be a mapping of key: value", "see configs in the README")
    return loaded


def load_params(
    params_class: type[TrainParams], config_file: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> TrainParams:
    """YAML file first, command-line overrides on top (an explicit None too: `--max_train_minutes none` lifts a
    default time limit); anything unknown or ill-typed is a clear error."""
    values: dict[str, Any] = read_config(config_file) if config_file else {}
    values.update(overrides or {})
    valid = list(params_class.model_fields)
    unknown = [k for k in values if k not in params_class.model_fields]
    if unknown:
        key = unknown[0]
        raise OmnituneError(f"unknown option '{key}'", _closest(key, valid))
    try:
        return params_class(**values)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise OmnituneError(
            f"option '{where}': {first['msg']} (got {first.get('input')!r})", f"give '{where}' a valid value"
        ) from None


def from_text(name: str, text: str, annotation: Any) -> Any:
    """A command-line value as its parameter's type, by pydantic (lax mode: "3e-5" -> 3e-05, "true" -> True),
    so that the command line and a YAML file are validated alike. Lists are given as `a,b` (or JSON), mappings as
    `k=v,k2=v2` (or a JSON object), nothing as `none`."""
    shapes = {typing.get_origin(a) or a for a in _members(annotation)}
    if text.strip().lower() in ("none", "null") and type(None) in shapes:
        return None
    try:
        if dict in shapes:
            value = (
                json.loads(text)
                if text.lstrip().startswith("{")
                else dict(pair.split("=", 1) for pair in text.split(",") if pair)
            )
        elif list in shapes:
            value = json.loads(text) if text.lstrip().startswith("[") else [item for item in text.split(",") if item]
        else:
            value = text
        return TypeAdapter(annotation).validate_python(value)
    except (ValueError, ValidationError):  # ValidationError first: it is a ValueError too
        form = (
            "key=value pairs (a=b,c=d) or a JSON object"
            if dict in shapes
            else "comma-separated values"
            if list in shapes
            else _type_name(annotation)
        )
        raise OmnituneError(
            f"option '{name}': cannot read {text!r} as {form}", f"give --{name} {_example(annotation, shapes)}"
        ) from None


def _members(annotation: Any) -> tuple:
    """The alternatives of `X | Y` (or Optional[X]); a plain annotation alone."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    return typing.get_args(annotation) if union else (annotation,)


def _type_name(annotation: Any) -> str:
    return str(annotation).replace("typing.", "").replace("<class '", "").replace("'>", "")


def _example(annotation: Any, shapes: set) -> str:
    if dict in shapes:
        return "key=value (e.g. en=source_column)"
    if list in shapes:
        return "a,b"
    literal = [a for a in _members(annotation) if typing.get_origin(a) is Literal]
    if literal:
        return " | ".join(map(str, typing.get_args(literal[0])))
    return {int: "8", float: "3e-5", bool: "true"}.get(next(iter(shapes - {type(None)}), str), "<value>")


def dump_params(params: TrainParams, path: Path) -> None:
    path.write_text(yaml.safe_dump(params.model_dump(mode="json"), sort_keys=False))

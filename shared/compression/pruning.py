"""Unstructured pruning: global magnitude or first-order Taylor importance (|w * dL/dw| accumulated on task
batches, Molchanov et al. 2019), through torch.nn.utils.prune, with masks made permanent (plain zeros in plain
tensors, so the model saves and reloads like any other); and a Trainer callback that keeps the zeros during a
recovery fine-tune or reaches the target gradually (Zhu & Gupta 2017's cubic schedule).

Dense kernels gain no speed from scattered zeros: the trade-off reported for these models is sparsity and
size (how well the weights compress), not latency."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.nn.utils import prune
from transformers import TrainerCallback

from shared.errors import OmnituneError

CRITERIA = ("magnitude", "taylor")


def prunable_linears(model, skip: tuple[str, ...] = ()) -> dict[str, torch.nn.Linear]:
    """The Linear layers pruning works on: all but the task head (`skip`, new and small) and output embeddings
    (tied to the input embeddings in generators)."""
    output_embeddings = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    return {
        name: module
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear)
        and module is not output_embeddings
        and not any(part in skip for part in name.split("."))
    }


def taylor_importance(model, batches, layers: dict[str, torch.nn.Module]) -> dict[str, torch.Tensor]:
    """|w * dL/dw| summed over `batches` (dicts the model's forward takes, labels included), per weight of
    each layer in `layers`."""
    scores = {name: torch.zeros_like(layer.weight) for name, layer in layers.items()}
    model.train()  # dropout as in training, whose loss this importance estimates
    seen = 0
    for batch in batches:
        model.zero_grad(set_to_none=True)
        loss = model(**batch).loss
        if loss is None:
            raise OmnituneError(
                "Taylor importance needs a loss, and the model returned none for this batch",
                "use --prune magnitude, or data with labels",
            )
        loss.backward()
        for name, layer in layers.items():
            scores[name] += (layer.weight.grad * layer.weight).detach().abs()
        seen += 1
    model.zero_grad(set_to_none=True)
    model.eval()
    if not seen:
        raise OmnituneError("Taylor importance saw no batch", "give --calibration_examples a positive number")
    return scores


@dataclass
class SparsityReport:
    criterion: str
    target: float
    achieved: float  # zeros / weights over the pruned layers
    pruned_layers: int
    per_layer: dict[str, float] = field(default_factory=dict)


def prune_unstructured(
    model,
    sparsity: float,
    criterion: str = "magnitude",
    skip: tuple[str, ...] = (),
    importance: dict[str, torch.Tensor] | None = None,
) -> SparsityReport:
    """Zero the least important `sparsity` share of all prunable weights, ranked globally (a layer that matters
    less gives up more), and make the zeros permanent."""
    if not 0.0 < sparsity < 1.0:
        raise OmnituneError(
            f"sparsity must be between 0 and 1 (exclusive), got {sparsity}",
            "e.g. --sparsity 0.5 zeros half the weights",
        )
    if criterion not in CRITERIA:
        raise OmnituneError(f"unknown pruning criterion '{criterion}'", f"choose one of: {', '.join(CRITERIA)}")
    layers = prunable_linears(model, skip)
    if criterion == "taylor" and importance is None:
        raise OmnituneError("the Taylor criterion needs importance scores", "compute them with taylor_importance")
    scores = {(layer, "weight"): importance[name] for name, layer in layers.items()} if importance else None
    prune.global_unstructured(
        [(layer, "weight") for layer in layers.values()],
        pruning_method=prune.L1Unstructured,
        importance_scores=scores,
        amount=sparsity,
    )
    for layer in layers.values():
        prune.remove(layer, "weight")  # weight becomes a plain tensor with the zeros in it
    return sparsity_report(layers, criterion, sparsity)


def sparsity_report(layers: dict[str, torch.nn.Module], criterion: str, target: float) -> SparsityReport:
    zeros = {name: int((layer.weight == 0).sum()) for name, layer in layers.items()}
    total = sum(layer.weight.numel() for layer in layers.values())
    return SparsityReport(
        criterion,
        target,
        sum(zeros.values()) / max(total, 1),
        len(layers),
        {name: round(zeros[name] / layers[name].weight.numel(), 4) for name in layers},
    )


def compressed_size_mb(folder: Path) -> float:
    """Size of the folder's safetensors after zlib (what a zip archive or a compressing transfer stores): zeros
    cost almost nothing there, while the dense file on disk keeps every zero."""
    return sum(len(zlib.compress(path.read_bytes(), 6)) for path in folder.glob("*.safetensors")) / 1e6


def cubic_sparsity(step: int, start: int, end: int, target: float) -> float:
    """Zhu & Gupta's schedule: fast at first, when redundant weights abound, slower towards the target."""
    if step <= start:
        return 0.0
    if step >= end:
        return target
    return target * (1 - (1 - (step - start) / (end - start)) ** 3)


class SparsityCallback(TrainerCallback):
    """Keeps pruned weights at zero while training moves the others. With `gradual_until`, sparsity instead
    grows along the cubic schedule to `target` by that step, re-ranking by magnitude every `every` steps."""

    def __init__(self, skip: tuple[str, ...] = (), target: float = 0.0, gradual_until: int = 0, every: int = 10):
        self.skip, self.target, self.gradual_until, self.every = skip, target, gradual_until, every
        self.layers: dict[str, torch.nn.Module] = {}
        self.masks: dict[str, torch.Tensor] = {}

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.layers = prunable_linears(model, self.skip)  # the model Trainer trains, wherever it was loaded
        self.masks = {name: layer.weight.detach() != 0 for name, layer in self.layers.items()}

    def on_step_end(self, args, state, control, **kwargs):
        step = state.global_step
        if self.gradual_until and step <= self.gradual_until and (step % self.every == 0 or step == self.gradual_until):
            self._prune_to(cubic_sparsity(step, 0, self.gradual_until, self.target))
        with torch.no_grad():
            for name, layer in self.layers.items():
                layer.weight.mul_(self.masks[name])

    def _prune_to(self, sparsity: float) -> None:
        if sparsity <= 0:
            return
        weights = torch.cat([layer.weight.detach().abs().flatten() for layer in self.layers.values()])
        threshold = torch.kthvalue(weights, max(1, int(sparsity * weights.numel()))).values
        self.masks = {name: layer.weight.detach().abs() > threshold for name, layer in self.layers.items()}

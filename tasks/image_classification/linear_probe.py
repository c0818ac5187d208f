"""Linear probing: the backbone stays frozen, so its features are computed ONCE per (weights, preprocessing,
images) and cached on disk; every later epoch, and every later run on the same data, trains only the head.

Features are what the model's own classifier receives (a forward hook on it), so the probe trains exactly the
head that ships with the model: DINOv2's [CLS, mean patch] concatenation, timm's pooled pre-logits, ViT's CLS.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from shared import distributed
from shared.paths import omnitune_home

CACHE_FORMAT = "1"  # bump when the feature definition changes


def classifier_of(model: torch.nn.Module) -> torch.nn.Linear:
    """The final Linear layer of a transformers image classifier (timm models wrapped or not)."""
    base = getattr(model, "base_model", model)
    for candidate in (getattr(model, "classifier", None), getattr(base, "classifier", None)):
        if isinstance(candidate, torch.nn.Linear):
            return candidate
    timm_model = getattr(model, "timm_model", None)
    if timm_model is not None and isinstance(timm_model.get_classifier(), torch.nn.Linear):
        return timm_model.get_classifier()
    raise TypeError(f"{type(model).__name__}: no Linear classifier found for a linear probe")


def weights_fingerprint(model_path: str) -> str:
    """sha256 over the weight files (or the Hub id when not a folder): features change when weights do."""
    folder = Path(model_path)
    digest = hashlib.sha256()
    files = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
    for file in files:
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    if not files:
        digest.update(model_path.encode())
    return digest.hexdigest()


def images_fingerprint(images: list[dict]) -> str:
    digest = hashlib.sha256()
    for value in images:
        if value.get("bytes"):
            digest.update(hashlib.sha256(value["bytes"]).digest())
        else:
            stat = Path(value["path"]).stat()
            digest.update(f"{value['path']}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


@dataclass
class CachedFeatures:
    features: torch.Tensor
    labels: torch.Tensor
    seconds: float  # time to compute them (0 when read from the cache)
    hit: bool


def cache_path(key_parts: list[str]) -> Path:
    key = hashlib.sha256("|".join([CACHE_FORMAT, *key_parts]).encode()).hexdigest()[:32]
    return omnitune_home() / "features" / f"{key}.safetensors"


def extract(model: torch.nn.Module, batches: Callable[[], list[torch.Tensor]]) -> torch.Tensor:
    """Run the frozen model over the batches, keeping what its classifier receives."""
    captured: list[torch.Tensor] = []
    hook = classifier_of(model).register_forward_pre_hook(lambda module, args: captured.append(args[0].detach()))
    model.eval()
    try:
        with torch.inference_mode():
            for pixel_values in batches():
                model(pixel_values=pixel_values)
    finally:
        hook.remove()
    return torch.cat(captured).float()


def cached_features(
    model: torch.nn.Module,
    key_parts: list[str],
    labels: list[int],
    batches: Callable[[range], Iterable[torch.Tensor]],
    log=print,
) -> CachedFeatures:
    """The model's features for the images, from the cache or computed and cached. `batches(share)` yields the
    pixel batches of the images at the indices in `share`. Under a launcher each rank computes its contiguous
    share, the features are gathered in image order and the main process writes the cache entry once."""
    log = distributed.main_log(log)
    path = cache_path(key_parts)
    if distributed.from_main(path.is_file):  # one decision for all ranks, before anyone writes
        stored = load_file(str(path))
        log(f"features: cache hit ({path.name}, {len(stored['labels'])} images)")
        return CachedFeatures(stored["features"], stored["labels"], 0.0, True)
    started = time.perf_counter()
    share = distributed.share_of(len(labels))
    mine = [extract(model, lambda: batches(share))] if len(share) else []
    features = torch.cat(distributed.gather_in_order(mine))
    seconds = time.perf_counter() - started
    if distributed.is_main():
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(".partial")
        save_file({"features": features.contiguous(), "labels": torch.tensor(labels)}, str(scratch))
        scratch.rename(path)  # a run cut off mid-write never leaves a truncated cache entry
    processes = distributed.world_size()
    log(
        f"features: computed {len(labels)} in {seconds:.1f} s"
        + (f" on {processes} processes" if processes > 1 else "")
        + f", cached as {path.name}"
    )
    return CachedFeatures(features, torch.tensor(labels), seconds, False)


@dataclass
class ProbeResult:
    weight: torch.Tensor
    bias: torch.Tensor
    epochs: int
    best_epoch: int
    validation_accuracy: float | None
    seconds_per_epoch: float


def train_head(
    train: CachedFeatures,
    validation: CachedFeatures | None,
    classes: int,
    epochs: int,
    learning_rate: float,
    weight_decay: float,
    batch_size: int,
    seed: int,
) -> ProbeResult:
    """Softmax regression on standardised cached features with AdamW and a cosine schedule; keeps the epoch with
    the best validation accuracy, ties broken by validation loss (the last epoch without validation data). The
    standardisation is folded back into the returned weight and bias, so the head works on the model's raw
    features. Dimensions constant over the training images (dead ReLU units, common on small data) get no weight:
    divided by their ~0 spread, an untrained weight became ~1e4 and swamped every other feature at test time."""
    generator = torch.Generator().manual_seed(seed)
    mean, spread = train.features.mean(0), train.features.std(0)
    informative = spread > 1e-6 * spread.max().clamp_min(1e-12)
    scale = torch.where(informative, spread, torch.ones_like(spread))
    train = CachedFeatures((train.features - mean) / scale, train.labels, train.seconds, train.hit)
    if validation is not None:
        validation = CachedFeatures(
            (validation.features - mean) / scale, validation.labels, validation.seconds, validation.hit
        )
    dims = train.features.shape[1]
    head = torch.nn.Linear(dims, classes)
    torch.nn.init.normal_(head.weight, std=0.01, generator=generator)
    torch.nn.init.zeros_(head.bias)
    optimizer = torch.optim.AdamW(head.parameters(), lr=learning_rate, weight_decay=weight_decay)
    steps_per_epoch = math.ceil(len(train.labels) / batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps_per_epoch)
    best = (-1.0, math.inf, 0, head.weight.detach().clone(), head.bias.detach().clone())
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(train.labels), generator=generator)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            loss = torch.nn.functional.cross_entropy(head(train.features[batch]), train.labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        if validation is not None:
            with torch.no_grad():
                logits = head(validation.features)
                accuracy = (logits.argmax(-1) == validation.labels).float().mean().item()
                loss = torch.nn.functional.cross_entropy(logits, validation.labels).item()
            # a small validation set ties often (epoch 1 of 100 reached the best accuracy): the lower loss wins
            if (accuracy, -loss) > (best[0], -best[1]):
                best = (accuracy, loss, epoch, head.weight.detach().clone(), head.bias.detach().clone())
    seconds_per_epoch = (time.perf_counter() - started) / epochs
    if validation is None:
        best = (float("nan"), math.nan, epochs, head.weight.detach().clone(), head.bias.detach().clone())
    accuracy, _, best_epoch, weight, bias = best
    weight = weight * informative
    # W (x - m) / s + b  ==  (W / s) x + (b - W m / s)
    weight, bias = weight / scale, bias - (weight / scale) @ mean
    return ProbeResult(weight, bias, epochs, best_epoch, None if validation is None else accuracy, seconds_per_epoch)


def install_head(model: torch.nn.Module, result: ProbeResult) -> None:
    classifier = classifier_of(model)
    with torch.no_grad():
        classifier.weight.copy_(result.weight)
        classifier.bias.copy_(result.bias)

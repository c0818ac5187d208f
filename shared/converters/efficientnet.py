"""EfficientNet-Lite0 in efficientnet_pytorch naming (`_blocks.N._depthwise_conv`) -> a timm
`tf_efficientnet_lite0` folder (config.json with ImageNet-1k labels + model.safetensors), which
`timm.create_model("local-dir:...")` and transformers' TimmWrapperForImageClassification both load.

The mapping is by name, not by position: efficientnet_pytorch numbers blocks flat (`_blocks.0` ... `_blocks.15`)
and timm by stage (`blocks.S.I`), and the two name their batch norms differently in the first stage
(depthwise-separable blocks) than in the later ones (inverted residuals).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

ARCHITECTURE = "tf_efficientnet_lite0"
_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
# first stage: depthwise-separable block (no expansion)
_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
# later stages: inverted residual (expand 1x1, depthwise, project 1x1)
_INVERTED = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_BLOCK = re.compile(r"_blocks\.(\d+)\.(\w+)\.(\w+)$")


def stage_of_block(blocks_per_stage: list[int]) -> list[tuple[int, int]]:
    """Flat block index -> (stage, index within stage)."""
    return [(stage, index) for stage, count in enumerate(blocks_per_stage) for index in range(count)]


def timm_state_dict(original: dict[str, torch.Tensor], blocks_per_stage: list[int]) -> dict[str, torch.Tensor]:
    positions = stage_of_block(blocks_per_stage)
    converted = {}
    for name, tensor in original.items():
        if match := _BLOCK.match(name):
            flat, module, leaf = int(match.group(1)), match.group(2), match.group(3)
            stage, index = positions[flat]
            renames = _SEPARABLE if stage == 0 else _INVERTED
            converted[f"blocks.{stage}.{index}.{renames[module]}.{leaf}"] = tensor
        else:
            module, leaf = name.split(".", 1)
            converted[f"{_TOP[module]}.{leaf}"] = tensor
    return converted


def imagenet_labels() -> list[str]:
    """Readable ImageNet-1k class names in class-index order (timm ships the synset table)."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return [info.index_to_description(i).split(",")[0] for i in range(info.num_classes())]


def convert(pth_file: Path, destination: Path) -> None:
    import timm
    from safetensors.torch import save_file

    original = torch.load(pth_file, map_location="cpu", weights_only=True)  # never unpickle code
    model = timm.create_model(ARCHITECTURE, pretrained=False)
    converted = timm_state_dict(original, [len(stage) for stage in model.blocks])
    model.load_state_dict(converted, strict=True)  # 0 missing, 0 unexpected, shapes checked
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(destination / "model.safetensors"), metadata={"format": "pt"})
    pretrained_cfg = {k: v for k, v in model.pretrained_cfg.items() if k not in ("url", "hf_hub_id", "tag")}
    config = {
        "architecture": ARCHITECTURE,
        "num_classes": 1000,
        "num_features": model.num_features,
        "label_names": imagenet_labels(),
        "pretrained_cfg": pretrained_cfg,
    }
    (destination / "config.json").write_text(json.dumps(config, indent=2))


# EfficientNet-Lite0 (Tan & Le; Lite variant: ReLU6, no squeeze-excitation): (blocks, stride) per stage
LITE0_STAGES = [(1, 1), (2, 2), (2, 2), (3, 2), (3, 1), (4, 2), (1, 1)]


def _same_padding(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TensorFlow 'SAME' padding (extra pixel at the bottom/right), as efficientnet_pytorch pads."""
    size = x.shape[-1]
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return torch.nn.functional.pad(x, (total // 2, total - total // 2, total // 2, total - total // 2))


def reference_forward(original: dict[str, torch.Tensor], images: torch.Tensor) -> torch.Tensor:
    """Logits computed straight from the ORIGINAL key layout, without timm: an independent check that the name
    mapping above put every tensor where the architecture needs it."""
    F = torch.nn.functional

    def conv(x, name, stride=1, groups=1):
        weight = original[f"{name}.weight"]
        return F.conv2d(_same_padding(x, weight.shape[-1], stride), weight, stride=stride, groups=groups)

    def bn(x, name):
        return F.batch_norm(
            x,
            original[f"{name}.running_mean"],
            original[f"{name}.running_var"],
            original[f"{name}.weight"],
            original[f"{name}.bias"],
            eps=1e-3,
        )

    x = F.relu6(bn(conv(images, "_conv_stem", stride=2), "_bn0"))
    strides = [stride if index == 0 else 1 for count, stride in LITE0_STAGES for index in range(count)]
    for flat, stride in enumerate(strides):
        block, inputs = f"_blocks.{flat}", x
        if f"{block}._expand_conv.weight" in original:
            x = F.relu6(bn(conv(x, f"{block}._expand_conv"), f"{block}._bn0"))
        x = F.relu6(bn(conv(x, f"{block}._depthwise_conv", stride=stride, groups=x.shape[1]), f"{block}._bn1"))
        x = bn(conv(x, f"{block}._project_conv"), f"{block}._bn2")
        if stride == 1 and x.shape == inputs.shape:
            x = x + inputs
    x = F.relu6(bn(conv(x, "_conv_head"), "_bn1"))
    return F.linear(x.mean(dim=(2, 3)), original["_fc.weight"], original["_fc.bias"])

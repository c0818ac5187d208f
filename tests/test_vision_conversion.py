"""The EfficientNet-Lite0 and DINOv2 conversions' key mappings, on randomly initialised models (the real
weights are checked in the slow tests)."""

from __future__ import annotations

import timm
import torch

from shared.converters import dinov2, efficientnet


def _original_layout(timm_state: dict, blocks_per_stage: list[int]) -> dict:
    """Invert the mapping to produce a state_dict in efficientnet_pytorch naming."""
    top = {v: k for k, v in efficientnet._TOP.items()}
    positions = efficientnet.stage_of_block(blocks_per_stage)
    original = {}
    for name, tensor in timm_state.items():
        parts = name.split(".")
        if parts[0] == "blocks":
            stage, index, module, leaf = int(parts[1]), int(parts[2]), parts[3], parts[4]
            renames = {v: k for k, v in (efficientnet._SEPARABLE if stage == 0 else efficientnet._INVERTED).items()}
            original[f"_blocks.{positions.index((stage, index))}.{renames[module]}.{leaf}"] = tensor
        else:
            original[f"{top[parts[0]]}.{parts[1]}"] = tensor
    return original


def test_efficientnet_mapping_round_trips_and_reference_agrees_with_timm():
    torch.manual_seed(0)
    model = timm.create_model(efficientnet.ARCHITECTURE, pretrained=False).eval()
    for module in model.modules():  # non-trivial batch-norm statistics, so a swapped norm would show
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    blocks = [len(stage) for stage in model.blocks]
    original = _original_layout(model.state_dict(), blocks)
    assert efficientnet.timm_state_dict(original, blocks).keys() == model.state_dict().keys()
    images = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(model(images), efficientnet.reference_forward(original, images), atol=1e-4)


def test_imagenet_labels_are_readable_and_complete():
    labels = efficientnet.imagenet_labels()
    assert len(labels) == 1000 and labels[1] == "goldfish" and labels[985] == "daisy"


def test_dinov2_timm_mapping_loads_strictly_and_computes_the_same():
    from transformers import Dinov2Config, Dinov2Model

    config = {**dinov2.CONFIG, "num_hidden_layers": 2, "image_size": 56}
    hf = Dinov2Model(Dinov2Config(**config)).eval()
    vit = timm.create_model(
        "vit_small_patch14_dinov2", pretrained=False, num_classes=0, depth=2, img_size=56, init_values=1.0
    ).eval()
    state = {k: v for k, v in hf.state_dict().items() if k != "embeddings.mask_token"}
    vit.load_state_dict(dinov2.to_timm(state), strict=True)
    pixels = torch.randn(1, 3, 56, 56)
    with torch.no_grad():  # at the native size no position-embedding interpolation is involved
        assert torch.allclose(hf(pixel_values=pixels).last_hidden_state, vit.forward_features(pixels), atol=1e-4)

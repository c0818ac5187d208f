"""Where the model looked: attention rollout for Vision Transformers (Abnar & Zuidema, 2020) and Grad-CAM for
CNNs (Selvaraju et al., 2017), as a heat map over the image.

Written here rather than taken from pytorch-grad-cam: each is a few lines on top of transformers' own
`output_attentions` and a forward hook, and that package would bring OpenCV and three more dependencies.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from shared.attention import token_reduction


def attention_rollout(model: torch.nn.Module, pixel_values: torch.Tensor) -> np.ndarray | None:
    """(grid, grid) relevance of each patch to the class token, or None when the model exposes no attention."""
    previous = getattr(model.config, "_attn_implementation", None)
    try:
        if previous not in (None, "eager") and hasattr(model, "set_attn_implementation"):
            model.set_attn_implementation("eager")  # fused attention kernels do not return the weights
        with torch.inference_mode():
            attentions = model(pixel_values=pixel_values, output_attentions=True).attentions
    except (TypeError, ValueError):
        return None
    finally:
        if previous not in (None, "eager") and hasattr(model, "set_attn_implementation"):
            model.set_attn_implementation(previous)
    if not attentions:
        return None
    tokens = attentions[0].shape[-1]
    rollout = torch.eye(tokens)
    for layer in attentions:
        mixed = layer[0].float().mean(0) + torch.eye(tokens)  # heads averaged, residual connection added
        rollout = (mixed / mixed.sum(-1, keepdim=True)) @ rollout
    patches = rollout[0, 1:]
    side = int(round(patches.numel() ** 0.5))
    patches = patches[-side * side :]  # skip register tokens, if any, that sit before the patches
    return patches.reshape(side, side).numpy()


def grad_cam(model: torch.nn.Module, pixel_values: torch.Tensor, target: int) -> np.ndarray:
    """(h, w) class-discriminative map from the last convolution's activations and gradients."""
    convolutions = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    if not convolutions:
        raise TypeError(f"{type(model).__name__} has neither attention maps nor convolutions to explain")
    captured = {}

    def keep(module, inputs, output):
        captured["activation"] = output
        output.register_hook(lambda grad: captured.__setitem__("gradient", grad))

    hook = convolutions[-1].register_forward_hook(keep)
    try:
        with torch.enable_grad():
            logits = model(pixel_values=pixel_values.requires_grad_(True)).logits
            model.zero_grad(set_to_none=True)
            logits[0, target].backward()
    finally:
        hook.remove()
    weights = captured["gradient"][0].mean(dim=(1, 2), keepdim=True)
    return torch.relu((weights * captured["activation"][0]).sum(0)).detach().numpy()


def kept_patches(model: torch.nn.Module, pixel_values: torch.Tensor) -> np.ndarray | None:
    """(grid, grid) for a model with token merging or pruning: how long each patch stayed its own token
    (bright: kept to the last layer; dark: pruned early or merged with many), or None for other models."""
    if (getattr(model.config, "omnitune_attention", None) or {}).get("kind") not in token_reduction.KINDS:
        return None
    with torch.inference_mode():
        model(pixel_values=pixel_values)
    layouts = token_reduction.layer_layouts(model)
    if not layouts:
        return None
    patches = token_reduction.carried_share(layouts)[0]
    side = int(round((patches.numel() - 1) ** 0.5))
    return patches[-side * side :].reshape(side, side).numpy()


def explanation_map(model: torch.nn.Module, pixel_values: torch.Tensor, target: int) -> tuple[np.ndarray, str]:
    heat = kept_patches(model, pixel_values)
    if heat is not None:
        return heat, "patches kept by token reduction"
    heat = attention_rollout(model, pixel_values)
    if heat is not None:
        return heat, "attention rollout"
    return grad_cam(model, pixel_values, target), "Grad-CAM"


def overlay(image: Image.Image, heat: np.ndarray, opacity: float) -> Image.Image:
    """The heat map, stretched to 0-1, coloured (matplotlib's inferno) and blended over the image."""
    from matplotlib import colormaps

    span = heat.max() - heat.min()
    normalised = (heat - heat.min()) / span if span > 0 else np.zeros_like(heat)
    coloured = (colormaps["inferno"](normalised)[..., :3] * 255).astype(np.uint8)
    layer = Image.fromarray(coloured).resize(image.size, Image.Resampling.BILINEAR)
    return Image.blend(image.convert("RGB"), layer, float(np.clip(opacity, 0.0, 1.0)))

"""Structured pruning of feed-forward neurons: the least important rows of each block's up-projection and the
matching columns of its down-projection are removed, so the matrices really shrink and every forward pass does
less work. The same number is kept in every block, which the model's own config can state (intermediate_size,
or mlp_ratio for DINOv2), so the pruned model reloads with plain from_pretrained.

Attention heads are not pruned: transformers 5 dropped `prune_heads`, and BERT's attention derives the head
size from hidden_size / num_attention_heads, so fewer heads of the same size cannot be written in its config."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from shared.errors import OmnituneError

KEEP_MULTIPLE = 8  # widths that are multiples of 8 keep the matrix kernels on their fast paths


@dataclass
class FfnPruningReport:
    ratio: float
    criterion: str
    blocks: int
    neurons_before: int
    neurons_after: int  # per block (a multiple of 8, or of hidden_size where the config has mlp_ratio)


def layer_config(model):
    """The config that states the layer shapes: a wrapper's backbone's (omnitune's ViT feature probe) or the
    model's own."""
    return getattr(model.config, "backbone_config", None) or model.config


def feed_forward_pairs(model) -> list[tuple[str, torch.nn.Linear, str, torch.nn.Linear]]:
    """(up name, up, down name, down) for every transformer block, found by shape: the up-projection's output
    and the down-projection's input both have the intermediate width."""
    width = _intermediate_width(layer_config(model))
    linears = [(name, module) for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)]
    ups = [(n, m) for n, m in linears if m.out_features == width and m.in_features != width]
    downs = [(n, m) for n, m in linears if m.in_features == width and m.out_features != width]
    if not ups or len(ups) != len(downs) or any(_block(u) != _block(d) for (u, _), (d, _) in zip(ups, downs)):
        raise OmnituneError(
            f"cannot find one feed-forward up/down pair per block in this {type(model).__name__}",
            "FFN pruning supports BERT-family encoders, ViT and DINOv2; use unstructured pruning",
        )
    return [(u, up, d, down) for (u, up), (d, down) in zip(ups, downs)]


def prune_feed_forward(model, ratio: float, importance: dict[str, torch.Tensor] | None = None) -> FfnPruningReport:
    """Remove `ratio` of each block's FFN neurons, ranked by |up row| * |down column| (weight magnitude) or, with
    `importance` (per-weight Taylor scores keyed by layer name), by the summed importance of the neuron's weights."""
    if not 0.0 < ratio < 1.0:
        raise OmnituneError(
            f"the FFN pruning ratio must be between 0 and 1 (exclusive), got {ratio}",
            "e.g. --ffn_ratio 0.3 removes 30% of the feed-forward neurons",
        )
    pairs = feed_forward_pairs(model)
    width = pairs[0][1].out_features
    # DINOv2 states its width as an integer mlp_ratio: there the kept width is a whole multiple of hidden_size
    config = layer_config(model)
    step = config.hidden_size if getattr(config, "mlp_ratio", None) else KEEP_MULTIPLE
    keep = max(step, round(width * (1 - ratio) / step) * step)
    for up_name, up, down_name, down in pairs:
        if importance:
            scores = importance[up_name].sum(dim=1) + importance[down_name].sum(dim=0)
        else:
            scores = up.weight.detach().norm(dim=1) * down.weight.detach().norm(dim=0)
        kept = scores.topk(keep).indices.sort().values
        replace_module(model, up_name, keep_rows(up, kept))
        replace_module(model, down_name, keep_columns(down, kept))
    _set_intermediate_width(config, keep)
    return FfnPruningReport(ratio, "taylor" if importance else "magnitude", len(pairs), width, keep)


def _intermediate_width(config) -> int:
    # mlp_ratio first: a DINOv2 config may also carry an unused intermediate_size (the shelf's does)
    if getattr(config, "mlp_ratio", None):
        return int(config.hidden_size * config.mlp_ratio)
    if getattr(config, "intermediate_size", None):
        return config.intermediate_size
    raise OmnituneError(
        f"{type(config).__name__} states no feed-forward width (intermediate_size or mlp_ratio)",
        "FFN pruning supports BERT-family encoders, ViT and DINOv2; use unstructured pruning",
    )


def _set_intermediate_width(config, width: int) -> None:
    if getattr(config, "mlp_ratio", None):
        config.mlp_ratio = width // config.hidden_size
    if getattr(config, "intermediate_size", None):
        config.intermediate_size = width


def _block(name: str) -> str:
    """The enclosing numbered block of a module name, e.g. 'bert.encoder.layer.3'."""
    parts = name.split(".")
    numbered = [i for i, part in enumerate(parts) if part.isdigit()]
    return ".".join(parts[: numbered[-1] + 1]) if numbered else ""


def keep_rows(layer: torch.nn.Linear, kept: torch.Tensor) -> torch.nn.Linear:
    new = torch.nn.Linear(layer.in_features, len(kept), bias=layer.bias is not None)
    with torch.no_grad():
        new.weight.copy_(layer.weight[kept])
        if layer.bias is not None:
            new.bias.copy_(layer.bias[kept])
    return new


def keep_columns(layer: torch.nn.Linear, kept: torch.Tensor) -> torch.nn.Linear:
    new = torch.nn.Linear(len(kept), layer.out_features, bias=layer.bias is not None)
    with torch.no_grad():
        new.weight.copy_(layer.weight[:, kept])
        if layer.bias is not None:
            new.bias.copy_(layer.bias)
    return new


def replace_module(model, name: str, module: torch.nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, module)

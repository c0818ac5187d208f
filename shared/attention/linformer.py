"""Linformer (Wang et al., 2020) on a pretrained encoder: keys and values are projected along the sequence
axis from n to k before attention, so attention costs n * k instead of n^2.

No model code is forked: each self-attention module of the model (BERT's, ViT's, DINOv2's: the ones with
query/key/value projections) gains two parameters, and a transformers attention backend uses them. The parameters
live on the modules, so save_pretrained writes them; `restore` puts them back after from_pretrained.

Initialisation: segment means (projected slot j averages the n/k consecutive positions of segment j), so a
pretrained model attends to pooled summaries of its keys and values and is usable before adaptation; with
k = n the projection is the identity and the result is exactly dense attention. Padding: padded positions are
taken out of every projection (rows rescaled to their unpadded mass), and a slot with no real position is
masked."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import AttentionInterface
from transformers.masking_utils import AttentionMaskInterface

from shared.attention.sparse import padding_mask
from shared.errors import OmnituneError

NAME = "omnitune_linformer"
SHARING = ("layer", "head", "key-value")  # E and F per layer; per head; one matrix for both, per layer
KEYS, VALUES = "linformer_keys", "linformer_values"
PROJECTIONS = (("query", "key", "value"), ("q_proj", "k_proj", "v_proj"))  # BERT's names; ViT's and DINOv2's


def attention_modules(model) -> list[torch.nn.Module]:
    """The self-attention modules that compute query/key/value and hand them to the attention backend (cross-
    attention, whose keys come from another sequence, is left alone)."""
    found = [
        m
        for name, m in model.named_modules()
        if any(all(isinstance(getattr(m, p, None), torch.nn.Linear) for p in names) for names in PROJECTIONS)
        and "crossattention" not in name
    ]
    if not found:
        raise OmnituneError(
            f"no self-attention with query/key/value layers in this {type(model).__name__}",
            "Linformer supports BERT-family encoders, ViT and DINOv2",
        )
    return found


def segment_means(k: int, n: int) -> torch.Tensor:
    """(k, n): row j averages the positions of the j-th of k equal segments of 0..n-1."""
    segment = torch.arange(n) * k // n
    projection = (segment[None, :] == torch.arange(k)[:, None]).float()
    return projection / projection.sum(dim=1, keepdim=True).clamp(min=1)


def attach(model, k: int, max_length: int, sharing: str = "layer", identity: bool = False) -> int:
    """Give every self-attention module its projections and switch the model to the Linformer backend;
    returns how many new parameters that added. `identity` (k = n only) makes it exactly dense attention."""
    if sharing not in SHARING:
        raise OmnituneError(f"unknown Linformer sharing '{sharing}'", f"choose one of: {', '.join(SHARING)}")
    if not 0 < k <= max_length:
        raise OmnituneError(
            f"Linformer k must be between 1 and the maximum length {max_length}, got {k}", "k = 128 or 256 is typical"
        )
    if identity and k != max_length:
        raise OmnituneError("an identity projection needs k equal to the maximum length", "set k = max_length")
    initial = torch.eye(max_length) if identity else segment_means(k, max_length)
    added = 0
    for module in attention_modules(model):
        heads = (
            module.num_attention_heads if hasattr(module, "num_attention_heads") else model.config.num_attention_heads
        )
        shape = (heads, k, max_length) if sharing == "head" else (k, max_length)
        names = (KEYS,) if sharing == "key-value" else (KEYS, VALUES)
        for name in names:
            value = initial.expand(shape).clone()
            dtype = next(module.parameters()).dtype
            module.register_parameter(name, torch.nn.Parameter(value.to(dtype)))
            added += value.numel()
    model.config.omnitune_attention = {"kind": "linformer", "k": k, "max_length": max_length, "sharing": sharing}
    model.set_attn_implementation(NAME)
    return added


def linformer_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **_):
    length = key.shape[2]
    keys_projection = getattr(module, KEYS)
    values_projection = getattr(module, VALUES, keys_projection)
    if length > keys_projection.shape[-1]:
        raise OmnituneError(
            f"input of {length} tokens is longer than this Linformer's {keys_projection.shape[-1]}",
            "truncate the input, or attach Linformer with a larger max_length and adapt again",
        )
    keep = (
        attention_mask.reshape(attention_mask.shape[0], -1)[:, -length:].to(key.dtype)
        if attention_mask is not None
        else torch.ones(key.shape[0], length, dtype=key.dtype, device=key.device)
    )
    projected_keys, slots = _project(keys_projection[..., :length], key, keep)
    projected_values, _ = _project(values_projection[..., :length], value, keep)
    output = F.scaled_dot_product_attention(
        query,
        projected_keys,
        projected_values,
        attn_mask=slots,
        dropout_p=dropout if module.training else 0.0,
        scale=scaling,
    )
    return output.nan_to_num(0.0).transpose(1, 2).contiguous(), None


def _project(projection: torch.Tensor, states: torch.Tensor, keep: torch.Tensor):
    """projection (k, n) or (heads, k, n); states (batch, heads, n, dim); keep (batch, n) 1.0 for real tokens.
    Returns the projected states (batch, heads, k, dim) and which slots hold a real token (batch, heads|1, 1, k)."""
    if projection.dim() == 2:
        projection = projection[None]  # one matrix for every head
    kept = projection[None] * keep[:, None, None, :]  # (batch, heads|1, k, n)
    full_mass = projection.abs().sum(-1)[None]
    kept_mass = kept.abs().sum(-1)
    kept = kept * (full_mass / kept_mass.clamp(min=1e-12))[..., None]  # rows keep their scale without padding
    return torch.einsum("bhkn,bhnd->bhkd", kept, states), (kept_mass > 0)[:, :, None, :]


def restore(model, state: dict[str, torch.Tensor]) -> None:
    """After from_pretrained of a saved Linformer model: attach its projections again and load them from
    `state` (the saved tensors), which from_pretrained leaves out as unexpected keys."""
    stated = getattr(model.config, "omnitune_attention", None) or {}
    attach(model, stated["k"], stated["max_length"], stated["sharing"])
    names = {name for name, _ in model.named_parameters() if name.rsplit(".", 1)[-1] in (KEYS, VALUES)}
    saved = {
        _strip_prefix(name, names): tensor
        for name, tensor in state.items()
        if name.rsplit(".", 1)[-1] in (KEYS, VALUES)
    }
    missing = names - set(saved)
    if missing:
        raise OmnituneError(
            f"the saved model lacks {len(missing)} Linformer projections (e.g. {min(missing)})",
            "save it with save_pretrained after attaching Linformer",
        )
    model.load_state_dict(saved, strict=False)


def _strip_prefix(name: str, known: set[str]) -> str:
    """Saved names may carry or lack the base-model prefix (e.g. 'bert.') compared with the loaded model."""
    if name in known:
        return name
    return next((k for k in known if k.endswith(name) or name.endswith(k)), name)


AttentionInterface.register(NAME, linformer_attention)
AttentionMaskInterface.register(NAME, padding_mask)

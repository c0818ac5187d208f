"""Sliding-window attention with global tokens (Longformer/BigBird pattern), registered as a transformers
attention backend, so any model that routes attention through `ALL_ATTENTION_FUNCTIONS` (BERT, ViT, DINOv2, ...)
uses it with `model.set_attn_implementation(NAME)`; the pretrained weights are unchanged.

Token i attends to token j when |i - j| <= window, or when either is a global token (the first
`global_tokens` positions: [CLS], and in QA the question), and j is not padding. The computation is blocked:
queries in blocks of `window` see only their own and the two neighbouring key blocks (plus the global keys),
so cost and memory grow as n * 3 * window instead of n^2, and the result equals dense attention under the
same mask (tests/test_attention.py checks it numerically)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import AttentionInterface
from transformers.masking_utils import AttentionMaskInterface

NAME = "omnitune_sliding_window"
DEFAULT_WINDOW = 128
DEFAULT_GLOBAL_TOKENS = 1


def settings(config) -> tuple[int, int]:
    """(window, global_tokens) as the model's config states them (config.omnitune_attention)."""
    stated = getattr(config, "omnitune_attention", None) or {}
    return int(stated.get("window", DEFAULT_WINDOW)), int(stated.get("global_tokens", DEFAULT_GLOBAL_TOKENS))


def padding_mask(batch_size, q_length, kv_length, attention_mask=None, **_):
    """Only which keys are real, (batch, 1, 1, keys) booleans: the band itself is built block by block, never
    as an n x n matrix."""
    if attention_mask is None:
        return None
    return attention_mask[:, None, None, -kv_length:].bool()


def sliding_window_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **_):
    window, global_tokens = settings(module.config)
    keep = (
        attention_mask.reshape(attention_mask.shape[0], -1)[:, -key.shape[2] :].bool()
        if attention_mask is not None
        else None
    )
    output = banded_attention(query, key, value, window, global_tokens, keep, scaling, dropout, module.training)
    return output.transpose(1, 2).contiguous(), None


def banded_attention(
    query,
    key,
    value,
    window: int,
    global_tokens: int,
    keep: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    training: bool = False,
) -> torch.Tensor:
    """query/key/value (batch, heads, n, dim); keep (batch, n) True for real tokens. Returns (batch, heads, n, dim)."""
    batch, heads, length, dim = query.shape
    scaling = dim**-0.5 if scaling is None else scaling
    keep = torch.ones(batch, length, dtype=torch.bool, device=query.device) if keep is None else keep
    blocks = -(-length // window)
    padded = blocks * window
    pad = padded - length
    q, k, v = (F.pad(t, (0, 0, 0, pad)) for t in (query, key, value))
    keep_padded = F.pad(keep, (0, pad), value=False)

    # keys of the previous, own and next block for every query block: (batch, heads, blocks, 3 * window, dim)
    def neighbours(t):
        t = F.pad(t, (0, 0, window, window)).unfold(2, 3 * window, window)  # (b, h, blocks, dim, 3w)
        return t.transpose(-1, -2)

    local_k, local_v = neighbours(k), neighbours(v)
    q_blocks = q.view(batch, heads, blocks, window, dim)
    q_pos = torch.arange(padded, device=query.device).view(blocks, window, 1)
    k_pos = (torch.arange(blocks, device=query.device).view(blocks, 1, 1) - 1) * window + torch.arange(
        3 * window, device=query.device
    ).view(1, 1, 3 * window)
    in_band = (q_pos - k_pos).abs() <= window
    k_valid = F.pad(keep_padded, (window, window), value=False).unfold(1, 3 * window, window)  # (b, blocks, 3w)
    allowed = in_band[None] & k_valid[:, :, None, :] & (k_pos >= global_tokens)[None]  # globals come below
    if global_tokens:  # every block also sees the global keys, appended after its neighbours
        local_k = torch.cat([local_k, k[:, :, None, :global_tokens].expand(-1, -1, blocks, -1, -1)], dim=-2)
        local_v = torch.cat([local_v, v[:, :, None, :global_tokens].expand(-1, -1, blocks, -1, -1)], dim=-2)
        g_allowed = keep[:, None, None, :global_tokens].expand(-1, blocks, window, -1)
        allowed = torch.cat([allowed, g_allowed], dim=-1)

    # blocks join the batch dimension, so the mask (one per block, shared by the heads) broadcasts over heads;
    # an additive float mask keeps PyTorch on its fused CPU kernel (a boolean one measured 3x slower here).
    # A padded query may have no allowed key at all: NaN there, zeroed, and cut off below anyway.
    def by_block(t):
        return t.permute(0, 2, 1, 3, 4).reshape(batch * blocks, heads, t.shape[-2], dim)

    bias = torch.zeros(allowed.shape, dtype=query.dtype, device=query.device).masked_fill_(~allowed, float("-inf"))
    output = F.scaled_dot_product_attention(
        by_block(q_blocks),
        by_block(local_k),
        by_block(local_v),
        attn_mask=bias.reshape(batch * blocks, 1, window, -1),
        dropout_p=dropout if training else 0.0,
        scale=scaling,
    )
    output = output.nan_to_num(0.0).view(batch, blocks, heads, window, dim).permute(0, 2, 1, 3, 4)
    output = output.reshape(batch, heads, padded, dim)[:, :, :length]
    if global_tokens:  # global queries see every real token
        g_q = query[:, :, :global_tokens]
        g_out = F.scaled_dot_product_attention(g_q, key, value, attn_mask=keep[:, None, None, :], scale=scaling)
        output = torch.cat([g_out, output[:, :, global_tokens:]], dim=2)
    return output


def dense_equivalent_mask(length: int, window: int, global_tokens: int, keep: torch.Tensor) -> torch.Tensor:
    """The (batch, 1, n, n) boolean mask dense attention needs to compute exactly what banded_attention does."""
    positions = torch.arange(length)
    mask = (positions[:, None] - positions[None, :]).abs() <= window
    mask[:global_tokens, :] = True
    mask[:, :global_tokens] = True
    return mask[None, None] & keep[:, None, None, :]


AttentionInterface.register(NAME, sliding_window_attention)
AttentionMaskInterface.register(NAME, padding_mask)

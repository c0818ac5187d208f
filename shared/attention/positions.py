"""Position tables past the pretrained length, for BERT-family encoders (MiniLM knows 512 positions): the new
table repeats the pretrained one (Beltagy et al., 2020, "Longformer", section 5: copying the 512 learned
positions worked better than random initialisation and needs little adaptation), so positions 0..511 are
unchanged and position p > 511 starts as position p mod 512. Vision transformers get longer inputs by
interpolating their patch-position grid instead (tasks/image_classification `--image_size`)."""

from __future__ import annotations

import torch

from shared.errors import OmnituneError


def extend_positions(model, length: int) -> int:
    """Grow the model's absolute position table to `length` by copying; returns the old length."""
    embeddings = getattr(model.base_model, "embeddings", None)
    table = getattr(embeddings, "position_embeddings", None)
    if not isinstance(table, torch.nn.Embedding):
        raise OmnituneError(
            f"{type(model).__name__} has no absolute position table to extend",
            "position extension supports BERT-family encoders",
        )
    old = table.num_embeddings
    if length <= old:
        return old
    repeats = -(-length // old)
    grown = torch.nn.Embedding(length, table.embedding_dim, dtype=table.weight.dtype)
    with torch.no_grad():
        grown.weight.copy_(table.weight.repeat(repeats, 1)[:length])
    embeddings.position_embeddings = grown
    for name in ("position_ids", "token_type_ids"):  # BERT keeps buffers as long as the table
        buffer = getattr(embeddings, name, None)
        if isinstance(buffer, torch.Tensor):
            extended = (
                torch.arange(length, dtype=buffer.dtype)[None]
                if name == "position_ids"
                else torch.zeros(1, length, dtype=buffer.dtype)
            )
            embeddings.register_buffer(name, extended, persistent=False)
    model.config.max_position_embeddings = length
    return old

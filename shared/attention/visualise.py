"""Pictures of attention: for a dense model, every head's attention map on a text (layers as rows, heads as
columns); for a sliding-window model, which token pairs may attend at all; for a Linformer model, each
layer's learned key projection (which positions feed which projected slot); for token merging or pruning,
which tokens of the text each layer still carried. PNG files via matplotlib."""

from __future__ import annotations

from pathlib import Path

import torch

from shared.attention import linformer, sparse, token_reduction
from shared.errors import OmnituneError
from shared.plots import plt


def picture(model, tokenizer, text: str, folder: Path) -> tuple[str, Path]:
    """The picture that fits the model's attention: (kind, PNG path). Dense: attention maps of `text`;
    sliding window: its pattern at the text's length; Linformer: the learned key projections."""
    encoder = model.get_encoder() if getattr(model.config, "is_encoder_decoder", False) else model
    kind = (getattr(encoder.config, "omnitune_attention", None) or {}).get("kind", "dense")
    if kind == "sliding-window":
        length = len(tokenizer(text).input_ids) if hasattr(tokenizer, "convert_ids_to_tokens") else 256
        return kind, sparsity_pattern(encoder.config, max(length, 64), Path(folder) / "sparsity_pattern.png")
    if kind == "linformer":
        return kind, linformer_projections(encoder, Path(folder) / "linformer_projections.png")
    if not hasattr(tokenizer, "convert_ids_to_tokens"):
        raise OmnituneError(
            "attention maps from text need a text model",
            "give a question-answering, translation or summarization model",
        )
    if kind in token_reduction.KINDS:
        return kind, kept_tokens(model, tokenizer, text, Path(folder) / "kept_tokens.png")
    return kind, attention_maps(encoder, tokenizer, text, Path(folder) / "attention_maps.png")


def attention_maps(model, tokenizer, text: str, path: Path, max_tokens: int = 64) -> Path:
    """Per-layer, per-head attention probabilities of `text` (eager attention, which returns them; the model's
    own attention implementation is restored afterwards, so a demo keeps its speed)."""
    inputs = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_tokens)
    previous = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        with torch.inference_mode():
            attentions = model(**inputs, output_attentions=True).attentions
    finally:
        model.set_attn_implementation(previous)
    tokens = tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])
    layers, heads = len(attentions), attentions[0].shape[1]
    figure, axes = plt.subplots(layers, heads, figsize=(1.6 * heads, 1.6 * layers), squeeze=False)
    for layer, maps in enumerate(attentions):
        for head in range(heads):
            axis = axes[layer][head]
            axis.imshow(maps[0, head].numpy(), cmap="viridis", vmin=0, vmax=1)
            axis.set_xticks([])
            axis.set_yticks([])
            if layer == 0:
                axis.set_title(f"head {head}", fontsize=7)
            if head == 0:
                axis.set_ylabel(f"layer {layer}", fontsize=7)
    figure.suptitle(
        f"attention of {len(tokens)} tokens: row = query, column = key ({' '.join(tokens[:8])} ...)", fontsize=8
    )
    return _save(figure, path)


def kept_tokens(model, tokenizer, text: str, path: Path, max_tokens: int = 64) -> Path:
    """For token merging or pruning: per layer (rows), which tokens of `text` (columns) were still their own
    token (1), shared a merged token (1/size) or had been pruned (0)."""
    inputs = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_tokens)
    with torch.inference_mode():
        model(**inputs)
    layouts = token_reduction.layer_layouts(model)
    shares = torch.stack([token_reduction.carried_share([origin])[0] for origin in layouts])
    tokens = tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])
    figure, axis = plt.subplots(figsize=(max(5, 0.16 * len(tokens)), 0.35 * len(layouts) + 1.4))
    axis.imshow(shares.numpy(), cmap="Greens", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    axis.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=6)
    axis.set_yticks(range(len(layouts)), [f"layer {layer}" for layer in range(len(layouts))], fontsize=7)
    kept = (shares[-1] > 0).sum().item()
    axis.set_title(f"tokens carried by each layer: {kept} of {len(tokens)} reach the last one", fontsize=8)
    return _save(figure, path)


def sparsity_pattern(config, length: int, path: Path) -> Path:
    """Which (query, key) pairs a sliding-window model computes at all, for `length` tokens."""
    window, global_tokens = sparse.settings(config)
    mask = sparse.dense_equivalent_mask(length, window, global_tokens, torch.ones(1, length, dtype=torch.bool))
    figure, axis = plt.subplots(figsize=(5, 5))
    axis.imshow(mask[0, 0].numpy(), cmap="Greys", interpolation="nearest")
    share = mask.float().mean().item()
    axis.set_title(
        f"sliding window {window} + {global_tokens} global: {share:.1%} of {length}x{length} pairs", fontsize=8
    )
    axis.set_xlabel("key position")
    axis.set_ylabel("query position")
    return _save(figure, path)


def linformer_projections(model, path: Path, length: int | None = None) -> Path:
    """Each layer's key projection (slot x position): segment means at first, learned after adaptation."""
    modules = linformer.attention_modules(model)
    figure, axes = plt.subplots(1, len(modules), figsize=(2.4 * len(modules), 2.6), squeeze=False)
    for index, module in enumerate(modules):
        projection = getattr(module, linformer.KEYS).detach()
        projection = projection[0] if projection.dim() == 3 else projection  # per-head sharing: the first head
        projection = projection[:, :length] if length else projection
        axes[0][index].imshow(projection.numpy(), aspect="auto", cmap="magma")
        axes[0][index].set_title(f"layer {index}", fontsize=7)
        axes[0][index].set_xlabel("position", fontsize=7)
    axes[0][0].set_ylabel("projected slot", fontsize=7)
    return _save(figure, path)


def _save(figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path

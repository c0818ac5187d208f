"""The one place a task's freshly loaded model gets its attention set up: a saved model that already carries
efficient attention (config.omnitune_attention) gets it back; otherwise `--attention`, `--max_positions` and
their options apply. Only an encoder is changed (an encoder-decoder's encoder): the long input is there."""

from __future__ import annotations

from pathlib import Path

from safetensors.torch import load_file

from shared.attention import linformer, sparse, token_reduction
from shared.attention.positions import extend_positions
from shared.errors import OmnituneError


def configure_attention(model, params, model_path: str, tokenizer=None) -> None:
    """`tokenizer`, when given, is let read as far as a grown position table reaches (it caps at
    model_max_length, which would keep inputs at the pretrained 512)."""
    encoder = model.get_encoder() if getattr(model.config, "is_encoder_decoder", False) else model
    if params.max_positions and tokenizer is not None:
        tokenizer.model_max_length = max(tokenizer.model_max_length, params.max_positions)
    stated = getattr(encoder.config, "omnitune_attention", None)
    if stated and stated["kind"] in token_reduction.KINDS:  # hooks on the whole model: it needs the inputs too
        token_reduction.attach(model, stated)
        return
    if stated:
        _restore(encoder, stated, Path(model_path), prefix=_prefix_of(model, encoder))
        return
    if params.max_positions:
        extend_positions(encoder, params.max_positions)
    if params.attention == "sliding-window":
        encoder.config.omnitune_attention = {
            "kind": "sliding-window",
            "window": params.attention_window,
            "global_tokens": params.global_tokens,
        }
        encoder.set_attn_implementation(sparse.NAME)
    elif params.attention == "linformer":
        linformer.attach(encoder, params.linformer_k, longest_input(encoder.config), params.linformer_sharing)
    elif params.attention in token_reduction.KINDS:
        token_reduction.attach(model, reduction_settings(params))


def reduction_settings(params) -> dict:
    if params.attention == "token-merging":
        return {"kind": params.attention, "merge_per_layer": params.merge_per_layer}
    return {"kind": params.attention, "keep_ratio": params.keep_ratio, "prune_layers": params.prune_layers}


def longest_input(config) -> int:
    """How many tokens the encoder can be given: its position table, or its patches (+ class token)."""
    if getattr(config, "max_position_embeddings", None):
        return config.max_position_embeddings
    if getattr(config, "image_size", None) and getattr(config, "patch_size", None):
        return (config.image_size // config.patch_size) ** 2 + 1 + getattr(config, "num_register_tokens", 0)
    raise OmnituneError(
        f"cannot tell the longest input of {type(config).__name__}",
        "Linformer supports BERT-family encoders, ViT and DINOv2",
    )


def _restore(encoder, stated: dict, folder: Path, prefix: str) -> None:
    if stated["kind"] == "sliding-window":
        encoder.set_attn_implementation(sparse.NAME)
    elif stated["kind"] == "linformer":
        state = {}
        for file in sorted(folder.glob("*.safetensors")):
            state.update(
                {name[len(prefix) :]: tensor for name, tensor in load_file(file).items() if name.startswith(prefix)}
            )
        linformer.restore(encoder, state)


def _prefix_of(model, encoder) -> str:
    if encoder is model:
        return ""
    return next(name for name, module in model.named_modules() if module is encoder) + "."

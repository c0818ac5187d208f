"""LoRA through peft, with target modules found for any architecture, so users never meet peft's
"please specify target_modules" error."""

from __future__ import annotations

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING

_ATTENTION_HINTS = ("attn", "attention")


def find_target_modules(model: torch.nn.Module, head_modules: tuple[str, ...], scope: str = "all-linear") -> list[str]:
    """Leaf names of the Linear layers to adapt, for any architecture.

    "all-linear" (default): every Linear outside the task head, attention and feed-forward alike: QLoRA
    (Dettmers et al., 2023) found that adapting all of them is what closes the gap to full fine-tuning, and
    on our QA set query/value-only LoRA learned nothing in the default time budget (README).
    "attention": peft's table for known model types, else every Linear inside an attention block."""
    # the LM head of a generator is tied to its word embeddings: adapting it would untie them
    output_embeddings = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    linear = [
        name
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear)
        and module is not output_embeddings
        and not any(name.split(".")[0] == h or f".{h}" in name for h in head_modules)
    ]
    if scope == "attention":
        model_type = getattr(getattr(model, "config", None), "model_type", None)
        if model_type in TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING:
            return list(TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING[model_type])
        linear = [n for n in linear if any(h in n.lower() for h in _ATTENTION_HINTS)] or linear
    return sorted({name.rsplit(".", 1)[-1] for name in linear})


def apply_lora(
    model: torch.nn.Module,
    r: int,
    alpha: int,
    dropout: float,
    targets: list[str] | None,
    head_modules: tuple[str, ...],
    scope: str = "all-linear",
) -> PeftModel:
    config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=targets or find_target_modules(model, head_modules, scope),
        modules_to_save=list(head_modules),
    )
    return get_peft_model(model, config)


def trainable_share(model: torch.nn.Module) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total

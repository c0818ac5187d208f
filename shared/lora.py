"""LoRA through peft, with target modules found for any architecture, so users never meet peft's
"please specify target_modules" error."""

from __future__ import annotations

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING

_ATTENTION_HINTS = ("attn", "attention")


def find_target_modules(model: torch.nn.Module, head_modules: tuple[str, ...]) -> list[str]:
    """peft's own table for known model types; otherwise every Linear inside an attention block; otherwise
    every Linear outside the task head."""
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type in TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING:
        return list(TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING[model_type])
    linear = [name for name, module in model.named_modules()
              if isinstance(module, torch.nn.Linear) and not any(name.split(".")[0] == h or f".{h}" in name
                                                                 for h in head_modules)]
    in_attention = [n for n in linear if any(h in n.lower() for h in _ATTENTION_HINTS)]
    chosen = in_attention or linear
    return sorted({name.rsplit(".", 1)[-1] for name in chosen})


def apply_lora(model: torch.nn.Module, r: int, alpha: int, dropout: float, targets: list[str] | None,
               head_modules: tuple[str, ...]) -> PeftModel:
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout,
                        target_modules=targets or find_target_modules(model, head_modules),
                        modules_to_save=list(head_modules))
    return get_peft_model(model, config)


def trainable_share(model: torch.nn.Module) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total

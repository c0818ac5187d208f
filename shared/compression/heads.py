"""Attention-head pruning by importance (Michel et al., 2019, "Are Sixteen Heads Really Better than One?"):
each head's output is multiplied by a gate fixed at 1, and |dL/dgate| accumulated over task batches says how
much the loss depends on that head; the least important heads go, and their rows of the query/key/value
projections and columns of the output projection with them, so the matrices shrink.

The same number of heads is removed in every layer, because a config states one head count. It has to state
the head size too: ViT and DINOv2 read `config.head_dim`, so a pruned model reloads with plain
from_pretrained. BERT's attention derives the head size from hidden_size / num_attention_heads (and
transformers 5 dropped `prune_heads`), so BERT-family models are refused with FFN pruning as the alternative."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from shared.compression.structured import keep_columns, keep_rows, layer_config, replace_module
from shared.errors import OmnituneError

HEAD_SIZE_AWARE = ("vit", "dinov2", "deit")  # config types whose attention reads config.head_dim


@dataclass
class HeadPruningReport:
    ratio: float
    heads_before: int
    heads_after: int  # per layer
    removed: dict[str, list[int]] = field(default_factory=dict)  # attention module -> removed head indices


def attention_blocks(model) -> list[tuple[str, torch.nn.Module]]:
    model_type = layer_config(model).model_type
    if model_type not in HEAD_SIZE_AWARE:
        raise OmnituneError(
            f"head pruning cannot be saved for {model_type}: its attention derives the head size "
            "from hidden_size / num_attention_heads, so fewer heads cannot be stated in its config",
            "use --ffn_ratio (feed-forward neurons) for BERT-family models; heads: ViT, DeiT, DINOv2",
        )
    blocks = [
        (name, m)
        for name, m in model.named_modules()
        if all(isinstance(getattr(m, p, None), torch.nn.Linear) for p in ("q_proj", "k_proj", "v_proj", "o_proj"))
    ]
    if not blocks:
        raise OmnituneError(
            f"no attention with q/k/v/o projections in this {type(model).__name__}",
            "head pruning supports ViT, DeiT and DINOv2",
        )
    return blocks


def head_importance(model, batches) -> dict[str, torch.Tensor]:
    """|dL/dgate| per head, summed over `batches` (dicts with labels), keyed by attention module name."""
    blocks = attention_blocks(model)
    heads = layer_config(model).num_attention_heads
    gates = {name: torch.ones(heads, requires_grad=True) for name, _ in blocks}
    scores = {name: torch.zeros(heads) for name, _ in blocks}

    def gate(name):
        def hook(_module, args):
            states = args[0]
            shaped = states.view(*states.shape[:-1], heads, -1) * gates[name][:, None]
            return (shaped.view_as(states), *args[1:])

        return hook

    hooks = [module.o_proj.register_forward_pre_hook(gate(name)) for name, module in blocks]
    model.eval()  # importance of the model as it predicts, without dropout noise
    try:
        for batch in batches:
            loss = model(**batch).loss
            if loss is None:
                raise OmnituneError("head importance needs a loss; the model returned none", "use data with labels")
            grads = torch.autograd.grad(loss, list(gates.values()))
            for name, grad in zip(gates, grads):
                scores[name] += grad.abs()
    finally:
        for hook in hooks:
            hook.remove()
    return scores


def prune_heads(model, ratio: float, importance: dict[str, torch.Tensor]) -> HeadPruningReport:
    """Remove round(ratio * heads) of the least important heads in every layer."""
    blocks = attention_blocks(model)
    config = layer_config(model)
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    remove = round(heads * ratio)
    if not 0 < remove < heads:
        raise OmnituneError(
            f"--head_ratio {ratio} removes {remove} of {heads} heads per layer",
            f"choose a ratio that removes between 1 and {heads - 1} heads",
        )
    report = HeadPruningReport(ratio, heads, heads - remove)
    for name, module in blocks:
        removed = importance[name].argsort()[:remove].sort().values
        kept_heads = [h for h in range(heads) if h not in set(removed.tolist())]
        kept = torch.tensor([h * head_dim + d for h in kept_heads for d in range(head_dim)])
        for projection in ("q_proj", "k_proj", "v_proj"):
            replace_module(module, projection, keep_rows(getattr(module, projection), kept))
        replace_module(module, "o_proj", keep_columns(module.o_proj, kept))
        module.num_attention_heads = len(kept_heads)
        report.removed[name] = removed.tolist()
    config.head_dim = head_dim
    config.num_attention_heads = heads - remove
    return report

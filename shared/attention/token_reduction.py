"""Fewer tokens in the later layers of a pretrained encoder, chosen by importance, without forking model code.

Two published methods, both training-free at inference and fine-tunable (the selection is not differentiated,
the kept tokens are):
- token merging (ToMe, Bolya et al. 2023): before every layer after the first, the `merge_per_layer` most similar
  pairs (bipartite soft matching on the previous layer's keys) become one token, their size-weighted mean; the
  attention that follows is proportional (log token size added to the keys' logits), so a merged token weighs as
  much as the tokens it stands for. ToMe merges between a block's attention and its MLP; here the merge happens
  at the block boundary, from the same keys, which keeps the model's own layer code untouched.
- token pruning by importance (EViT, Liang et al. 2022; PoWER-BERT, Goyal et al. 2020): after the layers in
  `prune_layers`, only the `keep_ratio` most important tokens go on. Importance is the attention a token
  receives from the protected tokens' queries (EViT's class-token attention for images; in question answering,
  from [CLS] and the question, so the context that matters to this question stays), or, where nothing is
  protected (speech frames), from 64 evenly spaced queries (PoWER-BERT's attention received, sampled so it
  costs a sliver of the layer). The dropped tokens are fused into one extra
  token (EViT) so their content still reaches the later layers. Protected tokens always survive: the class and
  register tokens, and in question answering the question.

Bookkeeping: for every original position the state knows which current token holds it (`origin`), or, once
pruned, the hidden state it had when it left (`parked`). Encoders whose outputs are read per position (a
classifier's mean patch, a probe's image regions, question answering's start/end logits) get their outputs
mapped back to the original layout, so heads, probes and losses work unchanged; an encoder-decoder's encoder
(Whisper) hands the decoder the reduced sequence, which is where its saving is.

How it is wired: a pre-hook on every encoder layer reduces the hidden states it receives; the layers' attention
modules run a transformers attention backend (NAME) that applies padding, proportional attention, and notes the
importance the next reduction needs. Each attention module gets its own copy of the config naming that backend,
so a decoder sharing the config (Whisper) keeps its own attention."""

from __future__ import annotations

import copy
import math
import threading
from dataclasses import dataclass, field
from functools import partial

import torch
import torch.nn.functional as F
from transformers import AttentionInterface

from shared.attention.linformer import attention_modules
from shared.errors import OmnituneError

NAME = "omnitune_token_reduction"
KINDS = ("token-merging", "token-pruning")
_REDUCER = "_omnitune_token_reducer"


def default_prune_layers(layers: int) -> list[int]:
    """EViT's schedule (after the 3rd, 6th and 9th of 12 layers), scaled to the encoder's depth."""
    return sorted({max(1, round(layers * quarter / 4)) for quarter in (1, 2, 3)} - {layers})


@dataclass(frozen=True)
class Plan:
    kind: str
    layers: int
    merge_per_layer: int = 0
    keep_ratio: float = 1.0
    prune_layers: tuple[int, ...] = ()
    protected: int = 1  # leading tokens that always survive (class token, registers)
    restore_layout: bool = True
    # where a pruned position's output comes from: the fused token it went into (images: background patches,
    # read as a group by pooled heads), or its own hidden state when it left (text: every token needs its own
    # start/end logit)
    pruned_to_fused: bool = True

    def reduces_before(self, layer: int) -> bool:
        if layer >= self.layers:
            return False
        if self.kind == "token-merging":
            return layer >= 1 and self.merge_per_layer > 0
        return layer in self.prune_layers and self.keep_ratio < 1.0

    def metric_after(self, layer: int) -> str | None:
        """What the attention of `layer` must note for the reduction before the next layer."""
        if not self.reduces_before(layer + 1):
            return None
        return "keys" if self.kind == "token-merging" else "importance"


@dataclass
class Tokens:
    """Where one forward pass stands: (batch, n) for the current tokens, (batch, N) for the original positions."""

    full: int
    origin: torch.Tensor  # (batch, N): index of the current token holding each position, -1 once pruned
    parked: torch.Tensor | None = None  # (batch, N, dim): a pruned position's last hidden state
    valid: torch.Tensor | None = None  # (batch, n) False for padding; None when nothing is padded
    protected: torch.Tensor | None = None  # (batch, n) never pruned or merged
    sizes: torch.Tensor | None = None  # (batch, n) positions each token stands for (merging)
    metric: torch.Tensor | None = None
    fused_slot: int | None = None  # index of the token holding the pruned positions (the last one), if any
    layouts: list = field(default_factory=list)  # (origin, parked, fused_slot) as each layer saw them

    def key_bias(self, dtype) -> torch.Tensor | None:
        """(batch, 1, 1, n) additive: -inf on padding, log(size) for merged tokens (proportional attention)."""
        bias = None
        if self.sizes is not None:
            bias = self.sizes.log().to(dtype)
        if self.valid is not None and not bool(self.valid.all()):
            padding = torch.zeros(self.valid.shape, dtype=dtype, device=self.valid.device).masked_fill(
                ~self.valid, float("-inf")
            )
            bias = padding if bias is None else bias + padding
        return None if bias is None else bias[:, None, None, :]

    def restore(self, hidden: torch.Tensor, origin=None, parked=None) -> torch.Tensor:
        """hidden (batch, n, dim) back to the original N positions."""
        if origin is None:
            origin, parked = self.origin, self.parked
        if hidden.shape[1] == self.full and bool((origin == torch.arange(self.full, device=origin.device)).all()):
            return hidden
        placed = hidden.gather(1, origin.clamp(min=0)[..., None].expand(-1, -1, hidden.shape[-1]))
        if parked is None:
            return placed
        return torch.where((origin >= 0)[..., None], placed, parked.to(placed.dtype))


class Reducer:
    """The hooks of one model: state per thread, because a served model answers several sessions at once."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self._local = threading.local()

    @property
    def tokens(self) -> Tokens | None:
        return getattr(self._local, "tokens", None)

    def note_inputs(self, module, args, kwargs):
        """Before the base model: QA's question tokens (token type 0) are protected."""
        self._local.token_types = kwargs.get("token_type_ids")

    def before_layer(self, module, args, kwargs, index: int):
        args = list(args)
        hidden = args[0] if args else kwargs["hidden_states"]
        if index == 0:
            mask = args[1] if len(args) > 1 else kwargs.get("attention_mask")
            self._local.tokens = self._start(hidden, mask)
        elif self.plan.reduces_before(index):
            hidden = self._reduce(hidden)
        tokens = self.tokens
        tokens.layouts.append((tokens.origin, tokens.parked, tokens.fused_slot))
        if args:
            args[0] = hidden
        else:
            kwargs["hidden_states"] = hidden
        if len(args) > 1:  # the backend masks padding itself; the model's mask has the old length
            args[1] = None
        elif "attention_mask" in kwargs:
            kwargs["attention_mask"] = None
        return tuple(args), kwargs

    def restore_outputs(self, module, args, output):
        """After the encoder stack: every per-position output back in the original layout."""
        tokens = self.tokens
        if tokens is None:
            return output
        output.last_hidden_state = tokens.restore(output.last_hidden_state)
        recorded = list(getattr(output, "hidden_states", None) or ())
        # the last entries are the layers' outputs (an embedding output may come first), each in its layer's layout
        for back in range(1, min(len(recorded), len(tokens.layouts)) + 1):
            recorded[-back] = tokens.restore(recorded[-back], *tokens.layouts[-back][:2])
        if recorded:
            output.hidden_states = tuple(recorded)
        return output

    def _start(self, hidden: torch.Tensor, mask) -> Tokens:
        batch, length = hidden.shape[:2]
        origin = torch.arange(length, device=hidden.device).expand(batch, -1)
        valid = _valid_keys(mask, batch, length)
        protected = torch.zeros(batch, length, dtype=torch.bool, device=hidden.device)
        protected[:, : self.plan.protected] = True
        token_types = getattr(self._local, "token_types", None)
        if token_types is not None and token_types.shape == (batch, length):
            protected |= token_types == 0  # the question, [CLS] and the first [SEP]
        if valid is not None:
            protected &= valid
        if self.plan.kind == "token-merging" and valid is not None:
            raise OmnituneError(
                "token merging needs unpadded inputs (every example the same length)",
                "use --attention token-pruning for padded text, or batch inputs of one length",
            )
        return Tokens(full=length, origin=origin, valid=valid, protected=protected)

    def _reduce(self, hidden: torch.Tensor) -> torch.Tensor:
        tokens = self.tokens
        metric, tokens.metric = tokens.metric, None
        if metric is None:
            raise OmnituneError("token reduction found no importance from the layer before", "report this as a bug")
        if self.plan.kind == "token-merging":
            return _merge(hidden, tokens, metric, self.plan.merge_per_layer)
        return _prune(hidden, tokens, metric, self.plan.keep_ratio, self.plan.pruned_to_fused)


def _valid_keys(mask, batch: int, length: int) -> torch.Tensor | None:
    """Which keys are real, from whatever mask the model built: None, boolean (True = attend) or additive."""
    if mask is None:
        return None
    if mask.dim() == 2:
        valid = mask.bool()
    else:
        allowed = mask.bool() if mask.dtype == torch.bool else mask == 0
        valid = allowed.reshape(batch, -1, allowed.shape[-2], allowed.shape[-1])[:, 0].any(dim=-2)
    valid = valid[:, -length:]
    return None if bool(valid.all()) else valid


def _merge(hidden: torch.Tensor, tokens: Tokens, metric: torch.Tensor, r: int) -> torch.Tensor:
    """ToMe's bipartite soft matching: even tokens (A) each pick their most similar odd token (B); the r best
    pairs merge; protected tokens neither merge nor receive."""
    batch, length, dim = hidden.shape
    metric = metric / metric.norm(dim=-1, keepdim=True)
    a, b = metric[:, ::2], metric[:, 1::2]
    r = min(r, a.shape[1] - int(tokens.protected[:, ::2].sum(1).max()))
    if r <= 0:
        return hidden
    scores = a @ b.transpose(-1, -2)
    scores = scores.masked_fill(tokens.protected[:, ::2, None], float("-inf"))
    scores = scores.masked_fill(tokens.protected[:, None, 1::2], float("-inf"))
    best, partner = scores.max(dim=-1)  # (batch, |A|)
    ranked = best.argsort(dim=-1, descending=True)
    merged, kept = ranked[:, :r], ranked[:, r:].sort(dim=-1).values
    stay = kept.shape[1]
    # new order: the A tokens that stay (in their order: the class token first), then every B token
    dest_a = torch.empty_like(best, dtype=torch.long)
    dest_a.scatter_(1, kept, torch.arange(stay, device=hidden.device).expand(batch, -1))
    dest_a.scatter_(1, merged, stay + partner.gather(1, merged))
    dest = torch.empty(batch, length, dtype=torch.long, device=hidden.device)
    dest[:, ::2] = dest_a
    dest[:, 1::2] = stay + torch.arange(b.shape[1], device=hidden.device)
    new_length = stay + b.shape[1]
    sizes = tokens.sizes if tokens.sizes is not None else hidden.new_ones(batch, length)
    mass = sizes.new_zeros(batch, new_length).scatter_add_(1, dest, sizes)
    summed = hidden.new_zeros(batch, new_length, dim).scatter_add_(
        1, dest[..., None].expand(-1, -1, dim), hidden * sizes[..., None].to(hidden.dtype)
    )
    protected = tokens.protected.new_zeros(batch, new_length).scatter_(1, dest, tokens.protected)
    tokens.origin = dest.gather(1, tokens.origin)
    tokens.sizes, tokens.protected = mass, protected
    return summed / mass[..., None].to(hidden.dtype)


def _prune(
    hidden: torch.Tensor, tokens: Tokens, importance: torch.Tensor, keep_ratio: float, to_fused: bool
) -> torch.Tensor:
    """Keep the protected tokens and the most important of the rest; fuse the dropped ones into one token,
    weighted by their importance (EViT). The dropped positions are then held by the fused token (`to_fused`),
    or parked with the hidden state they have now."""
    batch, length, dim = hidden.shape
    valid = tokens.valid if tokens.valid is not None else torch.ones_like(tokens.protected)
    protected = int(tokens.protected.sum(1).max())
    keep = min(length, max(protected + 1, protected + math.ceil(keep_ratio * (length - protected))))
    if keep >= length:
        return hidden
    score = importance.float().masked_fill(~valid, float("-inf")).masked_fill(tokens.protected, float("inf"))
    if tokens.fused_slot is not None:  # the earlier fused token goes into the new one: one token holds the pruned
        score[:, tokens.fused_slot] = float("-inf")
    kept = score.topk(keep, dim=-1).indices.sort(dim=-1).values  # (batch, keep), in their original order
    dropped = torch.ones_like(valid).scatter_(1, kept, False)
    weights = (importance.float().clamp(min=0) * (dropped & valid)).to(hidden.dtype)
    fused = (hidden * weights[..., None]).sum(1, keepdim=True) / weights.sum(1).clamp(min=1e-12)[:, None, None]

    holder = tokens.origin.clamp(min=0)
    dest = torch.full((batch, length), keep if to_fused else -1, dtype=torch.long, device=hidden.device)
    dest.scatter_(1, kept, torch.arange(keep, device=hidden.device).expand(batch, -1))
    if not to_fused:  # the positions held by a dropped token leave now, with the hidden state they have
        leaving = (tokens.origin >= 0) & dropped.gather(1, holder)
        current = hidden.gather(1, holder[..., None].expand(-1, -1, dim))
        parked = tokens.parked if tokens.parked is not None else torch.zeros_like(current)
        tokens.parked = torch.where(leaving[..., None], current, parked)
    tokens.origin = torch.where(tokens.origin >= 0, dest.gather(1, holder), tokens.origin)

    gathered_valid = valid.gather(1, kept)
    fused_valid = (dropped & valid).any(dim=1, keepdim=True)
    new_valid = torch.cat([gathered_valid, fused_valid], dim=1)
    tokens.valid = None if bool(new_valid.all()) else new_valid
    tokens.protected = torch.cat([tokens.protected.gather(1, kept), torch.zeros_like(fused_valid)], dim=1)
    tokens.fused_slot = keep
    return torch.cat([hidden.gather(1, kept[..., None].expand(-1, -1, dim)), fused], dim=1)


def reducing_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **_):
    """SDPA with the reduction's key bias; notes the importance the next reduction needs."""
    reducer, layer = getattr(module, _REDUCER)
    tokens = reducer.tokens
    scaling = query.shape[-1] ** -0.5 if scaling is None else scaling
    bias = tokens.key_bias(query.dtype) if tokens is not None else None
    wanted = reducer.plan.metric_after(layer) if tokens is not None else None
    dropout = dropout if module.training else 0.0
    output = F.scaled_dot_product_attention(query, key, value, attn_mask=bias, dropout_p=dropout, scale=scaling)
    if wanted == "keys":
        tokens.metric = key.mean(dim=1).detach()
    elif wanted == "importance":
        tokens.metric = _attention_received(query.detach(), key.detach(), bias, scaling, tokens)
    return output.transpose(1, 2).contiguous(), None


def _attention_received(query, key, bias, scaling: float, tokens: Tokens, sampled: int = 64) -> torch.Tensor:
    """(batch, n): the attention each key receives from the protected tokens' queries (averaged over them and
    the heads), or from `sampled` evenly spaced queries where no token is protected. Only those queries' rows
    of the attention matrix are computed."""
    batch, heads, length, dim = query.shape
    protected = tokens.protected
    if bool(protected.any()):
        count = int(protected.sum(dim=1).max())
        chosen = protected.float().argsort(dim=1, descending=True, stable=True)[:, :count]
        weight = protected.gather(1, chosen).float()
    else:
        chosen = torch.arange(0, length, max(1, length // sampled), device=query.device).expand(batch, -1)
        valid = tokens.valid if tokens.valid is not None else torch.ones_like(protected)
        weight = valid.gather(1, chosen).float()
    rows = query.gather(2, chosen[:, None, :, None].expand(-1, heads, -1, dim))
    scores = (rows @ key.transpose(-1, -2)) * scaling
    probs = torch.softmax(scores if bias is None else scores + bias, dim=-1)
    received = (probs * weight[:, None, :, None]).sum(dim=2).mean(dim=1)
    return received / weight.sum(dim=1, keepdim=True).clamp(min=1)


def encoder_layers(model) -> tuple[torch.nn.Module, torch.nn.ModuleList]:
    """The module holding the encoder's layer stack (BERT's/ViT's/DINOv2's `encoder.layer`, Whisper's
    `encoder.layers`) and that stack."""
    for module in model.modules():
        for name in ("layer", "layers"):
            stack = getattr(module, name, None)
            if isinstance(stack, torch.nn.ModuleList) and len(stack) and attention_modules(stack[0]):
                return module, stack
    raise OmnituneError(
        f"no encoder layer stack found in {type(model).__name__}",
        "token merging and pruning support BERT-family encoders, ViT, DINOv2 and Whisper's encoder",
    )


def plan_for(model, stated: dict) -> Plan:
    config = model.config
    vision = getattr(config, "patch_size", None) is not None or hasattr(config, "backbone_config")
    backbone = getattr(config, "backbone_config", None) or config
    layers = len(encoder_layers(model)[1])
    prune_layers = tuple(stated.get("prune_layers") or default_prune_layers(layers))
    if any(not 0 < layer < layers for layer in prune_layers):
        raise OmnituneError(
            f"prune_layers {list(prune_layers)} must lie between 1 and {layers - 1} (the encoder has {layers} layers)",
            f"e.g. --prune_layers {' '.join(map(str, default_prune_layers(layers)))}",
        )
    encoder_decoder = getattr(config, "is_encoder_decoder", False)
    return Plan(
        kind=stated["kind"],
        layers=layers,
        merge_per_layer=int(stated.get("merge_per_layer", 0)),
        keep_ratio=float(stated.get("keep_ratio", 1.0)),
        prune_layers=prune_layers,
        # speech frames have no class token; text keeps [CLS]
        protected=1 + getattr(backbone, "num_register_tokens", 0) if vision else int(not encoder_decoder),
        restore_layout=not encoder_decoder,
        pruned_to_fused=vision,
    )


def attach(model, stated: dict) -> Reducer:
    """Reduce tokens in `model`'s encoder as `stated` says ({"kind": ..., "merge_per_layer" | "keep_ratio",
    "prune_layers"}); recorded in config.omnitune_attention, so a saved model gets it back."""
    if stated.get("kind") not in KINDS:
        raise OmnituneError(f"unknown token reduction {stated.get('kind')!r}", f"choose one of: {', '.join(KINDS)}")
    if stated["kind"] == "token-pruning" and not 0 < float(stated.get("keep_ratio", 1.0)) <= 1:
        raise OmnituneError(f"keep_ratio must be in (0, 1], got {stated['keep_ratio']}", "e.g. --keep_ratio 0.7")
    plan = plan_for(model, stated)
    reducer = Reducer(plan)
    holder, layers = encoder_layers(model)
    for index, layer in enumerate(layers):
        layer.register_forward_pre_hook(partial(reducer.before_layer, index=index), with_kwargs=True)
        for attention in attention_modules(layer):
            attention.config = copy.copy(attention.config)  # this backend for the encoder's layers only
            attention.config._attn_implementation = NAME
            setattr(attention, _REDUCER, (reducer, index))
    if plan.restore_layout:
        holder.register_forward_hook(reducer.restore_outputs)
    model.base_model.register_forward_pre_hook(reducer.note_inputs, with_kwargs=True)
    recorded = {"kind": plan.kind}
    if plan.kind == "token-merging":
        recorded["merge_per_layer"] = plan.merge_per_layer
    else:
        recorded.update(keep_ratio=plan.keep_ratio, prune_layers=list(plan.prune_layers))
    model.config.omnitune_attention = recorded
    return reducer


def layer_layouts(model) -> list[torch.Tensor]:
    """After a forward pass in this thread: for each encoder layer, (batch, N) the token each original position
    was part of in that layer (merged positions share one), -1 where it had been pruned. What the
    visualisations draw; empty for a model without token reduction."""
    reducer = next((getattr(m, _REDUCER)[0] for m in model.modules() if hasattr(m, _REDUCER)), None)
    tokens = reducer.tokens if reducer is not None else None
    if tokens is None:
        return []
    return [
        origin if fused_slot is None else origin.masked_fill(origin == fused_slot, -1)
        for origin, _, fused_slot in tokens.layouts
    ]


def carried_share(layouts: list[torch.Tensor]) -> torch.Tensor:
    """(batch, N) how much of its own token each position had, averaged over the layers: 1 for a position that
    stayed its own token throughout, 1/k in a token merged from k, 0 once pruned."""
    shares = []
    for origin in layouts:
        held = origin.clamp(min=0)
        group = torch.zeros(origin.shape, dtype=torch.float).scatter_add_(1, held, (origin >= 0).float())
        shares.append(torch.where(origin >= 0, 1.0 / group.gather(1, held).clamp(min=1), 0.0))
    return torch.stack(shares).mean(dim=0)


AttentionInterface.register(NAME, reducing_attention)

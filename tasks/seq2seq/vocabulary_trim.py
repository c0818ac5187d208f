"""Trim a separate target-side vocabulary to the language being trained (vocabulary trimming, Ushio et al. 2023,
"An Efficient Multilingual Language Model Compression through Vocabulary Trimming").

A warm-started Whisper decoder writes with Whisper's 51,865-token multilingual byte-level BPE; the bundled Spanish
Bible verses use a few thousand of those tokens (7,339 are kept with what follows), yet every training step
computes (and back-propagates) all 51,865 logits. Trimming keeps:
- every token the tokenizer produces on the training targets (with its prompt and end token),
- the 256 byte-level symbols, so any text, seen or not, still has a spelling,
- the tokens every kept merge passes through (BPE builds "Ġprincipio" from smaller pieces, which must exist),
- the `margin` most frequent pieces of the original BPE (its lowest ids), for words the training data lacks.
The merges whose parts and result are all kept stay, in their order, so the trimmed tokenizer splits the training
targets exactly as the full one did; other text falls back to smaller pieces. The result is an ordinary
`tokenizers` BPE tokenizer (saved and loaded by `save_pretrained`/`AutoTokenizer`) whose template adds the
decoder prompt and end token itself, and the decoder's embedding and output rows are the kept ones, in the same
order. The language is fixed by the trim: the model can no longer be prompted for another one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import torch
from tokenizers import Tokenizer, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from shared.errors import OmnituneError


@dataclass
class TrimmedVocabulary:
    tokenizer: PreTrainedTokenizerFast
    kept_old_ids: list[int]  # new id -> old id
    original_size: int

    @property
    def note(self) -> str:
        return (
            f"target vocabulary trimmed from {self.original_size:,} to {len(self.kept_old_ids):,} tokens "
            "(those of the training targets, the byte symbols, their merges and the most frequent pieces)"
        )


def can_trim(target) -> bool:
    """A tokenizer with a byte-level BPE of its own (`tokenizers` backend) can be trimmed."""
    backend = getattr(target, "backend_tokenizer", None)
    if backend is None:
        return False
    spec = json.loads(backend.to_str())
    return spec["model"]["type"] == "BPE" and "ByteLevel" in json.dumps(spec.get("pre_tokenizer"))


def trim_tokenizer(target, texts: list[str], margin: int = 1000) -> TrimmedVocabulary:
    """The trimmed tokenizer, from `target` configured with its prompt (its template adds it to every text)."""
    if not can_trim(target):
        raise OmnituneError(
            f"the target tokenizer ({type(target).__name__}) is not a byte-level BPE of its own",
            "trimming applies to warm-started decoders with their own vocabulary: use --trim_target_vocabulary false",
        )
    if not texts:
        raise OmnituneError("no training targets to choose the vocabulary from", "check the data's target column")
    spec = json.loads(target.backend_tokenizer.to_str())
    vocab: dict[str, int] = spec["model"]["vocab"]
    specials = {entry["content"]: entry["id"] for entry in spec["added_tokens"]}
    token_of = {**{i: t for t, i in vocab.items()}, **{i: t for t, i in specials.items()}}

    used = {i for ids in target(texts).input_ids for i in ids}
    prompt = target("").input_ids  # prompt tokens, then the end token
    used |= set(prompt)
    regular = {token_of[i] for i in used if token_of[i] not in specials}
    regular |= set(pre_tokenizers.ByteLevel.alphabet())
    regular |= {t for t, i in vocab.items() if i < margin and t not in specials}
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in spec["model"]["merges"]]
    regular = _with_merge_parts(regular, merges)

    kept_specials = sorted({token_of[i] for i in used if token_of[i] in specials}, key=specials.get)
    kept_tokens = sorted(regular, key=vocab.get) + kept_specials
    new_id = {token: index for index, token in enumerate(kept_tokens)}
    spec["model"]["vocab"] = {t: new_id[t] for t in kept_tokens if t not in specials}
    spec["model"]["merges"] = [[a, b] for a, b in merges if a in regular and b in regular and a + b in regular]
    spec["added_tokens"] = [{**e, "id": new_id[e["content"]]} for e in spec["added_tokens"] if e["content"] in new_id]
    spec["post_processor"] = _template([token_of[i] for i in prompt[:-1]], token_of[prompt[-1]], new_id)

    end = token_of[prompt[-1]]
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(json.dumps(spec)),
        bos_token=end,
        eos_token=end,
        pad_token=end,
        unk_token=end,
        additional_special_tokens=[t for t in kept_specials if t != end],
        model_max_length=target.model_max_length,
    )
    old_ids = [specials[t] if t in specials else vocab[t] for t in kept_tokens]
    return TrimmedVocabulary(tokenizer, old_ids, len(token_of))


def _with_merge_parts(tokens: set[str], merges: list[tuple[str, str]]) -> set[str]:
    """`tokens` and every token a merge producing one of them is made from, recursively."""
    parts = {a + b: (a, b) for a, b in reversed(merges)}  # the first (highest-priority) merge wins
    kept, queue = set(tokens), list(tokens)
    while queue:
        for part in parts.get(queue.pop(), ()):
            if part not in kept:
                kept.add(part)
                queue.append(part)
    return kept


def _template(prompt: list[str], end: str, new_id: dict[str, int]) -> dict:
    def special(token: str) -> dict:
        return {"SpecialToken": {"id": token, "type_id": 0}}

    def sequence(name: str) -> dict:
        return {"Sequence": {"id": name, "type_id": 0}}

    tokens = dict.fromkeys([*prompt, end])
    return {
        "type": "TemplateProcessing",
        "single": [*map(special, prompt), sequence("A"), special(end)],
        "pair": [*map(special, prompt), sequence("A"), sequence("B"), special(end)],
        "special_tokens": {t: {"id": t, "ids": [new_id[t]], "tokens": [t]} for t in tokens},
    }


def trim_decoder(model, kept_old_ids: list[int]) -> None:
    """Keep only the rows of the decoder's embedding and output layer for `kept_old_ids` (new id -> old id), and
    map the special token ids of the model's configs onto the new ids."""
    decoder = model.get_decoder()
    index = torch.tensor(kept_old_ids)
    embedding = decoder.get_input_embeddings()
    trimmed = torch.nn.Embedding(len(kept_old_ids), embedding.embedding_dim, padding_idx=None)
    trimmed.weight.data = embedding.weight.data[index].clone()
    decoder.set_input_embeddings(trimmed)
    output = decoder.get_output_embeddings()
    if output is not None:
        head = torch.nn.Linear(output.in_features, len(kept_old_ids), bias=output.bias is not None)
        head.weight.data = output.weight.data[index].clone()
        if output.bias is not None:
            head.bias.data = output.bias.data[index].clone()
        decoder.set_output_embeddings(head)
    if getattr(decoder.config, "tie_word_embeddings", False):
        decoder.get_output_embeddings().weight = decoder.get_input_embeddings().weight
    new_of = {old: new for new, old in enumerate(kept_old_ids)}
    for config in (decoder.config, model.config.decoder, model.config):
        config.vocab_size = len(kept_old_ids)
    for config in (model.config, model.generation_config, decoder.config):
        for name in ("decoder_start_token_id", "eos_token_id", "pad_token_id", "bos_token_id"):
            old = getattr(config, name, None)
            if isinstance(old, int):
                setattr(config, name, new_of.get(old))
    for name in ("suppress_tokens", "begin_suppress_tokens"):
        ids = getattr(model.generation_config, name, None)
        if ids:
            setattr(model.generation_config, name, [new_of[i] for i in ids if i in new_of] or None)

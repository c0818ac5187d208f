"""Generation settings (the same names as transformers' GenerationConfig, settable from the command line and the
config file), batched generation sorted by length, and token streaming for the demos."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import torch
from pydantic import BaseModel, Field
from transformers import GenerationConfig, TextIteratorStreamer

from shared.inference import silence_routine_generation_notices
from tasks.seq2seq.families import Conditioning


class GenerationParams(BaseModel):
    num_beams: int = Field(4, ge=1, description="beam search width (1 = greedy or sampling)")
    length_penalty: float = Field(1.0, description="> 1 favours longer beams, < 1 shorter")
    no_repeat_ngram_size: int = Field(3, ge=0, description="never repeat an n-gram of this size (0 = off)")
    repetition_penalty: float = Field(1.0, gt=0)
    min_new_tokens: int = Field(0, ge=0)
    max_new_tokens: int = Field(64, ge=1)
    early_stopping: bool = Field(True, description="beam search stops when num_beams finished candidates exist")
    do_sample: bool = False
    temperature: float = Field(1.0, gt=0)
    top_k: int = Field(50, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)


GENERATION_FIELDS = tuple(GenerationParams.model_fields)


def settings_of(params, **changes) -> GenerationParams:
    """The generation settings held by a task's parameters (which extend GenerationParams), with changes."""
    return GenerationParams(**{**{k: getattr(params, k) for k in GENERATION_FIELDS}, **changes})


silence_routine_generation_notices()


def generation_config(model, settings: GenerationParams, condition: Conditioning) -> GenerationConfig:
    config = GenerationConfig.from_dict({**model.generation_config.to_dict(), **settings.model_dump()})
    # knobs of another decoding mode are unset: transformers rejects them as contradictions
    if not settings.do_sample:
        config.temperature, config.top_k, config.top_p = None, None, None
    if settings.num_beams == 1:
        config.early_stopping, config.length_penalty = None, 1.0
    if condition.forced_bos_token_id is not None:
        config.forced_bos_token_id = condition.forced_bos_token_id
    if condition.decoder_start_token_id is not None:
        config.decoder_start_token_id = condition.decoder_start_token_id
    return config


def decoder_prompt(model, condition: Conditioning, batch: int) -> dict[str, torch.Tensor]:
    """`decoder_input_ids` that begin every output with the forced prompt (empty dict when there is none)."""
    if not condition.decoder_prompt:
        return {}
    start = model.generation_config.decoder_start_token_id
    row = torch.tensor([start, *condition.decoder_prompt])
    return {"decoder_input_ids": row.repeat(batch, 1)}


def encode_sources(tokenizers, texts: list[str], condition: Conditioning, max_source_length: int):
    return tokenizers.source(
        [condition.source_prefix + t for t in texts],
        max_length=max_source_length,
        truncation=True,
        padding=True,
        return_tensors="pt",
    )


def generate(
    model,
    tokenizers,
    texts: list[str],
    condition: Conditioning,
    settings: GenerationParams,
    max_source_length: int,
    batch_size: int,
) -> list[str]:
    """Outputs in the order of `texts`; batches hold texts of similar length (longest first, so a batch that
    does not fit in memory fails at once rather than at the end)."""
    model.eval()
    config = generation_config(model, settings, condition)
    # tokenised once: the lengths order the batches, and each batch is only padded
    encoded = tokenizers.source(
        [condition.source_prefix + t for t in texts], truncation=True, max_length=max_source_length
    )
    order = sorted(range(len(texts)), key=lambda i: -len(encoded["input_ids"][i]))
    outputs: list[str] = [""] * len(texts)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            inputs = tokenizers.source.pad(
                {key: [values[i] for i in chunk] for key, values in encoded.items()}, return_tensors="pt"
            )
            generated = model.generate(
                **inputs, **decoder_prompt(model, condition, len(chunk)), generation_config=config
            )
            decoded = tokenizers.target.batch_decode(generated, skip_special_tokens=True)
            for index, text in zip(chunk, decoded):
                outputs[index] = text.strip()
    return outputs


def stream(
    model, tokenizers, text: str, condition: Conditioning, settings: GenerationParams, max_source_length: int
) -> Iterator[str]:
    """The output so far, growing token by token (greedy or sampled: beam search only knows its answer at the
    end, so streaming uses num_beams=1)."""
    streamer = TextIteratorStreamer(tokenizers.target, skip_prompt=False, skip_special_tokens=True)
    config = generation_config(model, settings.model_copy(update={"num_beams": 1}), condition)
    inputs = encode_sources(tokenizers, [text], condition, max_source_length)
    kwargs: dict[str, Any] = {
        **inputs,
        **decoder_prompt(model, condition, 1),
        "generation_config": config,
        "streamer": streamer,
    }
    failure: list[BaseException] = []
    worker = threading.Thread(target=_generate_into, args=(model, kwargs, streamer, failure), daemon=True)
    worker.start()
    produced = ""
    for piece in streamer:
        produced += piece
        yield produced.strip()
    worker.join()
    if failure:
        raise failure[0]


def _generate_into(model, kwargs, streamer, failure: list) -> None:
    try:
        with torch.inference_mode():
            model.generate(**kwargs)
    except BaseException as error:  # handed to the caller: the streamer must still end, or it waits forever
        failure.append(error)
        streamer.end()

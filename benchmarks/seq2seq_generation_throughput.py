"""Sentences per second of omnitune's batched generation (inputs sorted by length, so a batch pads little)
vs the plain transformers loop in dataset order (tokenise a batch with padding, generate, decode: the Hugging
Face course's translation evaluation loop), same model, same settings, same sentences, same run.

    python benchmarks/seq2seq_generation_throughput.py --task translation --model RUN [--examples 192]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from report import RESULTS, machine, save

from shared.pretrained import resolve
from tasks.registry import get_task
from tasks.seq2seq import generation


def plain_transformers_loop(model, tokenizers, texts, settings, max_source_length, batch_size) -> list[str]:
    """The peer: batches in dataset order, the same generation config and decoder prompt."""
    condition = tokenizers.condition
    config = generation.generation_config(model, settings, condition)
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            chunk = texts[start : start + batch_size]
            inputs = generation.encode_sources(tokenizers, chunk, condition, max_source_length)
            ids = model.generate(
                **inputs, **generation.decoder_prompt(model, condition, len(chunk)), generation_config=config
            )
            outputs += [t.strip() for t in tokenizers.target.batch_decode(ids, skip_special_tokens=True)]
    return outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="translation", choices=("translation", "summarization"))
    parser.add_argument("--model", required=True)
    parser.add_argument("--examples", type=int, default=192)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    task = get_task(args.task)
    params = task.params_class()
    built = task.build(resolve(args.model), params)
    model, tokenizers = built.model, built.processor
    rows = task.load_examples(params, "test")
    texts = list(rows.select(range(min(args.examples, len(rows))))["source"])
    settings = generation.settings_of(params)

    timings = {"omnitune": [], "plain_transformers_loop": []}
    for _ in range(args.repeats):  # interleaved, so that drift on the machine hits both alike
        start = time.perf_counter()
        ours = generation.generate(
            model, tokenizers, texts, tokenizers.condition, settings, params.max_source_length, args.batch_size
        )
        timings["omnitune"].append(time.perf_counter() - start)
        start = time.perf_counter()
        theirs = plain_transformers_loop(model, tokenizers, texts, settings, params.max_source_length, args.batch_size)
        timings["plain_transformers_loop"].append(time.perf_counter() - start)
    rates = {name: len(texts) / statistics.median(values) for name, values in timings.items()}
    result = {
        "benchmark": "seq2seq_generation_throughput",
        "task": args.task,
        "model": args.model,
        "examples": len(texts),
        "batch_size": args.batch_size,
        "generation": settings.model_dump(),
        "examples_per_second": {k: round(v, 2) for k, v in rates.items()},
        "ratio_omnitune_over_peer": round(rates["omnitune"] / rates["plain_transformers_loop"], 3),
        # beam search over differently padded batches may break ties differently
        "same_output_share": round(sum(a == b for a, b in zip(ours, theirs)) / len(texts), 3),
        "repeats": args.repeats,
        "seconds": {k: [round(x, 2) for x in v] for k, v in timings.items()},
        "machine": machine(),
    }
    save(result, RESULTS / f"{args.task}_generation_throughput.json")


if __name__ == "__main__":
    main()

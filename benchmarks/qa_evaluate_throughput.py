"""Examples per second of `omnitune evaluate`'s QA prediction path vs a plain transformers loop that does the
same work (tokenise with stride, forward, decode spans), same model, same questions, same run.

    python benchmarks/qa_evaluate_throughput.py [--model minilm-l6|RUN] [--examples 300] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from report import RESULTS, machine, save

from shared.pretrained import resolve
from tasks.registry import get_task


def plain_transformers_loop(
    model,
    tokenizer,
    examples,
    batch_size: int,
    max_length: int,
    stride: int,
    n_best: int = 20,
    max_answer_length: int = 96,
) -> list[str]:
    """The peer: the usual hand-written loop (Hugging Face course, chapter 7, question answering)."""
    inputs = tokenizer(
        examples["question"],
        examples["context"],
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=True,
        return_tensors="pt",
    )
    mapping = inputs.pop("overflow_to_sample_mapping")
    offsets = inputs.pop("offset_mapping")
    starts, ends = [], []
    with torch.inference_mode():
        for i in range(0, len(mapping), batch_size):
            out = model(**{k: v[i : i + batch_size] for k, v in inputs.items()})
            starts.append(out.start_logits.numpy())
            ends.append(out.end_logits.numpy())
    starts, ends = np.concatenate(starts), np.concatenate(ends)
    answers = []
    for example_index, context in enumerate(examples["context"]):
        best, best_text = -np.inf, ""
        for feature in np.where(mapping.numpy() == example_index)[0]:
            sequence_ids = inputs.sequence_ids(int(feature))
            for s in np.argsort(starts[feature])[-1 : -n_best - 1 : -1]:
                for e in np.argsort(ends[feature])[-1 : -n_best - 1 : -1]:
                    if sequence_ids[s] != 1 or sequence_ids[e] != 1 or e < s or e - s + 1 > max_answer_length:
                        continue
                    score = starts[feature][s] + ends[feature][e]
                    if score > best:
                        best = score
                        best_text = context[offsets[feature][s][0] : offsets[feature][e][1]]
        answers.append(best_text)
    return answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="minilm-l6")
    parser.add_argument("--examples", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    task = get_task("question-answering")
    params = task.params_class(version_2_with_negative=False)  # the peer has no null answer: same work
    built = task.build(resolve(args.model), params)
    model, tokenizer = built.model, built.processor
    examples = task.load_examples(params, "test").select(range(args.examples)).to_dict()

    timings = {"omnitune": [], "plain_transformers_loop": []}
    for _ in range(args.repeats):  # interleaved, so that drift on the machine hits both alike
        start = time.perf_counter()
        ours = task.predict(built, examples, params, args.batch_size)
        timings["omnitune"].append(time.perf_counter() - start)
        start = time.perf_counter()
        theirs = plain_transformers_loop(
            model, tokenizer, examples, args.batch_size, params.max_seq_length, params.doc_stride
        )
        timings["plain_transformers_loop"].append(time.perf_counter() - start)
    agreement = float(np.mean([a.text == b for a, b in zip(ours, theirs)]))
    rates = {name: args.examples / statistics.median(values) for name, values in timings.items()}
    result = {
        "benchmark": "qa_evaluate_throughput",
        "model": args.model,
        "examples": args.examples,
        "batch_size": args.batch_size,
        "max_seq_length": params.max_seq_length,
        "doc_stride": params.doc_stride,
        "examples_per_second": {k: round(v, 2) for k, v in rates.items()},
        "ratio_omnitune_over_peer": round(rates["omnitune"] / rates["plain_transformers_loop"], 3),
        "same_answers_share": round(agreement, 3),
        "repeats": args.repeats,
        "seconds": {k: [round(x, 2) for x in v] for k, v in timings.items()},
        "machine": machine(),
    }
    save(result, RESULTS / "qa_evaluate_throughput.json")


if __name__ == "__main__":
    main()

"""Token merging (ToMe) and token pruning (EViT / PoWER-BERT) against the dense model, side by side in one process
on this CPU: each setting's task metric on the whole test split (through the evaluation harness), and its
throughput on one fixed batch of test inputs (the model's forward pass; for generating models such as Whisper,
the task's prediction with generation), timed in interleaved rounds (dense, then each
setting, repeated), median and spread; the speed-up is the ratio to dense in the same rounds.

Settings: `dense`; `merge:R` (R tokens merged before each layer); `prune:K` (keep ratio K at the default
pruning layers) or `prune:K@3,6,9` (after those many layers), all applied to `--model` without retraining;
`run:PATH`, another run as it was saved (e.g. one fine-tuned with `--attention token-pruning`).

    python benchmarks/token_reduction.py --task image-classification --model RUN \\
        --settings dense merge:8 merge:16 prune:0.7 --batch_size 32
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import torch

RESULTS = Path(__file__).parent / "results"
LABEL_KEYS = ("labels", "start_positions", "end_positions")


def overrides_for(setting: str) -> dict:
    if setting.startswith("run:"):
        return {}  # as saved: its own attention settings come back from its config
    if setting == "dense":
        return {"attention": "dense"}
    kind, _, value = setting.partition(":")
    if kind == "merge":
        return {"attention": "token-merging", "merge_per_layer": int(value)}
    if kind == "prune":
        ratio, _, layers = value.partition("@")
        prune_layers = [int(layer) for layer in layers.split(",")] if layers else None
        return {"attention": "token-pruning", "keep_ratio": float(ratio), "prune_layers": prune_layers}
    raise SystemExit(f"unknown setting {setting!r}: dense, merge:R, prune:K, prune:K@L1,L2 or run:PATH")


def fixed_batch(task, built, params, batch_size: int) -> dict:
    from apps.compression import training_batches

    test = params.model_copy(update={"train_split": params.test_split})
    batch = next(training_batches(task, built, test, batch_size, batch_size=batch_size))
    return {key: value for key, value in batch.items() if key not in LABEL_KEYS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="image-classification")
    parser.add_argument("--model", required=True, help="a run folder or model the task can evaluate")
    parser.add_argument("--settings", nargs="+", default=["dense", "merge:8", "merge:16", "prune:0.7"])
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--max_test_examples", type=int, help="score only this many test examples (quick runs)")
    parser.add_argument("--output", help="JSON file (default: results/token_reduction_<task>.json)")
    args = parser.parse_args()

    from evaluation.harness import evaluate_loaded
    from shared.parameters import params_for_model
    from shared.pretrained import resolve
    from tasks.registry import get_task

    task = get_task(args.task)
    rows, timed, batch, inputs = [], {}, None, 0
    for setting in args.settings:
        print(f"{setting}: building and scoring the test split...", file=sys.stderr, flush=True)
        model = setting.removeprefix("run:") if setting.startswith("run:") else args.model
        params = params_for_model(task, model, None, overrides_for(setting))
        built = task.build(resolve(model), params)
        examples = task.load_examples(params, "test")
        if args.max_test_examples:
            examples = examples.select(range(min(args.max_test_examples, len(examples))))
        report = evaluate_loaded(task, built, examples, params, setting, log=lambda *_: None)
        built.model.eval()
        if built.generates:  # its cost is generate(): time the task's own prediction of a fixed set of inputs
            subset = examples.select(range(min(args.batch_size, len(examples))))
            timed[setting] = partial(task.predict, built, subset, params, args.batch_size)
            inputs = len(subset)
        else:
            batch = batch if batch is not None else fixed_batch(task, built, params, args.batch_size)
            timed[setting] = partial(built.model, **batch)
            inputs = len(next(iter(batch.values())))
        rows.append(
            {
                "setting": setting,
                "attention": getattr(built.model.config, "omnitune_attention", None),
                "metric": report.metrics[task.primary_metric],
                "harness_throughput": round(report.speed.throughput, 1),
            }
        )

    seconds = {setting: [] for setting in timed}
    with torch.inference_mode():
        for run in timed.values():  # warm-up
            run()
        for _ in range(args.rounds):
            for setting, run in timed.items():
                start = time.perf_counter()
                run()
                seconds[setting].append(time.perf_counter() - start)
    dense = statistics.median(seconds[args.settings[0]])
    for row in rows:
        times = seconds[row["setting"]]
        row["examples_per_s"] = round(inputs / statistics.median(times), 2)
        row["spread"] = round((max(times) - min(times)) / statistics.median(times), 3)
        row["speedup_vs_first"] = round(dense / statistics.median(times), 2)
        row["metric_delta"] = round(row["metric"] - rows[0]["metric"], 2)
    result = {
        "task": args.task,
        "model": args.model,
        "primary_metric": task.primary_metric,
        "timed": "task.predict (generation included)" if batch is None else "model forward",
        "batch_size": inputs,
        "input_shape": {key: list(value.shape) for key, value in (batch or {}).items() if hasattr(value, "shape")},
        "rounds": args.rounds,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "command": " ".join(["python", *sys.argv]),
        "rows": rows,
    }
    output = Path(args.output or RESULTS / f"token_reduction_{args.task.replace('-', '_')}.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2))
    print(f"{'setting':18} {task.primary_metric:>9} {'delta':>6} {'ex/s':>7} {'x':>5} {'spread':>6}")
    for row in rows:
        print(
            f"{row['setting']:18} {row['metric']:9.2f} {row['metric_delta']:6.2f} "
            f"{row['examples_per_s']:7.2f} {row['speedup_vs_first']:5.2f} {row['spread']:6.3f}"
        )


if __name__ == "__main__":
    main()

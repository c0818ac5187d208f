"""QA training samples/s and evaluation examples/s on one process with 2 threads, one process with 1 thread and
2 processes with 1 thread each (torchrun, gloo), at the same global batch, in the same run, interleaved.

    python benchmarks/scaling.py [--model minilm-l6] [--steps 24] [--global_batch 16] [--repeats 2]

Each configuration is a real `omnitune train question-answering` run (training then evaluation of the whole
test split, sharded over the processes); the figures are Trainer's train_samples_per_second and the harness's
examples_per_second from the run folder. Writes benchmarks/results/scaling_question_answering.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from report import RESULTS, machine, save

# (name, processes, threads per process)
CONFIGURATIONS = (("1 process x 2 threads", 1, 2), ("1 process x 1 thread", 1, 1), ("2 processes x 1 thread", 2, 1))


def run_once(model: str, processes: int, threads: int, steps: int, global_batch: int, folder: Path) -> dict:
    launcher = (
        ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)] if processes > 1 else []
    )
    command = [
        sys.executable,
        *launcher,
        "-m",
        "apps.cli",
        "train",
        "question-answering",
        "--model",
        model,
        "--max_steps",
        str(steps),
        "--per_device_train_batch_size",
        str(global_batch // processes),
        "--max_train_samples",
        str(steps * global_batch),
        "--eval_strategy",
        "no",
        "--output_dir",
        str(folder / "run"),
        "--db",
        str(folder / "leaderboard.db"),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-4000:]}")
    log = [json.loads(line) for line in (folder / "run" / "train_log.jsonl").read_text().splitlines()]
    test = json.loads((folder / "run" / "metrics.json").read_text())["test"]
    return {
        "train_samples_per_second": log[-1]["train_samples_per_second"],
        "eval_examples_per_second": test["examples_per_second"],
        "test_f1": test["metrics"]["f1"],
        "eval_examples": test["examples"],
    }


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="minilm-l6")
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--global_batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    measured: dict[str, list[dict]] = {name: [] for name, _, _ in CONFIGURATIONS}
    for repeat in range(args.repeats):  # interleaved, so a busy moment hurts every configuration alike
        for name, processes, threads in CONFIGURATIONS:
            with tempfile.TemporaryDirectory() as folder:
                result = run_once(args.model, processes, threads, args.steps, args.global_batch, Path(folder))
            print(f"[{repeat + 1}/{args.repeats}] {name}: {json.dumps(result)}", flush=True)
            measured[name].append(result)

    rows = {}
    for name, processes, threads in CONFIGURATIONS:
        runs = measured[name]
        rows[name] = {
            "processes": processes,
            "threads_per_process": threads,
            "train_samples_per_second": summary([r["train_samples_per_second"] for r in runs]),
            "eval_examples_per_second": summary([r["eval_examples_per_second"] for r in runs]),
            "test_f1": [r["test_f1"] for r in runs],
        }
    two_threads, one_thread, two_processes = (rows[name] for name, _, _ in CONFIGURATIONS)

    def ratio(a: dict, b: dict, key: str) -> float:
        return a[key]["median"] / b[key]["median"]

    result = {
        "benchmark": "QA training and evaluation throughput by processes and threads (same global batch)",
        "model": args.model,
        "steps": args.steps,
        "global_batch": args.global_batch,
        "repeats": args.repeats,
        "eval_examples": measured[CONFIGURATIONS[0][0]][0]["eval_examples"],
        "machine": machine(),
        "configurations": rows,
        "ratios": {
            "train_2x1_vs_1x1": ratio(two_processes, one_thread, "train_samples_per_second"),
            "eval_2x1_vs_1x1": ratio(two_processes, one_thread, "eval_examples_per_second"),
            "train_2x1_vs_1x2": ratio(two_processes, two_threads, "train_samples_per_second"),
            "eval_2x1_vs_1x2": ratio(two_processes, two_threads, "eval_examples_per_second"),
        },
    }
    # scaling efficiency: the speed-up of 2 processes over 1 (one thread each), divided by 2
    result["efficiency"] = {key: value / 2 for key, value in result["ratios"].items() if key.endswith("_vs_1x1")}
    save(result, RESULTS / "scaling_question_answering.json")


if __name__ == "__main__":
    main()

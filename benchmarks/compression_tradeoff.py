"""The compression trade-off of one task's fine-tuned model: fp32 parent vs each compressed run, side by side
in the same run on this CPU (compressed runs, and exported ONNX runs: `omnitune export`), each variant in its
own process (so peak memory is its own): task metric on the whole test split, metric delta, size on disk (all
weights, and Linear weights alone), peak resident memory, model-forward latency at batch 1 (a fixed full-length
input), and the harness's end-to-end latency p50 / throughput at the best batch (tokenise, forward, decode:
what a user waits for).

Named peers built on the fly from the parent, measured but not saved as omnitune models:
- `torch.ao-dynamic-int8`: torch.ao.quantization.quantize_dynamic, the long-standing eager recipe (deprecated in
  torch 2.14 in favour of torchao);
- `torchao-static-int8`: torchao Int8StaticActivationInt8WeightConfig with per-layer activation scales from
  calibration on training examples (absmax), the static recipe this stack offers in eager mode.

    python benchmarks/compression_tradeoff.py --task question-answering --parent RUN --variants RUN1 RUN2 ...
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).parent / "results"
PEERS = ("torch.ao-dynamic-int8", "torchao-static-int8")
FORWARD_REPEATS = 20


def linear_weight_mb(model) -> float | None:
    """Bytes of Linear weights as stored (int8 tensors count their int8 data and scales); None for an ONNX
    graph (exported runs: their size on disk is the graph)."""
    if not hasattr(model, "modules"):
        return None
    total = 0
    for module in model.modules():
        if isinstance(module, torch.ao.nn.quantized.dynamic.Linear):
            total += _tensor_bytes(module.weight())  # packed for fbgemm; unpacked to count it
        elif isinstance(module, torch.nn.Linear):
            total += _tensor_bytes(module.weight)
    return total / 1e6


def _tensor_bytes(tensor) -> int:
    if hasattr(tensor, "__tensor_flatten__"):  # torchao tensor subclass: its inner tensors
        names, _ = tensor.__tensor_flatten__()
        return sum(_tensor_bytes(getattr(tensor, name)) for name in names)
    if tensor.is_quantized:
        return tensor.numel() + 8 * (
            tensor.q_per_channel_scales().numel()
            if tensor.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric)
            else 1
        )
    return tensor.numel() * tensor.element_size()


def build_peer(name: str, task, built, params):
    model = built.model
    if name == "torch.ao-dynamic-int8":
        import torch.ao.quantization as ao

        return ao.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    from torchao.quantization import FqnToConfig, Int8StaticActivationInt8WeightConfig, quantize_
    from torchao.quantization.granularity import PerRow, PerTensor

    from apps.export import inference_batches

    absmax: dict[str, tuple[float, int]] = {}

    def observe(name):
        def hook(_module, args):
            seen, _ = absmax.get(name, (0.0, 0))
            absmax[name] = (max(seen, args[0].detach().abs().max().item()), args[0].ndim)

        return hook

    hooks = [
        m.register_forward_pre_hook(observe(n)) for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)
    ]
    with torch.inference_mode():
        for batch in inference_batches(task, built, params, "train", 256):  # calibrated as the ONNX static rows are
            model(**batch)
    for hook in hooks:
        hook.remove()
    quantize_(
        model,
        FqnToConfig(
            {
                name: Int8StaticActivationInt8WeightConfig(
                    act_quant_scale=torch.full([1] * ndim, value / 127.0), granularity=[PerTensor(), PerRow()]
                )
                for name, (value, ndim) in absmax.items()
            }
        ),
        filter_fn=None,
    )
    return model


LABEL_KEYS = ("labels", "start_positions", "end_positions")


def forward_latency_ms(task, built, params) -> float | None:
    """Median forward time on the first test example's model inputs (the longest QA window, one image)."""
    from apps.compression import training_batches

    if built.generates:
        return None  # a generator's cost is generate(), which the end-to-end latency covers
    test = params.model_copy(update={"train_split": params.test_split})
    batch = next(training_batches(task, built, test, 1, batch_size=1))
    model = built.model
    inputs = {k: v for k, v in batch.items() if k not in LABEL_KEYS}
    with torch.inference_mode():
        for _ in range(3):
            model(**inputs)
        times = []
        for _ in range(FORWARD_REPEATS):
            start = time.perf_counter()
            model(**inputs)
            times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 1)


def measure(task_name: str, parent: str, variant: str) -> dict:
    """One variant, in this process: what the parent table row needs."""
    from evaluation.harness import evaluate_loaded
    from shared.parameters import params_for_model
    from shared.pretrained import resolve
    from shared.run_dir import weights_size_mb
    from tasks.registry import get_task

    task = get_task(task_name)
    source = parent if variant in PEERS or variant == "fp32" else variant
    params = params_for_model(task, source, None, {})
    path = resolve(source)
    built = task.build(path, params)
    if variant in PEERS:
        built.model = build_peer(variant, task, built, params)
    examples = task.load_examples(params, "test")
    report = evaluate_loaded(task, built, examples, params, variant, log=lambda *_: None)
    facts_file = Path(path).parent / "compression.json"  # path is the run's model/ folder
    facts = json.loads(facts_file.read_text()) if facts_file.is_file() else {}
    return {
        "variant": variant if variant in PEERS or variant == "fp32" else Path(variant).name,
        "metric": report.metrics[task.primary_metric],
        "size_mb": None if variant in PEERS else round(weights_size_mb(Path(path)), 1),
        "zlib_compressed_mb": facts.get("zlib_compressed_mb"),
        "linear_weights_mb": None if (weights := linear_weight_mb(built.model)) is None else round(weights, 1),
        "forward_ms_batch1": forward_latency_ms(task, built, params),
        "latency_p50_ms": round(report.speed.latency_p50_ms, 1),
        "throughput": round(report.speed.throughput, 1),
        "best_batch": report.speed.best_batch,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="question-answering")
    parser.add_argument("--parent", required=True, help="the fp32 fine-tuned run")
    parser.add_argument("--variants", nargs="*", default=[], help="compressed or exported runs (compress, export)")
    parser.add_argument("--peers", nargs="*", default=list(PEERS), choices=PEERS)
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # internal: measure one variant in this process
    parser.add_argument("--output", default=str(RESULTS / "compression_tradeoff.json"))
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.task, args.parent, args.measure)))
        return

    rows = []
    for variant in ["fp32", *args.peers, *args.variants]:
        print(f"measuring {variant}...", file=sys.stderr, flush=True)
        done = subprocess.run(
            [sys.executable, __file__, "--task", args.task, "--parent", args.parent, "--measure", variant],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            raise SystemExit(f"{variant} failed:\n{done.stderr[-3000:]}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    base = rows[0]
    for row in rows:
        row["metric_delta"] = round(row["metric"] - base["metric"], 2)
        row["forward_speedup"] = (
            round(base["forward_ms_batch1"] / row["forward_ms_batch1"], 2) if row["forward_ms_batch1"] else None
        )
        row["end_to_end_speedup"] = round(base["latency_p50_ms"] / row["latency_p50_ms"], 2)
        row["linear_weights_smaller"] = (
            round(base["linear_weights_mb"] / row["linear_weights_mb"], 2) if row["linear_weights_mb"] else None
        )
    result = {
        "task": args.task,
        "parent": args.parent,
        "threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "rows": rows,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2))
    print(
        f"{'variant':40} {'metric':>7} {'delta':>6} {'MB':>6} {'linMB':>6} {'fwd ms':>7} {'x':>5} "
        f"{'p50 ms':>7} {'x':>5} {'ex/s':>6} {'RSS MB':>7}"
    )
    for row in rows:
        print(
            f"{row['variant']:40} {row['metric']:7.2f} {row['metric_delta']:6.2f} {row['size_mb'] or 0:6.1f} "
            f"{row['linear_weights_mb'] or 0:6.1f} {row['forward_ms_batch1'] or 0:7.1f} "
            f"{row['forward_speedup'] or 0:5.2f} "
            f"{row['latency_p50_ms']:7.1f} {row['end_to_end_speedup']:5.2f} {row['throughput']:6.1f} "
            f"{row['peak_rss_mb']:7.1f}"
        )


if __name__ == "__main__":
    main()

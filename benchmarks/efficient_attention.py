"""Forward time and peak memory of efficient attention against dense attention, in the same run on this CPU,
for sequence lengths 256 .. 8192: the attention op alone (12 heads x 32 dims, MiniLM's shape) and the whole
MiniLM-L6 encoder (position table grown by copying); with `--scopes vit`, DINOv2-S on high-resolution images
(n = patches; its position grid interpolated). Peers: eager dense attention (matmul, softmax, matmul: what
`attn_implementation="eager"` runs) and PyTorch's fused `scaled_dot_product_attention` (SDPA, transformers'
default). Each (variant, length) runs in its own process so its peak resident memory is its own; memory is
reported as the peak above what the process held before the forward pass.

    python benchmarks/efficient_attention.py [--lengths 256 512 ...] [--scopes op encoder] [--repeats 3]
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
import torch.nn.functional as F

RESULTS = Path(__file__).parent / "results"
LENGTHS = (256, 512, 1024, 2048, 4096, 8192)
VARIANTS = ("eager", "sdpa", "linformer-64", "linformer-128", "linformer-256", "sliding-128")
HEADS, HEAD_DIM = 12, 32


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def attention_op(variant: str, length: int):
    """A callable running one attention forward of `variant` on random (1, 12, n, 32) inputs."""
    from shared.attention import linformer, sparse

    query, key, value = (torch.randn(1, HEADS, length, HEAD_DIM) for _ in range(3))
    if variant == "eager":
        return lambda: torch.softmax(query @ key.transpose(-1, -2) * HEAD_DIM**-0.5, dim=-1) @ value
    if variant == "sdpa":
        return lambda: F.scaled_dot_product_attention(query, key, value)
    if variant.startswith("linformer"):
        k = int(variant.split("-")[1])
        projection = linformer.segment_means(k, length)
        keep = torch.ones(1, length)

        def run():
            keys, slots = linformer._project(projection, key, keep)
            values, _ = linformer._project(projection, value, keep)
            return F.scaled_dot_product_attention(query, keys, values, attn_mask=slots)

        return run
    window = int(variant.split("-")[1])
    return lambda: sparse.banded_attention(query, key, value, window, 1, None)


def encoder(variant: str, length: int):
    from transformers import AutoModel

    from shared.attention import linformer, sparse
    from shared.attention.positions import extend_positions
    from shared.pretrained import resolve

    model = AutoModel.from_pretrained(
        resolve("minilm-l6", log=lambda *_: None), attn_implementation="eager" if variant == "eager" else "sdpa"
    ).eval()
    extend_positions(model, max(length, 512))
    if variant.startswith("linformer"):
        linformer.attach(model, int(variant.split("-")[1]), max(length, 512))
    elif variant.startswith("sliding"):
        model.config.omnitune_attention = {
            "kind": "sliding-window",
            "window": int(variant.split("-")[1]),
            "global_tokens": 1,
        }
        model.set_attn_implementation(sparse.NAME)
    ids = torch.randint(1000, 20000, (1, length))
    return lambda: model(input_ids=ids, attention_mask=torch.ones_like(ids))


def vit(variant: str, length: int):
    """DINOv2-S on a square image with about `length` patches (14 px each): the high-resolution use case."""
    from transformers import AutoModel

    from shared.attention import linformer, sparse
    from shared.pretrained import resolve

    side = 14 * round(length**0.5)
    model = AutoModel.from_pretrained(
        resolve("dinov2-small", log=lambda *_: None), attn_implementation="eager" if variant == "eager" else "sdpa"
    ).eval()
    tokens = (side // 14) ** 2 + 1  # patches + [CLS]
    if variant.startswith("linformer"):
        linformer.attach(model, int(variant.split("-")[1]), tokens)
    elif variant.startswith("sliding"):
        model.config.omnitune_attention = {
            "kind": "sliding-window",
            "window": int(variant.split("-")[1]),
            "global_tokens": 1,
        }
        model.set_attn_implementation(sparse.NAME)
    pixels = torch.randn(1, 3, side, side)
    return lambda: model(pixel_values=pixels)


SCOPES = {"op": attention_op, "encoder": encoder, "vit": vit}


def measure(scope: str, variant: str, length: int, repeats: int) -> dict:
    torch.set_num_threads(1)
    run = SCOPES[scope](variant, length)
    before = _peak_mb()
    times = []
    with torch.inference_mode():
        run()  # warm-up, and the memory peak
        peak = _peak_mb() - before
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    return {
        "scope": scope,
        "variant": variant,
        "length": length,
        "ms": round(statistics.median(times) * 1000, 2),
        "peak_mb": round(peak, 1),
    }


def crossover(rows: list[dict]) -> dict:
    """Per scope and variant: the shortest length from which the variant beats SDPA at every longer length
    measured (below it, dense SDPA wins); None if it never does."""
    found = {}
    for scope in sorted({r["scope"] for r in rows}):
        times = {(r["variant"], r["length"]): r["ms"] for r in rows if r["scope"] == scope}
        lengths = sorted({length for _, length in times})
        for variant in sorted({v for v, _ in times} - {"sdpa", "eager"}):
            wins = [times[(variant, n)] < times[("sdpa", n)] for n in lengths if (variant, n) in times]
            first = next((n for i, n in enumerate(lengths) if all(wins[i:])), None)
            found[f"{scope}/{variant}"] = first
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="*", default=list(LENGTHS))
    parser.add_argument(
        "--scopes",
        nargs="*",
        default=["op", "encoder"],
        choices=tuple(SCOPES),
        help="vit: DINOv2-S on images of about n patches (side 14 * sqrt(n) px)",
    )
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--measure", nargs=3, help=argparse.SUPPRESS)  # internal: scope variant length
    parser.add_argument("--output", default=str(RESULTS / "efficient_attention.json"))
    args = parser.parse_args()
    if args.measure:
        scope, variant, length = args.measure
        print(json.dumps(measure(scope, variant, int(length), args.repeats)))
        return

    rows = []
    for scope in args.scopes:
        for length in args.lengths:
            for variant in args.variants:
                done = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--measure",
                        scope,
                        variant,
                        str(length),
                        "--repeats",
                        str(args.repeats),
                    ],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if done.returncode:
                    raise SystemExit(f"{scope} {variant} {length} failed:\n{done.stderr[-2000:]}")
                row = json.loads(done.stdout.strip().splitlines()[-1])
                rows.append(row)
                print(f"{scope:8} n={length:5} {variant:14} {row['ms']:10.1f} ms {row['peak_mb']:9.1f} MB", flush=True)
    summary = {}
    for scope in args.scopes:
        for length in args.lengths:
            at = {r["variant"]: r for r in rows if r["scope"] == scope and r["length"] == length}
            sdpa = at.get("sdpa")
            if sdpa:
                summary[f"{scope}@{length}"] = {
                    v: {
                        "speedup_vs_sdpa": round(sdpa["ms"] / r["ms"], 2),
                        "memory_ratio_vs_sdpa": round(sdpa["peak_mb"] / r["peak_mb"], 2) if r["peak_mb"] > 0 else None,
                    }
                    for v, r in at.items()
                }
    result = {
        "machine": platform.processor() or platform.machine(),
        "threads": 1,
        "torch": torch.__version__,
        "rows": rows,
        "versus_sdpa": summary,
        "crossover": crossover(rows),
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

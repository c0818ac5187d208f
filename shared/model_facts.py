"""One line under every demo's title: how big the model is, how fast it measured, and how it was compressed,
so a user trying a compressed model sees what they traded."""

from __future__ import annotations

import json
from pathlib import Path

from shared import run_dir as layout
from shared.pretrained import resolve
from shared.run_dir import weights_size_mb


def model_facts(model: str) -> str:
    path = Path(model) if Path(model).exists() else Path(resolve(model, log=lambda *_: None))
    folder = layout.model_folder(path) or path
    if not folder.is_dir():
        return ""  # a Hub id: transformers keeps it in its cache, sized and timed nowhere here
    run = layout.run_of(folder)
    facts = [f"size on disk {weights_size_mb(folder):.1f} MB"]
    speed = (layout.read_metrics(run).get("test") or {}).get("speed")
    if speed:
        facts.append(
            f"latency p50 {speed['latency_p50_ms']:.1f} ms at batch 1, "
            f"{speed['throughput']:.1f}/s at batch {speed['best_batch']} (measured at evaluation)"
        )
    compression_file = run / layout.COMPRESSION if run else None
    compression = json.loads(compression_file.read_text()) if compression_file and compression_file.is_file() else {}
    if compression:
        plan = compression["plan"]
        steps = [
            f"heads -{plan['head_ratio']:.0%}" if plan.get("head_ratio") else "",
            f"FFN -{plan['ffn_ratio']:.0%}" if plan["ffn_ratio"] else "",
            f"{plan['prune']} pruning {plan['sparsity']:.0%}" if plan["prune"] else "",
            plan["quantize"] or "",
        ]
        facts.append(f"compressed ({', '.join(s for s in steps if s)}) from `{Path(compression['parent']).name}`")
    return "Model: " + "; ".join(facts) + "."

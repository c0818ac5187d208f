"""omnitune side by side with what a user would run instead: one command, one JSON, one README table.

Each row (a module in benchmarks/peers/) runs omnitune and its named peer on the same model, data, settings
and threads. Every side runs in a fresh process (so its peak RSS is its own), the sides are interleaved
repeat by repeat (drift on a shared machine hits both alike), and each reports its quality metric next to its
speed: a speed-up that changes the answer is not one.

    python benchmarks/peers.py            # every row at full size (about an hour on 2 cores)
    python benchmarks/peers.py --quick    # every row in a few minutes (CI's smoke run; figures mean little)
    python benchmarks/peers.py --rows qa_training,asr_inference   # some rows; merged into the same JSON
    python benchmarks/peers.py --table    # the README table from the JSON
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import RESULTS, machine

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "peers"))

ROWS = ("qa_training", "image_inference", "asr_inference", "generation", "evaluation_harness", "training_flops")


def results_path(scale: str) -> Path:
    return RESULTS / ("peers.json" if scale == "full" else "peers_quick.json")


def run_side(row: str, side: str, scale: str, fixture: dict, result: Path) -> None:
    """One side of one row, in this (fresh) process; its result and this process's peak RSS go to `result`."""
    module = importlib.import_module(row)
    outcome = module.SIDES[side](scale, fixture)
    outcome["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result.write_text(json.dumps(outcome))


def spawn(row: str, side: str, scale: str, fixture: dict) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        result = Path(folder) / "side.json"
        command = [sys.executable, __file__, "--side", f"{row}:{side}", "--scale", scale, "--result", str(result)]
        started = time.perf_counter()
        finished = subprocess.run([*command, "--fixture", json.dumps(fixture)])
        if finished.returncode != 0 or not result.exists():
            return {"error": f"exit status {finished.returncode}; its output is above"}
        outcome = json.loads(result.read_text())
        outcome["process_seconds"] = round(time.perf_counter() - started, 1)
        return outcome


def run_row(row: str, scale: str, repeats: int | None, workdir: Path) -> dict:
    module = importlib.import_module(row)
    fixture = module.prepare(scale, workdir) if hasattr(module, "prepare") else {}
    count = repeats or module.REPEATS[scale]
    sides: dict[str, list[dict]] = {name: [] for name in module.SIDES}
    for repeat in range(count):
        for name in module.SIDES:  # interleaved
            print(f"[peers] {row}: {name}, repeat {repeat + 1} of {count}", flush=True)
            sides[name].append(spawn(row, name, scale, fixture))
    failed = {name: runs[0]["error"] for name, runs in sides.items() if "error" in runs[0]}
    comparison = {"failed": failed} if failed else module.compare(sides)
    print(f"[peers] {row}: {json.dumps(comparison)}", flush=True)
    return {"about": module.__doc__.strip().splitlines()[0], "fixture": fixture, "sides": sides, **comparison}


def table(result: dict) -> str:
    """Markdown: one line per headline of each row (what was compared, the ratio, the goal, both qualities)."""
    lines = [
        "| row | measure | omnitune | peer | ratio | goal | quality (omnitune / peer) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row, outcome in result["rows"].items():
        if row not in ROWS:  # a row since renamed or removed
            continue
        if "failed" not in outcome:  # from the stored sides, so the table follows the row's current comparison
            outcome = {**outcome, **importlib.import_module(row).compare(outcome["sides"])}
        for line in outcome.get("headlines", []):
            goal, ratio = line.get("goal"), line.get("ratio")
            met = line.get("met", None if goal is None or ratio is None else ratio >= goal)
            goal_text = "" if goal is None else (f">= {goal}x" if isinstance(goal, float | int) else goal)
            verdict = "" if met is None else (" met" if met else " missed")
            lines.append(
                f"| {row} | {line['measure']} | {line['omnitune']} | {line['peer']} | "
                f"{_ratio_text(line)} | {goal_text}{verdict} | {line.get('quality', '')} |"
            )
    lines += ["", "| row | peak RSS MB, each side in its own process (median of repeats) |", "|---|---|"]
    for row, outcome in result["rows"].items():
        if row not in ROWS:
            continue
        rss = {
            side: statistics.median(run["peak_rss_mb"] for run in runs if "peak_rss_mb" in run)
            for side, runs in outcome.get("sides", {}).items()
            if any("peak_rss_mb" in run for run in runs)
        }
        lines.append(f"| {row} | " + ", ".join(f"{side} {mb:,.0f}" for side, mb in rss.items()) + " |")
    return "\n".join(lines)


def _ratio_text(line: dict) -> str:
    if line.get("ratio") is not None:
        return f"{line['ratio']:.2f}x"
    return f"> {line['ratio_at_least']:.2f}x" if line.get("ratio_at_least") else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run in a few minutes")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated, of {', '.join(ROWS)}")
    parser.add_argument("--repeats", type=int, help="interleaved repeats per side (default: each row's own)")
    parser.add_argument("--table", action="store_true", help="print the README table from the saved JSON")
    parser.add_argument("--side", help=argparse.SUPPRESS)  # ROW:SIDE, run in a child process
    parser.add_argument("--scale", help=argparse.SUPPRESS)
    parser.add_argument("--fixture", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        row, side = args.side.split(":")
        run_side(row, side, args.scale, json.loads(args.fixture), Path(args.result))
        return
    scale = "quick" if args.quick else "full"
    path = results_path(scale)
    if args.table:
        print(table(json.loads(path.read_text())))
        return
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = sorted(set(rows) - set(ROWS))
    if unknown:
        parser.error(f"unknown rows {unknown}; choose from {', '.join(ROWS)}")
    result = json.loads(path.read_text()) if path.exists() else {"benchmark": "peers", "rows": {}}
    result["scale"], result["machine"] = scale, machine()
    with tempfile.TemporaryDirectory() as workdir:
        for row in rows:
            result["rows"][row] = run_row(row, scale, args.repeats, Path(workdir))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(result, indent=2) + "\n")  # per row: an interrupted run keeps what it did
    print(table(result))
    if any("failed" in result["rows"][row] for row in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()

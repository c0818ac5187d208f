"""Load test of `omnitune app` on loopback: N concurrent gradio_client users asking for QA answers and image
labels through the app's prediction API (/compare, one model) for a fixed time; requests served, p50/p95
latency, errors, and the server's resident memory after warm-up and at the end. The peer: the same QA load on
the single-task demo (`omnitune demo question-answering`, the app's building block) serving the same model,
for the throughput ratio of the one front door against one demo.

    python benchmarks/app_load.py --qa-model runs/question-answering/<run> --image-model runs/image-classification/<run>
        [--users 20] [--seconds 60] [--peer-seconds 30]

The models default to the newest finished run of each task. Time here is the length of the test itself (a
load test runs for a time); what is compared is counted, never a timed assertion.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import psutil
from gradio_client import Client, handle_file
from report import RESULTS, machine, save

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "tasks" / "image_classification" / "data" / "clipart" / "test"
QA_TEST = ROOT / "tasks" / "question_answering" / "data" / "test.json.gz"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(arguments: list[str]):
    """`omnitune <arguments> --port P` as a server on loopback for the block: (process, url); stopped after."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "apps.cli", *arguments, "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
    )
    try:
        _wait_until_listening(server, port, arguments)
        yield server, f"http://127.0.0.1:{port}/"
    finally:
        server.terminate()
        server.wait()


def _wait_until_listening(server: subprocess.Popen, port: int, arguments: list[str]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if server.poll() is not None:
                raise SystemExit(f"the server exited with code {server.returncode}: omnitune {' '.join(arguments)}")
            time.sleep(1)
    raise SystemExit(f"the server did not answer within 300 s: omnitune {' '.join(arguments)}")


def qa_inputs(count: int = 20) -> list[tuple[str, str]]:
    with gzip.open(QA_TEST, "rt") as handle:
        document = json.load(handle)
    pairs = [
        (paragraph["context"], qa["question"])
        for article in document["data"]
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    ]
    return pairs[:: max(1, len(pairs) // count)][:count]


def images(count: int = 20) -> list[Path]:
    return sorted(IMAGES.rglob("*.png"))[:count]


class Load:
    """Users that each repeat their kind of request until the deadline; every request's latency and error."""

    def __init__(self):
        self.latencies: dict[str, list[float]] = {}
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def user(self, url: str, kind: str, call, deadline: float, index: int) -> None:
        client = Client(url, verbose=False)
        turn = index
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                result = call(client, turn)
                if (
                    isinstance(result, (list, tuple))
                    and result
                    and isinstance(result[0], dict)
                    and "error" in result[0]
                ):
                    raise RuntimeError(result[0]["error"])
            except Exception as error:  # every failure counts, whatever it is
                with self.lock:
                    self.errors.append(f"{kind}: {str(error)[:200]}")
                continue
            finally:
                turn += 1
            with self.lock:
                self.latencies.setdefault(kind, []).append(time.perf_counter() - started)

    def run(self, url: str, users: list[tuple[str, object]], seconds: float) -> float:
        deadline = time.monotonic() + seconds
        threads = [
            threading.Thread(target=self.user, args=(url, kind, call, deadline, i))
            for i, (kind, call) in enumerate(users)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.monotonic() - started

    def summary(self, seconds: float) -> dict:
        kinds = {}
        for kind, values in self.latencies.items():
            ordered = sorted(values)
            kinds[kind] = {
                "served": len(values),
                "per_second": round(len(values) / seconds, 2),
                "latency_p50_ms": round(1000 * statistics.median(ordered), 1),
                "latency_p95_ms": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 1),
            }
        return {
            "seconds": round(seconds, 1),
            "kinds": kinds,
            "errors": len(self.errors),
            "first_errors": self.errors[:5],
        }


def rss_mb(server: subprocess.Popen) -> float:
    return round(psutil.Process(server.pid).memory_info().rss / 1e6, 1)


def newest_run(task: str) -> str:
    folder = ROOT / "runs" / task
    runs = sorted(
        (p for p in folder.glob("*") if (p / "model" / "config.json").is_file()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    if not runs:
        raise SystemExit(f"no finished {task} run under runs/: train one (omnitune train {task}) or name it")
    return str(runs[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--qa-model")
    parser.add_argument("--image-model")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--peer-seconds", type=float, default=30)
    args = parser.parse_args()
    qa_model = args.qa_model or newest_run("question-answering")
    image_model = args.image_model or newest_run("image-classification")
    questions, pictures = qa_inputs(), images()

    def ask_app(client, turn):
        context, question = questions[turn % len(questions)]
        return client.predict(
            "question-answering", qa_model, "", question, context, "", None, None, api_name="/compare"
        )

    def label_app(client, turn):
        picture = handle_file(str(pictures[turn % len(pictures)]))
        return client.predict("image-classification", image_model, "", "", "", "", picture, None, api_name="/compare")

    def ask_demo(client, turn):
        context, question = questions[turn % len(questions)]
        return client.predict(context, question, api_name="/answer")

    result = {"machine": machine(), "users": args.users, "qa_model": qa_model, "image_model": image_model}
    with serving(["app"]) as (server, url):
        first_visitor = Client(url, verbose=False)  # loads both models once, as the first visitor would
        ask_app(first_visitor, 0), label_app(first_visitor, 0)
        rss_start = rss_mb(server)
        mixed = Load()
        users = [("qa", ask_app) if i % 2 == 0 else ("image", label_app) for i in range(args.users)]
        seconds = mixed.run(url, users, args.seconds)
        result["app_mixed"] = {
            **mixed.summary(seconds),
            "rss_after_warm_up_mb": rss_start,
            "rss_end_mb": rss_mb(server),
        }
        qa_only = Load()
        seconds = qa_only.run(url, [("qa", ask_app)] * args.users, args.peer_seconds)
        result["app_qa_only"] = qa_only.summary(seconds)
    with serving(["demo", "question-answering", "--model", qa_model]) as (_, peer_url):
        ask_demo(Client(peer_url, verbose=False), 0)
        demo = Load()
        seconds = demo.run(peer_url, [("qa", ask_demo)] * args.users, args.peer_seconds)
        result["peer_demo_qa_only"] = demo.summary(seconds)
    app_rate = result["app_qa_only"]["kinds"].get("qa", {}).get("per_second", 0)
    demo_rate = result["peer_demo_qa_only"]["kinds"].get("qa", {}).get("per_second", 0)
    result["app_vs_demo_qa_throughput"] = round(app_rate / demo_rate, 3) if demo_rate else None
    save(result, RESULTS / "app_load.json")


if __name__ == "__main__":
    main()

"""Latency and throughput of a task's whole prediction path (preprocess, forward, decode) on this machine."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

LATENCY_EXAMPLES = 48
THROUGHPUT_EXAMPLES = 192
BATCH_SIZES = (1, 8, 32)
WARMUP = 3


@dataclass
class Speed:
    latency_p50_ms: float
    latency_p95_ms: float
    throughput: float  # examples per second at the best batch size
    best_batch: int


def measure_speed(
    predict, examples, latency_examples: int = LATENCY_EXAMPLES, throughput_examples: int = THROUGHPUT_EXAMPLES
) -> Speed:
    """`predict(rows, batch_size)` answers a list of examples; timing includes everything a user waits for."""
    rows = list(examples.select(range(min(throughput_examples, len(examples)))))
    for row in rows[:WARMUP]:
        predict([row], 1)
    latencies = []
    for row in rows[:latency_examples]:
        start = time.perf_counter()
        predict([row], 1)
        latencies.append((time.perf_counter() - start) * 1000)
    best = (0.0, 1)
    for batch_size in BATCH_SIZES:
        start = time.perf_counter()
        predict(rows, batch_size)
        rate = len(rows) / (time.perf_counter() - start)
        best = max(best, (rate, batch_size))
    return Speed(float(np.percentile(latencies, 50)), float(np.percentile(latencies, 95)), best[0], best[1])

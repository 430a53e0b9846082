#!/usr/bin/env python3
"""Throughput of the data engine: curriculum patterns per second, one thread and all
threads, per stage (random crystal + structure factors + profiles + nuisances + noise).

    python benchmarks/bench_generate.py [--n 2000] [--stages 1,2,po] [--backend cpu|cuda]

Single-thread rates count CPU time (robust on a shared machine); all-thread rates are
wall-clock. Target (issue): >= 2,000 stage-2 patterns/s on 2 cores.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from xrdfast.dataset import generate_samples


def rate(stage: str, n: int, threads: int, seed: int = 0) -> tuple[float, float]:
    generate_samples(stage, seed, 10**9, 16, n_threads=threads)  # warm-up: tables, caches
    wall, cpu = time.perf_counter(), time.process_time()
    _, records = generate_samples(stage, seed, 0, n, n_threads=threads)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert (records["status"] == 0).mean() > 0.99
    return n / cpu, n / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--stages", default="1,2,po")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    print(f"{'stage':6s} {'1 thread (per CPU-s)':>22s} {f'{cores} threads (wall)':>20s}")
    for stage in args.stages.split(","):
        single, _ = rate(stage, max(args.n // 4, 64), threads=1)
        _, parallel = rate(stage, args.n, threads=0)
        print(f"{stage:6s} {single:22,.0f} {parallel:20,.0f}")
    print(f"(load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()

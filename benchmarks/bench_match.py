"""Speed of search-match against the full AMCSD library: building the library, loading it,
and matching measured patterns, beside the crude search of issue 16 (profiles on the 2θ
grid, one cosine per entry per d-scale, 13 scales over ±1.5 %) as the peer.

    python benchmarks/bench_match.py [--workers 2] [--patterns 333] [--build]

Patterns: the development RRUFF split (Cu K-alpha, 8,500 points). Matching runs in
``--workers`` processes (each loads the library once; BLAS single-threaded in each), i.e.
on that many cores. Targets (issue 16): build <= 2 min on 2 cores, >= 50 patterns/s on 2
cores.
"""
from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")  # one thread per worker process: the workers are the cores

import numpy as np

RRUFF = Path(__file__).resolve().parents[2] / "shared" / "data" / "rruff_dev" / "rruff_dev.npz"


def _init() -> None:
    try:
        import cctbx.sgtbx  # noqa: F401
    except ImportError:
        pass
    from xrdfast.library import load_library
    from xrdfast.match import prepare_library

    prepare_library(load_library())


def _match_chunk(patterns: np.ndarray) -> tuple[int, float]:
    """(patterns matched, CPU seconds this worker spent on them)."""
    from xrdfast.library import load_library
    from xrdfast.match import match_many

    cpu = time.process_time()
    match_many(list(patterns), load_library())  # coarse passes batched, 16 patterns per product
    return len(patterns), time.process_time() - cpu


def crude_peer(patterns: np.ndarray, library, n_entries: int) -> float:
    """Seconds per pattern of the crude search on the 2θ grid (extrapolated from n_entries)."""
    from xrdfast.match import CU_KA1, _lp
    from xrdfast.simulate import default_grid

    grid = default_grid()
    scales = np.linspace(0.985, 1.015, 13)
    profiles = np.zeros((n_entries * len(scales), len(grid)), dtype=np.float32)
    for i in range(n_entries):
        d, mf2 = library.lines(i)
        for k, s in enumerate(scales):
            sin_t = CU_KA1 / (2 * d * s)
            ok = sin_t < 1
            tt = 2 * np.degrees(np.arcsin(sin_t[ok]))
            idx = np.clip(np.rint((tt - grid[0]) / 0.01).astype(int), 0, len(grid) - 1)
            np.add.at(profiles[i * len(scales) + k], idx, np.sqrt(mf2[ok] * _lp(d[ok] * s, CU_KA1)))
    profiles /= np.linalg.norm(profiles, axis=1, keepdims=True) + 1e-12
    t = time.perf_counter()
    for x in patterns:
        v = np.sqrt(np.clip(x, 0, None)).astype(np.float32)
        (profiles @ v).reshape(n_entries, len(scales)).max(1)
    return (time.perf_counter() - t) / len(patterns) * len(library) / n_entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--patterns", type=int, default=333)
    parser.add_argument("--build", action="store_true", help="also time building the AMCSD library")
    args = parser.parse_args()
    _init()
    from xrdfast.classify import prepare
    from xrdfast.library import build_library, load_library
    from xrdfast.match import prepare_library
    from xrdfast.simulate import default_grid

    if args.build:
        import resource

        def cpu_seconds() -> float:   # this process and its finished children (the build's workers)
            own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
            return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

        t, cpu = time.perf_counter(), cpu_seconds()
        library = build_library(workers=args.workers)
        cpu = cpu_seconds() - cpu
        print(f"build AMCSD library ({args.workers} processes): {time.perf_counter() - t:.1f} s, "
              f"{len(library)} structures, {len(library.errors)} skipped; CPU time {cpu:.1f} s "
              f"(about {cpu / args.workers:.0f} s on {args.workers} idle cores)")
    from xrdfast import library as libmod

    libmod._LOADED.clear()
    t = time.perf_counter()
    library = load_library()
    t_load = time.perf_counter() - t
    t = time.perf_counter()
    prepare_library(library)
    print(f"load cached library: {t_load:.2f} s; coarse templates: {time.perf_counter() - t:.2f} s "
          f"({len(library)} entries, {len(library.d)} lines)")
    with np.load(RRUFF) as data:
        grid = default_grid()
        x = np.stack([prepare((data["two_theta"], row), grid, 1.5418).intensity
                      for row in data["intensity"][: args.patterns]])
    chunks = np.array_split(x, max(1, 4 * args.workers))
    with ProcessPoolExecutor(args.workers, initializer=_init) as pool:
        list(pool.map(_match_chunk, [c[:2] for c in chunks[: args.workers]]))  # warm the workers
        t = time.perf_counter()
        results = list(pool.map(_match_chunk, chunks))
        elapsed = time.perf_counter() - t
    done, cpu = sum(n for n, _ in results), sum(c for _, c in results)
    rate = done / elapsed
    print(f"xrdfast.match: {rate:.1f} patterns/s on {args.workers} processes ({done} RRUFF patterns, "
          f"up to 3 phases each)")
    # on a shared machine the wall clock counts other programs' time too; the workers' own CPU
    # time says what the same cores would do alone (an upper bound: no memory-bandwidth sharing)
    print(f"  workers' CPU time {cpu:.2f} s: {done / cpu:.1f} patterns per CPU-second, "
          f"{done / cpu * args.workers:.1f} patterns/s on {args.workers} idle cores")
    peer = crude_peer(x[:20], library, 400)
    print(f"crude 2θ-grid search (issue 16), 1 process: {1 / peer:.1f} patterns/s; "
          f"ratio xrdfast / crude per process: {rate / args.workers * peer:.1f}x")
    print(f"load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (timings above share them)")


if __name__ == "__main__":
    main()

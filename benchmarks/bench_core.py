"""Systematic absences per second: xrdfast ``SpaceGroup.is_absent`` against cctbx
``space_group.is_sys_absent`` and gemmi ``GroupOps.systematic_absences``, on the same
random hkl, after checking that all three give the same answer for every one of them.

cctbx is timed two ways: its vectorised call on a ``flex.miller_index`` (building that from
NumPy is left out, and printed apart: it costs far more than the test) and the per-reflection
Python loop ``is_sys_absent((h, k, l))`` that code holding one hkl at a time writes, timed on
a subset and given as a rate. Single thread throughout, timed by the thread's CPU time
(``--clock wall`` for wall time) so that other work on a shared machine does not count.

    python benchmarks/bench_core.py [--quick] [--n 1000000] [--json out.json]
"""
from __future__ import annotations

# cctbx must be imported before gemmi: the other order crashes.
from cctbx import sgtbx  # noqa: I001
from cctbx.array_family import flex

import argparse
import json
import time
from typing import Any, Callable

import gemmi
import numpy as np

import xrdfast

# (xrdfast key, cctbx symbol, gemmi symbol): one group per kind of absence -- glide and screw
# (P2_1/c), screws only (P2_12_12_1), d-glides and F-centring (Fd-3m), everything in Ia-3d,
# a 6_1 screw (P6_122), rhombohedral centring in hexagonal axes with a c-glide (R-3c).
GROUPS = (
    ("P 1 21/c 1", "P 1 21/c 1", "P 1 21/c 1"),
    ("P 21 21 21", "P 21 21 21", "P 21 21 21"),
    ("227:1", "F d -3 m :1", "F d -3 m:1"),
    ("I a -3 d", "I a -3 d", "I a -3 d"),
    ("P 61 2 2", "P 61 2 2", "P 61 2 2"),
    ("R -3 c", "R -3 c :H", "R -3 c:H"),
)
HKL_RANGE = 20          # |h|, |k|, |l| <= 20: the reach of a powder pattern of a 10-20 Å cell
LOOP_SUBSET = 20_000    # reflections timed through the per-hkl Python loop of cctbx
SEED = 2026


def best_time(fn: Callable[[], Any], repeats: int, clock: Callable[[], float] = time.thread_time) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = clock()
        fn()
        best = min(best, clock() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description="Systematic-absence rates of xrdfast, cctbx and gemmi")
    parser.add_argument("--n", type=int, default=1_000_000, help="random reflections (default 1e6)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement; the best counts")
    parser.add_argument("--quick", action="store_true", help="1e5 reflections, best of 2")
    parser.add_argument("--json", metavar="PATH", help="write the results here")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu", help="thread CPU time (default) or wall time")
    args = parser.parse_args()
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    if args.quick:
        args.n, args.repeats = 100_000, 2

    rng = np.random.default_rng(SEED)
    hkl = rng.integers(-HKL_RANGE, HKL_RANGE + 1, size=(args.n, 3)).astype(np.int32)  # (n, 3); gemmi wants int32
    t0 = time.perf_counter()
    miller = flex.miller_index(hkl)
    conversion = time.perf_counter() - t0
    subset = [tuple(h) for h in hkl[:LOOP_SUBSET].tolist()]
    print(f"{args.n:,} random hkl in [-{HKL_RANGE}, {HKL_RANGE}]^3, best of {args.repeats} ({args.clock} time); "
          f"NumPy -> flex.miller_index took {conversion:.2f} s (not timed below)")
    head = (f"{'group':12} {'absent':>6} | {'xrdfast':>8} {'cctbx vec':>9} {'gemmi':>8} {'cctbx loop':>10} | "
            f"{'/cctbx vec':>10} {'/gemmi':>7} {'/cctbx loop':>11}")
    print("millions of hkl per second; ratios xrdfast / peer")
    print(head)
    print("-" * len(head))
    results = []
    for key, cctbx_symbol, gemmi_symbol in GROUPS:
        xg = xrdfast.SpaceGroup(key)
        cg = sgtbx.space_group_info(cctbx_symbol).group()
        gops = gemmi.SpaceGroup(gemmi_symbol).operations()
        mine = xg.is_absent(hkl)
        theirs = cg.is_sys_absent(miller).as_numpy_array()
        gemmis = np.asarray(gops.systematic_absences(hkl))
        assert cg.order_z() == xg.order and len(gops) == xg.order, f"{key}: group orders differ"
        assert np.array_equal(mine, theirs), f"{key}: xrdfast and cctbx disagree on {np.sum(mine != theirs)} hkl"
        assert np.array_equal(mine, gemmis), f"{key}: xrdfast and gemmi disagree on {np.sum(mine != gemmis)} hkl"
        t_x = best_time(lambda: xg.is_absent(hkl), args.repeats, clock)
        t_c = best_time(lambda: cg.is_sys_absent(miller), args.repeats, clock)
        t_g = best_time(lambda: gops.systematic_absences(hkl), args.repeats, clock)
        t_l = best_time(lambda: [cg.is_sys_absent(h) for h in subset], 1, clock) * args.n / len(subset)
        rate = lambda t: args.n / t / 1e6  # noqa: E731
        row = {"group": key, "absent_fraction": float(mine.mean()), "xrdfast": rate(t_x), "cctbx_vectorised": rate(t_c),
               "gemmi": rate(t_g), "cctbx_loop": rate(t_l)}
        results.append(row)
        print(f"{key:12} {row['absent_fraction']:6.1%} | {row['xrdfast']:8.2f} {row['cctbx_vectorised']:9.2f} "
              f"{row['gemmi']:8.2f} {row['cctbx_loop']:10.3f} | {t_c / t_x:9.2f}x {t_g / t_x:6.2f}x {t_l / t_x:10.0f}x")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"n": args.n, "repeats": args.repeats, "clock": args.clock, "flex_conversion_s": conversion,
                       "results": results}, fh, indent=1)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

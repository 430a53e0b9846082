"""Powder patterns per second: xrdfast against pymatgen and cctbx, on the same structures,
the same 8501-point 2theta grid (5-90 degrees, 0.01 step) and the same profile.

What each peer does per pattern (nothing cached between patterns but the structure object):

* pymatgen -- ``XRDCalculator(wavelength=Cu K-alpha1).get_pattern`` gives lines only
  ("lines"); "rendered" adds the NumPy renderer below (K-alpha1+2, pseudo-Voigt).
* cctbx -- ``miller.build_set`` to the same d_min, ``structure_factors_from_scatterers``
  (direct summation or FFT, whichever is faster for the structure; WK1995 form factors),
  |F|^2 x multiplicity, then the same NumPy renderer (which applies LP per component).
* xrdfast -- ``simulate_batch([crystal] * n, n_threads=1)`` (and ``n_threads=0``: all
  threads) with default, noiseless parameters; ``simulate`` for single-call latency.

"All cores" means, for the peers, a process pool with one worker per core (they have no
threads of their own); workers return a checksum, not the pattern, so the pool's transfer
cost is left out in the peers' favour. A rate is patterns / best time of ``--repeats`` runs
of at least ``--min-time`` seconds each. Single-core rates use the thread's CPU time by
default (``--clock cpu``), so that other work on a shared machine does not count against
whoever is being timed; all-core rates are wall-clock. Both clocks go into ``--json``.
BLAS threads are pinned to one (OPENBLAS_NUM_THREADS, MKL_NUM_THREADS) so that "single
core" holds for the NumPy parts too.

Before timing, the script asserts that the peers compute the same thing: atom counts of the
three independent symmetry expansions agree; xrdfast's K-alpha1 line positions equal
pymatgen's within LINE_POSITION_TOLERANCE for lines above STRONG_LINE_FRACTION of the
strongest; the NumPy renderer reproduces xrdfast's own pattern from xrdfast's lines; and the
cctbx pattern equals xrdfast's (both use WK1995 form factors and the same B).

    python benchmarks/bench_simulate.py [--quick] [--json out.json] [--structures NaCl,YAG]
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads: one core means one core
os.environ.setdefault("MKL_NUM_THREADS", "1")

# cctbx must be imported before gemmi (which xrdfast loads for CIF files): the other order crashes.
from cctbx import miller  # noqa: I001
from cctbx.array_family import flex

import argparse
import json
import math
import multiprocessing
import platform
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import structures as bench_structures  # noqa: E402
from structures import BenchStructure  # noqa: E402

import xrdfast  # noqa: E402

warnings.filterwarnings("ignore", module="pymatgen")

# --- What is compared -----------------------------------------------------------------------

PARAMS = xrdfast.make_params()  # defaults: Cu K-alpha1+2, pseudo-Voigt, Bragg-Brentano, noiseless
GRID = xrdfast.default_grid()   # (8501,) degrees 2theta
KA1, KA2, KA2_RATIO = PARAMS.wavelength, PARAMS.wavelength2, PARAMS.ka2_ratio
# xrdfast keeps lines whose K-alpha2 peak lies below 2theta_max + 5 degrees (simulate.cpp,
# powder_lines); the peers compute to the same d_min so that all three render the same lines.
TWO_THETA_TOP = GRID[-1] + 5.0
D_MIN = max(KA1, KA2) / (2 * math.sin(math.radians(TWO_THETA_TOP / 2)))
# As profile.hpp and simulate.cpp: kGaussianReach, kLorentzianReach (FWHM), kTailCut, kCoincidentLines (degrees).
GAUSSIAN_REACH, LORENTZIAN_REACH, TAIL_CUT, COINCIDENT_LINES = 4.0, 40.0, 1e-5, 1e-7

# Sanity-check tolerances.
LINE_POSITION_TOLERANCE = 1e-4  # degrees 2theta: the bound; both compute 2 asin(lambda / 2d)
STRONG_LINE_FRACTION = 1e-3     # lines above 0.1 % of the strongest must be found in the other list
WEAK_LINE_FRACTION = 1e-7       # ...among the other's lines above this (pymatgen's form factors differ,
                                # so a line near the 0.1 % cut may sit just below it on the other side)
RENDER_TOLERANCE = 1e-5         # max |NumPy - xrdfast| on patterns normalised to 1: float32 output, ~6e-8
CCTBX_PATTERN_TOLERANCE = 1e-3  # max |cctbx - xrdfast|: same WK1995 coefficients, stored as float in xrdfast

TARGET_VS_CCTBX, TARGET_VS_PYMATGEN = 3.0, 100.0  # per core, fully rendered patterns (the issue)
XRDFAST_CHUNK = 512             # patterns per simulate_batch call: 17 MB of float32 output


# --- The NumPy renderer shared by the peers ---------------------------------------------------

def lorentz_polarisation(theta: np.ndarray) -> np.ndarray:
    """Bragg-Brentano, no monochromator (ITC Vol. C 6.2.5), up to xrdfast's constant factor 2."""
    return (1 + np.cos(2 * theta) ** 2) / (np.sin(theta) ** 2 * np.cos(theta))


def render(d: np.ndarray, f2m: np.ndarray, grid: np.ndarray = GRID) -> np.ndarray:
    """Lines (d [n] Å, multiplicity x |F|^2 [n]) drawn as xrdfast draws them (simulate.cpp,
    render_pattern; profile.hpp): K-alpha1 and K-alpha2 (ratio KA2_RATIO), LP per component,
    pseudo-Voigt with Caglioti FWHM and mixing eta; coincident peaks merged; the Gaussian
    within GAUSSIAN_REACH FWHM, the Lorentzian as far as its tail stays above TAIL_CUT of the
    tallest peak (GAUSSIAN_REACH..LORENTZIAN_REACH FWHM), rescaled for the cut area;
    normalised to a maximum of 1. Work is proportional to the points drawn, as in C++."""
    eta = PARAMS.eta
    centre, area, fwhm = [], [], []
    for wavelength, weight in ((KA1, 1.0), (KA2, KA2_RATIO)):
        sin_theta = wavelength / (2 * d)
        keep = sin_theta < 1
        theta = np.arcsin(sin_theta[keep])              # (m,)
        t = np.tan(theta)
        centre.append(np.degrees(2 * theta))
        area.append(f2m[keep] * lorentz_polarisation(theta) * weight)
        fwhm.append(np.sqrt(np.maximum(PARAMS.U * t * t + PARAMS.V * t + PARAMS.W, 0)))  # degrees
    centre, area, fwhm = np.concatenate(centre), np.concatenate(area), np.concatenate(fwhm)  # (p,)
    order = np.argsort(centre, kind="stable")
    centre, area, fwhm = centre[order], area[order], fwhm[order]
    first = np.concatenate(([True], np.diff(centre) >= COINCIDENT_LINES))  # peaks that start a group
    group = np.cumsum(first) - 1
    area = np.bincount(group, weights=area)                                 # (q,) merged
    centre, fwhm = centre[first], fwhm[first]
    pv_peak = eta * 2 / (np.pi * fwhm) + (1 - eta) * math.sqrt(4 * math.log(2) / math.pi) / fwhm
    top_height = float(np.max(area * pv_peak))
    g_reach = GAUSSIAN_REACH * fwhm
    if eta > 0:
        l_reach = np.sqrt(area * eta * 0.5 * fwhm / (math.pi * TAIL_CUT * top_height))
        l_reach = np.minimum(np.maximum(l_reach, g_reach), LORENTZIAN_REACH * fwhm)
        l_scale = eta / (2 / math.pi * np.arctan(2 * l_reach / fwhm))
    else:
        l_reach, l_scale = np.zeros_like(fwhm), np.zeros_like(fwhm)
    reach = np.maximum(g_reach, l_reach)
    lo = np.searchsorted(grid, centre - reach, "left")    # std::lower_bound
    hi = np.searchsorted(grid, centre + reach, "right")   # std::upper_bound
    counts = hi - lo
    peak = np.repeat(np.arange(centre.size), counts)      # (points,) the peak each drawn point belongs to
    idx = lo[peak] + np.arange(peak.size) - np.repeat(np.cumsum(counts) - counts, counts)
    dx = grid[idx] - centre[peak]
    f, dx2 = fwhm[peak], dx * dx
    gamma = 0.5 * f
    c = 4 * math.log(2) / (f * f)
    v = np.where(np.abs(dx) <= l_reach[peak], l_scale[peak] * gamma / (np.pi * (dx2 + gamma * gamma)), 0.0)
    v += np.where(np.abs(dx) <= g_reach[peak], (1 - eta) * np.sqrt(c / np.pi) * np.exp(-c * dx2), 0.0)
    y = np.bincount(idx, weights=area[peak] * v, minlength=grid.size)
    return (y / y.max()).astype(np.float32)


# --- The peers ----------------------------------------------------------------------------------

class PymatgenPeer:
    def __init__(self, bs: BenchStructure):
        from pymatgen.analysis.diffraction.xrd import XRDCalculator

        self.structure = bs.pymatgen()
        self.calculator = XRDCalculator(wavelength=KA1, debye_waller_factors=dict(bs.b_iso))

    def lines(self) -> tuple[np.ndarray, np.ndarray]:
        """(d, multiplicity x |F|^2): pymatgen's intensities divided by its own LP."""
        p = self.calculator.get_pattern(self.structure, scaled=False, two_theta_range=(0, TWO_THETA_TOP))
        theta = np.radians(np.asarray(p.x)) / 2
        return np.asarray(p.d_hkls), np.asarray(p.y) / lorentz_polarisation(theta)

    def pattern(self) -> np.ndarray:
        return render(*self.lines())


class CctbxPeer:
    def __init__(self, bs: BenchStructure, algorithm: str = "direct"):
        self.xs = bs.cctbx()
        self.symmetry = self.xs.crystal_symmetry()
        self.algorithm = algorithm
        self.cached_set = miller.build_set(self.symmetry, anomalous_flag=False, d_min=D_MIN)

    def structure_factors(self, miller_set: Any) -> Any:
        return miller_set.structure_factors_from_scatterers(self.xs, algorithm=self.algorithm).f_calc().data()

    def lines(self) -> tuple[np.ndarray, np.ndarray]:
        ms = miller.build_set(self.symmetry, anomalous_flag=False, d_min=D_MIN)  # absences left out
        f2m = flex.norm(self.structure_factors(ms)) * ms.multiplicities().data().as_double()
        return ms.d_spacings().data().as_numpy_array(), f2m.as_numpy_array()

    def pattern(self) -> np.ndarray:
        return render(*self.lines())

    def structure_factors_only(self) -> None:
        """|F|^2 on a cached Miller set: the engine alone, for the anatomy table."""
        flex.norm(self.structure_factors(self.cached_set))


# Per-process peer cache for the pool workers (built on first use in each worker).
_WORKER_PEERS: dict[tuple[str, str, str], Any] = {}


def _worker_run(task: tuple[str, str, str, int]) -> float:
    peer_name, structure_name, option, n = task
    key = (peer_name, structure_name, option)
    if key not in _WORKER_PEERS:
        bs = bench_structures.by_name(structure_name)
        _WORKER_PEERS[key] = PymatgenPeer(bs) if peer_name == "pymatgen" else CctbxPeer(bs, option)
    peer = _WORKER_PEERS[key]
    checksum = 0.0
    for _ in range(n):
        checksum += float(peer.pattern()[0])
    return checksum


# --- Timing ------------------------------------------------------------------------------------------

@dataclass
class Timer:
    min_time: float
    repeats: int

    def rate(self, run: Callable[[int], None], per_call: float | None = None) -> tuple[float, float]:
        """(wall, cpu) patterns/s of run(n) (n patterns), each the best of `repeats` runs of
        >= min_time; cpu counts this thread's CPU time only (meaningful for work done in it).
        per_call: a known seconds-per-pattern estimate (skips the calibration run)."""
        if per_call is None:
            t0 = time.perf_counter()
            run(1)  # also warms caches
            per_call = time.perf_counter() - t0
        n = max(1, math.ceil(self.min_time / max(per_call, 1e-7)))
        wall = cpu = math.inf
        for _ in range(self.repeats):
            w0, c0 = time.perf_counter(), time.thread_time()
            run(n)
            cpu = min(cpu, time.thread_time() - c0)
            wall = min(wall, time.perf_counter() - w0)
        return n / wall, n / max(cpu, 1e-9)


def xrdfast_runner(crystal: Any, n_threads: int) -> Callable[[int], None]:
    def run(n: int) -> None:
        while n > 0:
            k = min(n, XRDFAST_CHUNK)
            result = xrdfast.simulate_batch([crystal] * k, PARAMS, n_threads=n_threads)
            assert not any(result.errors), result.errors[0]
            n -= k
    return run


def loop_runner(fn: Callable[[], Any]) -> Callable[[int], None]:
    def run(n: int) -> None:
        for _ in range(n):
            fn()
    return run


def pool_runner(pool: Any, workers: int, peer: str, structure: str, option: str) -> Callable[[int], None]:
    def run(n: int) -> None:
        per_worker = math.ceil(n / workers)
        pool.map(_worker_run, [(peer, structure, option, per_worker)] * workers, chunksize=1)
    return run


# --- Sanity checks (not timed) -------------------------------------------------------------------------

def check_peers(bs: BenchStructure, pymatgen_peer: PymatgenPeer, cctbx_peer: CctbxPeer) -> dict[str, float]:
    crystal = bs.xrdfast()
    n_cctbx = cctbx_peer.xs.expand_to_p1().scatterers().size()
    assert crystal.n_atoms == len(pymatgen_peer.structure) == n_cctbx == bs.n_atoms, (
        f"{bs.name}: atoms xrdfast {crystal.n_atoms}, pymatgen {len(pymatgen_peer.structure)}, cctbx {n_cctbx}, "
        f"expected {bs.n_atoms}")

    # K-alpha1 line positions against pymatgen, both ways.
    lines = xrdfast.simulate(crystal, wavelength2=0.0).lines
    tt, inten = lines["two_theta"], lines["intensity"]
    on_grid = (tt >= GRID[0]) & (tt <= GRID[-1])
    tt, inten = tt[on_grid], inten[on_grid]
    pm = pymatgen_peer.calculator.get_pattern(pymatgen_peer.structure, scaled=True,
                                              two_theta_range=(GRID[0], GRID[-1]))
    px, py = np.asarray(pm.x), np.asarray(pm.y)
    worst = 0.0
    for mine, mine_i, other, other_i, who in ((tt, inten, px, py, "xrdfast"), (px, py, tt, inten, "pymatgen")):
        strong = mine[mine_i > STRONG_LINE_FRACTION * mine_i.max()]
        candidates = other[other_i > WEAK_LINE_FRACTION * other_i.max()]
        for x in strong:
            dev = float(np.min(np.abs(candidates - x)))
            assert dev <= LINE_POSITION_TOLERANCE, f"{bs.name}: {who} line at {x:.5f} deg has no partner ({dev:.2e} deg)"
            worst = max(worst, dev)
    n_strong = int(np.sum(inten > STRONG_LINE_FRACTION * inten.max()))

    # The NumPy renderer draws xrdfast's own lines as xrdfast does.
    full = xrdfast.simulate(crystal)
    mine = render(full.lines["d"], full.lines["multiplicity"] * full.lines["f2"] * full.lines["texture"])
    render_dev = float(np.max(np.abs(mine - full.intensity)))
    assert render_dev <= RENDER_TOLERANCE, f"{bs.name}: NumPy renderer differs from xrdfast by {render_dev:.2e}"

    # cctbx computes the same intensities (same form-factor table, B and multiplicities).
    cctbx_dev = float(np.max(np.abs(cctbx_peer.pattern() - full.intensity)))
    assert cctbx_dev <= CCTBX_PATTERN_TOLERANCE, f"{bs.name}: cctbx pattern differs from xrdfast by {cctbx_dev:.2e}"
    return {"strong_lines": n_strong, "line_position_max_dev_deg": worst, "render_max_dev": render_dev,
            "cctbx_pattern_max_dev": cctbx_dev}


# --- The run -----------------------------------------------------------------------------------

@dataclass
class Result:
    name: str
    atoms: int
    lines: int
    cctbx_algorithm: str = ""
    rates: dict[str, float] = field(default_factory=dict)      # patterns/s, wall clock
    cpu_rates: dict[str, float] = field(default_factory=dict)  # patterns per CPU-second, single-thread runs
    checks: dict[str, float] = field(default_factory=dict)


def measure(bs: BenchStructure, timer: Timer, pool: Any, workers: int) -> Result:
    crystal = bs.xrdfast()
    pm, cc = PymatgenPeer(bs), CctbxPeer(bs)
    res = Result(bs.name, crystal.n_atoms, len(xrdfast.simulate(crystal).lines["d"]))
    res.checks = check_peers(bs, pm, cc)
    quick = Timer(min(0.1, timer.min_time), 1)
    alg_rates = {alg: quick.rate(loop_runner(CctbxPeer(bs, alg).lines))[1] for alg in ("direct", "fft")}
    res.cctbx_algorithm = max(alg_rates, key=alg_rates.get)
    cc = CctbxPeer(bs, res.cctbx_algorithm)
    d, f2m = cc.lines()
    single_thread = {
        "pymatgen_lines": loop_runner(pm.lines),
        "pymatgen_rendered": loop_runner(pm.pattern),
        "cctbx_sf_only": loop_runner(cc.structure_factors_only),
        "cctbx_rendered": loop_runner(cc.pattern),
        "numpy_render_only": loop_runner(lambda: render(d, f2m)),
        "xrdfast_1t": xrdfast_runner(crystal, 1),  # OpenMP with one thread runs in this thread
        "xrdfast_simulate": loop_runner(lambda: xrdfast.simulate(crystal)),
    }
    for key, run in single_thread.items():
        res.rates[key], res.cpu_rates[key] = timer.rate(run)
    r = res.rates
    r["xrdfast_all"] = timer.rate(xrdfast_runner(crystal, 0), per_call=1 / (workers * r["xrdfast_1t"]))[0]
    if pool is not None:
        for peer, option, single in (("pymatgen", "", "pymatgen_rendered"), ("cctbx", res.cctbx_algorithm, "cctbx_rendered")):
            run = pool_runner(pool, workers, peer, bs.name, option)
            run(workers)  # build the peer in every worker
            r[f"{peer}_pool"] = timer.rate(run, per_call=1 / (workers * r[single]))[0]
    return res


def fmt_rate(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.0f}" if x >= 100 else (f"{x:.1f}" if x >= 10 else f"{x:.2f}")


def fmt_ratio(x: float) -> str:
    return f"{x:,.0f}x" if x >= 100 else f"{x:.1f}x"


def print_tables(results: list[Result], workers: int, clock: str) -> None:
    w = 20
    single = {res.name: (res.cpu_rates if clock == "cpu" else res.rates) for res in results}
    unit = "patterns per CPU-second" if clock == "cpu" else "patterns/s (wall)"
    print(f"\nSingle core -- {unit} (rendered: 8501 points, K-alpha1+2 pseudo-Voigt); ratios xrdfast / peer")
    head = (f"{'structure':{w}} {'atoms':>5} {'lines':>5} | {'pmg lines':>9} {'pmg rend':>9} {'cctbx rend':>10} "
            f"{'alg':>6} | {'xrdfast':>8} | {'/pmg rend':>9} {'/cctbx':>7} {'/pmg lines':>10}")
    print(head)
    print("-" * len(head))
    for res in results:
        r = single[res.name]
        print(f"{res.name:{w}} {res.atoms:5d} {res.lines:5d} | {fmt_rate(r['pymatgen_lines']):>9} "
              f"{fmt_rate(r['pymatgen_rendered']):>9} {fmt_rate(r['cctbx_rendered']):>10} {res.cctbx_algorithm:>6} | "
              f"{fmt_rate(r['xrdfast_1t']):>8} | {fmt_ratio(r['xrdfast_1t'] / r['pymatgen_rendered']):>9} "
              f"{fmt_ratio(r['xrdfast_1t'] / r['cctbx_rendered']):>7} "
              f"{fmt_ratio(r['xrdfast_1t'] / r['pymatgen_lines']):>10}")

    print(f"\nAll cores ({workers}) -- patterns/s (wall); peers: process pool of {workers} workers; "
          "xrdfast: simulate_batch(n_threads=0); speed-up against xrdfast's single-thread wall rate")
    head = (f"{'structure':{w}} | {'pmg rend':>9} {'cctbx rend':>10} | {'xrdfast':>8} {'speed-up':>8} | "
            f"{'/pmg rend':>9} {'/cctbx':>7}")
    print(head)
    print("-" * len(head))
    for res in results:
        r = res.rates
        pm, cc = r.get("pymatgen_pool"), r.get("cctbx_pool")
        print(f"{res.name:{w}} | {fmt_rate(pm):>9} {fmt_rate(cc):>10} | {fmt_rate(r['xrdfast_all']):>8} "
              f"{r['xrdfast_all'] / r['xrdfast_1t']:>7.2f}x | "
              f"{fmt_ratio(r['xrdfast_all'] / pm) if pm else '-':>9} {fmt_ratio(r['xrdfast_all'] / cc) if cc else '-':>7}")

    print(f"\nWhere the time goes -- microseconds per pattern, single core ({clock} time)")
    head = (f"{'structure':{w}} | {'pmg lines':>9} | {'cctbx set+SF+render':>19} {'SF only':>8} {'NumPy render':>12} | "
            f"{'xrdfast batch':>13} {'simulate()':>10}")
    print(head)
    print("-" * len(head))
    us = lambda x: f"{1e6 / x:,.0f}"  # noqa: E731
    for res in results:
        r = single[res.name]
        print(f"{res.name:{w}} | {us(r['pymatgen_lines']):>9} | {us(r['cctbx_rendered']):>19} {us(r['cctbx_sf_only']):>8} "
              f"{us(r['numpy_render_only']):>12} | {us(r['xrdfast_1t']):>13} {us(r['xrdfast_simulate']):>10}")

    print("\nTargets per core, fully rendered patterns:")
    for peer, key, target in (("cctbx", "cctbx_rendered", TARGET_VS_CCTBX), ("pymatgen", "pymatgen_rendered", TARGET_VS_PYMATGEN)):
        ratios = [single[res.name]["xrdfast_1t"] / single[res.name][key] for res in results]
        met = [res.name for res, x in zip(results, ratios) if x >= target]
        gmean = math.exp(sum(map(math.log, ratios)) / len(ratios))
        print(f"  >= {target:g}x {peer}: met for {len(met)}/{len(results)} "
              f"(min {min(ratios):.1f}x, geometric mean {gmean:.1f}x, max {max(ratios):.1f}x)"
              + ("" if len(met) == len(results) else
                 f"; missed: {', '.join(res.name for res, x in zip(results, ratios) if x < target)}"))


def environment(workers: int, args: argparse.Namespace) -> dict[str, Any]:
    import cctbx  # noqa: F401
    import pymatgen.core

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        from importlib.metadata import version
        cctbx_version = version("cctbx-base")
    except Exception:  # not installed from a wheel
        cctbx_version = "?"
    return {"cpu": cpu, "cores": workers, "python": platform.python_version(), "numpy": np.__version__,
            "xrdfast": xrdfast.__version__, "xrdfast_build": xrdfast.build_info(),
            "pymatgen": pymatgen.core.__version__, "cctbx": cctbx_version,
            "min_time_s": args.min_time, "repeats": args.repeats, "clock": args.clock,
            "load_average": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description="Patterns/s of xrdfast, pymatgen and cctbx")
    parser.add_argument("--quick", action="store_true", help="short run: 0.1 s per measurement, best of 2")
    parser.add_argument("--json", metavar="PATH", help="write the results and environment here")
    parser.add_argument("--structures", help="comma-separated substrings of structure names to run")
    parser.add_argument("--min-time", type=float, default=0.5, help="seconds per timed run (default 0.5)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement; the best counts")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)), help="cores for 'all cores'")
    parser.add_argument("--no-pool", action="store_true", help="skip the peers' process pools")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                        help="clock of the single-core rates (default: this thread's CPU time)")
    args = parser.parse_args()
    if args.quick:
        args.min_time, args.repeats = 0.1, 2
    chosen = bench_structures.STRUCTURES
    if args.structures:
        keys = [k.strip().lower() for k in args.structures.split(",")]
        chosen = tuple(s for s in chosen if any(k in s.name.lower() for k in keys))
        if not chosen:
            parser.error(f"no structure matches {args.structures!r}")
    env = environment(args.workers, args)
    print(f"xrdfast {env['xrdfast']} (OpenMP {env['xrdfast_build']['openmp']}), pymatgen {env['pymatgen']}, "
          f"cctbx {env['cctbx']}, numpy {env['numpy']}; {env['cpu']}, {args.workers} cores; "
          f"best of {args.repeats} x >= {args.min_time} s; load average {os.getloadavg()[0]:.1f}")
    if os.getloadavg()[0] > 0.5 * args.workers:
        print("  note: the machine is busy; all-core (wall-clock) rates will be low and noisy")
    # fork the pool before xrdfast starts OpenMP threads (a forked child must not inherit them)
    pool = None if args.no_pool or args.workers < 2 else multiprocessing.get_context("fork").Pool(args.workers)
    t_start = time.perf_counter()
    results = []
    try:
        for bs in chosen:
            t0 = time.perf_counter()
            res = measure(bs, Timer(args.min_time, args.repeats), pool, args.workers)
            c = res.checks
            print(f"  {bs.name}: checks passed ({c['strong_lines']} strong lines, positions within "
                  f"{c['line_position_max_dev_deg']:.1e} deg of pymatgen, cctbx pattern within "
                  f"{c['cctbx_pattern_max_dev']:.1e}); cctbx {res.cctbx_algorithm} faster; "
                  f"{time.perf_counter() - t0:.1f} s", flush=True)
            results.append(res)
    finally:
        if pool is not None:
            pool.terminate()
    print_tables(results, args.workers, args.clock)
    print(f"\ntotal {time.perf_counter() - t_start:.0f} s; load average now {os.getloadavg()[0]:.1f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"environment": env, "results": [res.__dict__ for res in results]}, fh, indent=1)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

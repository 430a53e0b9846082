"""Automatic indexing on real structures: AMCSD minerals (larixite) simulated with stage-2-like
nuisances, the true lattice ranked first per crystal system, and the time per pattern.

Line lists come from the simulator's lines (K-alpha1 positions and intensities, texture
included), made realistic: lines closer than half a FWHM merge (intensity-weighted), lines
below 1 % of the strongest are lost, positions get a fitted-peak error (sigma 0.004-0.015
deg), a zero shift (+-0.06 deg) and a sample-displacement shift (cos theta, +-0.15 mm on a
240 mm goniometer) -- the stage-2 ranges of the curriculum. Variants: "base", "impurity"
(two extra lines among the first twenty, 5-30 % of the strongest) and "zero" (zero shift
+-0.1 deg). With --extracted the line lists are not built from the simulator's lines but
extracted from whole patterns, as ``xrdfast.fusion.index_pattern`` does it: each structure is
simulated on the default grid (5-90 deg, 0.01 deg) with stage-2 nuisances drawn by the
generator's own StageDistribution (K-alpha doublet, Caglioti widths, zero shift and sample
displacement, texture, crystallite size, strain, counting noise, background, amorphous hump),
its peaks found by ``xrdfast.peaks.search`` and indexed; "impurity" adds two peaks (5-30 % of
the strongest, the pattern's width) inside the range of the first twenty lines and "zero"
sets the zero shift to +-0.1 deg. Times per pattern are reported for the peak search and
the indexing separately (one thread). With --rruff (and xrdfast.find_peaks available) the RRUFF development patterns
are indexed too: share with a solution of M20 >= 10 and whether its lattice system matches
the label's crystal system, beside the frequency-prior baseline.

Success: the top solution's Niggli cell equals the true primitive cell's within 0.3 % in
lengths and 0.3 deg in angles ("exact"); "sub/super" counts a top solution that is an exact
sub- or supercell of the truth (integer volume ratio, the smaller lattice's vectors in the
larger's) with the true cell also listed and flagged.

    python benchmarks/bench_indexing.py --per-system 50            # ~10 min on one core
    python benchmarks/bench_indexing.py --per-system 50 --extracted # the same, peaks extracted
    python benchmarks/bench_indexing.py --per-system 10 --variants base
    python benchmarks/bench_indexing.py --rruff ../shared/data/rruff_dev/rruff_dev.npz
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from collections import defaultdict

try:  # cctbx before gemmi
    import cctbx.sgtbx  # noqa: F401
    from cctbx import crystal as cctbx_crystal
    from cctbx import sgtbx, uctbx
except ImportError:  # pragma: no cover
    sys.exit("bench_indexing needs cctbx-base (pip install cctbx-base)")

import numpy as np

from xrdfast.indexing import IndexingTimeLimitWarning, index_many, same_lattice
from xrdfast.minerals import amcsd_minerals
from xrdfast.simulate import simulate

SYSTEMS = ("triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal", "hexagonal", "cubic")
LAMBDA = 1.540593
VARIANTS = ("base", "impurity", "zero")


def system_of(sg: int) -> str:
    for limit, name in ((2, "triclinic"), (15, "monoclinic"), (74, "orthorhombic"), (142, "tetragonal"),
                        (167, "trigonal"), (194, "hexagonal"), (230, "cubic")):
        if sg <= limit:
            return name
    raise ValueError(sg)


def primitive_cell(crystal) -> tuple[float, ...]:
    """The Niggli cell of the crystal's primitive lattice (centring from its own operations)."""
    group = sgtbx.space_group()
    for op in crystal.operations:
        group.expand_smx(sgtbx.rt_mx(op.triplet()))
    cs = cctbx_crystal.symmetry(uctbx.unit_cell(tuple(crystal.cell)), space_group=group)
    prim = cs.change_basis(group.z2p_op())
    return tuple(prim.unit_cell().niggli_cell().parameters())


def pick_minerals(per_system: int, seed: int, max_id: int = 25000, cache: str | None = None):
    """Up to per_system readable AMCSD structures of each crystal system, in a seeded random
    order of ids (cached as a list of ids when `cache` is given)."""
    if cache and os.path.exists(cache):
        with open(cache) as f:
            ids = json.load(f)
    else:
        ids = [int(i) for i in np.random.default_rng(seed).permutation(np.arange(1, max_id))]
    got: dict[str, list] = defaultdict(list)
    for mineral in amcsd_minerals([int(i) for i in ids]):
        sys_name = system_of(mineral.space_group)
        if len(got[sys_name]) >= per_system:
            if all(len(got[s]) >= per_system for s in SYSTEMS):
                break
            continue
        try:
            cell = primitive_cell(mineral.crystal)
        except (RuntimeError, ValueError):
            continue
        got[sys_name].append((mineral, cell))
    if cache and not os.path.exists(cache):
        with open(cache, "w") as f:
            json.dump([m.amcsd_id for v in got.values() for m, _ in v], f)
    return got


def line_list(crystal, rng: np.random.Generator, variant: str) -> tuple[np.ndarray, np.ndarray]:
    tex = rng.uniform(0.667, 1.515) if rng.random() < 0.5 else 1.0
    pat = simulate(crystal, seed=int(rng.integers(1 << 30)), march_dollase_r=tex) if tex != 1.0 else \
        simulate(crystal, seed=int(rng.integers(1 << 30)))
    lines = pat.lines
    tt = np.asarray(lines["two_theta"], float)
    inten = np.asarray(lines["intensity"], float)
    keep = np.isfinite(tt) & (inten > 0)
    tt, inten = tt[keep], inten[keep]
    order = np.argsort(tt)
    tt, inten = tt[order], inten[order]
    # instrument width (Caglioti, stage-2 ranges) -> merge lines closer than half a FWHM
    U, V, W = rng.uniform(0.0049, 0.0119), rng.uniform(-0.0021, -0.00005), rng.uniform(0.0032, 0.0119)
    merged_t, merged_i = [], []
    for t, i in zip(tt, inten):
        th = math.tan(math.radians(t / 2))
        fwhm = math.sqrt(max(U * th * th + V * th + W, 1e-6))
        if merged_t and t - merged_t[-1] < 0.5 * fwhm:
            w = merged_i[-1] + i
            merged_t[-1] = (merged_t[-1] * merged_i[-1] + t * i) / w
            merged_i[-1] = w
        else:
            merged_t.append(t)
            merged_i.append(i)
    tt, inten = np.array(merged_t), np.array(merged_i)
    keep = inten >= 0.01 * inten.max()
    tt, inten = tt[keep], inten[keep]
    sigma = rng.uniform(0.004, 0.015)
    zero = rng.uniform(-0.06, 0.06) if variant != "zero" else rng.choice([-0.1, 0.1])
    displacement = rng.uniform(-0.15, 0.15)  # mm
    shift = zero - np.degrees(2 * displacement * np.cos(np.radians(tt / 2)) / 240.0)
    tt = tt + shift + rng.normal(0, sigma, tt.size)
    if variant == "impurity" and tt.size >= 4:
        hi = tt[min(19, tt.size - 1)]
        extra = rng.uniform(max(5.0, tt[0] - 2), hi, 2)
        tt = np.concatenate([tt, extra])
        inten = np.concatenate([inten, inten.max() * rng.uniform(0.05, 0.3, 2)])
    keep = (tt > 5) & (tt < 90)
    return tt[keep], inten[keep]


def extracted_peaks(crystal, amcsd_id: int, seed: int, variant: str) -> tuple[np.ndarray, float, float]:
    """Peaks found by xrdfast.peaks.search in a whole pattern simulated with stage-2 nuisances
    (the call xrdfast.fusion.index_pattern makes), its wavelength, and the search's time (s)."""
    from xrdfast import _core
    from xrdfast.grid import default_grid
    from xrdfast.peaks import search
    from xrdfast.simulate import simulate_batch

    stream = seed * 1000 + VARIANTS.index(variant)
    params = _core.draw_params(_core.StageDistribution.preset("2"), stream, amcsd_id)
    rng = np.random.default_rng([seed, VARIANTS.index(variant), amcsd_id, 1])
    if variant == "zero":
        params.zero_shift = float(rng.choice([-0.1, 0.1]))
    grid = default_grid()
    result = simulate_batch([crystal], [params], grid=grid, seed=stream, n_threads=1)
    y = np.array(result.patterns[0], dtype=float)
    if not np.all(np.isfinite(y)):
        raise ValueError(result.errors[0] or "simulation failed")
    if variant == "impurity":
        # two foreign peaks (pseudo-Voigt-free Gaussians of the pattern's width) among the
        # first twenty lines, 5-30 % of the strongest peak above the background
        clean = search((grid, y), wavelength=params.wavelength, wavelength2=params.wavelength2, refine=True).peaks
        if len(clean) >= 4:
            hi = clean["two_theta"][min(19, len(clean) - 1)]
            fwhm = float(np.median(clean["fwhm"]))
            for t, h in zip(rng.uniform(max(6.0, clean["two_theta"][0] - 2), hi, 2),
                            rng.uniform(0.05, 0.3, 2) * clean["height"].max()):
                y = y + h * np.exp(-4 * np.log(2) * ((grid - t) / fwhm) ** 2)
    start = time.perf_counter()
    found = search((grid, y), wavelength=params.wavelength, wavelength2=params.wavelength2, refine=True)  # as fusion.index_pattern
    return found.peaks, float(params.wavelength), time.perf_counter() - start


def related(cell_a, cell_b) -> bool:
    """Whether one lattice is an exact sub/supercell of the other (integer volume ratio >= 2
    and the larger cell's reduced basis vectors are vectors of the smaller lattice)."""
    va, vb = uctbx.unit_cell(cell_a).volume(), uctbx.unit_cell(cell_b).volume()
    small, large = (cell_a, cell_b) if va < vb else (cell_b, cell_a)
    r = max(va, vb) / min(va, vb)
    if r < 1.5 or abs(r - round(r)) > 0.01 * r:
        return False
    us, ul = uctbx.unit_cell(small), uctbx.unit_cell(large)
    gs = np.array(us.metrical_matrix())  # g11 g22 g33 g12 g13 g23
    G = np.array([[gs[0], gs[3], gs[4]], [gs[3], gs[1], gs[5]], [gs[4], gs[5], gs[2]]])
    rng_ = range(-4, 5)
    vecs = np.array([(i, j, k) for i in rng_ for j in rng_ for k in rng_ if (i, j, k) != (0, 0, 0)])
    lens = np.einsum("ni,ij,nj->n", vecs, G, vecs)
    gl = np.array(ul.metrical_matrix())
    targets = gl[:3]
    cands = [vecs[np.abs(lens - t) < 0.006 * t] for t in targets]
    cross = {(0, 1): gl[3], (0, 2): gl[4], (1, 2): gl[5]}
    for v0 in cands[0]:
        for v1 in cands[1]:
            if abs(v0 @ G @ v1 - cross[(0, 1)]) > 0.006 * math.sqrt(targets[0] * targets[1]):
                continue
            for v2 in cands[2]:
                if (abs(v0 @ G @ v2 - cross[(0, 2)]) < 0.006 * math.sqrt(targets[0] * targets[2])
                        and abs(v1 @ G @ v2 - cross[(1, 2)]) < 0.006 * math.sqrt(targets[1] * targets[2])
                        and round(abs(np.linalg.det(np.array([v0, v1, v2])))) == round(r)):
                    return True
    return False


def run_amcsd(per_system: int, variants: list[str], seed: int, time_limit: float, cache: str | None = None,
              systems: tuple[str, ...] = SYSTEMS, extracted: bool = False, effort: float = 1.0,
              indexing_options: dict | None = None) -> dict:
    indexing_options = indexing_options or {}
    t0 = time.time()
    chosen = pick_minerals(per_system, seed, cache=cache)
    chosen = {s: v for s, v in chosen.items() if s in systems}
    print(f"picked {sum(len(v) for v in chosen.values())} AMCSD structures in {time.time() - t0:.0f} s "
          + ", ".join(f"{s} {len(chosen.get(s, []))}" for s in SYSTEMS), flush=True)
    report: dict = {}
    for variant in variants:
        rows = []
        for sys_name in SYSTEMS:
            for mineral, true_cell in chosen.get(sys_name, []):
                peak_time = 0.0
                if extracted:
                    try:
                        peaks, lam, peak_time = extracted_peaks(mineral.crystal, mineral.amcsd_id, seed, variant)
                    except ValueError:
                        continue
                else:
                    rng = np.random.default_rng([seed, VARIANTS.index(variant), mineral.amcsd_id])  # reproducible per item
                    tt, inten = line_list(mineral.crystal, rng, variant)
                    peaks = np.zeros(tt.size, dtype=[("two_theta", "f8"), ("height", "f8")])
                    peaks["two_theta"], peaks["height"] = tt, inten
                    lam = LAMBDA
                start, cpu_start = time.perf_counter(), time.process_time()
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    result = index_many([peaks], wavelength=lam, n_threads=1, time_limit=time_limit, effort=effort,
                                        **indexing_options)[0]
                elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
                timed_out = any(issubclass(w.category, IndexingTimeLimitWarning) for w in caught)
                sols = [] if isinstance(result, Exception) else result
                exact = bool(sols) and same_lattice(sols[0].niggli_cell, true_cell)
                subsuper, related_top = False, ""
                if sols and not exact and related(sols[0].niggli_cell, true_cell):
                    subsuper = any(s.relation and same_lattice(s.niggli_cell, true_cell) for s in sols[1:])
                    smaller = uctbx.unit_cell(sols[0].niggli_cell).volume() < uctbx.unit_cell(true_cell).volume()
                    related_top = "subcell" if smaller else "supercell"
                rank = next((i + 1 for i, s in enumerate(sols) if same_lattice(s.niggli_cell, true_cell)), None)
                rows.append(dict(system=sys_name, amcsd=mineral.amcsd_id, name=mineral.name, n_lines=int(len(peaks)),
                                 exact=exact, subsuper=subsuper, related_top=related_top, rank=rank, time=elapsed, cpu=cpu, peak_time=peak_time,
                                 timed_out=timed_out,
                                 top=sols[0].lattice if sols else None, m20=sols[0].m20 if sols else None))
        times = np.array([r["time"] for r in rows])
        cpus = np.array([r["cpu"] for r in rows])
        table = {}
        print(f"\n== variant {variant}{' (peaks extracted)' if extracted else ''}: {len(rows)} patterns, indexing time "
              f"per pattern median {np.median(times):.3f} s, p95 {np.percentile(times, 95):.3f} s, max {times.max():.3f} s "
              f"(one thread); CPU time median {np.median(cpus):.3f} s, p95 {np.percentile(cpus, 95):.3f} s; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; safety net hit "
              f"{sum(r['timed_out'] for r in rows)}")
        if extracted:
            pt = np.array([r["peak_time"] for r in rows])
            print(f"   peak search median {np.median(pt):.4f} s; peaks + indexing median {np.median(pt + times):.3f} s, "
                  f"p95 {np.percentile(pt + times, 95):.3f} s")
        print(f"{'system':13s} {'n':>4s} {'exact@1':>8s} {'+sub/sup':>9s} {'in top5':>8s}  top is a sub / supercell")
        for sys_name in SYSTEMS:
            rs = [r for r in rows if r["system"] == sys_name]
            if not rs:
                continue
            ex = np.mean([r["exact"] for r in rs])
            ss = np.mean([r["exact"] or r["subsuper"] for r in rs])
            t5 = np.mean([r["rank"] is not None for r in rs])
            table[sys_name] = dict(n=len(rs), exact=ex, exact_or_flagged=ss, top5=t5)
            n_sub = sum(r["related_top"] == "subcell" for r in rs)
            n_super = sum(r["related_top"] == "supercell" for r in rs)
            print(f"{sys_name:13s} {len(rs):4d} {100 * ex:7.1f}% {100 * ss:8.1f}% {100 * t5:7.1f}%  {n_sub:4d} / {n_super}")
        report[variant] = dict(table=table, median_s=float(np.median(times)), p95_s=float(np.percentile(times, 95)),
                               max_s=float(times.max()), cpu_median_s=float(np.median(cpus)),
                               cpu_p95_s=float(np.percentile(cpus, 95)), rows=rows)
    return report


def run_rruff(path: str, time_limit: float) -> dict:
    import xrdfast

    if not hasattr(xrdfast, "find_peaks"):
        print("\nRRUFF: skipped, this xrdfast has no find_peaks (peak extraction) yet")
        return {}
    data = np.load(path)
    tt, inten, sg = data["two_theta"], data["intensity"], data["sg"]
    items = [(tt, inten[i]) for i in range(inten.shape[0])]
    start = time.perf_counter()
    results = index_many(items, wavelength=1.5418, n_threads=1, time_limit=time_limit)
    elapsed = time.perf_counter() - start
    lattice_system = {"a": "triclinic", "m": "monoclinic", "o": "orthorhombic", "t": "tetragonal", "c": "cubic"}
    n_good = n_match = 0
    truth_systems = []
    for res, s in zip(results, sg):
        truth = system_of(int(s))
        truth = "hexagonal" if truth in ("trigonal", "hexagonal") else truth
        truth_systems.append(truth)
        if isinstance(res, Exception) or not res or res[0].m20 < 10:
            continue
        n_good += 1
        top = res[0].lattice
        pred = "hexagonal" if top[0] == "h" else lattice_system[top[0]]
        n_match += pred == truth
    # the frequency-prior baseline: always the most common lattice system of the labels
    values, counts = np.unique(truth_systems, return_counts=True)
    prior = counts.max() / counts.sum()
    n = len(results)
    print(f"\n== RRUFF dev ({n} patterns, {elapsed / n:.3f} s each): M20 >= 10 for {n_good} ({100 * n_good / n:.1f} %); "
          f"its lattice system matches the label for {n_match} ({100 * n_match / max(n_good, 1):.1f} % of those); "
          f"frequency prior (always '{values[counts.argmax()]}') {100 * prior:.1f} %")
    return dict(n=n, m20_ge_10=n_good, system_match=n_match, prior=float(prior))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--per-system", type=int, default=50)
    ap.add_argument("--variants", default="base,impurity,zero")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--time-limit", type=float, default=30.0, help="the safety net, s (default as index())")
    ap.add_argument("--effort", type=float, default=1.0, help="the search's budget of work (default as index())")
    ap.add_argument("--superstructure-chance", type=float, default=None,
                    help="index()'s superstructure_chance (default: index()'s own)")
    ap.add_argument("--max-impurities", type=int, default=None,
                    help="unindexed lines tolerated among the first twenty (default as index(): 6)")
    ap.add_argument("--metric-tolerance", type=float, default=None,
                    help="index()'s metric_tolerance (default as index(): 0.04; 0.004: the strict test alone)")
    ap.add_argument("--scatter-per-sigma", type=float, default=None,
                    help="indexing.SCATTER_PER_SIGMA: the default tolerance is 3 times this times the peaks' median "
                    "sigma_two_theta (default 1.33; 1: three fit sigmas, the rule before)")
    ap.add_argument("--extracted", action="store_true",
                    help="simulate whole stage-2 patterns and extract their peaks (the end-to-end figures)")
    ap.add_argument("--rruff", help="the RRUFF development .npz")
    ap.add_argument("--json", help="write the report here")
    ap.add_argument("--ids-cache", help="JSON list of the AMCSD ids picked (written on the first run, read after)")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help="crystal systems to run")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.scatter_per_sigma is not None:
        import xrdfast.indexing

        xrdfast.indexing.SCATTER_PER_SIGMA = args.scatter_per_sigma
    report = {"amcsd": run_amcsd(args.per_system, args.variants.split(","), args.seed, args.time_limit,
                                 args.ids_cache, tuple(args.systems.split(",")), args.extracted, args.effort,
                                 {key: value for key, value in (("superstructure_chance", args.superstructure_chance),
                                                                ("max_impurities", args.max_impurities),
                                                                ("metric_tolerance", args.metric_tolerance))
                                  if value is not None})}
    if args.rruff:
        report["rruff"] = run_rruff(args.rruff, args.time_limit)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1, default=str)


if __name__ == "__main__":
    main()

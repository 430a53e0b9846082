"""Peak extraction on simulated patterns with known line lists, and its speed beside scipy.

Accuracy. Random crystals of random space groups (xrdfast's random_crystal, up to 100 atoms)
are simulated with stage-2 nuisances drawn from ``StageDistribution.preset("2")`` (Caglioti
U, V, W, Lorentzian X, eta, zero shift, sample displacement, crystallite size, microstrain,
March-Dollase texture, an impurity phase for 35 %), Cu K-alpha1+2, on the 8501-point grid,
at fixed noise and background levels so that the figures can be read as functions of them:

* noise: Poisson counts at the strongest point, ``counts`` (relative noise there
  1/sqrt(counts): 1e6 -> 0.1 %, 1e4 -> 1 %, 2500 -> 2 %, 1000 -> 3.2 %);
* background: "none"; "stage2" (Chebyshev level/slope/curvature and an amorphous hump as
  stage 2 draws them); "strong" (level 3 %, slope, hump of 8 % of the maximum).

The truth is the simulator's line list (K-alpha1 positions, integrated intensities, every
phase). Lines closer than RESOLVE x FWHM (the FWHM each line has from the drawn
parameters, Thompson-Cox-Hastings) form one group at their intensity-weighted position. A
group is "wanted" when its intensity is >= 2 % of the strongest group and it lies inside
the grid by MARGIN. Recall: wanted groups with a detected peak within MATCH x FWHM of their position (a blend
of several lines: anywhere from its first to its last K-alpha1 line, +- MATCH x FWHM);
"single": the same over groups that are one line, not blended with a neighbour's K-alpha1
or K-alpha2.
Position error: |detected - true| over the matched wanted groups that are a single line.
False peaks: detected peaks farther than MATCH x FWHM from every line whose intensity is
above ANY_LINE x the relative noise (1/sqrt(counts)) x the strongest line's (weaker lines
cannot make a significant peak; finding a stronger true line is not counted against us).
Groups: each line's K-alpha1 and K-alpha2 (the simulated doublet) are components, and
components closer than RESOLVE x FWHM chain into one group, so that a line buried in a
neighbour's K-alpha2 is not counted as resolvable.

Both modes are scored on the same patterns: "fast" (the default: closed-form peak
parameters) and "refined" (``refine=True``: Levenberg-Marquardt doublet fits).

Speed. ``find_peaks_batch(..., n_threads=1)`` patterns per CPU-second on the 8501-point
grid, both modes, beside ``scipy.signal.find_peaks`` (prominence and width computed, the
usual way to get positions and widths from it; it fits nothing and estimates no background)
as the peer.

    python benchmarks/bench_peaks.py [--quick] [--patterns 40] [--modes fast,refined] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import xrdfast  # noqa: E402
from xrdfast import _core  # noqa: E402
from xrdfast.peaks import find_peaks_batch  # noqa: E402

RESOLVE = 0.75  # lines closer than this many FWHM are one group (two equal Gaussians show a dip above 0.85)
MATCH = 0.5     # a detected peak within this many FWHM of a group's position finds it
WANTED = 0.02   # wanted groups: >= 2 % of the strongest group's intensity
ANY_LINE = 0.1  # detections near lines above 0.1 x the relative noise of the strongest are not false
MARGIN = 0.3    # degrees inside the grid's ends
NOISE_COUNTS = {"0.1%": 1e6, "1%": 1e4, "2%": 2500.0, "3.2%": 1000.0}
BACKGROUNDS = ("none", "stage2", "strong")


@dataclass
class Case:
    params: dict[str, Any]
    structure: Any
    impurity: Any | None
    fwhm_params: tuple[float, ...]  # U, V, W, X, size, strain


def tch_fwhm(two_theta: np.ndarray, U: float, V: float, W: float, X: float, size: float, strain: float,
             wavelength: float = 1.540593) -> np.ndarray:
    """FWHM (degrees) of each line from the drawn parameters: Caglioti H_G, Lorentzian H_L
    with Scherrer size, combined by Thompson, Cox & Hastings (1987) eq. 3."""
    theta = np.radians(two_theta / 2)
    t, c = np.tan(theta), np.cos(theta)
    hg2 = U * t * t + V * t + W
    if strain > 0:
        hg2 = hg2 + np.degrees(4 * strain * t) ** 2
    hg = np.sqrt(np.maximum(hg2, 0))
    hl = X / c + (np.degrees(0.9 * wavelength / (size * 10 * c)) if size > 0 else 0)
    return (hg**5 + 2.69269 * hg**4 * hl + 2.42843 * hg**3 * hl**2 + 4.47163 * hg**2 * hl**3
            + 0.07842 * hg * hl**4 + hl**5) ** 0.2


def draw_case(rng: np.random.Generator, index: int, background: str, counts: float) -> Case:
    d = _core.StageDistribution.preset("2").to_dict()

    def u(name: str) -> float:
        lo, hi = d[name]
        return float(rng.uniform(lo, hi))

    def log_u(name: str) -> float:
        lo, hi = d[name]
        return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))

    p: dict[str, Any] = dict(U=u("U"), V=u("V"), W=u("W"), X=u("X"), eta=u("eta") ** d["eta_power"],
                             zero_shift=u("zero_shift"), sample_displacement=u("sample_displacement"))
    size = log_u("crystallite_size") if rng.uniform() < d["size_probability"] else 0.0
    strain = u("microstrain") if rng.uniform() < d["strain_probability"] else 0.0
    p.update(crystallite_size=size, microstrain=strain)
    if rng.uniform() < d["texture_probability"]:
        p.update(march_dollase_r=log_u("march_dollase_r"),
                 preferred_orientation=[(0, 0, 1), (1, 0, 0), (0, 1, 0), (1, 1, 0), (1, 1, 1)][rng.integers(5)])
    if background == "stage2":
        if rng.uniform() < d["background_probability"]:
            p["background_chebyshev"] = [u("background_level"), u("background_slope"), u("background_curvature")]
        if rng.uniform() < d["hump_probability"]:
            p.update(hump_amplitude=u("hump_amplitude"), hump_center=u("hump_center"), hump_fwhm=u("hump_fwhm"))
    elif background == "strong":
        p["background_chebyshev"] = [0.03, u("background_slope"), u("background_curvature")]
        p.update(hump_amplitude=0.08, hump_center=u("hump_center"), hump_fwhm=u("hump_fwhm"))
    p["counts"] = counts
    def crystal(seed: int, max_atoms: int) -> Any:
        for _ in range(5):  # as the curriculum: room for the smallest orbit with exactly the group's symmetry
            sg = int(rng.integers(1, 231))
            try:
                return _core.random_crystal(sg, seed, index, max_atoms=max(max_atoms, _core.smallest_exact_orbit(sg)))
            except RuntimeError:
                continue
        raise RuntimeError("no random crystal in 5 draws")

    structure = crystal(2026, 100)
    impurity = (crystal(7, 40), u("impurity_fraction")) if rng.uniform() < d["impurity_probability"] else None
    return Case(p, structure, impurity, (p["U"], p["V"], p["W"], p["X"], size, strain))


def ka2(two_theta: np.ndarray, wavelength: float = 1.540593, wavelength2: float = 1.544414) -> np.ndarray:
    """K-alpha2 positions (degrees) of lines whose K-alpha1 is at two_theta (Bragg's law)."""
    s = np.clip(wavelength2 / wavelength * np.sin(np.radians(two_theta / 2)), -1, 1)
    return 2 * np.degrees(np.arcsin(s))


def score(lines: dict[str, np.ndarray], fwhm_params: tuple[float, ...], found: np.ndarray,
          grid: np.ndarray, noise: float) -> dict[str, Any]:
    """Recall, false peaks and position errors of one pattern against its line list.

    Components are every line's K-alpha1 and its K-alpha2 (half the intensity); components
    closer than RESOLVE x FWHM chain into one group. A group is wanted when its K-alpha1
    intensity is >= WANTED of the strongest group's; its position is the K-alpha1
    intensity-weighted mean; it is "single" when all its components come from one line."""
    keep = lines["intensity"] > 0
    tt1, inten = lines["two_theta"][keep], lines["intensity"][keep]
    n = tt1.size
    tt = np.concatenate([tt1, ka2(tt1)])
    comp_i = np.concatenate([inten, np.zeros(n)])  # K-alpha2 adds to resolvability, not to the group's K-alpha1 sum
    owner = np.concatenate([np.arange(n), np.arange(n)])
    order = np.argsort(tt)
    tt, comp_i, owner = tt[order], comp_i[order], owner[order]
    width = tch_fwhm(tt, *fwhm_params)
    groups: list[list[int]] = []
    for i in range(tt.size):
        if groups and tt[i] - tt[groups[-1][-1]] < RESOLVE * width[i]:
            groups[-1].append(i)
        else:
            groups.append([i])
    groups = [g for g in groups if comp_i[g].sum() > 0]
    g_int = np.array([comp_i[g].sum() for g in groups])
    g_pos = np.array([np.sum(tt[g] * comp_i[g]) / comp_i[g].sum() for g in groups])
    g_wid = np.array([width[g].mean() for g in groups])
    g_single = np.array([len(set(owner[g])) == 1 for g in groups])
    # Extent of a group's K-alpha1 lines: a blend is found by a detection anywhere across it.
    g_lo = np.array([tt[g][comp_i[g] > 0].min() for g in groups])
    g_hi = np.array([tt[g][comp_i[g] > 0].max() for g in groups])
    inside = (g_pos > grid[0] + MARGIN) & (g_pos < grid[-1] - MARGIN)
    wanted = inside & (g_int >= WANTED * g_int[inside].max()) if inside.any() else inside
    pos = np.sort(found["two_theta"])
    hits, errors, missed = 0, [], []
    for j in np.flatnonzero(wanted):
        k = np.searchsorted(pos, g_pos[j])
        near = [pos[i] for i in (k - 1, k) if 0 <= i < pos.size]
        inside_group = pos[(pos >= g_lo[j] - MATCH * g_wid[j]) & (pos <= g_hi[j] + MATCH * g_wid[j])]
        if near and (g_single[j] or inside_group.size == 0):
            best = min(near, key=lambda v: abs(v - g_pos[j]))
            if abs(best - g_pos[j]) <= MATCH * g_wid[j]:
                hits += 1
                if g_single[j]:
                    errors.append(abs(best - g_pos[j]))
                continue
        elif inside_group.size:
            hits += 1
            continue
        missed.append((float(g_pos[j]), float(g_wid[j]), float(g_int[j] / g_int[inside].max()), bool(g_single[j])))
    # Lines a detection may legitimately be: any K-alpha1 above ANY_LINE x the relative noise.
    real = inten >= ANY_LINE * noise * inten.max()
    real_tt, real_w = tt1[real], tch_fwhm(tt1[real], *fwhm_params)
    false = sum(1 for x in pos if real_tt.size == 0 or np.min(np.abs(real_tt - x) / (MATCH * real_w)) > 1)
    wanted_single = int((wanted & g_single).sum())
    return {"wanted": int(wanted.sum()), "hits": hits, "wanted_single": wanted_single,
            "hits_single": wanted_single - sum(1 for m in missed if m[3]), "detected": int(pos.size), "false": false, "errors": errors,
            "missed": missed}


MODES = {"fast": {}, "refined": {"refine": True}}


def evaluate(n_patterns: int, noise: str, background: str, seed: int = 0,
             modes: tuple[str, ...] = tuple(MODES)) -> list[dict[str, Any]]:
    rng = np.random.default_rng([seed, list(NOISE_COUNTS).index(noise), BACKGROUNDS.index(background)])
    grid = xrdfast.default_grid()
    cases, patterns, lines = [], [], []
    for i in range(n_patterns):
        case = draw_case(rng, seed * 100_000 + i, background, NOISE_COUNTS[noise])
        try:
            pat = xrdfast.simulate(case.structure, grid=grid, seed=i,
                                   impurities=[case.impurity] if case.impurity else (), **case.params)
        except ValueError:
            continue
        cases.append(case)
        patterns.append(pat.intensity)
        lines.append(pat.lines)
    rows = []
    for mode in modes:
        found = find_peaks_batch(grid, np.array(patterns), wavelength=1.540593, wavelength2=1.544414,
                                 errors="empty", **MODES[mode])
        totals = {"wanted": 0, "hits": 0, "wanted_single": 0, "hits_single": 0, "detected": 0, "false": 0}
        errors: list[float] = []
        for case, ln, f in zip(cases, lines, found):
            s = score(ln, case.fwhm_params, f, grid, 1 / math.sqrt(NOISE_COUNTS[noise]))
            for k in totals:
                totals[k] += s[k]
            errors += s["errors"]
        rows.append({"mode": mode, "noise": noise, "background": background, "patterns": len(cases),
                     "recall": totals["hits"] / max(totals["wanted"], 1),
                     "recall_single": totals["hits_single"] / max(totals["wanted_single"], 1),
                     "false_share": totals["false"] / max(totals["detected"], 1),
                     "median_error_deg": float(np.median(errors)) if errors else math.nan,
                     "peaks_per_pattern": totals["detected"] / max(len(cases), 1), **totals})
    return rows


def cpu_rate(fn: Any, n: int, min_time: float = 1.0) -> float:
    """Patterns per CPU-second (this thread), best of three runs of at least min_time."""
    best = math.inf
    for _ in range(3):
        reps, t0 = 0, time.thread_time()
        while True:
            fn()
            reps += 1
            elapsed = time.thread_time() - t0
            if elapsed >= min_time:
                break
        best = min(best, elapsed / (reps * n))
    return 1.0 / best


def speed(n: int = 64, modes: tuple[str, ...] = tuple(MODES)) -> dict[str, float]:
    from scipy.signal import find_peaks as scipy_find_peaks

    rng = np.random.default_rng(5)
    grid = xrdfast.default_grid()
    ys = []
    for i in range(n):
        case = draw_case(rng, 900_000 + i, "stage2", 1e4)
        ys.append(xrdfast.simulate(case.structure, grid=grid, seed=i, **case.params).intensity)
    ys_arr = np.array(ys)

    def scipy_all() -> None:
        for y in ys_arr:
            scipy_find_peaks(y, prominence=0.01 * y.max(), width=1)

    out = {f"xrdfast_{mode}": cpu_rate(lambda: find_peaks_batch(grid, ys_arr, n_threads=1, wavelength=1.5418,
                                                               **MODES[mode]), n)
           for mode in modes}
    out["scipy_find_peaks"] = cpu_rate(scipy_all, n)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer patterns, fewer cells of the table")
    ap.add_argument("--patterns", type=int, default=40, help="patterns per (noise, background) cell")
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated: fast, refined")
    ap.add_argument("--no-speed", action="store_true", help="accuracy only")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    n = 12 if args.quick else args.patterns
    noises = ("0.1%", "1%", "3.2%") if args.quick else tuple(NOISE_COUNTS)
    modes = tuple(m for m in args.modes.split(",") if m)
    unknown = set(modes) - set(MODES)
    if unknown:
        ap.error(f"unknown modes {sorted(unknown)}; known: {', '.join(MODES)}")
    rows = []
    print(f"{'mode':>8} {'noise':>6} {'background':>10} {'patterns':>8} {'recall':>7} {'single':>7} {'false':>6} "
          f"{'med.err(deg)':>12} {'peaks/pat':>9}")
    for noise in noises:
        for background in BACKGROUNDS:
            for r in evaluate(n, noise, background, modes=modes):
                rows.append(r)
                print(f"{r['mode']:>8} {noise:>6} {background:>10} {r['patterns']:>8} {r['recall']:7.3f} "
                      f"{r['recall_single']:7.3f} {r['false_share']:6.3f} "
                      f"{r['median_error_deg']:12.4f} {r['peaks_per_pattern']:9.1f}", flush=True)
    if args.no_speed:
        if args.json:
            with open(args.json, "w") as fh:
                json.dump({"accuracy": rows}, fh, indent=1)
        return 0
    rates = speed(16 if args.quick else 64, modes)
    peer = rates["scipy_find_peaks"]
    print("\npatterns / CPU-second, one core, 8501-point grid:")
    for name, rate in rates.items():
        print(f"  {name:<22} {rate:10.0f}   x{rate / peer:6.2f} of scipy.signal.find_peaks")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"accuracy": rows, "speed": rates}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

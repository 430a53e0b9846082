"""Automatic powder indexing: ranked unit cells from line positions.

``index`` takes a peak list (the structured array of ``xrdfast.find_peaks``), a plain
array of d-spacings or 2theta, or a pattern (file, ``MeasuredPattern``, simulated
``Pattern``, ``(two_theta, intensity)``) whose peaks it extracts first, and returns the
cells the C++ search finds, best first (see ``cpp/include/xrdfast/indexing.hpp`` for the
method and its references). ``index_many`` runs many peak lists in parallel.
"""
from __future__ import annotations

import math
import os
import warnings
from dataclasses import asdict, dataclass
from typing import Any, Literal, Sequence

import numpy as np

from xrdfast import _core
from xrdfast.grid import CU_KA1  # Å, the nominal wavelength when only d-spacings are given
from xrdfast.readers import ANODE_WAVELENGTHS

LINE_DTYPE = np.dtype([("hkl", "i4", (3,)), ("two_theta_obs", "f8"), ("two_theta_calc", "f8"),
                       ("delta", "f8"), ("d_obs", "f8"), ("d_calc", "f8")])


@dataclass(frozen=True)
class IndexingSolution:
    """One indexing solution. ``cell`` is the conventional cell (Å, degrees) of ``lattice``
    (Pearson symbol aP mP mC oP oC oI oF tP tI hP hR cP cI cF; hR on hexagonal axes);
    ``lines`` hold the conventional hkl of the indexed lines with observed (zero-corrected)
    and calculated 2theta and ``delta`` = obs - calc; ``unindexed`` the observed 2theta of
    the lines left over. ``relation`` is "supercell"/"subcell" when this cell is one of the
    better solution ranked ``related_to`` (0-based), else None. ``superstructure`` marks a
    cell that took the place of its subcell because it indexes, beyond chance, the weak
    lines the subcell left over (``superstructure_chance``)."""

    cell: tuple[float, float, float, float, float, float]
    niggli_cell: tuple[float, float, float, float, float, float]
    lattice: str
    crystal_system: str
    volume: float
    m20: float
    m20_n: int
    f_n: float
    f_n_n: int
    f_n_mean_delta: float
    f_n_n_possible: int
    zero_shift: float
    n_indexed: int
    n_lines: int
    score: float
    wavelength: float
    lines: np.ndarray
    unindexed: np.ndarray
    related_to: int | None = None
    relation: str | None = None
    superstructure: bool = False

    @property
    def is_sub_or_supercell(self) -> bool:
        return self.relation is not None

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("lines", "unindexed")}
        out["lines"] = [{"hkl": [int(x) for x in r["hkl"]], "two_theta_obs": float(r["two_theta_obs"]),
                         "two_theta_calc": float(r["two_theta_calc"]), "delta": float(r["delta"])} for r in self.lines]
        out["unindexed"] = [float(x) for x in self.unindexed]
        return out

    def summary(self) -> str:
        a, b, c, al, be, ga = self.cell
        rel = f"  ({self.relation} of #{self.related_to + 1})" if self.relation and self.related_to is not None else ""
        if self.superstructure:
            rel += "  (superstructure: indexes the weak lines of its subcell)"
        return (f"{self.lattice:3s} a={a:.4f} b={b:.4f} c={c:.4f} al={al:.2f} be={be:.2f} ga={ga:.2f} "
                f"V={self.volume:.1f}  M{self.m20_n}={self.m20:.1f} F{self.f_n_n}={self.f_n:.1f}"
                f"({self.f_n_mean_delta:.4f},{self.f_n_n_possible})  zero={self.zero_shift:+.3f}  "
                f"indexed {self.n_indexed}/{self.n_lines}{rel}")

    def table(self) -> str:
        rows = [self.summary(), "    h   k   l   2th_obs   2th_calc    delta"]
        for r in self.lines:
            h, k, l = (int(x) for x in r["hkl"])
            rows.append(f"  {h:3d} {k:3d} {l:3d}  {r['two_theta_obs']:8.4f}  {r['two_theta_calc']:8.4f}  {r['delta']:+7.4f}")
        for t in self.unindexed:
            rows.append(f"    (unindexed)  {t:8.4f}")
        return "\n".join(rows)


def _solution(d: dict[str, Any], wavelength: float) -> IndexingSolution:
    lines = np.zeros(len(d["two_theta_obs"]), dtype=LINE_DTYPE)
    lines["hkl"] = d["hkl"]
    lines["two_theta_obs"] = d["two_theta_obs"]
    lines["two_theta_calc"] = d["two_theta_calc"]
    lines["delta"] = lines["two_theta_obs"] - lines["two_theta_calc"]
    lines["d_obs"] = d["d_obs"]
    lines["d_calc"] = d["d_calc"]
    lines.flags.writeable = False
    unindexed = np.asarray(d["unindexed"], dtype=float)
    unindexed.flags.writeable = False
    return IndexingSolution(
        cell=tuple(float(x) for x in d["cell"]), niggli_cell=tuple(float(x) for x in d["niggli_cell"]),  # type: ignore[arg-type]
        lattice=d["lattice"], crystal_system=d["crystal_system"], volume=float(d["volume"]),
        m20=float(d["m20"]), m20_n=int(d["m20_n"]), f_n=float(d["f_n"]), f_n_n=int(d["f_n_n"]),
        f_n_mean_delta=float(d["f_n_mean_delta"]), f_n_n_possible=int(d["f_n_n_possible"]),
        zero_shift=float(d["zero_shift"]), n_indexed=int(d["n_indexed"]), n_lines=int(d["n_lines"]),
        score=float(d["score"]), wavelength=wavelength, lines=lines, unindexed=unindexed,
        related_to=None if d["related_to"] < 0 else int(d["related_to"]), relation=d["relation"] or None,
        superstructure=bool(d["superstructure"]))


@dataclass(frozen=True)
class _Lines:
    two_theta: np.ndarray
    height: np.ndarray
    wavelength: float
    refine_zero: bool
    sigma: float | None  # median position uncertainty, deg 2theta


# K-alpha1 -> K-alpha2 wavelengths (Å) of the common anodes (the readers' table, Hoelzer et
# al. 1997): a peak list that kept K-alpha2 shoulders as lines would index as nonsense.
_KALPHA2 = dict(ANODE_WAVELENGTHS.values())


def _drop_kalpha2(tt: np.ndarray, height: np.ndarray, wavelength: float) -> tuple[np.ndarray, np.ndarray]:
    """Remove lines at the K-alpha2 position (within 0.015 deg) of a line at least 1.4 times
    as high (the doublet's ratio is 2)."""
    lam2 = next((v for k, v in _KALPHA2.items() if abs(k - wavelength) < 2e-4), None)
    if lam2 is None or tt.size < 2:
        return tt, height
    s = np.clip(lam2 / wavelength * np.sin(np.radians(tt) / 2), -1, 1)
    tt2 = 2 * np.degrees(np.arcsin(s))  # where each line's K-alpha2 falls
    drop = np.zeros(tt.size, dtype=bool)
    for i in range(tt.size):
        near = np.abs(tt - tt2[i]) < 0.015
        near[i] = False
        drop |= near & (height * 1.4 <= height[i])
    return tt[~drop], height[~drop]


# Two fitted peaks closer than this fraction of their mean FWHM are one line that the profile
# fit split (an asymmetric or broadened line): two lines that close are not resolved (the
# Rayleigh-like criterion for profiles is about one FWHM), and a split line leaves two
# positions that no cell indexes, which stops indexing's early exit.
UNRESOLVED_FRACTION = 0.7


def _merge_unresolved(tt: np.ndarray, height: np.ndarray, fwhm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Peaks closer than UNRESOLVED_FRACTION of their mean FWHM merged into one line at their
    height-weighted mean position, with the summed height; in 2theta order."""
    order = np.argsort(tt, kind="stable")
    tt, height, fwhm = tt[order], height[order], np.where(np.isfinite(fwhm) & (fwhm > 0), fwhm[order], 0.0)
    out_tt, out_h, out_w = [], [], []
    for t, h, w in zip(tt, height, fwhm):
        if out_tt and t - out_tt[-1] < UNRESOLVED_FRACTION * 0.5 * (w + out_w[-1]):
            total = out_h[-1] + h
            out_tt[-1] = (out_tt[-1] * out_h[-1] + t * h) / total if total > 0 else 0.5 * (out_tt[-1] + t)
            out_h[-1], out_w[-1] = total, max(w, out_w[-1])
            continue
        out_tt.append(float(t))
        out_h.append(float(h))
        out_w.append(float(w))
    return np.array(out_tt), np.array(out_h)


def _from_d(d: np.ndarray, wavelength: float | None) -> tuple[np.ndarray, float]:
    d = np.asarray(d, dtype=float)
    if wavelength is None:
        # any wavelength serves d-spacings; Cu K-alpha1 unless the smallest d needs shorter
        wavelength = CU_KA1 if d.size == 0 or np.nanmin(d) > 0.55 * CU_KA1 else 1.8 * float(np.nanmin(d))
    s = wavelength / (2 * d)
    if np.any(~(s < 1)):
        raise ValueError(f"d-spacings below lambda/2 = {wavelength / 2:.4f} Å cannot be observed at {wavelength} Å")
    return 2 * np.degrees(np.arcsin(s)), wavelength


def _check(values: np.ndarray, what: str) -> np.ndarray:
    v = np.asarray(values, dtype=float).ravel()
    if not np.all(np.isfinite(v)):
        raise ValueError(f"index: {what} contain NaN or infinite values; drop them first")
    return v


def _lines_of(peaks: Any, wavelength: float | None, positions: str) -> _Lines:
    if isinstance(peaks, np.ndarray) and peaks.dtype.names:
        names = peaks.dtype.names
        height = np.asarray(peaks["height"], dtype=float) if "height" in names else np.ones(len(peaks))
        sigma = None
        if "sigma_two_theta" in names and len(peaks):
            s = np.asarray(peaks["sigma_two_theta"], dtype=float)
            s = s[np.isfinite(s) & (s > 0)]
            sigma = float(np.median(s)) if s.size else None
        if "d" in names:
            d = _check(peaks["d"], "d-spacings")
            if wavelength is None and "two_theta" in names and len(peaks):
                tt = np.asarray(peaks["two_theta"], dtype=float)
                lam = 2 * d * np.sin(np.radians(tt) / 2)
                lam = lam[np.isfinite(lam)]
                wavelength = float(np.median(lam)) if lam.size else None
            refine = wavelength is not None
            tt, wavelength = _from_d(d, wavelength)
            if "fwhm" in names:
                tt, height = _merge_unresolved(tt, height, np.asarray(peaks["fwhm"], dtype=float))
            if refine:
                tt, height = _drop_kalpha2(tt, height, wavelength)
            return _Lines(tt, height, wavelength, refine, sigma)
        if "two_theta" in names:
            if wavelength is None:
                raise ValueError("index: a peak list in 2theta needs the wavelength (wavelength=..., Å)")
            tt = _check(peaks["two_theta"], "2theta positions")
            if "fwhm" in names:
                tt, height = _merge_unresolved(tt, height, np.asarray(peaks["fwhm"], dtype=float))
            tt, height = _drop_kalpha2(tt, height, float(wavelength))
            return _Lines(tt, height, float(wavelength), True, sigma)
        raise ValueError(f"index: a peak table needs a 'd' or 'two_theta' field, got fields {names}")
    arr = np.asarray(peaks)
    if arr.dtype == object or arr.ndim != 1 or arr.dtype.kind not in "iuf":
        raise ValueError("index: expected a peak list (find_peaks' table or a 1-D array of d-spacings/2theta) "
                         f"or a pattern, got {type(peaks).__name__} of shape {getattr(arr, 'shape', None)}")
    v = _check(arr, "line positions")
    if positions == "auto":
        positions = "two_theta" if wavelength is not None else "d"
    if positions == "two_theta":
        if wavelength is None:
            raise ValueError("index: 2theta positions need the wavelength (wavelength=..., Å)")
        return _Lines(v, np.ones(v.size), float(wavelength), True, None)
    if positions != "d":
        raise ValueError(f"positions must be 'auto', 'd' or 'two_theta', got {positions!r}")
    if np.any(v <= 0):
        raise ValueError("index: d-spacings must be positive (Å)")
    tt, lam = _from_d(v, wavelength)
    return _Lines(tt, np.ones(v.size), lam, wavelength is not None, None)


def _is_pattern(x: Any) -> bool:
    if isinstance(x, (str, os.PathLike)):
        return True
    if hasattr(x, "two_theta") and hasattr(x, "intensity"):
        return True
    return isinstance(x, tuple) and len(x) == 2 and all(np.ndim(v) == 1 for v in x)


def _peaks_of_pattern(x: Any, wavelength: float | None) -> tuple[np.ndarray, float | None]:
    import xrdfast

    find_peaks = getattr(xrdfast, "find_peaks", None)
    if find_peaks is None:
        raise ValueError("index: this xrdfast has no peak extraction (xrdfast.find_peaks); pass a peak list "
                         "(d-spacings, or 2theta with wavelength=) instead of a pattern")
    if isinstance(x, (str, os.PathLike)):
        from xrdfast.readers import read_pattern

        x = read_pattern(x, wavelength=wavelength)
    if wavelength is None:
        wavelength = getattr(x, "wavelength", None)
    if wavelength is None and not isinstance(x, tuple) and hasattr(x, "lines"):
        wavelength = CU_KA1  # a simulated Pattern: the simulator's default
    if wavelength is None:
        raise ValueError("index: the pattern does not state its wavelength; give wavelength=... (Å)")
    if isinstance(x, tuple):
        return find_peaks(x, wavelength=wavelength, refine=True), wavelength
    return find_peaks((np.asarray(x.two_theta), np.asarray(x.intensity)), wavelength=wavelength, refine=True), wavelength


class IndexingTimeLimitWarning(RuntimeWarning):
    """The wall-clock safety net (``time_limit``) cut a search short: its solutions are
    those found by then, so they depend on the machine's speed and load. Normal input never
    reaches it (the search's extent is a budget of work, ``effort``)."""


def _warn_timed_out(n: int) -> None:
    what = "a pattern" if n == 1 else f"{n} patterns"
    warnings.warn(f"index: the time_limit safety net cut the search of {what} short; its solutions depend on the "
                  "machine's load (raise time_limit, or lower effort)", IndexingTimeLimitWarning, stacklevel=3)


# The profile fit's standard uncertainty of a line position counts the counting noise alone,
# not the overlaps, the K-alpha2 shoulder or the profile's misfit: on 144 AMCSD minerals
# simulated with stage-2 nuisances (seed 777), whose lines sit where their cells put them, the
# rms residual of the lines the best cell indexes is 1.33 times the median sigma_two_theta of
# the peak table (median over patterns; 1.34 on the measured RRUFF development patterns, no
# labels used). A tolerance of three fit sigmas thus turns away one true line in ~40
# (Gaussian errors; a measured garnet, Ia-3d, came out tetragonal with its cubic cell never
# scored): the tolerance is three times the actual scatter. Indexed crystal family right
# (M20 >= 20) on simulated sets of seed 779, three fit sigmas against this: 93.2 / 92.7 % of
# 384 stage-2 minerals, 88.0 / 88.7 % of 300 triclinic to orthorhombic ones, 94.4 / 94.4 %
# of 288 "po" ones: neutral.
SCATTER_PER_SIGMA = 1.33

_OPTIONS = ("max_lines", "top", "effort", "time_limit", "tolerance", "search_tolerance", "max_impurities", "max_volume",
            "refine_zero", "min_m20", "lowest_system", "superstructure_chance", "metric_tolerance")
_SYSTEMS = {"cubic": 0, "tetragonal": 1, "hexagonal": 1, "trigonal": 1, "orthorhombic": 2, "monoclinic": 3, "triclinic": 4}


def _tolerance(lines: _Lines, tolerance: float | None) -> float:
    """The tolerance given, else three times the lines' actual scatter when the peak list
    gives their uncertainties (0.03 deg without)."""
    if tolerance is not None:
        return float(tolerance)
    return 0.03 if lines.sigma is None else float(np.clip(3 * SCATTER_PER_SIGMA * lines.sigma, 0.01, 0.06))


def _options(lines: _Lines, top: int, max_lines: int, time_limit: float, effort: float, tolerance: float | None,
             lowest_system: str, extra: dict[str, Any]) -> dict[str, Any]:
    for k in extra:
        if k not in _OPTIONS:
            raise TypeError(f"index: unknown option {k!r}; known: {', '.join(_OPTIONS)}")
    if lowest_system not in _SYSTEMS:
        raise ValueError(f"lowest_system must be one of {sorted(_SYSTEMS)}, got {lowest_system!r}")
    opts: dict[str, Any] = dict(wavelength=lines.wavelength, top=int(top), max_lines=int(max_lines),
                                time_limit=float(time_limit), effort=float(effort),
                                tolerance=_tolerance(lines, tolerance),
                                refine_zero=lines.refine_zero, lowest_system=_SYSTEMS[lowest_system])
    opts.update(extra)
    return opts


def index(peaks_or_pattern: Any, *, wavelength: float | None = None, top: int = 5, max_lines: int = 25,
          effort: float = 1.0, time_limit: float = 30.0, tolerance: float | None = None, lowest_system: str = "triclinic",
          positions: Literal["auto", "d", "two_theta"] = "auto", **options: Any) -> list[IndexingSolution]:
    """Index a powder pattern: a list of unit cells, best first (empty when nothing fits).

    ``peaks_or_pattern``: the structured array of ``xrdfast.find_peaks`` (its ``d``,
    ``height`` and ``sigma_two_theta`` are used); a 1-D array of line positions — d-spacings
    (Å) unless ``wavelength`` is given, then 2theta (deg; ``positions`` overrides); or a
    pattern (file path, ``MeasuredPattern``, simulated ``Pattern``, ``(two_theta,
    intensity)``), whose peaks ``find_peaks`` extracts. A zero shift is refined whenever the
    positions are 2theta at a known wavelength. The search's extent is a fixed budget of work
    per stage scaled by ``effort`` (not a time), so the same input gives the same solutions
    on any machine; ``time_limit`` (s) is a safety net for pathological input, and hitting it
    issues an ``IndexingTimeLimitWarning`` (the solutions found by then are returned).
    Other options (``max_impurities`` 6, ``max_volume`` 4000 Å^3, ``min_m20`` 4,
    ``search_tolerance`` 0.06 deg, ``refine_zero``, ``superstructure_chance`` 0.05: a
    superstructure of index 2-4 that indexes the lines the best cells leave over replaces
    them when chance would explain those lines less often than this; 0 never;
    ``metric_tolerance`` 0.04: how far, relatively, a refined cell's metric may stray from a
    lattice's symmetry for that lattice to be refined with its constraints and scored beside
    the strict (0.004) one; 0.004 tests that alone) pass to the C++ search. ``tolerance``
    (deg 2theta), how far an indexed line may sit from its calculated position: by default
    three times the lines' scatter, ``SCATTER_PER_SIGMA`` times the peak table's median
    ``sigma_two_theta`` (kept within 0.01-0.06), or 0.03 without uncertainties.
    Raises ValueError for NaN positions, unknown inputs or a missing wavelength.
    """
    if _is_pattern(peaks_or_pattern):
        peaks, wavelength = _peaks_of_pattern(peaks_or_pattern, wavelength)
    else:
        peaks = peaks_or_pattern
    lines = _lines_of(peaks, wavelength, positions)
    opts = _options(lines, top, max_lines, time_limit, effort, tolerance, lowest_system, options)
    try:
        raw, timed_out = _core.index_lines(lines.two_theta.tolist(), lines.height.tolist(), **opts)
    except (RuntimeError, TypeError) as error:  # the core's invalid_argument arrives as ValueError already
        raise ValueError(str(error)) from None
    if timed_out:
        _warn_timed_out(1)
    return [_solution(d, lines.wavelength) for d in raw]


def index_many(items: Sequence[Any], *, wavelength: float | None = None, n_threads: int = 0, top: int = 5,
               max_lines: int = 25, effort: float = 1.0, time_limit: float = 30.0, tolerance: float | None = None,
               lowest_system: str = "triclinic", positions: Literal["auto", "d", "two_theta"] = "auto",
               **options: Any) -> list[list[IndexingSolution] | ValueError]:
    """``index`` over many peak lists in parallel (OpenMP over patterns, GIL released): one
    entry per item, a list of solutions or the ValueError that item raised: what ``index``
    gives that item with these options (without ``tolerance``, each item's own, from its
    ``sigma_two_theta``). The results do not depend on ``n_threads``."""
    prepared: list[_Lines | ValueError] = []
    for item in items:
        try:
            if _is_pattern(item):
                peaks, lam = _peaks_of_pattern(item, wavelength)
            else:
                peaks, lam = item, wavelength
            prepared.append(_lines_of(peaks, lam, positions))
        except (ValueError, OSError) as error:
            prepared.append(ValueError(str(error)))
    out: list[list[IndexingSolution] | ValueError] = [e if isinstance(e, ValueError) else [] for e in prepared]
    good = [i for i, p in enumerate(prepared) if isinstance(p, _Lines)]
    groups: dict[tuple[float, bool], list[int]] = {}
    for i in good:
        p = prepared[i]
        assert isinstance(p, _Lines)
        groups.setdefault((p.wavelength, p.refine_zero), []).append(i)
    n_timed_out = 0
    for idx in groups.values():
        first = prepared[idx[0]]
        assert isinstance(first, _Lines)
        opts = _options(first, top, max_lines, time_limit, effort, tolerance, lowest_system, options)
        tolerances = [_tolerance(prepared[i], tolerance) for i in idx]  # type: ignore[arg-type]
        tts = [prepared[i].two_theta.tolist() for i in idx]  # type: ignore[union-attr]
        hs = [prepared[i].height.tolist() for i in idx]  # type: ignore[union-attr]
        results, errors, timed = _core.index_lines_batch(tts, hs, n_threads, tolerances, **opts)
        n_timed_out += sum(timed)
        for i, res, err in zip(idx, results, errors):
            out[i] = ValueError(err) if err else [_solution(d, first.wavelength) for d in res]
    if n_timed_out:
        _warn_timed_out(n_timed_out)
    return out


def niggli_cell(cell: Sequence[float]) -> tuple[float, ...]:
    """The Niggli-reduced cell of (a, b, c, alpha, beta, gamma) (Krivy & Gruber 1976)."""
    return tuple(_core.niggli_cell(list(map(float, cell))))


def bravais_lattice(cell: Sequence[float], tolerance: float = 0.004) -> tuple[str, tuple[float, ...]]:
    """(Pearson symbol, conventional cell) of the lattice of a cell, from the reduced cell's
    metric symmetry within ``tolerance`` (relative deviation of the metric)."""
    symbol, conv = _core.bravais_lattice(list(map(float, cell)), tolerance)
    return symbol, tuple(conv)


def same_lattice(cell1: Sequence[float], cell2: Sequence[float], length_tol: float = 0.003,
                 angle_tol: float = 0.3) -> bool:
    """Whether two cells have the same Niggli cell within ``length_tol`` (relative) and
    ``angle_tol`` (deg): the acceptance test of the benchmark."""
    a, b = niggli_cell(cell1), niggli_cell(cell2)
    return (all(abs(x - y) <= length_tol * x for x, y in zip(a[:3], b[:3]))
            and all(abs(x - y) <= angle_tol for x, y in zip(a[3:], b[3:])))


def _volume(cell: Sequence[float]) -> float:
    a, b, c, al, be, ga = cell
    ca, cb, cg = (math.cos(math.radians(x)) for x in (al, be, ga))
    return a * b * c * math.sqrt(max(0.0, 1 - ca * ca - cb * cb - cg * cg + 2 * ca * cb * cg))

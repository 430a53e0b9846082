"""Search-match: which known structures of a reference library are in a measured pattern.

The method is the profile search-match of the commercial programs (Match!, HighScore),
made fast by one change of variable. Every pattern is put on a uniform grid of u = ln d:
there a lattice strain or a solid solution (all d times s) is a shift by ln s, the same
for every line, and K-alpha2 is a shift by ln(λ2/λ1), so a whole per-entry d-scale search
is one matrix product of the library with a few shifted copies of the pattern (BLAS).

1. The measured pattern is read onto xrdfast's Cu K-alpha1 2θ grid (``classify.prepare``:
   any wavelength, through d), its background removed (``xrdfast.peaks``), counting noise floored, and its
   intensities square-rooted (texture and intensity errors weigh less; the figure of merit
   of Hanawalt-style searches is positions first).
2. Coarse pass: every library entry, rendered once per process as a profile on a coarse u
   grid (lines broadened by a width that is constant in 2θ, so that a zero shift of about
   that width costs little at every angle), is compared by cosine similarity with the
   pattern shifted over d-scales of ±5 % (solid solutions). The best ``COARSE_KEEP`` entries go on.
3. Fine pass: those entries, rendered on a fine u grid with narrow lines and K-alpha2, are
   compared with the pattern corrected for trial zero shifts and shifted over d-scales (one
   matrix product over all zero shifts and scales); the best (scale, shift) of each gives
   its features: the fine cosine, a tolerant cosine (the pattern dilated by ±0.4 % in d, so
   that the lines of an anisotropically changed cell still count), the fraction of the
   measured signal its lines explain, the fraction of its own signal the pattern holds, how
   far the scale and shift went, and how much better it is than the best entry of another
   species (measured from at least an AMCSD-typical runner-up, so that in a small user
   library "better than the few others" does not pass for "recognised").
4. Two logistic models of those features (fitted on held-out simulated patterns by
   ``scripts/calibrate_match.py``: AMCSD structures with stage-2 nuisances, solid-solution
   strain and impurities, once with their entry in the library and once with their whole
   mineral species removed; weights constrained to act in their physical direction) give
   ``probability``, that the phase is present, and ``eg_probability``, that the pattern's
   extinction group is the entry's (isostructural entries get that right when the species
   is not certain); ``fuse`` weighs the network with the latter.
5. Impurities and mixtures: the best phase, when probable, is scaled to the pattern and
   subtracted, and the residue searched again (up to ``max_phases``); weight fractions
   follow from the scales (Hill & Howard, J. Appl. Cryst. 20 (1987) 467).

Matching measures *recognition of a known structure*, not the reading of absences:
``classify`` keeps the two apart (``Prediction.method``).
"""
from __future__ import annotations

import functools
import json
import logging
import math
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any, Sequence

import numpy as np

from xrdfast.library import Library, load_library
from xrdfast.readers import ANODE_WAVELENGTHS

log = logging.getLogger(__name__)

CU_KA1, CU_KA2 = ANODE_WAVELENGTHS["Cu"]   # Å: the grid of classify.prepare is Cu K-alpha1
KA2_RATIO = 0.5
SCALE_RANGE = 0.05                     # ± ln s searched: lattice strain, solid solution, thermal expansion
COARSE_STEP, FINE_STEP = 2.5e-3, 1.0e-3   # u = ln d grid steps
COARSE_WIDTH_2THETA = 0.12             # degrees: Gaussian sigma of coarse lines (tolerates zero shifts ~0.1°)
FINE_WIDTH_2THETA = 0.04               # degrees: sigma of fine lines when a pattern's own cannot be measured
COARSE_MIN_WIDTH, FINE_MIN_WIDTH = 2.5e-3, 1.0e-3  # u: at least one scale step
ZERO_SHIFTS = (-0.15, -0.10, -0.05, 0.0, 0.05, 0.10, 0.15)  # degrees 2θ tried in the fine pass
COARSE_STRIDE = 2                      # coarse d-scales every 2 steps (5e-3): coarse lines are at least that wide
COARSE_KEEP = 32                       # entries that go on to the fine pass
TEMPLATE_FLOOR = 0.005                 # of a template's maximum: its weakest lines are not expected to show
NOISE_FLOOR = 3.0                      # sigmas of counting noise taken off before the square root
PRESENT = 0.05                         # fraction of maximum (square-root scale) that counts as signal
ACCEPT = 0.5                           # probability from which a phase is subtracted and the residue searched
MIN_RESIDUE = 0.08                     # stop when the residue holds less than this of the signal

FEATURES = ("fine_cosine", "coarse_cosine", "explained", "present", "abs_log_scale", "abs_shift", "linear_cosine",
            "gap", "tolerant_cosine", "tolerant_gap")
TOLERANCE = 4                          # fine steps (±0.4 % in d): how far a line may sit from its place for
#                                        tolerant_cosine (anisotropic cells of solid solutions move lines apart)
GAP_FLOOR = (0.5, 0.55)   # gaps are measured from at least these (fine, tolerant cosine): about what the best
#                           entry of another species reaches in AMCSD (5th percentile), so that in a small user
#                           library "better than the few others" does not pass for "recognised"
SIGNS = (1, 1, 1, 1, -1, -1, 1, 1, 1, 1)   # how each feature may act on the probability (fit_logistic)
EG_FEATURES = (*FEATURES, "eg_share")   # eg_share: of the search's 5 best species, the fraction with this group
EG_SHARE_OF = 5


@dataclass(frozen=True)
class PhaseMatch:
    """One library entry proposed for a pattern."""

    entry_id: str
    name: str
    formula: str
    space_group: int
    extinction_group: int
    score: float              # fine cosine similarity (square-root intensities), 0..1
    probability: float        # calibrated probability that this phase is present
    d_scale: float            # fitted d(measured) / d(library)
    shift: float              # fitted zero shift, degrees 2θ (measured minus true)
    fraction: float | None    # weight fraction among the identified phases (when several)
    identified: bool          # one of the phases found by match-subtract-match
    index: int                # row in the library
    eg_probability: float | None = None  # calibrated probability that the pattern's (main phase's) extinction
    #                                      group is this entry's: isostructural entries share it, so it can be
    #                                      high when no single entry is certain (None: use ``probability``)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- geometry on the u = ln d grid -------------------------------------------------------------
@dataclass(frozen=True)
class _Grid:
    u0: float
    step: float
    n: int

    @property
    def u(self) -> np.ndarray:
        return self.u0 + self.step * np.arange(self.n)


def _d_of_two_theta(two_theta: np.ndarray, wavelength: float = CU_KA1) -> np.ndarray:
    return wavelength / (2 * np.sin(np.radians(two_theta) / 2))


@functools.lru_cache(maxsize=4)
def _grid(step: float) -> _Grid:
    from xrdfast.grid import DEFAULT_GRID

    u_lo = math.log(_d_of_two_theta(np.array(DEFAULT_GRID.two_theta_max))) - SCALE_RANGE - 0.01
    u_hi = math.log(_d_of_two_theta(np.array(DEFAULT_GRID.two_theta_min))) + SCALE_RANGE + 0.01
    return _Grid(u_lo, step, int(math.ceil((u_hi - u_lo) / step)) + 1)


def _line_width(d: np.ndarray, sigma_2theta: float, minimum: float) -> np.ndarray:
    """Gaussian sigma in u of lines at d when their width in 2θ is sigma_2theta: du = cot θ dθ."""
    sin_t = np.clip(CU_KA1 / (2 * d), 1e-6, 1 - 1e-9)
    cot_t = np.sqrt(1 - sin_t**2) / sin_t
    return np.hypot(cot_t * np.radians(sigma_2theta) / 2, minimum)


def _lp(d: np.ndarray, wavelength: float) -> np.ndarray:
    """Bragg-Brentano Lorentz-polarisation factor (1 + cos² 2θ) / (sin² θ cos θ); 0 beyond 2θ = 180°."""
    s = wavelength / (2 * d)
    ok = s < 1
    s = np.where(ok, s, 0.5)
    c2 = 1 - 2 * s**2
    return np.where(ok, (1 + c2**2) / (s**2 * np.sqrt(1 - s**2)), 0.0)


def _render(rows: np.ndarray, d: np.ndarray, mf2: np.ndarray, n_rows: int, grid: _Grid, sigma_2theta: float,
            minimum: float, kalpha2: bool) -> np.ndarray:
    """Profiles (n_rows, grid.n) float64 of lines (row index, d, m|F|²) as Cu K-alpha patterns
    on a u grid: Gaussians of unit area times LP intensity, K-alpha2 at u + ln(λ1/λ2)."""
    d = d.astype(np.float64)
    intensity = mf2.astype(np.float64) * _lp(d, CU_KA1)
    u = np.log(d)
    sigma = _line_width(d, sigma_2theta, minimum)
    if kalpha2:
        rows = np.concatenate([rows, rows])
        u = np.concatenate([u, u + math.log(CU_KA1 / CU_KA2)])
        intensity = np.concatenate([intensity, KA2_RATIO * mf2 * _lp(d, CU_KA2)])
        sigma = np.concatenate([sigma, sigma])
    return _splat(rows, u, intensity, sigma, n_rows, grid)


def _splat(rows: np.ndarray, u: np.ndarray, intensity: np.ndarray, sigma: np.ndarray, n_rows: int,
           grid: _Grid) -> np.ndarray:
    """(n_rows, grid.n): Gaussians of area ``intensity`` at ``u`` (sigma in u) added into their rows,
    each over ±3 sigma (lines of one window size together: narrow lines cost narrow windows)."""
    x = (u - grid.u0) / grid.step
    keep = (x > -10) & (x < grid.n + 10) & (intensity > 0)
    rows, x, intensity, sigma = rows[keep], x[keep], intensity[keep], sigma[keep] / grid.step
    if len(x) == 0:
        return np.zeros((n_rows, grid.n))
    half = np.ceil(3 * sigma).astype(np.int64)
    order = np.argsort(half, kind="stable")
    rows, x, intensity, sigma, half = rows[order], x[order], intensity[order], sigma[order], half[order]
    centre = np.rint(x).astype(np.int64)
    pad = int(half[-1]) + 11                     # windows reach at most this far outside the grid
    width = grid.n + 2 * pad
    base = rows * width + centre + pad           # flat index of each window's centre, padded rows
    offset = centre - x
    amplitude = intensity / (sigma * math.sqrt(2 * math.pi))
    inverse = 1 / sigma
    bounds = np.flatnonzero(np.diff(half)) + 1
    where, what = [], []
    for a, b in zip(np.concatenate([[0], bounds]), np.concatenate([bounds, [len(half)]])):
        w = int(half[a])
        k = np.arange(-w, w + 1)
        e = (offset[a:b, None] + k[None, :]) * inverse[a:b, None]
        what.append((amplitude[a:b, None] * np.exp(-0.5 * e * e)).ravel())
        where.append((base[a:b, None] + k[None, :]).ravel())
    out = np.bincount(np.concatenate(where), weights=np.concatenate(what), minlength=n_rows * width)
    return out.reshape(n_rows, width)[:, pad:pad + grid.n]


def _to_sqrt(profiles: np.ndarray, floor: float) -> np.ndarray:
    """Square-root intensities with a floor (fraction of each row's maximum), unit norm rows."""
    top = profiles.max(axis=1, keepdims=True)
    out = np.sqrt(np.clip(profiles / np.where(top > 0, top, 1) - floor, 0, None))
    norm = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norm > 0, norm, 1)


@dataclass
class _Prepared:
    """A library ready for matching: coarse templates of every entry (float32, unit rows)."""

    library: Library
    coarse: np.ndarray       # (N, n_coarse) float32
    entry_of_line: np.ndarray


_PREPARED: dict[int, _Prepared] = {}


def prepare_library(library: Library) -> _Prepared:
    """Coarse templates of a library, computed once per library object and process."""
    key = id(library)
    if key in _PREPARED and _PREPARED[key].library is library:
        return _PREPARED[key]
    grid = _grid(COARSE_STEP)
    entry_of_line = np.repeat(np.arange(len(library)), np.diff(library.offsets))
    coarse = np.empty((len(library), grid.n), dtype=np.float32)
    for start in range(0, len(library), 1024):  # in blocks: the float64 scratch stays small
        stop = min(start + 1024, len(library))
        a, b = library.offsets[start], library.offsets[stop]
        profiles = _render(entry_of_line[a:b] - start, library.d[a:b], library.mf2[a:b], stop - start, grid,
                           COARSE_WIDTH_2THETA, COARSE_MIN_WIDTH, kalpha2=False)
        coarse[start:stop] = _to_sqrt(profiles, TEMPLATE_FLOOR)
    if len(_PREPARED) > 2:
        _PREPARED.clear()
    _PREPARED[key] = _Prepared(library, coarse, entry_of_line)
    return _PREPARED[key]


# -- the measured pattern ------------------------------------------------------------------------
def _background(two_theta: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The background under a pattern (``xrdfast.peaks.estimate_background``: SNIP with windows
    of a few peak widths, so that amorphous humps stay in the background)."""
    from xrdfast.peaks import estimate_background

    return np.asarray(estimate_background(two_theta, y), dtype=np.float64)


@dataclass
class _Measured:
    two_theta: np.ndarray   # (n,) Cu K-alpha1 grid
    y: np.ndarray           # background-subtracted, noise-floored, linear, max 1
    covered: tuple[float, float]  # u range the data cover
    width: float            # Gaussian sigma of its peaks, degrees 2θ (``peak_width``)


def peak_width(two_theta: np.ndarray, y: np.ndarray) -> float:
    """Typical Gaussian sigma (degrees 2θ) of a pattern's peaks, from the half-maximum lag of
    its autocorrelation (a Gaussian of sigma s correlates to one of s·√2). Templates are
    rendered with it: the cosine of two peaks of widths in ratio 3 is only 0.77."""
    step = float(two_theta[1] - two_theta[0])
    n = len(y)
    lags = min(n, int(1.0 / step) + 2)
    size = 1 << int(math.ceil(math.log2(n + lags)))  # a power of two: the FFT of 2 * 8501 points is slow
    f = np.fft.rfft(y - y.mean(), size)
    ac = np.fft.irfft(f * np.conj(f), size)[:lags]
    if ac[0] <= 0:
        return FINE_WIDTH_2THETA
    below = np.flatnonzero(ac < 0.5 * ac[0])
    if len(below) == 0:
        return 0.15
    k = int(below[0])
    lag = (k - 1) + (ac[k - 1] - 0.5 * ac[0]) / max(ac[k - 1] - ac[k], 1e-300)  # linear interpolation
    return float(np.clip(lag * step / (1.1774 * math.sqrt(2)), 0.015, 0.15))


def _measured(two_theta: np.ndarray, raw: np.ndarray) -> _Measured:
    """Background-free, noise-floored linear intensities (max 1) on the Cu K-alpha1 grid."""
    raw = np.asarray(raw, dtype=np.float64)
    nonzero = np.flatnonzero(raw != 0)
    if len(nonzero) < 10:
        raise ValueError("the pattern has no signal on the 5-90° (Cu K-alpha) range")
    lo, hi = nonzero[0], nonzero[-1] + 1
    y = np.zeros_like(raw)
    segment = raw[lo:hi]
    y[lo:hi] = segment - _background(two_theta[lo:hi], segment)
    # counting noise: the spread of first differences, robustly (MAD), floored at NOISE_FLOOR sigma
    sigma = 1.4826 * np.median(np.abs(np.diff(y[lo:hi]))) / math.sqrt(2)
    y = np.clip(y - NOISE_FLOOR * sigma, 0, None)
    top = y.max()
    if top <= 0:
        raise ValueError("the pattern has no peaks above its background and noise")
    u = np.log(_d_of_two_theta(two_theta[[lo, hi - 1]]))
    return _Measured(two_theta, y / top, (float(u.min()), float(u.max())), peak_width(two_theta, y))


@functools.lru_cache(maxsize=32)
def _bins(two_theta: tuple[float, float, int], grid: _Grid, zero_shift: float) -> tuple[np.ndarray, ...]:
    """How the points of a uniform 2θ grid (first, last, count) fall into the bins of a u grid,
    the zero shift removed: (point index, its bin, points per bin, empty bins, u of the points)."""
    points = np.linspace(*two_theta)
    u_points = np.log(_d_of_two_theta(points - zero_shift))
    index = np.rint((u_points - grid.u0) / grid.step).astype(np.int64)
    ok = np.flatnonzero((index >= 0) & (index < grid.n))
    count = np.bincount(index[ok], minlength=grid.n)
    return ok, index[ok], count, np.flatnonzero(count == 0), u_points


def _on_grid(m: _Measured, grid: _Grid, zero_shift: float = 0.0, average: bool = True) -> np.ndarray:
    """The measured intensities on a u grid, the zero shift ``zero_shift`` removed."""
    tt = m.two_theta
    uniform = len(tt) > 2 and abs((tt[-1] - tt[0]) / (len(tt) - 1) - (tt[1] - tt[0])) < 1e-9 * max(abs(tt[-1]), 1)
    if uniform:
        ok, index, count, empty, u_points = _bins((float(tt[0]), float(tt[-1]), len(tt)), grid, float(zero_shift))
    else:
        u_points = np.log(_d_of_two_theta(tt - zero_shift))
        index = np.rint((u_points - grid.u0) / grid.step).astype(np.int64)
        ok = np.flatnonzero((index >= 0) & (index < grid.n))
        index = index[ok]
        count = np.bincount(index, minlength=grid.n)
        empty = np.flatnonzero(count == 0)
    if average:  # bin means (area-preserving: a narrow peak between two grid nodes is not lost)
        total = np.bincount(index, weights=m.y[ok], minlength=grid.n)
        out = np.where(count > 0, total / np.maximum(count, 1), 0.0)
        if len(empty):  # low angle: fewer points than bins; fill from the neighbours
            out[empty] = np.interp(grid.u[empty], u_points[::-1], m.y[::-1], left=0, right=0)
        return out
    return np.interp(grid.u, u_points[::-1], m.y[::-1], left=0, right=0)


# -- calibration -------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def calibration() -> dict[str, Any]:
    """The logistic models of the features (``xrdfast/data/match_calibration.json``): "present"
    (this phase is in the sample) and "eg" (the main phase's extinction group is this entry's)."""
    path = resources.files("xrdfast") / "data" / "match_calibration.json"
    try:
        model = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:  # before the first calibration: a hand-set stand-in, marked as such
        model = {"features": list(FEATURES), "mean": [0.0] * len(FEATURES), "scale": [1.0] * len(FEATURES),
                 "coef": [12.0, 0, 0, 0, 0, 0, 0, 4.0, 0, 0], "intercept": -9.0, "provenance": "uncalibrated default"}
    if list(model["features"]) != list(FEATURES):
        raise RuntimeError(f"{path}: calibrated on features {model['features']}, this code computes {FEATURES}; "
                           "rerun scripts/calibrate_match.py")
    if "eg" in model and list(model["eg"]["features"]) != list(EG_FEATURES):
        raise RuntimeError(f"{path}: extinction-group model calibrated on {model['eg']['features']}, this code "
                           f"computes {EG_FEATURES}; rerun scripts/calibrate_match.py")
    return model


def _logistic(model: dict[str, Any], features: np.ndarray) -> np.ndarray:
    z = (features - np.asarray(model["mean"])) / np.asarray(model["scale"])
    logit = z @ np.asarray(model["coef"]) + float(model["intercept"])
    return 1 / (1 + np.exp(-np.clip(logit, -40, 40)))


def probability_of(features: np.ndarray) -> np.ndarray:
    """Calibrated probability that a phase is present, from its (…, n_features) features."""
    return _logistic(calibration(), features)


def eg_features(library: Library, index: np.ndarray, features: np.ndarray) -> np.ndarray:
    """``features`` of one search's candidates (rows of ``index``) with ``eg_share`` appended: of
    the search's EG_SHARE_OF best species by fine cosine, the fraction whose extinction group is
    the candidate's (a structure type recognised through several isostructural entries)."""
    species = library.species[index]
    top, seen = [], set()
    for r in np.argsort(-features[:, 0], kind="stable"):
        if species[r] not in seen:
            seen.add(species[r])
            top.append(r)
            if len(top) == EG_SHARE_OF:
                break
    eg = library.extinction_groups[index]
    share = (eg[:, None] == eg[top][None, :]).mean(axis=1) if top else np.zeros(len(index))
    return np.column_stack([features, share])


def eg_probability_of(library: Library, index: np.ndarray, features: np.ndarray) -> np.ndarray | None:
    """Calibrated probability that the searched pattern's extinction group is each candidate's
    (None before a calibration that has the model)."""
    model = calibration()
    if "eg" not in model:
        return None
    return _logistic(model["eg"], eg_features(library, index, features))


# -- one search ----------------------------------------------------------------------------------
@dataclass
class _Candidates:
    index: np.ndarray        # (K,) library rows
    features: np.ndarray     # (K, n_features)
    d_scale: np.ndarray      # (K,)
    shift: np.ndarray        # (K,)
    template: np.ndarray     # (K, n_fine) linear fine templates at the fitted scale and shift (max 1)


def _coarse(prepared: _Prepared, measured: Sequence[_Measured]) -> np.ndarray:
    """(N, len(measured)) best coarse cosine of every entry over the d-scales, for several
    patterns in one matrix product (the library is read once for all of them)."""
    n_shift = int(round(SCALE_RANGE / COARSE_STEP))
    roots = np.sqrt(np.stack([_on_grid(m, _grid(COARSE_STEP), average=True) for m in measured])).astype(np.float32)
    windows = _windows(roots, n_shift)[:, ::COARSE_STRIDE]
    rows = windows.reshape(-1, roots.shape[1])                  # (patterns * scales, n_coarse)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    scores = prepared.coarse @ (rows / np.where(norms > 0, norms, 1)).T   # (N, patterns * scales)
    return scores.reshape(len(prepared.library), len(measured), windows.shape[1]).max(axis=2)


def _windows(v: np.ndarray, n_shift: int) -> np.ndarray:
    """(..., 2 n_shift + 1, n): row j is v[i + j - n_shift] (zero outside); a sliding-window view
    of the zero-padded vector, no copy until used."""
    pad = [(0, 0)] * (v.ndim - 1) + [(n_shift, n_shift)]
    padded = np.pad(v, pad)
    return np.lib.stride_tricks.sliding_window_view(padded, v.shape[-1], axis=-1)


def _aligned(v: np.ndarray, rows: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """(K, n): out[k, i] = v[rows[k], i + shifts[k]] (zero outside): ``_shift1`` of many rows at once."""
    reach = int(np.abs(shifts).max()) if len(shifts) else 0
    return _windows(v, reach)[rows, reach + shifts]


def _search(prepared: _Prepared, m: _Measured, exclude: np.ndarray | None,
            coarse_best: np.ndarray | None = None) -> _Candidates:
    library = prepared.library
    fine_grid = _grid(FINE_STEP)
    # coarse: all entries x d-scales, one matrix product (or given, from a batch)
    coarse_best = _coarse(prepared, [m])[:, 0] if coarse_best is None else coarse_best.copy()
    if exclude is not None:
        coarse_best[exclude] = -1
    k = min(COARSE_KEEP, len(library))
    keep = np.argpartition(-coarse_best, k - 1)[:k]
    keep = keep[coarse_best[keep] > -1]
    if len(keep) == 0:  # every entry left out
        return _Candidates(keep, np.zeros((0, len(FEATURES))), np.zeros(0), np.zeros(0), np.zeros((0, fine_grid.n)))
    # fine: candidates x zero shifts x d-scales
    starts = library.offsets[keep]
    counts = np.diff(library.offsets)[keep]
    take = np.concatenate([np.arange(s, s + c) for s, c in zip(starts, counts)])
    rows = np.repeat(np.arange(len(keep)), counts)
    linear = _render(rows, library.d[take], library.mf2[take], len(keep), fine_grid, m.width,
                     FINE_MIN_WIDTH, kalpha2=True)
    lo, hi = m.covered  # only where the data are: lines beyond the measured range are not missing
    inside = (fine_grid.u >= lo) & (fine_grid.u <= hi)
    n_fine = int(round(SCALE_RANGE / FINE_STEP))
    fine_shifts = np.arange(-n_fine, n_fine + 1)
    n_scales, n_z = len(fine_shifts), len(ZERO_SHIFTS)
    t_linear = linear / linear.max(axis=1, keepdims=True)
    t = np.sqrt(np.clip(t_linear - TEMPLATE_FLOOR, 0, None)).astype(np.float32)
    # template norm inside the data, per scale: the coverage window is fixed in measured u
    t_norms = np.sqrt((t * t) @ _windows(inside.astype(np.float32), n_fine).T)    # (K, n_scales)
    # the measured pattern for every trial zero shift, shifted over every d-scale: one product
    measured_z = np.stack([_on_grid(m, fine_grid, zero_shift=z) for z in ZERO_SHIFTS])   # (Z, n)
    root = np.sqrt(measured_z).astype(np.float32)
    dilated = _windows(root, TOLERANCE).max(axis=-2)      # each bin: the strongest within ±TOLERANCE
    columns = _windows(root, n_fine).reshape(n_z * n_scales, fine_grid.n)              # (Z * n_scales, n)
    # |column|: a window's sum of squares from the cumulative sums (zero padding adds nothing)
    power = np.cumsum(np.pad(root.astype(np.float64) ** 2, [(0, 0), (1, 0)]), axis=1)   # (Z, n + 1)
    n = fine_grid.n
    a = np.clip(fine_shifts, 0, n)
    b = np.clip(fine_shifts + n, 0, n)
    cols_n = np.sqrt(power[:, b] - power[:, a]).reshape(-1).astype(np.float32)
    cos = (t @ columns.T) / np.maximum(np.tile(t_norms, n_z) * cols_n[None, :], 1e-12)  # (K, Z * n_scales)
    flat = cos.argmax(axis=1)   # z-major: the first zero shift and scale of the maximum, as a scan would
    best = cos[np.arange(len(keep)), flat].astype(np.float64)
    best_zi, best_j = flat // n_scales, fine_shifts[flat % n_scales]
    best_z = np.asarray(ZERO_SHIFTS, dtype=np.float64)[best_zi]
    # features of every candidate at its best (scale, shift), on the measured pattern aligned to it
    yj = _aligned(measured_z, best_zi, best_j)
    t_in = t_linear * _aligned(inside[None, :].astype(np.float64), np.zeros(len(keep), dtype=np.int64), best_j)
    ms, ts = np.sqrt(yj), np.sqrt(np.clip(t_in - TEMPLATE_FLOOR, 0, None))
    ms_max = np.maximum(ms.max(axis=1, keepdims=True), 1e-12)
    ts_max = np.maximum(ts.max(axis=1, keepdims=True), 1e-12)
    explained = (ms * (ts > PRESENT * ts_max)).sum(axis=1) / np.maximum(ms.sum(axis=1), 1e-12)
    present = (ts * (ms > PRESENT * ms_max)).sum(axis=1) / np.maximum(ts.sum(axis=1), 1e-12)
    linear_cos = np.einsum("ki,ki->k", yj, t_in) / np.maximum(
        np.linalg.norm(yj, axis=1) * np.linalg.norm(t_in, axis=1), 1e-12)   # intensities as they are
    # tolerant: the template against the measured pattern dilated by ±TOLERANCE steps, so that lines
    # a few tenths of a per cent from an isotropic scale's places (anisotropic cells) still count
    yd = _aligned(dilated, best_zi, best_j).astype(np.float64)
    tolerant = np.einsum("ki,ki->k", yd, ts) / np.maximum(np.linalg.norm(yd, axis=1) * np.linalg.norm(ts, axis=1), 1e-12)
    # gap: how much better than the best candidate of another species (negative for runners-up)
    species = library.species[keep]
    other = np.where(species[:, None] != species[None, :], best[None, :], -np.inf).max(axis=1)
    gap = best - np.maximum(other, GAP_FLOOR[0])
    other = np.where(species[:, None] != species[None, :], tolerant[None, :], -np.inf).max(axis=1)
    tolerant_gap = tolerant - np.maximum(other, GAP_FLOOR[1])
    coarse_kept = coarse_best[keep].astype(np.float64)
    features = np.column_stack([best, coarse_kept, explained, present, np.abs(best_j * FINE_STEP), np.abs(best_z),
                                linear_cos, gap, tolerant, tolerant_gap])
    # the templates in measured coordinates, for subtraction: shifted back by the scale
    templates = _aligned(t_linear, np.arange(len(keep)), -best_j)
    return _Candidates(keep, features, np.exp(best_j * FINE_STEP), best_z, templates)


def _fraction_scale(m: _Measured, template: np.ndarray, zero_shift: float) -> float:
    """Scale of a linear template (measured coordinates, max 1) to the measured pattern: the
    median ratio over the template's strong bins (robust to texture and overlaps)."""
    y = _on_grid(m, _grid(FINE_STEP), zero_shift=zero_shift)
    strong = template > 0.2
    if not strong.any():
        return 0.0
    return float(np.median(y[strong] / template[strong]))


def _subtract(m: _Measured, template: np.ndarray, zero_shift: float, scale: float) -> _Measured:
    """The measured pattern less a scaled template (mapped back to 2θ), clipped at zero."""
    grid = _grid(FINE_STEP)
    u_points = np.log(_d_of_two_theta(m.two_theta - zero_shift))
    t = np.interp(u_points, grid.u, template, left=0, right=0)
    y = np.clip(m.y - scale * t, 0, None)
    return _Measured(m.two_theta, y, m.covered, m.width)


def _prepare_pattern(pattern: Any, wavelength: float | None) -> _Measured:
    from xrdfast.classify import prepare
    from xrdfast.simulate import default_grid

    grid = default_grid()
    return _measured(grid, prepare(pattern, grid, wavelength).intensity)


def match_prepared(intensity: np.ndarray, library: Library, top_k: int = 5, max_phases: int = 3,
                   excluded: np.ndarray | None = None) -> list[PhaseMatch]:
    """Matches of a pattern already on the Cu K-alpha1 5-90° grid (``classify.prepare``);
    ``excluded``: bool (N,) entries to leave out (novelty tests)."""
    from xrdfast.simulate import default_grid

    return _match(_measured(default_grid(), intensity), library, top_k, max_phases, excluded)


class _Search:
    """Match-subtract-match of one pattern, one search at a time (so that the coarse passes of
    many patterns' searches can share one matrix product)."""

    def __init__(self, m: _Measured, library: Library, max_phases: int, excluded: np.ndarray | None):
        self.library, self.max_phases = library, max_phases
        self.current, self.signal = m, m.y.sum()
        self.found: list[tuple[int, float, float, float, float, float]] = []  # index, score, p, scale, shift, weight scale
        self.first: tuple[_Candidates, np.ndarray, np.ndarray | None] | None = None   # candidates, p, p(EG)
        self.exclude = np.zeros(len(library), dtype=bool) if excluded is None else excluded.copy()  # entries left out
        self.done = False
        self.searches = 0

    def step(self, prepared: _Prepared, coarse_best: np.ndarray | None = None) -> None:
        """One search of the current residue (``coarse_best``: its coarse pass, when batched)."""
        library = self.library
        self.searches += 1
        cands = _search(prepared, self.current, self.exclude, coarse_best)
        if len(cands.index) == 0:
            self.done = True
            return
        p = probability_of(cands.features)
        if self.first is None:
            self.first = (cands, p, eg_probability_of(library, cands.index, cands.features))
        best = int(np.argmax(p))
        if self.found and p[best] < ACCEPT:
            self.done = True
            return
        i = int(cands.index[best])
        scale = _fraction_scale(self.current, cands.template[best], cands.shift[best])
        self.found.append((i, float(cands.features[best, 0]), float(p[best]), float(cands.d_scale[best]),
                           float(cands.shift[best]), scale))
        if p[best] < ACCEPT:
            self.done = True
            return
        self.exclude |= library.species == library.species[i]
        self.current = _subtract(self.current, cands.template[best], cands.shift[best], scale)
        if self.current.y.sum() < MIN_RESIDUE * self.signal or self.searches >= self.max_phases:
            self.done = True

    def result(self, top_k: int) -> list[PhaseMatch]:
        library, found = self.library, self.found
        fractions: list[float | None] = [None] * len(found)
        identified = [p >= ACCEPT for _, _, p, _, _, _ in found]
        if sum(identified) > 1:
            # Hill & Howard: W ∝ S (Z M V); our templates are m|F|² LP per cell, so S is the fitted
            # scale times the template's maximum (templates are normalised to 1)
            weights = []
            for (i, _, _, s, z, scale), ok in zip(found, identified):
                d, mf2 = library.lines(i)
                top = float((mf2 * _lp(d.astype(np.float64), CU_KA1)).max())
                weights.append(scale / top * library.cell_mass[i] * library.volume[i] if ok else 0.0)
            total = sum(weights)
            fractions = [w / total if total > 0 and ok else None for w, ok in zip(weights, identified)]
        if self.first is None:
            return [_phase(library, i, score, p, s, z, f, ok)
                    for (i, score, p, s, z, _), f, ok in zip(found, fractions, identified)]
        cands, p, q = self.first
        # p(EG) for the first search's candidates; phases found in residues name impurities, not the main group
        q_of = {int(i): float(v) for i, v in zip(cands.index, q)} if q is not None else {}
        out = [_phase(library, i, score, p_i, s, z, f, ok, q_of.get(i, 0.0) if k == 0 and q is not None else
                      (0.0 if q is not None else None))
               for k, ((i, score, p_i, s, z, _), f, ok) in enumerate(zip(found, fractions, identified))]
        seen = {library.species[i] for i, *_ in found}
        for r in np.argsort(-p, kind="stable"):  # the first search's other candidates, one per species
            if len(out) >= top_k:
                break
            i = int(cands.index[r])
            if library.species[i] in seen:
                continue
            seen.add(library.species[i])
            out.append(_phase(library, i, float(cands.features[r, 0]), float(p[r]), float(cands.d_scale[r]),
                              float(cands.shift[r]), None, False, None if q is None else float(q[r])))
        return out[:top_k]


def _check(top_k: int, max_phases: int) -> None:
    if not 1 <= top_k <= 100:
        raise ValueError(f"top_k must be between 1 and 100, got {top_k}")
    if not 1 <= max_phases <= 5:
        raise ValueError(f"max_phases must be between 1 and 5, got {max_phases}")


def _match(m: _Measured, library: Library, top_k: int, max_phases: int,
           excluded: np.ndarray | None = None) -> list[PhaseMatch]:
    _check(top_k, max_phases)
    prepared = prepare_library(library)
    search = _Search(m, library, max_phases, excluded)
    while not search.done:
        search.step(prepared)
    return search.result(top_k)


def match_many(intensities: Sequence[np.ndarray], library: Library, top_k: int = 5, max_phases: int = 3,
               batch: int = 16) -> list[list[PhaseMatch] | str]:
    """``match_prepared`` for many patterns, the coarse passes batched: the first searches of
    ``batch`` patterns share one matrix product over the library, and so do the searches of
    their residues. A pattern that cannot be matched gets its error message instead."""
    from xrdfast.simulate import default_grid

    _check(top_k, max_phases)
    grid = default_grid()
    prepared = prepare_library(library)
    out: list[list[PhaseMatch] | str] = []
    for start in range(0, len(intensities), batch):
        searches: list[_Search | str] = []
        for x in intensities[start:start + batch]:
            try:
                searches.append(_Search(_measured(grid, x), library, max_phases, None))
            except ValueError as error:
                searches.append(str(error))
        while True:
            active = [s for s in searches if not isinstance(s, str) and not s.done]
            if not active:
                break
            coarse = _coarse(prepared, [s.current for s in active])
            for k, s in enumerate(active):
                s.step(prepared, coarse[:, k])
        out += [s if isinstance(s, str) else s.result(top_k) for s in searches]
    return out


def _phase(library: Library, i: int, score: float, p: float, d_scale: float, shift: float,
           fraction: float | None, identified: bool, eg_p: float | None = None) -> PhaseMatch:
    e = library.entry(i)
    return PhaseMatch(e.entry_id, e.name, e.formula, e.space_group, e.extinction_group, round(score, 6),
                      round(p, 6), round(d_scale, 6), round(shift, 4), None if fraction is None else round(fraction, 4),
                      identified, i, None if eg_p is None else round(eg_p, 6))


def match(pattern: Any, library: Library | str | None = None, top_k: int = 5, *, wavelength: float | None = None,
          max_phases: int = 3) -> list[PhaseMatch]:
    """Ranked phases of a pattern (path, ``MeasuredPattern`` or (2θ, I) arrays, Cu K-alpha when
    they say nothing) against a library: a ``Library``, a directory of CIFs, or None for
    AMCSD (built and cached on first use). The phases found by match-subtract-match come
    first (``identified``; weight fractions when several), then the best other candidates,
    one per species."""
    if not isinstance(library, Library):
        library = load_library(library)
    return _match(_prepare_pattern(pattern, wavelength), library, top_k, max_phases)


def fuse(network: np.ndarray, matches: Sequence[PhaseMatch]) -> np.ndarray:
    """Extinction-group probabilities (99,) combining the network's with the matches'.

    Each match's evidence is its calibrated probability that the pattern's extinction group is
    its own (``eg_probability``; ``probability``, that the phase is present, when the
    calibration has no group model), the strongest per group. The groups are taken as
    explanations in the order of the matches (the best-ranked phase first): the first is right
    with q₁, else the second with q₂, …, else the network is:
    p(EG) = Σᵢ qᵢ Πⱼ<ᵢ (1 − qⱼ) [EGᵢ = EG] + Πᵢ (1 − qᵢ) network(EG). With no probable match
    the network's answer stands."""
    network = np.asarray(network, dtype=np.float64)
    evidence: dict[int, float] = {}   # insertion order: the order of the matches
    for m in matches:
        q = m.probability if m.eg_probability is None else m.eg_probability
        q = min(max(float(q), 0.0), 1.0)
        evidence[m.extinction_group] = max(evidence.get(m.extinction_group, 0.0), q)
    out = np.zeros_like(network)
    rest = 1.0
    for eg, q in evidence.items():
        out[eg - 1] += rest * q
        rest *= 1 - q
    return out + rest * network / max(network.sum(), 1e-300)


def plot_matches(pattern: Any, matches: Sequence[PhaseMatch], path: str, library: Library | str | None = None,
                 wavelength: float | None = None, title: str = "") -> None:
    """The measured pattern (Cu K-alpha1 2θ) with each matched phase's lines as sticks below it,
    at the fitted d-scale and zero shift."""
    from xrdfast.plotting import pyplot
    from xrdfast.simulate import default_grid

    plt = pyplot()
    if not isinstance(library, Library):
        library = load_library(library)
    grid = default_grid()
    m = _prepare_pattern(pattern, wavelength)
    fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.plot(grid, m.y, color="k", lw=0.6, label="measured (background removed)")
    for k, pm in enumerate(matches[:5]):
        d, mf2 = library.lines(pm.index)
        d = d.astype(np.float64) * pm.d_scale
        s = CU_KA1 / (2 * d)
        ok = s < 1
        two_theta = 2 * np.degrees(np.arcsin(s[ok])) + pm.shift
        height = mf2[ok] * _lp(d[ok], CU_KA1)
        height = height / max(height.max(), 1e-300)
        inside = (two_theta >= grid[0]) & (two_theta <= grid[-1]) & (height > 0.01)
        base = -0.12 * (k + 1)
        ax.vlines(two_theta[inside], base, base + 0.1 * height[inside], color=f"C{k}", lw=0.8,
                  label=f"{pm.name} ({pm.entry_id}) p = {pm.probability:.2f}" + (f", w = {pm.fraction:.2f}" if pm.fraction else ""))
    ax.set(xlabel="2θ (°, Cu K-alpha1)", ylabel="intensity (normalised)", title=title[:80])
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


MATCHED = 0.9   # a match this probable names the pattern's extinction group: Prediction.method = "matched"


def _library_for_classify(library: Library | str | None) -> tuple[Library | None, str]:
    """The library classify matches against, or (None, why not). AMCSD is built on first use
    unless XRDFAST_LIBRARY_AUTOBUILD=0 (then only a cached library is used)."""
    import os

    from xrdfast.library import cache_dir, library_path

    if isinstance(library, Library):
        return library, ""
    try:
        if os.environ.get("XRDFAST_LIBRARY_AUTOBUILD", "1") == "0" and not library_path(library).exists():
            return None, (f"no reference library in {cache_dir()} (run 'xrdfast library build'); "
                          "symmetry inference only")
        return load_library(library), ""
    except (ValueError, OSError) as error:
        return None, f"no reference library ({error}); symmetry inference only"
    except Exception as error:  # noqa: BLE001 - the library is optional: building it (worker
        # processes, a third-party database) must not cost the patterns their answers
        log.warning("building the reference library failed", exc_info=True)
        return None, f"no reference library (building it failed: {type(error).__name__}: {error}); symmetry inference only"


def with_matches(predictions: Sequence[Any], intensities: Sequence[np.ndarray], top_k: int = 5,
                 library: Library | str | None = None, note_missing: bool = True) -> list[Any]:
    """``classify``'s predictions with search-match evidence: each pattern (on the Cu
    K-alpha1 grid of ``classify.prepare``) is matched, the network's extinction-group
    probabilities fused with the matches (``fuse``), and ``method`` set to "matched" when
    the best match has probability >= MATCHED (``note_missing``: say so in the warnings
    when there is no library). The whole distribution the prediction ranks
    (``Prediction.probabilities``) is fused; a prediction without one contributes its top-k
    with the rest of its mass spread evenly over the other groups."""
    import dataclasses

    from xrdfast.classify import _candidate, _systems

    lib, why = _library_for_classify(library)
    if lib is None:
        return [dataclasses.replace(p, warnings=[*p.warnings, why]) if note_missing else p for p in predictions]
    names, system_of = _systems()
    out = []
    for prediction, matches in zip(predictions, match_many(list(intensities), lib, top_k=top_k)):
        if isinstance(matches, str):  # no signal left after background: nothing to match
            out.append(dataclasses.replace(prediction, warnings=[*prediction.warnings, f"no match: {matches}"]))
            continue
        fused, matched, abstain = matched_answer(_distribution(prediction), matches, prediction.abstain,
                                                 prediction.threshold)
        order = np.argsort(-fused, kind="stable")[:len(prediction.candidates)]
        marginal = dict(zip(names, np.bincount(system_of, weights=fused, minlength=len(names)).tolist()))
        out.append(dataclasses.replace(
            prediction, candidates=[_candidate(int(i) + 1, float(fused[i])) for i in order],
            crystal_system=max(marginal, key=marginal.get), crystal_system_probabilities=marginal,
            abstain=abstain, method="matched" if matched else prediction.method,
            match=matches[0] if matched else None, matches=matches, probabilities=fused))
    return out


def matched_answer(probabilities: np.ndarray, matches: Sequence[PhaseMatch], abstain: bool,
                   threshold: float) -> tuple[np.ndarray, bool, bool]:
    """What a prediction becomes with its matches: the fused (99,) probabilities, whether the
    best match names the group (p >= MATCHED), and the abstention (kept only when nothing
    was matched and the fused top-1 stays below the prediction's ``threshold``)."""
    fused = fuse(probabilities, matches)
    matched = bool(matches) and matches[0].probability >= MATCHED
    return fused, matched, bool(abstain and not matched and fused.max() < threshold)


def _distribution(prediction: Any) -> np.ndarray:
    if getattr(prediction, "probabilities", None) is not None:
        return np.asarray(prediction.probabilities, dtype=float)
    network = np.zeros(99)
    for c in prediction.candidates:
        network[c.extinction_group - 1] = c.probability
    rest = max(0.0, 1.0 - network.sum())
    empty = network == 0
    network[empty] = rest / max(int(empty.sum()), 1)
    return network


__all__ = ["MATCHED", "PhaseMatch", "fuse", "match", "match_many", "matched_answer", "match_prepared", "plot_matches", "prepare_library", "probability_of",
           "with_matches"]

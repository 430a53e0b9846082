"""Peak extraction: background, noise and peaks of a powder pattern, in two modes.

The numerics are C++ (``cpp/src/peaks.cpp``; the header ``peaks.hpp`` cites the methods):
SNIP background on LLS-transformed data with a window tied to the peak width, a robust
noise estimate, detection on the smoothed second derivative, then the peak parameters:

* fast (the default, ``refine=False``): background, noise and detection on block means,
  and each peak's position, FWHM, eta, height and area in closed form -- the vertex of a
  least-squares parabola through its top, the half- and quarter-maximum crossings on the
  K-alpha1 side, and the K-alpha2 shift, height and width of the blended doublet read from
  tables of the exact pseudo-Voigt doublet. Thousands of patterns per second per core
  (``benchmarks/bench_peaks.py``), for feature extraction over large sets.
* refined (``refine=True``): full-resolution background and detection, then per-cluster
  pseudo-Voigt Levenberg-Marquardt fits with the K-alpha1/K-alpha2 doublet model and
  covariance-based position uncertainties. ~50x slower, position errors about half the
  fast mode's; what indexing, the extinction evidence and ``xrdfast peaks`` use.

This module turns files, measured or simulated patterns into arrays and back into typed
results.
"""
from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from typing import Any, Union

import numpy as np

from xrdfast import _core
from xrdfast.readers import ANODE_WAVELENGTHS, CU_KA1, MeasuredPattern, read_pattern
from xrdfast.simulate import Pattern

# Background options accepted by estimate_background (fields of _core.BackgroundOptions).
BACKGROUND_OPTIONS: tuple[str, ...] = ("half_window", "window_fwhm", "lls", "decreasing", "smooth_half_window",
                                       "offset_correction", "decimate")
# Search options accepted by find_peaks / search (fields of _core.PeakOptions).
PEAK_OPTIONS: tuple[str, ...] = ("ka2_ratio", "fwhm", "min_snr", "min_relative_height", "min_curvature_snr", "kernel_fwhm", "max_peaks", "max_cluster",
                                 "max_iterations", "refine", "counts")
# One record per peak; the order is the native rows' order (bind_peaks.cpp write_peaks).
PEAK_DTYPE = np.dtype([
    ("two_theta", "f8"),        # degrees, K-alpha1 position
    ("d", "f8"),                # Å
    ("q", "f8"),                # 1/Å, 2 pi / d
    ("height", "f8"),           # above the background (K-alpha1 component)
    ("area", "f8"),             # integrated, intensity x degrees (K-alpha1 component)
    ("fwhm", "f8"),             # degrees 2theta
    ("eta", "f8"),              # pseudo-Voigt Lorentzian fraction
    ("sigma_two_theta", "f8"),  # degrees, position standard uncertainty (fit covariance; fast: Cramer-Rao)
    ("snr", "f8"),              # height over the local background noise
])
# Å. A stated wavelength this close to an anode's weighted K-alpha mean (2 Ka1 + Ka2) / 3
# means the measurement holds both lines (RRUFF's 1.5418 for Cu, for example).
KALPHA_MEAN_TOLERANCE = 3e-4
# The simulator's default radiation (SimulationParams): Cu K-alpha1 + K-alpha2.
SIMULATED_WAVELENGTHS = (CU_KA1, ANODE_WAVELENGTHS["Cu"][1])

PatternLike = Union[str, "PathLike[str]", MeasuredPattern, Pattern, tuple]
# A grid whose steps differ from the mean by more than this share is resampled first.
UNIFORM_TOLERANCE = 0.01


def _background_options(options: dict[str, Any]) -> _core.BackgroundOptions:
    out = _core.BackgroundOptions()
    for name, value in options.items():
        if name not in BACKGROUND_OPTIONS:
            raise ValueError(f"unknown background option {name!r}; known: {', '.join(BACKGROUND_OPTIONS)}, fwhm")
        setattr(out, name, value)
    return out


def _checked_xy(two_theta: Any, intensity: Any) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(two_theta, dtype=float)
    y = np.asarray(intensity, dtype=float)
    if x.ndim != 1 or y.shape != x.shape:
        raise ValueError(f"two_theta and intensity must be 1-D arrays of one length, got shapes {x.shape} and {y.shape}")
    if x.size < 16:
        raise ValueError(f"pattern has {x.size} points; peak search needs at least 16")
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        raise ValueError(f"{int(bad.sum())} points have non-finite 2theta or intensity (first at index "
                         f"{int(np.argmax(bad))}); drop or interpolate them first")
    if np.any(np.diff(x) <= 0):
        raise ValueError("two_theta must be strictly increasing")
    return x, y


def _uniform(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """The pattern on a uniform grid (resampled linearly at the median step when the given
    grid is not uniform within UNIFORM_TOLERANCE); the flag says whether it was resampled."""
    steps = np.diff(x)
    step = float(np.median(steps))
    if np.all(np.abs(steps - step) <= UNIFORM_TOLERANCE * step):
        return x, y, False
    grid = x[0] + step * np.arange(int(np.floor((x[-1] - x[0]) / step)) + 1)
    return grid, np.interp(grid, x, y), True


def estimate_background(two_theta: Any, intensity: Any, **options: Any) -> np.ndarray:
    """Background under a powder pattern, same shape as ``intensity``.

    SNIP (Ryan et al. 1988; Morhac & Matousek 2008) on LLS-transformed data, clipping
    half-window ``window_fwhm`` (default 3) times the FWHM of the strongest peaks (measured,
    or ``fwhm=`` in degrees), or ``half_window`` points when given; the data are first
    smoothed over half a FWHM and the result lifted by the median residual of the
    background points, so that it follows the mean of the noise rather than its minima.
    Amorphous humps and fluorescence slopes, many FWHM wide, stay in the background.
    """
    fwhm = float(options.pop("fwhm", 0.0) or 0.0)
    opts = _background_options(options)
    x, y = _checked_xy(two_theta, intensity)
    xu, yu, resampled = _uniform(x, y)
    background = np.asarray(_core.estimate_background(xu, yu, opts, fwhm))
    return np.interp(x, xu, background) if resampled else background


def estimate_noise(intensity: Any) -> np.ndarray:
    """Noise standard deviation per point from the data (robust MAD of second differences,
    per segment of 1024 points, interpolated between segments)."""
    y = np.asarray(intensity, dtype=float)
    if y.ndim != 1 or not np.all(np.isfinite(y)):
        raise ValueError("intensity must be a 1-D array of finite numbers")
    return np.asarray(_core.estimate_noise(y))


def resolve_wavelengths(wavelength: float | None, wavelength2: float | None) -> tuple[float, float | None]:
    """(K-alpha1 or single wavelength, K-alpha2 or None). A weighted K-alpha mean of a known
    anode (ANODE_WAVELENGTHS) without a stated K-alpha2 means a K-alpha1 + K-alpha2 pattern."""
    if wavelength is None:
        return CU_KA1, wavelength2
    wavelength = float(wavelength)
    if not (0 < wavelength < 20):
        raise ValueError(f"wavelength {wavelength} Å is not a diffraction wavelength (expected 0-20 Å)")
    if wavelength2 is None:
        for ka1, ka2 in ANODE_WAVELENGTHS.values():
            if abs(wavelength - (2 * ka1 + ka2) / 3) < KALPHA_MEAN_TOLERANCE:
                return ka1, ka2
    return wavelength, (None if wavelength2 is None else float(wavelength2))


@dataclass(frozen=True)
class PeakSearch:
    """What a peak search saw: the pattern, its background and noise, and the peaks."""

    two_theta: np.ndarray   # (n,) degrees
    intensity: np.ndarray   # (n,)
    background: np.ndarray  # (n,)
    noise: np.ndarray       # (n,) one standard deviation per point
    peaks: np.ndarray       # PEAK_DTYPE records sorted by two_theta
    wavelength: float       # Å, K-alpha1 or the single wavelength (d and q use it)
    wavelength2: float | None  # Å, K-alpha2 when the doublet was modelled
    fwhm: float = 0.0       # degrees, the width estimate that set the windows
    source: str = ""


def _as_pattern(pattern: PatternLike, wavelength: float | None,
                wavelength2: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, float, float | None, str]:
    """(two_theta, intensity, sigma, wavelength, wavelength2, source) of anything find_peaks takes."""
    if isinstance(pattern, (str, PathLike)):
        pattern = read_pattern(pattern)
    if isinstance(pattern, MeasuredPattern):
        if pattern.wavelength is not None:  # the file's own wavelength wins
            wavelength, wavelength2 = pattern.wavelength, pattern.wavelength2
        lam, lam2 = resolve_wavelengths(wavelength, wavelength2)
        return pattern.two_theta, pattern.intensity, pattern.sigma, lam, lam2, pattern.source
    if isinstance(pattern, Pattern):
        if wavelength is None:
            wavelength, wavelength2 = SIMULATED_WAVELENGTHS
        lam, lam2 = resolve_wavelengths(wavelength, wavelength2)
        return pattern.two_theta, pattern.intensity, None, lam, lam2, "simulated pattern"
    if isinstance(pattern, tuple) and len(pattern) == 2:
        lam, lam2 = resolve_wavelengths(wavelength, wavelength2)
        return np.asarray(pattern[0]), np.asarray(pattern[1]), None, lam, lam2, "(two_theta, intensity)"
    raise TypeError(f"pattern: expected a file path, MeasuredPattern, xrdfast.Pattern or (two_theta, intensity) "
                    f"tuple, got {type(pattern).__name__}")


def _peak_options(wavelength: float, wavelength2: float | None, options: dict[str, Any]) -> _core.PeakOptions:
    out = _core.PeakOptions()
    background = {name: options.pop(name) for name in list(options) if name in BACKGROUND_OPTIONS}
    out.background = _background_options(background)
    for name, value in options.items():
        if name not in PEAK_OPTIONS:
            raise ValueError(f"unknown peak option {name!r}; known: {', '.join(PEAK_OPTIONS + BACKGROUND_OPTIONS)}")
        setattr(out, name, value)
    out.wavelength = wavelength
    out.wavelength2 = 0.0 if wavelength2 is None else wavelength2
    return out


def _records(rows: np.ndarray) -> np.ndarray:
    rows = np.ascontiguousarray(rows, dtype=np.float64).reshape(-1, len(PEAK_DTYPE.names))
    return rows.view(PEAK_DTYPE).reshape(-1).copy()


def search(pattern: PatternLike, *, wavelength: float | None = None, wavelength2: float | None = None,
           min_snr: float = 4.0, **options: Any) -> PeakSearch:
    """Background, noise and peaks of one pattern (see ``find_peaks``; ``refine=True`` for
    the fitted peaks and full-resolution background that indexing and the evidence read)."""
    x, y, sigma, lam, lam2, source = _as_pattern(pattern, wavelength, wavelength2)
    x, y = _checked_xy(x, y)
    opts = _peak_options(lam, lam2, {"min_snr": min_snr, **options})
    xu, yu, resampled = _uniform(x, y)
    su = None
    if sigma is not None:
        sigma = np.asarray(sigma, dtype=float)
        su = np.interp(xu, x, sigma) if resampled else sigma
        if not np.all(np.isfinite(su)) or np.any(su < 0):
            su = None  # esds the file could not state cleanly: estimate the noise from the data
    out = _core.search_peaks(xu, yu, su, opts)
    background, noise = np.asarray(out["background"]), np.asarray(out["noise"])
    if resampled:
        background, noise = np.interp(x, xu, background), np.interp(x, xu, noise)
    return PeakSearch(x, y, background, noise, _records(out["peaks"]), lam, lam2, float(out["fwhm"]), source)


def find_peaks(pattern: PatternLike, *, wavelength: float | None = None, wavelength2: float | None = None,
               min_snr: float = 4.0, **options: Any) -> np.ndarray:
    """Peaks of a powder pattern as ``PEAK_DTYPE`` records sorted by 2theta.

    ``pattern``: a file path (read with ``xrdfast.read_pattern``), a ``MeasuredPattern``, a
    simulated ``xrdfast.Pattern`` or a ``(two_theta, intensity)`` tuple. Wavelengths in Å:
    a file's own wavelength wins; otherwise ``wavelength`` (default Cu K-alpha1 1.540593,
    or for a simulated Pattern the simulator's Cu K-alpha1 + K-alpha2); ``wavelength2``
    switches on the K-alpha doublet model, and a wavelength equal to an anode's weighted
    K-alpha mean (e.g. 1.5418) means K-alpha1 + K-alpha2 of that anode.
    ``min_snr``: minimum fitted height over the local noise. ``refine``: False (default) for
    the fast closed-form parameters, True for the Levenberg-Marquardt doublet fits (see the
    module docstring; ``sigma_two_theta`` is then the fit's covariance, in fast mode the
    Cramer-Rao bound of a Gaussian centre in the local noise). Further options: PEAK_OPTIONS
    and the background options of ``estimate_background``.
    A flat or pure-noise pattern gives no peaks; a too-short, NaN-bearing or decreasing one
    raises ValueError.
    """
    return search(pattern, wavelength=wavelength, wavelength2=wavelength2, min_snr=min_snr, **options).peaks


def find_peaks_batch(two_theta: Any, intensities: Any, *, wavelength: float | None = None,
                     wavelength2: float | None = None, min_snr: float = 4.0, n_threads: int = 0,
                     errors: str = "raise", **options: Any) -> list[np.ndarray]:
    """Peaks of many patterns on one uniform grid, ``intensities`` (N, n): OpenMP over
    patterns with the GIL released, the same result whatever ``n_threads`` (0: all cores).
    Fast mode unless ``refine=True`` (see ``find_peaks``).
    ``errors="raise"`` stops at the first bad pattern (ValueError naming it); ``"empty"``
    gives it an empty array instead."""
    x = np.asarray(two_theta, dtype=float)
    ys = np.asarray(intensities, dtype=float)
    if ys.ndim != 2 or x.ndim != 1 or ys.shape[1] != x.size:
        raise ValueError(f"intensities must have shape (N, {x.size}) on the two_theta grid, got {ys.shape}")
    if errors not in ("raise", "empty"):
        raise ValueError(f"errors must be 'raise' or 'empty', got {errors!r}")
    lam, lam2 = resolve_wavelengths(wavelength, wavelength2)
    opts = _peak_options(lam, lam2, {"min_snr": min_snr, **options})
    rows, offsets, messages = _core.search_peaks_batch(x, ys, opts, int(n_threads))
    if errors == "raise":
        for i, message in enumerate(messages):
            if message:
                raise ValueError(f"pattern {i}: {message}")
    records = _records(rows)
    return [records[offsets[i]:offsets[i + 1]] for i in range(ys.shape[0])]


def table(result: PeakSearch, limit: int | None = None) -> str:
    """The peaks as a text table (2theta, d, Q, height, area, FWHM, eta, sigma, SNR)."""
    head = (f"{result.source}: {result.peaks.size} peaks (lambda {result.wavelength:.6f} Å"
            + (f", K-alpha2 {result.wavelength2:.6f} Å modelled" if result.wavelength2 else "")
            + f"; typical FWHM {result.fwhm:.3f}°)")
    rows = [f"{'2theta':>9} {'d(Å)':>8} {'Q(1/Å)':>7} {'height':>10} {'area':>10} {'FWHM':>6} {'eta':>5} "
            f"{'s(2th)':>7} {'SNR':>7}"]
    for p in result.peaks[:limit]:
        rows.append(f"{p['two_theta']:9.4f} {p['d']:8.5f} {p['q']:7.4f} {p['height']:10.4g} {p['area']:10.4g} "
                    f"{p['fwhm']:6.3f} {p['eta']:5.2f} {p['sigma_two_theta']:7.4f} {p['snr']:7.1f}")
    return "\n".join([head, *rows])


def to_dict(result: PeakSearch) -> dict[str, Any]:
    """JSON-ready: source, wavelengths, FWHM estimate and one dict per peak."""
    return {"source": result.source, "wavelength": result.wavelength, "wavelength2": result.wavelength2,
            "fwhm": result.fwhm,
            "peaks": [{name: float(p[name]) for name in PEAK_DTYPE.names} for p in result.peaks]}


def plot_searches(results: list[PeakSearch], path: Any, max_rows: int = 8) -> None:
    """One panel per pattern: data, background, and the fitted K-alpha1 positions marked."""
    from xrdfast.plotting import pyplot

    plt = pyplot()
    rows = results[:max_rows]
    fig, axes = plt.subplots(len(rows), 1, figsize=(11, 2.8 * len(rows)), squeeze=False)
    for ax, r in zip(axes[:, 0], rows):
        ax.plot(r.two_theta, r.intensity, lw=0.6, color="0.2", label="pattern")
        ax.plot(r.two_theta, r.background, lw=1.0, color="tab:orange", label="background")
        if r.peaks.size:
            idx = np.clip(np.searchsorted(r.two_theta, r.peaks["two_theta"]), 0, r.two_theta.size - 1)
            ax.plot(r.peaks["two_theta"], r.background[idx] + r.peaks["height"], "v", ms=4, color="tab:red",
                    label=f"{r.peaks.size} peaks")
        ax.set_title(r.source, fontsize=9)
        ax.set_ylabel("intensity")
        ax.legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel("2θ (degrees)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


__all__ = ["BACKGROUND_OPTIONS", "PEAK_DTYPE", "PEAK_OPTIONS", "PeakSearch", "estimate_background",
           "estimate_noise", "find_peaks", "find_peaks_batch", "plot_searches", "resolve_wavelengths", "search",
           "table", "to_dict"]

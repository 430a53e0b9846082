"""Peak extraction: background, noise and fitted peaks of a powder pattern.

The numerics are C++ (``cpp/src/peaks.cpp``; the header ``peaks.hpp`` cites the methods):
SNIP background on LLS-transformed data with a window tied to the peak width, a robust
noise estimate, detection on the smoothed second derivative and per-cluster pseudo-Voigt
least-squares fits with a K-alpha1/K-alpha2 doublet model. This module turns files,
measured or simulated patterns into arrays and back into typed results.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from xrdfast import _core

# Background options accepted by estimate_background (fields of _core.BackgroundOptions).
BACKGROUND_OPTIONS: tuple[str, ...] = ("half_window", "window_fwhm", "lls", "decreasing", "smooth_half_window",
                                       "offset_correction")
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


__all__ = ["BACKGROUND_OPTIONS", "estimate_background", "estimate_noise"]

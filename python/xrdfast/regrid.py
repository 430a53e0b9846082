"""A measured pattern on the model's 2θ grid, matched through d-spacing (Bragg's law), so that
a Mo or synchrotron scan is compared with a Cu Kα1 model; beside classify, its one user."""
from __future__ import annotations

import math

import numpy as np

from xrdfast.readers._base import CU_KA1, MeasuredPattern, PatternReadError, _check_wavelength


def _integral(x: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """∫ from x[0] to t of the piecewise-linear interpolant of (x, y), exactly."""
    cumulative = np.concatenate([[0.0], np.cumsum(0.5 * (y[1:] + y[:-1]) * np.diff(x))])
    i = np.clip(np.searchsorted(x, t, side="right") - 1, 0, len(x) - 2)
    dt = t - x[i]
    slope = (y[i + 1] - y[i]) / (x[i + 1] - x[i])
    return cumulative[i] + y[i] * dt + 0.5 * slope * dt * dt


def _angle_at(two_theta: np.ndarray, from_wavelength: float, to_wavelength: float) -> np.ndarray:
    """2θ at ``to_wavelength`` of the d-spacing seen at ``two_theta`` with ``from_wavelength``
    (Bragg: λ = 2 d sin θ); NaN where that d cannot diffract (sin θ ≥ 1)."""
    if from_wavelength == to_wavelength:
        return two_theta.astype(np.float64, copy=True)
    s = np.sin(np.radians(two_theta) / 2.0) * (to_wavelength / from_wavelength)
    out = np.full(two_theta.shape, np.nan)
    ok = (s > 0.0) & (s < 1.0)
    out[ok] = 2.0 * np.degrees(np.arcsin(s[ok]))
    return out


def to_grid(pattern: MeasuredPattern, grid_two_theta: np.ndarray, grid_wavelength: float = CU_KA1,
            wavelength: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The pattern on a model grid, matched through d-spacing: (intensity [n_grid] float32,
    normalised to 1 over the valid points and 0 elsewhere; mask [n_grid] bool, True where
    the grid's d-spacing was measured).

    ``grid_two_theta`` is in degrees at ``grid_wavelength``; the pattern's wavelength is
    ``wavelength``, else the file's. Where the measured step is finer than half the grid
    step (in measured 2θ) the measured curve is box-averaged over each grid cell instead of
    point-sampled, so that counting noise does not alias into the grid.
    """
    grid = np.asarray(grid_two_theta, dtype=np.float64)
    if grid.ndim != 1 or len(grid) < 2 or not np.isfinite(grid).all() or not (np.diff(grid) > 0).all():
        raise ValueError(f"grid_two_theta must be 1-D, finite and strictly increasing with ≥ 2 points, "
                         f"got shape {grid.shape}")
    if grid[0] <= 0.0 or grid[-1] >= 180.0:
        raise ValueError(f"grid_two_theta must lie inside (0°, 180°), got {grid[0]:g}..{grid[-1]:g}")
    grid_wavelength = _check_wavelength(grid_wavelength, "grid_wavelength")
    if wavelength is not None:
        lam = _check_wavelength(wavelength, "wavelength")
    elif pattern.wavelength is not None:
        lam = pattern.wavelength
    else:
        raise PatternReadError(f"{pattern.source}: the file states no wavelength; give it (--wavelength, "
                               "in Å, e.g. 1.540593 for Cu Kα1) to compare it with the model")
    x = pattern.two_theta
    scale = float(np.max(np.abs(pattern.intensity)))
    if not (math.isfinite(scale) and scale > 0.0):
        raise PatternReadError(f"{pattern.source}: intensities must be finite and not all zero "
                               f"(their largest magnitude is {scale:g})")
    y = pattern.intensity / scale  # the result is normalised anyway; this keeps the sums from overflowing
    at = _angle_at(grid, grid_wavelength, lam)  # [n_grid] measured 2θ of each grid d
    mask = np.isfinite(at) & (at >= x[0]) & (at <= x[-1])
    if not mask.any():
        raise PatternReadError(
            f"{pattern.source}: measured 2θ {x[0]:g}..{x[-1]:g}° at λ = {lam:g} Å covers none of the "
            f"grid {grid[0]:g}..{grid[-1]:g}° at λ = {grid_wavelength:g} Å; check the wavelength")
    out = np.zeros(len(grid))
    out[mask] = np.interp(at[mask], x, y)
    # grid cell edges (midpoints), in measured 2θ
    edges = np.concatenate([[grid[0] - 0.5 * (grid[1] - grid[0])], 0.5 * (grid[1:] + grid[:-1]),
                            [grid[-1] + 0.5 * (grid[-1] - grid[-2])]])
    edges = _angle_at(np.clip(edges, 1e-9, 180.0 - 1e-9), grid_wavelength, lam)
    lo, hi = np.clip(edges[:-1], x[0], x[-1]), np.clip(edges[1:], x[0], x[-1])
    measured_step = float(np.median(np.diff(x)))
    fine = mask & np.isfinite(edges[:-1]) & np.isfinite(edges[1:]) & (hi - lo > 2.0 * measured_step)
    if fine.any():
        out[fine] = (_integral(x, y, hi[fine]) - _integral(x, y, lo[fine])) / (hi[fine] - lo[fine])
    peak = out[mask].max()
    if not peak > 0.0:
        raise PatternReadError(f"{pattern.source}: no positive intensity inside the grid's range; nothing "
                               "to normalise")
    out[mask] /= peak
    out[~mask] = 0.0
    return out.astype(np.float32), mask

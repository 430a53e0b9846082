"""Peak extraction against independent references: pybaselines' SNIP for the background,
scipy's curve_fit for a single pseudo-Voigt, the analytic pseudo-Voigt area, hand-made
K-alpha doublets, simulated patterns with known line lists; and bad input."""
from __future__ import annotations

import numpy as np
import pytest

import xrdfast
from xrdfast import _core
from xrdfast.peaks import estimate_background

pybaselines = pytest.importorskip("pybaselines")

GRID = np.round(5.0 + 0.01 * np.arange(8501), 10)  # the paper's grid, degrees
# SNIP is a sequence of min/mean operations: ours and pybaselines' agree to rounding.
SNIP_EXACT = 1e-9


def _lls(v: np.ndarray) -> np.ndarray:  # Morhac & Matousek (2008) eq. 6, as pybaselines' docs give it
    return np.log(np.log(np.sqrt(v + 1) + 1) + 1)


def _lls_inverse(v: np.ndarray) -> np.ndarray:
    return (np.exp(np.exp(v) - 1) - 1) ** 2 - 1


def _gauss(x: np.ndarray, centre: float, fwhm: float) -> np.ndarray:
    return np.exp(-4 * np.log(2) * ((x - centre) / fwhm) ** 2)


def _synthetic(seed: int = 0, noise: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Peaks of FWHM 0.1 degree on a sloped background with an amorphous hump (FWHM ~12 deg)."""
    rng = np.random.default_rng(seed)
    background = 50 + 0.1 * GRID + 20 * np.exp(-0.5 * ((GRID - 25) / 5) ** 2)
    y = background.copy()
    for centre in rng.uniform(6, 89, 40):
        y += rng.uniform(10, 500) * _gauss(GRID, centre, 0.1)
    if noise:
        y = rng.poisson(y).astype(float)
    return background, y


@pytest.mark.parametrize("lls", [False, True])
@pytest.mark.parametrize("decreasing", [False, True])
def test_snip_equals_pybaselines(lls: bool, decreasing: bool) -> None:
    _, y = _synthetic()
    half_window = 30
    ours = _core.snip_background(y, half_window, lls, decreasing, 0)
    if lls:  # our LLS acts on data rescaled to 0..1e4, the same transform applied outside pybaselines
        lo, scale = y.min(), 1e4 / (y.max() - y.min())
        reference = _lls_inverse(pybaselines.Baseline().snip(_lls((y - lo) * scale), half_window,
                                                             decreasing=decreasing)[0]) / scale + lo
    else:
        reference = pybaselines.Baseline().snip(y, half_window, decreasing=decreasing)[0]
    np.testing.assert_allclose(ours, reference, rtol=0, atol=SNIP_EXACT * np.abs(y).max())


def test_background_follows_hump_and_slope_not_noise_minima() -> None:
    background, y = _synthetic()
    estimate = estimate_background(GRID, y)
    sigma = np.sqrt(background)  # Poisson
    # Within a quarter sigma on average (unsmoothed SNIP sits ~2 sigma low) and the hump kept.
    assert abs(np.mean(estimate - background)) < 0.25 * sigma.mean()
    assert np.sqrt(np.mean((estimate - background) ** 2)) < 0.5 * sigma.mean()
    hump = np.abs(GRID - 25) < 2
    assert abs(np.mean(estimate[hump] - background[hump])) < 0.5 * sigma[hump].mean()


def test_background_noiseless_matches_truth() -> None:
    background, y = _synthetic(noise=False)
    estimate = estimate_background(GRID, y)
    assert np.max(np.abs(estimate - background)) < 0.02 * (y.max() - background.min())
    assert np.sqrt(np.mean((estimate - background) ** 2)) < 0.3


def test_background_non_uniform_grid_is_resampled() -> None:
    background, y = _synthetic(noise=False)
    keep = np.sort(np.random.default_rng(1).choice(GRID.size, 6000, replace=False))
    estimate = estimate_background(GRID[keep], y[keep])
    assert estimate.shape == (keep.size,)
    assert np.sqrt(np.mean((estimate - background[keep]) ** 2)) < 0.5


@pytest.mark.parametrize("bad, message", [
    ((GRID[:10], np.ones(10)), "at least 16"),
    ((GRID, np.where(GRID > 50, np.nan, 1.0)), "non-finite"),
    ((GRID[::-1], np.ones(GRID.size)), "increasing"),
    ((GRID, np.ones(5)), "one length"),
])
def test_background_bad_input(bad: tuple[np.ndarray, np.ndarray], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        estimate_background(*bad)


def test_background_unknown_option() -> None:
    with pytest.raises(ValueError, match="unknown background option"):
        estimate_background(GRID, np.ones(GRID.size), window=3)


def test_background_flat_and_noise_only() -> None:
    flat = np.full(GRID.size, 7.0)
    np.testing.assert_allclose(estimate_background(GRID, flat), flat, atol=1e-9)
    noise = np.random.default_rng(2).normal(100, 3, GRID.size)
    assert abs(np.mean(estimate_background(GRID, noise)) - 100) < 1.5

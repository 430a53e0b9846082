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


# ---------------------------------------------------------------------------------------
# Peaks

from pathlib import Path  # noqa: E402

from scipy.optimize import curve_fit  # noqa: E402

from xrdfast.peaks import PEAK_DTYPE, find_peaks, find_peaks_batch, resolve_wavelengths, search  # noqa: E402

CU1, CU2 = 1.540593, 1.544414  # Å, Hölzer et al. (1997)
PATTERNS = Path(__file__).resolve().parent / "data" / "patterns"
# Tolerances, each against an independent reference:
POSITION_NOISELESS = 2e-4  # degrees: a noiseless profile's fitted centre (0.02 steps)
SHAPE_NOISELESS = 0.01     # relative FWHM and area of a noiseless profile
AGREE_CURVE_FIT = 3.0      # fits of the same noisy data agree within 3 of curve_fit's sigmas


def pseudo_voigt(x: np.ndarray, centre: float, height: float, fwhm: float, eta: float) -> np.ndarray:
    t = (x - centre) / fwhm
    return height * (eta / (1 + 4 * t * t) + (1 - eta) * np.exp(-4 * np.log(2) * t * t))


def pv_area(height: float, fwhm: float, eta: float) -> float:
    """Analytic area: eta pi/2 H h + (1 - eta) sqrt(pi / (4 ln 2)) H h."""
    return height * fwhm * (eta * np.pi / 2 + (1 - eta) * np.sqrt(np.pi / (4 * np.log(2))))


def ka2(tt1: float) -> float:
    return 2 * np.degrees(np.arcsin(CU2 / CU1 * np.sin(np.radians(tt1 / 2))))


def test_peak_dtype_fields() -> None:
    assert PEAK_DTYPE.names == ("two_theta", "d", "q", "height", "area", "fwhm", "eta", "sigma_two_theta", "snr")


def test_noiseless_pseudo_voigt_matches_analytic() -> None:
    y = 10 + pseudo_voigt(GRID, 41.234, 500.0, 0.12, 0.4)
    peaks = find_peaks((GRID, y), wavelength=CU1, refine=True)
    assert peaks.size == 1
    p = peaks[0]
    assert abs(p["two_theta"] - 41.234) < POSITION_NOISELESS
    assert p["fwhm"] == pytest.approx(0.12, rel=SHAPE_NOISELESS)
    assert p["area"] == pytest.approx(pv_area(500, 0.12, 0.4), rel=SHAPE_NOISELESS)
    assert p["eta"] == pytest.approx(0.4, abs=0.03)
    d = CU1 / (2 * np.sin(np.radians(41.234 / 2)))  # Bragg's law
    assert p["d"] == pytest.approx(d, rel=1e-5)
    assert p["q"] == pytest.approx(2 * np.pi / d, rel=1e-5)


def _single_peak_and_curve_fit() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A counted pseudo-Voigt on a sloping background, and scipy's curve_fit of it (the
    reference both search modes are held to): the pattern, the parameters, their covariance."""
    rng = np.random.default_rng(3)
    truth = 200 + 0.5 * GRID + pseudo_voigt(GRID, 33.3333, 400.0, 0.15, 0.3)
    y = rng.poisson(truth).astype(float)
    window = np.abs(GRID - 33.3333) < 1.0

    def model(x: np.ndarray, c: float, h: float, w: float, eta: float, a: float, b: float) -> np.ndarray:
        return pseudo_voigt(x, c, h, w, eta) + a + b * (x - 33.3)

    popt, pcov = curve_fit(model, GRID[window], y[window], p0=[33.3, 300, 0.1, 0.5, 200, 0],
                           sigma=np.sqrt(np.maximum(y[window], 1)), absolute_sigma=True)
    return y, popt, pcov


def test_single_peak_agrees_with_curve_fit() -> None:
    y, popt, pcov = _single_peak_and_curve_fit()
    p = find_peaks((GRID, y), wavelength=CU1, refine=True)
    assert p.size == 1
    p = p[0]
    err = np.sqrt(np.diag(pcov))
    assert abs(p["two_theta"] - popt[0]) < AGREE_CURVE_FIT * err[0]
    assert abs(p["fwhm"] - popt[2]) < AGREE_CURVE_FIT * err[2]
    # Area and its standard error by propagating curve_fit's covariance through pv_area.
    h, w, eta = popt[1:4]
    grad = np.array([0, pv_area(1, w, eta), pv_area(h, 1, eta),
                     h * w * (np.pi / 2 - np.sqrt(np.pi / (4 * np.log(2)))), 0, 0])
    assert abs(p["area"] - pv_area(h, w, eta)) < AGREE_CURVE_FIT * np.sqrt(grad @ pcov @ grad)
    # Our position uncertainty is the same order as curve_fit's (covariance x residual variance).
    assert 0.3 < p["sigma_two_theta"] / err[0] < 3
    assert p["snr"] > 10


def test_resolved_doublet_is_one_peak_at_kalpha1() -> None:
    tt1 = 71.5  # K-alpha2 0.21 degrees higher, resolved at FWHM 0.1
    y = 20 + pseudo_voigt(GRID, tt1, 300.0, 0.1, 0.2) + pseudo_voigt(GRID, ka2(tt1), 150.0, 0.1, 0.2)
    peaks = find_peaks((GRID, y), wavelength=CU1, wavelength2=CU2, refine=True)
    assert peaks.size == 1
    assert abs(peaks[0]["two_theta"] - tt1) < 1e-3
    assert peaks[0]["area"] == pytest.approx(pv_area(300, 0.1, 0.2), rel=0.02)  # the K-alpha1 component
    # Without the doublet model the K-alpha2 line is a peak of its own.
    single = find_peaks((GRID, y), wavelength=CU1, refine=True)
    assert single.size == 2 and abs(single[1]["two_theta"] - ka2(tt1)) < 2e-3


def test_unresolved_doublet_position_is_kalpha1() -> None:
    tt1 = 22.0  # separation 0.06 degrees under FWHM 0.12
    y = 20 + pseudo_voigt(GRID, tt1, 300.0, 0.12, 0.1) + pseudo_voigt(GRID, ka2(tt1), 150.0, 0.12, 0.1)
    peaks = find_peaks((GRID, y), wavelength=1.5418, refine=True)  # the weighted Cu mean: K-alpha1 + K-alpha2
    assert peaks.size == 1
    assert abs(peaks[0]["two_theta"] - tt1) < 2e-3


def test_weighted_mean_wavelength_means_doublet() -> None:
    assert resolve_wavelengths(1.5418, None) == (CU1, CU2)
    assert resolve_wavelengths(1.540593, None) == (CU1, None)
    assert resolve_wavelengths(None, None) == (CU1, None)
    with pytest.raises(ValueError, match="wavelength"):
        resolve_wavelengths(-1.0, None)


def test_two_close_peaks_are_both_found() -> None:
    y = 5 + pseudo_voigt(GRID, 50.0, 300.0, 0.1, 0.0) + pseudo_voigt(GRID, 50.12, 150.0, 0.1, 0.0)
    peaks = find_peaks((GRID, y), wavelength=CU1, refine=True)
    assert peaks.size == 2
    np.testing.assert_allclose(peaks["two_theta"], [50.0, 50.12], atol=2e-3)


@pytest.mark.parametrize("name, y", [
    ("flat", np.full(GRID.size, 100.0)),
    ("zero", np.zeros(GRID.size)),
    ("noise", np.random.default_rng(4).normal(100, 5, GRID.size)),
    ("poisson", np.random.default_rng(5).poisson(50, GRID.size).astype(float)),
])
@pytest.mark.parametrize("refine", [False, True])
def test_no_peaks_in_flat_or_noise(name: str, y: np.ndarray, refine: bool) -> None:
    assert find_peaks((GRID, y), refine=refine).size == 0


@pytest.mark.parametrize("x, y, message", [
    (GRID[:8], np.ones(8), "at least 16"),
    (GRID, np.where(np.arange(GRID.size) == 100, np.nan, 1.0), "non-finite"),
    (GRID, np.ones((2, GRID.size)), "1-D"),
    (GRID[::-1], np.ones(GRID.size), "increasing"),
])
@pytest.mark.parametrize("refine", [False, True])
def test_bad_input_is_a_clear_error(x: np.ndarray, y: np.ndarray, message: str, refine: bool) -> None:
    with pytest.raises(ValueError, match=message):
        find_peaks((x, y), refine=refine)


def test_bad_options() -> None:
    y = 10 + pseudo_voigt(GRID, 41.0, 100.0, 0.1, 0.0)
    with pytest.raises(ValueError, match="unknown peak option"):
        find_peaks((GRID, y), min_sn=3)
    with pytest.raises(ValueError, match="min_snr"):
        find_peaks((GRID, y), min_snr=-1)
    with pytest.raises(TypeError, match="pattern"):
        find_peaks([1, 2, 3])


@pytest.mark.parametrize("refine", [False, True])
def test_batch_equals_single_and_ignores_thread_count(refine: bool) -> None:
    rng = np.random.default_rng(6)
    ys = []
    for _ in range(6):
        y = 50 + rng.uniform(0, 20) * np.exp(-0.5 * ((GRID - 25) / 5) ** 2)
        for c in rng.uniform(8, 88, 12):
            y = y + pseudo_voigt(GRID, c, rng.uniform(20, 500), rng.uniform(0.08, 0.2), rng.uniform(0, 1))
        ys.append(rng.poisson(y).astype(float))
    ys.append(np.full(GRID.size, 3.0))  # a flat one: no peaks, no error
    one = find_peaks_batch(GRID, np.array(ys), n_threads=1, wavelength=1.5418, refine=refine)
    two = find_peaks_batch(GRID, np.array(ys), n_threads=2, wavelength=1.5418, refine=refine)
    for a, b, y in zip(one, two, ys):
        assert a.dtype == PEAK_DTYPE
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, find_peaks((GRID, y), wavelength=1.5418, refine=refine))
    assert one[-1].size == 0 and all(p.size >= 6 for p in one[:-1])


def test_batch_bad_row() -> None:
    ys = np.ones((2, GRID.size))
    ys[1, 10] = np.nan
    with pytest.raises(ValueError, match="pattern 1"):
        find_peaks_batch(GRID, ys)
    assert [p.size for p in find_peaks_batch(GRID, ys, errors="empty")] == [0, 0]


@pytest.mark.parametrize("refine", [False, True])
def test_simulated_pattern_lines_are_found(refine: bool) -> None:
    """Rock salt simulated by xrdfast; its K-alpha1 line positions checked independently by
    Bragg's law from a = 5.6402 Å."""
    nacl = xrdfast.from_arrays([5.6402] * 3 + [90] * 3, 225, ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    pattern = xrdfast.simulate(nacl, counts=1e5, background_chebyshev=[0.02, 0.0, 0.0], seed=1)
    peaks = search(pattern, refine=refine)
    assert peaks.wavelength2 == pytest.approx(CU2)
    strong = pattern.lines["intensity"] > 0.02 * pattern.lines["intensity"].max()
    for hkl, tt in zip(pattern.lines["hkl"][strong], pattern.lines["two_theta"][strong]):
        d = 5.6402 / np.sqrt(np.sum(np.asarray(hkl) ** 2))
        assert tt == pytest.approx(2 * np.degrees(np.arcsin(CU1 / (2 * d))), abs=1e-6)
        assert np.min(np.abs(peaks.peaks["two_theta"] - tt)) < 0.005


def test_every_reader_format(tmp_path: Path) -> None:
    """The readers' fixtures: Gaussians at silicon's d-spacings at the file's wavelength."""
    si_d = np.array([3.13560, 1.92016, 1.63751, 1.35772, 1.24593])
    files = sorted(p for p in PATTERNS.iterdir() if p.suffix != ".md")
    assert len(files) >= 15
    for path in files:
        measured = xrdfast.read_pattern(path)
        peaks = find_peaks(measured)
        lam = measured.wavelength or CU1
        tt = 2 * np.degrees(np.arcsin(np.minimum(lam / (2 * si_d), 1)))  # Bragg's law
        visible = si_d[(tt > measured.two_theta[0] + 0.5) & (tt < measured.two_theta[-1] - 0.5)]
        assert peaks.size >= visible.size >= 3, path.name
        for d in visible:
            assert np.min(np.abs(peaks["d"] - d)) < 0.005, (path.name, d)


def test_cli_peaks_batch_with_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from xrdfast.cli import main

    bad = tmp_path / "bad.xy"
    bad.write_text("not a pattern\n")
    good = PATTERNS / "cu-gaussians.xy"
    plot = tmp_path / "p.png"
    assert main(["peaks", str(good), str(bad), "--json", "--plot", str(plot)]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert rows[1]["source"] == str(bad) and rows[1]["error"]
    assert len(rows[0]["peaks"]) == 4 and plot.stat().st_size > 0


# ---------------------------------------------------------------------------------------
# The fast mode (the default): closed-form parameters, checked against the same references
# with the looser tolerances a parabola-and-crossings estimate earns.

FAST_POSITION_NOISELESS = 1e-3  # degrees (0.1 step): the tabulated doublet corrections' residue
FAST_SHAPE_NOISELESS = 0.03     # relative FWHM and height
FAST_AREA_NOISELESS = 0.05      # relative area: eta read from the quarter/half width ratio is within ~0.05
FAST_AGREE_CURVE_FIT = 5.0      # within 5 of curve_fit's sigmas: ~1.5x its variance, top points only


@pytest.mark.parametrize("centre, fwhm, eta", [(41.234, 0.12, 0.4), (18.5071, 0.08, 0.0), (77.77, 0.25, 1.0)])
def test_fast_noiseless_pseudo_voigt_matches_analytic(centre: float, fwhm: float, eta: float) -> None:
    y = 10 + pseudo_voigt(GRID, centre, 500.0, fwhm, eta)
    peaks = find_peaks((GRID, y), wavelength=CU1)
    assert peaks.size == 1
    p = peaks[0]
    assert abs(p["two_theta"] - centre) < FAST_POSITION_NOISELESS
    assert p["fwhm"] == pytest.approx(fwhm, rel=FAST_SHAPE_NOISELESS)
    assert p["area"] == pytest.approx(pv_area(500, fwhm, eta), rel=FAST_AREA_NOISELESS)
    assert p["eta"] == pytest.approx(eta, abs=0.1)
    assert p["d"] == pytest.approx(CU1 / (2 * np.sin(np.radians(centre / 2))), rel=1e-5)  # Bragg's law


def test_fast_positions_and_widths_agree_with_scipy() -> None:
    """Isolated noiseless lines of several widths: scipy.signal.find_peaks finds the same
    maxima (to a step) and scipy.signal.peak_widths measures the same FWHM (to 3 %)."""
    from scipy.signal import find_peaks as scipy_find_peaks, peak_widths

    rng = np.random.default_rng(11)
    centres = np.sort(rng.uniform(8, 88, 12))
    centres = centres[np.diff(centres, prepend=0) > 2]  # isolated: > 2 degrees apart
    widths = rng.uniform(0.06, 0.3, centres.size)
    y = 30 + sum(pseudo_voigt(GRID, c, rng.uniform(100, 900), w, 0.5) for c, w in zip(centres, widths))
    ours = find_peaks((GRID, y), wavelength=CU1)
    idx, _ = scipy_find_peaks(y, prominence=50)
    fwhm_scipy = peak_widths(y - 30, idx, rel_height=0.5)[0] * 0.01
    assert ours.size == idx.size == centres.size
    np.testing.assert_allclose(ours["two_theta"], GRID[idx], atol=0.01)
    np.testing.assert_allclose(ours["fwhm"], fwhm_scipy, rtol=0.03)


def test_fast_single_peak_agrees_with_curve_fit() -> None:
    y, popt, pcov = _single_peak_and_curve_fit()
    p = find_peaks((GRID, y), wavelength=CU1)
    assert p.size == 1
    p = p[0]
    err = np.sqrt(np.diag(pcov))
    assert abs(p["two_theta"] - popt[0]) < FAST_AGREE_CURVE_FIT * err[0]
    assert abs(p["fwhm"] - popt[2]) < FAST_AGREE_CURVE_FIT * err[2]
    assert 0.3 < p["sigma_two_theta"] / err[0] < 3  # the Cramer-Rao estimate beside curve_fit's
    assert p["snr"] > 10


@pytest.mark.parametrize("tt1, fwhm, eta", [(71.5, 0.1, 0.2), (22.0, 0.12, 0.1), (40.0, 0.2, 0.6),
                                            (60.0, 0.15, 0.9), (85.0, 0.3, 0.3)])
def test_fast_doublet_is_one_peak_at_kalpha1(tt1: float, fwhm: float, eta: float) -> None:
    """K-alpha1 + K-alpha2 (half the area, Bragg's law separation) from resolved to blended:
    one peak at the K-alpha1 position with the K-alpha1 width and height."""
    y = 20 + pseudo_voigt(GRID, tt1, 300.0, fwhm, eta) + pseudo_voigt(GRID, ka2(tt1), 150.0, fwhm, eta)
    peaks = find_peaks((GRID, y), wavelength=CU1, wavelength2=CU2)
    assert peaks.size == 1
    assert abs(peaks[0]["two_theta"] - tt1) < FAST_POSITION_NOISELESS
    assert peaks[0]["fwhm"] == pytest.approx(fwhm, rel=FAST_SHAPE_NOISELESS)
    assert peaks[0]["height"] == pytest.approx(300.0, rel=FAST_SHAPE_NOISELESS)


def test_fast_two_close_peaks_are_both_found() -> None:
    y = 5 + pseudo_voigt(GRID, 50.0, 300.0, 0.1, 0.0) + pseudo_voigt(GRID, 50.15, 150.0, 0.1, 0.0)
    peaks = find_peaks((GRID, y), wavelength=CU1)
    assert peaks.size == 2
    np.testing.assert_allclose(peaks["two_theta"], [50.0, 50.15], atol=5e-3)


def test_fast_background_follows_hump_and_slope() -> None:
    """The fast search's background (SNIP on FWHM-long block means) against the true one:
    the refined test's bound on the largest error, and an RMS error of at most one count
    (the refined background's is 0.3) -- a tenth of the smallest peak's height."""
    background, y = _synthetic(noise=False)
    estimate = search((GRID, y), wavelength=CU1).background
    assert np.max(np.abs(estimate - background)) < 0.02 * (y.max() - background.min())
    assert np.sqrt(np.mean((estimate - background) ** 2)) < 1.0
    _, noisy = _synthetic()
    estimate = search((GRID, noisy), wavelength=CU1).background
    sigma = np.sqrt(background)  # Poisson: the background follows the mean, not the noise minima
    assert abs(np.mean(estimate - background)) < 0.25 * sigma.mean()
    hump = np.abs(GRID - 25) < 2
    assert abs(np.mean(estimate[hump] - background[hump])) < 0.5 * sigma[hump].mean()

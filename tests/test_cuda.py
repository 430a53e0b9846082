"""The CUDA batch simulator against the CPU one (simulate_patterns): the same patterns up to
rounding without noise, statistically equivalent (and nearly identical) noise, the same
NaN rows and messages for failing items, and the same argument errors.

Every test needs a CUDA build of xrdfast and a visible GPU; without them the module skips
(and the default pytest run deselects the ``cuda`` marker anyway: run with ``-m cuda``).
"""
from __future__ import annotations

import numpy as np
import pytest

import xrdfast
from xrdfast import _core, default_grid, from_arrays, make_params


def _why_no_cuda() -> str:
    if not xrdfast.build_info()["cuda"]:
        return "xrdfast was built without CUDA"
    if not hasattr(_core, "simulate_patterns_cuda"):
        return "this build does not bind the CUDA simulator"
    if not _core.cuda_available():
        return "no CUDA device visible"
    return ""


pytestmark = [pytest.mark.cuda, pytest.mark.skipif(bool(_why_no_cuda()), reason=_why_no_cuda() or "CUDA present")]

# Noiseless rows, per row, relative to the row's largest value. Both paths evaluate the same
# float64 formulas (peak positions and widths even on the same host code); they differ by
# the device's and glibc's last-bit rounding of exp, sqrt, sincos, fused multiply-adds and
# the order of atomic additions (~1e-15), then by the float32 rounding of the output (at
# most 6e-8 of the maximum on each side). 1e-6 is eight times that, and small enough to see
# a Lorentzian tail cut at the wrong place (the cut sits at 1e-5 of the strongest peak).
CUDA_TOLERANCE = 1e-6
# Noisy rows: both paths walk the same stream (seed, item index) point by point, so a point
# differs only where a rounding difference flips a Poisson draw (~1e-13 per point); allow
# far more than that, but few enough to prove the streams are the same.
SAME_STREAM_FRACTION = 0.99
# Statistical equivalence of independent noise: per-point means within this many standard
# errors, total variances within this ratio (24 patterns x ~8500 points: the ratio's own
# standard error is under 1 %).
MEAN_SIGMAS = 6.0
VARIANCE_RATIO = 0.1


def nacl():
    return from_arrays((5.6402,) * 3 + (90,) * 3, 225, ["Na1+", "Cl1-"], [[0, 0, 0], [0.5, 0.5, 0.5]],
                       b_iso=[1.1, 0.9], name="NaCl")


def sphalerite():  # ZnS, F-43m: no centre of symmetry, so F(h) != F(-h) with anomalous scattering
    return from_arrays((5.4093,) * 3 + (90,) * 3, 216, ["Zn", "S"], [[0, 0, 0], [0.25, 0.25, 0.25]],
                       b_iso=[0.6, 0.5], name="ZnS")


def rutile():
    return from_arrays((4.5937, 4.5937, 2.9587, 90, 90, 90), 136, ["Ti4+", "O2-"],
                       [[0, 0, 0], [0.30478, 0.30478, 0]], b_iso=[0.42, 0.60], name="rutile")


def nacl_p1():
    """NaCl written in P1: each family splits into lines that coincide to rounding, which
    both paths must merge into one peak as the Fm-3m description draws it."""
    shifts = [[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]]
    frac = [s for s in shifts] + [[(x + 0.5) % 1 for x in s] for s in shifts]
    return from_arrays((5.6402,) * 3 + (90,) * 3, 1, ["Na1+"] * 4 + ["Cl1-"] * 4, frac,
                       b_iso=[1.1] * 4 + [0.9] * 4, name="NaCl-P1")


def quartz():  # P3_221, partially occupied O to exercise occupancies
    return from_arrays((4.9137, 4.9137, 5.4047, 90, 90, 120), 154, ["Si", "O"],
                       [[0.4697, 0.0, 0.0], [0.4135, 0.2669, 0.1191]], occupancy=[1.0, 0.95],
                       b_iso=[0.6, 1.0], name="quartz")


def triclinic(n_sites: int = 16, seed: int = 3):
    """A P-1 cell with thousands of reflections below 90 degrees: sites drawn at random, at
    least 1.6 Å from every other atom (and its inversion image and lattice translates)."""
    cell = (9.1, 10.3, 11.7, 81.0, 96.0, 103.0)
    a, b, c = cell[:3]
    al, be, ga = np.radians(cell[3:])
    v = np.sqrt(1 - np.cos(al) ** 2 - np.cos(be) ** 2 - np.cos(ga) ** 2 + 2 * np.cos(al) * np.cos(be) * np.cos(ga))
    orth = np.array([[a, b * np.cos(ga), c * np.cos(be)],
                     [0, b * np.sin(ga), c * (np.cos(al) - np.cos(be) * np.cos(ga)) / np.sin(ga)],
                     [0, 0, c * v / np.sin(ga)]])
    shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)])
    rng = np.random.default_rng(seed)
    placed: list[np.ndarray] = []
    while len(placed) < n_sites:
        x = rng.random(3)
        others = np.array([p for q in placed for p in (q, -q)] + [-x])
        d = (others[:, None, :] - x[None, None, :] + shifts[None, :, :]) @ orth.T
        if np.min(np.linalg.norm(d, axis=-1)) > 1.6:
            placed.append(x)
    types = ["Ba", "Fe3+", "Si", "O", "O", "O", "Ca", "O"] * (n_sites // 8 + 1)
    return from_arrays(cell, 2, types[:n_sites], np.array(placed), occupancy=rng.uniform(0.6, 1.0, n_sites),
                       b_iso=rng.uniform(0.3, 1.5, n_sites), name="triclinic")


PARAMETER_SETS = [
    {},
    {"shape": "tch", "U": 0.01, "V": -0.003, "W": 0.004, "X": 0.03, "Y": 0.01, "crystallite_size": 40,
     "microstrain": 0.002, "asymmetry": 0.3},
    {"march_dollase_r": 0.7, "preferred_orientation": (1, 1, 1), "zero_shift": -0.04, "sample_displacement": 0.15,
     "background_chebyshev": [0.2, -0.1, 0.05, 0.02, 0.01], "hump_amplitude": 0.3, "hump_center": 22.0,
     "hump_fwhm": 8.0},
    {"anomalous": True, "monochromator_two_theta": 26.6, "geometry": "debye_scherrer", "mu_r": 0.4, "eta": 0.0},
    {"radiation": "neutron", "wavelength": 1.594, "wavelength2": 0.0, "eta": 1.0, "W": 0.01},
    {"wavelength": 0.709317, "wavelength2": 0.713607, "anomalous": True, "normalize": False},
]


def _items():
    crystals = [nacl(), sphalerite(), rutile(), quartz(), nacl_p1()]
    return [[(c, 1.0)] for c in crystals] + [[(crystals[0], 0.7), (crystals[2], 0.2), (crystals[3], 0.1)]]


def _both(items, params, grid, seed=0):
    """(gpu, gpu_errors, cpu, cpu_errors) for the same call."""
    gpu, gpu_errors = _core.simulate_patterns_cuda(items, params, grid, seed)
    cpu, cpu_errors = _core.simulate_patterns(items, params, grid, seed, 0)
    assert gpu.dtype == np.float32 and gpu.shape == cpu.shape == (len(items), len(grid))
    return gpu, gpu_errors, cpu, cpu_errors


def _assert_rows_match(gpu, cpu):
    for i, (g, c) in enumerate(zip(gpu, cpu)):
        scale = np.max(np.abs(c))
        assert scale > 0, f"row {i} is empty on the CPU"
        worst = np.max(np.abs(g.astype(np.float64) - c)) / scale
        assert worst <= CUDA_TOLERANCE, f"row {i}: GPU and CPU differ by {worst:.2e} of the maximum"


def test_cuda_available():
    assert _core.cuda_available() is True


@pytest.mark.parametrize("params", PARAMETER_SETS, ids=range(len(PARAMETER_SETS)))
def test_noiseless_patterns_match_cpu(params):
    gpu, gpu_errors, cpu, cpu_errors = _both(_items(), [make_params(**params)], default_grid())
    assert gpu_errors == cpu_errors == [""] * len(gpu)
    _assert_rows_match(gpu, cpu)


def test_one_parameter_set_per_item():
    items = _items()
    params = [make_params(**PARAMETER_SETS[i % len(PARAMETER_SETS)]) for i in range(len(items))]
    gpu, gpu_errors, cpu, cpu_errors = _both(items, params, default_grid())
    assert gpu_errors == cpu_errors == [""] * len(items)
    _assert_rows_match(gpu, cpu)


def test_thousands_of_lines():
    crystal = triclinic()
    params = [make_params(), make_params(**PARAMETER_SETS[1]), make_params(**PARAMETER_SETS[3])]
    items = [[(crystal, 1.0)]] * len(params)
    gpu, _, cpu, _ = _both(items, params, default_grid())
    _assert_rows_match(gpu, cpu)


@pytest.mark.parametrize("grid", [
    np.arange(5.0, 95.0, 0.003),      # 30000 points: a row (240 KB) exceeds shared memory; global atomics
    np.linspace(10.0, 80.0, 701),     # coarse
    np.array([31.0, 31.7, 45.4]),     # three points, two of them on NaCl lines
], ids=["global-atomics", "coarse", "three-points"])
def test_grids(grid):
    gpu, _, cpu, _ = _both(_items()[:3], [make_params(**PARAMETER_SETS[1])], grid)
    _assert_rows_match(gpu, cpu)


def test_patterns_without_peaks():
    grid = np.linspace(5.0, 6.0, 101)  # no NaCl line reaches 5..11 degrees
    gpu, gpu_errors, cpu, cpu_errors = _both([[(nacl(), 1.0)]], [make_params()], grid)
    assert gpu_errors == cpu_errors == [""]
    assert np.array_equal(gpu, cpu) and not gpu.any()
    # lines of zero (or, with no cell mass, undefined) intensity are no peaks at all
    vacant = from_arrays((5.6402,) * 3 + (90,) * 3, 225, ["Na1+", "Cl1-"], [[0, 0, 0], [0.5, 0.5, 0.5]],
                         occupancy=0.0, name="vacant")
    items = [[(vacant, 1.0)], [(nacl(), 1.0), (quartz(), 0.0)]]
    gpu, gpu_errors, cpu, cpu_errors = _both(items, [make_params()], default_grid())
    assert gpu_errors == cpu_errors == ["", ""]
    assert np.array_equal(gpu[0], cpu[0]) and not gpu[0].any()
    _assert_rows_match(gpu[1:], cpu[1:])


def test_failing_items_give_nan_rows_and_the_cpu_messages():
    good = [(nacl(), 1.0)]
    polonium = from_arrays((3.35,) * 3 + (90,) * 3, 221, ["Po"], [[0, 0, 0]], name="Po")  # no neutron length
    items = [good, [], good, [(polonium, 1.0)], [(nacl(), 0.0)], good, good]
    params = [make_params(), make_params(), make_params(**PARAMETER_SETS[1]), make_params(radiation="neutron"),
              make_params(), make_params(wavelength=1.0, wavelength2=0.0, anomalous=True), make_params()]
    gpu, gpu_errors, cpu, cpu_errors = _both(items, params, default_grid())
    assert gpu_errors == cpu_errors
    failed = [bool(e) for e in cpu_errors]
    assert failed == [False, True, False, True, True, True, False]
    assert np.isnan(gpu[failed]).all() and np.isnan(cpu[failed]).all()
    ok = np.logical_not(failed)
    assert np.isfinite(gpu[ok]).all()
    _assert_rows_match(gpu[ok], cpu[ok])


def test_argument_errors_as_cpu():
    items = _items()[:2]
    with pytest.raises(ValueError, match="one parameter set, or one per structure"):
        _core.simulate_patterns_cuda(items, [make_params()] * 3, default_grid(), 0)
    with pytest.raises(ValueError, match="increase strictly"):
        _core.simulate_patterns_cuda(items, [make_params()], np.array([10.0, 20.0, 15.0]), 0)
    with pytest.raises(ValueError, match="grid"):
        _core.simulate_patterns_cuda(items, [make_params()], np.zeros((2, 2)), 0)
    empty, errors = _core.simulate_patterns_cuda([], [make_params()], default_grid(), 0)
    assert empty.shape == (0, len(default_grid())) and errors == []


NOISY = {"counts": 500.0, "read_noise": 0.01, "background_chebyshev": [0.05]}


def _noisy(simulate, seed, n=24):
    items = [[(nacl(), 1.0)]] * n
    out, errors = simulate(items, [make_params(**NOISY)], default_grid(), seed)
    assert errors == [""] * n
    return out.astype(np.float64)


def _gpu(items, params, grid, seed):
    return _core.simulate_patterns_cuda(items, params, grid, seed)


def _cpu(items, params, grid, seed):
    return _core.simulate_patterns(items, params, grid, seed, 0)


def _agreeing_fraction(a, b):
    return np.mean(np.abs(a - b) <= CUDA_TOLERANCE)


def test_noise_follows_the_cpu_streams():
    gpu, cpu = _noisy(_gpu, seed=7), _noisy(_cpu, seed=7)
    assert _agreeing_fraction(gpu, cpu) >= SAME_STREAM_FRACTION
    assert _agreeing_fraction(gpu, _noisy(_gpu, seed=7)) >= SAME_STREAM_FRACTION  # reproducible
    assert _agreeing_fraction(gpu, _noisy(_gpu, seed=8)) < 0.5                    # and seeded


def test_noise_is_statistically_equivalent_to_cpu():
    gpu, cpu = _noisy(_gpu, seed=1), _noisy(_cpu, seed=2)  # independent draws
    n = len(gpu)
    mean_g, mean_c = gpu.mean(axis=0), cpu.mean(axis=0)
    var_g, var_c = gpu.var(axis=0, ddof=1), cpu.var(axis=0, ddof=1)
    stderr = np.sqrt((var_g + var_c) / n) + 1e-9
    assert np.max(np.abs(mean_g - mean_c) / stderr) <= MEAN_SIGMAS
    assert abs(var_g.sum() / var_c.sum() - 1) <= VARIANCE_RATIO
    # and both carry the noise asked for: off the peaks, read noise plus the background's
    # Poisson noise (background 0.05 of the maximum, so 0.05 * counts counts)
    floor = np.sqrt(NOISY["read_noise"] ** 2 + NOISY["background_chebyshev"][0] / NOISY["counts"])
    assert np.sqrt(np.median(var_g)) == pytest.approx(floor, rel=0.25)
    assert np.sqrt(np.median(var_c)) == pytest.approx(floor, rel=0.25)

"""The C++ simulator against its NumPy twin (xrdfast.reference) and against the physics
it claims: area conservation, Caglioti widths, K-alpha2 position and ratio, March-Dollase
normalisation and direction, shifts, noise statistics, determinism, and clear errors."""
from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import xrdfast
from xrdfast import from_arrays, make_params, reference, simulate, simulate_batch
from xrdfast.dataset import generate_samples
from xrdfast.simulate import MAX_GRID_POINTS, PARAMETER_RANGES, grid_from_range, parameter_table

# Float32 output vs the float64 reference: 1e-6 of the maximum is float32 rounding plus
# the order of summation.
REFERENCE_TOLERANCE = 2e-6


def nacl():
    return from_arrays((5.6402,) * 3 + (90,) * 3, 225, ["Na1+", "Cl1-"], [[0, 0, 0], [0.5, 0.5, 0.5]],
                       b_iso=[1.1, 0.9], name="NaCl")


def rutile():
    return from_arrays((4.5937, 4.5937, 2.9587, 90, 90, 90), 136, ["Ti4+", "O2-"],
                       [[0, 0, 0], [0.30478, 0.30478, 0]], b_iso=[0.42, 0.60], name="rutile")


def baddeleyite():  # ZrO2, P2_1/c (Howard, Hill & Reichert, Acta Cryst. B44, 116 (1988))
    return from_arrays((5.1505, 5.2116, 5.3173, 90, 99.23, 90), 14, ["Zr", "O", "O"],
                       [[0.2754, 0.0395, 0.2083], [0.0700, 0.3317, 0.3447], [0.4496, 0.7569, 0.4792]],
                       b_iso=[0.3, 0.5, 0.5], name="baddeleyite")


def quartz():  # alpha-quartz P3_221 (Levien et al., Am. Mineral. 65, 920 (1980))
    return from_arrays((4.9137, 4.9137, 5.4047, 90, 90, 120), 154, ["Si", "O"],
                       [[0.4697, 0.0, 0.0], [0.4135, 0.2669, 0.1191]], b_iso=[0.6, 1.0], name="quartz")


STRUCTURES = [nacl, rutile, baddeleyite, quartz]
PARAMETER_SETS = [
    {},
    {"shape": "tch", "U": 0.01, "V": -0.003, "W": 0.004, "X": 0.03, "Y": 0.01, "crystallite_size": 40, "microstrain": 0.002},
    {"march_dollase_r": 0.7, "preferred_orientation": (0, 0, 1), "asymmetry": 0.05, "zero_shift": -0.04,
     "sample_displacement": 0.15, "background_chebyshev": [0.2, -0.1, 0.05, 0.02], "hump_amplitude": 0.3,
     "hump_center": 22.0, "hump_fwhm": 8.0},
    {"anomalous": True, "monochromator_two_theta": 26.6, "geometry": "debye_scherrer", "mu_r": 0.4, "eta": 0.0},
    {"radiation": "neutron", "wavelength": 1.594, "wavelength2": 0.0, "eta": 1.0},
    {"wavelength": 0.709317, "wavelength2": 0.713607, "normalize": False},
]


@pytest.mark.parametrize("make", STRUCTURES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("params", PARAMETER_SETS, ids=range(len(PARAMETER_SETS)))
def test_pattern_equals_numpy_reference(make, params):
    crystal = make()
    grid = xrdfast.default_grid()
    fast = simulate(crystal, grid=grid, **params)
    slow = reference.simulate(crystal, make_params(**params), grid)
    assert np.max(np.abs(fast.intensity - slow)) <= REFERENCE_TOLERANCE * np.max(np.abs(slow))
    ref_lines = reference.lines(crystal, make_params(**params), grid[-1])
    assert len(ref_lines) == len(fast.lines["d"])
    index = {tuple(int(x) for x in h): i for i, h in enumerate(fast.lines["hkl"])}
    for line in ref_lines:
        i = index[line.hkl]  # same canonical representative of each family
        assert fast.lines["multiplicity"][i] == line.multiplicity
        assert fast.lines["d"][i] == pytest.approx(line.d, rel=1e-12)
        assert fast.lines["f2"][i] == pytest.approx(line.f2, rel=1e-9, abs=1e-9)
        assert fast.lines["texture"][i] == pytest.approx(line.texture, rel=1e-12)
        assert fast.lines["lp"][i] == pytest.approx(line.lp, rel=1e-12)


LINE = 45.3  # the (100) line of a 2 Å primitive cubic cell; the next, (110), is at 66 degrees


def _single_line_pattern(**params):
    """A pattern holding one line alone in its window, on a fine grid, unnormalised."""
    grid = np.arange(35.0, 56.0, 0.0005)
    cubic = from_arrays((2.0, 2.0, 2.0, 90, 90, 90), 221, ["Fe"], [[0, 0, 0]], name="sc")
    return grid, simulate(cubic, grid=grid, normalize=False, **params)


@pytest.mark.parametrize("params", [dict(eta=0.0), dict(eta=0.5), dict(eta=1.0), dict(shape="tch", X=0.05, W=0.003)])
def test_profile_area_equals_integrated_intensity(params):
    grid, p = _single_line_pattern(wavelength2=0.0, **params)
    line = np.argmin(np.abs(p.lines["two_theta"] - LINE))
    assert abs(p.lines["two_theta"][line] - LINE) < 0.1
    area = np.trapezoid(p.intensity, grid)
    assert area == pytest.approx(p.lines["intensity"][line], rel=2e-4)


@pytest.mark.parametrize("U, V, W", [(0.0, 0.0, 0.004), (0.02, -0.01, 0.005), (0.05, 0.0, 0.001)])
def test_gaussian_fwhm_follows_caglioti(U, V, W):
    grid, p = _single_line_pattern(wavelength2=0.0, eta=0.0, U=U, V=V, W=W)
    y = p.intensity
    above = grid[y >= y.max() / 2]
    theta = math.radians(p.lines["two_theta"][np.argmin(np.abs(p.lines["two_theta"] - LINE))] / 2)
    expected = math.sqrt(U * math.tan(theta) ** 2 + V * math.tan(theta) + W)
    assert above[-1] - above[0] == pytest.approx(expected, abs=0.002)


def test_kalpha2_position_and_ratio():
    grid, p = _single_line_pattern(eta=0.0, W=0.0004)
    d = p.lines["d"][np.argmin(np.abs(p.lines["two_theta"] - LINE))]
    tt1 = 2 * math.degrees(math.asin(1.540593 / (2 * d)))
    tt2 = 2 * math.degrees(math.asin(1.544414 / (2 * d)))
    peak1 = grid[np.argmax(np.where(grid < (tt1 + tt2) / 2, p.intensity, 0))]
    peak2 = grid[np.argmax(np.where(grid > (tt1 + tt2) / 2, p.intensity, 0))]
    assert peak1 == pytest.approx(tt1, abs=0.001) and peak2 == pytest.approx(tt2, abs=0.001)
    split = (tt1 + tt2) / 2
    area1 = np.trapezoid(np.where(grid < split, p.intensity, 0), grid)
    area2 = np.trapezoid(np.where(grid >= split, p.intensity, 0), grid)
    lp = lambda tt: (1 + math.cos(math.radians(tt)) ** 2) / (math.sin(math.radians(tt / 2)) ** 2 * math.cos(math.radians(tt / 2)))
    assert area2 / area1 == pytest.approx(0.5 * lp(tt2) / lp(tt1), rel=1e-3)


def test_march_dollase_is_a_no_op_at_r1_and_orients_otherwise():
    crystal = rutile()
    base = simulate(crystal)
    same = simulate(crystal, march_dollase_r=1.0, preferred_orientation=(1, 1, 0))
    assert np.array_equal(base.intensity, same.intensity)
    platy = simulate(crystal, march_dollase_r=0.6, preferred_orientation=(0, 0, 1)).lines
    hkl = platy["hkl"]
    along = (hkl[:, 0] == 0) & (hkl[:, 1] == 0)                 # 00l: parallel to the axis
    across = hkl[:, 2] == 0                                       # hk0: perpendicular to it
    r = 0.6
    assert np.allclose(platy["texture"][along], r ** -3)          # (r^2)^(-3/2)
    assert np.allclose(platy["texture"][across], r ** 1.5)        # (1/r)^(-3/2)
    # the weight only redistributes: it averages to 1 over all orientations
    cos = np.linspace(-1, 1, 200001)
    assert np.trapezoid((r * r * cos**2 + (1 - cos**2) / r) ** -1.5, cos) / 2 == pytest.approx(1.0, rel=1e-6)


def test_zero_shift_moves_every_line():
    base = simulate(rutile()).lines["two_theta"]
    shifted = simulate(rutile(), zero_shift=0.123).lines["two_theta"]
    assert np.allclose(shifted - base, 0.123)


def test_poisson_noise_statistics_and_determinism():
    crystal = nacl()
    counts = 400.0
    result = simulate_batch([crystal] * 64, {"counts": counts, "normalize": False, "background_chebyshev": [0.5]}, seed=7)
    clean = simulate(crystal, normalize=False, background_chebyshev=[0.5]).intensity
    noisy = result.patterns.astype(float) / clean.max() * counts  # back to counts
    expected = clean / clean.max() * counts
    flat = expected > 150  # background region and peaks: counts well above zero
    mean, var = noisy[:, flat].mean(axis=0), noisy[:, flat].var(axis=0, ddof=1)
    assert np.mean(mean / expected[flat]) == pytest.approx(1.0, abs=0.01)
    assert np.mean(var / expected[flat]) == pytest.approx(1.0, abs=0.05)  # Poisson: variance = mean
    again = simulate_batch([crystal] * 64, {"counts": counts, "normalize": False, "background_chebyshev": [0.5]},
                           seed=7, n_threads=1)
    assert np.array_equal(result.patterns, again.patterns)  # same seed, any thread count
    other = simulate_batch([crystal] * 2, {"counts": counts}, seed=8)
    assert not np.array_equal(other.patterns[0], result.patterns[0])


def test_batch_rows_equal_single_calls_and_thread_count_does_not_matter():
    structures = [nacl(), rutile(), baddeleyite(), quartz()] * 3
    params = [make_params(zero_shift=0.01 * i, eta=0.1 * (i % 10)) for i in range(len(structures))]
    one = simulate_batch(structures, params, n_threads=1)
    many = simulate_batch(structures, params, n_threads=0)
    assert np.array_equal(one.patterns, many.patterns)
    for i, s in enumerate(structures):
        single = simulate(s, zero_shift=0.01 * i, eta=0.1 * (i % 10)).intensity
        assert np.allclose(one.patterns[i], single, atol=1e-6)


def test_impurity_phases_mix_by_weight_fraction():
    r, n = rutile(), nacl()
    pure_r, pure_n = simulate(r).lines["intensity"], simulate(n).lines["intensity"]
    mixed = simulate(r, impurities=[(n, 0.05)]).lines
    assert set(np.unique(mixed["phase"])) == {0, 1}
    # the main phase keeps 95 % of the weight, hence of its intensity; the impurity 5 %
    assert np.allclose(mixed["intensity"][mixed["phase"] == 0], 0.95 * pure_r)
    assert np.allclose(mixed["intensity"][mixed["phase"] == 1], 0.05 * pure_n)
    # weight fractions of a mixture are relative: (0.95, 0.05) is (19, 1)
    same = simulate([(r, 19.0), (n, 1.0)]).lines
    assert np.allclose(same["intensity"], mixed["intensity"])
    # Hill & Howard: a pure phase's line intensity is m |F|^2 LP T / (M V)
    lines = simulate(r).lines
    assert np.allclose(lines["intensity"], lines["multiplicity"] * lines["f2"] * lines["lp"] / (r.cell_mass * r.volume))
    with pytest.raises(ValueError, match="impurity weight fractions"):
        simulate(r, impurities=[(n, 0.6), (n, 0.5)])


@pytest.mark.parametrize("make, match", [
    (lambda: from_arrays((5, 5, 5, 90, 90, 90), 1, ["Na", "Cl"], [[0, 0, 0], [0.01, 0, 0]]), "overlap"),
    (lambda: from_arrays((5, 5, 5, 90, 90, 90), 1, ["Na"], [[np.nan, 0, 0]]), "non-finite"),
    # the numbers as the user gave them, not std::to_string's "-5.000000"
    (lambda: from_arrays((5, 5, -5, 90, 90, 90), 1, ["Na"], [[0, 0, 0]]),
     r"lengths must be positive and finite \(got a=5, b=5, c=-5 Å\)"),
    (lambda: from_arrays((5, 5, 5, 120, 120, 120), 1, ["Na"], [[0, 0, 0]]),
     "angles alpha=120, beta=120, gamma=120 give zero or imaginary volume"),
    (lambda: from_arrays((5, 5, 5, 90, 180.5, 90), 1, ["Na"], [[0, 0, 0]]), r"between 0 and 180 degrees \(got 90, 180\.5, 90\)"),
    (lambda: from_arrays((5, 5, 5, 90, 90, 90), 1, ["Xx"], [[0, 0, 0]]), "Xx"),
    (lambda: from_arrays((5, 5, 5, 90, 90, 90), 1, ["Na"], [[0, 0, 0]], occupancy=1.5), "occupancy"),
    (lambda: from_arrays((5, 5, 5, 90, 90, 90), 221, ["Na"], [[0.02, 0, 0]]), "symmetry image"),
])
def test_bad_structures_raise_clear_value_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("params, match", [
    (dict(wavelength=50.0), "wavelength"), (dict(wavelength=-1.0), "wavelength"), (dict(eta=1.5), "eta"),
    (dict(W=-1.0), r"W = -1 is outside its range 0 \.\. 1"), (dict(march_dollase_r=0.0), "march_dollase_r = 0 is outside"),
    (dict(counts=float("nan")), "counts = nan must be finite"),
    (dict(bogus=1), "unknown simulation parameter"), (dict(shape="lorentzian"), "expected one of"),
])
def test_bad_parameters_raise_clear_value_errors(params, match):
    with pytest.raises(ValueError, match=match):
        simulate(nacl(), **params)


@pytest.mark.parametrize("grid, match", [
    (np.array([10.0]), "at least 2"), (np.array([10.0, 9.0, 11.0]), "increase"), (np.array([0.0, 10.0]), r"\(0, 180\)"),
    (np.array([10.0, np.inf]), "non-finite"),
])
def test_bad_grids_raise_clear_value_errors(grid, match):
    with pytest.raises(ValueError, match=match):
        simulate(nacl(), grid=grid)


def test_a_bad_item_does_not_lose_the_batch(tmp_path):
    broken = tmp_path / "broken.cif"
    broken.write_text("data_x\n_cell_length_a 5\nloop_\n_atom_site_label\n")
    result = simulate_batch([nacl(), str(broken), rutile(), str(tmp_path / "missing.cif")])
    assert list(result.ok) == [True, False, True, False]
    assert "broken.cif" in result.errors[1] and "missing.cif" in result.errors[3]
    assert np.isnan(result.patterns[1]).all() and np.isfinite(result.patterns[[0, 2]]).all()
    assert np.allclose(result.patterns[0], simulate(nacl()).intensity, atol=1e-6)


def test_backend_choice():
    crystal = nacl()
    with pytest.raises(ValueError, match="backend must be"):
        simulate_batch([crystal], backend="gpu")
    # 'auto' falls back to the CPU path where this build or machine has no CUDA device
    auto = simulate_batch([crystal] * 3, backend="auto")
    if not xrdfast._core.cuda_available():
        assert np.array_equal(auto.patterns, simulate_batch([crystal] * 3).patterns)
        with pytest.raises(RuntimeError, match="CUDA"):
            simulate_batch([crystal], backend="cuda")


# ------------------------------------------------------------------ parameter ranges (issue 13 item 9)

BAD_PARAMETERS = json.loads((Path(__file__).resolve().parent / "data" / "bad_parameters.json").read_text())["cases"]


@pytest.mark.parametrize("case", BAD_PARAMETERS, ids=lambda c: ",".join(c["params"]))
def test_out_of_range_parameters_are_refused_by_every_entry_point(case):
    params, message = case["params"], case["message"]
    with pytest.raises(ValueError, match=re.escape(message)):
        simulate(nacl(), **params)
    with pytest.raises(ValueError, match=re.escape(message)):
        simulate_batch([nacl()], params)
    raw = xrdfast.SimulationParams()  # what the curriculum and the CUDA path call, unconverted
    for name, value in params.items():
        if name != "geometry":
            setattr(raw, name, value)
    with pytest.raises(ValueError, match=re.escape(message)):
        raw.validate()


# Where each range ends a pattern must still be drawn: finite, with its peaks.
_WIDE_PROFILE = {"U": 1.0, "W": 1.0, "X": 0.01, "wavelength2": 0.0}


@pytest.mark.parametrize("name", [n for n in PARAMETER_RANGES if n not in ("preferred_orientation",)])
def test_every_parameter_is_refused_just_outside_its_range_and_drawn_at_its_ends(name):
    r = PARAMETER_RANGES[name]
    as_value = (lambda v: [v]) if name == "background_chebyshev" else (lambda v: v)
    for outside in (r.lo - max(abs(r.lo), 1.0) * 1e-3 - 1e-9, r.hi * 1.001 + 1e-9, math.inf, math.nan):
        if r.zero_is_off and outside == 0:
            continue
        with pytest.raises(ValueError) as info:
            make_params(**{name: as_value(outside)})
        text = str(info.value)
        assert name in text and r.text() in text and (f"{outside:g}" in text or "nan" in text or "inf" in text)
    for end in (r.lo, r.hi):
        # at 0.05 Å the default 5-90 deg hold too many reflections, at 5 Å none of NaCl's
        grid = {0.05: np.linspace(5, 20, 1501), 5.0: np.linspace(5, 175, 1701)}.get(end) if "wavelength" in name else None
        doublet = {"wavelength": end} if name == "wavelength2" else {}  # a K-alpha2 lies beside its K-alpha1
        pattern = simulate(nacl(), grid=grid, **{**_WIDE_PROFILE, **doublet, name: as_value(end)}).intensity
        assert np.isfinite(pattern).all() and np.ptp(pattern) > 0, (name, end)


def test_the_readme_holds_the_current_parameter_table():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "scripts" / "gen_parameter_table.py"
    spec = importlib.util.spec_from_file_location("gen_parameter_table", path)
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert generator.main(["--check"]) == 0, "regenerate: python scripts/gen_parameter_table.py"
    assert parameter_table() in generator.README.read_text(encoding="utf-8")


@pytest.mark.parametrize("stage", ["1", "2", "po"])
def test_the_curriculum_draws_inside_the_parameter_ranges(stage):
    from xrdfast.dataset import stage_distribution

    settings = stage_distribution(stage).to_dict()
    background = {"background_level", "background_slope", "background_curvature"}
    checked = 0
    for key, value in settings.items():
        name = "background_chebyshev" if key in background else key
        if name in PARAMETER_RANGES and isinstance(value, tuple):
            for end in value:  # draws are uniform or log-uniform between the two ends
                assert PARAMETER_RANGES[name].allows(end), (stage, key, value, PARAMETER_RANGES[name].text())
            checked += 1
    assert checked >= 15
    # and the generator's samples of a stage (every nuisance on) are all drawn
    _, records = generate_samples(stage, 5, 0, 16, n_threads=1)
    assert (records["status"] == 0).all(), list(records["error"])


# ------------------------------------------------------------------ threads and sizes (issue 13 items 7, 8, 11)

def test_thread_counts_are_clamped_or_refused_in_one_helper():
    grid = np.linspace(20, 60, 400)
    one = simulate_batch([nacl(), rutile()], grid=grid, n_threads=1).patterns
    for huge in (1000, 100_000, 2**70, np.int64(10**12)):  # 1000 ended in libgomp, 100000 segfaulted
        assert np.array_equal(simulate_batch([nacl(), rutile()], grid=grid, n_threads=huge).patterns, one)
    patterns, _ = generate_samples("1", 2, 0, 2, grid=grid, n_threads=100_000)
    assert np.array_equal(patterns, generate_samples("1", 2, 0, 2, grid=grid, n_threads=1)[0])
    for bad, message in [(-1, "n_threads = -1: expected 0"), (2.5, "n_threads = 2.5: expected a whole number"),
                         ("4", "n_threads = '4'"), (-(2**70), "expected 0")]:
        with pytest.raises(ValueError, match=re.escape(message)):
            simulate_batch([nacl()], grid=grid, n_threads=bad)
        with pytest.raises(ValueError, match=re.escape(message)):
            generate_samples("1", 2, 0, 2, grid=grid, n_threads=bad)


def test_grids_are_bounded_before_anything_is_allocated():
    huge = np.linspace(5, 90, MAX_GRID_POINTS + 1)
    with pytest.raises(ValueError, match="more than the 1000000"):
        simulate(nacl(), grid=huge)
    with pytest.raises(ValueError, match="more than the 1000000"):
        simulate_batch([nacl()] * 1000, grid=huge)
    with pytest.raises(ValueError, match="more than the 1000000"):
        generate_samples("1", 0, 0, 1000, grid=huge)
    assert len(grid_from_range(5, 90, 0.01)) == 8501
    for args, message in [((5, 90, 0), "step must be positive"), ((5, 90, 1e-6), "85,000,001 points"),
                          ((0, 90, 0.1), "inside (0, 180)"), ((5, 90, math.nan), "finite")]:
        with pytest.raises(ValueError, match=re.escape(message)):
            grid_from_range(*args)


def test_messages_keep_their_numbers_with_cctbx_imported_after_xrdfast() -> None:
    """cctbx's wheel bundles its own libstdc++; imported after xrdfast it left our streams
    writing nothing for a number ("wavelength =  is outside its range  .."). A fresh
    interpreter in that import order gets the same messages as one that imports cctbx first."""
    code = ("import sys\n"
            "if sys.argv[1] == 'after':\n"
            "    import xrdfast, cctbx.sgtbx\n"
            "else:\n"
            "    import cctbx.sgtbx, xrdfast\n"
            "nacl = xrdfast.from_arrays((5.64,) * 3 + (90,) * 3, 225, ['Na', 'Cl'], [[0, 0, 0], [0.5, 0.5, 0.5]])\n"
            "for bad in (lambda: xrdfast.simulate(nacl, wavelength=-1.5),\n"
            "            lambda: xrdfast.from_arrays((0.1, 5, 5, 90, 90, 90), 1, ['Na'], [[0, 0, 0]])):\n"
            "    try:\n"
            "        bad()\n"
            "    except ValueError as error:\n"
            "        print(error)\n")
    runs = {order: subprocess.run([sys.executable, "-c", code, order], capture_output=True, text=True, timeout=120)
            for order in ("after", "before")}
    assert all(r.returncode == 0 for r in runs.values()), [r.stderr for r in runs.values()]
    assert runs["after"].stdout == runs["before"].stdout
    assert "wavelength = -1.5 is outside its range 0.05 .. 5" in runs["after"].stdout
    assert "cell length a = 0.1" in runs["after"].stdout

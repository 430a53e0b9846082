"""Measured-pattern readers: every good fixture reads to the analytic pattern it was
written from (tests/data/make_patterns.py), every bad one is a PatternReadError that names
the file and the problem, damaged files never escape as another exception, and to_grid maps
a pattern onto the model grid through d-spacing (Bragg's law, computed here independently).
"""
from __future__ import annotations

import importlib.util
import math
import os
import random
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from xrdfast.readers import (
    ANODE_WAVELENGTHS,
    CU_KA1,
    FORMATS,
    MAX_PATTERN_BYTES,
    MeasuredPattern,
    PatternReadError,
    read_pattern,
    to_grid,
)

DATA = Path(__file__).resolve().parent / "data"
MO_KA1 = ANODE_WAVELENGTHS["Mo"][0]
# Every fixture stores whole counts, exactly representable in every format (float32
# included), so intensities must come back exactly; 2θ from a float32 start and step
# (RAW v1/v2) drifts by at most 551 × 1.5e-9°.
TWO_THETA_ATOL = 2e-6  # degrees
# esds are written rounded (to 0.01 in ESD records, to whole counts in the CIF)
SIGMA_ATOL = 0.5
# Å: RAW v1/v2 store the wavelength as float32
WAVELENGTH_ATOL = 1e-6


def _fixture_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_patterns", DATA / "make_patterns.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_patterns"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    module.all_files()  # fills GOOD and BAD
    return module


fixtures = _fixture_script()
GOOD = sorted(fixtures.GOOD)
BAD = sorted(p.name for p in fixtures.BAD_DIR.iterdir() if p.name != "README.md")


def _expected(name: str) -> tuple[np.ndarray, np.ndarray]:
    if fixtures.GOOD[name].pattern_wavelength == fixtures.MO:
        return fixtures.MO_X, fixtures.MO_Y
    return fixtures.X, fixtures.Y


def bragg_two_theta(d: float, wavelength: float) -> float:
    return 2.0 * math.degrees(math.asin(wavelength / (2.0 * d)))


# ----------------------------------------------------------------------------- fixtures

def test_the_committed_fixtures_are_what_the_script_writes():
    assert fixtures.stale() == []


def test_there_is_a_good_file_for_every_format_and_many_bad_ones():
    assert {fixtures.GOOD[name].format for name in GOOD} == set(FORMATS)
    assert len(BAD) >= 55


def test_the_bad_readme_lists_exactly_the_bad_files():
    readme = (fixtures.BAD_DIR / "README.md").read_text(encoding="utf-8")
    listed = sorted(line.split("`")[1] for line in readme.splitlines() if line.startswith("| `"))
    assert listed == BAD


# ----------------------------------------------------------------------------- good files

@pytest.mark.parametrize("name", GOOD)
def test_a_good_file_reads_to_the_pattern_it_was_written_from(name):
    expect = fixtures.GOOD[name]
    x, y = _expected(name)
    pattern = read_pattern(fixtures.GOOD_DIR / name)
    assert pattern.format == expect.format
    assert pattern.source == str(fixtures.GOOD_DIR / name)
    assert pattern.two_theta.dtype == np.float64 and pattern.intensity.dtype == np.float64
    np.testing.assert_allclose(pattern.two_theta, x, rtol=0, atol=TWO_THETA_ATOL)
    np.testing.assert_allclose(pattern.intensity, y, rtol=1e-12, atol=0)
    for stated, wanted in ((pattern.wavelength, expect.wavelength), (pattern.wavelength2, expect.wavelength2)):
        if wanted is None:
            assert stated is None
        else:
            assert stated == pytest.approx(wanted, abs=WAVELENGTH_ATOL)
    if expect.sigma is None:
        assert pattern.sigma is None
    elif expect.sigma == "sqrt":
        np.testing.assert_allclose(pattern.sigma, np.sqrt(y), rtol=0, atol=SIGMA_ATOL)
    elif expect.sigma == "sqrt/2":  # 2y counts in 2 s: esd √(2y)/2 counts per second
        np.testing.assert_allclose(pattern.sigma, np.sqrt(y / 2), rtol=1e-12)
    else:  # c = y t / a counts: esd √c · a / t = √(y a / t)
        np.testing.assert_allclose(pattern.sigma, np.sqrt(y * fixtures._ATTENUATION / fixtures._TIME), rtol=1e-12)


def test_a_descending_scan_is_reversed_and_said_to_be():
    pattern = read_pattern(fixtures.GOOD_DIR / "cu-gaussians-descending-tabs.dat")
    assert pattern.metadata["reversed"] is True
    assert (np.diff(pattern.two_theta) > 0).all()


def test_a_rigaku_target_name_alone_gives_the_tabulated_wavelength():
    pattern = read_pattern(fixtures.GOOD_DIR / "mo-gaussians-target-name-only.ras")
    assert pattern.wavelength == ANODE_WAVELENGTHS["Mo"][0]
    assert "Mo" in pattern.metadata["wavelength_source"]


def test_the_anode_table_has_each_doublet_in_order():
    assert set(ANODE_WAVELENGTHS) == {"Cu", "Mo", "Co", "Cr", "Fe", "Ag"}
    assert CU_KA1 == 1.540593
    for ka1, ka2 in ANODE_WAVELENGTHS.values():
        assert 0 < ka2 - ka1 < 0.005


def test_a_wavelength_argument_overrides_the_file():
    pattern = read_pattern(fixtures.GOOD_DIR / "cu-gaussians-ka-doublet.ras", wavelength=MO_KA1)
    assert pattern.wavelength == MO_KA1 and pattern.wavelength2 is None
    assert pattern.metadata["wavelength_source"] == "argument"
    assert pattern.metadata["wavelength_in_file"] == pytest.approx(CU_KA1)
    with pytest.raises(ValueError, match="wavelength must be a wavelength in Å"):
        read_pattern(fixtures.GOOD_DIR / "cu-gaussians.xy", wavelength=-1.0)


@pytest.mark.parametrize("source, renamed, fmt", [
    ("cu-gaussians-v1.5-counts.xrdml", "scan.xml", "xrdml"),  # unknown extension: content decides
    ("cu-gaussians-v4.raw", "scan.bin", "raw"),
    ("cu-gaussians.fxye", "scan.raw", "gsas"),  # GSAS shares .raw with Bruker
    ("cu-gaussians-std.gsa", "scan.dat", "gsas"),
    ("cu-gaussians.brml", "scan", "brml"),
])
def test_the_content_decides_when_the_extension_cannot(tmp_path, source, renamed, fmt):
    path = tmp_path / renamed
    path.write_bytes((fixtures.GOOD_DIR / source).read_bytes())
    pattern = read_pattern(path)
    assert pattern.format == fmt
    np.testing.assert_allclose(pattern.intensity, fixtures.Y, rtol=1e-12)


def test_a_gsas_raw_file_titled_raw_is_not_taken_for_bruker(tmp_path):
    path = tmp_path / "scan.raw"
    text = (fixtures.GOOD_DIR / "cu-gaussians.fxye").read_bytes()
    path.write_bytes(b"RAW data of Si-640" + text[text.index(b"\n"):])
    assert read_pattern(path).format == "gsas"


def test_an_explicit_format_reads_a_misnamed_file_and_an_unknown_one_is_refused(tmp_path):
    path = tmp_path / "scan.raw"
    path.write_bytes((fixtures.GOOD_DIR / "cu-gaussians-v1.5-counts.xrdml").read_bytes())
    with pytest.raises(PatternReadError, match="pass format="):
        read_pattern(path)
    assert read_pattern(path, format="xrdml").wavelength == pytest.approx(1.540598)
    with pytest.raises(PatternReadError, match="unknown format 'jcamp'"):
        read_pattern(path, format="jcamp")


# ----------------------------------------------------------------------------- bad files

@pytest.mark.parametrize("name", BAD)
def test_a_bad_file_is_a_pattern_read_error_naming_it_and_its_problem(name):
    path = fixtures.BAD_DIR / name
    with pytest.raises(PatternReadError) as caught:
        read_pattern(path)
    message = str(caught.value)
    assert str(path) in message
    assert fixtures.BAD[name].expect in message


def test_a_file_over_the_size_limit_is_refused_without_being_read(tmp_path, monkeypatch):
    path = tmp_path / "huge.xy"
    with path.open("wb") as f:
        f.truncate(201 * 2**20)  # sparse: no disk used
    assert path.stat().st_size > MAX_PATTERN_BYTES

    def never(*args, **kwargs):
        raise AssertionError("the file was read")

    monkeypatch.setattr(Path, "read_bytes", never)
    with pytest.raises(PatternReadError, match=r"huge\.xy: 201\.0 MiB is more than the 200 MiB"):
        read_pattern(path)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_named(tmp_path):
    path = tmp_path / "locked.xy"
    path.write_bytes((fixtures.GOOD_DIR / "cu-gaussians.xy").read_bytes())
    path.chmod(0)
    try:
        with pytest.raises(PatternReadError, match=r"locked\.xy: cannot be read \(permission denied\)"):
            read_pattern(path)
    finally:
        path.chmod(0o644)


def test_a_permission_error_while_reading_is_named(tmp_path, monkeypatch):
    # the same path as above for a root user, whom chmod does not stop
    path = tmp_path / "locked.xy"
    path.write_bytes(b"20 1\n21 2\n")

    def denied(file, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(file))

    # every reader gets its bytes from xrdfast.inputfile.read_input_file
    monkeypatch.setattr("xrdfast.inputfile.open", denied, raising=False)
    with pytest.raises(PatternReadError, match=r"(?i)locked\.xy: cannot be read \(permission denied\)"):
        read_pattern(path)


def test_a_directory_and_a_missing_file_are_named(tmp_path):
    with pytest.raises(PatternReadError, match="is a directory"):
        read_pattern(tmp_path)
    with pytest.raises(PatternReadError, match=r"absent\.xy: no such file"):
        read_pattern(tmp_path / "absent.xy")


def test_damaged_good_files_are_read_or_refused_never_crash(tmp_path):
    """Truncations and corrupted bytes of every good file: a PatternReadError naming the
    file, or a pattern that passes the shared checks; no other exception, no warning."""
    rng = random.Random(20240517)
    for name in GOOD:
        data = (fixtures.GOOD_DIR / name).read_bytes()
        path = tmp_path / name
        for trial in range(16):
            damaged = bytearray(data)
            if trial < 6:
                damaged = damaged[: rng.randrange(1, len(data))]
            else:
                for _ in range(rng.randrange(1, 12)):
                    damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            path.write_bytes(bytes(damaged))
            try:
                pattern = read_pattern(path)
            except PatternReadError as exc:
                assert name in str(exc)
                continue
            assert len(pattern.two_theta) >= 2 and (np.diff(pattern.two_theta) > 0).all()
            assert np.isfinite(pattern.intensity).all() and pattern.intensity.max() > 0


# ----------------------------------------------------------------------------- onto the model grid

def _gaussians(two_theta: np.ndarray, wavelength: float, fwhm: float) -> np.ndarray:
    """Unrounded Gaussians at the fixture d-spacings, 2θ at ``wavelength``."""
    y = np.full(two_theta.shape, 10.0)
    for d, height in zip(fixtures.PEAK_D, fixtures.PEAK_HEIGHT):
        if wavelength / (2 * d) < 1:
            y += height * np.exp(-4 * math.log(2) * ((two_theta - bragg_two_theta(d, wavelength)) / fwhm) ** 2)
    return y


def _pattern(two_theta: np.ndarray, intensity: np.ndarray, wavelength: float | None) -> MeasuredPattern:
    return MeasuredPattern(two_theta, intensity, None, wavelength, None, "synthetic", "xy", {})


def _peak(grid: np.ndarray, intensity: np.ndarray, near: float, window: float = 0.5) -> float:
    """The maximum near an angle, refined by a parabola through the top three points."""
    inside = np.flatnonzero(np.abs(grid - near) < window)
    i = inside[np.argmax(intensity[inside])]
    a, b, c = intensity[i - 1:i + 2].astype(np.float64)
    return float(grid[i] + 0.5 * (a - c) / (a - 2 * b + c) * (grid[1] - grid[0]))


def test_a_pattern_already_on_the_grid_comes_back_normalised():
    pattern = read_pattern(fixtures.GOOD_DIR / "cu-gaussians.xy", wavelength=CU_KA1)
    intensity, mask = to_grid(pattern, fixtures.X)
    assert intensity.dtype == np.float32 and mask.dtype == np.bool_
    assert mask.all()
    np.testing.assert_allclose(intensity, fixtures.Y / fixtures.Y.max(), rtol=0, atol=1e-6)


def test_a_mo_pattern_lands_at_the_cu_angles_of_its_d_spacings():
    mo = 4.0 + 0.005 * np.arange(8201)  # 4 .. 45 degrees at Mo Kα1
    pattern = _pattern(mo, _gaussians(mo, MO_KA1, fwhm=0.08), MO_KA1)
    grid = 5.0 + 0.01 * np.arange(8501)  # the model's default grid, at Cu Kα1
    intensity, mask = to_grid(pattern, grid)
    for d in fixtures.PEAK_D:
        assert _peak(grid, intensity, bragg_two_theta(d, CU_KA1)) == pytest.approx(bragg_two_theta(d, CU_KA1), abs=2e-3)
    # valid exactly where the grid's d-spacing was measured: 2θ_Mo(d) within 4 .. 45°
    d = CU_KA1 / (2 * np.sin(np.radians(grid / 2)))
    ratio = MO_KA1 / (2 * d)
    measured = 2 * np.degrees(np.arcsin(ratio))
    np.testing.assert_array_equal(mask, (measured >= 4.0 - 1e-9) & (measured <= 45.0 + 1e-9))
    assert intensity[~mask].max() == 0 and intensity[mask].max() == pytest.approx(1.0)


def test_a_mo_file_read_with_its_anode_maps_onto_cu():
    pattern = read_pattern(fixtures.GOOD_DIR / "mo-gaussians-target-name-only.ras")
    grid = 5.0 + 0.01 * np.arange(8501)
    intensity, _ = to_grid(pattern, grid)
    for d in fixtures.PEAK_D:  # the file's 0.05° steps are ~0.11° at Cu: peaks within a step
        assert _peak(grid, intensity, bragg_two_theta(d, CU_KA1)) == pytest.approx(bragg_two_theta(d, CU_KA1), abs=0.06)


def test_a_partial_range_is_masked_outside_it():
    x = 30.0 + 0.01 * np.arange(2001)  # 30 .. 50 degrees
    pattern = _pattern(x, _gaussians(x, CU_KA1, fwhm=0.2), CU_KA1)
    grid = 5.0 + 0.01 * np.arange(8501)
    intensity, mask = to_grid(pattern, grid)
    np.testing.assert_array_equal(mask, (grid >= 30.0 - 1e-9) & (grid <= 50.0 + 1e-9))
    assert (intensity[~mask] == 0).all() and intensity[mask].max() == pytest.approx(1.0)


def test_a_coarse_step_is_interpolated():
    x = 20.0 + 0.02 * np.arange(2751)
    pattern = _pattern(x, _gaussians(x, CU_KA1, fwhm=0.3), CU_KA1)
    grid = 20.0 + 0.01 * np.arange(5501)
    intensity, mask = to_grid(pattern, grid)
    exact = _gaussians(grid, CU_KA1, fwhm=0.3)
    # linear interpolation of a 0.3° Gaussian over 0.02° steps errs by < h² f''/8 ≈ 0.3 %
    np.testing.assert_allclose(intensity, exact / exact.max(), rtol=0, atol=4e-3)


def test_a_fine_step_is_box_averaged_not_point_sampled():
    x = 20.0 + 0.002 * np.arange(27501)
    smooth = _gaussians(x, CU_KA1, fwhm=0.3)
    noisy = smooth + np.random.default_rng(7).normal(0.0, 30.0, x.shape)  # counting noise
    grid = 20.1 + 0.01 * np.arange(5481)
    exact = _gaussians(grid, CU_KA1, fwhm=0.3)
    clean, _ = to_grid(_pattern(x, smooth, CU_KA1), grid)
    np.testing.assert_allclose(clean, exact / exact.max(), rtol=0, atol=2e-3)  # averaging a smooth curve changes little
    averaged, _ = to_grid(_pattern(x, noisy, CU_KA1), grid)
    sampled = np.interp(grid, x, noisy)
    scale = averaged.max() / sampled.max()
    error_averaged = np.std(averaged - exact / exact.max())
    error_sampled = np.std(sampled * scale - exact / exact.max())
    # five measured points per grid cell: the noise falls by about √5
    assert error_averaged < 0.6 * error_sampled


def test_to_grid_needs_a_wavelength_and_an_overlap():
    pattern = read_pattern(fixtures.GOOD_DIR / "cu-gaussians.xy")
    grid = 5.0 + 0.01 * np.arange(8501)
    with pytest.raises(PatternReadError, match="--wavelength"):
        to_grid(pattern, grid)
    with pytest.raises(PatternReadError, match="covers none of the grid"):
        to_grid(pattern, 80.0 + 0.01 * np.arange(500), wavelength=CU_KA1)
    with pytest.raises(ValueError, match="strictly increasing"):
        to_grid(pattern, grid[::-1], wavelength=CU_KA1)
    intensity, mask = to_grid(pattern, grid, wavelength=CU_KA1)
    assert mask.sum() == np.count_nonzero((grid >= 20.0 - 1e-9) & (grid <= 75.0 + 1e-9))


# ----------------------------------------------------------------------------- hardening (issue 13)

def test_quoted_thousands_are_read_and_semicolon_grouping_with_decimal_commas_too(tmp_path):
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('two_theta,intensity\n20.0,"5,000"\n20.1,"12,345.5"\n20.2,"999"\n')
    pattern = read_pattern(quoted)
    np.testing.assert_array_equal(pattern.intensity, [5000.0, 12345.5, 999.0])
    grouped = tmp_path / "grouped.txt"
    grouped.write_text("20,0;5.000,5\n20,1;12.345,0\n20,2;7,25\n")
    np.testing.assert_array_equal(read_pattern(grouped).intensity, [5000.5, 12345.0, 7.25])


def test_points_are_capped_before_parsing(tmp_path, monkeypatch):
    import xrdfast.readers

    for module in vars(xrdfast.readers).values():  # every reader module that counts points
        if getattr(module, "__name__", "").startswith("xrdfast.readers.") and hasattr(module, "MAX_POINTS"):
            monkeypatch.setattr(module, "MAX_POINTS", 100)
    monkeypatch.setattr(xrdfast.readers._base, "_HEADER_LINES", 0)
    with pytest.raises(PatternReadError, match=r"cu-gaussians\.xy: \d+ lines; more than the 100 points"):
        read_pattern(fixtures.GOOD_DIR / "cu-gaussians.xy")
    with pytest.raises(PatternReadError, match=r"551 <Datum> rows; more than the 100 points accepted"):
        read_pattern(fixtures.GOOD_DIR / "cu-gaussians.brml")
    for name in ("cu-gaussians-v4.raw", "cu-gaussians-v1.5-counts.xrdml"):
        with pytest.raises(PatternReadError, match="more than the 100"):
            read_pattern(fixtures.GOOD_DIR / name)


def test_huge_but_finite_values_never_overflow_the_regridding():
    x = 20.0 + 0.01 * np.arange(3000)
    y = _gaussians(x, CU_KA1, fwhm=0.2) * 1e305  # ~1e308 at the peaks: sums of it overflow
    intensity, mask = to_grid(_pattern(x, y, CU_KA1), 5.0 + 0.01 * np.arange(8501))
    assert np.isfinite(intensity).all() and intensity[mask].max() == pytest.approx(1.0)


def test_array_input_that_is_none_says_so():
    from xrdfast.readers import pattern_from_arrays

    with pytest.raises(PatternReadError, match="2θ is None; expected an array"):
        pattern_from_arrays(None, None)
    with pytest.raises(PatternReadError, match="intensity is None"):
        pattern_from_arrays([20.0, 21.0], None)


def test_a_gsas_file_states_its_calibrated_wavelength(tmp_path):
    path = tmp_path / "11bmb_1234.fxye"
    text = (fixtures.GOOD_DIR / "cu-gaussians.fxye").read_text().splitlines()
    text.insert(1, "# Calibrated wavelength = 0.413909")
    path.write_text("\n".join(text) + "\n")
    pattern = read_pattern(path)
    assert pattern.wavelength == 0.413909 and pattern.metadata["wavelength_source"] == "file"


def test_an_archive_member_is_refused_by_its_declared_size_before_unpacking(tmp_path, monkeypatch):
    import xrdfast.readers._base as base

    monkeypatch.setattr(base, "MAX_XML_BYTES", 1000)  # the good BRML's RawData0.xml is larger
    for module in ("bruker", "rigaku"):
        monkeypatch.setattr(getattr(__import__("xrdfast.readers", fromlist=[module]), module), "MAX_XML_BYTES", 1000)
    with pytest.raises(PatternReadError, match=r"RawData0\.xml unpacks to \d+\.\d KiB; more than the 1\.0 KiB accepted"):
        read_pattern(fixtures.GOOD_DIR / "cu-gaussians.brml")

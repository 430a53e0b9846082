"""Search-match: reference libraries (user CIF directories, cache), matching under the
nuisances of a measurement, mixtures, fusion with the network, CLI.

Libraries here are tiny (a few AMCSD minerals written out as CIFs); nothing builds the full
AMCSD library. Expected line positions come from gemmi (cell geometry) and pymatgen's
XRDCalculator (an independent powder simulator)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from xrdfast import library as libmod
from xrdfast.library import Library, build_library, library_from_structures, library_path, load_library
from xrdfast.match import PhaseMatch, fuse, match
from xrdfast.ml.match_eval import strained
from xrdfast.simulate import default_grid, simulate

MINERALS = {"quartz-154": 789, "calcite-167": 98, "halite-225": 641, "corundum-167": 9325, "rutile-136": 1736}
BAD = Path(__file__).parent / "data" / "bad" / "malformed.cif"


@pytest.fixture(scope="module")
def cif_dir(tmp_path_factory) -> Path:
    larixite = pytest.importorskip("larixite.amcsd")
    db = larixite.AMCSD(read_only=True)
    out = tmp_path_factory.mktemp("cifs")
    for name, ams_id in MINERALS.items():
        (out / f"{name}.cif").write_text(db.get_cif(ams_id).ciftext)
    return out


@pytest.fixture(scope="module")
def crystals(cif_dir: Path) -> dict:
    from xrdfast.structure import from_cif

    return {name: from_cif(cif_dir / f"{name}.cif") for name in MINERALS}


@pytest.fixture(scope="module")
def small_library(crystals) -> Library:
    return library_from_structures(list(crystals.items()), source="test minerals")


@pytest.fixture()
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XRDFAST_CACHE_DIR", str(tmp_path / "cache"))
    libmod._LOADED.clear()
    yield tmp_path / "cache"
    libmod._LOADED.clear()


def test_user_cif_directory_builds_library_and_lists_bad_cifs(cif_dir, tmp_path, cache):
    import gemmi

    user = tmp_path / "user"
    shutil.copytree(cif_dir, user)
    shutil.copy(BAD, user / "broken.cif")
    (user / "empty.cif").write_text("")
    library = build_library(user, workers=1)
    assert sorted(library.ids) == sorted(f"{n}.cif" for n in MINERALS)
    assert {name for name, _ in library.errors} == {"broken.cif", "empty.cif"}
    assert all(message for _, message in library.errors)
    for i, entry_id in enumerate(library.ids):
        block = gemmi.cif.read(str(user / entry_id))[0]
        hm = gemmi.cif.as_string(block.find_value("_symmetry_space_group_name_H-M")).strip()
        expected = gemmi.find_spacegroup_by_name(hm).number
        assert library.space_groups[i] == expected == int(entry_id.split("-")[1].split(".")[0])
    # halite: the strongest Cu K-alpha line is (200), d = a / 2 (gemmi's cell)
    from xrdfast.match import CU_KA1, _lp

    halite = list(library.ids).index("halite-225.cif")
    d, mf2 = library.lines(halite)
    a = gemmi.read_small_structure(str(user / "halite-225.cif")).cell.a
    assert d[np.argmax(mf2 * _lp(d.astype(float), CU_KA1))] == pytest.approx(a / 2, rel=1e-5)
    assert library_path(user).is_file()
    assert len(load_library(user)) == len(library)


def test_lines_agree_with_pymatgen(cif_dir, small_library):
    """The strongest Cu K-alpha lines (d, relative intensity with LP) against pymatgen's XRDCalculator."""
    pymatgen = pytest.importorskip("pymatgen.analysis.diffraction.xrd")
    from pymatgen.core import Structure

    from xrdfast.match import CU_KA1, _lp

    i = list(small_library.ids).index("corundum-167")
    d, mf2 = small_library.lines(i)
    two_theta = 2 * np.degrees(np.arcsin(CU_KA1 / (2 * d.astype(float))))
    ours = mf2 * _lp(d.astype(float), CU_KA1)
    inside = (two_theta > 20) & (two_theta < 80)
    ref = pymatgen.XRDCalculator("CuKa1").get_pattern(Structure.from_file(cif_dir / "corundum-167.cif"),
                                                      two_theta_range=(20, 80))
    strong = np.sort(np.asarray(ref.d_hkls)[np.asarray(ref.y) > 20])
    mine = np.sort(d[inside][ours[inside] > 0.2 * ours[inside].max()])
    assert len(mine) == len(strong)
    np.testing.assert_allclose(mine, strong, rtol=2e-4)


def test_corrupted_cache_is_rebuilt_not_trusted(cif_dir, cache):
    first = build_library(cif_dir, workers=1)
    path = library_path(cif_dir)
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])  # truncated: not a readable archive
    libmod._LOADED.clear()
    again = load_library(cif_dir)
    assert list(again.ids) == list(first.ids) and path.read_bytes() != good[: len(good) // 2]
    # a readable file whose lines were altered: the checksum catches it
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["d"] = arrays["d"] * 1.01
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    libmod._LOADED.clear()
    with pytest.raises(ValueError, match="checksum"):
        Library.load(path, libmod._source_key(cif_dir)[1])
    rebuilt = load_library(cif_dir)
    np.testing.assert_array_equal(rebuilt.d, first.d)


def test_building_amcsd_in_parallel_leaves_the_installed_database_alone(cache, monkeypatch):
    """Worker processes only read larixite's database: on a fresh install each AMCSD() used to add
    its optional columns to the file in site-packages, and workers racing to do so crashed the
    first build ("duplicate column name: hkls")."""
    larixite = pytest.importorskip("larixite.amcsd")
    database = Path(larixite.__file__).parent / "amcsd_cif1.db"
    before = database.read_bytes()
    monkeypatch.setattr(libmod, "_amcsd_ids", lambda: list(MINERALS.values()) * 2)
    library = build_library(None, workers=2, cache=False)
    assert database.read_bytes() == before
    assert len(library) == 2 * len(MINERALS) and not library.errors


def test_cache_key_follows_the_files_and_the_simulator(cif_dir, tmp_path, cache, monkeypatch):
    user = tmp_path / "user"
    shutil.copytree(cif_dir, user)
    before = libmod._source_key(user)[1]
    (user / "rutile-136.cif").unlink()
    assert libmod._source_key(user)[1] != before
    libmod._LOADED.clear()
    assert len(load_library(user)) == len(MINERALS) - 1
    key = libmod._source_key(user)[1]
    monkeypatch.setattr(libmod, "simulator_fingerprint", lambda: "another simulator")
    assert libmod._source_key(user)[1] != key
    with pytest.raises(ValueError, match="another library or xrdfast version"):
        Library.load(library_path(user), libmod._source_key(user)[1])


def test_strained_shifted_textured_pattern_with_impurity_finds_its_entry(crystals, small_library):
    quartz = strained(crystals["quartz-154"], np.array([1.012, 1.012, 1.012]))
    pattern = simulate([(quartz, 0.88)], impurities=[(crystals["calcite-167"], 0.12)], zero_shift=0.05,
                       march_dollase_r=0.7, preferred_orientation=(0, 0, 1), counts=3000,
                       background_chebyshev=[0.05, -0.02, 0.01], W=0.004, seed=3)
    found = match((pattern.two_theta, pattern.intensity), small_library, top_k=3)
    assert isinstance(found[0], PhaseMatch)
    assert found[0].entry_id == "quartz-154" and found[0].identified
    assert found[0].d_scale == pytest.approx(1.012, abs=0.002)
    assert found[0].extinction_group == 42 or found[0].space_group == 154


def test_two_phase_mixture_finds_both(crystals, small_library):
    pattern = simulate([(crystals["corundum-167"], 0.5), (crystals["rutile-136"], 0.5)], counts=5000, seed=1)
    found = match((pattern.two_theta, pattern.intensity), small_library, top_k=4)
    identified = {m.entry_id for m in found if m.identified}
    assert identified == {"corundum-167", "rutile-136"}
    fractions = [m.fraction for m in found if m.identified]
    assert all(f is not None and 0.2 < f < 0.8 for f in fractions) and sum(fractions) == pytest.approx(1, abs=1e-3)


def test_absent_phase_is_not_claimed(crystals, small_library):
    """A structure that is not in the library gets no confident match."""
    periclase = pytest.importorskip("larixite.amcsd").AMCSD(read_only=True).get_cif(501).ciftext
    from xrdfast.structure import from_cif_text

    pattern = simulate(from_cif_text(periclase, name="periclase"), counts=3000, seed=2)
    found = match((pattern.two_theta, pattern.intensity), small_library, top_k=2)
    assert all(m.probability < 0.9 for m in found)


def _phase(eg: int, p: float) -> PhaseMatch:
    return PhaseMatch("x", "x", "x", 1, eg, 0.5, p, 1.0, 0.0, None, False, 0)


def test_fuse_is_a_distribution_and_leaves_the_network_alone_without_matches():
    rng = np.random.default_rng(0)
    network = rng.dirichlet(np.ones(99))
    np.testing.assert_allclose(fuse(network, []), network)
    fused = fuse(network, [_phase(40, 0.95), _phase(12, 0.5)])
    assert fused.sum() == pytest.approx(1.0)
    assert fused[39] == pytest.approx(0.95 + 0.05 * 0.5 * 0 + 0.05 * 0.5 * network[39], rel=1e-9)
    assert np.argmax(fused) == 39


def test_classify_matches_or_not(crystals, small_library):
    from xrdfast.classify import classify

    pattern = simulate(crystals["calcite-167"], counts=5000, seed=4)
    matched = classify((pattern.two_theta, pattern.intensity), library=small_library)
    assert matched.method == "matched" and matched.match.entry_id == "calcite-167"
    assert matched.top.extinction_group == matched.match.extinction_group
    alone = classify((pattern.two_theta, pattern.intensity), match=False)
    assert alone.method != "matched" and alone.match is None and alone.matches == []  # indexed or network only


def test_a_library_that_fails_to_build_leaves_symmetry_inference(crystals, cache, monkeypatch):
    """The library is optional: when building it on first use fails in any way (a worker
    process dying, a third-party database error), classify answers without it and says why."""
    import importlib

    from xrdfast.classify import classify

    match_module = importlib.import_module("xrdfast.match")  # the package's `match` is the function

    def broken(*_, **__):
        raise RuntimeError("(sqlite3.OperationalError) duplicate column name: hkls")

    monkeypatch.setenv("XRDFAST_LIBRARY_AUTOBUILD", "1")
    monkeypatch.setattr(match_module, "load_library", broken)
    pattern = simulate(crystals["calcite-167"], counts=5000, seed=4)
    prediction = classify((pattern.two_theta, pattern.intensity))
    assert prediction.method != "matched" and prediction.matches == []
    assert any("building it failed: RuntimeError" in w for w in prediction.warnings), prediction.warnings


def test_matches_are_fused_with_the_whole_distribution(crystals, small_library):
    from xrdfast.classify import classify

    pattern = simulate(crystals["calcite-167"], counts=5000, seed=4)
    alone = classify((pattern.two_theta, pattern.intensity), top_k=3, match=False, index=False)
    assert alone.probabilities.shape == (99,) and alone.probabilities.sum() == pytest.approx(1.0)
    matched = classify((pattern.two_theta, pattern.intensity), top_k=3, library=small_library, index=False)
    np.testing.assert_allclose(matched.probabilities, fuse(alone.probabilities, matched.matches), rtol=1e-12)
    top = np.argsort(-matched.probabilities, kind="stable")[:3] + 1
    assert [c.extinction_group for c in matched.candidates] == top.tolist()


def test_cli_library_and_match(cif_dir, tmp_path, cache, capsys):
    from xrdfast.cli import main

    assert main(["library", "build", "--cifs", str(cif_dir), "--workers", "1", "--quiet"]) == 0
    assert "5 structures" in capsys.readouterr().out
    pattern = simulate(strained(pytest.importorskip("xrdfast.structure").from_cif(cif_dir / "halite-225.cif"),
                                np.array([0.995] * 3)), seed=5)
    xy = tmp_path / "halite.xy"
    pattern.to_xy(str(xy))
    assert main(["match", str(xy), "--cifs", str(cif_dir), "--json", "--top", "2", "--wavelength", "1.540593"]) == 0
    result = json.loads(capsys.readouterr().out)[str(xy)]
    assert result[0]["entry_id"] == "halite-225.cif" and result[0]["d_scale"] == pytest.approx(0.995, abs=0.002)


def test_grid_covers_the_classify_grid():
    """The u = ln d grids reach beyond the Cu 5-90° range by the whole d-scale search."""
    from xrdfast.match import CU_KA1, SCALE_RANGE, _grid

    grid = default_grid()
    d = CU_KA1 / (2 * np.sin(np.radians(grid) / 2))
    for step in (2.5e-3, 1e-3):
        g = _grid(step)
        assert g.u0 <= np.log(d.min()) - SCALE_RANGE and g.u[-1] >= np.log(d.max()) + SCALE_RANGE


def test_solid_solution_beyond_three_percent_is_found(crystals, small_library):
    """A cell 4 % larger than its entry (a solid solution): inside the ±5 % d-scale search."""
    calcite = strained(crystals["calcite-167"], np.array([1.04, 1.04, 1.04]))
    pattern = simulate(calcite, counts=5000, seed=6)
    found = match((pattern.two_theta, pattern.intensity), small_library, top_k=2)
    assert found[0].entry_id == "calcite-167" and found[0].d_scale == pytest.approx(1.04, abs=0.002)


def _eg_phase(eg: int, p: float, q: float) -> PhaseMatch:
    return PhaseMatch("x", "x", "x", 1, eg, 0.5, p, 1.0, 0.0, None, False, 0, q)


def test_fuse_weighs_group_evidence_in_match_order():
    """With p(extinction group) given, fuse takes the strongest per group, groups in the order of
    the matches: p(EG) = Σ qᵢ Π(1 − qⱼ<ᵢ) [EGᵢ] + Π(1 − qᵢ) network (written out by hand here)."""
    rng = np.random.default_rng(1)
    network = rng.dirichlet(np.ones(99))
    matches = [_eg_phase(7, 0.2, 0.6), _eg_phase(30, 0.1, 0.7), _eg_phase(7, 0.05, 0.8)]
    fused = fuse(network, matches)
    q7, q30 = 0.8, 0.7                       # group 7 comes first (its first match ranks first), at its best q
    expected = (1 - q7) * (1 - q30) * network
    expected[6] += q7
    expected[29] += (1 - q7) * q30
    np.testing.assert_allclose(fused, expected, rtol=1e-12)
    assert fused.sum() == pytest.approx(1.0)


def test_sign_constrained_logistic_agrees_with_scipy():
    """fit_logistic without constraints is the penalised maximum-likelihood fit (scipy.optimize
    finds the same weights); with signs, a feature that would enter with the wrong sign is left out."""
    from scipy.optimize import minimize

    from xrdfast.ml.match_eval import fit_logistic

    rng = np.random.default_rng(2)
    a = rng.normal(size=2000)
    b = a + 0.3 * rng.normal(size=2000)             # correlated with a
    y = (rng.uniform(size=2000) < 1 / (1 + np.exp(-(2 * a - 0.5)))).astype(float)
    X = np.column_stack([a, b])
    free = fit_logistic(X, y, l2=1e-2)
    Z = np.column_stack([(X - free["mean"]) / np.array(free["scale"]), np.ones(len(X))])

    def loss(w):
        t = Z @ w
        return np.sum(np.logaddexp(0, t) - y * t) + 0.5 * 1e-2 * np.sum(w[:-1] ** 2)

    ref = minimize(loss, np.zeros(3), method="BFGS", options={"gtol": 1e-9}).x
    np.testing.assert_allclose([*free["coef"], free["intercept"]], ref, atol=1e-4)
    # b's own weight is negative once a is in; asked to act positively only, it is left out
    assert free["coef"][1] < 0
    bounded = fit_logistic(X, y, l2=1e-2, signs=np.array([1, 1]))
    assert bounded["coef"][1] == 0 and bounded["coef"][0] > 0

"""Wyckoff positions of the 230 default settings: orbits against multiplicities, and the table
against cctbx (its source, which classifies points independently of its table rows), pyxtal
(Bilbao's tables, transformed to our settings: an independent transcription) and spglib (its own
database, asked for the letters of atoms in a structure of exact symmetry)."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from xrdfast import SpaceGroup, _core

from conftest import ROOT

N_POSITIONS = 1731  # Wyckoff positions of the 230 types (ITA Vol. A)
POINT_GROUP_ORDER = {
    "1": 1, "-1": 2, "2": 2, "m": 2, "2/m": 4, "222": 4, "mm2": 4, "mmm": 8, "4": 4, "-4": 4, "4/m": 8,
    "422": 8, "4mm": 8, "-42m": 8, "4/mmm": 16, "3": 3, "-3": 6, "32": 6, "3m": 6, "-3m": 12, "6": 6,
    "-6": 6, "6/m": 12, "622": 12, "6mm": 12, "-62m": 12, "6/mmm": 24, "23": 12, "m-3": 24, "432": 24,
    "-43m": 24, "m-3m": 48,
}
GROUPS = list(range(1, 231))
_HEX = np.array([[10.0, 0, 0], [-5.0, 5.0 * np.sqrt(3), 0], [0, 0, 13.7]])
LATTICE = {  # rows a, b, c (Å): generic metrics of each crystal system
    "triclinic": np.array([[10.0, 0, 0], [-2.1, 11.1, 0], [-3.0, -1.9, 13.2]]),
    "monoclinic": np.array([[10.0, 0, 0], [0, 11.3, 0], [-3.5, 0, 13.2]]),
    "orthorhombic": np.diag([10.0, 11.3, 13.7]), "tetragonal": np.diag([10.0, 10.0, 13.7]),
    "trigonal": _HEX, "hexagonal": _HEX, "cubic": np.diag([10.0] * 3),
}


def _generator():
    spec = importlib.util.spec_from_file_location("gen_wyckoff_table", ROOT / "scripts/gen_wyckoff_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATOR = _generator()


def default_hall_number(number: int) -> int:
    return SpaceGroup(number).hall_number


def op_arrays(group: SpaceGroup) -> tuple[np.ndarray, np.ndarray]:
    return (np.array([op.rotation for op in group.operations], float),   # [n_ops, 3, 3]
            np.array([op.translation for op in group.operations], float))  # [n_ops, 3]


def affine(position: dict) -> tuple[np.ndarray, np.ndarray]:
    return np.array(position["free_to_coord"], float), np.array(position["shift"], float)


def test_generated_tables_are_current():
    for module in ("cctbx.sgtbx", "gemmi", "scipy.optimize", "spglib"):
        pytest.importorskip(module)
    import importlib.util

    if importlib.util.find_spec("larixite") is None:
        pytest.skip("larixite (AMCSD) not installed")
    result = subprocess.run([sys.executable, str(ROOT / "scripts/gen_wyckoff_table.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_table_shape_letters_and_general_position():
    total = 0
    for n in GROUPS:
        positions = _core.wyckoff_positions(n)
        total += len(positions)
        letters = [p["letter"] for p in positions]
        expected = [chr(ord("a") + i) for i in range(len(positions))]
        if len(positions) == 27:  # Pmmm: ITA's alpha, '@' here
            expected[26] = "@"
        assert letters == expected[::-1], n
        general = positions[0]
        assert general["multiplicity"] == SpaceGroup(n).order
        assert (general["coordinates"], general["site_symmetry"], general["n_free"]) == ("x,y,z", "1", 3)
        assert all(p["multiplicity"] <= general["multiplicity"] for p in positions)
    assert total == N_POSITIONS


@pytest.mark.parametrize("number", GROUPS)
def test_orbit_size_is_multiplicity(number):
    group = SpaceGroup(number)
    rng = np.random.default_rng(number)
    rot, tran = op_arrays(group)
    for p in _core.wyckoff_positions(number):
        # site symmetry: |G| / multiplicity operations fix the point
        assert group.order // p["multiplicity"] == POINT_GROUP_ORDER[p["site_symmetry"]], p
        m, s = affine(p)
        assert np.linalg.matrix_rank(m) == p["n_free"]
        for _ in range(3):
            params = rng.random(3)
            orbit = _core.wyckoff_orbit(number, p["letter"], params)
            assert orbit.shape == (p["multiplicity"], 3), p
            assert np.all((orbit >= 0) & (orbit < 1))
            # the orbit is the NumPy image of the representative under every operation
            images = np.einsum("kij,j->ki", rot, m @ params + s) + tran
            d = images[:, None, :] - orbit[None, :, :]
            d -= np.round(d)
            assert np.all(np.abs(d).max(axis=2).min(axis=1) < 1e-9)


def test_special_parameters_shrink_the_orbit():
    # x = 0 puts Pm-3m 6e (x,0,0) on 1a
    assert len(_core.wyckoff_orbit(221, "e", [0.0, 0.3, 0.7])) == 1
    assert len(_core.wyckoff_orbit(221, "e", [0.2, 0.3, 0.7])) == 6


@pytest.mark.parametrize("number", GROUPS)
def test_positions_match_cctbx(number):
    sgtbx = pytest.importorskip("cctbx.sgtbx")
    info = sgtbx.space_group_info(number)  # ITA's standard setting: origin choice 2 where two
    origin = np.array([float(v) for v in GENERATOR.origin_shift(number)])  # origin 2 in origin-1 coordinates
    fix = GENERATOR.LETTER_CORRECTIONS.get(number, {})  # where sgtbx departs from ITA
    table = info.wyckoff_table()
    ref = {fix.get(table.position(i).letter(), table.position(i).letter()): table.position(i)
           for i in range(table.size())}
    ours = _core.wyckoff_positions(number)
    assert sorted(p["letter"] for p in ours) == sorted(ref)
    cell = info.any_compatible_unit_cell(volume=1000)
    rng = np.random.default_rng(1000 + number)
    for p in ours:
        r = ref[p["letter"]]
        assert (p["multiplicity"], p["site_symmetry"]) == (r.multiplicity(), r.point_group_type())
        m, s = affine(p)
        point = m @ rng.random(3) + s - origin
        # cctbx classifies the point from its site symmetry, not from the table row we copied
        site = sgtbx.site_symmetry(cell, info.group(), tuple(point), 1e-5)  # Å
        letter = table.mapping(site).position().letter()
        assert fix.get(letter, letter) == p["letter"], (p, point)


@pytest.mark.parametrize("number", GROUPS)
def test_positions_match_pyxtal(number):
    pyxtal_symmetry = pytest.importorskip("pyxtal.symmetry")
    group = SpaceGroup(number)
    theirs = pyxtal_symmetry.Group(default_hall_number(number), use_hall=True)
    rot, tran = op_arrays(group)
    general = {(tuple(np.rint(op.rotation_matrix).astype(int).ravel()),
                tuple(np.rint(op.translation_vector * 24).astype(int) % 24)) for op in theirs[0].ops}
    assert general == {(tuple(r.astype(int).ravel()), tuple(np.rint(t * 24).astype(int) % 24))
                       for r, t in zip(rot, tran)}, "pyxtal's setting differs"
    ours = _core.wyckoff_positions(number)
    by_letter = {("@" if wp.letter == "A" else wp.letter): wp for wp in theirs}
    assert sorted(by_letter) == sorted(p["letter"] for p in ours)
    rng = np.random.default_rng(2000 + number)
    for p in ours:
        wp = by_letter[p["letter"]]
        assert wp.multiplicity == p["multiplicity"]
        # Same Wyckoff position: an image of our generic point lies on pyxtal's representative.
        m, s = affine(p)
        images = np.einsum("kij,j->ki", rot, m @ rng.random(3) + s) + tran
        rep = wp.ops[0]
        b, c = rep.rotation_matrix, rep.translation_vector
        pinv = np.linalg.pinv(b)
        shifts = np.array(np.meshgrid(*[range(-2, 3)] * 3)).reshape(3, -1).T
        target = (images[:, None, :] + shifts[None, :, :] - c).reshape(-1, 3)
        residual = target - (b @ (pinv @ target.T)).T
        assert np.abs(residual).max(axis=1).min() < 1e-9, p


@pytest.mark.parametrize("number", GROUPS)
def test_letters_match_spglib(number):
    spglib = pytest.importorskip("spglib")
    group = SpaceGroup(number)
    positions = _core.wyckoff_positions(number)
    rng = np.random.default_rng(3000 + number)
    # A generic general-position orbit pins the symmetry to the group itself; spglib then names
    # the position of one more orbit from its own tables. Where spglib moves the origin (an
    # automorphism of the group may permute letters), its answer says nothing about ours.
    marker = _core.wyckoff_orbit(number, positions[0]["letter"], [0.1234, 0.3456, 0.0789])
    lattice = LATTICE[group.crystal_system]
    checked = 0
    for p in positions[1:]:
        orbit = _core.wyckoff_orbit(number, p["letter"], 0.031 + 0.37 * rng.random(3))
        data = spglib.get_symmetry_dataset((lattice, np.vstack([marker, orbit]), [1] * len(marker) + [2] * len(orbit)),
                                           symprec=1e-4, hall_number=group.hall_number)
        if data.number != number or np.abs(data.origin_shift - np.rint(data.origin_shift)).max() > 1e-9 or \
                not np.allclose(data.transformation_matrix, np.eye(3)):
            continue
        assert data.wyckoffs[-1] == p["letter"].replace("@", "A"), p
        checked += 1
    assert checked or len(positions) == 1


def test_origin_shifts_are_the_itas():
    # Origin choice 2 of Fd-3m is at -3m, 1/8,1/8,1/8 from origin choice 1 at -43m: diamond's
    # 8a (origin 2: 1/8,1/8,1/8) is at 0,0,0 (ITA Vol. A, type 227). Anatase's Ti (4a, origin 2:
    # 0,3/4,1/8) is at 0,0,0 in origin choice 1 of I4_1/amd.
    assert GENERATOR.origin_shift(227) == [Fraction(1, 8)] * 3
    diamond = _core.wyckoff_orbit(227, "a", [0, 0, 0])
    assert np.any(np.all(np.abs(diamond) < 1e-12, axis=1))
    anatase_ti = _core.wyckoff_orbit(141, "a", [0, 0, 0])
    assert np.any(np.all(np.abs(anatase_ti) < 1e-12, axis=1))


def test_bad_arguments():
    with pytest.raises(ValueError, match="outside 1..230"):
        _core.wyckoff_positions(231)
    with pytest.raises(ValueError, match="no Wyckoff position 'e'"):
        _core.wyckoff_orbit(62, "e", [0.1, 0.2, 0.3])

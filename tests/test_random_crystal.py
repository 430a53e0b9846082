"""Random crystals: the label is the true space group (spglib), distances, atom counts, cells of
each crystal system, determinism, the symmetry check on hand-made structures, bad options."""
from __future__ import annotations

import collections
import itertools

import numpy as np
import pytest

from xrdfast import Crystal, SpaceGroup, _core

spglib = pytest.importorskip("spglib")

GROUPS = list(range(1, 231))
LABEL_TRUTH = 0.99  # required share of crystals whose spglib space group is the intended one
# Holohedry (space-group type of the Bravais lattice alone) by crystal system and centring.
HOLOHEDRY = {
    ("triclinic", "P"): 2, ("monoclinic", "P"): 10, ("monoclinic", "C"): 12, ("orthorhombic", "P"): 47,
    ("orthorhombic", "C"): 65, ("orthorhombic", "A"): 65, ("orthorhombic", "I"): 71, ("orthorhombic", "F"): 69,
    ("tetragonal", "P"): 123, ("tetragonal", "I"): 139, ("trigonal", "P"): 191, ("trigonal", "R"): 166,
    ("hexagonal", "P"): 191, ("cubic", "P"): 221, ("cubic", "I"): 229, ("cubic", "F"): 225,
}


def lattice(cell) -> np.ndarray:
    """Rows a, b, c in Å (a along x, b in the xy plane)."""
    a, b, c, al, be, ga = cell
    al, be, ga = np.radians([al, be, ga])
    v = np.sqrt(1 - np.cos(al) ** 2 - np.cos(be) ** 2 - np.cos(ga) ** 2 + 2 * np.cos(al) * np.cos(be) * np.cos(ga))
    return np.array([[a, 0, 0], [b * np.cos(ga), b * np.sin(ga), 0],
                     [c * np.cos(be), c * (np.cos(al) - np.cos(be) * np.cos(ga)) / np.sin(ga), c * v / np.sin(ga)]])


def atomic_numbers(crystal) -> np.ndarray:
    types = crystal.sites()["types"]
    return np.array([_core.resolve_scatterer(types[s])[1] for s in crystal.atoms()["site"]])


def spglib_number(crystal, symprec: float) -> int:
    cell = (lattice(crystal.cell), crystal.atoms()["frac"], atomic_numbers(crystal))
    return spglib.get_symmetry_dataset(cell, symprec=symprec).number


def label_truth(k: int, symprec: float, seed: int) -> tuple[float, dict[int, list[int]]]:
    wrong: dict[int, list[int]] = collections.defaultdict(list)
    for number in GROUPS:
        for stream in range(k):
            found = spglib_number(_core.random_crystal(number, seed, stream), symprec)
            if found != number:
                wrong[number].append(found)
    return 1 - sum(map(len, wrong.values())) / (k * len(GROUPS)), wrong


def _report(wrong: dict[int, list[int]]) -> str:
    hardest = sorted(wrong.items(), key=lambda kv: -len(kv[1]))[:10]
    return "hardest groups (intended: spglib's answers): " + "; ".join(f"{n}: {v}" for n, v in hardest)


def test_label_is_the_true_space_group():
    rate, wrong = label_truth(k=5, symprec=1e-3, seed=2024)
    assert rate >= LABEL_TRUTH, f"{rate:.4f} true; " + _report(wrong)


@pytest.mark.slow
@pytest.mark.parametrize("symprec", [1e-3, 0.1])
def test_label_is_the_true_space_group_many(symprec):
    # symprec 0.1 Å: the default symmetry tolerance also rejects structures within 0.1 Å of a
    # supergroup, so the label holds for coarse pattern-level analysis too.
    rate, wrong = label_truth(k=40, symprec=symprec, seed=7)
    assert rate >= LABEL_TRUTH, f"{rate:.4f} true; " + _report(wrong)


def _min_distance_violations(crystal, factor: float, floor: float) -> list[tuple]:
    frac, z = crystal.atoms()["frac"], atomic_numbers(crystal)
    radius = np.array([_core.random_element_data(int(v))[0] for v in z])
    lat = lattice(crystal.cell)
    shifts = np.array(list(itertools.product(range(-1, 2), repeat=3)), float)
    d = frac[:, None, :] - frac[None, :, :]
    d -= np.round(d)
    cart = (d[:, :, None, :] + shifts[None, None, :, :]) @ lat  # [n, n, 27, 3]
    dist = np.linalg.norm(cart, axis=-1)
    n = len(frac)
    dist[np.arange(n), np.arange(n), 13] = np.inf  # an atom and itself (shift 0,0,0)
    dist = dist.min(axis=2)
    need = np.maximum(factor * (radius[:, None] + radius[None, :]), floor)
    bad = np.argwhere(dist < need - 1e-9)
    return [(int(i), int(j), float(dist[i, j]), float(need[i, j])) for i, j in bad[:5]]


@pytest.mark.parametrize("number", [1, 2, 4, 14, 15, 19, 43, 62, 88, 99, 123, 142, 148, 161, 166, 176, 186, 194,
                                    198, 205, 216, 225, 227, 230])
def test_distances_counts_and_ranges(number):
    options = dict(min_atoms=6, max_atoms=80, min_distance_factor=0.9, b_iso_min=0.5, b_iso_max=1.5)
    for stream in range(8):
        c = _core.random_crystal(number, 99, stream, **options)
        assert 6 <= c.n_atoms <= 80
        assert _min_distance_violations(c, 0.9, 0.7) == []
        sites = c.sites()
        assert np.all((sites["b_iso"] >= 0.5) & (sites["b_iso"] <= 1.5))
        assert np.all((sites["occupancy"] >= 0.5) & (sites["occupancy"] <= 1.0))
        assert min(c.cell[:3]) >= 2.5
        assert c.operations == SpaceGroup(number).operations
        assert not _core.has_extra_symmetry(c)


@pytest.mark.parametrize("number", GROUPS)
def test_cell_is_of_its_crystal_system_and_no_higher(number):
    group = SpaceGroup(number)
    system = group.crystal_system
    for stream in range(3):
        a, b, c, al, be, ga = cell = _core.random_crystal(number, 5, stream).cell
        right = np.isclose([al, be, ga], 90)
        if system == "cubic":
            assert np.allclose([b, c], a) and right.all()
        elif system == "tetragonal":
            assert np.isclose(a, b) and not np.isclose(a, c, rtol=0.03) and right.all()
        elif system in ("trigonal", "hexagonal"):
            assert np.isclose(a, b) and right[:2].all() and np.isclose(ga, 120)
        elif system == "orthorhombic":
            assert right.all() and all(abs(x - y) > 0.03 * max(x, y) for x, y in ((a, b), (b, c), (a, c)))
        elif system == "monoclinic":
            assert right[[0, 2]].all() and 92 < be <= 120
        else:
            assert 60 < min(al, be, ga) and max(al, be, ga) < 120 and not right.any()
        # The lattice alone (an atom on each lattice point) has exactly the holohedry of the
        # intended Bravais lattice.
        points = np.array([op.translation for op in group.operations if np.array_equal(op.rotation, np.eye(3))])
        lattice_only = spglib.get_symmetry_dataset((lattice(cell), points, [1] * len(points)), symprec=0.01).number
        centring = "P" if system == "trigonal" and group.centring == "P" else group.centring
        assert lattice_only == HOLOHEDRY[(system, centring)], (cell, lattice_only)


def test_volume_follows_the_atomic_volumes():
    lo, hi = 0.85, 1.36  # the AMCSD spread the generated table carries (random_crystal.cpp)
    for number in (2, 14, 62, 139, 166, 225):
        for stream in range(10):
            c = _core.random_crystal(number, 3, stream)
            model = sum(_core.random_element_data(int(z))[1] for z in atomic_numbers(c))
            assert lo - 1e-9 <= c.volume / model <= hi + 1e-9


def test_deterministic_per_seed_and_stream_and_thread_count():
    def key(c):
        s = c.sites()
        return (c.cell, tuple(s["types"]), s["frac"].tobytes(), s["occupancy"].tobytes(), s["b_iso"].tobytes())

    assert key(_core.random_crystal(62, 11, 3)) == key(_core.random_crystal(62, 11, 3))
    assert key(_core.random_crystal(62, 11, 3)) != key(_core.random_crystal(62, 11, 4))
    assert key(_core.random_crystal(62, 11, 3)) != key(_core.random_crystal(62, 12, 3))
    one_by_one = [key(_core.random_crystal(225, 11, 100 + i)) for i in range(12)]
    for threads in (1, 2, 4):
        batch = _core.random_crystals(225, 11, first_stream=100, count=12, threads=threads)
        assert [key(c) for c in batch] == one_by_one


def test_element_choices():
    allowed = {"Na", "Cl", "Cs"}
    for stream in range(20):
        c = _core.random_crystal(221, 1, stream, distribution="uniform", elements=sorted(allowed), max_species=2)
        assert {t for t in c.sites()["types"]} <= allowed
        assert len(set(c.sites()["types"])) <= 2
    counts = collections.Counter()
    for stream in range(300):
        counts.update(set(_core.random_crystal(14, 2, stream).sites()["types"]))
    assert counts.most_common(1)[0][0] == "O"  # in 59 % of AMCSD structures
    c = _core.random_crystal(14, 2, 0, elements=[8, 14], partial_occupancy_fraction=0.0)
    assert set(c.sites()["types"]) <= {"O", "Si"} and np.all(c.sites()["occupancy"] == 1.0)


def test_element_data_matches_gemmi():
    gemmi = pytest.importorskip("gemmi")
    for z in range(1, 99):
        radius, volume, structures = _core.random_element_data(z)
        assert radius == pytest.approx(round(gemmi.Element(z).covalent_r, 2), abs=1e-9)
        assert 1 < volume < 120 and structures >= 0
    assert _core.random_element_data("O")[2] == max(_core.random_element_data(z)[2] for z in range(1, 99))


def _crystal(name, cell, number_or_ops, types, frac) -> Crystal:
    ops = SpaceGroup(number_or_ops).operations if isinstance(number_or_ops, int) else number_or_ops
    frac = np.asarray(frac, float)
    n = len(types)
    return Crystal(name, cell, ops, [f"{t}{i}" for i, t in enumerate(types)], list(types), frac,
                   np.ones(n), np.full(n, 0.5))


NACL_P1 = [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5],
           [0.5, 0.5, 0.5], [0, 0, 0.5], [0, 0.5, 0], [0.5, 0, 0]]


def test_symmetry_check_on_known_structures():
    cubic = (5.64, 5.64, 5.64, 90, 90, 90)
    nacl = _crystal("NaCl-225", cubic, 225, ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert not _core.has_extra_symmetry(nacl)
    assert _core.symmetry_operation_count(nacl) == 48  # 192 operations / 4 centrings
    p1 = _crystal("NaCl-as-P1", cubic, 1, ["Na"] * 4 + ["Cl"] * 4, NACL_P1)
    assert _core.has_extra_symmetry(p1)
    assert _core.symmetry_operation_count(p1) == 192  # m-3m times the F centrings, per P1 cell
    # Charges do not make atoms different: Na+ and Cl- in P1 still have the full symmetry.
    ions = _crystal("NaCl-ions-P1", cubic, 1, ["Na1+"] * 4 + ["Cl1-"] * 4, NACL_P1)
    assert _core.symmetry_operation_count(ions) == 192
    # Different elements do: Cu3Au-type ordering of the Na sites leaves Pm-3m, no centring.
    ordered = _crystal("ordered-P1", cubic, 1, ["Na", "K", "K", "K", "Cl", "Cl", "Cl", "Cl"], NACL_P1)
    assert _core.symmetry_operation_count(ordered) == 48
    # A doubled cell: the half translation is extra symmetry.
    doubled = _crystal("Cu-doubled-P1", (7.2, 3.6, 3.6, 90, 90, 90), 1, ["Cu", "Cu"], [[0, 0, 0], [0.5, 0, 0]])
    assert _core.has_extra_symmetry(doubled)
    # Three atoms in general positions of a triclinic cell: P1 exactly.
    p1_true = _crystal("P1", (5.1, 6.3, 7.7, 81, 77, 69), 1, ["O", "O", "Si"],
                       [[0.1, 0.2, 0.3], [0.41, 0.57, 0.12], [0.77, 0.05, 0.63]])
    assert not _core.has_extra_symmetry(p1_true)
    assert _core.symmetry_operation_count(p1_true) == 1
    # Atoms 0.05 Å off an inversion centre: symmetric at 0.1 Å, not at 0.01 Å.
    near = _crystal("near-P-1", (5.0, 6.0, 7.0, 80, 85, 75), 1, ["O", "O", "Si", "Si"],
                    [[0.1, 0.2, 0.3], [-0.1, -0.2, -0.3 + 0.05 / 7.0 / 0.98], [0.33, 0.41, 0.12], [-0.33, -0.41, -0.12]])
    assert _core.has_extra_symmetry(near, 0.1)
    assert not _core.has_extra_symmetry(near, 0.01)


def test_bad_options():
    with pytest.raises(ValueError, match="no combination of the Wyckoff positions"):
        _core.random_crystal(227, 1, 0, min_atoms=1, max_atoms=6)
    with pytest.raises(TypeError, match="unknown option 'atoms'"):
        _core.random_crystal(14, 1, 0, atoms=10)
    with pytest.raises(ValueError, match="distribution"):
        _core.random_crystal(14, 1, 0, distribution="cosmic")
    with pytest.raises(ValueError, match="atom range"):
        _core.random_crystal(14, 1, 0, min_atoms=10, max_atoms=5)
    with pytest.raises(ValueError, match=r"overlap distance \(0\.5 Å\)"):  # not std::to_string's 0.500000
        _core.random_crystal(14, 1, 0, min_distance=0.4)
    with pytest.raises(ValueError, match="outside 1..230"):
        _core.random_crystal(231, 1, 0)
    with pytest.raises(ValueError, match="Xx"):
        _core.random_crystal(14, 1, 0, elements=["Xx"])
    with pytest.raises(RuntimeError, match=r"P 1 21/c 1 \(14\).*after 5 attempts"):
        _core.random_crystal(14, 1, 0, min_distance_factor=5.0, max_attempts=5)
    # F432: every special orbit is invariant under Fm-3m, and the general one has 96 atoms.
    assert _core.smallest_exact_orbit(209) == 96
    with pytest.raises(RuntimeError, match="the smallest has 96 atoms"):
        _core.random_crystal(209, 1, 0, max_atoms=40)


def test_smallest_exact_orbit():
    for number in GROUPS:
        m = _core.smallest_exact_orbit(number)
        assert m == 0 or m in {p["multiplicity"] for p in _core.wyckoff_positions(number)}
    assert _core.smallest_exact_orbit(1) == 0  # one atom, or one orbit of P1, is centrosymmetric
    assert _core.smallest_exact_orbit(225) == 4  # fcc: 4a alone is Fm-3m


def test_generated_element_table_is_current():
    """cpp/src/element_table.inc is what scripts/gen_element_table.py writes from gemmi and AMCSD."""
    import importlib.util
    import subprocess
    import sys
    from pathlib import Path

    for module in ("gemmi", "scipy.optimize"):
        pytest.importorskip(module)
    if importlib.util.find_spec("larixite") is None:
        pytest.skip("larixite (AMCSD) not installed")
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, str(root / "scripts/gen_element_table.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

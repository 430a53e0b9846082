"""Maximal t-subgroups and space-group identification (cpp/src/subgroups.cpp).

The subgroup lists are compared with ITA Vol. A1 as tabulated in
shared/reference/maximal_t_subgroups.json; identification is checked on every one of the
530 settings, on groups moved to random bases and origins (the returned transformation is
applied with exact fractions and must land on the setting's operations), on centred groups
rewritten in primitive cells, and against spglib.
"""
from __future__ import annotations

import json
import random
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest

from xrdfast import _core


# Transformation matrices come back as doubles; their entries are multiples of 1/24 and
# origin shifts have small denominators, so they are recovered exactly as fractions.
MAX_DENOMINATOR = 1152

# Primitive cells of the centred lattices, ITA Vol. A (2016) Table 1.5.1.1: columns are the
# primitive basis vectors in conventional coordinates (R: obverse, hexagonal axes).
PRIMITIVE_CELLS = {
    "A": [[1, 0, 0], [0, Fraction(1, 2), Fraction(-1, 2)], [0, Fraction(1, 2), Fraction(1, 2)]],
    "B": [[Fraction(1, 2), 0, Fraction(-1, 2)], [0, 1, 0], [Fraction(1, 2), 0, Fraction(1, 2)]],
    "C": [[Fraction(1, 2), Fraction(-1, 2), 0], [Fraction(1, 2), Fraction(1, 2), 0], [0, 0, 1]],
    "I": [[Fraction(-1, 2), Fraction(1, 2), Fraction(1, 2)], [Fraction(1, 2), Fraction(-1, 2), Fraction(1, 2)],
          [Fraction(1, 2), Fraction(1, 2), Fraction(-1, 2)]],
    "F": [[0, Fraction(1, 2), Fraction(1, 2)], [Fraction(1, 2), 0, Fraction(1, 2)], [Fraction(1, 2), Fraction(1, 2), 0]],
    "R": [[Fraction(2, 3), Fraction(-1, 3), Fraction(-1, 3)], [Fraction(1, 3), Fraction(1, 3), Fraction(-2, 3)],
          [Fraction(1, 3), Fraction(1, 3), Fraction(1, 3)]],
}


# ---- exact 3x3 algebra on Fractions (the slow, independent twin of the C++ search) ----------

def matmul(a, b):
    return [[sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)] for i in range(3)]


def matvec(a, v):
    return [sum(a[i][k] * v[k] for k in range(3)) for i in range(3)]


def det(a):
    return (a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
            + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]))


def inverse(a):
    d = Fraction(det(a))
    return [[(a[(j + 1) % 3][(i + 1) % 3] * a[(j + 2) % 3][(i + 2) % 3]
              - a[(j + 1) % 3][(i + 2) % 3] * a[(j + 2) % 3][(i + 1) % 3]) / d for j in range(3)] for i in range(3)]


def mod1(v):
    return tuple(x - (x.numerator // x.denominator) for x in v)


def operation(op):
    """(R, t) with R a tuple of int tuples and t Fractions in [0, 1), from an xrdfast.SymOp."""
    rot = tuple(tuple(int(x) for x in row) for row in op.rotation)
    return rot, mod1([Fraction(round(x * 24), 24) for x in op.translation])


def triplet(rot, tran):
    rows = []
    for i in range(3):
        s = "".join(("+" if c > 0 else "-") + ("" if abs(c) == 1 else str(abs(c))) + "xyz"[j]
                    for j, c in enumerate(rot[i]) if c)
        if tran[i]:
            s += f"+{tran[i]}"
        rows.append(s.lstrip("+") or "0")
    return ",".join(rows)


def transform(ops, basis, origin):
    """x' = P^-1 (x - p) applied to operations: {P^-1 R P | P^-1 (t + R p - p)}, deduplicated."""
    inv = inverse(basis)
    out = set()
    for rot, tran in ops:
        r = matmul(matmul(inv, [list(row) for row in rot]), basis)
        assert all(x.denominator == 1 for row in r for x in row), "basis does not keep the lattice"
        rp = matvec([list(row) for row in rot], origin)
        t = matvec(inv, [tran[i] + rp[i] - origin[i] for i in range(3)])
        out.add((tuple(tuple(int(x) for x in row) for row in r), mod1(t)))
    return sorted(out)


def lands_on_setting(ops, ident):
    """The identification's (P, p) maps the group exactly onto its setting's operations."""
    basis = [[Fraction(x).limit_denominator(MAX_DENOMINATOR) for x in row] for row in ident["basis"]]
    origin = [Fraction(x).limit_denominator(MAX_DENOMINATOR) for x in ident["origin_shift"]]
    if det(basis) <= 0:  # the setting's axes must stay right-handed
        return False
    setting = _core.SpaceGroup.from_hall_number(ident["hall_number"])
    target = {operation(op) for op in setting.operations}
    centrings = [t for r, t in target if r == ((1, 0, 0), (0, 1, 0), (0, 0, 1))]
    mapped = transform(ops, basis, origin)
    # Lattice translations of the input become translations of the setting's lattice ...
    inv = inverse(basis)
    for j in range(3):
        if mod1([inv[i][j] for i in range(3)]) not in centrings:
            return False
    # ... every operation lands on one of the setting's, and the point groups are equal.
    return all(op in target for op in mapped) and {r for r, _ in mapped} == {r for r, _ in target}


def random_unimodular(rng):
    m = [[Fraction(int(i == j)) for j in range(3)] for i in range(3)]
    for _ in range(4):
        i, j = rng.sample(range(3), 2)
        e = [[Fraction(int(a == b)) for b in range(3)] for a in range(3)]
        e[i][j] = Fraction(rng.choice([-2, -1, 1, 2]))
        m = matmul(m, e)
    perm = rng.sample(range(3), 3)
    q = [[Fraction(int(perm[i] == j)) * rng.choice([-1, 1]) for j in range(3)] for i in range(3)]
    if det(q) < 0:
        q[0] = [-x for x in q[0]]
    return matmul(m, q)


def group_ops(number_or_hall, by_hall=False):
    g = _core.SpaceGroup.from_hall_number(number_or_hall) if by_hall else _core.SpaceGroup(number_or_hall)
    return [operation(op) for op in g.operations]


# ---- maximal t-subgroups ------------------------------------------------------------------

@pytest.fixture(scope="module")
def all_subgroups():
    return {n: _core.maximal_t_subgroups(n) for n in range(1, 231)}


def test_maximal_t_subgroups_match_ita_a1(all_subgroups, shared):
    reference = json.loads((shared / "reference/maximal_t_subgroups.json").read_text())
    mismatches = {}
    for n in range(1, 231):
        ours = Counter((s["number"], s["index"]) for s in all_subgroups[n])
        theirs = Counter((s["sub"], s["index"]) for s in reference[str(n)])
        if ours != theirs:
            mismatches[n] = (sorted(ours.elements()), sorted(theirs.elements()))
    assert not mismatches


def test_subgroups_are_t_subgroups_of_the_right_size(all_subgroups):
    for n, subs in all_subgroups.items():
        parent = _core.SpaceGroup(n)
        parent_ops = {op.triplet() for op in parent.operations}
        parent_rotations = {operation(op)[0] for op in parent.operations}
        for s in subs:
            assert set(s["operations"]) <= parent_ops
            assert len(s["operations"]) * s["index"] == len(parent.operations)
            rotations = {operation(_core.SymOp(t))[0] for t in s["operations"]}
            assert len(rotations) * s["index"] == len(parent_rotations)  # translations all kept
            assert _core.SpaceGroup.from_hall_number(s["hall_number"]).number == s["number"]
            # A subgroup of index 2 is normal; otherwise its class has [G : N(H)] members,
            # at most [G : H] since the normaliser N(H) contains H.
            assert s["conjugates"] == 1 if s["index"] == 2 else 1 <= s["conjugates"] <= s["index"]


def test_conjugacy_class_sizes_recomputed():
    # P m -3 m: the index-4 R-3m subgroups (one per body diagonal) are 4 conjugates, the
    # index-3 P4/mmm ones (one per cube axis) 3; recomputed here from the rotations.
    parent = {operation(op)[0] for op in _core.SpaceGroup(221).operations}
    for s in _core.maximal_t_subgroups(221):
        h = np.array(sorted({operation(_core.SymOp(t))[0] for t in s["operations"]}))
        classes = set()
        for g in parent:
            g = np.array(g)
            conj = np.einsum("ij,njk,kl->nil", g, h, np.linalg.inv(g).round().astype(int))
            classes.add(frozenset(m.tobytes() for m in conj))
        assert len(classes) == s["conjugates"], s["number"]
    assert {(s["number"], s["conjugates"]) for s in _core.maximal_t_subgroups(221)} >= {(123, 3), (166, 4)}


def test_maximal_t_subgroups_rejects_bad_number():
    with pytest.raises(ValueError):
        _core.maximal_t_subgroups(231)


# ---- identification -------------------------------------------------------------------------

def test_every_setting_identifies_as_itself():
    for hall in range(1, 531):
        g = _core.SpaceGroup.from_hall_number(hall)
        ident = _core.identify_operations([op.triplet() for op in g.operations])
        assert ident["number"] == g.number, hall
        # Settings with identical operations exist (e.g. Hall 322 and 324, 'C 2 2 -1ac');
        # the answer is the first of them, in its own basis at its own origin.
        same = _core.SpaceGroup.from_hall_number(ident["hall_number"])
        assert {op.triplet() for op in same.operations} == {op.triplet() for op in g.operations}
        assert np.array_equal(ident["basis"], np.eye(3)) and not any(ident["origin_shift"])


def test_identification_in_random_bases_and_origins():
    rng = random.Random(20260501)
    for n in range(1, 231):
        basis = random_unimodular(rng)
        origin = [Fraction(rng.randrange(24), 24) for _ in range(3)]
        ops = transform(group_ops(n), basis, origin)
        ident = _core.identify_operations([triplet(r, t) for r, t in ops])
        assert ident["number"] == n
        assert lands_on_setting(ops, ident), (n, ident)


@pytest.mark.parametrize("letter", sorted(PRIMITIVE_CELLS))
def test_identification_of_centred_groups_in_primitive_cells(letter):
    cell = [[Fraction(x) for x in row] for row in PRIMITIVE_CELLS[letter]]
    first_settings = {}  # one setting with this centring letter per type
    for hall in range(1, 531):
        g = _core.SpaceGroup.from_hall_number(hall)
        if g.centring == letter:
            first_settings.setdefault(g.number, hall)
    assert first_settings
    for n, hall in first_settings.items():
        assert det(cell) * len(_core.SpaceGroup.from_hall_number(hall).centring_translations) == 1
        ops = transform(group_ops(hall, by_hall=True), cell, [Fraction(1, 8), 0, Fraction(1, 3)])
        assert len({r for r, _ in ops}) == len(ops)  # primitive: one operation per rotation
        ident = _core.identify_operations([triplet(r, t) for r, t in ops])
        assert ident["number"] == n
        assert lands_on_setting(ops, ident), (hall, ident)


def test_generators_are_enough():
    # P 42/n 21/c 2/m, origin choice 2 (ITA: inversion centre at the origin), from its
    # generators 4_2, -1 and 2 along [1-10].
    ident = _core.identify_operations(["-y+1/2,x,z+1/2", "-x,-y,-z", "-y,-x,-z"])
    assert ident["number"] == 138
    assert ident["hall_number"] == _core.SpaceGroup("138:2").hall_number
    assert not any(ident["origin_shift"])


@pytest.mark.parametrize("bad", [
    ["y,x+y,z"],            # an integer matrix of infinite order: the closure never ends
    ["x,y"],                # not a triplet
    ["x+1/5,y,z"],          # a translation that is no multiple of 1/24
])
def test_identification_errors_are_value_errors(bad):
    with pytest.raises(ValueError):
        _core.identify_operations(bad)


def test_identification_agrees_with_spglib():
    spglib = pytest.importorskip("spglib")
    rng = random.Random(7)
    for n in list(range(1, 231, 3)) + [146, 148, 155, 160, 161, 166, 167, 225, 227, 230]:
        basis = random_unimodular(rng)
        origin = [Fraction(rng.randrange(24), 24) for _ in range(3)]
        ops = transform(group_ops(n), basis, origin)
        ours = _core.identify_operations([triplet(r, t) for r, t in ops])["number"]
        rotations = np.array([r for r, _ in ops], dtype="intc")
        translations = np.array([[float(x) for x in t] for _, t in ops])
        metric = sum(r.T @ r for r in rotations.astype(float))  # invariant under the point group
        lattice = np.linalg.cholesky(metric)  # rows are basis vectors with that metric
        theirs = spglib.get_spacegroup_type_from_symmetry(rotations, translations, lattice)
        assert ours == theirs.number == n


def test_subgroups_agree_with_spglib(all_subgroups):
    spglib = pytest.importorskip("spglib")
    for n in (47, 65, 123, 139, 166, 191, 194, 221, 225, 227, 229, 230):
        for s in all_subgroups[n]:
            ops = [operation(_core.SymOp(t)) for t in s["operations"]]
            rotations = np.array([r for r, _ in ops], dtype="intc")
            translations = np.array([[float(x) for x in t] for _, t in ops])
            lattice = np.linalg.cholesky(sum(r.T @ r for r in rotations.astype(float)))
            assert spglib.get_spacegroup_type_from_symmetry(rotations, translations, lattice).number == s["number"]

"""Space group -> extinction group, accepting whatever a user has in hand."""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from xrdfast._core import ExtinctionGroup, SpaceGroup, extinction_group_number

if TYPE_CHECKING:  # annotations only: numpy is imported where the work is done
    import numpy as np

    from xrdfast._core import Crystal

SpaceGroupLike = int | str | SpaceGroup


def as_space_group(sg: SpaceGroupLike) -> SpaceGroup:
    """A ``SpaceGroup`` from a number, any symbol the core accepts, or a ``SpaceGroup``."""
    if isinstance(sg, SpaceGroup):
        return sg
    if isinstance(sg, int) and not 1 <= sg <= 230:
        raise ValueError(f"space-group number {sg} is outside 1..230")
    return SpaceGroup(sg)


def extinction_group(sg: SpaceGroupLike) -> ExtinctionGroup:
    """The extinction group (1..99, Baggett et al. numbering) of a space group.

    >>> extinction_group(14)
    ExtinctionGroup(4, 'P 21/b 1 1')
    >>> extinction_group("Pnma").number
    17
    """
    return ExtinctionGroup(extinction_group_number(as_space_group(sg).number))


# --------------------------------------------------------------------------- extinction symbols in a setting
#
# The paper names each extinction group by one canonical symbol written in one axis setting
# ("P - c n" for Pnma's group, "P 21/b 1 1" for P21/c's). A user who asked about Pnma
# expects the symbol of Pnma's own axes, "P n - a" (ITA Vol. A, Table 3.2.3.2). For the
# monoclinic and orthorhombic systems, where the axis settings change the symbol, it is
# derived here from the group's systematic absences in the user's setting, position by
# position: the glide of the zone perpendicular to each axis (absences throughout the zone
# beyond those of the lattice centring), else a 2_1 screw along the axis (absences on the
# axial row that neither the centring nor a glide of a zone through the row explains).
# In the other systems every ITA setting differs from the standard one by the origin (or
# obverse/rhombohedral axes) only, and the canonical symbol is the setting's symbol.

_RANGE = 6  # indices up to 6: every glide (modulus 2 or 4) and 2_1 screw shows


def _centring_absent(sg: SpaceGroup, hkl: "np.ndarray") -> "np.ndarray":
    import numpy as np

    t = np.asarray(sg.centring_translations, dtype=float)
    phase = hkl @ t.T  # [n, n_translations]
    return (np.abs(phase - np.round(phase)) > 1e-6).any(axis=1)


def extinction_symbol_in_setting(sg: SpaceGroupLike) -> str:
    """The extinction symbol of ``sg`` written in ``sg``'s own axes (ITA style): "P n - a"
    for Pnma, "P b n -" for Pbnm, "P 1 21/c 1" for P21/c, "C - c -" for Cmcm. Outside the
    monoclinic and orthorhombic systems, the canonical symbol of its extinction group.

    >>> extinction_symbol_in_setting("P n m a")
    'P n - a'
    >>> extinction_symbol_in_setting("P 1 1 21/a")
    'P 1 1 21/a'
    """
    import itertools

    import numpy as np

    group = as_space_group(sg)
    canonical = extinction_group(group).symbol
    if group.crystal_system not in ("monoclinic", "orthorhombic"):
        return canonical
    r = range(-_RANGE, _RANGE + 1)
    box = np.array([h for h in itertools.product(r, r, r) if any(h)], dtype=np.int64)
    absent = np.asarray(group.is_absent(box), dtype=bool)
    centred = _centring_absent(group, box)
    letters = "abc"
    parts = group.hm.split()[1:]
    zone_sets: dict[int, np.ndarray] = {}  # axis -> absences the zone's glide explains (box mask)
    glides: list[str] = []
    for i in range(3):
        p, q = [j for j in range(3) if j != i]
        zone = box[:, i] == 0
        axial = zone & ((box[:, p] == 0) | (box[:, q] == 0))
        hp, hq = box[:, p], box[:, q]
        named = parts[i].split("/")[-1] if len(parts) == 3 else ""  # the H-M symbol's own letter
        glide, explained = "-", np.zeros(len(box), dtype=bool)
        if (zone & ~axial & (absent != centred)).any():  # absences off the axial rows: a glide

            def fits(rule: np.ndarray) -> np.ndarray | None:
                covered = zone & (rule | centred)
                adds = (zone & rule & ~centred).any()
                ok = adds and not (covered & ~absent).any() and not (zone & absent & ~covered & ~axial).any()
                return covered if ok else None

            singles = [(letters[j], fits(h % 2 != 0)) for j, h in ((p, hp), (q, hq))]
            found = [(n, c) for n, c in singles if c is not None]
            if len(found) == 2:  # centring makes the two glides one plane: as the H-M symbol names it
                found = [x for x in found if x[0] == named] or [(f"({letters[p]}{letters[q]})", found[0][1])]
            if not found:  # diagonal glides, only where no axial one explains the zone
                found = [(n, c) for n, c in (("n", fits((hp + hq) % 2 != 0)), ("d", fits((hp + hq) % 4 != 0)))
                         if c is not None][:1]
            if not found:
                return canonical  # not a pattern of glides and screws: keep the paper's name
            glide, explained = found[0]
        glides.append(glide)
        zone_sets[i] = explained
    screws = []
    for i in range(3):
        row = (box[:, i] > 0) & (box[:, [j for j in range(3) if j != i]] == 0).all(axis=1)
        explained = centred | zone_sets[[j for j in range(3) if j != i][0]] | zone_sets[[j for j in range(3) if j != i][1]]
        screws.append(bool((row & absent & ~explained).any()))
    lattice = group.hm.split()[0][0]
    if group.crystal_system == "orthorhombic":
        return " ".join([lattice] + [g if g != "-" else ("21" if s else "-") for g, s in zip(glides, screws)])
    # monoclinic: the unique axis is the one whose rotation or screw the H-M symbol names
    unique = next(i for i, part in enumerate(group.hm.split()[1:]) if part != "1")
    g, s = glides[unique], screws[unique]
    position = (("21/" + g) if s and g != "-" else ("21" if s else g))
    return " ".join([lattice] + [position if i == unique else "1" for i in range(3)])


# --------------------------------------------------------------------------- the symmetry a structure has
#
# A CIF written in P1 (Materials Project, many tutorials) lists every atom of the cell with
# only the identity. Simulated as written, symmetry-equivalent reflections come out as
# separate lines. find_symmetry recovers the operations the atoms obey in the user's own
# cell: rotations are the integer matrices with entries in {-1, 0, 1} that keep the metric
# (every lattice symmetry of a Buerger/Niggli-like cell is among them; a skewed cell may hide
# some, and then fewer are found, never wrong ones), translations those that carry one atom
# onto another of its type, kept when every atom lands on an atom of its type. The core's
# identify_operations then names the space group and its setting.


def _metric(cell: "Sequence[float]") -> "np.ndarray":
    import numpy as np

    a, b, c, alpha, beta, gamma = cell
    ca, cb, cg = (np.cos(np.radians(x)) for x in (alpha, beta, gamma))
    return np.array([[a * a, a * b * cg, a * c * cb], [a * b * cg, b * b, b * c * ca], [a * c * cb, b * c * ca, c * c]])


def find_symmetry(crystal: "Crystal", tolerance: float = 0.01) -> tuple["Crystal", dict]:
    """The crystal with the full symmetry its atoms have in its own cell, and what was found:
    {"number", "hm", "operations" (count), "given" (count of the operations it came with)}.
    ``tolerance`` (Å) bounds how far an atom may land from its image. The cell, the atoms
    and their order are kept; the sites become one representative per orbit."""
    import itertools

    import numpy as np

    from xrdfast._core import Crystal, SymOp

    atoms = crystal.atoms()
    sites = crystal.sites()
    frac = np.asarray(atoms["frac"], dtype=float) % 1.0
    site_of = np.asarray(atoms["site"])
    types = np.array([sites["types"][s] for s in site_of])
    occupancy, b_iso = np.asarray(atoms["occupancy"], float), np.asarray(atoms["b_iso"], float)
    signature = np.array([f"{t}|{o:.4f}|{b:.3f}" for t, o, b in zip(types, occupancy, b_iso)])
    info = {"given": len(crystal.operations)}
    g = _metric(crystal.cell)
    # rotations that keep the metric (to 1e-3 relative)
    candidates = np.array(list(itertools.product((-1, 0, 1), repeat=9)), dtype=np.int64).reshape(-1, 3, 3)
    candidates = candidates[np.abs(np.round(np.linalg.det(candidates))) == 1]
    kept = np.einsum("nji,jk,nkl->nil", candidates, g, candidates)
    rotations = candidates[np.all(np.abs(kept - g) <= 1e-3 * np.abs(g).max(), axis=(1, 2))]
    ref = min(set(signature), key=lambda s: np.count_nonzero(signature == s))
    ref_atoms = np.flatnonzero(signature == ref)
    x0 = frac[ref_atoms[0]]

    def lands(r: np.ndarray, t: np.ndarray) -> bool:
        image = frac @ r.T + t
        delta = image[:, None, :] - frac[None, :, :]
        delta -= np.round(delta)
        distance = np.sqrt(np.einsum("abi,ij,abj->ab", delta, g, delta))
        same = signature[:, None] == signature[None, :]
        return bool(np.all(np.min(np.where(same, distance, np.inf), axis=1) <= tolerance))

    operations: list[tuple[np.ndarray, np.ndarray]] = []
    for r in rotations:
        for j in ref_atoms:
            t = (frac[j] - r @ x0) % 1.0
            if lands(r, t):
                operations.append((r, t))
    if len(operations) <= len(crystal.operations):
        return crystal, {**info, **_name_of([op.triplet() for op in crystal.operations]), "operations": info["given"]}
    triplets = [_triplet(r, t) for r, t in operations]
    name = _name_of(triplets)
    # one representative per orbit
    covered = np.zeros(len(frac), dtype=bool)
    keep = []
    for i in range(len(frac)):
        if covered[i]:
            continue
        keep.append(i)
        for r, t in operations:
            image = r @ frac[i] + t
            delta = frac - image
            delta -= np.round(delta)
            covered |= (np.sqrt(np.einsum("ai,ij,aj->a", delta, g, delta)) <= tolerance) & (signature == signature[i])
    labels = [sites["labels"][site_of[i]] for i in keep]
    symmetric = Crystal(crystal.name, crystal.cell, [SymOp(t) for t in triplets], labels, list(types[keep]),
                        frac[keep], occupancy[keep], b_iso[keep])
    if symmetric.n_atoms != crystal.n_atoms:  # the tolerance merged atoms that are distinct: keep what was given
        return crystal, {**info, **_name_of([op.triplet() for op in crystal.operations]), "operations": info["given"]}
    return symmetric, {**info, **name, "operations": len(operations)}


def _name_of(triplets: list[str]) -> dict:
    from xrdfast._core import identify_operations

    found = identify_operations(triplets)
    return {"number": int(found["number"]), "hm": str(found["hm"])}


def _triplet(r: "np.ndarray", t: "np.ndarray") -> str:
    from fractions import Fraction

    parts = []
    for row, shift in zip(r, t):
        text = "".join(("+" if c > 0 else "-") + ("" if abs(c) == 1 else str(abs(c))) + "xyz"[k]
                       for k, c in enumerate(row) if c)
        fraction = Fraction(float(shift)).limit_denominator(24) % 1
        if fraction:
            text += f"+{fraction.numerator}/{fraction.denominator}"
        parts.append(text.lstrip("+"))
    return ",".join(parts)

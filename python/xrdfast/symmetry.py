"""Space group -> extinction group, accepting whatever a user has in hand."""
from __future__ import annotations

from xrdfast._core import ExtinctionGroup, SpaceGroup, extinction_group_number

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

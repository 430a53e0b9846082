"""Crystal structures from what users have: CIF files (read by gemmi, any setting),
pymatgen ``Structure`` and ASE ``Atoms`` objects, or plain arrays.

Everything ends as an ``xrdfast.Crystal``: cell, the symmetry operations of the
coordinates' own setting, and the sites of the asymmetric unit. Errors are ``ValueError``
naming the file or structure and what was wrong.

What a structure may hold is checked in one place, the ``Crystal`` constructor: cell lengths
1..1000 Å, angles that give a volume, fractional coordinates within ±100, occupancies 0..1,
B 0..100 Å², element symbols with an oxidation state between -4 and +8, no overlapping
sites; a reciprocal-lattice sphere of at most 5e6 points is checked before simulating. What
only a file can get wrong is checked here: the file itself (``inputfile.read_input_file``),
its symmetry items, and negative displacement parameters. Values a database entry can hold
but that are not used as written are warned about (``StructureWarning``), naming the site:
a slightly negative U (set to 0), an ion without tabulated form factor (neutral atom used),
symmetry items that disagree.

Symmetry of a CIF, in order: the operations loop (``_space_group_symop_operation_xyz`` or
``_symmetry_equiv_pos_as_xyz``), else the Hall symbol, else the H-M symbol (``_space_group_name_H-M_alt``
or ``_symmetry_space_group_name_H-M``) as gemmi (0.7) reads it -- origin choice 2 unless the
symbol says ``:1``, hexagonal or rhombohedral axes by the cell's angles -- else the number
(``_space_group_IT_number`` or ``_symmetry_Int_Tables_number``) read as its H-M symbol would be,
with a warning where it leaves the origin choice open.
"""
from __future__ import annotations

import math
import os
import re
import warnings
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from xrdfast._core import Crystal, SpaceGroup, SymOp
from xrdfast.inputfile import read_input_file

StructureLike = Any  # Crystal | str | os.PathLike | pymatgen Structure | ase Atoms

_U_TO_B = 8.0 * math.pi**2  # B = 8 pi^2 U
# Å^2 when a source gives no displacement parameter: zero, as cctbx and pymatgen assume, so
# that a file means the same pattern here as there.
DEFAULT_B_ISO = 0.0
# Å^2. A refinement can end a little below zero (a database entry then holds it): that is
# set to zero with a warning. Far below zero it is not a refinement artefact but garbage.
U_ISO_REFUSED_BELOW = -0.1
# bytes; the largest CIFs (proteins, structure factors included) hold tens of MB
MAX_STRUCTURE_BYTES = 64 * 2**20


class StructureWarning(UserWarning):
    """A structure was read, but a value in it is not used as written (the site is named)."""


def _crystal(name: str, cell: Sequence[float], operations: list[SymOp], labels: list[str], types: list[str],
             frac: np.ndarray, occupancy: np.ndarray, b_iso: np.ndarray) -> Crystal:
    """The ``Crystal`` (whose constructor checks every value), with a warning for each ion
    read as its neutral atom because its form factor is not tabulated."""
    crystal = Crystal(name, tuple(float(x) for x in cell), operations, labels, types, frac, occupancy, b_iso)
    used = crystal.sites()["types"]
    for label, asked, got in zip(labels, types, used):
        if asked.strip() != got and asked.strip().rstrip("+-0123456789").capitalize() == got:
            warnings.warn(f"crystal '{name}', site '{label}': no form factor is tabulated for the ion {asked!r}; "
                          f"the neutral atom {got!r} is used", StructureWarning, stacklevel=3)
    return crystal


def from_arrays(
    cell: Sequence[float],
    space_group: int | str | SpaceGroup | Iterable[str],
    types: Sequence[str],
    frac: Any,
    occupancy: Any = 1.0,
    b_iso: Any = DEFAULT_B_ISO,
    labels: Sequence[str] | None = None,
    name: str = "crystal",
) -> Crystal:
    """A crystal from a cell (a, b, c, alpha, beta, gamma), a space group (number, symbol,
    ``SpaceGroup`` or list of operation triplets) and per-site arrays."""
    frac = np.atleast_2d(np.asarray(frac, dtype=float))
    n = len(types)
    if frac.shape != (n, 3):
        raise ValueError(f"crystal '{name}': frac must have shape ({n}, 3) for {n} site types, got {frac.shape}")
    if len(cell) != 6:
        raise ValueError(f"crystal '{name}': cell must be (a, b, c, alpha, beta, gamma), got {len(cell)} numbers")
    if isinstance(space_group, (int, str, SpaceGroup)):
        group = space_group if isinstance(space_group, SpaceGroup) else SpaceGroup(space_group)
        operations = list(group.operations)
    else:
        operations = [SymOp(t) for t in space_group]
    labels = list(labels) if labels is not None else [f"{t}{i + 1}" for i, t in enumerate(types)]
    return _crystal(name, cell, operations, labels, list(types), frac,
                    np.broadcast_to(np.asarray(occupancy, dtype=float), (n,)).copy(),
                    np.broadcast_to(np.asarray(b_iso, dtype=float), (n,)).copy())


def from_cif(path: str | os.PathLike, block: str | int = 0) -> Crystal:
    """The structure in one data block of a CIF file (first block by default)."""
    import gemmi

    path = Path(path)
    text = read_input_file(path, "structure file (CIF)", MAX_STRUCTURE_BYTES).decode("utf-8", errors="replace")
    try:
        doc = gemmi.cif.read_string(_ddl1_tags(text))
    except Exception as error:  # gemmi raises RuntimeError/ValueError with a line number
        raise ValueError(f"{path}: not a readable CIF ({error})") from None
    try:
        cif_block = doc[block] if isinstance(block, int) else doc.find_block(block)
    except IndexError:
        raise ValueError(f"{path}: has no data block {block!r}") from None
    if cif_block is None:
        raise ValueError(f"{path}: has no data block {block!r}")
    return from_cif_block(cif_block, name=f"{path.name}:{cif_block.name}")


def from_cif_text(text: str, name: str = "cif") -> Crystal:
    """The structure in the first data block of CIF text."""
    import gemmi

    try:
        doc = gemmi.cif.read_string(_ddl1_tags(text))
    except Exception as error:
        raise ValueError(f"{name}: not a readable CIF ({error})") from None
    if len(doc) == 0:
        raise ValueError(f"{name}: no data block")
    return from_cif_block(doc[0], name=name)


_DDLM_TAG = re.compile(r"(?m)^(\s*_[A-Za-z0-9_]+)\.([A-Za-z0-9_\[\]-]+)")


def _ddl1_tags(text: str) -> str:
    """CIF 2 / DDLm tags (``_cell.length_a``) spelt the DDL1 way (``_cell_length_a``), which
    is what gemmi's small-structure reader looks for; cctbx and others write the former."""
    return _DDLM_TAG.sub(r"\1_\2", text) if re.search(r"(?m)^\s*_cell\.length_a", text) else text


def from_cif_block(cif_block: Any, name: str) -> Crystal:
    import gemmi

    try:
        small = gemmi.make_small_structure_from_block(cif_block)
    except Exception as error:
        raise ValueError(f"{name}: cannot read the structure ({error})") from None
    cell = small.cell
    if not small.sites:
        raise ValueError(f"{name}: no atom sites (_atom_site_fract_x ...)")
    if cell.a <= 1 or cell.volume <= 0:
        raise ValueError(f"{name}: no valid unit cell (_cell_length_a ...)")
    try:
        operations = [SymOp(t) for t in _triplets(small, name)]
    except ValueError as error:
        raise ValueError(error if str(error).startswith(name) else f"{name}: {error}") from None
    types, labels, frac, occ, b_iso = [], [], [], [], []
    for site in small.sites:
        # X-rays see deuterium as hydrogen; the neutron lengths are keyed by element
        element = "H" if site.element.name == "D" else site.element.name
        types.append(element + (f"{abs(site.charge)}{'+' if site.charge > 0 else '-'}" if site.charge else ""))
        labels.append(site.label)
        frac.append([site.fract.x, site.fract.y, site.fract.z])
        occ.append(site.occ)
        u = site.u_iso
        if u == 0 and site.aniso.nonzero():
            u = _u_equivalent(site.aniso, cell)
        b_iso.append(_b_from_u(u, name, site.label))
    return _crystal(name, (cell.a, cell.b, cell.c, cell.alpha, cell.beta, cell.gamma), operations, labels, types,
                    np.array(frac, dtype=float), np.array(occ, dtype=float), np.array(b_iso, dtype=float))


def _triplets(small: Any, name: str) -> list[str]:
    """The operations of the file's own setting: its operations loop, else the space group
    that its Hall symbol, H-M symbol or number names (see the module's docstring)."""
    import gemmi

    if small.symops:
        return list(small.symops)
    given = {"Hall symbol": small.spacegroup_hall, "H-M symbol": small.spacegroup_hm,
             "number": small.spacegroup_number or ""}
    given = {k: v for k, v in given.items() if v}
    group = small.spacegroup  # gemmi (0.7) sets it from the Hall or H-M symbol as it reads
    if group is None and 1 <= small.spacegroup_number <= 230:
        # a number means what its H-M symbol would: origin choice 2, axes by the cell's angles
        symbol = gemmi.find_spacegroup_by_number(small.spacegroup_number).hm
        group = gemmi.find_spacegroup_by_name(symbol, small.cell.alpha, small.cell.gamma, prefer="2")
        if group.ext in ("1", "2"):
            warnings.warn(f"{name}: space group {group.number} is given by number only; origin choice "
                          f"{group.ext} ({group.xhm()!r}) is assumed", StructureWarning, stacklevel=4)
    if group is None:
        what = ", ".join(f"{k} {v!r}" for k, v in given.items()) or "none given"
        raise ValueError(f"{name}: no symmetry operations (_space_group_symop_operation_xyz) and no "
                         f"recognisable space group ({what})")
    disagreement = small.check_spacegroup().strip()
    if disagreement:
        warnings.warn(f"{name}: the symmetry items disagree ({'; '.join(disagreement.splitlines())}); "
                      f"{group.xhm()!r} is used", StructureWarning, stacklevel=4)
    return [op.triplet() for op in group.operations()]


def _b_from_u(u: float, name: str, label: str) -> float:
    """B (Å^2) of a site from its U_iso or U_eq; missing is the default, negative is zero
    with a warning, or an error when far below zero."""
    if not math.isfinite(u) or u == 0:
        return DEFAULT_B_ISO
    if u < U_ISO_REFUSED_BELOW:
        raise ValueError(f"{name}: site '{label}' has U_iso = {u:.4g} Å² (B = {u * _U_TO_B:.4g} Å²); a displacement "
                         f"parameter below {U_ISO_REFUSED_BELOW} Å² is not a refinement result")
    if u < 0:
        warnings.warn(f"{name}: site '{label}' has a negative U_iso = {u:.4g} Å² (B = {u * _U_TO_B:.4g} Å²); "
                      "it is taken as 0", StructureWarning, stacklevel=5)
        return 0.0
    return u * _U_TO_B


def _u_equivalent(aniso: Any, cell: Any) -> float:
    """U_eq = 1/3 sum_ij U^ij a*_i a*_j a_i.a_j (Fischer & Tillmanns, Acta Cryst. C44, 775
    (1988)); the plain mean of U11, U22, U33 is wrong for oblique cells."""
    u = np.array([[aniso.u11, aniso.u12, aniso.u13], [aniso.u12, aniso.u22, aniso.u23], [aniso.u13, aniso.u23, aniso.u33]])
    orth = np.array(cell.orth.mat.tolist())
    g = orth.T @ orth
    a_star = np.sqrt(np.diag(np.linalg.inv(g)))
    return float(np.sum(u * np.outer(a_star, a_star) * g) / 3.0)


def from_pymatgen(structure: Any, name: str | None = None) -> Crystal:
    """A pymatgen ``Structure`` (P1 sites; partial occupancies kept, oxidation states used)."""
    lat = structure.lattice
    types, frac, occ, b_iso = [], [], [], []
    for site in structure:
        for species, amount in site.species.items():
            charge = getattr(species, "oxi_state", None) or 0
            symbol = species.symbol if hasattr(species, "symbol") else str(species)
            types.append(symbol + (f"{abs(int(charge))}{'+' if charge > 0 else '-'}" if charge and float(charge).is_integer() else ""))
            frac.append(site.frac_coords)
            occ.append(amount)
            b_iso.append(site.properties.get("b_iso", DEFAULT_B_ISO) if site.properties else DEFAULT_B_ISO)
    return from_arrays((lat.a, lat.b, lat.c, lat.alpha, lat.beta, lat.gamma), ["x,y,z"], types, frac, occ, b_iso,
                       name=name or structure.composition.reduced_formula)


def from_ase(atoms: Any, name: str | None = None) -> Crystal:
    """An ASE ``Atoms`` object (P1; must be periodic with a cell)."""
    if not all(atoms.pbc) or atoms.cell.volume <= 0:
        raise ValueError(f"ASE Atoms '{atoms.get_chemical_formula()}': needs a periodic cell")
    a, b, c, alpha, beta, gamma = atoms.cell.cellpar()
    return from_arrays((a, b, c, alpha, beta, gamma), ["x,y,z"], atoms.get_chemical_symbols(),
                       atoms.get_scaled_positions(wrap=True), name=name or atoms.get_chemical_formula())


def load_structure(obj: StructureLike) -> Crystal:
    """Whatever the user has, as a ``Crystal``."""
    if isinstance(obj, Crystal):
        return obj
    if isinstance(obj, (str, os.PathLike)):
        return from_cif(obj)  # read_input_file says what is wrong with a path that is not a file
    module = type(obj).__module__
    if module.startswith("pymatgen"):
        return from_pymatgen(obj)
    if module.startswith("ase"):
        return from_ase(obj)
    raise ValueError(f"cannot make a crystal from a {type(obj).__name__}: give a Crystal, a CIF path, "
                     "a pymatgen Structure or an ASE Atoms")

"""The structures of the simulation benchmark, each built the same way for xrdfast, pymatgen
and cctbx from one table of published coordinates.

Five real structures (cell, space-group setting, asymmetric unit; sources cited per entry,
AMCSD numbers from the database shipped in the ``larixite`` package) and one synthetic 96-atom
P2_1/c cell: the larixite AMCSD holds no P2_1/c entry with more than 9 sites, so the 24
general sites are placed by a deterministic random sequential addition with minimum
distances (``synthetic_p21c_sites``); ``python benchmarks/structures.py --check`` proves the
committed table is what the generator gives and that every distance is sensible.

Each peer expands the asymmetric unit with its own symmetry tables (xrdfast's Hall settings,
pymatgen's ``Structure.from_spacegroup``, cctbx's ``sgtbx``), so the benchmark's sanity
check -- same atom count, same line positions -- compares three independent expansions.
"""
from __future__ import annotations

import argparse
import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

# One isotropic B per element of a structure (Å^2): pymatgen's XRDCalculator takes
# Debye-Waller factors per element only, so per-site values are averaged per element.
U_TO_B = 8.0 * math.pi**2


@dataclass(frozen=True)
class BenchStructure:
    name: str                  # short label printed in the tables
    xrdfast_group: str         # key of xrdfast.SpaceGroup (number, symbol or "227:1")
    pymatgen_group: str        # symbol for pymatgen Structure.from_spacegroup (same setting)
    cctbx_group: str           # symbol for cctbx crystal.symmetry (same setting)
    cell: tuple[float, float, float, float, float, float]  # a, b, c (Å), alpha, beta, gamma (deg)
    types: tuple[str, ...]     # [n_sites] element symbols
    frac: tuple[tuple[float, float, float], ...]  # [n_sites, 3] fractional coordinates
    b_iso: dict[str, float]    # element -> B (Å^2)
    n_atoms: int               # atoms in the full cell, for the sanity check
    source: str

    def xrdfast(self) -> Any:
        import xrdfast

        return xrdfast.from_arrays(self.cell, self.xrdfast_group, list(self.types), np.array(self.frac),
                                   1.0, [self.b_iso[t] for t in self.types], name=self.name)

    def pymatgen(self) -> Any:
        from pymatgen.core import Lattice, Structure

        return Structure.from_spacegroup(self.pymatgen_group, Lattice.from_parameters(*self.cell),
                                         list(self.types), [list(x) for x in self.frac])

    def cctbx(self) -> Any:
        """An ``xray.structure`` with the WK1995 form factors (those xrdfast uses)."""
        from cctbx import crystal, xray
        from cctbx.array_family import flex

        symmetry = crystal.symmetry(unit_cell=self.cell, space_group_symbol=self.cctbx_group)
        scatterers = flex.xray_scatterer([
            xray.scatterer(label=f"{t}{i + 1}", site=x, b=self.b_iso[t], scattering_type=t)
            for i, (t, x) in enumerate(zip(self.types, self.frac))])
        structure = xray.structure(crystal_symmetry=symmetry, scatterers=scatterers)
        structure.scattering_type_registry(table="wk1995")
        return structure


# --- The synthetic 96-atom P2_1/c cell ---------------------------------------------------

SYNTHETIC_CELL = (10.20, 11.60, 11.00, 90.0, 103.5, 90.0)  # 1264 Å^3: 13 Å^3 per atom, oxide-like
SYNTHETIC_TYPES = ("Ba",) * 2 + ("Ca",) * 2 + ("Fe",) * 2 + ("Si",) * 4 + ("O",) * 14
SYNTHETIC_SEED = 14
# Minimum distances (Å) the generator keeps: cation-cation, cation-O, O-O.
MIN_CATION_CATION, MIN_CATION_O, MIN_O_O = 2.9, 1.8, 2.2
# P2_1/c, unique axis b, cell choice 1 (ITA Vol. A, No. 14): x,y,z; -x,y+1/2,-z+1/2; -x,-y,-z; x,-y+1/2,z+1/2
_P21C = [(np.diag([1, 1, 1]), np.array([0, 0, 0])), (np.diag([-1, 1, -1]), np.array([0, 0.5, 0.5])),
         (np.diag([-1, -1, -1]), np.array([0, 0, 0])), (np.diag([1, -1, 1]), np.array([0, 0.5, 0.5]))]

SYNTHETIC_FRAC = (  # [24, 3], written by synthetic_p21c_sites() rounded to 4 decimals
    (0.8310, 0.3609, 0.7027), (0.8601, 0.6413, 0.5484),   # Ba
    (0.5725, 0.7463, 0.0636), (0.7597, 0.9228, 0.3444),   # Ca
    (0.2808, 0.6544, 0.6860), (0.9480, 0.0163, 0.6818),   # Fe
    (0.3475, 0.5624, 0.9665), (0.4955, 0.0555, 0.2712), (0.1828, 0.3149, 0.7333), (0.0481, 0.8211, 0.5193),  # Si
    (0.5745, 0.8525, 0.9201), (0.9887, 0.2275, 0.7434), (0.5558, 0.9476, 0.1721), (0.2704, 0.4688, 0.8111),  # O
    (0.0479, 0.6253, 0.4801), (0.1648, 0.1655, 0.3965), (0.6991, 0.0070, 0.0312), (0.7394, 0.3272, 0.8292),
    (0.8607, 0.4938, 0.0086), (0.5204, 0.1413, 0.6688), (0.7650, 0.3210, 0.1529), (0.3663, 0.7922, 0.0307),
    (0.2396, 0.3257, 0.2951), (0.1947, 0.4404, 0.6083),
)


def _orthogonalisation(cell: tuple[float, ...]) -> np.ndarray:
    a, b, c, al, be, ga = cell
    al, be, ga = np.radians([al, be, ga])
    v = math.sqrt(1 - math.cos(al) ** 2 - math.cos(be) ** 2 - math.cos(ga) ** 2
                  + 2 * math.cos(al) * math.cos(be) * math.cos(ga))
    return np.array([[a, b * math.cos(ga), c * math.cos(be)],
                     [0, b * math.sin(ga), c * (math.cos(al) - math.cos(be) * math.cos(ga)) / math.sin(ga)],
                     [0, 0, c * v / math.sin(ga)]])


def _min_distance(t: str, u: str) -> float:
    if t != "O" and u != "O":
        return MIN_CATION_CATION
    return MIN_O_O if t == u == "O" else MIN_CATION_O


def _too_close(x: np.ndarray, t: str, placed: list[np.ndarray], types: list[str], orth: np.ndarray,
               slack: float = 0.0) -> bool:
    for y, u in zip(placed, types):
        d = x - y
        d -= np.round(d)
        if np.linalg.norm(orth @ d) < _min_distance(t, u) - slack:
            return True
    return False


def synthetic_p21c_sites(seed: int = SYNTHETIC_SEED) -> list[np.ndarray]:
    """24 general sites in P2_1/c by random sequential addition: a candidate is kept when its
    four images keep the minimum distances to each other and to every atom placed so far."""
    rng = np.random.default_rng(seed)
    orth = _orthogonalisation(SYNTHETIC_CELL)
    placed: list[np.ndarray] = []
    types: list[str] = []
    sites = []
    for t in SYNTHETIC_TYPES:
        for _ in range(20000):
            x = rng.random(3)
            images = [(r @ x + s) % 1.0 for r, s in _P21C]
            own = any(_too_close(images[i], t, [images[j]], [t], orth) for i, j in itertools.combinations(range(4), 2))
            if not own and not any(_too_close(y, t, placed, types, orth) for y in images):
                break
        else:
            raise RuntimeError(f"seed {seed}: no room for site {len(sites) + 1} ({t})")
        placed += images
        types += [t] * 4
        sites.append(x)
    return sites


def check_synthetic() -> float:
    """Prove the committed table is the generator's output and return its closest distance."""
    generated = np.round(np.array(synthetic_p21c_sites()), 4)
    assert np.array_equal(generated, np.array(SYNTHETIC_FRAC)), "SYNTHETIC_FRAC differs from synthetic_p21c_sites()"
    orth = _orthogonalisation(SYNTHETIC_CELL)
    atoms = [((r @ np.array(x) + s) % 1.0, t) for x, t in zip(SYNTHETIC_FRAC, SYNTHETIC_TYPES) for r, s in _P21C]
    closest = math.inf
    for (x, t), (y, u) in itertools.combinations(atoms, 2):
        d = x - y
        d -= np.round(d)
        dist = float(np.linalg.norm(orth @ d))
        assert dist >= _min_distance(t, u) - 1e-3, f"{t}-{u} at {dist:.3f} Å"  # 1e-3: the 4-decimal rounding
        closest = min(closest, dist)
    return closest


# --- The table --------------------------------------------------------------------------

STRUCTURES: tuple[BenchStructure, ...] = (
    BenchStructure(
        "NaCl", "F m -3 m", "Fm-3m", "F m -3 m", (5.6401, 5.6401, 5.6401, 90, 90, 90),
        ("Na", "Cl"), ((0, 0, 0), (0.5, 0.5, 0.5)), {"Na": 1.6, "Cl": 1.2}, 8,
        "halite, Walker et al., Am. Mineral. 89, 204 (2004), 25 C (AMCSD 3397); B approximate (assumed)"),
    BenchStructure(
        "Si", "227:1", "Fd-3m", "F d -3 m :1", (5.430941, 5.430941, 5.430941, 90, 90, 90),
        ("Si",), ((0, 0, 0),), {"Si": 0.46}, 8,
        "Hom, Kiszenick & Post, J. Appl. Cryst. 8, 457 (1975), 25 C, origin choice 1 (AMCSD 12843); "
        "B: Flensburg & Stewart, Phys. Rev. B 60, 284 (1999)"),
    BenchStructure(
        "TiO2 rutile", "P 42/m n m", "P4_2/mnm", "P 42/m n m", (4.5937, 4.5937, 2.9587, 90, 90, 90),
        ("Ti", "O"), ((0, 0, 0), (0.30478, 0.30478, 0)), {"Ti": 0.42, "O": 0.60}, 6,
        "Howard, Sabine & Dickson, Acta Cryst. B47, 462 (1991) (AMCSD 19092); B approximate (assumed)"),
    BenchStructure(
        "ZrO2 baddeleyite", "P 1 21/c 1", "P2_1/c", "P 1 21/c 1", (5.1505, 5.2116, 5.3173, 90, 99.23, 90),
        ("Zr", "O", "O"), ((0.2754, 0.0395, 0.2083), (0.0700, 0.3317, 0.3447), (0.4496, 0.7569, 0.4792)),
        {"Zr": round(0.00418 * U_TO_B, 3), "O": round(0.5 * (0.00697 + 0.00583) * U_TO_B, 3)}, 12,
        "Howard, Hill & Reichert, Acta Cryst. B44, 116 (1988), neutron powder, room temperature (AMCSD 19229)"),
    BenchStructure(
        "YAG Y3Al5O12", "I a -3 d", "Ia-3d", "I a -3 d", (12.000, 12.000, 12.000, 90, 90, 90),
        ("Y", "Al", "Al", "O"), ((0.125, 0, 0.25), (0, 0, 0), (0.375, 0, 0.25), (-0.0306, 0.0512, 0.1500)),
        {"Y": 0.4, "Al": 0.4, "O": 0.5}, 160,
        "Euler & Bruce, Acta Cryst. 19, 971 (1965): Y 24c, Al 16a and 24d, O 96h; B approximate (assumed)"),
    BenchStructure(
        "synthetic P21/c 96", "P 1 21/c 1", "P2_1/c", "P 1 21/c 1", SYNTHETIC_CELL,
        SYNTHETIC_TYPES, SYNTHETIC_FRAC, {"Ba": 0.8, "Ca": 0.6, "Fe": 0.5, "Si": 0.4, "O": 0.7}, 96,
        f"synthetic: 24 general sites by synthetic_p21c_sites(seed={SYNTHETIC_SEED}) (no 24-site P2_1/c entry "
        "in the larixite AMCSD)"),
)


def by_name(name: str) -> BenchStructure:
    for s in STRUCTURES:
        if s.name == name:
            return s
    raise KeyError(f"no benchmark structure {name!r}; known: {[s.name for s in STRUCTURES]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="regenerate the synthetic cell and check its distances")
    args = parser.parse_args()
    if args.check:
        print(f"synthetic P2_1/c table is current; closest contact {check_synthetic():.3f} Å")
    for s in STRUCTURES:
        print(f"{s.name:20s} {s.xrdfast_group:12s} {len(s.types):3d} sites {s.n_atoms:4d} atoms  {s.source}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Generate the element data of the random-crystal engine: ``cpp/src/element_table.inc``.

Z = 1..98: covalent radius (gemmi ``Element.covalent_r``, the radii of Cordero et al. 2008,
Dalton Trans. 2832), the number of AMCSD mineral structures that contain the element (the
"mineral-like" abundance weights), and a mean atomic volume fitted to the same structures
(the cell-volume model), see ``element_block``. random_crystal.cpp includes the file.

Usage: ``python scripts/gen_element_table.py [--check]``.  With ``--check`` nothing is written
and the exit status says whether the committed file is current.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gen_wyckoff_table import _q, _version, parse_triplet  # AMCSD operations read as the Wyckoff generator reads them

ROOT = Path(__file__).resolve().parents[1]
ELEMENT_INC = ROOT / "cpp/src/element_table.inc"


def _amcsd_db() -> Path:
    """larixite's AMCSD database, located without importing larixite (its imports crash next
    to cctbx's in one process)."""
    import importlib.util

    spec = importlib.util.find_spec("larixite")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("the element data need larixite (pip install larixite), which ships AMCSD")
    return Path(spec.submodule_search_locations[0]) / "amcsd_cif1.db"


def _amcsd_structures():
    """(cell volume in A^3, {element: atoms in the cell}) of each AMCSD entry whose site labels
    all name one of the entry's elements; atoms on special positions counted once, occupancy
    weighted."""
    import base64
    import json
    import sqlite3

    import numpy as np

    con = sqlite3.connect(_amcsd_db())
    ops = {}
    for sg_id, xyz in con.execute("select id, symmetry_xyz from spacegroups"):
        parsed = [parse_triplet(t.replace(" ", "").lower()) for t in json.loads(xyz)]
        ops[sg_id] = (np.array([m for m, _ in parsed], float), np.array([[float(v) for v in t] for _, t in parsed]))
    elements: dict[int, set[str]] = {}
    for cif_id, element in con.execute("select cif_id, element from cif_elements"):
        elements.setdefault(int(cif_id), set()).add(element)

    def decode(text):  # larixite's encoding: int32 / 4e6, with '?' -> 2 and '.' -> 3
        return None if text in (None, "", "0") else np.frombuffer(base64.b64decode(text), np.int32) / 4e6

    out = []
    query = "select id, spacegroup_id, cell_volume, atoms_sites, atoms_x, atoms_y, atoms_z, atoms_occupancy from cif"
    for cif_id, sg_id, volume, labels, xs, ys, zs, occupancies in con.execute(query):
        labels, allowed = json.loads(labels or "[]"), elements.get(cif_id, set())
        x, y, z, occ = decode(xs), decode(ys), decode(zs), decode(occupancies)
        if not labels or x is None or y is None or z is None or len(x) != len(labels) or sg_id not in ops:
            continue
        occ = np.ones(len(labels)) if occ is None else np.where((occ > 1.0001) | (occ <= 0), 1.0, occ)
        rot, tran = ops[sg_id]
        counts: dict[str, float] = {}
        for label, px, py, pz, o in zip(labels, x, y, z, occ):
            two, one = label[:2].capitalize(), label[:1].upper()
            element = two if two in allowed else one if one in allowed else None
            if element is None or max(px, py, pz) > 1.5:  # unresolved label, or '?' coordinates
                break
            images = rot @ np.array([px, py, pz]) + tran
            d = images - images[0]
            d -= np.round(d)
            stabilizer = int(np.all(np.abs(d) < 2e-3, axis=1).sum())
            counts[element] = counts.get(element, 0.0) + o * len(images) / stabilizer
        else:
            out.append((float(volume), counts))
    return out


def element_block() -> str:
    """Covalent radii, AMCSD abundance and fitted atomic volumes for Z = 1..98, as C++ rows.

    Atomic volumes v_Z minimise sum over AMCSD structures of (sum_Z n_Z v_Z / V_cell - 1)^2 with
    v_Z >= 0 (relative residuals, so large cells do not dominate), refitted once without the
    structures the first fit misses by more than a factor of two. Elements in fewer than
    ten structures get k * r_cov^3, k the median of v_Z / r_cov^3 over the elements in at
    least a hundred. The spread of V_cell / sum n_Z v_Z (5 % and 95 % quantiles) sets the
    default range of the random volume factor.
    """
    import sqlite3

    import gemmi
    import numpy as np
    from scipy.optimize import nnls

    symbols = [gemmi.Element(z).name for z in range(1, 99)]
    radii = np.array([round(gemmi.Element(z).covalent_r, 2) for z in range(1, 99)])
    con = sqlite3.connect(_amcsd_db())
    query = ("select element, count(distinct e.cif_id) from cif_elements e "
             "join cif on cast(e.cif_id as integer) = cif.id group by element")
    abundance = dict(con.execute(query).fetchall())
    n_structures = con.execute("select count(*) from cif").fetchone()[0]

    structures = _amcsd_structures()
    index = {s: i for i, s in enumerate(symbols)}
    counts = np.zeros((len(structures), 98))
    volumes = np.array([v for v, _ in structures])
    for row, (_, composition) in enumerate(structures):
        for element, n in composition.items():
            counts[row, index[element]] += n
    keep = np.ones(len(structures), bool)
    for _ in range(2):
        a = counts[keep] / volumes[keep, None]
        v, _ = nnls(a, np.ones(int(keep.sum())))
        ratio = volumes / np.maximum(counts @ v, 1e-9)
        keep = (ratio > 0.5) & (ratio < 2.0)
    present = (counts[keep] > 0).sum(axis=0)
    well = (present >= 100) & (v > 0)
    k = float(np.median(v[well] / radii[well] ** 3))
    fallback = (present < 10) | (v <= 0)
    v = np.where(fallback, k * radii**3, v)
    lo, hi = np.quantile(ratio[keep], [0.05, 0.95])

    lines = [
        f"// Generated by scripts/gen_element_table.py from gemmi {gemmi.__version__} and AMCSD (larixite "
        f"{_version(None, 'larixite')}, {n_structures} structures, {int(keep.sum())} fitted). Do not edit.",
        "// Spread of V_cell / sum_Z n_Z v_Z over the fitted AMCSD structures (5 % and 95 % quantiles).",
        f"constexpr double kVolumeRatioLow = {lo:.2f}, kVolumeRatioHigh = {hi:.2f};",
        "// {symbol, covalent radius (A, Cordero et al. 2008 via gemmi), atomic volume (A^3, fitted;",
        "//  * = too few AMCSD structures, k r^3 with k = " + f"{k:.2f}" + "), AMCSD structures containing it}",
        "constexpr ElementRow kElementData[98] = {",
    ]
    for z in range(1, 99):
        i = z - 1
        lines.append(f"    {{{_q(symbols[i]) + ',':5s} {radii[i]:.2f}, {v[i]:5.1f}, {abundance.get(symbols[i], 0):4d}}},"
                     f"  // {z}{' *' if fallback[i] else ''}")
    lines.append("};")
    return "\n".join(lines) + "\n"


def _body(text: str) -> list[str]:
    """The table without its provenance line, which names the generating libraries' versions."""
    return [line for line in text.splitlines() if not line.startswith("// Generated")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify, do not write")
    args = parser.parse_args()
    new = element_block()
    if args.check:
        old = ELEMENT_INC.read_text() if ELEMENT_INC.exists() else ""
        if _body(old) != _body(new):
            print(f"stale: {ELEMENT_INC.relative_to(ROOT)} (run scripts/gen_element_table.py)", file=sys.stderr)
            return 1
        return 0
    ELEMENT_INC.write_text(new)
    print(f"wrote {ELEMENT_INC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

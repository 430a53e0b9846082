"""Extinction evidence: the six standards through the whole path, and the speed of classify
with evidence against the network alone.

    python benchmarks/bench_evidence.py [--files 60] [--threads 2]

Standards (simulated clean lab scans, Cu K-alpha1/2): LaB6 Pm-3m, Si Fd-3m, NaCl Fm-3m,
corundum R-3c, anglesite Pnma, fluorapatite P63/m. Each goes through ``xrdfast.classify``
by symmetry inference alone (``match=False``: the standards are in the reference library, and a
match would answer for the absences this measures), twice: with its true conventional cell
given (the evidence step's own upper bound) and, when this build has indexing
(``xrdfast.index``), with the cell the indexing finds. The speed part times ``classify_many``
on simulated AMCSD patterns written as .xy files, with evidence and with ``index=False`` (the
``--fast`` mode), and prints files/s.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

import cctbx.sgtbx  # noqa: F401  (before gemmi)

import xrdfast
from xrdfast.fusion import Indexing

WIDTHS = {"U": 0.006, "V": -0.001, "W": 0.005, "eta": 0.3}
SIM = dict(counts=20000, background_chebyshev=[0.01, 0.003, 0.0], **WIDTHS)

# (name, space group key, Pearson lattice, cell, types, fractional sites). Coordinates from
# the literature, rounded; B = 0.5 Å^2 (assumed) where not given.
STANDARDS = [
    ("LaB6", "P m -3 m", "cP", (4.15692, 4.15692, 4.15692, 90, 90, 90), ["La", "B"],
     [[0, 0, 0], [0.1975, 0.5, 0.5]]),                        # NIST SRM 660c cell; B x from Eriksson et al. (1989)
    ("Si", "227:1", "cF", (5.430941,) * 3 + (90, 90, 90), ["Si"], [[0, 0, 0]]),  # Hom et al. (1975)
    ("NaCl", "F m -3 m", "cF", (5.6401,) * 3 + (90, 90, 90), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
    ("corundum", "R -3 c :H", "hR", (4.7589, 4.7589, 12.991, 90, 90, 120), ["Al", "O"],
     [[0, 0, 0.35216], [0.30624, 0, 0.25]]),                   # Lewis et al., Z. Kristallogr. 160, 1 (1982)
    ("anglesite", "P n m a", "oP", (8.482, 5.398, 6.959, 90, 90, 90), ["Pb", "S", "O", "O", "O"],
     [[0.1879, 0.25, 0.1673], [0.0633, 0.25, 0.6842], [0.9080, 0.25, 0.5952], [0.1934, 0.25, 0.5431],
      [0.0811, 0.0272, 0.8086]]),                              # Miyake et al., Am. Mineral. 63, 506 (1978)
    ("fluorapatite", "P 63/m", "hP", (9.3973, 9.3973, 6.8782, 90, 90, 120), ["Ca", "Ca", "P", "O", "O", "O", "F"],
     [[1 / 3, 2 / 3, 0.0010], [0.2415, 0.9928, 0.25], [0.3981, 0.3687, 0.25], [0.3262, 0.4850, 0.25],
      [0.5880, 0.4655, 0.25], [0.3416, 0.2569, 0.0704], [0, 0, 0.25]]),  # Hughes et al., Am. Mineral. 74, 870 (1989)
]


def standards() -> int:
    wrong = 0
    has_index = hasattr(xrdfast, "index")
    print("| standard | true EG | given cell: top-1 (p) | indexed: top-1 (p), method |")
    print("|---|---|---|---|")
    for name, sg, lattice, cell, types, frac in STANDARDS:
        crystal = xrdfast.from_arrays(cell, sg, types, frac, b_iso=0.5, name=name)
        truth = xrdfast.extinction_group(xrdfast.SpaceGroup(sg)).number
        pattern = xrdfast.simulate(crystal, seed=11, **SIM)
        given = xrdfast.classify((pattern.two_theta, pattern.intensity), match=False,
                                 indexing=Indexing(cell, lattice, float("inf"), 0.0, WIDTHS))
        indexed = "n/a (no indexing in this build)"
        if has_index:
            p = xrdfast.classify((pattern.two_theta, pattern.intensity), match=False)
            indexed = f"{p.top.extinction_group} ({p.top.probability:.2f}), {p.method}"
            wrong += p.top.extinction_group != truth
        wrong += given.top.extinction_group != truth
        print(f"| {name} | {truth} | {given.top.extinction_group} ({given.top.probability:.2f}) | {indexed} |")
    return wrong


def speed(n_files: int) -> None:
    from scripts_path import test_items  # type: ignore[import-not-found]

    items = test_items(n_files, 4242)
    result = xrdfast.simulate_batch([m.crystal for m, _ in items], [p for _, p in items], seed=4242)
    grid = xrdfast.default_grid()
    with tempfile.TemporaryDirectory() as tmp:
        paths, cells = [], []
        for i, ((mineral, params), y) in enumerate(zip(items, result.patterns)):
            path = os.path.join(tmp, f"p{i}.xy")
            np.savetxt(path, np.column_stack([grid, y]), fmt="%.3f %.6g", header="wavelength 1.540593")
            paths.append(path)
            lattice = {"triclinic": "aP", "monoclinic": "mP", "orthorhombic": "oP", "tetragonal": "tP",
                       "hexagonal": "hP", "rhombohedral": "hR", "cubic": "cP"}[
                xrdfast.SpaceGroup(mineral.space_group).lattice_system]
            cells.append(Indexing(mineral.crystal.cell, lattice, float("inf"), params.zero_shift,
                                  {k: getattr(params, k) for k in ("U", "V", "W", "eta")}))
        xrdfast.classify_many(paths[:2], wavelength=1.540593, index=False)  # load the model once
        for label, kwargs in (("network only (--fast)", {"index": False}),
                              ("with evidence, cells given", {"indexings": cells}),
                              ("with evidence and indexing", {"index": True})):
            if label.endswith("indexing") and not hasattr(xrdfast, "index"):
                print(f"{label}: n/a (no indexing in this build)")
                continue
            t = time.perf_counter()
            xrdfast.classify_many(paths, wavelength=1.540593, **kwargs)
            dt = time.perf_counter() - t
            print(f"{label}: {len(paths) / dt:.1f} files/s ({len(paths)} files, {dt:.1f} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch

    torch.set_num_threads(args.threads)
    wrong = standards()
    print(f"standards wrong at top-1: {wrong}")
    speed(args.files)


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import evaluate_evidence as scripts_path  # noqa: F401

    sys.modules["scripts_path"] = scripts_path
    main()

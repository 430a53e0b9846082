"""Checksums of the CPU simulator's output, to prove a refactor changes no bit of it.

Renders the test structures (tests/test_simulate.py's four, a two-phase mixture and an
impurity) under every profile shape and parameter family the simulator has -- pseudo-Voigt
with eta 0, 0.5 and 1, Thompson-Cox-Hastings, asymmetry, K-alpha2 on and off, background,
hump, Poisson and read noise, texture, Debye-Scherrer absorption, neutrons, normalisation
off -- on the uniform default grid and on a non-uniform one (the bisection windows), through
``simulate`` (float64, with its line list) and ``simulate_batch`` (float32, two threads),
plus curriculum samples of every stage (``generate_samples``: the nuisance draw, the
lattice-only generator, impurities). Each case's SHA-256 over the raw bytes is printed.

    python scripts/simulator_checksum.py --save before.json   # before the change
    python scripts/simulator_checksum.py --compare before.json  # after: exit 1 on any difference

Bit identity holds for one build on one machine (compiler, flags, libm); compare builds made
alike.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys

import numpy as np

import xrdfast
from xrdfast import _core, from_arrays, simulate, simulate_batch


def structures() -> dict[str, object]:
    nacl = from_arrays((5.6402,) * 3 + (90,) * 3, 225, ["Na1+", "Cl1-"], [[0, 0, 0], [0.5, 0.5, 0.5]],
                       b_iso=[1.1, 0.9], name="NaCl")
    rutile = from_arrays((4.5937, 4.5937, 2.9587, 90, 90, 90), 136, ["Ti4+", "O2-"],
                         [[0, 0, 0], [0.30478, 0.30478, 0]], b_iso=[0.42, 0.60], name="rutile")
    baddeleyite = from_arrays((5.1505, 5.2116, 5.3173, 90, 99.23, 90), 14, ["Zr", "O", "O"],
                              [[0.2754, 0.0395, 0.2083], [0.0700, 0.3317, 0.3447], [0.4496, 0.7569, 0.4792]],
                              b_iso=[0.3, 0.5, 0.5], name="baddeleyite")
    quartz = from_arrays((4.9137, 4.9137, 5.4047, 90, 90, 120), 154, ["Si", "O"],
                         [[0.4697, 0.0, 0.0], [0.4135, 0.2669, 0.1191]], b_iso=[0.6, 1.0], name="quartz")
    return {"nacl": nacl, "rutile": rutile, "baddeleyite": baddeleyite, "quartz": quartz,
            "mixture": [(nacl, 0.7), (quartz, 0.3)]}


PARAMETER_SETS: dict[str, dict] = {
    "default": {},
    "pv_gauss": {"eta": 0.0, "wavelength2": 0.0},
    "pv_lorentz": {"eta": 1.0},
    "tch": {"shape": "tch", "U": 0.01, "V": -0.003, "W": 0.004, "X": 0.03, "Y": 0.01, "crystallite_size": 40,
            "microstrain": 0.002},
    "tch_gauss_only": {"shape": "tch", "U": 0.004, "W": 0.003},
    "aberrations": {"march_dollase_r": 0.7, "preferred_orientation": (0, 0, 1), "asymmetry": 0.05,
                    "zero_shift": -0.04, "sample_displacement": 0.15, "background_chebyshev": [0.2, -0.1, 0.05, 0.02],
                    "hump_amplitude": 0.3, "hump_center": 22.0, "hump_fwhm": 8.0},
    "debye_scherrer": {"anomalous": True, "monochromator_two_theta": 26.6, "geometry": "debye_scherrer",
                       "mu_r": 0.4, "eta": 0.0},
    "neutron": {"radiation": "neutron", "wavelength": 1.594, "wavelength2": 0.0, "eta": 1.0},
    "mo_raw": {"wavelength": 0.709317, "wavelength2": 0.713607, "normalize": False},
    "poisson": {"counts": 2000.0},
    "read_noise": {"read_noise": 0.01, "eta": 0.3},
    "both_noise_tch": {"shape": "tch", "X": 0.02, "counts": 50.0, "read_noise": 0.004,
                       "background_chebyshev": [0.05, 0.01], "asymmetry": 0.02},
}


def digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def checksums() -> dict[str, str]:
    out: dict[str, str] = {}
    uniform = xrdfast.default_grid()
    rng = np.random.default_rng(7)  # a fixed non-uniform grid: the bisection path
    nonuniform = np.sort(rng.uniform(10.0, 80.0, 3000))
    nonuniform = nonuniform[np.concatenate([[True], np.diff(nonuniform) > 1e-6])]
    grids = {"uniform": uniform, "nonuniform": nonuniform}
    structs = structures()
    for gname, grid in grids.items():
        for sname, s in structs.items():
            for pname, params in PARAMETER_SETS.items():
                pattern = simulate(s, grid=grid, seed=11, **params)
                lines = [np.asarray(pattern.lines[k]) for k in sorted(pattern.lines)]
                out[f"simulate/{gname}/{sname}/{pname}"] = digest(pattern.intensity, *lines)
        for pname, params in PARAMETER_SETS.items():
            batch = simulate_batch(list(structs.values()), params, grid=grid, seed=5, n_threads=2)
            out[f"batch/{gname}/{pname}"] = digest(batch.patterns)
    coarse = np.linspace(5.0, 90.0, 1701)
    for stage in ("1", "2", "po"):
        patterns, records = _core.generate_samples(_core.StageDistribution.preset(stage), 123, 0, 24, coarse, 2)
        arrays = [np.asarray(records[k]) for k in sorted(records) if k != "error"]
        out[f"curriculum/{stage}"] = digest(patterns, *arrays)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--save", help="write the checksums to this JSON file")
    parser.add_argument("--compare", help="compare with checksums saved earlier; exit 1 on any difference")
    args = parser.parse_args(argv)
    sums = checksums()
    total = hashlib.sha256("".join(f"{k}={v}\n" for k, v in sorted(sums.items())).encode()).hexdigest()
    print(f"{len(sums)} cases, overall {total}")
    if args.save:
        with open(args.save, "w") as f:
            json.dump(sums, f, indent=1, sort_keys=True)
    if args.compare:
        with open(args.compare) as f:
            before = json.load(f)
        changed = sorted(k for k in before.keys() | sums.keys() if before.get(k) != sums.get(k))
        for k in changed:
            print(f"DIFFERS: {k}")
        print("bit-identical" if not changed else f"{len(changed)} of {len(sums)} cases differ")
        return 1 if changed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

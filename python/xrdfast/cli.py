"""The ``xrdfast`` command: one tool, one subcommand per task."""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from xrdfast._core import SpaceGroup


def _cmd_sg(args: argparse.Namespace) -> int:
    from xrdfast.symmetry import extinction_group

    group = SpaceGroup(int(args.symbol) if args.symbol.isdigit() else args.symbol)
    eg = extinction_group(group)
    print(f"Space group {group.number}  {group.symbol}  (setting {group.hm}"
          f"{', ' + group.choice if group.choice else ''}; Hall '{group.hall}')")
    print(f"  crystal system {group.crystal_system}, lattice system {group.lattice_system}, "
          f"point group {group.point_group}, Laue class {group.laue_class}")
    print(f"  centring {group.centring}, order {group.order}"
          f"{', centrosymmetric' if group.is_centrosymmetric else ''}")
    print("  reflection conditions:")
    for line in group.reflection_conditions or ["none (no systematic absences)"]:
        print(f"    {line}")
    print(f"  extinction group {eg.number}: {eg.symbol}  "
          f"(members: {', '.join(SpaceGroup(n).symbol for n in eg.space_groups)})")
    if args.operations:
        print("  operations:")
        for op in group.operations:
            print(f"    {op.triplet()}")
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    import numpy as np

    from xrdfast.simulate import simulate
    from xrdfast.structure import from_cif

    crystal = from_cif(args.cif)
    wavelength2 = args.wavelength2 if args.wavelength2 is not None else (1.544414 if args.wavelength == 1.540593 else 0.0)
    grid = np.arange(args.two_theta[0], args.two_theta[1] + 0.5 * args.step, args.step)
    pattern = simulate(crystal, grid=grid, wavelength=args.wavelength, wavelength2=wavelength2, W=args.W, eta=args.eta,
                       crystallite_size=args.size)
    if args.output:
        pattern.to_xy(args.output)
    if args.plot:
        from xrdfast.plotting import plot_pattern

        plot_pattern(pattern, args.plot, title=crystal.name)
    lines = pattern.lines
    order = np.argsort(lines["intensity"])[::-1][: args.lines]
    top = lines["intensity"].max() if len(lines["intensity"]) else 1.0
    print(f"{crystal.name}: {crystal.n_sites} sites, {crystal.n_atoms} atoms in the cell, "
          f"{len(lines['d'])} reflection families; strongest lines:")
    print("     h   k   l      d (Å)   2θ (°)   mult      I (%)")
    for i in sorted(order, key=lambda i: lines["two_theta"][i]):
        h, k, l = lines["hkl"][i]
        print(f"  {h:4d}{k:4d}{l:4d} {lines['d'][i]:10.5f} {lines['two_theta'][i]:8.3f} {lines['multiplicity'][i]:6d}"
              f" {100 * lines['intensity'][i] / top:10.2f}")
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    import logging
    from pathlib import Path

    from xrdfast.dataset import GenerationPlan, generate

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    plan = GenerationPlan(stage=args.stage, n=args.n, out=Path(args.out), shard_size=args.shard_size,
                          seed=args.seed, workers=args.workers)
    try:
        manifest = generate(plan, scheduler=args.scheduler, progress=not args.quiet)
    except OSError as error:
        print(f"xrdfast generate: error: {error}", file=sys.stderr)
        return 1
    failed = sum(entry.get("failed", 0) for entry in manifest["shards"].values())
    print(f"{args.out}: {len(manifest['shards'])} shards, {plan.n} samples of stage {plan.stage}"
          f"{f', {failed} the generator gave up on' if failed else ''}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xrdfast", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sg = sub.add_parser("sg", help="show a space group, its reflection conditions and extinction group")
    sg.add_argument("symbol", help="number (1..230), H-M or Hall symbol, or number:setting (e.g. 227:2)")
    sg.add_argument("--operations", action="store_true", help="also list the symmetry operations")
    sg.set_defaults(run=_cmd_sg)
    sim = sub.add_parser("simulate", help="simulate the powder pattern of a CIF")
    sim.add_argument("cif", help="structure file (CIF, any setting)")
    sim.add_argument("--wavelength", type=float, default=1.540593, help="Å (default Cu K-alpha1)")
    sim.add_argument("--wavelength2", type=float, default=None,
                     help="K-alpha2 in Å; default Cu K-alpha2 with the Cu default, none otherwise; 0 for none")
    sim.add_argument("--two-theta", type=float, nargs=2, default=(5.0, 90.0), metavar=("MIN", "MAX"))
    sim.add_argument("--step", type=float, default=0.01, help="degrees 2theta")
    sim.add_argument("--W", type=float, default=0.0025, help="Caglioti W, deg^2 (FWHM^2 at low angle)")
    sim.add_argument("--eta", type=float, default=0.5, help="pseudo-Voigt Lorentzian fraction")
    sim.add_argument("--size", type=float, default=0.0, help="crystallite size, nm (0: none)")
    sim.add_argument("-o", "--output", help="write the pattern as two columns (.xy)")
    sim.add_argument("--plot", help="write a figure (PNG, PDF, SVG) with hkl tick marks")
    sim.add_argument("--lines", type=int, default=15, help="how many of the strongest lines to list")
    sim.set_defaults(run=_cmd_simulate)
    gen = sub.add_parser("generate", help="generate a curriculum dataset (sharded HDF5, resumable)")
    gen.add_argument("--stage", required=True, help="1 (clean, EG-balanced), 2 (realistic) or po (texture-heavy)")
    gen.add_argument("--n", type=int, required=True, help="number of samples")
    gen.add_argument("--out", required=True, help="output directory (manifest.json + shard-*.h5)")
    gen.add_argument("--shard-size", type=int, default=10_000)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--workers", type=int, default=0, help="native threads (0: all cores)")
    gen.add_argument("--scheduler", help="Dask scheduler address (tcp://host:8786): one task per shard")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(run=_cmd_generate)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ValueError as error:
        print(f"xrdfast {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

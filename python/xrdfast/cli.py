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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xrdfast", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sg = sub.add_parser("sg", help="show a space group, its reflection conditions and extinction group")
    sg.add_argument("symbol", help="number (1..230), H-M or Hall symbol, or number:setting (e.g. 227:2)")
    sg.add_argument("--operations", action="store_true", help="also list the symmetry operations")
    sg.set_defaults(run=_cmd_sg)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ValueError as error:
        print(f"xrdfast {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

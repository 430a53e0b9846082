#!/usr/bin/env python3
"""Generate the Wyckoff table of the random-crystal engine.

One output, plain data only (the core parses and derives everything else):
``cpp/src/wyckoff_table.inc`` -- the Wyckoff positions of the 230 space-group types in their
  default settings (``SpaceGroup::from_number``: the first of the 530 Hall settings, i.e. origin
  choice 1 and hexagonal axes for R): number, letter, multiplicity in the conventional cell,
  site-symmetry point group and the representative coordinate triplet, general position first
  as in International Tables Vol. A.  Source: cctbx ``sgtbx.wyckoff_table`` in cctbx's reference
  settings (ITA's standard ones), moved to origin choice 1 by ITA's origin shift where the two
  differ (``ORIGIN_SHIFT``).  The generator proves that the shifted group has exactly the
  operations of spglib's database entry for our Hall number, and that every representative's
orbit has the listed multiplicity. The element data beside it come from
``scripts/gen_element_table.py``.

Usage: ``python scripts/gen_wyckoff_table.py [--check]``.  With ``--check`` nothing is written
and the exit status says whether the committed files are current.
"""
from __future__ import annotations

import argparse
import re
import sys
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPACEGROUP_INC = ROOT / "cpp/src/spacegroup_table.inc"
WYCKOFF_INC = ROOT / "cpp/src/wyckoff_table.inc"
DEN = 24  # translations over 24, as in symop.hpp


def default_settings() -> dict[int, tuple[int, str]]:
    """Hall number and Hall symbol of the first (default) setting of each type, from our table."""
    out: dict[int, tuple[int, str]] = {}
    row = re.compile(r'^\{\s*(\d+),\s*(\d+),\s*"((?:[^"\\]|\\.)*)"')
    for line in SPACEGROUP_INC.read_text().splitlines():
        if m := row.match(line):
            hall = re.sub(r"\\(.)", r"\1", m.group(3))  # C escapes: \" is the Hall double prime
            out.setdefault(int(m.group(2)), (int(m.group(1)), hall))
    if sorted(out) != list(range(1, 231)):
        sys.exit(f"{SPACEGROUP_INC}: expected types 1..230")
    return out


def parse_triplet(triplet: str) -> tuple[list[list[int]], list[Fraction]]:
    """'x,2x,1/4' -> (3x3 integer matrix on (x, y, z), shift): the same grammar wyckoff.cpp reads."""
    mat, shift = [], []
    for expr in triplet.split(","):
        row, const = [0, 0, 0], Fraction(0)
        for sign, coef, var, frac in re.findall(r"([+-]?)(?:(\d*)([xyz])|(\d+(?:/\d+)?))", expr):
            s = -1 if sign == "-" else 1
            if var:
                row["xyz".index(var)] += s * (int(coef) if coef else 1)
            else:
                const += s * Fraction(frac)
        mat.append(row)
        shift.append(const)
    return mat, shift


def absorb_constants(mat, shift) -> list[Fraction]:
    """Move constants into the free parameters where one can (x+1/8,x+1/8,x+1/8 -> x,x,x;
    x+1/4,x+3/4,3/4 -> x,x+1/2,3/4: the same set of points), then reduce modulo 1 (a lattice
    translation: 1/3,-1/3,z -> 1/3,2/3,z)."""
    offset = [Fraction(0)] * 3
    fixed = [False] * 3
    for row, const in zip(mat, shift):
        for v in range(3):
            if abs(row[v]) == 1 and not fixed[v] and all(fixed[u] or row[u] == 0 for u in range(v)):
                offset[v], fixed[v] = -row[v] * const, True
                break
    return [(c + sum(m * o for m, o in zip(row, offset))) % 1 for row, c in zip(mat, shift)]


def format_triplet(mat, shift) -> str:
    """ITA style: 'x,2x,1/4', '-x+1/2,y,z'."""
    parts = []
    for row, const in zip(mat, shift):
        terms = ""
        for coef, var in zip(row, "xyz"):
            if coef:
                terms += ("-" if coef < 0 else "+" if terms else "") + (str(abs(coef)) if abs(coef) != 1 else "") + var
        if const or not terms:
            terms += ("+" if terms else "") + str(const)
        parts.append(terms)
    return ",".join(parts)


def _ops(group, p) -> set[tuple]:
    """cctbx operations moved to an origin at -p, {R | t + p - R p}, as (rotation, translation
    over 24 in [0, 24)) tuples."""
    out = set()
    for op in group.all_ops():
        r, t = op.r().num(), op.t()
        tran = [Fraction(v, t.den()) + p[i] - sum(r[3 * i + j] * p[j] for j in range(3)) for i, v in enumerate(t.num())]
        out.add((tuple(r), tuple((v * DEN) % DEN for v in tran)))
    return out


def _orbit_size(ops: set[tuple], mat, shift) -> int:
    """Orbit of the representative at a generic parameter point, exact in rationals."""
    p = [Fraction(17, 97), Fraction(29, 89), Fraction(41, 83)]
    x = [sum(m * v for m, v in zip(row, p)) + s for row, s in zip(mat, shift)]
    images = set()
    for r, t in ops:
        y = tuple((sum(r[3 * i + j] * x[j] for j in range(3)) + t[i] / DEN) % 1 for i in range(3))
        images.add(y)
    return len(images)


# ITA Vol. A lists the 24 types with two origins in their origin choice 2 (at a centre of
# symmetry) as standard, and cctbx's tables are those; our default is origin choice 1. Origin 2
# lies at p in origin-1 coordinates, so x(origin 1) = x(origin 2) + p. Several shifts map the
# operations of one choice onto the other, but they permute Wyckoff letters (sgtbx's own change of
# basis to origin 1 does so in 134, 137, 138, 141, 201 and 224), so p must be ITA's: these are the
# origin shifts of ITA's "Origin" lines, as the Bilbao Crystallographic Server lists them for the
# transformation to the standard setting. The generator checks each against the operations.
ORIGIN_SHIFT = {
    48: "-1/4,-1/4,-1/4", 50: "-1/4,-1/4,0", 59: "-1/4,-1/4,0", 68: "0,-1/4,-1/4", 70: "1/8,1/8,1/8",
    85: "1/4,-1/4,0", 86: "1/4,1/4,1/4", 88: "0,1/4,1/8", 125: "1/4,1/4,0", 126: "1/4,1/4,1/4",
    129: "1/4,-1/4,0", 130: "1/4,-1/4,0", 133: "1/4,-1/4,1/4", 134: "1/4,-1/4,1/4", 137: "1/4,-1/4,1/4",
    138: "1/4,-1/4,1/4", 141: "0,-1/4,1/8", 142: "0,-1/4,1/8", 201: "1/4,1/4,1/4", 203: "1/8,1/8,1/8",
    222: "1/4,1/4,1/4", 224: "1/4,1/4,1/4", 227: "1/8,1/8,1/8", 228: "3/8,3/8,3/8",
}


# Where sgtbx's table disagrees with ITA: it swaps 24i (1/2,y,y+1/2) and 24j (1/2,y,-y) of Pn-3m
# (origin choice 2). ITA Vol. A and the Bilbao server's WYCKPOS list 24i as 1/2,y,y+1/2, and
# spglib's database agrees (tests/test_wyckoff.py asks both pyxtal and spglib).
LETTER_CORRECTIONS = {224: {"i": "j", "j": "i"}}


def origin_shift(number: int) -> list[Fraction]:
    return [Fraction(v) for v in ORIGIN_SHIFT.get(number, "0,0,0").split(",")]


def wyckoff_table() -> str:
    import cctbx
    from cctbx import sgtbx
    import spglib

    lines = [
        f"// Generated by scripts/gen_wyckoff_table.py from cctbx {_version(cctbx, 'cctbx-base')} "
        "sgtbx.wyckoff_table (ITA Vol. A). Do not edit.",
        "// Default settings (SpaceGroup::from_number): origin choice 1 (ITA's origin-2 table shifted by",
        "// ITA's origin shift), hexagonal axes for R. General position first; the 27th letter of Pmmm",
        "// (ITA's alpha) is '@' as in sgtbx. Letters follow ITA where sgtbx departs from it (224 i, j).",
        "//   {number, letter, multiplicity, \"site-symmetry point group\", \"representative\"}",
    ]
    for number, (hall_number, hall) in sorted(default_settings().items()):
        info = sgtbx.space_group_info(number)  # cctbx's reference setting: ITA's standard
        p = origin_shift(number)
        ops = _ops(info.group(), p)
        db = spglib.get_symmetry_from_database(hall_number)
        theirs = {(tuple(int(v) for v in r.flatten()), tuple(Fraction(round(v * DEN)) % DEN for v in t))
                  for r, t in zip(db["rotations"], db["translations"])}
        if ops != theirs:
            sys.exit(f"type {number}: cctbx's {info} shifted by {p} is not spglib's Hall setting {hall_number} ({hall})")
        table = info.wyckoff_table()
        rows = []
        for i in range(table.size()):
            pos = table.position(i)
            letter = LETTER_CORRECTIONS.get(number, {}).get(pos.letter(), pos.letter())
            mat, shift = parse_triplet(str(pos.special_op_simplified()).replace("*", ""))
            shift = absorb_constants(mat, [(s + d) % 1 for s, d in zip(shift, p)])
            triplet = format_triplet(mat, shift)
            if _orbit_size(ops, mat, shift) != pos.multiplicity():
                sys.exit(f"type {number} {letter}: orbit of {triplet} is not of size {pos.multiplicity()}")
            rows.append((letter, f"{{{number:3d}, '{letter}', {pos.multiplicity():3d}, "
                                 f"{_q(pos.point_group_type()):8s}, {_q(triplet)}}},"))
        rows.sort(key=lambda r: "{" if r[0] == "@" else r[0], reverse=True)  # ITA order: alpha, z, ..., a
        lines += [row for _, row in rows]
    return "\n".join(lines) + "\n"


def _version(module, dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return getattr(module, "__version__", "?")


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _body(text: str) -> list[str]:
    """A table without its provenance lines, which name the generating libraries' versions."""
    return [line for line in text.splitlines()
            if not line.startswith("// Generated")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify, do not write")
    args = parser.parse_args()
    import cctbx.sgtbx  # noqa: F401  - before gemmi: the other order crashes

    stale = []
    for path, old, new in ((WYCKOFF_INC, WYCKOFF_INC.read_text() if WYCKOFF_INC.exists() else "", wyckoff_table()),):
        if args.check:
            if _body(old) != _body(new):
                stale.append(path)
        else:
            path.write_text(new)
            print(f"wrote {path.relative_to(ROOT)}")
    for path in stale:
        print(f"stale: {path.relative_to(ROOT)} (run scripts/gen_wyckoff_table.py)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())

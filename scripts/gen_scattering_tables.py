#!/usr/bin/env python3
"""Generate the committed scattering-factor table that the C++ core compiles in.

``cpp/src/scattering_table.inc`` holds two arrays, plain data only:

* ``kScatterers`` -- one row per X-ray scatterer: the neutral atoms H..Cf (row Z-1) and then
  every ion of Waasmaier & Kirfel (1995), Acta Cryst. A51, 416-431, by Z and charge.  Each row
  carries the 5-Gaussian-plus-constant fit f0(s) = sum_i a_i exp(-b_i s^2) + c, s = sin(theta)/
  lambda in 1/Angstrom, valid to s = 6.  A neutral atom missing from WK1995 would be filled from
  International Tables Vol. C Table 6.1.1.4 (4 Gaussians + c, valid to s = 2) and marked so; with
  cctbx 2025 none is.  WK1995's bonded pseudo-atoms (Hiso, Cval, Sival) are left out: they are
  not free atoms or ions and no CIF type symbol names them.
* ``kElements`` -- one row per element Z = 1..98: standard atomic weight (gemmi), bound coherent
  neutron scattering length, real part, in fm (Sears 1992, Neutron News 3(3), 26-37), and the
  anomalous-dispersion corrections f', f'' at the K-alpha1 lines of Cu, Mo, Co, Cr, Fe and Ag
  from Sasaki (1989), KEK Report 88-14, where it covers the element, else from Henke, Gullikson &
  Davis (1993), At. Data Nucl. Data Tables 54, 181-342.

Gaussian coefficients and neutron lengths are the float32 values cctbx stores, written as the
shortest decimal that reads back to the same float32, so the published digits reappear; f', f''
are rounded to 1e-4 e; atomic weights are gemmi's.  Sources: cctbx.eltbx (xray_scattering,
sasaki, henke, neutron; tiny_pse for the symbols) and gemmi (atomic weights).

Usage: ``python scripts/gen_scattering_tables.py [--check]``.  With ``--check`` nothing is
written and the exit status says whether the committed file is current.
"""
from __future__ import annotations

import argparse
import math
import re
import sys
from importlib.metadata import version
from pathlib import Path

# cctbx before gemmi: the other import order crashes.
from cctbx.eltbx import henke, neutron, sasaki, tiny_pse, xray_scattering  # isort: skip
import gemmi  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TABLE_INC = ROOT / "cpp/src/scattering_table.inc"
Z_MAX = 98  # Cf: the last element of WK1995 and of IT Vol. C Table 6.1.1.4

# K-alpha1 wavelengths in Angstrom, in the order of the C++ enum Anode.  Hoelzer et al. (1997),
# Phys. Rev. A 56, 4554 for Cr, Fe, Co, Cu; Deslattes et al. (2003), Rev. Mod. Phys. 75, 35
# for Mo and Ag; rounded to 1e-6 Angstrom.  Must equal kalpha1_wavelength() in scattering.cpp.
ANODES = {"Cu": 1.540593, "Mo": 0.709317, "Co": 1.788996,
          "Cr": 2.289726, "Fe": 1.936041, "Ag": 0.559422}

PSEUDO_ATOMS = {"Hiso", "Cval", "Sival"}
ION_LABEL = re.compile(r"^([A-Z][a-z]?)([1-9])([+-])$")


def f32(x: float, suffix: str = "f") -> str:
    """Shortest decimal that reads back as the same float32 (the source libraries store float)."""
    if math.isnan(x):
        return "kNaN"
    s = np.format_float_positional(np.float32(x), unique=True, trim="-")
    return (s if "." in s else s + ".") + suffix


def f4(x: float) -> str:
    """f', f'' to 1e-4 e: Sasaki and Henke tabulate three decimals; the fourth keeps the
    interpolation of cctbx within rounding."""
    return "kNaN" if math.isnan(x) else f"{round(x, 4) + 0.0:.4f}"  # + 0.0: no "-0.0000"


def symbol(z: int) -> str:
    return tiny_pse.table(z).symbol()


def gaussian_row(label: str) -> tuple[str, list[float], list[float], float]:
    """(source, a[5], b[5], c) for one label; WK1995 first, IT92 only for a missing neutral."""
    try:
        g = xray_scattering.wk1995(label, True).fetch()
        source = "kWK1995"
    except RuntimeError:
        g = xray_scattering.it1992(label, True).fetch()
        source = "kIT1992"
    a, b = list(g.array_of_a()), list(g.array_of_b())
    a += [0.0] * (5 - len(a))  # IT92 has four Gaussians; the fifth term is zero
    b += [0.0] * (5 - len(b))
    return source, a, b, g.c()


def scatterer_rows() -> list[tuple[str, int, int, str, list[float], list[float], float]]:
    rows = []
    for z in range(1, Z_MAX + 1):
        rows.append((symbol(z), z, 0, *gaussian_row(symbol(z))))
    ions = []
    for entry in xray_scattering.wk1995_iterator():
        label = entry.label()
        if label in PSEUDO_ATOMS:
            continue
        m = ION_LABEL.match(label)
        if not m:
            continue  # a neutral atom, already in
        z = gemmi.Element(m.group(1)).atomic_number
        charge = int(m.group(2)) * (1 if m.group(3) == "+" else -1)
        ions.append((label, z, charge, *gaussian_row(label)))
    ions.sort(key=lambda r: (r[1], abs(r[2]), r[2]))
    return rows + ions


def element_rows() -> list[tuple]:
    sasaki_z = {t.atomic_number(): t.label() for t in sasaki.table_iterator()}
    henke_z = {t.atomic_number(): t.label() for t in henke.table_iterator()}
    neutron_labels = {t.label() for t in neutron.neutron_news_1992_table_iterator()}
    rows = []
    for z in range(1, Z_MAX + 1):
        sym = symbol(z)
        # exact=True everywhere: the inexact look-ups silently answer 'P' for 'Pu'.
        if z in sasaki_z:
            table, source = sasaki.table(sasaki_z[z], True), "kSasaki1989"
        elif z in henke_z:
            table, source = henke.table(henke_z[z], True), "kHenke1993"
        else:
            table, source = None, "kNoAnomalous"
        if table is not None:
            assert table.atomic_number() == z, (sym, table.label())
            fp = [table.at_angstrom(w).fp() for w in ANODES.values()]
            fdp = [table.at_angstrom(w).fdp() for w in ANODES.values()]
        else:
            fp = fdp = [math.nan] * len(ANODES)
        if sym in neutron_labels:
            b = neutron.neutron_news_1992_table(sym, True).bound_coh_scatt_length().real
        else:
            b = math.nan
        rows.append((z, sym, gemmi.Element(z).weight, b, source, fp, fdp))
    return rows


def table_text() -> str:
    scatterers = scatterer_rows()
    elements = element_rows()
    n_ions = len(scatterers) - Z_MAX
    anodes = ", ".join(ANODES)
    out = [
        f"// Generated by scripts/gen_scattering_tables.py from cctbx-base {version('cctbx-base')} "
        f"and gemmi {version('gemmi')}. Do not edit.",
        "// X-ray: Waasmaier & Kirfel (1995), Acta Cryst. A51, 416 (kWK1995); a neutral atom WK1995",
        "// lacked would come from ITC Table 6.1.1.4 (kIT1992, a[4] = b[4] = 0).",
        f"// {Z_MAX} neutral atoms (row Z-1), then {n_ions} ions ordered by Z, |charge|, sign.",
        "//   {\"label\", Z, charge, source, {{a1..a5}, {b1..b5} in A^2, c}}",
        "static constexpr ScattererRow kScatterers[] = {",
    ]
    for i, (label, z, q, source, a, b, c) in enumerate(scatterers):
        out.append(
            f"/*{i:3d}*/ {{{_q(label) + ',':7s} {z:2d}, {q:2d}, {source}, "
            f"{{{{{', '.join(f'{v:>12s}' for v in map(f32, a))}}}, "
            f"{{{', '.join(f'{v:>13s}' for v in map(f32, b))}}}, {f32(c):>10s}}}}},")
    out += [
        "};",
        "",
        "// Per element Z = 1..98. mass: standard atomic weight (gemmi; mass number of the",
        "// longest-lived isotope where none is defined). b: bound coherent neutron scattering",
        "// length, real part, fm (Sears 1992, Neutron News 3(3), 26); kNaN where not tabulated.",
        f"// f', f'' at K-alpha1 of {anodes} (enum Anode order): Sasaki (1989)",
        "// KEK Report 88-14, else Henke et al. (1993) ADNDT 54, 181; kNaN where neither covers.",
        "//   {Z, \"symbol\", mass, b, source, {f' ...}, {f'' ...}}",
        "static constexpr ElementRow kElements[] = {",
    ]
    for z, sym, mass, b, source, fp, fdp in elements:
        out.append(
            f"{{{z:2d}, {_q(sym) + ',':5s} {repr(float(mass)):>9s}, {f32(b, ''):>8s}, {source + ',':14s} "
            f"{{{', '.join(f'{v:>9s}' for v in map(f4, fp))}}}, "
            f"{{{', '.join(f'{v:>8s}' for v in map(f4, fdp))}}}}},")
    out.append("};")
    return "\n".join(out) + "\n"


def _body(text: str) -> list[str]:
    """The table without its provenance line, which names the generating libraries' versions."""
    return [line for line in text.splitlines() if not line.startswith("// Generated")]


def _q(s: str) -> str:
    return '"' + s + '"'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify, do not write")
    args = parser.parse_args()
    text = table_text()
    if args.check:
        if not TABLE_INC.exists() or _body(TABLE_INC.read_text()) != _body(text):
            print(f"stale: {TABLE_INC.relative_to(ROOT)} (run scripts/gen_scattering_tables.py)",
                  file=sys.stderr)
            return 1
        return 0
    TABLE_INC.write_text(text)
    print(f"wrote {TABLE_INC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

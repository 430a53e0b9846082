"""Writes the table of simulation parameter ranges into README.md (the section "Simulation
parameter ranges"), generated from the compiled core's table (SimulationParams.ranges(),
via xrdfast.simulate.parameter_table()).

    python scripts/gen_parameter_table.py           # rewrite the table in README.md
    python scripts/gen_parameter_table.py --check   # exit 1 if README.md's table is stale
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from xrdfast.simulate import parameter_table

README = Path(__file__).resolve().parents[1] / "README.md"
# the table that follows the section's heading and prose: from its header row to the blank line
TABLE = re.compile(r"(### Simulation parameter ranges\n(?:.*\n)*?)(\| Parameter \| Accepted \| Why \|\n(?:\|.*\n)+)")


def rendered(text: str) -> str:
    if not TABLE.search(text):
        raise SystemExit(f"{README}: no 'Simulation parameter ranges' section with a table")
    return TABLE.sub(lambda m: m.group(1) + parameter_table(), text, count=1)


def main(argv: list[str]) -> int:
    text = README.read_text(encoding="utf-8")
    new = rendered(text)
    if "--check" in argv:
        if new != text:
            print(f"{README}: the parameter table is stale; run python scripts/gen_parameter_table.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

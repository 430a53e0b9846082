"""xrdfast: extinction-group classification and fast simulation of powder X-ray diffraction.

The symmetry tables, absences and extinction groups are exact crystallography computed
by the compiled core (``xrdfast._core``); this package re-exports them with typed,
documented Python entry points.
"""
from __future__ import annotations

from xrdfast._core import (
    ExtinctionGroup,
    SpaceGroup,
    SymOp,
    build_info,
    rule_bit_names,
)
from xrdfast.symmetry import extinction_group
from xrdfast.subgroup_graph import SubgroupGraph, subgroup_graph

__version__: str = build_info()["version"]

__all__ = [
    "ExtinctionGroup",
    "SpaceGroup",
    "SubgroupGraph",
    "SymOp",
    "build_info",
    "extinction_group",
    "rule_bit_names",
    "subgroup_graph",
]

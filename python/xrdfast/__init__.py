"""xrdfast: extinction-group classification and fast simulation of powder X-ray diffraction.

The symmetry tables, absences and extinction groups are exact crystallography computed
by the compiled core (``xrdfast._core``); this package re-exports them with typed,
documented Python entry points.
"""
from __future__ import annotations

from xrdfast._core import (
    Crystal,
    ExtinctionGroup,
    SimulationParams,
    SpaceGroup,
    SymOp,
    build_info,
    rule_bit_names,
)
from xrdfast.classify import Candidate, Prediction, classify, classify_many
from xrdfast.peaks import estimate_background, find_peaks
from xrdfast.readers import MeasuredPattern, PatternReadError, read_pattern, to_grid
from xrdfast.simulate import BatchResult, Pattern, default_grid, make_params, simulate, simulate_batch
from xrdfast.structure import from_arrays, from_ase, from_cif, from_pymatgen, load_structure
from xrdfast.symmetry import extinction_group
from xrdfast.subgroup_graph import SubgroupGraph, subgroup_graph

__version__: str = build_info()["version"]

__all__ = [
    "BatchResult",
    "Candidate",
    "MeasuredPattern",
    "PatternReadError",
    "Prediction",
    "classify",
    "classify_many",
    "estimate_background",
    "find_peaks",
    "read_pattern",
    "to_grid",
    "Crystal",
    "Pattern",
    "SimulationParams",
    "default_grid",
    "from_arrays",
    "from_ase",
    "from_cif",
    "from_pymatgen",
    "load_structure",
    "make_params",
    "simulate",
    "simulate_batch",
    "ExtinctionGroup",
    "SpaceGroup",
    "SubgroupGraph",
    "SymOp",
    "build_info",
    "extinction_group",
    "rule_bit_names",
    "subgroup_graph",
]

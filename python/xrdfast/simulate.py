"""Powder patterns from structures: the Python face of the C++ simulator.

``simulate`` returns one ``Pattern`` with its line list; ``simulate_batch`` renders many
patterns into one float32 array in parallel (OpenMP, GIL released), reporting a failing
item per row instead of losing the batch. Parameters are the fields of
``xrdfast.SimulationParams`` given as keyword arguments (see ``PARAMETERS``).

Every numeric parameter has a physical range (``PARAMETER_RANGES``, printed by
``parameter_table()`` and in the README's "Simulation parameter ranges"); values outside it
are refused with a ``ValueError`` naming the parameter, the value and the range. The table
lives in the compiled core (``SimulationParams.validate``), so the API, ``simulate_batch``,
the ``xrdfast simulate`` command and the curriculum generator all check the same ranges.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from xrdfast._core import (
    MAX_GRID_POINTS,
    Crystal,
    Geometry,
    ProfileShape,
    Radiation,
    SimulationParams,
    cuda_available,
    simulate_pattern,
    simulate_patterns,
    simulate_patterns_cuda,
)
from xrdfast.grid import default_grid
from xrdfast.structure import StructureLike, load_structure

_ENUMS: dict[str, Any] = {"geometry": Geometry, "shape": ProfileShape, "radiation": Radiation}
PARAMETERS: tuple[str, ...] = tuple(
    name for name in dir(SimulationParams()) if not name.startswith("_") and name not in ("validate", "ranges"))


@dataclass(frozen=True)
class ParameterRange:
    """The physical range of one simulation parameter, as ``SimulationParams.validate`` checks it."""

    name: str
    lo: float
    hi: float
    zero_is_off: bool  # 0 is also accepted: it switches the effect off
    unit: str
    why: str

    def allows(self, value: float) -> bool:
        return bool(self.lo <= value <= self.hi or (self.zero_is_off and value == 0))

    def text(self) -> str:
        return f"{'0 or ' if self.zero_is_off else ''}{self.lo:g} .. {self.hi:g}{' ' + self.unit if self.unit else ''}"


PARAMETER_RANGES: dict[str, ParameterRange] = {
    r[0]: ParameterRange(*r) for r in SimulationParams.ranges()}


def parameter_table() -> str:
    """``PARAMETER_RANGES`` as a Markdown table (the README's "Simulation parameter ranges")."""
    rows = ["| Parameter | Accepted | Why |", "| --- | --- | --- |"]
    rows += [f"| `{r.name}` | {r.text()} | {r.why} |" for r in PARAMETER_RANGES.values()]
    return "\n".join(rows) + "\n"


def grid_from_range(start: float, stop: float, step: float) -> np.ndarray:
    """2θ from ``start`` to ``stop`` (degrees, ``stop`` included when it falls on the grid)
    in steps of ``step``; a clear ``ValueError`` for a step that is not positive, a range
    outside (0, 180) degrees, or more points than the simulator renders -- before anything
    is allocated."""
    for name, value in (("start", start), ("stop", stop), ("step", step)):
        if not isinstance(value, (int, float, np.floating, np.integer)) or not math.isfinite(value):
            raise ValueError(f"2θ grid {name} = {value!r} must be a finite number of degrees")
    if step <= 0:
        raise ValueError(f"2θ step must be positive, got {step:g}°")
    if not 0 < start < stop < 180:
        raise ValueError(f"2θ range {start:g}..{stop:g}° must lie inside (0, 180)° with start < stop")
    n = math.floor((stop - start) / step * (1 + 1e-12)) + 1  # stop counts when within rounding of the grid
    if n > MAX_GRID_POINTS:
        raise ValueError(f"2θ {start:g}..{stop:g}° in steps of {step:g}° is {n:,} points, more than the "
                         f"{MAX_GRID_POINTS:,} the simulator renders; use a larger step")
    if n < 2:
        raise ValueError(f"2θ {start:g}..{stop:g}° in steps of {step:g}° holds fewer than 2 points")
    return start + step * np.arange(n)


def make_params(params: SimulationParams | Mapping[str, Any] | None = None, **overrides: Any) -> SimulationParams:
    """``SimulationParams`` from a mapping and/or keywords; unknown names are errors, and
    every value is checked against its physical range (``PARAMETER_RANGES``, below).

    Enum fields accept their names: ``geometry="debye_scherrer"``, ``shape="tch"``,
    ``radiation="neutron"``.
    """
    out = SimulationParams()
    if isinstance(params, SimulationParams):
        for name in PARAMETERS:
            setattr(out, name, getattr(params, name))
        params = {}
    for name, value in {**dict(params or {}), **overrides}.items():
        if name not in PARAMETERS:
            raise ValueError(f"unknown simulation parameter {name!r}; known: {', '.join(sorted(PARAMETERS))}")
        if name in _ENUMS and isinstance(value, str):
            try:
                value = _ENUMS[name].__members__[value]
            except KeyError:
                raise ValueError(f"{name}={value!r}: expected one of {sorted(_ENUMS[name].__members__)}") from None
        try:
            setattr(out, name, value)
        except TypeError as error:
            raise ValueError(f"simulation parameter {name}={value!r}: {error}") from None
    out.validate()
    return out


make_params.__doc__ = (make_params.__doc__ or "") + "\n    Ranges:\n\n" + "".join(
    f"    {r.name:24s} {r.text()}\n" for r in PARAMETER_RANGES.values())


@dataclass(frozen=True)
class Pattern:
    """A simulated pattern and the lines that make it (K-alpha1 positions)."""

    two_theta: np.ndarray  # (n_points,) degrees
    intensity: np.ndarray  # (n_points,)
    lines: dict[str, np.ndarray] = field(repr=False)  # hkl (n, 3), d, two_theta, multiplicity, f2, lp, texture, intensity, phase

    def to_xy(self, path: str) -> None:
        """Write two columns, 2theta and intensity."""
        np.savetxt(path, np.column_stack([self.two_theta, self.intensity]), fmt="%.4f %.6g",
                   header="2theta_deg intensity (simulated by xrdfast)")


Mixture = Sequence[tuple[StructureLike, float]]


def _phases(structure: StructureLike | Mixture, impurities: Iterable[tuple[StructureLike, float]] = ()) -> list[tuple[Crystal, float]]:
    if isinstance(structure, (list, tuple)) and structure and isinstance(structure[0], (list, tuple)):
        phases = [(load_structure(s), float(w)) for s, w in structure]
    else:
        phases = [(load_structure(structure), 1.0)]
    impurities = [(load_structure(s), float(w)) for s, w in impurities]
    if impurities:  # impurity weight fractions are absolute; the main phase takes the rest
        rest = 1.0 - sum(w for _, w in impurities)
        if rest <= 0:
            raise ValueError(f"impurity weight fractions sum to {1 - rest:.3f}; they must leave room for the main phase")
        phases = [(c, w * rest / sum(x for _, x in phases)) for c, w in phases] + impurities
    return phases


def _seed(seed: Any) -> int:
    """The noise seed: an integer the native 64-bit generator takes (a ValueError otherwise)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**64:
        raise ValueError(f"seed must be an integer from 0 to 2**64 - 1, got {seed!r}")
    return int(seed)


def simulate(structure: StructureLike | Mixture, *, grid: Any = None, seed: int = 0,
             impurities: Iterable[tuple[StructureLike, float]] = (), **params: Any) -> Pattern:
    """Simulate the powder pattern of a structure (Crystal, CIF path, pymatgen, ASE) or a
    mixture [(structure, weight_fraction), ...], with optional impurity phases."""
    grid = default_grid() if grid is None else np.asarray(grid, dtype=float)
    seed = _seed(seed)
    intensity, lines = simulate_pattern(_phases(structure, impurities), make_params(**params), grid, seed)
    return Pattern(grid, intensity, lines)


@dataclass(frozen=True)
class BatchResult:
    patterns: np.ndarray  # (N, n_points) float32; a failed item's row is NaN
    errors: list[str]     # one per item, '' on success

    @property
    def ok(self) -> np.ndarray:
        return np.array([not e for e in self.errors], dtype=bool)


def simulate_batch(structures: Sequence[StructureLike | Mixture],
                   params: SimulationParams | Mapping[str, Any] | Sequence[SimulationParams | Mapping[str, Any]] | None = None,
                   *, grid: Any = None, seed: int = 0, n_threads: int = 0, backend: str = "cpu") -> BatchResult:
    """Many patterns at once; item i uses noise stream i of ``seed``, so the result does not
    depend on ``n_threads``. A structure that cannot be read or simulated gets a NaN row
    and its message in ``errors``; the other rows are unaffected.

    ``backend``: "cpu" (OpenMP), "cuda" (the GPU kernels; equal to the CPU path within
    1e-6 of each pattern's maximum when noiseless, statistically equal with noise) or
    "auto" (CUDA when this build has it and a device is present).
    """
    if backend not in ("cpu", "cuda", "auto"):
        raise ValueError(f"backend must be 'cpu', 'cuda' or 'auto', got {backend!r}")
    seed = _seed(seed)
    use_cuda = backend == "cuda" or (backend == "auto" and cuda_available())
    grid = default_grid() if grid is None else np.asarray(grid, dtype=float)
    items: list[list[tuple[Crystal, float]]] = []
    errors: list[str] = []
    for s in structures:
        try:
            items.append(_phases(s))
            errors.append("")
        except ValueError as error:
            items.append([])
            errors.append(str(error))
    if params is None or isinstance(params, (SimulationParams, Mapping)):
        param_list = [make_params(params)]
    else:
        param_list = [make_params(p) for p in params]
        if len(param_list) != len(items):
            raise ValueError(f"give one parameter set or {len(items)} (one per structure), not {len(param_list)}")
    if use_cuda:
        patterns, native_errors = simulate_patterns_cuda(items, param_list, grid, seed)
    else:
        patterns, native_errors = simulate_patterns(items, param_list, grid, seed, n_threads)
    return BatchResult(patterns, [e or n for e, n in zip(errors, native_errors)])

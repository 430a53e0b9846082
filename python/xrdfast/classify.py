"""Classify a powder pattern: ranked extinction groups with calibrated probabilities, the
crystal system, the compatible space groups of each group ranked by how common they are in
nature, and an abstention flag.

    import xrdfast
    p = xrdfast.classify("sample.xrdml")          # or a MeasuredPattern, or (2theta, I)
    p.top.extinction_group, p.top.probability, p.crystal_system, p.abstain

The shipped model (``xrdfast/models/``) loads once per process, offline, on the CPU. A pattern
at any wavelength and on any 2theta grid is mapped onto the model's grid (Cu K-alpha1,
5-90 degrees, 0.01 degree steps) through d-spacings; angles the measurement did not cover are
masked, not invented.
"""
from __future__ import annotations

import functools
import os
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from typing import TYPE_CHECKING, Any, Sequence, Union

import numpy as np

from xrdfast._core import ExtinctionGroup
from xrdfast.prior import compatible_space_groups
from xrdfast.readers import (ANODE_WAVELENGTHS, CU_KA1, MeasuredPattern, PatternReadError, pattern_from_arrays,
                             read_pattern, to_grid)

if TYPE_CHECKING:  # torch is imported only when a model is loaded
    from xrdfast.ml.checkpoint import Classifier

PatternLike = Union[str, os.PathLike, MeasuredPattern, tuple]
MODEL_FILE = "xrdfast-eg-cpu-v1.pt"


@dataclass(frozen=True)
class Candidate:
    """One extinction group of a prediction."""

    extinction_group: int
    symbol: str
    probability: float
    crystal_system: str
    space_groups: list[tuple[int, str, float]]  # (number, symbol, share within the group), commonest first


@dataclass(frozen=True)
class Prediction:
    source: str
    candidates: list[Candidate]                       # top_k, most probable first
    crystal_system: str                               # the most probable system (marginal over groups)
    crystal_system_probabilities: dict[str, float]
    abstain: bool                                     # top-1 probability below the model's threshold
    threshold: float
    coverage: float                                   # fraction of the model's 2theta range the data covered
    warnings: list[str] = field(default_factory=list)
    # Extinction evidence (xrdfast.fusion): the indexed cell, and whether it was used.
    cell: tuple[float, ...] | None = None
    lattice: str | None = None
    figure_of_merit: float | None = None
    method: str = "network only"                      # "indexed": network x extinction likelihood
    evidence: Any = field(default=None, repr=False, compare=False)  # ExtinctionEvidence when indexed

    @property
    def top(self) -> Candidate:
        return self.candidates[0]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(replace(self, evidence=None))
        out["evidence"] = None if self.evidence is None else self.evidence.explain()
        return out

    def table(self) -> str:
        """A readable summary for the terminal."""
        lines = [f"{self.source}: crystal system {self.crystal_system} "
                 f"(p = {self.crystal_system_probabilities[self.crystal_system]:.2f})"
                 + ("  [ABSTAIN: not confident]" if self.abstain else "")]
        lines.append("   rank  EG  extinction symbol      p      system        likely space groups")
        for i, c in enumerate(self.candidates, 1):
            groups = ", ".join(s for _, s, _ in c.space_groups[:3])
            lines.append(f"   {i:4d} {c.extinction_group:3d}  {c.symbol:20s} {c.probability:6.3f}  {c.crystal_system:13s} {groups}")
        lines += [f"   warning: {w}" for w in self.warnings]
        lines.append(f"   method: {self.method}" + (f" (cell {', '.join(f'{v:.4f}' for v in self.cell)}, {self.lattice}, "
                                                      f"M20 {self.figure_of_merit:.1f})" if self.cell else ""))
        return "\n".join(lines)


@functools.lru_cache(maxsize=4)
def load_model(path: str | None = None):
    """The classifier of a checkpoint (default: the shipped model), cached per process."""
    from xrdfast.ml.checkpoint import Classifier

    if path is None:
        with resources.as_file(resources.files("xrdfast") / "models" / MODEL_FILE) as shipped:
            return Classifier.load(shipped)
    return Classifier.load(path)


def model_wavelength(wavelength: float) -> float:
    """The wavelength to match a measured pattern with. The model grid is Cu K-alpha1 with
    the K-alpha2 doublet in its training patterns, so a file that states the weighted
    K-alpha mean of an anode (RRUFF's 1.5418 Å) is a K-alpha1+2 measurement: it maps with
    K-alpha1, else every peak would move by ~0.08 % in d."""
    for ka1, ka2 in ANODE_WAVELENGTHS.values():
        if abs(wavelength - (2 * ka1 + ka2) / 3) < 5e-4:
            return ka1
    return wavelength


@dataclass(frozen=True)
class Prepared:
    """A pattern ready for the model."""

    intensity: np.ndarray   # (n_points,) float32 on the model grid, 0 where not measured
    coverage: float         # fraction of the grid that was measured
    source: str
    warnings: list[str]


def prepare(item: PatternLike, grid: np.ndarray, wavelength: float | None = None) -> Prepared:
    """A pattern on the model grid.

    ``item``: a path (read with ``read_pattern``), a ``MeasuredPattern`` or (2theta, I)
    arrays. ``wavelength`` (Å) serves patterns that state none; arrays without it are Cu
    K-alpha."""
    if isinstance(item, tuple):
        if len(item) != 2:
            raise PatternReadError(f"<arrays>: expected a (2theta, intensity) pair, got {len(item)} arrays")
        item = pattern_from_arrays(item[0], item[1], wavelength or CU_KA1)
    elif not isinstance(item, MeasuredPattern):
        item = read_pattern(item)
    lam = item.wavelength if item.wavelength is not None else wavelength
    x, mask = to_grid(item, grid, CU_KA1, wavelength=None if lam is None else model_wavelength(lam))
    coverage = float(mask.mean())
    warnings = []
    if coverage < 0.5:
        warnings.append(f"the data cover only {100 * coverage:.0f} % of the model's 5-90 degree (Cu) range")
    return Prepared(x.astype(np.float32), coverage, str(item.source), warnings)


def predict(classifier: "Classifier", prepared: Sequence[Prepared], top_k: int = 5, with_prior: bool = True,
            indexings: Sequence[Any] | None = None, index: bool = True) -> list[Prediction]:
    """One batch through the model: predictions for prepared patterns. With an indexed cell
    (``indexings``: one ``xrdfast.fusion.Indexing`` or None per pattern; else, when ``index``,
    the pattern's own indexing if this build has one) the network's probabilities are fused
    with the extinction evidence (``xrdfast.fusion``)."""
    if not 1 <= top_k <= 99:
        raise ValueError(f"top_k must be between 1 and 99, got {top_k}")
    if not prepared:
        return []
    log_p = classifier.log_probabilities(np.stack([q.intensity for q in prepared]), with_prior=with_prior)
    p = np.exp(log_p.astype(np.float64))
    p /= p.sum(1, keepdims=True)
    names, system_of = _systems()
    threshold = classifier.calibration.abstain_below
    fused = _fused(p, prepared, classifier.grid, indexings, index)
    out = []
    for row, q, f in zip(p, prepared, fused):
        if f is not None and f.method == "indexed":
            from xrdfast.fusion import FUSION

            row, threshold = f.probabilities, FUSION.abstain_below
        else:
            threshold = classifier.calibration.abstain_below
        order = np.argsort(-row, kind="stable")[:top_k]
        marginal = dict(zip(names, np.bincount(system_of, weights=row, minlength=len(names)).tolist()))
        out.append(Prediction(
            source=q.source,
            candidates=[_candidate(int(i) + 1, float(row[i])) for i in order],
            crystal_system=max(marginal, key=marginal.get),
            crystal_system_probabilities=marginal,
            abstain=bool(row[order[0]] < threshold),
            threshold=threshold, coverage=q.coverage, warnings=list(q.warnings),
            **({} if f is None else _fusion_fields(f))))
    return out


def _fused(p: np.ndarray, prepared: Sequence[Prepared], grid: np.ndarray, indexings: Sequence[Any] | None,
           index: bool) -> list[Any]:
    """Per pattern: the fusion (xrdfast.fusion.Fused) of the network with the extinction
    evidence, or None where neither a cell was given nor indexing was asked for."""
    if indexings is None and not index:
        return [None] * len(prepared)
    from xrdfast.fusion import fuse_pattern, index_pattern

    out = []
    for i, (row, q) in enumerate(zip(p, prepared)):
        note = ""
        if indexings is not None:
            indexing = indexings[i]
        else:  # the model grid is Cu K-alpha1 with the doublet, which the evidence models
            indexing, note = index_pattern(grid, q.intensity.astype(float), CU_KA1)
        out.append(fuse_pattern(row, grid, q.intensity.astype(float), indexing, CU_KA1, note=note))
    return out


def _fusion_fields(f: Any) -> dict[str, Any]:
    ix = f.indexing
    return {"cell": None if ix is None else ix.cell, "lattice": None if ix is None else ix.lattice,
            "figure_of_merit": None if ix is None else ix.figure_of_merit, "method": f.method, "evidence": f.evidence}


@functools.lru_cache(maxsize=1)
def _systems() -> tuple[list[str], np.ndarray]:
    """The crystal systems (sorted) and, for EG 1..99, the index of each one's system."""
    systems = [ExtinctionGroup(n).crystal_system for n in range(1, 100)]
    names = sorted(set(systems))
    return names, np.array([names.index(s) for s in systems])


@functools.lru_cache(maxsize=128)
def _members(eg: int) -> list[tuple[int, str, float]]:
    return [(int(n), str(s), float(f)) for n, s, f in compatible_space_groups(eg)]


def _candidate(eg: int, probability: float) -> Candidate:
    group = ExtinctionGroup(eg)
    return Candidate(eg, group.symbol, probability, group.crystal_system, _members(eg))


def classify(pattern: PatternLike, top_k: int = 5, *, wavelength: float | None = None,
             model: str | None = None, with_prior: bool = True, indexing: Any = None, index: bool = True) -> Prediction:
    """Classify one pattern: a file path (any supported format), a ``MeasuredPattern`` or a
    (2theta, intensity) pair. ``wavelength`` (Å) serves files that state none (a file's
    own wavelength wins); arrays without it are Cu K-alpha. Raises ``PatternReadError``
    for unreadable input."""
    return classify_many([pattern], top_k, wavelength=wavelength, model=model, with_prior=with_prior,
                         indexings=None if indexing is None else [indexing], index=index)[0]


def classify_many(patterns: Sequence[PatternLike], top_k: int = 5, *, wavelength: float | None = None,
                  model: str | None = None, with_prior: bool = True, indexings: Sequence[Any] | None = None,
                  index: bool = True) -> list[Prediction]:
    """Classify several patterns in one batch (all must be readable; see ``screen`` for
    batches that keep going past bad files)."""
    classifier = load_model(model)
    return predict(classifier, [prepare(item, classifier.grid, wavelength) for item in patterns], top_k, with_prior,
                   indexings, index)


__all__ = ["Candidate", "PatternReadError", "Prediction", "classify", "classify_many", "load_model"]

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
                             read_pattern)
from xrdfast.regrid import to_grid

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
    abstain: bool                                     # top-1 p below the threshold, or input outside training
    threshold: float
    coverage: float                                   # fraction of the model's 2theta range the data covered
    warnings: list[str] = field(default_factory=list)  # what is unusual about the input (see assess)
    wavelength: float | None = None                   # Å the pattern was read at
    wavelength_source: str = ""                       # "file", "option" (the caller's) or "assumed Cu K-alpha1"
    # How the ranking was reached: "network only"; "indexed": the network's probabilities times the
    # extinction likelihood of an indexed cell (xrdfast.fusion); "matched": a known phase of the
    # reference library names the group (xrdfast.match) -- recognition, not symmetry inference.
    method: str = "network only"
    cell: tuple[float, ...] | None = None             # the indexed (or given) conventional cell
    lattice: str | None = None                        # its Bravais lattice (Pearson symbol)
    figure_of_merit: float | None = None              # de Wolff M20 of the indexing
    evidence: Any = field(default=None, repr=False, compare=False)  # ExtinctionEvidence when indexed
    match: Any = None                                 # the matched PhaseMatch when method == "matched"
    matches: list = field(default_factory=list)       # search-match candidates (classify(..., match=True))
    # all 99 extinction-group probabilities (EG n at index n - 1) that ``candidates`` ranks
    probabilities: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def top(self) -> Candidate:
        return self.candidates[0]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(replace(self, evidence=None, probabilities=None))
        out["probabilities"] = None if self.probabilities is None else [float(v) for v in self.probabilities]
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
        if self.match is not None:
            m = self.match
            lines.append(f"   matched: {m.name} ({m.entry_id}, {m.formula}, SG {m.space_group}, p = {m.probability:.2f}); "
                         "a recognised known structure, not symmetry inference")
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
    out_of_distribution: bool = False  # some warning says the model was not trained on such input
    wavelength: float | None = None
    wavelength_source: str = ""


def prepare(item: PatternLike, grid: np.ndarray, wavelength: float | None = None) -> Prepared:
    """A pattern on the model grid.

    ``item``: a path (read with ``read_pattern``), a ``MeasuredPattern`` or (2theta, I)
    arrays. ``wavelength`` (Å) serves patterns that state none; arrays without it are Cu
    K-alpha. A wavelength the file states always wins."""
    if isinstance(item, tuple):
        if len(item) != 2:
            raise PatternReadError(f"<arrays>: expected a (2theta, intensity) pair, got {len(item)} arrays")
        source = "option" if wavelength is not None else "assumed Cu K-alpha1"
        item = pattern_from_arrays(item[0], item[1], wavelength or CU_KA1)
    else:
        if not isinstance(item, MeasuredPattern):
            item = read_pattern(item)
        # read_pattern(..., wavelength=) marks a caller's override "argument": not the file's
        stated = item.wavelength is not None and item.metadata.get("wavelength_source") != "argument"
        source = "file" if stated else "option"
    lam = item.wavelength if item.wavelength is not None else wavelength
    x, mask = to_grid(item, grid, CU_KA1, wavelength=None if lam is None else model_wavelength(lam))
    coverage = float(mask.mean())
    warnings, outside = assess(item, x, mask, grid, model_wavelength(lam) if lam is not None else CU_KA1)
    return Prepared(x.astype(np.float32), coverage, str(item.source), warnings, outside, lam,
                    source if lam is not None else "")


# ----------------------------------------------------------------------------- what the model was trained on
#
# The network saw stage-2 curriculum patterns only (cpp/src/curriculum.cpp,
# StageDistribution::preset("2")): full 5-90 degree scans on a 0.01 degree grid, backgrounds
# subtracted to a constant term of at most 3 % of the strongest peak, Caglioti widths and
# crystallite sizes giving the strongest line a FWHM of 0.07-0.38 degrees, at least 300 counts
# at the maximum. Patterns outside that envelope get answers that mean nothing, however
# confident, so they abstain with a warning naming what is out of range. The limits are
# the extremes of 1000 stage-2 draws (seed 7), as `python scripts/ood_envelope.py` prints
# them; no measured data set was used. tests/test_classify.py redraws and checks them.
TRAINING_ENVELOPE = {
    "background": 0.03,     # 10th percentile / maximum; draws reach 0.027, the preset's constant term 0.03
    "snr": 90.0,            # (maximum - background) / noise sigma; the noisiest draws reach ~91 (warned only)
    "fwhm": (0.07, 0.38),   # degrees (Cu), strongest line; draws span 0.07-0.38
    "peaks": 2,             # lines standing 10 sigma above their floor; the fewest in a draw is 2
}
# Floors that are not read off the draws (training always saw whole, finely stepped scans):
# stated rules of sampling and crystallography, chosen without looking at measured data.
MIN_COVERAGE = 0.25         # of the 5-90 degree range
MIN_POINTS = 50             # measured points inside the model's range
MIN_POINTS_PER_FWHM = 2.0   # fewer than two steps across a line: its position and shape are not measured
MIN_STRONGEST_D = 1.0       # Å: crystals have no strongest line at shorter spacings


def pattern_statistics(intensity: np.ndarray, mask: np.ndarray, step: float = 0.01) -> dict[str, float]:
    """The envelope's statistics of a pattern on the model grid (measured points only):
    background (10th percentile over the maximum), noise (sigma from second differences,
    robust to peaks), snr, the FWHM of the strongest line (degrees) and the number of
    lines (local maxima over +-0.1 degree standing 10 sigma (noise alone reaches ~7 over 200 points) and 2 % above the +-1 degree floor)."""
    from numpy.lib.stride_tricks import sliding_window_view

    y = np.asarray(intensity, dtype=np.float64)[np.asarray(mask, dtype=bool)]
    if len(y) < 5 or not y.max() > 0:
        return {"background": 0.0, "noise": 0.0, "snr": 0.0, "fwhm": 0.0, "peaks": 0, "strongest": 0}
    y = y / y.max()
    background = float(np.percentile(y, 10))
    second = y[2:] - 2.0 * y[1:-1] + y[:-2]
    noise = float(1.4826 * np.median(np.abs(second)) / np.sqrt(6.0))  # white noise: var(second) = 6 sigma^2
    i = int(np.argmax(y))
    half = background + 0.5 * (1.0 - background)
    lo, hi = i, i
    while lo > 0 and y[lo] > half:
        lo -= 1
    while hi < len(y) - 1 and y[hi] > half:
        hi += 1
    near, far = 10, 100  # grid points: 0.1 and 1 degree
    padded = np.pad(y, far, mode="edge")
    local_max = sliding_window_view(padded[far - near:len(padded) - far + near], 2 * near + 1).max(axis=1)
    floor = sliding_window_view(padded, 2 * far + 1).min(axis=1)
    peaks = int(np.count_nonzero((y >= local_max) & (y - floor > max(10.0 * noise, 0.02))))
    return {"background": background, "noise": noise, "snr": (1.0 - background) / max(noise, 1e-12),
            "fwhm": (hi - lo) * step, "peaks": peaks, "strongest": i}


def assess(pattern: MeasuredPattern, intensity: np.ndarray, mask: np.ndarray, grid: np.ndarray,
           wavelength: float) -> tuple[list[str], bool]:
    """What is unusual about a pattern, as warnings, and whether it is outside what the model
    was trained on (then the prediction abstains whatever its probability). ``intensity``
    and ``mask`` are the pattern on the model ``grid`` (Cu K-alpha1), ``wavelength`` the one
    it was read at."""
    warnings: list[str] = []
    outside = False

    def out(message: str) -> None:
        nonlocal outside
        warnings.append(f"outside the training data: {message}; abstaining")
        outside = True

    coverage = float(np.mean(mask))
    low, high = float(grid[0]), float(grid[-1])
    if coverage < 0.5:
        warnings.append(f"the data cover only {100 * coverage:.0f} % of the model's {low:g}-{high:g} degree (Cu) range")
    if coverage < MIN_COVERAGE:
        out(f"coverage {100 * coverage:.0f} % of the {low:g}-{high:g} degree range is below {100 * MIN_COVERAGE:.0f} %")
    cu = CU_KA1 / wavelength * np.sin(np.radians(pattern.two_theta) / 2.0)  # sin(theta) at Cu
    inside = (cu > 0) & (cu < 1)
    cu_angles = 2.0 * np.degrees(np.arcsin(cu[inside]))
    cu_angles = cu_angles[(cu_angles >= low) & (cu_angles <= high)]
    if len(cu_angles) < MIN_POINTS:
        out(f"{len(cu_angles)} measured points inside the model's range; at least {MIN_POINTS} are needed")
    if pattern.metadata.get("reversed") and pattern.two_theta[-1] < 20.0 and wavelength > 1.0:
        out(f"the 2theta column runs down from {pattern.two_theta[-1]:g} to {pattern.two_theta[0]:g}, as "
            "d-spacings do; a d-spacing column is not 2theta")
    stats = pattern_statistics(intensity, mask, float(grid[1] - grid[0]))
    envelope = TRAINING_ENVELOPE
    if stats["background"] > envelope["background"]:
        out(f"background {100 * stats['background']:.0f} % of the strongest peak (peak/background "
            f"{1 / max(stats['background'], 1e-9):.0f}); training backgrounds stay below {100 * envelope['background']:.0f} % "
            "(subtract the background first)")
    if stats["peaks"] < envelope["peaks"]:
        out(f"{stats['peaks']} lines found; training patterns show at least {envelope['peaks']}"
            + (" (no diffraction signal above the noise)" if stats["snr"] < 10 else ""))
    elif stats["snr"] < envelope["snr"]:  # noisier than training, lines still visible: said, not abstained on
        warnings.append(f"noisier than the training data: signal-to-noise {stats['snr']:.0f}, below the "
                        f"{envelope['snr']:.0f} of the noisiest training patterns")
    fwhm_lo, fwhm_hi = envelope["fwhm"]
    if stats["peaks"] and not fwhm_lo <= stats["fwhm"] <= fwhm_hi:
        out(f"the strongest line is {stats['fwhm']:.2f} degrees wide (FWHM at Cu); training lines are "
            f"{fwhm_lo:g}-{fwhm_hi:g} degrees")
    if len(cu_angles) > 1 and stats["fwhm"] > 0:
        step = float(np.median(np.diff(cu_angles)))
        if step * MIN_POINTS_PER_FWHM > max(stats["fwhm"], fwhm_lo):
            out(f"steps of {step:.3f} degrees (at Cu) sample the {stats['fwhm']:.2f}-degree lines fewer than "
                f"{MIN_POINTS_PER_FWHM:g} times")
    # the strongest line's spacing at the stated wavelength: a wrong wavelength puts it where
    # crystals have none (Cu data read at 0.41 Å: every d below 1 Å)
    y = pattern.intensity
    top = float(pattern.two_theta[int(np.argmax(y))])
    d = wavelength / (2.0 * np.sin(np.radians(top) / 2.0))
    if d < MIN_STRONGEST_D:
        out(f"at λ = {wavelength:g} Å the strongest peak (2θ = {top:.2f}°) is at d = {d:.2f} Å, shorter than any "
            f"crystal's strongest line (> {MIN_STRONGEST_D:g} Å); is the wavelength right?")
    return warnings, outside


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
    log_p = _batch_invariant_log_probabilities(classifier, np.stack([q.intensity for q in prepared]), with_prior)
    p = np.exp(log_p.astype(np.float64))
    p /= p.sum(1, keepdims=True)
    bad = np.flatnonzero(~np.isfinite(p).all(axis=1))
    if bad.size:  # non-finite numbers never leave the library
        raise PatternReadError(f"{prepared[bad[0]].source}: the model gave non-finite probabilities; the "
                               "pattern's values are beyond what it can process")
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
            abstain=bool(row[order[0]] < threshold or q.out_of_distribution),
            threshold=threshold, coverage=q.coverage,
            warnings=list(q.warnings) + _fusion_warnings(f),
            wavelength=q.wavelength, wavelength_source=q.wavelength_source, probabilities=np.array(row),
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
        note, intensity = "", q.intensity.astype(float)
        if indexings is not None:
            indexing = indexings[i]
        else:  # the model grid is Cu K-alpha1 with the doublet, which the evidence models
            indexing, note = index_pattern(grid, intensity, CU_KA1, ANODE_WAVELENGTHS["Cu"][1])
        out.append(fuse_pattern(row, grid, intensity, indexing, CU_KA1, note=note))
    return out


# Share of the peaks the best cell leaves unindexed from which a pattern is said to be a likely
# mixture: the 95th percentile of 800 single-phase AMCSD minerals simulated with stage-2
# nuisances (seed 777) through the same peaks and indexing (median 0.08; half of the 500
# two-phase "po" patterns of scripts/fit_fusion.py's data leave more than 0.17, a quarter 0.28).
MIXTURE_UNINDEXED = 0.32


def _fusion_warnings(f: Any) -> list[str]:
    """Why the evidence was not used, and a likely mixture: a good cell that leaves many
    peaks unindexed (single-phase simulated AMCSD minerals through the same peaks and
    indexing leave more than MIXTURE_UNINDEXED unindexed in 5 % of cases)."""
    if f is None:
        return []
    out = [f"extinction evidence not used: {f.note}"] if f.note else []
    ix = f.indexing
    if ix is not None and ix.unindexed > MIXTURE_UNINDEXED:
        out.append(f"likely a mixture or an impurity: the best cell ({ix.lattice}, M20 {ix.figure_of_merit:.0f}) "
                   f"leaves {100 * ix.unindexed:.0f} % of the peaks unindexed")
    return out


def _fusion_fields(f: Any) -> dict[str, Any]:
    ix = f.indexing
    return {"cell": None if ix is None else ix.cell, "lattice": None if ix is None else ix.lattice,
            "figure_of_merit": None if ix is None else ix.figure_of_merit, "method": f.method, "evidence": f.evidence}


# Inference runs in batches of exactly this many patterns (the last one padded with zeros):
# the BLAS and convolution kernels then see one shape, and a pattern's probabilities do not
# depend on how many others share its batch (resumed screens match uninterrupted ones bit
# for bit). Costs at most BATCH - 1 padding rows per call.
BATCH = 16


def _batch_invariant_log_probabilities(classifier: "Classifier", x: np.ndarray, with_prior: bool) -> np.ndarray:
    out = []
    for start in range(0, len(x), BATCH):
        chunk = x[start:start + BATCH]
        padded = np.zeros((BATCH, x.shape[1]), dtype=x.dtype)
        padded[:len(chunk)] = chunk
        out.append(classifier.log_probabilities(padded, with_prior=with_prior)[:len(chunk)])
    return np.concatenate(out)


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
             model: str | None = None, with_prior: bool = True, match: bool = True, library: Any = None,
             indexing: Any = None, index: bool = True) -> Prediction:
    """Classify one pattern: a file path (any supported format), a ``MeasuredPattern`` or a
    (2theta, intensity) pair. ``wavelength`` (Å) serves files that state none (a file's
    own wavelength wins); arrays without it are Cu K-alpha. Raises ``PatternReadError``
    for unreadable input."""
    return classify_many([pattern], top_k, wavelength=wavelength, model=model, with_prior=with_prior, match=match,
                         library=library, indexings=None if indexing is None else [indexing], index=index)[0]


def classify_many(patterns: Sequence[PatternLike], top_k: int = 5, *, wavelength: float | None = None,
                  model: str | None = None, with_prior: bool = True, match: bool = True,
                  library: Any = None, indexings: Sequence[Any] | None = None,
                  index: bool = True) -> list[Prediction]:
    """Classify several patterns in one batch (all must be readable; see ``screen`` for
    batches that keep going past bad files). ``match``: also search a reference library
    (``library``: a Library, a CIF directory, None for AMCSD) and let a confident match name
    the group (``Prediction.method``); False is symmetry inference alone."""
    classifier = load_model(model)
    prepared = [prepare(item, classifier.grid, wavelength) for item in patterns]
    predictions = predict(classifier, prepared, top_k, with_prior, indexings, index)
    if match:
        from xrdfast.match import with_matches

        predictions = with_matches(predictions, [q.intensity for q in prepared], top_k, library)
    return predictions


__all__ = ["Candidate", "PatternReadError", "Prediction", "classify", "classify_many", "load_model"]

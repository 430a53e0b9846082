"""Fusion of the network with the extinction evidence: the network's calibrated probabilities
(frequency prior included) are the prior, the extinction likelihood of an indexed cell the
likelihood,

    log p(g | data) = log p_net(g) + weight * l(g) + const,

mixed with a share of the network alone (when the evidence fails -- a wrong width, an
impurity line on a forbidden position -- it fails with hundreds of nats),

with l(g) the extinction log-likelihood of group g relative to the mean over the groups of
the indexed lattice system (``ExtinctionEvidence.relative_log_likelihood``), and ``outside``
for the groups of other lattice systems (the indexing may have the wrong system). ``weight``
tempers a likelihood whose Wilson and Gaussian assumptions make it over-confident. When no
cell is found, or its figure of merit is poor, the network stands alone.

The parameters are fitted by ``scripts/fit_fusion.py`` on AMCSD minerals simulated with
stage-2 nuisances from a seed (777) that the model card's test set (seed 2000003) does not
use, with the first 1,000 test minerals excluded; never on measured data.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FusionParameters:
    weight: float = 0.5              # exponent on the extinction likelihood
    network_share: float = 0.0       # share of the network alone mixed back in: the evidence's own failures
    outside: float = -12.0           # relative log-likelihood of groups outside the indexed lattice system
    min_figure_of_merit: float = 10.0  # de Wolff M20 under which an indexing is not trusted
    abstain_below: float = 0.5       # fused top-1 probability under which a prediction abstains


# Fitted by scripts/fit_fusion.py (see the module docstring); the defaults above are the
# starting point of that fit.
# scripts/fit_fusion.py on 600 patterns with their true cells: weight 0.5, network share 0.1
# (NLL 0.98 against 3.3 for the network alone), abstain below 0.82 (right 90.6 % of the time on
# the 69 % kept; ECE 0.047). ``outside`` and ``min_figure_of_merit`` are not fitted yet: they
# need indexing's errors, which these true-cell data do not have.
FUSION = FusionParameters(weight=0.5, network_share=0.1, outside=-12.0, min_figure_of_merit=10.0, abstain_below=0.82)


def fuse(network: np.ndarray, relative_log_likelihood: np.ndarray,
         params: FusionParameters = FUSION) -> np.ndarray:
    """Fused probabilities (..., 99) from the network's (..., 99) and the evidence's relative
    log-likelihoods (..., 99; NaN outside the indexed lattice system)."""
    p = np.asarray(network, dtype=float)
    ll = np.asarray(relative_log_likelihood, dtype=float)
    if p.shape[-1] != 99 or ll.shape != p.shape:
        raise ValueError(f"expected matching (..., 99) arrays, got {p.shape} and {ll.shape}")
    score = np.log(np.maximum(p, 1e-300)) + np.where(np.isnan(ll), params.outside, params.weight * ll)
    score -= score.max(-1, keepdims=True)
    out = np.exp(score)
    out /= out.sum(-1, keepdims=True)
    return (1 - params.network_share) * out + params.network_share * p / p.sum(-1, keepdims=True)


@dataclass(frozen=True)
class Indexing:
    """What the fusion needs from peak fitting and indexing (or from a user who knows the cell)."""

    cell: tuple[float, float, float, float, float, float]  # conventional a, b, c (Å), alpha, beta, gamma (deg)
    lattice: str                                             # Pearson symbol: aP, mP, mC, oP, ..., cF
    figure_of_merit: float = math.inf                        # de Wolff M20; inf for a cell given by hand
    zero_shift: float = 0.0                                  # degrees 2theta
    widths: Mapping[str, float] = field(default_factory=dict)  # Caglioti U, V, W, eta, ... (see evidence.make_instrument)
    background: np.ndarray | None = field(default=None, repr=False, compare=False)  # on the pattern's 2theta


@dataclass(frozen=True)
class Fused:
    probabilities: np.ndarray      # (99,)
    method: str                    # "indexed" or "network only"
    indexing: Indexing | None
    evidence: Any                  # ExtinctionEvidence when indexed
    note: str = ""                 # why the network stands alone


def fit_widths(two_theta: np.ndarray, fwhm: np.ndarray, eta: np.ndarray | None = None) -> dict[str, float]:
    """Caglioti U, V, W (deg^2) by least squares on FWHM^2 of fitted peaks (tan theta powers),
    with W kept positive, and their median eta."""
    t = np.tan(np.radians(np.asarray(two_theta, dtype=float) / 2))
    f2 = np.asarray(fwhm, dtype=float) ** 2
    ok = np.isfinite(t) & np.isfinite(f2) & (f2 > 0)
    if ok.sum() >= 3:
        u, v, w = np.linalg.lstsq(np.column_stack([t[ok] ** 2, t[ok], np.ones(ok.sum())]), f2[ok], rcond=None)[0]
    else:
        u, v, w = 0.0, 0.0, float(np.median(f2[ok])) if ok.any() else 0.01
    if w <= 0 or u < 0:
        u, v, w = 0.0, 0.0, float(np.median(f2[ok])) if ok.any() else 0.01
    out = {"U": float(u), "V": float(v), "W": float(w)}
    if eta is not None and len(eta):
        out["eta"] = float(np.clip(np.nanmedian(eta), 0, 1))
    return out


def index_pattern(two_theta: np.ndarray, intensity: np.ndarray, wavelength: float,
                  wavelength2: float | None = None) -> tuple[Indexing | None, str]:
    """Peaks (``xrdfast.peaks.search``) and the best cell (``xrdfast.indexing.index``) of a
    pattern when this build has them; (None, reason) otherwise. The widths for the evidence
    are the Caglioti curve through the fitted peaks, the background the search's."""
    try:
        from xrdfast import peaks as peak_module
        from xrdfast.indexing import index  # type: ignore[import-not-found]

        search = peak_module.search  # type: ignore[attr-defined]
    except (ImportError, AttributeError):
        return None, "no indexing in this build"
    try:
        found = search((np.asarray(two_theta), np.asarray(intensity)), wavelength=wavelength, wavelength2=wavelength2,
                       refine=True)
        peaks = found.peaks
        if len(peaks) < 4:
            return None, f"only {len(peaks)} peaks: too few to index"
        solutions = index(peaks, wavelength=wavelength)
    except (ValueError, RuntimeError) as error:
        return None, f"indexing failed: {error}"
    if not solutions:
        return None, "no cell found"
    best = solutions[0]
    widths = fit_widths(peaks["two_theta"], peaks["fwhm"], peaks["eta"] if "eta" in peaks.dtype.names else None)
    return Indexing(tuple(float(v) for v in best.cell), str(best.lattice), float(best.m20),
                    float(getattr(best, "zero_shift", 0.0)), widths, np.asarray(found.background)), ""


def fuse_pattern(network: np.ndarray, two_theta: np.ndarray, intensity: np.ndarray, indexing: Indexing | None,
                 wavelength: float, params: FusionParameters = FUSION, note: str = "") -> Fused:
    """The network's (99,) probabilities fused with the extinction evidence of ``indexing``
    on this pattern, or the network alone (and why) when there is no trustworthy cell."""
    if indexing is None:
        return Fused(np.asarray(network, dtype=float), "network only", None, None, note or "no cell")
    if not indexing.figure_of_merit >= params.min_figure_of_merit:
        return Fused(np.asarray(network, dtype=float), "network only", indexing, None,
                     f"indexing figure of merit {indexing.figure_of_merit:.1f} < {params.min_figure_of_merit:g}")
    from xrdfast.evidence import extinction_evidence

    try:
        ev = extinction_evidence(two_theta, intensity, indexing.cell, indexing.lattice, wavelength=wavelength,
                                 zero_shift=indexing.zero_shift, widths=indexing.widths or {"W": 0.01},
                                 background=indexing.background)
    except ValueError as error:
        return Fused(np.asarray(network, dtype=float), "network only", indexing, None, f"evidence failed: {error}")
    return Fused(fuse(network, ev.relative_log_likelihood(), params), "indexed", indexing, ev)


__all__ = ["FUSION", "Fused", "FusionParameters", "Indexing", "fit_widths", "fuse", "fuse_pattern", "index_pattern"]

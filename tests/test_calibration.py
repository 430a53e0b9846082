"""Temperature scaling recovers a known temperature and lowers held-out NLL; the natural-
frequency prior is summed into extinction groups as an independent table says."""
from __future__ import annotations

import csv
import importlib.resources
import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from xrdfast import extinction_group  # noqa: E402
from xrdfast.ml.calibration import (  # noqa: E402
    Calibration,
    calibrated_log_probs,
    fit_temperature,
    logits_from_probabilities,
)
from xrdfast.prior import (  # noqa: E402
    compatible_space_groups,
    extinction_group_prior,
    space_group_counts,
)

# Fitted temperatures on 20,000 sampled labels scatter by a few per cent around the truth
# (the NLL is flat near its minimum); 10 % leaves room without hiding a wrong fit.
T_TOLERANCE = 0.10


def _sample(logits: torch.Tensor, temperature: float, log_prior: torch.Tensor | None = None,
            seed: int = 0) -> torch.Tensor:
    """Labels drawn from softmax(logits / T + log_prior), the model the fit assumes."""
    generator = torch.Generator().manual_seed(seed)
    probs = calibrated_log_probs(logits, temperature, log_prior).exp()
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)


def _logits(n: int, k: int, scale: float, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return scale * torch.randn(n, k, generator=generator, dtype=torch.float64)


def _nll(logits, labels, temperature, log_prior=None) -> float:
    return float(-calibrated_log_probs(logits, temperature, log_prior).gather(1, labels[:, None]).mean())


def test_fit_recovers_the_temperature_labels_were_drawn_at():
    z = _logits(20000, 20, scale=6.0, seed=1)
    labels = _sample(z, 3.0, seed=2)
    assert fit_temperature(z, labels) == pytest.approx(3.0, rel=T_TOLERANCE)


def test_fit_lowers_nll_of_an_overconfident_model_on_held_out_data():
    # truth: softmax(z); the model reports 4 z, four times too confident
    z_fit, z_test = _logits(5000, 30, 2.0, seed=3), _logits(5000, 30, 2.0, seed=4)
    y_fit, y_test = _sample(z_fit, 1.0, seed=5), _sample(z_test, 1.0, seed=6)
    temperature = fit_temperature(4 * z_fit, y_fit)
    assert temperature == pytest.approx(4.0, rel=T_TOLERANCE)
    assert _nll(4 * z_test, y_test, temperature) < 0.8 * _nll(4 * z_test, y_test, 1.0)
    # scaling keeps the ranking, so accuracy cannot change
    assert torch.equal(calibrated_log_probs(4 * z_test, temperature).argmax(1), z_test.argmax(1))


def test_fit_with_a_prior_recovers_the_temperature_and_beats_no_prior():
    k = 25
    log_prior = torch.log(torch.softmax(torch.linspace(-3, 3, k, dtype=torch.float64), 0))
    z = _logits(20000, k, 4.0, seed=7)
    labels = _sample(z, 2.0, log_prior, seed=8)
    with_prior = fit_temperature(z, labels, log_prior)
    without = fit_temperature(z, labels)
    assert with_prior == pytest.approx(2.0, rel=T_TOLERANCE)
    assert _nll(z, labels, with_prior, log_prior) < _nll(z, labels, without)


def test_fit_returns_the_bound_when_the_minimum_lies_beyond_it():
    z = _logits(500, 10, 1.0, seed=9)
    labels = z.argmax(1)  # always right: the NLL keeps falling as T -> 0
    assert fit_temperature(z, labels, bounds=(0.05, 100.0)) == pytest.approx(0.05, rel=1e-5)


def test_unit_temperature_on_log_probabilities_returns_the_probabilities():
    p = torch.softmax(_logits(8, 99, 3.0, seed=10), 1)
    assert torch.allclose(calibrated_log_probs(logits_from_probabilities(p), 1.0).exp(), p, atol=1e-12)
    zero = torch.zeros(1, 3, dtype=torch.float64)
    zero[0, 0] = 1.0
    assert torch.isfinite(logits_from_probabilities(zero)).all()


def test_fit_rejects_bad_input():
    z = torch.zeros(4, 3)
    with pytest.raises(ValueError, match="0-based"):
        fit_temperature(z, torch.tensor([1, 2, 3, 3]))
    with pytest.raises(ValueError, match="labels must be"):
        fit_temperature(z, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="log_prior"):
        fit_temperature(z, torch.tensor([0, 1, 2, 0]), torch.zeros(4))
    with pytest.raises(ValueError, match="bounds"):
        fit_temperature(z, torch.tensor([0, 1, 2, 0]), bounds=(0.0, 1.0))


def test_calibration_round_trips_and_applies_its_prior():
    z = _logits(4000, 99, 3.0, seed=11)
    labels = _sample(z, 2.5, seed=12)
    calibration = Calibration.fit(z, labels, prior_source="icsd")
    assert calibration.log_prior is not None and len(calibration.log_prior) == 99
    again = Calibration.from_dict(json.loads(json.dumps(calibration.to_dict())))
    assert again == calibration
    log_prior = torch.tensor(calibration.log_prior, dtype=torch.float64)
    assert torch.allclose(again.apply(z), calibrated_log_probs(z, calibration.temperature, log_prior))
    assert torch.allclose(again.apply(z, with_prior=False), calibrated_log_probs(z, calibration.temperature))
    plain = Calibration.fit(z, labels)
    assert plain.log_prior is None and plain.temperature == pytest.approx(2.5, rel=T_TOLERANCE)
    with pytest.raises(ValueError, match="unknown calibration fields"):
        Calibration.from_dict({"temperature": 1.0, "alpha": 0.5})
    with pytest.raises(ValueError, match="temperature"):
        Calibration(temperature=0.0)


# --- the natural-frequency prior -------------------------------------------------------------


def _shared_table(shared, name: str) -> list[dict[str, str]]:
    with open(shared / "reference" / name, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_packaged_frequency_table_is_the_shared_one(shared):
    packaged = importlib.resources.files("xrdfast") / "data" / "space_group_frequency.csv"
    assert packaged.read_bytes() == (shared / "reference/space_group_frequency.csv").read_bytes()


@pytest.mark.parametrize("source", ["amcsd", "icsd", "cod", "icsd+cod", "rruff_908"])
def test_prior_is_a_smoothed_distribution(source):
    prior = extinction_group_prior(source)
    assert prior.shape == (99,) and prior.sum() == pytest.approx(1.0, abs=1e-12)
    assert (prior > 0).all()


def test_prior_sums_space_groups_into_extinction_groups_as_the_shared_table_says(shared):
    counts = {row["space_group"]: row for row in _shared_table(shared, "space_group_frequency.csv")}
    eg_of = {row["space_group"]: int(row["extinction_group"])
             for row in _shared_table(shared, "extinction_groups.csv")}
    for source in ("amcsd", "icsd"):
        total = sum(int(row[source]) for row in counts.values())
        manual = np.ones(99)  # add-one smoothing
        for sg, row in counts.items():
            manual[eg_of[sg] - 1] += int(row[source])
        assert np.allclose(extinction_group_prior(source), manual / (total + 99), rtol=0, atol=1e-15)
        # EG 4 is P2_1/c alone: its prior is (count of SG 14 + 1) / (total + 99)
        assert extinction_group_prior(source)[3] == pytest.approx((int(counts["14"][source]) + 1) / (total + 99))
    pooled = space_group_counts("icsd+cod")
    assert pooled[14] == int(counts["14"]["icsd"]) + int(counts["14"]["cod"]) and pooled[0] == 0


def test_prior_smoothing_and_sources_are_checked():
    raw = extinction_group_prior("icsd", smoothing=0.0)
    counts = space_group_counts("icsd")
    assert raw[3] == pytest.approx(counts[14] / counts.sum())
    with pytest.raises(ValueError, match="amcsd"):
        space_group_counts("pdf4")
    with pytest.raises(ValueError, match="smoothing"):
        extinction_group_prior(smoothing=-1.0)


def test_compatible_space_groups_rank_members_with_smoothed_shares():
    counts = space_group_counts("icsd")
    members = compatible_space_groups(5)  # C2, Cm, C2/m
    assert sorted(sg for sg, _, _ in members) == [5, 8, 12]
    shares = [share for _, _, share in members]
    assert shares == sorted(shares, reverse=True) and math.fsum(shares) == pytest.approx(1.0)
    total = counts[[5, 8, 12]].sum() + 1.5
    assert {sg: share for sg, _, share in members}[12] == pytest.approx((counts[12] + 0.5) / total)
    assert members[0][0] == max([5, 8, 12], key=lambda sg: counts[sg])
    assert {sg: symbol for sg, symbol, _ in members} == {5: "C2", 8: "Cm", 12: "C2/m"}
    # P422 (89) never occurs in ICSD; it keeps the 0.5 pseudo-count's share
    # and comes last among the members of its extinction group
    assert counts[89] == 0
    ranked = compatible_space_groups(extinction_group(89).number)
    members = [sg for sg, _, _ in ranked]
    total = counts[members].sum() + 0.5 * len(members)
    assert ranked[-1][0] == 89 and ranked[-1][2] == pytest.approx(0.5 / total)

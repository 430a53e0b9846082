"""scripts/fit_fusion.py recovers the parameters of a fusion from labels drawn under it:
synthetic networks, extinction log-likelihoods, figures of merit, unindexed fractions,
misfits and peak counts, extinction groups sampled from ``fuse`` with known parameters, then the
maximum-likelihood fit on them."""
from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from xrdfast.fusion import FusionParameters, fuse

TRUE = FusionParameters(weight=0.6, network_power=0.5, robustness=0.1, outside=-5.0, trust_intercept=-1.0,
                        trust_slope=0.8, trust_unindexed=-10.0, trust_misfit=-0.3, trust_triclinic=-3.0,
                        trust_monoclinic=-1.5, trust_peaks=1.0, min_figure_of_merit=15.0)


def _fit_fusion():
    spec = importlib.util.spec_from_file_location("fit_fusion", Path(__file__).parents[1] / "scripts" / "fit_fusion.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _drawn(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    network = rng.dirichlet(np.full(99, 0.3), n)
    rel = np.full((n, 99), np.nan)
    for row in rel:  # a lattice system of 15 groups: most rejected by up to tens of nats, some not at all
        start = rng.integers(0, 85)
        row[start:start + 15] = -np.abs(rng.normal(0, 20, 15)) * (rng.random(15) < 0.8)
    fom = np.exp(rng.uniform(np.log(5), np.log(3000), n))
    unindexed, misfit = rng.uniform(0, 0.4, n), np.exp(rng.normal(0, 0.5, n))
    lattice = rng.choice(["aP", "mP", "mC", "oP", "tI", "hP", "cF"], n)
    peaks = np.round(np.exp(rng.uniform(np.log(5), np.log(80), n)))
    p = fuse(network, rel, TRUE, fom, unindexed, misfit, lattice, peaks)
    labels = np.array([rng.choice(99, p=row / row.sum()) for row in p]) + 1
    return dict(network=network, rel=rel, fom=fom, unindexed=unindexed, misfit=misfit, lattice=lattice,
                peaks=peaks, labels=labels, weight=np.ones(n))


def test_the_fit_recovers_the_parameters_the_labels_were_drawn_with(monkeypatch: pytest.MonkeyPatch) -> None:
    fit_fusion = _fit_fusion()
    monkeypatch.setattr(fit_fusion, "FIGURE_OF_MERIT_GATES", (15.0,))
    d = _drawn(2000, seed=0)
    rows = np.arange(len(d["labels"]))
    got = fit_fusion.fit(d, rows)
    assert fit_fusion.nll(got, d, rows) <= fit_fusion.nll(TRUE, d, rows) + 1e-3  # a maximum, not a stall
    assert got.weight == pytest.approx(TRUE.weight, rel=0.15)
    assert got.network_power == pytest.approx(TRUE.network_power, rel=0.15)
    assert got.robustness == pytest.approx(TRUE.robustness, rel=0.4)
    assert got.outside == pytest.approx(TRUE.outside, abs=0.6)
    assert got.trust_slope == pytest.approx(TRUE.trust_slope, abs=0.25)
    assert got.trust_peaks == pytest.approx(TRUE.trust_peaks, abs=0.5)
    # triclinic cells distrusted most, monoclinic ones less, orthorhombic ones not at all
    assert got.trust_triclinic < got.trust_monoclinic - 0.5
    assert got.trust_monoclinic == pytest.approx(TRUE.trust_monoclinic, abs=1.0)
    assert got.trust_orthorhombic > -0.7
    assert got.network_share < 0.1
    # the robust term matters: without it the same data fit clearly worse
    plain = dataclasses.replace(got, robustness=0.0)
    assert fit_fusion.nll(plain, d, rows) > fit_fusion.nll(got, d, rows) + 0.05


def test_natural_weights_give_each_lattice_system_its_share_of_the_frequency_prior() -> None:
    """A draw of extinction groups whose lattice systems are far from natural (two thirds
    cubic) weighs out to the ICSD+COD prior's shares of the lattice systems."""
    from xrdfast import _core
    from xrdfast.prior import extinction_group_prior

    fit_fusion = _fit_fusion()
    systems = np.array([_core.ExtinctionGroup(g).lattice_system for g in range(1, 100)])
    rng = np.random.default_rng(3)
    cubic = np.flatnonzero(systems == "cubic") + 1
    labels = np.concatenate([rng.choice(cubic, 400), np.arange(1, 100), rng.integers(1, 100, 100)])
    weights = fit_fusion.natural_weights(labels)
    assert weights.mean() == pytest.approx(1.0)
    prior = extinction_group_prior()
    for system in np.unique(systems):
        share = weights[systems[labels - 1] == system].sum() / weights.sum()
        assert share == pytest.approx(prior[systems == system].sum(), rel=1e-9), system

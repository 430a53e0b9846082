"""Evaluation draws its AMCSD patterns from exactly the training distribution: the nuisances
of AMCSD mineral k are those the stage-2 generator records for sample k of the same seed
(one draw, in C++, bound as ``_core.draw_params``)."""
from __future__ import annotations

import importlib

import numpy as np
import pytest

from xrdfast import _core
from xrdfast.dataset import generate_samples
from xrdfast.ml import evaluate

GRID = np.linspace(10.0, 60.0, 201)  # the nuisances do not depend on the grid; small is fast
SEED, N = 2_000_003, 6

SCALARS = ["U", "V", "W", "X", "eta", "zero_shift", "sample_displacement", "crystallite_size", "microstrain",
           "march_dollase_r", "counts", "read_noise"]


def as_record(p: _core.SimulationParams) -> dict[str, object]:
    """The generator's record fields of one parameter set."""
    out: dict[str, object] = {name: getattr(p, name) for name in SCALARS}
    out["preferred_orientation"] = tuple(float(v) for v in p.preferred_orientation)
    out["background"] = tuple(list(p.background_chebyshev) + [0.0] * (3 - len(p.background_chebyshev)))
    out["hump"] = (p.hump_amplitude, p.hump_center, p.hump_fwhm)
    return out


@pytest.fixture(scope="module")
def training_records() -> dict[str, np.ndarray]:
    _, records = generate_samples("2", SEED, 0, N, GRID, n_threads=1)
    assert np.all(records["lattice_only"] == 0)  # stage 2 renders every sample with its drawn nuisances
    return records


def test_stage_parameters_are_the_generators_draw(training_records):
    params = evaluate.stage_parameters("2", SEED, N)
    for k, p in enumerate(params):
        got = as_record(p)
        for name in SCALARS:
            assert got[name] == training_records[name][k], (k, name)  # bit for bit: one draw
        for name in ("preferred_orientation", "background", "hump"):
            assert got[name] == tuple(training_records[name][k]), (k, name)


def test_amcsd_patterns_use_the_training_draw(monkeypatch, training_records):
    pytest.importorskip("larixite.amcsd")
    module = importlib.import_module("xrdfast.simulate")  # xrdfast.simulate is also the function
    real = module.simulate_batch
    seen: dict[str, object] = {}

    def capture(crystals, params, *, grid, seed):
        seen.update(crystals=crystals, params=params, seed=seed)
        return real(crystals, params, grid=grid, seed=seed)

    monkeypatch.setattr(module, "simulate_batch", capture)
    patterns, labels, _ = evaluate.amcsd_test_set(N, GRID, seed=SEED)
    assert len(seen["crystals"]) == N and seen["seed"] == SEED
    assert patterns.shape == (len(labels), len(GRID)) and len(labels) > 0
    for k, p in enumerate(seen["params"]):
        got = as_record(p)
        for name in SCALARS:
            assert got[name] == training_records[name][k], (k, name)
        assert got["background"] == tuple(training_records["background"][k]), k


def test_draw_params_follows_the_distribution():
    """A changed interval reaches the draw: the binding reads the distribution it is given."""
    dist = _core.StageDistribution.preset("2")
    dist.U = (0.02, 0.02)
    dist.noise_probability = 0.0
    for k in range(20):
        p = _core.draw_params(dist, 1, k)
        assert p.U == 0.02 and p.counts == 0 and p.read_noise == 0
        assert -0.06 <= p.zero_shift <= 0.06 and 0 <= p.eta <= 1

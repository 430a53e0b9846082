"""Curriculum training at tiny scale: the schedule, the step-keyed data, an exact resume,
calibration and evaluation end to end, and a two-process DDP run (gloo, CPU) under torchrun."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from xrdfast.ml.calibration import Calibration  # noqa: E402
from xrdfast.ml.checkpoint import Classifier, load_payload, release  # noqa: E402
from xrdfast.ml.data import CurriculumBatches  # noqa: E402
from xrdfast.ml.train import Stage, TrainConfig, learning_rate, recalibrate, train  # noqa: E402

TINY = """
arch = "vit"
batch = 16
workers = 0
log_every = 2
checkpoint_every = 3
calibration_samples = 96
[model]
patch = 100
stem_channels = 4
d_model = 16
depth = 1
heads = 2
dropout = 0.0
intensity = "sqrt"
[[stages]]
name = "clean"
mixture = {"1" = 1.0}
samples = 64
lr = 1e-3
warmup = 2
[[stages]]
name = "realistic"
mixture = {"2" = 0.5, "po" = 0.5}
samples = 64
lr = 1e-3
warmup = 2
"""


@pytest.fixture
def tiny_config(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def test_learning_rate_warms_up_then_decays_to_a_tenth():
    stage = Stage("s", {"1": 1.0}, samples=1000, lr=1e-3, warmup=10)
    rates = [learning_rate(stage, s, 100) for s in range(100)]
    assert rates[0] == pytest.approx(1e-4) and rates[9] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(rates[9:], rates[10:]))  # monotone decay after warm-up
    assert learning_rate(stage, 100, 100) == pytest.approx(1e-4)


def test_config_errors_name_the_problem(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY.replace('"po" = 0.5', '"3" = 0.5'))
    with pytest.raises(ValueError, match="unknown generator presets"):
        TrainConfig.from_toml(bad)
    bad.write_text(TINY.replace("depth = 1", "depht = 1"))
    with pytest.raises(ValueError, match="depht"):
        TrainConfig.from_toml(bad)
    bad.write_text("batch = ")
    with pytest.raises(ValueError, match="bad.toml"):
        TrainConfig.from_toml(bad)


def test_batches_are_a_function_of_the_step_whatever_the_workers():
    data = CurriculumBatches({"1": 0.5, "2": 0.5}, seed=3, batch=8, first_step=5, n_steps=4)
    direct = [data.batch_at(s) for s in range(5, 9)]
    loaded = list(torch.utils.data.DataLoader(data, batch_size=None, num_workers=2))
    assert len(loaded) == 4
    for (x, y), (x2, y2) in zip(direct, loaded):
        assert torch.equal(x, x2) and torch.equal(y["extinction_group"], y2["extinction_group"])
    # ranks of a DDP run draw disjoint samples of the same step
    other = CurriculumBatches({"1": 0.5, "2": 0.5}, seed=3, batch=8, first_step=5, n_steps=1, rank=1, world_size=2)
    assert not torch.equal(other.batch_at(5)[0], CurriculumBatches({"1": 1.0}, 3, 8, 5, 1, 0, 2).batch_at(5)[0])
    assert {data.stage_of(s) for s in range(40)} == {"1", "2"}


def test_resumed_run_equals_uninterrupted_run(tiny_config: Path, tmp_path: Path):
    config = TrainConfig.from_toml(tiny_config)
    straight = train(config, tmp_path / "straight", progress=False)
    assert train(config, tmp_path / "resumed", progress=False, stop_at=5) is None
    assert load_payload(tmp_path / "resumed" / "last.pt")["step"] == 5
    resumed = train(config, tmp_path / "resumed", progress=False)
    a, b = load_payload(straight), load_payload(resumed)
    assert a["step"] == b["step"] == 8
    for k in a["model_state"]:
        assert torch.equal(a["model_state"][k], b["model_state"][k]), k


def test_final_checkpoint_is_calibrated_complete_and_releasable(tiny_config: Path, tmp_path: Path):
    final = train(TrainConfig.from_toml(tiny_config), tmp_path / "run", progress=False)
    payload = load_payload(final)
    assert payload["arch"] == "vit" and payload["model_config"]["d_model"] == 16
    assert payload["train_config"]["stages"][1]["mixture"] == {"2": 0.5, "po": 0.5}
    assert payload["xrdfast_version"] and payload["step"] == 8
    calibration = Calibration.from_dict(payload["calibration"])
    assert calibration.temperature > 0 and len(calibration.log_prior) == 99 and 0 <= calibration.abstain_below <= 1
    small = release(final, tmp_path / "release.pt")
    assert small.stat().st_size < final.stat().st_size / 1.5  # no optimiser state, float16 weights
    full, half = Classifier.load(final), Classifier.load(small)
    x = np.random.default_rng(0).random((3, 8501)).astype(np.float32)
    p_full, p_half = np.exp(full.log_probabilities(x)), np.exp(half.log_probabilities(x))
    assert np.allclose(p_full.sum(1), 1, atol=1e-5) and np.abs(p_full - p_half).max() < 0.02
    # stage 3 again with another prior changes the prior, not the network
    c2 = recalibrate(small, tmp_path / "cod.pt", prior_source="cod", calibration_samples=64)
    assert c2.prior_source == "cod" and c2.log_prior != calibration.log_prior


def test_train_and_evaluate_from_the_command_line(tiny_config: Path, tmp_path: Path):
    from xrdfast.cli import main
    from xrdfast.dataset import generate_samples

    assert main(["train", str(tiny_config), "--out", str(tmp_path / "run"), "--quiet",
                 "--release", str(tmp_path / "model.pt")]) == 0
    patterns, records = generate_samples("2", 77, 0, 24)
    two_theta = np.linspace(5, 90, 8501)[:-1]
    np.savez(tmp_path / "measured.npz", two_theta=two_theta, intensity=patterns[:, :-1] * 1000,
             eg=records["extinction_group"])
    assert main(["evaluate", str(tmp_path / "model.pt"), str(tmp_path / "measured.npz"),
                 "--out", str(tmp_path / "eval")]) == 0
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert report["n"] == 24
    for name in ("uncalibrated", "calibrated", "calibrated_with_prior", "prior_only"):
        assert 0 <= report[name]["top1"] <= report[name]["top5"] <= 1
    assert "computed" in report["calibrated"]["subgroup"]
    assert (tmp_path / "eval" / "reliability.png").stat().st_size > 0
    assert (tmp_path / "eval" / "confusion.png").stat().st_size > 0


def test_two_process_ddp_run_with_gloo(tiny_config: Path, tmp_path: Path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517",
         "-m", "xrdfast.cli", "train", str(tiny_config), "--out", str(tmp_path / "ddp"), "--quiet", "--device", "cpu"],
        capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    payload = load_payload(tmp_path / "ddp" / "final.pt")
    assert payload["world_size"] == 2 and payload["step"] == 8  # 64 samples per process / batch 16, two stages
    assert payload["calibration"]["temperature"] > 0

"""The data engine: deterministic, regenerable samples; EG-balanced stage 1; sharded HDF5
that resumes after interruption, keeps finished shards on a full disk, and is the same
whether made locally or on a Dask cluster; the PyTorch datasets."""
from __future__ import annotations

import json

import numpy as np
import pytest

from xrdfast import dataset
from xrdfast.cli import main
from xrdfast.dataset import GenerationPlan, generate, generate_samples, read_shards, regenerate

h5py = pytest.importorskip("h5py")
SMALL_GRID = np.linspace(10.0, 60.0, 501)


@pytest.mark.parametrize("stage", ["1", "2", "po"])
def test_samples_are_labelled_finite_and_regenerable(stage):
    patterns, records = generate_samples(stage, seed=3, first=100, count=12)
    ok = records["status"] == 0
    assert ok.mean() >= 0.9
    assert np.isfinite(patterns[ok]).all() and np.allclose(patterns[ok].max(axis=1), 1.0)
    assert set(records) >= {"space_group", "extinction_group", "crystal_system", "rule_bits", "cell", "U", "eta",
                            "zero_shift", "march_dollase_r", "counts", "impurity_fraction", "index"}
    from xrdfast import ExtinctionGroup, SpaceGroup

    for i in np.flatnonzero(ok):
        sg, eg = int(records["space_group"][i]), int(records["extinction_group"][i])
        assert sg in ExtinctionGroup(eg).space_groups
        assert np.array_equal(records["rule_bits"][i], ExtinctionGroup(eg).rule_bits)
        assert ["triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal", "hexagonal",
                "cubic"][records["crystal_system"][i]] == SpaceGroup(sg).crystal_system
    # any sample regenerates bit for bit from its index, whatever batch and threads made it
    i = int(np.flatnonzero(ok)[-1])
    assert np.array_equal(regenerate(stage, 3, 100 + i), patterns[i])
    again, _ = generate_samples(stage, seed=3, first=100, count=12, n_threads=1)
    assert np.array_equal(np.nan_to_num(again), np.nan_to_num(patterns))


def test_stage1_is_balanced_over_extinction_groups():
    from scipy import stats

    _, records = generate_samples("1", seed=11, first=0, count=1980, grid=SMALL_GRID)
    counts = np.bincount(records["extinction_group"][records["status"] == 0], minlength=100)[1:]
    assert (counts > 0).all()
    assert stats.chisquare(counts).pvalue > 1e-3


def test_stage2_is_realistic_stage1_is_clean():
    _, clean = generate_samples("1", seed=5, first=0, count=40, grid=SMALL_GRID)
    _, real = generate_samples("2", seed=5, first=0, count=40, grid=SMALL_GRID)
    assert (clean["counts"] == 0).all() and (clean["march_dollase_r"] == 1).all()
    assert (clean["impurity_fraction"] == 0).all() and clean["lattice_only"].mean() > 0.2
    assert (real["counts"] > 0).mean() > 0.7 and (real["march_dollase_r"] != 1).mean() > 0.2
    assert (real["impurity_fraction"] > 0).any() and (real["lattice_only"] == 0).all()


def test_generate_writes_shards_manifest_and_resumes(tmp_path, capsys):
    out = tmp_path / "ds"
    assert main(["generate", "--stage", "1", "--n", "25", "--out", str(out), "--shard-size", "10", "--seed", "2",
                 "--quiet"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] and sorted(manifest["shards"]) == ["0", "1", "2"]
    with h5py.File(out / "shard-00002.h5", "r") as f:  # plain h5py reads it
        assert f["patterns"].shape == (5, 8501) and f.attrs["first_index"] == 20
        last = f["patterns"][()]
    # a lost shard is regenerated identically; the others are not touched
    (out / "shard-00002.h5").unlink()
    before = (out / "shard-00000.h5").stat().st_mtime_ns
    assert main(["generate", "--stage", "1", "--n", "25", "--out", str(out), "--shard-size", "10", "--seed", "2",
                 "--quiet"]) == 0
    assert (out / "shard-00000.h5").stat().st_mtime_ns == before
    with h5py.File(out / "shard-00002.h5", "r") as f:
        assert np.array_equal(f["patterns"][()], last)
    # a different request for the same directory is refused
    with pytest.raises(ValueError, match="seed"):
        generate(GenerationPlan("1", 25, out, shard_size=10, seed=3), progress=False)


def test_interrupted_run_keeps_finished_shards_and_completes(tmp_path):
    plan = GenerationPlan("1", 30, tmp_path, shard_size=10, seed=4)

    def stop(k: int) -> None:
        if k == 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(plan, progress=False, on_shard=stop)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert list(manifest["shards"]) == ["0"] and not list(tmp_path.glob("*.partial"))
    final = generate(plan, progress=False)
    assert final["complete"] and len(final["shards"]) == 3
    full, _ = generate_samples("1", 4, 0, 30)
    data = np.concatenate([p for p, _ in dataset.read_shards(tmp_path)])
    assert np.array_equal(np.nan_to_num(data), np.nan_to_num(full))  # shards = one big batch


def test_full_disk_gives_a_clear_error_and_keeps_finished_shards(tmp_path, monkeypatch):
    plan = GenerationPlan("1", 20, tmp_path, shard_size=10, seed=1)
    real_file = h5py.File
    calls = {"n": 0}

    def failing(path, mode="r", *args, **kwargs):
        if mode == "w":
            calls["n"] += 1
            if calls["n"] == 2:
                raise OSError(28, "No space left on device")
        return real_file(path, mode, *args, **kwargs)

    monkeypatch.setattr(h5py, "File", failing)
    with pytest.raises(OSError, match="shard-00001.h5: writing the shard failed .*No space left"):
        generate(plan, progress=False)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert list(manifest["shards"]) == ["0"] and (tmp_path / "shard-00000.h5").is_file()
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize("args, match", [
    (["--stage", "7", "--n", "5"], "unknown stage"), (["--stage", "1", "--n", "0"], "N must be positive"),
    (["--stage", "1", "--n", "-3"], "N must be positive"),
])
def test_bad_generate_arguments(tmp_path, capsys, args, match):
    assert main(["generate", *args, "--out", str(tmp_path / "x"), "--quiet"]) == 2
    assert match in capsys.readouterr().err


def test_unwritable_output_directory(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["generate", "--stage", "1", "--n", "5", "--out", str(blocker / "sub"), "--quiet"]) == 2
    assert "not writable" in capsys.readouterr().err


def test_dask_cluster_makes_the_same_dataset(tmp_path):
    distributed = pytest.importorskip("distributed")
    local, remote = tmp_path / "local", tmp_path / "dask"
    generate(GenerationPlan("2", 24, local, shard_size=8, seed=9), progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        generate(GenerationPlan("2", 24, remote, shard_size=8, seed=9), scheduler=cluster.scheduler_address,
                 progress=False)
    for (a, la), (b, lb) in zip(dataset.read_shards(local), dataset.read_shards(remote)):
        assert np.array_equal(np.nan_to_num(a), np.nan_to_num(b))
        assert np.array_equal(la["space_group"], lb["space_group"])


def test_torch_datasets():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    from xrdfast.ml.data import OnTheFlyPatterns

    stream = OnTheFlyPatterns("1", seed=1, batch=4, length=10)
    items = list(stream)
    assert len(items) == 10 and items[0][0].shape == (8501,) and int(items[0][1]["extinction_group"]) >= 1
    loader = DataLoader(OnTheFlyPatterns("1", seed=1, batch=4, length=6), batch_size=3, num_workers=2)
    batches = list(loader)
    patterns = torch.cat([b[0] for b in batches])
    assert patterns.shape == (12, 8501)  # 6 per worker
    assert len({p.numpy().tobytes() for p in patterns}) == 12  # workers draw disjoint samples


def test_resume_regenerates_a_truncated_or_damaged_shard(tmp_path, caplog):
    # issue 13 item 14: a truncated shard was reported as done, and reading it failed later
    plan = GenerationPlan("1", 6, tmp_path, shard_size=3, seed=7)
    first = generate(plan, progress=False)
    assert all({"bytes", "sha256"} <= set(entry) for entry in first["shards"].values())
    original = [p.copy() for p, _ in read_shards(tmp_path)]
    shard0, shard1 = (tmp_path / first["shards"][k]["file"] for k in ("0", "1"))
    stamp = shard1.stat().st_mtime_ns
    with open(shard0, "r+b") as f:
        f.truncate(shard0.stat().st_size // 2)
    with pytest.raises(ValueError, match="shard-00000.h5: .* bytes where the manifest recorded"):
        list(read_shards(tmp_path))
    with caplog.at_level("WARNING"):
        again = generate(plan, progress=False)
    assert "shard-00000.h5" in caplog.text and "generating it again" in caplog.text
    same = ("file", "first_index", "count", "failed")
    assert again["complete"] and {k: [e[x] for x in same] for k, e in again["shards"].items()} == \
        {k: [e[x] for x in same] for k, e in first["shards"].items()}
    assert shard1.stat().st_mtime_ns == stamp  # the intact shard was verified, not rewritten
    for a, b in zip(original, (p for p, _ in read_shards(tmp_path))):
        assert np.array_equal(a, b, equal_nan=True)
    # same size, one flipped byte: the checksum catches it
    data = bytearray(shard1.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard1.write_bytes(bytes(data))
    caplog.clear()
    with caplog.at_level("WARNING"):
        generate(plan, progress=False)
    assert "shard-00001.h5: its SHA-256 differs" in caplog.text
    assert np.array_equal(next(p for i, (p, _) in enumerate(read_shards(tmp_path)) if i == 1), original[1],
                          equal_nan=True)


def test_a_shard_of_an_older_manifest_is_checked_by_opening_it(tmp_path):
    plan = GenerationPlan("1", 4, tmp_path, shard_size=2, seed=3)
    manifest = generate(plan, progress=False)
    from xrdfast.dataset import shard_problem

    legacy = {k: {x: v for x, v in e.items() if x not in ("bytes", "sha256")} for k, e in manifest["shards"].items()}
    assert shard_problem(tmp_path, legacy["0"]) is None
    path = tmp_path / legacy["1"]["file"]
    path.write_bytes(path.read_bytes()[:500])
    assert "unreadable" in shard_problem(tmp_path, legacy["1"])

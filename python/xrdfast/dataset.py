"""Curriculum datasets on disk: sharded HDF5 with a manifest, resumable, deterministic for a
seed, generated locally or on a Dask cluster.

Layout of an output directory::

    manifest.json          stage, seed, size, shard size, grid, generator settings, shards done
    shard-00000.h5         patterns (n, n_points) float32 and per-sample labels and parameters
    ...

Sample i of a dataset is a pure function of (stage settings, seed, i): a shard can be
regenerated, or a single sample re-drawn with ``regenerate``, bit for bit. A shard is
written to a temporary name and renamed when complete, and the manifest is replaced
atomically after it, so an interrupted run (or a full disk) leaves only finished shards.
The manifest records each shard's size and SHA-256; a re-run skips a shard only when its
file still matches them (a truncated or damaged shard, or one from a manifest without
them that does not open with the recorded count, is generated again).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from xrdfast import _core
from xrdfast.grid import DEFAULT_GRID, default_grid

log = logging.getLogger(__name__)

STAGES = ("1", "2", "po")
FORMAT_VERSION = 1


def stage_distribution(stage: str) -> "_core.StageDistribution":
    """The generator settings of a curriculum stage: '1' clean and EG-balanced, '2'
    realistic (fitted to measured lab patterns), 'po' realistic with strong texture."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}: expected one of {', '.join(STAGES)}")
    return _core.StageDistribution.preset(stage)


def _rule_table() -> np.ndarray:
    """(100, 37) rule bits by extinction-group number; row 0 (no label) is all zero."""
    table = np.zeros((100, 37), dtype=np.uint8)
    for n in range(1, 100):
        table[n] = _core.ExtinctionGroup(n).rule_bits
    return table


_RULES: np.ndarray | None = None


def generate_samples(stage: str, seed: int, first: int, count: int, grid: np.ndarray | None = None,
                     n_threads: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Samples first .. first+count-1 of a stage: patterns (count, n_points) float32 and
    labels/parameters as arrays keyed by name (with the 37-bit rule target of each)."""
    global _RULES
    if count <= 0:
        raise ValueError(f"count must be positive, got {count}")
    grid = default_grid() if grid is None else np.asarray(grid, dtype=float)
    patterns, records = _core.generate_samples(stage_distribution(stage), seed, first, count, grid, n_threads)
    if _RULES is None:
        _RULES = _rule_table()
    records["rule_bits"] = _RULES[np.where(records["status"] == 0, records["extinction_group"], 0)]
    return patterns, records


def regenerate(stage: str, seed: int, index: int, grid: np.ndarray | None = None) -> np.ndarray:
    """Sample ``index`` of a dataset, exactly as the generator wrote it."""
    patterns, _ = generate_samples(stage, seed, index, 1, grid, n_threads=1)
    return patterns[0]


@dataclass(frozen=True)
class GenerationPlan:
    stage: str
    n: int
    out: Path
    shard_size: int = 10_000
    seed: int = 0
    workers: int = 0  # native threads (local) or ignored (Dask)

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"unknown stage {self.stage!r}: expected one of {', '.join(STAGES)}")
        if self.n <= 0:
            raise ValueError(f"N must be positive, got {self.n}")
        if self.shard_size <= 0:
            raise ValueError(f"shard size must be positive, got {self.shard_size}")
        if self.workers < 0:
            raise ValueError(f"workers must be 0 (all cores) or a positive thread count, got {self.workers}")

    def shards(self) -> list[tuple[int, int, int]]:
        """(shard number, first index, count) for every shard."""
        return [(k, first, min(self.shard_size, self.n - first))
                for k, first in enumerate(range(0, self.n, self.shard_size))]


def shard_name(k: int) -> str:
    return f"shard-{k:05d}.h5"


def write_shard(plan: GenerationPlan, k: int, first: int, count: int, n_threads: int = 0) -> dict[str, Any]:
    """Generate and write one shard (atomically); returns its manifest entry."""
    import h5py

    grid = default_grid()
    patterns, records = generate_samples(plan.stage, plan.seed, first, count, grid, n_threads)
    path = plan.out / shard_name(k)
    partial = path.with_suffix(".h5.partial")
    try:
        with h5py.File(partial, "w") as f:
            f.attrs.update({"stage": plan.stage, "seed": plan.seed, "first_index": first, "count": count,
                            "format_version": FORMAT_VERSION, "xrdfast_version": _core.build_info()["version"]})
            f.create_dataset("two_theta", data=grid)
            f.create_dataset("patterns", data=patterns, chunks=(min(count, 64), patterns.shape[1]))
            for name, values in records.items():
                if name == "error":  # messages of samples the generator gave up on
                    f.create_dataset(name, data=np.array(values, dtype=object), dtype=h5py.string_dtype())
                else:
                    f.create_dataset(name, data=values)
        os.replace(partial, path)
    except OSError as error:  # a full disk, a vanished directory: name the shard, keep the others
        partial.unlink(missing_ok=True)
        raise OSError(error.errno, f"{path}: writing the shard failed ({error.strerror or error}); "
                      "finished shards are kept, re-run to resume") from error
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return {"file": path.name, "first_index": first, "count": count,
            "failed": int(np.sum(records["status"] != 0)), "bytes": path.stat().st_size, "sha256": _sha256(path)}


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def shard_problem(out: Path, entry: dict[str, Any]) -> str | None:
    """What is wrong with a finished shard's file, or None when it is what the manifest
    recorded: same size and SHA-256 (or, for an entry without them, an HDF5 file that opens
    and holds the recorded first index and count)."""
    path = out / entry["file"]
    try:
        size = path.stat().st_size
    except OSError as error:
        return f"missing ({error.strerror or error})"
    if "bytes" in entry and size != entry["bytes"]:
        return f"{size} bytes where the manifest recorded {entry['bytes']} (truncated or overwritten)"
    if "sha256" in entry:
        return None if _sha256(path) == entry["sha256"] else "its SHA-256 differs from the manifest's (damaged)"
    import h5py

    try:
        with h5py.File(path, "r") as f:
            n, first = f["patterns"].shape[0], int(f.attrs["first_index"])
    except (OSError, KeyError, ValueError) as error:
        return f"unreadable ({error})"
    if (n, first) != (entry["count"], entry["first_index"]):
        return f"holds samples {first}..{first + n - 1}, not the recorded {entry['first_index']} + {entry['count']}"
    return None


def _manifest_path(out: Path) -> Path:
    return out / "manifest.json"


def _read_manifest(plan: GenerationPlan) -> dict[str, Any]:
    path = _manifest_path(plan.out)
    header = {"format_version": FORMAT_VERSION, "stage": plan.stage, "seed": plan.seed, "n": plan.n,
              "shard_size": plan.shard_size, "grid": DEFAULT_GRID.to_dict(),
              "generator": json.loads(json.dumps(_core.StageDistribution.preset(plan.stage).to_dict())),
              "xrdfast_version": _core.build_info()["version"]}
    if not path.exists():
        return {**header, "shards": {}}
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: unreadable manifest ({error}); remove it to start afresh") from None
    for key in ("stage", "seed", "n", "shard_size", "generator"):
        if manifest.get(key) != header[key]:
            raise ValueError(f"{path}: existing dataset has {key}={manifest.get(key)!r}, this run asks for "
                             f"{header[key]!r}; use another --out directory")
    return manifest


def _write_manifest(plan: GenerationPlan, manifest: dict[str, Any]) -> None:
    path = _manifest_path(plan.out)
    tmp = path.with_suffix(".json.partial")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _verified(plan: GenerationPlan, manifest: dict[str, Any]) -> set[int]:
    """Shards recorded in the manifest whose file checks out; the others leave the manifest
    (with a warning naming the file and its problem) to be generated again."""
    done = set()
    for k, entry in list(manifest["shards"].items()):
        problem = shard_problem(plan.out, entry)
        if problem is None:
            done.add(int(k))
        else:
            log.warning("%s: %s; generating it again", plan.out / entry["file"], problem)
            del manifest["shards"][k]
    return done


def _progress(total: int, initial: int, disable: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="pattern", unit_scale=True, disable=disable,
                file=sys.stderr, desc="generate", smoothing=0.1)


def generate(plan: GenerationPlan, scheduler: str | None = None, progress: bool = True,
             on_shard: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Run (or resume) a generation plan; returns the final manifest."""
    try:
        plan.out.mkdir(parents=True, exist_ok=True)
        probe = plan.out / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise ValueError(f"{plan.out}: output directory is not writable ({error.strerror or error})") from None
    manifest = _read_manifest(plan)
    done = _verified(plan, manifest)
    todo = [s for s in plan.shards() if s[0] not in done]
    finished = sum(c for k, _, c in plan.shards() if k in done)
    bar = _progress(plan.n, finished, disable=not progress)
    started = time.perf_counter()

    def record(k: int, entry: dict[str, Any]) -> None:
        manifest["shards"][str(k)] = entry
        _write_manifest(plan, manifest)
        bar.update(entry["count"])
        if on_shard:
            on_shard(k)

    try:
        if scheduler:
            _generate_dask(plan, todo, scheduler, record)
        else:
            for k, first, count in todo:
                record(k, write_shard(plan, k, first, count, plan.workers))
    finally:
        bar.close()
    elapsed = time.perf_counter() - started
    generated = sum(c for _, _, c in todo)
    log.info("generated %d patterns in %.1f s (%.0f patterns/s)", generated, elapsed, generated / max(elapsed, 1e-9))
    manifest["complete"] = len(manifest["shards"]) == len(plan.shards())  # verified or written by this run
    _write_manifest(plan, manifest)
    return manifest


def _generate_dask(plan: GenerationPlan, todo: Iterable[tuple[int, int, int]], scheduler: str,
                   record: Callable[[int, dict[str, Any]], None]) -> None:
    """One Dask task per shard; each worker writes its shard to the shared output directory."""
    from distributed import Client, as_completed

    with Client(scheduler) as client:
        futures = {client.submit(write_shard, plan, k, first, count, 1, pure=False): k for k, first, count in todo}
        for future in as_completed(futures):
            record(futures[future], future.result())


def read_shards(out: str | os.PathLike) -> Iterable[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """(patterns, labels) of each finished shard, in order."""
    import h5py

    out = Path(out)
    manifest = json.loads(_manifest_path(out).read_text())
    for k in sorted(manifest["shards"], key=int):
        entry = manifest["shards"][k]
        if "bytes" in entry and (size := (out / entry["file"]).stat().st_size) != entry["bytes"]:
            raise ValueError(f"{out / entry['file']}: {size} bytes where the manifest recorded {entry['bytes']}; "
                             "re-run `xrdfast generate` with the same arguments to repair it")
        with h5py.File(out / entry["file"], "r") as f:
            yield f["patterns"][()], {name: f[name][()] for name in f if name not in ("patterns", "two_theta")}

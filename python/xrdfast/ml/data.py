"""PyTorch datasets: fresh patterns simulated on the fly, or the HDF5 shards of
``xrdfast generate``.

``OnTheFlyPatterns`` never touches the disk. Worker w of W (DataLoader workers, times DDP
ranks) draws sample indices w, w + W, w + 2W, ... of one deterministic stream, so workers
never repeat each other and a run is reproducible for a seed; each worker asks the native
generator for one thread, as the DataLoader already runs workers in parallel.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from xrdfast.dataset import generate_samples
from xrdfast.grid import default_grid

LABEL_KEYS = ("extinction_group", "space_group", "crystal_system", "rule_bits")


def _labels(records: dict[str, np.ndarray], i: int | np.ndarray) -> dict[str, torch.Tensor]:
    """The training labels of sample i (or of the samples a mask or index array selects)."""
    return {k: torch.as_tensor(records[k][i]) for k in LABEL_KEYS if k in records}


class OnTheFlyPatterns(IterableDataset):
    """An endless (or ``length``-limited) stream of (pattern, labels) from a curriculum stage."""

    def __init__(self, stage: str, seed: int = 0, batch: int = 64, length: int | None = None,
                 rank: int = 0, world_size: int = 1, start: int = 0) -> None:
        super().__init__()
        self.stage, self.seed, self.batch, self.length = stage, seed, batch, length
        self.rank, self.world_size, self.start = rank, world_size, start
        self.grid = default_grid()

    def __iter__(self) -> Iterator[tuple[torch.Tensor, dict[str, torch.Tensor]]]:
        info = get_worker_info()
        n_workers = info.num_workers if info else 1
        worker = info.id if info else 0
        stride = n_workers * self.world_size
        lane = self.rank * n_workers + worker
        # blocks of `batch` consecutive indices, dealt round-robin to the lanes
        block = self.start // self.batch + lane
        produced = 0
        while self.length is None or produced < self.length:
            first = block * self.batch
            patterns, records = generate_samples(self.stage, self.seed, first, self.batch, self.grid, n_threads=1)
            for i in range(self.batch):
                if records["status"][i] != 0:
                    continue  # a sample the generator could not realise carries no label
                if self.length is not None and produced >= self.length:
                    return
                yield torch.from_numpy(patterns[i]), _labels(records, i)
                produced += 1
            block += stride


class ShardPatterns(Dataset):
    """The samples of a generated dataset directory (``manifest.json`` + HDF5 shards)."""

    def __init__(self, directory: str | Path) -> None:
        import h5py

        self.directory = Path(directory)
        manifest = json.loads((self.directory / "manifest.json").read_text())
        self.files, self.offsets = [], [0]
        for k in sorted(manifest["shards"], key=int):
            entry = manifest["shards"][k]
            self.files.append(self.directory / entry["file"])
            self.offsets.append(self.offsets[-1] + entry["count"])
        self._h5 = h5py
        self._open: dict[int, object] = {}

    def __len__(self) -> int:
        return self.offsets[-1]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} outside 0..{len(self) - 1}")
        shard = int(np.searchsorted(self.offsets, index, side="right")) - 1
        f = self._open.get(shard)
        if f is None:  # opened lazily, per worker process
            f = self._open[shard] = self._h5.File(self.files[shard], "r")
        i = index - self.offsets[shard]
        records = {k: f[k][i:i + 1] for k in LABEL_KEYS if k in f}
        return torch.from_numpy(f["patterns"][i]), {k: torch.as_tensor(v[0]) for k, v in records.items()}


class CurriculumBatches(IterableDataset):
    """Whole training batches, batch ``s`` being samples [(s W + r) B, (s W + r + 1) B) of a
    stage's stream for rank r of W: the data of a run is a pure function of the step, so a
    resumed run sees exactly the batches it would have seen, whatever the number of
    DataLoader workers (worker w of k takes steps first + w, first + w + k, ...; the DataLoader
    interleaves workers in order). ``mixture`` maps stage names to weights; each step draws
    its stage from a generator keyed by (seed, step)."""

    def __init__(self, mixture: dict[str, float], seed: int, batch: int, first_step: int, n_steps: int,
                 rank: int = 0, world_size: int = 1) -> None:
        super().__init__()
        if not mixture or any(w < 0 for w in mixture.values()) or sum(mixture.values()) <= 0:
            raise ValueError(f"stage mixture {mixture!r}: expected non-negative weights with a positive sum")
        self.stages = list(mixture)
        weights = np.array([mixture[s] for s in self.stages], dtype=float)
        self.weights = weights / weights.sum()
        self.seed, self.batch, self.first_step, self.n_steps = seed, batch, first_step, n_steps
        self.rank, self.world_size = rank, world_size
        self.grid = default_grid()

    def stage_of(self, step: int) -> str:
        if len(self.stages) == 1:
            return self.stages[0]
        u = np.random.default_rng([self.seed, step]).random()
        return self.stages[min(int(np.searchsorted(np.cumsum(self.weights), u, side="right")), len(self.stages) - 1)]

    def batch_at(self, step: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        first = (step * self.world_size + self.rank) * self.batch
        patterns, records = generate_samples(self.stage_of(step), self.seed, first, self.batch, self.grid, n_threads=1)
        ok = records["status"] == 0  # samples the generator gave up on carry no label
        return torch.from_numpy(patterns[ok]), _labels(records, ok)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, dict[str, torch.Tensor]]]:
        info = get_worker_info()
        k, w = (info.num_workers, info.id) if info else (1, 0)
        for step in range(self.first_step + w, self.first_step + self.n_steps, k):
            yield self.batch_at(step)

"""Curriculum training: ``xrdfast train CONFIG.toml``.

The three stages of Baggett et al. (arXiv 2604.23811): (1) pre-training on clean, EG-balanced
patterns; (2) fine-tuning on realistic ones (texture, noise, backgrounds, impurities), both
simulated on the fly by the data engine; (3) Bayesian prior injection -- not more gradient
steps but the deployment rule p(k | x) ∝ softmax(z / T + log π)_k, with the temperature T
fitted on a held-out realistic synthetic set (never on the data reported) and π the
natural frequency of each extinction group. Training data are EG-balanced, so the network
estimates the likelihood term and π enters once, at inference.

The data of a run is a pure function of (seed, step) (``CurriculumBatches``), the learning
rate a pure function of the step, and checkpoints hold model, optimiser and step: a resumed
run continues exactly. Under ``torchrun`` each process trains on its own batches and DDP
averages gradients (NCCL on GPUs, gloo on CPUs); mixed precision (bfloat16) on GPUs.
"""
from __future__ import annotations

import logging
import math
import os
import time
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

from xrdfast.dataset import STAGES, generate_samples
from xrdfast.ml.calibration import (Calibration, abstention_threshold, calibrated_log_probs, fit_temperature,
                                    logits_from_probabilities)
from xrdfast.grid import DEFAULT_GRID
from xrdfast.ml.checkpoint import (build_model, load_payload, model_config_from_dict, model_outputs, recorded_grid, save,
                                   write_payload)
from xrdfast.ml.data import CurriculumBatches
from xrdfast.ml.model import fuse
from xrdfast.prior import extinction_group_prior

log = logging.getLogger(__name__)


@dataclass
class Stage:
    name: str
    mixture: dict[str, float]      # generator presets and their weights, e.g. {"2": 0.8, "po": 0.2}
    samples: int                   # per process; steps = samples // batch
    lr: float = 1e-3
    warmup: int = 500              # steps of linear warm-up, then cosine decay to lr / 10
    weight_decay: float = 1e-4


@dataclass
class TrainConfig:
    arch: str = "vit"
    model: dict[str, Any] = field(default_factory=dict)  # ModelConfig overrides
    stages: list[Stage] = field(default_factory=list)
    batch: int = 128
    seed: int = 0
    workers: int = 1               # DataLoader processes simulating batches
    grad_clip: float = 1.0
    log_every: int = 50
    checkpoint_every: int = 500    # steps
    calibration_samples: int = 4096    # held-out realistic synthetic set for the temperature
    calibration_mixture: dict[str, float] = field(default_factory=lambda: {"2": 0.8, "po": 0.2})
    calibration_seed: int = 1_000_003  # a stream the training stages never draw from
    prior_source: str = "icsd+cod"  # see xrdfast.prior: AMCSD over-weights much-refined simple minerals
    prior_smoothing: float = 1.0
    abstain_target_accuracy: float = 0.8  # selective accuracy the abstention threshold keeps

    def __post_init__(self) -> None:
        self.stages = [s if isinstance(s, Stage) else Stage(**s) for s in self.stages]
        if not self.stages:
            raise ValueError("training config: no [[stages]]")
        for s in self.stages:
            unknown = set(s.mixture) - set(STAGES)
            if unknown:
                raise ValueError(f"stage {s.name!r}: unknown generator presets {sorted(unknown)}; known: {STAGES}")
            if s.samples < self.batch:
                raise ValueError(f"stage {s.name!r}: {s.samples} samples is less than one batch of {self.batch}")
        model_config_from_dict(self.model)  # fail early on unknown model settings

    @classmethod
    def from_toml(cls, path: str | Path) -> "TrainConfig":
        path = Path(path)
        try:
            values = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise ValueError(f"{path}: cannot read training config ({error})") from None
        try:
            return cls(**values)
        except TypeError as error:
            raise ValueError(f"{path}: {error}") from None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def stage_bounds(self) -> list[tuple[int, int]]:
        """[first, end) global step of each stage."""
        bounds, step = [], 0
        for s in self.stages:
            bounds.append((step, step + s.samples // self.batch))
            step = bounds[-1][1]
        return bounds


def learning_rate(stage: Stage, step_in_stage: int, stage_steps: int) -> float:
    """Linear warm-up, then cosine decay to a tenth: a pure function of the step."""
    if step_in_stage < stage.warmup:
        return stage.lr * (step_in_stage + 1) / stage.warmup
    t = (step_in_stage - stage.warmup) / max(1, stage_steps - stage.warmup)
    return stage.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def _distributed() -> tuple[int, int]:
    """(rank, world size); initialises the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def train(config: TrainConfig, out: str | Path, device: str | None = None, progress: bool = True,
          stop_at: int | None = None) -> Path | None:
    """Run (or resume) the curriculum; returns the path of the calibrated final checkpoint,
    or None when ``stop_at`` (a global step) interrupts it first (``last.pt`` then resumes)."""
    out = Path(out)
    rank, world = _distributed()
    if device is None:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if torch.cuda.is_available() else "cpu"
    device_ = torch.device(device)
    if device_.type == "cuda":
        torch.cuda.set_device(device_)
    torch.manual_seed(config.seed)
    model = build_model(config.arch, model_config_from_dict(config.model)).to(device_)
    if not model.config.grid.matches(DEFAULT_GRID):  # CurriculumBatches renders on the default grid
        raise ValueError(f"the model configuration reads {model.config.grid.describe()}, but the data engine renders "
                         f"{DEFAULT_GRID.describe()}: leave n_points, two_theta_min, two_theta_max and wavelength "
                         "at their defaults")
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.stages[0].lr, weight_decay=config.stages[0].weight_decay)
    step = 0
    last = out / "last.pt"
    if last.is_file():
        payload = load_payload(last)
        if not recorded_grid(payload).matches(model.config.grid):
            raise ValueError(f"{last}: the run was trained on {recorded_grid(payload).describe()}, this configuration "
                             f"reads {model.config.grid.describe()}; use another output directory")
        model.load_state_dict(payload["model_state"])
        if payload.get("optimizer_state"):
            optimizer.load_state_dict(payload["optimizer_state"])
        step = int(payload["step"])
        if payload.get("torch_rng_state") is not None:  # dropout continues as if never stopped
            torch.set_rng_state(payload["torch_rng_state"])
        if rank == 0:
            log.info("resuming %s at step %d", last, step)
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device_.index] if device_.type == "cuda" else None)
    amp = device_.type == "cuda"
    meta = {"world_size": world}  # save() records the grid

    def checkpoint(path: Path, calibration: Calibration | None = None) -> None:
        if rank == 0:
            save(path, model, config.arch, step=step, train_config=config.as_dict(), optimizer=optimizer,
                 calibration=calibration, extra={**meta, "torch_rng_state": torch.get_rng_state()})

    for stage, (first, end) in zip(config.stages, config.stage_bounds()):
        if step >= end:
            continue
        for group in optimizer.param_groups:
            group["weight_decay"] = stage.weight_decay
        data = CurriculumBatches(stage.mixture, config.seed, config.batch, step, end - step, rank, world)
        loader = DataLoader(data, batch_size=None, num_workers=config.workers,
                            prefetch_factor=4 if config.workers else None)
        bar = _progress(progress and rank == 0, end - first, step - first, f"stage {stage.name}")
        model.train()
        seen, tick = 0, time.perf_counter()
        for x, y in loader:
            lr = learning_rate(stage, step - first, end - first)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x = x.to(device_, non_blocking=True)
            y = {k: v.to(device_, non_blocking=True) for k, v in y.items()}
            with torch.autocast(device_.type, dtype=torch.bfloat16, enabled=amp):
                _, loss = model(x, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            step += 1
            seen += len(x)
            if bar is not None:
                bar.update(1)
            if rank == 0 and step % config.log_every == 0:
                rate = seen * world / (time.perf_counter() - tick)
                log.info("stage %s step %d/%d loss %.4f lr %.2e %.0f patterns/s", stage.name, step, end, loss.item(), lr, rate)
                if bar is not None:
                    bar.set_postfix(loss=f"{loss.item():.3f}", rate=f"{rate:.0f}/s")
            if step % config.checkpoint_every == 0 or step == stop_at:
                checkpoint(last)
            if step == stop_at:
                break
        if bar is not None:
            bar.close()
        checkpoint(last)
        if step == stop_at:
            if world > 1:
                dist.destroy_process_group()
            return None

    final = out / "final.pt"
    if rank == 0:
        calibration = calibrate(getattr(model, "module", model), config)
        log.info("temperature %.3f fitted on %d held-out realistic synthetic patterns",
                 calibration.temperature, config.calibration_samples)
        checkpoint(final, calibration)
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return final


def calibration_set(config: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """The held-out realistic synthetic patterns (N, n_points) and their EG labels (N,)."""
    stages = list(config.calibration_mixture)
    weights = np.array([config.calibration_mixture[s] for s in stages], dtype=float)
    counts = np.floor(weights / weights.sum() * config.calibration_samples).astype(int)
    counts[0] += config.calibration_samples - counts.sum()
    patterns, labels = [], []
    for stage, n in zip(stages, counts):
        if n > 0:
            x, records = generate_samples(stage, config.calibration_seed, 0, int(n))
            ok = records["status"] == 0
            patterns.append(x[ok])
            labels.append(records["extinction_group"][ok])
    return np.concatenate(patterns), np.concatenate(labels)


FUSION_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def calibrate(model: torch.nn.Module, config: TrainConfig) -> Calibration:
    """Stage 3: the fusion weight alpha and the temperature on held-out synthetic data
    (EG-balanced, so without the prior), the natural-frequency prior that deployment adds
    to the tempered logits, and the abstention threshold. alpha is chosen among
    ``FUSION_WEIGHTS`` by tempered NLL (the paper fixes 0.25 or 0.5; which head is better
    depends on how far training got) and written into the model's config."""
    patterns, labels = calibration_set(config)
    y = torch.as_tensor(labels - 1, dtype=torch.long)
    heads = model_outputs(model, patterns, ("rule_scores", "direct"))  # one pass; each alpha re-fuses
    best = None
    for alpha in FUSION_WEIGHTS:
        model.config.fusion_alpha = alpha
        z = logits_from_probabilities(fuse(heads, alpha))
        t = fit_temperature(z, y)
        nll = float(torch.nn.functional.nll_loss(calibrated_log_probs(z, t), y))
        log.info("fusion alpha %.2f: temperature %.3f, held-out NLL %.4f", alpha, t, nll)
        if best is None or nll < best[0]:
            best = (nll, alpha, t, z)
    _, model.config.fusion_alpha, temperature, z = best
    prior = extinction_group_prior(config.prior_source, config.prior_smoothing)
    threshold = abstention_threshold(calibrated_log_probs(z, temperature), y, config.abstain_target_accuracy)
    return Calibration(temperature=float(temperature), prior_source=config.prior_source,
                       prior_smoothing=config.prior_smoothing, log_prior=np.log(prior).tolist(),
                       abstain_below=threshold)


def _progress(enabled: bool, total: int, initial: int, description: str):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=description, unit="step", dynamic_ncols=True)


def recalibrate(checkpoint: str | Path, out: str | Path | None = None, **overrides: Any) -> Calibration:
    """Stage 3 again on a trained checkpoint, e.g. with another prior source (``prior_source``,
    ``prior_smoothing``, ``calibration_samples``, ``abstain_target_accuracy`` as overrides);
    writes the checkpoint back (or to ``out``) with the new calibration."""
    from xrdfast.ml.checkpoint import Classifier

    classifier = Classifier.load(checkpoint, grid=DEFAULT_GRID)  # calibration data come on the default grid
    values = {**classifier.payload["train_config"], **overrides}
    config = TrainConfig(**values)
    calibration = calibrate(classifier.model, config)
    payload = dict(classifier.payload, calibration=calibration.to_dict(), train_config=config.as_dict(),
                   model_config=classifier.model.config.as_dict())  # with the chosen fusion weight
    write_payload(payload, out if out is not None else checkpoint)
    return calibration

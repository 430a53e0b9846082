"""Simulated test beds for search-match: calibration data and the recognition/novelty evaluation.

AMCSD mineral species are split in two halves by a hash of their name: the *calibration*
half teaches the score -> probability map (``scripts/calibrate_match.py``), the
*evaluation* half is what ``scripts/evaluate_match.py`` reports. A simulated sample is one
structure with the stage-2 nuisances of the network's generator (peak shapes, zero shift,
sample displacement, texture, counting noise, background, amorphous hump), plus what a
library entry never has: a lattice strain (the cell scaled by a normal 0.6 % clipped at
2.5 %, plus up to 0.3 % per axis: solid solution, temperature) and, for some, an impurity phase of another
species (5-20 % by weight). Each sample is searched twice: with its entry in the library
(recognition: the right answer is its species) and with its whole species removed
(novelty: the right answer is "no confident match").
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from xrdfast._core import Crystal

log = logging.getLogger(__name__)

CALIBRATION_SEED = 1_000_211
EVALUATION_SEED = 3_000_017
STRAIN, STRAIN_LIMIT = 0.006, 0.025        # isotropic d-scale: normal, this sigma, clipped (solid solution, temperature)
ANISOTROPY = 0.003                          # extra per-axis scale, ± fraction
IMPURITY_PROBABILITY, IMPURITY = 0.3, (0.05, 0.2)


def half_of(species: str) -> str:
    """'calibration' or 'evaluation': a fixed split of mineral species by a hash of the name."""
    return "calibration" if hashlib.sha1(species.encode()).digest()[0] % 2 == 0 else "evaluation"


def strained(crystal: Crystal, scale: np.ndarray) -> Crystal:
    """The crystal with its cell edges multiplied by ``scale`` (3,), angles and sites kept."""
    a, b, c, alpha, beta, gamma = crystal.cell
    s = crystal.sites()
    return Crystal(crystal.name, (a * scale[0], b * scale[1], c * scale[2], alpha, beta, gamma), crystal.operations,
                   s["labels"], s["types"], s["frac"], s["occupancy"], s["b_iso"])


@dataclass
class Sample:
    index: int                 # library row of the main phase
    species: set[str]          # species present (main + impurity)
    pattern: np.ndarray        # (8501,) on the Cu K-alpha1 grid


def simulated_samples(library, half: str, n: int, seed: int, max_atoms: int = 400) -> Iterator[Sample]:
    """n samples whose main phase belongs to one ``half`` of the species (one entry per species),
    simulated in batches."""
    from xrdfast._core import StageDistribution, draw_params
    from xrdfast.minerals import amcsd_minerals
    from xrdfast.simulate import default_grid, simulate_batch

    rng = np.random.default_rng(seed)
    distribution = StageDistribution.preset("2")  # the network generator's own stage-2 draw
    order = rng.permutation(len(library))
    chosen, seen = [], set()
    for r in order:
        sp = str(library.species[r])
        if half_of(sp) != half or sp in seen or not str(library.ids[r]).startswith("amcsd-"):
            continue
        seen.add(sp)
        chosen.append(int(r))
        if len(chosen) >= int(1.3 * n) + 20:
            break
    impurities = [int(r) for r in rng.choice(len(library), 300, replace=False) if str(library.ids[r]).startswith("amcsd-")]
    ids = [int(str(library.ids[r]).split("-")[1]) for r in chosen + impurities]
    minerals = {f"amcsd-{m.amcsd_id}": m for m in amcsd_minerals(ids)}
    impurities = [r for r in impurities if str(library.ids[r]) in minerals
                  and minerals[str(library.ids[r])].crystal.n_atoms <= max_atoms]
    grid = default_grid()
    made = 0
    batch_items, batch_meta, batch_params = [], [], []

    def flush():
        result = simulate_batch(batch_items, batch_params, grid=grid, seed=int(rng.integers(2**31)))
        for row, ok, meta in zip(result.patterns, result.ok, batch_meta):
            if ok and np.isfinite(row).all() and row.max() > 0:
                yield Sample(meta[0], meta[1], row.astype(np.float64))

    for r in chosen:
        m = minerals.get(str(library.ids[r]))
        if m is None or m.crystal.n_atoms > max_atoms:
            continue
        crystal = m.crystal
        scale = 1 + np.clip(rng.normal(0, STRAIN), -STRAIN_LIMIT, STRAIN_LIMIT) + rng.uniform(-ANISOTROPY, ANISOTROPY, 3)
        crystal = strained(crystal, scale)
        item: list[tuple[Any, float]] = [(crystal, 1.0)]
        present = {str(library.species[r])}
        if rng.uniform() < IMPURITY_PROBABILITY and impurities:
            q = impurities[int(rng.integers(len(impurities)))]
            if str(library.species[q]) not in present:
                w = float(rng.uniform(*IMPURITY))
                item = [(crystal, 1 - w), (minerals[str(library.ids[q])].crystal, w)]
                present.add(str(library.species[q]))
        batch_items.append(item)
        batch_params.append(draw_params(distribution, seed, len(batch_params) + 64 * made + 1_000_000))
        batch_meta.append((r, present))
        if len(batch_items) == 64:
            for s in flush():
                if made < n:
                    made += 1
                    yield s
            batch_items, batch_meta, batch_params = [], [], []
        if made >= n:
            return
    if batch_items:
        for s in flush():
            if made < n:
                made += 1
                yield s


def candidate_rows(library, samples, removed: bool, top: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features (rows, n_features), labels (species present) and sample number of the best
    ``top`` candidates (one per species) of each sample's search; ``removed``: the main
    phase's species is left out of the library."""
    from xrdfast.match import _measured, _search, prepare_library
    from xrdfast.simulate import default_grid

    prepared = prepare_library(library)
    grid = default_grid()
    X, y, which = [], [], []
    for k, s in enumerate(samples):
        main = str(library.species[s.index])
        exclude = library.species == main if removed else None
        try:
            cands = _search(prepared, _measured(grid, s.pattern), exclude)
        except ValueError:
            continue
        order = np.argsort(-cands.features[:, 0])
        used = set()
        for r in order:
            sp = str(library.species[cands.index[r]])
            if sp in used:
                continue
            used.add(sp)
            X.append(cands.features[r])
            y.append(sp in s.species and not (removed and sp == main))
            which.append(k)
            if len(used) >= top:
                break
    return np.array(X), np.array(y, dtype=bool), np.array(which)


def fit_logistic(X: np.ndarray, y: np.ndarray, l2: float = 1e-2, iterations: int = 50) -> dict[str, Any]:
    """L2-regularised logistic regression by Newton's method on standardised features."""
    mean, scale = X.mean(0), X.std(0) + 1e-9
    Z = np.column_stack([(X - mean) / scale, np.ones(len(X))])
    w = np.zeros(Z.shape[1])
    penalty = l2 * np.eye(Z.shape[1])
    penalty[-1, -1] = 0
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(Z @ w, -40, 40)))
        grad = Z.T @ (p - y) + penalty @ w
        hess = (Z * (p * (1 - p))[:, None]).T @ Z + penalty
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return {"mean": mean.tolist(), "scale": scale.tolist(), "coef": w[:-1].tolist(), "intercept": float(w[-1])}

"""Simulated test beds for search-match: calibration data and the recognition/novelty evaluation.

AMCSD mineral species are split in two halves by a hash of their name: the *calibration*
half teaches the score -> probability map (``scripts/calibrate_match.py``), the
*evaluation* half is what ``scripts/evaluate_match.py`` reports. A simulated sample is one
structure with the stage-2 nuisances of the network's generator (peak shapes, zero shift,
sample displacement, texture, counting noise, background, amorphous hump), plus what a
library entry never has: a lattice strain (the cell scaled by a normal 1 % clipped at
4.5 %, plus up to 0.4 % per axis: solid solution, temperature) and, for some, an impurity phase of another
species (5-20 % by weight). Each sample is searched twice: with its entry in the library
(recognition: the right answer is its species) and with its whole species removed
(novelty: the right answer is "no confident match").
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from xrdfast._core import Crystal

log = logging.getLogger(__name__)

CALIBRATION_SEED = 1_000_211
EVALUATION_SEED = 3_000_017
STRAIN, STRAIN_LIMIT = 0.01, 0.045         # isotropic d-scale: normal, this sigma, clipped (solid solution, temperature)
ANISOTROPY = 0.010                          # extra per-axis scale, ± fraction
IMPURITY_PROBABILITY, IMPURITY = 0.3, (0.05, 0.2)


def half_of(species: str) -> str:
    """'calibration' or 'evaluation': a fixed split of mineral species by a hash of the name."""
    return "calibration" if hashlib.sha1(species.encode()).digest()[0] % 2 == 0 else "evaluation"


def strained(crystal: Crystal, scale: np.ndarray, occupancy: np.ndarray | None = None) -> Crystal:
    """The crystal with its cell edges multiplied by ``scale`` (3,), angles and sites kept
    (their occupancies multiplied by ``occupancy`` (n_sites,) when given)."""
    a, b, c, alpha, beta, gamma = crystal.cell
    s = crystal.sites()
    occ = np.asarray(s["occupancy"]) * (1 if occupancy is None else occupancy)
    return Crystal(crystal.name, (a * scale[0], b * scale[1], c * scale[2], alpha, beta, gamma), crystal.operations,
                   s["labels"], s["types"], s["frac"], occ, s["b_iso"])


@dataclass
class Sample:
    index: int                 # library row of the main phase
    species: set[str]          # species present (main + impurity)
    pattern: np.ndarray        # (8501,) on the Cu K-alpha1 grid
    nuisance: dict = field(default_factory=dict)   # what was drawn: scale (3,), texture r, peak width, ...


@dataclass(frozen=True)
class Nuisances:
    """What separates a sample from its library entry beyond the stage-2 draw. The defaults
    are the calibration's; the stress tests of ``scripts/evaluate_match.py --stress`` widen
    one at a time to find where recognition breaks."""

    strain: float = STRAIN                 # sigma of the isotropic d-scale (normal, clipped at strain_limit)
    strain_limit: float = STRAIN_LIMIT
    anisotropy: float = ANISOTROPY         # extra per-axis scale, uniform ± this
    texture: tuple[float, float] | None = None   # March-Dollase r drawn log-uniformly in this range (None: stage 2's)
    occupancy: float = 0.0                 # site occupancies times uniform(1 - occupancy, 1): composition differs
    size: tuple[float, float] | None = None     # crystallite size (nm) range: broad peaks (None: stage 2's)


def simulated_samples(library, half: str, n: int, seed: int, max_atoms: int = 400,
                      nuisances: Nuisances = Nuisances()) -> Iterator[Sample]:
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
                yield Sample(meta[0], meta[1], row.astype(np.float64), meta[2])

    for r in chosen:
        m = minerals.get(str(library.ids[r]))
        if m is None or m.crystal.n_atoms > max_atoms:
            continue
        crystal = m.crystal
        scale = 1 + np.clip(rng.normal(0, nuisances.strain), -nuisances.strain_limit, nuisances.strain_limit) + \
            rng.uniform(-nuisances.anisotropy, nuisances.anisotropy, 3)
        occupancy = rng.uniform(1 - nuisances.occupancy, 1, crystal.n_sites) if nuisances.occupancy else None
        try:
            crystal = strained(crystal, scale, occupancy)
        except ValueError:  # rebuilt sites that the reader had reconciled (overlapping partial sites): skip
            continue
        item: list[tuple[Any, float]] = [(crystal, 1.0)]
        present = {str(library.species[r])}
        if rng.uniform() < IMPURITY_PROBABILITY and impurities:
            q = impurities[int(rng.integers(len(impurities)))]
            if str(library.species[q]) not in present:
                w = float(rng.uniform(*IMPURITY))
                item = [(crystal, 1 - w), (minerals[str(library.ids[q])].crystal, w)]
                present.add(str(library.species[q]))
        batch_items.append(item)
        params = draw_params(distribution, seed, len(batch_params) + 64 * made + 1_000_000)
        if nuisances.texture is not None:
            params.march_dollase_r = float(np.exp(rng.uniform(*np.log(nuisances.texture))))
            params.preferred_orientation = [int(v) for v in rng.choice([(0, 0, 1), (1, 0, 0), (1, 1, 0), (1, 1, 1)])]
        if nuisances.size is not None:
            params.crystallite_size = float(rng.uniform(*nuisances.size))
        batch_params.append(params)
        batch_meta.append((r, present, {"scale": scale, "texture": params.march_dollase_r,
                                        "size": params.crystallite_size, "U": params.U, "W": params.W}))
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


def candidate_rows(library, samples, removed: bool, top: int = 8) -> dict[str, np.ndarray]:
    """The best ``top`` candidates (one per species, by fine cosine) of each sample's search
    (``removed``: the main phase's species left out of the library): ``X`` their features and
    ``y`` whether their species is present (the "present" model); ``X_eg`` the features with
    ``eg_share`` and ``y_eg`` whether their extinction group is the main phase's (the "eg"
    model); ``sample`` the sample number of each row."""
    from xrdfast.match import _coarse, _measured, _search, eg_features, prepare_library
    from xrdfast.simulate import default_grid

    prepared = prepare_library(library)
    grid = default_grid()
    X, X_eg, y, y_eg, which = [], [], [], [], []
    measured = []
    for k, s in enumerate(samples):
        try:
            measured.append((k, s, _measured(grid, s.pattern)))
        except ValueError:
            continue
    for start in range(0, len(measured), 16):   # coarse passes batched, as match_many does
        chunk = measured[start:start + 16]
        coarse = _coarse(prepared, [m for _, _, m in chunk])
        for c, (k, s, m) in enumerate(chunk):
            main = str(library.species[s.index])
            exclude = library.species == main if removed else None
            cands = _search(prepared, m, exclude, coarse[:, c])
            with_share = eg_features(library, cands.index, cands.features)
            order = np.argsort(-cands.features[:, 0], kind="stable")
            used = set()
            for r in order:
                sp = str(library.species[cands.index[r]])
                if sp in used:
                    continue
                used.add(sp)
                X.append(cands.features[r])
                X_eg.append(with_share[r])
                y.append(sp in s.species and not (removed and sp == main))
                y_eg.append(library.extinction_groups[cands.index[r]] == library.extinction_groups[s.index])
                which.append(k)
                if len(used) >= top:
                    break
    return {"X": np.array(X), "y": np.array(y, dtype=bool), "X_eg": np.array(X_eg), "y_eg": np.array(y_eg, dtype=bool),
            "sample": np.array(which)}


def fit_logistic(X: np.ndarray, y: np.ndarray, l2: float = 1e-2, iterations: int = 50,
                 signs: np.ndarray | None = None) -> dict[str, Any]:
    """L2-regularised logistic regression by Newton's method on standardised features.

    ``signs`` (n_features,) of +1/-1/0: the direction a feature may act in (a better cosine
    may not lower the probability). A feature whose fitted weight has the wrong sign is left
    out (weight 0) and the rest refitted, until all agree: correlated features (a cosine
    and its gap to the runner-up) otherwise trade weights of opposite signs, which holds on
    the calibration data and fails beyond it (small user libraries, residue searches)."""
    mean, scale = X.mean(0), X.std(0) + 1e-9
    Z = np.column_stack([(X - mean) / scale, np.ones(len(X))])
    active = np.ones(Z.shape[1], dtype=bool)
    while True:
        w = np.zeros(Z.shape[1])
        A = Z[:, active]
        penalty = l2 * np.eye(A.shape[1])
        penalty[-1, -1] = 0
        v = np.zeros(A.shape[1])
        for _ in range(iterations):
            p = 1 / (1 + np.exp(-np.clip(A @ v, -40, 40)))
            grad = A.T @ (p - y) + penalty @ v
            hess = (A * (p * (1 - p))[:, None]).T @ A + penalty
            step = np.linalg.solve(hess, grad)
            v -= step
            if np.abs(step).max() < 1e-8:
                break
        w[active] = v
        if signs is None:
            break
        wrong = np.flatnonzero((np.sign(w[:-1]) * np.asarray(signs) < 0) & active[:-1])
        if len(wrong) == 0:
            break
        active[wrong[np.argmax(np.abs(w[wrong]))]] = False   # the worst offender first, then refit
    return {"mean": mean.tolist(), "scale": scale.tolist(), "coef": w[:-1].tolist(), "intercept": float(w[-1])}

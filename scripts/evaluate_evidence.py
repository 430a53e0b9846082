"""Extinction evidence on AMCSD minerals simulated with stage-2 nuisances.

    python scripts/evaluate_evidence.py --n 1000 [--cell true|indexed] [--seed 2000003] [--save out.npz]
        [--systems triclinic,monoclinic] [--stage po] [--impurities 0.5] [--read-noise 0.0015,0.03]
    python scripts/evaluate_evidence.py --rruff ../shared/data/rruff_dev/rruff_dev.npz

The test set is the model card's: ``xrdfast.ml.evaluate.amcsd_test_set`` (same seed, same
selection, same nuisance draws), which nothing here is fitted on; a different ``--seed``
draws a disjoint-by-chance fitting set (``--exclude-test`` drops the test ids). With
``--cell true`` the engine gets each crystal's own cell, lattice, widths and shifts: the
upper bound of the evidence step. With ``--cell indexed`` (what ``classify`` does) each
pattern goes through ``classify.prepare``, peak search and indexing (``fusion.index_pattern``)
and the evidence of the best cell; the saved figures of merit and lattices then carry
indexing's own errors, which is what ``scripts/fit_fusion.py`` needs. Prints top-1/top-5 of the evidence alone, the network
alone, and the fusion, and saves per-pattern relative log-likelihoods for fitting the fusion.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import cctbx.sgtbx  # noqa: F401  (before gemmi)

from xrdfast import _core
from xrdfast.evidence import extinction_evidence, make_instrument
from xrdfast.ml.evaluate import TEST_SEED, stage_parameters
from xrdfast.simulate import default_grid, simulate_batch

PEARSON = {"triclinic": "aP", "monoclinic": "mP", "orthorhombic": "oP", "tetragonal": "tP",
           "hexagonal": "hP", "rhombohedral": "hR", "cubic": "cP"}


def test_items(n: int, seed: int, exclude: set[int] = frozenset(), stage: str = "2",
               systems: frozenset[str] = frozenset()):
    """The selection of ``amcsd_test_set`` (same minerals, same stage-2 draws: mineral k gets
    sample k of stream ``seed``), keeping the crystals and their parameters; with ``systems``
    only minerals of those lattice systems (a fitting set enriched in the systems that AMCSD's
    many cubic and hexagonal entries leave rare)."""
    from xrdfast.minerals import amcsd_minerals

    rng = np.random.default_rng(seed)
    ids = rng.permutation(np.arange(1, 20000))
    minerals = []
    for mineral in amcsd_minerals([int(i) for i in ids]):
        if mineral.crystal.n_atoms > 400 or mineral.amcsd_id in exclude:
            continue
        if systems and _core.SpaceGroup(mineral.space_group).lattice_system not in systems:
            continue
        minerals.append(mineral)
        if len(minerals) == n:
            break
    return list(zip(minerals, stage_parameters(stage, seed, len(minerals))))


def report(name: str, p: np.ndarray, labels: np.ndarray, abstain_below: float | None = None,
           abstain: np.ndarray | None = None) -> None:
    """top-1/top-5 (rows that failed count as wrong: pass them as all-zero rows), ECE and
    the precision of the predictions not abstained from."""
    from xrdfast.ml.metrics import ece_if_calibrated, top_k_accuracy

    acc = top_k_accuracy(p, labels, (1, 5))
    ece = ece_if_calibrated(p, labels)
    line = (f"{name}: top-1 {100 * acc['top1']:.1f} %, top-5 {100 * acc['top5']:.1f} %, "
            f"ECE {ece['observed']:.3f} (calibrated at these confidences: {ece['mean']:.3f}, "
            f"95 % <= {ece['p95']:.3f}; p = {ece['p_value']:.2f})")
    if abstain_below is not None or abstain is not None:
        kept = p.max(1) >= abstain_below if abstain is None else ~abstain
        right = p.argmax(1) == labels - 1
        line += (f", not abstained {100 * kept.mean():.0f} %, right "
                 f"{100 * right[kept].mean() if kept.any() else float('nan'):.1f} % of those")
    print(line)


def classify_answer(d: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From saved components (``indexed``): the fused probabilities, whether the evidence was
    used, and the abstention ``classify(..., match=False)`` decides (the fusion's threshold
    where fused, the network's elsewhere, always out of distribution)."""
    from xrdfast.classify import load_model
    from xrdfast.fusion import FUSION, fuse

    fused = fuse(d["network"], d["rel"], FUSION, d["fom"], d["unindexed"], d["misfit"], d["lattice"], d.get("peaks", 0))
    used = (FUSION.trust(d["fom"]) > 0) & ~np.isnan(d["rel"]).all(1)
    abstain = np.where(used, fused.max(1) < FUSION.abstain_below,
                       fused.max(1) < load_model().calibration.abstain_below)
    return fused, used, abstain | d.get("out_of_distribution", False)


def rruff(path: str, workers: int, save: str | None, with_match: bool = False) -> None:
    """The measured development patterns through what ``classify(..., match=False)`` computes
    (peaks, indexing, evidence, fusion; abstention on the fused top-1 or out of
    distribution), beside the network alone and the frequency prior; with ``with_match``
    also what ``classify`` does by default (search-match fused on top, as
    ``match.with_matches`` does)."""
    from xrdfast.classify import load_model
    from xrdfast.fusion import FUSION
    from xrdfast.prior import extinction_group_prior

    with np.load(path) as data:
        x, intensity, labels = data["two_theta"], data["intensity"], data["eg"].astype(int)
    t = time.perf_counter()
    d = indexed([(x, row) for row in intensity], workers, wavelength=1.5418)
    fused, used, abstain = classify_answer(d)
    print(f"{len(labels)} measured patterns in {time.perf_counter() - t:.0f} s; indexed and fused: {used.sum()}")
    report("frequency prior (icsd+cod)", np.tile(extinction_group_prior(), (len(labels), 1)), labels)
    report("network alone", d["network"], labels, load_model().calibration.abstain_below)
    report("classify (fused where indexed)", fused, labels, abstain=abstain)
    prepared = d.pop("intensity")
    if with_match:
        from xrdfast.library import load_library
        from xrdfast.match import MATCHED, match_many, matched_answer

        found = match_many(list(prepared), load_library())
        final, final_abstain, n_matched = fused.copy(), abstain.copy(), 0
        for i, matches in enumerate(found):
            if isinstance(matches, str):
                continue
            threshold = FUSION.abstain_below if used[i] else load_model().calibration.abstain_below
            final[i], matched, final_abstain[i] = matched_answer(fused[i], matches, abstain[i], threshold)
            n_matched += matched
        print(f"matched (p >= {MATCHED}): {n_matched}")
        report("classify default (search-match, then indexed or network)", final, labels, abstain=final_abstain)
        d["with_match"] = final
    if save:
        np.savez_compressed(save, labels=labels, **d)


def rescore(path: str) -> None:
    """The saved components of a run (``--cell indexed --save`` or ``--rruff --save``) fused
    with the current ``FUSION``: the same numbers without rerunning peaks and indexing."""
    from xrdfast.fusion import FUSION
    from xrdfast.prior import extinction_group_prior

    d = dict(np.load(path))
    labels = d["labels"].astype(int)
    fused, used, abstain = classify_answer(d)
    print(f"{path}: {len(labels)} patterns, fused {used.sum()}")
    report("frequency prior (icsd+cod)", np.tile(extinction_group_prior(), (len(labels), 1)), labels)
    report("network alone", d["network"], labels)
    report(f"fused where indexed (abstain below {FUSION.abstain_below} when fused)", fused, labels, abstain=abstain)
    if "with_match" in d:  # a --rruff --match run: the default route as saved (its abstention is not)
        report("classify default (search-match, then indexed or network)", d["with_match"], labels)


def _init_worker() -> None:
    import os

    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = "1"  # one thread per worker process: the workers are the cores


def _indexed_evidence(intensity: np.ndarray) -> dict:
    """What ``classify`` computes for one prepared pattern on the model grid: the best cell of
    its peaks and the extinction evidence of that cell (no figure-of-merit gate: the fit
    chooses it)."""
    from xrdfast.fusion import evidence_of, index_pattern
    from xrdfast.grid import CU_KA1
    from xrdfast.readers import ANODE_WAVELENGTHS

    grid = default_grid()
    t = time.perf_counter()
    out = {"rel": np.full(99, np.nan), "fom": np.nan, "unindexed": np.nan, "misfit": np.nan, "lattice": "", "note": "", "peaks": 0}
    indexing, note = index_pattern(grid, intensity, CU_KA1, ANODE_WAVELENGTHS["Cu"][1])
    if indexing is None:
        out["note"] = note
    else:
        out.update(fom=indexing.figure_of_merit, lattice=indexing.lattice, unindexed=indexing.unindexed,
                   peaks=indexing.peaks)
        try:
            ev = evidence_of(grid, intensity, indexing, CU_KA1)
            out["rel"] = ev.relative_log_likelihood()
            out["misfit"] = float(ev.raw["chi2_reduced"])
        except ValueError as error:
            out["note"] = f"evidence failed: {error}"
    out["seconds"] = time.perf_counter() - t
    return out


def indexed(items: list, workers: int, wavelength: float | None = None) -> dict[str, np.ndarray]:
    """Per pattern ((2θ, I) pairs, through ``classify.prepare``): network probabilities (with
    the prior, as ``classify`` computes them), whether ``classify`` flags it out of
    distribution, and the indexed cell's figure of merit, lattice and relative extinction
    log-likelihoods."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from xrdfast.classify import _batch_invariant_log_probabilities, load_model, prepare

    classifier = load_model()
    grid = classifier.grid
    ready = [prepare(item, grid, wavelength) for item in items]
    prepared = np.stack([q.intensity for q in ready])
    net = np.exp(_batch_invariant_log_probabilities(classifier, prepared, True).astype(float))
    net /= net.sum(1, keepdims=True)
    # spawned, not forked: OpenMP's thread pool does not survive a fork
    with ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"), initializer=_init_worker) as pool:
        rows = list(pool.map(_indexed_evidence, prepared.astype(float), chunksize=4))
    return {"intensity": prepared, "network": net,
            "out_of_distribution": np.array([q.out_of_distribution for q in ready]),
            "rel": np.array([r["rel"] for r in rows]), "fom": np.array([r["fom"] for r in rows]),
            "unindexed": np.array([r["unindexed"] for r in rows]), "misfit": np.array([r["misfit"] for r in rows]),
            "lattice": np.array([r["lattice"] for r in rows]), "note": np.array([r["note"] for r in rows]), "peaks": np.array([r["peaks"] for r in rows]),
            "seconds": np.array([r["seconds"] for r in rows])}


def with_impurities(patterns: np.ndarray, probability: float, seed: int) -> np.ndarray:
    """Each pattern, with ``probability``, mixed with another of the set (a second mineral)
    carrying 3-20 % (log-uniform) of the integrated intensity: the minor phases of measured
    mineral samples, which put lines where the main phase's group forbids them."""
    if probability <= 0:
        return patterns
    rng = np.random.default_rng([seed, 1])
    out = patterns.copy()
    for i in range(len(patterns)):
        if rng.uniform() < probability:
            j = (i + 1 + rng.integers(len(patterns) - 1)) % len(patterns)
            f = float(np.exp(rng.uniform(np.log(0.03), np.log(0.2))))
            mixed = (1 - f) * patterns[i] / patterns[i].sum() + f * patterns[j] / patterns[j].sum()
            out[i] = mixed / mixed.max()
    return out


def with_read_noise(items: list, low: float, high: float, seed: int) -> list:
    """The items with their read noise redrawn log-uniform on [low, high] (fraction of the
    maximum): the noise floor of measured patterns whose background was subtracted, which
    stage 2's Poisson counts and uniform read noise of 0-0.4 % leave two to three times too
    quiet (the median noise of the RRUFF development patterns, by ``estimate_noise`` after
    ``classify.prepare``, is 0.65 % with quartiles 0.33 and 1.4 %; stage 2's 0.33 %, 0.21 and
    0.43 %; log-uniform on [0.15, 3] % has quartiles 0.32, 0.67 and 1.4 %). A separate
    stream of ``seed``, so the other nuisances stay stage 2's draws."""
    from xrdfast.simulate import make_params

    rng = np.random.default_rng([seed, 2])
    noise = np.exp(rng.uniform(np.log(low), np.log(high), len(items)))
    return [(mineral, make_params(params, read_noise=float(r))) for (mineral, params), r in zip(items, noise)]


def lattice_of(space_group: int) -> str:
    return PEARSON[_core.SpaceGroup(space_group).lattice_system]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=TEST_SEED)
    ap.add_argument("--exclude-test", type=int, default=0, help="drop the first N test-set minerals (for fitting sets)")
    ap.add_argument("--save", default=None)
    ap.add_argument("--option", action="append", default=[], help="EvidenceOptions field=value, e.g. intensity_error=0.05")
    ap.add_argument("--network", action="store_true", help="also run the network (for fusion)")
    ap.add_argument("--zero-error", type=float, default=0.0, help="degrees added to the true zero shift (robustness)")
    ap.add_argument("--width-scale", type=float, default=1.0, help="factor on the true widths (robustness)")
    ap.add_argument("--cell-error", type=float, default=0.0, help="relative error added to the cell lengths (robustness)")
    ap.add_argument("--cell", choices=("true", "indexed"), default="true",
                    help="the crystal's own cell (upper bound) or the cell classify finds (peaks, indexing)")
    ap.add_argument("--workers", type=int, default=2, help="processes for --cell indexed")
    ap.add_argument("--impurities", type=float, default=0.0,
                    help="with --cell indexed: share of patterns given a second mineral's lines (3-20 %% of the intensity)")
    ap.add_argument("--stage", default="2", help="nuisances of this generator stage (the test set: 2)")
    ap.add_argument("--systems", default="", help="only minerals of these lattice systems, comma-separated "
                    "(e.g. triclinic,monoclinic: a fitting set enriched in low symmetry)")
    ap.add_argument("--read-noise", default="", metavar="LOW,HIGH",
                    help="redraw each pattern's read noise log-uniform on [LOW, HIGH] (fraction of the maximum; "
                    "0.0015,0.03 is the noise floor of measured lab patterns)")
    ap.add_argument("--rescore", help="instead: fuse the components saved by --save with the current FUSION")
    ap.add_argument("--match", action="store_true", help="with --rruff: also search-match, as classify does by default")
    ap.add_argument("--rruff", help="instead: the measured .npz through the whole classify path")
    args = ap.parse_args()
    if args.rescore:
        rescore(args.rescore)
        return
    if args.rruff:
        rruff(args.rruff, args.workers, args.save, args.match)
        return
    exclude = {m.amcsd_id for m, _ in test_items(args.exclude_test, TEST_SEED)} if args.exclude_test else set()
    systems = frozenset(filter(None, args.systems.split(",")))
    unknown = systems - set(PEARSON)
    if unknown:
        ap.error(f"--systems: unknown lattice system(s) {sorted(unknown)}; expected some of {sorted(PEARSON)}")
    items = test_items(args.n, args.seed, exclude, args.stage, systems)
    if args.read_noise:
        low, high = (float(v) for v in args.read_noise.split(","))
        items = with_read_noise(items, low, high, args.seed)
    grid = default_grid()
    result = simulate_batch([m.crystal for m, _ in items], [p for _, p in items], grid=grid, seed=args.seed)
    labels = np.array([m.extinction_group for m, _ in items])
    if args.cell == "indexed":
        from xrdfast.fusion import FUSION

        t = time.perf_counter()
        grid = default_grid()
        patterns = with_impurities(result.patterns.astype(float), args.impurities, args.seed)
        d = indexed([(grid, row) for row in patterns], args.workers)
        d.pop("intensity")
        lattices = np.array([lattice_of(m.space_group) for m, _ in items])
        found = ~np.isnan(d["rel"]).all(1)
        same_system = np.array([a[:1] == b[:1] for a, b in zip(d["lattice"], lattices)])
        print(f"{len(labels)} patterns in {time.perf_counter() - t:.0f} s; evidence for {found.sum()}; "
              f"indexed crystal family right for {same_system[found].mean() * 100:.1f} % of those")
        report("network alone", d["network"], labels)
        fused, _, abstain = classify_answer(d)
        report(f"fused, indexed cells (abstain below {FUSION.abstain_below} where fused)", fused, labels, abstain=abstain)
        if args.save:
            np.savez_compressed(args.save, labels=labels, ids=np.array([m.amcsd_id for m, _ in items]),
                                true_lattice=lattices, **d)
        return
    options = _core.EvidenceOptions()
    for kv in args.option:
        k, v = kv.split("=")
        setattr(options, k, type(getattr(options, k))(float(v)))
    rel = np.full((len(items), 99), np.nan)
    times = []
    failures = 0
    for i, ((mineral, params), pattern) in enumerate(zip(items, result.patterns)):
        if not result.ok[i]:
            failures += 1
            continue
        widths = {k: getattr(params, k) for k in ("U", "V", "W", "X", "eta", "crystallite_size", "microstrain")}
        for k in ("U", "V", "W"):
            widths[k] *= args.width_scale**2
        widths["X"] *= args.width_scale
        ins = make_instrument(1.540593, zero_shift=params.zero_shift + args.zero_error, sample_displacement=params.sample_displacement,
                              widths=widths)
        t = time.perf_counter()
        try:
            cell = tuple(v * (1 + args.cell_error) if k < 3 else v for k, v in enumerate(mineral.crystal.cell))
            ev = extinction_evidence(grid, pattern.astype(float), cell, lattice_of(mineral.space_group),
                                     instrument=ins, options=options)
        except ValueError as error:
            failures += 1
            print("fail", mineral.amcsd_id, error)
            continue
        times.append(time.perf_counter() - t)
        rel[i] = ev.relative_log_likelihood()
    ok = ~np.isnan(rel).all(1)
    score = np.where(np.isnan(rel), -np.inf, rel)
    rank = (score > score[np.arange(len(labels)), labels - 1][:, None]).sum(1)
    print(f"{ok.sum()} patterns ({failures} failed), evidence alone with the true cell: "
          f"top-1 {100 * np.mean(rank[ok] < 1):.1f} %, top-5 {100 * np.mean(rank[ok] < 5):.1f} %; "
          f"median {1000 * np.median(times):.0f} ms, mean {1000 * np.mean(times):.0f} ms per pattern")
    if args.network:
        from xrdfast.classify import load_model
        from xrdfast.fusion import FUSION, fuse

        net = np.exp(load_model().log_probabilities(result.patterns.astype(np.float32), with_prior=True).astype(float))
        net /= net.sum(1, keepdims=True)
        fused = fuse(net, rel)
        report("network alone", net, labels)
        fused[~ok] = 0  # a pattern the evidence failed on counts as wrong
        report(f"fused, true cells (abstain below {FUSION.abstain_below})", fused, labels, FUSION.abstain_below)
    if args.save:
        np.savez_compressed(args.save, rel=rel, network=net if args.network else np.zeros(0), labels=labels, patterns=result.patterns,
                            ids=np.array([m.amcsd_id for m, _ in items]))


if __name__ == "__main__":
    main()

"""Search-match evaluation, kept apart from symmetry inference (issue 16).

1. AMCSD recognition and novelty: structures of the *evaluation* half of the mineral
   species (never used to calibrate), simulated with stage-2 nuisances, lattice strain and
   impurities (``xrdfast.ml.match_eval``), matched with their entry in the library
   (recognition: species and extinction group of the best match) and with their whole
   species removed (novelty: the right answer is "no confident match", p < 0.9).
2. Development RRUFF (333 measured): extinction-group top-1/top-5 of classify with matching
   (network fused with the matches) and without (network only), beside the frequency
   prior; and how often matches with p >= 0.9 name the right group. RRUFF minerals are
   very likely in AMCSD (recognition is the point), so these numbers measure recognition of
   known structures, not the reading of absences.

3. ``--stress N``: recognition with one nuisance widened at a time (solid solution beyond
   the ±5 % d-scale search, anisotropic cells, strong texture, other compositions, broad
   peaks), N samples each, to see which breaks recognition.

    python scripts/evaluate_match.py [--amcsd 600] [--stress 200] [--out match_eval.json]
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

try:
    import cctbx.sgtbx  # noqa: F401  (before gemmi)
except ImportError:
    pass
import numpy as np

RRUFF = Path(__file__).resolve().parents[2] / "shared" / "data" / "rruff_dev" / "rruff_dev.npz"
CONFIDENT = 0.9


def amcsd(library, n: int) -> dict:
    from xrdfast.match import match_prepared
    from xrdfast.ml.match_eval import EVALUATION_SEED, simulated_samples

    samples = list(simulated_samples(library, "evaluation", n, EVALUATION_SEED))
    rec, nov, groups = [], [], []   # groups: (strongest p(EG), is that group right) with and without the species
    for s in samples:
        main = library.species[s.index]
        r = match_prepared(s.pattern, library, top_k=5)
        rec.append((library.species[r[0].index] == main, r[0].extinction_group == library.extinction_groups[s.index],
                    r[0].probability, library.extinction_groups[s.index] in [m.extinction_group for m in r]))
        q = match_prepared(s.pattern, library, top_k=5, excluded=library.species == main)
        for found in (r, q):
            top = max(found, key=lambda m: m.eg_probability or 0.0)
            groups.append((top.eg_probability or 0.0, top.extinction_group == library.extinction_groups[s.index]))
        # a claim is wrong unless the confident phase is a present impurity
        nov.append((q[0].probability, library.species[q[0].index] in s.species,
                    q[0].extinction_group == library.extinction_groups[s.index]))
    rec_a, nov_a = np.array(rec, dtype=float), np.array(nov, dtype=float)
    confident = rec_a[:, 2] >= CONFIDENT
    claims = (nov_a[:, 0] >= CONFIDENT) & (nov_a[:, 1] == 0)
    g = np.array(groups, dtype=float)
    bins = {}
    for lo, hi in [(0, 0.1), (0.1, 0.5), (0.5, 0.9), (0.9, 1.01)]:
        sel = (g[:, 0] >= lo) & (g[:, 0] < hi)
        bins[f"{lo}-{min(hi, 1)}"] = {"share": sel.mean(), "right": g[sel, 1].mean() if sel.any() else None}
    return {
        "n": len(samples),
        "extinction_group_evidence": bins,   # the strongest p(EG) of each search (with and without the species)
        "recognition": {"species_top1": rec_a[:, 0].mean(), "eg_top1": rec_a[:, 1].mean(),
                        "eg_in_top5_matches": rec_a[:, 3].mean(), "confident_fraction": confident.mean(),
                        "confident_species_right": rec_a[confident, 0].mean() if confident.any() else None,
                        "confident_eg_right": rec_a[confident, 1].mean() if confident.any() else None},
        "novelty": {"confident_claims": claims.mean(),
                    "confident_claims_with_right_eg": (claims & (nov_a[:, 2] == 1)).mean(),
                    "median_top_probability": float(np.median(nov_a[:, 0]))},
    }


STRESS = {  # one nuisance widened at a time beyond the calibration's (xrdfast.ml.match_eval.Nuisances)
    "calibration nuisances": {},
    "solid solution to ±7 %": {"strain": 0.03, "strain_limit": 0.07},
    "anisotropic cell ±1.5 %": {"anisotropy": 0.015},
    "texture r 0.4-2.5": {"texture": (0.4, 2.5)},
    "composition (occupancy x 0.5-1)": {"occupancy": 0.5},
    "broad peaks (10-30 nm)": {"size": (10.0, 30.0)},
}


def stress(library, n: int) -> dict:
    """Recognition (best match's species and extinction group, share with p >= 0.9) on the
    evaluation half with one nuisance widened at a time: where recognition breaks."""
    from xrdfast.match import match_many
    from xrdfast.ml.match_eval import EVALUATION_SEED, Nuisances, simulated_samples

    out = {}
    for k, (name, knobs) in enumerate(STRESS.items()):
        samples = list(simulated_samples(library, "evaluation", n, EVALUATION_SEED + 7919 * (k + 1),
                                         nuisances=Nuisances(**knobs)))
        found = match_many([s.pattern for s in samples], library, top_k=5)
        rows = [(library.species[r[0].index] == library.species[s.index],
                 r[0].extinction_group == library.extinction_groups[s.index], r[0].probability >= CONFIDENT)
                for s, r in zip(samples, found) if not isinstance(r, str)]
        a = np.array(rows, dtype=float)
        confident = a[:, 2] == 1
        out[name] = {"n": len(a), "species_top1": a[:, 0].mean(), "eg_top1": a[:, 1].mean(),
                     "confident": confident.mean(),
                     "confident_eg_right": a[confident, 1].mean() if confident.any() else None}
        print(f"{name:34s} n {len(a):4d}  species {a[:, 0].mean():.3f}  EG {a[:, 1].mean():.3f}  "
              f"p>=0.9 {confident.mean():.3f} (EG right {out[name]['confident_eg_right']})", flush=True)
    return out


def rruff(library) -> dict:
    from xrdfast.classify import load_model, predict, prepare
    from xrdfast.match import with_matches
    from xrdfast.prior import extinction_group_prior

    classifier = load_model()
    with np.load(RRUFF) as data:
        two_theta, intensity, labels = data["two_theta"], data["intensity"], data["eg"].astype(int)
    prepared = [prepare((two_theta, row), classifier.grid, 1.5418) for row in intensity]
    alone = predict(classifier, prepared, top_k=5)
    t = time.perf_counter()
    fused = with_matches(alone, [q.intensity for q in prepared], top_k=5, library=library)
    seconds = time.perf_counter() - t

    def topk(predictions):
        ranks = [[c.extinction_group for c in p.candidates] for p in predictions]
        return (float(np.mean([r[0] == y for r, y in zip(ranks, labels)])),
                float(np.mean([y in r[:5] for r, y in zip(ranks, labels)])))

    prior = extinction_group_prior()
    order = np.argsort(-prior)
    best = np.array([p.matches[0] for p in fused])
    p_best = np.array([m.probability for m in best])
    right = np.array([m.extinction_group == y for m, y in zip(best, labels)])
    confident = p_best >= CONFIDENT
    out = {"n": len(labels), "seconds_matching": seconds,
           "with_matching": dict(zip(("top1", "top5"), topk(fused))),
           "network_only": dict(zip(("top1", "top5"), topk(alone))),
           "prior_only": {"top1": float(np.mean(labels == order[0] + 1)),
                          "top5": float(np.mean(np.isin(labels, order[:5] + 1)))},
           "best_match_eg_top1": float(right.mean()),
           "confident_fraction": float(confident.mean()),
           "confident_eg_right": float(right[confident].mean()) if confident.any() else None,
           "method_matched": float(np.mean([p.method == "matched" for p in fused]))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--amcsd", type=int, default=600, help="simulated evaluation structures (0: skip)")
    parser.add_argument("--no-rruff", action="store_true")
    parser.add_argument("--stress", type=int, default=0, help="also the stress tests, this many samples each")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    from xrdfast.library import load_library

    library = load_library(progress=True)
    report: dict = {"library": library.source, "entries": len(library)}
    if not args.no_rruff:
        report["rruff_dev"] = rruff(library)
        print(json.dumps(report["rruff_dev"], indent=1))
    if args.amcsd:
        report["amcsd"] = amcsd(library, args.amcsd)
        print(json.dumps(report["amcsd"], indent=1, default=float))
    if args.stress:
        report["stress"] = stress(library, args.stress)
    if args.out:
        args.out.write_text(json.dumps(report, indent=1, default=float))


if __name__ == "__main__":
    main()

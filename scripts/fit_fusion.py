"""Fit the fusion of the network with the extinction evidence on held-out simulated data.

    N="--read-noise 0.0015,0.03"
    python scripts/evaluate_evidence.py --cell indexed --network --n 800 --seed 777 --exclude-test 1000 $N --save a.npz
    python scripts/evaluate_evidence.py --cell indexed --network --n 500 --seed 778 --exclude-test 1000 $N \
        --stage po --impurities 0.5 --save b.npz
    python scripts/evaluate_evidence.py --cell indexed --network --n 600 --seed 779 --exclude-test 1000 $N \
        --systems triclinic,monoclinic --impurities 0.25 --save c.npz
    python scripts/fit_fusion.py a.npz b.npz c.npz --precision 0.8

The data: AMCSD minerals simulated with stage-2 nuisances (seed 777), with the "po" stage's
strong texture and half of them carrying a second mineral's lines (seed 778), and triclinic
and monoclinic ones only, a quarter with a second mineral (seed 779), the model card's
1,000 test minerals excluded (never measured data), each run through the peaks,
indexing and evidence that ``classify`` runs, so that indexing's wrong cells, wrong systems
and poor figures of merit are in the data the fusion learns to distrust. Each with the noise
floor of measured lab patterns (``--read-noise``, see ``evaluate_evidence.with_read_noise``):
stage 2's own noise is two to three times quieter, and a quiet pattern shows a low-symmetry
crystal's weak lines, which measured ones lose.

``weight``, ``network_power``, ``outside``, ``network_share``, ``robustness`` and the trust's
intercept and coefficients (ln M20, the unindexed fraction of the peaks, ln of the evidence
fit's reduced chi-square, ln of the number of peaks found, offsets for cells indexed
triclinic, monoclinic, orthorhombic)
maximise the likelihood of the true extinction groups under the fused probabilities
(``xrdfast.fusion.fuse``), each pattern weighted so that the lattice systems take their
natural frequencies (``natural_weights``; the AMCSD draw is a third cubic); ``min_figure_of_merit`` is the smallest figure
of merit, on a short grid, from which the evidence improves that likelihood. ``abstain_below`` is the
smallest fused top-1 probability above which the indexed predictions are right at least
``--precision`` of the time (weighted alike). A two-fold split of the minerals shows that the fit carries
over to minerals it did not see. Prints the values to paste into ``xrdfast/fusion.py``.
"""
from __future__ import annotations

import argparse
import math

import numpy as np
from scipy.optimize import minimize

from xrdfast.fusion import FusionParameters, fuse
from xrdfast.ml.metrics import expected_calibration_error, top_k_accuracy

FIGURE_OF_MERIT_GATES = (3.0, 5.0, 7.0, 10.0, 15.0, 20.0)


def parameters(x: np.ndarray, gate: float) -> FusionParameters:
    (weight, outside, share_logit, intercept, slope, unindexed, misfit, power, robustness_logit,
     triclinic, monoclinic, orthorhombic, peaks) = x
    return FusionParameters(weight=float(math.exp(weight)), network_power=float(math.exp(power)),
                            outside=float(outside), network_share=float(1 / (1 + math.exp(-share_logit))),
                            robustness=float(1 / (1 + math.exp(-robustness_logit))),
                            trust_intercept=float(intercept), trust_slope=float(slope),
                            trust_unindexed=float(unindexed), trust_misfit=float(misfit),
                            trust_triclinic=float(triclinic), trust_monoclinic=float(monoclinic),
                            trust_orthorhombic=float(orthorhombic), trust_peaks=float(peaks),
                            min_figure_of_merit=gate)


def fused(params: FusionParameters, d: dict[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
    return fuse(d["network"][rows], d["rel"][rows], params, d["fom"][rows], d["unindexed"][rows], d["misfit"][rows],
                d["lattice"][rows], d["peaks"][rows])


def nll(params: FusionParameters, d: dict[str, np.ndarray], rows: np.ndarray) -> float:
    """Mean negative log-likelihood of the true groups, each pattern weighted by ``d["weight"]``."""
    p = fused(params, d, rows)
    log_true = np.log(np.maximum(p[np.arange(len(rows)), d["labels"][rows] - 1], 1e-300))
    return float(-np.average(log_true, weights=d["weight"][rows]))


def natural_weights(labels: np.ndarray) -> np.ndarray:
    """Per pattern, the natural frequency of its true lattice system (the ICSD+COD prior the
    network itself uses, ``xrdfast.prior``) over that system's share of the patterns: AMCSD
    overrepresents cubic minerals (31 % of a random draw against 18 %) and all but lacks
    triclinic ones (0.4 % against 6 %), the systems indexing finds easiest and hardest, so
    an unweighted fit trusts a cell more than a crystal of the natural mix deserves. Mean 1."""
    from xrdfast import _core
    from xrdfast.prior import extinction_group_prior

    prior = extinction_group_prior()
    system_of_group = np.array([_core.ExtinctionGroup(g).lattice_system for g in range(1, 100)])
    systems = system_of_group[np.asarray(labels) - 1]
    weights = np.zeros(len(systems))
    for system in np.unique(systems):
        here = systems == system
        weights[here] = prior[system_of_group == system].sum() / here.mean()
    return weights / weights.mean()


def fit(d: dict[str, np.ndarray], rows: np.ndarray, peak_counts: bool = True) -> FusionParameters:
    best = None
    for gate in FIGURE_OF_MERIT_GATES:
        start = np.array([math.log(0.3), -8.0, -2.0, -2.0, 1.0, 0.0, 0.0, 0.0, -3.0, 0.0, 0.0, 0.0, 0.0])
        # signs fixed by physics: a better figure of merit never lowers the trust, unindexed
        # peaks and a worse profile fit never raise it, other systems are never favoured; the
        # network is tempered, never sharpened; a low-symmetry cell is never trusted more than
        # a higher one of the same figure of merit; more peaks never lower the trust
        bounds = [(None, None), (-100, 0), (-30, 10), (None, None), (0, 10), (-100, 0), (-10, 0), (-5, 0), (-30, 5),
                  (-10, 0), (-10, 0), (-10, 0), (0, 10 if peak_counts else 0)]
        result = minimize(lambda x: nll(parameters(x, gate), d, rows), start, method="Powell", bounds=bounds,
                          options={"maxiter": 20000, "xtol": 1e-4, "ftol": 1e-7})
        if best is None or result.fun < best[0] - 1e-4:
            best = (result.fun, parameters(result.x, gate))
    return best[1]


def calibration(p: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """ECE (the evaluation's own, 15 bins), top-1 confidence and whether top-1 is right."""
    return expected_calibration_error(p, labels), p.max(1), p.argmax(1) == labels - 1


def describe(name: str, params: FusionParameters, d: dict[str, np.ndarray], rows: np.ndarray) -> None:
    p = fused(params, d, rows)
    ece, _, right = calibration(p, d["labels"][rows])
    net_right = d["network"][rows].argmax(1) == d["labels"][rows] - 1
    top5 = 100 * top_k_accuracy(p, d["labels"][rows], (5,))["top5"]
    network_nll = nll(FusionParameters(min_figure_of_merit=math.inf), d, rows)
    print(f"  {name} ({len(rows)}): weighted NLL {nll(params, d, rows):.3f} (network {network_nll:.3f}), "
          f"top-1 {100 * right.mean():.1f} % (network {100 * net_right.mean():.1f} %), top-5 {top5:.1f} %, "
          f"ECE {ece:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="+", help="saved by evaluate_evidence.py --cell indexed --save")
    ap.add_argument("--precision", type=float, default=0.9)
    ap.add_argument("--unweighted", action="store_true",
                    help="weigh every pattern alike instead of by the natural frequency of its lattice system")
    ap.add_argument("--without-peak-counts", action="store_true",
                    help="fix the trust's coefficient of the number of peaks at 0 (the fit before it had one)")
    args = ap.parse_args()
    parts = [np.load(path) for path in args.data]
    keys = ("network", "rel", "fom", "unindexed", "misfit", "labels", "ids", "lattice")
    d = {k: np.concatenate([part[k] for part in parts]) for k in keys}
    # sets saved before the peak count was: unknown (0), which the trust reads as 20 peaks
    d["peaks"] = np.concatenate([part["peaks"] if "peaks" in part else np.zeros(len(part["labels"])) for part in parts])
    d["weight"] = np.ones(len(d["labels"])) if args.unweighted else natural_weights(d["labels"])
    d["network"] = d["network"] / d["network"].sum(1, keepdims=True)
    d["unindexed"], d["misfit"] = np.nan_to_num(d["unindexed"]), np.nan_to_num(d["misfit"], nan=1.0)
    every = np.arange(len(d["labels"]))
    found = ~np.isnan(d["rel"]).all(1)
    print(f"{len(every)} simulated patterns, evidence for {found.sum()}; "
          f"median M20 {np.nanmedian(d['fom']):.1f}")
    # two-fold check by mineral: fit on one half, measure on the other
    fold = (d["ids"] * 2654435761 % 2**32) % 2 == 0
    for name, train, test in (("fold A", every[fold], every[~fold]), ("fold B", every[~fold], every[fold])):
        params = fit(d, train, not args.without_peak_counts)
        print(f"{name}: weight {params.weight:.3f}, network_power {params.network_power:.3f}, "
              f"outside {params.outside:.2f}, network_share {params.network_share:.3f}, "
              f"robustness {params.robustness:.4f}, "
              f"trust {params.trust_intercept:.2f} + {params.trust_slope:.2f} ln M20 + {params.trust_unindexed:.2f} u "
              f"+ {params.trust_misfit:.2f} ln chi2 + {params.trust_peaks:.2f} ln(n/20) + ({params.trust_triclinic:.2f} aP, {params.trust_monoclinic:.2f} m, "
              f"{params.trust_orthorhombic:.2f} o), gate M20 >= {params.min_figure_of_merit:g}")
        describe("fitted half", params, d, train)
        describe("other half", params, d, test)
    params = fit(d, every, not args.without_peak_counts)
    p = fused(params, d, every)
    ece, conf, right = calibration(p, d["labels"])
    indexed = (params.trust(d["fom"]) > 0) & found
    w = d["weight"]
    threshold = 1.0
    for t in np.round(np.arange(0.05, 1.0, 0.01), 2):
        kept = indexed & (conf >= t)
        if kept.sum() >= 20 and np.average(right[kept], weights=w[kept]) >= args.precision:
            threshold = float(t)
            break
    kept = indexed & (conf >= threshold)
    print(f"all {len(every)}: weighted NLL {nll(params, d, every):.3f}, top-1 {100 * right.mean():.1f} % "
          f"(weighted {100 * np.average(right, weights=w):.1f} %), ECE {ece:.3f}; "
          f"fused {indexed.sum()}, abstain below {threshold} keeps "
          f"{100 * w[kept].sum() / max(w[indexed].sum(), 1e-12):.0f} % of them (weighted), right "
          f"{100 * np.average(right[kept], weights=w[kept]) if kept.any() else float('nan'):.1f} % of those")
    print("FUSION = FusionParameters(" + ", ".join(
        f"{k}={round(v, 3)}" for k, v in (("weight", params.weight), ("network_power", params.network_power),
                                           ("network_share", params.network_share),
                                           ("robustness", params.robustness),
                                           ("outside", params.outside), ("trust_intercept", params.trust_intercept),
                                           ("trust_slope", params.trust_slope),
                                           ("trust_unindexed", params.trust_unindexed),
                                           ("trust_misfit", params.trust_misfit),
                                           ("trust_triclinic", params.trust_triclinic),
                                           ("trust_monoclinic", params.trust_monoclinic),
                                           ("trust_orthorhombic", params.trust_orthorhombic),
                                           ("trust_peaks", params.trust_peaks),
                                           ("min_figure_of_merit", params.min_figure_of_merit),
                                           ("abstain_below", threshold))) + ")")


if __name__ == "__main__":
    main()

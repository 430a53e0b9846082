"""The model card's metric table: ``xrdfast evaluate`` of one checkpoint on every test set.

    python scripts/evaluate_model.py CHECKPOINT [--out eval/] [--shared ../shared] [--n 2000] [--only amcsd ...]

Runs the measured RRUFF development split, balanced synthetic stage-1 and stage-2 test sets
(a seed no training or calibration stream uses) and AMCSD mineral structures simulated with
stage-2 nuisances; writes each report under OUT/<name>/ and prints a Markdown table (top-1/5,
ECE, NLL, Brier; with and without the prior; the frequency-only baseline; the diversity of
top-1 predictions and the subgroup-graph analysis of the errors).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from xrdfast.ml.evaluate import evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--out", default="eval")
    parser.add_argument("--shared", default=str(Path(__file__).resolve().parents[1].parent / "shared"))
    parser.add_argument("--n", type=int, default=2000, help="patterns per synthetic test set")
    parser.add_argument("--amcsd", type=int, default=1000)
    parser.add_argument("--only", nargs="+", choices=["rruff_dev", "synthetic_1", "synthetic_2", "amcsd"],
                        help="evaluate these sets only (default: all)")
    args = parser.parse_args()
    shared = Path(args.shared)
    sets = {"rruff_dev": str(shared / "data" / "rruff_dev" / "rruff_dev.npz"),
            "synthetic_1": f"synthetic:1:{args.n}", "synthetic_2": f"synthetic:2:{args.n}",
            "amcsd": f"amcsd:{args.amcsd}"}
    print("| data | n | variant | top-1 | top-3 | top-5 | ECE (calibrated: mean) | NLL | Brier | distinct top-1 | err. dist. ours / paper (random) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, spec in sets.items():
        if args.only and name not in args.only:
            continue
        report = evaluate(args.checkpoint, spec, out=Path(args.out) / name, shared=shared)
        for variant in ("uncalibrated", "calibrated", "calibrated_with_prior", "prior_only"):
            r = report.get(variant)
            if r is None:
                continue
            diversity = r.get("diversity", {}).get("n_distinct", "")
            reference = r.get("ece_if_calibrated")
            calibrated = f" ({reference['mean']:.3f})" if reference else ""
            sub = r.get("subgroup", {})
            dist = " / ".join(f"{sub[g]['mean_distance']:.2f} ({sub[g]['random_pair_baseline']['mean_distance']:.2f})"
                              for g in ("computed", "paper") if g in sub and sub[g].get("n_wrong"))
            print(f"| {name} | {report['n']} | {variant} | {100 * r['top1']:.1f} | {100 * r['top3']:.1f} | "
                  f"{100 * r['top5']:.1f} | {r['ece']:.3f}{calibrated} | {r['nll']:.2f} | {r['brier']:.3f} | {diversity} | {dist} |")
        (Path(args.out) / name / "summary.json").write_text(json.dumps(
            {k: report[k] for k in ("description", "n", "temperature", "prior_source")}, indent=1))


if __name__ == "__main__":
    main()

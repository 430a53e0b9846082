"""How the training envelope (xrdfast.classify.assess) treats measured data: on the RRUFF
development patterns, how many fall outside it and why, and top-1 accuracy inside and
outside, beside the frequency-prior baseline. Reports only; nothing is fitted here.

    python scripts/ood_rruff.py [/work/shared/data/rruff_dev/rruff_dev.npz]
"""
from __future__ import annotations

import collections
import sys

import numpy as np

from xrdfast.classify import load_model, predict, prepare
from xrdfast.ml.metrics import prior_baseline
from xrdfast.prior import extinction_group_prior


def main(argv: list[str]) -> int:
    path = argv[0] if argv else "/work/shared/data/rruff_dev/rruff_dev.npz"
    model = load_model()
    with np.load(path) as data:
        two_theta, intensity, eg = data["two_theta"], data["intensity"], data["eg"]
    prepared = [prepare((two_theta, row), model.grid) for row in intensity]
    predictions = predict(model, prepared, top_k=5)
    top1 = np.array([p.top.extinction_group == e for p, e in zip(predictions, eg)])
    outside = np.array([q.out_of_distribution for q in prepared])
    abstain = np.array([p.abstain for p in predictions])
    below = np.array([p.top.probability < p.threshold for p in predictions])
    reasons = collections.Counter(" ".join(w.split(": ")[1].split()[:2]) for q in prepared for w in q.warnings
                                  if w.startswith("outside"))
    prior = prior_baseline(extinction_group_prior(model.payload["calibration"]["prior_source"]), eg - 1)
    print(f"{path}: {len(eg)} patterns; top-1 {100 * top1.mean():.1f} % (frequency prior {100 * prior['top1']:.1f} %)")
    print(f"outside the training envelope: {outside.sum()} ({100 * outside.mean():.0f} %): {dict(reasons)}")
    print(f"top-1 inside {100 * top1[~outside].mean():.1f} % (n={(~outside).sum()}), "
          f"outside {100 * top1[outside].mean():.1f} % (n={outside.sum()})")
    print(f"abstaining: {abstain.sum()} ({100 * abstain.mean():.0f} %; {below.sum()} by the probability threshold alone)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

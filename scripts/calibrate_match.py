"""Fit the search-match score -> probability map on simulated data; writes
python/xrdfast/data/match_calibration.json.

Samples: AMCSD structures of the *calibration* half of the mineral species (see
``xrdfast.ml.match_eval``), simulated with stage-2 nuisances, lattice strain and some
impurities; each searched with its entry in the library (positives: the candidates of a
species present) and with its whole species removed (negatives). No measured pattern is
used, so the reported RRUFF numbers are not fitted to.

    python scripts/calibrate_match.py [--n 600]
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

from xrdfast.library import load_library
from xrdfast.match import FEATURES
from xrdfast.ml.match_eval import CALIBRATION_SEED, candidate_rows, fit_logistic, simulated_samples

OUT = Path(__file__).resolve().parents[1] / "python" / "xrdfast" / "data" / "match_calibration.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=600, help="simulated samples (each searched twice)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--dump", type=Path, help="also save the candidate rows (npz) for analysis")
    args = parser.parse_args()
    t0 = time.time()
    library = load_library(progress=True)
    samples = list(simulated_samples(library, "calibration", args.n, CALIBRATION_SEED))
    print(f"{len(samples)} calibration samples simulated in {time.time() - t0:.0f} s")
    Xp, yp, _ = candidate_rows(library, samples, removed=False)
    Xn, yn, _ = candidate_rows(library, samples, removed=True)
    X, y = np.concatenate([Xp, Xn]), np.concatenate([yp, yn])
    if args.dump:
        np.savez(args.dump, Xp=Xp, yp=yp, Xn=Xn, yn=yn)
    model = fit_logistic(X, y)
    model["features"] = list(FEATURES)
    model["provenance"] = (f"scripts/calibrate_match.py: {len(samples)} simulated AMCSD samples (calibration half of "
                           f"the species, seed {CALIBRATION_SEED}), searched with and without their species; "
                           f"{len(y)} candidate rows, {int(y.sum())} present; library {library.source}, "
                           f"{len(library)} entries")
    args.out.write_text(json.dumps(model, indent=1) + "\n")
    z = (X - np.array(model["mean"])) / np.array(model["scale"])
    p = 1 / (1 + np.exp(-(z @ np.array(model["coef"]) + model["intercept"])))
    for lo, hi in [(0, 0.1), (0.1, 0.5), (0.5, 0.9), (0.9, 1.01)]:
        s = (p >= lo) & (p < hi)
        print(f"  p in [{lo}, {hi}): {int(s.sum()):5d} rows, present {y[s].mean() if s.any() else float('nan'):.3f}")
    print(f"wrote {args.out} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()

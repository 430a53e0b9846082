"""Fit the search-match score -> probability map on simulated data; writes
python/xrdfast/data/match_calibration.json.

Samples: AMCSD structures of the *calibration* half of the mineral species (see
``xrdfast.ml.match_eval``), simulated with stage-2 nuisances, lattice strain and some
impurities; each searched with its entry in the library (positives: the candidates of a
species present) and with its whole species removed (negatives). Two models: "present"
(the candidate's species is in the sample: ``PhaseMatch.probability``) and "eg" (the main
phase's extinction group is the candidate's, which isostructural entries also get right:
``PhaseMatch.eg_probability``, what ``fuse`` weighs the network with). No measured pattern is
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
from xrdfast.match import EG_FEATURES, FEATURES, SIGNS
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
    rows = [candidate_rows(library, samples, removed=False), candidate_rows(library, samples, removed=True)]
    X, y = np.concatenate([r["X"] for r in rows]), np.concatenate([r["y"] for r in rows])
    X_eg, y_eg = np.concatenate([r["X_eg"] for r in rows]), np.concatenate([r["y_eg"] for r in rows])
    if args.dump:
        np.savez(args.dump, X=X, y=y, X_eg=X_eg, y_eg=y_eg)
    model = fit_logistic(X, y, signs=np.array(SIGNS))
    model["features"] = list(FEATURES)
    model["eg"] = fit_logistic(X_eg, y_eg, signs=np.array([*SIGNS, 1]))
    model["eg"]["features"] = list(EG_FEATURES)
    model["provenance"] = (f"scripts/calibrate_match.py: {len(samples)} simulated AMCSD samples (calibration half of "
                           f"the species, seed {CALIBRATION_SEED}), searched with and without their species; "
                           f"{len(y)} candidate rows, {int(y.sum())} present, {int(y_eg.sum())} of the main phase's "
                           f"extinction group; library {library.source}, {len(library)} entries")
    args.out.write_text(json.dumps(model, indent=1) + "\n")
    for name, (A, b, m) in {"present": (X, y, model), "eg": (X_eg, y_eg, model["eg"])}.items():
        z = (A - np.array(m["mean"])) / np.array(m["scale"])
        p = 1 / (1 + np.exp(-(z @ np.array(m["coef"]) + m["intercept"])))
        print(f"{name} model:")
        for lo, hi in [(0, 0.1), (0.1, 0.5), (0.5, 0.9), (0.9, 1.01)]:
            s = (p >= lo) & (p < hi)
            print(f"  p in [{lo}, {hi}): {int(s.sum()):5d} rows, true {b[s].mean() if s.any() else float('nan'):.3f}")
    print(f"wrote {args.out} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()

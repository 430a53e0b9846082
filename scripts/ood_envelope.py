"""Print the statistics of the stage-2 training distribution that bound what the classifier
may answer (xrdfast.classify.TRAINING_ENVELOPE): background, signal-to-noise, FWHM of the
strongest line and number of lines, over draws of the simulator's own stage-2 preset
(cpp/src/curriculum.cpp). No measured data are involved.

    python scripts/ood_envelope.py            # 1000 draws, seed 7 (the committed limits)
    python scripts/ood_envelope.py 5000 11    # more draws, another seed
"""
from __future__ import annotations

import sys

import numpy as np

from xrdfast.classify import pattern_statistics
from xrdfast.dataset import generate_samples


def envelope(n: int = 1000, seed: int = 7) -> dict[str, np.ndarray]:
    patterns, records = generate_samples("2", seed, 0, n)
    ok = records["status"] == 0
    stats = [pattern_statistics(x, np.ones(len(x), dtype=bool)) for x in patterns[ok]]
    return {key: np.array([s[key] for s in stats], dtype=float) for key in ("background", "snr", "fwhm", "peaks")}


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 1000
    seed = int(argv[1]) if len(argv) > 1 else 7
    print(f"stage-2 draws: {n}, seed {seed}")
    print(f"{'statistic':12s} {'min':>10s} {'0.5 %':>10s} {'median':>10s} {'99.5 %':>10s} {'max':>10s}")
    for key, values in envelope(n, seed).items():
        q = np.percentile(values, [0, 0.5, 50, 99.5, 100])
        print(f"{key:12s} " + " ".join(f"{v:10.4g}" for v in q))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

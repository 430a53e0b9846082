"""The noise floor, peak count and peak width of measured patterns beside simulated ones.

    python scripts/noise_floor.py --rruff ../shared/data/rruff_dev/rruff_dev.npz
    python scripts/noise_floor.py --n 300 [--stage 2] [--read-noise 0.0015,0.03]

Each pattern goes through ``classify.prepare`` (the model grid, scaled to a maximum of 1) and
the peak search ``classify`` runs; its noise is the median over the scan of
``peaks.estimate_noise`` (robust second differences: the point-to-point scatter, which a
smooth background does not reach). No label is read: these are the statistics a simulator's
nuisances can be compared with on unlabelled measured data, which is how
``evaluate_evidence.with_read_noise`` chose the noise floor of the fusion's fitting sets.
"""
from __future__ import annotations

import argparse

import numpy as np

import cctbx.sgtbx  # noqa: F401  (before gemmi)

QUANTILES = (10, 25, 50, 75, 90)


def pattern_statistics(items: list, wavelength: float | None) -> np.ndarray:
    """(n, 3): median noise over the maximum, peaks found and their median FWHM (deg) for
    (2θ, I) pairs."""
    from xrdfast import peaks
    from xrdfast.classify import load_model, prepare
    from xrdfast.grid import CU_KA1
    from xrdfast.readers import ANODE_WAVELENGTHS

    grid = load_model().grid
    rows = []
    for item in items:
        y = prepare(item, grid, wavelength).intensity.astype(float)
        found = peaks.search((grid, y), wavelength=CU_KA1, wavelength2=ANODE_WAVELENGTHS["Cu"][1], refine=True).peaks
        noise = float(np.median(peaks.estimate_noise(y))) / y.max()
        rows.append((noise, len(found), float(np.median(found["fwhm"])) if len(found) else np.nan))
    return np.array(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rruff", help="a measured .npz (two_theta, intensity; Cu K-alpha)")
    ap.add_argument("--n", type=int, default=300, help="simulated AMCSD minerals (evaluate_evidence's selection)")
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument("--stage", default="2")
    ap.add_argument("--read-noise", default="", metavar="LOW,HIGH", help="as evaluate_evidence.py --read-noise")
    args = ap.parse_args()
    if args.rruff:
        with np.load(args.rruff) as data:
            stats = pattern_statistics([(data["two_theta"], row) for row in data["intensity"]], 1.5418)
        name = args.rruff
    else:
        from evaluate_evidence import test_items, with_read_noise

        from xrdfast.simulate import default_grid, simulate_batch

        items = test_items(args.n, args.seed, set(), args.stage)
        if args.read_noise:
            low, high = (float(v) for v in args.read_noise.split(","))
            items = with_read_noise(items, low, high, args.seed)
        grid = default_grid()
        result = simulate_batch([m.crystal for m, _ in items], [p for _, p in items], grid=grid, seed=args.seed)
        stats = pattern_statistics([(grid, row.astype(float)) for row in result.patterns], None)
        name = f"{len(items)} AMCSD minerals, stage {args.stage}" + (f", read noise {args.read_noise}" if args.read_noise else "")
    print(f"{name}: quantiles {', '.join(f'{q} %' for q in QUANTILES)}")
    for column, label, scale, unit in ((0, "noise / maximum", 100, " %"), (1, "peaks found", 1, ""),
                                       (2, "median FWHM", 1, " deg")):
        values = np.nanpercentile(stats[:, column], QUANTILES) * scale
        print(f"  {label:16s} " + "  ".join(f"{v:7.3f}{unit}" for v in values))


if __name__ == "__main__":
    main()

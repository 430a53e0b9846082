"""Figures for the command line: a pattern with its hkl tick marks. matplotlib is a
dependency; it is imported only when a plot is asked for, on the file-only Agg backend."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from xrdfast.simulate import Pattern


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend; a ValueError saying how to install it."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display is needed or assumed
        import matplotlib.pyplot as plt
    except ImportError:
        raise ValueError("plotting needs matplotlib, a dependency of xrdfast that is missing from this "
                         "environment: pip install matplotlib") from None
    return plt


def plot_pattern(pattern: Pattern, path: str | Path, title: str = "", label_lines: int = 12) -> None:
    """The pattern, a tick under each line and the hkl of the strongest ``label_lines``."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(10, 4.5), layout="constrained")
    ax.plot(pattern.two_theta, pattern.intensity, lw=0.8, color="k")
    lines = pattern.lines
    inside = (lines["two_theta"] >= pattern.two_theta[0]) & (lines["two_theta"] <= pattern.two_theta[-1])
    tt, hkl, strength = lines["two_theta"][inside], lines["hkl"][inside], lines["intensity"][inside]
    top = float(np.nanmax(pattern.intensity)) if pattern.intensity.size else 1.0
    ax.vlines(tt, -0.06 * top, -0.02 * top, color="tab:blue", lw=0.8)
    for i in np.argsort(strength)[::-1][:label_lines]:
        peak = pattern.intensity[np.argmin(np.abs(pattern.two_theta - tt[i]))]
        ax.annotate("".join(str(int(x)) if x >= 0 else f"-{-int(x)}" for x in hkl[i]), (tt[i], peak),
                    textcoords="offset points", xytext=(0, 3), ha="center", fontsize=7, color="tab:blue")
    ax.set_xlabel("2θ (degrees)")
    ax.set_ylabel("intensity")
    ax.set_xlim(pattern.two_theta[0], pattern.two_theta[-1])
    ax.set_ylim(-0.08 * top, 1.12 * top)
    if title:
        ax.set_title(title)
    fig.savefig(path, dpi=150)
    plt.close(fig)


def plot_prediction(predictions: list, path: str | Path, wavelength: float | None = None, max_rows: int = 8) -> None:
    """Each measured pattern (left) beside the probabilities of its top groups (right)."""
    from xrdfast.readers import read_pattern

    plt = pyplot()
    rows = predictions[:max_rows]
    fig, axes = plt.subplots(len(rows), 2, figsize=(11, 2.4 * len(rows) + 0.6), squeeze=False,
                             gridspec_kw={"width_ratios": [3, 1]}, layout="constrained")
    for (left, right), p in zip(axes, rows):
        measured = read_pattern(p.source, wavelength=wavelength)
        left.plot(measured.two_theta, measured.intensity, lw=0.7, color="k")
        left.set_title(Path(p.source).name, fontsize=9, loc="left")
        left.set_xlabel(f"2θ (degrees{f', λ = {measured.wavelength:.4f} Å' if measured.wavelength else ''})", fontsize=8)
        labels = [f"EG {c.extinction_group} {c.symbol}" for c in p.candidates][::-1]
        right.barh(labels, [c.probability for c in p.candidates][::-1], color="tab:blue")
        right.set_xlim(0, 1)
        right.tick_params(labelsize=7)
        right.set_title(f"{p.crystal_system}{' (abstains)' if p.abstain else ''}", fontsize=9)
    axes[-1][1].set_xlabel("calibrated probability")
    fig.savefig(path, dpi=130)
    plt.close(fig)

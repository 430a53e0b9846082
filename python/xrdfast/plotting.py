"""Figures for the command line: a pattern with its hkl tick marks. Needs matplotlib
(``pip install xrdfast[plot]``); imported only when a plot is asked for."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from xrdfast.simulate import Pattern


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display is needed or assumed
        import matplotlib.pyplot as plt
    except ImportError:
        raise ValueError("plotting needs matplotlib: pip install 'xrdfast[plot]'") from None
    return plt


def plot_pattern(pattern: Pattern, path: str | Path, title: str = "", label_lines: int = 12) -> None:
    """The pattern, a tick under each line and the hkl of the strongest ``label_lines``."""
    plt = _pyplot()
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

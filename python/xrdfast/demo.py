"""``xrdfast demo``: the whole product on a fresh install, with no files and no network.

Simulates laboratory-like Cu K-alpha patterns of a few well-known minerals from published
structures, classifies them with the shipped model and prints each prediction next to the
truth (the extinction group of the structure's own space group), then plots the patterns
and the probabilities of the top groups.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from xrdfast._core import ExtinctionGroup
from xrdfast.structure import from_arrays
from xrdfast.symmetry import extinction_group


@dataclass(frozen=True)
class Mineral:
    name: str
    space_group: str
    cell: tuple[float, float, float, float, float, float]  # Å, degrees
    types: tuple[str, ...]
    frac: tuple[tuple[float, float, float], ...]          # [n_sites, 3] fractional
    b_iso: float                                         # Å^2, one value (approximate)
    source: str


MINERALS = (
    Mineral("halite NaCl", "F m -3 m", (5.6401, 5.6401, 5.6401, 90, 90, 90), ("Na", "Cl"),
            ((0, 0, 0), (0.5, 0.5, 0.5)), 1.4, "Walker et al., Am. Mineral. 89, 204 (2004)"),
    Mineral("quartz SiO2", "P 32 2 1", (4.9134, 4.9134, 5.4052, 90, 90, 120), ("Si", "O"),
            ((0.4697, 0, 0), (0.4135, 0.2669, 0.1191)), 0.6, "Levien, Prewitt & Weidner, Am. Mineral. 65, 920 (1980)"),
    Mineral("calcite CaCO3", "R -3 c:H", (4.9896, 4.9896, 17.0610, 90, 90, 120), ("Ca", "C", "O"),
            ((0, 0, 0), (0, 0, 0.25), (0.2578, 0, 0.25)), 0.7, "Maslen et al., Acta Cryst. B49, 636 (1993)"),
    Mineral("rutile TiO2", "P 42/m n m", (4.5937, 4.5937, 2.9587, 90, 90, 90), ("Ti", "O"),
            ((0, 0, 0), (0.30478, 0.30478, 0)), 0.5, "Howard, Sabine & Dickson, Acta Cryst. B47, 462 (1991)"),
    Mineral("baddeleyite ZrO2", "P 1 21/c 1", (5.1505, 5.2116, 5.3173, 90, 99.23, 90), ("Zr", "O", "O"),
            ((0.2754, 0.0395, 0.2083), (0.0700, 0.3317, 0.3447), (0.4496, 0.7569, 0.4792)), 0.45,
            "Howard, Hill & Reichert, Acta Cryst. B44, 116 (1988)"),
    Mineral("forsterite Mg2SiO4", "P b n m", (4.7535, 10.1943, 5.9807, 90, 90, 90), ("Mg", "Mg", "Si", "O", "O", "O"),
            ((0, 0, 0), (0.99155, 0.27739, 0.25), (0.42645, 0.09403, 0.25), (0.76580, 0.09146, 0.25),
             (0.22164, 0.44719, 0.25), (0.27776, 0.16306, 0.03302)), 0.5,
            "after Fujino et al., Acta Cryst. B37, 513 (1981); coordinates rounded"),
)

# A laboratory Bragg-Brentano measurement: Cu K-alpha1+2, moderate widths, a little
# background and counting noise (stage-2 mid-range values).
LAB = dict(U=0.006, V=-0.001, W=0.006, eta=0.3, counts=5000.0, read_noise=0.002,
           background_chebyshev=[0.01, -0.005, 0.002])


def run(plot: str | Path | None = "xrdfast-demo.png", top_k: int = 3, model: str | None = None) -> list[dict]:
    """Simulate, classify, print; returns one dict per mineral (truth and prediction). The
    figure's path is printed only once the file is written."""
    from xrdfast.classify import classify
    from xrdfast.simulate import simulate

    results = []
    print("Symmetry inference (peaks, indexing, extinction evidence, network; no search-match):")
    print(f"{'mineral':20s} {'space group':14s} {'true EG':>8s}   predicted (p)" + " " * 22 + "crystal system")
    for m in MINERALS:
        crystal = from_arrays(m.cell, m.space_group, list(m.types), np.array(m.frac), 1.0, m.b_iso, name=m.name)
        pattern = simulate(crystal, seed=1, **LAB)
        truth = extinction_group(m.space_group)
        # symmetry inference alone (peaks -> indexing -> extinction evidence, with the network as
        # prior): these minerals are in the search-match library, so a match would only show
        # recognition -- and the first run would wait minutes for the library to be built
        full = classify((pattern.two_theta, pattern.intensity), top_k=99, model=model, match=False)
        p = replace(full, candidates=full.candidates[:top_k])
        rank = _rank(full, truth.number)
        hit = "ok " if rank == 1 else (f"top{rank}" if rank <= top_k else "-- ")
        ranked = ", ".join(f"{c.extinction_group} ({c.probability:.2f})" for c in p.candidates)
        print(f"{m.name:20s} {m.space_group:14s} {truth.number:8d}   {hit} {ranked:32s} {p.crystal_system}"
              f"{' (abstains)' if p.abstain else ''}")
        results.append({"mineral": m.name, "truth": truth.number, "prediction": p, "pattern": pattern,
                        "bars": bars(full, truth.number, top_k)})
    hits = sum(r["prediction"].top.extinction_group == r["truth"] for r in results)
    in_top = sum(r["truth"] in [c.extinction_group for c in r["prediction"].candidates] for r in results)
    print(f"top-1 {hits}/{len(results)}, top-{top_k} {in_top}/{len(results)} "
          "(the shipped CPU model; see MODEL_CARD.md for its measured accuracy)")
    if plot:
        path = Path(plot)
        try:
            _plot(results, path)
        except (ValueError, OSError) as error:  # no matplotlib, an unwritable path: the table stands
            print(f"(no plot written: {error})")
        else:
            if path.is_file() and path.stat().st_size > 0:
                print(f"plot: {path}")
            else:
                print(f"(no plot written: {path} was not created)")
    return results


def _rank(prediction, eg: int) -> int:
    """1-based rank of an extinction group among a prediction's candidates (len + 1 if absent)."""
    ranked = [c.extinction_group for c in prediction.candidates]
    return ranked.index(eg) + 1 if eg in ranked else len(ranked) + 1


def bars(prediction, truth: int, shown: int = 3) -> list[tuple[str, float, bool]]:
    """The bars of one mineral's panel, top first: (label, probability, is the true group).
    Labels carry the extinction symbol; the true group gets a bar of its own, with its rank,
    when it is not among the ``shown`` most probable."""
    out = [(f"{c.symbol} (EG {c.extinction_group})", c.probability, c.extinction_group == truth)
           for c in prediction.candidates[:shown]]
    if not any(is_truth for _, _, is_truth in out):
        rank = _rank(prediction, truth)
        match = [c for c in prediction.candidates if c.extinction_group == truth]
        p = match[0].probability if match else 0.0
        out.append((f"true: {ExtinctionGroup(truth).symbol} (EG {truth}, rank {rank})", p, True))
    return out


def _plot(results: list[dict], path: Path) -> None:
    from xrdfast.plotting import pyplot

    plt = pyplot()
    fig, axes = plt.subplots(len(results), 2, figsize=(12, 1.9 * len(results)), gridspec_kw={"width_ratios": [3, 1.3]})
    for (left, right), r in zip(axes, results):
        pattern = r["pattern"]
        left.plot(pattern.two_theta, pattern.intensity / pattern.intensity.max(), lw=0.6, color="k")
        left.set_ylabel(r["mineral"].split()[0], fontsize=8)
        left.set_yticks([])
        labels, probabilities, truth = zip(*r["bars"])
        right.barh(list(labels)[::-1], list(probabilities)[::-1],
                   color=["C2" if t else "C0" for t in truth][::-1])
        right.set_xlim(0, 1)
        right.tick_params(labelsize=7)
    axes[-1][0].set_xlabel("2θ (°, Cu Kα)")
    axes[-1][1].set_xlabel("probability (green: true group)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

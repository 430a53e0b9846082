"""Extinction evidence: from an indexed cell to ranked extinction groups and the reflections
that decide them (the ExtSym route of Markvardsen, David, Johnson & Shankland, Acta Cryst.
A57, 47 (2001); J. Appl. Cryst. 41, 1177 (2008)).

    ev = extinction_evidence(two_theta, intensity, cell=(a, b, c, al, be, ga), lattice="oP",
                             widths=dict(U=.., V=.., W=.., eta=..), zero_shift=..)
    ev.ranked()[:5]                       # [(extinction group, probability), ...]
    ev.decisive(ev.ranked()[0][0])        # the reflections that decide it

The numerics (Pawley-like extraction with the cell fixed, the likelihood of every ITA setting
of every extinction group of the lattice) are in C++ (``cpp/src/evidence.cpp``); this module
chooses the background, turns log-likelihoods into probabilities over the groups of the
lattice system and lists the evidence.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from xrdfast._core import EvidenceOptions, ExtinctionGroup, Instrument, SpaceGroup
from xrdfast._core import extinction_evidence as _extinction_evidence

CU_KA2_RATIO = 0.5
WIDTH_KEYS = ("U", "V", "W", "X", "Y", "crystallite_size", "microstrain", "scherrer_k", "eta")


@dataclass(frozen=True)
class Reflection:
    """One composite reflection of the extraction and how a group sees it."""

    hkl: list[tuple[int, int, int]]
    two_theta: float
    d: float
    intensity: float
    sigma: float
    allowed_by: list[int]     # extinction groups (of those asked about) allowing it
    forbidden_by: list[int]   # ... forbidding it
    log_ratio: float          # log p(I | allowed) - log p(I | forbidden), 1-D approximation

    @property
    def i_over_sigma(self) -> float:
        return self.intensity / self.sigma if self.sigma > 0 else 0.0

    def describe(self) -> str:
        hkl = " ".join("".join(str(v) for v in h) if max(abs(v) for v in h) < 10 else ",".join(map(str, h))
                       for h in self.hkl[:3])
        more = "..." if len(self.hkl) > 3 else ""
        return (f"({hkl}{more}) 2th={self.two_theta:7.3f} I/sig={self.i_over_sigma:6.1f}  "
                f"allowed by {self.allowed_by or '-'}, forbidden by {self.forbidden_by or '-'}")


@dataclass(frozen=True)
class ExtinctionEvidence:
    """The likelihood of each extinction group of the lattice system, and what it rests on."""

    cell: tuple[float, ...]
    lattice: str
    groups: np.ndarray               # (G,) extinction groups of the lattice system that fit the cell
    log_likelihood: np.ndarray       # (G,) log of the mean likelihood over each group's settings
    best_setting: list[str]          # (G,) H-M symbol of each group's best setting
    raw: dict[str, Any] = field(repr=False)

    @property
    def probabilities(self) -> np.ndarray:
        """(G,) probabilities over the groups of the lattice system (uniform prior)."""
        z = self.log_likelihood - self.log_likelihood.max()
        p = np.exp(z)
        return p / p.sum()

    def ranked(self) -> list[tuple[int, float]]:
        p = self.probabilities
        return [(int(self.groups[i]), float(p[i])) for i in np.argsort(-p, kind="stable")]

    def relative_log_likelihood(self) -> np.ndarray:
        """(99,) log-likelihood of each extinction group relative to the mean over the lattice
        system's groups (log-mean-exp = 0); NaN for groups outside the lattice system."""
        out = np.full(99, np.nan)
        ll = self.log_likelihood
        out[self.groups - 1] = ll - (ll.max() + math.log(np.mean(np.exp(ll - ll.max()))))
        return out

    def allowed(self, group: int) -> np.ndarray:
        """(n_reflections,) fraction of each composite reflection the group's best setting allows."""
        i = int(np.flatnonzero(self.groups == group)[0])
        return self.raw["allowed"][self.raw["group_best_setting"][i]]

    def decisive(self, group: int, against: Sequence[int] | None = None, n: int = 6) -> list[Reflection]:
        """The reflections that most separate ``group`` from the others of ``against`` (default:
        the five most probable groups): where one allows and another forbids, ranked by how
        strongly the measured intensity speaks (1-D approximation of each one's log ratio)."""
        against = list(against) if against is not None else [g for g, _ in self.ranked()[:5]]
        groups = [group] + [g for g in against if g != group]
        allowed = np.array([self.allowed(g) for g in groups]) > 0
        differs = allowed.any(0) & ~allowed.all(0)
        r = self.raw
        i_obs, sigma, mean = r["intensity"], r["sigma"], r["wilson_mean"]
        # log N(I; 0, s) - log int Exp(I'; mean) N(I; I', s) dI', the evidence of one reflection
        # if it were isolated: positive when the data favour "allowed".
        s = np.maximum(sigma, 1e-12)
        lam = 1.0 / mean
        log_allowed = (np.log(lam) - lam * i_obs + 0.5 * (lam * s) ** 2
                       + _log_ndtr(i_obs / s - lam * s))
        log_forbidden = -0.5 * (i_obs / s) ** 2 - np.log(s * math.sqrt(2 * math.pi))
        ratio = log_allowed - log_forbidden
        order = [j for j in np.argsort(-np.abs(ratio)) if differs[j]][:n]
        return [Reflection([tuple(int(v) for v in h) for h in r["hkl"][j]], float(r["two_theta"][j]), float(r["d"][j]),
                           float(i_obs[j]), float(sigma[j]),
                           [g for g, a in zip(groups, allowed[:, j]) if a], [g for g, a in zip(groups, allowed[:, j]) if not a],
                           float(ratio[j])) for j in order]

    def explain(self, top: int = 3) -> str:
        lines = [f"extinction evidence for cell {', '.join(f'{v:.4f}' for v in self.cell)} ({self.lattice}); "
                 f"{len(self.raw['d'])} reflections to 2theta {self.raw['two_theta_max']:.1f}"]
        ranked = self.ranked()
        names = dict(zip(self.groups.tolist(), self.best_setting))
        for g, p in ranked[:top]:
            lines.append(f"  EG {g:2d} {ExtinctionGroup(g).symbol:18s} p_ext={p:.3f}  best setting {names[g]}")
            for refl in self.decisive(g, [h for h, _ in ranked[:top]], n=4):
                lines.append("      " + refl.describe())
        return "\n".join(lines)


def plot_evidence(evidence: ExtinctionEvidence, path: str, title: str = "", groups: Sequence[int] | None = None) -> None:
    """The pattern, the extraction's fit, and for the top two groups (or ``groups``) a row of
    tick marks: allowed reflections as bars, forbidden ones as red crosses."""
    from xrdfast.plotting import pyplot

    plt = pyplot()
    r = evidence.raw
    groups = list(groups) if groups is not None else [g for g, _ in evidence.ranked()[:2]]
    x, y = r["pattern_two_theta"], r["pattern_intensity"]
    fig, ax = plt.subplots(figsize=(10, 4.5), layout="constrained")
    ax.plot(x, y, lw=0.8, color="k", label="measured")
    ax.plot(x, np.asarray(r["background"]) + np.asarray(r["fit"]), lw=0.6, color="tab:orange", label="extraction")
    top = float(np.nanmax(y))
    probabilities = dict(evidence.ranked())
    for row, g in enumerate(groups):
        allowed = evidence.allowed(g) > 0
        level = -(0.05 + 0.07 * row) * top
        tt = np.asarray(r["two_theta"])
        ax.vlines(tt[allowed], level - 0.02 * top, level + 0.02 * top, color=f"C{row}", lw=0.8)
        ax.plot(tt[~allowed], np.full((~allowed).sum(), level), "x", color="tab:red", ms=4)
        ax.text(x[0], level, f" EG {g} {ExtinctionGroup(g).symbol} (p_ext {probabilities[g]:.2f})", fontsize=7,
                va="center", color=f"C{row}")
    ax.axvline(r["two_theta_max"], color="0.6", lw=0.6, ls=":")
    ax.set_xlabel("2θ (degrees)")
    ax.set_ylabel("intensity")
    ax.set_title(title or "extinction evidence: allowed (bars) and forbidden (red x) reflections")
    ax.legend(fontsize=7, loc="upper right")
    fig.savefig(path, dpi=150)
    plt.close(fig)


def _log_ndtr(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    out = np.empty_like(x)
    far = x < -30
    out[~far] = np.log(0.5 * np.vectorize(math.erfc)(-x[~far] / math.sqrt(2))) if (~far).any() else 0
    xf = x[far]
    out[far] = -0.5 * xf * xf - np.log(-xf) - 0.5 * math.log(2 * math.pi)
    return out


def make_instrument(wavelength: float, wavelength2: float | None = None, ka2_ratio: float = CU_KA2_RATIO,
                    zero_shift: float = 0.0, sample_displacement: float = 0.0,
                    widths: Mapping[str, float] | None = None) -> Instrument:
    """An ``Instrument``: K-alpha1 wavelength (Å), K-alpha2 (None: the anode's, if
    ``wavelength`` is a known K-alpha1, else monochromatic), shifts and width parameters
    (Caglioti U, V, W; Lorentzian X, Y; crystallite_size, microstrain; eta, < 0 for TCH)."""
    from xrdfast.readers import ANODE_WAVELENGTHS

    ins = Instrument()
    ins.wavelength = float(wavelength)
    if wavelength2 is None:
        wavelength2 = next((ka2 for ka1, ka2 in ANODE_WAVELENGTHS.values() if abs(ka1 - wavelength) < 1e-4), 0.0)
    ins.wavelength2 = float(wavelength2)
    ins.ka2_ratio = float(ka2_ratio)
    ins.zero_shift = float(zero_shift)
    ins.sample_displacement = float(sample_displacement)
    for key, value in (widths or {}).items():
        if key not in WIDTH_KEYS:
            raise ValueError(f"widths: unknown parameter {key!r}; known: {', '.join(WIDTH_KEYS)}")
        setattr(ins, key, float(value))
    return ins


def extinction_evidence(two_theta: np.ndarray, intensity: np.ndarray, cell: Sequence[float], lattice: str, *,
                        instrument: Instrument | None = None, wavelength: float = 1.540593,
                        wavelength2: float | None = None, zero_shift: float = 0.0,
                        widths: Mapping[str, float] | None = None, background: np.ndarray | None = None,
                        options: EvidenceOptions | None = None) -> ExtinctionEvidence:
    """The extinction evidence of a pattern for an indexed cell.

    ``cell``: conventional (a, b, c, alpha, beta, gamma) in Å and degrees; ``lattice``: its
    Pearson symbol (aP, mP, mC, oP, ..., cF). ``background``: the fitted background on
    ``two_theta`` (default: ``xrdfast.peaks.estimate_background``). Widths, wavelengths and shifts either as an ``Instrument``
    or as keywords (see ``make_instrument``)."""
    x = np.asarray(two_theta, dtype=float)
    y = np.asarray(intensity, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"two_theta and intensity must be 1-D arrays of one length, got {x.shape} and {y.shape}")
    if len(cell) != 6:
        raise ValueError(f"cell must be (a, b, c, alpha, beta, gamma), got {len(cell)} numbers")
    if instrument is None:
        instrument = make_instrument(wavelength, wavelength2, zero_shift=zero_shift, widths=widths)
    if background is None:
        from xrdfast.peaks import estimate_background

        fwhm, _ = instrument.widths(instrument.wavelength / (2 * math.sin(math.radians(x.mean() / 2))))
        background = estimate_background(x, y, fwhm=fwhm)
    raw = _extinction_evidence(x, y, np.asarray(background, dtype=float), tuple(float(v) for v in cell), lattice,
                               instrument, options or EvidenceOptions())
    if len(raw["groups"]) == 0:
        raise ValueError(f"no setting of any {lattice} extinction group keeps the metric of cell {tuple(cell)}: "
                         "give the conventional cell of that lattice (e.g. unique axis b for monoclinic)")
    raw["pattern_two_theta"], raw["pattern_intensity"] = x, y
    best = []
    for s in raw["group_best_setting"]:
        sg = SpaceGroup.from_hall_number(int(raw["setting_hall"][s]))
        best.append(sg.hm + (" (reverse)" if raw["setting_reverse"][s] else ""))
    return ExtinctionEvidence(tuple(float(v) for v in cell), lattice, np.asarray(raw["groups"]),
                              np.asarray(raw["group_log_likelihood"]), best, raw)


__all__ = ["ExtinctionEvidence", "Reflection", "extinction_evidence", "make_instrument", "plot_evidence"]

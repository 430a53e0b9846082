"""A slow, plainly written NumPy twin of the C++ simulator, for tests.

Same physics, written the obvious way (brute-force reflection search, direct structure-
factor sums, a Python loop over lines), so that the fast paths -- C++ and CUDA -- can be
compared with something a reader can check line by line against the formulas cited in
``cpp/include/xrdfast/*.hpp``. Noise is left out: its random streams are the fast
paths' own business and are tested statistically instead.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from xrdfast import _core
from xrdfast._core import Crystal, SimulationParams

SPECIAL_POSITION_TOLERANCE = 0.05  # Å, as kSpecialPositionTolerance
GAUSSIAN_REACH, LORENTZIAN_REACH, TAIL_CUT = 4.0, 40.0, 1e-5  # as in profile.hpp


@dataclass
class ReferenceLine:
    hkl: tuple[int, int, int]
    d: float
    multiplicity: int
    f2: float
    texture: float
    lp: float
    two_theta: float
    intensity: float


def _operations(crystal: Crystal) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.array(op.rotation, dtype=float), np.array(op.translation)) for op in crystal.operations]


def _orthogonalisation(cell) -> np.ndarray:
    a, b, c, al, be, ga = cell
    al, be, ga = map(math.radians, (al, be, ga))
    v = math.sqrt(1 - math.cos(al) ** 2 - math.cos(be) ** 2 - math.cos(ga) ** 2
                  + 2 * math.cos(al) * math.cos(be) * math.cos(ga))
    return np.array([[a, b * math.cos(ga), c * math.cos(be)],
                     [0, b * math.sin(ga), c * (math.cos(al) - math.cos(be) * math.cos(ga)) / math.sin(ga)],
                     [0, 0, c * v / math.sin(ga)]])


def expand(crystal: Crystal) -> list[tuple[str, np.ndarray, float, float]]:
    """Full cell content: (type, frac, occupancy, B) for each symmetry image, merged."""
    orth = _orthogonalisation(crystal.cell)
    sites = crystal.sites()
    out = []
    for t, x, occ, b in zip(sites["types"], sites["frac"], sites["occupancy"], sites["b_iso"]):
        images: list[np.ndarray] = []
        for rot, shift in _operations(crystal):
            y = (rot @ x + shift) % 1.0
            if not any(_distance(orth, y, z) < SPECIAL_POSITION_TOLERANCE for z in images):
                images.append(y)
        out += [(t, y, float(occ), float(b)) for y in images]
    return out


def _distance(orth: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    d = (y - x) - np.round(y - x)
    shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)], dtype=float)
    return float(np.min(np.linalg.norm((d + shifts) @ orth.T, axis=1)))


def form_factor(type_symbol: str, stol: float) -> float:
    a, b, c = _core.form_factor_coefficients(type_symbol)
    return float(np.sum(np.asarray(a) * np.exp(-np.asarray(b) * stol**2)) + c)


def lines(crystal: Crystal, params: SimulationParams, two_theta_max: float) -> list[ReferenceLine]:
    ops = _operations(crystal)
    rotations = {tuple(r.astype(int).ravel()) for r, _ in ops}
    laue = [np.array(r).reshape(3, 3) for r in rotations] + [-np.array(r).reshape(3, 3) for r in rotations]
    orth = _orthogonalisation(crystal.cell)
    g_star = np.linalg.inv(orth.T @ orth)
    lam_max = max(params.wavelength, params.wavelength2)
    top = min(two_theta_max + abs(params.zero_shift) + 5.0, 179.0)
    d_min = lam_max / (2 * math.sin(math.radians(top / 2)))
    atoms = expand(crystal)
    a, b, c = crystal.cell[:3]
    box = [int(x / d_min) for x in (a, b, c)]
    families: dict[tuple, list] = {}
    for h in range(-box[0], box[0] + 1):
        for k in range(-box[1], box[1] + 1):
            for l in range(-box[2], box[2] + 1):
                hkl = np.array([h, k, l])
                q2 = hkl @ g_star @ hkl
                if q2 == 0 or q2 > 1 / d_min**2:
                    continue
                absent = any(np.array_equal(hkl @ rot, hkl) and abs(hkl @ t - round(hkl @ t)) > 1e-9 for rot, t in ops)
                if absent:
                    continue
                orbit = {tuple(int(x) for x in hkl @ r) for r in laue}
                families.setdefault(max(orbit), sorted(orbit))
    result = []
    c2m = math.cos(math.radians(params.monochromator_two_theta))
    dispersion = {}
    for key, members in families.items():
        hkl = np.array(key)
        d = 1 / math.sqrt(hkl @ g_star @ hkl)
        s = 1 / (2 * d)
        f_plus = f_minus = 0j
        for t, x, occ, b_iso in atoms:
            if params.radiation == _core.Radiation.neutron:
                f = _core.neutron_scattering_length(t)
            else:
                if t not in dispersion:
                    dispersion[t] = (complex(*_core.anomalous_dispersion(t, _anode(params.wavelength)))
                                     if params.anomalous else 0j)
                f = form_factor(t, s) + dispersion[t]
            f = f * occ * math.exp(-b_iso * s * s)
            f_plus += f * np.exp(2j * math.pi * (hkl @ x))
            f_minus += f * np.exp(-2j * math.pi * (hkl @ x))
        f2 = 0.5 * (abs(f_plus) ** 2 + abs(f_minus) ** 2)
        texture = 1.0
        if params.march_dollase_r != 1.0:
            r = params.march_dollase_r
            axis = np.array(params.preferred_orientation, dtype=float)
            w = []
            for m in members:
                m = np.array(m, dtype=float)
                cos = (m @ g_star @ axis) / math.sqrt((m @ g_star @ m) * (axis @ g_star @ axis))
                w.append((r * r * cos * cos + (1 - cos * cos) / r) ** -1.5)
            texture = float(np.mean(w))
        sin_theta = params.wavelength / (2 * d)
        if sin_theta >= 1:
            continue
        theta = math.asin(sin_theta)
        lp = _lp(theta, params, c2m)
        tt = _observed(theta, params)
        if tt < -abs(params.zero_shift) - 5.0:
            continue
        result.append(ReferenceLine(key, d, len(members), f2, texture, lp, tt, len(members) * f2 * lp * texture))
    return sorted(result, key=lambda x: (-x.d, tuple(-v for v in x.hkl)))


def _anode(wavelength: float) -> str:
    for name in ("Cu", "Mo", "Co", "Cr", "Fe", "Ag"):
        if abs(_core.kalpha1_wavelength(name) - wavelength) <= 0.005 * wavelength:
            return name
    raise ValueError(f"no anode with K-alpha1 at {wavelength} Å")


def _lp(theta: float, p: SimulationParams, c2m: float) -> float:
    c2 = math.cos(2 * theta)
    lp = (1 + c2m**2 * c2**2) / (math.sin(theta) ** 2 * math.cos(theta) * (1 + c2m**2))
    if p.geometry == _core.Geometry.debye_scherrer and p.mu_r > 0:
        s2 = math.sin(theta) ** 2
        lp *= math.exp(-(1.7133 - 0.0368 * s2) * p.mu_r - (-0.0927 - 0.3750 * s2) * p.mu_r**2)
    return lp


def _observed(theta: float, p: SimulationParams) -> float:
    return math.degrees(2 * theta) + p.zero_shift + math.degrees(
        -2 * p.sample_displacement * math.cos(theta) / p.goniometer_radius)


def _widths(theta: float, p: SimulationParams, lam: float) -> tuple[float, float]:
    t, c = math.tan(theta), math.cos(theta)
    g2 = p.U * t * t + p.V * t + p.W
    if p.microstrain > 0:
        g2 += math.degrees(4 * p.microstrain * t) ** 2
    hg = math.sqrt(max(g2, 0.0))
    hl = p.X / c + p.Y * t
    if p.crystallite_size > 0:
        hl += math.degrees(p.scherrer_k * lam / (p.crystallite_size * 10 * c))
    hl = max(hl, 0.0)
    h = (hg**5 + 2.69269 * hg**4 * hl + 2.42843 * hg**3 * hl**2 + 4.47163 * hg**2 * hl**3
         + 0.07842 * hg * hl**4 + hl**5) ** 0.2
    if h <= 0:
        return 0.0, 0.0
    q = hl / h
    eta = 1.36603 * q - 0.47719 * q * q + 0.11116 * q**3
    return h, (p.eta if p.shape == _core.ProfileShape.pseudo_voigt else eta)


def simulate(crystal: Crystal, params: SimulationParams, grid: np.ndarray) -> np.ndarray:
    """The noiseless pattern the C++ simulator renders, computed the slow way."""
    grid = np.asarray(grid, dtype=float)
    y = np.zeros_like(grid)
    comps = [(params.wavelength, 1.0)]
    if params.wavelength2 > 0 and params.ka2_ratio > 0:
        comps.append((params.wavelength2, params.ka2_ratio))
    c2m = math.cos(math.radians(params.monochromator_two_theta))
    scale = 1.0 / (crystal.cell_mass * crystal.volume)
    peaks = []  # (centre, area, fwhm, eta, theta) of every K-alpha component
    for line in lines(crystal, params, grid[-1]):
        for lam, weight in comps:
            sin_theta = lam / (2 * line.d)
            if sin_theta >= 1:
                continue
            theta = math.asin(sin_theta)
            area = scale * line.multiplicity * line.f2 * line.texture * _lp(theta, params, c2m) * weight
            fwhm, eta = _widths(theta, params, lam)
            if fwhm > 0 and area > 0:
                peaks.append((_observed(theta, params), area, fwhm, eta, theta))
    # coincident lines are one peak (merged in order of position, as the C++ does)
    peaks.sort(key=lambda pk: pk[0])
    merged: list[list] = []
    for pk in peaks:
        if merged and abs(pk[0] - merged[-1][0]) < 1e-7:
            merged[-1][1] += pk[1]
        else:
            merged.append(list(pk))
    peaks = [tuple(pk) for pk in merged]
    # the strongest peak's height sets how far Lorentzian tails are drawn
    top = max((a * (e * 2 / (math.pi * f) + (1 - e) * math.sqrt(4 * math.log(2) / math.pi) / f)
               for _, a, f, e, _ in peaks), default=0.0)
    for centre, area, fwhm, eta, theta in peaks:
        dx = grid - centre
        gamma = fwhm / 2
        l_reach = 0.0
        if eta > 0:
            l_reach = math.sqrt(area * eta * gamma / (math.pi * TAIL_CUT * top))
            l_reach = min(max(l_reach, GAUSSIAN_REACH * fwhm), LORENTZIAN_REACH * fwhm)
        kept = 2 / math.pi * math.atan(2 * l_reach / fwhm) if eta > 0 else 1.0
        lor = np.where(np.abs(dx) <= l_reach, gamma / (math.pi * (dx**2 + gamma**2)) / kept, 0.0)
        cg = 4 * math.log(2) / fwhm**2
        gau = np.where(np.abs(dx) <= fwhm * GAUSSIAN_REACH, math.sqrt(cg / math.pi) * np.exp(-cg * dx**2), 0.0)
        asym = np.ones_like(dx)
        if params.asymmetry:
            asym = np.maximum(1 - params.asymmetry * np.sign(dx) * dx**2 / math.tan(theta), 0)
        y += area * (eta * lor + (1 - eta) * gau) * asym
    unit = y.max() if y.max() > 0 else 1.0
    if len(params.background_chebyshev) or params.hump_amplitude:
        x = 2 * (grid - grid[0]) / (grid[-1] - grid[0]) - 1
        background = np.polynomial.chebyshev.chebval(x, list(params.background_chebyshev)) if len(
            params.background_chebyshev) else 0.0
        hump = params.hump_amplitude * np.exp(-4 * math.log(2) * (grid - params.hump_center) ** 2 / params.hump_fwhm**2)
        y = y + unit * (background + hump)
    if params.normalize and y.max() > 0:
        y = y / y.max()
    return y

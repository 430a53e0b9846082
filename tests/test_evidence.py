"""Extinction evidence: hand-made patterns of known groups, the likelihood against brute-force
integration, settings, and the fusion's fallback to the network.

Hand-made patterns are drawn in NumPy from cctbx's absences (an independent symmetry
library), so the engine's absences, extraction and likelihood are all checked against
something it did not compute itself."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import cctbx.sgtbx  # noqa: F401  (before gemmi)
from cctbx import sgtbx

import xrdfast
from xrdfast import _core
from xrdfast.evidence import extinction_evidence, make_instrument
from xrdfast.fusion import FUSION, FusionParameters, Indexing, fuse, fuse_pattern

WAVELENGTH = 1.540593
FWHM = 0.08            # degrees, constant: the hand-made patterns' Gaussian width
EXTRACTION_RTOL = 2e-3  # isolated noiseless peaks: the fit recovers their areas to 0.2 %
BRUTE_FORCE_ATOL = 2e-3  # nats: grid integration error of the reference on these cases


def hand_made(cell, symbol: str, seed: int = 0, noise: float = 0.002):
    """(two_theta, intensity): a Gaussian pattern of the reflections cctbx allows in
    ``symbol`` for ``cell``, intensities uniform in [0.2, 1] times multiplicity."""
    group = sgtbx.space_group_info(symbol).group()
    a, b, c, al, be, ga = cell
    ca, cb, cg = (math.cos(math.radians(x)) for x in (al, be, ga))
    g = np.array([[a * a, a * b * cg, a * c * cb], [a * b * cg, b * b, b * c * ca], [a * c * cb, b * c * ca, c * c]])
    g_star = np.linalg.inv(g)
    grid = np.arange(5.0, 90.0, 0.01)
    y = np.zeros_like(grid)
    rng = np.random.default_rng(seed)
    d_min = WAVELENGTH / (2 * math.sin(math.radians(45)))
    seen = set()
    for hkl in itertools.product(range(-12, 13), repeat=3):
        if hkl == (0, 0, 0) or (-hkl[0], -hkl[1], -hkl[2]) in seen:
            continue
        q = np.array(hkl) @ g_star @ np.array(hkl)
        if q > 1 / d_min**2 or group.is_sys_absent(hkl):
            continue
        seen.add(hkl)
        tt = 2 * math.degrees(math.asin(WAVELENGTH * math.sqrt(q) / 2))
        area = rng.uniform(0.2, 1.0)
        s = FWHM / (2 * math.sqrt(2 * math.log(2)))
        y += area * np.exp(-0.5 * ((grid - tt) / s) ** 2) / (s * math.sqrt(2 * math.pi))
    y /= y.max()
    return grid, y + noise * rng.standard_normal(len(grid)) + 0.01


def top_group(cell, lattice, two_theta, intensity) -> int:
    ins = make_instrument(WAVELENGTH, wavelength2=0.0, widths={"W": FWHM**2, "eta": 0.0})
    ev = extinction_evidence(two_theta, intensity, cell, lattice, instrument=ins, background=np.full(len(two_theta), 0.01))
    return ev.ranked()[0][0]


@pytest.mark.parametrize("symbol", ["P m -3 m", "I m -3 m", "F m -3 m", "F d -3 m", "P a -3", "I a -3 d"])
def test_cubic_group_and_its_supergroups(symbol: str) -> None:
    cell = (7.3, 7.3, 7.3, 90, 90, 90)
    x, y = hand_made(cell, symbol)
    assert top_group(cell, "cP", x, y) == xrdfast.extinction_group(symbol.replace(" ", "")).number


@pytest.mark.parametrize("symbol", ["P m m m", "P n m a", "P 21 21 21", "C m c m", "I b a m", "F d d d"])
def test_orthorhombic_groups(symbol: str) -> None:
    cell = (5.13, 6.37, 7.71, 90, 90, 90)
    x, y = hand_made(cell, symbol, seed=1)
    assert top_group(cell, "oP", x, y) == xrdfast.extinction_group(symbol.replace(" ", "")).number


def test_monoclinic_cell_choices_give_one_group() -> None:
    """P 1 21/c 1 and P 1 21/n 1 (cell choices of P21/c) in their own cells: the same group."""
    for symbol, cell in [("P 1 21/c 1", (5.2, 6.1, 7.4, 90, 104.0, 90)), ("P 1 21/n 1", (5.2, 6.1, 7.3, 90, 97.0, 90))]:
        x, y = hand_made(cell, symbol, seed=2)
        assert top_group(cell, "mP", x, y) == xrdfast.extinction_group(14).number


def _log_integral_reference(q: np.ndarray, rhs: np.ndarray, allowed: np.ndarray, mean: np.ndarray) -> float:
    """log of prod lambda_j * int_{I_P >= 0} exp(I.rhs - I.Q.I/2 - lambda.I) dI_P on a fine grid."""
    present = np.flatnonzero(allowed > 0)
    lam = 1.0 / (allowed[present] * mean[present])
    qp, rp = q[np.ix_(present, present)], rhs[present]
    sd = 1 / np.sqrt(np.diag(qp))
    centre = np.linalg.solve(qp, rp - lam)
    axes = [np.linspace(0, max(c, 0) + 12 * s, 1601) for c, s in zip(centre, sd)]
    mesh = np.meshgrid(*axes, indexing="ij")
    pts = np.stack([m.ravel() for m in mesh], 1)
    expo = pts @ (rp - lam) - 0.5 * np.einsum("ni,ij,nj->n", pts, qp, pts)
    top = expo.max()
    dv = np.prod([ax[1] - ax[0] for ax in axes])
    # trapezoid weights on each axis
    w = np.ones(pts.shape[0])
    for k, ax in enumerate(axes):
        edge = (mesh[k].ravel() == ax[0]) | (mesh[k].ravel() == ax[-1])
        w[edge] *= 0.5
    return float(np.sum(np.log(lam)) + top + np.log(np.sum(w * np.exp(expo - top)) * dv))


@pytest.mark.parametrize("case", ["one", "independent", "one forbidden", "partly allowed", "correlated"])
def test_likelihood_against_brute_force_integration(case: str) -> None:
    sig = np.array([0.3, 0.5])
    i_hat = np.array([0.8, 0.1])
    corr = 0.0
    allowed = np.array([1.0, 1.0], dtype=np.float32)
    mean = np.array([1.5, 0.9])
    if case == "one":
        sig, i_hat, allowed, mean = sig[:1], i_hat[:1], allowed[:1], mean[:1]
    elif case == "one forbidden":
        allowed[1] = 0
    elif case == "partly allowed":
        allowed[1] = 0.5
    elif case == "correlated":
        corr = -0.3
    cov = np.diag(sig**2)
    if len(sig) == 2:
        cov[0, 1] = cov[1, 0] = corr * sig[0] * sig[1]
    q = np.linalg.inv(cov)
    rhs = q @ i_hat
    ours = _core.gaussian_wilson_log_likelihood(q, rhs, allowed.tolist(), mean.tolist())
    ref = _log_integral_reference(q, rhs, allowed, mean)
    # the orthant probability is a product of marginals: exact without correlation, an
    # approximation with it (here -0.3 correlation, both means well inside the orthant)
    tol = BRUTE_FORCE_ATOL if case != "correlated" else 0.05
    assert ours == pytest.approx(ref, abs=tol)


def test_extraction_recovers_isolated_areas() -> None:
    cell = (4.0, 4.0, 4.0, 90, 90, 90)
    x, y = hand_made(cell, "P m -3 m", seed=3, noise=0.0)
    ins = make_instrument(WAVELENGTH, wavelength2=0.0, widths={"W": FWHM**2, "eta": 0.0})
    ev = extinction_evidence(x, y, cell, "cP", instrument=ins, background=np.full(len(x), 0.01))
    raw = ev.raw
    # reference: the area of each peak by direct summation over +-5 FWHM of the noiseless data
    for tt, area in zip(raw["two_theta"], raw["intensity"]):
        window = np.abs(x - tt) < 5 * FWHM
        assert area == pytest.approx(np.sum(y[window] - 0.01) * 0.01, rel=EXTRACTION_RTOL)


def _permuted_crystal(crystal, perm):
    """The same structure with axes permuted: x'_i = x_perm[i]."""
    p = np.zeros((3, 3), dtype=int)
    for i, j in enumerate(perm):
        p[i, j] = 1
    triplets = []
    for op in crystal.operations:
        r = p @ np.array(op.rotation) @ p.T
        t = p @ np.array(op.translation, dtype=float)
        terms = []
        for i in range(3):
            s = "".join(("+" if v > 0 else "-") + "xyz"[k] for k, v in enumerate(r[i]) if v)
            frac = t[i] % 1
            if frac:
                s += f"+{int(round(frac * 24))}/24"
            terms.append(s.lstrip("+"))
        triplets.append(",".join(terms))
    atoms = crystal.sites()
    cell = crystal.cell
    new_cell = tuple(cell[j] for j in perm) + tuple(cell[3 + j] for j in perm)
    return xrdfast.from_arrays(new_cell, triplets, list(atoms["types"]), np.asarray(atoms["frac"])[:, list(perm)],
                               b_iso=np.asarray(atoms["b_iso"]))


def test_two_axis_settings_give_the_same_group() -> None:
    pnma = xrdfast.from_arrays((8.48, 5.40, 6.96, 90, 90, 90), "Pnma", ["Pb", "S", "O", "O", "O"],
                               [[0.188, 0.25, 0.167], [0.063, 0.25, 0.684], [0.908, 0.25, 0.595],
                                [0.193, 0.25, 0.543], [0.081, 0.027, 0.809]])
    other = _permuted_crystal(pnma, (2, 0, 1))  # Pnma in the "cab"-type setting
    widths = dict(U=0.004, V=-0.002, W=0.004, eta=0.3)
    groups = []
    for crystal in (pnma, other):
        pattern = xrdfast.simulate(crystal, seed=4, counts=20000, **widths)
        ev = extinction_evidence(pattern.two_theta, pattern.intensity, crystal.cell, "oP", widths=widths)
        groups.append(ev.ranked()[0][0])
    assert groups == [17, 17]


def test_compatible_settings_follow_the_metric() -> None:
    mono = _core.compatible_settings((5.2, 6.1, 7.4, 90, 104.0, 90), "mP")
    choices = {_core.SpaceGroup.from_hall_number(h).choice for _, h, _ in mono}
    assert choices and all(c.lstrip("-").startswith("b") for c in choices)  # unique axis b only
    p21c = {_core.SpaceGroup.from_hall_number(h).hm for eg, h, _ in mono if eg == 4}
    assert {"P 1 21/c 1", "P 1 21/n 1", "P 1 21/a 1"} <= p21c
    hexa = _core.compatible_settings((5.0, 5.0, 13.0, 90, 90, 120), "hR")
    r3c = [(h, rev) for eg, h, rev in hexa if _core.SpaceGroup.from_hall_number(h).number == 167]
    assert {rev for _, rev in r3c} == {False, True}
    ortho = _core.compatible_settings((5.1, 6.3, 7.7, 90, 90, 90), "oP")
    assert len({h for _, h, _ in ortho if _core.SpaceGroup.from_hall_number(h).number == 62}) == 6


def test_fusion_reduces_to_the_network_without_a_cell() -> None:
    rng = np.random.default_rng(0)
    net = rng.dirichlet(np.ones(99))
    x = np.linspace(5, 90, 100)
    f = fuse_pattern(net, x, np.zeros_like(x), None, WAVELENGTH)
    assert f.method == "network only" and np.array_equal(f.probabilities, net)
    low = fuse_pattern(net, x, np.zeros_like(x), Indexing((5, 5, 5, 90, 90, 90), "cP", figure_of_merit=2.0), WAVELENGTH)
    assert low.method == "network only" and "figure of merit" in low.note
    flat = np.full(99, np.nan)
    flat[80:98] = 0.0  # a lattice system whose groups the evidence cannot tell apart
    untempered = FusionParameters(weight=0.5, network_power=1.0, outside=-12.0)
    fused = fuse(net, flat, untempered)
    inside = net[80:98] / net[80:98].sum()
    assert fused[80:98] / fused[80:98].sum() == pytest.approx(inside, rel=1e-9)
    # tempered (the shipped fusion): the network's order within the system stands
    shipped = fuse(net, flat)
    assert np.array_equal(np.argsort(shipped[80:98]), np.argsort(net[80:98]))


def test_fusion_mixes_the_posterior_and_the_network_by_the_trust_in_the_cell() -> None:
    rng = np.random.default_rng(1)
    net = rng.dirichlet(np.ones(99))
    ll = np.full(99, np.nan)
    ll[30:50] = rng.normal(0, 3, 20)
    params = FusionParameters(weight=0.7, network_share=0.2, outside=-5.0, trust_intercept=-4.0, trust_slope=1.0,
                              trust_unindexed=-3.0, trust_misfit=-0.5, min_figure_of_merit=10.0)
    q = net * np.exp(np.where(np.isnan(ll), -5.0, 0.7 * ll))  # Bayes by hand
    q /= q.sum()
    for m20, unindexed, chi2 in ((5.0, 0.0, 1.0), (20.0, 0.1, 2.0), (100.0, 0.0, 1.0), (math.inf, 0.5, 9.0)):
        z = -4.0 + math.log(m20) - 3.0 * unindexed - 0.5 * math.log(chi2)
        trust = 0.0 if m20 < 10 else 0.8 / (1 + math.exp(-z))
        np.testing.assert_allclose(fuse(net, ll, params, m20, unindexed, chi2), trust * q + (1 - trust) * net, rtol=1e-12)
    assert np.all(np.diff(params.trust(np.array([10.0, 20.0, 50.0, 1e3, math.inf]))) > 0)
    assert params.trust(np.nan) == 0.0  # no indexing, no trust
    np.testing.assert_allclose(fuse(net, np.full(99, np.nan), params, 1e3), net)  # no evidence: the network
    # a tempered network: its probabilities to the power network_power in Bayes' numerator
    tempered = FusionParameters(weight=0.7, network_power=0.4, outside=-5.0, min_figure_of_merit=10.0)
    q = net**0.4 * np.exp(np.where(np.isnan(ll), -5.0, 0.7 * ll))
    np.testing.assert_allclose(fuse(net, ll, tempered, 100.0), q / q.sum(), rtol=1e-12)


def test_trust_discounts_cells_of_low_symmetry() -> None:
    """The trust's logit by hand: intercept + slope ln M20 + the indexed system's offset
    (triclinic, monoclinic, orthorhombic; none for the higher systems or no cell); one batched
    call agrees with the rows one by one."""
    rng = np.random.default_rng(2)
    net = rng.dirichlet(np.ones(99))
    ll = np.full(99, np.nan)
    ll[30:50] = rng.normal(0, 3, 20)
    params = FusionParameters(weight=0.7, outside=-5.0, trust_intercept=-1.0, trust_slope=0.5, trust_triclinic=-2.0,
                              trust_monoclinic=-1.0, trust_orthorhombic=-0.5, min_figure_of_merit=10.0)
    q = net * np.exp(np.where(np.isnan(ll), -5.0, 0.7 * ll))
    q /= q.sum()
    lattices = ("aP", "mC", "oI", "tP", "cF", "")
    rows = []
    for lattice, offset in zip(lattices, (-2.0, -1.0, -0.5, 0.0, 0.0, 0.0)):
        z = -1.0 + 0.5 * math.log(100.0) + offset
        trust = 1 / (1 + math.exp(-z))
        rows.append(fuse(net, ll, params, 100.0, lattice=lattice))
        np.testing.assert_allclose(rows[-1], trust * q + (1 - trust) * net, rtol=1e-12)
    batch = fuse(np.tile(net, (6, 1)), np.tile(ll, (6, 1)), params, 100.0, lattice=np.array(lattices))
    np.testing.assert_allclose(batch, np.array(rows), rtol=1e-12)
    assert params.trust(100.0, lattice="mP") < params.trust(100.0, lattice="hP")


def test_trust_grows_with_the_number_of_peaks_found() -> None:
    """The trust's logit by hand: + trust_peaks ln(n / 20) for n peaks found; an unknown
    count (0) reads as twenty, and a cell given by hand (M20 = inf) stays fully trusted."""
    params = FusionParameters(trust_intercept=-1.0, trust_slope=0.5, trust_peaks=1.5, min_figure_of_merit=10.0)
    for n in (5, 12, 20, 60):
        z = -1.0 + 0.5 * math.log(100.0) + 1.5 * math.log(n / 20)
        assert params.trust(100.0, peaks=n) == pytest.approx(1 / (1 + math.exp(-z)), rel=1e-12)
    counts = np.array([4, 8, 16, 32, 64])
    assert np.all(np.diff(params.trust(np.full(5, 100.0), peaks=counts)) > 0)
    assert params.trust(100.0, peaks=0) == pytest.approx(params.trust(100.0, peaks=20), rel=1e-12)
    assert params.trust(math.inf, peaks=4) == 1.0


def test_robust_evidence_caps_how_far_one_group_can_fall() -> None:
    """The robust likelihood (1 - rho) exp(w l) + rho, by hand: with rho = 0 the plain
    tempered Bayes; with rho > 0 a group the evidence rejects by 100 or by 10,000 nats keeps
    rho times its network prior, so the network orders the rejected groups."""
    from xrdfast.fusion import posterior

    rng = np.random.default_rng(2)
    net = rng.dirichlet(np.ones(99))
    ll = np.full(99, np.nan)
    ll[30:50] = rng.normal(0, 3, 20)
    ll[40], ll[41] = -100.0, -1e4
    plain = FusionParameters(weight=0.6, network_power=0.7, outside=-5.0)
    robust = FusionParameters(weight=0.6, network_power=0.7, outside=-5.0, robustness=0.05)
    by_hand = net**0.7 * np.where(np.isnan(ll), math.exp(-5.0), 0.95 * np.exp(0.6 * np.nan_to_num(ll)) + 0.05)
    np.testing.assert_allclose(posterior(net, ll, robust), by_hand / by_hand.sum(), rtol=1e-12)
    q = net**0.7 * np.exp(np.where(np.isnan(ll), -5.0, 0.6 * np.nan_to_num(ll)))
    np.testing.assert_allclose(posterior(net, ll, plain), q / q.sum(), rtol=1e-12)
    p = posterior(net, ll, robust)
    assert p[40] / p[41] == pytest.approx((net[40] / net[41]) ** 0.7, rel=1e-12)
    assert posterior(net, ll, plain)[41] == 0.0  # exp(-6,000): the plain evidence rules it out for good
    assert p[41] == pytest.approx(0.05 * net[41] ** 0.7 / by_hand.sum(), rel=1e-9)


def test_a_cell_that_leaves_many_peaks_unindexed_warns_of_a_mixture() -> None:
    from xrdfast.classify import MIXTURE_UNINDEXED, _fusion_warnings
    from xrdfast.fusion import Fused

    net = np.full(99, 1 / 99)
    for unindexed in (0.1, 0.5):
        ix = Indexing((5.64, 5.64, 5.64, 90, 90, 90), "cF", 60.0, unindexed=unindexed)
        warned = any("likely a mixture" in w for w in _fusion_warnings(Fused(net, "indexed", ix, None)))
        assert warned == (unindexed > MIXTURE_UNINDEXED)


def test_classify_with_and_without_a_cell() -> None:
    nacl = xrdfast.from_arrays((5.64, 5.64, 5.64, 90, 90, 90), 225, ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    widths = dict(U=0.005, V=-0.001, W=0.005, eta=0.2)
    pattern = xrdfast.simulate(nacl, seed=1, counts=3000, **widths)
    alone = xrdfast.classify((pattern.two_theta, pattern.intensity), index=False)
    assert alone.method == "network only" and alone.cell is None
    given = xrdfast.classify((pattern.two_theta, pattern.intensity),
                             indexing=Indexing(nacl.cell, "cF", 50.0, 0.0, widths))
    assert given.method == "indexed" and given.top.extinction_group == 94
    assert given.threshold == FUSION.abstain_below and "EG 94" in given.evidence.explain()

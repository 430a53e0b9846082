"""PANalytical XRDML (.xrdml), XRDMeasurement schema 1.0 to 2.x (www.xrdml.com).

PANalytical XRDML (.xrdml): the XRDMeasurement schema, versions 1.0 to 2.x (www.xrdml.com).
2θ from ``<positions axis="2Theta">`` as start/end or ``listPositions``; ``<counts>`` (1.3+)
or ``<intensities>``; counts are multiplied by ``beamAttenuationFactors`` and divided by
``commonCountingTime``/``countingTimes`` (counts per second), so points counted differently
are comparable; Kα1/Kα2 from ``usedWavelength``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from xrdfast.readers._base import (_Scan, _angstrom, _child, _children, _error, _local, _points, _xml,
                                   _xml_float, _xml_numbers)


def _read_xrdml(src: str, data: bytes) -> _Scan:
    root = _xml(src, data, "PANalytical XRDML")
    if _local(root.tag) != "xrdMeasurements":
        raise _error(src, f"the root element is <{_local(root.tag)}>; expected <xrdMeasurements> "
                     "(PANalytical XRDML)")
    scans = [(m, s) for m in _children(root, "xrdMeasurement") for s in _children(m, "scan")]
    if not scans:
        raise _error(src, "no <xrdMeasurement>/<scan>; expected at least one measured scan")
    chosen = None
    for number, (measurement, scan) in enumerate(scans, 1):
        points = _child(scan, "dataPoints")
        axes = [] if points is None else _children(points, "positions")
        two_theta = [a for a in axes if a.get("axis", "").replace("-", "").lower() == "2theta"]
        if two_theta:
            chosen = (number, measurement, points, two_theta[0])
            break
    if chosen is None:
        raise _error(src, "no scan has <dataPoints>/<positions axis=\"2Theta\">; expected a 2θ scan "
                     "(rocking curves and other axes are not powder patterns)")
    number, measurement, points, axis = chosen
    counts_element = _child(points, "counts")
    if counts_element is None:
        counts_element = _child(points, "intensities")
    if counts_element is None:
        raise _error(src, f"scan {number}: <dataPoints> has neither <counts> nor <intensities>")
    tag = _local(counts_element.tag)
    counts = _xml_numbers(src, counts_element, tag)
    n = len(counts)
    if n == 0:
        raise _error(src, f"scan {number}: <{tag}> is empty; expected one value per step")
    listed = _child(axis, "listPositions")
    start, end = _child(axis, "startPosition"), _child(axis, "endPosition")
    if listed is not None:
        x = _xml_numbers(src, listed, "listPositions")
        if len(x) != n:
            raise _error(src, f"scan {number}: <listPositions> has {len(x)} values but <{tag}> has {n}; "
                         "expected one per step")
    elif start is not None and end is not None:
        a, b = _xml_numbers(src, start, "startPosition"), _xml_numbers(src, end, "endPosition")
        if len(a) != 1 or len(b) != 1:
            raise _error(src, f"scan {number}: <startPosition>/<endPosition> must each hold one number")
        x = np.linspace(a[0], b[0], n)
    elif _child(axis, "commonPosition") is not None:
        raise _error(src, f"scan {number}: 2θ is fixed (<commonPosition>); expected a 2θ scan")
    else:
        raise _error(src, f"scan {number}: <positions axis=\"2Theta\"> has neither "
                     "<startPosition>/<endPosition> nor <listPositions>")
    factors = np.ones(n)
    attenuation = _child(points, "beamAttenuationFactors")
    if attenuation is not None:
        factors = _xml_numbers(src, attenuation, "beamAttenuationFactors")
        if len(factors) != n:
            raise _error(src, f"scan {number}: <beamAttenuationFactors> has {len(factors)} values but "
                         f"<{tag}> has {n}")
    time: np.ndarray | None = None
    common, listed_times = _child(points, "commonCountingTime"), _child(points, "countingTimes")
    if common is not None:
        time = _xml_numbers(src, common, "commonCountingTime")
        if len(time) != 1:
            raise _error(src, f"scan {number}: <commonCountingTime> must hold one number")
    elif listed_times is not None:
        time = _xml_numbers(src, listed_times, "countingTimes")
        if len(time) != n:
            raise _error(src, f"scan {number}: <countingTimes> has {len(time)} values but <{tag}> has {n}")
    if time is not None and not (time > 0).all():
        raise _error(src, f"scan {number}: a counting time is ≤ 0; expected seconds > 0")
    unit = counts_element.get("unit", "counts").strip().lower()
    meta: dict[str, Any] = {"scans_in_file": len(scans), "scan": number}
    if unit == "counts":
        intensity = counts * factors
        sigma = np.sqrt(np.clip(counts, 0.0, None)) * factors  # Poisson
        if time is not None:
            intensity, sigma = intensity / time, sigma / time
            meta["intensity_unit"] = "counts per second"
    else:  # already a rate ("counts per second", "cps")
        intensity, sigma = counts, None
        meta["intensity_unit"] = unit
    ka1 = ka2 = None
    used = _child(measurement, "usedWavelength")
    if used is not None:
        k1, k2 = _child(used, "kAlpha1"), _child(used, "kAlpha2")
        ka1 = _angstrom(_xml_float(k1), None if k1 is None else k1.get("unit"))
        ka2 = _angstrom(_xml_float(k2), None if k2 is None else k2.get("unit"))
        ratio = _xml_float(_child(used, "ratioKAlpha2KAlpha1"))
        meta["intended_wavelength"] = used.get("intended")
        meta["kalpha2_ratio"] = ratio
        if used.get("intended", "").replace(" ", "").lower() == "k-alpha1" or ratio == 0:
            ka2 = None  # monochromated: no Kα2 in the beam
    return _Scan(x, intensity, sigma, _points(f"<{tag}> point"), ka1, ka2, meta)

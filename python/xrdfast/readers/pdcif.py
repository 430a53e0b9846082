"""Powder CIF (pdCIF) patterns.

Powder CIF (.cif): the pdCIF dictionary (Toby, International Tables vol. G, ch. 3.3 and
4.2): a loop of ``_pd_meas_2theta_scan`` or ``_pd_proc_2theta_corrected`` (or the
``_pd_meas_2theta_range_min/max/inc`` triple) with ``_pd_meas_counts_total``,
``_pd_meas_intensity_total`` or ``_pd_proc_intensity_total``; esds from ``value(esd)``;
wavelength from ``_diffrn_radiation_wavelength``. Parsed by gemmi.
"""
from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from xrdfast.readers._base import (MAX_POINTS, PatternReadError, _Scan, _error, _plausible, _points, _quote,
                                   _text)


_CIF_X = ("_pd_meas_2theta_scan", "_pd_proc_2theta_corrected", "_pd_meas.2theta_scan",
          "_pd_proc.2theta_corrected")

_CIF_Y = ("_pd_meas_counts_total", "_pd_meas_intensity_total", "_pd_proc_intensity_total",
          "_pd_proc_intensity_net", "_pd_meas.counts_total", "_pd_meas.intensity_total",
          "_pd_proc.intensity_total", "_pd_proc.intensity_net")

_CIF_RANGE = (("_pd_meas_2theta_range_min", "_pd_meas_2theta_range_max", "_pd_meas_2theta_range_inc"),
              ("_pd_proc_2theta_range_min", "_pd_proc_2theta_range_max", "_pd_proc_2theta_range_inc"),
              ("_pd_meas.2theta_range_min", "_pd_meas.2theta_range_max", "_pd_meas.2theta_range_inc"),
              ("_pd_proc.2theta_range_min", "_pd_proc.2theta_range_max", "_pd_proc.2theta_range_inc"))

_CIF_WAVELENGTH = ("_diffrn_radiation_wavelength", "_diffrn_radiation_wavelength.value",
                   "_diffrn_radiation_wavelength.wavelength")

_CIF_NUMBER = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?:\((\d+)\))?$")


def _cif_number(text: str) -> tuple[float, float | None] | None:
    """"12.5(3)" -> (12.5, 0.3); None for '?', '.' and non-numbers."""
    match = _CIF_NUMBER.match(text.strip())
    if not match:
        return None
    value, esd = match.groups()
    if esd is None:
        return float(value), None
    mantissa = value.lower().split("e")[0]
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    exponent = int(value.lower().split("e")[1]) if "e" in value.lower() else 0
    return float(value), int(esd) * 10.0 ** (exponent - decimals)


def _read_cif(src: str, data: bytes) -> _Scan:
    import gemmi  # lazily: importing gemmi before cctbx crashes cctbx

    text = _text(src, data, "CIF")
    try:
        document = gemmi.cif.read_string(text)
    except (ValueError, RuntimeError) as exc:
        message = re.sub(r"^string:(\d+):", r"line \1:", str(exc))
        raise _error(src, f"not valid CIF syntax ({message})") from None
    for block in document:
        scan = _cif_block(src, block)
        if scan is not None:
            scan.metadata["block"] = block.name
            if scan.wavelength is None:  # pdCIF may keep the radiation in another block
                for other in document:
                    scan.wavelength, scan.wavelength2 = _cif_wavelengths(other)
                    if scan.wavelength is not None:
                        break
            return scan
    raise _error(src, f"no data block has a loop of {' or '.join(_CIF_Y[:3])} (with "
                 f"{_CIF_X[0]}, {_CIF_X[1]} or a 2θ range); expected a powder pattern CIF")


def _cif_wavelengths(block: Any) -> tuple[float | None, float | None]:
    for tag in _CIF_WAVELENGTH:
        column = block.find_loop(tag)
        values = list(column) if len(column) else ([block.find_value(tag)] if block.find_value(tag) else [])
        parsed = [_cif_number(v) for v in values]
        stated = [_plausible(p[0]) for p in parsed if p is not None]
        stated = [w for w in stated if w is not None]
        if stated:
            return stated[0], (stated[1] if len(stated) > 1 else None)
    return None, None


def _cif_block(src: str, block: Any) -> _Scan | None:
    y_tag = next((t for t in _CIF_Y if len(block.find_loop(t))), None)
    if y_tag is None:
        return None
    loop = block.find_loop_item(y_tag).loop
    tags = [t.lower() for t in loop.tags]
    width = len(tags)
    cells = list(loop.values)
    rows = len(cells) // width
    where = f"{src} [data_{block.name}]"

    def column(tag: str) -> tuple[np.ndarray, np.ndarray | None]:
        k = tags.index(tag.lower())
        values, esds = np.empty(rows), np.empty(rows)
        for i in range(rows):
            parsed = _cif_number(cells[i * width + k])
            if parsed is None:
                raise PatternReadError(f"{where}, loop row {i + 1}: {tag} is {_quote(cells[i * width + k])}; "
                                       "expected a number")
            values[i], esd = parsed
            esds[i] = np.nan if esd is None else esd
        return values, (None if np.isnan(esds).any() else esds)

    y, sigma = column(y_tag)
    x_tag = next((t for t in _CIF_X if t.lower() in tags), None)
    if x_tag is not None:
        x, _ = column(x_tag)
    else:
        triple = next((r for r in _CIF_RANGE if block.find_value(r[0]) is not None), None)
        if triple is None:
            raise _error(where, f"the loop of {y_tag} has no 2θ column ({_CIF_X[0]}, {_CIF_X[1]}) and the "
                         f"block no {_CIF_RANGE[0][0]}/max/inc; expected one of them")
        bounds = [_cif_number(block.find_value(t) or "") for t in triple]
        if any(b is None for b in bounds):
            raise _error(where, f"{'/'.join(triple)} must all be numbers")
        low, high, step = (b[0] for b in bounds)  # type: ignore[index]
        if not step > 0:
            raise _error(where, f"{triple[2]} is {step:g}; expected a step > 0")
        count = (high - low) / step + 1
        if not math.isfinite(count) or count > MAX_POINTS:
            raise _error(where, f"the 2θ range {low:g}..{high:g} with step {step:g} would hold {count:.3g} "
                         f"points; more than the {MAX_POINTS} accepted (check {triple[2]})")
        expected = int(round(count))
        if expected != rows:
            raise _error(where, f"the 2θ range {low:g}..{high:g} step {step:g} has {expected} points but "
                         f"the loop of {y_tag} has {rows}")
        x = low + step * np.arange(rows)
    if sigma is None:
        su = f"{y_tag}_su"
        if su in tags:
            sigma, _ = column(su)
    wavelength, wavelength2 = _cif_wavelengths(block)
    return _Scan(x, y, sigma, _points("loop row"), wavelength, wavelength2,
                 {"intensity_tag": y_tag, "two_theta_tag": x_tag or "range"})

"""Rigaku RAS (.ras) and RASX (.rasx).

Rigaku RAS (.ras): ``*KEY "value"`` header, points between ``*RAS_INT_START`` and
``*RAS_INT_END`` as ``2θ counts attenuation`` (counts × attenuation is the intensity);
wavelength from ``*HW_XG_WAVE_LENGTH_ALPHA1`` and ``*MEAS_COND_XG_WAVE_TYPE``, else the
anode ``*HW_XG_TARGET_NAME``. RASX (.rasx): a zip of ``Data0/Profile0.txt`` (the same three
columns) and ``Data0/MesurementConditions0.xml`` (sic).
"""
from __future__ import annotations

import re
from typing import Any

from xrdfast.readers._base import (ANODE_WAVELENGTHS, MAX_XML_BYTES, _Scan, _angstrom, _columns, _descendants,
                                   _error, _first_member, _lines, _member, _plausible, _text, _xml, _zip)


_RASX_PROFILE = re.compile(r"(^|/)Data(\d+)/Profile(\d+)\.txt$")


def _wave(src: str, wave_type: str | None, ka1: float | None, ka2: float | None,
          kb: float | None, anode: str | None) -> tuple[float | None, float | None, str]:
    """(λ, λ2, where from) for a Rigaku wave type ("Ka1", "Ka", "Kb"), falling back on the
    anode's tabulated lines when the wavelengths are not stated."""
    key = (anode or "").strip().capitalize()
    table = ANODE_WAVELENGTHS.get(key)
    origin = "file"
    if ka1 is None and table is not None:
        ka1, ka2, origin = table[0], table[1], f"anode {key} (tabulated)"
    kind = (wave_type or "").replace(" ", "").replace("-", "").lower()
    if kind.startswith("kb"):
        return kb, None, origin
    if kind == "ka1":
        return ka1, None, origin
    return ka1, ka2, origin


def _is_two_theta_axis(axis: str) -> bool:
    """Rigaku names 2θ scans TwoThetaTheta, TwoThetaOmega, TwoTheta, 2-Theta/Omega...; an
    unnamed axis is taken as 2θ, the only kind a powder RAS is written for."""
    name = axis.replace("-", "").replace(" ", "").lower()
    return not name or "2theta" in name or "twotheta" in name


def _read_ras(src: str, data: bytes) -> _Scan:
    text = _text(src, data, "Rigaku RAS", strict=False)
    lines = text.splitlines()
    header: dict[str, str] = {}
    start = None
    blocks = 0
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("*RAS_INT_START"):
            blocks += 1
            if start is None:
                start = number
        elif start is None and stripped.startswith("*"):
            key, _, value = stripped[1:].partition(" ")
            header.setdefault(key, value.strip().strip('"'))
    if start is None:
        raise _error(src, "no *RAS_INT_START data section; expected a Rigaku RAS file")
    end = next((i for i in range(start, len(lines)) if lines[i].strip().startswith("*RAS_INT_END")), None)
    if end is None:
        raise _error(src, f"the data section opened at line {start} has no *RAS_INT_END; the file is "
                     "truncated")
    table, numbers, _ = _columns(src, "\n".join(lines[start:end]), "2θ, counts[, attenuation]",
                                 first_line=start + 1)
    if not len(table):
        raise _error(src, f"the data section at line {start} holds no points")
    axis = header.get("MEAS_SCAN_AXIS_X", "")
    if not _is_two_theta_axis(axis):
        raise _error(src, f"the scan axis is {axis!r}; expected a 2θ scan (TwoThetaTheta, TwoTheta, "
                     "2-Theta/Omega)")
    intensity = table[:, 1] * (table[:, 2] if table.shape[1] == 3 else 1.0)
    unit = header.get("HW_XG_WAVE_LENGTH_UNIT")

    def stated(key: str) -> float | None:
        try:
            return _angstrom(float(header.get(key, "")), unit)
        except ValueError:
            return None

    wavelength, wavelength2, origin = _wave(
        src, header.get("MEAS_COND_XG_WAVE_TYPE"), stated("HW_XG_WAVE_LENGTH_ALPHA1"),
        stated("HW_XG_WAVE_LENGTH_ALPHA2"), stated("HW_XG_WAVE_LENGTH_BETA"),
        header.get("HW_XG_TARGET_NAME"))
    meta = {"blocks_in_file": blocks, "scan_axis": header.get("MEAS_SCAN_AXIS_X"),
            "anode": header.get("HW_XG_TARGET_NAME"), "wavelength_source": origin,
            "intensity_unit": header.get("MEAS_SCAN_UNIT_Y", "counts")}
    return _Scan(table[:, 0], intensity, None, _lines(numbers), wavelength, wavelength2, meta)


def _read_rasx(src: str, data: bytes) -> _Scan:
    archive = _zip(src, data, "Rigaku RASX")
    profiles = sorted(n for n in archive.namelist() if _RASX_PROFILE.search(n))
    name = _first_member(src, archive, profiles, "Data0/Profile0.txt", "Rigaku RASX")
    where = f"{src} [{name}]"
    text = _text(where, _member(src, archive, name), "Rigaku profile")
    table, numbers, _ = _columns(where, text, "2θ, counts[, attenuation]")
    if not len(table):
        raise _error(where, "no data; expected rows of 2θ, counts, attenuation")
    intensity = table[:, 1] * (table[:, 2] if table.shape[1] == 3 else 1.0)
    folder = name.rsplit("/", 1)[0]
    conditions = [n for n in archive.namelist()
                  if n.startswith(folder + "/") and re.search(r"Me(a)?surementConditions\d*\.xml$", n)]
    meta: dict[str, Any] = {"member": name, "profiles_in_file": len(profiles)}
    wavelength = wavelength2 = None
    if conditions:
        root = _xml(f"{src} [{conditions[0]}]", _member(src, archive, conditions[0], MAX_XML_BYTES), "Rigaku conditions")

        def first(tag: str) -> str | None:
            found = _descendants(root, tag)
            return (found[0].text or "").strip() if found else None

        axis = first("AxisName")
        if not _is_two_theta_axis(axis or ""):
            raise _error(src, f"the scan axis is {axis!r}; expected a 2θ scan (TwoThetaTheta, TwoTheta)")
        wavelength, wavelength2, origin = _wave(
            src, first("WaveType"), _plausible(first("WavelengthKalpha1")),
            _plausible(first("WavelengthKalpha2")), _plausible(first("WavelengthKbeta")),
            first("TargetName"))
        meta.update({"scan_axis": axis, "anode": first("TargetName"), "wavelength_source": origin,
                     "intensity_unit": first("IntensityUnit") or "counts"})
    return _Scan(table[:, 0], intensity, None, _lines(numbers), wavelength, wavelength2, meta)

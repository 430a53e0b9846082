"""GSAS raw files (.gsa .gss .gsas .fxye .fxy .xra .cwn .gda, or .raw with a BANK line).

GSAS raw (.gsa .gss .gsas .fxye .fxy, or .raw with a BANK line): GSAS manual (Larson & Von
Dreele, LAUR 86-748, "GSAS standard powder data file"): a title line, then ``BANK ibank
nchan nrec CONST start step 0 0 type`` with start and step in centidegrees and type STD (10
× (I2 counters, F6 intensity) a line), ESD (5 × (F8 I, F8 esd)), FXY or FXYE (x in
centidegrees, y[, esd] a line). Only CONST (constant-wavelength 2θ) banks.
A wavelength stated in the title or the comment lines before the bank (11-BM and GSAS-II
write ``# Calibrated wavelength = 0.413909``) is read.
"""
from __future__ import annotations

import numpy as np

from xrdfast.readers._base import (PatternReadError, _Scan, _error, _floats, _header_wavelength, _lines,
                                   _quote, _text)


_GSAS_TYPES = ("STD", "ESD", "FXYE", "FXY", "ALT")


def _read_gsas(src: str, data: bytes) -> _Scan:
    lines = _text(src, data, "GSAS").splitlines()
    bank = next((i for i, line in enumerate(lines) if line.startswith("BANK")), None)
    if bank is None:
        raise _error(src, "no BANK line; expected a GSAS raw file (title line, then 'BANK ibank nchan "
                     "nrec CONST start step 0 0 type' and the data)")
    line = lines[bank]
    number = bank + 1
    tokens = line.split()
    shape = "'BANK ibank nchan nrec CONST bcoef1 bcoef2 ...'"
    try:
        nchan, bintyp = int(tokens[2]), tokens[4].upper()
        int(tokens[1]), int(tokens[3])
    except (IndexError, ValueError):
        raise PatternReadError(f"{src}, line {number}: expected {shape}, got {_quote(line)}") from None
    kind = tokens[-1].upper() if tokens[-1].upper() in _GSAS_TYPES else "STD"
    if bintyp not in ("CONST", "CONS"):
        raise PatternReadError(f"{src}, line {number}: {bintyp} binning is time-of-flight or "
                               "log-spaced; only CONST (constant-wavelength 2θ) banks are read")
    if kind == "ALT":
        raise PatternReadError(f"{src}, line {number}: ALT records are the RALF time-of-flight layout; "
                               "expected STD, ESD, FXY or FXYE")
    if nchan < 1:
        raise PatternReadError(f"{src}, line {number}: the bank declares {nchan} points; expected ≥ 1")
    body = []
    for i in range(bank + 1, len(lines)):
        text = lines[i]
        if text.startswith(("BANK", "#", "TIME_MAP")):
            break
        if text.strip():
            body.append((i + 1, text))
    values: list[tuple[float, ...]] = []
    where: list[int] = []
    if kind in ("STD", "ESD"):
        try:
            start, step = float(tokens[5]) / 100.0, float(tokens[6]) / 100.0  # centidegrees
        except (IndexError, ValueError):
            raise PatternReadError(f"{src}, line {number}: a CONST bank needs start and step "
                                   f"(centidegrees) after CONST, got {_quote(line)}") from None
        for at, text in body:
            for value in (_std_fields if kind == "STD" else _esd_fields)(src, at, text):
                values.append(value)
                where.append(at)
        values, where = values[:nchan], where[:nchan]  # the last record is padded
        if not values:
            raise _error(src, f"the bank at line {number} holds no data")
        table = np.array(values, dtype=np.float64)
        x = start + step * np.arange(len(values))
        if kind == "STD":  # (counters, mean intensity): variance = I / counters
            y = table[:, 1]
            sigma = np.sqrt(np.clip(y, 0.0, None) / np.maximum(table[:, 0], 1.0))
        else:
            y, sigma = table[:, 0], table[:, 1]
    else:
        width = 3 if kind == "FXYE" else 2
        for at, text in body:
            row = _floats(text.split())
            if row is None or len(row) != width:
                raise PatternReadError(f"{src}, line {at}: expected {width} numbers (2θ in centidegrees, "
                                       f"intensity{', esd' if width == 3 else ''}), got {_quote(text.strip())}")
            values.append(tuple(row))
            where.append(at)
        if not values:
            raise _error(src, f"the bank at line {number} holds no data")
        table = np.array(values, dtype=np.float64)
        x, y = table[:, 0] / 100.0, table[:, 1]
        sigma = table[:, 2] if width == 3 else None
    if len(values) < nchan:
        raise _error(src, f"the bank at line {number} declares {nchan} points but the data end after "
                     f"{len(values)} (line {where[-1]}); the file is truncated")
    banks = sum(1 for text in lines if text.startswith("BANK"))
    meta = {"title": lines[0].strip(), "bank": tokens[1], "banks_in_file": banks, "gsas_type": kind}
    # GSAS itself keeps the wavelength in the instrument file, but the title and the comment
    # lines before the bank usually state it ("# Calibrated wavelength = 0.413909", as the
    # 11-BM files and GSAS-II exports do)
    wavelength = _header_wavelength(lines[:bank])
    return _Scan(x, y, sigma, _lines(where), wavelength, None, meta)


def _std_fields(src: str, at: int, text: str) -> list[tuple[float, float]]:
    """A STD record, 10 × (I2 counters, F6 intensity); free-format blank-separated
    intensities, as some converters write, are read when the fixed fields do not parse."""
    fixed: list[tuple[float, float]] = []
    padded = text.rstrip("\r\n").ljust(80)
    try:
        for k in range(0, len(padded), 8):
            field_ = padded[k:k + 8]
            if not field_.strip():
                continue
            counters = field_[:2].strip()
            fixed.append((float(int(counters)) if counters else 1.0, float(field_[2:])))
        return fixed
    except ValueError:
        free = _floats(text.split())
        if free is None:
            raise PatternReadError(f"{src}, line {at}: expected STD intensities (10 × I2,F6), got "
                                   f"{_quote(text.strip())}") from None
        return [(1.0, v) for v in free]


def _esd_fields(src: str, at: int, text: str) -> list[tuple[float, float]]:
    """An ESD record, 5 × (F8 intensity, F8 esd), or the same pairs blank-separated."""
    padded = text.rstrip("\r\n").ljust(80)
    try:
        pairs = [(float(padded[k:k + 8]), float(padded[k + 8:k + 16]))
                 for k in range(0, len(padded), 16) if padded[k:k + 16].strip()]
        return pairs
    except ValueError:
        free = _floats(text.split())
        if free is None or len(free) % 2:
            raise PatternReadError(f"{src}, line {at}: expected ESD pairs (intensity, esd), got "
                                   f"{_quote(text.strip())}") from None
        return list(zip(free[::2], free[1::2]))

"""Bruker RAW (.raw, v1-v4) and BRML (.brml).

Bruker RAW (.raw), the four binary generations: v1 ``"RAW "`` and v2 ``"RAW2"`` after the
DIFFRAC-AT manual (appendix B, "Raw Data File Format"), v3 ``"RAW1.01"`` after the
DIFFRAC^plus XCH V5.0 user's manual (2002, appendix A); v4 ``"RAW4.00"`` has no public
specification and follows the record layout decoded by xylib (M. Wojdyr, ``bruker_raw.cpp``)
and GSAS-II (``G2pwd_BrukerRAW.py``), which agree. The first range is read; float32 counts
as stored.

Bruker BRML (.brml): a zip holding ``Experiment0/RawData<n>.xml`` (DIFFRAC.SUITE); one
``<Datum>`` per step ``time, 1, 2θ, θ, counts`` (the layout GSAS-II's
``G2pwd_BrukerBRML.py`` reads), the tube's ``WaveLengthAlpha1``/``Alpha2``.
"""
from __future__ import annotations

import math
import re
import struct
from typing import Any

import numpy as np

from xrdfast.readers._base import (MAX_POINTS, MAX_XML_BYTES, _Scan, _angstrom, _children, _descendants,
                                   _error, _first_member, _floats, _member, _plausible, _points, _quote, _xml, _zip)


class _Binary:
    """Bounds-checked little-endian reads, so a truncated file names what is missing."""

    def __init__(self, src: str, data: bytes) -> None:
        self.src, self.data = src, data

    def unpack(self, fmt: str, offset: int, what: str) -> tuple[Any, ...]:
        size = struct.calcsize("<" + fmt)
        if offset < 0 or offset + size > len(self.data):
            raise _error(self.src, f"truncated: {what} at byte {offset} needs {size} bytes but the "
                         f"file has {len(self.data)}")
        return struct.unpack_from("<" + fmt, self.data, offset)

    def one(self, fmt: str, offset: int, what: str) -> Any:
        return self.unpack(fmt, offset, what)[0]

    def text(self, offset: int, length: int) -> str:
        raw = self.data[offset:offset + length].split(b"\0", 1)[0]
        return raw.decode("latin-1").strip()

    def array(self, dtype: str, offset: int, count: int, what: str) -> np.ndarray:
        size = np.dtype(dtype).itemsize * count
        if offset + size > len(self.data):
            raise _error(self.src, f"truncated: {what} needs {count} values ({size} bytes from byte "
                         f"{offset}) but only {max(len(self.data) - offset, 0)} bytes remain")
        with np.errstate(invalid="ignore"):  # signalling NaNs widen quietly; _validated names them
            return np.frombuffer(self.data, dtype=dtype, count=count, offset=offset).astype(np.float64)

# The most steps a range can hold before its size alone says the header is garbage.
_MAX_STEPS = MAX_POINTS


def _steps(src: str, steps: int, what: str) -> int:
    if not 0 < steps <= _MAX_STEPS:
        raise _error(src, f"{what} declares {steps} steps; expected 1 to {_MAX_STEPS}")
    return steps


def _read_raw(src: str, data: bytes) -> _Scan:
    b = _Binary(src, data)
    magic = data[:7]
    if magic == b"RAW4.00":
        return _raw_v4(b)
    if magic == b"RAW1.01":
        return _raw_v3(b)
    if data[:4] == b"RAW2":
        return _raw_v2(b)
    if data[:4] == b"RAW ":
        return _raw_v1(b)
    if data[:3] == b"RAW":
        raise _error(src, f"Bruker RAW variant {data[:7]!r} is not supported; RAW v1 'RAW ', v2 'RAW2', "
                     "v3 'RAW1.01' and v4 'RAW4.00' are read (convert others to .xy or .brml)")
    raise _error(src, f"starts {data[:7]!r}; expected a Bruker RAW file starting 'RAW'")


def _step_axis(src: str, start: float, step: float, n: int) -> np.ndarray:
    if not (math.isfinite(start) and math.isfinite(step) and step != 0.0):
        raise _error(src, f"range 1 has start {start:g}° and step {step:g}°; expected a finite start "
                     "and a non-zero step")
    return start + step * np.arange(n, dtype=np.float64)


def _raw_v1(b: _Binary) -> _Scan:
    # per range: 'RAW ', steps u32 @4, time/step f32 @8, step f32 @12, scan mode u32 @16,
    # start f32 @24, sample name @40 (32), Kα1 f32 @72, Kα2 f32 @76, next-range flag u32
    # @152, counts f32 from @156
    steps = _steps(b.src, b.one("I", 4, "step count"), "range 1")
    step, start = b.one("f", 12, "step"), b.one("f", 24, "start angle")
    ka1, ka2 = b.one("f", 72, "Kα1"), b.one("f", 76, "Kα2")
    counts = b.array("<f4", 156, steps, "range 1 counts")
    more = b.one("I", 152, "next-range flag")
    meta = {"raw_version": 1, "sample": b.text(40, 32), "more_ranges": bool(more),
            "time_per_step": b.one("f", 8, "time per step")}
    return _Scan(_step_axis(b.src, start, step, steps), counts, None, _points(),
                 _plausible(ka1), _plausible(ka2), meta)


def _raw_v2(b: _Binary) -> _Scan:
    # file header 256 bytes: range count u16 @4, anode @188 (2), Kα1 f32 @190, Kα2 f32 @194,
    # Kα2/Kα1 f32 @198; range header: length u16 @+0, steps u16 @+2, time/step f32 @+8,
    # step f32 @+12, start f32 @+16; counts f32 after the header
    ranges = b.one("H", 4, "range count")
    if ranges < 1:
        raise _error(b.src, "the header declares 0 ranges; expected at least one")
    header = b.one("H", 256, "range 1 header length")
    if header < 48:
        raise _error(b.src, f"range 1 header is {header} bytes; expected at least 48")
    steps = _steps(b.src, b.one("H", 258, "step count"), "range 1")
    step, start = b.one("f", 268, "step"), b.one("f", 272, "start angle")
    counts = b.array("<f4", 256 + header, steps, "range 1 counts")
    anode = b.text(188, 2)
    meta = {"raw_version": 2, "ranges_in_file": ranges, "anode": anode,
            "kalpha2_ratio": b.one("f", 198, "Kα2/Kα1"), "time_per_step": b.one("f", 264, "time per step")}
    ka1, ka2 = _plausible(b.one("f", 190, "Kα1")), _plausible(b.one("f", 194, "Kα2"))
    return _Scan(_step_axis(b.src, start, step, steps), counts, None, _points(), ka1, ka2, meta)


def _raw_v3(b: _Binary) -> _Scan:
    # file header 712 bytes: range count u32 @12, date @16, time @26, sample @326 (60),
    # anode @608 (4), Kα average f64 @616, Kα1 @624, Kα2 @632, Kβ @640, Kα2/Kα1 @648.
    # Range header 304 bytes: length u32 @+0 (304), steps u32 @+4, θ start f64 @+8, 2θ
    # start f64 @+16, step f64 @+176, time/step f32 @+192, λ used f64 @+240,
    # supplementary-header bytes u32 @+256; counts f32 after header and supplements.
    ranges = b.one("i", 12, "range count")
    if ranges < 1:
        raise _error(b.src, f"the header declares {ranges} ranges; expected at least one")
    r = 712
    length = b.one("I", r, "range 1 header length")
    if length != 304:
        raise _error(b.src, f"range 1 header length is {length}; RAW1.01 range headers are 304 bytes")
    steps = _steps(b.src, b.one("I", r + 4, "step count"), "range 1")
    start, step = b.one("d", r + 16, "2θ start"), b.one("d", r + 176, "step")
    supplement = b.one("I", r + 256, "supplementary header length")
    if supplement > len(b.data):
        raise _error(b.src, f"range 1 declares {supplement} bytes of supplementary headers; the file "
                     f"has {len(b.data)}")
    counts = b.array("<f4", r + 304 + supplement, steps, "range 1 counts")
    meta = {"raw_version": 3, "ranges_in_file": ranges, "date": b.text(16, 10), "time": b.text(26, 10),
            "sample": b.text(326, 60), "anode": b.text(608, 4),
            "kalpha2_ratio": b.one("d", 648, "Kα2/Kα1"), "time_per_step": b.one("f", r + 192, "time per step")}
    ka1 = _plausible(b.one("d", 624, "Kα1")) or _plausible(b.one("d", r + 240, "λ used"))
    ka2 = _plausible(b.one("d", 632, "Kα2"))
    return _Scan(_step_axis(b.src, start, step, steps), counts, None, _points(), ka1, ka2, meta)

_RAW4_RANGE = 160  # bytes of a range header


def _raw4_records(b: _Binary, offset: int, end: int, what: str) -> list[tuple[int, int, int]]:
    """[(type, offset, length)] of the length-prefixed records in [offset, end)."""
    records = []
    while offset < end:
        kind, length = b.unpack("II", offset, f"{what} record")
        if length < 8 or offset + length > end:
            raise _error(b.src, f"{what} record at byte {offset} has length {length}; expected 8 to "
                         f"{end - offset} (the file is damaged)")
        records.append((kind, offset, length))
        offset += length
    return records


def _raw_v4(b: _Binary) -> _Scan:
    # 61-byte file header (date @12, time @24), then metadata records (type u32, length
    # u32): 10 a key/value (key @+12, 24 bytes; value from @+36), 30 the source (Kα
    # average f64 @+72, Kα1 @+80, Kα2 @+88, Kβ @+96, Kα2/Kα1 @+104, anode @+116); a
    # record of type 0 or 160 opens the first range.
    variables: dict[str, str] = {}
    meta: dict[str, Any] = {"raw_version": 4, "date": b.text(12, 12), "time": b.text(24, 10),
                            "variables": variables}
    ka1 = ka2 = None
    offset = 61
    while True:
        kind = b.one("I", offset, "metadata record type")
        if kind in (0, 160):
            break
        length = b.one("I", offset + 4, "metadata record length")
        if length < 8:
            raise _error(b.src, f"metadata record at byte {offset} has length {length}; expected ≥ 8 "
                         "(the file is damaged)")
        if kind == 10 and length >= 36:
            variables[b.text(offset + 12, 24)] = b.text(offset + 36, length - 36)
        elif kind == 30 and length >= 120:
            ka1 = _plausible(b.one("d", offset + 80, "Kα1"))
            ka2 = _plausible(b.one("d", offset + 88, "Kα2"))
            meta["kalpha2_ratio"] = b.one("d", offset + 104, "Kα2/Kα1")
            meta["anode"] = b.text(offset + 116, 4)
        offset += length
    # range header: scan type @+32 (24), start f64 @+72, step f64 @+80, steps u32 @+88,
    # time/step f32 @+92, λ used f64 @+112, bytes per point u32 @+136, sub-record bytes
    # u32 @+140; sub-records (type 50: an axis, name @+12, start f64 @+56); then counts.
    r = offset
    b.unpack(f"{_RAW4_RANGE}s", r, "range 1 header")
    scan_type = b.text(r + 32, 24)
    start, step = b.one("d", r + 72, "start angle"), b.one("d", r + 80, "step")
    steps = _steps(b.src, b.one("I", r + 88, "step count"), "range 1")
    datum, extra = b.one("I", r + 136, "bytes per point"), b.one("I", r + 140, "sub-record length")
    if datum != 4:
        raise _error(b.src, f"range 1 stores {datum} bytes per point; only 4-byte float counts are read")
    body = r + _RAW4_RANGE
    if body + extra > len(b.data):
        raise _error(b.src, f"truncated: range 1 declares {extra} bytes of sub-records from byte {body} "
                     f"but the file has {len(b.data)}")
    axes = {}
    for kind, at, length in _raw4_records(b, body, body + extra, "range 1 axis"):
        if kind == 50 and length >= 64:
            axes[b.text(at + 12, 24)] = b.one("d", at + 56, "axis start")
    lowered = scan_type.lower()
    if not ("coupled" in lowered or "detector" in lowered or "2theta" in lowered.replace(" ", "")):
        raise _error(b.src, f"range 1 is a {scan_type!r} scan; expected a 2θ scan (Locked Coupled, "
                     "Unlocked Coupled or Detector Scan)")
    if "2Theta" in axes:  # the scan's start is the driving axis's; the 2θ record says 2θ
        start = axes["2Theta"]
    counts = b.array("<f4", body + extra, steps, "range 1 counts")
    ranges = 1
    following = body + extra + 4 * steps
    while following + _RAW4_RANGE <= len(b.data):  # count the rest, for the record
        n, size, sub = (struct.unpack_from("<I", b.data, following + k)[0] for k in (88, 136, 140))
        following += _RAW4_RANGE + sub + n * size
        ranges += 1
        if n == 0 or size == 0:
            break
    meta.update({"ranges_in_file": ranges, "scan_type": scan_type,
                 "time_per_step": b.one("f", r + 92, "time per step")})
    ka1 = ka1 or _plausible(b.one("d", r + 112, "λ used"))
    return _Scan(_step_axis(b.src, start, step, steps), counts, None, _points(), ka1, ka2, meta)

_BRML_MEMBER = re.compile(r"(^|/)RawData(\d*)\.xml$")


def _read_brml(src: str, data: bytes) -> _Scan:
    archive = _zip(src, data, "Bruker BRML")
    names = sorted((n for n in archive.namelist() if _BRML_MEMBER.search(n)),
                   key=lambda n: (int(_BRML_MEMBER.search(n).group(2) or 0), n))  # type: ignore[union-attr]
    name = _first_member(src, archive, names, "Experiment*/RawData*.xml", "Bruker BRML")
    where = f"{src} [{name}]"
    member = _member(src, archive, name, MAX_XML_BYTES)
    rows_declared = member.count(b"<Datum")
    if rows_declared > MAX_POINTS:
        raise _error(where, f"{rows_declared} <Datum> rows; more than the {MAX_POINTS} points accepted for a "
                     "powder pattern; not parsed")
    root = _xml(where, member, "Bruker RawData")
    routes = [r for r in _descendants(root, "DataRoute") if _children(r, "Datum")]
    if not routes:
        raise _error(where, "no <DataRoute> with <Datum> rows; expected one row per step")
    rows = _children(routes[0], "Datum")
    if len(rows) == 1 and len((rows[0].text or "").split(",")) > 8:
        raise _error(where, "a single <Datum> holding a whole still (fixed-detector) frame; only step "
                     "and continuous 2θ scans are read")
    table = np.empty((len(rows), 3))
    for i, row in enumerate(rows):
        fields = (row.text or "").split(",")
        values = _floats([f.strip() for f in fields[:5]]) if len(fields) >= 5 else None
        if values is None:
            raise _error(where, f"<Datum> {i + 1} is {_quote(row.text or '')}; expected at least 5 "
                         "comma-separated numbers (time, 1, 2θ, θ, counts)")
        table[i] = values[0], values[2], values[4]
    time, x, counts = table.T
    meta: dict[str, Any] = {"member": name, "raw_data_files": len(names)}
    if (time > 0).all():  # counts per second: the time column may change within a scan
        intensity, sigma = counts / time, np.sqrt(np.clip(counts, 0.0, None)) / time
        meta["intensity_unit"] = "counts per second"
    else:
        intensity, sigma = counts, np.sqrt(np.clip(counts, 0.0, None))

    def value(tag: str) -> tuple[float | None, str | None]:
        found = _descendants(root, tag)
        if not found:
            return None, None
        raw = found[0].get("Value", found[0].text)
        try:
            return float(raw or ""), found[0].get("Unit")
        except ValueError:
            return None, None

    ka1, ka2 = _angstrom(*value("WaveLengthAlpha1")), _angstrom(*value("WaveLengthAlpha2"))
    ratio = value("WaveLengthRatio")[0]
    meta["kalpha2_ratio"] = ratio
    tubes = _descendants(root, "TubeMaterial")
    if tubes:
        meta["anode"] = tubes[0].get("Value", tubes[0].text or "")
    return _Scan(x, intensity, sigma, _points("<Datum>"), ka1, ka2 if ratio != 0 else None, meta)

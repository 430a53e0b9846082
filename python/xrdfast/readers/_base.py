"""What every reader shares: the pattern types and errors, the checks all formats pass, and the
text, XML and zip machinery the format modules are built on."""
from __future__ import annotations

import io
import math
import re
import struct
import xml.etree.ElementTree as ET
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np


# Å. Cr, Fe, Co, Cu: Hölzer et al., Phys. Rev. A 56, 4554 (1997); Mo and Ag from the
# transition energies of Deslattes et al., Rev. Mod. Phys. 75, 35 (2003).
ANODE_WAVELENGTHS: dict[str, tuple[float, float]] = {  # anode: (Kα1, Kα2)
    "Cr": (2.289760, 2.293663),
    "Fe": (1.936042, 1.939980),
    "Co": (1.788996, 1.792850),
    "Cu": (1.540593, 1.544414),
    "Mo": (0.709317, 0.713607),
    "Ag": (0.559422, 0.563813),
}

CU_KA1: float = ANODE_WAVELENGTHS["Cu"][0]

# A real scan is a few MB even at 0.001° steps over 150°; anything this large is not a
# pattern, and reading it whole would only exhaust memory.
MAX_PATTERN_BYTES = 200 * 2**20

# Points: a scan at 0.001° steps over 150° has 150 000. Memory follows the points, not the
# bytes (a compressed BRML row or a short text line is a few bytes), so every reader counts
# them before parsing and refuses more than this.
MAX_POINTS = 1_000_000

# Counts. Detectors count to ~1e9 a step; a value beyond this is a unit or column slip, and
# near the float64 limit arithmetic on it overflows to inf.
MAX_INTENSITY = 1e100

# Å. Outside this a stated "wavelength" is a placeholder (0, -1) or a unit slip, not the
# X-rays or neutrons used for powder diffraction.
WAVELENGTH_RANGE = (0.05, 10.0)

FORMATS: dict[str, str] = {
    "xy": "two/three-column text (2θ, intensity[, esd])",
    "xrdml": "PANalytical XRDML",
    "raw": "Bruker RAW (v1-v4)",
    "brml": "Bruker BRML",
    "ras": "Rigaku RAS",
    "rasx": "Rigaku RASX",
    "gsas": "GSAS raw (BANK ... CONST)",
    "cif": "powder CIF (pdCIF)",
}

EXTENSIONS = {
    ".xy": "xy", ".xye": "xy", ".csv": "xy", ".dat": "xy", ".txt": "xy",
    ".xrdml": "xrdml", ".raw": "raw", ".brml": "brml", ".ras": "ras", ".rasx": "rasx",
    ".gsa": "gsas", ".gss": "gsas", ".gsas": "gsas", ".fxye": "gsas", ".fxy": "gsas",
    # GSAS raw files of the GSAS/GSAS-II tutorials: X-ray (.xra), constant-wavelength neutron
    # (.cwn), GSAS data (.gda)
    ".xra": "gsas", ".cwn": "gsas", ".gda": "gsas",
    ".cif": "cif",
}

_ALIASES = {
    "xye": "xy", "csv": "xy", "dat": "xy", "txt": "xy", "text": "xy", "columns": "xy",
    "bruker-raw": "raw", "bruker_raw": "raw", "gsa": "gsas", "gss": "gsas", "fxye": "gsas",
    "fxy": "gsas", "pdcif": "cif",
}


class PatternReadError(ValueError):
    """A file that is not a readable powder pattern. The message names the file, the line
    or point where that applies, and what was expected there."""


@dataclass
class MeasuredPattern:
    """A measured powder pattern as read from a file.

    ``two_theta`` [n] degrees, strictly increasing; ``intensity`` [n] finite (counts, or
    counts per second where ``metadata["intensity_unit"]`` says so); ``sigma`` [n] esds or
    None; ``wavelength`` Å, Kα1 or the single wavelength, None when the file states none;
    ``wavelength2`` Å, Kα2 when the file states a doublet.
    """

    two_theta: np.ndarray
    intensity: np.ndarray
    sigma: np.ndarray | None
    wavelength: float | None
    wavelength2: float | None
    source: str
    format: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Scan:
    """What a format reader found, before the checks every format shares."""

    two_theta: np.ndarray
    intensity: np.ndarray
    sigma: np.ndarray | None
    where: Callable[[int], str]  # "line 17" / "point 17" for the i-th point
    wavelength: float | None = None
    wavelength2: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


def _points(prefix: str = "point") -> Callable[[int], str]:
    return lambda i: f"{prefix} {i + 1}"


def _lines(numbers: Sequence[int]) -> Callable[[int], str]:
    return lambda i: f"line {numbers[i]}"


def _plausible(value: Any) -> float | None:
    """A stated wavelength, or None when it is a placeholder (0, missing, absurd)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) and WAVELENGTH_RANGE[0] < x < WAVELENGTH_RANGE[1] else None


def _check_wavelength(value: float, name: str) -> float:
    x = float(value)
    if not (math.isfinite(x) and WAVELENGTH_RANGE[0] < x < WAVELENGTH_RANGE[1]):
        raise ValueError(f"{name} must be a wavelength in Å between {WAVELENGTH_RANGE[0]} and "
                         f"{WAVELENGTH_RANGE[1]}, got {value!r}")
    return x


def _validated(src: str, fmt: str, scan: _Scan) -> MeasuredPattern:
    """The checks every format shares: enough finite points, 2θ inside (0°, 180°) and
    strictly monotonic (a descending scan is reversed), some positive intensity."""
    x = np.ascontiguousarray(scan.two_theta, dtype=np.float64)
    y = np.ascontiguousarray(scan.intensity, dtype=np.float64)
    s = None if scan.sigma is None else np.ascontiguousarray(scan.sigma, dtype=np.float64)
    where = scan.where
    n = len(y)
    if len(x) != n or (s is not None and len(s) != n):
        raise PatternReadError(f"{src}: {len(x)} 2θ values for {n} intensities; expected one of each "
                               "per point")
    if n == 0:
        raise PatternReadError(f"{src}: no data points")
    if n == 1:
        raise PatternReadError(f"{src}, {where(0)}: only one data point; a pattern needs at least 2")
    if n > MAX_POINTS:
        raise PatternReadError(f"{src}: {n} points; more than the {MAX_POINTS} accepted for a powder pattern "
                               "(a scan at 0.001° steps has ~150 000)")
    for name, values in (("2θ", x), ("intensity", y), ("esd", s)):
        if values is None:
            continue
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            others = f" ({bad.size} such values)" if bad.size > 1 else ""
            raise PatternReadError(f"{src}, {where(bad[0])}: {name} is {values[bad[0]]}; expected a "
                                   f"finite number{others}")
    for name, values in (("intensity", y), ("esd", s)):
        huge = np.flatnonzero(np.abs(values) > MAX_INTENSITY) if values is not None else ()
        if len(huge):
            raise PatternReadError(f"{src}, {where(huge[0])}: {name} is {values[huge[0]]:g}; beyond "
                                   f"{MAX_INTENSITY:g}, which no detector counts (a unit or column slip?)")
    if s is not None and (s < 0).any():
        i = int(np.flatnonzero(s < 0)[0])
        raise PatternReadError(f"{src}, {where(i)}: esd is {s[i]:g}; expected an esd ≥ 0")
    out = np.flatnonzero((x <= 0.0) | (x >= 180.0))
    if out.size:
        i = int(out[0])
        raise PatternReadError(f"{src}, {where(i)}: 2θ = {x[i]:g}° is outside (0°, 180°); expected "
                               "diffraction angles in degrees")
    step = np.diff(x)
    if not (step > 0).all():
        if (step < 0).all():
            x, y = x[::-1].copy(), y[::-1].copy()
            s = None if s is None else s[::-1].copy()
            scan.metadata["reversed"] = True
        else:
            i = int(np.flatnonzero(step == 0)[0]) if (step == 0).any() else None
            if i is not None:
                raise PatternReadError(f"{src}, {where(i + 1)}: 2θ = {x[i + 1]:g}° repeats the previous "
                                       "point; expected strictly increasing angles")
            rising = step[0] > 0
            i = int(np.flatnonzero((step < 0) if rising else (step > 0))[0])
            raise PatternReadError(f"{src}, {where(i + 1)}: 2θ = {x[i + 1]:g}° after {x[i]:g}°; expected "
                                   f"angles that all {'increase' if rising else 'decrease'}")
    if not (y > 0).any():
        what = "all zero" if not y.any() else "all ≤ 0"
        raise PatternReadError(f"{src}: the {n} intensities are {what}; expected a measured pattern")
    if y.min() < -y.max():
        # background subtraction leaves small negatives; more negative than the pattern is
        # positive means a wrong column or a sign convention, not a diffraction pattern
        raise PatternReadError(f"{src}: intensities reach {y.min():g}, more negative than their "
                               f"maximum {y.max():g} is positive; expected counts")
    meta = dict(scan.metadata)
    meta.setdefault("intensity_unit", "counts")
    if scan.wavelength is not None:
        meta.setdefault("wavelength_source", "file")
    return MeasuredPattern(x, y, s, scan.wavelength, scan.wavelength2 if scan.wavelength else None,
                           src, fmt, meta)


def _error(src: str, detail: str) -> PatternReadError:
    return PatternReadError(f"{src}: {detail}")

# An XML document of MAX_POINTS steps (XRDML counts, or BRML <Datum> rows of ~60 bytes)
# fits in this; more is not a pattern, and the parsed tree would take several times as much.
MAX_XML_BYTES = 96 * 2**20

_HEADER_LINES = 10_000  # lines a text file may hold besides its points (headers, comments)

_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x19\x1b-\x1f\x7f]")

_COMMENTS = ("#", "!", ";", "%", "//")

_HEADER_WAVELENGTH = re.compile(
    r"(?i)\b(?:wavelength|lambda|λ)\w*\s*(?:\(\s*(?:å|a|angstrom)\s*\))?\s*[:=]?\s*"
    r"([0-9]*\.[0-9]+)\s*(nm|å|a\b|angstrom)?")  # a decimal point: "wavelength 2 = ..." is no 2 Å


def _text(src: str, data: bytes, what: str, strict: bool = True) -> str:
    """``data`` as text, or an error when it is binary. Not UTF-8 is read as Latin-1 (Windows
    instrument software writes "°" that way) unless high bytes are common enough that it
    is binary (``strict``; the RAS reader relaxes this for Shift-JIS comments)."""
    lines = data.count(b"\n")  # counted on the bytes, before any text is made of them
    if lines > MAX_POINTS + _HEADER_LINES:
        raise PatternReadError(f"{src}: {lines} lines; more than the {MAX_POINTS} points accepted for a "
                               "powder pattern (a scan at 0.001° steps has ~150 000); not parsed")
    bad = _CONTROL.search(data)
    if bad:
        at = bad.start()
        line = data.count(b"\n", 0, at) + 1
        from xrdfast.readers.detect import _sniff  # detect builds on this module

        sniff = _sniff(data)[1]
        kind = f" ({sniff})" if sniff else ""
        raise PatternReadError(f"{src}, line {line}: byte 0x{data[at]:02x} at offset {at} is binary "
                               f"data{kind}; expected a {what} text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        high = sum(data.count(bytes([b])) for b in range(0x80, 0x100))
        if strict and high > 0.02 * len(data):
            line = data.count(b"\n", 0, exc.start) + 1
            raise PatternReadError(f"{src}, line {line}: not UTF-8 text ({high} of {len(data)} bytes "
                                   f"are non-ASCII); expected a {what} text file") from None
        text = data.decode("latin-1")
    return text.rstrip("\x1a")  # DOS end-of-file marker


class _Ambiguous(ValueError):
    """A row whose numbers can be read two ways (a thousands separator or a delimiter)."""

_GROUPED_COMMA = re.compile(r"^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$")      # 5,000 or 12,345.6

_GROUPED_POINT = re.compile(r"^[-+]?\d{1,3}(?:\.\d{3})+(?:,\d*)?$")       # 5.000 or 12.345,6


def _fields(line: str) -> list[str]:
    """The fields of a data row. Thousands separators are read where the row says which they
    are (a quoted "5,000" in a comma file, "12.345,6" in a semicolon file) and are an error
    where it does not ("20.0,5,000": 2θ, 5, 0 or 2θ, 5000?): never guessed."""
    if ";" in line:  # semicolons separate; commas are then decimal commas
        raw = [f.strip().strip("\"'") for f in line.split(";")]
        decimal_comma = any("," in f for f in raw)
        parts = []
        for f in raw:
            if "," in f and "." in f:
                if not _GROUPED_POINT.match(f):
                    raise _Ambiguous(f"{f!r} holds both '.' and ','; expected a decimal comma, with '.' "
                                     "only as a thousands separator (12.345,6)")
                f = f.replace(".", "")
            elif decimal_comma and _GROUPED_POINT.match(f):
                raise _Ambiguous(f"{f!r} beside decimal commas could be a decimal point or a thousands "
                                 "separator; write numbers without digit grouping")
            parts.append(f.replace(",", "."))
    elif "," in line:
        if '"' in line:  # quoted fields may hold commas: "5,000"
            import csv

            parts = [f.strip() for f in next(csv.reader([line], skipinitialspace=True))]
            parts = [f.replace(",", "") if _GROUPED_COMMA.match(f) else f for f in parts]
        else:
            parts = [f.strip().strip("'") for f in line.split(",")]
            for k in range(1, len(parts)):
                if re.fullmatch(r"\d{3}(?:\.\d*)?", parts[k]) and re.fullmatch(r"[-+]?\d{1,3}", parts[k - 1]):
                    raise _Ambiguous(f"'{parts[k - 1]},{parts[k]}' could be one number with a thousands "
                                     "separator or two columns; write numbers without digit grouping, or "
                                     "quote them (\"5,000\")")
    else:
        return line.split()
    while parts and parts[-1] == "":  # a trailing delimiter, as spreadsheets write
        parts.pop()
    return parts


def _floats(fields: list[str]) -> list[float] | None:
    try:
        return [float(f) for f in fields]
    except ValueError:
        return None


def _columns(src: str, text: str, columns: str = "2θ, intensity[, esd]",
             counts: tuple[int, int] = (2, 3), first_line: int = 1
             ) -> tuple[np.ndarray, list[int], list[str]]:
    """Numeric rows of ``text``: ([n, k] values, their line numbers, header lines). Text
    before the first numeric row is header; after it, a non-numeric row is an error."""
    fast = _plain_columns(text, counts, first_line)
    if fast is not None:
        return fast
    rows: list[list[float]] = []
    numbers: list[int] = []
    header: list[str] = []
    width = 0
    lo, hi = counts
    expected = f"{lo} or {hi}" if hi == lo + 1 else f"{lo} to {hi}"
    for number, line in enumerate(text.splitlines(), first_line):
        stripped = line.strip()
        if not stripped or stripped.startswith(_COMMENTS):
            if stripped and not rows:
                header.append(stripped)
            continue
        stripped = stripped.split("#", 1)[0].strip()  # "28.44 1050  # Si 111"
        try:
            fields = _fields(stripped)
        except _Ambiguous as exc:
            raise PatternReadError(f"{src}, line {number}: {exc}") from None
        values = _floats(fields)
        if values is None:
            if not rows:
                header.append(stripped)
                continue
            raise PatternReadError(f"{src}, line {number}: expected {width} numeric columns "
                                   f"({columns}), got {_quote(stripped)}")
        if not rows:
            if not lo <= len(values) <= hi:
                raise PatternReadError(f"{src}, line {number}: expected {expected} numeric columns "
                                       f"({columns}), got {len(values)}: {_quote(stripped)}")
            width = len(values)
        elif len(values) != width:
            raise PatternReadError(f"{src}, line {number}: expected {width} numeric columns like line "
                                   f"{numbers[0]} ({columns}), got {len(values)}: {_quote(stripped)}")
        rows.append(values)
        numbers.append(number)
    table = np.array(rows, dtype=np.float64).reshape(len(rows), width)
    return table, numbers, header


def _plain_columns(text: str, counts: tuple[int, int], first_line: int
                   ) -> tuple[np.ndarray, list[int], list[str]] | None:
    """The common case in one NumPy call (~10x faster than line by line): a header, then
    whitespace-separated rows of equal width with no comments, blank lines or other
    delimiters. Anything else returns None and goes the careful way, which also words
    the errors."""
    lines = text.splitlines()
    header: list[str] = []
    start = 0
    for start, line in enumerate(lines):
        stripped = line.strip()
        try:
            numeric = stripped and not stripped.startswith(_COMMENTS) and _floats(_fields(stripped)) is not None
        except _Ambiguous:
            return None  # the careful way names the line
        if numeric:
            break
        if stripped:
            header.append(stripped)
    else:
        return None
    body = lines[start:]
    while body and not body[-1].strip():
        body.pop()
    width = len(body[0].split())
    if not counts[0] <= width <= counts[1]:
        return None
    joined = "\n".join(body)
    if any(c in joined for c in ",;#!%/") or "\n\n" in joined:
        return None
    try:
        values = np.array(joined.split(), dtype=np.float64)
    except ValueError:
        return None
    if values.size != width * len(body) or any(len(b.split()) != width for b in (body[0], body[-1])):
        return None
    table = values.reshape(len(body), width)
    if len(body) > 2 and any(len(line.split()) != width for line in body):  # ragged rows that happen to add up
        return None
    return table, list(range(first_line + start, first_line + start + len(body))), header


def _quote(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _header_wavelength(header: Sequence[str]) -> float | None:
    for line in header:
        match = _HEADER_WAVELENGTH.search(line)
        if match:
            value = float(match.group(1)) * (10.0 if (match.group(2) or "").lower() == "nm" else 1.0)
            return _plausible(value)
    return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in element if _local(c.tag) == name]


def _child(element: ET.Element, name: str) -> ET.Element | None:
    found = _children(element, name)
    return found[0] if found else None


def _descendants(element: ET.Element, name: str) -> list[ET.Element]:
    return [e for e in element.iter() if _local(e.tag) == name]


def _xml(src: str, data: bytes, what: str) -> ET.Element:
    """The root of an XML document, parsed by defusedxml with DTDs, entities and external
    references refused by the parser itself (whatever the encoding: a byte search for
    "<!DOCTYPE" misses UTF-16 without a byte-order mark). Neither XRDML nor the Bruker or
    Rigaku XML uses a DTD, so refusing one costs nothing and stops entity expansion
    ("billion laughs") and external entities outright."""
    import defusedxml
    import defusedxml.ElementTree as SafeET

    if len(data) > MAX_XML_BYTES:
        raise _error(src, f"{len(data) / 2**20:.0f} MiB of XML; more than the {MAX_XML_BYTES // 2**20} MiB accepted "
                     f"for a {what} document ({MAX_POINTS} points fit in far less)")
    try:
        return SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (defusedxml.DTDForbidden, defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden) as exc:
        raise _error(src, f"the XML declares a DOCTYPE/ENTITY ({type(exc).__name__}); a {what} document has "
                     "none, and entity expansion is refused") from None
    except LookupError as exc:  # an encoding="..." Python does not know
        raise _error(src, f"the XML declares an unknown encoding ({exc}); expected a {what} document") from None
    except ET.ParseError as exc:
        from xrdfast.readers.detect import _sniff  # detect builds on this module

        sniffed, described = _sniff(data)
        kind = f"; the content is {described}" if sniffed is None and described and "XML" not in described else ""
        raise _error(src, f"not well-formed XML ({exc}){kind}; expected a {what} document") from None


def _xml_numbers(src: str, element: ET.Element, what: str) -> np.ndarray:
    tokens = (element.text or "").split()
    try:
        return np.array([float(t) for t in tokens], dtype=np.float64)
    except ValueError:
        for i, t in enumerate(tokens):
            try:
                float(t)
            except ValueError:
                raise _error(src, f"<{what}> value {i + 1} is {_quote(t)}; expected a number") from None
        raise


def _xml_float(element: ET.Element | None) -> float | None:
    if element is None:
        return None
    try:
        return float((element.text or "").strip())
    except ValueError:
        return None


def _angstrom(value: float | None, unit: str | None) -> float | None:
    if value is None:
        return None
    return _plausible(value * 10.0 if (unit or "").strip().lower() == "nm" else value)

# What zipfile raises for damaged, truncated, encrypted ("password required") or exotic
# (unsupported version or compression) archives.
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, OSError, ValueError, EOFError,
               NotImplementedError, RuntimeError, struct.error)


def _zip(src: str, data: bytes, what: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_ERRORS as exc:
        kind = "damaged or truncated" if data.startswith(b"PK") else "not a zip at all"
        raise _error(src, f"not a readable zip archive ({exc}: {kind}); a {what} file is a zip") from None


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 1024:.1f} KiB"


def _first_member(src: str, archive: zipfile.ZipFile, names: list[str], wanted: str, kind: str) -> str:
    """The first of ``names`` (the archive's members that can hold the scan, best first), or
    an error naming what the archive holds instead."""
    if not names:
        listed = ", ".join(archive.namelist()[:5]) or "none"
        raise _error(src, f"no {wanted} in the archive (members: {listed}); expected a {kind} file")
    return names[0]


def _member(src: str, archive: zipfile.ZipFile, name: str, limit: int = MAX_PATTERN_BYTES) -> bytes:
    """An archive member's bytes, refused unread when its declared size exceeds ``limit``
    (a zip bomb, or not a pattern: a 200 kB BRML can unpack to hundreds of MB of XML)."""
    info = archive.getinfo(name)
    if info.file_size > limit:
        raise _error(src, f"archive member {name} unpacks to {_size(info.file_size)}; more than the "
                     f"{_size(limit)} accepted")
    try:
        return archive.read(name)
    except _ZIP_ERRORS as exc:  # truncated, CRC mismatch, encrypted, unsupported method
        raise _error(src, f"archive member {name} cannot be unpacked ({exc}); the file is damaged") from None

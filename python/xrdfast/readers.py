"""Measured powder patterns from the files diffractometers and refinement programs write,
and their mapping onto the model's 2θ grid through d-spacing.

``read_pattern`` returns a ``MeasuredPattern`` (2θ ascending in degrees, intensities,
optional esds, the wavelength the file states); ``to_grid`` resamples it onto a model grid
so that a Mo or synchrotron pattern can be compared with a Cu Kα1 model. Every failure is a
``PatternReadError`` naming the file, the line or point, and what was expected.

Formats, and the descriptions followed (no vendor library is used):

* Columns (.xy .xye .dat .txt .csv): 2θ, intensity[, esd] separated by blanks, tabs, commas
  or semicolons (with semicolons a decimal comma is accepted); comment lines start with
  ``# ! ; %``; text lines before the first numeric row are a header (a
  ``wavelength = 1.5406`` there is used).
* PANalytical XRDML (.xrdml): the XRDMeasurement schema, versions 1.0 to 2.x
  (www.xrdml.com). 2θ from ``<positions axis="2Theta">`` as start/end or
  ``listPositions``; ``<counts>`` (1.3+) or ``<intensities>``; counts are multiplied by
  ``beamAttenuationFactors`` and divided by ``commonCountingTime``/``countingTimes``
  (counts per second), so points counted differently are comparable; Kα1/Kα2 from
  ``usedWavelength``.
* Bruker RAW (.raw), the four binary generations: v1 ``"RAW "`` and v2 ``"RAW2"`` after the
  DIFFRAC-AT manual (appendix B, "Raw Data File Format"), v3 ``"RAW1.01"`` after the
  DIFFRAC^plus XCH V5.0 user's manual (2002, appendix A); v4 ``"RAW4.00"`` has no public
  specification and follows the record layout decoded by xylib (M. Wojdyr,
  ``bruker_raw.cpp``) and GSAS-II (``G2pwd_BrukerRAW.py``), which agree. The first range is
  read; float32 counts as stored.
* Bruker BRML (.brml): a zip holding ``Experiment0/RawData<n>.xml`` (DIFFRAC.SUITE); one
  ``<Datum>`` per step ``time, 1, 2θ, θ, counts`` (the layout GSAS-II's
  ``G2pwd_BrukerBRML.py`` reads), the tube's ``WaveLengthAlpha1``/``Alpha2``.
* Rigaku RAS (.ras): ``*KEY "value"`` header, points between ``*RAS_INT_START`` and
  ``*RAS_INT_END`` as ``2θ counts attenuation`` (counts × attenuation is the intensity);
  wavelength from ``*HW_XG_WAVE_LENGTH_ALPHA1`` and ``*MEAS_COND_XG_WAVE_TYPE``, else the
  anode ``*HW_XG_TARGET_NAME``. RASX (.rasx): a zip of ``Data0/Profile0.txt`` (the same
  three columns) and ``Data0/MesurementConditions0.xml`` (sic).
* GSAS raw (.gsa .gss .gsas .fxye .fxy, or .raw with a BANK line): GSAS manual (Larson &
  Von Dreele, LAUR 86-748, "GSAS standard powder data file"): a title line, then
  ``BANK ibank nchan nrec CONST start step 0 0 type`` with start and step in centidegrees
  and type STD (10 × (I2 counters, F6 intensity) a line), ESD (5 × (F8 I, F8 esd)), FXY or
  FXYE (x in centidegrees, y[, esd] a line). Only CONST (constant-wavelength 2θ) banks.
* Powder CIF (.cif): the pdCIF dictionary (Toby, International Tables vol. G, ch. 3.3 and
  4.2): a loop of ``_pd_meas_2theta_scan`` or ``_pd_proc_2theta_corrected`` (or the
  ``_pd_meas_2theta_range_min/max/inc`` triple) with ``_pd_meas_counts_total``,
  ``_pd_meas_intensity_total`` or ``_pd_proc_intensity_total``; esds from ``value(esd)``;
  wavelength from ``_diffrn_radiation_wavelength``. Parsed by gemmi.

Deliberately left out: time-of-flight and energy-dispersive data, 2D frames, scans along
an axis other than 2θ (rocking curves), and all but the first range/scan of multi-range
files (``metadata`` says how many there were).
"""
from __future__ import annotations

import io
import math
import os
import re
import struct
import xml.etree.ElementTree as ET
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
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


# ----------------------------------------------------------------------------- entry point

def read_pattern(path: str | os.PathLike, wavelength: float | None = None,
                 format: str | None = None) -> MeasuredPattern:  # noqa: A002 - the public name
    """The measured pattern in ``path``.

    The format comes from ``format`` (a key of ``FORMATS`` or an extension), else from the
    extension, else from the content; an extension that contradicts the content (XRDML
    named .raw) is an error rather than a guess. ``wavelength`` (Å) overrides the file's.
    """
    src = str(path)
    p = Path(path)
    data = _read_bytes(p, src)
    sniffed, described = _sniff(data)
    fmt = _choose_format(p, src, format, sniffed, described)
    reader = _READERS[fmt]
    try:
        scan = reader(src, data)
    except PatternReadError:
        raise
    except (ValueError, struct.error, zipfile.BadZipFile, ET.ParseError, EOFError, LookupError,
            OverflowError, IndexError, KeyError) as exc:
        # a reader's own checks name what they expect; this catches what slipped past them
        raise PatternReadError(f"{src}: not a readable {FORMATS[fmt]} file ({exc})") from exc
    pattern = _validated(src, fmt, scan)
    if wavelength is not None:
        pattern.metadata["wavelength_in_file"] = pattern.wavelength
        pattern.wavelength = _check_wavelength(wavelength, "wavelength")
        pattern.wavelength2 = None
        pattern.metadata["wavelength_source"] = "argument"
    return pattern


def pattern_from_arrays(two_theta: Any, intensity: Any, wavelength: float | None = None,
                        source: str = "<arrays>") -> MeasuredPattern:
    """A pattern from arrays, with the checks a file gets (``PatternReadError`` naming
    ``source`` and the point otherwise)."""
    for name, values in (("2θ", two_theta), ("intensity", intensity)):
        if values is None:
            raise PatternReadError(f"{source}: {name} is None; expected an array of numbers")
    try:
        x = np.asarray(two_theta, dtype=np.float64).ravel()
        y = np.asarray(intensity, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise PatternReadError(f"{source}: 2θ and intensity must be numeric arrays ({exc})") from None
    scan = _Scan(x, y, None, _points(), wavelength=None if wavelength is None else
                 _check_wavelength(wavelength, "wavelength"))
    return _validated(source, "arrays", scan)


def _read_bytes(p: Path, src: str) -> bytes:
    try:
        st = p.stat()
    except FileNotFoundError:
        raise PatternReadError(f"{src}: no such file") from None
    except OSError as exc:
        raise PatternReadError(f"{src}: cannot be read ({exc.strerror})") from exc
    if p.is_dir():
        raise PatternReadError(f"{src}: is a directory; expected a pattern file")
    if not p.is_file():
        raise PatternReadError(f"{src}: not a regular file; expected a pattern file")
    if st.st_size > MAX_PATTERN_BYTES:
        raise PatternReadError(
            f"{src}: {st.st_size / 2**20:.1f} MiB is more than the {MAX_PATTERN_BYTES // 2**20} MiB "
            "accepted for a powder pattern (a long scan is a few MB); not read")
    try:
        data = p.read_bytes()
    except PermissionError:
        raise PatternReadError(f"{src}: cannot be read (permission denied)") from None
    except OSError as exc:
        raise PatternReadError(f"{src}: cannot be read ({exc.strerror})") from exc
    if not data.strip():
        raise PatternReadError(f"{src}: no data (the file is empty)" if not data
                               else f"{src}: no data (the file holds only whitespace)")
    return data


# Content that says what a file is whatever its name.
_DEFINITE = {"raw", "brml", "rasx", "xrdml", "ras"}
# What a format is inside: content of that kind is left to its reader, which can say
# which member or element is missing.
_CONTAINER = {"brml": "zip", "rasx": "zip", "xrdml": "XML"}


def _sniff(data: bytes) -> tuple[str | None, str]:
    """(format key or None, words for what the content looks like)."""
    head = data[:4096]
    # every RAW generation, known or not (the reader tells them apart), but not a GSAS
    # text file whose title starts "RAW": binary headers hold NUL bytes, text does not
    if head.startswith(b"RAW") and b"\0" in head[:256]:
        return "raw", "Bruker RAW"
    if head.startswith(b"PK\x03\x04"):
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except _ZIP_ERRORS:
            return None, "a damaged zip archive"
        if any(_BRML_MEMBER.search(n) for n in names):
            return "brml", "Bruker BRML"
        if any(_RASX_PROFILE.search(n) for n in names):
            return "rasx", "Rigaku RASX"
        return None, "a zip archive"
    for magic, words in ((b"\x89PNG", "a PNG image"), (b"%PDF", "a PDF document"),
                         (b"\x1f\x8b", "gzip-compressed data"), (b"\xff\xd8\xff", "a JPEG image"),
                         (b"\xff\xfe\x00\x00", "UTF-32 text"), (b"\x00\x00\xfe\xff", "UTF-32 text"),
                         (b"\xff\xfe", "UTF-16 text"), (b"\xfe\xff", "UTF-16 text")):
        if head.startswith(magic):
            return None, words
    text = head.decode("latin-1")
    if "www.xrdml.com" in text or "<xrdMeasurements" in text:
        return "xrdml", "PANalytical XRDML"
    if "*RAS_DATA_START" in text or "*RAS_HEADER_START" in text:
        return "ras", "Rigaku RAS"
    if re.search(r"(?m)^BANK\s", text):
        return "gsas", "GSAS raw"
    if re.search(r"(?m)^\s*data_\S", text) and b"_pd_" in data[:2**20]:
        return "cif", "powder CIF"
    if text.lstrip().startswith("<?xml"):
        return None, "an XML document"
    return None, ""


def _choose_format(p: Path, src: str, explicit: str | None, sniffed: str | None,
                   described: str) -> str:
    if explicit is not None:
        key = explicit.lower().lstrip(".")
        key = _ALIASES.get(key, key)
        if key not in FORMATS:
            raise PatternReadError(f"{src}: unknown format {explicit!r}; expected one of "
                                   f"{', '.join(sorted(FORMATS))}")
        return key
    ext = p.suffix.lower()
    if ext == ".raw":  # Bruker's and GSAS's raw files share the extension
        if sniffed in ("raw", "gsas"):
            return sniffed
        raise PatternReadError(
            f"{src}: a .raw file that is neither Bruker RAW (starting 'RAW') nor GSAS raw (with a "
            f"BANK line){'; its content is ' + described if described else ''}; pass format= "
            "if it is another format")
    if ext in (".dat", ".txt") and sniffed in ("gsas", "ras"):
        return sniffed
    if ext in EXTENSIONS:
        fmt = EXTENSIONS[ext]
        if sniffed in _DEFINITE and sniffed != fmt:
            raise PatternReadError(
                f"{src}: the extension {ext} says {FORMATS[fmt]} but the content is {described}; "
                f"rename the file or pass format={sniffed!r}")
        if sniffed is None and described and fmt != "xy" and _CONTAINER.get(fmt, "?") not in described:
            raise PatternReadError(
                f"{src}: the extension {ext} says {FORMATS[fmt]} but the content is {described}")
        return fmt
    if sniffed is not None:
        return sniffed
    if described:
        raise PatternReadError(f"{src}: {described}, not a powder pattern")
    return "xy"  # unknown extension and no signature: try numeric columns


# ----------------------------------------------------------------------------- shared checks

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


# ----------------------------------------------------------------------------- text columns

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


def _read_xy(src: str, data: bytes) -> _Scan:
    text = _text(src, data, "2θ/intensity column")
    table, numbers, header = _columns(src, text)
    if not len(table):
        extra = f" ({len(header)} header or comment lines only)" if header else ""
        raise _error(src, f"no data{extra}; expected rows of 2 or 3 numeric columns "
                     "(2θ, intensity[, esd])")
    sigma = table[:, 2] if table.shape[1] == 3 else None
    return _Scan(table[:, 0], table[:, 1], sigma, _lines(numbers),
                 wavelength=_header_wavelength(header), metadata={"header": header[:20]})


# ----------------------------------------------------------------------------- XML helpers

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


# ----------------------------------------------------------------------------- PANalytical XRDML

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


# ----------------------------------------------------------------------------- Bruker RAW

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


# ----------------------------------------------------------------------------- zip formats

_BRML_MEMBER = re.compile(r"(^|/)RawData(\d*)\.xml$")
# What zipfile raises for damaged, truncated, encrypted ("password required") or exotic
# (unsupported version or compression) archives.
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, OSError, ValueError, EOFError,
               NotImplementedError, RuntimeError, struct.error)
_RASX_PROFILE = re.compile(r"(^|/)Data(\d+)/Profile(\d+)\.txt$")


def _zip(src: str, data: bytes, what: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_ERRORS as exc:
        kind = "damaged or truncated" if data.startswith(b"PK") else "not a zip at all"
        raise _error(src, f"not a readable zip archive ({exc}: {kind}); a {what} file is a zip") from None


def _member(src: str, archive: zipfile.ZipFile, name: str) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > MAX_PATTERN_BYTES:  # a zip bomb, or not a pattern
        raise _error(src, f"archive member {name} unpacks to {info.file_size / 2**20:.0f} MiB; more "
                     f"than the {MAX_PATTERN_BYTES // 2**20} MiB accepted")
    try:
        return archive.read(name)
    except _ZIP_ERRORS as exc:  # truncated, CRC mismatch, encrypted, unsupported method
        raise _error(src, f"archive member {name} cannot be unpacked ({exc}); the file is damaged") from None


def _read_brml(src: str, data: bytes) -> _Scan:
    archive = _zip(src, data, "Bruker BRML")
    names = sorted((n for n in archive.namelist() if _BRML_MEMBER.search(n)),
                   key=lambda n: (int(_BRML_MEMBER.search(n).group(2) or 0), n))  # type: ignore[union-attr]
    if not names:
        listed = ", ".join(archive.namelist()[:5]) or "none"
        raise _error(src, f"no Experiment*/RawData*.xml in the archive (members: {listed}); expected a "
                     "Bruker BRML file")
    name = names[0]
    where = f"{src} [{name}]"
    member = _member(src, archive, name)
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
    if not profiles:
        listed = ", ".join(archive.namelist()[:5]) or "none"
        raise _error(src, f"no Data0/Profile0.txt in the archive (members: {listed}); expected a Rigaku "
                     "RASX file")
    name = profiles[0]
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
        root = _xml(f"{src} [{conditions[0]}]", _member(src, archive, conditions[0]), "Rigaku conditions")

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


# ----------------------------------------------------------------------------- GSAS

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


# ----------------------------------------------------------------------------- powder CIF

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


_READERS: dict[str, Callable[[str, bytes], _Scan]] = {
    "xy": _read_xy, "xrdml": _read_xrdml, "raw": _read_raw, "brml": _read_brml,
    "ras": _read_ras, "rasx": _read_rasx, "gsas": _read_gsas, "cif": _read_cif,
}


# ----------------------------------------------------------------------------- onto the model grid

def _integral(x: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """∫ from x[0] to t of the piecewise-linear interpolant of (x, y), exactly."""
    cumulative = np.concatenate([[0.0], np.cumsum(0.5 * (y[1:] + y[:-1]) * np.diff(x))])
    i = np.clip(np.searchsorted(x, t, side="right") - 1, 0, len(x) - 2)
    dt = t - x[i]
    slope = (y[i + 1] - y[i]) / (x[i + 1] - x[i])
    return cumulative[i] + y[i] * dt + 0.5 * slope * dt * dt


def _angle_at(two_theta: np.ndarray, from_wavelength: float, to_wavelength: float) -> np.ndarray:
    """2θ at ``to_wavelength`` of the d-spacing seen at ``two_theta`` with ``from_wavelength``
    (Bragg: λ = 2 d sin θ); NaN where that d cannot diffract (sin θ ≥ 1)."""
    if from_wavelength == to_wavelength:
        return two_theta.astype(np.float64, copy=True)
    s = np.sin(np.radians(two_theta) / 2.0) * (to_wavelength / from_wavelength)
    out = np.full(two_theta.shape, np.nan)
    ok = (s > 0.0) & (s < 1.0)
    out[ok] = 2.0 * np.degrees(np.arcsin(s[ok]))
    return out


def to_grid(pattern: MeasuredPattern, grid_two_theta: np.ndarray, grid_wavelength: float = CU_KA1,
            wavelength: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The pattern on a model grid, matched through d-spacing: (intensity [n_grid] float32,
    normalised to 1 over the valid points and 0 elsewhere; mask [n_grid] bool, True where
    the grid's d-spacing was measured).

    ``grid_two_theta`` is in degrees at ``grid_wavelength``; the pattern's wavelength is
    ``wavelength``, else the file's. Where the measured step is finer than half the grid
    step (in measured 2θ) the measured curve is box-averaged over each grid cell instead of
    point-sampled, so that counting noise does not alias into the grid.
    """
    grid = np.asarray(grid_two_theta, dtype=np.float64)
    if grid.ndim != 1 or len(grid) < 2 or not np.isfinite(grid).all() or not (np.diff(grid) > 0).all():
        raise ValueError(f"grid_two_theta must be 1-D, finite and strictly increasing with ≥ 2 points, "
                         f"got shape {grid.shape}")
    if grid[0] <= 0.0 or grid[-1] >= 180.0:
        raise ValueError(f"grid_two_theta must lie inside (0°, 180°), got {grid[0]:g}..{grid[-1]:g}")
    grid_wavelength = _check_wavelength(grid_wavelength, "grid_wavelength")
    if wavelength is not None:
        lam = _check_wavelength(wavelength, "wavelength")
    elif pattern.wavelength is not None:
        lam = pattern.wavelength
    else:
        raise PatternReadError(f"{pattern.source}: the file states no wavelength; give it (--wavelength, "
                               "in Å, e.g. 1.540593 for Cu Kα1) to compare it with the model")
    x = pattern.two_theta
    scale = float(np.max(np.abs(pattern.intensity)))
    if not (math.isfinite(scale) and scale > 0.0):
        raise PatternReadError(f"{pattern.source}: intensities must be finite and not all zero "
                               f"(their largest magnitude is {scale:g})")
    y = pattern.intensity / scale  # the result is normalised anyway; this keeps the sums from overflowing
    at = _angle_at(grid, grid_wavelength, lam)  # [n_grid] measured 2θ of each grid d
    mask = np.isfinite(at) & (at >= x[0]) & (at <= x[-1])
    if not mask.any():
        raise PatternReadError(
            f"{pattern.source}: measured 2θ {x[0]:g}..{x[-1]:g}° at λ = {lam:g} Å covers none of the "
            f"grid {grid[0]:g}..{grid[-1]:g}° at λ = {grid_wavelength:g} Å; check the wavelength")
    out = np.zeros(len(grid))
    out[mask] = np.interp(at[mask], x, y)
    # grid cell edges (midpoints), in measured 2θ
    edges = np.concatenate([[grid[0] - 0.5 * (grid[1] - grid[0])], 0.5 * (grid[1:] + grid[:-1]),
                            [grid[-1] + 0.5 * (grid[-1] - grid[-2])]])
    edges = _angle_at(np.clip(edges, 1e-9, 180.0 - 1e-9), grid_wavelength, lam)
    lo, hi = np.clip(edges[:-1], x[0], x[-1]), np.clip(edges[1:], x[0], x[-1])
    measured_step = float(np.median(np.diff(x)))
    fine = mask & np.isfinite(edges[:-1]) & np.isfinite(edges[1:]) & (hi - lo > 2.0 * measured_step)
    if fine.any():
        out[fine] = (_integral(x, y, hi[fine]) - _integral(x, y, lo[fine])) / (hi[fine] - lo[fine])
    peak = out[mask].max()
    if not peak > 0.0:
        raise PatternReadError(f"{pattern.source}: no positive intensity inside the grid's range; nothing "
                               "to normalise")
    out[mask] /= peak
    out[~mask] = 0.0
    return out.astype(np.float32), mask

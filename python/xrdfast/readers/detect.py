"""Which format a file is: its bytes (size and type checks), its content signature, its extension."""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from xrdfast.inputfile import read_input_file
from xrdfast.readers._base import (EXTENSIONS, FORMATS, MAX_PATTERN_BYTES, PatternReadError, _ALIASES,
                                   _ZIP_ERRORS)
from xrdfast.readers.bruker import _BRML_MEMBER
from xrdfast.readers.rigaku import _RASX_PROFILE


def _read_bytes(p: Path, src: str) -> bytes:
    data = read_input_file(p, "pattern file", MAX_PATTERN_BYTES, PatternReadError, allow_empty=True)
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

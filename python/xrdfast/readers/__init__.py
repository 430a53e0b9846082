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

Modules: ``_base`` (types, shared checks, text/XML/zip machinery), ``detect`` (which format),
one per format family (``columns``, ``xrdml``, ``bruker``, ``rigaku``, ``gsas``, ``pdcif``);
the mapping onto the model grid is ``xrdfast.regrid`` (re-exported here as ``to_grid``).

Deliberately left out: time-of-flight and energy-dispersive data, 2D frames, scans along
an axis other than 2θ (rocking curves), and all but the first range/scan of multi-range
files (``metadata`` says how many there were).
"""
from __future__ import annotations

import os
import struct
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np

from xrdfast.readers._base import (ANODE_WAVELENGTHS, CU_KA1, EXTENSIONS, FORMATS, MAX_INTENSITY, MAX_PATTERN_BYTES,
                                   MAX_POINTS, MAX_XML_BYTES, WAVELENGTH_RANGE, MeasuredPattern, PatternReadError, _Scan,
                                   _check_wavelength, _points, _validated)
from xrdfast.readers.bruker import _read_brml, _read_raw
from xrdfast.readers.columns import _read_xy
from xrdfast.readers.detect import _choose_format, _read_bytes, _sniff
from xrdfast.readers.gsas import _read_gsas
from xrdfast.readers.pdcif import _read_cif
from xrdfast.readers.rigaku import _read_ras, _read_rasx
from xrdfast.readers.xrdml import _read_xrdml
from xrdfast.regrid import to_grid


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

_READERS: dict[str, Callable[[str, bytes], _Scan]] = {
    "xy": _read_xy, "xrdml": _read_xrdml, "raw": _read_raw, "brml": _read_brml,
    "ras": _read_ras, "rasx": _read_rasx, "gsas": _read_gsas, "cif": _read_cif,
}

__all__ = ["ANODE_WAVELENGTHS", "CU_KA1", "EXTENSIONS", "FORMATS", "MAX_INTENSITY", "MAX_PATTERN_BYTES", "MAX_POINTS",
           "MAX_XML_BYTES", "WAVELENGTH_RANGE", "MeasuredPattern", "PatternReadError", "pattern_from_arrays",
           "read_pattern", "to_grid"]

"""Text columns (.xy .xye .dat .txt .csv): 2θ, intensity[, esd].

Columns (.xy .xye .dat .txt .csv): 2θ, intensity[, esd] separated by blanks, tabs, commas or
semicolons (with semicolons a decimal comma is accepted); comment lines start with ``# ! ;
%``; text lines before the first numeric row are a header (a ``wavelength = 1.5406`` there
is used).
Digit grouping is read only where a row says what it is (a quoted ``"5,000"`` in a comma file,
``12.345,6`` in a semicolon file); ``20.0,5,000`` is an error, never a guess.
"""
from __future__ import annotations

from xrdfast.readers._base import _Scan, _columns, _error, _header_wavelength, _lines, _text


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

"""Shared fixtures. cctbx must be imported before gemmi (the other order crashes)."""
from __future__ import annotations

from pathlib import Path

import pytest

try:  # noqa: SIM105 - import order matters, see module docstring
    import cctbx.sgtbx  # noqa: F401
except ImportError:
    pass

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared() -> Path:
    """The read-only material beside the checkout (reference tables, RRUFF patterns)."""
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} not present")
    return SHARED

try:  # spglib >= 2.5 warns unless told to raise errors instead of returning None
    import spglib.error

    spglib.error.OLD_ERROR_HANDLING = False
except (ImportError, AttributeError):
    pass

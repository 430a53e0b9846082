"""Shared fixtures. cctbx must be imported before gemmi (the other order crashes)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

try:  # noqa: SIM105 - import order matters, see module docstring
    import cctbx.sgtbx  # noqa: F401
except ImportError:
    pass

# Search-match (classify(..., match=True)) must not build the AMCSD library (minutes) during
# tests, nor read a developer's cached one: tests build the small libraries they need.
os.environ.setdefault("XRDFAST_LIBRARY_AUTOBUILD", "0")
os.environ.setdefault("XRDFAST_CACHE_DIR", tempfile.mkdtemp(prefix="xrdfast-test-cache-"))

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("XRDFAST_SHARED", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared() -> Path:
    """The read-only material beside the checkout (reference tables, RRUFF patterns).

    Outside CI a checkout without it skips the tests that need it; in CI (CI=true) its
    absence is an error, so the reference checks can never pass by not running.
    """
    if not SHARED.is_dir():
        message = f"{SHARED} not present (set XRDFAST_SHARED to its location)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return SHARED

try:  # spglib >= 2.5 warns unless told to raise errors instead of returning None
    import spglib.error

    spglib.error.OLD_ERROR_HANDLING = False
except (ImportError, AttributeError):
    pass

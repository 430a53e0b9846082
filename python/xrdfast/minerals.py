"""Real structures as a data source: the AMCSD mineral collection shipped by the
``larixite`` package (American Mineralogist Crystal Structure Database, ~9,300 entries),
read into crystals, their space groups identified from the CIF's own operations (many
entries use non-standard settings) and mapped to extinction groups."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from xrdfast._core import Crystal, extinction_group_number, identify_operations
from xrdfast.structure import from_cif_text


@dataclass(frozen=True)
class Mineral:
    amcsd_id: int
    name: str
    crystal: Crystal
    space_group: int
    extinction_group: int


def identify(crystal: Crystal) -> int:
    """Space-group type (1..230) of a crystal's operations, in whatever setting they are."""
    return int(identify_operations([op.triplet() for op in crystal.operations])["number"])


def amcsd_minerals(ids: range | list[int] | None = None) -> Iterator[Mineral]:
    """AMCSD structures that read cleanly; entries gemmi or the core cannot read are skipped."""
    try:
        from larixite.amcsd import AMCSD
    except ImportError:
        raise ValueError("the AMCSD collection needs the larixite package: pip install larixite") from None
    db = AMCSD(read_only=True)
    for ams_id in ids if ids is not None else range(1, 30000):
        cif = db.get_cif(ams_id)
        if cif is None or not cif.ciftext:
            continue
        try:
            crystal = from_cif_text(cif.ciftext, name=f"amcsd-{ams_id}")
            number = identify(crystal)
        except ValueError:
            continue
        mineral = cif.mineral  # a database row (id, name), or a plain name
        name = str(mineral[1]) if hasattr(mineral, "__getitem__") and not isinstance(mineral, str) else str(mineral)
        yield Mineral(ams_id, name, crystal, number, extinction_group_number(number))

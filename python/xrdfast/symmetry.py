"""Space group -> extinction group, accepting whatever a user has in hand."""
from __future__ import annotations

from xrdfast._core import ExtinctionGroup, SpaceGroup, extinction_group_number

SpaceGroupLike = int | str | SpaceGroup


def as_space_group(sg: SpaceGroupLike) -> SpaceGroup:
    """A ``SpaceGroup`` from a number, any symbol the core accepts, or a ``SpaceGroup``."""
    return sg if isinstance(sg, SpaceGroup) else SpaceGroup(sg)


def extinction_group(sg: SpaceGroupLike) -> ExtinctionGroup:
    """The extinction group (1..99, Baggett et al. numbering) of a space group.

    >>> extinction_group(14)
    ExtinctionGroup(4, 'P 21/b 1 1')
    >>> extinction_group("Pnma").number
    17
    """
    return ExtinctionGroup(extinction_group_number(as_space_group(sg).number))

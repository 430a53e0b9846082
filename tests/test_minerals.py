"""Real AMCSD structures as a data source: space groups identified from each CIF's own
operations agree with gemmi's independent identification."""
from __future__ import annotations

import pytest

pytest.importorskip("larixite.amcsd")
gemmi = pytest.importorskip("gemmi")

from xrdfast.minerals import amcsd_minerals  # noqa: E402


def test_amcsd_space_groups_match_gemmi():
    minerals = []
    for m in amcsd_minerals(range(3, 20000, 97)):  # a deterministic spread through the collection
        minerals.append(m)
        if len(minerals) == 40:
            break
    assert len(minerals) >= 30
    settings = set()
    for m in minerals:
        ops = gemmi.GroupOps([gemmi.Op(op.triplet()) for op in m.crystal.operations])
        assert gemmi.find_spacegroup_by_ops(ops).number == m.space_group, (m.amcsd_id, m.name)
        assert 1 <= m.extinction_group <= 99 and m.name and not m.name.startswith("(")
        settings.add(m.space_group)
    assert len(settings) > 10

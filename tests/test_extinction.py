"""Extinction groups: the computed partition against the paper's Table S2, and the rule
targets against the extinction symbols and cctbx's centring."""
from __future__ import annotations

import csv

import numpy as np
import pytest

import xrdfast
from xrdfast import ExtinctionGroup, SpaceGroup, extinction_group

SYSTEMS = ["triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal", "hexagonal", "cubic"]
POSITIONS = [
    ["21", "31", "41", "42", "61", "62", "63", "a", "b", "c", "d", "n"],
    ["21", "a", "b", "c", "d", "n"],
    ["21", "a", "b", "c", "d", "n", "ab"],
]


@pytest.fixture(scope="module")
def table(shared) -> list[dict[str, str]]:
    with open(shared / "reference/extinction_groups.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_partition_computed_from_absences_equals_table_s2(table):
    mismatches = [(int(r["space_group"]), int(r["extinction_group"]), extinction_group(int(r["space_group"])).number)
                  for r in table if extinction_group(int(r["space_group"])).number != int(r["extinction_group"])]
    assert len(table) == 230
    assert mismatches == []


def test_members_and_symbols_equal_table_s2(table):
    members: dict[int, list[int]] = {}
    for r in table:
        members.setdefault(int(r["extinction_group"]), []).append(int(r["space_group"]))
        eg = ExtinctionGroup(int(r["extinction_group"]))
        assert eg.symbol == r["extinction_symbol"].split(" (equiv")[0].strip()
    for number, sgs in members.items():
        assert ExtinctionGroup(number).space_groups == sorted(sgs)
    assert sum(len(ExtinctionGroup(n).space_groups) for n in range(1, 100)) == 230


def _symbol_tokens(symbol: str) -> list[set[str]]:
    """Operator tokens by position of an extinction symbol, read independently of the core."""
    body = symbol.replace("(obv)", " ").split()[1:]
    return [{t.strip("()") for t in tok.split("/") if t not in ("-", "1")} for tok in body]


def test_rule_bits_encode_system_lattice_and_symbol(table):
    names = xrdfast.rule_bit_names()
    assert len(names) == 37 and len(set(names)) == 37
    first_system = {}
    for r in table:
        first_system.setdefault(int(r["extinction_group"]), r["crystal_system"])
    for number in range(1, 100):
        eg = ExtinctionGroup(number)
        bits = eg.rule_bits
        assert bits.shape == (37,) and set(np.unique(bits)) <= {0, 1}
        assert bits[:7].sum() == 1 and SYSTEMS[int(np.argmax(bits[:7]))] == first_system[number]
        assert bits[7:12].sum() == 1
        lattice = "PIFCR"[int(np.argmax(bits[7:12]))]
        for sg in eg.space_groups:  # every member's centring, A/B/C collapsed, as cctbx reports it
            from cctbx import sgtbx
            letter = sgtbx.space_group_info(sg).group().conventional_centring_type_symbol()
            assert {"A": "C", "B": "C"}.get(letter, letter) == lattice, (number, sg)
        expected = set()
        for pos, tokens in enumerate(_symbol_tokens(eg.symbol)):
            expected |= {f"pos{pos + 1}:{t}" for t in tokens}
        assert {names[i] for i in range(12, 37) if bits[i]} == expected, eg


def test_rule_templates_are_distinct():
    """Every extinction group gets its own template (the paper's v1 code did not)."""
    templates = {}
    for number in range(1, 100):
        key = ExtinctionGroup(number).rule_bits.tobytes()
        assert key not in templates, f"EG {number} has the template of EG {templates.get(key)}"
        templates[key] = number


def test_extinction_group_properties():
    eg = ExtinctionGroup(4)
    assert (eg.number, eg.symbol, eg.space_groups) == (4, "P 21/b 1 1", [14])
    assert eg.crystal_system == "monoclinic" and eg.lattice == "P"
    assert ExtinctionGroup(71).crystal_systems == ["trigonal", "hexagonal"]
    assert ExtinctionGroup(75).lattice == "R" and ExtinctionGroup(75).lattice_system == "rhombohedral"
    assert ExtinctionGroup(99).space_groups == [1, 2]
    assert extinction_group("Pnma") == extinction_group(SpaceGroup("P 21/n 21/m 21/a")) == ExtinctionGroup(17)
    # the screw-axis families whose absences coincide stay apart (Table S2)
    assert extinction_group("P31").number != extinction_group("P62").number
    assert extinction_group("P213").number != extinction_group("P4232").number


@pytest.mark.parametrize("bad", [0, 100, -1])
def test_bad_extinction_group_number(bad):
    with pytest.raises(ValueError, match="outside 1..99"):
        ExtinctionGroup(bad)


def test_extinction_group_of_bad_space_group():
    with pytest.raises(ValueError, match="outside 1..230"):
        extinction_group(231)


def test_rule_layout_is_bound_and_names_its_bits():
    """RuleLayout's offsets agree with the bit names (system:*, lattice:*, pos1/2/3:*) and with
    the model's slices; every group's rule bits have one system and one lattice bit."""
    from xrdfast._core import RuleLayout, rule_bit_names
    from xrdfast.ml import model

    names = rule_bit_names()
    assert RuleLayout.n_bits == len(names) == 37
    parts = {"system": (RuleLayout.system, RuleLayout.lattice), "lattice": (RuleLayout.lattice, RuleLayout.position1),
             "pos1": (RuleLayout.position1, RuleLayout.position2), "pos2": (RuleLayout.position2, RuleLayout.position3),
             "pos3": (RuleLayout.position3, RuleLayout.n_bits)}
    for prefix, (lo, hi) in parts.items():
        assert all(n.startswith(prefix + ":") for n in names[lo:hi]), prefix
    assert (model.N_SYSTEMS, model.N_LATTICES, model.N_OPERATORS) == (7, 5, 25)  # the paper's 7 + 5 + 25
    assert RuleLayout.operators == RuleLayout.position1
    for n in range(1, 100):
        bits = ExtinctionGroup(n).rule_bits
        assert bits[model.SYSTEMS].sum() == 1 and bits[model.LATTICES].sum() == 1

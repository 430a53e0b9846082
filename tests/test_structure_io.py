"""Structure input: CIFs in non-standard settings give the same pattern as the standard
one, pymatgen and ASE objects give what their CIF gives, and unreadable input is a clear
error naming the file. Plus the `xrdfast simulate` command."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import xrdfast
import xrdfast.structure
from xrdfast import from_arrays, from_cif, simulate, simulate_batch
from xrdfast.cli import main

from test_simulate import baddeleyite, nacl


def _as_cif_in_setting(crystal: xrdfast.Crystal, change_of_basis: str) -> str:
    """The crystal's CIF in another setting, written by cctbx (independent of our reader)."""
    import io

    from cctbx import crystal as cctbx_crystal, sgtbx, xray
    from cctbx.array_family import flex

    group = sgtbx.space_group()
    for op in crystal.operations:
        group.expand_smx(op.triplet())
    sites = crystal.sites()
    scatterers = flex.xray_scatterer([
        xray.scatterer(label=l, site=tuple(x), u=b / (8 * np.pi**2), occupancy=o, scattering_type=t)
        for l, t, x, o, b in zip(sites["labels"], sites["types"], sites["frac"], sites["occupancy"], sites["b_iso"])])
    xs = xray.structure(crystal_symmetry=cctbx_crystal.symmetry(unit_cell=crystal.cell, space_group=group),
                        scatterers=scatterers)
    out = io.StringIO()
    xs.change_basis(sgtbx.change_of_basis_op(change_of_basis)).as_cif_simple(out=out)
    return out.getvalue()


@pytest.mark.parametrize("change_of_basis", ["a,b,c", "-a-c,b,a", "c,-b,a", "b,c,a"])
def test_a_crystal_in_any_setting_gives_the_same_pattern(tmp_path, change_of_basis):
    pytest.importorskip("cctbx")
    # a cell and displacements the CIF writer prints exactly (3 decimals for the cell, 6 for U)
    b = 8 * np.pi**2 * np.array([0.004, 0.006, 0.006])
    sites = baddeleyite().sites()
    standard = from_arrays((5.150, 5.212, 5.317, 90, 99.23, 90), 14, sites["types"], sites["frac"], b_iso=b)
    path = tmp_path / "zro2.cif"
    path.write_text(_as_cif_in_setting(standard, change_of_basis))
    other = from_cif(path)
    a, b = simulate(standard), simulate(other)
    # the writer rounds the transformed cell to 3 decimals: lines move by up to ~1e-4 relative
    exact = change_of_basis == "a,b,c"
    assert np.max(np.abs(a.intensity - b.intensity)) < (1e-5 if exact else 5e-3)
    assert np.allclose(np.sort(a.lines["d"]), np.sort(b.lines["d"]), rtol=1e-12 if exact else 2e-4)
    strong = np.argsort(a.lines["intensity"])[::-1][:10]
    for i in strong:  # the strongest lines keep their intensity (matched by d-spacing)
        j = np.argmin(np.abs(b.lines["d"] - a.lines["d"][i]))
        assert b.lines["intensity"][j] == pytest.approx(a.lines["intensity"][i], rel=1e-4 if exact else 2e-3)


def test_pymatgen_and_ase_structures_give_the_cif_pattern():
    pymatgen = pytest.importorskip("pymatgen.core")
    ase_build = pytest.importorskip("ase.build")
    ours = simulate(from_arrays((5.64,) * 3 + (90,) * 3, 225, ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])).intensity
    pmg = pymatgen.Structure.from_spacegroup("Fm-3m", pymatgen.Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert np.max(np.abs(simulate(pmg).intensity - ours)) < 1e-5
    atoms = ase_build.bulk("NaCl", "rocksalt", a=5.64, cubic=True)
    assert np.max(np.abs(simulate(atoms).intensity - ours)) < 1e-5


@pytest.mark.parametrize("text, match", [
    ("", "is empty"),
    ("\x00\x01garbage\xff", "not a readable CIF|cannot read|no atom sites"),
    ("data_x\n_cell_length_a 5\n", "no atom sites|cannot read"),
    ("data_x\n_cell_length_a 5\n_cell_length_b 5\n_cell_length_c 5\nloop_\n_atom_site_label\n_atom_site_fract_x\n"
     "_atom_site_fract_y\n_atom_site_fract_z\nNa1 0 0 0\n", "symmetry|space-group|cell"),
    ("data_x\nloop_\n_atom_site_label\n_atom_site_fract_x\n'unclosed", "not a readable CIF"),
])
def test_unreadable_cif_names_the_file(tmp_path, text, match):
    path = tmp_path / "bad.cif"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ValueError, match=match) as info:
        xrdfast.load_structure(path)
    assert "bad.cif" in str(info.value)


def test_missing_file_and_wrong_type():
    with pytest.raises(ValueError, match="no such file"):
        xrdfast.load_structure("/nonexistent/x.cif")
    with pytest.raises(ValueError, match="cannot make a crystal from a dict"):
        xrdfast.load_structure({})


def test_simulate_command_writes_pattern_and_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    cif = tmp_path / "zro2.cif"
    cif.write_text(_as_cif_in_setting(baddeleyite(), "a,b,c"))
    xy, png = tmp_path / "out.xy", tmp_path / "out.png"
    assert main(["simulate", str(cif), "-o", str(xy), "--plot", str(png)]) == 0
    data = np.loadtxt(xy)
    assert data.shape == (8501, 2) and data[:, 1].max() == pytest.approx(1.0)
    assert png.stat().st_size > 10_000
    out = capsys.readouterr().out
    assert "reflection families" in out
    strongest = [line.split() for line in out.splitlines() if line.rstrip().endswith("100.00")]
    assert len(strongest) == 1 and 28.0 < float(strongest[0][4]) < 28.4  # baddeleyite's (-111) at 28.2 deg


def test_simulate_command_bad_file_is_a_clean_error(tmp_path, capsys):
    bad = tmp_path / "bad.cif"
    bad.write_text("not a cif at all {")
    assert main(["simulate", str(bad)]) == 2
    assert "bad.cif" in capsys.readouterr().err


# ------------------------------------------------------------------ CIF symmetry spellings

def _nacl_cif(symmetry: str, cell: str = "5.64 5.64 5.64 90 90 90", ddlm: bool = False) -> str:
    names = ["length_a", "length_b", "length_c", "angle_alpha", "angle_beta", "angle_gamma"]
    sep = "." if ddlm else "_"
    head = "data_nacl\n" + "".join(f"_cell{sep}{n} {v}\n" for n, v in zip(names, cell.split()))
    loop = (f"loop_\n_atom_site{sep}label\n_atom_site{sep}type_symbol\n_atom_site{sep}fract_x\n"
            f"_atom_site{sep}fract_y\n_atom_site{sep}fract_z\nNa1 Na 0 0 0\nCl1 Cl 0.5 0.5 0.5\n")
    return head + symmetry + "\n" + loop


def _cctbx_operations(symbol: str) -> set[xrdfast.SymOp]:
    from cctbx import sgtbx

    return {xrdfast.SymOp(op.as_xyz()) for op in sgtbx.space_group_info(symbol).group().all_ops()}


def _ops_loop(tag: str, symbol: str) -> str:
    from cctbx import sgtbx

    return f"loop_\n{tag}\n" + "".join(f"'{op.as_xyz()}'\n" for op in sgtbx.space_group_info(symbol).group().all_ops())


SPELLINGS = {  # issue 13 item 1: an H-M symbol alone crashed (gemmi 0.7 dropped find_spacegroup)
    "hm-old": "_symmetry_space_group_name_H-M 'F m -3 m'",
    "hm-new": "_space_group_name_H-M_alt 'F m -3 m'",
    "hm-compact": "_symmetry_space_group_name_H-M Fm-3m",
    "hall-old": "_symmetry_space_group_name_Hall '-F 4 2 3'",
    "hall-new": "_space_group_name_Hall '-F 4 2 3'",
    "number-old": "_symmetry_Int_Tables_number 225",
    "number-new": "_space_group_IT_number 225",
    "ops-old": "_symmetry_equiv_pos_as_xyz",
    "ops-new": "_space_group_symop_operation_xyz",
    "ddlm": "_space_group.name_H-M_alt 'F m -3 m'",
}


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_cif_symmetry_spelling_gives_the_group_cctbx_gives(tmp_path, spelling):
    pytest.importorskip("cctbx")
    symmetry = SPELLINGS[spelling]
    if spelling.startswith("ops"):
        symmetry = _ops_loop(symmetry, "F m -3 m")
    path = tmp_path / f"nacl-{spelling}.cif"
    path.write_text(_nacl_cif(symmetry, ddlm=spelling == "ddlm"))
    crystal = from_cif(path)
    assert set(crystal.operations) == _cctbx_operations("F m -3 m")
    reference = from_arrays((5.64,) * 3 + (90,) * 3, 225, ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert np.array_equal(simulate(crystal).intensity, simulate(reference).intensity)
    assert main(["simulate", str(path), "--lines", "3"]) == 0
    assert simulate_batch([str(path)]).ok.all()


@pytest.mark.parametrize("symmetry, cell, expected", [
    ("_symmetry_space_group_name_H-M 'F d -3 m'", "8 8 8 90 90 90", "F d -3 m :2"),  # gemmi's (and ITA's) default
    ("_space_group_name_H-M_alt 'F d -3 m :1'", "8 8 8 90 90 90", "F d -3 m :1"),
    ("_symmetry_space_group_name_Hall 'F 4d 2 3 -1d'", "8 8 8 90 90 90", "F d -3 m :1"),
    ("_symmetry_space_group_name_H-M 'R -3 m'", "4 4 20 90 90 120", "R -3 m :H"),
    ("_symmetry_space_group_name_H-M 'R -3 m'", "6 6 6 50 50 50", "R -3 m :R"),
    ("_space_group_IT_number 166", "6 6 6 50 50 50", "R -3 m :R"),
    ("_symmetry_space_group_name_H-M 'P 21/c'", "5 6 7 90 100 90", "P 1 21/c 1"),
])
def test_settings_follow_the_symbol_and_the_cell(tmp_path, symmetry, cell, expected):
    pytest.importorskip("cctbx")
    path = tmp_path / "x.cif"
    path.write_text(_nacl_cif(symmetry, cell).replace("Cl1 Cl 0.5 0.5 0.5\n", "").replace("Na1 Na 0 0 0", "Na1 Na 0.1 0.2 0.3"))
    assert set(from_cif(path).operations) == _cctbx_operations(expected)


def test_a_number_alone_warns_which_origin_it_takes(tmp_path):
    pytest.importorskip("cctbx")
    path = tmp_path / "fd3m.cif"
    path.write_text(_nacl_cif("_space_group_IT_number 227", "8 8 8 90 90 90").replace("Cl1 Cl 0.5 0.5 0.5\n", ""))
    with pytest.warns(xrdfast.structure.StructureWarning, match="fd3m.cif.*number only; origin choice 2"):
        crystal = from_cif(path)
    assert set(crystal.operations) == _cctbx_operations("F d -3 m :2")


def test_disagreeing_symmetry_items_are_a_warning(tmp_path):
    path = tmp_path / "nacl.cif"
    path.write_text(_nacl_cif("_symmetry_space_group_name_H-M 'F m -3 m'\n_symmetry_Int_Tables_number 221"))
    with pytest.warns(xrdfast.structure.StructureWarning, match=r"nacl.cif.*disagree.*number \(221\)"):
        assert len(from_cif(path).operations) == 192


def test_the_gemmi_pin_holds_the_installed_gemmi():
    import re
    import tomllib
    from pathlib import Path

    import gemmi

    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    spec = next(d for d in pyproject["project"]["dependencies"] if d.startswith("gemmi"))
    low, high = re.fullmatch(r"gemmi>=([\d.]+),<([\d.]+)", spec).groups()
    version = tuple(int(x) for x in gemmi.__version__.split(".")[:3])
    assert tuple(map(int, low.split("."))) <= version < tuple(map(int, high.split(".")))


# ------------------------------------------------------------------ values a CIF may hold

def _site_cif(type_symbol: str = "Na", u: str = "0.01") -> str:
    return _nacl_cif("_symmetry_space_group_name_H-M 'F m -3 m'").replace(
        "_atom_site_fract_z\n", "_atom_site_fract_z\n_atom_site_U_iso_or_equiv\n").replace(
        "Na1 Na 0 0 0", f"Na1 {type_symbol} 0 0 0 {u}").replace("Cl1 Cl 0.5 0.5 0.5", "Cl1 Cl 0.5 0.5 0.5 0.01")


def test_a_slightly_negative_u_is_zero_with_a_warning_naming_the_site(tmp_path):
    path = tmp_path / "nacl.cif"
    path.write_text(_site_cif(u="-0.002"))
    with pytest.warns(xrdfast.structure.StructureWarning, match=r"nacl.cif.*site 'Na1' has a negative U_iso = -0.002"):
        crystal = from_cif(path)
    assert list(crystal.sites()["b_iso"]) == [0.0, pytest.approx(0.01 * 8 * np.pi**2)]


def test_an_untabulated_ion_is_its_neutral_atom_with_a_warning(tmp_path):
    path = tmp_path / "nacl.cif"
    path.write_text(_site_cif(type_symbol="Na2+"))
    with pytest.warns(xrdfast.structure.StructureWarning, match=r"site 'Na1': no form factor .* 'Na2\+'"):
        assert from_cif(path).sites()["types"][0] == "Na"


BAD_STRUCTURES = Path(__file__).resolve().parent / "data" / "bad_structures"


def _bad_structure_rows() -> dict[str, str]:
    rows = {}
    for line in (BAD_STRUCTURES / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].endswith(".cif"):
            rows[cells[0]] = cells[2]
    return rows


def test_the_bad_structure_readme_lists_exactly_its_files():
    assert sorted(_bad_structure_rows()) == sorted(p.name for p in BAD_STRUCTURES.glob("*.cif"))


@pytest.mark.parametrize("name", sorted(_bad_structure_rows()))
def test_a_bad_structure_file_is_refused_naming_it_and_its_problem(name):
    expect = _bad_structure_rows()[name]
    with pytest.raises(ValueError) as info:
        simulate(BAD_STRUCTURES / name)
    assert name in str(info.value) and expect in str(info.value)
    result = simulate_batch([str(BAD_STRUCTURES / name)])
    assert not result.ok[0] and expect in result.errors[0]


def test_a_structure_path_that_is_not_a_regular_file_is_refused_unopened(tmp_path, monkeypatch):
    import os
    import threading

    fifo = tmp_path / "pipe.cif"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []
    reader = threading.Thread(target=lambda: outcome.append(pytest.raises(ValueError, from_cif, fifo).value))
    reader.start()
    reader.join(30)
    if reader.is_alive():  # the old reader blocked in open(): release it before failing
        with open(fifo, "w"):
            pass
        reader.join()
        pytest.fail("reading a FIFO blocked")
    assert "pipe.cif: is a named pipe" in str(outcome[0])
    with pytest.raises(ValueError, match="/dev/zero: is a device"):
        from_cif("/dev/zero")
    with pytest.raises(ValueError, match="is a directory"):
        from_cif(tmp_path)
    big = tmp_path / "big.cif"
    big.write_text(_site_cif())
    monkeypatch.setattr(xrdfast.structure, "MAX_STRUCTURE_BYTES", 100)
    with pytest.raises(ValueError, match=r"big.cif: .* MiB is more than"):
        from_cif(big)


def test_simulate_command_refuses_bad_grids_and_devices(tmp_path, capsys):
    cif = tmp_path / "nacl.cif"
    cif.write_text(_site_cif())
    for args, message in [(["--step", "0"], "step must be positive"), (["--step", "1e-6"], "85,000,001 points"),
                          (["--step", "nan"], "finite"), (["--two-theta", "90", "5"], "start < stop"),
                          (["--size", "1e-300"], "crystallite_size = 1e-300 is outside")]:
        assert main(["simulate", str(cif), *args]) == 2
        assert message in capsys.readouterr().err
    assert main(["simulate", "/dev/zero"]) == 2
    assert "is a device" in capsys.readouterr().err
    # the last point never overshoots the range asked for
    assert main(["simulate", str(cif), "--two-theta", "5", "179.999", "--step", "0.5", "-o", str(tmp_path / "p.xy")]) == 0
    assert np.loadtxt(tmp_path / "p.xy")[-1, 0] == pytest.approx(179.5)

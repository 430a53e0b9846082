"""Structure input: CIFs in non-standard settings give the same pattern as the standard
one, pymatgen and ASE objects give what their CIF gives, and unreadable input is a clear
error naming the file. Plus the `xrdfast simulate` command."""
from __future__ import annotations

import numpy as np
import pytest

import xrdfast
from xrdfast import from_arrays, from_cif, simulate
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
    ("", "no atom sites|no data block|not a readable CIF|cannot read"),
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

"""The package surface: build_info, the `xrdfast sg` command, the README's examples, CI."""
from __future__ import annotations

import doctest
import re
import subprocess
import sys

import pytest

import xrdfast
import xrdfast.symmetry
from xrdfast.cli import main

from conftest import ROOT


def test_build_info_reports_what_was_compiled():
    info = xrdfast.build_info()
    assert set(info) >= {"version", "openmp", "cuda", "cuda_architectures", "compiler"}
    assert isinstance(info["openmp"], bool) and isinstance(info["cuda"], bool)
    assert info["version"] == xrdfast.__version__


def test_sg_command_prints_group_conditions_and_extinction_group(capsys):
    assert main(["sg", "62"]) == 0
    out = capsys.readouterr().out
    assert "Space group 62  Pnma" in out
    assert "0kl: k+l=2n" in out and "hk0: h=2n" in out
    # the extinction symbol in Pnma's own axes (ITA Vol. A Table 3.2.3.2), the paper's beside it
    assert "extinction group 17: P n - a  (in the setting P 21/n 21/m 21/a; canonical symbol" in out
    assert "Baggett et al.: P - c n" in out
    assert main(["sg", "14"]) == 0
    assert "extinction group 4: P 1 21/c 1  (in the setting P 1 21/c 1" in capsys.readouterr().out
    assert main(["sg", "P b n m"]) == 0
    assert "extinction group 17: P b n -  (in the setting P 21/b 21/n 21/m" in capsys.readouterr().out


def test_sg_command_bad_symbol_is_a_clear_error_not_a_traceback():
    result = subprocess.run([sys.executable, "-m", "xrdfast.cli", "sg", "Q99"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "unknown space-group symbol 'Q99'" in result.stderr
    assert "Traceback" not in result.stderr


def test_docstring_examples_run():
    assert doctest.testmod(xrdfast.symmetry, raise_on_error=True).attempted > 0


def test_readme_python_examples_run(tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)  # the examples write files: keep them out of the checkout
    namespace: dict = {}
    for block in blocks:  # in order: later blocks use what earlier ones made
        exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["eg"].number == 4
    batch = namespace["batch"]  # simulate_batch returns a BatchResult, the array is .patterns
    assert batch.patterns.shape == (64, 8501) and batch.ok.all() and batch.errors == [""] * 64
    _check_readme_comments(blocks, namespace)
    prediction = namespace["prediction"]
    assert len(prediction.candidates) == 5 and (tmp_path / "quartz.xy").is_file()
    same = namespace["same"]  # file and arrays agree: the same answer, reached the same way
    assert same.top.extinction_group == prediction.top.extinction_group and same.method == prediction.method
    # the file rounds intensities to 6 digits; the indexing's refined cell (and so the evidence)
    # moves with that rounding by a few per cent of probability, the network alone by < 1e-3
    assert abs(same.top.probability - prediction.top.probability) < 0.05


def _check_readme_comments(blocks: list[str], namespace: dict) -> None:
    """What a README line's comment claims holds: ``expr  # literal`` evaluates to the
    literal, and ``name = ...  # (n, m)`` makes something of that shape."""
    import ast

    import numpy as np

    checked = 0
    for block in blocks:
        for line in block.splitlines():
            code, sep, comment = line.partition("  #")
            if not sep:
                continue
            code, comment = code.strip(), comment.strip()
            assignment = re.match(r"^(\w+) = ", code)
            shape = re.match(r"^\((\d+(?:, \d+)*),?\)(?:\s|$)", comment)
            if assignment and shape:
                value = namespace[assignment.group(1)]
                claimed = tuple(int(n) for n in shape.group(1).split(","))
                assert getattr(value, "shape", None) == claimed, f"README: {line.strip()!r}"
                checked += 1
                continue
            try:
                expected = ast.literal_eval(comment)
                ast.parse(code, mode="eval")
            except (ValueError, SyntaxError):
                continue
            got = eval(code, namespace)  # noqa: S307 - the README's own code
            assert np.array_equal(np.asarray(got, dtype=object), np.asarray(expected, dtype=object)), \
                f"README: {line.strip()!r} gives {got!r}"
            checked += 1
    assert checked >= 3


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(.*?)\n```", readme, re.S)
    assert len(commands) == 2 and commands[0].split("&&")[2].strip() == "pip install torch==2.13.0"
    assert commands[1] in (ROOT / ".ci/run").read_text()


def test_a_closed_pipe_ends_the_command_quietly_as_unix_tools_do():
    # `xrdfast sg 227 --operations | head -1`: the reader is gone before the output is written
    import os
    import signal

    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run([sys.executable, "-m", "xrdfast.cli", "sg", "227", "--operations"],
                                stdout=write, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
    assert result.stderr == ""
    assert result.returncode == 128 + signal.SIGPIPE


def test_extinction_symbols_in_a_setting_are_ita_s_and_name_their_absences():
    import itertools

    import numpy as np

    from xrdfast._core import SpaceGroup
    from xrdfast.symmetry import extinction_symbol_in_setting

    # ITA Vol. A (2016), Table 3.2.3.2 (orthorhombic) and 3.2.3.1 (monoclinic)
    published = {"P n m a": "P n - a", "P b n m": "P b n -", "P 1 21/c 1": "P 1 21/c 1",
                 "P 1 1 21/a": "P 1 1 21/a", "C m c m": "C - c -", "C 1 2/c 1": "C 1 c 1", "F d d d": "F d d d",
                 "F d d 2": "F d d -", "P 21 21 21": "P 21 21 21", "P b c a": "P b c a", "I 1 2/a 1": "I 1 a 1",
                 "P 1 21 1": "P 1 21 1", "P 2 2 21": "P - - 21", "C c c e": "C c c (ab)"}
    for group, symbol in published.items():
        assert extinction_symbol_in_setting(group) == symbol, group
    # across every ITA setting of the monoclinic and orthorhombic groups, one symbol never
    # names two different sets of absences
    r = range(-4, 5)
    box = np.array(list(itertools.product(r, r, r)))
    absences: dict[str, bytes] = {}
    for number in range(3, 75):
        for setting in SpaceGroup.settings(number):
            symbol = extinction_symbol_in_setting(setting)
            seen = np.asarray(setting.is_absent(box)).tobytes()
            assert absences.setdefault(symbol, seen) == seen, (symbol, setting.hm)
    assert len(absences) > 100


def test_messages_a_user_can_act_on(tmp_path, capsys):
    import numpy as np
    import pytest

    assert main(["sg", str(2**40)]) == 2
    assert "space-group number 1099511627776 is outside 1..230" in capsys.readouterr().err
    with pytest.raises(ValueError, match="outside 1..230"):
        xrdfast.extinction_group(2**40)
    crystal = xrdfast.from_arrays((5.64,) * 3 + (90,) * 3, "F m -3 m", ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    for bad in (-1, 2**64, 1.5):
        with pytest.raises(ValueError, match="seed must be an integer"):
            xrdfast.simulate(crystal, seed=bad)
        with pytest.raises(ValueError, match="seed must be an integer"):
            xrdfast.simulate_batch([crystal], seed=bad)
    cif = tmp_path / "nacl.cif"
    cif.write_text(crystal_cif())
    # whole steps that stay below MAX: 5 .. 179.5, not 180 (outside (0, 180))
    assert main(["simulate", str(cif), "--two-theta", "5", "179.999", "--step", "0.5", "-o", str(tmp_path / "p.xy")]) == 0
    assert np.loadtxt(tmp_path / "p.xy")[:, 0].max() == 179.5
    capsys.readouterr()
    npz = tmp_path / "broken.npz"
    npz.write_bytes(b"PK\x03\x04 not really a zip")
    from xrdfast.ml.evaluate import load_data

    with pytest.raises(ValueError, match=r"broken\.npz: not a readable \.npz"):
        load_data(str(npz), np.linspace(5, 90, 8501))


def crystal_cif() -> str:
    return """data_NaCl
_cell_length_a 5.64
_cell_length_b 5.64
_cell_length_c 5.64
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'F m -3 m'
loop_
_symmetry_equiv_pos_as_xyz
x,y,z
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Na1 Na 0 0 0
Cl1 Cl 0.5 0.5 0.5
"""


def _p1_cif(crystal) -> str:
    """The structure written as many tutorials and Materials Project write it: every atom, P1."""
    atoms, sites = crystal.atoms(), crystal.sites()
    a, b, c, alpha, beta, gamma = crystal.cell
    rows = "\n".join(f"{sites['types'][s]}{i} {sites['types'][s]} {x:.6f} {y:.6f} {z:.6f} {bi:.3f}"
                     for i, (s, (x, y, z), bi) in enumerate(zip(atoms["site"], atoms["frac"], atoms["b_iso"])))
    return (f"data_p1\n_cell_length_a {a}\n_cell_length_b {b}\n_cell_length_c {c}\n_cell_angle_alpha {alpha}\n"
            f"_cell_angle_beta {beta}\n_cell_angle_gamma {gamma}\n_symmetry_space_group_name_H-M 'P 1'\n"
            "loop_\n_symmetry_equiv_pos_as_xyz\nx,y,z\n"
            "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n"
            f"_atom_site_fract_z\n_atom_site_B_iso_or_equiv\n{rows}\n")


def test_a_p1_expanded_cif_is_simulated_with_the_symmetry_its_atoms_have(tmp_path, capsys):
    import numpy as np

    # anatase, Horn et al. (1972): I41/amd, Ti 4a, O 8e z = 0.2081 (origin choice 2)
    anatase = xrdfast.from_arrays((3.7845, 3.7845, 9.5143, 90, 90, 90), "I 41/a m d :2", ["Ti", "O"],
                                  [[0, 0.75, 0.125], [0, 0.75, 0.3331]], b_iso=[0.4, 0.6])
    path = tmp_path / "anatase-p1.cif"
    path.write_text(_p1_cif(anatase))
    assert main(["simulate", str(path), "--lines", "8"]) == 0
    out = capsys.readouterr().out
    assert "space group 141 (I 41/a 2/m 2/d) in the CIF's own cell" in out
    lines = {tuple(int(v) for v in row.split()[:3]): float(row.split()[-1]) for row in out.splitlines()
             if len(row.split()) == 7 and row.split()[0].lstrip("-").isdigit()}
    strongest = max(lines, key=lines.get)
    assert sorted(abs(i) for i in strongest) == [0, 1, 1]  # 101, 100 %
    # 004 as one reflection of multiplicity 2: ~20 % of 101 (PDF 21-1272 lists 20 %)
    i004 = [v for hkl, v in lines.items() if sorted(abs(i) for i in hkl) == [0, 0, 4]]
    assert len(i004) == 1 and 14 < i004[0] < 28, lines
    # and the merged simulation is the symmetric structure's
    direct = xrdfast.simulate(anatase)
    from xrdfast.structure import from_cif
    from xrdfast.symmetry import find_symmetry

    merged, found = find_symmetry(from_cif(path))
    assert found["number"] == 141 and found["operations"] == 32
    np.testing.assert_allclose(xrdfast.simulate(merged).intensity, direct.intensity, rtol=0, atol=1e-4)


def test_core_stubs_match_the_bindings():
    """python/xrdfast/_core.pyi is what scripts/gen_stubs.py writes from the built module."""
    import importlib.metadata

    try:
        found = importlib.metadata.version("pybind11-stubgen")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("pybind11-stubgen not installed (pip install 'xrdfast[dev]')")
    if found != "2.5.5":
        pytest.skip(f"pybind11-stubgen {found}: the stubs are written by 2.5.5")
    result = subprocess.run([sys.executable, str(ROOT / "scripts/gen_stubs.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

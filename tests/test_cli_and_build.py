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
    assert "extinction group 17: P - c n" in out


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
    prediction = namespace["prediction"]
    assert len(prediction.candidates) == 5 and (tmp_path / "quartz.xy").is_file()
    assert abs(namespace["same"].top.probability - prediction.top.probability) < 0.01  # file and arrays agree


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(.*?)\n```", readme, re.S)
    assert len(commands) == 2 and commands[0].split("&&")[2].strip() == "pip install torch==2.13.0"
    assert commands[1] in (ROOT / ".ci/run").read_text()


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

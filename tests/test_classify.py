"""The product: classify() with the shipped model, predict / screen / demo from the command
line, and the promise that a bad file costs only its own result."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

import xrdfast  # noqa: E402
from xrdfast.classify import classify, load_model, model_wavelength  # noqa: E402
from xrdfast.cli import main  # noqa: E402
from xrdfast.readers import ANODE_WAVELENGTHS, PatternReadError  # noqa: E402
from xrdfast.screen import find_files, screen  # noqa: E402

DATA = Path(__file__).parent / "data"
GOOD = sorted((DATA / "patterns").iterdir())
BAD = sorted(p for p in (DATA / "bad").iterdir() if p.name != "README.md")


def halite() -> xrdfast.Pattern:
    crystal = xrdfast.from_arrays((5.6401,) * 3 + (90,) * 3, "F m -3 m", ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    return xrdfast.simulate(crystal, W=0.006, U=0.004, eta=0.3)


def read_csv(path: Path) -> list[dict]:
    import csv

    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_shipped_model_loads_offline_and_is_small():
    path = Path(xrdfast.__file__).parent / "models" / "xrdfast-eg-cpu-v1.pt"
    assert path.is_file() and path.stat().st_size < 16 * 2**20
    classifier = load_model()
    assert classifier.payload["calibration"]["temperature"] > 0
    assert len(classifier.grid) == classifier.config.n_points == 8501


def test_prediction_is_a_ranked_calibrated_distribution_with_space_groups():
    pattern = halite()
    p = classify((pattern.two_theta, pattern.intensity), top_k=7)
    probabilities = [c.probability for c in p.candidates]
    assert len(p.candidates) == 7 and probabilities == sorted(probabilities, reverse=True)
    assert 0 < sum(probabilities) <= 1 + 1e-6
    assert abs(sum(p.crystal_system_probabilities.values()) - 1) < 1e-6
    assert p.crystal_system == max(p.crystal_system_probabilities, key=p.crystal_system_probabilities.get)
    assert p.abstain == (p.top.probability < p.threshold) and p.coverage == 1.0
    for c in p.candidates:  # the compatible space groups are the group's members, commonest first
        group = xrdfast.ExtinctionGroup(c.extinction_group)
        assert sorted(n for n, _, _ in c.space_groups) == sorted(group.space_groups)
        shares = [s for _, _, s in c.space_groups]
        assert shares == sorted(shares, reverse=True) and abs(sum(shares) - 1) < 1e-6
        assert c.crystal_system == group.crystal_system
    json.dumps(p.to_dict())  # serialisable as it is
    assert "EG" in p.table() and p.top.symbol in p.table()


def test_same_pattern_any_input_route_same_answer(tmp_path: Path):
    pattern = halite()
    path = tmp_path / "halite.xy"
    np.savetxt(path, np.column_stack([pattern.two_theta, 1000 * pattern.intensity]),
               header="wavelength = 1.540593")
    from_arrays = classify((pattern.two_theta, pattern.intensity))
    from_file = classify(path)
    assert [c.extinction_group for c in from_arrays.candidates] == [c.extinction_group for c in from_file.candidates]
    assert np.allclose([c.probability for c in from_arrays.candidates], [c.probability for c in from_file.candidates],
                       atol=1e-4)
    # deterministic
    again = classify(path)
    assert [c.probability for c in again.candidates] == [c.probability for c in from_file.candidates]


def test_weighted_k_alpha_mean_maps_to_k_alpha1():
    ka1, ka2 = ANODE_WAVELENGTHS["Cu"]
    assert model_wavelength(1.5418) == ka1 and model_wavelength((2 * ka1 + ka2) / 3) == ka1
    assert model_wavelength(ANODE_WAVELENGTHS["Mo"][0]) == ANODE_WAVELENGTHS["Mo"][0]
    assert model_wavelength(0.8265) == 0.8265  # synchrotron: as stated


def test_partial_range_is_masked_and_reported():
    pattern = halite()
    keep = pattern.two_theta < 30
    p = classify((pattern.two_theta[keep], pattern.intensity[keep]))
    assert p.coverage == pytest.approx(np.mean(pattern.two_theta <= 30), abs=2e-3)
    assert any("cover only" in w for w in p.warnings)


def test_bad_input_is_a_pattern_read_error_naming_the_file():
    with pytest.raises(PatternReadError, match="empty.xy"):
        classify(DATA / "bad" / "empty.xy")
    with pytest.raises(PatternReadError, match="arrays"):
        classify(([1.0, 2.0, np.nan], [1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="top_k"):
        classify((np.linspace(5, 90, 50), np.ones(50)), top_k=0)


def test_predict_cli_exit_codes_json_and_plot(tmp_path: Path, capsys):
    good = DATA / "patterns" / "cu-gaussians-v1.5-counts.xrdml"
    assert main(["predict", str(good), "--top-k", "3", "--json", "--plot", str(tmp_path / "p.png")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out) == 1 and len(out[0]["candidates"]) == 3 and out[0]["source"] == str(good)
    assert (tmp_path / "p.png").stat().st_size > 0
    assert main(["predict", str(good), str(DATA / "bad" / "empty.xy")]) == 1
    captured = capsys.readouterr()
    assert "empty.xy" in captured.err and "Traceback" not in captured.err
    assert str(good) in captured.out  # the good file's result is not lost


def test_every_bad_file_is_an_error_row_naming_it_and_the_good_ones_survive(tmp_path: Path):
    good = DATA / "patterns" / "cu-gaussians-v1.5-counts.xrdml"
    rows, _, _ = __import__("xrdfast.screen", fromlist=["classify_chunk"]).classify_chunk(
        [str(p) for p in BAD] + [str(good)], top_k=2, wavelength=1.540593)
    assert len(rows) == len(BAD) + 1
    for path, row in zip(BAD, rows):
        assert row["status"] == "error" and path.name in row["error"] and "unexpected" not in row["error"], row
    assert rows[-1]["status"] == "ok" and rows[-1]["file"] == str(good)


def test_predict_reports_every_bad_file_without_traceback(capsys):
    for bad in BAD:
        assert main(["predict", str(bad), "--wavelength", "1.5406"]) == 1, bad
        err = capsys.readouterr().err
        assert bad.name in err and "Traceback" not in err


@pytest.mark.parametrize("bad", BAD[::12], ids=lambda p: p.name)
def test_predict_process_never_tracebacks_on_bad_files(bad: Path):
    result = subprocess.run([sys.executable, "-m", "xrdfast.cli", "predict", str(bad), "--wavelength", "1.5406"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert bad.name in result.stderr and "Traceback" not in result.stderr


def test_screen_keeps_going_resumes_and_writes_only_its_output(tmp_path: Path):
    files = tmp_path / "in"
    files.mkdir()
    for p in GOOD[:6] + BAD[:20]:
        (files / p.name).write_bytes(p.read_bytes())
    out = tmp_path / "out" / "results.csv"
    summary = screen([files], out, top_k=3, wavelength=1.540593, progress=False, chunk=7)
    found = find_files([files])
    assert summary.files == len(found) and summary.classified + summary.failed == len(found)
    rows = read_csv(out)
    assert sorted(r["file"] for r in rows) == found
    bad_names = {p.name for p in BAD[:20]}
    for r in rows:
        if Path(r["file"]).name in bad_names and Path(r["file"]).suffix in (".xy", ".xye", ".dat", ".csv", ".txt"):
            assert r["status"] == "error" and Path(r["file"]).name in r["error"]
        if r["status"] == "ok":
            assert 1 <= int(r["extinction_group"]) <= 99 and len(json.loads(r["top_k"])) == 3
    assert summary.classified == 6  # every good file; the wavelength serves those that state none
    # resumed: nothing left to do, nothing rewritten
    again = screen([files], out, progress=False)
    assert again.skipped == len(found) and again.classified == again.failed == 0
    assert len(read_csv(out)) == len(rows)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["results.csv"]


def test_screen_jsonl_and_glob_and_dask(tmp_path: Path):
    distributed = pytest.importorskip("dask.distributed")
    for p in GOOD[:4]:
        (tmp_path / p.name).write_bytes(p.read_bytes())
    (tmp_path / "garbage.xy").write_bytes(b"\x00\x01\x02 not a pattern")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        summary = screen([str(tmp_path / "*.*")], tmp_path / "r.jsonl", scheduler=cluster.scheduler_address,
                         progress=False, chunk=2)
    rows = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert len(rows) == 5 == summary.files
    assert [r["status"] for r in rows if r["file"].endswith("garbage.xy")] == ["error"]


def test_screen_parquet_resumes(tmp_path: Path):
    pq = pytest.importorskip("pyarrow.parquet")
    for p in GOOD[:3]:
        (tmp_path / p.name).write_bytes(p.read_bytes())
    (tmp_path / "empty.xy").write_bytes(b"")
    out = tmp_path / "results.parquet"
    first = screen([tmp_path], out, wavelength=1.540593, progress=False)
    table = pq.read_table(out).to_pylist()
    assert first.classified == 3 and first.failed == 1 and len(table) == 4
    assert {r["status"] for r in table} == {"ok", "error"}
    (tmp_path / "more.xy").write_bytes((DATA / "patterns" / "cu-gaussians.xy").read_bytes())
    second = screen([tmp_path], out, wavelength=1.540593, progress=False)
    assert second.skipped == 4 and second.classified == 1 and len(pq.read_table(out)) == 5


def test_screen_command_line(tmp_path: Path, capsys):
    for p in GOOD[:3]:
        (tmp_path / p.name).write_bytes(p.read_bytes())
    assert main(["screen", str(tmp_path), "--out", str(tmp_path / "r.csv"), "--quiet", "--wavelength", "1.540593"]) == 0
    assert "3 classified" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["screen"])
    assert main(["screen", str(tmp_path / "nothing-*.xy"), "--out", str(tmp_path / "r.csv"), "--quiet"]) == 2


def test_demo_classifies_built_in_minerals(tmp_path: Path, capsys):
    assert main(["demo", "--plot", str(tmp_path / "demo.png")]) == 0
    out = capsys.readouterr().out
    for name in ("halite", "quartz", "calcite", "rutile", "baddeleyite", "forsterite"):
        assert name in out
    assert (tmp_path / "demo.png").stat().st_size > 0
    from xrdfast.demo import MINERALS

    # the truth column is the exact extinction group of each structure's space group
    assert xrdfast.extinction_group(MINERALS[0].space_group).number == 94


def test_demo_never_prints_a_plot_it_did_not_write(tmp_path: Path, capsys, monkeypatch):
    import xrdfast.plotting

    def missing():
        raise ValueError("plotting needs matplotlib")

    monkeypatch.setattr(xrdfast.plotting, "pyplot", missing)
    path = tmp_path / "demo.png"
    assert main(["demo", "--plot", str(path)]) == 0
    out = capsys.readouterr().out
    assert not path.exists() and f"plot: {path}" not in out and "no plot written" in out


def test_demo_bars_name_the_extinction_symbol_and_always_show_the_truth():
    from xrdfast.demo import bars

    pattern = halite()
    p = classify((pattern.two_theta, pattern.intensity), top_k=99)
    for truth in (p.candidates[0].extinction_group, p.candidates[40].extinction_group):
        shown = bars(p, truth, shown=3)
        assert sum(is_truth for _, _, is_truth in shown) == 1
        for label, probability, is_truth in shown:
            eg = int(label.split("EG ")[1].split(")")[0].split(",")[0])
            assert xrdfast.ExtinctionGroup(eg).symbol in label
            if is_truth:
                assert eg == truth
    assert len(bars(p, p.candidates[40].extinction_group)) == 4
    assert "rank 41" in bars(p, p.candidates[40].extinction_group)[-1][0]

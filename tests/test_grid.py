"""One grid for every layer: the paper's 5-90 degree, 0.01 degree, Cu K-alpha1 grid defined
in xrdfast.grid and read by the simulator, the data engine, the model and its checkpoints;
a checkpoint refuses patterns on another grid with a message that says what to do."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import xrdfast
from xrdfast import dataset
from xrdfast.grid import DEFAULT_GRID, Grid, default_grid

SHIPPED = Path(xrdfast.__file__).parent / "models" / "xrdfast-eg-cpu-v1.pt"


def test_default_grid_is_the_papers():
    # Baggett et al.: 5-90 degrees in 0.01 degree steps, 8501 points; Cu K-alpha1 of Holzer et al. (1997)
    assert DEFAULT_GRID.n_points == 8501 and DEFAULT_GRID.wavelength == 1.540593
    np.testing.assert_allclose(default_grid(), np.linspace(5.0, 90.0, 8501), rtol=0, atol=1e-12)
    theta = np.radians(np.linspace(5.0, 90.0, 8501) / 2)
    np.testing.assert_allclose(DEFAULT_GRID.sin2_theta(), (1 - np.cos(2 * theta)) / 2, rtol=1e-12, atol=1e-15)


def test_every_layer_reads_the_one_grid():
    from xrdfast.ml.data import CurriculumBatches
    from xrdfast.ml.model import ModelConfig

    assert xrdfast.default_grid is default_grid
    assert ModelConfig().grid == DEFAULT_GRID
    assert np.array_equal(CurriculumBatches({"1": 1.0}, 0, 2, 0, 1).grid, default_grid())
    assert dataset.default_grid is default_grid


def test_grid_round_trips_and_rejects_nonsense():
    g = Grid(10.0, 80.0, 0.02, 0.709317)
    assert Grid.from_dict(g.to_dict()) == g and g.n_points == 3501
    assert Grid.spanning(10.0, 80.0, 3501, 0.709317).matches(g)
    with pytest.raises(ValueError, match="unknown grid settings"):
        Grid.from_dict({"start": 5})
    with pytest.raises(ValueError, match="0 < min < max < 180"):
        Grid(90.0, 5.0)


def test_shipped_checkpoint_without_a_record_reads_the_default_grid():
    from xrdfast.ml.checkpoint import Classifier, load_payload

    assert "grid" not in load_payload(SHIPPED)  # written before checkpoints recorded their grid
    classifier = Classifier.load(SHIPPED, grid=DEFAULT_GRID)
    assert np.array_equal(classifier.grid, default_grid())


def test_checkpoint_records_its_grid_and_refuses_another(tmp_path):
    from xrdfast.ml.checkpoint import Classifier, build_model, load_payload, save, write_payload
    from xrdfast.ml.model import ModelConfig

    model = build_model("vit", ModelConfig(d_model=16, depth=1, heads=2))
    path = save(tmp_path / "m.pt", model, "vit", step=0, train_config={})
    assert Grid.from_dict(load_payload(path)["grid"]) == DEFAULT_GRID
    other = Grid(10.0, 80.0, 0.02)
    with pytest.raises(ValueError, match="trained on 2theta 5-90 degrees.*map them onto the model's grid"):
        Classifier.load(path, grid=other)
    payload = load_payload(path)
    payload["grid"] = other.to_dict()  # a record that contradicts the model's own configuration
    write_payload(payload, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="inconsistent"):
        Classifier.load(tmp_path / "bad.pt")

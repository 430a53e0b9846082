"""``xrdfast evaluate CHECKPOINT DATA``: the metrics of a trained model on one data set.

DATA is one of
- a ``.npz`` of measured patterns with ``two_theta`` (n,), ``intensity`` (N, n) and ``eg``
  (N,) -- the development RRUFF split is one (Cu K-alpha, 5-89.99 degrees);
- ``synthetic:STAGE:N`` -- N fresh patterns of a generator preset (1, 2, po), EG-balanced,
  from a seed no training or calibration stream uses;
- ``amcsd:N`` -- N real mineral structures of the AMCSD (never seen in training, which
  draws random crystals) simulated with realistic stage-2 nuisances;
- a directory written by ``xrdfast generate``.

The report (JSON, plus a reliability diagram and a confusion matrix) holds top-1/3/5, per
crystal family, ECE (15 bins), NLL, Brier, the subgroup-graph analysis of wrong top-1
predictions on our computed graph and on the paper's, the frequency-only prior baseline and
the diversity of the top-1 predictions -- each with and without the prior.
"""
from __future__ import annotations

import json
import logging
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from xrdfast import _core
from xrdfast.ml.checkpoint import Classifier
from xrdfast.ml.metrics import prior_baseline, summarize
from xrdfast.subgroup_graph import SubgroupGraph, subgroup_graph

log = logging.getLogger(__name__)

TEST_SEED = 2_000_003  # the synthetic test stream: disjoint from training (0..) and calibration


def load_data(spec: str, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """(patterns (N, len(grid)) on the model grid, EG labels (N,), description)."""
    if spec.startswith("synthetic:"):
        parts = spec.split(":")
        if len(parts) != 3 or not parts[2].isdigit():
            raise ValueError(f"data {spec!r}: expected synthetic:STAGE:N, e.g. synthetic:2:2000")
        from xrdfast.dataset import generate_samples

        patterns, records = generate_samples(parts[1], TEST_SEED, 0, int(parts[2]), grid)
        ok = records["status"] == 0
        return patterns[ok], records["extinction_group"][ok], f"synthetic stage {parts[1]}, {int(ok.sum())} patterns"
    if spec.startswith("amcsd:"):
        n = spec.split(":", 1)[1]
        if not n.isdigit():
            raise ValueError(f"data {spec!r}: expected amcsd:N, e.g. amcsd:1000")
        return amcsd_test_set(int(n), grid)
    path = Path(spec)
    if path.is_dir():
        from xrdfast.dataset import read_shards

        shards = list(read_shards(path))
        if not shards:
            raise ValueError(f"{path}: no finished shards (expected a directory written by xrdfast generate)")
        patterns = np.concatenate([p[r["status"] == 0] for p, r in shards])
        labels = np.concatenate([r["extinction_group"][r["status"] == 0] for _, r in shards])
        return patterns, labels, f"generated dataset {path}"
    if path.suffix == ".npz":
        try:
            with open(path, "rb") as handle, np.load(handle) as data:  # our handle: closed even when np.load fails
                missing = {"two_theta", "intensity", "eg"} - set(data.files)
                if missing:
                    raise ValueError(f"{path}: missing arrays {sorted(missing)} (expected two_theta, intensity, eg)")
                two_theta, intensity, labels = data["two_theta"], data["intensity"], data["eg"]
        except (OSError, EOFError, zipfile.BadZipFile, ValueError) as error:
            if str(path) in str(error):
                raise
            raise ValueError(f"{path}: not a readable .npz of patterns ({error}); expected arrays two_theta, "
                             "intensity and eg, as numpy.savez writes them") from None
        from xrdfast.classify import prepare  # the route of xrdfast.classify: what is evaluated is what is deployed
        from xrdfast.readers import PatternReadError

        patterns = np.empty((len(intensity), len(grid)), dtype=np.float32)
        for i, row in enumerate(intensity):
            try:
                patterns[i] = prepare((two_theta, row), grid).intensity
            except PatternReadError as error:
                raise ValueError(f"{path}, pattern {i}: {error}") from None
        return patterns, labels.astype(np.int64), f"measured patterns {path.name}"
    raise ValueError(f"data {spec!r}: expected an .npz file, a generated dataset directory, "
                     "synthetic:STAGE:N or amcsd:N")


def amcsd_test_set(n: int, grid: np.ndarray, seed: int = TEST_SEED) -> tuple[np.ndarray, np.ndarray, str]:
    """n AMCSD minerals spread over the collection; mineral k is simulated with the stage-2
    nuisances of sample k of stream ``seed`` -- the generator's own draw
    (``_core.draw_params``), so the evaluation sees exactly the training distribution."""
    from xrdfast.minerals import amcsd_minerals
    from xrdfast.simulate import simulate_batch

    rng = np.random.default_rng(seed)
    ids = rng.permutation(np.arange(1, 20000))
    crystals, labels = [], []
    for mineral in amcsd_minerals([int(i) for i in ids]):
        if mineral.crystal.n_atoms > 400:
            continue
        crystals.append(mineral.crystal)
        labels.append(mineral.extinction_group)
        if len(crystals) == n:
            break
    result = simulate_batch(crystals, stage_parameters("2", seed, len(crystals)), grid=grid, seed=seed)
    ok = result.ok
    return result.patterns[ok], np.array(labels)[ok], f"AMCSD minerals simulated with stage-2 nuisances, {int(ok.sum())}"


def stage_parameters(stage: str, seed: int, n: int) -> list[_core.SimulationParams]:
    """The nuisances of samples 0..n-1 of stream ``seed`` of a generator stage, as
    ``generate_samples`` draws them."""
    distribution = _core.StageDistribution.preset(stage)
    return [_core.draw_params(distribution, seed, k) for k in range(n)]


def paper_graph(shared: Path | None = None) -> SubgroupGraph | None:
    """The paper's published EG graph, when the reference material is beside the checkout."""
    from xrdfast.ml.metrics import load_graph_json

    for base in [shared] if shared else [Path.cwd().parent / "shared", Path(__file__).resolve().parents[3].parent / "shared"]:
        path = base / "reference" / "eg_tsubgroup_graph_paper.json"
        if path.is_file():
            return load_graph_json(path)
    return None


def evaluate(checkpoint: str | Path, data: str, out: str | Path | None = None,
             shared: Path | None = None) -> dict[str, Any]:
    """Metrics of a checkpoint on a data set, with and without the prior; writes
    ``report.json``, ``reliability.png`` and ``confusion.png`` under ``out`` when given."""
    classifier = Classifier.load(checkpoint)
    patterns, labels, description = load_data(data, classifier.grid)
    graphs = {"computed": subgroup_graph()}
    paper = paper_graph(shared)
    if paper is not None:
        graphs["paper"] = paper
    report: dict[str, Any] = {"checkpoint": str(checkpoint), "data": data, "description": description,
                              "n": int(len(labels)), "temperature": classifier.calibration.temperature,
                              "prior_source": classifier.calibration.prior_source}
    z = classifier.logits(patterns)  # one pass of the network serves all three variants
    probabilities = {}
    for name, kwargs in {"uncalibrated": dict(calibrated=False, with_prior=False),
                         "calibrated": dict(calibrated=True, with_prior=False),
                         "calibrated_with_prior": dict(calibrated=True, with_prior=True)}.items():
        probabilities[name] = np.exp(classifier.calibrated(z, **kwargs))
        report[name] = summarize(probabilities[name], labels, graphs)
    if classifier.calibration.log_prior is not None:
        report["prior_only"] = prior_baseline(np.exp(np.asarray(classifier.calibration.log_prior)), labels)
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps(report, indent=1))
        _plots(probabilities["calibrated_with_prior"], labels, out, description)
    return report


def _plots(probabilities: np.ndarray, labels: np.ndarray, out: Path, title: str) -> None:
    from xrdfast.plotting import pyplot

    try:
        plt = pyplot()
    except ValueError as error:  # matplotlib missing: the report is still written
        log.warning("no plots: %s", error)
        return

    from xrdfast.ml.metrics import confusion_matrix, reliability_bins

    bins = reliability_bins(probabilities, labels, n_bins=15)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    used = [i for i, n in enumerate(bins["count"]) if n > 0]
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--")
    ax.bar([0.5 * (bins["lower"][i] + bins["upper"][i]) for i in used], [bins["accuracy"][i] for i in used],
           width=1 / 15, edgecolor="k", alpha=0.7, label="accuracy per confidence bin")
    ax.plot([bins["confidence"][i] for i in used], [bins["accuracy"][i] for i in used], "o", color="C3", ms=3,
            label="(mean confidence, accuracy)")
    ax.set(xlabel="confidence of top-1", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1), title=title[:60])
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(out / "reliability.png", dpi=120)
    plt.close(fig)
    matrix = confusion_matrix(probabilities.argmax(1) + 1, labels)  # rows: truth
    fig, ax = plt.subplots(figsize=(6, 5.5))
    image = ax.imshow(np.log10(1 + matrix), cmap="viridis", origin="lower", extent=(0.5, 99.5, 0.5, 99.5), aspect="auto")
    ax.set(xlabel="predicted extinction group", ylabel="true extinction group", title="confusion (log10 1 + count)")
    fig.colorbar(image, ax=ax, shrink=0.8)
    fig.tight_layout()
    fig.savefig(out / "confusion.png", dpi=120)
    plt.close(fig)

"""Screen many measured patterns: one row per file, written as it goes.

``screen(["data/**/*.xy"], "results.csv")`` reads every file, classifies the readable ones
in batches and appends their rows; a file that cannot be read (or classified) gets a row
with its error, and the run goes on. Re-running with the same output skips the files that
already have a row, so an interrupted screen resumes. With a Dask scheduler address the
chunks run on the cluster (each worker loads the model once) and rows are written as chunks
finish; without one they run here, in order.

Output by suffix: ``.csv``, ``.jsonl`` (appended chunk by chunk) or ``.parquet`` (needs
pyarrow; rewritten at the end of the run, so resumption works from completed runs only).
"""
from __future__ import annotations

import csv
import glob
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence


from xrdfast.classify import load_model, predict, prepare
from xrdfast.readers import PatternReadError

log = logging.getLogger(__name__)

COLUMNS = ("file", "status", "error", "extinction_group", "symbol", "probability", "crystal_system",
           "crystal_system_probability", "abstain", "coverage", "space_groups", "top_k")
OUTPUT_FORMATS = (".csv", ".jsonl", ".parquet")


@dataclass
class ScreenSummary:
    files: int            # files found
    skipped: int          # already in the output (resumed)
    classified: int
    failed: int
    read_seconds: float
    inference_seconds: float
    out: Path

    def __str__(self) -> str:
        done = self.classified + self.failed
        rate = done / max(self.read_seconds + self.inference_seconds, 1e-9)
        return (f"{self.out}: {self.classified} classified, {self.failed} failed, {self.skipped} already done "
                f"of {self.files} files; reading {self.read_seconds:.2f} s, inference {self.inference_seconds:.2f} s "
                f"({rate:.0f} files/s)")


def find_files(inputs: Sequence[str | os.PathLike]) -> list[str]:
    """Files named by paths, directories (searched recursively for pattern files) or globs;
    sorted, without duplicates. A name that matches nothing is an error."""
    from xrdfast.readers import EXTENSIONS

    found: list[str] = []
    for item in inputs:
        item = str(item)
        if os.path.isdir(item):
            for root, _, names in os.walk(item):
                found += [os.path.join(root, n) for n in names if Path(n).suffix.lower() in EXTENSIONS]
        elif os.path.exists(item):
            found.append(item)
        else:
            matches = glob.glob(item, recursive=True)
            if not matches:
                raise ValueError(f"{item}: no such file or directory, and no file matches it as a pattern")
            found += [m for m in matches if os.path.isfile(m)]
    return sorted(dict.fromkeys(os.path.normpath(f) for f in found))


def classify_chunk(paths: Sequence[str], top_k: int = 5, wavelength: float | None = None,
                   model: str | None = None, with_prior: bool = True) -> tuple[list[dict[str, Any]], float, float]:
    """Rows for some files, (rows, reading seconds, inference seconds). Never raises for a
    bad file: its row carries the error."""
    classifier = load_model(model)
    rows: dict[int, dict[str, Any]] = {}
    ready: list[tuple[int, Any]] = []
    t0 = time.perf_counter()
    for i, path in enumerate(paths):
        try:
            ready.append((i, prepare(path, classifier.grid, wavelength)))
        except PatternReadError as error:
            rows[i] = _error_row(path, str(error))
        except Exception as error:  # a reader bug must not cost the other files their results
            rows[i] = _error_row(path, f"{path}: unexpected {type(error).__name__}: {error}")
    t1 = time.perf_counter()
    found = predict(classifier, [q for _, q in ready], top_k, with_prior)
    for (i, _), prediction in zip(ready, found):
        rows[i] = _row(paths[i], prediction)
    t2 = time.perf_counter()
    return [rows[i] for i in range(len(paths))], t1 - t0, t2 - t1


def _error_row(path: str, message: str) -> dict[str, Any]:
    return {**{c: None for c in COLUMNS}, "file": path, "status": "error", "error": message}


def _row(path: str, p) -> dict[str, Any]:
    top = p.top
    return {"file": path, "status": "ok", "error": "; ".join(p.warnings) or None,
            "extinction_group": top.extinction_group, "symbol": top.symbol, "probability": round(top.probability, 6),
            "crystal_system": p.crystal_system,
            "crystal_system_probability": round(p.crystal_system_probabilities[p.crystal_system], 6),
            "abstain": p.abstain, "coverage": round(p.coverage, 4),
            "space_groups": " ".join(s for _, s, _ in top.space_groups[:3]),
            "top_k": json.dumps([[c.extinction_group, round(c.probability, 6)] for c in p.candidates])}


class _Writer:
    """Appends rows to .csv/.jsonl as they come; collects them for .parquet."""

    def __init__(self, out: Path) -> None:
        self.out, self.kind = out, out.suffix.lower()
        if self.kind not in OUTPUT_FORMATS:
            raise ValueError(f"{out}: output must end in {', '.join(OUTPUT_FORMATS)}")
        if self.kind == ".parquet":
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise ValueError(f"{out}: writing parquet needs pyarrow (pip install pyarrow), "
                                 "or choose a .csv or .jsonl output") from None
        self.rows: list[dict[str, Any]] = []
        out.parent.mkdir(parents=True, exist_ok=True)

    def done(self) -> list[dict[str, Any]]:
        """Rows already in the output (for resuming)."""
        if not self.out.exists():
            return []
        if self.kind == ".csv":
            with open(self.out, newline="") as f:
                return list(csv.DictReader(f))
        if self.kind == ".jsonl":
            rows = []
            for line in self.out.read_text().splitlines():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    pass  # a line cut short by an interruption: that file runs again
            return rows
        import pyarrow.parquet as pq

        return pq.read_table(self.out).to_pylist()

    def append(self, rows: Iterable[dict[str, Any]]) -> None:
        rows = list(rows)
        if self.kind == ".parquet":
            self.rows += rows
            return
        new = not self.out.exists() or self.out.stat().st_size == 0
        with open(self.out, "a", newline="") as f:
            if self.kind == ".csv":
                writer = csv.DictWriter(f, fieldnames=COLUMNS)
                if new:
                    writer.writeheader()
                writer.writerows(rows)
            else:
                f.writelines(json.dumps(r) + "\n" for r in rows)

    def close(self, previous: list[dict[str, Any]]) -> None:
        if self.kind == ".parquet" and self.rows:
            import pyarrow as pa
            import pyarrow.parquet as pq

            partial = self.out.with_name(self.out.name + ".partial")
            pq.write_table(pa.Table.from_pylist(previous + self.rows), partial)
            os.replace(partial, self.out)


def screen(inputs: Sequence[str | os.PathLike], out: str | os.PathLike, *, top_k: int = 5,
           wavelength: float | None = None, model: str | None = None, chunk: int = 512,
           scheduler: str | None = None, progress: bool = True, with_prior: bool = True) -> ScreenSummary:
    """Classify every file of ``inputs`` into ``out`` (see the module docstring)."""
    out = Path(out)
    writer = _Writer(out)
    files = find_files(inputs)
    previous = writer.done()
    done = {r["file"] for r in previous}
    todo = [f for f in files if f not in done]
    chunks = [todo[i:i + chunk] for i in range(0, len(todo), chunk)]
    summary = ScreenSummary(len(files), len(files) - len(todo), 0, 0, 0.0, 0.0, out)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(files), initial=summary.skipped, unit="file", desc="screen", dynamic_ncols=True)

    def record(result: tuple[list[dict[str, Any]], float, float]) -> None:
        rows, read_s, infer_s = result
        writer.append(rows)
        summary.classified += sum(r["status"] == "ok" for r in rows)
        summary.failed += sum(r["status"] != "ok" for r in rows)
        summary.read_seconds += read_s
        summary.inference_seconds += infer_s
        if bar is not None:
            bar.update(len(rows))

    if scheduler:
        from dask.distributed import Client, as_completed

        with Client(scheduler) as client:
            futures = [client.submit(classify_chunk, c, top_k, wavelength, model, with_prior, pure=False) for c in chunks]
            for future in as_completed(futures):
                record(future.result())
    else:
        for c in chunks:
            record(classify_chunk(c, top_k, wavelength, model, with_prior))
    writer.close(previous)
    if bar is not None:
        bar.close()
    return summary

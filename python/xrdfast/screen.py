"""Screen many measured patterns: one row per file, written as it goes.

``screen(["data/**/*.xy"], "results.csv")`` reads every file, classifies the readable ones
in batches and appends their rows; a file that cannot be read (or classified) gets a row
with its error, and the run goes on. With a Dask scheduler address the chunks run on the
cluster (each worker loads the model once) and rows are written as chunks finish; without
one they run here, in order.

Which files: directories are searched recursively for the extensions of
``xrdfast.readers.EXTENSIONS`` (the list ``predict`` documents); files found there with
other extensions are counted and named in the summary, never dropped silently. Files and
globs named explicitly are all taken.

Wavelengths: a file's own stated wavelength always wins; ``wavelength`` serves only the
files that state none. Each row says which was used (``wavelength``, ``wavelength_source``
= file / option).

Resuming: re-running with the same output skips the files whose row says ``ok``. Files
whose row is an error are tried again, and their old error rows are removed from the
output first (the output is rewritten without them, atomically), so every file has one row:
its latest result. Warnings of successful rows (partial coverage, input outside the
training data, a doubtful wavelength) go to the ``warnings`` column; ``error`` is only for
failures.

The output is written by one writer that (1) takes an advisory lock on it for the whole run
(a second screen on the same output fails at once with a clear message), (2) refuses an
existing file that is not a screen output (another header, lines that are not rows), and
(3) appends each chunk's rows with a single write and fsync; a line torn by an interruption
is removed when the run resumes and its file is classified again.

Output by suffix: ``.csv``, ``.jsonl`` (appended chunk by chunk) or ``.parquet`` (needs
pyarrow; rewritten at the end of the run, so resumption works from completed runs only).
"""
from __future__ import annotations

import csv
import glob
import io
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from xrdfast.classify import load_model, predict, prepare
from xrdfast.readers import EXTENSIONS, PatternReadError

log = logging.getLogger(__name__)

COLUMNS = ("file", "status", "error", "warnings", "extinction_group", "symbol", "probability", "crystal_system",
           "crystal_system_probability", "abstain", "coverage", "wavelength", "wavelength_source", "space_groups",
           "top_k", "method", "match_entry", "match_name", "match_formula", "match_probability")
OUTPUT_FORMATS = (".csv", ".jsonl", ".parquet")
# The digits written: the model's float32 arithmetic carries ~7, and inference is batch
# invariant (classify.BATCH), so a resumed row equals an uninterrupted one.
DIGITS = 6


@dataclass
class ScreenSummary:
    files: int            # files found
    skipped: int          # already in the output with status ok (resumed)
    classified: int
    failed: int
    read_seconds: float
    inference_seconds: float
    out: Path
    retried: int = 0      # files whose earlier error row was replaced
    unrecognised: list[str] = field(default_factory=list)  # found in directories, not a pattern extension

    def __str__(self) -> str:
        done = self.classified + self.failed
        rate = done / max(self.read_seconds + self.inference_seconds, 1e-9)
        text = (f"{self.out}: {self.classified} classified, {self.failed} failed, {self.skipped} already done "
                f"of {self.files} files{f' ({self.retried} failed before and were retried)' if self.retried else ''}; "
                f"reading {self.read_seconds:.2f} s, inference {self.inference_seconds:.2f} s ({rate:.0f} files/s)")
        if self.unrecognised:
            names = ", ".join(Path(n).name for n in self.unrecognised[:5])
            more = f" and {len(self.unrecognised) - 5} more" if len(self.unrecognised) > 5 else ""
            text += (f"\n{len(self.unrecognised)} files in the directories were not screened: their extensions are "
                     f"not pattern formats ({names}{more}); name them explicitly to try them")
        return text


def scan_inputs(inputs: Sequence[str | os.PathLike]) -> tuple[list[str], list[str]]:
    """(pattern files, unrecognised files) named by paths, directories (searched
    recursively) or globs; both sorted, without duplicates. In directories a file is a
    pattern file by its extension (``EXTENSIONS``); a file or glob named explicitly is
    always taken. A name that matches nothing is an error."""
    found: list[str] = []
    others: list[str] = []
    for item in inputs:
        item = str(item)
        if os.path.isdir(item):
            for root, _, names in os.walk(item):
                for n in names:
                    (found if Path(n).suffix.lower() in EXTENSIONS else others).append(os.path.join(root, n))
        elif os.path.exists(item):
            found.append(item)
        else:
            matches = glob.glob(item, recursive=True)
            if not matches:
                raise ValueError(f"{item}: no such file or directory, and no file matches it as a pattern")
            found += [m for m in matches if os.path.isfile(m)]
    unique = sorted(dict.fromkeys(os.path.normpath(f) for f in found))
    taken = set(unique)
    return unique, sorted({os.path.normpath(f) for f in others} - taken)


def find_files(inputs: Sequence[str | os.PathLike]) -> list[str]:
    """The pattern files of ``scan_inputs``."""
    return scan_inputs(inputs)[0]


def classify_chunk(paths: Sequence[str], top_k: int = 5, wavelength: float | None = None,
                   model: str | None = None, with_prior: bool = True,
                   index: bool = True) -> tuple[list[dict[str, Any]], float, float]:
    """Rows for some files, (rows, reading seconds, inference seconds). Never raises for a
    bad file: its row carries the error. ``index``: peaks, indexing and extinction evidence
    (``classify``'s default); False is the network alone (``screen --fast``)."""
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
    try:
        found = predict(classifier, [q for _, q in ready], top_k, with_prior, index=index)
    except PatternReadError:  # one pattern the model cannot take: find it, keep the others
        found = []
        for i, q in ready:
            try:
                found += predict(classifier, [q], top_k, with_prior, index=index)
            except PatternReadError as error:
                found.append(str(error))
    ok = [(k, q) for k, ((_, q), p) in enumerate(zip(ready, found)) if not isinstance(p, str)]
    if ok:  # search-match against the cached reference library, when there is one (xrdfast.match)
        from xrdfast.match import with_matches

        for (k, _), p in zip(ok, with_matches([found[k] for k, _ in ok], [q.intensity for _, q in ok], top_k,
                                               note_missing=False)):
            found[k] = p
    for (i, _), prediction in zip(ready, found):
        rows[i] = _error_row(paths[i], prediction) if isinstance(prediction, str) else _row(paths[i], prediction)
    t2 = time.perf_counter()
    return [rows[i] for i in range(len(paths))], t1 - t0, t2 - t1


def _error_row(path: str, message: str) -> dict[str, Any]:
    return {**{c: None for c in COLUMNS}, "file": path, "status": "error", "error": message}


def _row(path: str, p) -> dict[str, Any]:
    top = p.top
    return {"file": path, "status": "ok", "error": None, "warnings": "; ".join(p.warnings) or None,
            "extinction_group": top.extinction_group, "symbol": top.symbol,
            "probability": round(top.probability, DIGITS), "crystal_system": p.crystal_system,
            "crystal_system_probability": round(p.crystal_system_probabilities[p.crystal_system], DIGITS),
            "abstain": p.abstain, "coverage": round(p.coverage, 4), "wavelength": p.wavelength,
            "wavelength_source": p.wavelength_source or None,
            "space_groups": " ".join(s for _, s, _ in top.space_groups[:3]),
            "top_k": json.dumps([[c.extinction_group, round(c.probability, DIGITS)] for c in p.candidates]),
            **_match_columns(p)}


def _match_columns(p) -> dict[str, Any]:
    best = p.matches[0] if p.matches else None
    return {"method": p.method, "match_entry": best.entry_id if best else None, "match_name": best.name if best else None,
            "match_formula": best.formula if best else None,
            "match_probability": round(best.probability, DIGITS) if best else None}


class _Writer:
    """The one writer of a screen output: locked, validated, appended atomically."""

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
        if out.is_dir():
            raise ValueError(f"{out}: is a directory; expected a results file")
        self.rows: list[dict[str, Any]] = []
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            self.handle = open(out, "a+b")  # noqa: SIM115 - held, with its lock, for the whole run
        except OSError as error:
            raise ValueError(f"{out}: cannot write the results there ({error.strerror}); choose another --out") from None
        self._lock()

    def _lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # no advisory locks on this platform (Windows): nothing to take
            return
        try:
            fcntl.flock(self.handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            raise ValueError(f"{self.out}: another xrdfast screen is writing this output (its lock is held); "
                             "wait for it to finish or choose another --out") from None

    def release(self) -> None:
        if not self.handle.closed:
            self.handle.close()  # closing drops the lock

    def _not_ours(self, detail: str) -> ValueError:
        self.release()
        return ValueError(f"{self.out}: not an xrdfast screen output ({detail}); choose another --out, or delete "
                          "the file to start afresh")

    def done(self) -> list[dict[str, Any]]:
        """The rows already in the output, after checking it is ours and cutting a torn
        last line (its file runs again)."""
        size = self.out.stat().st_size
        if size == 0:
            return []
        if self.kind == ".parquet":
            import pyarrow.parquet as pq

            try:
                table = pq.read_table(self.out)
            except Exception as error:  # pyarrow raises its own types for a file that is not parquet
                raise self._not_ours(f"not readable as parquet: {error}") from None
            if not {"file", "status"} <= set(table.column_names):
                raise self._not_ours(f"columns {table.column_names[:6]}")
            return table.to_pylist()
        self.handle.seek(0)
        data = self.handle.read()
        end = data.rfind(b"\n") + 1
        if end < len(data):  # an interrupted append: drop the partial line
            log.info("%s: removing a line torn by an interrupted run; its file runs again", self.out)
            self.handle.truncate(end)
            self.handle.flush()
            os.fsync(self.handle.fileno())
            data = data[:end]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise self._not_ours("not UTF-8 text") from None
        if self.kind == ".csv":
            reader = csv.reader(io.StringIO(text, newline=""))
            header = next(reader, None)
            if header is None:
                return []
            if tuple(header) != COLUMNS:
                raise self._not_ours(f"its header is {','.join(header)[:80]!r}, expected {','.join(COLUMNS)[:80]!r}...")
            rows = []
            for number, cells in enumerate(reader, 2):
                if len(cells) != len(COLUMNS):
                    raise self._not_ours(f"line {number} has {len(cells)} fields, expected {len(COLUMNS)}")
                rows.append(dict(zip(COLUMNS, cells)))
            return rows
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                raise self._not_ours(f"line {number} is not JSON") from None
            if not isinstance(row, dict) or not {"file", "status"} <= set(row):
                raise self._not_ours(f"line {number} is not a row with 'file' and 'status'")
            rows.append(row)
        return rows

    def drop(self, rows: list[dict[str, Any]], files: set[str]) -> list[dict[str, Any]]:
        """Rewrite the output without the rows of ``files`` (atomically: a new file renamed
        over the old one, then locked again); returns the rows kept."""
        kept = [r for r in rows if r["file"] not in files]
        if self.kind == ".parquet":
            return kept  # rewritten at the end of the run anyway
        partial = self.out.with_name(self.out.name + ".partial")
        with open(partial, "wb") as f:
            f.write(self._encode(kept, header=self.kind == ".csv"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, self.out)
        self.release()
        self.handle = open(self.out, "a+b")  # noqa: SIM115
        self._lock()
        return kept

    def _encode(self, rows: Iterable[dict[str, Any]], header: bool) -> bytes:
        if self.kind == ".csv":
            buffer = io.StringIO(newline="")
            writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
            if header:
                writer.writeheader()
            writer.writerows(rows)
            return buffer.getvalue().encode("utf-8")
        return "".join(json.dumps(r, allow_nan=False) + "\n" for r in rows).encode("utf-8")

    def append(self, rows: Iterable[dict[str, Any]]) -> None:
        rows = list(rows)
        if self.kind == ".parquet":
            self.rows += rows
            return
        self.handle.seek(0, os.SEEK_END)
        data = self._encode(rows, header=self.kind == ".csv" and self.handle.tell() == 0)
        self.handle.write(data)  # one write per chunk, then to disk: a kill leaves at most one torn line
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def close(self, previous: list[dict[str, Any]]) -> None:
        try:
            if self.kind == ".parquet" and self.rows:
                import pyarrow as pa
                import pyarrow.parquet as pq

                partial = self.out.with_name(self.out.name + ".partial")
                pq.write_table(pa.Table.from_pylist(previous + self.rows), partial)
                os.replace(partial, self.out)
        finally:
            self.release()


def screen(inputs: Sequence[str | os.PathLike], out: str | os.PathLike, *, top_k: int = 5,
           wavelength: float | None = None, model: str | None = None, chunk: int = 512,
           scheduler: str | None = None, progress: bool = True, with_prior: bool = True,
           index: bool = True) -> ScreenSummary:
    """Classify every file of ``inputs`` into ``out`` (see the module docstring). ``index``:
    read absences (peaks, indexing, extinction evidence) as ``classify`` does; False screens
    with the network alone, hundreds of files a second instead of about one."""
    out = Path(out)
    files, unrecognised = scan_inputs(inputs)
    if unrecognised:
        log.info("%d files not screened (extensions that are not pattern formats), e.g. %s", len(unrecognised),
                 ", ".join(unrecognised[:3]))
    writer = _Writer(out)
    try:
        previous = writer.done()
        ok = {r["file"] for r in previous if r.get("status") == "ok"}
        todo = [f for f in files if f not in ok]
        retry = {r["file"] for r in previous if r.get("status") != "ok"} & set(todo)
        if retry:
            previous = writer.drop(previous, retry)
        chunks = [todo[i:i + chunk] for i in range(0, len(todo), chunk)]
        summary = ScreenSummary(len(files), len(files) - len(todo), 0, 0, 0.0, 0.0, out, len(retry), unrecognised)
        _run(chunks, writer, summary, top_k, wavelength, model, with_prior, index, scheduler, progress)
        writer.close(previous)
    finally:
        writer.release()
    return summary


def _run(chunks: list[list[str]], writer: _Writer, summary: ScreenSummary, top_k: int, wavelength: float | None,
         model: str | None, with_prior: bool, index: bool, scheduler: str | None, progress: bool) -> None:
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=summary.files, initial=summary.skipped, unit="file", desc="screen", dynamic_ncols=True)

    def record(result: tuple[list[dict[str, Any]], float, float]) -> None:
        rows, read_s, infer_s = result
        writer.append(rows)
        summary.classified += sum(r["status"] == "ok" for r in rows)
        summary.failed += sum(r["status"] != "ok" for r in rows)
        summary.read_seconds += read_s
        summary.inference_seconds += infer_s
        if bar is not None:
            bar.update(len(rows))

    try:
        if scheduler:
            from dask.distributed import Client, as_completed

            with Client(scheduler) as client:
                futures = [client.submit(classify_chunk, c, top_k, wavelength, model, with_prior, index, pure=False)
                           for c in chunks]
                for future in as_completed(futures):
                    record(future.result())
        else:
            for c in chunks:
                record(classify_chunk(c, top_k, wavelength, model, with_prior, index))
    finally:
        if bar is not None:
            bar.close()

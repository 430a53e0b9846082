"""Reference library for search-match: known structures, simulated once, kept as line lists.

A library is AMCSD (the ~9,300 mineral structures shipped by ``larixite``) by default, or
every CIF under a user's directory (Materials Project, ICSD exports, their own). Each
structure is simulated once with xrdfast's own simulator and reduced to what matching
needs: its reflection lines, d (Å) and m|F|² (multiplicity times squared structure factor,
displacement parameters included; no Lorentz-polarisation factor, no texture), so that
any wavelength and geometry can be rendered from it at match time. Lines are kept for
0.8 ≤ d ≤ 30 Å (Cu K-alpha up to 2θ ≈ 149°); lines within 2·10⁻⁴ in d are merged and
lines weaker than 10⁻⁴ of the strongest are dropped, which keeps AMCSD at a few MB.

The library is cached in the user's cache directory (``$XDG_CACHE_HOME/xrdfast`` or
``~/.cache/xrdfast``; ``XRDFAST_CACHE_DIR`` overrides) as one ``.npz`` whose key names the
source (larixite version and database file, or every CIF's path, size and mtime), the
library format and the xrdfast (simulator) version, with a checksum of the arrays. A cache
whose key or checksum does not match, or that cannot be read, is rebuilt, never trusted.
CIFs that cannot be read or simulated are listed in ``Library.errors`` and skipped.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from xrdfast._core import Crystal, build_info, extinction_group_number, simulate_pattern
from xrdfast.simulate import make_params

log = logging.getLogger(__name__)

LIBRARY_FORMAT = 1             # bump when what is stored or how it is simulated changes
D_MIN, D_MAX = 0.8, 30.0       # Å: Cu K-alpha 2θ from ~2.9° to ~149°
MERGE_RELATIVE = 2e-4          # lines closer than this in d/d are one line (no pattern resolves them)
KEEP_RELATIVE = 1e-4           # lines weaker than this fraction of the strongest m|F|² are dropped
_SIM_WAVELENGTH = 0.5          # Å: short enough that D_MIN lies at a modest 2θ (any λ gives the same d, m|F|²)
MAX_ATOMS = 2000               # atoms per cell; larger cells are listed as errors (their line lists explode)


@dataclass(frozen=True)
class Entry:
    """One reference structure of a library."""

    entry_id: str          # 'amcsd-96' or the CIF path relative to the library directory
    name: str              # mineral or compound name
    formula: str
    space_group: int
    extinction_group: int
    species: str           # what counts as 'the same phase' (mineral name, lower case; else the formula)


@dataclass
class Library:
    """Line lists of reference structures: entry i owns lines ``offsets[i]:offsets[i+1]``."""

    ids: np.ndarray            # (N,) str
    names: np.ndarray          # (N,) str
    formulas: np.ndarray       # (N,) str
    species: np.ndarray        # (N,) str
    space_groups: np.ndarray   # (N,) int16
    extinction_groups: np.ndarray  # (N,) int16
    cell_mass: np.ndarray      # (N,) float64, g/mol per cell (for weight fractions)
    volume: np.ndarray         # (N,) float64, Å³
    offsets: np.ndarray        # (N + 1,) int64
    d: np.ndarray              # (M,) float32, Å
    mf2: np.ndarray            # (M,) float32, multiplicity * |F|²
    source: str = ""
    errors: list[tuple[str, str]] = field(default_factory=list)  # (file or id, message) of skipped entries

    def __len__(self) -> int:
        return len(self.ids)

    def entry(self, i: int) -> Entry:
        return Entry(str(self.ids[i]), str(self.names[i]), str(self.formulas[i]), int(self.space_groups[i]),
                     int(self.extinction_groups[i]), str(self.species[i]))

    def lines(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(d, m|F|²) of entry i."""
        a, b = self.offsets[i], self.offsets[i + 1]
        return self.d[a:b], self.mf2[a:b]

    def subset(self, keep: np.ndarray) -> "Library":
        """The entries where ``keep`` (bool (N,) or indices) holds, in order."""
        index = np.flatnonzero(keep) if np.asarray(keep).dtype == bool else np.asarray(keep, dtype=np.int64)
        counts = np.diff(self.offsets)[index]
        take = np.concatenate([np.arange(self.offsets[i], self.offsets[i + 1]) for i in index]) if len(index) else \
            np.zeros(0, dtype=np.int64)
        return Library(self.ids[index], self.names[index], self.formulas[index], self.species[index],
                       self.space_groups[index], self.extinction_groups[index], self.cell_mass[index],
                       self.volume[index], np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                       self.d[take], self.mf2[take], self.source, list(self.errors))

    # -- storage -------------------------------------------------------------------------
    def _arrays(self) -> dict[str, np.ndarray]:
        return {"ids": self.ids, "names": self.names, "formulas": self.formulas, "species": self.species,
                "space_groups": self.space_groups, "extinction_groups": self.extinction_groups,
                "cell_mass": self.cell_mass, "volume": self.volume, "offsets": self.offsets, "d": self.d,
                "mf2": self.mf2}

    def save(self, path: Path, key: str) -> None:
        """Write atomically (a reader never sees half a file), with the key and a checksum."""
        arrays = self._arrays()
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + f".{os.getpid()}.partial")
        with open(partial, "wb") as f:
            np.savez(f, key=np.array(key), checksum=np.array(_checksum(arrays)), source=np.array(self.source),
                     errors=np.array(json.dumps(self.errors)), **arrays)
        os.replace(partial, path)

    @classmethod
    def load(cls, path: Path, key: str) -> "Library":
        """Read a cached library; ``ValueError`` when it is stale or damaged."""
        try:
            with open(path, "rb") as f, np.load(f, allow_pickle=False) as data:
                stored = {name: data[name] for name in data.files}
        except Exception as error:  # zip, header or CRC damage: np.load raises many kinds
            raise ValueError(f"{path}: unreadable ({type(error).__name__}: {error})") from None
        names = ("ids", "names", "formulas", "species", "space_groups", "extinction_groups", "cell_mass", "volume",
                 "offsets", "d", "mf2")
        missing = [n for n in (*names, "key", "checksum", "source", "errors") if n not in stored]
        if missing:
            raise ValueError(f"{path}: missing arrays {missing}")
        if str(stored["key"]) != key:
            raise ValueError(f"{path}: built for another library or xrdfast version")
        arrays = {n: stored[n] for n in names}
        if str(stored["checksum"]) != _checksum(arrays):
            raise ValueError(f"{path}: checksum mismatch (damaged file)")
        library = cls(**arrays, source=str(stored["source"]),
                      errors=[tuple(e) for e in json.loads(str(stored["errors"]))])
        n = len(library.ids)
        if library.offsets.shape != (n + 1,) or library.offsets[-1] != len(library.d) or len(library.mf2) != len(library.d):
            raise ValueError(f"{path}: inconsistent line offsets")
        return library


def _checksum(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode())
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def cache_dir() -> Path:
    """Where libraries are cached: ``XRDFAST_CACHE_DIR``, else ``$XDG_CACHE_HOME/xrdfast``, else
    ``~/.cache/xrdfast``."""
    if os.environ.get("XRDFAST_CACHE_DIR"):
        return Path(os.environ["XRDFAST_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "xrdfast"


# -- one structure -> lines -----------------------------------------------------------------
def _formula(crystal: Crystal) -> str:
    """Cell contents as a reduced formula (Hill order: C, H, then alphabetical)."""
    atoms, types = crystal.atoms(), crystal.sites()["types"]
    counts: dict[str, float] = {}
    for site, occupancy in zip(atoms["site"], atoms["occupancy"]):
        symbol = "".join(ch for ch in str(types[int(site)]) if ch.isalpha())
        counts[symbol] = counts.get(symbol, 0.0) + float(occupancy)
    if not counts:
        return ""
    smallest = min(v for v in counts.values() if v > 0)
    order = sorted(counts, key=lambda s: (s != "C", s != "H", s))
    parts = []
    for s in order:
        v = counts[s] / smallest
        parts.append(s + ("" if abs(v - 1) < 1e-3 else f"{v:.3g}" if abs(v - round(v)) > 1e-2 else str(int(round(v)))))
    return "".join(parts)


@functools.lru_cache(maxsize=1)
def _line_params():
    theta_max = math.asin(_SIM_WAVELENGTH / (2 * D_MIN))
    theta_min = math.asin(_SIM_WAVELENGTH / (2 * D_MAX))
    grid = np.array([2 * math.degrees(theta_min), 2 * math.degrees(theta_max)])
    return make_params(wavelength=_SIM_WAVELENGTH, wavelength2=0.0), grid


def crystal_lines(crystal: Crystal) -> tuple[np.ndarray, np.ndarray]:
    """(d, m|F|²) of a crystal's lines in D_MIN..D_MAX, merged and pruned (see module docstring)."""
    if crystal.n_atoms > MAX_ATOMS:
        raise ValueError(f"{crystal.n_atoms} atoms in the cell (more than {MAX_ATOMS}); too large for the library")
    params, grid = _line_params()
    _, lines = simulate_pattern([(crystal, 1.0)], params, grid, 0)
    d = np.asarray(lines["d"], dtype=np.float64)
    mf2 = np.asarray(lines["multiplicity"], dtype=np.float64) * np.asarray(lines["f2"], dtype=np.float64)
    keep = (d >= D_MIN) & (d <= D_MAX) & np.isfinite(mf2)
    d, mf2 = d[keep], mf2[keep]
    if len(d) == 0 or mf2.max() <= 0:
        raise ValueError("no reflections with intensity between "
                         f"d = {D_MIN} and {D_MAX} Å")
    order = np.argsort(-d)
    d, mf2 = d[order], mf2[order]
    # merge runs of lines within MERGE_RELATIVE of the run's first line (intensity-weighted d)
    group = np.zeros(len(d), dtype=np.int64)
    start = d[0]
    for i in range(1, len(d)):
        if start - d[i] > MERGE_RELATIVE * start:
            group[i] = group[i - 1] + 1
            start = d[i]
        else:
            group[i] = group[i - 1]
    total = np.bincount(group, weights=mf2)
    d_merged = np.bincount(group, weights=mf2 * d) / np.where(total > 0, total, 1)
    strong = total >= KEEP_RELATIVE * total.max()
    return d_merged[strong].astype(np.float32), total[strong].astype(np.float32)


@dataclass(frozen=True)
class _Built:
    entry_id: str
    name: str
    formula: str
    species: str
    space_group: int
    extinction_group: int
    cell_mass: float
    volume: float
    d: np.ndarray
    mf2: np.ndarray


def _build_one(entry_id: str, name: str, crystal: Crystal, formula: str | None = None,
               species: str | None = None) -> _Built:
    from xrdfast.minerals import identify

    number = identify(crystal)
    d, mf2 = crystal_lines(crystal)
    formula = formula or _formula(crystal)
    return _Built(entry_id, name, formula, (species or name or formula).strip().lower(), number,
                  extinction_group_number(number), float(crystal.cell_mass), float(crystal.volume), d, mf2)


def _assemble(built: Sequence[_Built], source: str, errors: list[tuple[str, str]]) -> Library:
    counts = [len(b.d) for b in built]
    return Library(
        ids=np.array([b.entry_id for b in built], dtype=str), names=np.array([b.name for b in built], dtype=str),
        formulas=np.array([b.formula for b in built], dtype=str), species=np.array([b.species for b in built], dtype=str),
        space_groups=np.array([b.space_group for b in built], dtype=np.int16),
        extinction_groups=np.array([b.extinction_group for b in built], dtype=np.int16),
        cell_mass=np.array([b.cell_mass for b in built], dtype=np.float64),
        volume=np.array([b.volume for b in built], dtype=np.float64),
        offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        d=np.concatenate([b.d for b in built]) if built else np.zeros(0, np.float32),
        mf2=np.concatenate([b.mf2 for b in built]) if built else np.zeros(0, np.float32),
        source=source, errors=errors)


def library_from_structures(structures: Iterable[tuple[str, object]], source: str = "structures") -> Library:
    """A library from (name, structure) pairs: Crystal, CIF path, pymatgen or ASE objects.
    Structures that fail are listed in ``errors``."""
    from xrdfast.structure import load_structure

    built, errors = [], []
    for name, structure in structures:
        try:
            built.append(_build_one(name, name, load_structure(structure)))
        except (ValueError, RuntimeError) as error:
            errors.append((name, str(error)))
    return _assemble(built, source, errors)


# -- sources ------------------------------------------------------------------------------------
def _amcsd_db_path() -> Path:
    try:
        import larixite
    except ImportError:
        raise ValueError("the default (AMCSD) library needs the larixite package: pip install larixite, "
                         "or give a directory of CIFs") from None
    return Path(larixite.__file__).parent / "amcsd_cif1.db"


def _amcsd_ids() -> list[int]:
    import sqlite3

    with sqlite3.connect(f"file:{_amcsd_db_path()}?mode=ro", uri=True) as db:
        return [int(r[0]) for r in db.execute("select id from cif order by id")]


def _amcsd_chunk(ids: Sequence[int]) -> tuple[list[_Built], list[tuple[str, str]]]:
    try:  # a fresh worker process: cctbx before gemmi (the other order crashes)
        import cctbx.sgtbx  # noqa: F401
    except ImportError:
        pass
    from larixite.amcsd import AMCSD

    from xrdfast.structure import from_cif_text

    # read_only: otherwise every AMCSD() adds larixite's optional `url` and `hkls` columns to the
    # database inside the installed package; workers doing that at once on a fresh install race
    # ("duplicate column name: hkls"), and a read-only site-packages refuses it. Neither is read here.
    db = AMCSD(read_only=True)
    try:  # authors and journal are not needed here, and are half of get_cif's queries
        from larixite.amcsd import CifPublication

        blank = [CifPublication(0, "-", 0, "-", "-", "-", ("-",))]
        db.get_publications = lambda **_: blank
    except (ImportError, TypeError):
        pass
    built, errors = [], []
    for ams_id in ids:
        entry_id = f"amcsd-{ams_id}"
        try:
            cif = db.get_cif(ams_id)
            if cif is None or not cif.ciftext:
                raise ValueError("no CIF text in the database")
            mineral = cif.mineral
            name = str(getattr(mineral, "name", None) or (mineral[1] if isinstance(mineral, (tuple, list)) else mineral))
            crystal = from_cif_text(cif.ciftext, name=entry_id)
            formula = str(cif.formula).replace(" ", "") if cif.formula and "missing" not in str(cif.formula) else None
            built.append(_build_one(entry_id, name, crystal, formula=formula, species=name))
        except Exception as error:  # noqa: BLE001 - any failure of one entry is that entry's error
            errors.append((entry_id, f"{type(error).__name__}: {error}"))
    return built, errors


def _cif_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in (".cif", ".mcif"))


def _cif_chunk(directory: str, paths: Sequence[str]) -> tuple[list[_Built], list[tuple[str, str]]]:
    try:
        import cctbx.sgtbx  # noqa: F401
    except ImportError:
        pass
    from xrdfast.structure import from_cif

    built, errors = [], []
    for rel in paths:
        try:
            crystal = from_cif(Path(directory) / rel)
            title = _cif_title(Path(directory) / rel)
            built.append(_build_one(rel, title or Path(rel).stem, crystal))
        except Exception as error:  # noqa: BLE001
            errors.append((rel, f"{type(error).__name__}: {error}"))
    return built, errors


def _cif_title(path: Path) -> str | None:
    """A name for a CIF: its mineral or chemical name, when it states one."""
    try:
        import gemmi

        block = gemmi.cif.read(str(path))[0]
    except Exception:  # noqa: BLE001 - the structure was read already; a name is optional
        return None
    for tag in ("_chemical_name_mineral", "_amcsd_formula_title", "_chemical_name_common", "_chemical_name_systematic"):
        value = block.find_value(tag)
        if value and value not in ("?", "."):
            return gemmi.cif.as_string(value).strip()
    return None


@functools.lru_cache(maxsize=1)
def simulator_fingerprint() -> str:
    """A hash of the lines the simulator gives a reference structure (rock salt with a
    displacement parameter): any change of the simulator's physics changes it, and with it
    every cache key, even when the version number stays."""
    from xrdfast.structure import from_arrays

    crystal = from_arrays((5.64, 5.64, 5.64, 90, 90, 90), 225, ["Na1+", "Cl1-"], [[0, 0, 0], [0.5, 0.5, 0.5]],
                          b_iso=[1.2, 1.0], name="fingerprint")
    d, mf2 = crystal_lines(crystal)
    return hashlib.sha256(np.round(d, 5).tobytes() + np.round(mf2 / mf2.max(), 6).tobytes()).hexdigest()[:16]


def _source_key(cifs: Path | None) -> tuple[str, str]:
    """(cache file stem, key) of a library source."""
    version = (f"format {LIBRARY_FORMAT}; xrdfast {build_info()['version']}; simulator {simulator_fingerprint()}; "
               f"d {D_MIN}-{D_MAX}")
    if cifs is None:
        import larixite

        db = _amcsd_db_path()
        stat = db.stat()
        key = f"amcsd; larixite {larixite.__version__}; {stat.st_size} bytes; mtime {stat.st_mtime_ns}; {version}"
        return "amcsd", key
    h = hashlib.sha256()
    for p in _cif_files(cifs):
        stat = p.stat()
        h.update(f"{p.relative_to(cifs)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    key = f"cifs {cifs.resolve()}; files {h.hexdigest()}; {version}"
    return "cifs-" + hashlib.sha256(str(cifs.resolve()).encode()).hexdigest()[:16], key


def library_path(cifs: str | os.PathLike | None = None) -> Path:
    """The cache file of a library source (which may not exist yet)."""
    stem, _ = _source_key(None if cifs is None else Path(cifs))
    return cache_dir() / "library" / f"{stem}.npz"


def build_library(cifs: str | os.PathLike | None = None, *, workers: int = 0, progress: bool = False,
                  cache: bool = True) -> Library:
    """Simulate every structure of a source (AMCSD when ``cifs`` is None, else every ``.cif``
    under that directory) and, with ``cache``, store the result. ``workers``: processes
    (0: one per CPU core)."""
    directory = None if cifs is None else Path(cifs)
    if directory is not None and not directory.is_dir():
        raise ValueError(f"{directory}: not a directory of CIF files")
    stem, key = _source_key(directory)
    if directory is None:
        items: list = _amcsd_ids()
        worker, args, source = _amcsd_chunk, (), "AMCSD (larixite)"
    else:
        items = [str(p.relative_to(directory)) for p in _cif_files(directory)]
        if not items:
            raise ValueError(f"{directory}: no .cif files found")
        worker, args, source = _cif_chunk, (str(directory),), f"CIFs in {directory.resolve()}"
    workers = workers or os.cpu_count() or 1
    size = max(1, min(200, math.ceil(len(items) / (4 * workers))))
    chunks = [items[i:i + size] for i in range(0, len(items), size)]
    built: list[_Built] = []
    errors: list[tuple[str, str]] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(items), unit="structure", desc="library", dynamic_ncols=True)
    results: Iterator
    if workers == 1 or len(chunks) == 1:
        results = (worker(*args, c) for c in chunks)
        pool = None
    else:
        pool = ProcessPoolExecutor(max_workers=workers)
        results = pool.map(worker, *([a] * len(chunks) for a in args), chunks)
    try:
        for (b, e), chunk in zip(results, chunks):
            built += b
            errors += e
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if bar is not None:
            bar.close()
    if not built:
        raise ValueError(f"{source}: no structure could be read; first errors: {errors[:3]}")
    library = _assemble(built, source, errors)
    if cache:
        library.save(cache_dir() / "library" / f"{stem}.npz", key)
    log.info("%s: %d structures, %d skipped", source, len(library), len(errors))
    return library


_LOADED: dict[str, Library] = {}


def load_library(cifs: str | os.PathLike | None = None, *, progress: bool = False) -> Library:
    """The library of a source, from the cache when it is current and sound, else built (and
    cached). Kept in memory per process."""
    directory = None if cifs is None else Path(cifs)
    stem, key = _source_key(directory)
    if key in _LOADED:
        return _LOADED[key]
    path = cache_dir() / "library" / f"{stem}.npz"
    library = None
    if path.exists():
        try:
            library = Library.load(path, key)
        except ValueError as error:
            log.warning("rebuilding the library: %s", error)
    if library is None:
        library = build_library(directory, progress=progress)
    _LOADED.clear()  # one library in memory at a time: AMCSD's rendered profiles are tens of MB
    _LOADED[key] = library
    return library


__all__ = ["Entry", "Library", "build_library", "cache_dir", "crystal_lines", "library_from_structures",
           "library_path", "load_library"]

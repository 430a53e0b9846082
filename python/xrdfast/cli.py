"""The ``xrdfast`` command: one tool, one subcommand per task."""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from xrdfast._core import SpaceGroup
from xrdfast.grid import CU_KA1, DEFAULT_GRID


def _cmd_sg(args: argparse.Namespace) -> int:
    from xrdfast.symmetry import extinction_group, extinction_symbol_in_setting

    if args.symbol.isdigit() and not 1 <= int(args.symbol) <= 230:
        raise ValueError(f"space-group number {args.symbol} is outside 1..230")
    group = SpaceGroup(int(args.symbol) if args.symbol.isdigit() else args.symbol)
    eg = extinction_group(group)
    print(f"Space group {group.number}  {group.symbol}  (setting {group.hm}"
          f"{', ' + group.choice if group.choice else ''}; Hall '{group.hall}')")
    print(f"  crystal system {group.crystal_system}, lattice system {group.lattice_system}, "
          f"point group {group.point_group}, Laue class {group.laue_class}")
    print(f"  centring {group.centring}, order {group.order}"
          f"{', centrosymmetric' if group.is_centrosymmetric else ''}")
    print("  reflection conditions:")
    for line in group.reflection_conditions or ["none (no systematic absences)"]:
        print(f"    {line}")
    here = extinction_symbol_in_setting(group)
    print(f"  extinction group {eg.number}: {here}  (in the setting {group.hm}; canonical symbol "
          f"of Baggett et al.: {eg.symbol}; members: {', '.join(SpaceGroup(n).symbol for n in eg.space_groups)})")
    if args.operations:
        print("  operations:")
        for op in group.operations:
            print(f"    {op.triplet()}")
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    import numpy as np

    from xrdfast.readers import ANODE_WAVELENGTHS
    from xrdfast.simulate import grid_from_range, simulate
    from xrdfast.structure import from_cif

    grid = grid_from_range(args.two_theta[0], args.two_theta[1], args.step)  # checked before the file is read
    crystal = from_cif(args.cif)
    symmetry_note = _full_symmetry(crystal)
    if symmetry_note:
        crystal, symmetry_note = symmetry_note
    wavelength2 = args.wavelength2 if args.wavelength2 is not None else (ANODE_WAVELENGTHS["Cu"][1] if args.wavelength == CU_KA1 else 0.0)
    pattern = simulate(crystal, grid=grid, wavelength=args.wavelength, wavelength2=wavelength2, W=args.W, eta=args.eta,
                       crystallite_size=args.size)
    if args.output:
        pattern.to_xy(args.output)
    if args.plot:
        from xrdfast.plotting import plot_pattern

        plot_pattern(pattern, args.plot, title=crystal.name)
    lines = pattern.lines
    order = np.argsort(lines["intensity"])[::-1][: args.lines]
    top = lines["intensity"].max() if len(lines["intensity"]) else 1.0
    print(f"{crystal.name}: {crystal.n_sites} sites, {crystal.n_atoms} atoms in the cell, "
          f"{len(lines['d'])} reflection families; strongest lines:")
    if symmetry_note:
        print(f"  {symmetry_note}")
    print("     h   k   l      d (Å)   2θ (°)   mult      I (%)")
    for i in sorted(order, key=lambda i: lines["two_theta"][i]):
        h, k, l = lines["hkl"][i]
        print(f"  {h:4d}{k:4d}{l:4d} {lines['d'][i]:10.5f} {lines['two_theta'][i]:8.3f} {lines['multiplicity'][i]:6d}"
              f" {100 * lines['intensity'][i] / top:10.2f}")
    return 0


def _full_symmetry(crystal):
    """(crystal with the symmetry its atoms have, a sentence saying so) when the CIF gave
    less (a P1 expansion lists equivalent reflections as separate lines); else None."""
    from xrdfast._core import has_extra_symmetry
    from xrdfast.symmetry import find_symmetry

    if not has_extra_symmetry(crystal):
        return None
    symmetric, found = find_symmetry(crystal)
    if symmetric is crystal:
        return None
    return symmetric, (f"symmetry: the CIF gives {found['given']} operation(s); its atoms have {found['operations']}, "
                       f"space group {found['number']} ({found['hm']}) in the CIF's own cell, used to merge "
                       "equivalent reflections")


def _cmd_generate(args: argparse.Namespace) -> int:
    import logging
    from pathlib import Path

    from xrdfast.dataset import GenerationPlan, generate

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    plan = GenerationPlan(stage=args.stage, n=args.n, out=Path(args.out), shard_size=args.shard_size,
                          seed=args.seed, workers=args.workers)
    try:
        manifest = generate(plan, scheduler=args.scheduler, progress=not args.quiet)
    except OSError as error:
        print(f"xrdfast generate: error: {error}", file=sys.stderr)
        return 1
    failed = sum(entry.get("failed", 0) for entry in manifest["shards"].values())
    print(f"{args.out}: {len(manifest['shards'])} shards, {plan.n} samples of stage {plan.stage}"
          f"{f', {failed} the generator gave up on' if failed else ''}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    import logging

    from xrdfast.ml.train import TrainConfig, train

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    config = TrainConfig.from_toml(args.config)
    final = train(config, args.out, device=args.device, progress=not args.quiet)
    if args.release:
        from xrdfast.ml.checkpoint import release

        release(final, args.release)
        print(f"release checkpoint: {args.release}")
    print(f"trained and calibrated: {final}")
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from xrdfast.ml.train import recalibrate

    overrides = {k: v for k, v in {"prior_source": args.prior, "prior_smoothing": args.smoothing,
                                   "calibration_samples": args.samples}.items() if v is not None}
    c = recalibrate(args.checkpoint, args.out, **overrides)
    print(f"{args.out or args.checkpoint}: temperature {c.temperature:.3f}, prior {c.prior_source} "
          f"(smoothing {c.prior_smoothing}), abstain below p = {c.abstain_below:.3f}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from xrdfast.ml.evaluate import evaluate

    report = evaluate(args.checkpoint, args.data, out=args.out, shared=Path(args.shared) if args.shared else None)
    rows = [(name, report[name]) for name in ("uncalibrated", "calibrated", "calibrated_with_prior", "prior_only")
            if name in report]
    print(f"{report['description']}: {report['n']} patterns; temperature {report['temperature']:.3f}")
    print(f"  {'':24s} {'top-1':>7s} {'top-3':>7s} {'top-5':>7s} {'ECE':>7s} {'NLL':>7s}")
    for name, r in rows:
        print(f"  {name:24s} {100 * r['top1']:6.1f}% {100 * r['top3']:6.1f}% {100 * r['top5']:6.1f}% "
              f"{r['ece']:7.3f} {r['nll']:7.3f}")
    if args.json:
        print(json.dumps(report, indent=1))
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    import json

    from xrdfast.classify import classify_many
    from xrdfast.readers import PatternReadError

    status = 0
    results = []
    for path in args.files:  # one at a time: a bad file costs only its own result
        try:
            indexing = None
            if args.cell:  # a cell the user knows: the evidence without indexing
                from xrdfast.fusion import Indexing

                indexing = [Indexing(tuple(args.cell), args.lattice)]
            results.append(classify_many([path], args.top_k, wavelength=args.wavelength, model=args.model,
                                         with_prior=not args.no_prior, match=not args.no_match, indexings=indexing,
                                         index=not args.fast)[0])
        except (PatternReadError, OSError) as error:
            print(f"xrdfast predict: error: {error}", file=sys.stderr)
            status = 1
            continue
        if not args.json:
            print(results[-1].table())
            if args.explain:
                print(results[-1].evidence.explain() if results[-1].evidence is not None
                      else "   no extinction evidence: the network alone (no trusted cell)")
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=1, allow_nan=False))  # valid JSON, always
    if args.plot and results:
        from xrdfast.plotting import plot_prediction

        plot_prediction(results, args.plot, wavelength=args.wavelength)
        from pathlib import Path

        from xrdfast.evidence import plot_evidence

        for i, r in enumerate(results):  # beside the figure: allowed/forbidden marks of the top two groups
            if r.evidence is not None:
                out = Path(args.plot)
                plot_evidence(r.evidence, str(out.with_name(f"{out.stem}-evidence{i}{out.suffix}")), title=r.source)
    return status


def _cmd_screen(args: argparse.Namespace) -> int:
    import logging

    from xrdfast.screen import screen

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.workers:
        import torch

        torch.set_num_threads(args.workers)
    summary = screen(args.inputs, args.out, top_k=args.top_k, wavelength=args.wavelength, model=args.model,
                     chunk=args.chunk, scheduler=args.scheduler, progress=not args.quiet, index=not args.fast)
    print(summary)
    return 0


def _cmd_peaks(args: argparse.Namespace) -> int:
    import json

    from xrdfast.peaks import plot_searches, search, table, to_dict
    from xrdfast.readers import PatternReadError

    status, results, rows = 0, [], []
    for path in args.files:  # one at a time: a bad file is a row with its message, the others continue
        try:
            result = search(path, wavelength=args.wavelength, min_snr=args.min_snr, refine=True)
        except (PatternReadError, OSError, ValueError) as error:
            status = 1
            rows.append({"source": str(path), "error": str(error)})
            if not args.json:
                print(f"{path}: error: {error}\n")
            continue
        results.append(result)
        rows.append(to_dict(result))
        if not args.json:
            print(table(result) + "\n")
    if args.json:
        print(json.dumps(rows, indent=1))
    if args.plot and results:
        plot_searches(results, args.plot)
    return status


def _cmd_index(args: argparse.Namespace) -> int:
    import json

    from xrdfast.indexing import index
    from xrdfast.readers import PatternReadError

    status = 0
    rows = []
    for path in args.files:  # one at a time: a bad file is a row with its message, the others go on
        try:
            sols = index(path, wavelength=args.wavelength, top=args.top, time_limit=args.time_limit)
        except (PatternReadError, OSError, ValueError) as error:
            rows.append({"file": path, "error": str(error), "solutions": []})
            if not args.json:
                print(f"{path}: error: {error}")
            status = 1
            continue
        rows.append({"file": path, "error": None, "solutions": [s.to_dict() for s in sols]})
        if not args.json:
            print(f"{path}: {len(sols)} solution(s)" if sols else f"{path}: no cell found")
            for rank, s in enumerate(sols, 1):
                print(f"#{rank} " + (s.table() if rank == 1 else s.summary()))
    if args.json:
        print(json.dumps(rows, indent=1))
    return status


def _cmd_match(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from xrdfast.library import load_library
    from xrdfast.match import match, plot_matches
    from xrdfast.readers import PatternReadError

    library = load_library(args.cifs, progress=not args.json)
    status, results = 0, {}
    for path in args.files:
        try:
            found = match(path, library, top_k=args.top, wavelength=args.wavelength)
        except (PatternReadError, OSError, ValueError) as error:
            print(f"xrdfast match: error: {error}", file=sys.stderr)
            status = 1
            continue
        results[path] = found
        if not args.json:
            print(f"{path}: {len(library)} reference structures ({library.source})")
            print("   rank  p      p(EG)  score  EG  SG   d-scale  shift°  w      entry            name (formula)")
            for i, m in enumerate(found, 1):
                q = "  -  " if m.eg_probability is None else f"{m.eg_probability:5.3f}"
                print(f"   {i:4d}  {m.probability:5.3f}  {q}  {m.score:5.3f} {m.extinction_group:3d} {m.space_group:4d}  "
                      f"{m.d_scale:7.4f} {m.shift:+6.2f}  {'' if m.fraction is None else f'{m.fraction:.2f}':5s}  "
                      f"{m.entry_id:16s} {m.name} ({m.formula}){'  *' if m.identified else ''}")
            if found and found[0].probability < 0.9:
                print("   no confident match (p < 0.9): the structure may be absent from the library")
        if args.plot:
            out = Path(args.plot)
            if len(args.files) > 1:
                out = out.with_name(f"{out.stem}-{Path(path).stem}{out.suffix or '.png'}")
            plot_matches(path, found, str(out), library, wavelength=args.wavelength, title=str(path))
    if args.json:
        print(json.dumps({p: [m.to_dict() for m in f] for p, f in results.items()}, indent=1))
    return status


def _cmd_library(args: argparse.Namespace) -> int:
    import logging

    from xrdfast.library import build_library, library_path

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    library = build_library(args.cifs, workers=args.workers, progress=not args.quiet)
    print(f"{library.source}: {len(library)} structures, {len(library.d)} lines; "
          f"{len(library.errors)} skipped; cached in {library_path(args.cifs)}")
    for name, error in library.errors[: None if args.errors else 10]:
        print(f"  skipped {name}: {error}")
    if len(library.errors) > 10 and not args.errors:
        print(f"  ... and {len(library.errors) - 10} more (--errors lists all)")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from xrdfast.demo import run

    run(plot=args.plot, model=args.model)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xrdfast", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sg = sub.add_parser("sg", help="show a space group, its reflection conditions and extinction group")
    sg.add_argument("symbol", help="number (1..230), H-M or Hall symbol, or number:setting (e.g. 227:2)")
    sg.add_argument("--operations", action="store_true", help="also list the symmetry operations")
    sg.set_defaults(run=_cmd_sg)
    sim = sub.add_parser("simulate", help="simulate the powder pattern of a CIF")
    sim.add_argument("cif", help="structure file (CIF, any setting)")
    sim.add_argument("--wavelength", type=float, default=DEFAULT_GRID.wavelength, help="Å (default Cu K-alpha1)")
    sim.add_argument("--wavelength2", type=float, default=None,
                     help="K-alpha2 in Å; default Cu K-alpha2 with the Cu default, none otherwise; 0 for none")
    sim.add_argument("--two-theta", type=float, nargs=2, default=(DEFAULT_GRID.two_theta_min, DEFAULT_GRID.two_theta_max),
                     metavar=("MIN", "MAX"))
    sim.add_argument("--step", type=float, default=DEFAULT_GRID.step, help="degrees 2theta")
    sim.add_argument("--W", type=float, default=0.0025, help="Caglioti W, deg^2 (FWHM^2 at low angle)")
    sim.add_argument("--eta", type=float, default=0.5, help="pseudo-Voigt Lorentzian fraction")
    sim.add_argument("--size", type=float, default=0.0, help="crystallite size, nm (0: none)")
    sim.add_argument("-o", "--output", help="write the pattern as two columns (.xy)")
    sim.add_argument("--plot", help="write a figure (PNG, PDF, SVG) with hkl tick marks")
    sim.add_argument("--lines", type=int, default=15, help="how many of the strongest lines to list")
    sim.set_defaults(run=_cmd_simulate)
    gen = sub.add_parser("generate", help="generate a curriculum dataset (sharded HDF5, resumable)")
    gen.add_argument("--stage", required=True, help="1 (clean, EG-balanced), 2 (realistic) or po (texture-heavy)")
    gen.add_argument("--n", type=int, required=True, help="number of samples")
    gen.add_argument("--out", required=True, help="output directory (manifest.json + shard-*.h5)")
    gen.add_argument("--shard-size", type=int, default=10_000)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--workers", type=int, default=0, help="native threads (0: all cores)")
    gen.add_argument("--scheduler", help="Dask scheduler address (tcp://host:8786): one task per shard")
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(run=_cmd_generate)
    tr = sub.add_parser("train", help="train a model through the curriculum (stages 1 -> 2 -> calibration and prior)")
    tr.add_argument("config", help="training configuration (TOML; see configs/)")
    tr.add_argument("--out", required=True, help="run directory: last.pt (resumable) and final.pt")
    tr.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: the GPU when there is one)")
    tr.add_argument("--release", help="also write a small deployable copy (float16, no optimiser state)")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")
    tr.set_defaults(run=_cmd_train)
    ca = sub.add_parser("calibrate", help="refit a checkpoint's temperature, prior and abstention threshold")
    ca.add_argument("checkpoint")
    ca.add_argument("--prior", help="frequency source: icsd, cod, amcsd, icsd+cod (default: the checkpoint's)")
    ca.add_argument("--smoothing", type=float, help="pseudo-count added to every extinction group")
    ca.add_argument("--samples", type=int, help="held-out realistic synthetic patterns to fit on")
    ca.add_argument("--out", help="write here instead of updating the checkpoint in place")
    ca.set_defaults(run=_cmd_calibrate)
    ev = sub.add_parser("evaluate", help="metrics of a checkpoint on measured or synthetic data (JSON + plots)")
    ev.add_argument("checkpoint")
    ev.add_argument("data", help="patterns .npz (two_theta, intensity, eg), a generated dataset directory, "
                                 "synthetic:STAGE:N or amcsd:N")
    ev.add_argument("--out", help="directory for report.json, reliability.png, confusion.png")
    ev.add_argument("--shared", help="the reference material (for the paper's subgroup graph)")
    ev.add_argument("--json", action="store_true", help="also print the whole report")
    ev.set_defaults(run=_cmd_evaluate)
    pr = sub.add_parser("predict", help="classify measured patterns: ranked extinction groups, crystal system, space groups")
    from xrdfast.readers import EXTENSIONS  # one list for predict's help and screen's directory search

    pr.add_argument("files", nargs="+", help=f"pattern files ({' '.join(EXTENSIONS)}; others are recognised by "
                                             "their content)")
    pr.add_argument("--top-k", type=int, default=5)
    pr.add_argument("--wavelength", type=float, help="Å, when the file does not say (e.g. 1.5406 Cu, 0.7093 Mo)")
    pr.add_argument("--json", action="store_true", help="JSON instead of tables")
    pr.add_argument("--plot", help="figure of the pattern and the probabilities of the top groups")
    pr.add_argument("--no-prior", action="store_true", help="leave out the natural-frequency prior")
    pr.add_argument("--no-match", action="store_true", help="symmetry inference only: no search-match against AMCSD")
    pr.add_argument("--model", help="a checkpoint instead of the shipped model")
    pr.add_argument("--explain", action="store_true", help="print the extinction evidence: the reflections that decide")
    pr.add_argument("--cell", type=float, nargs=6, metavar=("A", "B", "C", "ALPHA", "BETA", "GAMMA"),
                    help="a known conventional cell (Å, degrees): extinction evidence without indexing")
    pr.add_argument("--lattice", default="aP", help="Pearson symbol of --cell (aP mP mC oP oC oI oF tP tI hP hR cP cI cF)")
    pr.add_argument("--fast", action="store_true", help="the network alone: no indexing, no extinction evidence")
    pr.set_defaults(run=_cmd_predict)
    sc = sub.add_parser("screen", help="classify every pattern of directories/globs into a table (resumable)")
    sc.add_argument("inputs", nargs="+", help="directories, files or glob patterns ('data/**/*.xy')")
    sc.add_argument("--out", required=True, help="results .csv, .jsonl or .parquet; files already classified in it "
                                                 "are skipped, failed ones retried")
    sc.add_argument("--top-k", type=int, default=5)
    sc.add_argument("--wavelength", type=float, help="Å, for files that state none (a file's own wavelength wins; "
                                                     "each row says which was used)")
    sc.add_argument("--workers", type=int, default=0, help="CPU threads for inference (0: torch's default)")
    sc.add_argument("--chunk", type=int, default=512, help="files per batch (and per Dask task)")
    sc.add_argument("--scheduler", help="Dask scheduler address (tcp://host:8786): chunks run on the cluster")
    sc.add_argument("--model", help="a checkpoint instead of the shipped model")
    sc.add_argument("--quiet", action="store_true", help="no progress bar")
    sc.add_argument("--fast", action="store_true",
                    help="the network alone: no peaks, indexing or extinction evidence (hundreds of files/s)")
    sc.set_defaults(run=_cmd_screen)
    pk = sub.add_parser("peaks", help="find and fit the peaks of measured patterns (background, 2theta, d, Q, FWHM)")
    pk.add_argument("files", nargs="+", help="pattern files in any format the readers accept")
    pk.add_argument("--wavelength", type=float, help="Å, for files that do not say (1.5418: Cu K-alpha1 + K-alpha2)")
    pk.add_argument("--min-snr", type=float, default=4.0, help="minimum peak height over the local noise")
    pk.add_argument("--plot", help="write a figure: pattern, background, peaks marked (first 8 files)")
    pk.add_argument("--json", action="store_true", help="JSON instead of tables")
    pk.set_defaults(run=_cmd_peaks)
    ix = sub.add_parser("index", help="index measured patterns: ranked unit cells, Bravais lattices, M20/F_N, hkl")
    ix.add_argument("files", nargs="+", help="pattern files (any format the readers accept)")
    ix.add_argument("--top", type=int, default=5, help="solutions per file")
    ix.add_argument("--wavelength", type=float, help="Å, when the file does not say (e.g. 1.5406 Cu, 0.7093 Mo)")
    ix.add_argument("--time-limit", type=float, default=30.0,
                    help="safety net, seconds per pattern (the search itself is a fixed budget of work)")
    ix.add_argument("--json", action="store_true", help="JSON instead of tables")
    ix.set_defaults(run=_cmd_index)
    ma = sub.add_parser("match", help="search-match patterns against known structures (AMCSD or your CIFs)")
    ma.add_argument("files", nargs="+", help="pattern files")
    ma.add_argument("--top", type=int, default=5, help="candidates to list")
    ma.add_argument("--cifs", help="a directory of CIFs to match against instead of AMCSD")
    ma.add_argument("--wavelength", type=float, help="Å, when the file does not say")
    ma.add_argument("--json", action="store_true", help="JSON instead of tables")
    ma.add_argument("--plot", help="figure of the pattern with the matched phases' lines (one per file)")
    ma.set_defaults(run=_cmd_match)
    li = sub.add_parser("library", help="build the reference library for search-match (cached)")
    li_sub = li.add_subparsers(dest="action", required=True)
    lb = li_sub.add_parser("build", help="simulate every structure once and cache the line lists")
    lb.add_argument("--cifs", help="a directory of CIFs (default: AMCSD through larixite)")
    lb.add_argument("--workers", type=int, default=0, help="processes (0: one per core)")
    lb.add_argument("--errors", action="store_true", help="list every skipped structure")
    lb.add_argument("--quiet", action="store_true", help="no progress bar")
    lb.set_defaults(run=_cmd_library)
    de = sub.add_parser("demo", help="simulate a few real minerals, classify them and compare with the truth")
    de.add_argument("--plot", default="xrdfast-demo.png", help="where to write the figure ('' for none)")
    de.add_argument("--model", help="a checkpoint instead of the shipped model")
    de.set_defaults(run=_cmd_demo)
    args = parser.parse_args(argv)
    try:
        status = args.run(args)
        sys.stdout.flush()  # inside the try: a reader that went away is seen here, not at exit
        return status
    except ValueError as error:
        print(f"xrdfast {args.command}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return _reader_went_away()
    except KeyboardInterrupt:  # Ctrl-C reaches the native loops too (interrupt.hpp)
        print(f"xrdfast {args.command}: interrupted", file=sys.stderr)
        return 130


def _reader_went_away() -> int:
    """``xrdfast simulate X.cif | head``: the reader closed the pipe. Stop quietly as Unix
    tools do (exit status 128 + SIGPIPE); stdout goes to /dev/null so that the interpreter's
    final flush does not complain about the same closed pipe."""
    import os
    import signal

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a file descriptor (an embedding host)
        pass
    return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())

"""Inference speed of the shipped model against the paper's real-data ViT, and of `screen`
on a directory of 8501-point .xy files (reading and inference timed apart).

    python benchmarks/bench_inference.py [--threads 2] [--files 2000]

Prints patterns/s for each model at batch 128 (the classifier's own chunk) on the CPU (torch.set_num_threads) and the
ratio shipped / paper; then files/s of reading (parse + regrid) and of inference in
``xrdfast.screen.classify_chunk``. The target of the release model is >= 1,000 patterns/s on
two cores.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from xrdfast.classify import load_model
from xrdfast.dataset import generate_samples
from xrdfast.ml.model import ModelConfig, PhysicsViT
from xrdfast.screen import classify_chunk


def patterns_per_second(model: torch.nn.Module, x: torch.Tensor, repeats: int = 3, batch: int = 128) -> float:
    model.eval()
    best = float("inf")
    with torch.inference_mode():
        model(x[:batch])  # warm-up
        for _ in range(repeats):
            t = time.perf_counter()
            for i in range(0, len(x), batch):
                model(x[i:i + batch])
            best = min(best, time.perf_counter() - t)
    return len(x) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--patterns", type=int, default=2048)
    parser.add_argument("--files", type=int, default=2000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    patterns, _ = generate_samples("2", 5, 0, args.patterns)
    x = torch.from_numpy(np.nan_to_num(patterns))
    shipped = load_model().model
    paper = PhysicsViT(ModelConfig())  # patch 25, d 128, depth 4: the paper's real-data ViT
    ours = patterns_per_second(shipped, x)
    theirs = patterns_per_second(paper, x[:256])
    n_ours = sum(p.numel() for p in shipped.parameters())
    print(f"threads {args.threads}, batch 128, float32, {len(x)} stage-2 patterns of 8501 points")
    print(f"  shipped model ({n_ours / 1e6:.2f} M parameters): {ours:8.0f} patterns/s")
    print(f"  paper's ViT   (0.88 M parameters, 341 tokens): {theirs:8.0f} patterns/s")
    print(f"  ratio shipped / paper: {ours / theirs:.1f}x")

    grid = np.linspace(5, 90, 8501)
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(args.files):
            path = Path(tmp) / f"p{i:05d}.xy"
            np.savetxt(path, np.column_stack([grid, 1000 * patterns[i % len(patterns)]]), fmt="%.2f %.3f",
                       header="wavelength = 1.540593")
            paths.append(str(path))
        classify_chunk(paths[:8])  # warm-up: model load, imports
        read_s = infer_s = 0.0
        for i in range(0, len(paths), 512):
            _, r, f = classify_chunk(paths[i:i + 512])
            read_s += r
            infer_s += f
    print(f"screen of {args.files} .xy files (8501 points): reading {args.files / read_s:6.0f} files/s, "
          f"inference {args.files / infer_s:6.0f} files/s, together {args.files / (read_s + infer_s):6.0f} files/s")


if __name__ == "__main__":
    main()

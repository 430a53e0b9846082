"""Models that read a powder pattern and name its extinction group.

The physics-informed transformer of Baggett et al. (arXiv 2604.23811), read top to bottom:
two input channels (intensity and a sin^2(theta) coordinate channel scaled to [-1, 1]), a 1-D
patch embedding (patch 25 on the 8501-point grid: 341 patches after padding, plus CLS), a
physics-aware positional encoding (patch-mean sin^2(theta) x 100 through a small MLP, added to
a learned position embedding), pre-LN transformer blocks, and a dual decoder: a rule head
(crystal system, lattice, 25 screw/glide bits by symbol position) decoded to extinction-group
scores through the exact templates, beside a direct 99-way head. The baselines of the paper's
ablation share the code: the plain transformer switches the coordinate channel and the physics
encoding off; a 1-D ResNet-18 stands in for the CNN.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from xrdfast._core import ExtinctionGroup, RuleLayout
from xrdfast.grid import DEFAULT_GRID, Grid

# The rule target's parts (extinction.hpp's RuleLayout): 7 crystal systems, 5 lattices, 25 operators.
SYSTEMS = slice(RuleLayout.system, RuleLayout.lattice)
LATTICES = slice(RuleLayout.lattice, RuleLayout.operators)
OPERATORS = slice(RuleLayout.operators, RuleLayout.n_bits)
N_SYSTEMS, N_LATTICES, N_OPERATORS = (part.stop - part.start for part in (SYSTEMS, LATTICES, OPERATORS))
N_GROUPS = 99


def rule_templates() -> torch.Tensor:
    """(99, 37) rule bits of the extinction groups, row i for group i + 1 (exact, from the core)."""
    return torch.tensor(np.stack([ExtinctionGroup(n).rule_bits for n in range(1, N_GROUPS + 1)]), dtype=torch.float32)


@dataclass
class ModelConfig:
    n_points: int = DEFAULT_GRID.n_points  # the grid (xrdfast.grid): 5-90 degrees in 0.01 degree steps
    two_theta_min: float = DEFAULT_GRID.two_theta_min
    two_theta_max: float = DEFAULT_GRID.two_theta_max
    wavelength: float = DEFAULT_GRID.wavelength  # Å: what measured patterns are mapped to
    patch: int = 25               # 341 patches on 8501 points
    stem_channels: int = 0        # 0: the paper's linear patch embedding; > 0: a two-layer conv stem
    stem_stride: int = 5          # of the conv stem's first layer (must divide patch)
    intensity: str = "max"        # "max": scaled to max 1; "sqrt": then square-rooted, lifting weak peaks
    d_model: int = 128            # the paper's real-data configuration: 128 x 4 layers, ~0.9 M
    depth: int = 4
    heads: int = 4
    mlp_ratio: int = 4
    dropout: float = 0.1
    coordinate_channel: bool = True   # off: the plain transformer of the ablation
    physics_encoding: bool = True
    direct_weight: float = 1.0        # lambda of the direct head's loss
    fusion_alpha: float = 0.5         # p = alpha p_rule + (1 - alpha) p_direct
    operator_pos_weight: list[float] = field(default_factory=list)  # BCE pos_weight; empty: neg/pos of the templates, capped at 100

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def grid(self) -> Grid:
        """The grid the model reads."""
        return Grid.spanning(self.two_theta_min, self.two_theta_max, self.n_points, self.wavelength)


class Block(nn.Module):
    """Pre-LN transformer block: x + attn(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, c: ModelConfig) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(c.d_model), nn.LayerNorm(c.d_model)
        self.attn = nn.MultiheadAttention(c.d_model, c.heads, dropout=c.dropout, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(c.d_model, c.mlp_ratio * c.d_model), nn.GELU(),
                                 nn.Linear(c.mlp_ratio * c.d_model, c.d_model), nn.Dropout(c.dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C)
        h = self.ln1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class PhysicsViT(nn.Module):
    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        c = self.config = config or ModelConfig()
        self.n_patches = math.ceil(c.n_points / c.patch)
        padded = self.n_patches * c.patch
        sin2 = torch.from_numpy(c.grid.sin2_theta())                                     # (N,) float64
        coordinate = 2 * (sin2 - sin2.min()) / (sin2.max() - sin2.min()) - 1           # (N,) in [-1, 1]
        coordinate = F.pad(coordinate, (0, padded - c.n_points), value=1.0)
        sin2 = F.pad(sin2, (0, padded - c.n_points), value=float(sin2[-1]))
        self.register_buffer("coordinate", coordinate.float(), persistent=False)      # (N_pad,)
        self.register_buffer("patch_sin2", 100 * sin2.view(-1, c.patch).mean(1, keepdim=True).float(),
                             persistent=False)                                        # (P, 1)
        self.embed = patch_embedding(c, 2 if c.coordinate_channel else 1)
        self.cls = nn.Parameter(torch.zeros(1, 1, c.d_model))
        self.position = nn.Parameter(torch.zeros(1, self.n_patches + 1, c.d_model))
        self.physics = nn.Sequential(nn.Linear(1, c.d_model), nn.GELU(), nn.Linear(c.d_model, c.d_model))
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.depth))
        self.norm = nn.LayerNorm(c.d_model)
        self.heads = DualDecoder(c.d_model, c)
        nn.init.trunc_normal_(self.position, std=0.02)
        nn.init.trunc_normal_(self.cls, std=0.02)

    def forward(self, intensity: torch.Tensor, targets: dict[str, torch.Tensor] | None = None
                ) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
        c = self.config
        b = intensity.shape[0]
        x = F.pad(scale_intensity(intensity, c.intensity), (0, self.coordinate.shape[0] - intensity.shape[1]))  # (B, N_pad)
        channels = [x]
        if c.coordinate_channel:
            channels.append(self.coordinate.expand(b, -1))
        tokens = self.embed(torch.stack(channels, 1)).transpose(1, 2)                  # (B, P, C)
        if c.physics_encoding:
            tokens = tokens + self.physics(self.patch_sin2)                              # (P, C) broadcast
        x = torch.cat([self.cls.expand(b, -1, -1), tokens], 1) + self.position           # (B, P + 1, C)
        for block in self.blocks:
            x = block(x)
        h = self.norm(x[:, 0])                                                          # (B, C)
        return self.heads(h, c, targets)


class DualDecoder(nn.ModuleDict):
    """The heads on a pooled feature (B, width) and their decoding, shared by every backbone:
    rule heads (crystal system, lattice, 25 operator bits) decoded to extinction-group scores
    through the exact templates, a direct 99-way head, and their fusion. The loss is
    CE(system) + CE(lattice) + BCE(operators, positive weights) + lambda CE(direct)."""

    def __init__(self, width: int, c: ModelConfig) -> None:
        super().__init__({"system": nn.Linear(width, N_SYSTEMS), "lattice": nn.Linear(width, N_LATTICES),
                          "operators": nn.Linear(width, N_OPERATORS), "direct": nn.Linear(width, N_GROUPS)})
        templates = rule_templates()
        self.register_buffer("templates", templates, persistent=False)                # (99, 37)
        ops = templates[:, OPERATORS]
        pos_weight = torch.tensor(c.operator_pos_weight) if c.operator_pos_weight else \
            ((ops.shape[0] - ops.sum(0)) / ops.sum(0).clamp(min=1)).clamp(max=100)
        self.register_buffer("pos_weight", pos_weight.float(), persistent=False)      # (25,)

    def forward(self, h: torch.Tensor, c: ModelConfig, targets: dict[str, torch.Tensor] | None = None
                ) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
        out = {name: head(h) for name, head in self.items()}
        out["rule_scores"] = rule_scores(out, self.templates, self.pos_weight)          # (B, 99)
        out["probabilities"] = fuse(out, c.fusion_alpha)
        return out, None if targets is None else self.loss(out, targets, c.direct_weight)

    def loss(self, out: dict[str, torch.Tensor], targets: dict[str, torch.Tensor], direct_weight: float) -> torch.Tensor:
        """Targets hold the extinction group (1..99) and the 37 rule bits."""
        bits = targets["rule_bits"].float()
        eg = targets["extinction_group"].long() - 1
        return (F.cross_entropy(out["system"], bits[:, SYSTEMS].argmax(1))
                + F.cross_entropy(out["lattice"], bits[:, LATTICES].argmax(1))
                + F.binary_cross_entropy_with_logits(out["operators"], bits[:, OPERATORS], pos_weight=self.pos_weight)
                + direct_weight * F.cross_entropy(out["direct"], eg))


def scale_intensity(intensity: torch.Tensor, mode: str) -> torch.Tensor:
    """Counts or normalised intensities alike become max-1 patterns ("sqrt" also lifts the
    weak reflections whose presence or absence decides the extinction group)."""
    x = intensity.float().clamp_min(0)
    x = x / x.amax(-1, keepdim=True).clamp_min(1e-12)                                  # (B, N)
    if mode == "sqrt":
        return x.sqrt()
    if mode != "max":
        raise ValueError(f"intensity scaling {mode!r}: expected 'max' or 'sqrt'")
    return x


def patch_embedding(c: ModelConfig, channels: int) -> nn.Module:
    """(B, channels, N_pad) -> (B, d_model, P). The paper's embedding is one linear map per
    patch; the conv stem first filters at stem_stride resolution (peak shapes, ~0.05 degrees)
    so that long patches, hence few tokens, keep the exact peak positions -- the cheap model
    that runs at >1000 patterns/s on two CPU cores."""
    if c.stem_channels <= 0:
        return nn.Conv1d(channels, c.d_model, kernel_size=c.patch, stride=c.patch)
    if c.patch % c.stem_stride:
        raise ValueError(f"stem_stride {c.stem_stride} must divide patch {c.patch}")
    k = c.patch // c.stem_stride
    return nn.Sequential(nn.Conv1d(channels, c.stem_channels, kernel_size=c.stem_stride, stride=c.stem_stride),
                         nn.GELU(), nn.Conv1d(c.stem_channels, c.d_model, kernel_size=k, stride=k))


def rule_scores(out: dict[str, torch.Tensor], templates: torch.Tensor,
                pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    """s(EG) = log p(system) + log p(lattice) + sum_j [t_j log s(z_j) + (1 - t_j) log(1 - s(z_j))].

    BCE with positive weight w drives the operator logit to logit(p) + log w, not logit(p):
    the weight that helps rare bits train also biases every bit towards "present", which
    favours the groups with the most screw axes and glides. Given ``pos_weight`` the logits
    are corrected by - log w before decoding (the paper decodes the biased logits).
    """
    log_sys = F.log_softmax(out["system"], -1) @ templates[:, SYSTEMS].T                    # (B, 99)
    log_lat = F.log_softmax(out["lattice"], -1) @ templates[:, LATTICES].T
    z = out["operators"] if pos_weight is None else out["operators"] - pos_weight.log()
    ops = F.logsigmoid(z) @ templates[:, OPERATORS].T + F.logsigmoid(-z) @ (1 - templates[:, OPERATORS]).T
    return log_sys + log_lat + ops


def fuse(out: dict[str, torch.Tensor], alpha: float) -> torch.Tensor:
    """p = alpha softmax(rule scores) + (1 - alpha) softmax(direct logits)."""
    return alpha * F.softmax(out["rule_scores"], -1) + (1 - alpha) * F.softmax(out["direct"], -1)


class BasicBlock1d(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(c_in, c_out, 7, stride, 3, bias=False)
        self.bn1 = nn.BatchNorm1d(c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, 7, 1, 3, bias=False)
        self.bn2 = nn.BatchNorm1d(c_out)
        self.skip = nn.Identity() if stride == 1 and c_in == c_out else nn.Sequential(
            nn.Conv1d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm1d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, L)
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))) + self.skip(x))


class ResNet1d(nn.Module):
    """1-D ResNet-18 (four stages of two basic blocks) with the same heads and decoding."""

    def __init__(self, config: ModelConfig | None = None, width: int = 32) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        self.stem = nn.Sequential(nn.Conv1d(1, width, 15, 2, 7, bias=False), nn.BatchNorm1d(width), nn.ReLU(),
                                  nn.MaxPool1d(3, 2, 1))
        layers, c_in = [], width
        for i, c_out in enumerate([width, 2 * width, 4 * width, 8 * width]):
            layers += [BasicBlock1d(c_in, c_out, 1 if i == 0 else 2), BasicBlock1d(c_out, c_out, 1)]
            c_in = c_out
        self.layers = nn.Sequential(*layers)
        self.heads = DualDecoder(c_in, self.config)

    def forward(self, intensity: torch.Tensor, targets: dict[str, torch.Tensor] | None = None):
        x = scale_intensity(intensity, self.config.intensity).unsqueeze(1)               # (B, 1, N)
        h = self.layers(self.stem(x)).mean(-1)                                          # (B, C)
        return self.heads(h, self.config, targets)


def plain_transformer_config(**overrides) -> ModelConfig:
    """The ablation's plain transformer: no coordinate channel, no physics encoding."""
    return ModelConfig(coordinate_channel=False, physics_encoding=False, **overrides)

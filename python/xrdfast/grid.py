"""The 2theta grid, defined once: what the data engine renders on, what a model reads, and
what measured patterns are mapped onto.

The paper's grid (Baggett et al., arXiv 2604.23811): 5 to 90 degrees 2theta in 0.01 degree
steps (8501 points) at Cu K-alpha1 (Holzer et al. 1997). ``Grid`` holds that definition
with its points (``two_theta``) and the sin^2(theta) the model's coordinate channel and
physics encoding read (``sin2_theta``). Checkpoints record the grid they were trained on
(``to_dict``) and refuse patterns on another (``require``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

import numpy as np

from xrdfast._core import kalpha1_wavelength

CU_KA1: float = kalpha1_wavelength("Cu")  # Å, 1.540593 (Holzer et al., Phys. Rev. A 56, 4554 (1997))


@dataclass(frozen=True)
class Grid:
    """A uniform 2theta grid (degrees) at one wavelength (Å)."""

    two_theta_min: float = 5.0
    two_theta_max: float = 90.0
    step: float = 0.01
    wavelength: float = CU_KA1

    def __post_init__(self) -> None:
        if not (0 < self.two_theta_min < self.two_theta_max < 180) or not self.step > 0:
            raise ValueError(f"grid {self.two_theta_min}..{self.two_theta_max} step {self.step}: need "
                             "0 < min < max < 180 degrees and a positive step")
        if not 0.05 <= self.wavelength <= 5.0:
            raise ValueError(f"grid wavelength {self.wavelength} Å is outside 0.05..5 Å")

    @property
    def n_points(self) -> int:
        return int(round((self.two_theta_max - self.two_theta_min) / self.step)) + 1

    def two_theta(self) -> np.ndarray:
        """The points, degrees: min + step * i for i = 0..n_points-1."""
        return self.two_theta_min + self.step * np.arange(self.n_points)

    def sin2_theta(self) -> np.ndarray:
        """sin^2(theta) at every point: proportional to 1/d^2 at a fixed wavelength."""
        return np.sin(np.deg2rad(self.two_theta() / 2)) ** 2

    def describe(self) -> str:
        return (f"2theta {self.two_theta_min:g}-{self.two_theta_max:g} degrees in {self.step:g} degree steps "
                f"({self.n_points} points) at {self.wavelength:g} Å")

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "Grid":
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown grid settings {sorted(unknown)}; known: {sorted(known)}")
        return cls(**{k: float(v) for k, v in values.items()})

    @classmethod
    def spanning(cls, two_theta_min: float, two_theta_max: float, n_points: int, wavelength: float = CU_KA1) -> "Grid":
        """The grid of n_points from min to max (a model configuration's terms)."""
        if n_points < 2:
            raise ValueError(f"a grid needs at least 2 points, got {n_points}")
        return cls(two_theta_min, two_theta_max, (two_theta_max - two_theta_min) / (n_points - 1), wavelength)

    def require(self, other: "Grid", what: str) -> None:
        """Raise unless ``other`` is this grid: ``what`` names the thing that expects it."""
        if not self.matches(other):
            raise ValueError(f"{what} was made for {self.describe()}, but is given {other.describe()}; "
                             "map the patterns onto its grid (xrdfast.classify.prepare) or use a model trained "
                             "on this grid")

    def matches(self, other: "Grid") -> bool:
        """The same points at the same wavelength (steps equal to rounding)."""
        return (self.n_points == other.n_points and self.two_theta_min == other.two_theta_min
                and abs(self.two_theta_max - other.two_theta_max) <= 1e-9 and self.wavelength == other.wavelength)


DEFAULT_GRID = Grid()


def default_grid() -> np.ndarray:
    """The default grid's points: 2theta from 5 to 90 degrees in 0.01 degree steps (8501)."""
    return DEFAULT_GRID.two_theta()

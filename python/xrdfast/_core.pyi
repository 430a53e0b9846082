"""
xrdfast native core: space groups, extinction groups, powder simulation
"""
from __future__ import annotations
import collections.abc
import numpy
import numpy.typing
import typing
__all__: list[str] = ['Crystal', 'ExtinctionGroup', 'Geometry', 'ProfileShape', 'Radiation', 'SimulationParams', 'SpaceGroup', 'StageDistribution', 'SymOp', 'anomalous_dispersion', 'anomalous_dispersion_source', 'atomic_mass', 'build_info', 'cuda_available', 'extinction_group_number', 'form_factor_coefficients', 'form_factor_source', 'generate_samples', 'has_extra_symmetry', 'identify_operations', 'kalpha1_wavelength', 'maximal_t_subgroups', 'neutron_scattering_length', 'random_crystal', 'random_crystals', 'random_element_data', 'resolve_scatterer', 'rule_bit_names', 'scatterer_labels', 'simulate_pattern', 'simulate_patterns', 'simulate_patterns_cuda', 'smallest_exact_orbit', 'symmetry_operation_count', 'wyckoff_orbit', 'wyckoff_positions', 'xray_form_factor']
class SymOp:
    """
    A symmetry operation {R|t}: x' = R x + t in fractional coordinates.
    """
    def __eq__(self, arg0: SymOp) -> bool:
        ...
    def __hash__(self) -> int:
        ...
    def __init__(self, triplet: str) -> None:
        """
        Parse a coordinate triplet such as '-x,y+1/2,-z'.
        """
    def __mul__(self, arg0: SymOp) -> SymOp:
        ...
    def __repr__(self) -> str:
        ...
    def inverse(self) -> SymOp:
        ...
    def triplet(self) -> str:
        """
        The operation as an ITA/CIF coordinate triplet.
        """
    @property
    def rotation(self) -> numpy.typing.NDArray[numpy.int32]:
        """
        R, a 3x3 integer matrix.
        """
    @property
    def translation(self) -> numpy.typing.NDArray[numpy.float64]:
        """
        t in fractions of the cell edges, each in [0, 1).
        """
class SpaceGroup:
    """
    A space group in one of its 530 ITA settings. SpaceGroup(14), SpaceGroup('P 21/c'), SpaceGroup('P 1 1 21/a'), SpaceGroup('-P 2ybc') or SpaceGroup('227:2').
    """
    @staticmethod
    def from_hall(hall: str) -> SpaceGroup:
        """
        The setting a Hall symbol generates (compared by operations, so any spelling works).
        """
    @staticmethod
    def from_hall_number(hall_number: typing.SupportsInt | typing.SupportsIndex) -> SpaceGroup:
        """
        The setting with this Hall number (1..530, spglib numbering).
        """
    @staticmethod
    def settings(number: typing.SupportsInt | typing.SupportsIndex) -> list[SpaceGroup]:
        """
        All ITA settings of a space-group type, default first.
        """
    def __eq__(self, arg0: SpaceGroup) -> bool:
        ...
    def __hash__(self) -> int:
        ...
    def __init__(self, key: typing.Any) -> None:
        ...
    def __repr__(self) -> str:
        ...
    def is_absent(self, hkl: typing.Any) -> numpy.typing.NDArray[numpy.bool]:
        """
        Systematic absence of each row of an (N, 3) integer array.
        """
    def multiplicity(self, hkl: typing.Any) -> numpy.typing.NDArray[numpy.int32]:
        """
        Powder multiplicity (Laue class, Friedel pairs counted) of each hkl.
        """
    def reduce_hkl(self, hkl: typing.Any) -> numpy.typing.NDArray[numpy.int64]:
        """
        Laue-equivalent representative (lexicographically largest) of each hkl.
        """
    @property
    def centring(self) -> str:
        ...
    @property
    def centring_translations(self) -> numpy.typing.NDArray[numpy.float64]:
        ...
    @property
    def choice(self) -> str:
        """
        Setting code (unique axis and cell choice, axes, origin).
        """
    @property
    def crystal_system(self) -> str:
        ...
    @property
    def hall(self) -> str:
        """
        Hall symbol of this setting.
        """
    @property
    def hall_number(self) -> int:
        ...
    @property
    def hm(self) -> str:
        """
        Full Hermann-Mauguin symbol of this setting.
        """
    @property
    def is_centrosymmetric(self) -> bool:
        ...
    @property
    def is_standard(self) -> bool:
        """
        Whether this is the default setting.
        """
    @property
    def lattice_system(self) -> str:
        ...
    @property
    def laue_class(self) -> str:
        ...
    @property
    def number(self) -> int:
        ...
    @property
    def operations(self) -> list[SymOp]:
        """
        All operations, centring included.
        """
    @property
    def order(self) -> int:
        """
        Number of operations in the conventional cell, centring included.
        """
    @property
    def point_group(self) -> str:
        """
        Geometric crystal class, e.g. '2/m'.
        """
    @property
    def reflection_conditions(self) -> list[str]:
        """
        Reflection conditions derived from the operations, ITA style.
        """
    @property
    def symbol(self) -> str:
        """
        Short Hermann-Mauguin symbol of this setting, e.g. 'P21/c'.
        """
    @property
    def symmetry_operations(self) -> list[SymOp]:
        """
        Coset representatives: one operation per point-group rotation.
        """
class ExtinctionGroup:
    """
    One of the 99 extinction groups (numbering of Baggett et al., arXiv 2604.23811, Table S2).
    """
    def __eq__(self, arg0: ExtinctionGroup) -> bool:
        ...
    def __hash__(self) -> int:
        ...
    def __init__(self, number: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __repr__(self) -> str:
        ...
    @property
    def crystal_system(self) -> str:
        """
        Crystal system of the first member (the paper's convention).
        """
    @property
    def crystal_systems(self) -> list[str]:
        """
        Crystal systems of all members.
        """
    @property
    def lattice(self) -> str:
        """
        Lattice letter P, I, F, C (A, B, C collapsed) or R.
        """
    @property
    def lattice_system(self) -> str:
        ...
    @property
    def number(self) -> int:
        ...
    @property
    def reflection_conditions(self) -> list[str]:
        """
        Reflection conditions of the first member in its standard setting.
        """
    @property
    def rule_bits(self) -> numpy.typing.NDArray[numpy.uint8]:
        """
        The 37-bit rule target: 7 crystal-system, 5 lattice, 25 screw/glide bits by position.
        """
    @property
    def space_groups(self) -> list[int]:
        """
        Member space-group numbers.
        """
    @property
    def symbol(self) -> str:
        """
        Canonical extinction symbol, e.g. 'P 21/b 1 1'.
        """
class Crystal:
    """
    A crystal structure: cell, symmetry operations and sites.
    """
    def __init__(self, name: str, cell: typing.Annotated[collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex], "FixedSize(6)"], operations: collections.abc.Sequence[SymOp], labels: collections.abc.Sequence[str], types: collections.abc.Sequence[str], frac: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], occupancy: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], b_iso: typing.Annotated[numpy.typing.ArrayLike, numpy.float64]) -> None:
        ...
    def __repr__(self) -> str:
        ...
    def atoms(self) -> dict:
        """
        The full cell content: frac (n, 3), occupancy, b_iso and the site each atom came from.
        """
    def sites(self) -> dict:
        """
        The asymmetric unit as given: labels, scattering types, frac (n, 3), occupancy, b_iso.
        """
    @property
    def cell(self) -> tuple[float, float, float, float, float, float]:
        """
        (a, b, c, alpha, beta, gamma) in Å and degrees.
        """
    @property
    def cell_mass(self) -> float:
        """
        Mass of one cell's content, amu.
        """
    @property
    def n_atoms(self) -> int:
        """
        Atoms in the full cell, special positions merged.
        """
    @property
    def n_sites(self) -> int:
        ...
    @property
    def name(self) -> str:
        ...
    @property
    def operations(self) -> list[SymOp]:
        ...
    @property
    def volume(self) -> float:
        """
        Cell volume, Å^3.
        """
class Geometry:
    """
    Members:
    
      bragg_brentano
    
      debye_scherrer
    """
    __members__: typing.ClassVar[dict[str, Geometry]]
    bragg_brentano: typing.ClassVar[Geometry]
    debye_scherrer: typing.ClassVar[Geometry]
    @typing.overload
    def __eq__(self, other: Geometry) -> bool:
        ...
    @typing.overload
    def __eq__(self, other: typing.Any) -> bool:
        ...
    def __getstate__(self) -> int:
        ...
    def __hash__(self) -> int:
        ...
    def __index__(self) -> int:
        ...
    def __init__(self, value: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __int__(self) -> int:
        ...
    @typing.overload
    def __ne__(self, other: Geometry) -> bool:
        ...
    @typing.overload
    def __ne__(self, other: typing.Any) -> bool:
        ...
    def __repr__(self) -> str:
        ...
    def __setstate__(self, state: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __str__(self) -> str:
        ...
    @property
    def name(self) -> str:
        ...
    @property
    def value(self) -> int:
        ...
class ProfileShape:
    """
    Members:
    
      pseudo_voigt
    
      tch
    """
    __members__: typing.ClassVar[dict[str, ProfileShape]]
    pseudo_voigt: typing.ClassVar[ProfileShape]
    tch: typing.ClassVar[ProfileShape]
    @typing.overload
    def __eq__(self, other: ProfileShape) -> bool:
        ...
    @typing.overload
    def __eq__(self, other: typing.Any) -> bool:
        ...
    def __getstate__(self) -> int:
        ...
    def __hash__(self) -> int:
        ...
    def __index__(self) -> int:
        ...
    def __init__(self, value: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __int__(self) -> int:
        ...
    @typing.overload
    def __ne__(self, other: ProfileShape) -> bool:
        ...
    @typing.overload
    def __ne__(self, other: typing.Any) -> bool:
        ...
    def __repr__(self) -> str:
        ...
    def __setstate__(self, state: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __str__(self) -> str:
        ...
    @property
    def name(self) -> str:
        ...
    @property
    def value(self) -> int:
        ...
class Radiation:
    """
    Members:
    
      xray
    
      neutron
    """
    __members__: typing.ClassVar[dict[str, Radiation]]
    neutron: typing.ClassVar[Radiation]
    xray: typing.ClassVar[Radiation]
    @typing.overload
    def __eq__(self, other: Radiation) -> bool:
        ...
    @typing.overload
    def __eq__(self, other: typing.Any) -> bool:
        ...
    def __getstate__(self) -> int:
        ...
    def __hash__(self) -> int:
        ...
    def __index__(self) -> int:
        ...
    def __init__(self, value: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __int__(self) -> int:
        ...
    @typing.overload
    def __ne__(self, other: Radiation) -> bool:
        ...
    @typing.overload
    def __ne__(self, other: typing.Any) -> bool:
        ...
    def __repr__(self) -> str:
        ...
    def __setstate__(self, state: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __str__(self) -> str:
        ...
    @property
    def name(self) -> str:
        ...
    @property
    def value(self) -> int:
        ...
class SimulationParams:
    """
    Instrument, sample and measurement settings of a pattern.
    """
    anomalous: bool
    geometry: Geometry
    normalize: bool
    radiation: Radiation
    shape: ProfileShape
    def __init__(self) -> None:
        ...
    @staticmethod
    def ranges() -> list[tuple[str, float, float, bool, str, str]]:
        """
        The physical range of each parameter: (name, lo, hi, zero_is_off, unit, why), as validate() checks it.
        """
    def validate(self) -> None:
        ...
    @property
    def U(self) -> float:
        ...
    @U.setter
    def U(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def V(self) -> float:
        ...
    @V.setter
    def V(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def W(self) -> float:
        ...
    @W.setter
    def W(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def X(self) -> float:
        ...
    @X.setter
    def X(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def Y(self) -> float:
        ...
    @Y.setter
    def Y(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def asymmetry(self) -> float:
        ...
    @asymmetry.setter
    def asymmetry(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def background_chebyshev(self) -> list[float]:
        ...
    @background_chebyshev.setter
    def background_chebyshev(self, arg0: collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex]) -> None:
        ...
    @property
    def counts(self) -> float:
        ...
    @counts.setter
    def counts(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def crystallite_size(self) -> float:
        """
        nm; 0 for none.
        """
    @crystallite_size.setter
    def crystallite_size(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def eta(self) -> float:
        ...
    @eta.setter
    def eta(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def goniometer_radius(self) -> float:
        """
        mm
        """
    @goniometer_radius.setter
    def goniometer_radius(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def hump_amplitude(self) -> float:
        ...
    @hump_amplitude.setter
    def hump_amplitude(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def hump_center(self) -> float:
        ...
    @hump_center.setter
    def hump_center(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def hump_fwhm(self) -> float:
        ...
    @hump_fwhm.setter
    def hump_fwhm(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def ka2_ratio(self) -> float:
        ...
    @ka2_ratio.setter
    def ka2_ratio(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def march_dollase_r(self) -> float:
        ...
    @march_dollase_r.setter
    def march_dollase_r(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def microstrain(self) -> float:
        ...
    @microstrain.setter
    def microstrain(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def monochromator_two_theta(self) -> float:
        ...
    @monochromator_two_theta.setter
    def monochromator_two_theta(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def mu_r(self) -> float:
        ...
    @mu_r.setter
    def mu_r(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def preferred_orientation(self) -> typing.Annotated[list[int], "FixedSize(3)"]:
        ...
    @preferred_orientation.setter
    def preferred_orientation(self, arg0: typing.Annotated[collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], "FixedSize(3)"]) -> None:
        ...
    @property
    def read_noise(self) -> float:
        ...
    @read_noise.setter
    def read_noise(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def sample_displacement(self) -> float:
        """
        mm
        """
    @sample_displacement.setter
    def sample_displacement(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def scherrer_k(self) -> float:
        ...
    @scherrer_k.setter
    def scherrer_k(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def wavelength(self) -> float:
        """
        K-alpha1 (or monochromatic) wavelength, Å.
        """
    @wavelength.setter
    def wavelength(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def wavelength2(self) -> float:
        """
        K-alpha2 wavelength, Å; 0 for none.
        """
    @wavelength2.setter
    def wavelength2(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def zero_shift(self) -> float:
        """
        degrees 2theta
        """
    @zero_shift.setter
    def zero_shift(self, arg0: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
class StageDistribution:
    """
    How a curriculum stage draws its samples: probabilities and [lo, hi] intervals of every nuisance.
    """
    name: str
    @staticmethod
    def preset(stage: str) -> StageDistribution:
        """
        The settings of stage '1', '2' or 'po'.
        """
    def __init__(self) -> None:
        ...
    def to_dict(self) -> dict:
        """
        Every setting, for a dataset's manifest.
        """
    @property
    def U(self) -> tuple[float, float]:
        ...
    @U.setter
    def U(self, arg1: tuple[typing.SupportsFloat | typing.SupportsIndex, typing.SupportsFloat | typing.SupportsIndex]) -> None:
        ...
    @property
    def V(self) -> tuple[float, float]:
        ...
    @V.setter
    def V(self, arg1: tuple[typing.SupportsFloat | typing.SupportsIndex, typing.SupportsFloat | typing.SupportsIndex]) -> None:
        ...
    @property
    def W(self) -> tuple[float, float]:
        ...
    @W.setter
    def W(self, arg1: tuple[typing.SupportsFloat | typing.SupportsIndex, typing.SupportsFloat | typing.SupportsIndex]) -> None:
        ...
    @property
    def X(self) -> tuple[float, float]:
        ...
    @X.setter
    def X(self, arg1: tuple[typing.SupportsFloat | typing.SupportsIndex, typing.SupportsFloat | typing.SupportsIndex]) -> None:
        ...
    @property
    def background_curvature(self) -> tuple[float, float]:
        ...
    @background_curvature.setter
    def background_curvature(self, arg1: tuple[typing.SupportsFloat | typing.SupportsIndex, typing.SupportsFloat | typing.SupportsIndex]) -> None:
        ...
    @property
    def background_level(self) -> tuple[float, float]:
        ...
    @background_level.setter
    def background_level(self, arg1: tuple[typing.SupportsFloat | typing.SupportsIndex, typing.SupportsFloat | typing.SupportsIndex]) -> None:
        ...
    @property
    def background_probability(self) -> float:
        ...
    @background_probability.setter
    def background_probability(self, arg1: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def background_slope(self) -> tuple[float, float]:
        ...
    @background_slope.setter
    def background_slope(self, arg1: tuple[typing.SupportsFloat | typing.SupportsIndex, typing.SupportsFloat | typing.SupportsIndex]) -> None:
        ...
    @property
    def counts(self) -> tuple[float, float]:
        ...
    @counts.setter
    def counts(self, arg1: tuple[typing.SupportsFloat | typing.SupportsIndex, typing.SupportsFloat | typing.SupportsIndex]) -> None:
        ...
    @property
    def crystallite_size(self) -> tuple[float, float]:
        ...
    @crystallite_size.setter
    def crystallite_size(self, arg1: tuple[typing.SupportsFloat | typing.SupportsIndex, typing.SupportsFloat | typing.SupportsIndex]) -> None:
        ...
    @property
    def eta(self) -> tuple[float, float]:
        ...
    @eta.setter
    def eta(self, arg1: tuple[typing.SupportsFloat | typing.SupportsIndex, typing.SupportsFloat | typing.SupportsIndex]) -> None:
        ...
    @property
    def eta_power(self) -> float:
        ...
    @eta_power.setter
    def eta_power(self, arg1: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def hump_amplitude(self) -> tuple[float, float]:
        ...
    @hump_amplitude.setter
    def hump_amplitude(self, arg1: tuple[typing.SupportsFloat | typing.SupportsIndex, typing.SupportsFloat | typing.SupportsIndex]) -> None:
        ...
    @property
    def hump_center(self) -> tuple[float, float]:
        ...
    @hump_center.setter
    def hump_center(self, arg1: tuple[typing.SupportsFloat | typing.SupportsIndex, typing.SupportsFloat | typing.SupportsIndex]) -> None:
        ...
    @property
    def hump_fwhm(self) -> tuple[float, float]:
        ...
    @hump_fwhm.setter
    def hump_fwhm(self, arg1: tuple[typing.SupportsFloat | typing.SupportsIndex, typing.SupportsFloat | typing.SupportsIndex]) -> None:
        ...
    @property
    def hump_probability(self) -> float:
        ...
    @hump_probability.setter
    def hump_probability(self, arg1: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def impurity_fraction(self) -> tuple[float, float]:
        ...
    @impurity_fraction.setter
    def impurity_fraction(self, arg1: tuple[typing.SupportsFloat | typing.SupportsIndex, typing.SupportsFloat | typing.SupportsIndex]) -> None:
        ...
    @property
    def impurity_probability(self) -> float:
        ...
    @impurity_probability.setter
    def impurity_probability(self, arg1: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def lattice_only_fraction(self) -> float:
        ...
    @lattice_only_fraction.setter
    def lattice_only_fraction(self, arg1: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def march_dollase_r(self) -> tuple[float, float]:
        ...
    @march_dollase_r.setter
    def march_dollase_r(self, arg1: tuple[typing.SupportsFloat | typing.SupportsIndex, typing.SupportsFloat | typing.SupportsIndex]) -> None:
        ...
    @property
    def max_atoms(self) -> int:
        ...
    @max_atoms.setter
    def max_atoms(self, arg1: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def microstrain(self) -> tuple[float, float]:
        ...
    @microstrain.setter
    def microstrain(self, arg1: tuple[typing.SupportsFloat | typing.SupportsIndex, typing.SupportsFloat | typing.SupportsIndex]) -> None:
        ...
    @property
    def min_atoms(self) -> int:
        ...
    @min_atoms.setter
    def min_atoms(self, arg1: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    @property
    def noise_probability(self) -> float:
        ...
    @noise_probability.setter
    def noise_probability(self, arg1: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def read_noise(self) -> tuple[float, float]:
        ...
    @read_noise.setter
    def read_noise(self, arg1: tuple[typing.SupportsFloat | typing.SupportsIndex, typing.SupportsFloat | typing.SupportsIndex]) -> None:
        ...
    @property
    def sample_displacement(self) -> tuple[float, float]:
        ...
    @sample_displacement.setter
    def sample_displacement(self, arg1: tuple[typing.SupportsFloat | typing.SupportsIndex, typing.SupportsFloat | typing.SupportsIndex]) -> None:
        ...
    @property
    def size_probability(self) -> float:
        ...
    @size_probability.setter
    def size_probability(self, arg1: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def strain_probability(self) -> float:
        ...
    @strain_probability.setter
    def strain_probability(self, arg1: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def texture_probability(self) -> float:
        ...
    @texture_probability.setter
    def texture_probability(self, arg1: typing.SupportsFloat | typing.SupportsIndex) -> None:
        ...
    @property
    def zero_shift(self) -> tuple[float, float]:
        ...
    @zero_shift.setter
    def zero_shift(self, arg1: tuple[typing.SupportsFloat | typing.SupportsIndex, typing.SupportsFloat | typing.SupportsIndex]) -> None:
        ...
def anomalous_dispersion(label: str, anode: str) -> tuple[float, float]:
    """
    (f', f'') in electrons at the anode's K-alpha1 line.
    """
def anomalous_dispersion_source(label: str) -> str:
    """
    'Sasaki1989', 'Henke1993', or '' where neither covers the element.
    """
def atomic_mass(label: str) -> float:
    """
    Standard atomic weight in g/mol.
    """
def build_info() -> dict:
    """
    What this build of xrdfast was compiled with (OpenMP, CUDA and its architectures).
    """
def cuda_available() -> bool:
    """
    Whether this build has the CUDA kernels and a CUDA device is visible (never raises).
    """
def extinction_group_number(space_group: typing.SupportsInt | typing.SupportsIndex) -> int:
    """
    Extinction group (1..99) of a space-group type (1..230).
    """
def form_factor_coefficients(label: str) -> tuple[list[float], list[float], float]:
    """
    (a[5], b[5] in A^2, c) with f0(s) = sum a exp(-b s^2) + c.
    """
def form_factor_source(label: str) -> str:
    """
    'WK1995', or 'IT1992' for a row filled from ITC Table 6.1.1.4.
    """
MAX_GRID_POINTS: int
def generate_samples(distribution: StageDistribution, seed: typing.SupportsInt | typing.SupportsIndex, first: typing.SupportsInt | typing.SupportsIndex, count: typing.SupportsInt | typing.SupportsIndex, grid: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], n_threads: typing.Any = 0) -> tuple[numpy.typing.NDArray[numpy.float32], dict]:
    """
    Samples first..first+count-1 of a stage: (float32 patterns (count, n_points), records as arrays).
    """
def has_extra_symmetry(crystal: Crystal, tolerance: typing.SupportsFloat | typing.SupportsIndex = 0.1) -> bool:
    """
    Whether the atoms have symmetry beyond the crystal's operations (tolerance in Å).
    """
def identify_operations(triplets: collections.abc.Sequence[str]) -> dict:
    """
    Space-group type and setting of operations given as triplets in any basis and origin: dict with number, hall_number, hm, basis P (columns: the setting's axes) and origin_shift p, x' = P^-1 (x - p).
    """
def kalpha1_wavelength(anode: str) -> float:
    """
    K-alpha1 wavelength in A of 'Cu', 'Mo', 'Co', 'Cr', 'Fe' or 'Ag'.
    """
def maximal_t_subgroups(number: typing.SupportsInt | typing.SupportsIndex) -> list:
    """
    Maximal translationengleiche subgroups of a type's standard setting, one per conjugacy class: dicts with number, hall_number, index, conjugates and operations (triplets in the parent's basis).
    """
def neutron_scattering_length(label: str) -> float:
    """
    Bound coherent scattering length, real part, in fm (Sears 1992).
    """
def random_crystal(space_group: typing.SupportsInt | typing.SupportsIndex, seed: typing.SupportsInt | typing.SupportsIndex, stream: typing.SupportsInt | typing.SupportsIndex = 0, **kwargs) -> Crystal:
    """
    A random crystal of the space-group type (default setting) whose symmetry is exactly that group; options as keywords (min_atoms, max_atoms, distribution='mineral'|'uniform', elements, ...).
    """
def random_crystals(space_group: typing.SupportsInt | typing.SupportsIndex, seed: typing.SupportsInt | typing.SupportsIndex, first_stream: typing.SupportsInt | typing.SupportsIndex = 0, count: typing.SupportsInt | typing.SupportsIndex = 1, threads: typing.Any = 0, **kwargs) -> list[Crystal]:
    """
    Crystal i from stream first_stream + i, in parallel; identical to random_crystal() one by one.
    """
def random_element_data(element: typing.Any) -> tuple[float, float, int]:
    """
    (covalent radius Å, fitted atomic volume Å^3, AMCSD structures containing it) of a symbol or Z.
    """
def resolve_scatterer(label: str) -> tuple[str, int, int]:
    """
    (table label, Z, charge) the label resolves to; an untabulated ion gives its neutral atom.
    """
def rule_bit_names() -> list[str]:
    """
    Names of the 37 rule bits, in order.
    """
def scatterer_labels() -> list[str]:
    """
    Labels of all X-ray scatterers: neutral atoms H..Cf, then the ions of WK1995.
    """
def simulate_pattern(phases: collections.abc.Sequence[tuple[Crystal, typing.SupportsFloat | typing.SupportsIndex]], params: SimulationParams, grid: typing.Any, seed: typing.SupportsInt | typing.SupportsIndex = 0) -> tuple[numpy.typing.NDArray[numpy.float64], dict]:
    """
    One pattern of a mixture [(crystal, weight_fraction), ...]: (intensity, lines).
    """
def simulate_patterns(items: collections.abc.Sequence[collections.abc.Sequence[tuple[Crystal, typing.SupportsFloat | typing.SupportsIndex]]], params: collections.abc.Sequence[SimulationParams], grid: typing.Any, seed: typing.SupportsInt | typing.SupportsIndex = 0, n_threads: typing.Any = 0) -> tuple[numpy.typing.NDArray[numpy.float32], list[str]]:
    """
    Patterns of many mixtures as float32 (N, n_points), with one error message per item ('' on success).
    """
def simulate_patterns_cuda(items: collections.abc.Sequence[collections.abc.Sequence[tuple[Crystal, typing.SupportsFloat | typing.SupportsIndex]]], params: collections.abc.Sequence[SimulationParams], grid: typing.Any, seed: typing.SupportsInt | typing.SupportsIndex = 0) -> tuple[numpy.typing.NDArray[numpy.float32], list[str]]:
    """
    simulate_patterns on the GPU: float32 (N, n_points) and one error message per item ('' on success). Same noise streams as the CPU; agrees with it up to rounding. RuntimeError without CUDA.
    """
def smallest_exact_orbit(space_group: typing.SupportsInt | typing.SupportsIndex) -> int:
    """
    Fewest atoms of one orbit that alone has exactly the group's symmetry (default setting).
    """
def symmetry_operation_count(crystal: Crystal, tolerance: typing.SupportsFloat | typing.SupportsIndex = 0.1) -> int:
    """
    Operations the atoms satisfy, modulo the crystal's lattice.
    """
def wyckoff_orbit(space_group: typing.SupportsInt | typing.SupportsIndex, letter: str, params: typing.Annotated[collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex], "FixedSize(3)"]) -> numpy.typing.NDArray[numpy.float64]:
    """
    Orbit (m, 3) in [0, 1) of a Wyckoff position for free parameters (x, y, z).
    """
def wyckoff_positions(space_group: typing.SupportsInt | typing.SupportsIndex) -> list:
    """
    Wyckoff positions of the type's default setting, general first: letter, multiplicity, site_symmetry, coordinates, free_to_coord (3x3), shift (fractional), n_free.
    """
def xray_form_factor(label: str, stol: typing.Annotated[numpy.typing.ArrayLike, numpy.float64]) -> numpy.typing.NDArray[numpy.float64]:
    """
    f0 (electrons) at s = sin(theta)/lambda in 1/A, any shape; Waasmaier & Kirfel (1995).
    """

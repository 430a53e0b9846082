"""
xrdfast native core: space groups, extinction groups, powder simulation
"""
from __future__ import annotations
import collections.abc
import numpy
import numpy.typing
import typing
__all__: list[str] = ['ExtinctionGroup', 'SpaceGroup', 'SymOp', 'build_info', 'extinction_group_number', 'identify_operations', 'maximal_t_subgroups', 'rule_bit_names']
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
def build_info() -> dict:
    """
    What this build of xrdfast was compiled with (OpenMP, CUDA and its architectures).
    """
def extinction_group_number(space_group: typing.SupportsInt | typing.SupportsIndex) -> int:
    """
    Extinction group (1..99) of a space-group type (1..230).
    """
def identify_operations(triplets: collections.abc.Sequence[str]) -> dict:
    """
    Space-group type and setting of operations given as triplets in any basis and origin: dict with number, hall_number, hm, basis P (columns: the setting's axes) and origin_shift p, x' = P^-1 (x - p).
    """
def maximal_t_subgroups(number: typing.SupportsInt | typing.SupportsIndex) -> list:
    """
    Maximal translationengleiche subgroups of a type's standard setting, one per conjugacy class: dicts with number, hall_number, index, conjugates and operations (triplets in the parent's basis).
    """
def rule_bit_names() -> list[str]:
    """
    Names of the 37 rule bits, in order.
    """

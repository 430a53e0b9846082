// Random crystal structures of a given space-group type, for synthetic training data.
//
// A structure is drawn in four steps: a composition (Wyckoff orbits of the type's default
// setting, wyckoff.hpp, adding up to an atom count in a range, each orbit given an element),
// a cell (the crystal system's metric with realistic length ratios and angles, kept away from
// any higher lattice symmetry, its volume the sum of atomic volumes fitted to AMCSD minerals
// times a random factor), the orbits' free parameters (redrawn until every distance exceeds a
// fraction of the summed covalent radii), and a symmetry check: a structure whose atoms have
// more symmetry than the group it was built in is rejected, so the label is the true space
// group (has_extra_symmetry; the tests compare with spglib). After three such rejections a
// structure starts from an orbit that alone has exactly the group's symmetry (P432, F432 and
// others have no other way to it). Rejections shape the output: accepted structures are a little
// larger in volume and smaller in atom count than the drawn targets, as dense random packings
// fail more often.
// Left out: chemistry (charge balance, coordination), bonds and molecules, disorder beyond
// an occasional partial occupancy, anisotropic displacements.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "xrdfast/crystal.hpp"
#include "xrdfast/rng.hpp"

namespace xrdfast {

enum class ElementDistribution {
  // Weighted by the number of AMCSD mineral structures (American Mineralogist Crystal
  // Structure Database, as shipped with larixite) that contain the element: O 59 %, Fe 17 %,
  // Si 14 %, H, Ca, S, Al, Mg, Cu, C, Na, ... (random_crystal.cpp, generated table).
  MineralLike,
  Uniform,  // every element of the list equally likely
};

// Atoms that match within this distance (Å) count as symmetric. Generous on purpose: a random
// structure is rejected even when it is only 0.1 Å from a supergroup, so its label survives the
// coarse tolerances (spglib symprec 0.1) that pattern-level analysis uses; with 0.01 Å about 3 %
// of structures would be pseudo-symmetric at 0.1 Å.
constexpr double kSymmetryTolerance = 0.1;

struct RandomCrystalOptions {
  // Atoms in the conventional cell (the full P1 content), inclusive range. The target is
  // drawn log-uniformly (small cells are the more common), then filled with orbits.
  int min_atoms = 4;
  int max_atoms = 100;
  ElementDistribution distribution = ElementDistribution::MineralLike;
  // Atomic numbers to draw from; empty: every element the distribution knows (Z = 1..98 for
  // Uniform, the 92 elements found in AMCSD for MineralLike).
  std::vector<int> elements;
  int max_species = 4;  // distinct elements in one crystal: 1..max_species, uniformly
  // Closest approach of two atoms: factor * (r_cov,i + r_cov,j) (Cordero et al. 2008 radii), and
  // never below min_distance (Å; above Crystal's kOverlapDistance). Real structures sit near
  // 0.9-1.1 for cation-anion pairs and well above 1 for like ions.
  double min_distance_factor = 0.8;
  double min_distance = 0.7;
  double b_iso_min = 0.3, b_iso_max = 2.5;  // Å^2, uniform
  // Share of sites given an occupancy drawn from [occupancy_min, 1); the rest are fully occupied.
  double partial_occupancy_fraction = 0.05;
  double occupancy_min = 0.5;
  // Cell volume = sum of atomic volumes * a factor drawn uniformly from this range; the default
  // is the 5-95 % spread of observed / modelled volume over AMCSD (0 here: use that default).
  double volume_factor_min = 0, volume_factor_max = 0;
  // Shortest cell edge, Å (real structures rarely have an axis below 2.5 Å: Be 2.29, graphite 2.46).
  double min_cell_edge = 2.5;
  // Relative weight of the general position against each special position when orbits are
  // chosen (structures with more general-position atoms are less often of a supergroup).
  double general_position_weight = 2.0;
  int max_attempts = 1000;  // whole structures tried before std::runtime_error
  int placement_tries = 20;  // free-parameter draws per orbit before the attempt is abandoned
  double symmetry_tolerance = kSymmetryTolerance;  // Å, for has_extra_symmetry
};

// A random crystal of space-group type `space_group_number` (1..230) in its default setting.
// Deterministic for a given Rng state. Throws std::invalid_argument for options no structure can
// satisfy (no orbit combination gives an atom count in range, bad ranges, unknown elements) and
// std::runtime_error naming the group and the reasons when max_attempts structures fail.
Crystal random_crystal(int space_group_number, const RandomCrystalOptions& options, Rng& rng);

// The same for a batch: crystal i from Rng(seed, first_stream + i); `threads` <= 0 uses all
// cores. The result does not depend on the thread count.
std::vector<Crystal> random_crystals(int space_group_number, const RandomCrystalOptions& options, std::uint64_t seed,
                                     std::uint64_t first_stream, int count, int threads = 0);

// The smallest multiplicity of a Wyckoff orbit of the type's default setting whose atoms alone
// (one element, generic parameters) have exactly the group's symmetry. With fewer atoms in the
// cell only combinations of special orbits remain, and in some types (F23, F432, Fm-3c, ...)
// every one of those is invariant under a supergroup, so random_crystal fails there. 0 where no
// single orbit has exactly the symmetry (P1: one atom is always centrosymmetric).
int smallest_exact_orbit(int space_group_number);

// Whether the atoms of `crystal` are invariant under an operation that is not one of its
// symmetry operations (modulo its lattice): a rotation of the lattice's metric (found in a
// Delaunay-reduced primitive cell, entries -1..1, as spglib does) combined with a translation
// that maps one atom onto another of the same element, or a pure translation (a smaller cell).
// Atoms match within `tolerance` (Å); occupancies and B are ignored, so the answer errs
// towards "extra". Its purpose: the space group a random crystal is labelled with is its own.
bool has_extra_symmetry(const Crystal& crystal, double tolerance = kSymmetryTolerance);

// Number of operations the atoms satisfy, modulo the crystal's lattice (translations included:
// a crystal with a halved cell counts twice). Equals operations().size() / centrings().size()
// exactly when has_extra_symmetry() is false.
int symmetry_operation_count(const Crystal& crystal, double tolerance = kSymmetryTolerance);

// The element data the engine uses, Z = 1..98 (std::invalid_argument outside).
double covalent_radius(int z);          // Å, Cordero et al. (2008) via gemmi
double mean_atomic_volume(int z);       // Å^3, fitted to AMCSD cell volumes
int amcsd_structure_count(int z);       // AMCSD structures containing the element

}  // namespace xrdfast

// Wyckoff positions of the 230 space-group types in their default settings.
//
// A Wyckoff position is a class of points whose site-symmetry groups are conjugate in the
// space group (ITA Vol. A, section 1.4.4). Each one is given by its letter, its multiplicity in
// the conventional cell, the point-group type of its site symmetry and one representative
// coordinate triplet ("x,1/4,z"), read here into an affine map from free parameters:
// x = free_to_coord * (x, y, z) + shift / 24. The settings are those of
// SpaceGroup::from_number (origin choice 1, hexagonal axes for R); the table
// (wyckoff_table.inc, scripts/gen_wyckoff_table.py) is ITA's as cctbx's sgtbx carries it, moved
// from origin choice 2 by ITA's origin shift for the 24 types with two origins; the tests compare
// it with pyxtal (Bilbao) and spglib.
// Left out: oriented site-symmetry symbols ("..m"; the point-group type "m" is given), the
// Wyckoff positions of non-default settings, and Wyckoff sets (normalizer equivalence).
#pragma once

#include <Eigen/Dense>

#include <string>
#include <vector>

#include "xrdfast/spacegroup.hpp"
#include "xrdfast/symop.hpp"

namespace xrdfast {

struct WyckoffPosition {
  char letter;                // 'a', 'b', ...; '@' for the 27th letter of Pmmm (ITA's alpha)
  int multiplicity;           // points of one orbit in the conventional cell
  std::string site_symmetry;  // point-group type of the site symmetry, e.g. "mm2", "-3m", "1"
  std::string coordinates;    // the representative triplet, e.g. "x,1/4,z", "x,2x,1/2"
  Mat3i free_to_coord;        // columns act on the free parameters (x, y, z)
  Vec3i shift;                // units of 1/kTransDen, each in [0, kTransDen)
  int n_free;                 // number of free parameters (rank of free_to_coord): 0..3

  // The representative point (fractional) for free parameters (x, y, z); parameters the
  // position does not use are ignored.
  Eigen::Vector3d point(const Eigen::Vector3d& free_params) const;
};

// The Wyckoff positions of type `number` (1..230) in its default setting, general position
// first and then in decreasing alphabetical order, as ITA lists them. Throws
// std::invalid_argument outside 1..230.
const std::vector<WyckoffPosition>& wyckoff_positions(int number);

// The position with `letter` of type `number`; throws std::invalid_argument if there is none.
const WyckoffPosition& wyckoff_position(int number, char letter);

// The orbit of the representative point under all operations of `group` (centring included),
// reduced to [0, 1) and deduplicated: `multiplicity` points for generic free parameters, fewer
// where the parameters put the point on a position of higher site symmetry (x = 0 in "x,0,0").
// `group` must be the default setting of the position's type. // [multiplicity] fractional
std::vector<Eigen::Vector3d> wyckoff_orbit(const SpaceGroup& group, const WyckoffPosition& position,
                                           const Eigen::Vector3d& free_params);

// Indices into group.operations() of one operation per point of a generic orbit (coset
// representatives of the site-symmetry group, identity first): applying them to the
// representative point gives the orbit without deduplication. Computed once, cached.
const std::vector<int>& wyckoff_coset_operations(const SpaceGroup& group, const WyckoffPosition& position);

}  // namespace xrdfast

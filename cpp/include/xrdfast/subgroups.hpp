// Space-group-type identification and maximal translationengleiche subgroups.
//
// identify_space_group finds which of the 530 ITA settings a group given in any basis and
// origin is, and the transformation onto it, in the (P, p) convention of ITA Vol. A
// (2016), section 1.5.1: (a', b', c') = (a, b, c) P and x' = P^-1 (x - p).
// maximal_t_subgroups lists the maximal t-subgroups of a space group, as tabulated in ITA
// Vol. A1 (2010), Part 2: they keep every lattice translation, so they correspond one to
// one to the maximal subgroups of the point group (C. Hermann, Z. Kristallogr. 69, 533
// (1929); ITA A1 chapter 1.2).
// Deliberately left out: k-subgroups (lost translations) and Wyckoff-position splitting.
#pragma once

#include <array>
#include <vector>

#include "xrdfast/spacegroup.hpp"
#include "xrdfast/symop.hpp"

namespace xrdfast {

struct Identification {
  int number = 0;       // space-group type, 1..230
  int hall_number = 0;  // the setting (1..530) the operations were mapped onto
  // P: column j holds the setting's j-th basis vector in input fractional coordinates.
  std::array<std::array<double, 3>, 3> basis{};
  // p: the setting's origin in input fractional coordinates.
  std::array<double, 3> origin_shift{};
};

// Which setting of which type a set of operations is. `ops` may be a whole group or
// generators of one; centring translations are operations with the identity rotation.
// When the input basis is itself one of the 530 settings, that setting is returned with
// P = I (and p = 0 where possible); otherwise the standard setting is preferred.
// Throws std::invalid_argument when the operations do not close to a crystallographic
// space group, or close to one that matches no setting.
Identification identify_space_group(const std::vector<SymOp>& ops);

struct TSubgroup {
  int number = 0;       // space-group type of the subgroup
  int hall_number = 0;  // setting the identification mapped it onto
  int index = 0;        // [G : H], equal to the point-group index for t-subgroups
  int conjugates = 0;   // size of its conjugacy class in G (ITA A1 lists one per class)
  std::vector<SymOp> operations;  // in g's basis, centring translations included
};

// One entry per conjugacy class of maximal t-subgroups of g, sorted by index then type.
std::vector<TSubgroup> maximal_t_subgroups(const SpaceGroup& g);

}  // namespace xrdfast

// Hall symbols: the explicit-origin notation for space-group generators.
//
// Follows S. R. Hall, Acta Cryst. A37, 517 (1981) and International Tables Vol. B,
// section 1.4 (the "concise" symbols of sgtbx and spglib, including the origin-shift
// suffix "(0 0 1)" in twelfths). Parsing only: the tables live in spacegroup.hpp.
#pragma once

#include <string>
#include <vector>

#include "xrdfast/symop.hpp"

namespace xrdfast {

// Centring translations of a lattice symbol (P A B C I R S T F), zero vector first,
// in units of 1/24.
std::vector<Vec3i> centring_vectors(char lattice);

// All operations (centring included) of the group a Hall symbol describes.
// Throws std::invalid_argument naming the symbol and the token it cannot read.
std::vector<SymOp> operations_from_hall(const std::string& hall);

}  // namespace xrdfast

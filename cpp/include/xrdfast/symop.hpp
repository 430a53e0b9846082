// Exact crystallographic symmetry operations (Seitz matrices {R|t}).
//
// Rotations are integer 3x3 matrices acting on fractional coordinates (x' = R x + t);
// translations are integers over a common denominator of 24, which holds every
// translation of the 530 ITA settings (Hall 1981), so equality needs no float tolerance.
// Floats appear only where an operation touches real coordinates.
#pragma once

#include <array>
#include <string>
#include <vector>

namespace xrdfast {

constexpr int kTransDen = 24;  // translations are stored as multiples of 1/24

using Mat3i = std::array<std::array<int, 3>, 3>;
using Vec3i = std::array<int, 3>;

constexpr Mat3i kIdentity = {{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}};

Mat3i mat_mul(const Mat3i& a, const Mat3i& b);
Vec3i mat_vec(const Mat3i& a, const Vec3i& v);
int determinant(const Mat3i& a);
int trace(const Mat3i& a);
Mat3i negated(const Mat3i& a);
Mat3i inverse_unimodular(const Mat3i& a);  // exact inverse of a det = +-1 matrix

// Reduce a translation (units of 1/24) into [0, 24).
Vec3i wrap_translation(Vec3i t);

struct SymOp {
  Mat3i rot = kIdentity;
  Vec3i tran = {0, 0, 0};  // units of 1/kTransDen, each in [0, kTransDen)

  // {R1|t1}{R2|t2} = {R1 R2 | R1 t2 + t1}, translation wrapped into the unit cell.
  SymOp operator*(const SymOp& b) const;
  SymOp inverse() const;
  bool operator==(const SymOp& b) const { return rot == b.rot && tran == b.tran; }
  bool operator<(const SymOp& b) const {
    return rot != b.rot ? rot < b.rot : tran < b.tran;
  }
  // Coordinate triplet as in ITA and CIF, e.g. "-x,y+1/2,-z+1/2".
  std::string triplet() const;
};

// Parse "x,y+1/2,-z" (CIF/ITA style; spaces ignored; translations with denominators
// dividing 24). Throws std::invalid_argument naming the offending text.
SymOp parse_triplet(const std::string& triplet);

// The smallest group containing `generators` (translations taken modulo lattice vectors),
// sorted with the identity first. Throws if the closure exceeds 192 operations, which no
// crystallographic group in a conventional cell does.
std::vector<SymOp> close_group(const std::vector<SymOp>& generators);

}  // namespace xrdfast

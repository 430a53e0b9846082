// The unit cell: metric tensors, d-spacings and the angles between reciprocal vectors.
//
// Conventions of International Tables Vol. B, section 1.1: G is the direct metric tensor
// (G_ij = a_i . a_j, in Å^2), G* = G^-1 the reciprocal one, 1/d^2 = h G* h^T. Cartesian
// axes follow the PDB/ITC convention (a along x, b in the xy plane).
#pragma once

#include <Eigen/Dense>

#include "xrdfast/symop.hpp"

namespace xrdfast {

class UnitCell {
 public:
  // Lengths in Å, angles in degrees. Throws std::invalid_argument for non-positive or
  // non-finite lengths and for angles that give no real cell (zero or imaginary volume).
  UnitCell(double a, double b, double c, double alpha, double beta, double gamma);

  double a, b, c, alpha, beta, gamma;

  double volume() const { return volume_; }                          // Å^3
  const Eigen::Matrix3d& metric() const { return metric_; }          // G, Å^2
  const Eigen::Matrix3d& reciprocal_metric() const { return reciprocal_; }  // G*, Å^-2
  const Eigen::Matrix3d& orthogonalization() const { return orth_; }  // fractional -> Å

  // 1/d^2 for Miller indices h (row vector), Å^-2.
  double inv_d2(const Vec3i& h) const {
    const Eigen::Vector3d v(h[0], h[1], h[2]);
    return v.dot(reciprocal_ * v);
  }
  // Cosine of the angle between the reciprocal vectors h1 and h2 (both nonzero).
  double cos_angle(const Vec3i& h1, const Vec3i& h2) const;
  // Shortest distance (Å) between two fractional positions over lattice translations.
  double distance(const Eigen::Vector3d& x1, const Eigen::Vector3d& x2) const;

 private:
  double volume_;
  Eigen::Matrix3d metric_, reciprocal_, orth_;
};

}  // namespace xrdfast

#include "xrdfast/unitcell.hpp"
#include "xrdfast/text.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace xrdfast {

namespace {
constexpr double kDeg = M_PI / 180.0;
}

UnitCell::UnitCell(double a_, double b_, double c_, double alpha_, double beta_, double gamma_)
    : a(a_), b(b_), c(c_), alpha(alpha_), beta(beta_), gamma(gamma_) {
  for (double len : {a, b, c})
    if (!std::isfinite(len) || len <= 0)
      throw std::invalid_argument("unit cell: lengths must be positive and finite (got a=" + number_text(a) +
                                  ", b=" + number_text(b) + ", c=" + number_text(c) + " Å)");
  for (double ang : {alpha, beta, gamma})
    if (!std::isfinite(ang) || ang <= 0 || ang >= 180)
      throw std::invalid_argument("unit cell: angles must lie strictly between 0 and 180 degrees (got " +
                                  number_text(alpha) + ", " + number_text(beta) + ", " + number_text(gamma) + ")");
  const double ca = std::cos(alpha * kDeg), cb = std::cos(beta * kDeg), cg = std::cos(gamma * kDeg);
  const double sg = std::sin(gamma * kDeg);
  const double v2 = 1 - ca * ca - cb * cb - cg * cg + 2 * ca * cb * cg;
  if (!(v2 > 1e-10))
    throw std::invalid_argument("unit cell: angles alpha=" + number_text(alpha) + ", beta=" + number_text(beta) +
                                ", gamma=" + number_text(gamma) + " give zero or imaginary volume");
  volume_ = a * b * c * std::sqrt(v2);
  metric_ << a * a, a * b * cg, a * c * cb,
             a * b * cg, b * b, b * c * ca,
             a * c * cb, b * c * ca, c * c;
  reciprocal_ = metric_.inverse();
  orth_ << a, b * cg, c * cb,
           0, b * sg, c * (ca - cb * cg) / sg,
           0, 0, volume_ / (a * b * sg);
}

double UnitCell::cos_angle(const Vec3i& h1, const Vec3i& h2) const {
  const Eigen::Vector3d u(h1[0], h1[1], h1[2]), v(h2[0], h2[1], h2[2]);
  return u.dot(reciprocal_ * v) / std::sqrt(u.dot(reciprocal_ * u) * v.dot(reciprocal_ * v));
}

double UnitCell::distance(const Eigen::Vector3d& x1, const Eigen::Vector3d& x2) const {
  Eigen::Vector3d d = x2 - x1;
  for (int i = 0; i < 3; ++i) d[i] -= std::round(d[i]);
  // An image d + n shorter than `best` has |d_i + n_i| < best |a*_i| on every axis (the
  // fractional coordinate of a Cartesian r is a*_i . r), which leaves one or two n_i per axis.
  double best = (orth_ * d).norm();
  int lo[3], hi[3];
  for (int i = 0; i < 3; ++i) {
    const double w = best * std::sqrt(reciprocal_(i, i));
    lo[i] = int(std::ceil(-d[i] - w));
    hi[i] = int(std::floor(-d[i] + w));
  }
  for (int i = lo[0]; i <= hi[0]; ++i)
    for (int j = lo[1]; j <= hi[1]; ++j)
      for (int k = lo[2]; k <= hi[2]; ++k) best = std::min(best, (orth_ * (d + Eigen::Vector3d(i, j, k))).norm());
  return best;
}

}  // namespace xrdfast

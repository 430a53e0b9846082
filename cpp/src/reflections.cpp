#include "xrdfast/reflections.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <stdexcept>

namespace xrdfast {

std::vector<Reflection> reflection_families(const Crystal& crystal, double d_min) {
  if (!(d_min > 0)) throw std::invalid_argument("d_min must be positive");
  const UnitCell& cell = crystal.cell();
  const GroupOps& ops = crystal.symmetry();
  // |h| = |s . a| <= |s||a| = a / d, so the box h <= a/d_min holds the whole sphere
  const int hmax = int(cell.a / d_min), kmax = int(cell.b / d_min), lmax = int(cell.c / d_min);
  const double limit = 1.0 / (d_min * d_min);
  std::vector<Reflection> out;
  const Eigen::Matrix3d& g = cell.reciprocal_metric();
  for (int h = -hmax; h <= hmax; ++h)
    for (int k = -kmax; k <= kmax; ++k) {
      // 1/d^2 = A l^2 + B l + C: visit only the l inside the sphere
      const double a = g(2, 2), b = 2 * (h * g(0, 2) + k * g(1, 2));
      const double c = h * h * g(0, 0) + k * k * g(1, 1) + 2 * h * k * g(0, 1) - limit;
      const double disc = b * b - 4 * a * c;
      if (disc < 0) continue;
      const double root = std::sqrt(disc);
      const int l_lo = std::max(-lmax, int(std::ceil((-b - root) / (2 * a)))), l_hi = std::min(lmax, int(std::floor((-b + root) / (2 * a))));
      for (int l = l_lo; l <= l_hi; ++l) {
        const Vec3i hkl{h, k, l};
        if ((h == 0 && k == 0 && l == 0) || !ops.is_canonical(hkl) || ops.is_absent(hkl)) continue;
        const double q2 = cell.inv_d2(hkl);
        if (q2 > limit) continue;  // rounding at the sphere's surface
        out.push_back(Reflection{hkl, 1.0 / std::sqrt(q2), ops.multiplicity(hkl)});
      }
    }
  std::sort(out.begin(), out.end(), [](const Reflection& a, const Reflection& b) {
    return a.d != b.d ? a.d > b.d : a.hkl > b.hkl;
  });
  return out;
}

void compute_structure_factors(const Crystal& crystal, const ScatteringModel& model, std::vector<Reflection>& families) {
  const auto& atoms = crystal.atoms();
  // Scattering amplitude of each distinct scatterer, evaluated once per reflection.
  std::vector<int> kinds;
  for (const Atom& a : atoms)
    if (std::find(kinds.begin(), kinds.end(), a.scatterer) == kinds.end()) kinds.push_back(a.scatterer);
  std::vector<int> kind_of(atoms.size());
  for (size_t j = 0; j < atoms.size(); ++j)
    kind_of[j] = int(std::find(kinds.begin(), kinds.end(), atoms[j].scatterer) - kinds.begin());
  std::vector<std::complex<double>> dispersion(kinds.size(), 0.0);
  std::vector<double> neutron(kinds.size(), 0.0);
  for (size_t t = 0; t < kinds.size(); ++t) {
    const int z = atomic_number(kinds[t]);
    if (model.radiation == Radiation::Neutron) neutron[t] = neutron_scattering_length(z);
    else if (model.anomalous) {
      const auto [fp, fpp] = anomalous_dispersion(z, model.anode);
      dispersion[t] = {fp, fpp};
    }
  }
  std::vector<std::complex<double>> amplitude(kinds.size());
  for (Reflection& r : families) {
    const double s = 0.5 / r.d, s2 = s * s;  // sin(theta)/lambda
    for (size_t t = 0; t < kinds.size(); ++t)
      amplitude[t] = model.radiation == Radiation::Neutron ? std::complex<double>(neutron[t])
                                                           : xray_form_factor(kinds[t], s) + dispersion[t];
    std::complex<double> f_plus = 0, f_minus = 0;  // F(h), F(-h)
    for (size_t j = 0; j < atoms.size(); ++j) {
      const Atom& a = atoms[j];
      const double phase = 2 * M_PI * (r.hkl[0] * a.frac[0] + r.hkl[1] * a.frac[1] + r.hkl[2] * a.frac[2]);
      const std::complex<double> f = amplitude[kind_of[j]] * (a.occupancy * std::exp(-a.b_iso * s2));
      const std::complex<double> e(std::cos(phase), std::sin(phase));
      f_plus += f * e;
      f_minus += f * std::conj(e);
    }
    r.f2 = 0.5 * (std::norm(f_plus) + std::norm(f_minus));
  }
}

void apply_march_dollase(const Crystal& crystal, double r, const Vec3i& axis, std::vector<Reflection>& families) {
  if (!(r > 0) || !std::isfinite(r)) throw std::invalid_argument("March-Dollase r must be positive and finite");
  if (axis == Vec3i{0, 0, 0}) throw std::invalid_argument("preferred-orientation axis must be a nonzero hkl");
  if (r == 1.0) {
    for (Reflection& f : families) f.texture = 1;
    return;
  }
  const auto& laue = crystal.symmetry().laue_rotations();
  for (Reflection& f : families) {
    // every distinct member of the family, each with its own angle to the axis
    Vec3i members[96];
    int n = 0;
    for (const Mat3i& rot : laue) {
      Vec3i g{};
      for (int j = 0; j < 3; ++j) g[j] = f.hkl[0] * rot[0][j] + f.hkl[1] * rot[1][j] + f.hkl[2] * rot[2][j];
      if (std::find(members, members + n, g) == members + n) members[n++] = g;
    }
    double sum = 0;
    for (int m = 0; m < n; ++m) {
      const double c = crystal.cell().cos_angle(members[m], axis);
      sum += std::pow(r * r * c * c + (1 - c * c) / r, -1.5);
    }
    f.texture = sum / n;
  }
}

}  // namespace xrdfast

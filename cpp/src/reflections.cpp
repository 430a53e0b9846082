#include "xrdfast/reflections.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <stdexcept>
#include <string>

#include "xrdfast/interrupt.hpp"
#include "xrdfast/text.hpp"

namespace xrdfast {

std::vector<Reflection> reflection_families(const Crystal& crystal, double d_min) {
  if (!(d_min > 0)) throw std::invalid_argument("d_min must be positive");
  const UnitCell& cell = crystal.cell();
  const GroupOps& ops = crystal.symmetry();
  // the sphere of radius 1/d_min holds (4 pi / 3) V / d_min^3 lattice points
  const double n_points = 4.0 * M_PI / 3.0 * cell.volume() / (d_min * d_min * d_min);
  if (!(n_points <= kMaxReflections)) {
    throw std::invalid_argument("crystal '" + crystal.name() + "': a " + number_text(cell.volume(), 3) +
                                " Å^3 cell to d = " + number_text(d_min, 3) + " Å has ~" + number_text(n_points, 3) +
                                " reflections, more than the " + number_text(kMaxReflections, 3) +
                                " xrdfast computes; narrow the 2theta range or use a longer wavelength");
  }
  // |h| = |s . a| <= |s||a| = a / d, so the box h <= a/d_min holds the whole sphere
  const int hmax = int(cell.a / d_min), kmax = int(cell.b / d_min), lmax = int(cell.c / d_min);
  const double limit = 1.0 / (d_min * d_min);
  std::vector<Reflection> out;
  const Eigen::Matrix3d& g = cell.reciprocal_metric();
  // Every Laue group holds -1, so canonical (lexicographically largest) indices have h >= 0;
  // a mirror diag(1,-1,.) or diag(1,1,-1) in it makes k >= 0 or l >= 0 as well.
  const auto& laue = ops.laue_rotations();
  bool k_nonneg = false, l_nonneg = false;
  for (const Mat3i& r : laue) {
    if (r[0][1] || r[0][2] || r[1][0] || r[1][2] || r[2][0] || r[2][1] || r[0][0] != 1) continue;
    k_nonneg = k_nonneg || r[1][1] == -1;
    l_nonneg = l_nonneg || (r[1][1] == 1 && r[2][2] == -1);
  }
  for (int h = 0; h <= hmax; ++h)
    for (int k = (h == 0 || k_nonneg) ? 0 : -kmax; k <= kmax; ++k) {
      poll_interrupt();
      // 1/d^2 = A l^2 + B l + C: visit only the l inside the sphere
      const double a = g(2, 2), b = 2 * (h * g(0, 2) + k * g(1, 2));
      const double c = h * h * g(0, 0) + k * k * g(1, 1) + 2 * h * k * g(0, 1) - limit;
      const double disc = b * b - 4 * a * c;
      if (disc < 0) continue;
      const double root = std::sqrt(disc);
      int l_lo = std::max(-lmax, int(std::ceil((-b - root) / (2 * a))));
      const int l_hi = std::min(lmax, int(std::floor((-b + root) / (2 * a))));
      if (h == 0 && k == 0) l_lo = std::max(l_lo, 1);
      if (l_nonneg) l_lo = std::max(l_lo, 0);
      for (int l = l_lo; l <= l_hi; ++l) {
        const Vec3i hkl{h, k, l};
        if (!ops.is_canonical(hkl) || ops.is_absent(hkl)) continue;
        const double q2 = cell.inv_d2(hkl);
        if (q2 > limit) continue;  // rounding at the sphere's surface
        // orbit size = |Laue group| / |stabiliser of hkl|
        int fixed = 0;
        for (const Mat3i& r : laue)
          fixed += (h * r[0][0] + k * r[1][0] + l * r[2][0] == h) && (h * r[0][1] + k * r[1][1] + l * r[2][1] == k) &&
                   (h * r[0][2] + k * r[1][2] + l * r[2][2] == l);
        out.push_back(Reflection{hkl, 1.0 / std::sqrt(q2), int(laue.size()) / fixed});
      }
    }
  std::sort(out.begin(), out.end(), [](const Reflection& a, const Reflection& b) {
    return a.d != b.d ? a.d > b.d : a.hkl > b.hkl;
  });
  return out;
}

std::vector<ScatteringGroup> scattering_groups(const Crystal& crystal, const ScatteringModel& model,
                                               std::vector<int>& group_of) {
  const auto& atoms = crystal.atoms();
  std::vector<ScatteringGroup> groups;
  group_of.assign(atoms.size(), 0);
  for (size_t j = 0; j < atoms.size(); ++j) {
    size_t g = 0;
    while (g < groups.size() && !(groups[g].scatterer == atoms[j].scatterer && groups[g].b_iso == atoms[j].b_iso)) ++g;
    if (g == groups.size()) {
      ScatteringGroup grp{atoms[j].scatterer, atoms[j].b_iso};
      const int z = atomic_number(grp.scatterer);
      if (model.radiation == Radiation::Neutron) grp.neutron = neutron_scattering_length(z);
      else if (model.anomalous) {
        const auto [fp, fpp] = anomalous_dispersion(z, model.anode);
        grp.fp = fp;
        grp.fpp = fpp;
      }
      groups.push_back(grp);
    }
    group_of[j] = int(g);
  }
  return groups;
}

void compute_structure_factors(const Crystal& crystal, const ScatteringModel& model, std::vector<Reflection>& families) {
  if (families.empty()) return;
  const auto& atoms = crystal.atoms();
  std::vector<int> group_of;
  const std::vector<ScatteringGroup> groups = scattering_groups(crystal, model, group_of);
  // exp(2 pi i h x) = (exp(2 pi i x))^h: per-atom tables along each axis replace a sincos
  // per atom and reflection by two complex products.
  int hmax = 0, kmax = 0, lmax = 0;
  for (const Reflection& r : families) {
    hmax = std::max(hmax, std::abs(r.hkl[0]));
    kmax = std::max(kmax, std::abs(r.hkl[1]));
    lmax = std::max(lmax, std::abs(r.hkl[2]));
  }
  const int nh = 2 * hmax + 1, nk = 2 * kmax + 1, nl = 2 * lmax + 1;
  std::vector<std::complex<double>> ex(atoms.size() * nh), ey(atoms.size() * nk), ez(atoms.size() * nl);
  auto fill = [](std::complex<double>* row, int m, double x) {  // one sincos, then products
    const std::complex<double> e = std::polar(1.0, 2 * M_PI * x);
    row[m] = 1;
    for (int i = 1; i <= m; ++i) {
      row[m + i] = row[m + i - 1] * e;
      row[m - i] = std::conj(row[m + i]);
    }
  };
  for (size_t j = 0; j < atoms.size(); ++j) {
    fill(&ex[j * nh], hmax, atoms[j].frac[0]);
    fill(&ey[j * nk], kmax, atoms[j].frac[1]);
    fill(&ez[j * nl], lmax, atoms[j].frac[2]);
  }
  std::vector<std::complex<double>> sum(groups.size());
  for (Reflection& r : families) {
    poll_interrupt();  // a 10,000-atom cell spends seconds here
    const double s = 0.5 / r.d, s2 = s * s;  // sin(theta)/lambda
    std::fill(sum.begin(), sum.end(), 0.0);
    const int ih = r.hkl[0] + hmax, ik = r.hkl[1] + kmax, il = r.hkl[2] + lmax;
    for (size_t j = 0; j < atoms.size(); ++j)
      sum[group_of[j]] += atoms[j].occupancy * (ex[j * nh + ih] * ey[j * nk + ik] * ez[j * nl + il]);
    std::complex<double> f_plus = 0, f_minus = 0;  // F(h), F(-h)
    for (size_t g = 0; g < groups.size(); ++g) {
      const std::complex<double> f =
          (model.radiation == Radiation::Neutron ? std::complex<double>(groups[g].neutron)
                                                 : xray_form_factor(groups[g].scatterer, s) + std::complex<double>(groups[g].fp, groups[g].fpp)) *
          std::exp(-groups[g].b_iso * s2);
      f_plus += f * sum[g];
      f_minus += f * std::conj(sum[g]);
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

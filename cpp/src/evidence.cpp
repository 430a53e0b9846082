#include "xrdfast/evidence.hpp"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "xrdfast/extinction.hpp"
#include "xrdfast/profile.hpp"
#include "xrdfast/text.hpp"

namespace xrdfast {

namespace {

constexpr double kGaussReachFwhm = 5.0;     // a Gaussian holds all but 1e-15 within 5 FWHM
constexpr double kLorentzReachFwhm = 25.0;  // 97.5 % of a Lorentzian; the cut tails are rescaled in
constexpr double kRidge = 1e-9;             // relative ridge on the normal matrix: near-collinear composites
constexpr int kWilsonWindow = 8;            // composites either side in the local Wilson plot
constexpr int kMinComposites = 12;          // the density cut never leaves fewer
constexpr double kMaxMetricStep = 5e-4;     // relative change of G* per refinement step: indexing's error, not more

double lorentz_polarisation(double theta, double monochromator_two_theta) {
  const double c2m = std::cos(monochromator_two_theta * kDegree), c2 = std::cos(2 * theta), s = std::sin(theta);
  return (1 + c2m * c2m * c2 * c2) / (s * s * std::cos(theta) * (1 + c2m * c2m));
}

// log Phi(x), the log of the standard normal distribution, stable far into the left tail.
double log_normal_cdf(double x) {
  if (x > -30) return std::log(0.5 * std::erfc(-x / std::sqrt(2.0)));
  return -0.5 * x * x - std::log(-x) - 0.5 * std::log(2 * M_PI);
}

// A reflection's profile on the grid: K-alpha1 and K-alpha2 pseudo-Voigts, unit K-alpha1 area.
struct Column {
  int first = 0;
  std::vector<double> v;
  int end() const { return first + static_cast<int>(v.size()); }
};

Column profile_column(const std::vector<double>& grid, const Composite& composite, const Instrument& ins,
                      double shift = 0, double fwhm_scale = 1, const Column* range = nullptr) {
  Composite c = composite;
  c.two_theta += shift;
  c.fwhm *= fwhm_scale;
  struct Component { double centre, area; };
  Component comps[2] = {{c.two_theta, 1.0}, {0, 0}};
  int n_comp = 1;
  if (ins.wavelength2 > 0 && ins.ka2_ratio > 0) {
    const double tt2 = ins.observed_two_theta(c.d, ins.wavelength2);
    if (std::isfinite(tt2)) {
      const double th1 = std::asin(ins.wavelength / (2 * c.d)), th2 = std::asin(ins.wavelength2 / (2 * c.d));
      const double lp_ratio = lorentz_polarisation(th2, ins.monochromator_two_theta) /
                              lorentz_polarisation(th1, ins.monochromator_two_theta);
      comps[1] = {tt2 + (c.two_theta - ins.observed_two_theta(c.d, ins.wavelength)), ins.ka2_ratio * lp_ratio};
      n_comp = 2;
    }
  }
  const double reach = (c.eta > 0 ? kLorentzReachFwhm : kGaussReachFwhm) * c.fwhm;
  const double lo = comps[0].centre - reach, hi = comps[n_comp - 1].centre + reach;
  Column col;
  col.first = range ? range->first : static_cast<int>(std::lower_bound(grid.begin(), grid.end(), lo) - grid.begin());
  const int last = range ? range->end() : static_cast<int>(std::upper_bound(grid.begin(), grid.end(), hi) - grid.begin());
  if (last <= col.first) return col;
  col.v.assign(size_t(last - col.first), 0.0);
  const double l_scale = c.eta > 0 ? c.eta / lorentzian_kept_fraction(reach, c.fwhm) : 0.0;
  for (int i = col.first; i < last; ++i) {
    double s = 0;
    for (int k = 0; k < n_comp; ++k) {
      const double dx = grid[size_t(i)] - comps[k].centre;
      if (std::abs(dx) > reach) continue;
      double v = l_scale * lorentzian(dx, c.fwhm);
      if (std::abs(dx) <= kGaussReachFwhm * c.fwhm) v += (1 - c.eta) * gaussian(dx, c.fwhm);
      s += comps[k].area * v;
    }
    col.v[size_t(i - col.first)] = s;
  }
  // The data sample the profile density (per degree 2theta), as the simulator draws it, so
  // intensities come out as areas in intensity x degrees.
  return col;
}

double weighted_dot(const Column& a, const Column& b, const std::vector<double>& w) {
  const int lo = std::max(a.first, b.first), hi = std::min(a.end(), b.end());
  double s = 0;
  for (int i = lo; i < hi; ++i) s += a.v[size_t(i - a.first)] * b.v[size_t(i - b.first)] * w[size_t(i)];
  return s;
}

// The normal matrix of the profile fit, sparse by rows (reflections couple only where their
// profiles overlap), and the right-hand side.
struct NormalEquations {
  std::vector<std::vector<std::pair<int, double>>> rows;  // [n] (k, N_jk), k != j
  std::vector<double> diag, rhs;
  double at(int j, int k) const {
    if (j == k) return diag[size_t(j)];
    for (const auto& [kk, v] : rows[size_t(j)])
      if (kk == k) return v;
    return 0.0;
  }
};

NormalEquations normal_equations(const std::vector<Column>& cols, const std::vector<double>& w,
                                 const std::vector<double>& target) {
  const int n = static_cast<int>(cols.size());
  NormalEquations ne;
  ne.rows.assign(size_t(n), {});
  ne.diag.assign(size_t(n), 0.0);
  ne.rhs.assign(size_t(n), 0.0);
  for (int j = 0; j < n; ++j) {
    const Column& a = cols[size_t(j)];
    ne.diag[size_t(j)] = weighted_dot(a, a, w);
    double r = 0;
    for (int i = a.first; i < a.end(); ++i) r += a.v[size_t(i - a.first)] * w[size_t(i)] * target[size_t(i)];
    ne.rhs[size_t(j)] = r;
    for (int k = j + 1; k < n; ++k) {
      const Column& b = cols[size_t(k)];
      if (b.first >= a.end()) {
        // columns are sorted by centre; a wider later column may still start earlier, so
        // look a little further before giving up
        if (b.first >= a.end() + static_cast<int>(a.v.size())) break;
        continue;
      }
      const double v = weighted_dot(a, b, w);
      if (v != 0) {
        ne.rows[size_t(j)].push_back({k, v});
        ne.rows[size_t(k)].push_back({j, v});
      }
    }
  }
  return ne;
}

// Non-negative least squares on the normal equations by projected coordinate descent
// (Gauss-Seidel with a floor at zero): converges for a positive-definite N, quickly when
// composites closer than a fraction of the FWHM have been merged.
std::vector<double> nnls(const NormalEquations& ne, int sweeps = 400) {
  const size_t n = ne.diag.size();
  std::vector<double> x(n, 0.0), g(n);  // g = N x - b
  for (size_t j = 0; j < n; ++j) g[j] = -ne.rhs[j];
  for (int s = 0; s < sweeps; ++s) {
    double change = 0, scale = 0;
    for (size_t j = 0; j < n; ++j) {
      if (ne.diag[j] <= 0) continue;
      const double x_new = std::max(0.0, x[j] - g[j] / ne.diag[j]);
      const double dx = x_new - x[j];
      if (dx == 0) continue;
      x[j] = x_new;
      g[j] += ne.diag[j] * dx;
      for (const auto& [k, v] : ne.rows[j]) g[size_t(k)] += v * dx;
      change = std::max(change, std::abs(dx) * std::sqrt(ne.diag[j]));
    }
    for (size_t j = 0; j < n; ++j) scale = std::max(scale, std::abs(x[j]) * std::sqrt(std::max(ne.diag[j], 0.0)));
    if (change <= 1e-6 * std::max(scale, 1.0)) break;
  }
  return x;
}

// Chebyshev polynomials T_0..T_{n-1} at x in [-1, 1].
void chebyshev(double x, int n, double* t) {
  if (n > 0) t[0] = 1;
  if (n > 1) t[1] = x;
  for (int k = 2; k < n; ++k) t[k] = 2 * x * t[k - 1] - t[k - 2];
}

struct Block { int begin, end; };

// Blocks of composites whose normal-matrix correlation never reaches `cut` across a boundary.
std::vector<Block> blocks_of(const NormalEquations& ne, double cut) {
  const int n = static_cast<int>(ne.diag.size());
  std::vector<Block> out;
  int begin = 0, reach = 0;
  for (int j = 0; j < n; ++j) {
    for (const auto& [k, v] : ne.rows[size_t(j)])
      if (k > j && std::abs(v) > cut * std::sqrt(ne.diag[size_t(j)] * ne.diag[size_t(k)])) reach = std::max(reach, k);
    if (reach <= j) {
      out.push_back({begin, j + 1});
      begin = j + 1;
      reach = j + 1;
    }
  }
  return out;
}

// N restricted to a block, dense.
Eigen::MatrixXd dense_block(const NormalEquations& ne, int begin, int end) {
  const int m = end - begin;
  Eigen::MatrixXd a = Eigen::MatrixXd::Zero(m, m);
  for (int p = 0; p < m; ++p) {
    a(p, p) = ne.diag[size_t(begin + p)];
    for (const auto& [k, v] : ne.rows[size_t(begin + p)])
      if (k >= begin && k < end) a(p, k - begin) = v;
  }
  return a;
}

// The measured intensities of one block as the likelihood sees them: precision Q and
// right-hand side Q I_hat, where I_hat is the unconstrained least-squares extraction with
// covariance C = N^-1, widened by an intensity error proportional to the Wilson mean
// (profile-shape and tail mismatch, impurity lines): Q = (C + D)^-1.
struct BlockData {
  int begin = 0;
  Eigen::MatrixXd q;
  Eigen::VectorXd rhs;
};

Eigen::LLT<Eigen::MatrixXd> robust_llt(Eigen::MatrixXd a) {
  const Eigen::VectorXd d = a.diagonal();
  for (double ridge = kRidge;; ridge *= 100) {
    Eigen::MatrixXd r = a;
    for (int p = 0; p < r.rows(); ++p) r(p, p) = d(p) * (1 + ridge) + (d(p) == 0 ? 1e-300 : 0);
    Eigen::LLT<Eigen::MatrixXd> llt(r);
    if (llt.info() == Eigen::Success || ridge > 1) return llt;
  }
}

// log of the integral over I_P >= 0 of exp(I.r - I.Q.I/2) prod_j lambda_j exp(-lambda_j I_j),
// for the composites of one block with allowed fractions f (the forbidden ones held at zero).
double block_log_likelihood(const BlockData& blk, const std::vector<float>& allowed,
                            const std::vector<double>& wilson_mean) {
  const int m = static_cast<int>(blk.q.rows());
  return gaussian_wilson_log_likelihood(blk.q, blk.rhs,
                                        std::vector<float>(allowed.begin() + blk.begin, allowed.begin() + blk.begin + m),
                                        std::vector<double>(wilson_mean.begin() + blk.begin, wilson_mean.begin() + blk.begin + m));
}

}  // namespace

double gaussian_wilson_log_likelihood(const Eigen::MatrixXd& q, const Eigen::VectorXd& rhs,
                                      const std::vector<float>& allowed, const std::vector<double>& wilson_mean) {
  if (q.rows() != q.cols() || rhs.size() != q.rows() || allowed.size() != size_t(q.rows()) ||
      wilson_mean.size() != size_t(q.rows()))
    throw std::invalid_argument("gaussian_wilson_log_likelihood: q (m, m), rhs, allowed and wilson_mean (m,) must agree");
  std::vector<int> idx;
  for (int p = 0; p < q.rows(); ++p)
    if (allowed[size_t(p)] > 0) idx.push_back(p);
  if (idx.empty()) return 0.0;
  const int m = static_cast<int>(idx.size());
  Eigen::VectorXd c(m), lambda(m);
  Eigen::MatrixXd a(m, m);
  for (int p = 0; p < m; ++p) {
    const int j = idx[size_t(p)];
    lambda(p) = 1.0 / (allowed[size_t(j)] * wilson_mean[size_t(j)]);
    c(p) = rhs(idx[size_t(p)]) - lambda(p);
    for (int r = 0; r < m; ++r) a(p, r) = q(idx[size_t(p)], idx[size_t(r)]);
  }
  const auto llt = robust_llt(a);
  const Eigen::MatrixXd l = llt.matrixL();
  const Eigen::VectorXd mean = llt.solve(c);
  const Eigen::MatrixXd l_inv = l.triangularView<Eigen::Lower>().solve(Eigen::MatrixXd::Identity(m, m));
  double log_det = 0;
  for (int p = 0; p < m; ++p) log_det += 2 * std::log(l(p, p));
  double out = 0.5 * c.dot(mean) + 0.5 * m * std::log(2 * M_PI) - 0.5 * log_det;
  for (int p = 0; p < m; ++p) {
    const double var = l_inv.col(p).squaredNorm();
    out += std::log(lambda(p)) + log_normal_cdf(mean(p) / std::sqrt(var));
  }
  return out;
}

namespace {

std::uint64_t hash_slice(const std::vector<float>& f, const Block& b) {
  std::uint64_t h = 1469598103934665603ULL;
  for (int j = b.begin; j < b.end; ++j) {
    h ^= static_cast<std::uint64_t>(std::lround(f[size_t(j)] * 1e4)) + 0x9e3779b97f4a7c15ULL;
    h *= 1099511628211ULL;
  }
  return h;
}

bool metric_kept(const SpaceGroup& sg, const Eigen::Matrix3d& g, double tol) {
  const double scale = g.diagonal().maxCoeff();
  for (const Mat3i& r : sg.rotations()) {
    Eigen::Matrix3d m;
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) m(i, j) = r[size_t(i)][size_t(j)];
    if ((m.transpose() * g * m - g).cwiseAbs().maxCoeff() > tol * scale) return false;
  }
  return true;
}

// Directions in which the reciprocal metric G* may move without leaving its lattice system
// (ITA Vol. A, Table 2.1.2.1 in reciprocal form); hexagonal axes are told from
// rhombohedral ones by gamma.
std::vector<Eigen::Matrix3d> metric_directions(LatticeSystem system, const UnitCell& cell) {
  auto m = [](std::initializer_list<double> v) {
    Eigen::Matrix3d a;
    auto it = v.begin();
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) a(i, j) = *it++;
    return a;
  };
  const bool hex_axes = std::abs(cell.gamma - 120) < 0.5 && std::abs(cell.alpha - 90) < 0.5;
  switch (system) {
    case LatticeSystem::Cubic: return {Eigen::Matrix3d::Identity()};
    case LatticeSystem::Tetragonal: return {m({1, 0, 0, 0, 1, 0, 0, 0, 0}), m({0, 0, 0, 0, 0, 0, 0, 0, 1})};
    case LatticeSystem::Hexagonal:
    case LatticeSystem::Rhombohedral:
      if (hex_axes) return {m({1, 0.5, 0, 0.5, 1, 0, 0, 0, 0}), m({0, 0, 0, 0, 0, 0, 0, 0, 1})};
      return {Eigen::Matrix3d::Identity(), m({0, 1, 1, 1, 0, 1, 1, 1, 0})};
    case LatticeSystem::Orthorhombic:
      return {m({1, 0, 0, 0, 0, 0, 0, 0, 0}), m({0, 0, 0, 0, 1, 0, 0, 0, 0}), m({0, 0, 0, 0, 0, 0, 0, 0, 1})};
    default: break;
  }
  // monoclinic and triclinic: the diagonal and every off-diagonal term the cell has
  std::vector<Eigen::Matrix3d> out = {m({1, 0, 0, 0, 0, 0, 0, 0, 0}), m({0, 0, 0, 0, 1, 0, 0, 0, 0}),
                                      m({0, 0, 0, 0, 0, 0, 0, 0, 1})};
  const Eigen::Matrix3d& g = cell.reciprocal_metric();
  for (auto [i, j] : {std::pair{0, 1}, {0, 2}, {1, 2}})
    if (system == LatticeSystem::Triclinic || std::abs(g(i, j)) > 1e-6 * std::sqrt(g(i, i) * g(j, j))) {
      Eigen::Matrix3d e = Eigen::Matrix3d::Zero();
      e(i, j) = e(j, i) = 1;
      out.push_back(e);
    }
  return out;
}

double mean_q(const Composite& c, const Eigen::Matrix3d& gstar) {
  double q = 0;
  for (const Vec3i& h : c.hkl) {
    const Eigen::Vector3d v(h[0], h[1], h[2]);
    q += v.dot(gstar * v);
  }
  return q / double(c.hkl.size());
}

}  // namespace

double Instrument::observed_two_theta(double d, double wavelength_used) const {
  const double s = wavelength_used / (2 * d);
  if (s >= 1) return std::numeric_limits<double>::quiet_NaN();
  const double theta = std::asin(s);
  return 2 * theta / kDegree + zero_shift - 2.0 * sample_displacement * std::cos(theta) / goniometer_radius / kDegree;
}

void Instrument::widths(double d, double* fwhm, double* eta_out) const {
  const double theta = std::asin(std::min(wavelength / (2 * d), 1.0));
  double hg, hl;
  component_widths(theta, U, V, W, X, Y, wavelength, crystallite_size, microstrain, scherrer_k, &hg, &hl);
  PeakWidth w = hl == 0 ? PeakWidth{hg, 0.0} : tch_width(hg, hl);
  if (eta >= 0) w.eta = eta;
  if (!(w.fwhm > 0)) throw std::invalid_argument("instrument widths: the FWHM at 2theta " +
                                                 number_text(2 * theta / kDegree) +
                                                 " is not positive; give a positive Caglioti W (deg^2)");
  *fwhm = w.fwhm;
  *eta_out = std::clamp(w.eta, 0.0, 1.0);
}

bool absent_in(const SpaceGroup& sg, const Vec3i& hkl, bool reverse) {
  return sg.is_absent(reverse ? Vec3i{-hkl[0], -hkl[1], hkl[2]} : hkl);
}

LatticeSystem lattice_system_from_pearson(const std::string& pearson) {
  if (pearson.size() == 2) {
    switch (pearson[0]) {
      case 'a': return LatticeSystem::Triclinic;
      case 'm': return LatticeSystem::Monoclinic;
      case 'o': return LatticeSystem::Orthorhombic;
      case 't': return LatticeSystem::Tetragonal;
      case 'h': return pearson[1] == 'R' ? LatticeSystem::Rhombohedral : LatticeSystem::Hexagonal;
      case 'c': return LatticeSystem::Cubic;
      default: break;
    }
  }
  throw std::invalid_argument("lattice '" + pearson + "': expected a Pearson symbol such as aP, mP, mC, oP, oC, oI, oF, "
                              "tP, tI, hP, hR, cP, cI or cF");
}

std::vector<CompatibleSetting> compatible_settings(const UnitCell& cell, LatticeSystem system, double tol) {
  // Hexagonal and rhombohedral lattices share the hexagonal metric; an indexed hP cell may hide
  // an R centring that only the absences reveal, so both families are candidates for either.
  auto wanted = [&](LatticeSystem s) {
    if (system == LatticeSystem::Hexagonal || system == LatticeSystem::Rhombohedral)
      return s == LatticeSystem::Hexagonal || s == LatticeSystem::Rhombohedral;
    return s == system;
  };
  std::vector<CompatibleSetting> out;
  for (const ExtinctionGroup& eg : ExtinctionGroup::all()) {
    if (!wanted(eg.lattice_system)) continue;
    for (int number : eg.space_groups)
      for (const SpaceGroup* sg : SpaceGroup::settings(number)) {
        if (!metric_kept(*sg, cell.metric(), tol)) continue;
        out.push_back({eg.number, sg->hall_number(), false});
        if (eg.lattice_system == LatticeSystem::Rhombohedral && std::string(sg->choice()) == "H")
          out.push_back({eg.number, sg->hall_number(), true});
      }
  }
  return out;
}

EvidenceResult extinction_evidence(const std::vector<double>& grid, const std::vector<double>& y,
                                   const std::vector<double>& background, const UnitCell& cell, LatticeSystem system,
                                   const Instrument& ins, const EvidenceOptions& opt) {
  const size_t n_pts = grid.size();
  if (n_pts < 10) throw std::invalid_argument("two_theta: need at least 10 points");
  if (y.size() != n_pts || background.size() != n_pts)
    throw std::invalid_argument("intensity and background must have one value per 2theta point (" +
                                std::to_string(n_pts) + ")");
  for (size_t i = 1; i < n_pts; ++i)
    if (!(grid[i] > grid[i - 1])) throw std::invalid_argument("two_theta must be strictly increasing");
  for (size_t i = 0; i < n_pts; ++i)
    if (!std::isfinite(y[i]) || !std::isfinite(background[i]))
      throw std::invalid_argument("intensity and background must be finite (index " + std::to_string(i) + ")");
  if (!(ins.wavelength > 0)) throw std::invalid_argument("wavelength must be positive (Å)");

  EvidenceResult res;
  // --- reflections of the lattice, one per Friedel pair, within the measured range -------------
  const double tt_lo = grid.front(), tt_hi = grid.back();
  const double s_hi = std::sin(std::min(tt_hi + 1.0 - ins.zero_shift, 179.0) * kDegree / 2);
  const double d_min = ins.wavelength / (2 * s_hi);
  const int hmax = int(cell.a / d_min), kmax = int(cell.b / d_min), lmax = int(cell.c / d_min);
  struct Refl { Vec3i hkl; double d, tt, fwhm, eta; };
  std::vector<Refl> refl;
  for (int h = 0; h <= hmax; ++h)
    for (int k = (h == 0 ? 0 : -kmax); k <= kmax; ++k)
      for (int l = (h == 0 && k == 0 ? 1 : -lmax); l <= lmax; ++l) {
        const Vec3i hkl{h, k, l};
        const double q = cell.inv_d2(hkl);
        if (q > 1 / (d_min * d_min)) continue;
        const double d = 1 / std::sqrt(q);
        const double tt = ins.observed_two_theta(d, ins.wavelength);
        if (!std::isfinite(tt)) continue;
        double fwhm, eta;
        ins.widths(d, &fwhm, &eta);
        if (tt < tt_lo - fwhm || tt > tt_hi) continue;
        refl.push_back({hkl, d, tt, fwhm, eta});
      }
  std::sort(refl.begin(), refl.end(), [](const Refl& a, const Refl& b) { return a.tt < b.tt; });
  std::vector<Composite> comps;
  for (const Refl& r : refl) {
    if (!comps.empty() && r.tt - comps.back().two_theta < opt.merge_fwhm * r.fwhm) {
      comps.back().hkl.push_back(r.hkl);
      continue;
    }
    comps.push_back({r.d, r.tt, r.fwhm, r.eta, {r.hkl}});
  }
  // Where composites crowd closer than the resolution, absences stop being readable: cut there.
  size_t keep = comps.size();
  for (size_t j = 0; j + 10 < comps.size(); ++j) {
    const double span = (comps[j + 10].two_theta - comps[j].two_theta) / comps[j].fwhm;
    if (j >= size_t(kMinComposites) && 10.0 / std::max(span, 1e-9) > opt.max_density) { keep = j; break; }
  }
  keep = std::min(keep, size_t(std::max(opt.max_composites, kMinComposites)));
  double tt_end = tt_hi;
  if (keep < comps.size()) {
    tt_end = comps[keep].two_theta - comps[keep].fwhm;
    while (keep > 0 && comps[keep - 1].two_theta > tt_end - 0.3 * comps[keep - 1].fwhm) --keep;
    comps.resize(keep);
  }
  if (comps.empty()) throw std::invalid_argument("no reflection of this cell falls in the measured 2theta range");
  res.two_theta_max = tt_end;
  const int n = static_cast<int>(comps.size());

  // --- extraction: profile columns, weights, background correction, non-negative fit -----------
  // Geometry the extraction refines: zero shift, displacement, the reciprocal metric within
  // its lattice system, and one scale on every width (Pawley 1981: the cell is refined with
  // the intensities; here by Gauss-Newton steps between the non-negative extractions).
  Instrument geo = ins;
  Eigen::Matrix3d gstar = cell.reciprocal_metric();
  double width_scale = 1.0;
  const std::vector<Eigen::Matrix3d> directions = metric_directions(system, cell);
  auto place = [&](Composite& c) {
    c.d = 1 / std::sqrt(mean_q(c, gstar));
    c.two_theta = geo.observed_two_theta(c.d, geo.wavelength);
    geo.widths(c.d, &c.fwhm, &c.eta);
    c.fwhm *= width_scale;
  };
  std::vector<Column> cols;
  auto build_columns = [&] {
    std::stable_sort(comps.begin(), comps.end(), [](const Composite& a, const Composite& b) { return a.two_theta < b.two_theta; });
    cols.clear();
    for (const Composite& c : comps) cols.push_back(profile_column(grid, c, geo));
  };
  build_columns();
  const size_t i_end = size_t(std::upper_bound(grid.begin(), grid.end(), tt_end) - grid.begin());
  double y_max = 0;
  for (size_t i = 0; i < i_end; ++i) y_max = std::max(y_max, y[i] - background[i]);
  if (!(y_max > 0)) throw std::invalid_argument("the pattern has no intensity above the background");
  std::vector<double> bg = background, fit(n_pts, 0.0), var(n_pts), w(n_pts, 0.0), target(n_pts);
  for (size_t i = 0; i < n_pts; ++i) var[i] = std::max(y[i], 0.0) + 1e-3 * y_max;  // Poisson-shaped start
  std::vector<double> x;
  NormalEquations ne;
  const int n_bg = std::max(opt.background_terms, 0);
  bool refining = opt.refine;
  auto refine_step = [&] {
    const int n_dir = static_cast<int>(directions.size()), n_par = 3 + n_dir;
    Eigen::MatrixXd jac = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(i_end), n_par);
    int used = 0;
    for (int j = 0; j < n; ++j) {
      if (!(x[size_t(j)] > 0)) continue;
      const Composite& c = comps[size_t(j)];
      const Column& base = cols[size_t(j)];
      const double h = 0.05 * c.fwhm;
      const Column plus = profile_column(grid, c, geo, h, 1, &base), minus = profile_column(grid, c, geo, -h, 1, &base);
      const Column wide = profile_column(grid, c, geo, 0, 1.05, &base), narrow = profile_column(grid, c, geo, 0, 0.95, &base);
      const double q = mean_q(c, gstar), theta = std::asin(std::min(geo.wavelength * std::sqrt(q) / 2, 1.0));
      const double dtt_dq = geo.wavelength / (2 * std::sqrt(q) * std::cos(theta)) / kDegree;
      std::vector<double> dq(size_t(n_dir), 0.0);
      for (int k = 0; k < n_dir; ++k) {
        for (const Vec3i& hk : c.hkl) {
          const Eigen::Vector3d v(hk[0], hk[1], hk[2]);
          dq[size_t(k)] += v.dot(directions[size_t(k)] * v);
        }
        dq[size_t(k)] /= double(c.hkl.size());
      }
      ++used;
      for (int i = base.first; i < std::min<int>(base.end(), int(i_end)); ++i) {
        const size_t o = size_t(i - base.first);
        const double dpos = x[size_t(j)] * (plus.v[o] - minus.v[o]) / (2 * h);
        jac(i, 0) += dpos;
        jac(i, 1) += dpos * std::cos(theta);
        jac(i, 2) += x[size_t(j)] * (wide.v[o] - narrow.v[o]) / 0.1;
        for (int k = 0; k < n_dir; ++k) jac(i, 3 + k) += dpos * dtt_dq * dq[size_t(k)];
      }
    }
    if (used < n_par + 2) return;
    Eigen::MatrixXd a = Eigen::MatrixXd::Zero(n_par, n_par);
    Eigen::VectorXd b = Eigen::VectorXd::Zero(n_par);
    for (size_t i = 0; i < i_end; ++i) {
      const double r = y[i] - bg[i] - fit[i];
      const Eigen::RowVectorXd row = jac.row(static_cast<Eigen::Index>(i));
      a.noalias() += w[i] * row.transpose() * row;
      b.noalias() += w[i] * r * row.transpose();
    }
    for (int k = 0; k < n_par; ++k) a(k, k) = a(k, k) * 1.01 + 1e-300;  // Levenberg damping
    Eigen::VectorXd step = a.ldlt().solve(b);
    if (!step.allFinite()) return;
    step(0) = std::clamp(step(0), -0.03, 0.03);
    step(1) = std::clamp(step(1), -0.03, 0.03);
    step(2) = std::clamp(step(2), -0.2, 0.2);
    Eigen::Matrix3d dg = Eigen::Matrix3d::Zero();
    for (int k = 0; k < n_dir; ++k) dg += step(3 + k) * directions[size_t(k)];
    const double rel = dg.cwiseAbs().maxCoeff() / gstar.cwiseAbs().maxCoeff();
    if (rel > kMaxMetricStep) dg *= kMaxMetricStep / rel;
    // Take the step only if the extraction fits better with it (same weights and background).
    auto chi2_of = [&](const std::vector<double>& f) {
      double c2 = 0;
      for (size_t i = 0; i < i_end; ++i) c2 += w[i] * std::pow(y[i] - bg[i] - f[i], 2);
      return c2;
    };
    for (size_t i = 0; i < n_pts; ++i) target[i] = y[i] - bg[i];
    auto fitted = [&] {
      const std::vector<double> xs = nnls(normal_equations(cols, w, target));
      std::vector<double> f(n_pts, 0.0);
      for (int j = 0; j < n; ++j)
        for (int i = cols[size_t(j)].first; i < cols[size_t(j)].end(); ++i)
          f[size_t(i)] += xs[size_t(j)] * cols[size_t(j)].v[size_t(i - cols[size_t(j)].first)];
      return f;
    };
    const double before = chi2_of(fitted());
    const Instrument geo_old = geo;
    const Eigen::Matrix3d gstar_old = gstar;
    const double scale_old = width_scale;
    for (double frac : {1.0, 0.5, 0.25}) {  // a short line search along the Gauss-Newton step
      geo.zero_shift = geo_old.zero_shift + frac * step(0);
      geo.sample_displacement = geo_old.sample_displacement - frac * step(1) * kDegree * geo.goniometer_radius / 2;
      width_scale = scale_old * std::clamp(1 + frac * step(2), 0.5, 2.0);
      gstar = gstar_old + frac * dg;
      for (Composite& c : comps) place(c);
      build_columns();
      if (chi2_of(fitted()) < before) return;
    }
    geo = geo_old;
    gstar = gstar_old;
    width_scale = scale_old;
    for (Composite& c : comps) place(c);
    build_columns();
    refining = false;
  };
  // Weighted non-negative least squares of the intensities with the current weights and
  // background, and the profile they make.
  auto solve_intensities = [&] {
    for (size_t i = 0; i < n_pts; ++i) {
      w[i] = i < i_end ? 1.0 / var[i] : 0.0;
      target[i] = y[i] - bg[i];
    }
    ne = normal_equations(cols, w, target);
    x = nnls(ne);
    std::fill(fit.begin(), fit.end(), 0.0);
    for (int j = 0; j < n; ++j)
      for (int i = cols[size_t(j)].first; i < cols[size_t(j)].end(); ++i)
        fit[size_t(i)] += x[size_t(j)] * cols[size_t(j)].v[size_t(i - cols[size_t(j)].first)];
  };
  const int rounds = opt.refine ? 7 : 3;
  for (int round = 0; round < rounds; ++round) {
    if (round > 0 && round < rounds - 2 && refining) refine_step();
    solve_intensities();
    // Background: a smooth Chebyshev correction fitted to what the peaks leave.
    if (n_bg > 0 && i_end > size_t(4 * n_bg)) {
      Eigen::MatrixXd a = Eigen::MatrixXd::Zero(n_bg, n_bg);
      Eigen::VectorXd rhs = Eigen::VectorXd::Zero(n_bg);
      std::vector<double> t(static_cast<size_t>(n_bg), 0.0);
      const double x0 = grid.front(), x1 = grid[i_end - 1];
      for (size_t i = 0; i < i_end; ++i) {
        chebyshev(2 * (grid[i] - x0) / (x1 - x0) - 1, n_bg, t.data());
        const double r = y[i] - bg[i] - fit[i];
        for (int p = 0; p < n_bg; ++p) {
          rhs(p) += w[i] * t[size_t(p)] * r;
          for (int q = 0; q < n_bg; ++q) a(p, q) += w[i] * t[size_t(p)] * t[size_t(q)];
        }
      }
      const Eigen::VectorXd coef = a.ldlt().solve(rhs);
      for (size_t i = 0; i < i_end; ++i) {
        chebyshev(2 * (grid[i] - x0) / (x1 - x0) - 1, n_bg, t.data());
        for (int p = 0; p < n_bg; ++p) bg[i] += coef(p) * t[size_t(p)];
      }
    }
    // Noise: variance = alpha * (model) + beta, by least squares on the squared residuals,
    // plus the relative profile error the model cannot follow.
    double s11 = 0, s1m = 0, smm = 0, s1r = 0, smr = 0;
    for (size_t i = 0; i < i_end; ++i) {
      const double mdl = std::max(bg[i] + fit[i], 0.0), r = y[i] - bg[i] - fit[i];
      const double r2 = std::max(r * r - std::pow(opt.model_error * fit[i], 2), 0.0);
      s11 += 1; s1m += mdl; smm += mdl * mdl; s1r += r2; smr += mdl * r2;
    }
    const double det = s11 * smm - s1m * s1m;
    double alpha = det > 0 ? (s11 * smr - s1m * s1r) / det : 0, beta = det > 0 ? (smm * s1r - s1m * smr) / det : s1r / s11;
    if (alpha < 0) { alpha = 0; beta = s1r / s11; }
    beta = std::max(beta, 1e-8 * y_max * y_max);
    for (size_t i = 0; i < n_pts; ++i)
      var[i] = alpha * std::max(bg[i] + fit[i], 0.0) + beta + std::pow(opt.model_error * fit[i], 2);
  }
  // Final normal equations with the settled weights and background.
  solve_intensities();
  double chi2 = 0;
  for (size_t i = 0; i < i_end; ++i) chi2 += std::pow(y[i] - bg[i] - fit[i], 2) * w[i];
  res.chi2_reduced = chi2 / std::max<double>(double(i_end) - n - n_bg, 1.0);

  // --- uncertainties and correlations, block by block -------------------------------------------
  const std::vector<Block> blocks = blocks_of(ne, opt.coupling_cut);
  res.intensity = x;
  res.sigma.assign(size_t(n), 0.0);
  res.correlation_next.assign(size_t(n), 0.0);
  std::vector<Eigen::MatrixXd> covariances;
  std::vector<Eigen::VectorXd> unconstrained;
  for (const Block& b : blocks) {
    const int m = b.end - b.begin;
    const auto llt = robust_llt(dense_block(ne, b.begin, b.end));
    Eigen::MatrixXd cov = llt.solve(Eigen::MatrixXd::Identity(m, m));
    Eigen::VectorXd rhs(m);
    for (int p = 0; p < m; ++p) rhs(p) = ne.rhs[size_t(b.begin + p)];
    unconstrained.push_back(llt.solve(rhs));
    for (int p = 0; p < m; ++p) {
      res.sigma[size_t(b.begin + p)] = std::sqrt(std::max(cov(p, p), 0.0));
      if (p + 1 < m) res.correlation_next[size_t(b.begin + p)] = cov(p, p + 1) / std::sqrt(cov(p, p) * cov(p + 1, p + 1));
    }
    covariances.push_back(std::move(cov));
  }

  // --- Wilson means: a local Wilson plot of the extracted intensities --------------------------
  std::vector<double> weight(static_cast<size_t>(n), 0.0);  // multiplicity x Lorentz-polarisation
  for (int j = 0; j < n; ++j) {
    const double theta = std::asin(std::min(ins.wavelength / (2 * comps[size_t(j)].d), 1.0));
    weight[size_t(j)] = 2.0 * comps[size_t(j)].hkl.size() * lorentz_polarisation(theta, ins.monochromator_two_theta);
  }
  res.wilson_mean.assign(size_t(n), 0.0);
  double e_max = 0;
  for (int j = 0; j < n; ++j) {
    const int lo = std::max(0, j - kWilsonWindow), hi = std::min(n, j + kWilsonWindow + 1);
    double si = 0, sw = 0;
    for (int k = lo; k < hi; ++k) { si += x[size_t(k)]; sw += weight[size_t(k)]; }
    res.wilson_mean[size_t(j)] = weight[size_t(j)] * si / sw;
    e_max = std::max(e_max, res.wilson_mean[size_t(j)]);
  }
  for (int j = 0; j < n; ++j)  // never below the noise: a prior narrower than sigma says nothing
    res.wilson_mean[size_t(j)] = std::max({res.wilson_mean[size_t(j)], res.sigma[size_t(j)], 1e-6 * e_max});

  std::vector<BlockData> block_data;
  for (size_t b = 0; b < blocks.size(); ++b) {
    Eigen::MatrixXd c = covariances[b];
    for (int p = 0; p < c.rows(); ++p) c(p, p) += std::pow(opt.intensity_error * res.wilson_mean[size_t(blocks[b].begin + p)], 2);
    const auto llt = robust_llt(c);
    BlockData bd;
    bd.begin = blocks[b].begin;
    bd.q = llt.solve(Eigen::MatrixXd::Identity(c.rows(), c.cols()));
    bd.rhs = llt.solve(unconstrained[b]);
    block_data.push_back(std::move(bd));
  }

  // --- every compatible setting: its allowed fractions and likelihood ---------------------------
  const std::vector<CompatibleSetting> candidates = compatible_settings(cell, system, opt.metric_tolerance);
  std::map<int, std::vector<int>> by_group;  // eg -> indices into res.settings
  std::map<std::pair<int, std::vector<float>>, int> seen;
  std::unordered_map<std::uint64_t, double> cache;  // (block, slice) -> log likelihood
  for (const CompatibleSetting& cs : candidates) {
    const SpaceGroup& sg = SpaceGroup::from_hall_number(cs.hall_number);
    std::vector<float> allowed(static_cast<size_t>(n), 0.0f);
    for (int j = 0; j < n; ++j) {
      int a = 0;
      for (const Vec3i& h : comps[size_t(j)].hkl) a += !absent_in(sg, h, cs.reverse);
      allowed[size_t(j)] = float(a) / float(comps[size_t(j)].hkl.size());
    }
    auto key = std::make_pair(cs.extinction_group, allowed);
    if (seen.count(key)) continue;
    double ll = 0;
    for (size_t b = 0; b < blocks.size(); ++b) {
      const std::uint64_t h = hash_slice(allowed, blocks[b]) * 31 + b;
      auto it = cache.find(h);
      if (it == cache.end()) it = cache.emplace(h, block_log_likelihood(block_data[b], allowed, res.wilson_mean)).first;
      ll += it->second;
    }
    seen[key] = static_cast<int>(res.settings.size());
    by_group[cs.extinction_group].push_back(static_cast<int>(res.settings.size()));
    res.settings.push_back({cs.extinction_group, cs.hall_number, cs.reverse, ll, std::move(allowed)});
  }
  for (const auto& [eg, members] : by_group) {
    double top = -std::numeric_limits<double>::infinity();
    int best = members.front();
    for (int s : members)
      if (res.settings[size_t(s)].log_likelihood > top) { top = res.settings[size_t(s)].log_likelihood; best = s; }
    double sum = 0;
    for (int s : members) sum += std::exp(res.settings[size_t(s)].log_likelihood - top);
    res.groups.push_back(eg);
    res.group_log_likelihood.push_back(top + std::log(sum / double(members.size())));
    res.group_best_setting.push_back(best);
  }
  const Eigen::Matrix3d g = gstar.inverse();
  auto angle = [&](int i, int j) { return std::acos(g(i, j) / std::sqrt(g(i, i) * g(j, j))) / kDegree; };
  res.cell = {std::sqrt(g(0, 0)), std::sqrt(g(1, 1)), std::sqrt(g(2, 2)), angle(1, 2), angle(0, 2), angle(0, 1)};
  res.zero_shift = geo.zero_shift;
  res.sample_displacement = geo.sample_displacement;
  res.width_scale = width_scale;
  res.composites = std::move(comps);
  res.background = std::move(bg);
  res.fit = std::move(fit);
  res.variance = std::move(var);
  return res;
}

}  // namespace xrdfast

#include "xrdfast/indexing.hpp"

#include <Eigen/Dense>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <stdexcept>
#include <string>

#include "xrdfast/unitcell.hpp"
#include "xrdfast/text.hpp"

#ifdef XRDFAST_OPENMP
#include <omp.h>
#endif

namespace xrdfast {

namespace {

using Eigen::Matrix3d;
using Clock = std::chrono::steady_clock;
constexpr double kDeg = M_PI / 180.0;
constexpr double kInf = std::numeric_limits<double>::infinity();
// Shortest lattice translation accepted, Å: graphite, diamond and the close-packed metals
// repeat at 2.46-2.55 Å, hcp beryllium at 2.29 Å and hcp iron (hexaferrum) at 2.35 Å, the
// shortest among minerals; tinier cells only fit short line lists by chance.
constexpr double kMinLength = 2.2;
constexpr double kSymmetryBonus = 1.3;
// Metric symmetry (relative deviation of the metric, about degrees / 57 in angles): the
// strict test of a refined cell, and the looser ones (up to IndexingOptions::metric_tolerance)
// whose lattices are refined and scored beside it (Le Page's program tests to 3 deg for
// single-crystal cells).
constexpr double kMetricTolerance = 0.004;
constexpr double kLooserMetricTolerances[] = {0.01, 0.02, 0.04};
constexpr double kPrecisionOfTolerance = 1.0 / 6;  // half a standard uncertainty, the tolerance being three
constexpr size_t kRhombicZones = 20;  // see Search::from_zones
constexpr size_t kRectangularZones = 20;  // see Search::general_lines_of_rectangular_zones

// ---------------------------------------------------------------------------------------
// Geometry of a line: Q = 1/d^2 = 4 sin^2(theta) / lambda^2.

double q_of(double two_theta, double lambda) {
  const double s = std::sin(two_theta * kDeg / 2);
  return 4 * s * s / (lambda * lambda);
}
double two_theta_of(double q, double lambda) {
  const double s = std::sqrt(q) * lambda / 2;
  return s < 1 ? 2 * std::asin(s) / kDeg : std::numeric_limits<double>::quiet_NaN();
}
// dQ / d(2theta), per degree: how a position error turns into a Q error.
double dq_dtt(double two_theta, double lambda) { return 2 * std::sin(two_theta * kDeg) / (lambda * lambda) * kDeg; }

// Metric tensor <-> cell parameters, through the core's UnitCell.
Matrix3d metric_of(const std::array<double, 6>& c) { return UnitCell(c[0], c[1], c[2], c[3], c[4], c[5]).metric(); }
std::array<double, 6> cell_of(const Matrix3d& g) {
  const double a = std::sqrt(g(0, 0)), b = std::sqrt(g(1, 1)), c = std::sqrt(g(2, 2));
  auto ang = [](double x) { return std::acos(std::clamp(x, -1.0, 1.0)) / kDeg; };
  return {a, b, c, ang(g(1, 2) / (b * c)), ang(g(0, 2) / (a * c)), ang(g(0, 1) / (a * b))};
}
double q_calc(const Matrix3d& gs, const Vec3i& h) {
  const Eigen::Vector3d v(h[0], h[1], h[2]);
  return v.dot(gs * v);
}
bool positive_definite(const Matrix3d& m) {
  return m(0, 0) > 0 && m(0, 0) * m(1, 1) - m(0, 1) * m(1, 0) > 0 && m.determinant() > 0;
}
// A nonzero cross term R of a reduced 2-D form Q(h, k) = Q1 h^2 + Q2 k^2 + R hk (|R| <= Q1 <=
// Q2, to the lines' errors) whose smaller axial term is q_min; R = 0 is always tried apart.
bool reduced_cross_term(double r, double q_min) { return r <= q_min * 1.001 && r > 1e-3 * q_min; }

// ---------------------------------------------------------------------------------------
// Centring conditions of the conventional cells (ITA Vol. A, Table 2.2.13.1); R is the
// obverse setting of the hexagonal axes.

bool allowed(const Vec3i& h, char centring) {
  switch (centring) {
    case 'I': return ((h[0] + h[1] + h[2]) & 1) == 0;
    case 'F': return ((h[0] + h[1]) & 1) == 0 && ((h[1] + h[2]) & 1) == 0;
    case 'A': return ((h[1] + h[2]) & 1) == 0;
    case 'B': return ((h[0] + h[2]) & 1) == 0;
    case 'C': return ((h[0] + h[1]) & 1) == 0;
    case 'R': return ((-h[0] + h[1] + h[2]) % 3 + 3) % 3 == 0;
    default: return true;
  }
}

// The integers x at which a parabola Q(x) = C (x - x0)^2 + Q_min lies within [q - tol, q + tol]:
// those in x0 -+ [r_lo, r_hi] where C r^2 = q -+ tol - Q_min, as two ascending, disjoint
// windows [lo1, hi1] and [lo2, hi2] (usually empty). A margin far above rounding and far
// below one step keeps every integer at an edge in play; the caller's exact test on Q decides.
struct IntegerWindows {
  int lo1, hi1, lo2, hi2;
  static constexpr double kMargin = 1e-6;
  // false when the whole parabola lies above q + tol
  bool of(double x0, double q_min, double inv_c, double q, double tol) {
    const double qlo = q - tol, qmax = q + tol;
    if (q_min > qmax + kMargin * tol) return false;
    const double r_hi = std::sqrt(std::max(0.0, (qmax - q_min) * inv_c));
    const double r_lo = qlo > q_min ? std::sqrt((qlo - q_min) * inv_c) : 0.0;
    lo1 = int(std::ceil(x0 - r_hi - kMargin));
    hi1 = int(std::floor(x0 - r_lo + kMargin));
    lo2 = std::max(hi1 + 1, int(std::ceil(x0 + r_lo - kMargin)));
    hi2 = int(std::floor(x0 + r_hi + kMargin));
    return true;
  }
  // Calls stop(x) for each integer of both windows in ascending order until it returns
  // true; whether it did.
  template <typename Stop>
  bool any(Stop stop) const {
    for (int x = lo1; x <= hi1; ++x)
      if (stop(x)) return true;
    for (int x = lo2; x <= hi2; ++x)
      if (stop(x)) return true;
    return false;
  }
};

// A reciprocal metric G* prepared for finding the reflections near a line: for each (h, k),
// Q is a parabola in l, Q = C (l - l0)^2 + Q_min(h, k), and Q_min(h, k) = (h k) S (h k)^T
// with S the Schur complement of C in G*. Its constants are computed once per trial cell,
// not once per line: the search tests millions of lines.
struct ReflectionFinder {
  double A, B, C, D, E, F;     // Q = A h^2 + B k^2 + C l^2 + D kl + E hl + F hk
  double S11, S12, S22;        // Q_min(h, k) = S11 h^2 + 2 S12 hk + S22 k^2
  double inv_c, inv_s22, g11, g22;

  ReflectionFinder(const Matrix3d& gs, const Matrix3d& g)
      : A(gs(0, 0)), B(gs(1, 1)), C(gs(2, 2)), D(2 * gs(1, 2)), E(2 * gs(0, 2)), F(2 * gs(0, 1)),
        S11(A - E * E / (4 * C)), S12((F - D * E / (2 * C)) / 2), S22(B - D * D / (4 * C)),
        inv_c(1 / C), inv_s22(1 / S22), g11(g(0, 0)), g22(g(1, 1)) {}

  // Calls visit(hkl, Q) for every reflection (one of each Friedel pair) whose Q lies within
  // [q - tol, q + tol]; the visitor returns false to stop. |h| <= sqrt(q G11) because
  // h = r* . a; for each h the ellipse Q_min <= q + tol bounds k; for each (h, k) the l that
  // qualify are the integers in l0 -+ [r_lo, r_hi] where C r^2 = q -+ tol - Q_min, so the
  // walk visits only them (usually none).
  template <typename Visit>
  void near(double q, double tol, char centring, Visit visit) const {
    const double qmax = q + tol;
    const int hmax = int(std::floor(std::sqrt(qmax * g11) + 1e-9));
    const int kmax = int(std::floor(std::sqrt(qmax * g22) + 1e-9));
    constexpr double kMargin = IntegerWindows::kMargin;
    IntegerWindows w;
    for (int h = 0; h <= hmax; ++h) {
      const double disc = S12 * S12 * h * h - S22 * (S11 * h * h - qmax);
      if (disc < 0) continue;
      const double root = std::sqrt(disc);
      const int klo = std::max(h == 0 ? 0 : -kmax, int(std::floor((-S12 * h - root) * inv_s22 - kMargin)));
      const int khi = std::min(kmax, int(std::ceil((-S12 * h + root) * inv_s22 + kMargin)));
      for (int k = klo; k <= khi; ++k) {
        const double lin = D * k + E * h, c0 = A * h * h + B * k * k + F * h * k;
        const double l0 = -0.5 * lin * inv_c;
        if (!w.of(l0, c0 + 0.5 * lin * l0, inv_c, q, tol)) continue;
        const bool stopped = w.any([&](int l) {
          if (h == 0 && k == 0 && l <= 0) return false;
          const double qc = c0 + lin * l + C * double(l) * l;
          if (std::abs(qc - q) > tol) return false;
          const Vec3i hkl{h, k, l};
          if (!allowed(hkl, centring)) return false;
          return !visit(hkl, qc);
        });
        if (stopped) return;
      }
    }
  }

  bool indexes(double q, double tol, char centring = 'P') const {
    bool found = false;
    near(q, tol, centring, [&](const Vec3i&, double) { found = true; return false; });
    return found;
  }

  // The nearest reflection within tol (its hkl and Q), or false.
  bool nearest(double q, double tol, char centring, Vec3i& hkl, double& qc) const {
    double best = kInf;
    near(q, tol, centring, [&](const Vec3i& h, double x) {
      if (std::abs(x - q) < best) { best = std::abs(x - q); hkl = h; qc = x; }
      return true;
    });
    return best < kInf;
  }
};

// The same for the hk0 reflections of a zone, Q(h, k) = A h^2 + B k^2 + F hk: for each h,
// Q is a parabola in k. The zone searches test millions of lines too.
struct ZoneFinder {
  double A, B, F, inv_b, h2_per_q;

  ZoneFinder(double q1, double q2, double r)
      : A(q1), B(q2), F(r), inv_b(1 / q2), h2_per_q(4 * q2 / (4 * q1 * q2 - r * r)) {}

  bool indexes(double q, double tol) const {
    // h^2 (4 A B - F^2) <= 4 B Q for a point of the zone; one more h absorbs rounding
    const int hmax = int(std::floor(std::sqrt((q + tol) * h2_per_q))) + 1;
    IntegerWindows w;
    for (int h = 0; h <= hmax; ++h) {
      const double lin = F * h;
      const double k0 = -0.5 * lin * inv_b;
      if (!w.of(k0, A * h * h + 0.5 * lin * k0, inv_b, q, tol)) continue;
      const bool hit = w.any([&](int k) {
        if (h == 0 && k <= 0) return false;  // one of each Friedel pair, as ReflectionFinder
        return std::abs(A * h * h + B * k * k + F * h * k - q) <= tol;
      });
      if (hit) return true;
    }
    return false;
  }
};

// Sorted Q of all allowed reflections up to qmax (one per Friedel pair).
std::vector<double> all_q(const Matrix3d& gs, char centring, double qmax) {
  const Matrix3d g = gs.inverse();
  const int hmax = int(std::sqrt(qmax * g(0, 0))), kmax = int(std::sqrt(qmax * g(1, 1))),
            lmax = int(std::sqrt(qmax * g(2, 2)));
  std::vector<double> out;
  for (int h = 0; h <= hmax; ++h)
    for (int k = -kmax; k <= kmax; ++k)
      for (int l = -lmax; l <= lmax; ++l) {
        if (h == 0 && (k < 0 || (k == 0 && l <= 0))) continue;
        const Vec3i v{h, k, l};
        if (!allowed(v, centring)) continue;
        const double q = q_calc(gs, v);
        if (q <= qmax) out.push_back(q);
      }
  std::sort(out.begin(), out.end());
  return out;
}
// Distinct values of a sorted list (lines that coincide by symmetry count once).
int n_distinct(const std::vector<double>& q, double upto) {
  int n = 0;
  double last = -1;
  for (double x : q) {
    if (x > upto) break;
    if (x - last > 1e-9 * std::max(1.0, x)) { ++n; last = x; }
  }
  return n;
}

// ---------------------------------------------------------------------------------------
// The observed lines.

struct Lines {
  std::vector<double> tt, height;  // deg 2theta as observed, sorted
  double lambda;
  int n;        // lines used
  int n_score;  // the first ones that trial cells must index (20 or fewer)
};

// Q of line i with a zero shift removed, and its tolerance for a 2theta tolerance in degrees.
struct LineQ {
  std::vector<double> q, dq;  // dq = dQ/d(2theta) per degree
};
LineQ line_q(const Lines& L, double zero) {
  LineQ out;
  for (int i = 0; i < L.n; ++i) {
    out.q.push_back(q_of(L.tt[i] - zero, L.lambda));
    out.dq.push_back(dq_dtt(L.tt[i] - zero, L.lambda));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Parametrisations of G* for least squares: Q = sum_j p_j (e_j . (h^2, k^2, l^2, kl, hl, hk)),
// i.e. A h^2 + B k^2 + C l^2 + D kl + E hl + F hk with the ties of each crystal system.

enum class Form { Cubic, Tetragonal, Hexagonal, Orthorhombic, MonoclinicA, MonoclinicB, MonoclinicC, Triclinic };

std::vector<std::array<double, 6>> basis_of(Form f) {
  switch (f) {
    case Form::Cubic: return {{1, 1, 1, 0, 0, 0}};
    case Form::Tetragonal: return {{1, 1, 0, 0, 0, 0}, {0, 0, 1, 0, 0, 0}};
    case Form::Hexagonal: return {{1, 1, 0, 0, 0, 1}, {0, 0, 1, 0, 0, 0}};
    case Form::Orthorhombic: return {{1, 0, 0, 0, 0, 0}, {0, 1, 0, 0, 0, 0}, {0, 0, 1, 0, 0, 0}};
    case Form::MonoclinicA: return {{1, 0, 0, 0, 0, 0}, {0, 1, 0, 0, 0, 0}, {0, 0, 1, 0, 0, 0}, {0, 0, 0, 1, 0, 0}};
    case Form::MonoclinicB: return {{1, 0, 0, 0, 0, 0}, {0, 1, 0, 0, 0, 0}, {0, 0, 1, 0, 0, 0}, {0, 0, 0, 0, 1, 0}};
    case Form::MonoclinicC: return {{1, 0, 0, 0, 0, 0}, {0, 1, 0, 0, 0, 0}, {0, 0, 1, 0, 0, 0}, {0, 0, 0, 0, 0, 1}};
    default:
      return {{1, 0, 0, 0, 0, 0}, {0, 1, 0, 0, 0, 0}, {0, 0, 1, 0, 0, 0},
              {0, 0, 0, 1, 0, 0}, {0, 0, 0, 0, 1, 0}, {0, 0, 0, 0, 0, 1}};
  }
}
Matrix3d gs_of(const std::array<double, 6>& q) {  // (A, B, C, D, E, F) -> G*
  Matrix3d m;
  m << q[0], q[5] / 2, q[4] / 2, q[5] / 2, q[1], q[3] / 2, q[4] / 2, q[3] / 2, q[2];
  return m;
}
// The Form that keeps exactly the nonzero cross terms of a trial G*.
Form form_of(const Matrix3d& gs) {
  const bool d = gs(1, 2) != 0, e = gs(0, 2) != 0, f = gs(0, 1) != 0;
  if (!d && !e && !f) return Form::Orthorhombic;
  if (d && !e && !f) return Form::MonoclinicA;
  if (!d && e && !f) return Form::MonoclinicB;
  if (!d && !e && f) return Form::MonoclinicC;
  return Form::Triclinic;
}

// ---------------------------------------------------------------------------------------
// Least squares in 2theta (weights 1/(dQ/d2theta)^2, so residuals are in degrees) of the
// parameters of `form` and a zero shift, linearised around the current zero:
// Q(2theta_obs - z0) = sum_j p_j f_j(hkl) + dz Q'(2theta_obs - z0).

struct Fit {
  Matrix3d gs;
  double zero = 0;
  int n_indexed = 0;
  bool ok = false;
};

Fit refine(Matrix3d gs, double zero, Form form, char centring, const Lines& L, const IndexingOptions& opt,
           const std::vector<double>& tolerances) {
  const auto basis = basis_of(form);
  const int m = int(basis.size());
  Fit fit;
  for (double tol : tolerances) {
    const LineQ lq = line_q(L, zero);
    const ReflectionFinder finder(gs, gs.inverse());
    std::vector<Eigen::VectorXd> rows;
    std::vector<double> ys, ws;
    for (int i = 0; i < L.n; ++i) {
      Vec3i h; double qc;
      if (!finder.nearest(lq.q[i], tol * lq.dq[i], centring, h, qc)) continue;
      const double f6[6] = {double(h[0]) * h[0], double(h[1]) * h[1], double(h[2]) * h[2],
                            double(h[1]) * h[2], double(h[0]) * h[2], double(h[0]) * h[1]};
      Eigen::VectorXd x(m + 1);
      for (int j = 0; j < m; ++j) {
        x[j] = 0;
        for (int t = 0; t < 6; ++t) x[j] += basis[size_t(j)][size_t(t)] * f6[t];
      }
      x[m] = lq.dq[i];
      rows.push_back(x); ys.push_back(lq.q[i]); ws.push_back(1 / lq.dq[i]);
    }
    const int n = int(rows.size());
    // A zero shift needs lines to spare: two beyond the parameters, one for a cubic cell,
    // whose line ratios are so constrained that fcc nickel's three lines (111, 200, 220)
    // pin a and the zero at once (a zero of 0.04 deg otherwise puts them outside the tolerance)
    const bool with_zero = opt.refine_zero && n >= m + (m == 1 ? 2 : 3);
    const int np = m + (with_zero ? 1 : 0);
    fit.n_indexed = n;
    if (n < m + 1) { fit.ok = false; return fit; }
    Eigen::MatrixXd X(n, np);
    Eigen::VectorXd y(n);
    for (int i = 0; i < n; ++i) {
      X.row(i) = rows[size_t(i)].head(np).transpose() * ws[size_t(i)];
      y[i] = ys[size_t(i)] * ws[size_t(i)];
    }
    const Eigen::VectorXd p = X.colPivHouseholderQr().solve(y);
    if (!p.allFinite()) { fit.ok = false; return fit; }
    std::array<double, 6> q6{};
    for (int j = 0; j < m; ++j)
      for (int t = 0; t < 6; ++t) q6[size_t(t)] += p[j] * basis[size_t(j)][size_t(t)];
    const Matrix3d next = gs_of(q6);
    if (!positive_definite(next)) { fit.ok = false; return fit; }
    gs = next;
    if (with_zero) zero = std::clamp(zero + p[m], -0.5, 0.5);
  }
  fit.gs = gs; fit.zero = zero; fit.ok = true;
  return fit;
}

// ---------------------------------------------------------------------------------------
// Niggli reduction of a direct metric (Krivy & Gruber 1976, steps A1-A8, with the relative
// tolerance of Grosse-Kunstleve, Sauter & Adams 2004). Only the metric is needed here: the
// conventional cell is rebuilt from the reduced one.

Matrix3d niggli(const Matrix3d& g0) {
  double A = g0(0, 0), B = g0(1, 1), C = g0(2, 2), xi = 2 * g0(1, 2), eta = 2 * g0(0, 2), zeta = 2 * g0(0, 1);
  const double e = 1e-5 * std::cbrt(std::abs(g0.determinant()));  // ~1e-5 V^(2/3)
  auto sgn = [e](double x) { return x > e ? 1 : (x < -e ? -1 : 0); };
  for (int iter = 0; iter < 1000; ++iter) {
    if (A > B + e || (std::abs(A - B) <= e && std::abs(xi) > std::abs(eta) + e)) {  // A1
      std::swap(A, B); std::swap(xi, eta);
    }
    if (B > C + e || (std::abs(B - C) <= e && std::abs(eta) > std::abs(zeta) + e)) {  // A2
      std::swap(B, C); std::swap(eta, zeta);
      continue;
    }
    if (sgn(xi) * sgn(eta) * sgn(zeta) == 1) {  // A3
      xi = std::abs(xi); eta = std::abs(eta); zeta = std::abs(zeta);
    } else {  // A4
      xi = -std::abs(xi); eta = -std::abs(eta); zeta = -std::abs(zeta);
    }
    auto s = [](double x) { return x > 0 ? 1.0 : -1.0; };
    if (std::abs(xi) > B + e || (std::abs(xi - B) <= e && 2 * eta < zeta - e) || (std::abs(xi + B) <= e && zeta < -e)) {
      C = B + C - xi * s(xi); eta = eta - zeta * s(xi); xi = xi - 2 * B * s(xi);  // A5
      continue;
    }
    if (std::abs(eta) > A + e || (std::abs(eta - A) <= e && 2 * xi < zeta - e) || (std::abs(eta + A) <= e && zeta < -e)) {
      C = A + C - eta * s(eta); xi = xi - zeta * s(eta); eta = eta - 2 * A * s(eta);  // A6
      continue;
    }
    if (std::abs(zeta) > A + e || (std::abs(zeta - A) <= e && 2 * xi < eta - e) || (std::abs(zeta + A) <= e && eta < -e)) {
      B = A + B - zeta * s(zeta); xi = xi - eta * s(zeta); zeta = zeta - 2 * A * s(zeta);  // A7
      continue;
    }
    const double sum = xi + eta + zeta + A + B;
    if (sum < -e || (std::abs(sum) <= e && 2 * (A + eta) + zeta > e)) {  // A8
      C = A + B + C + xi + eta + zeta; xi = 2 * B + xi + zeta; eta = 2 * A + eta + zeta;
      continue;
    }
    break;
  }
  Matrix3d g;
  g << A, zeta / 2, eta / 2, zeta / 2, B, xi / 2, eta / 2, xi / 2, C;
  return g;
}

// ---------------------------------------------------------------------------------------
// Bravais lattice from the metric symmetry of a reduced cell. The rotations R (rows: images
// of the basis vectors) with R G R^T = G have entries in {-1, 0, 1} in a reduced basis; their
// orders and axes give the holohedry and the conventional axes (Le Page 1982 uses the
// twofold axes alone; the three-, four- and sixfold ones make the choice of c immediate).

struct Conventional {
  std::string lattice;
  Mat3i M;        // rows: conventional basis vectors in the reduced basis
  char centring;  // P A B C I F R
  Form form;
  Matrix3d g;     // symmetrized direct metric of the conventional cell
};

int gcd3(const Vec3i& v) { return std::gcd(std::gcd(std::abs(v[0]), std::abs(v[1])), std::abs(v[2])); }
Vec3i primitive_direction(Vec3i v) {
  const int d = gcd3(v);
  if (d == 0) return v;
  for (int& x : v) x /= d;
  for (int x : v)
    if (x != 0) {
      if (x < 0) for (int& y : v) y = -y;
      break;
    }
  return v;
}
Eigen::Vector3d vd(const Vec3i& v) { return Eigen::Vector3d(v[0], v[1], v[2]); }
double dot(const Matrix3d& g, const Vec3i& u, const Vec3i& v) { return vd(u).dot(g * vd(v)); }
// u R: the image of the lattice vector u (reduced coordinates) under the rotation R.
Vec3i image(const Vec3i& u, const Mat3i& R) {
  Vec3i r{};
  for (int j = 0; j < 3; ++j)
    for (int i = 0; i < 3; ++i) r[j] += u[i] * R[i][j];
  return r;
}
int order_of(const Mat3i& R) {
  switch (trace(R)) { case 3: return 1; case -1: return 2; case 0: return 3; case 1: return 4; case 2: return 6; }
  return 0;
}
// The axis of a proper rotation: any nonzero row of I + R + ... + R^(n-1) is fixed by R.
Vec3i axis_of(const Mat3i& R) {
  const int n = order_of(R);
  Mat3i S{}, P = kIdentity;
  for (int k = 0; k < n; ++k) {
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) S[i][j] += P[i][j];
    P = mat_mul(P, R);
  }
  for (const auto& row : S)
    if (row[0] || row[1] || row[2]) return primitive_direction(Vec3i{row[0], row[1], row[2]});
  return {0, 0, 0};
}

std::vector<Mat3i> lattice_rotations(const Matrix3d& g, double tol) {
  std::vector<Vec3i> cands[3];
  for (int a = -1; a <= 1; ++a)
    for (int b = -1; b <= 1; ++b)
      for (int c = -1; c <= 1; ++c) {
        const Vec3i v{a, b, c};
        if (!a && !b && !c) continue;
        const double len2 = dot(g, v, v);
        for (int i = 0; i < 3; ++i)
          if (std::abs(len2 - g(i, i)) <= 2 * tol * g(i, i)) cands[i].push_back(v);
      }
  std::vector<Mat3i> out;
  for (const Vec3i& r0 : cands[0])
    for (const Vec3i& r1 : cands[1]) {
      if (std::abs(dot(g, r0, r1) - g(0, 1)) > tol * std::sqrt(g(0, 0) * g(1, 1))) continue;
      for (const Vec3i& r2 : cands[2]) {
        if (std::abs(dot(g, r0, r2) - g(0, 2)) > tol * std::sqrt(g(0, 0) * g(2, 2))) continue;
        if (std::abs(dot(g, r1, r2) - g(1, 2)) > tol * std::sqrt(g(1, 1) * g(2, 2))) continue;
        const Mat3i R{{{r0[0], r0[1], r0[2]}, {r1[0], r1[1], r1[2]}, {r2[0], r2[1], r2[2]}}};
        if (determinant(R) == 1) out.push_back(R);
      }
    }
  return out;
}

// Conventional-cell centring of a basis M (rows in the reduced basis) with |det M| > 1:
// the reduced basis vectors in conventional coordinates (rows of M^-1) carry it.
char centring_of(const Mat3i& M) {
  const int det = determinant(M);
  if (std::abs(det) == 1) return 'P';
  Eigen::Matrix3d m;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) m(i, j) = M[size_t(i)][size_t(j)];
  const Eigen::Matrix3d inv = m.inverse();  // rows: reduced vectors in conventional coordinates
  bool half[3] = {false, false, false}, third = false, obverse = false;
  int n_all_half = 0;
  for (int r = 0; r < 3; ++r) {
    double f[3];
    for (int j = 0; j < 3; ++j) f[j] = inv(r, j) - std::floor(inv(r, j) + 1e-6);
    const bool is_half[3] = {std::abs(f[0] - 0.5) < 1e-4, std::abs(f[1] - 0.5) < 1e-4, std::abs(f[2] - 0.5) < 1e-4};
    const int nh = is_half[0] + is_half[1] + is_half[2];
    if (nh == 3) ++n_all_half;
    if (nh == 2) for (int j = 0; j < 3; ++j) if (!is_half[j]) half[j] = true;  // the axis not halved
    if (std::abs(f[0] - 2.0 / 3) < 1e-4 && std::abs(f[1] - 1.0 / 3) < 1e-4 && std::abs(f[2] - 1.0 / 3) < 1e-4) { third = obverse = true; }
    if (std::abs(f[0] - 1.0 / 3) < 1e-4 && std::abs(f[1] - 2.0 / 3) < 1e-4 && std::abs(f[2] - 2.0 / 3) < 1e-4) { third = obverse = true; }
    if (std::abs(f[0] - 1.0 / 3) < 1e-4 && std::abs(f[1] - 2.0 / 3) < 1e-4 && std::abs(f[2] - 1.0 / 3) < 1e-4) third = true;
    if (std::abs(f[0] - 2.0 / 3) < 1e-4 && std::abs(f[1] - 1.0 / 3) < 1e-4 && std::abs(f[2] - 2.0 / 3) < 1e-4) third = true;
  }
  if (std::abs(det) == 4) return 'F';
  if (std::abs(det) == 3) return third ? (obverse ? 'R' : 'r') : '?';
  if (std::abs(det) == 2) {
    if (n_all_half) return 'I';
    if (half[0]) return 'A';
    if (half[1]) return 'B';
    if (half[2]) return 'C';
  }
  return '?';
}

Mat3i rows(const Vec3i& a, const Vec3i& b, const Vec3i& c) {
  return Mat3i{{{a[0], a[1], a[2]}, {b[0], b[1], b[2]}, {c[0], c[1], c[2]}}};
}
Vec3i neg(Vec3i v) { for (int& x : v) x = -x; return v; }
Vec3i add(const Vec3i& a, const Vec3i& b) { return {a[0] + b[0], a[1] + b[1], a[2] + b[2]}; }

// Shortest lattice vectors perpendicular to the direction u (coefficients up to 2 in the
// reduced basis), shortest first.
std::vector<Vec3i> perpendicular_vectors(const Matrix3d& g, const Vec3i& u, double tol) {
  std::vector<std::pair<double, Vec3i>> found;
  const double lu = std::sqrt(dot(g, u, u));
  for (int a = -2; a <= 2; ++a)
    for (int b = -2; b <= 2; ++b)
      for (int c = -2; c <= 2; ++c) {
        const Vec3i v{a, b, c};
        if ((!a && !b && !c) || gcd3(v) != 1) continue;
        const double lv = std::sqrt(dot(g, v, v));
        if (std::abs(dot(g, u, v)) <= tol * lu * lv) found.push_back({lv, v});
      }
  std::sort(found.begin(), found.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<Vec3i> out;
  for (const auto& f : found) out.push_back(f.second);
  return out;
}
bool parallel(const Vec3i& a, const Vec3i& b) {
  return a[1] * b[2] - a[2] * b[1] == 0 && a[2] * b[0] - a[0] * b[2] == 0 && a[0] * b[1] - a[1] * b[0] == 0;
}

Matrix3d transform(const Mat3i& M, const Matrix3d& g) {
  Matrix3d m;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) m(i, j) = M[size_t(i)][size_t(j)];
  return m * g * m.transpose();
}

// Impose the lattice's constraints on a conventional metric (means of the tied parameters).
Matrix3d symmetrize(const Matrix3d& g, Form form) {
  std::array<double, 6> c = cell_of(g);
  switch (form) {
    case Form::Cubic: { const double a = (c[0] + c[1] + c[2]) / 3; c = {a, a, a, 90, 90, 90}; break; }
    case Form::Tetragonal: { const double a = (c[0] + c[1]) / 2; c = {a, a, c[2], 90, 90, 90}; break; }
    case Form::Hexagonal: { const double a = (c[0] + c[1]) / 2; c = {a, a, c[2], 90, 90, 120}; break; }
    case Form::Orthorhombic: c[3] = c[4] = c[5] = 90; break;
    case Form::MonoclinicB: c[3] = c[5] = 90; break;
    default: break;
  }
  return metric_of(c);
}

Conventional conventional_cell(const Matrix3d& g, double tol) {
  const std::vector<Mat3i> rots = lattice_rotations(g, tol);
  const int order = int(rots.size());
  Conventional out{"aP", kIdentity, 'P', Form::Triclinic, g};
  auto finish = [&](Mat3i M, const std::string& family, Form form) -> bool {
    if (determinant(M) < 0) M = rows(Vec3i{M[0][0], M[0][1], M[0][2]}, Vec3i{M[1][0], M[1][1], M[1][2]},
                                     neg(Vec3i{M[2][0], M[2][1], M[2][2]}));
    if (determinant(M) < 0) return false;
    const char c = centring_of(M);
    if (c == '?') return false;
    out.M = M; out.centring = c; out.form = form; out.lattice = family + std::string(1, c == 'r' ? 'R' : c);
    out.g = symmetrize(transform(M, g), form);
    return true;
  };
  auto axes_of_order = [&](int n) {
    std::vector<Vec3i> axes;
    for (const Mat3i& R : rots)
      if (order_of(R) == n) {
        const Vec3i u = axis_of(R);
        if (std::none_of(axes.begin(), axes.end(), [&](const Vec3i& v) { return v == u; })) axes.push_back(u);
      }
    std::sort(axes.begin(), axes.end(), [&](const Vec3i& x, const Vec3i& y) { return dot(g, x, x) < dot(g, y, y); });
    return axes;
  };
  auto rotation_about = [&](const Vec3i& u, int n) -> const Mat3i* {
    for (const Mat3i& R : rots)
      if (order_of(R) == n && axis_of(R) == u) return &R;
    return nullptr;
  };
  if (order == 24) {  // cubic: the three fourfold axes
    const auto ax = axes_of_order(4);
    if (ax.size() == 3 && finish(rows(ax[0], ax[1], ax[2]), "c", Form::Cubic)) return out;
  } else if (order == 12) {  // hexagonal: sixfold c, a the shortest twofold axis normal to it, b = a turned by 120
    const auto six = axes_of_order(6);
    if (six.size() == 1) {
      const Mat3i* R6 = rotation_about(six[0], 6);
      for (const Vec3i& a : perpendicular_vectors(g, six[0], 1e-6 + tol)) {
        Vec3i b = image(image(a, *R6), *R6);
        if (dot(g, a, b) > 0) b = image(a, *R6);
        if (finish(rows(a, b, six[0]), "h", Form::Hexagonal) && out.centring == 'P') return out;
        break;
      }
    }
  } else if (order == 8) {  // tetragonal: fourfold c, a the shortest lattice vector normal to it
    const auto four = axes_of_order(4);
    if (four.size() == 1) {
      const Mat3i* R4 = rotation_about(four[0], 4);
      for (const Vec3i& a : perpendicular_vectors(g, four[0], 1e-6 + tol)) {
        if (finish(rows(a, image(a, *R4), four[0]), "t", Form::Tetragonal) && (out.centring == 'P' || out.centring == 'I'))
          return out;
      }
    }
  } else if (order == 6) {  // rhombohedral: threefold c, a a twofold axis, b = a turned by 120 (obverse)
    const auto three = axes_of_order(3);
    const auto two = axes_of_order(2);
    if (three.size() == 1 && !two.empty()) {
      const Mat3i* R3 = rotation_about(three[0], 3);
      Vec3i a = two[0], b = image(a, *R3);
      if (dot(g, a, b) > 0) b = image(b, *R3);
      Vec3i c = three[0];
      Mat3i M = rows(a, b, c);
      if (determinant(M) < 0) { c = neg(c); M = rows(a, b, c); }
      if (centring_of(M) == 'r') M = rows(neg(a), neg(b), c);  // reverse -> obverse
      if (finish(M, "h", Form::Hexagonal) && out.centring == 'R') return out;
    }
  } else if (order == 4) {  // orthorhombic: the three twofold axes; C-centring on the ab face
    const auto ax = axes_of_order(2);
    if (ax.size() == 3) {
      Mat3i M = rows(ax[0], ax[1], ax[2]);  // shortest first: a < b < c for P, I, F
      if (determinant(M) < 0) M = rows(ax[0], ax[1], neg(ax[2]));
      const char c = centring_of(M);
      if (c == 'A') M = rows(ax[1], ax[2], ax[0]);
      if (c == 'B') M = rows(ax[2], ax[0], ax[1]);
      if (c == 'A' || c == 'B') {
        if (determinant(M) < 0) M = rows(Vec3i{M[0][0], M[0][1], M[0][2]}, Vec3i{M[1][0], M[1][1], M[1][2]},
                                         neg(Vec3i{M[2][0], M[2][1], M[2][2]}));
        // a < b within the C face
        if (dot(g, Vec3i{M[0][0], M[0][1], M[0][2]}, Vec3i{M[0][0], M[0][1], M[0][2]}) >
            dot(g, Vec3i{M[1][0], M[1][1], M[1][2]}, Vec3i{M[1][0], M[1][1], M[1][2]}))
          M = rows(Vec3i{M[1][0], M[1][1], M[1][2]}, Vec3i{M[0][0], M[0][1], M[0][2]}, neg(Vec3i{M[2][0], M[2][1], M[2][2]}));
      }
      if (finish(M, "o", Form::Orthorhombic)) return out;
    }
  } else if (order == 2) {  // monoclinic: b the twofold axis, a and c the reduced basis of the plane normal to it
    const auto ax = axes_of_order(2);
    if (ax.size() == 1) {
      const Vec3i b = ax[0];
      const auto perp = perpendicular_vectors(g, b, 1e-6 + tol);
      if (perp.size() >= 2) {
        Vec3i a = perp[0], c{0, 0, 0};
        for (size_t i = 1; i < perp.size(); ++i)
          if (!parallel(a, perp[i])) { c = perp[i]; break; }
        Mat3i M = rows(a, b, c);
        if (determinant(M) < 0) { c = neg(c); M = rows(a, b, c); }
        char cen = centring_of(M);
        if (cen == 'A') { M = rows(c, neg(b), a); }            // swap a and c
        else if (cen == 'I') { M = rows(add(a, c), b, c); }   // a + c makes the centring C
        cen = centring_of(M);
        Vec3i A{M[0][0], M[0][1], M[0][2]}, B{M[1][0], M[1][1], M[1][2]}, C{M[2][0], M[2][1], M[2][2]};
        if (cen == 'C') {  // c + n a keeps the C centring: the choice with beta nearest 90 deg
          Vec3i best = C;
          for (int n = -2; n <= 2; ++n) {
            const Vec3i c2{C[0] + n * A[0], C[1] + n * A[1], C[2] + n * A[2]};
            auto cosb = [&](const Vec3i& v) { return std::abs(dot(g, A, v)) / std::sqrt(dot(g, A, A) * dot(g, v, v)); };
            if (cosb(c2) < cosb(best) - 1e-9) best = c2;
          }
          C = best;
        }
        if (dot(g, A, C) > 0) { A = neg(A); B = neg(B); }  // beta >= 90
        if ((cen == 'P' || cen == 'C') && finish(rows(A, B, C), "m", Form::MonoclinicB)) return out;
      }
    }
  }
  out = Conventional{"aP", kIdentity, 'P', Form::Triclinic, g};
  return out;
}

std::string system_name(const std::string& lattice) {
  switch (lattice[0]) {
    case 'a': return "triclinic";
    case 'm': return "monoclinic";
    case 'o': return "orthorhombic";
    case 't': return "tetragonal";
    case 'h': return lattice[1] == 'R' ? "trigonal" : "hexagonal";
    default: return "cubic";
  }
}

// ---------------------------------------------------------------------------------------
// The search: trial cells that index the first lines within the search tolerance.

struct Trial {
  Matrix3d gs;    // in the trial's own axes, with the reflection condition of `centring`
  Form form;
  int hits;
  double volume;  // of the primitive cell
  char centring = 'P';
};

// The primitive reciprocal basis of a centred trial (rows: integer combinations of its
// axes that generate the allowed reflections) and the number of lattice points per cell.
Eigen::Matrix3d primitive_reciprocal_basis(char centring) {
  Eigen::Matrix3d B = Eigen::Matrix3d::Identity();
  switch (centring) {
    case 'A': B << 1, 0, 0, 0, 2, 0, 0, 1, 1; break;  // k + l even
    case 'B': B << 2, 0, 0, 0, 1, 0, 1, 0, 1; break;  // h + l even
    case 'C': B << 2, 0, 0, 1, 1, 0, 0, 0, 1; break;  // h + k even
    case 'I': B << 1, 1, 0, 0, 1, 1, 1, 0, 1; break;  // h + k + l even
    case 'F': B << 2, 0, 0, 0, 2, 0, 1, 1, 1; break;  // h, k, l all even or all odd
    default: break;
  }
  return B;
}
Matrix3d primitive_gs(const Matrix3d& gs, char centring) {
  const Eigen::Matrix3d B = primitive_reciprocal_basis(centring);
  return B * gs * B.transpose();
}
// Lattice points per conventional cell (R: the hexagonal axes of a rhombohedral lattice).
int lattice_points(char centring) { return centring == 'F' ? 4 : centring == 'R' ? 3 : centring == 'P' ? 1 : 2; }

// A trial's line tests are charged to a stage's budget while it has missed at most this many
// lines, and up to the next miss (de Wolff's allowance for a convincing cell: two unindexed
// lines among the first twenty).
constexpr int kChargedMisses = 2;

struct Search {
  const Lines& L;
  const IndexingOptions& opt;
  LineQ lq;
  Clock::time_point deadline;
  double vmax;
  int max_miss;
  // Work is counted in line tests (one search for a reflection near an observed line):
  // each stage of the search stops after its budget of them, so that the result depends
  // on the input alone, never on the machine's speed or load. The wall-clock deadline is
  // only a safety net for pathological input; hitting it is reported (timed_out).
  long work = 0, stage_end = 0;
  bool out_of_budget = false, timed_out = false;
  std::vector<Trial> trials;

  Search(const Lines& lines, const IndexingOptions& o, Clock::time_point dl, double zero)
      : L(lines), opt(o), lq(line_q(lines, zero)), deadline(dl) {
    max_miss = std::max(0, std::min(opt.max_impurities, L.n_score - 4));
    // The volume cap: the largest cell the first n lines can pin down. A triclinic cell of
    // volume V has about (4 pi / 3) Q^(3/2) V / 2 distinct lines below Q; more than ~8 per
    // observed line cannot be told from chance (de Wolff's M20 would fall below ~3).
    const double qn = lq.q[size_t(L.n_score - 1)];
    vmax = std::min(opt.max_volume, 8.0 * L.n_score / (2.0 * M_PI / 3.0 * std::pow(qn, 1.5)));
  }

  // Start a stage with a budget of `line_tests` (scaled by options.effort).
  void begin_stage(double line_tests) {
    stage_end = work + long(line_tests * opt.effort);
    out_of_budget = false;
  }
  bool time_up() {
    if (work >= stage_end) out_of_budget = true;
    return out_of_budget || timed_out;
  }
  // One line test of the budget (the clock is read every 1024).
  void count_test() {
    ++work;
    if ((work & 1023) == 0 && Clock::now() > deadline) timed_out = true;
  }
  // Whether the trial indexes line i within the search tolerance; test_line also charges it
  // to the stage's budget.
  bool indexes_line(const ReflectionFinder& finder, int i, char centring = 'P') const {
    return finder.indexes(lq.q[size_t(i)], opt.search_tolerance * lq.dq[size_t(i)], centring);
  }
  bool test_line(const ReflectionFinder& finder, int i, char centring = 'P') {
    count_test();
    return indexes_line(finder, i, centring);
  }
  bool test_line(const ZoneFinder& zone, int i) {
    count_test();
    return zone.indexes(lq.q[size_t(i)], opt.search_tolerance * lq.dq[size_t(i)]);
  }

  // Half the search tolerance, in Q at Q.
  double q_tolerance(double q) const {
    const double s = std::min(1.0, std::sqrt(q) * L.lambda / 2);
    return 0.5 * opt.search_tolerance * dq_dtt(2 * std::asin(s) / kDeg, L.lambda);
  }

  // Count the first n_score lines a trial G* (its prepared finder) indexes, giving up after max_miss misses.
  // Only the tests de Wolff's strict criterion would make (up to the third miss) are charged to
  // the stage's budget: the lines tested after it, which give a cell with a minor phase's lines
  // its chance, must not shorten the search for everyone else (charged, they cost clean
  // triclinic patterns their true cell: bench_indexing's exact triclinic 58 -> 51 %).
  // `known` marks lines the trial's own zone (its hk0 reflections, the same numbers)
  // already indexes: they are hits without a test, and still count in the budget, so
  // the search is the same, only faster.
  int score(const ReflectionFinder& finder, char centring, std::uint32_t known) {
    int miss = 0, hits = 0;
    for (int i = 0; i < L.n_score; ++i) {
      if (known >> i & 1u) {
        count_test();
        ++hits;
      } else if (miss > kChargedMisses ? indexes_line(finder, i, centring) : test_line(finder, i, centring)) {
        ++hits;
      } else if (++miss > max_miss) {
        return -1;
      }
    }
    return hits;
  }

  void consider(const Matrix3d& gs, Form form, char centring = 'P', std::uint32_t known = 0) {
    if (!positive_definite(gs)) return;
    const double v = 1 / std::sqrt(gs.determinant()) / lattice_points(centring);
    // Symmetry folds the lines (half the Laue group's order) and a centred cell holds
    // several lattice points: the cap grows with both, within max_volume.
    const double fold = form == Form::Cubic ? 96 : form == Form::Hexagonal ? 36 : form == Form::Tetragonal ? 16
                        : form == Form::Orthorhombic ? 8 : form == Form::Triclinic ? 1 : 2;
    if (v > std::min(opt.max_volume, vmax * fold) || v < 8) return;
    // no lattice translation is shorter than kMinLength
    const Matrix3d g = gs.inverse();
    const Matrix3d g_primitive = centring == 'P' ? g : primitive_gs(gs, centring).inverse();
    if (g_primitive(0, 0) < kMinLength * kMinLength || g_primitive(1, 1) < kMinLength * kMinLength ||
        g_primitive(2, 2) < kMinLength * kMinLength)
      return;
    const int hits = score(ReflectionFinder(gs, g), centring, known);
    if (hits >= 0) trials.push_back(Trial{gs, form, hits, v, centring});
  }

  // Cubic: Q = A (h^2 + k^2 + l^2); the first lines as N = h^2 + k^2 + l^2 <= 20.
  void cubic() {
    static const int sums[] = {1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18, 19, 20};
    for (int i = 0; i < std::min(4, L.n); ++i)
      for (int n : sums) {
        const double a = lq.q[size_t(i)] / n;
        consider(gs_of({a, a, a, 0, 0, 0}), Form::Cubic);
      }
  }

  // Tetragonal Q = A (h^2 + k^2) + C l^2 and hexagonal Q = A (h^2 + hk + k^2) + C l^2:
  // two of the first six lines with trial (m, l), solved exactly (TREOR's approach).
  void uniaxial(bool hexagonal) {
    static const int tet_m[] = {0, 1, 2, 4, 5, 8}, hex_m[] = {0, 1, 3, 4, 7};
    const int* ms = hexagonal ? hex_m : tet_m;
    const int n_m = hexagonal ? 5 : 6, l_max = hexagonal ? 6 : 4;
    std::vector<std::pair<int, int>> base;
    for (int mi = 0; mi < n_m; ++mi)
      for (int l = 0; l <= l_max; ++l)
        if (ms[mi] || l) base.push_back({ms[mi], l * l});
    const int nb = std::min(6, L.n);
    for (int i = 0; i < nb; ++i)
      for (int j = i + 1; j < nb; ++j)
        for (const auto& t1 : base)
          for (const auto& t2 : base) {
            if (time_up()) return;
            const double det = double(t1.first) * t2.second - double(t2.first) * t1.second;
            if (det == 0) continue;
            const double qi = lq.q[size_t(i)], qj = lq.q[size_t(j)];
            const double a = (qi * t2.second - qj * t1.second) / det, c = (t1.first * qj - t2.first * qi) / det;
            if (a <= 0 || c <= 0) continue;
            consider(gs_of({a, a, c, 0, 0, hexagonal ? a : 0.0}), hexagonal ? Form::Hexagonal : Form::Tetragonal);
          }
  }

  // Orthorhombic Q = A h^2 + B k^2 + C l^2: three of the first six lines with trial indices
  // up to 2, solved exactly; only a <= b <= c is kept (the other five orders repeat it).
  void orthorhombic() {
    std::vector<Vec3i> base;
    for (int h = 0; h <= 2; ++h)
      for (int k = 0; k <= 2; ++k)
        for (int l = 0; l <= 2; ++l)
          if (h || k || l) base.push_back({h * h, k * k, l * l});
    const int nb = std::min(6, L.n);
    for (int i = 0; i < nb; ++i)
      for (int j = i + 1; j < nb; ++j)
        for (int k = j + 1; k < nb; ++k)
          for (const Vec3i& t1 : base)
            for (const Vec3i& t2 : base)
              for (const Vec3i& t3 : base) {
                if (time_up()) return;
                Matrix3d m;
                m << t1[0], t1[1], t1[2], t2[0], t2[1], t2[2], t3[0], t3[1], t3[2];
                const double det = m.determinant();
                if (std::abs(det) < 0.5) continue;
                const Eigen::Vector3d p = m.inverse() * Eigen::Vector3d(lq.q[size_t(i)], lq.q[size_t(j)], lq.q[size_t(k)]);
                if (!(p[0] >= p[1] && p[1] >= p[2] && p[2] > 0)) continue;
                consider(gs_of({p[0], p[1], p[2], 0, 0, 0}), Form::Orthorhombic);
              }
  }

  // Zones (Visser 1969): a 2-D reciprocal lattice Q(h, k) = Q1 h^2 + Q2 k^2 + R hk from two
  // lines taken as (10) and (01) (or their second orders), with R from a third line taken
  // as (11) or (1-1), or R = 0. Kept: the zones whose lines are many for their size.
  // A zone Q(h, k) = q1 h^2 + q2 k^2 + r hk of the reciprocal lattice, with the first
  // n_score lines it indexes (a bit each; n of them) and its merit.
  struct Zone {
    double q1, q2, r;
    int n;
    double merit;
    std::uint32_t lines;
    // Q1 = Q2 and oblique: the zone of (110)* and (1-10)* of a C-centred monoclinic cell
    bool rhombic() const { return r != 0 && std::abs(q1 - q2) <= 1e-3 * q1; }
  };
  static constexpr int kZoneIndices[4][2] = {{1, 1}, {1, 2}, {2, 1}, {2, 2}};

  std::vector<Zone> zones(size_t max_zones) {
    const int nz = std::min(8, L.n);
    std::vector<Zone> out;
    const double qmax = lq.q[size_t(L.n_score - 1)];
    const double window = q_tolerance(qmax / 2);
    // Trial bases (Q1, Q2, R): two lines taken as (10) and (01) (or their second orders),
    // R from a third line taken as (1, +-1), or as (1, +-2) / (2, +-1) when glide planes or
    // centring remove the first: Q(h, k) = h^2 Q1 + k^2 Q2 + hk R; or R = 0.
    std::vector<std::array<double, 3>> bases;
    for (int i = 0; i < nz; ++i)
      for (int j = i; j < nz; ++j)
        for (int ni = 1; ni <= 2; ++ni)
          for (int nj = 1; nj <= 2; ++nj) {
            if (i == j && ni != nj) continue;
            double q1 = lq.q[size_t(i)] / (ni * ni), q2 = lq.q[size_t(j)] / (nj * nj);
            if (q1 > q2) std::swap(q1, q2);
            bases.push_back({q1, q2, 0.0});
            for (int m = 0; m < L.n_score; ++m)
              for (const auto& hk : kZoneIndices) {
                const double r = std::abs(lq.q[size_t(m)] - hk[0] * hk[0] * q1 - hk[1] * hk[1] * q2) / (hk[0] * hk[1]);
                if (reduced_cross_term(r, q1)) bases.push_back({q1, q2, r});
              }
          }
    // A rectangular zone one of whose axes has no line of its own (P2_1/n's h00 and 00l
    // absent, 200 late): that axis from a line taken as (1 1) or (2 1) with the other axis
    // from an axial line, Q2 = Q(11) - Q1 or Q(21) - 4 Q1.
    for (int i = 0; i < nz; ++i)
      for (int ni = 1; ni <= 2; ++ni)
        for (int j = 0; j < nz; ++j)
          for (int k = 1; k <= 2; ++k) {
            const double q1 = lq.q[size_t(i)] / (ni * ni), q2 = lq.q[size_t(j)] - k * k * q1;
            if (j != i && q2 > 0.02 * lq.q[size_t(j)]) bases.push_back({std::min(q1, q2), std::max(q1, q2), 0.0});
          }
    for (const auto& [q1, q2, r] : bases) {
      if (time_up()) return out;
      // Gauss reduction keeps |R| <= Q1 <= Q2 so that equal zones compare equal.
      double a = q1, b = q2, rr = r;
      for (int it = 0; it < 20; ++it) {
        if (a > b) std::swap(a, b);
        if (std::abs(rr) <= a * (1 + 1e-9)) break;
        const double t = std::round(rr / (2 * a));
        b = b - t * rr + t * t * a; rr = rr - 2 * t * a;
      }
      rr = std::abs(rr);
      const double area2 = a * b - rr * rr / 4;  // squared reciprocal area
      if (area2 <= 0) continue;
      // The zone's lines among the first n_score, and its calculated lines below qmax.
      const ZoneFinder finder(a, b, rr);
      int n = 0;
      std::uint32_t lines = 0;
      for (int m = 0; m < L.n_score; ++m)
        if (test_line(finder, m)) {
          ++n;
          lines |= 1u << m;
        }
      // Lattice points of the zone below qmax: pi qmax / sqrt(area2) / 2 (one per pair).
      // Each covers a window of about twice the search tolerance, so a line falls on
      // one by chance with probability p; the merit is how far n stands above the
      // chance count (a binomial z-score), which neither favours small zones that
      // index few lines nor large ones that index anything.
      const double n_calc = std::max(1.0, M_PI * qmax / std::sqrt(area2) / 2);
      if (n < 3) continue;
      const double p = std::min(0.95, n_calc * 4 * window / qmax);
      const double mu = L.n_score * p;
      const Zone z{a, b, rr, n, (n - mu) / std::sqrt(mu * (1 - p) + 0.25), lines};
      // The same zone within the lines' uncertainty (half the search tolerance in Q
      // at each parameter's own Q) counts once, the one indexing more lines kept.
      const double tol_a = q_tolerance(a), tol_b = q_tolerance(b), tol_r = q_tolerance(a + b);
      bool dup = false;
      for (Zone& o : out)
        if (std::abs(o.q1 - a) < tol_a && std::abs(o.q2 - b) < tol_b && std::abs(o.r - rr) < tol_r) {
          if (z.n > o.n) o = z;
          dup = true;
          break;
        }
      if (!dup) out.push_back(z);
    }
    std::sort(out.begin(), out.end(), [](const Zone& x, const Zone& y) { return x.merit > y.merit; });
    if (std::getenv("XRDFAST_INDEX_DEBUG"))
      for (size_t i = 0; i < out.size() && i < (std::getenv("XRDFAST_INDEX_DEBUG2") ? 100000 : 60); ++i)
        std::fprintf(stderr, "zone %zu: %.5f %.5f %.5f n=%d merit=%.2f\n", i, out[i].q1, out[i].q2, out[i].r, out[i].n, out[i].merit);
    if (out.size() > max_zones) out.resize(max_zones);
    return out;
  }

  // A third reciprocal axis on each zone: C from a line taken as (001) or (002), D and E
  // (the cross terms with it) from lines taken as (01l), (10l) with l = +-1, or zero. Zero
  // D and E give orthorhombic or monoclinic (unique axis normal to the zone) cells, one of
  // them zero the monoclinic cells with the unique axis in the zone.
  // Lines among the first n_score that the zone Q(h, k) = q1 h^2 + q2 k^2 + r hk indexes.
  int zone_count(double q1, double q2, double r) {
    if (!(q1 * q2 - r * r / 4 > 0)) return 0;
    const ZoneFinder finder(q1, q2, r);
    int n = 0;
    for (int m = 0; m < L.n_score; ++m)
      if (test_line(finder, m)) ++n;
    return n;
  }

  // Cross terms x of a zone (p, C): from lines taken as (1 1), (1 2), (2 1) of it, each
  // scored by the lines its zone indexes; the best `keep` (and zero) are returned, with
  // both signs when `signed_`.
  std::map<std::pair<double, double>, std::vector<std::pair<int, double>>> cross_memo;  // zones share axes
  std::vector<double> cross_terms(double p, double C, bool signed_, size_t keep) {
    auto& found = cross_memo[{p, C}];
    if (found.empty()) fill_cross_terms(p, C, found);
    std::vector<double> out{0.0};
    for (size_t i = 0; i < found.size() && i < keep; ++i) {
      if (found[i].first < 0) continue;
      out.push_back(found[i].second);
      if (signed_) out.push_back(-found[i].second);
    }
    return out;
  }
  void fill_cross_terms(double p, double C, std::vector<std::pair<int, double>>& found) {
    found.push_back({-1, 0.0});  // a marker: computed
    for (int t = 0; t < L.n_score; ++t)
      for (const auto& kl : kZoneIndices) {
        const double x = std::abs(lq.q[size_t(t)] - kl[0] * kl[0] * p - kl[1] * kl[1] * C) / (kl[0] * kl[1]);
        if (!reduced_cross_term(x, std::min(p, C))) continue;
        if (std::any_of(found.begin() + 1, found.end(), [&](const auto& f) { return std::abs(f.second - x) < 1e-4 * p; })) continue;
        found.push_back({zone_count(p, C, x), x});
      }
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  }

  // A third reciprocal axis on each zone (Visser 1969). With the axis t normal to the zone
  // (p, q) -- monoclinic cells with the unique axis normal to the zone, orthorhombic ones
  // on rectangular zones -- a line is taken as t (or as 2t) of a primitive cell, or as the
  // 2t of a centred one whose lattice adds (p + t) / 2, (q + t) / 2 or (p + q + t) / 2: the
  // reflection conditions of C-centred monoclinic and of A, B, C, I, F orthorhombic cells
  // in the axes where the zone is the one the lines show (the only half-points a 2-D
  // lattice has modulo 2). In the axes (p/2 or p, q/2 or q, t/2) such a cell reads as an
  // A-, B- or F-centred one. With t oblique to the zone, D and E (its cross terms with the
  // zone's axes) come from lines of the zones (0kl) and (h0l): one of them nonzero on a
  // rectangular zone gives the monoclinic cells with the unique axis in the zone, all
  // three cross terms the triclinic ones.
  std::vector<Zone> zone_cache;
  void from_zones(bool triclinic, bool rhombic = false) {
    // Glide planes and screw axes halve a zone's lines, which lowers its rank: the
    // monoclinic search goes deep into the list (its budget bounds the work).
    if (zone_cache.empty()) zone_cache = zones(std::numeric_limits<size_t>::max());
    std::vector<size_t> order;
    if (rhombic) {
      // The rhombic zones (Q1 = Q2) of C-centred monoclinic cells, from anywhere in the
      // list, in a stage of their own: their lines are few among the first twenty
      // (diopside's hk0 zone has four: 020, 220, 310, 330), so their merit ranks them
      // past a thousand chance zones, where the monoclinic budget never reaches.
      for (size_t zi = 0; zi < zone_cache.size() && order.size() < kRhombicZones; ++zi)
        if (zone_cache[zi].rhombic()) order.push_back(zi);
    } else {
      for (size_t zi = 0; zi < std::min(zone_cache.size(), size_t(triclinic ? 50 : 400)); ++zi) order.push_back(zi);
    }
    for (size_t zi : order) {
      const Zone& z = zone_cache[zi];
      const double A = z.q1, B = z.q2, F = z.r;
      const bool oblique = F != 0;
      if (!triclinic && oblique && opt.lowest_system < 3) continue;
      // C-centred monoclinic with the unique axis in the zone: the primitive reciprocal
      // axes (110)* and (1-10)* span a rhombic zone (Q1 = Q2) and make equal angles with
      // c*, so D = +-E; c* often comes late, as 002, hence all the lines.
      if (!triclinic && z.rhombic())
        for (int m = 0; m < L.n_score; ++m)
          for (int n = 1; n <= (rhombic ? 6 : 2); ++n) {
            if (time_up()) return;
            // n = 1, 2: the line is 00l (or 00l/2); in the rhombic stage also n = 3..6: the
            // line is (1 -+1 l), l = 1, 2, whose cross terms cancel (D = +-E), so that
            // C = (Q - Q_zone(1, -+1)) / l^2 when no 00l line is seen (A2/a's 200 is weak)
            const int l = n <= 2 ? n : 1 + (n - 3) % 2;
            const double in_zone = n <= 2 ? 0.0 : A + B + (n <= 4 ? -F : F);
            const double C = (lq.q[size_t(m)] - in_zone) / (l * l);
            if (!(C > 0.02 * lq.q[size_t(m)])) continue;
            for (double d : cross_terms(B, C, false, 5)) {
              if (d == 0) continue;
              consider(gs_of({A, B, C, d, d, F}), Form::Triclinic, 'P', z.lines);
              consider(gs_of({A, B, C, d, -d, F}), Form::Triclinic, 'P', z.lines);
            }
          }
      const int nc = std::min(12, L.n);
      for (int m = 0; m < nc; ++m) {
        if (time_up()) return;
        const double Q = lq.q[size_t(m)];
        if (!triclinic) {
          const Form f = oblique ? Form::MonoclinicC : Form::Orthorhombic;
          consider(gs_of({A, B, Q, 0, 0, F}), f, 'P', z.lines);
          consider(gs_of({A, B, Q / 4, 0, 0, F}), f, 'P', z.lines);
          consider(gs_of({A / 4, B, Q / 4, 0, 0, F / 2}), f, 'B');
          consider(gs_of({A, B / 4, Q / 4, 0, 0, F / 2}), f, 'A');
          consider(gs_of({A / 4, B / 4, Q / 4, 0, 0, F / 4}), f, 'F');
          // When the axial lines (00l) are absent (screw axes) or late, a general line
          // taken as (h k 1) or (h k 2) gives C = (Q - Q_zone(h, k)) / l^2 (Ito's way to
          // the third axis); a few low zone points (h k) suffice.
          for (int l = 1; l <= 2; ++l)
            for (int h = 0; h <= 2; ++h)
              for (int k = (h == 0 ? 1 : -2); k <= 2; ++k) {
                const double c = (Q - (A * h * h + B * k * k + F * h * k)) / (l * l);
                if (c > 0.02 * Q) consider(gs_of({A, B, c, 0, 0, F}), f, 'P', z.lines);
              }
          if (oblique) continue;
        }
        if (!triclinic && opt.lowest_system < 3) continue;
        for (int n = 1; n <= 2; ++n) {
          const double C = Q / (n * n);
          const std::vector<double> ds = cross_terms(B, C, false, 5);
          const std::vector<double> es = cross_terms(A, C, true, 5);
          for (double d : ds)
            for (double e : es) {
              const int n_cross = (d != 0) + (e != 0) + oblique;
              if (triclinic ? n_cross <= 1 : n_cross != 1) continue;
              if (time_up()) return;
              consider(gs_of({A, B, C, d, e, F}), Form::Triclinic, 'P', z.lines);
            }
        }
      }
    }
  }

  // The two stages below visit the lines m among the first twelve that are not in a zone,
  // over the first kRectangularZones rectangular zones; visit(zone, m) returns false to stop.
  template <typename Visit>
  void general_lines_of_rectangular_zones(Visit&& visit) {
    if (zone_cache.empty()) zone_cache = zones(std::numeric_limits<size_t>::max());
    size_t visited = 0;
    for (size_t zi = 0; zi < zone_cache.size() && visited < kRectangularZones; ++zi) {
      const Zone& z = zone_cache[zi];
      if (z.r != 0) continue;
      ++visited;
      for (int m = 0; m < std::min(12, L.n); ++m)
        if (!(z.lines >> m & 1u) && !visit(z, m)) return;
    }
  }
  // A monoclinic trial on a rectangular zone: the third axis C coupled to the zone's first
  // (coupled_axis 0: cross term E) or second axis (1: D) by a reduced cross term x.
  void consider_monoclinic(const Zone& z, double C, int coupled_axis, double x) {
    if (!reduced_cross_term(x, std::min(coupled_axis == 0 ? z.q1 : z.q2, C))) return;
    consider(gs_of({z.q1, z.q2, C, coupled_axis == 1 ? x : 0.0, coupled_axis == 0 ? x : 0.0, 0}), Form::Triclinic,
             'P', z.lines);
  }

  // Monoclinic cells with the unique axis in a rectangular zone whose third reciprocal axis
  // has no axial line among the first twelve (a glide plane removes h00 with h odd and 200
  // comes late: P2_1/a's a* in its zone (0kl), say). C comes from a general line taken as
  // (k 0 1) or (0 k 1) in the zone's axes and the third: its index on the zone axis the
  // third couples to is zero, so the cross term drops out and C = Q - k^2 Q(uncoupled axis).
  // The cross term then comes from a line taken as (1 1), (1 2) or (2 1) of the zone that
  // axis and the third span, each value tried as it comes (the zone counts of cross_terms
  // would cost more than the trials, C being new for every line).
  void rectangular_zones_third_axis_from_general_lines() {
    general_lines_of_rectangular_zones([&](const Zone& z, int m) {
      const double Q = lq.q[size_t(m)];
      for (int coupled_axis = 0; coupled_axis < 2; ++coupled_axis)
        for (int k = 1; k <= 2; ++k) {
          const double coupled = coupled_axis == 0 ? z.q1 : z.q2, uncoupled = coupled_axis == 0 ? z.q2 : z.q1;
          const double C = Q - k * k * uncoupled;
          if (!(C > 0.02 * Q)) continue;
          for (int t = 0; t < L.n_score; ++t)
            for (const auto& hl : kZoneIndices) {
              if (time_up()) return false;
              consider_monoclinic(z, C, coupled_axis,
                                  std::abs(lq.q[size_t(t)] - hl[0] * hl[0] * coupled - hl[1] * hl[1] * C) / (hl[0] * hl[1]));
            }
        }
      return true;
    });
  }

  // Monoclinic cells with the unique axis in a rectangular zone whose cross term shows in no
  // line of the zone that the third axis spans with the axis it couples to (P2_1/c with a
  // long c: h0l absent for odd l, 10-2 and 102 weak): C from a line taken as (001) or (002)
  // of the third axis, the cross term from a general line taken as (k l 1), k = 1, 2 on the
  // uncoupled zone axis and l = 1, 2 on the coupled one: x = (Q - C - k^2 Q_u - l^2 Q_c) / l.
  void rectangular_zones_cross_term_from_general_lines() {
    general_lines_of_rectangular_zones([&](const Zone& z, int m) {
      for (int n = 1; n <= 2; ++n) {
        const double C = lq.q[size_t(m)] / (n * n);
        for (int coupled_axis = 0; coupled_axis < 2; ++coupled_axis) {
          const double coupled = coupled_axis == 0 ? z.q1 : z.q2, uncoupled = coupled_axis == 0 ? z.q2 : z.q1;
          for (int t = 0; t < L.n_score; ++t) {
            if (z.lines >> t & 1u) continue;
            for (int k = 1; k <= 2; ++k)
              for (int l = 1; l <= 2; ++l) {
                if (time_up()) return false;
                consider_monoclinic(z, C, coupled_axis,
                                    std::abs(lq.q[size_t(t)] - C - k * k * uncoupled - l * l * coupled) / l);
              }
          }
        }
      }
      return true;
    });
  }
};

// ---------------------------------------------------------------------------------------
// A candidate cell all the way to a solution.

struct Candidate {
  IndexingSolution sol;
  Matrix3d niggli_g;
  std::vector<char> indexed;  // per line used
};

// Reciprocal sublattices: when every indexed line has indices with p . h = 0 (mod m), the
// reciprocal lattice is thinner and the direct cell m times smaller (a centred or doubled
// trial cell). Returns the new G* (rows of B: a basis of that sublattice).
Matrix3d thinned(const Matrix3d& gs, const Vec3i& p, int mod) {
  int i = 0;
  while (std::abs(p[size_t(i)]) != 1) ++i;
  Eigen::Matrix3d B = Eigen::Matrix3d::Zero();
  int row = 0;
  B(row++, i) = mod;
  for (int j = 0; j < 3; ++j) {
    if (j == i) continue;
    B(row, j) = 1;
    B(row, i) = -p[size_t(j)] * p[size_t(i)];
    ++row;
  }
  return B * gs * B.transpose();
}

std::vector<Matrix3d> sublattices(const Matrix3d& gs, const Lines& L, const LineQ& lq, double tol) {
  static const Vec3i p2[] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 1, 0}, {1, 0, 1}, {0, 1, 1}, {1, 1, 1}};
  // the 13 directions mod 3 up to sign (the hexagonal sqrt(3) cells need (1, -1, 0), ...)
  static const Vec3i p3[] = {{1, 0, 0},  {0, 1, 0},  {0, 0, 1},  {1, 1, 0},  {1, -1, 0}, {1, 0, 1},  {1, 0, -1},
                             {0, 1, 1},  {0, 1, -1}, {-1, 1, 1}, {1, -1, 1}, {1, 1, -1}, {1, 1, 1}};
  const ReflectionFinder finder(gs, gs.inverse());
  std::vector<std::vector<Vec3i>> matches(size_t(L.n));
  int n_indexed = 0;
  for (int i = 0; i < L.n; ++i) {
    finder.near(lq.q[size_t(i)], tol * lq.dq[size_t(i)], 'P', [&](const Vec3i& h, double) {
      matches[size_t(i)].push_back(h);
      return matches[size_t(i)].size() < 64;
    });
    n_indexed += !matches[size_t(i)].empty();
  }
  std::vector<Matrix3d> out;
  if (n_indexed < 3) return out;
  auto holds = [&](const Vec3i& p, int mod) {
    for (const auto& ms : matches) {
      if (ms.empty()) continue;
      bool ok = false;
      for (const Vec3i& h : ms)
        if (((p[0] * h[0] + p[1] * h[1] + p[2] * h[2]) % mod + mod) % mod == 0) { ok = true; break; }
      if (!ok) return false;
    }
    return true;
  };
  for (const Vec3i& p : p2)
    if (holds(p, 2)) out.push_back(thinned(gs, p, 2));
  for (const Vec3i& p : p3)
    if (holds(p, 3)) out.push_back(thinned(gs, p, 3));
  return out;
}

// Superstructures: a cell that leaves some of the first lines unindexed may be the subcell
// of a superstructure whose extra reflections are weak (a pseudo-symmetric arrangement of
// heavy atoms; the classic trap of indexing, Shirley, The CRYSFIRE System (2002), and why
// DICVOL04 re-examines unindexed lines, Boultif & Louer, J. Appl. Cryst. 37 (2004) 724).
// Every direct sublattice of index 2, 3 or 4 of the reduced cell -- rows of the Hermite
// normal forms H of that determinant, g' = H g H^T: 7, 13 and 35 of them -- is tried on the
// lines left over, and those indexing all of them are returned (the smallest only: an index-4
// lattice inside a successful index-2 one indexes the same lines with more calculated ones).
constexpr double kSuperlatticesTried = 55;  // index 2, 3 and 4: 7 + 13 + 35
std::vector<Matrix3d> superlattices(const Matrix3d& g, const std::vector<double>& q_left, const std::vector<double>& tol_left) {
  std::vector<Matrix3d> out;
  std::vector<Eigen::Matrix3d> found;  // the H of the lattices returned
  if (q_left.empty()) return out;
  for (int n = 2; n <= 4; ++n)
    for (int a = 1; a <= n; ++a)
      for (int c = 1; c <= n; ++c) {
        if (n % (a * c) != 0) continue;
        const int f = n / (a * c);
        // lower-triangular Hermite normal form: each off-diagonal entry reduced modulo the
        // diagonal entry of its column
        for (int b = 0; b < a; ++b)
          for (int d = 0; d < a; ++d)
            for (int e = 0; e < c; ++e) {
              Eigen::Matrix3d H;
              H << a, 0, 0, b, c, 0, d, e, f;
              bool inside = false;  // a sublattice of one already found
              for (const Eigen::Matrix3d& F : found) {
                const Eigen::Matrix3d r = H * F.inverse();
                inside = inside || (r.array() - r.array().round()).abs().maxCoeff() < 1e-9;
              }
              if (inside) continue;
              const Matrix3d gp = H * g * H.transpose();
              const Matrix3d gsp = gp.inverse();
              const ReflectionFinder finder(gsp, gp);
              bool all = true;
              for (size_t i = 0; i < q_left.size() && all; ++i) all = finder.indexes(q_left[i], tol_left[i]);
              if (!all) continue;
              found.push_back(H);
              out.push_back(gsp);
            }
      }
  return out;
}

// Final indexing in the conventional cell with the lattice's centring: hkl, figures of merit.
bool evaluate(const Matrix3d& gs, double zero, const Conventional& conv, const Lines& L, const IndexingOptions& opt,
              Candidate& cand) {
  const LineQ lq = line_q(L, zero);
  const ReflectionFinder finder(gs, gs.inverse());
  IndexingSolution& s = cand.sol;
  s.lines.clear(); s.unindexed.clear();
  cand.indexed.assign(size_t(L.n), 0);
  std::vector<double> q_obs, q_c, d_tt;
  for (int i = 0; i < L.n; ++i) {
    Vec3i h; double qc;
    if (finder.nearest(lq.q[size_t(i)], opt.tolerance * lq.dq[size_t(i)], conv.centring, h, qc)) {
      // A readable representative of +-hkl: more positive indices first.
      if ((h[0] < 0) + (h[1] < 0) + (h[2] < 0) > (h[0] > 0) + (h[1] > 0) + (h[2] > 0)) h = neg(h);
      const double tc = two_theta_of(qc, L.lambda);
      s.lines.push_back(IndexedLine{h, L.tt[size_t(i)] - zero, tc, 1 / std::sqrt(lq.q[size_t(i)]), 1 / std::sqrt(qc)});
      q_obs.push_back(lq.q[size_t(i)]); q_c.push_back(qc); d_tt.push_back(std::abs(L.tt[size_t(i)] - zero - tc));
      cand.indexed[size_t(i)] = 1;
    } else {
      s.unindexed.push_back(L.tt[size_t(i)]);
    }
  }
  const int n = int(q_obs.size());
  // Enough lines to pin the cell: at least two per lattice parameter and one more, else a
  // low-symmetry cell fits anything (three for cubic: the ratios of fcc nickel's 111, 200,
  // 220 are cubic F and nothing else with edges above kMinLength).
  const int n_par = int(basis_of(conv.form).size());
  if (n < std::max(3, 2 * n_par + 1)) return false;
  // de Wolff M(N): Q_N / (2 <|dQ|> N_calc), over the first N = min(20, indexed) lines.
  const int n20 = std::min(20, n);
  double eps = 0;
  for (int i = 0; i < n20; ++i) eps += std::abs(q_obs[size_t(i)] - q_c[size_t(i)]);
  eps = std::max(eps / n20, 1e-7);
  const double q_last = std::max(q_obs.back(), q_c.back());
  const std::vector<double> calc = all_q(gs, conv.centring, q_last * 1.001 + 1e-9);
  const int n_calc20 = std::max(1, n_distinct(calc, std::max(q_obs[size_t(n20 - 1)], q_c[size_t(n20 - 1)])));
  s.m20 = std::max(q_obs[size_t(n20 - 1)], q_c[size_t(n20 - 1)]) / (2 * eps * n_calc20);
  s.m20_n = n20;
  // Smith & Snyder F_N over all the lines used (N observed up to the last, 30 at most).
  const int nf = std::min(L.n, 30);
  double sum = 0; int cnt = 0;
  const double q_nf = lq.q[size_t(nf - 1)];
  for (int i = 0; i < n; ++i)
    if (q_obs[size_t(i)] <= q_nf * (1 + 1e-12)) { sum += d_tt[size_t(i)]; ++cnt; }
  const int n_poss = std::max(1, n_distinct(calc, q_nf));
  s.f_n_mean_delta = cnt ? sum / cnt : 0;
  s.f_n = cnt ? (double(nf) / n_poss) / std::max(s.f_n_mean_delta, 1e-5) : 0;
  s.f_n_n = nf; s.f_n_n_possible = n_poss;
  s.n_indexed = n; s.n_lines = L.n;
  s.zero_shift = zero;
  const int first = std::min(20, L.n);
  int idx_first = 0;
  for (int i = 0; i < first; ++i) idx_first += cand.indexed[size_t(i)];
  const double share = double(idx_first) / first;
  // Ranking: M20 with the mean discrepancy scaled up for the parameters fitted to the same
  // lines ((n / (n - p))^1.5: the unbiased residual's sqrt(n / (n - p)), and more for the
  // discrete choice of indices that also bends to the noise when lines are few), times the share of
  // the first lines indexed to the fourth power (one impurity costs 19 %, two 34 %).
  // The mean discrepancy counts only above the positions' own precision (added in quadrature,
  // kPrecisionOfTolerance of the tolerance, about the fitted peaks' standard uncertainty):
  // below it M20 rewards whichever cell bends furthest to the peaks' errors, and a smaller
  // orthorhombic cell whose lines happen to contain those of a cubic F one (spinel's ten lines)
  // outranks the cubic cell by fitting its sample-displacement shifts to 0.0008 deg.
  double precision = 0;
  for (int i = 0; i < n20; ++i) precision += kPrecisionOfTolerance * opt.tolerance * dq_dtt(two_theta_of(q_obs[size_t(i)], L.lambda), L.lambda);
  precision /= n20;
  const double m20_above_precision = s.m20 * eps / std::sqrt(eps * eps + precision * precision);
  const int p_fit = n_par + (opt.refine_zero ? 1 : 0);
  const double bias = std::pow(double(n20) / std::max(1, n20 - p_fit), 1.5);
  // Among cells that index the same lines about as well, the one of higher symmetry is the
  // crystallographer's choice (a lower-symmetry cell fits noise with its extra parameters
  // and its freer choice of indices): each constraint on the metric counts kSymmetryBonus.
  s.score = m20_above_precision / bias * std::pow(share, 4) * std::pow(kSymmetryBonus, 6 - n_par);
  return true;
}

// Best first: by score, and between equal scores (to 1e-8: the same calculated lines, as a
// primitive cubic cell a/sqrt(2) and the body-centred cell a have for bcc tungsten's four
// lines at Cu K-alpha) the cell with more room per lattice point, the one real structures
// have: bcc metals are common, while no crystal repeats in a simple cubic cell of 2.2-2.4 Å.
bool ranks_before(const Candidate& a, const Candidate& b) {
  const auto key = [](double score) {
    if (!(score > 0)) return std::numeric_limits<long long>::min();
    return std::isfinite(score) ? std::llround(std::log(score) * 1e8) : std::numeric_limits<long long>::max();
  };
  const auto room = [](const IndexingSolution& s) { return s.volume / lattice_points(s.lattice.size() > 1 ? s.lattice[1] : 'P'); };
  const long long ka = key(a.sol.score), kb = key(b.sol.score);
  return ka != kb ? ka > kb : room(a.sol) > room(b.sol);
}

bool solve_candidate(const Trial& t, const Lines& L, const IndexingOptions& opt, Candidate& out, double zero0,
                     std::vector<Matrix3d>* subs, bool prerefine = true) {
  // 1. Refine the trial cell in its own parametrisation, tolerances shrinking as it converges
  //    (not the primitive cells of refined centred ones: their symmetry is found next and
  //    refined with its constraints, which few lines can support where six parameters can't).
  const double st = opt.search_tolerance;
  const std::vector<double> from_trial = {2 * st, st, std::max(opt.tolerance, st / 2), opt.tolerance};
  const std::vector<double> from_refined = {opt.tolerance * 1.5, opt.tolerance};
  Fit fit;
  if (prerefine) {
    fit = refine(t.gs, zero0, t.form, t.centring, L, opt, from_trial);
    if (!fit.ok) return false;
  } else {
    fit.gs = t.gs; fit.zero = zero0; fit.ok = true;
  }
  fit.gs = primitive_gs(fit.gs, t.centring);
  out.sol.zero_shift = fit.zero;  // the sublattices below start from it
  if (subs) *subs = sublattices(fit.gs, L, line_q(L, fit.zero), opt.tolerance);
  // 2. Reduce, find the lattice and its conventional cell.
  const Matrix3d g = fit.gs.inverse();
  const Matrix3d gn = niggli(g);
  // 3. Refine with the lattice's constraints in the conventional cell.
  auto constrained = [&](const Conventional& conv, Candidate& c, bool from_afar) {
    Matrix3d gs_c = conv.g.inverse();
    // a lattice of the looser tests starts from a metric symmetrized by up to a degree or
    // so, whose lines may stand beyond the final tolerance: it is refined as a trial cell is
    Fit fc = refine(gs_c, fit.zero, conv.form, conv.centring, L, opt, from_afar ? from_trial : from_refined);
    if (!fc.ok) return false;
    const Matrix3d gc = symmetrize(fc.gs.inverse(), conv.form);
    if (!evaluate(gc.inverse(), fc.zero, conv, L, opt, c)) return false;
    IndexingSolution& s = c.sol;
    s.cell = cell_of(gc);
    s.lattice = conv.lattice;
    s.crystal_system = system_name(conv.lattice);
    s.volume = std::sqrt(gc.determinant());
    // The reduced cell of the refined conventional one (the centring's primitive cell).
    Mat3i P = conv.M;  // conventional rows in the reduced basis -> reduced = M^-1 conventional
    Eigen::Matrix3d m;
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) m(i, j) = P[size_t(i)][size_t(j)];
    const Eigen::Matrix3d minv = m.inverse();
    c.niggli_g = niggli(minv * gc * minv.transpose());
    s.niggli_cell = cell_of(c.niggli_g);
    return s.niggli_cell[0] >= kMinLength;
  };
  const Conventional strict = conventional_cell(gn, kMetricTolerance);
  bool ok = constrained(strict, out, false);
  // A cell refined with more freedom than its lattice has bends its metric towards the
  // errors of the line positions and the lines it indexes wrongly: a C-centred monoclinic
  // mineral's reduced cell off by a degree from 2/m on a measured pattern, found triclinic by
  // the strict test above. The lattices of the looser metric tests are refined with their
  // constraints too, and the score (which counts each constraint) chooses: a cell that
  // really is of lower symmetry leaves lines unindexed when constrained.
  std::string tried = strict.lattice;
  for (const double tolerance : kLooserMetricTolerances) {
    if (tolerance > opt.metric_tolerance + 1e-12) break;
    const Conventional looser = conventional_cell(gn, tolerance);
    if (looser.lattice == tried || basis_of(looser.form).size() >= basis_of(strict.form).size()) continue;
    tried = looser.lattice;
    Candidate c;
    c.sol.zero_shift = fit.zero;
    const bool c_ok = constrained(looser, c, true);
    if (c_ok && std::getenv("XRDFAST_INDEX_DEBUG"))
      std::fprintf(stderr, "metric within %.3f: %s score %.2f (M20 %.1f, %d lines) against %s %.2f\n", tolerance,
                   looser.lattice.c_str(), c.sol.score, c.sol.m20, c.sol.n_indexed, strict.lattice.c_str(),
                   ok ? out.sol.score : 0.0);
    if (c_ok && (!ok || c.sol.score > out.sol.score)) {
      out = std::move(c);
      ok = true;
    }
  }
  return ok;
}

bool same_lattice(const Matrix3d& g1, const Matrix3d& g2) {
  const auto a = cell_of(g1), b = cell_of(g2);
  for (int i = 0; i < 3; ++i)
    if (std::abs(a[size_t(i)] - b[size_t(i)]) > 0.003 * a[size_t(i)]) return false;
  for (int i = 3; i < 6; ++i)
    if (std::abs(a[size_t(i)] - b[size_t(i)]) > 0.3) return false;
  return true;
}

// Budgets of the stages, in line tests at effort 1 (about 0.1-0.2 us each on one core of
// 2020s hardware): enough for every trial cell of the cubic, tetragonal and hexagonal
// searches and for the first of the orthorhombic, zone and triclinic ones, so that a
// typical pattern takes well under 0.5 s whatever else the machine does.
constexpr double kBudgetCubic = 2e4, kBudgetUniaxial = 1.5e5, kBudgetOrthorhombic = 2e5, kBudgetMonoclinic = 4e5,
                 kBudgetRhombic = 1.5e5, kBudgetRectangular = 1.5e5, kBudgetTriclinic = 3e5;

// One search at positions corrected by `offset` (deg 2theta): trial cells from cubic down,
// each stage within its budget of work, then the best trials of each refined to solutions.
// Returns false when the wall-clock safety net was hit.
template <typename Add, typename Done>
bool search_pass(const Lines& L, const IndexingOptions& opt, Clock::time_point deadline, double offset, bool low,
                 Clock::time_point start, Add&& add_solution, Done&& convincing) {
  Search S(L, opt, deadline, offset);
  // The best trials of a search (one per cell: the same G* comes from other lines and
  // indices) are refined to solutions at once, so that a convincing high-symmetry cell can
  // spare the monoclinic and triclinic searches.
  auto run = [&](double budget, auto&& stage) {
    S.trials.clear();
    if (S.timed_out) return;
    S.begin_stage(budget);
    stage();
    std::sort(S.trials.begin(), S.trials.end(), [](const Trial& a, const Trial& b) {
      return a.hits != b.hits ? a.hits > b.hits : a.volume < b.volume;
    });
    std::vector<Trial> kept;
    for (const Trial& t : S.trials) {
      bool dup = false;
      for (const Trial& k : kept)
        if (t.centring == k.centring && (t.gs - k.gs).cwiseAbs().maxCoeff() < 2e-4 * t.gs.diagonal().maxCoeff()) {
          dup = true;
          break;
        }
      if (!dup) kept.push_back(t);
      if (kept.size() >= 12) break;
    }
    if (std::getenv("XRDFAST_INDEX_DEBUG"))
      std::fprintf(stderr, "search at %+.2f: %zu trials passed, %.3f s, work %ld%s\n", offset, S.trials.size(),
                   std::chrono::duration<double>(Clock::now() - start).count(), S.work,
                   S.out_of_budget ? " (budget spent)" : "");
    for (const Trial& t : kept) {
      Candidate c;
      std::vector<Matrix3d> subs;
      if (solve_candidate(t, L, opt, c, offset, &subs)) add_solution(std::move(c));
      // centred or doubled trial cells: their primitive sublattice cells (two levels: F)
      for (int level = 0; level < 2 && !subs.empty(); ++level) {
        std::vector<Matrix3d> next;
        for (const Matrix3d& gs : subs) {
          Candidate cs;
          std::vector<Matrix3d> more;
          if (solve_candidate(Trial{gs, Form::Triclinic, 0, 0}, L, opt, cs, c.sol.zero_shift, level == 0 ? &more : nullptr,
                              false))
            add_solution(std::move(cs));
          for (const Matrix3d& x : more) if (next.size() < 4) next.push_back(x);
        }
        subs = next;
      }
    }
  };
  if (!low) {
    run(kBudgetCubic, [&] { S.cubic(); });
    if (opt.lowest_system >= 1) {
      run(kBudgetUniaxial, [&] { S.uniaxial(false); });
      run(kBudgetUniaxial, [&] { S.uniaxial(true); });
    }
    if (opt.lowest_system >= 2) run(kBudgetOrthorhombic, [&] { S.orthorhombic(); });
  } else {
    // orthorhombic cells on rectangular zones and monoclinic ones come from the same zones
    if (opt.lowest_system >= 2 && !convincing()) run(kBudgetMonoclinic, [&] { S.from_zones(false); });
    if (opt.lowest_system >= 3 && !convincing()) run(kBudgetRhombic, [&] { S.from_zones(false, true); });
    if (opt.lowest_system >= 3 && !convincing())
      run(kBudgetRectangular, [&] { S.rectangular_zones_third_axis_from_general_lines(); });
    if (opt.lowest_system >= 3 && !convincing())
      run(kBudgetRectangular, [&] { S.rectangular_zones_cross_term_from_general_lines(); });
    if (opt.lowest_system >= 4 && !convincing()) run(kBudgetTriclinic, [&] { S.from_zones(true); });
  }
  return !S.timed_out;
}

}  // namespace

std::array<double, 6> niggli_reduce(const std::array<double, 6>& cell) { return cell_of(niggli(metric_of(cell))); }

LatticeType bravais_lattice(const std::array<double, 6>& cell, double tolerance) {
  const Conventional c = conventional_cell(niggli(metric_of(cell)), tolerance);
  return LatticeType{c.lattice, cell_of(c.g)};
}

std::vector<IndexingSolution> index_powder(const std::vector<double>& two_theta, const std::vector<double>& height,
                                           const IndexingOptions& opt, IndexingReport* report) {
  const auto start = Clock::now();
  if (!(opt.wavelength > 0) || !std::isfinite(opt.wavelength))
    throw std::invalid_argument("index: wavelength must be a positive number of Å, got " + number_text(opt.wavelength));
  if (report) *report = IndexingReport{};
  if (opt.max_lines < 4 || opt.top < 1 || !(opt.time_limit > 0) || !(opt.effort > 0) || !(opt.tolerance > 0) || !(opt.search_tolerance > 0) ||
      opt.max_impurities < 0 || !(opt.max_volume > 0))
    throw std::invalid_argument(
        "index: max_lines >= 4, top >= 1 and positive time_limit, effort, tolerances and max_volume are required");
  if (!height.empty() && height.size() != two_theta.size())
    throw std::invalid_argument("index: " + std::to_string(height.size()) + " heights for " +
                                std::to_string(two_theta.size()) + " line positions");
  for (double t : two_theta)
    if (!std::isfinite(t)) throw std::invalid_argument("index: line positions must be finite (got a NaN or infinity)");
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.time_limit));

  // The lines: inside (0, 180) deg, sorted, near-duplicates merged; when there are many,
  // the weakest are dropped before the lowest-angle max_lines are taken.
  std::vector<std::pair<double, double>> lines;
  for (size_t i = 0; i < two_theta.size(); ++i)
    if (two_theta[i] > 0 && two_theta[i] < 180) lines.push_back({two_theta[i], height.empty() ? 1.0 : height[i]});
  std::sort(lines.begin(), lines.end());
  std::vector<std::pair<double, double>> merged;
  for (const auto& l : lines)
    if (!merged.empty() && l.first - merged.back().first < 0.005) merged.back().second = std::max(merged.back().second, l.second);
    else merged.push_back(l);
  if (!height.empty() && int(merged.size()) > opt.max_lines) {
    double hmax = 0;
    for (const auto& l : merged) hmax = std::max(hmax, l.second);
    std::vector<std::pair<double, double>> kept;
    for (const auto& l : merged)
      if (l.second >= 0.01 * hmax) kept.push_back(l);
    if (int(kept.size()) >= opt.max_lines) merged = kept;
  }
  Lines L;
  L.lambda = opt.wavelength;
  for (const auto& l : merged) {
    if (int(L.tt.size()) >= opt.max_lines) break;
    L.tt.push_back(l.first); L.height.push_back(l.second);
  }
  L.n = int(L.tt.size());
  L.n_score = std::min(L.n, 20);  // at most 32: a zone keeps its lines as bits of a 32-bit word
  if (L.n < 3) return {};

  // Searches from cubic down, each within the one time cap; the trial cells that index the
  // first lines go on to refinement, the best of each search first.
  std::vector<Candidate> cands;
  auto add_solution = [&](Candidate&& c) {
    if (!(c.sol.m20 > 0) || !std::isfinite(c.sol.m20)) return;
    for (Candidate& o : cands)
      if (same_lattice(o.niggli_g, c.niggli_g)) {
        if (c.sol.score > o.sol.score) o = std::move(c);
        return;
      }
    cands.push_back(std::move(c));
  };
  // A zero shift (or a sample displacement, nearly constant at low angles) beyond the search
  // tolerance hides the trial cells, whose base lines carry it too: unless a convincing cell
  // has been found, the search runs again on positions corrected by +-0.1 deg, and the
  // refinement takes it from there. The monoclinic and triclinic searches likewise run only
  // while no convincing cell has been found.
  auto convincing = [&] {
    for (const Candidate& c : cands) {
      int miss = 0;
      for (int i = 0; i < L.n_score; ++i) miss += !c.indexed[size_t(i)];
      // and not a large cell that fits by the density of its lines (at most two calculated
      // lines per observed one)
      if (c.sol.m20 >= 20 && miss <= 1 && c.sol.f_n_n_possible <= 2 * c.sol.f_n_n) return true;
    }
    return false;
  };
  // The cheap high-symmetry searches at all three offsets first, then the low ones.
  bool complete = true;
  for (bool low : {false, true})
    for (double offset : {0.0, 0.1, -0.1}) {
      if (!complete || (offset != 0.0 && (!opt.refine_zero || convincing()))) break;
      complete = search_pass(L, opt, deadline, offset, low, start, add_solution, convincing);
    }
  if (report) report->timed_out = !complete;

  if (std::getenv("XRDFAST_INDEX_DEBUG"))
    std::fprintf(stderr, "refined %zu solutions, %.3f s\n", cands.size(), std::chrono::duration<double>(Clock::now() - start).count());
  std::sort(cands.begin(), cands.end(), ranks_before);
  // The superstructures of the best cells that leave some of the first lines over.
  const size_t n_parents = opt.superstructure_chance > 0 ? std::min<size_t>(cands.size(), 3) : 0;
  std::vector<Candidate> parents(cands.begin(), cands.begin() + long(n_parents));  // add_solution grows cands
  for (const Candidate& c : parents) {
    const LineQ lq = line_q(L, c.sol.zero_shift);
    std::vector<double> q_left, tol_left;
    for (int i = 0; i < L.n_score; ++i)
      if (!c.indexed[size_t(i)]) { q_left.push_back(lq.q[size_t(i)]); tol_left.push_back(opt.tolerance * lq.dq[size_t(i)]); }
    if (q_left.empty() || int(q_left.size()) > opt.max_impurities + 1) continue;
    for (const Matrix3d& gs : superlattices(c.niggli_g, q_left, tol_left)) {
      Candidate cs;
      if (!solve_candidate(Trial{gs, Form::Triclinic, 0, 0}, L, opt, cs, c.sol.zero_shift, nullptr, false)) continue;
      // Beyond chance: a line falls within |d2theta| of one of the superstructure's lines
      // with probability 2 |dQ| rho(Q), rho the density of its calculated lines (N grows as
      // Q^(3/2)), each |d2theta| at least half the mean of its indexed lines (no credit for
      // luck); with all kSuperlatticesTried lattices of each of the parents tried, the superstructure
      // takes its subcell's place when the chance that one of them explains the lines left
      // over as well is below options.superstructure_chance, and its M20 stays convincing.
      double chance = kSuperlatticesTried * double(n_parents);
      const double q_n = q_of(L.tt[size_t(std::min(L.n, 30) - 1)] - cs.sol.zero_shift, L.lambda);
      int explained = 0;
      size_t k = 0;  // cs.sol.lines holds the indexed lines in the order of L
      for (int i = 0; i < L.n_score; ++i) {
        if (!cs.indexed[size_t(i)]) continue;
        const IndexedLine& line = cs.sol.lines[k++];
        if (c.indexed[size_t(i)]) continue;
        const double dtt = std::max(std::abs(line.two_theta_obs - line.two_theta_calc), 0.5 * cs.sol.f_n_mean_delta);
        const double q = q_of(line.two_theta_obs, L.lambda);
        const double rho = 1.5 * cs.sol.f_n_n_possible / q_n * std::sqrt(q / q_n);
        chance *= std::min(1.0, 2 * dtt * dq_dtt(line.two_theta_obs, L.lambda) * rho);
        ++explained;
      }
      // Only within the subcell's crystal system: a superstructure of lower metric symmetry
      // has far more lattices and line positions to explain a stray line with (the
      // triclinic index-4 cells that "explain" two of forsterite's weak lines), which the
      // chance above does not count.
      cs.sol.superstructure = explained == int(q_left.size()) && cs.sol.m20 >= 20 && chance < opt.superstructure_chance &&
                              cs.sol.crystal_system == c.sol.crystal_system;
      if (std::getenv("XRDFAST_INDEX_DEBUG"))
        std::fprintf(stderr, "superstructure of %s M20 %.1f: %s M20 %.1f score %.1f -> %.1f, %d/%d, chance %.2g\n",
                     c.sol.lattice.c_str(), c.sol.m20, cs.sol.lattice.c_str(), cs.sol.m20, c.sol.score, cs.sol.score,
                     cs.sol.n_indexed, cs.sol.n_lines, chance);
      if (cs.sol.superstructure) cs.sol.score = std::max(cs.sol.score, c.sol.score * 1.001);
      add_solution(std::move(cs));
    }
  }
  std::sort(cands.begin(), cands.end(), ranks_before);
  std::vector<IndexingSolution> out;
  std::vector<double> volumes;  // reduced-cell volumes of the solutions kept
  for (size_t i = 0; i < cands.size() && int(out.size()) < opt.top; ++i) {
    IndexingSolution s = cands[i].sol;
    if (s.m20 < opt.min_m20) continue;
    // A worse solution whose reduced volume is a whole multiple (or fraction) of a better
    // one's is flagged as its supercell (subcell).
    const double v = std::sqrt(cands[i].niggli_g.determinant());
    for (size_t j = 0; j < out.size(); ++j) {
      const double r = v / volumes[j];
      if (r > 1.5 && std::abs(r - std::round(r)) < 0.01 * r) { s.related_to = int(j); s.relation = "supercell"; break; }
      if (r < 0.67 && std::abs(1 / r - std::round(1 / r)) < 0.01 / r) { s.related_to = int(j); s.relation = "subcell"; break; }
    }
    volumes.push_back(v);
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<std::vector<IndexingSolution>> index_powder_batch(const std::vector<std::vector<double>>& two_theta,
                                                              const std::vector<std::vector<double>>& height,
                                                              const IndexingOptions& options, int n_threads,
                                                              std::vector<std::string>& errors,
                                                              std::vector<char>* timed_out,
                                                              const std::vector<double>& tolerances) {
  const long n = long(two_theta.size());
  if (!height.empty() && height.size() != two_theta.size())
    throw std::invalid_argument("index: " + std::to_string(height.size()) + " height lists for " + std::to_string(n) + " patterns");
  if (!tolerances.empty() && tolerances.size() != two_theta.size())
    throw std::invalid_argument("index: " + std::to_string(tolerances.size()) + " tolerances for " + std::to_string(n) + " patterns");
  std::vector<std::vector<IndexingSolution>> out(static_cast<size_t>(n));
  errors.assign(size_t(n), "");
  if (timed_out) timed_out->assign(size_t(n), 0);
#ifdef XRDFAST_OPENMP
  const int threads = n_threads > 0 ? n_threads : omp_get_max_threads();
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#else
  (void)n_threads;
#endif
  for (long i = 0; i < n; ++i) {
    try {
      IndexingReport report;
      IndexingOptions own = options;
      if (!tolerances.empty()) own.tolerance = tolerances[size_t(i)];
      out[size_t(i)] =
          index_powder(two_theta[size_t(i)], height.empty() ? std::vector<double>{} : height[size_t(i)], own, &report);
      if (timed_out) (*timed_out)[size_t(i)] = report.timed_out;
    } catch (const std::exception& e) {
      errors[size_t(i)] = e.what();
    }
  }
  return out;
}

}  // namespace xrdfast

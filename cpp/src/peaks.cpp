// Peak extraction: SNIP background, noise, detection and pseudo-Voigt fits (see peaks.hpp).
#include "xrdfast/peaks.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <Eigen/Dense>

#ifdef XRDFAST_OPENMP
#include <omp.h>
#endif

namespace xrdfast {

namespace {

constexpr double kDeg = M_PI / 180.0;
constexpr double kMadToSigma = 1.482602218505602;  // 1 / Phi^-1(3/4): MAD of a normal -> sigma
constexpr double kLlsScale = 1e4;  // the LLS transform is applied to data rescaled to 0..1e4 (counts-like)
constexpr std::size_t kSegment = 1024;  // points per noise / offset segment
constexpr std::size_t kMinPoints = 16;  // fewer points cannot hold a peak and its background

// LLS operator of Morhac & Matousek (2008), eq. 6, and its inverse.
inline double lls(double y) { return std::log(std::log(std::sqrt(y + 1.0) + 1.0) + 1.0); }
inline double lls_inverse(double v) {
  const double s = std::exp(std::exp(v) - 1.0) - 1.0;
  return s * s - 1.0;
}

// Median of v (reordered in place); v must not be empty.
double median_inplace(std::vector<double>& v) {
  const std::size_t m = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(m), v.end());
  return v[m];
}

// Straight line through the points (i, y[i]) for i in [lo, hi) by least squares, evaluated at x.
struct Line {
  double a = 0, b = 0;  // y = a + b x
};
Line fit_line(const double* y, std::ptrdiff_t lo, std::ptrdiff_t hi) {
  const double m = double(hi - lo);
  if (m < 2) return {y[lo], 0.0};
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (std::ptrdiff_t i = lo; i < hi; ++i) {
    const double x = double(i);
    sx += x; sy += y[i]; sxx += x * x; sxy += x * y[i];
  }
  const double den = m * sxx - sx * sx;
  const double b = den != 0 ? (m * sxy - sx * sy) / den : 0.0;
  return {(sy - b * sx) / m, b};
}

void check_input(const double* two_theta, const double* y, std::size_t n) {
  if (n < kMinPoints)
    throw std::invalid_argument("pattern has " + std::to_string(n) + " points; peak search needs at least " +
                                std::to_string(kMinPoints));
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(y[i]))
      throw std::invalid_argument("intensity at point " + std::to_string(i) + " is not finite (NaN or inf); "
                                  "remove or interpolate such points first");
    if (!std::isfinite(two_theta[i]))
      throw std::invalid_argument("2theta at point " + std::to_string(i) + " is not finite");
  }
  const double step = (two_theta[n - 1] - two_theta[0]) / double(n - 1);
  if (!(step > 0)) throw std::invalid_argument("2theta must increase");
  for (std::size_t i = 1; i < n; ++i)
    if (std::abs(two_theta[i] - two_theta[0] - double(i) * step) > 0.02 * step)
      throw std::invalid_argument("2theta grid is not uniform (point " + std::to_string(i) +
                                  " is off the mean step by more than 2 %); resample it first");
}

}  // namespace

double ka2_position(double tt1, double wavelength, double wavelength2) {
  const double s = wavelength2 / wavelength * std::sin(0.5 * tt1 * kDeg);
  if (!(s < 1.0)) return NAN;
  return 2.0 * std::asin(s) / kDeg;
}

void snip_background(const double* y, std::size_t n, int half_window, bool lls_transform, bool decreasing,
                     int smooth_half_window, double* out) {
  if (n == 0) return;
  const std::ptrdiff_t N = std::ptrdiff_t(n);
  // Points that cannot be clipped by a window wider than half the pattern add nothing.
  const std::ptrdiff_t w = std::max<std::ptrdiff_t>(1, std::min<std::ptrdiff_t>(half_window, (N - 1) / 2));
  // Optional moving average (prefix sums), then the LLS transform of rescaled data.
  std::vector<double> v(y, y + n);
  if (smooth_half_window > 0) {
    std::vector<double> prefix(n + 1, 0.0);
    for (std::size_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + y[i];
    const std::ptrdiff_t h = smooth_half_window;
    for (std::ptrdiff_t i = 0; i < N; ++i) {
      const std::ptrdiff_t lo = std::max<std::ptrdiff_t>(0, i - h), hi = std::min<std::ptrdiff_t>(N, i + h + 1);
      v[size_t(i)] = (prefix[size_t(hi)] - prefix[size_t(lo)]) / double(hi - lo);
    }
  }
  double lo = 0, scale = 1;
  if (lls_transform) {
    const auto [mn, mx] = std::minmax_element(v.begin(), v.end());
    lo = *mn;
    scale = *mx > *mn ? kLlsScale / (*mx - *mn) : 1.0;
    for (double& x : v) x = lls((x - lo) * scale);
  }
  // Pad both ends with the least-squares line through the last w points, extended w points.
  std::vector<double> a(n + 2 * size_t(w)), b;
  const Line left = fit_line(v.data(), 0, w), right = fit_line(v.data(), N - w, N);
  for (std::ptrdiff_t i = 0; i < w; ++i) {
    a[size_t(i)] = left.a + left.b * double(i - w);
    a[size_t(N + w + i)] = right.a + right.b * double(N + i);
  }
  std::copy(v.begin(), v.end(), a.begin() + w);
  b = a;
  // Second-order clipping: v_p(i) = min(v(i), (v(i-p) + v(i+p)) / 2), all i from the
  // previous pass (Morhac & Matousek 2008, eq. 2).
  const std::ptrdiff_t M = N + 2 * w;
  for (std::ptrdiff_t k = 1; k <= w; ++k) {
    const std::ptrdiff_t p = decreasing ? w + 1 - k : k;
    const double* __restrict src = a.data();
    double* __restrict dst = b.data();
    for (std::ptrdiff_t i = p; i < M - p; ++i) dst[i] = std::min(src[i], 0.5 * (src[i - p] + src[i + p]));
    // Points outside [p, M - p) keep their value: copy them so that the buffers can swap.
    std::copy(a.begin(), a.begin() + p, b.begin());
    std::copy(a.end() - p, a.end(), b.end() - p);
    a.swap(b);
  }
  for (std::ptrdiff_t i = 0; i < N; ++i) {
    const double x = a[size_t(i + w)];
    out[i] = lls_transform ? lls_inverse(x) / scale + lo : x;
  }
}

double estimate_fwhm(const double* two_theta, const double* y, std::size_t n) {
  if (n < kMinPoints) return 0;
  const double step = (two_theta[n - 1] - two_theta[0]) / double(n - 1);
  // Local maxima over +-2 points, strongest first.
  std::vector<std::size_t> maxima;
  for (std::size_t i = 2; i + 2 < n; ++i)
    if (y[i] > y[i - 1] && y[i] >= y[i + 1] && y[i] >= y[i - 2] && y[i] >= y[i + 2]) maxima.push_back(i);
  std::sort(maxima.begin(), maxima.end(), [&](std::size_t p, std::size_t q) { return y[p] > y[q]; });
  const std::ptrdiff_t reach = std::ptrdiff_t(std::ceil(1.5 / step));  // base searched within +-1.5 degrees
  std::vector<double> widths, chosen;
  double top_prominence = 0, first_width = 0;
  for (std::size_t i : maxima) {
    if (widths.size() >= 9) break;
    const double x = two_theta[i];
    if (std::any_of(chosen.begin(), chosen.end(), [&](double c) { return std::abs(c - x) < 0.5; })) continue;
    chosen.push_back(x);
    const std::ptrdiff_t lo = std::max<std::ptrdiff_t>(0, std::ptrdiff_t(i) - reach);
    const std::ptrdiff_t hi = std::min<std::ptrdiff_t>(std::ptrdiff_t(n) - 1, std::ptrdiff_t(i) + reach);
    const double base = *std::min_element(y + lo, y + hi + 1);
    // Only peaks at least a fifth as prominent as the first measured: the rest of the
    // largest local maxima of a noisy pattern are noise spikes one point wide.
    if (top_prominence > 0 && y[i] - base < 0.25 * top_prominence) continue;
    if (top_prominence == 0) top_prominence = y[i] - base;
    const double half = 0.5 * (y[i] + base);
    // The walk to half maximum reads a 3-point mean, so one noisy point does not stop it.
    auto sm = [&](std::ptrdiff_t j) {
      return j <= 0 || j + 1 >= std::ptrdiff_t(n) ? y[j] : (y[j - 1] + y[j] + y[j + 1]) / 3.0;
    };
    std::ptrdiff_t l = std::ptrdiff_t(i), r = std::ptrdiff_t(i);
    while (l > lo && sm(l) > half) --l;
    while (r < hi && sm(r) > half) ++r;
    if (sm(l) > half || sm(r) > half || sm(l + 1) == sm(l) || sm(r - 1) == sm(r)) continue;  // no crossing within reach
    const double xl = two_theta[l] + step * (half - sm(l)) / (sm(l + 1) - sm(l));
    const double xr = two_theta[r] - step * (half - sm(r)) / (sm(r - 1) - sm(r));
    // Narrower than 2.5 steps is a noise spike (or a peak too narrow to fit anyway).
    if (first_width == 0) first_width = xr - xl;
    if (xr - xl >= 2.5 * step) widths.push_back(xr - xl);
  }
  if (widths.empty()) widths.push_back(first_width);
  if (!(widths[0] > 0)) return 0;
  const double w = median_inplace(widths);
  return std::clamp(w, 2.0 * step, 2.0);
}

std::vector<double> estimate_background(const double* two_theta, const double* y, std::size_t n,
                                        const BackgroundOptions& options, double fwhm,
                                        const std::vector<double>* noise_given) {
  check_input(two_theta, y, n);
  if (options.half_window < 0) throw std::invalid_argument("half_window must be >= 0 (0 = from the peak width)");
  if (options.smooth_half_window < -1) throw std::invalid_argument("smooth_half_window must be >= 0, or -1 for FWHM / 2");
  if (!(options.window_fwhm > 0)) throw std::invalid_argument("window_fwhm must be positive");
  const double step = (two_theta[n - 1] - two_theta[0]) / double(n - 1);
  if (!(fwhm > 0)) fwhm = estimate_fwhm(two_theta, y, n);
  if (!(fwhm > 0)) fwhm = 10 * step;  // no peak to measure: a flat or pure-noise pattern
  const int w = options.half_window > 0 ? options.half_window
                                        : std::max(2, int(std::ceil(options.window_fwhm * fwhm / step)));
  const int h = options.smooth_half_window >= 0 ? options.smooth_half_window : int(std::lround(0.5 * fwhm / step));
  std::vector<double> out(n);
  // Block means over D ~ FWHM / 3 points are clipped instead of every point when asked: the
  // background varies over many FWHM, so it is the same curve at 1/D^2 of the cost (SNIP
  // costs points x window). The smoothing and the window are taken over in blocks.
  const std::size_t D = options.decimate ? std::size_t(std::max(1.0, std::floor(fwhm / step / 3.0))) : 1;
  if (D > 1 && n / D >= kMinPoints) {
    const std::size_t nb = n / D;  // whole blocks; the last takes the remainder
    std::vector<double> means(nb), clipped(nb);
    for (std::size_t b = 0; b < nb; ++b) {
      const std::size_t lo = b * D, hi = b + 1 == nb ? n : lo + D;
      double sum = 0;
      for (std::size_t i = lo; i < hi; ++i) sum += y[i];
      means[b] = sum / double(hi - lo);
    }
    const int wb = std::max(2, int(std::ceil(double(w) / double(D))));
    const int hb = int(std::lround(double(h) / double(D)));
    snip_background(means.data(), nb, wb, options.lls, options.decreasing, hb, clipped.data());
    auto centre = [&](std::size_t b) { return b + 1 == nb ? 0.5 * double(b * D + n - 1) : double(b * D) + 0.5 * double(D - 1); };
    std::size_t b = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double x = double(i);
      while (b + 2 < nb && centre(b + 1) <= x) ++b;
      const double t = std::clamp((x - centre(b)) / (centre(b + 1) - centre(b)), 0.0, 1.0);
      out[i] = (1 - t) * clipped[b] + t * clipped[b + 1];
    }
    // Before the first and after the last centre: extend the end segments' lines.
    for (std::size_t i = 0; double(i) < centre(0); ++i)
      out[i] = clipped[0] + (clipped[1] - clipped[0]) * (double(i) - centre(0)) / (centre(1) - centre(0));
    for (std::size_t i = n; i-- > 0 && double(i) > centre(nb - 1);)
      out[i] = clipped[nb - 1] + (clipped[nb - 1] - clipped[nb - 2]) * (double(i) - centre(nb - 1)) / (centre(nb - 1) - centre(nb - 2));
  } else {
    snip_background(y, n, w, options.lls, options.decreasing, h, out.data());
  }
  if (options.offset_correction) {
    const std::vector<double> noise = noise_given && noise_given->size() == n ? *noise_given : estimate_noise(y, n);
    const std::size_t k = std::max<std::size_t>(1, n / kSegment);
    std::vector<double> offset(k, 0.0), r;
    for (std::size_t s = 0; s < k; ++s) {
      r.clear();
      for (std::size_t i = s * n / k; i < (s + 1) * n / k; ++i) {
        const double d = y[i] - out[i];
        if (d < 3 * noise[i]) r.push_back(d);
      }
      if (r.size() > 8) offset[s] = median_inplace(r);
    }
    const std::vector<double> lift = interpolate_segments(offset, n);
    for (std::size_t i = 0; i < n; ++i) out[i] += lift[i];
  }
  return out;
}

std::vector<double> interpolate_segments(const std::vector<double>& values, std::size_t n) {
  const std::size_t k = values.size();
  std::vector<double> out(n, k ? values[0] : 0.0);
  if (k < 2) return out;
  auto centre = [&](std::size_t s) { return 0.5 * double(s * n / k + (s + 1) * n / k - 1); };
  std::size_t s = 0;  // segment whose centre is the last at or before point i
  for (std::size_t i = 0; i < n; ++i) {
    const double x = double(i);
    if (x <= centre(0)) { out[i] = values[0]; continue; }
    if (x >= centre(k - 1)) { out[i] = values[k - 1]; continue; }
    while (s + 2 < k && centre(s + 1) <= x) ++s;
    const double t = (x - centre(s)) / (centre(s + 1) - centre(s));
    out[i] = (1 - t) * values[s] + t * values[s + 1];
  }
  return out;
}

std::vector<double> estimate_noise(const double* y, std::size_t n, std::size_t segment) {
  std::vector<double> out(n, 0.0);
  if (n < 5) return out;
  segment = std::max<std::size_t>(segment, 64);
  const std::size_t k = std::max<std::size_t>(1, n / segment);
  // For normal noise the second difference has sd sqrt(6) sigma. A start from the median of
  // every 4th |difference| (MAD), then two passes of the mean |difference| below 3 sd: a
  // normal's mean absolute value within 3 sd is 0.79116 sd (E|e| over P(|e| < 3 sd)). Peaks,
  // a minority of the points, are clipped away; the passes cost O(n) instead of a full median.
  constexpr double kClip = 3.0, kClippedMeanAbs = 0.791157;
  std::vector<double> sigma(k), e;
  for (std::size_t s = 0; s < k; ++s) {
    const std::size_t lo = std::max<std::size_t>(2, s * n / k), hi = std::min(n - 2, (s + 1) * n / k);
    double best = 0;
    for (std::size_t lag = 1; lag <= 2; ++lag) {
      e.clear();
      for (std::size_t i = lo; i < hi; i += 4) e.push_back(std::abs(y[i - lag] - 2 * y[i] + y[i + lag]));
      if (e.empty()) continue;
      double sd = kMadToSigma * median_inplace(e);  // of the difference
      for (int pass = 0; pass < 2 && sd > 0; ++pass) {
        double sum = 0;
        std::size_t count = 0;
        for (std::size_t i = lo; i < hi; ++i) {
          const double d = std::abs(y[i - lag] - 2 * y[i] + y[i + lag]);
          if (d < kClip * sd) { sum += d; ++count; }
        }
        if (count < 8) break;
        sd = sum / double(count) / kClippedMeanAbs;
      }
      best = std::max(best, sd / std::sqrt(6.0));
    }
    sigma[s] = best;
  }
  return interpolate_segments(sigma, n);
}

namespace {

constexpr double kLn2 = 0.6931471805599453;
// Area of a unit-height pseudo-Voigt per unit FWHM: eta pi/2 + (1 - eta) sqrt(pi / (4 ln 2)).
constexpr double kLorentzArea = M_PI / 2;
const double kGaussArea = std::sqrt(M_PI / (4 * kLn2));
constexpr double kFitReach = 3.0;  // each peak's fit window: +-3 FWHM around K-alpha1 (and K-alpha2): eta needs the tails
constexpr double kMinWidth = 0.3, kMaxWidth = 4.0;  // fitted FWHM within these multiples of the estimate
constexpr double kMerge = 0.25;  // fitted peaks closer than this share of their FWHM are one peak

struct Candidate {
  double x, h, w, eta;
  double score;  // curvature significance
};

// Unit-height pseudo-Voigt at t = (x - centre) / fwhm, with dP/dt, L and G.
struct PV { double p, dp, l, g; };
inline PV pseudo_voigt(double t, double eta) {
  const double l = 1.0 / (1.0 + 4 * t * t), g = std::exp(-4 * kLn2 * t * t);
  return {eta * l + (1 - eta) * g, eta * (-8 * t * l * l) + (1 - eta) * (-8 * kLn2 * t * g), l, g};
}

// One cluster: points [lo, hi) of r (background-subtracted), peaks fitted jointly with a
// local straight line, by Levenberg-Marquardt with the parameters kept in their bounds.
void fit_cluster(const double* x, const double* r, std::size_t lo, std::size_t hi, std::vector<Candidate>& cands,
                 double fwhm, double step, const PeakOptions& o, std::vector<Peak>& out,
                 std::vector<double>& sigma_x) {
  const int k = int(cands.size());
  const int np = 4 * k + 2;
  const int m = int(hi - lo);
  const bool doublet = o.wavelength2 > 0 && o.ka2_ratio > 0;
  const double rho = doublet ? o.ka2_ratio : 0.0;
  const double xc = 0.5 * (x[lo] + x[hi - 1]);
  Eigen::VectorXd p(np);
  for (int j = 0; j < k; ++j) p.segment<4>(4 * j) << cands[size_t(j)].x, cands[size_t(j)].h, cands[size_t(j)].w,
                                                        cands[size_t(j)].eta;
  p[4 * k] = 0; p[4 * k + 1] = 0;
  std::vector<double> x_lo(static_cast<std::size_t>(k)), x_hi(static_cast<std::size_t>(k));
  for (int j = 0; j < k; ++j) { x_lo[size_t(j)] = p[4 * j] - 0.5 * fwhm; x_hi[size_t(j)] = p[4 * j] + 0.5 * fwhm; }
  const double w_lo = std::max(kMinWidth * fwhm, 1.5 * step), w_hi = kMaxWidth * fwhm;
  auto clamp_params = [&](Eigen::VectorXd& q) {
    for (int j = 0; j < k; ++j) {
      q[4 * j] = std::clamp(q[4 * j], x_lo[size_t(j)], x_hi[size_t(j)]);
      q[4 * j + 1] = std::max(q[4 * j + 1], 0.0);
      q[4 * j + 2] = std::clamp(q[4 * j + 2], w_lo, w_hi);
      q[4 * j + 3] = std::clamp(q[4 * j + 3], 0.0, 1.0);
    }
  };
  Eigen::MatrixXd J(m, np);
  Eigen::VectorXd res(m);
  // Residuals (data - model) and, when wanted, the Jacobian of the model.
  std::vector<double> mu2(static_cast<std::size_t>(k)), dmu2(static_cast<std::size_t>(k));
  auto evaluate = [&](const Eigen::VectorXd& q, bool jacobian) {
    // K-alpha2 position of each peak and d(2theta2)/d(2theta1) = (l2 / l1) cos theta1 / cos theta2.
    for (int j = 0; j < k; ++j) {
      const double mu = q[4 * j];
      mu2[size_t(j)] = rho > 0 ? ka2_position(mu, o.wavelength, o.wavelength2) : NAN;
      dmu2[size_t(j)] = std::isfinite(mu2[size_t(j)])
          ? o.wavelength2 / o.wavelength * std::cos(0.5 * mu * kDeg) / std::cos(0.5 * mu2[size_t(j)] * kDeg) : 0.0;
    }
    double rss = 0;
    for (int i = 0; i < m; ++i) {
      const double xi = x[lo + size_t(i)];
      double f = q[4 * k] + q[4 * k + 1] * (xi - xc);
      if (jacobian) { J(i, 4 * k) = 1; J(i, 4 * k + 1) = xi - xc; }
      for (int j = 0; j < k; ++j) {
        const double mu = q[4 * j], h = q[4 * j + 1], w = q[4 * j + 2], eta = q[4 * j + 3];
        const double t1 = (xi - mu) / w;
        const PV a = pseudo_voigt(t1, eta);
        double val = a.p, dmu = -a.dp / w, dw = -a.dp * t1 / w, deta = a.l - a.g;
        if (std::isfinite(mu2[size_t(j)])) {
          const double t2 = (xi - mu2[size_t(j)]) / w;
          const PV b = pseudo_voigt(t2, eta);
          val += rho * b.p;
          dmu += rho * (-b.dp / w) * dmu2[size_t(j)];
          dw += rho * (-b.dp * t2 / w);
          deta += rho * (b.l - b.g);
        }
        f += h * val;
        if (jacobian) { J(i, 4 * j) = h * dmu; J(i, 4 * j + 1) = val; J(i, 4 * j + 2) = h * dw; J(i, 4 * j + 3) = h * deta; }
      }
      res[i] = r[lo + size_t(i)] - f;
      rss += res[i] * res[i];
    }
    return rss;
  };
  double rss = evaluate(p, true);
  double lambda = 1e-3;
  Eigen::MatrixXd A(np, np), Al(np, np);
  Eigen::VectorXd g(np), q(np), res_saved(m);
  for (int it = 0; it < o.max_iterations; ++it) {
    A.noalias() = J.transpose() * J;
    g.noalias() = J.transpose() * res;
    bool improved = false;
    for (int tries = 0; tries < 8 && !improved; ++tries) {
      Al = A;
      for (int d = 0; d < np; ++d) Al(d, d) += lambda * std::max(A(d, d), 1e-12);
      q = p + Al.ldlt().solve(g);
      clamp_params(q);
      res_saved = res;  // evaluate(q, false) leaves J alone
      const double rss_new = evaluate(q, false);
      if (rss_new < rss) {
        const double gain = (rss - rss_new) / std::max(rss, 1e-300);
        p = q;
        rss = evaluate(p, true);
        lambda = std::max(lambda * 0.3, 1e-9);
        improved = true;
        if (gain < 1e-6) it = o.max_iterations;  // converged: the next step would change little
      } else {
        res = res_saved;
        lambda *= 10;
      }
    }
    if (!improved) break;
  }
  // Covariance (J^T J)^-1 s^2 with s^2 the residual variance per degree of freedom.
  A.noalias() = J.transpose() * J;
  const double s2 = m > np ? rss / double(m - np) : NAN;
  Eigen::LDLT<Eigen::MatrixXd> ldlt(A);
  for (int j = 0; j < k; ++j) {
    Peak pk;
    pk.two_theta = p[4 * j];
    pk.height = p[4 * j + 1];
    pk.fwhm = p[4 * j + 2];
    pk.eta = p[4 * j + 3];
    pk.area = pk.height * pk.fwhm * (pk.eta * kLorentzArea + (1 - pk.eta) * kGaussArea);
    Eigen::VectorXd e = Eigen::VectorXd::Zero(np);
    e[4 * j] = 1;
    const double var = ldlt.solve(e)[4 * j] * s2;
    out.push_back(pk);
    sigma_x.push_back(var > 0 && std::isfinite(var) ? std::sqrt(var) : NAN);
  }
}

}  // namespace

PeakSearch search_peaks(const double* two_theta, const double* y, const double* sigma, std::size_t n,
                        const PeakOptions& o) {
  check_input(two_theta, y, n);
  if (!(o.wavelength > 0)) throw std::invalid_argument("wavelength must be positive (Å)");
  if (o.wavelength2 < 0) throw std::invalid_argument("wavelength2 must be >= 0 (0: no K-alpha2)");
  if (o.ka2_ratio < 0) throw std::invalid_argument("ka2_ratio must be >= 0");
  if (!(o.kernel_fwhm > 0)) throw std::invalid_argument("kernel_fwhm must be positive");
  if (!(o.min_snr > 0) || !(o.min_curvature_snr > 0)) throw std::invalid_argument("min_snr and min_curvature_snr must be positive");
  if (o.max_peaks < 1 || o.max_cluster < 1 || o.max_iterations < 0)
    throw std::invalid_argument("max_peaks and max_cluster must be >= 1, max_iterations >= 0");
  const double step = (two_theta[n - 1] - two_theta[0]) / double(n - 1);
  PeakSearch result;
  double fwhm = o.fwhm > 0 ? o.fwhm : estimate_fwhm(two_theta, y, n);
  if (!(fwhm > 0)) fwhm = 10 * step;
  result.fwhm = fwhm;
  std::vector<double> data_noise = estimate_noise(y, n);
  result.background = estimate_background(two_theta, y, n, o.background, fwhm, &data_noise);
  const std::vector<double>& bg = result.background;
  if (sigma) {
    result.noise.assign(sigma, sigma + n);
    for (double& s : result.noise)
      if (!(s > 0) || !std::isfinite(s)) s = 0;
  } else if (o.counts) {
    result.noise.resize(n);
    for (std::size_t i = 0; i < n; ++i) result.noise[i] = std::sqrt(std::max(bg[i], 1.0));
  } else {
    result.noise = std::move(data_noise);
  }
  std::vector<double>& noise = result.noise;
  // A floor: a noiseless (simulated) pattern has zero noise, and every wiggle would count;
  // a pattern of counts on a zero background has zero MAD, and one count would count. So the
  // noise is at least 1e-6 of the tallest peak and one quantum of the data (the smallest
  // non-zero step between neighbours: one count, in whatever units the counts were scaled to).
  double top = 0, quantum = INFINITY;
  for (std::size_t i = 0; i < n; ++i) top = std::max(top, y[i] - bg[i]);
  for (std::size_t i = 1; i < n; ++i) {
    const double d = std::abs(y[i] - y[i - 1]);
    if (d > 0) quantum = std::min(quantum, d);
  }
  double scale = 0;  // rounding in the background's LLS round trip is ~1e-13 of the data's size
  for (std::size_t i = 0; i < n; ++i) scale = std::max(scale, std::abs(y[i]));
  const double floor = std::max({1e-6 * top, std::isfinite(quantum) ? quantum : 0.0, 1e-9 * scale, 1e-300});
  for (double& s : noise) s = std::max(s, floor);
  if (!(top > 1e-9 * scale)) return result;  // flat: nothing stands above the background

  std::vector<double> r(n);
  for (std::size_t i = 0; i < n; ++i) r[i] = y[i] - bg[i];
  // Smoothed negative second derivative: r convolved with -G'' of standard deviation
  // kernel_fwhm * FWHM, made zero-sum so a constant or a slope gives nothing.
  const double sk = std::max(o.kernel_fwhm * fwhm / step, 0.8);  // points
  const int half = std::max(2, int(std::ceil(3 * sk)));
  std::vector<double> kernel(size_t(2 * half + 1));
  double sum = 0, norm2 = 0;
  for (int j = -half; j <= half; ++j) {
    const double u = double(j) / sk;
    kernel[size_t(j + half)] = (1 - u * u) * std::exp(-0.5 * u * u);
    sum += kernel[size_t(j + half)];
  }
  for (double& v : kernel) { v -= sum / double(kernel.size()); norm2 += v * v; }
  const double knorm = std::sqrt(norm2);
  const std::ptrdiff_t N = std::ptrdiff_t(n);
  std::vector<double> s(n, 0.0);
  for (std::ptrdiff_t i = half; i < N - half; ++i) {
    double acc = 0;
    const double* ri = r.data() + (i - half);
    for (int j = 0; j <= 2 * half; ++j) acc += kernel[size_t(j)] * ri[j];
    s[size_t(i)] = acc;
  }
  std::vector<Candidate> cands;
  for (std::ptrdiff_t i = half + 1; i < N - half - 1; ++i) {
    const std::size_t u = size_t(i);
    if (!(s[u] > s[u - 1] && s[u] >= s[u + 1])) continue;
    const double score = s[u] / (knorm * noise[u]);
    if (score < o.min_curvature_snr || r[u] < 0.5 * o.min_snr * noise[u]) continue;
    const double den = s[u - 1] - 2 * s[u] + s[u + 1];  // parabola through the three for the vertex
    const double shift = den < 0 ? std::clamp(0.5 * (s[u - 1] - s[u + 1]) / den, -0.5, 0.5) : 0.0;
    cands.push_back({two_theta[u] + shift * step, r[u], fwhm, 0.3, score});
  }
  // A second, wide kernel (standard deviation half a FWHM, near the matched filter of a
  // peak) on block means of about FWHM / 3 points: broad weak peaks (high angle, small
  // crystallites) whose curvature the narrow kernel cannot tell from noise. Its maxima join
  // the candidates where no narrow one is within half a FWHM.
  {
    const std::size_t D = std::size_t(std::max(1.0, std::floor(fwhm / step / 3.0)));
    const std::size_t nb = n / D;
    const double sb = std::max(0.5 * fwhm / (double(D) * step), 0.8);  // blocks
    const int hb = std::max(2, int(std::ceil(3 * sb)));
    if (nb > std::size_t(2 * hb + 3)) {
      std::vector<double> rb(nb), wk(size_t(2 * hb + 1)), sw(nb, 0.0);
      for (std::size_t b = 0; b < nb; ++b) {
        double sum = 0;
        for (std::size_t i = b * D; i < (b + 1) * D; ++i) sum += r[i];
        rb[b] = sum / double(D);
      }
      double wsum = 0, wnorm2 = 0;
      for (int j = -hb; j <= hb; ++j) {
        const double u = double(j) / sb;
        wk[size_t(j + hb)] = (1 - u * u) * std::exp(-0.5 * u * u);
        wsum += wk[size_t(j + hb)];
      }
      for (double& v : wk) { v -= wsum / double(wk.size()); wnorm2 += v * v; }
      const double wnorm = std::sqrt(wnorm2 / double(D));  // block means carry noise / sqrt(D)
      for (std::size_t b = size_t(hb); b + size_t(hb) < nb; ++b) {
        double acc = 0;
        for (int j = 0; j <= 2 * hb; ++j) acc += wk[size_t(j)] * rb[b - size_t(hb) + size_t(j)];
        sw[b] = acc;
      }
      const std::size_t n_narrow = cands.size();
      for (std::size_t b = size_t(hb) + 1; b + size_t(hb) + 1 < nb; ++b) {
        if (!(sw[b] > sw[b - 1] && sw[b] >= sw[b + 1])) continue;
        const std::size_t c = std::min(n - 1, b * D + D / 2);  // the block's centre point
        const double score = sw[b] / (wnorm * noise[c]);
        if (score < o.min_curvature_snr || rb[b] < 0.5 * o.min_snr * noise[c]) continue;
        const double den = sw[b - 1] - 2 * sw[b] + sw[b + 1];
        const double shift = den < 0 ? std::clamp(0.5 * (sw[b - 1] - sw[b + 1]) / den, -0.5, 0.5) : 0.0;
        const double x = two_theta[0] + (double(b * D) + 0.5 * double(D - 1) + shift * double(D)) * step;
        bool near = false;
        for (std::size_t a = 0; a < n_narrow && !near; ++a) near = std::abs(cands[a].x - x) < 0.5 * fwhm;
        if (!near) cands.push_back({x, rb[b], fwhm, 0.3, score});
      }
      if (cands.size() > n_narrow)
        std::sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& b) { return a.x < b.x; });
    }
  }
  // K-alpha2 of a stronger candidate is part of its doublet, not a peak of its own.
  const bool doublet = o.wavelength2 > 0 && o.ka2_ratio > 0;
  if (doublet && !cands.empty()) {
    std::vector<bool> drop(cands.size(), false);
    for (std::size_t a = 0; a < cands.size(); ++a) {
      const double x2 = ka2_position(cands[a].x, o.wavelength, o.wavelength2);
      if (!std::isfinite(x2)) continue;
      for (std::size_t b = a + 1; b < cands.size() && cands[b].x < x2 + fwhm; ++b)
        if (std::abs(cands[b].x - x2) < 0.35 * fwhm && cands[b].h < 0.85 * cands[a].h) drop[b] = true;
    }
    std::size_t kept = 0;
    for (std::size_t a = 0; a < cands.size(); ++a)
      if (!drop[a]) cands[kept++] = cands[a];
    cands.resize(kept);
  }
  if (cands.size() > size_t(o.max_peaks)) {
    std::nth_element(cands.begin(), cands.begin() + o.max_peaks, cands.end(),
                     [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
    cands.resize(size_t(o.max_peaks));
    std::sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& b) { return a.x < b.x; });
  }
  if (cands.empty()) return result;
  // Height at a doublet's K-alpha1 includes some K-alpha2: start from the shared share.
  if (doublet)
    for (Candidate& c : cands) {
      const double x2 = ka2_position(c.x, o.wavelength, o.wavelength2);
      if (std::isfinite(x2)) c.h /= 1.0 + o.ka2_ratio * pseudo_voigt((x2 - c.x) / fwhm, c.eta).p;
    }

  std::vector<Peak> fitted;
  std::vector<double> sigma_x;
  auto reach_right = [&](double xpk) {
    const double x2 = doublet ? ka2_position(xpk, o.wavelength, o.wavelength2) : NAN;
    return (std::isfinite(x2) ? x2 : xpk) + kFitReach * fwhm;
  };
  auto index_of = [&](double xv) {
    return std::size_t(std::clamp<std::ptrdiff_t>(std::ptrdiff_t(std::lround((xv - two_theta[0]) / step)), 0, N - 1));
  };
  if (!o.fit) {
    for (const Candidate& c : cands) {
      Peak pk;
      pk.two_theta = c.x; pk.height = c.h; pk.fwhm = c.w; pk.eta = c.eta;
      pk.area = pk.height * pk.fwhm * (pk.eta * kLorentzArea + (1 - pk.eta) * kGaussArea);
      fitted.push_back(pk);
      sigma_x.push_back(NAN);
    }
  } else {
    std::size_t a = 0;
    while (a < cands.size()) {
      std::size_t b = a + 1;
      double right = reach_right(cands[a].x);
      while (b < cands.size() && int(b - a) < o.max_cluster && cands[b].x - kFitReach * fwhm < right) {
        right = std::max(right, reach_right(cands[b].x));
        ++b;
      }
      const std::size_t lo = index_of(cands[a].x - kFitReach * fwhm), hi = index_of(right) + 1;
      std::vector<Candidate> group(cands.begin() + std::ptrdiff_t(a), cands.begin() + std::ptrdiff_t(b));
      if (hi - lo > 4 * group.size() + 3)
        fit_cluster(two_theta, r.data(), lo, hi, group, fwhm, step, o, fitted, sigma_x);
      a = b;
    }
  }
  // Keep the significant ones inside the pattern; merge fits that converged onto one peak.
  std::vector<std::pair<Peak, double>> kept;
  for (std::size_t j = 0; j < fitted.size(); ++j) {
    Peak pk = fitted[j];
    if (!(pk.two_theta > two_theta[0] && pk.two_theta < two_theta[n - 1]) || !(pk.height > 0)) continue;
    pk.snr = pk.height / noise[index_of(pk.two_theta)];
    if (pk.snr < o.min_snr) continue;
    // A fit pinned at its narrowest bound (0.3 of the typical FWHM, at least 1.5 steps) is a
    // noise spike, not a diffraction line.
    if (o.fit && pk.fwhm < 1.02 * std::max(kMinWidth * fwhm, 1.5 * step)) continue;
    kept.emplace_back(pk, sigma_x[j]);
  }
  double tallest = 0;
  for (const auto& kp : kept) tallest = std::max(tallest, kp.first.height);
  {
    std::size_t w = 0;
    for (std::size_t j = 0; j < kept.size(); ++j)
      if (kept[j].first.height >= o.min_relative_height * tallest) kept[w++] = kept[j];
    kept.resize(w);
  }
  std::sort(kept.begin(), kept.end(), [](const auto& u, const auto& v) { return u.first.two_theta < v.first.two_theta; });
  for (const auto& [pk0, sx] : kept) {
    Peak pk = pk0;
    pk.sigma_two_theta = sx;
    if (!result.peaks.empty()) {
      Peak& last = result.peaks.back();
      if (pk.two_theta - last.two_theta < kMerge * std::min(pk.fwhm, last.fwhm)) {
        if (pk.height > last.height) last = pk;
        continue;
      }
    }
    result.peaks.push_back(pk);
  }
  for (Peak& pk : result.peaks) {
    const double sin_theta = std::sin(0.5 * pk.two_theta * kDeg);
    pk.d = o.wavelength / (2 * sin_theta);
    pk.q = 2 * M_PI / pk.d;
  }
  return result;
}

void search_peaks_batch(const double* two_theta, const double* ys, std::size_t count, std::size_t n,
                        const PeakOptions& options, int n_threads, std::vector<std::vector<Peak>>& peaks,
                        std::vector<std::string>& errors) {
  peaks.assign(count, {});
  errors.assign(count, "");
#ifdef XRDFAST_OPENMP
  const int threads = n_threads > 0 ? n_threads : omp_get_max_threads();
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads)
#endif
  for (std::ptrdiff_t i = 0; i < std::ptrdiff_t(count); ++i) {
    try {
      peaks[size_t(i)] = search_peaks(two_theta, ys + size_t(i) * n, nullptr, n, options).peaks;
    } catch (const std::exception& e) {
      errors[size_t(i)] = e.what();
    }
  }
  (void)n_threads;
}

}  // namespace xrdfast

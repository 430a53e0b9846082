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
    std::copy(b.begin() + p, b.begin() + (M - p), a.begin() + p);
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
  for (std::size_t i : maxima) {
    if (widths.size() >= 9) break;
    const double x = two_theta[i];
    if (std::any_of(chosen.begin(), chosen.end(), [&](double c) { return std::abs(c - x) < 0.5; })) continue;
    chosen.push_back(x);
    const std::ptrdiff_t lo = std::max<std::ptrdiff_t>(0, std::ptrdiff_t(i) - reach);
    const std::ptrdiff_t hi = std::min<std::ptrdiff_t>(std::ptrdiff_t(n) - 1, std::ptrdiff_t(i) + reach);
    const double base = *std::min_element(y + lo, y + hi + 1);
    const double half = 0.5 * (y[i] + base);
    std::ptrdiff_t l = std::ptrdiff_t(i), r = std::ptrdiff_t(i);
    while (l > lo && y[l] > half) --l;
    while (r < hi && y[r] > half) ++r;
    if (y[l] > half || y[r] > half) continue;  // no half-maximum crossing within reach
    const double xl = two_theta[l] + step * (half - y[l]) / (y[l + 1] - y[l]);
    const double xr = two_theta[r] - step * (half - y[r]) / (y[r - 1] - y[r]);
    widths.push_back(xr - xl);
  }
  if (widths.empty()) return 0;
  const double w = median_inplace(widths);
  return std::clamp(w, 2.0 * step, 2.0);
}

std::vector<double> estimate_background(const double* two_theta, const double* y, std::size_t n,
                                        const BackgroundOptions& options, double fwhm) {
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
  snip_background(y, n, w, options.lls, options.decreasing, h, out.data());
  if (options.offset_correction) {
    const std::vector<double> noise = estimate_noise(y, n);
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
  std::vector<double> sigma(k), e;
  for (std::size_t s = 0; s < k; ++s) {
    const std::size_t lo = std::max<std::size_t>(2, s * n / k), hi = std::min(n - 2, (s + 1) * n / k);
    double best = 0;
    for (std::size_t lag = 1; lag <= 2; ++lag) {  // std of y[i-L] - 2 y[i] + y[i+L] is sqrt(6) sigma
      e.clear();
      for (std::size_t i = lo; i < hi; ++i) e.push_back(std::abs(y[i - lag] - 2 * y[i] + y[i + lag]));
      if (!e.empty()) best = std::max(best, kMadToSigma * median_inplace(e) / std::sqrt(6.0));
    }
    sigma[s] = best;
  }
  out = interpolate_segments(sigma, n);
  return out;
}

}  // namespace xrdfast

// Peak extraction: SNIP background, noise, detection and pseudo-Voigt fits (see peaks.hpp).
#include "xrdfast/peaks.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <memory>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
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

void check_grid(const double* two_theta, std::size_t n) {
  if (n < kMinPoints)
    throw std::invalid_argument("pattern has " + std::to_string(n) + " points; peak search needs at least " +
                                std::to_string(kMinPoints));
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(two_theta[i])) throw std::invalid_argument("2theta at point " + std::to_string(i) + " is not finite");
  const double step = (two_theta[n - 1] - two_theta[0]) / double(n - 1);
  if (!(step > 0)) throw std::invalid_argument("2theta must increase");
  for (std::size_t i = 1; i < n; ++i)
    if (std::abs(two_theta[i] - two_theta[0] - double(i) * step) > 0.02 * step)
      throw std::invalid_argument("2theta grid is not uniform (point " + std::to_string(i) +
                                  " is off the mean step by more than 2 %); resample it first");
}

void check_values(const double* y, std::size_t n) {
  // y * 0 is NaN exactly for NaN and inf; four sums so that the adds do not wait on each other.
  double acc[4] = {0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int j = 0; j < 4; ++j) acc[j] += y[i + std::size_t(j)] * 0.0;
  for (; i < n; ++i) acc[0] += y[i] * 0.0;
  if (acc[0] + acc[1] + acc[2] + acc[3] == 0) return;
  for (i = 0; i < n; ++i)
    if (!std::isfinite(y[i]))
      throw std::invalid_argument("intensity at point " + std::to_string(i) + " is not finite (NaN or inf); "
                                  "remove or interpolate such points first");
}

void check_input(const double* two_theta, const double* y, std::size_t n) {
  check_grid(two_theta, n);
  check_values(y, n);
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
  // The tallest 64 suffice: nine widths are wanted, and noise spikes are skipped quickly.
  const std::size_t top = std::min<std::size_t>(64, maxima.size());
  std::partial_sort(maxima.begin(), maxima.begin() + std::ptrdiff_t(top), maxima.end(),
                    [&](std::size_t p, std::size_t q) { return y[p] > y[q]; });
  maxima.resize(top);
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

namespace {

// Values at the centres of nb blocks of D points (the last takes the remainder of n),
// interpolated linearly to the n points; the end segments' lines extended beyond the
// first and last centres.
void blocks_to_points(const double* clipped, std::size_t nb, std::size_t D, std::size_t n, double* out) {
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
}

// The same with one line per pair of centres (no per-point search or division): equal up
// to rounding; the fast search's.
void blocks_to_lines(const double* clipped, std::size_t nb, std::size_t D, std::size_t n, double* out) {
  auto centre = [&](std::size_t b) { return b + 1 == nb ? 0.5 * double(b * D + n - 1) : double(b * D) + 0.5 * double(D - 1); };
  // Points up to centre(1) take the first line (extended before centre(0)), points after
  // centre(nb - 2) the last; in between, each the line of the centres around it.
  std::size_t i = 0;
  for (std::size_t b = 0; b + 1 < nb; ++b) {
    const double c0 = centre(b), c1 = centre(b + 1), slope = (clipped[b + 1] - clipped[b]) / (c1 - c0);
    const std::size_t end = b + 2 == nb ? n : std::size_t(std::floor(c1)) + 1;
    for (; i < end; ++i) out[i] = clipped[b] + slope * (double(i) - c0);
  }
}

}  // namespace

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
    blocks_to_points(clipped.data(), nb, D, n, out.data());
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
  std::vector<double> centre(k);
  for (std::size_t s = 0; s < k; ++s) centre[s] = 0.5 * double(s * n / k + (s + 1) * n / k - 1);
  for (std::size_t s = 0; s + 1 < k; ++s) {  // the line between centres s and s + 1
    const std::size_t lo = s == 0 ? 0 : std::size_t(std::ceil(centre[s]));
    const std::size_t hi = s + 2 == k ? n : std::size_t(std::ceil(centre[s + 1]));
    const double slope = (values[s + 1] - values[s]) / (centre[s + 1] - centre[s]);
    for (std::size_t i = lo; i < hi; ++i) {
      const double x = std::clamp(double(i), centre[0], centre[k - 1]);
      out[i] = values[s] + slope * (x - centre[s]);
    }
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
// Fitted FWHM within these multiples of the estimate, and centres within 0.3 FWHM of their
// detected positions: looser, two neighbours drift into one wide profile and a zero.
constexpr double kMinWidth = 0.3, kMaxWidth = 2.0;
constexpr double kMerge = 0.25;  // fitted peaks closer than this share of their FWHM are one peak

// Appends pk (peaks in 2theta order) unless it lies within kMerge FWHM of the last peak kept:
// then the taller of the two stands for both.
void add_unless_duplicate(std::vector<Peak>& peaks, const Peak& pk) {
  if (!peaks.empty()) {
    Peak& last = peaks.back();
    if (pk.two_theta - last.two_theta < kMerge * std::min(pk.fwhm, last.fwhm)) {
      if (pk.height > last.height) last = pk;
      return;
    }
  }
  peaks.push_back(pk);
}

// Each peak's d (Bragg's law at the search's wavelength) and Q = 2 pi / d.
void set_spacings(std::vector<Peak>& peaks, double wavelength) {
  for (Peak& pk : peaks) {
    pk.d = wavelength / (2 * std::sin(0.5 * pk.two_theta * kDeg));
    pk.q = 2 * M_PI / pk.d;
  }
}

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
  // Points: every one, or every st-th where a FWHM spans 24 steps or more -- 12 points per
  // FWHM fix position and width as well as 30 do, at a fraction of the cost (8 per FWHM
  // already cost eta and area precision in the tests). The position variance is then scaled
  // by 1 / st, what the skipped points' independent noise would have given.
  const std::size_t st = std::max<std::size_t>(1, std::size_t(std::floor(fwhm / step / 12.0)));
  const int m = int((hi - lo + st - 1) / st);
  const bool doublet = o.wavelength2 > 0 && o.ka2_ratio > 0;
  const double rho = doublet ? o.ka2_ratio : 0.0;
  const double xc = 0.5 * (x[lo] + x[hi - 1]);
  Eigen::VectorXd p(np);
  for (int j = 0; j < k; ++j) p.segment<4>(4 * j) << cands[size_t(j)].x, cands[size_t(j)].h, cands[size_t(j)].w,
                                                        cands[size_t(j)].eta;
  p[4 * k] = 0; p[4 * k + 1] = 0;
  std::vector<double> x_lo(static_cast<std::size_t>(k)), x_hi(static_cast<std::size_t>(k));
  for (int j = 0; j < k; ++j) { x_lo[size_t(j)] = p[4 * j] - 0.3 * fwhm; x_hi[size_t(j)] = p[4 * j] + 0.3 * fwhm; }
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
      const double xi = x[lo + size_t(i) * st];
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
      res[i] = r[lo + size_t(i) * st] - f;
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
    const double var = ldlt.solve(e)[4 * j] * s2 / double(st);
    out.push_back(pk);
    sigma_x.push_back(var > 0 && std::isfinite(var) ? std::sqrt(var) : NAN);
  }
}

}  // namespace

namespace {

// Candidates at the K-alpha2 position of a stronger one are dropped (part of its doublet);
// then the max_peaks most significant are kept, sorted by position.
void drop_ka2_and_cap(std::vector<Candidate>& cands, const PeakOptions& o, double fwhm, const double* two_theta,
                      double step, const std::vector<double>& noise, std::size_t n) {
  // K-alpha2 of a stronger candidate is part of its doublet, not a peak of its own.
  const bool doublet = o.wavelength2 > 0 && o.ka2_ratio > 0;
  if (doublet && !cands.empty()) {
    std::vector<bool> drop(cands.size(), false);
    for (std::size_t a = 0; a < cands.size(); ++a) {
      const double x2 = ka2_position(cands[a].x, o.wavelength, o.wavelength2);
      if (!std::isfinite(x2)) continue;
      for (std::size_t b = a + 1; b < cands.size() && cands[b].x < x2 + fwhm; ++b)
        // Dropped only when no taller than a's doublet makes it there -- its K-alpha2 plus its
        // K-alpha1 tail, +20 % and 3 sigma: a real line there stands above that and stays.
        if (std::abs(cands[b].x - x2) < 0.35 * fwhm) {
          const double sep = (x2 - cands[a].x) / fwhm;
          const double tail = pseudo_voigt(sep, cands[a].eta).p;
          const double h1 = cands[a].h / (1 + o.ka2_ratio * tail);  // a's K-alpha1 alone
          const double expected = h1 * (tail + o.ka2_ratio);
          const std::size_t ib = std::min(n - 1, std::size_t(std::lround((cands[b].x - two_theta[0]) / step)));
          if (cands[b].h < 1.2 * expected + 3 * noise[ib]) drop[b] = true;
        }
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
}

// The noise floor (see the comment inside); top: the tallest point above the background,
// scale: the largest |y|.
void apply_noise_floor(const double* y, const double* bg, std::size_t n, std::vector<double>& noise, double& top,
                       double& scale) {
  // A floor: a noiseless (simulated) pattern has zero noise, and every wiggle would count;
  // a pattern of counts on a zero background has zero MAD, and one count would count. So the
  // noise is at least 1e-6 of the tallest peak and one quantum of the data (the smallest
  // non-zero step between neighbours: one count, in whatever units the counts were scaled to).
  // Branch-free maxima and minima over four lanes (exact, so the same numbers as plain loops).
  double t4[4] = {0, 0, 0, 0}, q4[4] = {INFINITY, INFINITY, INFINITY, INFINITY}, s4[4] = {0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (std::size_t j = 0; j < 4; ++j) {
      const double r = y[i + j] - bg[i + j], a = std::abs(y[i + j]);
      t4[j] = r > t4[j] ? r : t4[j];
      s4[j] = a > s4[j] ? a : s4[j];
    }
  for (; i < n; ++i) {
    t4[0] = std::max(t4[0], y[i] - bg[i]);
    s4[0] = std::max(s4[0], std::abs(y[i]));
  }
  for (i = 1; i + 4 <= n; i += 4)
    for (std::size_t j = 0; j < 4; ++j) {
      const double d = std::abs(y[i + j] - y[i + j - 1]);
      q4[j] = d > 0 && d < q4[j] ? d : q4[j];
    }
  for (; i < n; ++i) {
    const double d = std::abs(y[i] - y[i - 1]);
    q4[0] = d > 0 && d < q4[0] ? d : q4[0];
  }
  top = std::max({t4[0], t4[1], t4[2], t4[3]});
  const double quantum = std::min({q4[0], q4[1], q4[2], q4[3]});
  scale = std::max({s4[0], s4[1], s4[2], s4[3]});  // rounding in the background's LLS round trip is ~1e-13 of the data's size
  const double floor = std::max({1e-6 * top, std::isfinite(quantum) ? quantum : 0.0, 1e-9 * scale, 1e-300});
  for (double& s : noise) s = std::max(s, floor);
}

void check_options(const PeakOptions& o) {
  if (!(o.wavelength > 0)) throw std::invalid_argument("wavelength must be positive (Å)");
  if (o.wavelength2 < 0) throw std::invalid_argument("wavelength2 must be >= 0 (0: no K-alpha2)");
  if (o.ka2_ratio < 0) throw std::invalid_argument("ka2_ratio must be >= 0");
  if (!(o.kernel_fwhm > 0)) throw std::invalid_argument("kernel_fwhm must be positive");
  if (!(o.min_snr > 0) || !(o.min_curvature_snr > 0)) throw std::invalid_argument("min_snr and min_curvature_snr must be positive");
  if (o.max_peaks < 1 || o.max_cluster < 1 || o.max_iterations < 0)
    throw std::invalid_argument("max_peaks and max_cluster must be >= 1, max_iterations >= 0");
}

// The refined search: full-resolution background and detection, Levenberg-Marquardt fits.
PeakSearch search_refined(const double* two_theta, const double* y, const double* sigma, std::size_t n,
                          const PeakOptions& o) {
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
  double top = 0, scale = 0;
  apply_noise_floor(y, bg.data(), n, noise, top, scale);
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
  const bool doublet = o.wavelength2 > 0 && o.ka2_ratio > 0;
  drop_ka2_and_cap(cands, o, fwhm, two_theta, step, noise, n);
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
  {
    std::size_t a = 0;
    while (a < cands.size()) {
      std::size_t b = a + 1;
      double right = reach_right(cands[a].x);
      while (b < cands.size() && int(b - a) <= o.max_cluster && cands[b].x - kFitReach * fwhm < right) {
        right = std::max(right, reach_right(cands[b].x));
        ++b;
      }
      if (int(b - a) > o.max_cluster) {  // a longer chain: cut it at its widest gap, not mid-peak
        std::size_t cut = a + 1;
        for (std::size_t c = a + 1; c < b; ++c)
          if (cands[c].x - cands[c - 1].x > cands[cut].x - cands[cut - 1].x) cut = c;
        b = cut;
        right = a < b ? reach_right(cands[a].x) : right;
        for (std::size_t c = a; c < b; ++c) right = std::max(right, reach_right(cands[c].x));
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
    if (pk.fwhm < 1.02 * std::max(kMinWidth * fwhm, 1.5 * step)) continue;
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
    add_unless_duplicate(result.peaks, pk);
  }
  set_spacings(result.peaks, o.wavelength);
  return result;
}

// ---------------------------------------------------------------------------------------
// The fast search (options.refine = false): the refined search's steps on block means where
// they allow it, and closed-form peak parameters instead of least squares.

// Features of a K-alpha doublet of unit K-alpha1 height, P(t) = pv(t, eta) + rho pv(t - delta,
// eta), with t and delta in units of the common FWHM, as measure_peak reads them: the vertex
// and height of the least-squares parabola through its top (+-0.6 left half-widths), and
// the distances from that vertex to where P falls to half and a quarter of that height on
// the K-alpha1 side (left), and to half on the right. Tabulated over
// eta in [0, 1] and delta in [0, kMaxDelta] once per ratio rho (a few ms); beyond kMaxDelta
// the doublet is resolved and the K-alpha1 features no longer change.
class DoubletTable {
 public:
  static constexpr int kEta = 11, kDelta = 61;
  static constexpr double kMaxDelta = 3.0;
  struct Shape { double vertex = 0, height = 1, half = 0.5, quarter = 0.5, right = 0.5; };

  explicit DoubletTable(double rho) : rho_(rho) {
    for (int e = 0; e < kEta; ++e)
      for (int d = 0; d < kDelta; ++d) {
        const std::size_t i = std::size_t(e * kDelta + d);
        table_[i] = compute(double(e) / (kEta - 1), kMaxDelta * d / (kDelta - 1));
        ratio_[i] = table_[i].quarter / table_[i].half;
      }
  }
  double rho() const { return rho_; }

  // Bilinear in eta and delta (clamped to the table).
  Shape at(double eta, double delta) const {
    const double fe = std::clamp(eta, 0.0, 1.0) * (kEta - 1), fd = std::clamp(delta / kMaxDelta, 0.0, 1.0) * (kDelta - 1);
    const int e = std::min(int(fe), kEta - 2), d = std::min(int(fd), kDelta - 2);
    const double u = fe - e, v = fd - d;
    auto get = [&](int ee, int dd) -> const Shape& { return table_[std::size_t(ee * kDelta + dd)]; };
    auto mix = [&](double Shape::*f) {
      return (1 - u) * ((1 - v) * get(e, d).*f + v * get(e, d + 1).*f) + u * ((1 - v) * get(e + 1, d).*f + v * get(e + 1, d + 1).*f);
    };
    return {mix(&Shape::vertex), mix(&Shape::height), mix(&Shape::half), mix(&Shape::quarter), mix(&Shape::right)};
  }

  // Eta whose quarter/half width ratio on the left is `ratio` at this delta (Gaussian sqrt 2,
  // Lorentzian sqrt 3 at delta 0); clamped to [0, 1].
  double eta_from_ratio(double ratio, double delta) const {
    const double fd = std::clamp(delta / kMaxDelta, 0.0, 1.0) * (kDelta - 1);
    const int d = std::min(int(fd), kDelta - 2);
    const double v = fd - d;
    double prev = 0;
    for (int e = 0; e < kEta; ++e) {
      const double r = (1 - v) * ratio_[std::size_t(e * kDelta + d)] + v * ratio_[std::size_t(e * kDelta + d + 1)];
      if (ratio <= r) return e == 0 ? 0.0 : (double(e) - 1 + (ratio - prev) / (r - prev)) / (kEta - 1);
      prev = r;
    }
    return 1.0;
  }

 private:
  double rho_;
  std::array<Shape, std::size_t(kEta * kDelta)> table_;
  std::array<double, std::size_t(kEta * kDelta)> ratio_;  // quarter / half

  double value(double t, double eta, double delta) const {
    auto pv = [eta](double u) { return eta / (1 + 4 * u * u) + (1 - eta) * std::exp(-4 * kLn2 * u * u); };
    return pv(t) + rho_ * pv(t - delta);
  }
  // Where P falls to `level` walking from t0 in direction dir (+-1): a scan, then bisection.
  double crossing(double t0, double level, int dir, double eta, double delta) const {
    double a = t0, b = t0;
    for (int i = 0; i < 2000; ++i) {
      b = t0 + dir * 0.05 * (i + 1);
      if (value(b, eta, delta) < level) break;
      a = b;
    }
    for (int i = 0; i < 45; ++i) {
      const double m = 0.5 * (a + b);
      (value(m, eta, delta) < level ? b : a) = m;
    }
    return 0.5 * (a + b);
  }
  Shape compute(double eta, double delta) const {
    // The maximum: a scan of step 0.02 between the lines (finer than any basin), then
    // golden-section to rounding.
    double best = -0.5, top = -1;
    for (double t = -0.5; t <= delta + 0.5; t += 0.02) {
      const double v = value(t, eta, delta);
      if (v > top) { top = v; best = t; }
    }
    double lo = best - 0.02, hi = best + 0.02;
    for (int i = 0; i < 40; ++i) {
      const double m1 = lo + 0.382 * (hi - lo), m2 = lo + 0.618 * (hi - lo);
      (value(m1, eta, delta) < value(m2, eta, delta) ? lo : hi) = value(m1, eta, delta) < value(m2, eta, delta) ? m1 : m2;
    }
    // What measure_peak reads: the least-squares parabola through P on [tmax - A, tmax + A],
    // A = 0.6 of the left half-maximum distance (201 points), its vertex and height there,
    // and the distances from that vertex to the crossings of its height's half and quarter.
    Shape s;
    const double tmax = 0.5 * (lo + hi), pmax = value(tmax, eta, delta);
    const double A = 0.6 * (tmax - crossing(tmax, 0.5 * pmax, -1, eta, delta));
    double S0 = 0, S1 = 0, S2 = 0, J2 = 0, J4 = 0;
    const int m = 100;
    for (int j = -m; j <= m; ++j) {
      const double u = A * j / m, v = value(tmax + u, eta, delta);
      S0 += v; S1 += u * v; S2 += u * u * v; J2 += u * u; J4 += u * u * u * u;
    }
    const double N = 2 * m + 1;
    const double c = (S2 - J2 / N * S0) / (J4 - J2 * J2 / N), b = S1 / J2, a0 = (S0 - c * J2) / N;
    s.vertex = c < 0 ? tmax - b / (2 * c) : tmax;
    s.height = c < 0 ? a0 - b * b / (4 * c) : pmax;
    s.half = s.vertex - crossing(s.vertex, 0.5 * s.height, -1, eta, delta);
    s.quarter = s.vertex - crossing(s.vertex, 0.25 * s.height, -1, eta, delta);
    s.right = crossing(s.vertex, 0.5 * s.height, +1, eta, delta) - s.vertex;
    return s;
  }
};

// The table for this ratio, built once per thread (a few ms); the last four ratios are kept,
// so that monochromatic (ratio 0) and K-alpha doublet patterns can alternate at no cost.
const DoubletTable& doublet_table(double rho) {
  thread_local std::array<std::unique_ptr<DoubletTable>, 4> tables;
  thread_local std::size_t next = 0;
  for (const auto& t : tables)
    if (t && t->rho() == rho) return *t;
  auto& slot = tables[next++ % tables.size()];
  slot = std::make_unique<DoubletTable>(rho);
  return *slot;
}

// Block length of the fast background, in FWHM: the background varies over many FWHM.
constexpr double kFastBackgroundBlock = 1.0;

// Typical FWHM (degrees) as estimate_fwhm measures it, on the maxima of blocks of 16 points
// and with the base read from block minima: the same widths at a fraction of the cost.
double quick_fwhm(const double* two_theta, const double* y, std::size_t n, double& y_lo, double& y_hi) {
  constexpr std::size_t B = 16;
  const double step = (two_theta[n - 1] - two_theta[0]) / double(n - 1);
  const std::size_t nbk = std::max<std::size_t>(1, n / B);
  std::vector<double> bmin(nbk), bmax(nbk);
  for (std::size_t b = 0; b < nbk; ++b) {
    const std::size_t lo = b * B, hi = b + 1 == nbk ? n : lo + B;
    // Four interleaved maxima and minima, so that the comparisons do not wait on each other
    // (two SSE2 registers of two where the compiler has them: every x86-64 does).
    double mn[4] = {y[lo], y[lo], y[lo], y[lo]}, mx[4] = {y[lo], y[lo], y[lo], y[lo]};
    std::size_t i = lo;
#if defined(__SSE2__)
    __m128d mx01 = _mm_set1_pd(y[lo]), mx23 = mx01, mn01 = mx01, mn23 = mx01;
    for (; i + 4 <= hi; i += 4) {
      const __m128d a = _mm_loadu_pd(y + i), c = _mm_loadu_pd(y + i + 2);
      mx01 = _mm_max_pd(mx01, a); mx23 = _mm_max_pd(mx23, c);
      mn01 = _mm_min_pd(mn01, a); mn23 = _mm_min_pd(mn23, c);
    }
    _mm_storeu_pd(mx, mx01); _mm_storeu_pd(mx + 2, mx23);
    _mm_storeu_pd(mn, mn01); _mm_storeu_pd(mn + 2, mn23);
#else
    for (; i + 4 <= hi; i += 4)
      for (std::size_t j = 0; j < 4; ++j) {
        mx[j] = y[i + j] > mx[j] ? y[i + j] : mx[j];
        mn[j] = y[i + j] < mn[j] ? y[i + j] : mn[j];
      }
#endif
    for (; i < hi; ++i) {
      mx[0] = std::max(mx[0], y[i]);
      mn[0] = std::min(mn[0], y[i]);
    }
    bmin[b] = std::min({mn[0], mn[1], mn[2], mn[3]});
    bmax[b] = std::max({mx[0], mx[1], mx[2], mx[3]});
  }
  y_lo = *std::min_element(bmin.begin(), bmin.end());
  y_hi = *std::max_element(bmax.begin(), bmax.end());
  // The first point of block b at its maximum (looked up only for the chosen blocks).
  auto arg_of = [&](std::size_t b) {
    std::size_t i = b * B;
    while (y[i] != bmax[b]) ++i;
    return i;
  };
  // The 48 tallest blocks, tallest first, by insertion (most blocks fail the first test).
  const std::size_t top_n = std::min<std::size_t>(48, nbk);
  std::vector<std::size_t> order;
  order.reserve(top_n + 1);
  for (std::size_t b = 0; b < nbk; ++b) {
    const double v = bmax[b];
    if (order.size() == top_n && !(v > bmax[order.back()])) continue;
    std::size_t pos = order.size();
    while (pos > 0 && v > bmax[order[pos - 1]]) --pos;
    order.insert(order.begin() + std::ptrdiff_t(pos), b);
    if (order.size() > top_n) order.pop_back();
  }
  const std::ptrdiff_t reach = std::ptrdiff_t(std::ceil(1.5 / step)), N = std::ptrdiff_t(n);
  std::vector<double> widths, chosen;
  double top_prominence = 0, first_width = 0;
  auto sm = [&](std::ptrdiff_t j) { return j <= 0 || j + 1 >= N ? y[j] : (y[j - 1] + y[j] + y[j + 1]) / 3.0; };
  for (std::size_t k = 0; k < top_n && widths.size() < 9; ++k) {
    const std::ptrdiff_t i = std::ptrdiff_t(arg_of(order[k]));
    if (i < 2 || i + 2 >= N || y[i - 1] >= y[i] || y[i + 1] > y[i] || y[i - 2] > y[i] || y[i + 2] > y[i]) continue;
    const double x = two_theta[i];
    if (std::any_of(chosen.begin(), chosen.end(), [&](double c) { return std::abs(c - x) < 0.5; })) continue;
    chosen.push_back(x);
    const std::ptrdiff_t lo = std::max<std::ptrdiff_t>(0, i - reach), hi = std::min<std::ptrdiff_t>(N - 1, i + reach);
    double base = y[i];
    for (std::size_t b = std::size_t(lo) / B; b <= std::min(nbk - 1, std::size_t(hi) / B); ++b) base = std::min(base, bmin[b]);
    if (top_prominence > 0 && y[i] - base < 0.25 * top_prominence) continue;
    if (top_prominence == 0) top_prominence = y[i] - base;
    const double half = 0.5 * (y[i] + base);
    std::ptrdiff_t l = i, r = i;
    while (l > lo && sm(l) > half) --l;
    while (r < hi && sm(r) > half) ++r;
    if (sm(l) > half || sm(r) > half || sm(l + 1) == sm(l) || sm(r - 1) == sm(r)) continue;
    const double xl = two_theta[l] + step * (half - sm(l)) / (sm(l + 1) - sm(l));
    const double xr = two_theta[r] - step * (half - sm(r)) / (sm(r - 1) - sm(r));
    if (first_width == 0) first_width = xr - xl;
    if (xr - xl >= 2.5 * step) widths.push_back(xr - xl);
  }
  if (widths.empty()) widths.push_back(first_width);
  if (!(widths[0] > 0)) return 0;
  return std::clamp(median_inplace(widths), 2.0 * step, 2.0);
}

// Noise per segment of ~kSegment points as estimate_noise measures it (MAD start, clipped
// mean of |second differences|), on every 8th point only (~130 differences per segment: the
// standard deviation to ~6 %) and at lag 2 only: for independent noise lags 1 and 2 read the
// same, and for interpolated or smoothed data lag 2 is the larger, the one estimate_noise keeps.
std::vector<double> quick_noise_segments(const double* y, std::size_t n) {
  constexpr double kClip = 3.0, kClippedMeanAbs = 0.791157;
  const std::size_t k = std::max<std::size_t>(1, n / kSegment);
  std::vector<double> sigma(k, 0.0), e, start;
  e.reserve(n / k / 8 + 2);
  start.reserve(n / k / 32 + 2);
  for (std::size_t s = 0; s < k; ++s) {
    const std::size_t lo = std::max<std::size_t>(2, s * n / k), hi = std::min(n - 2, (s + 1) * n / k);
    double best = 0;
    for (std::size_t lag = 2; lag <= 2; ++lag) {
      e.clear();
      for (std::size_t i = lo; i < hi; i += 8) e.push_back(std::abs(y[i - lag] - 2 * y[i] + y[i + lag]));
      if (e.size() < 32) continue;
      // The start: the median of every 4th of them (a full median is branchy, and the
      // clipped means below only need a start within a factor of ~2).
      start.clear();
      for (std::size_t i = 0; i < e.size(); i += 4) start.push_back(e[i]);
      double sd = kMadToSigma * median_inplace(start);
      for (int pass = 0; pass < 3 && sd > 0; ++pass) {
        double sum[4] = {0, 0, 0, 0}, cnt[4] = {0, 0, 0, 0};  // four lanes: no chain of dependent adds
        const double cut = kClip * sd;
        std::size_t i = 0;
        for (; i + 4 <= e.size(); i += 4)
          for (std::size_t j = 0; j < 4; ++j) {
            const bool in = e[i + j] < cut;
            sum[j] += in ? e[i + j] : 0.0;
            cnt[j] += in ? 1.0 : 0.0;
          }
        for (; i < e.size(); ++i) {
          const bool in = e[i] < cut;
          sum[0] += in ? e[i] : 0.0;
          cnt[0] += in ? 1.0 : 0.0;
        }
        const double count = cnt[0] + cnt[1] + cnt[2] + cnt[3];
        if (count < 8) break;
        sd = (sum[0] + sum[1] + sum[2] + sum[3]) / count / kClippedMeanAbs;
      }
      best = std::max(best, sd / std::sqrt(6.0));
    }
    sigma[s] = best;
  }
  return sigma;
}

// interpolate_segments, one line per pair of segment centres (equal up to rounding).
void segments_to_lines(const std::vector<double>& values, std::size_t n, double* out) {
  const std::size_t k = values.size();
  if (k < 2) {
    std::fill(out, out + n, k ? values[0] : 0.0);
    return;
  }
  auto centre = [&](std::size_t s) { return 0.5 * double(s * n / k + (s + 1) * n / k - 1); };
  std::size_t i = 0;
  for (std::size_t s = 0; s + 1 < k; ++s) {
    const double c0 = centre(s), c1 = centre(s + 1), slope = (values[s + 1] - values[s]) / (c1 - c0);
    if (s == 0)
      for (; double(i) < c0; ++i) out[i] = values[0];  // flat before the first centre
    const std::size_t end = s + 2 == k ? std::size_t(std::floor(c1)) + 1 : std::size_t(std::ceil(c1));
    for (; i < end && i < n; ++i) out[i] = values[s] + slope * (double(i) - c0);
  }
  for (; i < n; ++i) out[i] = values[k - 1];  // flat after the last
}

// Block means of D points of v (the last block takes the remainder): nb = n / D values.
std::vector<double> block_means(const double* v, std::size_t n, std::size_t D) {
  const std::size_t nb = n / D;
  std::vector<double> out(nb);
  for (std::size_t b = 0; b < nb; ++b) {
    const std::size_t lo = b * D, hi = b + 1 == nb ? n : lo + D;
    double sum[4] = {0, 0, 0, 0};  // four lanes: no chain of dependent adds
    std::size_t i = lo;
    for (; i + 4 <= hi; i += 4)
      for (std::size_t j = 0; j < 4; ++j) sum[j] += v[i + j];
    for (; i < hi; ++i) sum[0] += v[i];
    out[b] = (sum[0] + sum[1] + sum[2] + sum[3]) / double(hi - lo);
  }
  return out;
}

// SNIP on block means of half a FWHM (the refined search uses a third of one and every
// point for the offset): the offset is the median residual of the blocks within 3 sigma of
// the clipped curve, per segment, where block means carry sigma / sqrt(D).
// The background as values at the centres of blocks of D points, read at any point by
// straight lines between the centres (blocks_to_lines, without writing every point).
struct BlockLine {
  std::vector<double> v;
  std::size_t D = 1, n = 0;
  double centre(std::size_t b) const {
    return b + 1 == v.size() ? 0.5 * double(b * D + n - 1) : double(b * D) + 0.5 * double(D - 1);
  }
  double operator()(double i) const {
    if (D == 1) return v[std::size_t(std::clamp(i, 0.0, double(n - 1)))];
    const std::size_t nb = v.size();
    const std::size_t b = std::size_t(std::clamp(std::floor((i - 0.5 * double(D - 1)) / double(D)), 0.0, double(nb - 2)));
    const double c0 = centre(b), c1 = centre(b + 1);
    return v[b] + (v[b + 1] - v[b]) * (i - c0) / (c1 - c0);
  }
  void fill(double* out) const {
    if (D == 1) std::copy(v.begin(), v.end(), out);
    else blocks_to_lines(v.data(), v.size(), D, n, out);
  }
};

BlockLine quick_background(const double* y, std::size_t n, const std::vector<double>& seg_sigma,
                           const BackgroundOptions& options, double fwhm_points) {
  const int w = options.half_window > 0 ? options.half_window : std::max(2, int(std::ceil(options.window_fwhm * fwhm_points)));
  const int h = options.smooth_half_window >= 0 ? options.smooth_half_window : int(std::lround(0.5 * fwhm_points));
  std::size_t D = std::size_t(std::max(1.0, std::floor(kFastBackgroundBlock * fwhm_points)));
  if (n / D < kMinPoints) D = 1;
  const std::size_t nb = n / D;
  std::vector<double> means = D > 1 ? block_means(y, n, D) : std::vector<double>(y, y + n), clipped(nb);
  const int wb = std::max(2, int(std::ceil(double(w) / double(D))));
  const int hb = int(std::lround(double(h) / double(D)));
  snip_background(means.data(), nb, wb, options.lls, options.decreasing, hb, clipped.data());
  if (options.offset_correction) {
    const std::size_t k = seg_sigma.size();
    std::vector<double> offset(k, 0.0);
    for (std::size_t s = 0; s < k; ++s) {
      // The mean residual within +-3 sigma of the blocks: the median's role at no sort.
      const double cut = 3 * seg_sigma[s] / std::sqrt(double(D));
      double sum = 0, count = 0;
      for (std::size_t b = s * nb / k; b < (s + 1) * nb / k; ++b) {
        const double d = means[b] - clipped[b];
        const bool in = std::abs(d) < cut;
        sum += in ? d : 0.0;
        count += in ? 1.0 : 0.0;
      }
      if (count > 4) offset[s] = sum / count;
    }
    const std::vector<double> lift = interpolate_segments(offset, nb);
    for (std::size_t b = 0; b < nb; ++b) clipped[b] += lift[b];
  }
  BlockLine out;
  out.v = std::move(clipped);
  out.D = D;
  out.n = n;
  return out;
}

// Maxima of rb, r's block means (D points), convolved with -G'' of standard deviation sigma_blocks
// (zero-sum), significant in curvature and in height, as candidates.
void detect_on_blocks(const double* two_theta, const std::vector<double>& rb, std::size_t n, std::size_t D,
                      double sigma_blocks, const std::vector<double>& noise, double fwhm, const PeakOptions& o,
                      std::vector<Candidate>& out) {
  const double step = (two_theta[n - 1] - two_theta[0]) / double(n - 1);
  const std::size_t nb = rb.size();
  const double sb = std::max(sigma_blocks, 0.8);
  const int hb = std::max(2, int(std::ceil(3 * sb)));
  if (nb <= std::size_t(2 * hb + 3)) return;
  std::vector<double> k(std::size_t(2 * hb + 1));
  double sum = 0, norm2 = 0;
  for (int j = -hb; j <= hb; ++j) {
    const double u = double(j) / sb;
    k[std::size_t(j + hb)] = (1 - u * u) * std::exp(-0.5 * u * u);
    sum += k[std::size_t(j + hb)];
  }
  for (double& v : k) { v -= sum / double(k.size()); norm2 += v * v; }
  const double knorm = std::sqrt(norm2 / double(D));  // block means carry noise / sqrt(D)
  // In single precision (a significance test needs no more), taps outer and points inner:
  // independent sums the compiler vectorises, where a per-point dot product would be one
  // dependent chain of adds.
  constexpr double to_f = 1.0;
  thread_local std::vector<float> rf, sf;
  rf.resize(nb);
  sf.assign(nb, 0.0f);
  for (std::size_t b = 0; b < nb; ++b) rf[b] = float(rb[b] * to_f);
  const std::size_t m = nb - 2 * std::size_t(hb);
  float* __restrict out_s = sf.data() + hb;
  const int taps = 2 * hb + 1;
  int j = 0;
  for (; j + 4 <= taps; j += 4) {  // four taps per pass: a quarter of the loads and stores of s
    const float k0 = float(k[std::size_t(j)]), k1 = float(k[std::size_t(j + 1)]), k2 = float(k[std::size_t(j + 2)]),
                k3 = float(k[std::size_t(j + 3)]);
    const float* __restrict rr = rf.data() + j;
    for (std::size_t b = 0; b < m; ++b) out_s[b] += k0 * rr[b] + k1 * rr[b + 1] + k2 * rr[b + 2] + k3 * rr[b + 3];
  }
  for (; j < taps; ++j) {
    const float kj = float(k[std::size_t(j)]);
    const float* __restrict rr = rf.data() + j;
    for (std::size_t b = 0; b < m; ++b) out_s[b] += kj * rr[b];
  }
  const float* s = sf.data();
  const double snr_height = 0.5 * o.min_snr, curv = o.min_curvature_snr * knorm * to_f;
  for (std::size_t b = std::size_t(hb) + 1; b + std::size_t(hb) + 1 < nb; ++b) {
    // All four tests without short-circuit: one branch, rarely taken, instead of four that
    // noise makes unpredictable.
    const std::size_t c = std::min(n - 1, b * D + D / 2);
    const bool keep = (s[b] > s[b - 1]) & (s[b] >= s[b + 1]) & (double(s[b]) >= curv * noise[c]) &
                      (rb[b] >= snr_height * noise[c]);
    if (!keep) continue;
    const double score = double(s[b]) / (knorm * to_f * noise[c]);
    const double den = double(s[b - 1]) - 2 * double(s[b]) + double(s[b + 1]);
    const double shift = den < 0 ? std::clamp(0.5 * (double(s[b - 1]) - double(s[b + 1])) / den, -0.5, 0.5) : 0.0;
    const double x = two_theta[0] + (double(b * D) + 0.5 * double(D - 1) + shift * double(D)) * step;
    out.push_back({x, rb[b], fwhm, 0.3, score});
  }
}

// One peak's parameters in closed form from its top and its K-alpha1-side half and quarter
// maxima (see the header); false when no maximum stands near the candidate.
template <class R, class RS>
bool measure_peak(const double* two_theta, const R& r, const RS& rs, std::size_t n, double x_cand,
                  double fwhm, const std::vector<double>& noise, const PeakOptions& o, const DoubletTable& table,
                  bool doublet, Peak& pk, double& top_seen) {
  const std::ptrdiff_t N = std::ptrdiff_t(n);
  const double step = (two_theta[n - 1] - two_theta[0]) / double(n - 1), wp = fwhm / step;
  const std::ptrdiff_t i0 = std::clamp<std::ptrdiff_t>(std::ptrdiff_t(std::lround((x_cand - two_theta[0]) / step)), 1, N - 2);
  // The top: the largest smoothed point within a quarter FWHM of the candidate.
  const std::ptrdiff_t reach = std::max<std::ptrdiff_t>(1, std::lround(0.25 * wp));
  std::ptrdiff_t im = i0;
  for (std::ptrdiff_t j = std::max<std::ptrdiff_t>(1, i0 - reach); j <= std::min(N - 2, i0 + reach); ++j)
    if (rs(j) > rs(im)) im = j;
  if (!(rs(im) > 0)) return false;
  const double x2c = doublet ? ka2_position(x_cand, o.wavelength, o.wavelength2) : NAN;
  const double sep_c = std::isfinite(x2c) ? x2c - x_cand : 0.0;
  if (!(rs(im) >= rs(im - 1) && rs(im) >= rs(im + 1)) && rs(i0) > 0) {
    // No maximum near the candidate: a shoulder on a taller neighbour's flank. Its top is
    // where the curvature peaked (the candidate), its width the typical one.
    const DoubletTable::Shape s = table.at(0.5, sep_c / fwhm);
    top_seen = rs(i0);
    pk.two_theta = x_cand - fwhm * s.vertex;
    pk.height = top_seen / s.height;
    pk.fwhm = fwhm;
    pk.eta = 0.5;
    pk.area = pk.height * fwhm * (0.5 * kLorentzArea + 0.5 * kGaussArea);
    const double sd = noise[std::size_t(i0)];
    pk.sigma_two_theta = std::sqrt(2 * (fwhm / 2.354820045) * step / std::sqrt(M_PI)) * sd / pk.height;
    pk.snr = pk.height / sd;
    return true;
  }
  // Left half-maximum distance of the smoothed data (points), for the parabola's window.
  auto left_crossing = [&](std::ptrdiff_t from, double level, double& dist) {
    const std::ptrdiff_t stop = std::max<std::ptrdiff_t>(0, from - std::ptrdiff_t(4 * wp) - 4);
    double low = rs(from);
    for (std::ptrdiff_t j = from - 1; j >= stop; --j) {
      if (rs(j) < level) {
        dist = double(from - j) - (level - rs(j)) / (rs(j + 1) - rs(j));
        return true;
      }
      // Rising again by 3 sigma before the level: a neighbour's valley, this side is blocked.
      if (rs(j) > low + 3 * noise[std::size_t(j)]) return false;
      low = std::min(low, rs(j));
    }
    return false;
  };
  auto right_crossing = [&](std::ptrdiff_t from, double level, double& dist) {
    const std::ptrdiff_t stop = std::min<std::ptrdiff_t>(N - 1, from + std::ptrdiff_t(6 * wp) + 4);
    double low = rs(from);
    for (std::ptrdiff_t j = from + 1; j <= stop; ++j) {
      if (rs(j) < level) {
        dist = double(j - from) - (level - rs(j)) / (rs(j - 1) - rs(j));
        return true;
      }
      if (rs(j) > low + 3 * noise[std::size_t(j)]) return false;
      low = std::min(low, rs(j));
    }
    return false;
  };
  double l0 = 0.5 * wp;
  if (!left_crossing(im, 0.5 * rs(im), l0) && !right_crossing(im, 0.5 * rs(im), l0)) l0 = 0.5 * wp;
  // The vertex and height of the least-squares parabola through r on +-0.6 half-widths.
  const std::ptrdiff_t a = std::clamp<std::ptrdiff_t>(std::lround(0.6 * l0), 2, std::ptrdiff_t(2 * wp) + 2);
  // Vertex (points from `centre`) and height of the parabola on [centre - a, centre + a].
  auto parabola = [&](std::ptrdiff_t centre, double& vertex, double& height) {
    if (centre - a < 0 || centre + a >= N) return false;
    double S0 = 0, S1 = 0, S2 = 0;
    for (std::ptrdiff_t j = -a; j <= a; ++j) {
      const double v = r(centre + j), jj = double(j);
      S0 += v; S1 += jj * v; S2 += jj * jj * v;
    }
    const double A = double(a), Nw = 2 * A + 1;
    const double J2 = A * (A + 1) * (2 * A + 1) / 3, J4 = A * (A + 1) * (2 * A + 1) * (3 * A * A + 3 * A - 1) / 15;
    const double c = (S2 - J2 / Nw * S0) / (J4 - J2 * J2 / Nw), b = S1 / J2, a0 = (S0 - c * J2) / Nw;
    if (!(c < 0)) return false;
    vertex = -b / (2 * c);
    height = a0 - b * b / (4 * c);
    return std::abs(vertex) <= 0.5 * A + 1;
  };
  double xv = two_theta[im], hv = rs(im), v0 = 0, h0 = 0;
  if (parabola(im, v0, h0)) {
    // A window not centred on the peak pulls the vertex towards its centre, by a share k of
    // the offset for a given shape: V(c) = X + k (c - X) for a window centred at c. Two
    // windows (at the nearest point and the next one towards the vertex) give X and k.
    double pos = double(im) + v0, height = h0, v1 = 0, h1 = 0;
    const std::ptrdiff_t im2 = im + (v0 >= 0 ? 1 : -1);
    if (parabola(im2, v1, h1)) {
      const double V0 = double(im) + v0, V1 = double(im2) + v1, k = (V1 - V0) / double(im2 - im);
      if (std::abs(k) < 0.5) pos = (V0 - k * double(im)) / (1 - k);
    }
    xv = two_theta[0] + pos * step;
    hv = height;
  }
  if (!(hv > 0)) return false;
  // Half and quarter maxima on the K-alpha1 side, from the point nearest the vertex.
  const std::ptrdiff_t iv = std::clamp<std::ptrdiff_t>(std::lround((xv - two_theta[0]) / step), 1, N - 2);
  const double frac = (xv - two_theta[iv]) / step;  // the vertex's offset from that point
  double half = 0, quarter = 0, right = 0;
  const bool has_half = left_crossing(iv, 0.5 * hv, half);
  const bool has_quarter = has_half && left_crossing(iv, 0.25 * hv, quarter);
  const bool has_right = !has_half && right_crossing(iv, 0.5 * hv, right);
  half = (half + frac) * step;
  quarter = (quarter + frac) * step;
  right = (right - frac) * step;
  // Solve for the K-alpha1 FWHM and eta: the observed distances are the doublet's at
  // delta = separation / FWHM (a fixed point; the table varies slowly with delta).
  const double x2 = doublet ? ka2_position(xv, o.wavelength, o.wavelength2) : NAN;
  const double sep = std::isfinite(x2) ? x2 - xv : 0.0;
  double w = has_half ? 2 * half : has_right ? 2 * right : fwhm, eta = 0.5;
  for (int it = 0; it < 4; ++it) {
    const DoubletTable::Shape s = table.at(eta, sep / w);
    if (has_half) w = half / s.half;
    else if (has_right) w = right / s.right;
    if (has_quarter) eta = table.eta_from_ratio(quarter / half, sep / w);
  }
  w = std::clamp(w, std::max(kMinWidth * fwhm, 1.5 * step) * 0.5, 4 * fwhm);
  const DoubletTable::Shape s = table.at(eta, sep / w);
  top_seen = hv;
  pk.two_theta = xv - w * s.vertex;
  pk.height = hv / s.height;
  pk.fwhm = w;
  pk.eta = eta;
  pk.area = pk.height * w * (eta * kLorentzArea + (1 - eta) * kGaussArea);
  // Position uncertainty: the Cramer-Rao bound of a Gaussian's centre in white noise,
  // sigma_x^2 = 2 s step sigma^2 / (sqrt(pi) h^2), s = FWHM / 2.3548.
  const double sd = noise[std::size_t(iv)];
  pk.sigma_two_theta = std::sqrt(2 * (w / 2.354820045) * step / std::sqrt(M_PI)) * sd / pk.height;
  pk.snr = pk.height / sd;
  return true;
}

// want_arrays: fill the background per point (a batch, which returns only peaks, skips it).
PeakSearch search_fast(const double* two_theta, const double* y, const double* sigma, std::size_t n,
                       const PeakOptions& o, bool want_arrays = true) {
  const double step = (two_theta[n - 1] - two_theta[0]) / double(n - 1);
  PeakSearch result;
  double y_lo = 0, y_hi = 0;
  double fwhm = quick_fwhm(two_theta, y, n, y_lo, y_hi);
  if (o.fwhm > 0) fwhm = o.fwhm;
  if (!(fwhm > 0)) fwhm = 10 * step;
  result.fwhm = fwhm;
  const double wp = fwhm / step;
  const std::vector<double> seg_sigma = quick_noise_segments(y, n);
  const BlockLine bg_line = quick_background(y, n, seg_sigma, o.background, wp);
  thread_local std::vector<double> bg_work;  // a batch's patterns reuse it
  std::vector<double>& bg_all = want_arrays ? result.background : bg_work;
  bg_all.resize(n);
  bg_line.fill(bg_all.data());
  const double* bgp = bg_all.data();
  if (sigma) {
    result.noise.assign(sigma, sigma + n);
    for (double& s : result.noise)
      if (!(s > 0) || !std::isfinite(s)) s = 0;
  } else if (o.counts) {
    result.noise.resize(n);
    for (std::size_t i = 0; i < n; ++i) result.noise[i] = std::sqrt(std::max(bgp[i], 1.0));
  }
  std::vector<double>& noise = result.noise;
  thread_local std::vector<double> r_work, rs_work;  // reused across a batch's patterns
  r_work.resize(n);
  rs_work.resize(n);
  double* rp = r_work.data();
  double* rsp = rs_work.data();
  for (std::size_t i = 0; i < n; ++i) rp[i] = y[i] - bgp[i];
  // The data smoothed by a 3-point mean, so that one noisy point does not end a walk.
  rsp[0] = rp[0];
  rsp[n - 1] = rp[n - 1];
  for (std::size_t i = 1; i + 1 < n; ++i) rsp[i] = (rp[i - 1] + rp[i] + rp[i + 1]) * (1.0 / 3.0);
  auto r = [rp](std::ptrdiff_t i) { return rp[i]; };
  // Narrow kernel (kernel_fwhm x FWHM) on block means of a fifth of it or less, then the wide
  // one (half a FWHM) on blocks of about a third of a FWHM (a whole number of narrow blocks).
  const double sk = std::max(o.kernel_fwhm * wp, 0.8);
  const std::size_t Dn = std::size_t(std::max(1.0, std::floor(sk / 1.5)));
  const std::vector<double> rn = Dn > 1 ? block_means(rp, n, Dn) : std::vector<double>(rp, rp + n);
  const std::size_t nbn = rn.size();
  // The noise floor of the refined search (apply_noise_floor): the tallest block mean over
  // the background stands for the tallest point, the quantum is read from every 4th difference.
  double t4[4] = {0, 0, 0, 0}, q4[4] = {INFINITY, INFINITY, INFINITY, INFINITY};
  {
    std::size_t b = 0;
    for (; b + 4 <= nbn; b += 4)
      for (std::size_t j = 0; j < 4; ++j) t4[j] = rn[b + j] > t4[j] ? rn[b + j] : t4[j];
    for (; b < nbn; ++b) t4[0] = std::max(t4[0], rn[b]);
    for (std::size_t i = 1; i + 16 <= n; i += 16)
      for (std::size_t j = 0; j < 4; ++j) {
        const double d = std::abs(y[i + 4 * j] - y[i + 4 * j - 1]);
        q4[j] = d > 0 && d < q4[j] ? d : q4[j];
      }
  }
  const double top = std::max({t4[0], t4[1], t4[2], t4[3]}), scale = std::max(std::abs(y_lo), std::abs(y_hi));
  const double quantum = std::min({q4[0], q4[1], q4[2], q4[3]});
  const double floor = std::max({1e-6 * top, std::isfinite(quantum) ? quantum : 0.0, 1e-9 * scale, 1e-300});
  if (noise.empty()) {  // from the data: the floor applied to the segments, then one pass
    std::vector<double> floored(seg_sigma);
    for (double& v : floored) v = std::max(v, floor);
    noise.resize(n);
    segments_to_lines(floored, n, noise.data());
  } else {
    for (double& v : noise) v = std::max(v, floor);
  }
  if (!(top > 1e-9 * scale) || !(scale > 0)) return result;  // flat (all zero: the LLS round trip's 1e-13 is no peak)

  std::vector<Candidate> cands;
  detect_on_blocks(two_theta, rn, n, Dn, sk / double(Dn), noise, fwhm, o, cands);
  const std::size_t n_narrow = cands.size();
  {
    const std::size_t m = std::max<std::size_t>(1, std::size_t(std::lround(std::floor(wp / 3.0) / double(Dn))));
    const std::size_t D = m * Dn;
    std::vector<double> rw(nbn / m);
    for (std::size_t b = 0; b < rw.size(); ++b) {  // the last wide block takes the remaining narrow ones
      const std::size_t lo = b * m, hi = b + 1 == rw.size() ? nbn : lo + m;
      double sum = 0;
      for (std::size_t k = lo; k < hi; ++k) sum += rn[k];
      rw[b] = sum / double(hi - lo);
    }
    std::vector<Candidate> wide;
    detect_on_blocks(two_theta, rw, n, D, 0.5 * wp / double(D), noise, fwhm, o, wide);
    for (const Candidate& c : wide) {
      bool near = false;
      for (std::size_t a = 0; a < n_narrow && !near; ++a) near = std::abs(cands[a].x - c.x) < 0.5 * fwhm;
      if (!near) cands.push_back(c);
    }
    if (cands.size() > n_narrow)
      std::sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& b) { return a.x < b.x; });
  }
  drop_ka2_and_cap(cands, o, fwhm, two_theta, step, noise, n);
  const bool doublet = o.wavelength2 > 0 && o.ka2_ratio > 0;
  const DoubletTable& table = doublet_table(doublet ? o.ka2_ratio : 0.0);
  std::vector<Peak> found;
  std::vector<double> top_seen;  // each peak's observed top (the blend's, over the background)
  found.reserve(cands.size());
  const double min_width = std::max(kMinWidth * fwhm, 1.5 * step);
  for (const Candidate& c : cands) {
    Peak pk;
    double hv = 0;
    if (!measure_peak(two_theta, r, [rsp](std::ptrdiff_t i) { return rsp[i]; }, n, c.x, fwhm, noise, o, table, doublet, pk, hv)) continue;
    if (!(pk.two_theta > two_theta[0] && pk.two_theta < two_theta[n - 1]) || !(pk.height > 0)) continue;
    if (pk.snr < o.min_snr || pk.fwhm < min_width) continue;
    found.push_back(pk);
    top_seen.push_back(hv);
  }
  // What the joint fit does to a candidate that is only a taller neighbour's K-alpha2 or
  // profile tail: a peak whose observed top is no taller than the taller peaks' doublet
  // profiles make it there (+20 % and 3 sigma, as for the K-alpha2 candidates) is dropped.
  const double rho = doublet ? o.ka2_ratio : 0.0;
  std::vector<bool> explained(found.size(), false);
  {  // sorted by position, so that each peak looks at its neighbours only
    std::vector<std::size_t> order(found.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t u, std::size_t v) { return found[u].two_theta < found[v].two_theta; });
    std::vector<Peak> f2;
    std::vector<double> t2;
    for (std::size_t i : order) { f2.push_back(found[i]); t2.push_back(top_seen[i]); }
    found.swap(f2);
    top_seen.swap(t2);
  }
  double widest = 0;
  for (const Peak& pk : found) widest = std::max(widest, pk.fwhm);
  std::vector<double> x2s(found.size(), NAN);  // each peak's K-alpha2 position, once
  if (rho > 0)
    for (std::size_t a = 0; a < found.size(); ++a) x2s[a] = ka2_position(found[a].two_theta, o.wavelength, o.wavelength2);
  for (std::size_t b = 0; b < found.size(); ++b) {
    const Peak& pb = found[b];
    double expected = 0;
    std::size_t a_lo = b, a_hi = b + 1;
    while (a_lo > 0 && pb.two_theta - found[a_lo - 1].two_theta <= 10 * widest) --a_lo;
    while (a_hi < found.size() && found[a_hi].two_theta - pb.two_theta <= 10 * widest) ++a_hi;
    for (std::size_t a = a_lo; a < a_hi; ++a) {
      const Peak& pa = found[a];
      if (a == b || !(pa.height > pb.height) || std::abs(pa.two_theta - pb.two_theta) > 10 * pa.fwhm) continue;
      expected += pa.height * pseudo_voigt((pb.two_theta - pa.two_theta) / pa.fwhm, pa.eta).p;
      if (std::isfinite(x2s[a])) expected += rho * pa.height * pseudo_voigt((pb.two_theta - x2s[a]) / pa.fwhm, pa.eta).p;
    }
    const double sd = noise[std::size_t(std::clamp<std::ptrdiff_t>(std::lround((pb.two_theta - two_theta[0]) / step), 0, std::ptrdiff_t(n) - 1))];
    explained[b] = expected > 0 && top_seen[b] < 1.2 * expected + 3 * sd;
  }
  {
    std::size_t w = 0;
    for (std::size_t b = 0; b < found.size(); ++b)
      if (!explained[b]) found[w++] = found[b];
    found.resize(w);
  }
  double tallest = 0;
  for (const Peak& pk : found) tallest = std::max(tallest, pk.height);
  std::sort(found.begin(), found.end(), [](const Peak& u, const Peak& v) { return u.two_theta < v.two_theta; });
  for (const Peak& pk : found)
    if (!(pk.height < o.min_relative_height * tallest)) add_unless_duplicate(result.peaks, pk);
  set_spacings(result.peaks, o.wavelength);
  return result;
}

}  // namespace

PeakSearch search_peaks(const double* two_theta, const double* y, const double* sigma, std::size_t n,
                        const PeakOptions& o) {
  check_input(two_theta, y, n);
  check_options(o);
  return o.refine ? search_refined(two_theta, y, sigma, n, o) : search_fast(two_theta, y, sigma, n, o);
}

void search_peaks_batch(const double* two_theta, const double* ys, std::size_t count, std::size_t n,
                        const PeakOptions& options, int n_threads, std::vector<std::vector<Peak>>& peaks,
                        std::vector<std::string>& errors) {
  peaks.assign(count, {});
  errors.assign(count, "");
  try {  // one grid and one set of options for all: checked once
    check_grid(two_theta, n);
    check_options(options);
  } catch (const std::exception& e) {
    errors.assign(count, e.what());
    return;
  }
#ifdef XRDFAST_OPENMP
  const int threads = n_threads > 0 ? n_threads : omp_get_max_threads();
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads)
#endif
  for (std::ptrdiff_t i = 0; i < std::ptrdiff_t(count); ++i) {
    try {
      const double* y = ys + size_t(i) * n;
      check_values(y, n);
      peaks[size_t(i)] = (options.refine ? search_refined(two_theta, y, nullptr, n, options)
                                         : search_fast(two_theta, y, nullptr, n, options, false)).peaks;
    } catch (const std::exception& e) {
      errors[size_t(i)] = e.what();
    }
  }
  (void)n_threads;
}

}  // namespace xrdfast

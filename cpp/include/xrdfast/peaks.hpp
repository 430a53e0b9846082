// Peak extraction from a measured or simulated powder pattern: background, noise, peaks.
//
// Background: SNIP, the statistics-sensitive non-linear iterative peak-clipping filter of
// Ryan, Clayton, Griffin, Sie & Cousens, Nucl. Instrum. Meth. B 34, 396 (1988), in the
// form of Morhac & Matousek, Appl. Spectrosc. 62, 91 (2008): second-order clipping with
// windows running from the largest down to 1 ("decreasing", their smoother variant), on
// LLS-transformed data v = ln(ln(sqrt(y + 1) + 1) + 1) so that weak peaks beside strong
// ones are clipped alike, and the edges padded by a straight line fitted to the last
// `window` points (as pybaselines does, which the tests compare against). The clipping
// half-window is tied to the measured peak width (a few FWHM): an amorphous hump or a
// fluorescence slope, tens of FWHM wide, stays in the background.
// Noise: from the data, a robust (MAD) standard deviation of second differences in
// segments of the pattern, interpolated between them; or from counting statistics when the
// caller states the esds or that the intensities are raw counts.
// Detection: the smoothed negative second derivative (second derivative of a Gaussian of
// 0.2 FWHM), whose maxima separate shoulders a plain maximum search would merge, plus a wide
// one (0.5 FWHM, near the matched filter) on block means for broad weak peaks; significance
// thresholds on both the curvature and the height over the background noise. The FWHM that
// scales every window is measured on the strongest peaks (estimate_fwhm).
// Fit: per cluster of overlapping peaks, a Levenberg-Marquardt least-squares fit
// (Marquardt, J. SIAM 11, 431 (1963)) of pseudo-Voigt profiles (Wertheim et al., J. Electron
// Spectrosc. 4, 432 (1974)) plus a local straight line on the background-subtracted data,
// giving sub-step position, FWHM, mixing eta, height, area and, from the covariance scaled by
// the residual variance, the position uncertainty.
// K-alpha doublets: each peak is modelled as a K-alpha1 line plus a K-alpha2 copy of half its
// area (ratio 0.5) at the position lambda2/lambda1 fixes at that angle,
// 2theta2 = 2 asin(lambda2/lambda1 sin theta1) -- chosen over Rachinger stripping because
// the fit keeps the K-alpha1 position unbiased where the doublet is half-resolved, while
// stripping amplifies noise and leaves residues at high angle. Reported positions, heights
// and areas are those of the K-alpha1 component.
// Fast mode (the default, options.refine = false): the same steps at a fraction of the
// cost -- the FWHM from block maxima, the noise from subsampled second differences, SNIP on
// half-FWHM block means with the offset taken on the blocks, detection on block means of
// about a fifth of the kernel width -- and no least squares: each peak's top is a
// least-squares parabola (its vertex and height), its width the half-maximum crossing on the
// K-alpha1 side (the side K-alpha2 does not reach), its eta the quarter- over half-maximum
// width, and the K-alpha2 shift of the blend's maximum, its height and its half width are
// read from tables of the exact doublet computed once per ratio (DoubletTable): the centroid
// of a doublet is K-alpha1 + ratio / (1 + ratio) x separation only for untruncated profiles,
// the maximum is what a noisy top measures. Position errors are ~2x the refined ones.
// Left out: peak asymmetry (axial divergence) is not modelled, so a strongly asymmetric
// low-angle peak is fitted by a symmetric profile; one FWHM estimate scales all windows, so
// widths that grow strongly with angle are fitted within [0.3, 2] x that estimate; grids must
// be uniform (the Python layer resamples others). Measured by benchmarks/bench_peaks.py.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace xrdfast {

struct BackgroundOptions {
  // SNIP half-window in points; 0 = window_fwhm * (estimated FWHM) / step.
  int half_window = 0;
  double window_fwhm = 3.0;  // half-window in units of the peak FWHM when half_window = 0
  bool lls = true;           // clip the LLS-transformed data (Morhac & Matousek 2008, sec. 2.2)
  bool decreasing = true;    // windows from the largest down to 1 (smoother; Morhac 2008)
  // Moving-average half-width (points) applied to the data before clipping; -1 = half the
  // FWHM. Clipping follows the noise minima, so unsmoothed SNIP sits ~2 sigma low.
  int smooth_half_window = -1;
  // Then lift the background by the median residual of the points within 3 sigma of it, per
  // segment: what smoothing leaves of the noise-minimum bias (about half a sigma).
  bool offset_correction = true;
  // Clip block means of about FWHM / 3 points instead of every point (window and smoothing
  // scaled alike), then interpolate: the same smooth curve at a fraction of the cost.
  bool decimate = true;
};

struct PeakOptions {
  BackgroundOptions background;
  double wavelength = 1.540593;  // Å, K-alpha1 (or the single wavelength)
  double wavelength2 = 0;        // Å, K-alpha2; 0 = monochromatic, no doublet model
  double ka2_ratio = 0.5;        // area of K-alpha2 over K-alpha1
  double fwhm = 0;               // degrees 2theta; 0 = estimate from the strongest peaks
  double min_snr = 4.0;          // minimum fitted height over the local noise
  // Minimum height as a share of the tallest peak: below ~1e-4 a pattern's "peaks" are
  // profile-tail and truncation artefacts more often than lines, even in 1e6-count data.
  double min_relative_height = 2e-4;
  double min_curvature_snr = 3.0;  // minimum smoothed -y'' over its own noise for a candidate
  // Detection kernel: second derivative of a Gaussian whose standard deviation is this many
  // FWHM; narrower separates closer shoulders, wider averages more noise.
  double kernel_fwhm = 0.2;
  int max_peaks = 400;           // the strongest this many are kept
  int max_cluster = 6;           // peaks fitted jointly at most; longer chains are cut at their widest gap
  int max_iterations = 6;        // Levenberg-Marquardt iterations per cluster (10 gives the same recall and errors)
  // false (default): the fast search -- background, noise and detection on block means, and
  // each peak's position, FWHM, eta, height and area in closed form (search_peaks_fast).
  // true: the refined search -- full-resolution background and detection, then the
  // Levenberg-Marquardt doublet fit of every cluster (about 50x slower, 10x smaller
  // position errors); what indexing and the extinction evidence read.
  bool refine = false;
  bool counts = false;           // intensities are raw counts: noise from Poisson statistics
};

// One fitted peak (the K-alpha1 component of a doublet).
struct Peak {
  double two_theta = 0;        // degrees
  double d = 0;                // Å
  double q = 0;                // 1/Å, 2 pi / d
  double height = 0;           // above the background, intensity units
  double area = 0;             // integrated, intensity x degrees
  double fwhm = 0;             // degrees 2theta
  double eta = 0;              // pseudo-Voigt Lorentzian fraction
  double sigma_two_theta = 0;  // degrees, one standard deviation
  double snr = 0;              // height over the local background noise
};

struct PeakSearch {
  std::vector<double> background;  // [n]
  std::vector<double> noise;       // [n] one standard deviation per point
  std::vector<Peak> peaks;         // sorted by two_theta
  double fwhm = 0;                 // degrees: the width estimate the windows used
};

// Typical FWHM (degrees) of the strongest peaks: the median half-maximum width of the
// largest local maxima, each measured above the lowest point within a few widths.
double estimate_fwhm(const double* two_theta, const double* y, std::size_t n);

// SNIP background of y on a uniform grid with the given half-window (points). [n] -> [n]
void snip_background(const double* y, std::size_t n, int half_window, bool lls, bool decreasing,
                     int smooth_half_window, double* out);

// Background with the window chosen from options (estimating the FWHM when needed); noise
// [n], when given, is the estimate_noise of y (saves computing it again).
std::vector<double> estimate_background(const double* two_theta, const double* y, std::size_t n,
                                        const BackgroundOptions& options, double fwhm = 0,
                                        const std::vector<double>* noise = nullptr);

// Piecewise-linear interpolation of per-segment values at the centres of k equal segments of
// [0, n): the shape estimate_noise and the offset correction share.
std::vector<double> interpolate_segments(const std::vector<double>& values, std::size_t n);

// Noise standard deviation per point from the data: robust MAD of second differences
// (lags 1 and 2, the larger, so that interpolated data are not taken as quiet), in
// segments of about `segment` points, interpolated linearly between segment centres.
std::vector<double> estimate_noise(const double* y, std::size_t n, std::size_t segment = 1024);

// The whole search on one pattern (fast or refined, options.refine); sigma [n] (esds) may be null. Throws
// std::invalid_argument for a grid that is not uniform or increasing, or non-finite values.
PeakSearch search_peaks(const double* two_theta, const double* y, const double* sigma, std::size_t n,
                        const PeakOptions& options);

// Many patterns on one grid: ys [count, n]; OpenMP over patterns with n_threads (0: all).
// Each pattern is independent, so the result does not depend on the thread count. A pattern
// that fails gets no peaks and its message in errors[i] ('' on success).
void search_peaks_batch(const double* two_theta, const double* ys, std::size_t count, std::size_t n,
                        const PeakOptions& options, int n_threads, std::vector<std::vector<Peak>>& peaks,
                        std::vector<std::string>& errors);

// 2theta (degrees) of the K-alpha2 component of a line whose K-alpha1 is at tt1; NaN when
// the line has none (sin theta2 >= 1).
double ka2_position(double tt1, double wavelength, double wavelength2);

}  // namespace xrdfast

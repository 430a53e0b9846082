// Rendering a pattern from its lines, written once for both simulator paths: the OpenMP loop
// (render_pattern in simulate.cpp) and the CUDA kernels (cpp/cuda/simulate_cuda.cu).
//
// The per-pattern peak plan (plan_peaks, host code in render.cpp): every K-alpha component of
// every line, with its observed position, its width and mixing from profile.hpp and the share
// of the line's integrated intensity it carries, sorted by position and grouped where
// components coincide (within kCoincidentLines): such lines are drawn as one peak, so the
// drawing does not depend on how the crystal's symmetry was written down. A group is drawn
// with its first member's position and width and the summed area of its members.
//
// The formulas per line and per point (XRDFAST_HD: host and device): Lorentz-polarisation
// with cylinder absorption, the line's integrated intensity, a group's area, background and
// amorphous hump, counting and read noise, normalisation. Simulate.hpp's header comment gives
// the physics and its references.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "xrdfast/hd.hpp"
#include "xrdfast/profile.hpp"
#include "xrdfast/rng.hpp"
#include "xrdfast/simulate.hpp"

namespace xrdfast {

// ---- Per line -------------------------------------------------------------------------

// Lorentz-polarisation factor at Bragg angle theta (radians), ITC Vol. C 6.2.5, for an
// unpolarised beam and a monochromator at 2theta_m (degrees); in Debye-Scherrer geometry
// times Hewat's cylinder absorption, as in GSAS (valid for mu R < ~1).
XRDFAST_HD inline double lorentz_polarisation(double theta, double monochromator_two_theta, bool debye_scherrer,
                                              double mu_r) {
  const double c2m = std::cos(monochromator_two_theta * kDegree), c2 = std::cos(2 * theta);
  const double s = std::sin(theta);
  double lp = (1 + c2m * c2m * c2 * c2) / (s * s * std::cos(theta) * (1 + c2m * c2m));
  if (debye_scherrer && mu_r > 0) {
    const double s2 = s * s, t1 = 1.7133 - 0.0368 * s2, t2 = -0.0927 - 0.3750 * s2;
    lp *= std::exp(-t1 * mu_r - t2 * mu_r * mu_r);
  }
  return lp;
}
inline double lorentz_polarisation(double theta, const SimulationParams& p) {
  return lorentz_polarisation(theta, p.monochromator_two_theta, p.geometry == Geometry::DebyeScherrer, p.mu_r);
}

// Integrated intensity s m |F|^2 LP T of a line (K-alpha1), s the phase's Hill-Howard scale.
XRDFAST_HD inline double line_intensity(double scale, int multiplicity, double f2, double lp, double texture) {
  return scale * multiplicity * f2 * lp * texture;
}

// ---- The peak plan ----------------------------------------------------------------------

// One K-alpha component of one line.
struct PeakMember {
  double centre;     // observed 2theta, degrees
  double fwhm, eta;  // degrees 2theta; Lorentzian fraction
  double theta;      // Bragg angle, radians
  double weight;     // 1 for K-alpha1, ka2_ratio for K-alpha2
  double lp_factor;  // LP(theta) / LP(theta of K-alpha1): each component carries its own LP
  int line;          // index of its line: area = intensity[line] * weight * lp_factor
};

// Members [member_begin, member_end) of the plan, drawn as one peak.
struct PeakGroup {
  int member_begin, member_end;
};

struct PeakPlan {
  std::vector<PeakMember> members;  // sorted by centre
  std::vector<PeakGroup> groups;    // in order of centre
};

// The peaks of a pattern of `lines` (d and the K-alpha1 LP of each are used). With
// `areas_known` (the CPU path) components of zero area are left out before grouping; the
// CUDA path learns the areas only on the device and leaves them out there, after grouping:
// the two differ only if a line of exactly zero intensity sits within kCoincidentLines of
// two others.
PeakPlan plan_peaks(const std::vector<Line>& lines, const SimulationParams& params, bool areas_known);

XRDFAST_HD inline double member_area(const PeakMember& m, const double* intensity) {
  return intensity[m.line] * m.weight * m.lp_factor;
}

// Area of a group: its positive-area members summed in centre order. *first: the first such
// member, whose position and width the peak is drawn with; -1 when there is none.
XRDFAST_HD inline double group_area(const PeakGroup& g, const PeakMember* members, const double* intensity, int* first) {
  double area = 0;
  *first = -1;
  for (int m = g.member_begin; m < g.member_end; ++m) {
    const double a = member_area(members[m], intensity);
    if (!(a > 0)) continue;
    if (*first < 0) {
      *first = m;
      area = a;
    } else {
      area += a;
    }
  }
  return area;
}

// ---- Per point --------------------------------------------------------------------------

// Background at `two_theta`, in units of the strongest Bragg point: the Chebyshev series
// sum_k c_k T_k(x), x the grid mapped onto [-1, 1] (lo: first point, span: last minus first),
// plus a Gaussian amorphous hump.
XRDFAST_HD inline double background_at(double two_theta, double lo, double span, const double* chebyshev, int n_chebyshev,
                                       double hump_amplitude, double hump_center, double hump_fwhm) {
  const double x = span > 0 ? 2 * (two_theta - lo) / span - 1 : 0;
  double t_prev = 1, t = x, b = 0;
  for (int k = 0; k < n_chebyshev; ++k) {
    const double tk = k == 0 ? 1.0 : (k == 1 ? x : 2 * x * t - t_prev);
    if (k >= 2) { t_prev = t; t = tk; }
    b += chebyshev[k] * tk;
  }
  const double dx = two_theta - hump_center;
  b += hump_amplitude * std::exp(-4 * std::log(2.0) * dx * dx / (hump_fwhm * hump_fwhm));
  return b;
}

// The unit of the background: the strongest Bragg point, or 1 for a pattern without peaks.
XRDFAST_HD inline double background_unit(double bragg_max) { return bragg_max > 0 ? bragg_max : 1.0; }

// Poisson noise with `counts` at the maximum `top` and Gaussian read noise of sigma
// `read_noise` x top, point by point in grid order from the stream (seed, stream): one
// sequence, so the CUDA path walks it in one thread to draw the CPU's numbers.
XRDFAST_HD inline void add_noise(double* y, std::size_t n, double top, std::uint64_t seed, std::uint64_t stream,
                                 double counts, double read_noise) {
  Rng rng(seed, stream);
  if (top <= 0) top = 1;
  for (std::size_t i = 0; i < n; ++i) {
    double v = y[i] / top;
    if (counts > 0) v = rng.poisson((v < 0.0 ? 0.0 : v) * counts) / counts;
    if (read_noise > 0) v += read_noise * rng.normal();
    y[i] = v * top;
  }
}

// Factor that scales a pattern of maximum `top` to a maximum of 1 (1 when not normalising).
XRDFAST_HD inline double normalisation_scale(double top, bool normalize) {
  return normalize && top > 0 ? 1.0 / top : 1.0;
}

}  // namespace xrdfast

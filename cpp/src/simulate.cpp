#include "xrdfast/simulate.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "xrdfast/profile.hpp"
#include "xrdfast/render.hpp"

#ifdef XRDFAST_OPENMP
#include <omp.h>
#endif

namespace xrdfast {

namespace {

std::string num(double v) { return std::to_string(v); }

}  // namespace

double observed_two_theta(double theta, const SimulationParams& p) {
  const double displacement = -2.0 * p.sample_displacement * std::cos(theta) / p.goniometer_radius / kDegree;
  return 2 * theta / kDegree + p.zero_shift + displacement;
}

void SimulationParams::validate() const {
  auto fail = [](const std::string& why) { throw std::invalid_argument("simulation parameters: " + why); };
  auto finite = [&](double v, const char* name) {
    if (!std::isfinite(v)) fail(std::string(name) + " must be finite");
  };
  for (auto [v, n] : {std::pair{wavelength, "wavelength"}, {wavelength2, "wavelength2"}, {ka2_ratio, "ka2_ratio"},
                      {U, "U"}, {V, "V"}, {W, "W"}, {X, "X"}, {Y, "Y"}, {eta, "eta"}, {zero_shift, "zero_shift"},
                      {sample_displacement, "sample_displacement"}, {goniometer_radius, "goniometer_radius"},
                      {march_dollase_r, "march_dollase_r"}, {counts, "counts"}, {read_noise, "read_noise"},
                      {crystallite_size, "crystallite_size"}, {microstrain, "microstrain"}, {asymmetry, "asymmetry"},
                      {hump_amplitude, "hump_amplitude"}, {hump_center, "hump_center"}, {hump_fwhm, "hump_fwhm"},
                      {mu_r, "mu_r"}, {monochromator_two_theta, "monochromator_two_theta"}, {scherrer_k, "scherrer_k"}})
    finite(v, n);
  for (double c : background_chebyshev) finite(c, "background_chebyshev");
  if (wavelength < 0.05 || wavelength > 5.0)
    fail("wavelength " + num(wavelength) + " Å is outside 0.05..5 Å (X-ray and thermal-neutron range)");
  if (wavelength2 != 0 && (wavelength2 < 0.05 || wavelength2 > 5.0)) fail("wavelength2 must be 0 (none) or 0.05..5 Å");
  if (ka2_ratio < 0 || ka2_ratio > 1) fail("ka2_ratio must lie in 0..1");
  if (eta < 0 || eta > 1) fail("eta " + num(eta) + " must lie in 0..1");
  if (W < 0 || U < 0) fail("Caglioti U and W must be non-negative");
  if (X < 0 || Y < 0) fail("Lorentzian X and Y must be non-negative");
  if (crystallite_size < 0 || microstrain < 0) fail("crystallite_size and microstrain must be non-negative");
  if (goniometer_radius <= 0) fail("goniometer_radius must be positive");
  if (march_dollase_r <= 0) fail("march_dollase_r must be positive (1 = random powder)");
  if (counts < 0 || read_noise < 0) fail("counts and read_noise must be non-negative");
  if (hump_fwhm <= 0) fail("hump_fwhm must be positive");
  if (mu_r < 0) fail("mu_r must be non-negative");
  if (anomalous && radiation == Radiation::Neutron) fail("anomalous dispersion applies to X-rays only");
}

LinePlan plan_lines(const std::vector<Phase>& phases, const SimulationParams& p, double tt_max) {
  p.validate();
  if (phases.empty()) throw std::invalid_argument("no phases to simulate");
  LinePlan plan;
  // Lines whose profile can reach the grid: allow for shifts and a generous peak reach.
  plan.margin = std::abs(p.zero_shift) + 5.0;
  const double tt_top = std::min(tt_max + plan.margin, 179.0);
  const double lambda_max = std::max(p.wavelength, p.wavelength2);
  plan.d_min = lambda_max / (2 * std::sin(0.5 * tt_top * kDegree));
  plan.model.radiation = p.radiation;
  plan.model.anomalous = p.anomalous;
  if (p.anomalous) plan.model.anode = anode_for_wavelength(p.wavelength);
  double weight_sum = 0;
  for (const Phase& ph : phases) {
    if (!(ph.weight_fraction >= 0) || !std::isfinite(ph.weight_fraction))
      throw std::invalid_argument("phase weight fractions must be non-negative");
    weight_sum += ph.weight_fraction;
  }
  if (!(weight_sum > 0)) throw std::invalid_argument("phase weight fractions sum to zero");
  for (const Phase& ph : phases)  // Hill & Howard: intensity per unit weight fraction ~ 1 / (M V)
    plan.scales.push_back(ph.weight_fraction / weight_sum / (ph.crystal->cell_mass() * ph.crystal->cell().volume()));
  return plan;
}

void add_lines(const std::vector<Reflection>& families, const LinePlan& plan, size_t phase, const SimulationParams& p,
               double tt_min, std::vector<Line>& lines) {
  for (const Reflection& r : families) {
    const double sin_theta = p.wavelength / (2 * r.d);
    if (sin_theta >= 1) continue;
    const double theta = std::asin(sin_theta);
    const double tt = observed_two_theta(theta, p);
    if (tt < tt_min - plan.margin) continue;
    const double lp = lorentz_polarisation(theta, p);
    lines.push_back(Line{r.hkl, r.d, tt, r.multiplicity, r.f2, lp, r.texture,
                         line_intensity(plan.scales[phase], r.multiplicity, r.f2, lp, r.texture), int(phase)});
  }
}

std::vector<Line> powder_lines(const std::vector<Phase>& phases, const SimulationParams& p, double tt_min,
                               double tt_max) {
  const LinePlan plan = plan_lines(phases, p, tt_max);
  std::vector<Line> lines;
  for (size_t ip = 0; ip < phases.size(); ++ip) {
    const Crystal& crystal = *phases[ip].crystal;
    std::vector<Reflection> families = reflection_families(crystal, plan.d_min);
    compute_structure_factors(crystal, plan.model, families);
    apply_march_dollase(crystal, p.march_dollase_r, p.preferred_orientation, families);
    add_lines(families, plan, ip, p, tt_min, lines);
  }
  return lines;
}

namespace {

// A group of the peak plan as it is drawn: its first member's position and width, the
// group's summed area.
struct Peak { double centre, area, fwhm, eta, theta; };

std::vector<Peak> merged_peaks(const PeakPlan& plan, const std::vector<Line>& lines) {
  std::vector<double> intensity(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) intensity[i] = lines[i].intensity;
  std::vector<Peak> peaks;
  peaks.reserve(plan.groups.size());
  for (const PeakGroup& g : plan.groups) {
    int first;
    const double area = group_area(g, plan.members.data(), intensity.data(), &first);
    if (first < 0) continue;
    const PeakMember& m = plan.members[size_t(first)];
    peaks.push_back(Peak{m.centre, area, m.fwhm, m.eta, m.theta});
  }
  return peaks;
}

double max_of(const std::vector<double>& y) {  // 0 for a row without positive values
  double top = 0;
  for (double v : y) top = std::max(top, v);
  return top;
}

// Add each peak's profile to y over the grid points it reaches. Asymmetric peaks point by
// point (profile.hpp's profile_value, as the CUDA kernel draws every peak); symmetric ones
// by the parts separately, the Gaussian by a recurrence on uniform grids.
void draw_peaks(const std::vector<Peak>& peaks, double asymmetry, const std::vector<double>& grid, std::vector<double>& y) {
  const size_t n = grid.size();
  double top_height = 0;  // sets the Lorentzian tails' reach
  for (const Peak& pk : peaks) top_height = std::max(top_height, pk.area * pseudo_voigt_peak(pk.fwhm, pk.eta));
  // Window of grid points within `reach` of `centre`: by arithmetic on a uniform grid (one
  // point of slack either side; the loops test the distance exactly), else by bisection.
  const double x0 = grid.front(), step = (grid.back() - grid.front()) / double(n - 1);
  bool uniform = true;
  for (size_t i = 1; i < n && uniform; ++i) uniform = std::abs(grid[i] - (x0 + double(i) * step)) <= 1e-9 * step;
  auto window = [&](double centre, double reach, size_t* lo, size_t* hi) {
    if (uniform) {
      const double a = std::floor((centre - reach - x0) / step), b = std::ceil((centre + reach - x0) / step);
      *lo = a <= 0 ? 0 : std::min(n, size_t(a));
      *hi = b < 0 ? 0 : std::min(n, size_t(b) + 1);
    } else {
      *lo = size_t(std::lower_bound(grid.begin(), grid.end(), centre - reach) - grid.begin());
      *hi = size_t(std::upper_bound(grid.begin(), grid.end(), centre + reach) - grid.begin());
    }
  };
  double* __restrict acc = y.data();
  const double* __restrict x = grid.data();
  for (const Peak& pk : peaks) {
    size_t lo, hi;
    const double c = pk.centre;
    if (asymmetry != 0) {  // the general loop: both parts and the asymmetry factor per point
      const PeakReach reach = peak_reach(pk.area, pk.fwhm, pk.eta, top_height);
      window(c, std::max(reach.gaussian, reach.lorentzian), &lo, &hi);
      for (size_t i = lo; i < hi; ++i) acc[i] += profile_value(x[i] - c, pk.area, pk.fwhm, pk.eta, pk.theta, asymmetry, reach);
      continue;
    }
    if (pk.eta > 0) {  // Lorentzian part over its own reach
      const double l_reach = lorentzian_reach(pk.area, pk.fwhm, pk.eta, top_height);
      const double gamma = 0.5 * pk.fwhm, gamma2 = gamma * gamma;
      const double a = pk.area * pk.eta / lorentzian_kept_fraction(l_reach, pk.fwhm) * gamma / M_PI;
      window(c, l_reach, &lo, &hi);
      for (size_t i = lo; i < hi; ++i) {
        const double dx = x[i] - c;
        if (std::abs(dx) <= l_reach) acc[i] += a / (dx * dx + gamma2);
      }
    }
    if (pk.eta < 1) {  // Gaussian part over kGaussianReach FWHM
      const double g_reach = pk.fwhm * kGaussianReach;
      const double cg = 4 * std::log(2.0) / (pk.fwhm * pk.fwhm), a = pk.area * (1 - pk.eta) * std::sqrt(cg / M_PI);
      window(c, g_reach, &lo, &hi);
      while (lo < hi && std::abs(x[lo] - c) > g_reach) ++lo;
      while (hi > lo && std::abs(x[hi - 1] - c) > g_reach) --hi;
      if (uniform && hi > lo) {
        // exp(-cg (d0 + i s)^2) by recurrence: three exponentials per peak, not one per point
        const double d0 = x[lo] - c;
        double g = a * std::exp(-cg * d0 * d0), ratio = std::exp(-cg * (2 * d0 * step + step * step));
        const double q = std::exp(-2 * cg * step * step);
        for (size_t i = lo; i < hi; ++i) {
          acc[i] += g;
          g *= ratio;
          ratio *= q;
        }
      } else {
        for (size_t i = lo; i < hi; ++i) {
          const double dx = x[i] - c;
          acc[i] += a * std::exp(-cg * dx * dx);
        }
      }
    }
  }
}

// Background and amorphous hump, in units of the strongest Bragg point.
void add_background(const SimulationParams& p, const std::vector<double>& grid, std::vector<double>& y) {
  const double unit = background_unit(max_of(y));
  const double lo = grid.front(), span = grid.back() - grid.front();
  for (size_t i = 0; i < grid.size(); ++i)
    y[i] += unit * background_at(grid[i], lo, span, p.background_chebyshev.data(), int(p.background_chebyshev.size()),
                                 p.hump_amplitude, p.hump_center, p.hump_fwhm);
}

}  // namespace

template <typename T>
void render_pattern(const std::vector<Line>& lines, const SimulationParams& p, const std::vector<double>& grid,
                    std::uint64_t seed, std::uint64_t stream, T* out) {
  std::vector<double> y(grid.size(), 0.0);
  draw_peaks(merged_peaks(plan_peaks(lines, p, /*areas_known=*/true), lines), p.asymmetry, grid, y);
  if (!p.background_chebyshev.empty() || p.hump_amplitude != 0) add_background(p, grid, y);
  if (p.counts > 0 || p.read_noise > 0) add_noise(y.data(), y.size(), max_of(y), seed, stream, p.counts, p.read_noise);
  const double scale = normalisation_scale(max_of(y), p.normalize);
  for (size_t i = 0; i < y.size(); ++i) out[i] = T(y[i] * scale);
}

template void render_pattern<float>(const std::vector<Line>&, const SimulationParams&, const std::vector<double>&,
                                    std::uint64_t, std::uint64_t, float*);
template void render_pattern<double>(const std::vector<Line>&, const SimulationParams&, const std::vector<double>&,
                                     std::uint64_t, std::uint64_t, double*);

void check_grid(const std::vector<double>& grid) {
  if (grid.size() < 2) throw std::invalid_argument("2theta grid needs at least 2 points, got " + std::to_string(grid.size()));
  for (size_t i = 0; i < grid.size(); ++i) {
    if (!std::isfinite(grid[i])) throw std::invalid_argument("2theta grid has a non-finite value at index " + std::to_string(i));
    if (i && !(grid[i] > grid[i - 1]))
      throw std::invalid_argument("2theta grid must increase strictly (index " + std::to_string(i) + ")");
  }
  if (grid.front() <= 0 || grid.back() >= 180)
    throw std::invalid_argument("2theta grid must lie inside (0, 180) degrees, got " + num(grid.front()) + ".." + num(grid.back()));
}

void check_batch(size_t n_items, size_t n_params, const std::vector<double>& grid) {
  check_grid(grid);
  if (n_params != 1 && n_params != n_items)
    throw std::invalid_argument("give one parameter set, or one per structure (" + std::to_string(n_items) +
                                "), not " + std::to_string(n_params));
}

Pattern simulate(const std::vector<Phase>& phases, const SimulationParams& params, const std::vector<double>& grid,
                 std::uint64_t seed) {
  check_grid(grid);
  Pattern pattern;
  pattern.two_theta = grid;
  pattern.lines = powder_lines(phases, params, grid.front(), grid.back());
  pattern.intensity.resize(grid.size());
  render_pattern(pattern.lines, params, grid, seed, 0, pattern.intensity.data());
  return pattern;
}

void simulate_batch(const std::vector<std::vector<Phase>>& items, const std::vector<SimulationParams>& params,
                    const std::vector<double>& grid, std::uint64_t seed, int n_threads, float* out,
                    std::vector<std::string>& errors) {
  check_batch(items.size(), params.size(), grid);
  errors.assign(items.size(), std::string());
  const long n = long(items.size());
  const size_t width = grid.size();
#ifdef XRDFAST_OPENMP
  const int threads = n_threads > 0 ? n_threads : omp_get_max_threads();
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
  for (long i = 0; i < n; ++i) {
    float* row = out + size_t(i) * width;
    try {
      const SimulationParams& p = params.size() == 1 ? params[0] : params[size_t(i)];
      const std::vector<Line> lines = powder_lines(items[size_t(i)], p, grid.front(), grid.back());
      render_pattern(lines, p, grid, seed, std::uint64_t(i), row);
    } catch (const std::exception& e) {
      errors[size_t(i)] = e.what();
      std::fill(row, row + width, std::numeric_limits<float>::quiet_NaN());
    }
  }
  (void)n_threads;
}

}  // namespace xrdfast

#include "xrdfast/simulate.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "xrdfast/interrupt.hpp"
#include "xrdfast/profile.hpp"
#include "xrdfast/render.hpp"
#include "xrdfast/text.hpp"

#ifdef XRDFAST_OPENMP
#include <omp.h>
#endif

namespace xrdfast {

double observed_two_theta(double theta, const SimulationParams& p) {
  const double displacement = -2.0 * p.sample_displacement * std::cos(theta) / p.goniometer_radius / kDegree;
  return 2 * theta / kDegree + p.zero_shift + displacement;
}

const std::vector<ParameterRange>& parameter_ranges() {
  using P = SimulationParams;
  // name, field, lo, hi, 0 switches the effect off, unit, why this range
  static const std::vector<ParameterRange> table = {
      {"wavelength", &P::wavelength, 0.05, 5.0, false, "Å", "hard X-rays to thermal neutrons"},
      {"wavelength2", &P::wavelength2, 0.05, 5.0, true, "Å", "a second (K-alpha2) line; 0 for a monochromatic beam"},
      {"ka2_ratio", &P::ka2_ratio, 0.0, 1.0, false, "", "I(K-alpha2) / I(K-alpha1); 0.5 for every common anode"},
      {"monochromator_two_theta", &P::monochromator_two_theta, 0.0, 120.0, false, "deg",
       "26.6 for graphite (002) with Cu, 45 for LiF (200); 0 for none"},
      {"mu_r", &P::mu_r, 0.0, 1.0, false, "", "Hewat's cylinder absorption holds for mu R up to ~1"},
      {"U", &P::U, 0.0, 1.0, false, "deg^2", "Caglioti U; 1 means a 1 deg FWHM at 2theta = 90 deg"},
      {"V", &P::V, -1.0, 1.0, false, "deg^2", "Caglioti V; also V >= -2 sqrt(U W), so that FWHM^2 stays positive"},
      {"W", &P::W, 0.0, 1.0, false, "deg^2", "Caglioti W; FWHM^2 at low angle (0.0025: 0.05 deg)"},
      {"X", &P::X, 0.0, 1.0, false, "deg", "Lorentzian X / cos(theta)"},
      {"Y", &P::Y, 0.0, 1.0, false, "deg", "Lorentzian Y tan(theta)"},
      {"eta", &P::eta, 0.0, 1.0, false, "", "pseudo-Voigt Lorentzian fraction"},
      {"crystallite_size", &P::crystallite_size, 1.0, 1e5, true, "nm",
       "Scherrer size broadening; below 1 nm there is no crystal, above 100 um no measurable width; 0 for none"},
      {"microstrain", &P::microstrain, 0.0, 0.05, false, "", "strain broadening 4 e tan(theta); 5 % is beyond plastic flow"},
      {"scherrer_k", &P::scherrer_k, 0.5, 2.0, false, "", "Scherrer constant, 0.89..1.33 by crystallite shape"},
      {"asymmetry", &P::asymmetry, -100.0, 100.0, false, "deg^-2",
       "Rietveld's P; the factor 1 - P sgn(d) d^2 / tan(theta) must keep the peak's shape"},
      {"zero_shift", &P::zero_shift, -1.0, 1.0, false, "deg", "2theta zero error; more is a misaligned instrument"},
      {"sample_displacement", &P::sample_displacement, -2.0, 2.0, false, "mm", "sample height error"},
      {"goniometer_radius", &P::goniometer_radius, 50.0, 2000.0, false, "mm", "lab goniometers 135-435, synchrotrons up to ~2000"},
      {"march_dollase_r", &P::march_dollase_r, 0.1, 10.0, false, "", "March-Dollase r; 1 is a random powder"},
      {"preferred_orientation", nullptr, -20.0, 20.0, false, "", "each Miller index of the texture axis, not all zero"},
      {"background_chebyshev", nullptr, -100.0, 100.0, false, "x strongest peak",
       "each Chebyshev coefficient, at most 36 of them"},
      {"hump_amplitude", &P::hump_amplitude, 0.0, 100.0, false, "x strongest peak", "amorphous hump height"},
      {"hump_center", &P::hump_center, 0.0, 180.0, false, "deg", "amorphous hump position"},
      {"hump_fwhm", &P::hump_fwhm, 0.1, 180.0, false, "deg", "amorphous hump width"},
      {"counts", &P::counts, 1.0, 1e9, true, "counts", "Poisson counts at the maximum; 0 for noiseless"},
      {"read_noise", &P::read_noise, 0.0, 1.0, false, "x maximum", "Gaussian noise sigma"},
  };
  return table;
}

void SimulationParams::validate() const {
  auto fail = [](const std::string& why) { throw std::invalid_argument("simulation parameters: " + why); };
  auto range_text = [](const ParameterRange& r) {
    std::string text = number_text(r.lo) + " .. " + number_text(r.hi) + (*r.unit ? std::string(" ") + r.unit : "");
    return (r.zero_is_off ? "0 or " : "") + text + " (" + r.why + ")";
  };
  auto check = [&](const ParameterRange& r, double v, const std::string& name) {
    if (!std::isfinite(v)) fail(name + " = " + number_text(v) + " must be finite; its range is " + range_text(r));
    if ((v < r.lo || v > r.hi) && !(r.zero_is_off && v == 0))
      fail(name + " = " + number_text(v) + " is outside its range " + range_text(r));
  };
  for (const ParameterRange& r : parameter_ranges()) {
    if (r.field) {
      check(r, this->*r.field, r.name);
    } else if (std::string(r.name) == "background_chebyshev") {
      if (background_chebyshev.size() > kMaxChebyshevTerms)
        fail("background_chebyshev has " + std::to_string(background_chebyshev.size()) + " coefficients, more than " +
             std::to_string(kMaxChebyshevTerms));
      for (size_t k = 0; k < background_chebyshev.size(); ++k)
        check(r, background_chebyshev[k], "background_chebyshev[" + std::to_string(k) + "]");
    } else if (std::string(r.name) == "preferred_orientation") {
      for (int j = 0; j < 3; ++j) check(r, preferred_orientation[j], "preferred_orientation[" + std::to_string(j) + "]");
      if (preferred_orientation == Vec3i{0, 0, 0}) fail("preferred_orientation must be a nonzero hkl");
    }
  }
  // A second line is the K-alpha2 of the same anode: 0.25 % (Cu) to 2.3 % (W) longer. A
  // wavelength set alone keeps Cu K-alpha2 beside it, a line from another anode.
  if (wavelength2 != 0 && std::abs(wavelength2 / wavelength - 1) > kDoubletSplitting)
    fail("wavelength2 = " + number_text(wavelength2) + " Å is not the K-alpha2 beside wavelength = " +
         number_text(wavelength) + " Å (more than " + number_text(100 * kDoubletSplitting) +
         " % apart): give wavelength2 = 0 for one line, or the same anode's K-alpha2");
  // H_G^2 = U t^2 + V t + W >= 0 for every t = tan(theta) >= 0 needs V >= -2 sqrt(U W)
  if (V < -2 * std::sqrt(U * W))
    fail("Caglioti V = " + number_text(V) + " makes FWHM^2 = U tan^2 + V tan + W negative at some angle; with U = " +
         number_text(U) + " and W = " + number_text(W) + " V must be at least -2 sqrt(U W) = " +
         number_text(0.0 - 2 * std::sqrt(U * W)));
  if (W == 0 && X == 0 && crystallite_size == 0)
    fail("the peaks have no width at low angles: give Caglioti W, Lorentzian X or a crystallite size");
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
  if (grid.size() > kMaxGridPoints)
    throw std::invalid_argument("2theta grid has " + std::to_string(grid.size()) + " points, more than the " +
                                std::to_string(kMaxGridPoints) + " xrdfast renders (a step of 0.0001 deg over 100 deg)");
  for (size_t i = 0; i < grid.size(); ++i) {
    if (!std::isfinite(grid[i])) throw std::invalid_argument("2theta grid has a non-finite value at index " + std::to_string(i));
    if (i && !(grid[i] > grid[i - 1]))
      throw std::invalid_argument("2theta grid must increase strictly (index " + std::to_string(i) + ")");
  }
  if (grid.front() <= 0 || grid.back() >= 180)
    throw std::invalid_argument("2theta grid must lie inside (0, 180) degrees, got " + number_text(grid.front()) +
                                ".." + number_text(grid.back()));
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
    if (interrupt_requested()) continue;  // an OpenMP loop cannot break: skip what is left
    try {
      poll_interrupt();
      const SimulationParams& p = params.size() == 1 ? params[0] : params[size_t(i)];
      const std::vector<Line> lines = powder_lines(items[size_t(i)], p, grid.front(), grid.back());
      render_pattern(lines, p, grid, seed, std::uint64_t(i), row);
    } catch (const Interrupted&) {
      // the flag is set; the loop drains and the call throws below
    } catch (const std::exception& e) {
      errors[size_t(i)] = e.what();
      std::fill(row, row + width, std::numeric_limits<float>::quiet_NaN());
    }
  }
  if (interrupt_requested()) throw Interrupted();
  (void)n_threads;
}

}  // namespace xrdfast

// A powder pattern from crystal structures: lines (reflections with integrated
// intensities) rendered on a 2theta grid with instrument and sample effects.
//
// Integrated intensity of a line (ITC Vol. C, section 6.2): I = s m |F|^2 LP T A, with s the
// phase scale, m the multiplicity, LP = (1 + cos^2 2theta_m cos^2 2theta) /
// (sin^2 theta cos theta (1 + cos^2 2theta_m)) for an unpolarised beam and a monochromator at
// 2theta_m, T the March-Dollase texture weight, A the cylinder absorption of Debye-Scherrer
// geometry (Hewat's approximation as in GSAS; constant for a thick Bragg-Brentano plate).
// A mixture scales phase p by w_p / (M_p V_p) -- weight fraction over cell mass times cell
// volume (Hill & Howard, J. Appl. Cryst. 20, 467 (1987)). Then background (Chebyshev
// polynomial plus an amorphous hump), Poisson counting noise at a chosen peak count and
// Gaussian read noise, and normalisation to a maximum of 1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "xrdfast/crystal.hpp"
#include "xrdfast/reflections.hpp"

namespace xrdfast {

constexpr double kCoincidentLines = 1e-7;  // degrees 2theta: closer lines are drawn as one peak
// Bounds on what one pattern may cost, checked before anything is allocated: the finest
// measured scans hold ~2e5 points (0.0005 deg over 5-120 deg).
constexpr std::size_t kMaxGridPoints = 1'000'000;

enum class Geometry { BraggBrentano, DebyeScherrer };
enum class ProfileShape { PseudoVoigt, ThompsonCoxHastings };

struct SimulationParams {
  // Radiation. Default Cu K-alpha1/alpha2 (Holzer et al., Phys. Rev. A 56, 4554 (1997)).
  Radiation radiation = Radiation::XRay;
  double wavelength = 1.540593;    // Å
  double wavelength2 = 1.544414;   // Å; 0 for a monochromatic beam
  double ka2_ratio = 0.5;          // I(K-alpha2) / I(K-alpha1)
  bool anomalous = false;          // f', f'' of the anode whose K-alpha1 is `wavelength`
  // Geometry and Lorentz-polarisation.
  Geometry geometry = Geometry::BraggBrentano;
  double monochromator_two_theta = 0;  // degrees; 26.6 for graphite (002) with Cu
  double mu_r = 0;                     // capillary absorption, Debye-Scherrer only
  // Profile: Caglioti U, V, W (deg^2), Lorentzian X, Y (deg), mixing eta for pseudo-Voigt.
  ProfileShape shape = ProfileShape::PseudoVoigt;
  double U = 0.0, V = 0.0, W = 0.0025, X = 0.0, Y = 0.0;
  double eta = 0.5;
  double crystallite_size = 0;   // nm; 0 for no size broadening
  double microstrain = 0;        // dimensionless
  double scherrer_k = 0.9;
  double asymmetry = 0;          // Rietveld's P, deg^-2 x tan(theta)
  // Aberrations.
  double zero_shift = 0;            // degrees 2theta, added to every line
  double sample_displacement = 0;   // mm; shift -2 s cos(theta) / R
  double goniometer_radius = 240;   // mm
  // Sample.
  double march_dollase_r = 1.0;
  Vec3i preferred_orientation{0, 0, 1};
  // Background (in units of the strongest Bragg point) and noise.
  std::vector<double> background_chebyshev;  // coefficients of T_n(x), x = 2theta mapped to [-1, 1]
  double hump_amplitude = 0, hump_center = 25, hump_fwhm = 10;  // amorphous hump, degrees
  double counts = 0;       // Poisson noise with this many counts at the maximum; 0: noiseless
  double read_noise = 0;   // Gaussian noise sigma, as a fraction of the maximum
  bool normalize = true;   // scale to a maximum of 1

  // Throws std::invalid_argument naming the first parameter out of its physical range
  // (parameter_ranges()), its value and the range; then the rules that tie parameters
  // together (the Caglioti FWHM^2 must stay positive; a profile needs some width).
  void validate() const;
};

// The physical range of every numeric parameter: the one table that validate() checks,
// bound to Python (xrdfast.simulate.PARAMETER_RANGES) and printed in the README. Values
// outside [lo, hi] are refused, except 0 where `zero_is_off` (the effect is switched off).
// For background_chebyshev the range holds for each coefficient (at most
// kMaxChebyshevTerms); for preferred_orientation for each Miller index (not all zero).
struct ParameterRange {
  const char* name;
  double SimulationParams::*field;  // nullptr for the vector-valued parameters
  double lo, hi;
  bool zero_is_off;
  const char* unit;
  const char* why;
};
constexpr std::size_t kMaxChebyshevTerms = 36;  // GSAS's largest background function
constexpr double kDoubletSplitting = 0.03;       // |wavelength2 / wavelength - 1| of a K-alpha doublet
const std::vector<ParameterRange>& parameter_ranges();

struct Line {
  Vec3i hkl;
  double d;            // Å
  double two_theta;    // degrees, K-alpha1, after zero shift and displacement
  int multiplicity;
  double f2;           // mean |F|^2
  double lp;           // Lorentz-polarisation (and absorption) factor
  double texture;      // March-Dollase weight
  double intensity;    // integrated intensity s m |F|^2 LP T A (K-alpha1 only)
  int phase;           // index of the phase in a mixture
};

struct Phase {
  const Crystal* crystal;
  double weight_fraction = 1.0;
};

struct Pattern {
  std::vector<double> two_theta;
  std::vector<double> intensity;
  std::vector<Line> lines;
};

// Observed 2theta (degrees) of a reflection with Bragg angle theta (radians): zero shift and
// sample displacement (-2 s cos(theta) / R) applied.
double observed_two_theta(double theta, const SimulationParams& params);

// Throws std::invalid_argument unless `grid` (degrees 2theta) has at least two points, all
// finite, strictly increasing and inside (0, 180). Both batch paths call it first.
void check_grid(const std::vector<double>& grid);
// check_grid, and one parameter set or one per item: what both batch paths check first.
void check_batch(size_t n_items, size_t n_params, const std::vector<double>& grid);

// What every line computation settles first: the resolution limit (with a margin for
// shifts and peak reach), the scattering model and each phase's Hill-Howard scale. Shared by
// the CPU and CUDA paths so that both read a mixture alike; throws for bad parameters.
struct LinePlan {
  double d_min;        // Å
  double margin;       // degrees 2theta kept beyond the grid on either side
  ScatteringModel model;
  std::vector<double> scales;  // per phase: w_p / sum(w) / (M_p V_p)
};
LinePlan plan_lines(const std::vector<Phase>& phases, const SimulationParams& params, double two_theta_max);

// Append the lines of phase `phase` whose profile can reach a grid starting at two_theta_min:
// K-alpha1 position, Lorentz-polarisation and integrated intensity of each family (with the
// f2 and texture the families carry).
void add_lines(const std::vector<Reflection>& families, const LinePlan& plan, size_t phase,
               const SimulationParams& params, double two_theta_min, std::vector<Line>& lines);

// Lines of a mixture whose reflections can reach the grid, before any rendering.
std::vector<Line> powder_lines(const std::vector<Phase>& phases, const SimulationParams& params,
                               double two_theta_min, double two_theta_max);

// Render lines on a strictly increasing grid (degrees 2theta), adding background, noise
// (stream `stream` of `seed`) and normalisation. Writes grid.size() values to `out`.
template <typename T>
void render_pattern(const std::vector<Line>& lines, const SimulationParams& params, const std::vector<double>& grid,
                    std::uint64_t seed, std::uint64_t stream, T* out);

Pattern simulate(const std::vector<Phase>& phases, const SimulationParams& params, const std::vector<double>& grid,
                 std::uint64_t seed = 0);

// N patterns into out[N, grid.size()] (float32), OpenMP over patterns with n_threads
// (0: all). Item i uses params[i] (or params[0] if one is given) and noise stream i of
// `seed`, so results do not depend on the thread count. A failing item leaves a row of NaN
// and its message in errors[i] (empty on success); the others are unaffected.
void simulate_batch(const std::vector<std::vector<Phase>>& items, const std::vector<SimulationParams>& params,
                    const std::vector<double>& grid, std::uint64_t seed, int n_threads, float* out,
                    std::vector<std::string>& errors);

}  // namespace xrdfast

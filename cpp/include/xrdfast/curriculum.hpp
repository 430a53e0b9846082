// Curriculum samples: a labelled pattern as a pure function of (stage settings, seed, index).
//
// Sample i draws everything from the stream Rng(seed, i): an extinction group uniformly
// (stage 1 is EG-balanced by construction; the others too, with the prior added at
// training time), a member space group uniformly, a random crystal of it (random_crystal.hpp)
// or -- the paper's stage-1 "lattice-only" generator -- its allowed reflections with random
// Wilson-distributed intensities and Gaussian peaks, then instrument and sample nuisances
// from the stage's distributions, and an optional impurity phase. Noise uses a second
// stream keyed by (seed ^ kNoiseSalt, i). So any sample regenerates bit for bit from its
// index, and a dataset's content does not depend on how it was split into shards or threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "xrdfast/random_crystal.hpp"
#include "xrdfast/simulate.hpp"

namespace xrdfast {

struct Interval {  // a uniform distribution on [lo, hi]
  double lo = 0, hi = 0;
  double draw(Rng& rng) const { return lo == hi ? lo : rng.uniform(lo, hi); }
  double draw_log(Rng& rng) const { return lo == hi ? lo : std::exp(rng.uniform(std::log(lo), std::log(hi))); }
};

struct StageDistribution {
  std::string name;                  // "1", "2" or "po"
  double lattice_only_fraction = 0;  // share of samples from the lattice-only generator
  RandomCrystalOptions crystal;
  // Instrument: Caglioti U, V, W (deg^2), Lorentzian X (deg), pseudo-Voigt eta.
  Interval U{0.0005, 0.0095}, V{0, 0}, W{0.0006, 0.0095}, X{0, 0.003}, eta{0, 0};
  double eta_power = 1.0;  // eta = u^eta_power: skews eta towards Gaussian for powers > 1
  Interval zero_shift{0, 0};           // degrees
  Interval sample_displacement{0, 0};  // mm
  // Sample: crystallite size (nm, log-uniform) and microstrain, each applied with a probability.
  double size_probability = 0;
  Interval crystallite_size{20, 500};
  double strain_probability = 0;
  Interval microstrain{0, 0.002};
  // March-Dollase texture along a random low-index axis, r log-uniform in the interval.
  double texture_probability = 0;
  Interval march_dollase_r{1, 1};
  // Measurement: Poisson counts at the maximum (log-uniform), read noise, background.
  double noise_probability = 0;
  Interval counts{1e3, 1e5};
  Interval read_noise{0, 0};
  double background_probability = 0;
  Interval background_level{0, 0}, background_slope{0, 0}, background_curvature{0, 0};
  double hump_probability = 0;
  Interval hump_amplitude{0, 0}, hump_center{18, 30}, hump_fwhm{6, 14};
  // An impurity phase: a random crystal of a random space group at this weight fraction.
  double impurity_probability = 0;
  Interval impurity_fraction{0.002, 0.06};

  // The presets of the curriculum: "1" clean and EG-balanced, "2" realistic (nuisances fitted
  // to measured lab patterns), "po" realistic with strong preferred orientation.
  static StageDistribution preset(const std::string& stage);
};

// What a sample is, and every parameter needed to regenerate it.
struct SampleRecord {
  std::int64_t index = 0;
  std::int32_t status = 0;  // 0 ok; 1 the generator gave up (row is NaN, message in errors)
  std::int32_t space_group = 0, extinction_group = 0, crystal_system = 0, lattice_only = 0, n_atoms = 0;
  double cell[6] = {0, 0, 0, 0, 0, 0};
  double U = 0, V = 0, W = 0, X = 0, eta = 0, zero_shift = 0, sample_displacement = 0;
  double crystallite_size = 0, microstrain = 0, march_dollase_r = 1;
  std::int32_t preferred_orientation[3] = {0, 0, 1};
  double counts = 0, read_noise = 0;
  double background[3] = {0, 0, 0};
  double hump[3] = {0, 25, 10};  // amplitude, centre, fwhm
  double impurity_fraction = 0;
  std::int32_t impurity_space_group = 0;
};

// The instrument, sample and measurement nuisances of one sample, drawn from `rng` in the
// generator's order: Caglioti U, V, W, Lorentzian X, eta, zero shift, displacement, then
// size, strain, texture (axis among kTextureAxes), noise, background and hump, each with its
// stage probability. The one definition of a stage's nuisance distribution: the generator
// renders with it, and evaluation (xrdfast.ml.evaluate) draws its AMCSD patterns from it.
SimulationParams draw_params(const StageDistribution& dist, Rng& rng);

// The nuisances sample `index` of stream `seed` is rendered with (generate_samples' record of
// it), before the lattice-only generator's own Gaussian peaks (eta = X = 0) apply.
SimulationParams sample_params(const StageDistribution& dist, std::uint64_t seed, std::int64_t index);

constexpr std::uint64_t kNoiseSalt = 0xD1B54A32D192ED03ULL;

// Samples first .. first+count-1: patterns into out[count, grid.size()] (float32), records,
// and error messages (empty on success). OpenMP over samples with n_threads (0: all).
void generate_samples(const StageDistribution& dist, std::uint64_t seed, std::int64_t first, std::int64_t count,
                      const std::vector<double>& grid, int n_threads, float* out, SampleRecord* records,
                      std::vector<std::string>& errors);

}  // namespace xrdfast

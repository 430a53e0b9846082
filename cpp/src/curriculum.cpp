#include "xrdfast/curriculum.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "xrdfast/extinction.hpp"
#include "xrdfast/interrupt.hpp"

#ifdef XRDFAST_OPENMP
#include <omp.h>
#endif

namespace xrdfast {

StageDistribution StageDistribution::preset(const std::string& stage) {
  StageDistribution d;
  d.name = stage;
  if (stage == "1") {
    // Baggett et al. stage 1: clean, EG-balanced; Gaussian-dominated peaks with
    // Caglioti U, W of 0.0005-0.0095 deg^2 and a little Lorentzian X; half lattice-only.
    d.lattice_only_fraction = 0.5;
    d.crystal.max_atoms = 60;
    return d;
  }
  if (stage != "2" && stage != "po")
    throw std::invalid_argument("unknown stage '" + stage + "' (expected 1, 2 or po)");
  // Stage 2, "realistic": the paper's fitted medians and 5-95 % ranges (U 0.0049-0.0119,
  // V -0.0021..-0.00005, W 0.0032-0.0119 deg^2; eta median 0.19; March-Dollase r 0.667-1.515
  // for about half the samples; impurities up to 6 %), plus what the development RRUFF
  // patterns show: backgrounds mostly subtracted (10th percentile 0-1.4 % of the maximum),
  // noise sigma 0.1-3.6 % of the maximum (median 0.6 %), and zero shifts the paper left out.
  d.crystal.max_atoms = 100;
  d.U = {0.0049, 0.0119};
  d.V = {-0.0021, -0.00005};
  d.W = {0.0032, 0.0119};
  d.X = {0.0, 0.03};
  d.eta = {0.0, 1.0};
  d.eta_power = 2.5;  // median 0.5^2.5 = 0.18
  d.zero_shift = {-0.06, 0.06};
  d.sample_displacement = {-0.15, 0.15};
  d.size_probability = 0.5;
  d.crystallite_size = {30, 500};
  d.strain_probability = 0.3;
  d.microstrain = {0, 0.0015};
  d.texture_probability = 0.5;
  d.march_dollase_r = {0.667, 1.515};
  d.noise_probability = 0.95;
  d.counts = {3e2, 3e4};
  d.read_noise = {0, 0.004};
  d.background_probability = 0.8;
  d.background_level = {0, 0.03};
  d.background_slope = {-0.02, 0.02};
  d.background_curvature = {-0.01, 0.01};
  d.hump_probability = 0.25;
  d.hump_amplitude = {0.0, 0.08};
  d.impurity_probability = 0.35;
  d.impurity_fraction = {0.002, 0.062};
  if (stage == "po") {  // the paper's late stage: texture on every sample, stronger
    d.texture_probability = 1.0;
    d.march_dollase_r = {0.4, 2.5};
  }
  return d;
}

namespace {

const Vec3i kTextureAxes[] = {{0, 0, 1}, {1, 0, 0}, {0, 1, 0}, {1, 1, 0}, {1, 0, 1}, {0, 1, 1}, {1, 1, 1}};

int pick(Rng& rng, int n) { return std::min(n - 1, int(rng.uniform() * n)); }

Crystal draw_crystal(int space_group, const RandomCrystalOptions& options, Rng& rng) {
  for (int attempt = 0;; ++attempt) {
    try {
      return random_crystal(space_group, options, rng);
    } catch (const std::runtime_error&) {
      if (attempt == 2) throw;  // the same stream moves on, so a retry is a new draw
    }
  }
}

// The draws that open a sample's stream: its extinction group, a member space group, and
// whether the lattice-only generator makes it.
void draw_kind(const StageDistribution& d, Rng& rng, SampleRecord& rec) {
  rec.extinction_group = 1 + pick(rng, kNumExtinctionGroups);
  const auto& members = ExtinctionGroup::get(rec.extinction_group).space_groups;
  rec.space_group = members[size_t(pick(rng, int(members.size())))];
  rec.crystal_system = int(crystal_system_of(rec.space_group));
  rec.lattice_only = rng.uniform() < d.lattice_only_fraction;
}

// The record's copy of the nuisances a sample is rendered with.
void record_params(const SimulationParams& p, SampleRecord& rec) {
  rec.U = p.U;
  rec.V = p.V;
  rec.W = p.W;
  rec.X = p.X;
  rec.eta = p.eta;
  rec.zero_shift = p.zero_shift;
  rec.sample_displacement = p.sample_displacement;
  rec.crystallite_size = p.crystallite_size;
  rec.microstrain = p.microstrain;
  rec.march_dollase_r = p.march_dollase_r;
  for (int j = 0; j < 3; ++j) rec.preferred_orientation[j] = p.preferred_orientation[j];
  rec.counts = p.counts;
  rec.read_noise = p.read_noise;
  for (size_t j = 0; j < 3; ++j) rec.background[j] = j < p.background_chebyshev.size() ? p.background_chebyshev[j] : 0.0;
  rec.hump[0] = p.hump_amplitude;
  rec.hump[1] = p.hump_center;
  rec.hump[2] = p.hump_fwhm;
}

}  // namespace

SimulationParams draw_params(const StageDistribution& d, Rng& rng) {
  SimulationParams p;
  p.U = d.U.draw(rng);
  p.V = d.V.draw(rng);
  p.W = d.W.draw(rng);
  p.X = d.X.draw(rng);
  p.eta = std::pow(d.eta.draw(rng), d.eta_power);
  p.zero_shift = d.zero_shift.draw(rng);
  p.sample_displacement = d.sample_displacement.draw(rng);
  if (rng.uniform() < d.size_probability) p.crystallite_size = d.crystallite_size.draw_log(rng);
  if (rng.uniform() < d.strain_probability) p.microstrain = d.microstrain.draw(rng);
  if (rng.uniform() < d.texture_probability) {
    p.march_dollase_r = d.march_dollase_r.draw_log(rng);
    p.preferred_orientation = kTextureAxes[pick(rng, 7)];
  }
  if (rng.uniform() < d.noise_probability) {
    p.counts = d.counts.draw_log(rng);
    p.read_noise = d.read_noise.draw(rng);
  }
  if (rng.uniform() < d.background_probability) {
    const double level = d.background_level.draw(rng);
    const double slope = d.background_slope.draw(rng);
    const double curvature = d.background_curvature.draw(rng);
    p.background_chebyshev = {level, slope, curvature};
  }
  if (rng.uniform() < d.hump_probability) {
    p.hump_amplitude = d.hump_amplitude.draw(rng);
    p.hump_center = d.hump_center.draw(rng);
    p.hump_fwhm = d.hump_fwhm.draw(rng);
  }
  return p;
}

SimulationParams sample_params(const StageDistribution& d, std::uint64_t seed, std::int64_t index) {
  Rng rng(seed, std::uint64_t(index));
  SampleRecord rec;
  draw_kind(d, rng, rec);
  return draw_params(d, rng);
}

namespace {

void generate_one(const StageDistribution& d, std::uint64_t seed, std::int64_t index, const std::vector<double>& grid,
                  float* row, SampleRecord& rec) {
  Rng rng(seed, std::uint64_t(index));
  rec = SampleRecord{};
  rec.index = index;
  draw_kind(d, rng, rec);
  SimulationParams p = draw_params(d, rng);
  record_params(p, rec);
  const bool impurity = rng.uniform() < d.impurity_probability;

  RandomCrystalOptions options = d.crystal;  // room for the smallest orbit with exactly this symmetry
  options.max_atoms = std::max(options.max_atoms, smallest_exact_orbit(rec.space_group));
  const Crystal crystal = draw_crystal(rec.space_group, options, rng);
  rec.n_atoms = int(crystal.atoms().size());
  const UnitCell& cell = crystal.cell();
  const double cell_params[6] = {cell.a, cell.b, cell.c, cell.alpha, cell.beta, cell.gamma};
  std::copy(cell_params, cell_params + 6, rec.cell);

  std::vector<Line> lines;
  if (rec.lattice_only) {
    // Allowed reflections, Wilson (exponential) intensities, Gaussian peaks.
    p.eta = rec.eta = 0;
    p.X = rec.X = 0;
    lines = powder_lines({Phase{&crystal, 1.0}}, p, grid.front(), grid.back());
    for (Line& l : lines) {
      double u = rng.uniform();
      while (u <= 0) u = rng.uniform();
      l.f2 = -std::log(u);
      l.intensity = l.multiplicity * l.f2 * l.lp * l.texture;
    }
  } else if (impurity) {
    RandomCrystalOptions small = d.crystal;
    rec.impurity_space_group = 1 + pick(rng, 230);
    // impurities are small cells, but some cubic groups have no true structure below ~100 atoms
    small.max_atoms = std::max(std::min(small.max_atoms, 40), smallest_exact_orbit(rec.impurity_space_group));
    small.min_atoms = std::min(small.min_atoms, small.max_atoms);
    rec.impurity_fraction = d.impurity_fraction.draw(rng);
    const Crystal other = draw_crystal(rec.impurity_space_group, small, rng);
    lines = powder_lines({Phase{&crystal, 1.0 - rec.impurity_fraction}, Phase{&other, rec.impurity_fraction}}, p,
                         grid.front(), grid.back());
  } else {
    lines = powder_lines({Phase{&crystal, 1.0}}, p, grid.front(), grid.back());
  }
  render_pattern(lines, p, grid, seed ^ kNoiseSalt, std::uint64_t(index), row);
}

}  // namespace

void generate_samples(const StageDistribution& dist, std::uint64_t seed, std::int64_t first, std::int64_t count,
                      const std::vector<double>& grid, int n_threads, float* out, SampleRecord* records,
                      std::vector<std::string>& errors) {
  if (count < 0) throw std::invalid_argument("sample count must be non-negative");
  if (grid.size() < 2) throw std::invalid_argument("2theta grid needs at least 2 points");
  errors.assign(size_t(count), std::string());
  const size_t width = grid.size();
#ifdef XRDFAST_OPENMP
  const int threads = n_threads > 0 ? n_threads : omp_get_max_threads();
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
  for (std::int64_t i = 0; i < count; ++i) {
    float* row = out + size_t(i) * width;
    if (interrupt_requested()) continue;  // an OpenMP loop cannot break: skip what is left
    try {
      poll_interrupt();
      generate_one(dist, seed, first + i, grid, row, records[i]);
    } catch (const Interrupted&) {
      // the flag is set; the loop drains and the call throws below
    } catch (const std::exception& e) {
      records[i].index = first + i;
      records[i].status = 1;
      errors[size_t(i)] = e.what();
      std::fill(row, row + width, std::numeric_limits<float>::quiet_NaN());
    }
  }
  if (interrupt_requested()) throw Interrupted();
  (void)n_threads;
}

}  // namespace xrdfast

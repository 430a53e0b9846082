// Extinction evidence: which extinction groups of an indexed cell the measured profile allows.
//
// The route of ExtSym (Markvardsen, David, Johnson & Shankland, Acta Cryst. A57, 47 (2001);
// J. Appl. Cryst. 41, 1177 (2008)): with the cell fixed, the integrated intensities of every
// reflection the least restrictive group of the lattice allows are extracted from the profile
// (a Pawley-like linear least squares with widths, wavelengths and shifts given); then each
// extinction group -- in every ITA setting whose point-group rotations keep the cell's metric
// (axis permutations, cell choices, centrings, obverse and reverse rhombohedral) -- is scored by
// the probability of the measured profile when its forbidden reflections carry no intensity
// and its allowed ones follow Wilson's acentric distribution (exponential with the mean a local
// Wilson plot gives). The measured intensities enter through the normal matrix of the profile
// fit, so overlapping reflections keep their correlation: for a setting with present set P,
//   L = prod_{j in P} lambda_j  *  integral_{I_P >= 0} exp(-chi2(I_P, I_A = 0) / 2 - lambda . I_P) dI_P,
// done in closed form for the Gaussian and with the positive orthant taken as the product of
// the marginal probabilities (exact for isolated reflections). Reflections closer than a
// fraction of the FWHM are one "composite" (they cannot be told apart); a composite partly
// allowed by a setting has its Wilson mean scaled by the allowed fraction of its multiplicity.
//
// Left out: refinement of the cell, widths and shifts (they come from peak fitting and
// indexing), centric intensity statistics, and phases other than the indexed one.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include <Eigen/Dense>

#include "xrdfast/spacegroup.hpp"
#include "xrdfast/unitcell.hpp"

namespace xrdfast {

// How a d-spacing becomes a peak on the measured pattern, with the simulator's conventions
// (simulate.hpp, profile.hpp): K-alpha1/2 wavelengths, zero shift plus sample displacement
// (-2 s cos(theta) / R), Caglioti Gaussian widths, Lorentzian X / cos + Y tan, size and strain.
struct Instrument {
  double wavelength = 1.540593;   // Å, K-alpha1 (or monochromatic)
  double wavelength2 = 1.544414;  // Å; 0 for a monochromatic beam
  double ka2_ratio = 0.5;
  double zero_shift = 0;           // degrees 2theta
  double sample_displacement = 0;  // mm
  double goniometer_radius = 240;  // mm
  double U = 0, V = 0, W = 0.0025, X = 0, Y = 0;  // deg^2 (U, V, W) and deg (X, Y)
  double crystallite_size = 0, microstrain = 0, scherrer_k = 0.9;  // nm, -, -
  double eta = -1;  // pseudo-Voigt Lorentzian fraction; < 0: Thompson-Cox-Hastings from the widths
  double monochromator_two_theta = 0;  // degrees, for the Lorentz-polarisation factor

  double observed_two_theta(double d, double wavelength_used) const;  // degrees; NaN beyond 2theta = 180
  void widths(double d, double* fwhm, double* eta_out) const;         // at K-alpha1
};

struct EvidenceOptions {
  double merge_fwhm = 0.15;         // reflections closer than this many FWHM form one composite
  double max_density = 0.25;        // stop where composites per FWHM exceed this (fitted on held-out AMCSD, seed 777)
  int max_composites = 600;         // and after this many (the rest carry little absence information)
  double model_error = 0.03;        // relative profile error added to the counting variance
  double intensity_error = 0.05;    // intensity error, as a fraction of the Wilson mean, added to the extraction's
  int background_terms = 8;         // Chebyshev terms refined on top of the given background
  double coupling_cut = 2e-3;       // normal-matrix correlations below this split the likelihood into blocks
  double metric_tolerance = 4e-3;   // |R^T G R - G| / max(G_ii) for a setting to fit the cell
  bool refine = true;               // refine zero shift, displacement, cell and a width scale with the extraction
};

// Reflections (one per Friedel pair) sharing a peak.
struct Composite {
  double d;          // Å (mean of the members)
  double two_theta;  // degrees, observed K-alpha1 position
  double fwhm, eta;  // profile at that position
  std::vector<Vec3i> hkl;
};

// One ITA setting of one extinction group, as the cell sees it.
struct SettingScore {
  int extinction_group;
  int hall_number;
  bool reverse;                 // rhombohedral in the reverse setting (hkl -> -h, -k, l)
  double log_likelihood;
  std::vector<float> allowed;   // [n_composites] allowed fraction of each composite's members
};

struct EvidenceResult {
  std::vector<Composite> composites;
  // Extraction with every reflection of the lattice allowed (non-negative least squares).
  std::vector<double> intensity, sigma;  // [n_composites] integrated intensity and its standard error
  std::vector<double> correlation_next;  // [n_composites] correlation of composite j with j+1 (0 for the last)
  std::vector<double> wilson_mean;       // [n_composites] expected intensity when fully allowed
  std::vector<double> background;        // [n_points] the given background plus the refined correction
  std::vector<double> fit;               // [n_points] the extracted peaks' profile
  std::vector<double> variance;          // [n_points] noise variance used
  double two_theta_max = 0;              // upper end of the analysed range
  std::array<double, 6> cell{};          // refined cell (Å, degrees)
  double zero_shift = 0, sample_displacement = 0, width_scale = 1;  // refined geometry (deg, mm, -)
  double chi2_reduced = 0;
  std::vector<SettingScore> settings;    // every compatible (group, setting), distinct absences only
  std::vector<int> groups;               // extinction groups of the lattice system that fit the cell
  std::vector<double> group_log_likelihood;  // log of the mean likelihood over each group's settings
  std::vector<int> group_best_setting;       // index into settings of each group's best setting
};

// The extinction groups of a lattice system and the settings of their members that fit the
// cell, with the hkl transform (reverse rhombohedral) each needs.
struct CompatibleSetting {
  int extinction_group;
  int hall_number;
  bool reverse;
};
std::vector<CompatibleSetting> compatible_settings(const UnitCell& cell, LatticeSystem system, double metric_tolerance);

// The likelihood of one block of composites: log of
//   prod_{j allowed} lambda_j  integral_{I_P >= 0} exp(I.rhs - I.Q.I / 2 - lambda . I) dI_P,
// lambda_j = 1 / (allowed_j wilson_mean_j), the forbidden composites held at zero; the orthant
// probability as the product of the marginal ones. q: [m, m] precision of the measured
// intensities, rhs: [m] Q I_hat, allowed, wilson_mean: [m]. Public for the brute-force test.
double gaussian_wilson_log_likelihood(const Eigen::MatrixXd& q, const Eigen::VectorXd& rhs,
                                      const std::vector<float>& allowed, const std::vector<double>& wilson_mean);

// Whether hkl is absent in a setting (reverse: hkl seen through the obverse/reverse twin law).
bool absent_in(const SpaceGroup& sg, const Vec3i& hkl, bool reverse);

// The whole evaluation: extraction, then the likelihood of every compatible setting.
// two_theta strictly increasing (degrees), intensity and background on it.
EvidenceResult extinction_evidence(const std::vector<double>& two_theta, const std::vector<double>& intensity,
                                   const std::vector<double>& background, const UnitCell& cell, LatticeSystem system,
                                   const Instrument& instrument, const EvidenceOptions& options);

LatticeSystem lattice_system_from_pearson(const std::string& pearson);  // "mP", "oC", "hR", ...

}  // namespace xrdfast

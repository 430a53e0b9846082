// Automatic indexing of powder patterns: from the positions of the first 20-30 lines to
// ranked unit cells with their Bravais lattice and figures of merit.
//
// Everything happens in Q = 1/d^2 = h G* h^T (International Tables Vol. B, 1.1), with the
// core's UnitCell for the metric tensors. The search combines trial-index solutions for
// the high-symmetry systems (Werner, Eriksson & Westdahl, J. Appl. Cryst. 18 (1985) 367,
// TREOR) with a zone search for the low ones (Visser, J. Appl. Cryst. 2 (1969) 89, ITO):
// two-dimensional reciprocal zones built from pairs of lines and the de Wolff relation
// Q(h+k) + Q(h-k) = 2Q(h) + 2Q(k), ranked by how far the lines they index stand above
// chance, then a third reciprocal axis: normal to the zone for monoclinic (unique axis
// normal to it) and orthorhombic cells, primitive or centred -- the half-points
// (p + t) / 2, (q + t) / 2, (p + q + t) / 2 of the zone axes p, q and the normal t are the
// C-centred monoclinic and A, B, C, I, F orthorhombic lattices seen from a zone the lines
// show -- from an axial line or, as Ito does, a general one; oblique to it for the rest.
// The search's extent is a budget of work per stage (line tests, not seconds), so results
// depend on the input alone; a wall-clock cap is only a safety net. Each trial cell is refined
// by weighted least squares in 2theta with a zero shift, reduced (Niggli; Krivy & Gruber,
// Acta Cryst. A32 (1976) 297, with the tolerances of Grosse-Kunstleve et al., Acta Cryst.
// A60 (2004) 1), given its Bravais lattice from the reduced cell's metric symmetry (the
// rotations of the lattice, whose two-, three-, four- and sixfold axes build the
// conventional cell, as Le Page, J. Appl. Cryst. 15 (1982) 255, does with twofold axes),
// refined again with the lattice's constraints and ranked by de Wolff's M20 (J. Appl.
// Cryst. 1 (1968) 108) with Smith & Snyder's F_N (J. Appl. Cryst. 12 (1979) 60) beside it.
//
// Left out: space-group assignment (extinction evidence reads absences from the indexed
// lines), dominant-zone pathologies beyond the volume cap, and cells above max_volume.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "xrdfast/symop.hpp"

namespace xrdfast {

struct IndexingOptions {
  double wavelength = 1.540593;  // Å, converts 2theta to Q (Cu K-alpha1)
  int max_lines = 25;            // the lowest-angle lines used
  int top = 5;                   // solutions returned
  double effort = 1.0;           // scales each search stage's budget of work (trial-cell line
                                 // tests): the results depend on the input alone
  double time_limit = 30.0;      // s of wall clock per pattern: a safety net for pathological
                                 // input only (reported in IndexingReport::timed_out)
  double tolerance = 0.03;       // deg 2theta: a line is indexed within this after refinement
  double search_tolerance = 0.06;  // deg 2theta while screening trial cells (before any refinement)
  int max_impurities = 6;        // unindexed lines tolerated among the first 20: a minor
                                 // phase of a measured sample puts several there, and a
                                 // trial cell rejected for them leaves the place to a
                                 // triclinic cell that indexes everything (on simulated
                                 // monoclinic minerals, a quarter with a second mineral's
                                 // lines, family right 66 -> 76 % of all patterns for 2 -> 6;
                                 // the tests after the third miss are not charged to the
                                 // search's budgets; subcells that leave weak lines over now
                                 // pass the search: benchmarks/bench_indexing.py
                                 // --max-impurities)
  double max_volume = 4000.0;    // Å^3, largest reduced cell searched
  bool refine_zero = true;       // refine a zero shift of 2theta with every cell
  double min_m20 = 4.0;          // solutions with a lower de Wolff M20 are dropped
  int lowest_system = 4;         // search down to: 0 cubic, 1 tetragonal and hexagonal,
                                 // 2 orthorhombic, 3 monoclinic, 4 triclinic
  double metric_tolerance = 0.04;  // a refined cell's metric may deviate this far (relative,
                                   // about degrees / 57) from a lattice's symmetry for that
                                   // lattice to be refined and scored beside the strict one
                                   // (0.004); measured positions bend a freely refined cell
  double superstructure_chance = 0.05;  // a superstructure indexing the lines a cell leaves
                                        // over replaces it when chance explains them less
                                        // often than this (0: never)
};

struct IndexedLine {
  Vec3i hkl;               // conventional cell
  double two_theta_obs;    // deg, corrected for the zero shift
  double two_theta_calc;   // deg
  double d_obs, d_calc;    // Å
};

struct IndexingSolution {
  std::array<double, 6> cell;         // conventional a, b, c (Å), alpha, beta, gamma (deg)
  std::array<double, 6> niggli_cell;  // reduced primitive cell
  std::string lattice;                // Pearson symbol: aP mP mC oP oC oI oF tP tI hP hR cP cI cF
  std::string crystal_system;         // triclinic ... cubic; hR gives "trigonal"
  double volume;                      // Å^3 of the conventional cell
  double m20;                         // de Wolff M(N) over the first N = min(20, indexed) lines
  int m20_n;                          // that N
  double f_n;                         // Smith & Snyder F_N
  int f_n_n;                          // its N (observed lines up to the last one used)
  double f_n_mean_delta;              // <|delta 2theta|>, deg
  int f_n_n_possible;                 // distinct calculated lines up to the N-th
  double zero_shift;                  // deg 2theta, to subtract from the observed positions
  int n_indexed, n_lines;             // of the lines used
  // the ranking figure: M20 above the lines' precision, times the share of the first lines
  // indexed to the 4th power and a bonus per metric constraint (indexing.cpp, evaluate)
  double score;
  std::vector<IndexedLine> lines;
  std::vector<double> unindexed;      // deg 2theta (as observed) of the lines left over
  bool superstructure = false;        // a superstructure of a cell that left lines unindexed
  int related_to = -1;                // rank (0-based) of a better solution this one is a
  std::string relation;               // "supercell" or "subcell" of; "" when none
};

// How a search ended: timed_out when the wall-clock safety net (options.time_limit) cut it
// short, so that the solutions are those found by then (and depend on the machine).
struct IndexingReport {
  bool timed_out = false;
};

// Index one pattern from its line positions (deg 2theta at options.wavelength) and heights
// (used only to choose lines when there are many; may be empty). Returns at most
// options.top solutions, best first; an empty list when fewer than three usable lines are
// given or nothing reaches options.min_m20. The search's extent is a fixed budget of work
// per stage (options.effort), so the same input gives the same solutions on any machine
// and thread count. Throws std::invalid_argument for non-finite positions or options out
// of range.
std::vector<IndexingSolution> index_powder(const std::vector<double>& two_theta, const std::vector<double>& height,
                                           const IndexingOptions& options, IndexingReport* report = nullptr);

// Many patterns at once (OpenMP over patterns); a pattern that throws leaves its message
// in errors[i] and an empty list; timed_out[i] says whether its safety net was hit.
// n_threads = 0: all cores. `tolerances`, when not empty, gives each pattern its own
// options.tolerance (deg 2theta): each pattern's lines scatter by their own uncertainty.
std::vector<std::vector<IndexingSolution>> index_powder_batch(const std::vector<std::vector<double>>& two_theta,
                                                              const std::vector<std::vector<double>>& height,
                                                              const IndexingOptions& options, int n_threads,
                                                              std::vector<std::string>& errors,
                                                              std::vector<char>* timed_out = nullptr,
                                                              const std::vector<double>& tolerances = {});

// Exposed for tests: the Niggli-reduced cell of (a, b, c, alpha, beta, gamma), and the
// Bravais lattice with its conventional cell, from the reduced cell's metric symmetry within
// `tolerance` (relative deviation of the metric, about degrees / 57 in angles).
std::array<double, 6> niggli_reduce(const std::array<double, 6>& cell);
struct LatticeType {
  std::string lattice;                // Pearson symbol
  std::array<double, 6> conventional;  // cell parameters, symmetrized
};
LatticeType bravais_lattice(const std::array<double, 6>& cell, double tolerance = 0.004);

}  // namespace xrdfast

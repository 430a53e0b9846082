// Reflections of a powder pattern: Laue-equivalent families to a resolution limit, their
// structure factors, and the March-Dollase texture weight of each family.
//
// Powder diffraction superposes every member of a family at one d-spacing, so a family
// carries its multiplicity and the mean |F|^2 of its members (Bijvoet mates differ when
// anomalous scattering is on; the mean of |F(h)|^2 and |F(-h)|^2 covers both).
// Structure factor: F(h) = sum_j occ_j f_j(s) exp(-B_j s^2) exp(2 pi i h.x_j), s = 1/2d,
// summed over the full cell content (ITC Vol. B, section 1.2).
#pragma once

#include <vector>

#include "xrdfast/crystal.hpp"
#include "xrdfast/scattering.hpp"

namespace xrdfast {

struct Reflection {
  Vec3i hkl;            // canonical representative (GroupOps::reduce_hkl)
  double d;             // Å
  int multiplicity;     // members of the Laue family
  double f2 = 0;        // mean |F|^2 of the members: electrons^2 (X-ray) or fm^2 (neutron)
  double texture = 1;   // March-Dollase weight, averaged over the members (1: random powder)
};

// Reciprocal-lattice points within 1/d_min that one call may visit: 5e6 holds a 100 Å
// cubic P1 cell to 90 deg 2theta with Cu K-alpha (3.7e6) and any protein powder; beyond it
// the line list alone would take hundreds of MB. Counted before anything is allocated.
constexpr double kMaxReflections = 5e6;

// Families of allowed reflections with d >= d_min (Å), sorted by decreasing d; absent
// reflections (from the crystal's own operations) are left out. Throws
// std::invalid_argument when the sphere holds more than kMaxReflections points.
std::vector<Reflection> reflection_families(const Crystal& crystal, double d_min);

enum class Radiation { XRay, Neutron };

struct ScatteringModel {
  Radiation radiation = Radiation::XRay;
  bool anomalous = false;   // add f' + i f'' of the anode (X-ray only)
  Anode anode = Anode::Cu;
};

// Atoms sharing scatterer and B share f(s) exp(-B s^2), so a structure factor evaluates it
// once per group (here and in the CUDA kernel). Groups in order of first appearance, each
// with its f', f'' (anomalous X-rays) or its neutron scattering length; group_of[j] is atom
// j's group. Throws std::invalid_argument for an element without a tabulated length or
// dispersion, as the first atom of it is reached.
struct ScatteringGroup {
  int scatterer;
  double b_iso;         // Å^2
  double fp = 0, fpp = 0;  // anomalous f', f'' (0 unless anomalous)
  double neutron = 0;   // bound coherent length, fm (neutrons only)
};
std::vector<ScatteringGroup> scattering_groups(const Crystal& crystal, const ScatteringModel& model,
                                               std::vector<int>& group_of);

// Fill Reflection::f2 for every family.
void compute_structure_factors(const Crystal& crystal, const ScatteringModel& model, std::vector<Reflection>& families);

// March-Dollase preferred orientation (Dollase, J. Appl. Cryst. 19, 267 (1986)): each member
// h is weighted by (r^2 cos^2 a + sin^2 a / r)^(-3/2), a the angle between h and the
// preferred-orientation axis (a reciprocal-lattice direction); r = 1 is a random powder.
// The weight is normalised over orientations, so it only redistributes intensity.
void apply_march_dollase(const Crystal& crystal, double r, const Vec3i& axis, std::vector<Reflection>& families);

}  // namespace xrdfast

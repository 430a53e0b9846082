// A crystal structure: unit cell, symmetry operations and the sites of the asymmetric unit,
// expanded to the full cell content that structure factors sum over.
//
// The operations are those of the coordinates' own setting (any of the 530, or whatever
// a CIF lists), so non-standard settings need no transformation. Symmetry images of one
// site closer than kSpecialPositionTolerance are one atom on a special position (ITA
// Vol. A, section 2.1.3.11); the site's occupancy is not divided, as CIF convention has it.
// Left out: anisotropic displacements (an isotropic B is used), magnetic structure.
#pragma once

#include <Eigen/Dense>

#include <string>
#include <vector>

#include "xrdfast/spacegroup.hpp"
#include "xrdfast/symop.hpp"
#include "xrdfast/unitcell.hpp"

namespace xrdfast {

constexpr double kSpecialPositionTolerance = 0.05;  // Å: images closer than this merge
constexpr double kOverlapDistance = 0.5;            // Å: distinct sites closer than this overlap
// What a real crystal can be. Lattice parameters: the shortest of any known structure are
// ~2.2 Å (Be, graphite a = 2.46 Å), the longest powder cells (proteins, zeolites) a few
// hundred Å; outside 1..1000 Å a cell is a unit mistake (pm, nm) or garbage, and a = 1e12 Å
// would overflow the reflection bounds. Fractional coordinates: any value is an image of
// one in 0..1, but one beyond +-100 is a typo, not a structure.
constexpr double kMinCellLength = 1.0, kMaxCellLength = 1000.0;  // Å
constexpr double kMaxFractional = 100.0;

struct Site {
  std::string label;         // "Fe1"; used in error messages
  int scatterer = 0;         // index into the scattering tables (scattering.hpp)
  Eigen::Vector3d frac{0, 0, 0};  // fractional coordinates
  double occupancy = 1.0;
  double b_iso = 0.0;        // isotropic displacement B = 8 pi^2 U, Å^2
};

// One atom of the full cell (P1) content.
struct Atom {
  int scatterer;
  Eigen::Vector3d frac;
  double occupancy;
  double b_iso;
  int site;  // index of the site it came from
};

class Crystal {
 public:
  // Throws std::invalid_argument naming the crystal and the offending site for NaN or
  // infinite coordinates, occupancies outside [0, 1], negative B, operations that do not
  // form a group, and distinct sites that overlap (closer than kOverlapDistance with
  // summed occupancy above 1, i.e. not a disordered mixed site).
  Crystal(std::string name, UnitCell cell, const std::vector<SymOp>& operations, std::vector<Site> sites);
  // The same with operations already known to form a group (a SpaceGroup's): no closure check.
  Crystal(std::string name, UnitCell cell, const GroupOps& group, std::vector<Site> sites);

  const std::string& name() const { return name_; }
  const UnitCell& cell() const { return cell_; }
  const GroupOps& symmetry() const { return ops_; }
  const std::vector<Site>& sites() const { return sites_; }
  const std::vector<Atom>& atoms() const { return atoms_; }
  // Mass of one cell's content, in atomic mass units (for weight fractions of mixtures).
  double cell_mass() const { return cell_mass_; }

 private:
  void expand();
  std::string name_;
  UnitCell cell_;
  GroupOps ops_;
  std::vector<Site> sites_;
  std::vector<Atom> atoms_;
  double cell_mass_ = 0;
};

}  // namespace xrdfast

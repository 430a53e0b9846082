#include "xrdfast/crystal.hpp"

#include <cmath>
#include <set>
#include <stdexcept>

#include "xrdfast/interrupt.hpp"
#include "xrdfast/scattering.hpp"
#include "xrdfast/text.hpp"

namespace xrdfast {

namespace {

Eigen::Vector3d apply(const SymOp& op, const Eigen::Vector3d& x) {
  Eigen::Vector3d y;
  for (int i = 0; i < 3; ++i)
    y[i] = op.rot[i][0] * x[0] + op.rot[i][1] * x[1] + op.rot[i][2] * x[2] + double(op.tran[i]) / kTransDen;
  for (int i = 0; i < 3; ++i) y[i] -= std::floor(y[i]);
  return y;
}

}  // namespace

Crystal::Crystal(std::string name, UnitCell cell, const std::vector<SymOp>& operations, std::vector<Site> sites)
    : name_(std::move(name)), cell_(std::move(cell)), ops_(close_group(operations)), sites_(std::move(sites)) {
  auto fail = [&](const std::string& why) { throw std::invalid_argument("crystal '" + name_ + "': " + why); };
  if (std::set<SymOp>(operations.begin(), operations.end()).size() != ops_.all().size())
    fail("the " + std::to_string(operations.size()) + " symmetry operations do not form a group (they generate " +
         std::to_string(ops_.all().size()) + ")");
  expand();
}

Crystal::Crystal(std::string name, UnitCell cell, const GroupOps& group, std::vector<Site> sites)
    : name_(std::move(name)), cell_(std::move(cell)), ops_(group), sites_(std::move(sites)) {
  expand();
}

void Crystal::expand() {
  auto fail = [&](const std::string& why) { throw std::invalid_argument("crystal '" + name_ + "': " + why); };
  if (sites_.empty()) fail("no atomic sites");
  const char* axis[3] = {"a", "b", "c"};
  const double lengths[3] = {cell_.a, cell_.b, cell_.c};
  for (int i = 0; i < 3; ++i)
    if (!(lengths[i] >= kMinCellLength && lengths[i] <= kMaxCellLength))
      fail(std::string("cell length ") + axis[i] + " = " + number_text(lengths[i]) + " Å is outside " +
           number_text(kMinCellLength) + ".." + number_text(kMaxCellLength) + " Å (is it in pm or nm?)");
  // Cheap necessary condition for two points to lie closer than d: on each axis the wrapped
  // fractional difference is below d |a*_i|.
  Eigen::Vector3d recip;
  for (int i = 0; i < 3; ++i) recip[i] = std::sqrt(cell_.reciprocal_metric()(i, i));
  auto near = [&](const Eigen::Vector3d& a, const Eigen::Vector3d& b, double d) {
    for (int i = 0; i < 3; ++i) {
      double f = a[i] - b[i];
      f -= std::round(f);
      if (std::fabs(f) >= d * recip[i]) return false;
    }
    return true;
  };
  for (size_t s = 0; s < sites_.size(); ++s) {
    const Site& site = sites_[s];
    const std::string where = "site '" + site.label + "'";
    if (!site.frac.allFinite()) fail(where + " has non-finite coordinates");
    if (site.frac.cwiseAbs().maxCoeff() > kMaxFractional)
      fail(where + " has fractional coordinates (" + number_text(site.frac[0]) + ", " + number_text(site.frac[1]) +
           ", " + number_text(site.frac[2]) + ") beyond +-" + number_text(kMaxFractional));
    if (!std::isfinite(site.occupancy) || site.occupancy < 0 || site.occupancy > 1.0 + 1e-6)
      fail(where + " has occupancy " + number_text(site.occupancy) + " (expected 0..1)");
    if (!std::isfinite(site.b_iso) || site.b_iso < 0 || site.b_iso > 100)
      fail(where + " has B_iso " + number_text(site.b_iso) + " Å^2 (expected 0..100)");
    std::vector<Eigen::Vector3d> images;
    for (const SymOp& op : ops_.all()) {
      const Eigen::Vector3d y = apply(op, site.frac);
      bool seen = false;
      for (const Eigen::Vector3d& z : images) seen = seen || (near(y, z, kSpecialPositionTolerance) && cell_.distance(y, z) < kSpecialPositionTolerance);
      if (!seen) images.push_back(y);
    }
    // A site a little off a special position has images closer than any bond: a split
    // (disordered) site is fine only if its occupancy leaves room for that.
    for (size_t i = 0; i < images.size(); ++i)
      for (size_t j = i + 1; j < images.size(); ++j)
        if (const double d = cell_.distance(images[i], images[j]); d < kOverlapDistance && 2 * site.occupancy > 1.0 + 1e-3)
          fail(where + " is " + number_text(d) +
               " Å from its own symmetry image (off a special position, or wrong symmetry)");
    for (const Eigen::Vector3d& y : images) atoms_.push_back(Atom{site.scatterer, y, site.occupancy, site.b_iso, int(s)});
    cell_mass_ += site.occupancy * atomic_mass(atomic_number(site.scatterer)) * double(images.size());
  }
  // Distinct sites closer than a bond with more than one atom's worth of occupancy overlap.
  for (size_t i = 0; i < atoms_.size(); ++i) {
    poll_interrupt();  // pairs grow as the square of the atoms
    for (size_t j = i + 1; j < atoms_.size(); ++j) {
      if (atoms_[i].site == atoms_[j].site) continue;
      if (!near(atoms_[i].frac, atoms_[j].frac, kOverlapDistance)) continue;
      const double d = cell_.distance(atoms_[i].frac, atoms_[j].frac);
      if (d < kOverlapDistance && atoms_[i].occupancy + atoms_[j].occupancy > 1.0 + 1e-3)
        fail("sites '" + sites_[atoms_[i].site].label + "' and '" + sites_[atoms_[j].site].label + "' overlap (" +
             number_text(d) + " Å apart with total occupancy " +
             number_text(atoms_[i].occupancy + atoms_[j].occupancy) + ")");
    }
  }
}

std::shared_ptr<Crystal> crystal_from_columns(const std::string& name, const std::array<double, 6>& cell,
                                              const std::vector<SymOp>& operations,
                                              const std::vector<std::string>& labels,
                                              const std::vector<std::string>& types, const double* frac,
                                              std::size_t frac_rows, std::size_t frac_cols,
                                              const std::vector<double>& occupancy, const std::vector<double>& b_iso) {
  const size_t n = labels.size();
  if (types.size() != n || frac_rows != n || frac_cols != 3 || occupancy.size() != n || b_iso.size() != n)
    throw std::invalid_argument("crystal '" + name + "': labels, types, frac (n, 3), occupancy and b_iso must "
                                "describe the same " + std::to_string(n) + " sites");
  std::vector<Site> sites;
  for (size_t i = 0; i < n; ++i) {
    int scatterer;
    try {
      scatterer = scatterer_index(types[i]);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("crystal '" + name + "', site '" + labels[i] + "': " + e.what());
    }
    sites.push_back(Site{labels[i], scatterer, {frac[3 * i], frac[3 * i + 1], frac[3 * i + 2]}, occupancy[i], b_iso[i]});
  }
  try {
    return std::make_shared<Crystal>(name, UnitCell(cell[0], cell[1], cell[2], cell[3], cell[4], cell[5]), operations,
                                     std::move(sites));
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    throw std::invalid_argument(what.rfind("crystal '", 0) == 0 ? what : "crystal '" + name + "': " + what);
  }
}

}  // namespace xrdfast

// Bindings for wyckoff.hpp and random_crystal.hpp: declarations and argument conversion only.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>

#include "checks.hpp"

#include "xrdfast/random_crystal.hpp"
#include "xrdfast/scattering.hpp"
#include "xrdfast/wyckoff.hpp"

namespace py = pybind11;
using namespace xrdfast;

namespace {

int element_z(const py::handle& e) {
  if (py::isinstance<py::str>(e)) return atomic_number(scatterer_index(e.cast<std::string>()));
  return e.cast<int>();
}

// Keyword options -> RandomCrystalOptions; an unknown name is a TypeError listing the known ones.
RandomCrystalOptions options_from(const py::kwargs& kw) {
  RandomCrystalOptions o;
  for (const auto& [key, value] : kw) {
    const std::string k = key.cast<std::string>();
    if (k == "min_atoms") o.min_atoms = value.cast<int>();
    else if (k == "max_atoms") o.max_atoms = value.cast<int>();
    else if (k == "distribution") {
      const std::string d = value.cast<std::string>();
      if (d == "mineral") o.distribution = ElementDistribution::MineralLike;
      else if (d == "uniform") o.distribution = ElementDistribution::Uniform;
      else throw py::value_error("distribution: expected 'mineral' or 'uniform', got '" + d + "'");
    } else if (k == "elements") {
      for (const py::handle& e : value) o.elements.push_back(element_z(e));
    } else if (k == "max_species") o.max_species = value.cast<int>();
    else if (k == "min_distance_factor") o.min_distance_factor = value.cast<double>();
    else if (k == "min_distance") o.min_distance = value.cast<double>();
    else if (k == "b_iso_min") o.b_iso_min = value.cast<double>();
    else if (k == "b_iso_max") o.b_iso_max = value.cast<double>();
    else if (k == "partial_occupancy_fraction") o.partial_occupancy_fraction = value.cast<double>();
    else if (k == "occupancy_min") o.occupancy_min = value.cast<double>();
    else if (k == "volume_factor_min") o.volume_factor_min = value.cast<double>();
    else if (k == "volume_factor_max") o.volume_factor_max = value.cast<double>();
    else if (k == "min_cell_edge") o.min_cell_edge = value.cast<double>();
    else if (k == "general_position_weight") o.general_position_weight = value.cast<double>();
    else if (k == "max_attempts") o.max_attempts = value.cast<int>();
    else if (k == "placement_tries") o.placement_tries = value.cast<int>();
    else if (k == "symmetry_tolerance") o.symmetry_tolerance = value.cast<double>();
    else
      throw py::type_error("random_crystal: unknown option '" + k + "' (known: min_atoms, max_atoms, distribution, "
                           "elements, max_species, min_distance_factor, min_distance, b_iso_min, b_iso_max, "
                           "partial_occupancy_fraction, occupancy_min, volume_factor_min, volume_factor_max, min_cell_edge, "
                           "general_position_weight, max_attempts, placement_tries, symmetry_tolerance)");
  }
  return o;
}

py::dict position_dict(const WyckoffPosition& p) {
  py::dict d;
  d["letter"] = std::string(1, p.letter);
  d["multiplicity"] = p.multiplicity;
  d["site_symmetry"] = p.site_symmetry;
  d["coordinates"] = p.coordinates;
  d["free_to_coord"] = p.free_to_coord;
  d["shift"] = py::make_tuple(double(p.shift[0]) / kTransDen, double(p.shift[1]) / kTransDen,
                              double(p.shift[2]) / kTransDen);
  d["n_free"] = p.n_free;
  return d;
}

}  // namespace

void add_random(py::module_& m) {
  m.def("wyckoff_positions", [](int number) {
    py::list out;
    for (const WyckoffPosition& p : wyckoff_positions(number)) out.append(position_dict(p));
    return out;
  }, py::arg("space_group"),
     "Wyckoff positions of the type's default setting, general first: letter, multiplicity, site_symmetry, "
     "coordinates, free_to_coord (3x3), shift (fractional), n_free.");
  m.def("wyckoff_orbit", [](int number, const std::string& letter, std::array<double, 3> params) {
    if (letter.size() != 1) throw py::value_error("letter: expected one character, got '" + letter + "'");
    const auto orbit = wyckoff_orbit(SpaceGroup::from_number(number), wyckoff_position(number, letter[0]),
                                     Eigen::Vector3d(params[0], params[1], params[2]));
    py::array_t<double> out({static_cast<py::ssize_t>(orbit.size()), py::ssize_t{3}});
    for (size_t i = 0; i < orbit.size(); ++i)
      for (int j = 0; j < 3; ++j) out.mutable_at(py::ssize_t(i), j) = orbit[i][j];
    return out;
  }, py::arg("space_group"), py::arg("letter"), py::arg("params"),
     "Orbit (m, 3) in [0, 1) of a Wyckoff position for free parameters (x, y, z).");
  m.def("random_crystal", [](int space_group, std::uint64_t seed, std::uint64_t stream, const py::kwargs& kw) {
    const RandomCrystalOptions o = options_from(kw);
    py::gil_scoped_release release;
    Rng rng(seed, stream);
    return std::make_shared<Crystal>(random_crystal(space_group, o, rng));
  }, py::arg("space_group"), py::arg("seed"), py::arg("stream") = 0,
     "A random crystal of the space-group type (default setting) whose symmetry is exactly that group; "
     "options as keywords (min_atoms, max_atoms, distribution='mineral'|'uniform', elements, ...).");
  m.def("random_crystals", [](int space_group, std::uint64_t seed, std::uint64_t first_stream, int count,
                              const py::object& threads, const py::kwargs& kw) {
    const RandomCrystalOptions o = options_from(kw);
    const int n_threads = bind::thread_count(threads, "threads");
    std::vector<Crystal> batch = bind::interruptible(
        [&] { return random_crystals(space_group, o, seed, first_stream, count, n_threads); });
    std::vector<std::shared_ptr<Crystal>> out;
    for (Crystal& c : batch) out.push_back(std::make_shared<Crystal>(std::move(c)));
    return out;
  }, py::arg("space_group"), py::arg("seed"), py::arg("first_stream") = 0, py::arg("count") = 1,
     py::arg("threads") = 0,
     "Crystal i from stream first_stream + i, in parallel; identical to random_crystal() one by one.");
  m.def("smallest_exact_orbit", &smallest_exact_orbit, py::arg("space_group"),
        "Fewest atoms of one orbit that alone has exactly the group's symmetry (default setting).");
  m.def("has_extra_symmetry", &has_extra_symmetry, py::arg("crystal"), py::arg("tolerance") = kSymmetryTolerance,
        "Whether the atoms have symmetry beyond the crystal's operations (tolerance in Å).");
  m.def("symmetry_operation_count", &symmetry_operation_count, py::arg("crystal"), py::arg("tolerance") = kSymmetryTolerance,
        "Operations the atoms satisfy, modulo the crystal's lattice.");
  m.def("random_element_data", [](const py::handle& element) {
    const int z = element_z(element);
    return py::make_tuple(covalent_radius(z), mean_atomic_volume(z), amcsd_structure_count(z));
  }, py::arg("element"),
     "(covalent radius Å, fitted atomic volume Å^3, AMCSD structures containing it) of a symbol or Z.");
}

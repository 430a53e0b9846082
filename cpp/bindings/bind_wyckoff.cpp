// Bindings for wyckoff.hpp: declarations and array plumbing only.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "xrdfast/spacegroup.hpp"
#include "xrdfast/wyckoff.hpp"

namespace py = pybind11;
using namespace xrdfast;

namespace {

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

void add_wyckoff(py::module_& m) {
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
}

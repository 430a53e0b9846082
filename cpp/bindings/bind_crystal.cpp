// Bindings for unitcell.hpp and crystal.hpp: declarations and array plumbing only; the
// factory's checks live in crystal.cpp (crystal_from_columns).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>

#include "checks.hpp"

#include "xrdfast/crystal.hpp"
#include "xrdfast/interrupt.hpp"
#include "xrdfast/scattering.hpp"

namespace py = pybind11;
using namespace xrdfast;
using bind::CrystalPtr;

void add_crystal(py::module_& m) {
  py::class_<Crystal, CrystalPtr>(m, "Crystal", "A crystal structure: cell, symmetry operations and sites.")
      .def(py::init([](std::string name, std::array<double, 6> cell, const std::vector<SymOp>& operations,
                       const std::vector<std::string>& labels, const std::vector<std::string>& types,
                       py::array_t<double, py::array::c_style | py::array::forcecast> frac,
                       py::array_t<double, py::array::c_style | py::array::forcecast> occupancy,
                       py::array_t<double, py::array::c_style | py::array::forcecast> b_iso) {
             const bool table = frac.ndim() == 2;  // anything else is refused by crystal_from_columns
             InterruptScope interruptible;  // expanding a large cell takes a while
             return crystal_from_columns(name, cell, operations, labels, types, frac.data(),
                                         table ? size_t(frac.shape(0)) : 0, table ? size_t(frac.shape(1)) : 0,
                                         std::vector<double>(occupancy.data(), occupancy.data() + occupancy.size()),
                                         std::vector<double>(b_iso.data(), b_iso.data() + b_iso.size()));
           }),
           py::arg("name"), py::arg("cell"), py::arg("operations"), py::arg("labels"), py::arg("types"),
           py::arg("frac"), py::arg("occupancy"), py::arg("b_iso"))
      .def_property_readonly("name", &Crystal::name)
      .def_property_readonly("cell", [](const Crystal& c) {
        const UnitCell& u = c.cell();
        return py::make_tuple(u.a, u.b, u.c, u.alpha, u.beta, u.gamma);
      }, "(a, b, c, alpha, beta, gamma) in Å and degrees.")
      .def_property_readonly("volume", [](const Crystal& c) { return c.cell().volume(); }, "Cell volume, Å^3.")
      .def_property_readonly("cell_mass", &Crystal::cell_mass, "Mass of one cell's content, amu.")
      .def_property_readonly("operations", [](const Crystal& c) { return c.symmetry().all(); })
      .def_property_readonly("n_sites", [](const Crystal& c) { return c.sites().size(); })
      .def_property_readonly("n_atoms", [](const Crystal& c) { return c.atoms().size(); },
                             "Atoms in the full cell, special positions merged.")
      .def("atoms", [](const Crystal& c) {
        const auto& atoms = c.atoms();
        const auto n = static_cast<py::ssize_t>(atoms.size());
        py::array_t<double> frac({n, py::ssize_t{3}});
        py::array_t<double> occ(n), b(n);
        py::array_t<int> site(n);
        for (py::ssize_t i = 0; i < n; ++i) {
          for (int j = 0; j < 3; ++j) frac.mutable_at(i, j) = atoms[size_t(i)].frac[j];
          occ.mutable_at(i) = atoms[size_t(i)].occupancy; b.mutable_at(i) = atoms[size_t(i)].b_iso;
          site.mutable_at(i) = atoms[size_t(i)].site;
        }
        py::dict d;
        d["frac"] = frac; d["occupancy"] = occ; d["b_iso"] = b; d["site"] = site;
        return d;
      }, "The full cell content: frac (n, 3), occupancy, b_iso and the site each atom came from.")
      .def("sites", [](const Crystal& c) {
        const auto& sites = c.sites();
        const auto n = static_cast<py::ssize_t>(sites.size());
        std::vector<std::string> labels, types;
        py::array_t<double> frac({n, py::ssize_t{3}});
        py::array_t<double> occ(n), b(n);
        for (py::ssize_t i = 0; i < n; ++i) {
          const Site& s = sites[size_t(i)];
          labels.push_back(s.label);
          types.push_back(scatterer_label(s.scatterer));
          for (int j = 0; j < 3; ++j) frac.mutable_at(i, j) = s.frac[j];
          occ.mutable_at(i) = s.occupancy;
          b.mutable_at(i) = s.b_iso;
        }
        py::dict d;
        d["labels"] = labels; d["types"] = types; d["frac"] = frac; d["occupancy"] = occ; d["b_iso"] = b;
        return d;
      }, "The asymmetric unit as given: labels, scattering types, frac (n, 3), occupancy, b_iso.")
      .def("__repr__", [](const Crystal& c) {
        return "Crystal('" + c.name() + "', " + std::to_string(c.sites().size()) + " sites, " +
               std::to_string(c.atoms().size()) + " atoms in the cell)";
      });
}

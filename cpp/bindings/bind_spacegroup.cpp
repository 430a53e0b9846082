// Bindings for spacegroup.hpp: declarations only (SymOp in bind_symop.cpp).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/operators.h>
#include <pybind11/stl.h>

#include <memory>

#include "checks.hpp"
#include "xrdfast/spacegroup.hpp"

namespace py = pybind11;
using namespace xrdfast;

namespace {

using GroupRef = std::unique_ptr<SpaceGroup, py::nodelete>;  // groups live in a registry

SpaceGroup* group_from(const py::object& key) {
  if (py::isinstance<py::bool_>(key)) throw py::value_error("space group: expected a number 1..230 or a symbol, got a bool");
  if (py::isinstance<py::int_>(key)) return const_cast<SpaceGroup*>(&SpaceGroup::from_number(key.cast<int>()));
  if (py::isinstance<py::str>(key)) return const_cast<SpaceGroup*>(&SpaceGroup::lookup(key.cast<std::string>()));
  throw py::value_error("space group: expected a number 1..230 or a symbol such as 'P 21/c', got " +
                        std::string(py::str(py::type::of(key).attr("__name__"))));
}

// Apply f to each row of an (N, 3) hkl array with the GIL released.
template <typename T, typename F>
py::array_t<T> map_hkl(const py::handle& hkl, F f) {
  auto h = bind::hkl_array(hkl, "hkl");
  const auto n = h.shape(0);
  py::array_t<T> out(n);
  auto in = h.unchecked<2>();
  auto o = out.template mutable_unchecked<1>();
  {
    py::gil_scoped_release release;
    for (py::ssize_t i = 0; i < n; ++i)
      o(i) = f(Vec3i{static_cast<int>(in(i, 0)), static_cast<int>(in(i, 1)), static_cast<int>(in(i, 2))});
  }
  return out;
}

}  // namespace

void add_spacegroup(py::module_& m) {
  py::class_<SpaceGroup, GroupRef>(m, "SpaceGroup",
      "A space group in one of its 530 ITA settings. SpaceGroup(14), SpaceGroup('P 21/c'), "
      "SpaceGroup('P 1 1 21/a'), SpaceGroup('-P 2ybc') or SpaceGroup('227:2').")
      .def(py::init(&group_from), py::arg("key"))
      .def_static("from_hall_number", [](int n) { return GroupRef(const_cast<SpaceGroup*>(&SpaceGroup::from_hall_number(n))); },
                  py::arg("hall_number"), "The setting with this Hall number (1..530, spglib numbering).")
      .def_static("from_hall", [](const std::string& hall) { return GroupRef(const_cast<SpaceGroup*>(&SpaceGroup::from_hall(hall))); },
                  py::arg("hall"), "The setting a Hall symbol generates (compared by operations, so any spelling works).")
      .def_static("settings", [](int number) {
        std::vector<GroupRef> out;
        for (const SpaceGroup* g : SpaceGroup::settings(number)) out.emplace_back(const_cast<SpaceGroup*>(g));
        return out;
      }, py::arg("number"), "All ITA settings of a space-group type, default first.")
      .def_property_readonly("number", &SpaceGroup::number)
      .def_property_readonly("hall_number", &SpaceGroup::hall_number)
      .def_property_readonly("hall", &SpaceGroup::hall, "Hall symbol of this setting.")
      .def_property_readonly("hm", &SpaceGroup::hm, "Full Hermann-Mauguin symbol of this setting.")
      .def_property_readonly("symbol", &SpaceGroup::short_hm, "Short Hermann-Mauguin symbol of this setting, e.g. 'P21/c'.")
      .def_property_readonly("choice", &SpaceGroup::choice, "Setting code (unique axis and cell choice, axes, origin).")
      .def_property_readonly("centring", [](const SpaceGroup& g) { return std::string(1, g.centring()); })
      .def_property_readonly("crystal_system", [](const SpaceGroup& g) { return name(g.crystal_system()); })
      .def_property_readonly("lattice_system", [](const SpaceGroup& g) { return name(g.lattice_system()); })
      .def_property_readonly("point_group", &SpaceGroup::point_group, "Geometric crystal class, e.g. '2/m'.")
      .def_property_readonly("laue_class", &SpaceGroup::laue_class)
      .def_property_readonly("is_centrosymmetric", &SpaceGroup::is_centrosymmetric)
      .def_property_readonly("is_standard", &SpaceGroup::is_standard, "Whether this is the default setting.")
      .def_property_readonly("order", [](const SpaceGroup& g) { return g.operations().size(); },
                             "Number of operations in the conventional cell, centring included.")
      .def_property_readonly("operations", &SpaceGroup::operations, "All operations, centring included.")
      .def_property_readonly("symmetry_operations", &SpaceGroup::symmetry_operations,
                             "Coset representatives: one operation per point-group rotation.")
      .def_property_readonly("centring_translations", [](const SpaceGroup& g) {
        const auto& c = g.centring_translations();
        py::array_t<double> a({static_cast<py::ssize_t>(c.size()), py::ssize_t{3}});
        for (size_t i = 0; i < c.size(); ++i)
          for (int j = 0; j < 3; ++j) a.mutable_at(i, j) = static_cast<double>(c[i][j]) / kTransDen;
        return a;
      })
      .def_property_readonly("reflection_conditions", &SpaceGroup::reflection_conditions,
                             "Reflection conditions derived from the operations, ITA style.")
      .def("is_absent", [](const SpaceGroup& g, const py::object& hkl) {
        return map_hkl<bool>(hkl, [&](const Vec3i& h) { return g.is_absent(h); });
      }, py::arg("hkl"), "Systematic absence of each row of an (N, 3) integer array.")
      .def("multiplicity", [](const SpaceGroup& g, const py::object& hkl) {
        return map_hkl<int>(hkl, [&](const Vec3i& h) { return g.multiplicity(h); });
      }, py::arg("hkl"), "Powder multiplicity (Laue class, Friedel pairs counted) of each hkl.")
      .def("reduce_hkl", [](const SpaceGroup& g, const py::object& hkl) {
        auto h = bind::hkl_array(hkl, "hkl");
        py::array_t<std::int64_t> out({h.shape(0), py::ssize_t{3}});
        auto in = h.unchecked<2>();
        auto o = out.mutable_unchecked<2>();
        {
          py::gil_scoped_release release;
          for (py::ssize_t i = 0; i < h.shape(0); ++i) {
            const Vec3i r = g.reduce_hkl({static_cast<int>(in(i, 0)), static_cast<int>(in(i, 1)), static_cast<int>(in(i, 2))});
            for (int j = 0; j < 3; ++j) o(i, j) = r[j];
          }
        }
        return out;
      }, py::arg("hkl"), "Laue-equivalent representative (lexicographically largest) of each hkl.")
      .def("__eq__", [](const SpaceGroup& a, const SpaceGroup& b) { return a.hall_number() == b.hall_number(); })
      .def("__hash__", &SpaceGroup::hall_number)
      .def("__repr__", [](const SpaceGroup& g) {
        return "SpaceGroup(" + std::to_string(g.number()) + ", '" + g.hm() + "'" +
               (*g.choice() ? std::string(", choice='") + g.choice() + "'" : std::string()) + ")";
      });
}

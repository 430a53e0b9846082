// Bindings for extinction.hpp: declarations only.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "xrdfast/extinction.hpp"

namespace py = pybind11;
using namespace xrdfast;

void add_extinction(py::module_& m) {
  using Ref = std::unique_ptr<ExtinctionGroup, py::nodelete>;
  py::class_<ExtinctionGroup, Ref>(m, "ExtinctionGroup",
      "One of the 99 extinction groups (numbering of Baggett et al., arXiv 2604.23811, Table S2).")
      .def(py::init([](int n) { return const_cast<ExtinctionGroup*>(&ExtinctionGroup::get(n)); }), py::arg("number"))
      .def_readonly("number", &ExtinctionGroup::number)
      .def_readonly("symbol", &ExtinctionGroup::symbol, "Canonical extinction symbol, e.g. 'P 21/b 1 1'.")
      .def_readonly("space_groups", &ExtinctionGroup::space_groups, "Member space-group numbers.")
      .def_property_readonly("crystal_system", [](const ExtinctionGroup& e) { return name(e.crystal_system); },
                             "Crystal system of the first member (the paper's convention).")
      .def_property_readonly("crystal_systems", [](const ExtinctionGroup& e) {
        std::vector<std::string> out;
        for (int sg : e.space_groups) {
          std::string s = name(crystal_system_of(sg));
          if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
        }
        return out;
      }, "Crystal systems of all members.")
      .def_property_readonly("lattice_system", [](const ExtinctionGroup& e) { return name(e.lattice_system); })
      .def_property_readonly("lattice", [](const ExtinctionGroup& e) { return std::string(1, e.lattice); },
                             "Lattice letter P, I, F, C (A, B, C collapsed) or R.")
      .def_property_readonly("rule_bits", [](const ExtinctionGroup& e) {
        py::array_t<std::uint8_t> a(kNumRuleBits);
        for (int i = 0; i < kNumRuleBits; ++i) a.mutable_at(i) = e.rule_bits[i];
        return a;
      }, "The 37-bit rule target: 7 crystal-system, 5 lattice, 25 screw/glide bits by position.")
      .def_readonly("reflection_conditions", &ExtinctionGroup::reflection_conditions,
                    "Reflection conditions of the first member in its standard setting.")
      .def("__eq__", [](const ExtinctionGroup& a, const ExtinctionGroup& b) { return a.number == b.number; })
      .def("__hash__", [](const ExtinctionGroup& e) { return e.number; })
      .def("__repr__", [](const ExtinctionGroup& e) {
        return "ExtinctionGroup(" + std::to_string(e.number) + ", '" + e.symbol + "')";
      });
  m.def("extinction_group_number", &extinction_group_of, py::arg("space_group"),
        "Extinction group (1..99) of a space-group type (1..230).");
  // Offsets only, as class attributes: RuleLayout.system, .lattice, .operators, ..., .n_bits.
  py::class_<RuleLayout>(m, "RuleLayout",
      "Where each part of the 37-bit rule target starts: crystal system, lattice, then the screw/glide bits "
      "of symbol positions 1, 2 and 3 (together the operator bits).")
      .def_property_readonly_static("system", [](py::object) { return RuleLayout::kSystem; })
      .def_property_readonly_static("lattice", [](py::object) { return RuleLayout::kLattice; })
      .def_property_readonly_static("operators", [](py::object) { return RuleLayout::kPosition1; },
                                    "First operator bit (= position1); they run to n_bits.")
      .def_property_readonly_static("position1", [](py::object) { return RuleLayout::kPosition1; })
      .def_property_readonly_static("position2", [](py::object) { return RuleLayout::kPosition2; })
      .def_property_readonly_static("position3", [](py::object) { return RuleLayout::kPosition3; })
      .def_property_readonly_static("n_bits", [](py::object) { return kNumRuleBits; });
  m.def("rule_bit_names", [] {
    const auto& n = rule_bit_names();
    return std::vector<std::string>(n.begin(), n.end());
  }, "Names of the 37 rule bits, in order.");
}

// Bindings for subgroups.hpp: declarations only.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "xrdfast/subgroups.hpp"

namespace py = pybind11;
using namespace xrdfast;

void add_subgroups(py::module_& m) {
  m.def("maximal_t_subgroups", [](int number) {
    py::list out;
    for (const TSubgroup& t : maximal_t_subgroups(SpaceGroup::from_number(number))) {
      std::vector<std::string> ops;
      for (const SymOp& op : t.operations) ops.push_back(op.triplet());
      py::dict d;
      d["number"] = t.number;
      d["hall_number"] = t.hall_number;
      d["index"] = t.index;
      d["conjugates"] = t.conjugates;
      d["operations"] = ops;
      out.append(d);
    }
    return out;
  }, py::arg("number"),
     "Maximal translationengleiche subgroups of a type's standard setting, one per conjugacy class: "
     "dicts with number, hall_number, index, conjugates and operations (triplets in the parent's basis).");

  m.def("identify_operations", [](const std::vector<std::string>& triplets) {
    std::vector<SymOp> ops;
    for (const std::string& t : triplets) ops.push_back(parse_triplet(t));
    const Identification id = identify_space_group(ops);
    py::dict d;
    d["number"] = id.number;
    d["hall_number"] = id.hall_number;
    d["hm"] = std::string(SpaceGroup::from_hall_number(id.hall_number).hm());
    d["basis"] = id.basis;
    d["origin_shift"] = id.origin_shift;
    return d;
  }, py::arg("triplets"),
     "Space-group type and setting of operations given as triplets in any basis and origin: dict with "
     "number, hall_number, hm, basis P (columns: the setting's axes) and origin_shift p, x' = P^-1 (x - p).");
}

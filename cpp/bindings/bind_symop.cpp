// Bindings for symop.hpp: declarations only.
#include <pybind11/numpy.h>
#include <pybind11/operators.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "xrdfast/symop.hpp"

namespace py = pybind11;
using namespace xrdfast;

namespace {

py::array_t<int> matrix(const Mat3i& r) {
  py::array_t<int> a({3, 3});
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) a.mutable_at(i, j) = r[i][j];
  return a;
}

}  // namespace

void add_symop(py::module_& m) {
  py::class_<SymOp>(m, "SymOp", "A symmetry operation {R|t}: x' = R x + t in fractional coordinates.")
      .def(py::init(&parse_triplet), py::arg("triplet"), "Parse a coordinate triplet such as '-x,y+1/2,-z'.")
      .def_property_readonly("rotation", [](const SymOp& o) { return matrix(o.rot); }, "R, a 3x3 integer matrix.")
      .def_property_readonly("translation", [](const SymOp& o) {
        py::array_t<double> t(3);
        for (int i = 0; i < 3; ++i) t.mutable_at(i) = static_cast<double>(o.tran[i]) / kTransDen;
        return t;
      }, "t in fractions of the cell edges, each in [0, 1).")
      .def("triplet", &SymOp::triplet, "The operation as an ITA/CIF coordinate triplet.")
      .def("__mul__", &SymOp::operator*)
      .def("inverse", &SymOp::inverse)
      .def(py::self == py::self)
      .def("__hash__", [](const SymOp& o) { return py::hash(py::str(o.triplet())); })
      .def("__repr__", [](const SymOp& o) { return "SymOp('" + o.triplet() + "')"; });
}

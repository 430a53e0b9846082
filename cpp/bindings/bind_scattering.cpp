// Bindings for scattering.hpp: declarations only. Labels are atom-type symbols ("Fe2+", "O-2");
// std::invalid_argument from the core arrives in Python as ValueError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "xrdfast/scattering.hpp"

namespace py = pybind11;
using namespace xrdfast;

void add_scattering(py::module_& m) {
  using Doubles = py::array_t<double, py::array::c_style | py::array::forcecast>;
  m.def("xray_form_factor", [](const std::string& label, const Doubles& stol) {
    const int s = scatterer_index(label);
    Doubles f(std::vector<py::ssize_t>(stol.shape(), stol.shape() + stol.ndim()));
    const double* in = stol.data();
    double* out = f.mutable_data();
    const auto n = static_cast<std::size_t>(stol.size());
    {
      py::gil_scoped_release release;
      xray_form_factor(s, in, n, out);
    }
    return f;
  }, py::arg("label"), py::arg("stol"),
     "f0 (electrons) at s = sin(theta)/lambda in 1/A, any shape; Waasmaier & Kirfel (1995).");
  m.def("form_factor_coefficients", [](const std::string& label) {
    const GaussianFormFactor& g = form_factor_coefficients(scatterer_index(label));
    return py::make_tuple(std::vector<double>(g.a, g.a + 5), std::vector<double>(g.b, g.b + 5),
                          static_cast<double>(g.c));
  }, py::arg("label"), "(a[5], b[5] in A^2, c) with f0(s) = sum a exp(-b s^2) + c.");
  m.def("resolve_scatterer", [](const std::string& label) {
    const int s = scatterer_index(label);
    return py::make_tuple(std::string(scatterer_label(s)), atomic_number(s), scatterer_charge(s));
  }, py::arg("label"),
     "(table label, Z, charge) the label resolves to; an untabulated ion gives its neutral atom.");
  m.def("scatterer_labels", &scatterer_labels,
        "Labels of all X-ray scatterers: neutral atoms H..Cf, then the ions of WK1995.");
  m.def("form_factor_source", [](const std::string& label) {
    return std::string(form_factor_source(scatterer_index(label)));
  }, py::arg("label"), "'WK1995', or 'IT1992' for a row filled from ITC Table 6.1.1.4.");
  m.def("anomalous_dispersion", [](const std::string& label, const std::string& anode) {
    return anomalous_dispersion(atomic_number(scatterer_index(label)), anode_from_name(anode));
  }, py::arg("label"), py::arg("anode"), "(f', f'') in electrons at the anode's K-alpha1 line.");
  m.def("anomalous_dispersion_source", [](const std::string& label) {
    return std::string(anomalous_dispersion_source(atomic_number(scatterer_index(label))));
  }, py::arg("label"), "'Sasaki1989', 'Henke1993', or '' where neither covers the element.");
  m.def("kalpha1_wavelength", [](const std::string& anode) {
    return kalpha1_wavelength(anode_from_name(anode));
  }, py::arg("anode"), "K-alpha1 wavelength in A of 'Cu', 'Mo', 'Co', 'Cr', 'Fe' or 'Ag'.");
  m.def("neutron_scattering_length", [](const std::string& label) {
    return neutron_scattering_length(atomic_number(scatterer_index(label)));
  }, py::arg("label"), "Bound coherent scattering length, real part, in fm (Sears 1992).");
  m.def("atomic_mass", [](const std::string& label) {
    return atomic_mass(atomic_number(scatterer_index(label)));
  }, py::arg("label"), "Standard atomic weight in g/mol.");
}

// Bindings for peaks.hpp: declarations and array plumbing only; the numerics live in
// cpp/src/peaks.cpp. Long calls release the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "xrdfast/peaks.hpp"

namespace py = pybind11;
using namespace xrdfast;

namespace {

using Array = py::array_t<double, py::array::c_style | py::array::forcecast>;

// A 1-D float64 array, or a ValueError naming the argument and what it got.
Array vector_arg(const py::handle& obj, const char* name, py::ssize_t n = -1) {
  Array a = Array::ensure(obj);
  if (!a || a.ndim() != 1)
    throw py::value_error(std::string(name) + ": expected a 1-D array of numbers");
  if (n >= 0 && a.shape(0) != n)
    throw py::value_error(std::string(name) + ": expected " + std::to_string(n) + " values (the length of two_theta), got " +
                          std::to_string(a.shape(0)));
  return a;
}

py::array_t<double> to_array(const std::vector<double>& v) { return py::array_t<double>(py::ssize_t(v.size()), v.data()); }

}  // namespace

void add_peaks(py::module_& m) {
  py::class_<BackgroundOptions>(m, "BackgroundOptions", "SNIP background settings (see xrdfast.peaks).")
      .def(py::init<>())
      .def_readwrite("half_window", &BackgroundOptions::half_window)
      .def_readwrite("window_fwhm", &BackgroundOptions::window_fwhm)
      .def_readwrite("lls", &BackgroundOptions::lls)
      .def_readwrite("decreasing", &BackgroundOptions::decreasing)
      .def_readwrite("smooth_half_window", &BackgroundOptions::smooth_half_window)
      .def_readwrite("offset_correction", &BackgroundOptions::offset_correction);

  m.def("snip_background", [](const py::handle& y, int half_window, bool lls, bool decreasing, int smooth_half_window) {
    Array a = vector_arg(y, "intensity");
    if (half_window < 1) throw py::value_error("half_window must be >= 1 point");
    if (smooth_half_window < 0) throw py::value_error("smooth_half_window must be >= 0");
    py::array_t<double> out(a.shape(0));
    {
      py::gil_scoped_release release;
      snip_background(a.data(), size_t(a.shape(0)), half_window, lls, decreasing, smooth_half_window, out.mutable_data());
    }
    return out;
  }, py::arg("intensity"), py::arg("half_window"), py::arg("lls") = true, py::arg("decreasing") = true,
     py::arg("smooth_half_window") = 0, "SNIP background of a uniformly sampled pattern with a half-window in points.");

  m.def("estimate_background", [](const py::handle& two_theta, const py::handle& y, const BackgroundOptions& options,
                                  double fwhm) {
    Array x = vector_arg(two_theta, "two_theta");
    Array a = vector_arg(y, "intensity", x.shape(0));
    std::vector<double> out;
    {
      py::gil_scoped_release release;
      out = estimate_background(x.data(), a.data(), size_t(a.shape(0)), options, fwhm);
    }
    return to_array(out);
  }, py::arg("two_theta"), py::arg("intensity"), py::arg("options") = BackgroundOptions{}, py::arg("fwhm") = 0.0,
     "SNIP background with its window tied to the peak width (estimated when fwhm is 0).");

  m.def("estimate_noise", [](const py::handle& y, size_t segment) {
    Array a = vector_arg(y, "intensity");
    return to_array(estimate_noise(a.data(), size_t(a.shape(0)), segment));
  }, py::arg("intensity"), py::arg("segment") = 1024,
     "Noise standard deviation per point from robust second differences in segments.");

  m.def("estimate_fwhm", [](const py::handle& two_theta, const py::handle& y) {
    Array x = vector_arg(two_theta, "two_theta");
    Array a = vector_arg(y, "intensity", x.shape(0));
    return estimate_fwhm(x.data(), a.data(), size_t(a.shape(0)));
  }, py::arg("two_theta"), py::arg("intensity"),
     "Median FWHM (degrees) of the strongest peaks; 0 when none can be measured.");
}

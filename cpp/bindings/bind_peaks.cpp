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

constexpr py::ssize_t kPeakFields = 9;  // the order of xrdfast.peaks.PEAK_DTYPE

// Peaks as rows [two_theta, d, q, height, area, fwhm, eta, sigma_two_theta, snr].
void write_peaks(const std::vector<Peak>& peaks, double* row) {
  for (const Peak& p : peaks) {
    const double v[kPeakFields] = {p.two_theta, p.d, p.q, p.height, p.area, p.fwhm, p.eta, p.sigma_two_theta, p.snr};
    std::copy(v, v + kPeakFields, row);
    row += kPeakFields;
  }
}

}  // namespace

void add_peaks(py::module_& m) {
  py::class_<BackgroundOptions>(m, "BackgroundOptions", "SNIP background settings (see xrdfast.peaks).")
      .def(py::init<>())
      .def_readwrite("half_window", &BackgroundOptions::half_window)
      .def_readwrite("window_fwhm", &BackgroundOptions::window_fwhm)
      .def_readwrite("lls", &BackgroundOptions::lls)
      .def_readwrite("decreasing", &BackgroundOptions::decreasing)
      .def_readwrite("smooth_half_window", &BackgroundOptions::smooth_half_window)
      .def_readwrite("offset_correction", &BackgroundOptions::offset_correction)
      .def_readwrite("decimate", &BackgroundOptions::decimate);

  py::class_<PeakOptions>(m, "PeakOptions", "Peak search settings (see xrdfast.peaks.find_peaks).")
      .def(py::init<>())
      .def_readwrite("background", &PeakOptions::background)
      .def_readwrite("wavelength", &PeakOptions::wavelength)
      .def_readwrite("wavelength2", &PeakOptions::wavelength2)
      .def_readwrite("ka2_ratio", &PeakOptions::ka2_ratio)
      .def_readwrite("fwhm", &PeakOptions::fwhm)
      .def_readwrite("min_snr", &PeakOptions::min_snr)
      .def_readwrite("min_relative_height", &PeakOptions::min_relative_height)
      .def_readwrite("min_curvature_snr", &PeakOptions::min_curvature_snr)
      .def_readwrite("kernel_fwhm", &PeakOptions::kernel_fwhm)
      .def_readwrite("max_peaks", &PeakOptions::max_peaks)
      .def_readwrite("max_cluster", &PeakOptions::max_cluster)
      .def_readwrite("max_iterations", &PeakOptions::max_iterations)
      .def_readwrite("refine", &PeakOptions::refine)
      .def_readwrite("counts", &PeakOptions::counts);

  m.def("search_peaks", [](const py::handle& two_theta, const py::handle& y, const py::handle& sigma,
                           const PeakOptions& options) {
    Array x = vector_arg(two_theta, "two_theta");
    Array a = vector_arg(y, "intensity", x.shape(0));
    Array e;
    if (!sigma.is_none()) e = vector_arg(sigma, "sigma", x.shape(0));
    PeakSearch out;
    {
      py::gil_scoped_release release;
      out = search_peaks(x.data(), a.data(), sigma.is_none() ? nullptr : e.data(), size_t(x.shape(0)), options);
    }
    py::array_t<double> peaks({py::ssize_t(out.peaks.size()), kPeakFields});
    write_peaks(out.peaks, peaks.mutable_data());
    py::dict d;
    d["background"] = to_array(out.background);
    d["noise"] = to_array(out.noise);
    d["peaks"] = peaks;
    d["fwhm"] = out.fwhm;
    return d;
  }, py::arg("two_theta"), py::arg("intensity"), py::arg("sigma") = py::none(), py::arg("options") = PeakOptions{},
     "Background, noise, FWHM estimate and peaks (rows of PEAK_DTYPE fields) of one uniformly sampled pattern.");

  m.def("search_peaks_batch", [](const py::handle& two_theta, const py::handle& intensities, const PeakOptions& options,
                                 int n_threads) {
    Array x = vector_arg(two_theta, "two_theta");
    Array ys = Array::ensure(intensities);
    if (!ys || ys.ndim() != 2 || ys.shape(1) != x.shape(0))
      throw py::value_error("intensities: expected an array of shape (N, " + std::to_string(x.shape(0)) +
                            ") on the two_theta grid");
    std::vector<std::vector<Peak>> peaks;
    std::vector<std::string> errors;
    {
      py::gil_scoped_release release;
      search_peaks_batch(x.data(), ys.data(), size_t(ys.shape(0)), size_t(ys.shape(1)), options, n_threads, peaks, errors);
    }
    std::vector<py::ssize_t> offsets{0};
    for (const auto& p : peaks) offsets.push_back(offsets.back() + py::ssize_t(p.size()));
    py::array_t<double> rows({offsets.back(), kPeakFields});
    for (size_t i = 0; i < peaks.size(); ++i) write_peaks(peaks[i], rows.mutable_data() + offsets[i] * kPeakFields);
    return py::make_tuple(rows, py::array_t<py::ssize_t>(py::ssize_t(offsets.size()), offsets.data()), errors);
  }, py::arg("two_theta"), py::arg("intensities"), py::arg("options") = PeakOptions{}, py::arg("n_threads") = 0,
     "Peaks of many patterns on one grid (OpenMP): (rows, offsets (N + 1), errors); pattern i owns rows offsets[i]:offsets[i+1].");

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

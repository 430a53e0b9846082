// Bindings for evidence.hpp: declarations and array plumbing only.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/eigen.h>
#include <pybind11/stl.h>

#include <array>

#include "checks.hpp"
#include "xrdfast/evidence.hpp"

namespace py = pybind11;
using namespace xrdfast;

namespace {

std::vector<double> vector_from(const py::handle& obj, const char* name) {
  auto a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(obj);
  if (!a || a.ndim() != 1) throw py::value_error(std::string(name) + ": expected a 1-D array of floats");
  return std::vector<double>(a.data(), a.data() + a.size());
}

UnitCell cell_from(const std::array<double, 6>& c) { return UnitCell(c[0], c[1], c[2], c[3], c[4], c[5]); }

template <typename T>
py::array_t<T> array_of(const std::vector<T>& v) {
  py::array_t<T> a(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

py::dict result_dict(const EvidenceResult& r) {
  const auto n = static_cast<py::ssize_t>(r.composites.size());
  py::array_t<double> d(n), tt(n), fwhm(n), eta(n);
  py::list hkl;
  for (py::ssize_t j = 0; j < n; ++j) {
    const Composite& c = r.composites[size_t(j)];
    d.mutable_at(j) = c.d; tt.mutable_at(j) = c.two_theta; fwhm.mutable_at(j) = c.fwhm; eta.mutable_at(j) = c.eta;
    py::array_t<int> h({static_cast<py::ssize_t>(c.hkl.size()), py::ssize_t{3}});
    for (size_t k = 0; k < c.hkl.size(); ++k)
      for (int i = 0; i < 3; ++i) h.mutable_at(py::ssize_t(k), i) = c.hkl[k][size_t(i)];
    hkl.append(h);
  }
  const auto ns = static_cast<py::ssize_t>(r.settings.size());
  py::array_t<int> s_eg(ns), s_hall(ns);
  py::array_t<bool> s_rev(ns);
  py::array_t<double> s_ll(ns);
  py::array_t<float> allowed({ns, n});
  for (py::ssize_t s = 0; s < ns; ++s) {
    const SettingScore& st = r.settings[size_t(s)];
    s_eg.mutable_at(s) = st.extinction_group; s_hall.mutable_at(s) = st.hall_number;
    s_rev.mutable_at(s) = st.reverse; s_ll.mutable_at(s) = st.log_likelihood;
    for (py::ssize_t j = 0; j < n; ++j) allowed.mutable_at(s, j) = st.allowed[size_t(j)];
  }
  py::dict out;
  out["d"] = d; out["two_theta"] = tt; out["fwhm"] = fwhm; out["eta"] = eta; out["hkl"] = hkl;
  out["intensity"] = array_of(r.intensity); out["sigma"] = array_of(r.sigma);
  out["correlation_next"] = array_of(r.correlation_next); out["wilson_mean"] = array_of(r.wilson_mean);
  out["background"] = array_of(r.background); out["fit"] = array_of(r.fit); out["variance"] = array_of(r.variance);
  out["two_theta_max"] = r.two_theta_max; out["refined_cell"] = r.cell; out["zero_shift"] = r.zero_shift;
  out["sample_displacement"] = r.sample_displacement; out["width_scale"] = r.width_scale; out["chi2_reduced"] = r.chi2_reduced;
  out["setting_group"] = s_eg; out["setting_hall"] = s_hall; out["setting_reverse"] = s_rev;
  out["setting_log_likelihood"] = s_ll; out["allowed"] = allowed;
  out["groups"] = array_of(r.groups); out["group_log_likelihood"] = array_of(r.group_log_likelihood);
  out["group_best_setting"] = array_of(r.group_best_setting);
  return out;
}

}  // namespace

void add_evidence(py::module_& m) {
  py::class_<Instrument>(m, "Instrument", "How a d-spacing becomes a peak: wavelengths, shifts and widths (simulator conventions).")
      .def(py::init<>())
      .def_readwrite("wavelength", &Instrument::wavelength, "K-alpha1 (or monochromatic) wavelength, Å.")
      .def_readwrite("wavelength2", &Instrument::wavelength2, "K-alpha2 wavelength, Å; 0 for none.")
      .def_readwrite("ka2_ratio", &Instrument::ka2_ratio)
      .def_readwrite("zero_shift", &Instrument::zero_shift, "degrees 2theta")
      .def_readwrite("sample_displacement", &Instrument::sample_displacement, "mm")
      .def_readwrite("goniometer_radius", &Instrument::goniometer_radius, "mm")
      .def_readwrite("U", &Instrument::U).def_readwrite("V", &Instrument::V).def_readwrite("W", &Instrument::W)
      .def_readwrite("X", &Instrument::X).def_readwrite("Y", &Instrument::Y)
      .def_readwrite("crystallite_size", &Instrument::crystallite_size, "nm; 0 for none")
      .def_readwrite("microstrain", &Instrument::microstrain)
      .def_readwrite("scherrer_k", &Instrument::scherrer_k)
      .def_readwrite("eta", &Instrument::eta, "pseudo-Voigt Lorentzian fraction; < 0: Thompson-Cox-Hastings")
      .def_readwrite("monochromator_two_theta", &Instrument::monochromator_two_theta)
      .def("observed_two_theta", &Instrument::observed_two_theta, py::arg("d"), py::arg("wavelength"))
      .def("widths", [](const Instrument& ins, double d) {
        double f, e;
        ins.widths(d, &f, &e);
        return std::make_pair(f, e);
      }, py::arg("d"), "(FWHM in degrees, eta) of a line at d-spacing d (Å).");
  py::class_<EvidenceOptions>(m, "EvidenceOptions", "Settings of the extinction-evidence engine.")
      .def(py::init<>())
      .def_readwrite("merge_fwhm", &EvidenceOptions::merge_fwhm)
      .def_readwrite("max_density", &EvidenceOptions::max_density)
      .def_readwrite("max_composites", &EvidenceOptions::max_composites)
      .def_readwrite("model_error", &EvidenceOptions::model_error)
      .def_readwrite("intensity_error", &EvidenceOptions::intensity_error)
      .def_readwrite("background_terms", &EvidenceOptions::background_terms)
      .def_readwrite("coupling_cut", &EvidenceOptions::coupling_cut)
      .def_readwrite("metric_tolerance", &EvidenceOptions::metric_tolerance)
      .def_readwrite("refine", &EvidenceOptions::refine);
  m.def("gaussian_wilson_log_likelihood", [](const Eigen::MatrixXd& q, const Eigen::VectorXd& rhs,
                                             const std::vector<float>& allowed, const std::vector<double>& wilson_mean) {
    return gaussian_wilson_log_likelihood(q, rhs, allowed, wilson_mean);
  }, py::arg("q"), py::arg("rhs"), py::arg("allowed"), py::arg("wilson_mean"),
     "Log-likelihood of one block of composites (see evidence.hpp): Gaussian measurement, Wilson prior, forbidden at zero.");
  m.def("lattice_system_of_pearson", [](const std::string& p) { return std::string(name(lattice_system_from_pearson(p))); },
        py::arg("pearson"), "Lattice system of a Pearson symbol, e.g. 'hR' -> 'rhombohedral'.");
  m.def("compatible_settings", [](std::array<double, 6> cell, const std::string& pearson, double tol) {
    const UnitCell uc = cell_from(cell);
    std::vector<std::tuple<int, int, bool>> out;
    for (const auto& s : compatible_settings(uc, lattice_system_from_pearson(pearson), tol))
      out.emplace_back(s.extinction_group, s.hall_number, s.reverse);
    return out;
  }, py::arg("cell"), py::arg("lattice"), py::arg("metric_tolerance") = EvidenceOptions{}.metric_tolerance,
     "(extinction group, Hall number, reverse) of every setting of the lattice's groups whose rotations keep the cell's metric.");
  m.def("extinction_evidence", [](const py::handle& two_theta, const py::handle& intensity, const py::handle& background,
                                  std::array<double, 6> cell, const std::string& pearson, const Instrument& instrument,
                                  const EvidenceOptions& options) {
    const auto x = vector_from(two_theta, "two_theta"), y = vector_from(intensity, "intensity"),
               b = vector_from(background, "background");
    const UnitCell uc = cell_from(cell);
    const LatticeSystem system = lattice_system_from_pearson(pearson);
    EvidenceResult r;
    {
      py::gil_scoped_release release;
      r = extinction_evidence(x, y, b, uc, system, instrument, options);
    }
    return result_dict(r);
  }, py::arg("two_theta"), py::arg("intensity"), py::arg("background"), py::arg("cell"), py::arg("lattice"),
     py::arg("instrument"), py::arg("options") = EvidenceOptions{},
     "Extraction of the lattice's reflections and the likelihood of every compatible extinction-group setting.");
}

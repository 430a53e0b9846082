// Bindings for indexing.hpp: declarations and argument conversion only.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "xrdfast/indexing.hpp"

namespace py = pybind11;
using namespace xrdfast;

namespace {

// Keyword options -> IndexingOptions; an unknown name is a TypeError listing the known ones.
IndexingOptions options_from(const py::kwargs& kw) {
  IndexingOptions o;
  for (const auto& [key, value] : kw) {
    const std::string k = key.cast<std::string>();
    if (k == "wavelength") o.wavelength = value.cast<double>();
    else if (k == "max_lines") o.max_lines = value.cast<int>();
    else if (k == "top") o.top = value.cast<int>();
    else if (k == "time_limit") o.time_limit = value.cast<double>();
    else if (k == "effort") o.effort = value.cast<double>();
    else if (k == "tolerance") o.tolerance = value.cast<double>();
    else if (k == "search_tolerance") o.search_tolerance = value.cast<double>();
    else if (k == "max_impurities") o.max_impurities = value.cast<int>();
    else if (k == "max_volume") o.max_volume = value.cast<double>();
    else if (k == "refine_zero") o.refine_zero = value.cast<bool>();
    else if (k == "min_m20") o.min_m20 = value.cast<double>();
    else if (k == "lowest_system") o.lowest_system = value.cast<int>();
    else if (k == "superstructure_chance") o.superstructure_chance = value.cast<double>();
    else if (k == "metric_tolerance") o.metric_tolerance = value.cast<double>();
    else
      throw py::type_error("index: unknown option '" + k + "' (known: wavelength, max_lines, top, effort, time_limit, "
                           "tolerance, "
                           "search_tolerance, max_impurities, max_volume, refine_zero, min_m20, lowest_system, "
                           "superstructure_chance, metric_tolerance)");
  }
  return o;
}

py::dict to_dict(const IndexingSolution& s) {
  py::dict d;
  d["cell"] = s.cell; d["niggli_cell"] = s.niggli_cell; d["lattice"] = s.lattice;
  d["crystal_system"] = s.crystal_system; d["volume"] = s.volume; d["m20"] = s.m20; d["m20_n"] = s.m20_n;
  d["f_n"] = s.f_n; d["f_n_n"] = s.f_n_n; d["f_n_mean_delta"] = s.f_n_mean_delta;
  d["f_n_n_possible"] = s.f_n_n_possible; d["zero_shift"] = s.zero_shift; d["n_indexed"] = s.n_indexed;
  d["n_lines"] = s.n_lines; d["score"] = s.score; d["related_to"] = s.related_to; d["relation"] = s.relation;
  d["superstructure"] = s.superstructure;
  const auto n = static_cast<py::ssize_t>(s.lines.size());
  py::array_t<int> hkl({n, py::ssize_t{3}});
  py::array_t<double> tto(n), ttc(n), dobs(n), dcalc(n);
  for (py::ssize_t i = 0; i < n; ++i) {
    const IndexedLine& l = s.lines[size_t(i)];
    for (int j = 0; j < 3; ++j) hkl.mutable_at(i, j) = l.hkl[size_t(j)];
    tto.mutable_at(i) = l.two_theta_obs; ttc.mutable_at(i) = l.two_theta_calc;
    dobs.mutable_at(i) = l.d_obs; dcalc.mutable_at(i) = l.d_calc;
  }
  d["hkl"] = hkl; d["two_theta_obs"] = tto; d["two_theta_calc"] = ttc; d["d_obs"] = dobs; d["d_calc"] = dcalc;
  d["unindexed"] = s.unindexed;
  return d;
}

py::list to_list(const std::vector<IndexingSolution>& v) {
  py::list out;
  for (const auto& s : v) out.append(to_dict(s));
  return out;
}

}  // namespace

void add_indexing(py::module_& m) {
  m.def("index_lines", [](std::vector<double> two_theta, std::vector<double> height, const py::kwargs& kw) {
          const IndexingOptions o = options_from(kw);
          std::vector<IndexingSolution> out;
          IndexingReport report;
          {
            py::gil_scoped_release release;
            out = index_powder(two_theta, height, o, &report);
          }
          return py::make_tuple(to_list(out), report.timed_out);
        },
        py::arg("two_theta"), py::arg("height"),
        "Index one pattern from its line positions (deg 2theta) and heights (may be empty): (solution dicts best "
        "first, timed_out). Options as keywords (IndexingOptions).");
  m.def("index_lines_batch", [](std::vector<std::vector<double>> two_theta, std::vector<std::vector<double>> height,
                                int n_threads, std::vector<double> tolerances, const py::kwargs& kw) {
          const IndexingOptions o = options_from(kw);
          std::vector<std::vector<IndexingSolution>> out;
          std::vector<std::string> errors;
          std::vector<char> timed_out;
          {
            py::gil_scoped_release release;
            out = index_powder_batch(two_theta, height, o, n_threads, errors, &timed_out, tolerances);
          }
          py::list results, timed;
          for (const auto& v : out) results.append(to_list(v));
          for (char t : timed_out) timed.append(bool(t));
          return py::make_tuple(results, errors, timed);
        },
        py::arg("two_theta"), py::arg("height"), py::arg("n_threads") = 0, py::arg("tolerances") = std::vector<double>{},
        "Index many patterns in parallel (OpenMP over patterns): (solutions, errors, timed_out); "
        "tolerances, when given, one per pattern in place of the options' tolerance.");
  m.def("niggli_cell", &niggli_reduce, py::arg("cell"),
        "The Niggli-reduced cell (a, b, c, alpha, beta, gamma) of a cell (Krivy & Gruber 1976).");
  m.def("bravais_lattice", [](const std::array<double, 6>& cell, double tolerance) {
          const LatticeType t = bravais_lattice(cell, tolerance);
          return py::make_tuple(t.lattice, t.conventional);
        },
        py::arg("cell"), py::arg("tolerance") = 0.004,
        "(Pearson symbol, conventional cell) of the lattice of a cell, from its metric symmetry.");
}

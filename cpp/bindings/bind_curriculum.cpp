// Bindings for curriculum.hpp: stage settings as attributes and dicts, samples as arrays.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "checks.hpp"

#include "xrdfast/curriculum.hpp"

namespace py = pybind11;
using namespace xrdfast;

namespace {

// The Interval fields, by name, for attribute access and for the manifest.
const std::vector<std::pair<const char*, Interval StageDistribution::*>>& intervals() {
  static const std::vector<std::pair<const char*, Interval StageDistribution::*>> fields = {
      {"U", &StageDistribution::U}, {"V", &StageDistribution::V}, {"W", &StageDistribution::W},
      {"X", &StageDistribution::X}, {"eta", &StageDistribution::eta}, {"zero_shift", &StageDistribution::zero_shift},
      {"sample_displacement", &StageDistribution::sample_displacement},
      {"crystallite_size", &StageDistribution::crystallite_size}, {"microstrain", &StageDistribution::microstrain},
      {"march_dollase_r", &StageDistribution::march_dollase_r}, {"counts", &StageDistribution::counts},
      {"read_noise", &StageDistribution::read_noise}, {"background_level", &StageDistribution::background_level},
      {"background_slope", &StageDistribution::background_slope},
      {"background_curvature", &StageDistribution::background_curvature},
      {"hump_amplitude", &StageDistribution::hump_amplitude}, {"hump_center", &StageDistribution::hump_center},
      {"hump_fwhm", &StageDistribution::hump_fwhm}, {"impurity_fraction", &StageDistribution::impurity_fraction}};
  return fields;
}

const std::vector<std::pair<const char*, double StageDistribution::*>>& scalars() {
  static const std::vector<std::pair<const char*, double StageDistribution::*>> fields = {
      {"lattice_only_fraction", &StageDistribution::lattice_only_fraction},
      {"eta_power", &StageDistribution::eta_power}, {"size_probability", &StageDistribution::size_probability},
      {"strain_probability", &StageDistribution::strain_probability},
      {"texture_probability", &StageDistribution::texture_probability},
      {"noise_probability", &StageDistribution::noise_probability},
      {"background_probability", &StageDistribution::background_probability},
      {"hump_probability", &StageDistribution::hump_probability},
      {"impurity_probability", &StageDistribution::impurity_probability}};
  return fields;
}

}  // namespace

void add_curriculum(py::module_& m) {
  auto cls = py::class_<StageDistribution>(m, "StageDistribution",
      "How a curriculum stage draws its samples: probabilities and [lo, hi] intervals of every nuisance.");
  cls.def(py::init<>())
      .def_static("preset", &StageDistribution::preset, py::arg("stage"), "The settings of stage '1', '2' or 'po'.")
      .def_readwrite("name", &StageDistribution::name)
      .def_property("min_atoms", [](const StageDistribution& d) { return d.crystal.min_atoms; },
                    [](StageDistribution& d, int v) { d.crystal.min_atoms = v; })
      .def_property("max_atoms", [](const StageDistribution& d) { return d.crystal.max_atoms; },
                    [](StageDistribution& d, int v) { d.crystal.max_atoms = v; });
  for (const auto& [name, member] : scalars()) {
    auto mp = member;
    cls.def_property(name, [mp](const StageDistribution& d) { return d.*mp; },
                     [mp](StageDistribution& d, double v) { d.*mp = v; });
  }
  for (const auto& [name, member] : intervals()) {
    auto mp = member;
    cls.def_property(name, [mp](const StageDistribution& d) { return py::make_tuple((d.*mp).lo, (d.*mp).hi); },
                     [mp](StageDistribution& d, std::pair<double, double> v) { d.*mp = Interval{v.first, v.second}; });
  }
  cls.def("to_dict", [](const StageDistribution& d) {
    py::dict out;
    out["name"] = d.name;
    out["min_atoms"] = d.crystal.min_atoms;
    out["max_atoms"] = d.crystal.max_atoms;
    for (const auto& [name, member] : scalars()) out[name] = d.*member;
    for (const auto& [name, member] : intervals()) out[name] = py::make_tuple((d.*member).lo, (d.*member).hi);
    return out;
  }, "Every setting, for a dataset's manifest.");

  m.def("draw_params", &sample_params, py::arg("distribution"), py::arg("seed"), py::arg("index"),
        "The SimulationParams (instrument, sample and measurement nuisances) that sample `index` of stream `seed` "
        "is drawn with by generate_samples: the generator's own draw, for evaluation on other structures.");

  m.def("generate_samples", [](const StageDistribution& dist, std::uint64_t seed, std::int64_t first,
                               std::int64_t count, py::array_t<double, py::array::c_style | py::array::forcecast> grid,
                               const py::object& n_threads) {
    if (count < 0) throw py::value_error("count must be non-negative");
    const int threads = bind::thread_count(n_threads);
    const std::vector<double> g = bind::grid_from(grid);
    py::array_t<float> patterns({static_cast<py::ssize_t>(count), static_cast<py::ssize_t>(g.size())});
    std::vector<SampleRecord> records(static_cast<size_t>(count));
    std::vector<std::string> errors;
    float* out = patterns.mutable_data();
    bind::interruptible([&] { generate_samples(dist, seed, first, count, g, threads, out, records.data(), errors); });
    const auto n = static_cast<py::ssize_t>(count);
    auto column = [&](auto get, auto zero) {
      py::array_t<decltype(zero)> a(n);
      for (py::ssize_t i = 0; i < n; ++i) a.mutable_at(i) = get(records[size_t(i)]);
      return a;
    };
    auto block = [&](auto get, int width) {
      py::array_t<double> a({n, py::ssize_t(width)});
      for (py::ssize_t i = 0; i < n; ++i)
        for (int j = 0; j < width; ++j) a.mutable_at(i, j) = get(records[size_t(i)], j);
      return a;
    };
    py::dict out_records;
    out_records["index"] = column([](const SampleRecord& r) { return r.index; }, std::int64_t{});
    out_records["status"] = column([](const SampleRecord& r) { return r.status; }, std::int32_t{});
    out_records["space_group"] = column([](const SampleRecord& r) { return r.space_group; }, std::int32_t{});
    out_records["extinction_group"] = column([](const SampleRecord& r) { return r.extinction_group; }, std::int32_t{});
    out_records["crystal_system"] = column([](const SampleRecord& r) { return r.crystal_system; }, std::int32_t{});
    out_records["lattice_only"] = column([](const SampleRecord& r) { return r.lattice_only; }, std::int32_t{});
    out_records["n_atoms"] = column([](const SampleRecord& r) { return r.n_atoms; }, std::int32_t{});
    out_records["cell"] = block([](const SampleRecord& r, int j) { return r.cell[j]; }, 6);
    out_records["preferred_orientation"] = block([](const SampleRecord& r, int j) { return double(r.preferred_orientation[j]); }, 3);
    out_records["background"] = block([](const SampleRecord& r, int j) { return r.background[j]; }, 3);
    out_records["hump"] = block([](const SampleRecord& r, int j) { return r.hump[j]; }, 3);
    const std::pair<const char*, double SampleRecord::*> doubles[] = {
        {"U", &SampleRecord::U}, {"V", &SampleRecord::V}, {"W", &SampleRecord::W}, {"X", &SampleRecord::X},
        {"eta", &SampleRecord::eta}, {"zero_shift", &SampleRecord::zero_shift},
        {"sample_displacement", &SampleRecord::sample_displacement},
        {"crystallite_size", &SampleRecord::crystallite_size}, {"microstrain", &SampleRecord::microstrain},
        {"march_dollase_r", &SampleRecord::march_dollase_r}, {"counts", &SampleRecord::counts},
        {"read_noise", &SampleRecord::read_noise}, {"impurity_fraction", &SampleRecord::impurity_fraction}};
    for (const auto& [name, member] : doubles) {
      auto mp = member;
      out_records[name] = column([mp](const SampleRecord& r) { return r.*mp; }, double{});
    }
    out_records["impurity_space_group"] = column([](const SampleRecord& r) { return r.impurity_space_group; }, std::int32_t{});
    out_records["error"] = errors;
    return py::make_tuple(patterns, out_records);
  }, py::arg("distribution"), py::arg("seed"), py::arg("first"), py::arg("count"), py::arg("grid"),
     py::arg("n_threads") = 0,
     "Samples first..first+count-1 of a stage: (float32 patterns (count, n_points), records as arrays).");
}

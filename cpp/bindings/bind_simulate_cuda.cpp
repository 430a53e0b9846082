// Bindings for simulate_cuda.hpp: declarations and array plumbing only. Present in every
// build; without CUDA, cuda_available() is False and simulate_patterns_cuda raises
// RuntimeError (std::runtime_error) saying so.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>

#include "checks.hpp"
#include "xrdfast/simulate_cuda.hpp"

namespace py = pybind11;
using namespace xrdfast;
using bind::PhaseList;

void add_simulate_cuda(py::module_& m) {
  m.def("cuda_available", &cuda_available,
        "Whether this build has the CUDA kernels and a CUDA device is visible (never raises).");

  m.def("simulate_patterns_cuda", [](const std::vector<PhaseList>& items, const std::vector<SimulationParams>& params,
                                    const py::handle& grid, std::uint64_t seed) {
    return bind::run_batch(items, grid, [&](const auto& phases, const auto& g, float* data, auto& errors) {
      simulate_batch_cuda(phases, params, g, seed, data, errors);
    });
  }, py::arg("items"), py::arg("params"), py::arg("grid"), py::arg("seed") = 0,
     "simulate_patterns on the GPU: float32 (N, n_points) and one error message per item ('' on success). "
     "Same noise streams as the CPU; agrees with it up to rounding. RuntimeError without CUDA.");
}

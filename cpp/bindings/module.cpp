// xrdfast._core: the compiled half of xrdfast. Each area adds its own bindings.
#include <pybind11/pybind11.h>

#include <thread>

namespace py = pybind11;

void add_symop(py::module_& m);
void add_spacegroup(py::module_& m);
void add_extinction(py::module_& m);
void add_subgroups(py::module_& m);
void add_scattering(py::module_& m);
void add_crystal(py::module_& m);
void add_simulate(py::module_& m);
void add_simulate_cuda(py::module_& m);
void add_wyckoff(py::module_& m);
void add_random_crystal(py::module_& m);
void add_curriculum(py::module_& m);
void add_evidence(py::module_& m);
void add_peaks(py::module_& m);
void add_interrupt(py::module_& m);
void add_indexing(py::module_& m);

#ifndef XRDFAST_VERSION
#define XRDFAST_VERSION "dev"
#endif

PYBIND11_MODULE(_core, m) {
  m.doc() = "xrdfast native core: space groups, extinction groups, powder simulation";
  add_symop(m);
  add_spacegroup(m);
  add_extinction(m);
  add_subgroups(m);
  add_scattering(m);
  add_crystal(m);
  add_simulate(m);
  add_simulate_cuda(m);
  add_wyckoff(m);
  add_random_crystal(m);
  add_curriculum(m);
  add_evidence(m);
  add_peaks(m);
  add_interrupt(m);
  add_indexing(m);
  m.def("build_info", [] {
    py::dict info;
    info["version"] = XRDFAST_VERSION;
#ifdef XRDFAST_OPENMP
    info["openmp"] = true;
#else
    info["openmp"] = false;
#endif
#ifdef XRDFAST_CUDA
    info["cuda"] = true;
    info["cuda_architectures"] = XRDFAST_CUDA_ARCHS;
#else
    info["cuda"] = false;
    info["cuda_architectures"] = "";
#endif
    info["compiler"] =
#if defined(__clang__)
        "clang " __clang_version__;
#elif defined(__GNUC__)
        "gcc " __VERSION__;
#else
        "unknown";
#endif
    info["hardware_threads"] = std::thread::hardware_concurrency();
    return info;
  }, "What this build of xrdfast was compiled with (OpenMP, CUDA and its architectures).");
}

// Argument checks shared by the bindings: one place that turns a wrong array into a
// ValueError naming the argument, the expected and the actual shape and dtype.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "xrdfast/interrupt.hpp"
#include "xrdfast/simulate.hpp"

namespace xrdfast::bind {

namespace py = pybind11;

inline std::string describe(const py::array& a) {
  std::string shape = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) shape += (i ? ", " : "") + std::to_string(a.shape(i));
  if (a.ndim() == 1) shape += ",";
  return std::string(py::str(a.dtype())) + " array of shape " + shape + ")";
}

// Miller indices as an (N, 3) int64 array; a single (3,) triple is accepted as N = 1.
// Floats are refused rather than truncated: 1.5 is not a Miller index.
inline py::array_t<std::int64_t> hkl_array(const py::handle& obj, const char* name) {
  py::array a = py::array::ensure(obj);
  if (!a) throw py::value_error(std::string(name) + ": expected an integer array of shape (N, 3)");
  const char kind = a.dtype().kind();
  if (a.size() > 0 && kind != 'i' && kind != 'u')
    throw py::value_error(std::string(name) + ": expected integer Miller indices of shape (N, 3), got " + describe(a));
  if (!((a.ndim() == 2 && a.shape(1) == 3) || (a.ndim() == 1 && a.shape(0) == 3)))
    throw py::value_error(std::string(name) + ": expected shape (N, 3) or (3,), got " + describe(a));
  return py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(a.reshape({a.size() / 3, py::ssize_t{3}}));
}

// A thread count as the native loops take it (0: every hardware thread). More threads than
// the machine has only cost memory (1000 OpenMP threads end the process inside libgomp;
// 100000 segfault under a memory limit), so a larger count is clamped to the hardware;
// a negative or non-integer one is a ValueError naming the argument.
inline int thread_count(const py::handle& obj, const char* name = "n_threads") {
  const std::string what = std::string(name) + " = " + std::string(py::repr(obj));
  PyObject* index = PyNumber_Index(obj.ptr());  // int and NumPy integers; not float, str or bool
  if (!index || PyBool_Check(obj.ptr())) {
    PyErr_Clear();
    Py_XDECREF(index);
    throw py::value_error(what + ": expected a whole number of threads (0 for all)");
  }
  int overflow = 0;
  const long long n = PyLong_AsLongLongAndOverflow(index, &overflow);
  Py_DECREF(index);
  if (overflow < 0 || (overflow == 0 && n < 0))
    throw py::value_error(what + ": expected 0 (all hardware threads) or a positive count");
  const long long hardware = std::max(1u, std::thread::hardware_concurrency());
  return overflow > 0 ? int(hardware) : int(std::min(n, hardware));
}

// Run a long native call without the GIL, where Ctrl-C can stop it: the loops poll
// (interrupt.hpp), and the Interrupted they throw becomes the KeyboardInterrupt that
// Python's handler raised (module.cpp registers the translation).
template <typename F>
decltype(auto) interruptible(F&& f) {
  InterruptScope scope;
  py::gil_scoped_release release;
  return f();
}

// A 2theta grid (degrees) as a vector; the simulator checks its values.
inline std::vector<double> grid_from(const py::handle& obj) {
  auto a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(obj);
  if (!a || a.ndim() != 1) throw py::value_error("grid: expected a 1-D array of 2theta values in degrees");
  if (std::size_t(a.size()) > kMaxGridPoints)  // before a batch allocates N rows of it
    throw py::value_error("grid: " + std::to_string(a.size()) + " points, more than the " +
                          std::to_string(kMaxGridPoints) + " xrdfast renders");
  return std::vector<double>(a.data(), a.data() + a.size());
}

// A mixture as Python passes it, [(crystal, weight_fraction), ...], and as the core takes it.
using CrystalPtr = std::shared_ptr<Crystal>;
using PhaseList = std::vector<std::pair<CrystalPtr, double>>;

inline std::vector<Phase> phases_of(const PhaseList& list) {
  std::vector<Phase> out;
  for (const auto& [c, w] : list) {
    if (!c) throw py::value_error("phase list holds None instead of a Crystal");
    out.push_back(Phase{c.get(), w});
  }
  return out;
}

// A batch call shared by the CPU and CUDA bindings: convert the items and the grid, allocate
// the float32 (N, n_points) output, run `simulate` without the GIL, return (patterns, errors).
template <typename Simulate>
py::tuple run_batch(const std::vector<PhaseList>& items, const py::handle& grid, Simulate simulate) {
  std::vector<std::vector<Phase>> phases;
  for (const PhaseList& item : items) phases.push_back(phases_of(item));
  const std::vector<double> g = grid_from(grid);
  py::array_t<float> out({static_cast<py::ssize_t>(items.size()), static_cast<py::ssize_t>(g.size())});
  std::vector<std::string> errors;
  float* data = out.mutable_data();
  interruptible([&] { simulate(phases, g, data, errors); });
  return py::make_tuple(out, errors);
}

}  // namespace xrdfast::bind

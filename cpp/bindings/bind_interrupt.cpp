// Bindings for interrupt.hpp: the check that lets Ctrl-C reach long native loops, and the
// translation of Interrupted into the exception Python's signal handler raised.
#include <pybind11/pybind11.h>

#include <thread>

#include "xrdfast/interrupt.hpp"

namespace py = pybind11;

namespace {

std::thread::id g_main_thread;  // where Python runs signal handlers

// Called by the loops' polls from any thread; only the interpreter's main thread can run
// handlers, and it may have released the GIL for the call, so it takes it back briefly.
bool python_signal_raised() {
  if (std::this_thread::get_id() != g_main_thread) return false;
  py::gil_scoped_acquire gil;
  return PyErr_CheckSignals() != 0;  // the handler's exception (KeyboardInterrupt) is now set
}

}  // namespace

void add_interrupt(py::module_& m) {
  (void)m;
  const auto main_ident = py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
  if (PyThread_get_thread_ident() == main_ident) g_main_thread = std::this_thread::get_id();
  xrdfast::set_interrupt_check(&python_signal_raised);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const xrdfast::Interrupted&) {
      // the check left the handler's exception set on this thread; a call stopped by another
      // thread's interrupt has none, and stops with a plain KeyboardInterrupt
      if (!PyErr_Occurred()) PyErr_SetNone(PyExc_KeyboardInterrupt);
    }
  });
}

// Cooperative interruption of long native loops (Ctrl-C from Python).
//
// The core knows nothing of Python: the bindings install a check (run the interpreter's
// signal handlers on its main thread) and open an InterruptScope around each long call.
// Loops call poll_interrupt() between items; it is a relaxed atomic load when no scope is
// open, and asks the check at most every kPollInterval. Once the check says yes, a sticky
// flag stops every thread of every open call: OpenMP workers see it at their next poll, the
// calling thread throws Interrupted, and the bindings turn it into the KeyboardInterrupt
// the handler raised. Interrupted derives from std::exception only, so the loops that catch
// std::runtime_error to retry a random draw do not swallow it; per-item handlers that catch
// std::exception must catch Interrupted first.
#pragma once

#include <atomic>
#include <chrono>
#include <exception>

namespace xrdfast {

struct Interrupted : std::exception {
  const char* what() const noexcept override { return "interrupted"; }
};

// How often, at most, poll_interrupt() consults the check: Ctrl-C answers within ~this.
constexpr std::chrono::milliseconds kPollInterval{20};

// The bindings' check: true when a signal handler raised (the Python error is then set).
// It is called from any thread and must answer false off the thread that can run handlers.
using InterruptCheck = bool (*)();
void set_interrupt_check(InterruptCheck check);

// Open around a long call. The stop flag clears when the first scope opens and when the
// last one closes, so an interrupt never leaks into a later call.
class InterruptScope {
 public:
  InterruptScope();
  ~InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;
};

namespace detail {
extern std::atomic<int> open_scopes;
extern std::atomic<bool> stop_requested;
void poll_slow();
}  // namespace detail

// True once an interrupt has been seen in the open scopes (for loops that must not throw,
// such as the body of an OpenMP loop, which skips its remaining items).
inline bool interrupt_requested() { return detail::stop_requested.load(std::memory_order_relaxed); }

// Throws Interrupted when a stop was requested or the check reports a signal.
inline void poll_interrupt() {
  if (detail::open_scopes.load(std::memory_order_relaxed) == 0) return;
  detail::poll_slow();
}

}  // namespace xrdfast

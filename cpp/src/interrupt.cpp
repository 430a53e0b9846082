#include "xrdfast/interrupt.hpp"

namespace xrdfast {

namespace {
std::atomic<InterruptCheck> g_check{nullptr};
}

namespace detail {
std::atomic<int> open_scopes{0};
std::atomic<bool> stop_requested{false};

void poll_slow() {
  if (stop_requested.load(std::memory_order_relaxed)) throw Interrupted();
  // The clock (~20 ns) every 32nd poll, so that polling a cheap item costs next to nothing;
  // the check (which may wait for the GIL) at most every kPollInterval per thread.
  thread_local unsigned calls = 0;
  if (++calls % 32 != 0) return;
  thread_local auto last = std::chrono::steady_clock::now();
  const auto now = std::chrono::steady_clock::now();
  if (now - last < kPollInterval) return;
  last = now;
  const InterruptCheck check = g_check.load();
  if (check && check()) {
    stop_requested.store(true);
    throw Interrupted();
  }
}
}  // namespace detail

void set_interrupt_check(InterruptCheck check) { g_check.store(check); }

InterruptScope::InterruptScope() {
  if (detail::open_scopes.fetch_add(1) == 0) detail::stop_requested.store(false);
}

InterruptScope::~InterruptScope() {
  if (detail::open_scopes.fetch_sub(1) == 1) detail::stop_requested.store(false);
}

}  // namespace xrdfast

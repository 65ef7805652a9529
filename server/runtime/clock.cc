// Copyright 2026 The Baton Authors.

#include "server/runtime/clock.h"

#include <chrono>
#include <cstdlib>

namespace baton::runtime {

SteadyClock* SteadyClock::Get() {
  static SteadyClock* const clock = new SteadyClock();
  return clock;
}

absl::Time SteadyClock::Now() const {
  return absl::UnixEpoch() +
         absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
}

ManualClock::ManualClock(absl::Time start) : now_nanos_(absl::ToUnixNanos(start)) {}

absl::Time ManualClock::Now() const {
  return absl::FromUnixNanos(now_nanos_.load(std::memory_order_acquire));
}

void ManualClock::Advance(absl::Duration d) {
  if (d < absl::ZeroDuration()) std::abort();
  now_nanos_.fetch_add(absl::ToInt64Nanoseconds(d), std::memory_order_acq_rel);
}

void ManualClock::Set(absl::Time t) {
  const std::int64_t target = absl::ToUnixNanos(t);
  if (target < now_nanos_.load(std::memory_order_acquire)) std::abort();
  now_nanos_.store(target, std::memory_order_release);
}

}  // namespace baton::runtime

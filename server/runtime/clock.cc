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

ManualClock::ManualClock(absl::Time start) : now_(start) {}

absl::Time ManualClock::Now() const {
  absl::MutexLock lock(&mu_);
  return now_;
}

void ManualClock::Advance(absl::Duration d) {
  if (d < absl::ZeroDuration()) std::abort();
  absl::MutexLock lock(&mu_);
  now_ += d;
}

void ManualClock::Set(absl::Time t) {
  absl::MutexLock lock(&mu_);
  if (t < now_) std::abort();
  now_ = t;
}

}  // namespace baton::runtime

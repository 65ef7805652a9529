// Copyright 2026 The Baton Authors.
//
// Time sources for the scheduler. Every deadline, refill and lease in Baton
// reads a Clock, so tests substitute a ManualClock and run timing logic
// exactly and instantly.
//
// Example:
//   baton::runtime::ManualClock clock;
//   EventLoop loop(&clock);
//   clock.Advance(absl::Seconds(1));
//   loop.RunUntilIdle();  // fires every timer due by now

#ifndef BATON_SERVER_RUNTIME_CLOCK_H_
#define BATON_SERVER_RUNTIME_CLOCK_H_

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"

namespace baton::runtime {

// A monotonic time source. Implementations are safe to call from any thread.
class Clock {
 public:
  virtual ~Clock() = default;

  // Now() returns the current time. It never goes backwards.
  virtual absl::Time Now() const = 0;
};

// SteadyClock reads std::chrono::steady_clock, mapped onto absl::Time with an
// arbitrary epoch: compare and subtract its values, never print them as dates.
class SteadyClock final : public Clock {
 public:
  // Get() returns the process-wide instance.
  static SteadyClock* Get();

  absl::Time Now() const override;
};

// ManualClock only moves when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  // The default start is an hour past the Unix epoch, so that tests may
  // subtract small durations without reaching absl::InfinitePast().
  explicit ManualClock(absl::Time start = absl::UnixEpoch() + absl::Hours(1));

  absl::Time Now() const override;

  // Advance() moves the clock forward by `d` (which must be >= 0).
  void Advance(absl::Duration d);

  // Set() moves the clock to `t`; it must not be earlier than Now().
  void Set(absl::Time t);

 private:
  // Nanoseconds since the Unix epoch: a lock-free read, so that tests and
  // benchmarks on a manual clock do not measure a mutex.
  std::atomic<std::int64_t> now_nanos_;
};

}  // namespace baton::runtime

#endif  // BATON_SERVER_RUNTIME_CLOCK_H_

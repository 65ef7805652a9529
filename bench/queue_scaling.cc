// Copyright 2026 The Baton Authors.
//
// queue_scaling: the cost of one waiter-queue operation as the queue grows,
// for the queue shared by the locks, semaphores and the rate limiter.
//
// For each queue size N it runs, on a PriorityLock held by someone else:
//   enqueue       N waiters queue (each its own coroutine, priority i % 4,
//                 with a timeout so the timer heap is exercised too);
//   cancel-mid    the middle half is cancelled, from the middle outward
//                 (each one sits deep inside the queue when it leaves);
//   cancel-rand   the same count, at random positions (adds cache misses);
//   grant         the rest are granted in turn: each release hands the lock
//                 to the next waiter, which resumes and releases.
// and prints a table of ns per operation. Under callgrind it also reports
// instructions per operation, which are exact and immune to machine noise:
//
//   bench/queue_scaling.sh   (runs both and prints both tables)

#include <malloc.h>
#include <valgrind/callgrind.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "server/core/priority_mutex.h"
#include "server/core/session.h"
#include "server/runtime/cancellation.h"
#include "server/runtime/clock.h"
#include "server/runtime/event_loop.h"
#include "server/runtime/task.h"

namespace baton::core {
namespace {

runtime::Task<void> QueuedAcquire(PriorityMutex& mutex, WaitOptions options,
                                  std::int64_t priority, int* answered) {
  Session* session = options.session;
  WaitResult r = co_await mutex.Acquire(std::move(options), priority);
  ++*answered;
  if (r.ok()) (void)mutex.Release(session, "k");
}

struct Phase {
  const char* name;
  double ns_per_op;
};

class Stopwatch {
 public:
  // Start() starts timing (and callgrind collection) of phase `name`.
  void Start(const char* name) {
    name_ = name;
    CALLGRIND_TOGGLE_COLLECT;
    start_ = std::chrono::steady_clock::now();
  }
  Phase Stop(int ops) {
    const auto end = std::chrono::steady_clock::now();
    CALLGRIND_TOGGLE_COLLECT;
    CALLGRIND_DUMP_STATS_AT(name_.c_str());
    return {nullptr, std::chrono::duration<double, std::nano>(end - start_).count() / ops};
  }

 private:
  std::string name_;
  std::chrono::steady_clock::time_point start_;
};

std::vector<Phase> Run(int n) {
  runtime::ManualClock clock;
  runtime::EventLoop loop(&clock);
  PriorityLock lock(&loop, 0);
  Session holder(1);
  std::vector<std::unique_ptr<Session>> sessions;
  std::vector<runtime::CancellationSignal> cancels(n);
  int answered = 0;
  runtime::Detach([](PriorityLock& l, Session& s) -> runtime::Task<void> {
    WaitOptions options{.session = &s, .owner_key = "k"};  // see waiter.h: GCC 12
    (void)co_await l.Acquire(std::move(options));
  }(lock, holder));
  for (int i = 0; i < n; ++i) sessions.push_back(std::make_unique<Session>(10 + i));

  Stopwatch watch;
  std::vector<Phase> phases;
  const std::string tag = "n" + std::to_string(n) + "-";

  watch.Start((tag + "enqueue").c_str());
  for (int i = 0; i < n; ++i) {
    runtime::Detach(QueuedAcquire(
        lock,
        {.session = sessions[i].get(), .owner_key = "k",
         .timeout = absl::Seconds(60 + i % 7), .cancel = &cancels[i]},
        i % 4, &answered));
  }
  phases.push_back(watch.Stop(n));
  phases.back().name = "enqueue";

  // Middle half, from the middle outward: n/4 .. 3n/4.
  std::vector<int> middle;
  for (int d = 0; d < n / 4; ++d) {
    middle.push_back(n / 2 + d);
    middle.push_back(n / 2 - 1 - d);
  }
  watch.Start((tag + "cancel-mid").c_str());
  for (int i : middle) cancels[i].Cancel();
  loop.RunUntilIdle();
  phases.push_back(watch.Stop(static_cast<int>(middle.size())));
  phases.back().name = "cancel-mid";

  // Random positions among the remaining waiters, the same count as the
  // quarter on each side (half of what remains).
  std::vector<int> rest;
  for (int i = 0; i < n / 4; ++i) rest.push_back(i);
  for (int i = 3 * n / 4 + (n % 4 != 0); i < n; ++i) rest.push_back(i);
  std::shuffle(rest.begin(), rest.end(), std::mt19937(42));
  const std::vector<int> random(rest.begin(), rest.begin() + rest.size() / 2);
  watch.Start((tag + "cancel-rand").c_str());
  for (int i : random) cancels[i].Cancel();
  loop.RunUntilIdle();
  phases.push_back(watch.Stop(static_cast<int>(random.size())));
  phases.back().name = "cancel-rand";

  const int remaining = n - answered;
  watch.Start((tag + "grant").c_str());
  (void)lock.Release(&holder, "k");
  loop.RunUntilIdle();
  phases.push_back(watch.Stop(remaining));
  phases.back().name = "grant";

  if (answered != n || lock.locked() || lock.waiter_count() != 0) {
    std::fprintf(stderr, "queue_scaling: n=%d: %d of %d answered\n", n, answered, n);
    std::exit(1);
  }
  return phases;
}

}  // namespace
}  // namespace baton::core

int main(int argc, char** argv) {
  // Keep freed memory in the process, as a long-running server's heap is:
  // otherwise each run pays first-touch page faults for its frames, which
  // measures the kernel, not the queue.
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  std::vector<int> sizes = {1000, 10000, 100000};
  if (argc > 1) sizes = {std::atoi(argv[1])};
  (void)baton::core::Run(sizes.back());  // warm the heap
  std::printf("| waiters | enqueue ns/op | cancel-mid ns/op | cancel-rand ns/op | grant ns/op |\n");
  std::printf("| ---: | ---: | ---: | ---: | ---: |\n");
  for (int n : sizes) {
    const auto phases = baton::core::Run(n);
    std::printf("| %d |", n);
    for (const auto& p : phases) std::printf(" %.0f |", p.ns_per_op);
    std::printf("\n");
  }
  return 0;
}

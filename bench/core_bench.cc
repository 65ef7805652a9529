// Copyright 2026 The Baton Authors.
//
// Microbenchmarks of server/core on one EventLoop thread (a manual clock, so
// no time is spent reading the system clock):
//
//   BM_Uncontended/<primitive>  one acquire + one release, never waiting
//   BM_Queue/<op>/<waiters>     the cost of one queue operation (enqueue,
//                               grant, cancel from the middle) with a queue
//                               of that many waiters: flat means O(1)/O(log n)
//
// Each queued waiter is a coroutine of its own, as a session's request would
// be, so the figures include its frame. Run: build/bench/bench_core

#include <algorithm>
#include <cstdint>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "server/core/dynamic_bounded_semaphore.h"
#include "server/core/keyed_condition.h"
#include "server/core/multi_count_down_latch.h"
#include "server/core/priority_mutex.h"
#include "server/core/priority_semaphore.h"
#include "server/core/rate_limiter.h"
#include "server/core/session.h"
#include "server/core/waiter.h"
#include "server/runtime/cancellation.h"
#include "server/runtime/clock.h"
#include "server/runtime/event_loop.h"
#include "server/runtime/task.h"

namespace baton::core {
namespace {

using runtime::Task;

struct Env {
  runtime::ManualClock clock;
  runtime::EventLoop loop{&clock};
  Session session{1};
  Session other{2};

  WaitOptions Opts(Session* s, runtime::CancellationSignal* cancel = nullptr,
                   std::optional<absl::Duration> timeout = {}) {
    return WaitOptions{.session = s, .owner_key = "k", .timeout = timeout, .cancel = cancel};
  }
};

// --- Uncontended acquire + release. ---

// Loop() co_awaits `acquire()` and calls `release()` once per iteration. The
// awaitable is built inside `acquire` (a plain function), so no temporary
// sits in the co_await expression (see waiter.h: GCC 12).
template <typename Acquire, typename Release>
Task<void> Loop(benchmark::State& state, Acquire acquire, Release release) {
  for (auto _ : state) {
    WaitResult r = co_await acquire();
    if (!r.ok()) {
      state.SkipWithError(r.status.ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(r.grant);
    release();
  }
}

template <typename Acquire, typename Release>
void RunLoop(benchmark::State& state, Acquire acquire, Release release) {
  runtime::Detach(Loop(state, std::move(acquire), std::move(release)));
  state.SetItemsProcessed(state.iterations());
}

void BM_Uncontended_PriorityLock(benchmark::State& state) {
  Env env;
  PriorityLock lock(&env.loop, 0);
  RunLoop(state, [&] { return lock.Acquire(env.Opts(&env.session), 0); },
          [&] { (void)lock.Release(&env.session, "k"); });
}
BENCHMARK(BM_Uncontended_PriorityLock);

void BM_Uncontended_PriorityRLock(benchmark::State& state) {
  Env env;
  PriorityRLock lock(&env.loop, 0);
  RunLoop(state, [&] { return lock.Acquire(env.Opts(&env.session), 0); },
          [&] { (void)lock.Release(&env.session, "k"); });
}
BENCHMARK(BM_Uncontended_PriorityRLock);

void BM_Uncontended_RLock(benchmark::State& state) {
  Env env;
  RLock lock(&env.loop, 0);
  RunLoop(state, [&] { return lock.Acquire(env.Opts(&env.session)); },
          [&] { (void)lock.Release(&env.session, "k"); });
}
BENCHMARK(BM_Uncontended_RLock);

void BM_Uncontended_PrioritySemaphore(benchmark::State& state) {
  Env env;
  PrioritySemaphore sem(&env.loop, 0, 1);
  RunLoop(state, [&] { return sem.Acquire(env.Opts(&env.session), 0); },
          [&] { (void)sem.Release(&env.session); });
}
BENCHMARK(BM_Uncontended_PrioritySemaphore);

void BM_Uncontended_DynamicBoundedSemaphore(benchmark::State& state) {
  Env env;
  DynamicBoundedSemaphore sem(&env.loop, 0, 1);
  RunLoop(state, [&] { return sem.Acquire(env.Opts(&env.session)); },
          [&] { (void)sem.Release(&env.session); });
}
BENCHMARK(BM_Uncontended_DynamicBoundedSemaphore);

void BM_Uncontended_KeyedConditionLock(benchmark::State& state) {
  Env env;
  KeyedCondition condition(&env.loop, 0);
  RunLoop(state, [&] { return condition.Acquire(env.Opts(&env.session)); },
          [&] { (void)condition.Release(&env.session, "k"); });
}
BENCHMARK(BM_Uncontended_KeyedConditionLock);

// A rate-limit decision: take one token, give it back (the bucket stays
// full, so every acquire is granted at once).
void BM_Uncontended_RateLimiter(benchmark::State& state) {
  Env env;
  RateLimiter limiter(&env.loop, 0, {.rate = 1000, .capacity = 10});
  RunLoop(state, [&] { return limiter.Acquire(env.Opts(&env.session), 1); },
          [&] { (void)limiter.Release(1); });
}
BENCHMARK(BM_Uncontended_RateLimiter);

// A wait on a finished counter: answered at once.
void BM_Uncontended_LatchWait(benchmark::State& state) {
  Env env;
  MultiCountDownLatch latch(&env.loop, 0, {{"done", 0}});
  RunLoop(state, [&] { return latch.Wait(env.Opts(&env.session), "done"); },
          [] {});
}
BENCHMARK(BM_Uncontended_LatchWait);

// --- A queue of N waiters. ---

// One waiter: a coroutine that queues on `mutex`; when granted it counts
// and, if `release`, releases at once, handing the lock to the next waiter.
Task<void> QueuedAcquire(PriorityMutex& mutex, WaitOptions options,
                         std::int64_t priority, int* answered, bool release) {
  Session* session = options.session;
  WaitResult r = co_await mutex.Acquire(std::move(options), priority);
  benchmark::DoNotOptimize(r);
  ++*answered;
  if (r.ok() && release) (void)mutex.Release(session, "k");
}

struct Queue {
  explicit Queue(int n, bool with_timeouts)
      : lock(&env.loop, 0), cancels(n), sessions() {
    // The holder, so that everyone else queues.
    runtime::Detach(QueuedAcquire(lock, env.Opts(&env.session), 0, &answered,
                                  /*release=*/false));
    answered = 0;
    sessions.reserve(n);
    for (int i = 0; i < n; ++i) sessions.push_back(std::make_unique<Session>(10 + i));
    with_timeout = with_timeouts;
  }

  void Enqueue(int i) {
    runtime::Detach(QueuedAcquire(
        lock,
        env.Opts(sessions[i].get(), &cancels[i],
                 with_timeout ? std::optional(absl::Seconds(60 + i % 7)) : std::nullopt),
        i % 4, &answered, /*release=*/true));
  }

  Env env;
  PriorityLock lock;
  std::vector<runtime::CancellationSignal> cancels;
  std::vector<std::unique_ptr<Session>> sessions;
  int answered = 0;
  bool with_timeout = false;
};

void BM_Queue_Enqueue(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    auto q = std::make_unique<Queue>(n, state.range(1) != 0);
    state.ResumeTiming();
    for (int i = 0; i < n; ++i) q->Enqueue(i);
    state.PauseTiming();
    q->env.session.End();
    for (auto& s : q->sessions) s->End();
    q->env.loop.RunUntilIdle();
    q.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_Queue_CancelFromMiddle(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937(42));
  for (auto _ : state) {
    state.PauseTiming();
    auto q = std::make_unique<Queue>(n, state.range(1) != 0);
    for (int i = 0; i < n; ++i) q->Enqueue(i);
    state.ResumeTiming();
    for (int i : order) q->cancels[i].Cancel();  // random positions
    q->env.loop.RunUntilIdle();                  // resume the cancelled
    state.PauseTiming();
    if (q->answered != n) state.SkipWithError("not every waiter answered");
    q->env.session.End();
    q->env.loop.RunUntilIdle();
    q.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_Queue_Grant(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    auto q = std::make_unique<Queue>(n, state.range(1) != 0);
    for (int i = 0; i < n; ++i) q->Enqueue(i);
    state.ResumeTiming();
    // The holder releases; each granted waiter resumes and releases in turn.
    (void)q->lock.Release(&q->env.session, "k");
    q->env.loop.RunUntilIdle();
    state.PauseTiming();
    if (q->answered != n) state.SkipWithError("not every waiter answered");
    q.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void QueueSizes(benchmark::internal::Benchmark* b) {
  for (int timeouts : {0, 1}) {
    for (int n : {1000, 10000, 100000}) b->Args({n, timeouts});
  }
  b->ArgNames({"waiters", "timeouts"})->Unit(benchmark::kMillisecond);
}
BENCHMARK(BM_Queue_Enqueue)->Apply(QueueSizes);
BENCHMARK(BM_Queue_CancelFromMiddle)->Apply(QueueSizes);
BENCHMARK(BM_Queue_Grant)->Apply(QueueSizes);

}  // namespace
}  // namespace baton::core

BENCHMARK_MAIN();

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
#include "server/core/priority_mutex.h"
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

template <typename Mutex>
Task<void> MutexLoop(benchmark::State& state, Env& env, Mutex& mutex) {
  for (auto _ : state) {
    WaitResult r = co_await mutex.Acquire(env.Opts(&env.session));
    benchmark::DoNotOptimize(r.grant.fence);
    (void)mutex.Release(&env.session, "k");
  }
}

void BM_Uncontended_PriorityLock(benchmark::State& state) {
  Env env;
  PriorityLock lock(&env.loop, 0);
  runtime::Detach(MutexLoop(state, env, lock));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Uncontended_PriorityLock);

void BM_Uncontended_RLock(benchmark::State& state) {
  Env env;
  RLock lock(&env.loop, 0);
  runtime::Detach(MutexLoop(state, env, lock));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Uncontended_RLock);

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

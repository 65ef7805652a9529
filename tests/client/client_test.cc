// Copyright 2026 The Baton Authors.
//
// End-to-end tests of the C++ client library (client/include/baton/) against
// a real batond on a loopback port: every operation through the client, its
// awaitables and blocking calls, lease loss, many concurrent awaits, many
// threads.

#include <signal.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "baton/client.h"
#include "baton/task.h"
#include "gtest/gtest.h"
#include "tests/testing/batond_process.h"

namespace baton {
namespace {

using ::baton::testing::BatondProcess;

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(batond_.started()) << batond_.log(); }

  std::unique_ptr<Client> Connect(std::string name = "test",
                                  std::function<void(const absl::Status&)> on_lost = nullptr) {
    ClientOptions options;
    options.address = batond_.address();
    options.client_name = std::move(name);
    options.keepalive = absl::Seconds(1);
    options.on_lease_lost = std::move(on_lost);
    absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(std::move(options));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  BatondProcess batond_{{"--shards=2"}};
};

// A detached coroutine: starts at once, frees itself at the end.
struct Detached {
  struct promise_type {
    Detached get_return_object() { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() {}
    void unhandled_exception() { std::terminate(); }
  };
};

Task<absl::StatusOr<std::uint64_t>> AcquireAndRelease(PriorityLock lock) {
  absl::StatusOr<Hold> hold = co_await lock.Acquire();
  if (!hold.ok()) co_return hold.status();
  const std::uint64_t fence = hold->fence();
  absl::StatusOr<Done> released = co_await hold->Release();
  if (!released.ok()) co_return released.status();
  co_return fence;
}

TEST_F(ClientTest, ALockTakenWithCoAwaitCarriesAFenceAndIsReleased) {
  std::unique_ptr<Client> client = Connect();
  ASSERT_NE(client, nullptr);
  EXPECT_GT(client->session_id(), 0u);
  PriorityLock lock(client.get(), "c1/lock");
  absl::StatusOr<std::uint64_t> first = SyncWait(AcquireAndRelease(lock));
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::uint64_t> second = SyncWait(AcquireAndRelease(lock));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_GT(*second, *first);
  EXPECT_FALSE(*lock.Locked().Wait());
}

TEST_F(ClientTest, TwoClientsExcludeEachOtherAndReleaseHandsOver) {
  std::unique_ptr<Client> a = Connect("a");
  std::unique_ptr<Client> b = Connect("b");
  PriorityLock lock_a(a.get(), "c2/lock");
  PriorityLock lock_b(b.get(), "c2/lock");
  absl::StatusOr<Hold> held = lock_a.Acquire().Wait();
  ASSERT_TRUE(held.ok()) << held.status();
  CallOptions try_once;
  try_once.timeout = absl::ZeroDuration();
  absl::StatusOr<Hold> refused = lock_b.Acquire(0, try_once).Wait();
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDeadlineExceeded);

  std::atomic<bool> granted{false};
  std::uint64_t fence_b = 0;
  std::thread waiter([&] {
    absl::StatusOr<Hold> hold = lock_b.Acquire().Wait();
    ASSERT_TRUE(hold.ok()) << hold.status();
    fence_b = hold->fence();
    granted = true;
  });
  // B is queued before A releases: wait until the server shows a waiter.
  for (int i = 0; i < 500 && (*lock_a.Read().Wait()).waiters == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // polling, not timing
  }
  EXPECT_FALSE(granted);
  ASSERT_TRUE(held->Release().Wait().ok());
  waiter.join();
  EXPECT_TRUE(granted);
  EXPECT_GT(fence_b, held->fence());
}

TEST_F(ClientTest, DestroyingAHoldReleasesIt) {
  std::unique_ptr<Client> client = Connect();
  PriorityLock lock(client.get(), "c3/lock");
  {
    absl::StatusOr<Hold> hold = lock.Acquire().Wait();
    ASSERT_TRUE(hold.ok());
    EXPECT_TRUE(*lock.IsOwner().Wait());
  }
  // The release was sent before this read, on the same stream: in order.
  EXPECT_FALSE(*lock.Locked().Wait());
}

TEST_F(ClientTest, EveryKindThroughTheClient) {
  std::unique_ptr<Client> client = Connect();
  // Rate limit: declared, granted with tokens left, refused with retry-after.
  RateLimiter limiter(client.get(), "c4/limit");
  ASSERT_TRUE(limiter.Declare(10, 2).Wait().ok());
  absl::StatusOr<RateDecision> d = limiter.Acquire(2).Wait();
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->granted);
  EXPECT_LT(d->tokens_left, 0.5);
  CallOptions now;
  now.timeout = absl::ZeroDuration();
  d = limiter.Acquire(1, now).Wait();
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(d->granted);
  EXPECT_GT(d->retry_after, absl::ZeroDuration());
  EXPECT_LE(d->retry_after, absl::Milliseconds(100));
  ASSERT_TRUE(limiter.Release(2).Wait().ok());
  ASSERT_TRUE(limiter.SetRate(20).Wait().ok());
  absl::StatusOr<InstanceState> state = limiter.Read().Wait();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->rate, 20);
  EXPECT_EQ(state->capacity, 20);
  EXPECT_EQ(limiter.Acquire(0).Wait().status().code(), absl::StatusCode::kInvalidArgument);

  // Dynamic semaphore: bound changes live.
  DynamicBoundedSemaphore sem(client.get(), "c4/sem");
  ASSERT_TRUE(sem.Declare(1).Wait().ok());
  absl::StatusOr<Hold> permit = sem.Acquire().Wait();
  ASSERT_TRUE(permit.ok());
  ASSERT_TRUE(sem.SetBound(3).Wait().ok());
  EXPECT_EQ(*sem.Bound().Wait(), 3);
  EXPECT_EQ(sem.Read().Wait()->session_permits, 1);
  ASSERT_TRUE(permit->Release().Wait().ok());
  EXPECT_EQ(sem.Release().Wait().status().code(), absl::StatusCode::kFailedPrecondition);

  // Priority semaphore: reset revokes the permit, and the hold learns it.
  PrioritySemaphore psem(client.get(), "c4/psem");
  absl::StatusOr<Hold> p = psem.Acquire(3).Wait();
  ASSERT_TRUE(p.ok());
  absl::Notification lost;
  p->OnLost([&](const absl::Status&) { lost.Notify(); });
  ASSERT_TRUE(psem.Reset().Wait().ok());
  EXPECT_TRUE(lost.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_TRUE(p->lost());
  EXPECT_EQ(p->lost_reason().code(), absl::StatusCode::kAborted);

  // Reentrant locks: two owners of one client.
  RLock rlock(client.get(), "c4/rlock");
  RLock other = rlock.WithOwner("other");
  absl::StatusOr<Hold> r1 = rlock.Acquire().Wait();
  absl::StatusOr<Hold> r2 = rlock.Acquire().Wait();  // re-entry
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_EQ(r1->fence(), r2->fence());
  EXPECT_EQ(other.Acquire(now).Wait().status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(**rlock.Owner().Wait(), client->options().owner_key);
  ASSERT_TRUE(r2->Release().Wait().ok());
  ASSERT_TRUE(r1->Release().Wait().ok());
  EXPECT_FALSE(rlock.Owner().Wait()->has_value());

  // Latch.
  MultiCountDownLatch latch(client.get(), "c4/latch");
  ASSERT_TRUE(latch.Declare({{"a", 1}, {"b", 2}}).Wait().ok());
  EXPECT_FALSE(*latch.Broken().Wait());
  ASSERT_TRUE(latch.CountDownAll().Wait().ok());
  ASSERT_TRUE(latch.CountDown("b").Wait().ok());
  EXPECT_TRUE(latch.Wait("a").Wait().ok());
  EXPECT_TRUE(latch.WaitAll().Wait().ok());
  EXPECT_TRUE(*latch.Broken().Wait());
  EXPECT_EQ(latch.CountDown("zzz", true).Wait().status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ClientTest, ConditionAcrossClientsWaitReacquiresAndWaitForLoops) {
  std::unique_ptr<Client> a = Connect("a");
  std::unique_ptr<Client> b = Connect("b");
  KeyedCondition cond_a(a.get(), "c5/cond");
  KeyedCondition cond_b(b.get(), "c5/cond");
  std::atomic<int> jobs{0};
  std::thread worker([&] {
    absl::StatusOr<Hold> hold = cond_a.Acquire().Wait();
    ASSERT_TRUE(hold.ok());
    const std::uint64_t before = hold->fence();
    EXPECT_TRUE(cond_a.AssertLocked().ok());
    EXPECT_TRUE(cond_a.WaitFor("job", [&] { return jobs.load() >= 2; }).ok());
    EXPECT_TRUE(cond_a.AssertLocked().ok());
    EXPECT_GT(hold->fence(), before);  // the lock was re-acquired
    ASSERT_TRUE(hold->Release().Wait().ok());
  });
  for (int i = 0; i < 2; ++i) {
    // Notify only once the worker waits (it waits while jobs < 2).
    for (int k = 0; k < 1000 && (*cond_b.Read().Wait()).waiters == 0; ++k) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // polling, not timing
    }
    absl::StatusOr<Hold> hold = cond_b.Acquire().Wait();
    ASSERT_TRUE(hold.ok());
    ++jobs;
    absl::StatusOr<std::int64_t> woken = cond_b.Notify("job").Wait();
    ASSERT_TRUE(woken.ok()) << woken.status();
    ASSERT_TRUE(hold->Release().Wait().ok());
  }
  worker.join();
  EXPECT_FALSE(*cond_b.Locked().Wait());
}

TEST_F(ClientTest, AStopRequestCancelsAWait) {
  std::unique_ptr<Client> a = Connect("a");
  std::unique_ptr<Client> b = Connect("b");
  PriorityLock lock_a(a.get(), "c6/lock");
  PriorityLock lock_b(b.get(), "c6/lock");
  absl::StatusOr<Hold> held = lock_a.Acquire().Wait();
  ASSERT_TRUE(held.ok());
  std::stop_source stop;
  CallOptions options;
  options.stop = stop.get_token();
  absl::StatusOr<Hold> result;
  std::thread waiter([&] { result = lock_b.Acquire(0, options).Wait(); });
  for (int i = 0; i < 500 && (*lock_a.Read().Wait()).waiters == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // polling, not timing
  }
  stop.request_stop();
  waiter.join();
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ((*lock_a.Read().Wait()).waiters, 0);
}

TEST_F(ClientTest, TenThousandConcurrentAwaitsOnOneClient) {
  std::unique_ptr<Client> client = Connect();
  MultiCountDownLatch latch(client.get(), "c7/latch");
  ASSERT_TRUE(latch.Declare({{"go", 1}}).Wait().ok());
  constexpr int kAwaits = 10'000;
  std::atomic<int> done{0};
  std::atomic<int> failed{0};
  absl::Notification all_done;
  auto one = [&](MultiCountDownLatch handle) -> Detached {
    absl::StatusOr<Done> r = co_await handle.Wait("go");
    if (!r.ok()) ++failed;
    if (++done == kAwaits) all_done.Notify();
  };
  for (int i = 0; i < kAwaits; ++i) one(latch);
  for (int i = 0; i < 1000 && (*latch.Read().Wait()).waiters < kAwaits; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling, not timing
  }
  EXPECT_EQ((*latch.Read().Wait()).waiters, kAwaits);
  EXPECT_EQ(done.load(), 0);
  ASSERT_TRUE(latch.CountDown("go").Wait().ok());
  ASSERT_TRUE(all_done.WaitForNotificationWithTimeout(absl::Seconds(60)));
  EXPECT_EQ(failed.load(), 0);
}

TEST_F(ClientTest, BlockingCallsFromManyThreadsNeverOverlap) {
  std::unique_ptr<Client> client = Connect();
  RLock lock(client.get(), "c8/lock");
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      RLock mine = lock.WithOwner("thread-" + std::to_string(t));
      for (int i = 0; i < 50; ++i) {
        absl::StatusOr<Hold> hold = mine.Acquire().Wait();
        if (!hold.ok()) {
          ++errors;
          continue;
        }
        if (++inside != 1) ++overlaps;
        --inside;
        if (!hold->Release().Wait().ok()) ++errors;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(errors.load(), 0);
  EXPECT_FALSE(*lock.Locked().Wait());
}

TEST_F(ClientTest, AContinuationMayDestroyTheClient) {
  std::unique_ptr<Client> client = Connect();
  absl::Notification done;
  bool read_ok = false;
  auto run = [&]() -> Detached {
    PriorityLock lock(client.get(), "c11/lock");
    absl::StatusOr<bool> locked = co_await lock.Locked();
    read_ok = locked.ok();
    client.reset();  // on the client's own dispatcher thread
    done.Notify();
  };
  run();
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_TRUE(read_ok);
  EXPECT_EQ(client, nullptr);
}

TEST_F(ClientTest, EveryAwaiterOfLostIsResumed) {
  std::unique_ptr<Client> client = Connect();
  PrioritySemaphore sem(client.get(), "c12/sem");
  absl::StatusOr<Hold> permit = sem.Acquire().Wait();
  ASSERT_TRUE(permit.ok());
  std::atomic<int> resumed{0};
  absl::Notification both;
  auto watch = [&](Hold* hold) -> Detached {
    absl::Status reason = co_await hold->Lost();
    EXPECT_EQ(reason.code(), absl::StatusCode::kAborted);
    if (++resumed == 2) both.Notify();
  };
  watch(&*permit);
  watch(&*permit);
  ASSERT_TRUE(sem.Reset().Wait().ok());
  EXPECT_TRUE(both.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(resumed.load(), 2);
}

TEST_F(ClientTest, HeartbeatsKeepAnIdleSessionAliveBeyondItsLease) {
  ClientOptions options;
  options.address = batond_.address();
  options.lease = absl::Seconds(1);  // the server's minimum
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(std::move(options));
  ASSERT_TRUE(client.ok()) << client.status();
  PriorityLock lock(client->get(), "c10/lock");
  absl::StatusOr<Hold> hold = lock.Acquire().Wait();
  ASSERT_TRUE(hold.ok());
  absl::Notification lost;
  hold->OnLost([&](const absl::Status&) { lost.Notify(); });
  // Idle for 2.5 leases: without the client's heartbeats the server would
  // have ended the session (and the hold would be lost).
  EXPECT_FALSE(lost.WaitForNotificationWithTimeout(absl::Milliseconds(2500)));
  EXPECT_TRUE(hold->held());
  EXPECT_TRUE(*lock.IsOwner().Wait());
}

TEST_F(ClientTest, WhenTheServerDiesEveryHolderLearnsAtOnceAndNewCallsReconnect) {
  // Called once per session that ends: this one, and the one reopened
  // below when the test ends.
  absl::Notification lease_lost;
  std::atomic<int> sessions_lost{0};
  std::unique_ptr<Client> client = Connect("lost", [&](const absl::Status&) {
    if (sessions_lost.fetch_add(1) == 0) lease_lost.Notify();
  });
  PriorityLock lock(client.get(), "c9/lock");
  RLock other(client.get(), "c9/other");
  absl::StatusOr<Hold> hold = lock.Acquire().Wait();
  absl::StatusOr<Hold> hold2 = other.Acquire().Wait();
  ASSERT_TRUE(hold.ok() && hold2.ok());
  absl::Notification lost1, lost2;
  hold->OnLost([&](const absl::Status&) { lost1.Notify(); });
  hold2->OnLost([&](const absl::Status&) { lost2.Notify(); });

  const auto killed = std::chrono::steady_clock::now();
  batond_.Signal(SIGKILL);
  ASSERT_TRUE(lost1.WaitForNotificationWithTimeout(absl::Seconds(1)));
  ASSERT_TRUE(lost2.WaitForNotificationWithTimeout(absl::Seconds(1)));
  EXPECT_LT(std::chrono::steady_clock::now() - killed, std::chrono::seconds(1));
  EXPECT_TRUE(lease_lost.WaitForNotificationWithTimeout(absl::Seconds(1)));
  EXPECT_EQ(sessions_lost.load(), 1);
  EXPECT_TRUE(hold->lost());
  EXPECT_EQ(hold->lost_reason().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(client->connected());
  // While the server is down, a call fails UNAVAILABLE, promptly.
  batond_.WaitExit(std::chrono::milliseconds(5000));
  absl::StatusOr<Hold> down = lock.Acquire().Wait();
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable) << down.status();

  // The server comes back on the same address and data dir: the same client
  // opens a new session for new calls. The lock is not silently re-acquired:
  // the next acquire is a new grant, with a larger fence.
  BatondProcess back({"--listen=" + batond_.address(), "--data_dir=" + batond_.data_dir()});
  ASSERT_TRUE(back.started()) << back.log();
  absl::StatusOr<Hold> regained;
  for (int i = 0; i < 100; ++i) {
    regained = lock.Acquire().Wait();
    if (regained.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the channel reconnects
  }
  ASSERT_TRUE(regained.ok()) << regained.status();
  EXPECT_GT(regained->fence(), hold->fence());
  EXPECT_TRUE(client->connected());
  EXPECT_EQ(sessions_lost.load(), 1);  // failed attempts were never sessions
  client.reset();  // before `back` goes: its end is then no lease lost
}

}  // namespace
}  // namespace baton

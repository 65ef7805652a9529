// Copyright 2026 The Baton Authors.

#include "server/core/waiter.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/multi_count_down_latch.h"
#include "server/core/priority_mutex.h"
#include "tests/testing/loop_test.h"

namespace baton::core {
namespace {

using ::baton::testing::LoopTest;

class WaiterTest : public LoopTest {};

// A queued waiter is what a million waits cost (issue 6): keep it from
// growing back unnoticed. The figure is for 64-bit libstdc++. (A wait with
// a timeout adds its out-of-line timer.)
TEST_F(WaiterTest, StaysSmall) {
  if (sizeof(void*) != 8 || sizeof(std::string) != 32) GTEST_SKIP();
  EXPECT_LE(sizeof(Waiter), 160u);
}

TEST_F(WaiterTest, KeepsTheOwnerKeyAndTheRequestKeyApart) {
  Session s(1);
  MultiCountDownLatch latch(&loop_, 0, {{"job", 1}});
  Waiter waiter = latch.Wait(Opts(s, "owner"), "job");
  EXPECT_EQ(waiter.owner_key(), "owner");
  EXPECT_EQ(waiter.request().key, "job");
  EXPECT_EQ(waiter.request().priority, 0);
  EXPECT_EQ(waiter.request().amount, 0);
}

TEST_F(WaiterTest, KeepsKeysOfAnyLength) {
  Session s(1);
  MultiCountDownLatch latch(&loop_, 0, {});
  // In all: empty, 15 bytes (inline), 16 bytes and more (on the heap).
  for (const auto& [owner, key] : std::vector<std::pair<std::string, std::string>>{
           {"", ""},
           {"owner", ""},
           {"", "key"},
           {"0123456", "89abcdef"},
           {"0123456", "89abcdefg"},
           {std::string(300, 'o'), ""},
           {"", std::string(300, 'k')},
           {std::string(100, 'o'), std::string(200, 'k')}}) {
    Waiter waiter = latch.Wait(Opts(s, owner), key);
    EXPECT_EQ(waiter.owner_key(), owner);
    EXPECT_EQ(waiter.request().key, key);
  }
}

TEST_F(WaiterTest, KeepsAPriorityOrAnAmount) {
  Session s(1);
  PriorityLock lock(&loop_, 0);
  Waiter by_priority(&lock, Opts(s), {.priority = -7});
  EXPECT_EQ(by_priority.request().priority, -7);
  EXPECT_EQ(by_priority.request().amount, 0);
  Waiter by_amount(&lock, Opts(s), {.amount = 2.5});
  EXPECT_EQ(by_amount.request().priority, 0);
  EXPECT_EQ(by_amount.request().amount, 2.5);
}

TEST_F(WaiterTest, HasNoDeadlineUntilItQueues) {
  Session s(1), t(2);
  PriorityLock lock(&loop_, 0);
  auto held = Launch([&] { return lock.Acquire(Opts(s, "a")); });
  {
    WaitOptions options = Opts(t, "b", absl::Seconds(3));
    Waiter waiter = lock.Acquire(std::move(options));
    EXPECT_EQ(waiter.deadline(), absl::InfiniteFuture());
    EXPECT_FALSE(waiter.await_ready());
    EXPECT_EQ(waiter.deadline(), loop_.Now() + absl::Seconds(3));
    EXPECT_EQ(lock.waiter_count(), 1u);
  }  // destroyed while queued: it leaves the queue and the timer heap
  EXPECT_EQ(lock.waiter_count(), 0u);
  s.End();
  Settle();
}

// A callback that records the answers it is told of.
struct Recorder final : WaitCallback {
  void OnWaitDone(Waiter& waiter) override { results.push_back(waiter.await_resume()); }
  std::vector<WaitResult> results;
};

TEST_F(WaiterTest, BeginAnswersAtOnceWhenItCan) {
  Session s(1);
  PriorityLock lock(&loop_, 0);
  Recorder recorder;
  Waiter waiter = lock.Acquire(Opts(s, "a"));
  ASSERT_TRUE(waiter.Begin(&recorder));
  const WaitResult result = waiter.await_resume();
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(result.grant.fence, 1u);
  Settle();
  EXPECT_TRUE(recorder.results.empty());
  ASSERT_TRUE(lock.Release(&s, "a").ok());
}

TEST_F(WaiterTest, BeginTellsTheCallbackFromTheLoop) {
  Session s(1), t(2);
  PriorityLock lock(&loop_, 0);
  ASSERT_TRUE(lock.Acquire(Opts(s, "a")).await_ready());
  Recorder recorder;
  Waiter waiter = lock.Acquire(Opts(t, "b"));
  ASSERT_FALSE(waiter.Begin(&recorder));
  EXPECT_EQ(lock.waiter_count(), 1u);
  ASSERT_TRUE(lock.Release(&s, "a").ok());
  EXPECT_TRUE(recorder.results.empty());  // told from the run queue, not here
  Settle();
  ASSERT_EQ(recorder.results.size(), 1u);
  EXPECT_TRUE(recorder.results[0].ok());
  EXPECT_EQ(recorder.results[0].grant.fence, 2u);
  EXPECT_TRUE(lock.IsOwner(&t, "b"));
  ASSERT_TRUE(lock.Release(&t, "b").ok());
}

TEST_F(WaiterTest, BeginGivesBackAGrantCancelledBeforeTheCallback) {
  Session s(1), t(2), u(3);
  PriorityLock lock(&loop_, 0);
  ASSERT_TRUE(lock.Acquire(Opts(s, "a")).await_ready());
  runtime::CancellationSignal cancel;
  Recorder first, second;
  WaitOptions options = Opts(t, "b");
  options.cancel = &cancel;
  Waiter cancelled = lock.Acquire(std::move(options));
  ASSERT_FALSE(cancelled.Begin(&first));
  Waiter next = lock.Acquire(Opts(u, "c"));
  ASSERT_FALSE(next.Begin(&second));
  ASSERT_TRUE(lock.Release(&s, "a").ok());  // granted to t, not yet told
  cancel.Cancel();                          // so it passes on to u
  Settle();
  ASSERT_EQ(first.results.size(), 1u);
  EXPECT_EQ(first.results[0].status.code(), absl::StatusCode::kCancelled);
  ASSERT_EQ(second.results.size(), 1u);
  EXPECT_TRUE(second.results[0].ok());
  EXPECT_TRUE(lock.IsOwner(&u, "c"));
  ASSERT_TRUE(lock.Release(&u, "c").ok());
}

}  // namespace
}  // namespace baton::core

// Copyright 2026 The Baton Authors.

#include "server/core/waiter.h"

#include <string>

#include "gtest/gtest.h"
#include "server/core/multi_count_down_latch.h"
#include "server/core/priority_mutex.h"
#include "tests/testing/loop_test.h"

namespace baton::core {
namespace {

using ::baton::testing::LoopTest;

class WaiterTest : public LoopTest {};

// A queued waiter is what a million waits cost (issue 6): keep it from
// growing back unnoticed. The figure is for 64-bit libstdc++.
TEST_F(WaiterTest, StaysSmall) {
  if (sizeof(void*) != 8 || sizeof(std::string) != 32) GTEST_SKIP();
  EXPECT_LE(sizeof(Waiter), 208u);
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

}  // namespace
}  // namespace baton::core

// Copyright 2026 The Baton Authors.

#include "server/core/session.h"

#include "gtest/gtest.h"
#include "server/core/priority_mutex.h"
#include "tests/testing/loop_test.h"

namespace baton::core {
namespace {

using ::baton::testing::CodeOf;
using ::baton::testing::LoopTest;
using ::baton::testing::OkNow;

class SessionTest : public LoopTest {};

TEST_F(SessionTest, EndIsIdempotentAndLeavesNothingBehind) {
  Session s(7);
  PriorityLock a(&loop_, 0), b(&loop_, 0);
  auto ha = Launch([&] { return a.Acquire(Opts(s, "x")); });
  auto hb = Launch([&] { return b.Acquire(Opts(s, "y")); });
  ASSERT_TRUE(OkNow(ha));
  ASSERT_TRUE(OkNow(hb));
  EXPECT_TRUE(s.has_holds());
  s.End();
  s.End();
  EXPECT_FALSE(s.has_holds());
  EXPECT_FALSE(s.has_waiters());
  EXPECT_FALSE(a.locked());
  EXPECT_FALSE(b.locked());
  EXPECT_TRUE(s.ended());
}

TEST_F(SessionTest, EndingGivesHeldLocksToOtherSessionsNotToItsOwnWaiters) {
  Session s(1), t(2);
  PriorityLock lock(&loop_, 0);
  auto own = Launch([&] { return lock.Acquire(Opts(s, "a")); });
  auto own_waiter = Launch([&] { return lock.Acquire(Opts(s, "b"), -5); });
  auto other = Launch([&] { return lock.Acquire(Opts(t, "c"), 5); });
  ASSERT_TRUE(OkNow(own));
  s.End();
  Settle();
  EXPECT_EQ(CodeOf(own_waiter), absl::StatusCode::kAborted);
  EXPECT_TRUE(OkNow(other));
}

}  // namespace
}  // namespace baton::core

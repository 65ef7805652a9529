// Copyright 2026 The Baton Authors.

#include "server/core/priority_mutex.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

#include "gtest/gtest.h"
#include "tests/testing/loop_test.h"

namespace baton::core {
namespace {

using ::baton::testing::CodeOf;
using ::baton::testing::LoopTest;
using ::baton::testing::OkNow;
using ::baton::testing::Ready;

class PriorityMutexTest : public LoopTest {
 protected:
  Session s1_{1}, s2_{2}, s3_{3};
  PriorityLock lock_{&loop_, /*fence_base=*/1000};
};

TEST_F(PriorityMutexTest, FreeLockIsGrantedAtOnceWithAFence) {
  auto a = Launch([&] { return lock_.Acquire(Opts(s1_)); });
  ASSERT_TRUE(OkNow(a));
  EXPECT_EQ((*a)->grant.fence, 1001u);
  EXPECT_TRUE(lock_.locked());
  EXPECT_TRUE(lock_.IsOwner(&s1_, "o"));
  EXPECT_FALSE(lock_.IsOwner(&s1_, "other"));
  EXPECT_FALSE(lock_.IsOwner(&s2_, "o"));
  EXPECT_TRUE(lock_.Release(&s1_, "o").ok());
  EXPECT_FALSE(lock_.locked());
}

TEST_F(PriorityMutexTest, PriorityOrderWithFifoTies) {
  auto holder = Launch([&] { return lock_.Acquire(Opts(s1_)); });
  ASSERT_TRUE(OkNow(holder));
  struct Entry {
    int id;
    int priority;
  };
  const Entry entries[] = {{1, 5}, {2, 1}, {3, 5}, {4, 1}, {5, -3}, {6, 0}};
  std::vector<testing::Pending<WaitResult>> waits;
  for (const Entry& e : entries) {
    waits.push_back(Launch([&, e] {
      return lock_.Acquire(Opts(s2_, absl::StrCat("w", e.id)), e.priority);
    }));
  }
  Settle();
  for (auto& w : waits) EXPECT_FALSE(Ready(w));
  std::string owner = "o";
  Session* owner_session = &s1_;
  const int expected[] = {5, 6, 2, 4, 1, 3};
  int admitted = 0;
  for (int id : expected) {
    ASSERT_TRUE(lock_.Release(owner_session, owner).ok());
    Settle();
    ++admitted;
    int ready = 0;
    for (auto& w : waits) ready += Ready(w) ? 1 : 0;
    EXPECT_EQ(ready, admitted);  // one release admits exactly one waiter
    const auto& w = waits[id - 1];
    ASSERT_TRUE(OkNow(w)) << "expected waiter " << id;
    owner = absl::StrCat("w", id);
    owner_session = &s2_;
    EXPECT_TRUE(lock_.IsOwner(&s2_, owner));
    EXPECT_TRUE(lock_.CheckInvariants().ok());
  }
}

TEST_F(PriorityMutexTest, FencesStrictlyIncrease) {
  std::uint64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    Session& s = (i % 2 == 0) ? s1_ : s2_;
    auto a = Launch([&] { return lock_.Acquire(Opts(s)); });
    ASSERT_TRUE(OkNow(a));
    EXPECT_GT((*a)->grant.fence, last);
    last = (*a)->grant.fence;
    ASSERT_TRUE(lock_.Release(&s, "o").ok());
  }
}

TEST_F(PriorityMutexTest, HandOffIsDirectSoNewcomersCannotSlipIn) {
  auto a = Launch([&] { return lock_.Acquire(Opts(s1_)); });
  auto b = Launch([&] { return lock_.Acquire(Opts(s2_)); });
  ASSERT_TRUE(OkNow(a));
  ASSERT_TRUE(lock_.Release(&s1_, "o").ok());
  // b owns it now, before its coroutine even resumed.
  EXPECT_TRUE(lock_.IsOwner(&s2_, "o"));
  auto c = Launch([&] { return lock_.Acquire(Opts(s3_), /*priority=*/-100); });
  EXPECT_FALSE(Ready(c));
  Settle();
  EXPECT_TRUE(OkNow(b));
  EXPECT_FALSE(Ready(c));
}

TEST_F(PriorityMutexTest, ReleaseByNonOwnerIsAnErrorAndChangesNothing) {
  auto a = Launch([&] { return lock_.Acquire(Opts(s1_)); });
  ASSERT_TRUE(OkNow(a));
  EXPECT_EQ(lock_.Release(&s2_, "o").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(lock_.Release(&s1_, "x").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(lock_.IsOwner(&s1_, "o"));
  ASSERT_TRUE(lock_.Release(&s1_, "o").ok());
  EXPECT_EQ(lock_.Release(&s1_, "o").code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(PriorityMutexTest, NonReentrantReacquireIsAnErrorNotAHang) {
  auto a = Launch([&] { return lock_.Acquire(Opts(s1_)); });
  ASSERT_TRUE(OkNow(a));
  auto again = Launch([&] { return lock_.Acquire(Opts(s1_)); });
  ASSERT_TRUE(Ready(again));
  EXPECT_EQ(CodeOf(again), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(lock_.waiter_count(), 0u);
  // Another owner key of the same session is another owner: it queues.
  auto other = Launch([&] { return lock_.Acquire(Opts(s1_, "other")); });
  EXPECT_FALSE(Ready(other));
}

TEST_F(PriorityMutexTest, ReentrantLockCountsAndNeverQueuesReentry) {
  PriorityRLock rlock(&loop_, 0);
  auto a = Launch([&] { return rlock.Acquire(Opts(s1_), 10); });
  ASSERT_TRUE(OkNow(a));
  auto waiting = Launch([&] { return rlock.Acquire(Opts(s2_), -10); });
  EXPECT_FALSE(Ready(waiting));
  auto again = Launch([&] { return rlock.Acquire(Opts(s1_), 99); });
  ASSERT_TRUE(OkNow(again));
  EXPECT_EQ((*again)->grant.fence, (*a)->grant.fence);
  EXPECT_EQ(rlock.holder()->depth, 2);
  ASSERT_TRUE(rlock.Release(&s1_, "o").ok());
  Settle();
  EXPECT_FALSE(Ready(waiting));
  ASSERT_TRUE(rlock.Release(&s1_, "o").ok());
  Settle();
  EXPECT_TRUE(OkNow(waiting));
}

TEST_F(PriorityMutexTest, RLockIsFifo) {
  RLock rlock(&loop_, 0);
  auto a = Launch([&] { return rlock.Acquire(Opts(s1_)); });
  auto b = Launch([&] { return rlock.Acquire(Opts(s2_)); });
  auto c = Launch([&] { return rlock.Acquire(Opts(s3_)); });
  ASSERT_TRUE(OkNow(a));
  ASSERT_TRUE(rlock.Release(&s1_, "o").ok());
  Settle();
  EXPECT_TRUE(OkNow(b));
  EXPECT_FALSE(Ready(c));
  EXPECT_EQ(rlock.holder()->session_id, 2u);
}

TEST_F(PriorityMutexTest, TimeoutZeroTriesOnceAndNeverQueues) {
  auto a = Launch([&] { return lock_.Acquire(Opts(s1_)); });
  auto t = Launch([&] { return lock_.Acquire(Opts(s2_, "o", absl::ZeroDuration())); });
  ASSERT_TRUE(Ready(t));
  EXPECT_EQ(CodeOf(t), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(lock_.waiter_count(), 0u);
  ASSERT_TRUE(lock_.Release(&s1_, "o").ok());
  auto free_try = Launch([&] { return lock_.Acquire(Opts(s2_, "o", absl::ZeroDuration())); });
  EXPECT_TRUE(OkNow(free_try));
}

TEST_F(PriorityMutexTest, TimeoutRemovesTheWaiterCompletely) {
  auto a = Launch([&] { return lock_.Acquire(Opts(s1_)); });
  auto t = Launch([&] { return lock_.Acquire(Opts(s2_, "o", absl::Seconds(5))); });
  auto later = Launch([&] { return lock_.Acquire(Opts(s3_)); });
  Advance(absl::Milliseconds(4999));
  EXPECT_FALSE(Ready(t));
  Advance(absl::Milliseconds(1));
  EXPECT_EQ(CodeOf(t), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(lock_.waiter_count(), 1u);
  ASSERT_TRUE(lock_.Release(&s1_, "o").ok());
  Settle();
  EXPECT_TRUE(OkNow(later));  // the timed-out waiter took nothing
}

TEST_F(PriorityMutexTest, CancelRemovesTheWaiter) {
  runtime::CancellationSignal cancel;
  auto a = Launch([&] { return lock_.Acquire(Opts(s1_)); });
  auto c = Launch([&] { return lock_.Acquire(Opts(s2_, "o", {}, &cancel)); });
  cancel.Cancel();
  Settle();
  EXPECT_EQ(CodeOf(c), absl::StatusCode::kCancelled);
  EXPECT_EQ(lock_.waiter_count(), 0u);
}

TEST_F(PriorityMutexTest, AlreadyCancelledSignalFailsWithoutQueueing) {
  runtime::CancellationSignal cancel;
  cancel.Cancel();
  auto a = Launch([&] { return lock_.Acquire(Opts(s1_, "o", {}, &cancel)); });
  EXPECT_EQ(CodeOf(a), absl::StatusCode::kCancelled);
  EXPECT_FALSE(lock_.locked());
}

TEST_F(PriorityMutexTest, GrantedAndCancelledInTheSameInstantPassesTheLockOn) {
  runtime::CancellationSignal cancel;
  auto a = Launch([&] { return lock_.Acquire(Opts(s1_)); });
  auto b = Launch([&] { return lock_.Acquire(Opts(s2_, "o", {}, &cancel)); });
  auto c = Launch([&] { return lock_.Acquire(Opts(s3_)); });
  ASSERT_TRUE(lock_.Release(&s1_, "o").ok());  // b is granted...
  EXPECT_TRUE(lock_.IsOwner(&s2_, "o"));
  cancel.Cancel();  // ...and cancelled before it resumed
  EXPECT_TRUE(lock_.IsOwner(&s3_, "o"));
  Settle();
  EXPECT_EQ(CodeOf(b), absl::StatusCode::kCancelled);
  EXPECT_TRUE(OkNow(c));
  EXPECT_GT((*c)->grant.fence, (*a)->grant.fence + 1);  // b's fence is spent
}

TEST_F(PriorityMutexTest, SessionEndReleasesTheHoldAndCancelsWaits) {
  auto a = Launch([&] { return lock_.Acquire(Opts(s1_)); });
  auto b = Launch([&] { return lock_.Acquire(Opts(s2_)); });
  auto c = Launch([&] { return lock_.Acquire(Opts(s3_)); });
  PriorityLock other(&loop_, 0);
  auto d = Launch([&] { return other.Acquire(Opts(s2_)); });
  ASSERT_TRUE(OkNow(d));
  s2_.End();  // waits on lock_, holds `other`
  EXPECT_FALSE(other.locked());
  Settle();
  EXPECT_EQ(CodeOf(b), absl::StatusCode::kAborted);
  s1_.End();  // holder: passes to s3
  Settle();
  EXPECT_TRUE(OkNow(c));
  EXPECT_TRUE(lock_.IsOwner(&s3_, "o"));
  auto late = Launch([&] { return other.Acquire(Opts(s2_)); });
  EXPECT_EQ(CodeOf(late), absl::StatusCode::kAborted);
}

TEST_F(PriorityMutexTest, CloseRevokesHolderAndFailsWaiters) {
  std::vector<Revocation> revoked;
  lock_.set_revocation_callback([&](const Revocation& r) { revoked.push_back(r); });
  auto a = Launch([&] { return lock_.Acquire(Opts(s1_, "k")); });
  auto b = Launch([&] { return lock_.Acquire(Opts(s2_)); });
  lock_.Close(absl::NotFoundError("deleted"));
  Settle();
  EXPECT_EQ(CodeOf(b), absl::StatusCode::kNotFound);
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_EQ(revoked[0].session_id, 1u);
  EXPECT_EQ(revoked[0].owner_key, "k");
  EXPECT_EQ(revoked[0].fence, (*a)->grant.fence);
  EXPECT_FALSE(lock_.locked());
  EXPECT_FALSE(s1_.has_holds());
  auto c = Launch([&] { return lock_.Acquire(Opts(s3_)); });
  EXPECT_EQ(CodeOf(c), absl::StatusCode::kNotFound);
}

TEST_F(PriorityMutexTest, ReentrantOwnersQueuedWaitsEnterWithIt) {
  // Re-entry never queues: when the lock passes to an owner, that owner's
  // other queued acquires enter with it, ahead of better waiters.
  PriorityRLock rlock(&loop_, 0);
  auto held = Launch([&] { return rlock.Acquire(Opts(s2_)); });
  auto first = Launch([&] { return rlock.Acquire(Opts(s1_, "k"), 5); });
  auto better = Launch([&] { return rlock.Acquire(Opts(s3_), 0); });
  auto second = Launch([&] { return rlock.Acquire(Opts(s1_, "k"), 9); });
  ASSERT_TRUE(OkNow(held));
  ASSERT_TRUE(rlock.Release(&s2_, "o").ok());  // to `better`
  Settle();
  EXPECT_TRUE(OkNow(better));
  EXPECT_FALSE(Ready(first));
  ASSERT_TRUE(rlock.Release(&s3_, "o").ok());  // to (s1, k): both its waits
  Settle();
  ASSERT_TRUE(OkNow(first));
  ASSERT_TRUE(OkNow(second));
  EXPECT_EQ((*first)->grant.fence, (*second)->grant.fence);
  EXPECT_EQ(rlock.holder()->depth, 2);
  EXPECT_EQ(rlock.waiter_count(), 0u);
  EXPECT_TRUE(rlock.CheckInvariants().ok());
  ASSERT_TRUE(rlock.Release(&s1_, "k").ok());
  ASSERT_TRUE(rlock.Release(&s1_, "k").ok());
  EXPECT_FALSE(rlock.locked());
}

TEST_F(PriorityMutexTest, CloseWithdrawsAnUndeliveredGrantWithoutReportingIt) {
  std::vector<Revocation> revoked;
  lock_.set_revocation_callback([&](const Revocation& r) { revoked.push_back(r); });
  auto a = Launch([&] { return lock_.Acquire(Opts(s1_)); });
  auto b = Launch([&] { return lock_.Acquire(Opts(s2_)); });
  ASSERT_TRUE(lock_.Release(&s1_, "o").ok());  // b granted, not resumed
  lock_.Close(absl::NotFoundError("deleted"));
  Settle();
  EXPECT_EQ(CodeOf(b), absl::StatusCode::kNotFound);
  EXPECT_TRUE(revoked.empty());  // s2 never knew it held the lock
  EXPECT_FALSE(s2_.has_holds());
}

}  // namespace
}  // namespace baton::core

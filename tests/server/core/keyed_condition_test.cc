// Copyright 2026 The Baton Authors.

#include "server/core/keyed_condition.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/loop_test.h"

namespace baton::core {
namespace {

using ::baton::testing::CodeOf;
using ::baton::testing::LoopTest;
using ::baton::testing::OkNow;
using ::baton::testing::Pending;
using ::baton::testing::Ready;

class KeyedConditionTest : public LoopTest {
 protected:
  KeyedConditionTest() {
    cond_.set_revocation_callback(
        [this](const Revocation& r) { revoked_.push_back(r); });
  }
  // Answer every pending wait before the fixture's members go away.
  ~KeyedConditionTest() override {
    cond_.Close(absl::AbortedError("test over"));
    Settle();
  }

  Pending<WaitResult> Lock(Session& s, const std::string& owner = "o") {
    return Launch([&] { return cond_.Acquire(Opts(s, owner)); });
  }

  Pending<WaitResult> WaitOn(Session& s, const std::string& key,
                             const std::string& owner = "o",
                             std::optional<absl::Duration> timeout = {},
                             runtime::CancellationSignal* cancel = nullptr) {
    return LaunchTask(
        [&] { return cond_.Wait(Opts(s, owner, timeout, cancel), key); });
  }

  // Park() takes the (free) lock for (s, owner) and waits on `key`, which
  // releases it again.
  Pending<WaitResult> Park(Session& s, const std::string& key,
                           const std::string& owner = "o",
                           std::optional<absl::Duration> timeout = {},
                           runtime::CancellationSignal* cancel = nullptr) {
    auto lock = Lock(s, owner);
    EXPECT_TRUE(OkNow(lock)) << "the lock should be free";
    auto wait = WaitOn(s, key, owner, timeout, cancel);
    EXPECT_FALSE(Ready(wait));
    EXPECT_FALSE(cond_.IsOwner(&s, owner));
    return wait;
  }

  void ExpectInvariants() {
    absl::Status s = cond_.CheckInvariants();
    EXPECT_TRUE(s.ok()) << s;
  }

  Session s1_{1}, s2_{2}, s3_{3}, s4_{4};
  std::vector<Revocation> revoked_;
  KeyedCondition cond_{&loop_, /*fence_base=*/1000};
};

TEST_F(KeyedConditionTest, LockActsLikeAFifoNonReentrantLockWithFences) {
  auto a = Lock(s1_);
  ASSERT_TRUE(OkNow(a));
  EXPECT_EQ((*a)->grant.fence, 1001u);
  EXPECT_TRUE(cond_.locked());
  EXPECT_TRUE(cond_.IsOwner(&s1_, "o"));
  EXPECT_TRUE(cond_.AssertLocked(&s1_, "o").ok());
  auto again = Lock(s1_);
  EXPECT_EQ(CodeOf(again), absl::StatusCode::kFailedPrecondition);
  auto b = Lock(s2_);
  auto c = Lock(s3_);
  EXPECT_FALSE(Ready(b));
  EXPECT_EQ(cond_.Release(&s2_, "o").code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(cond_.Release(&s1_, "o").ok());
  Settle();
  ASSERT_TRUE(OkNow(b));
  EXPECT_FALSE(Ready(c));
  EXPECT_GT((*b)->grant.fence, (*a)->grant.fence);
  ASSERT_TRUE(cond_.Release(&s2_, "o").ok());
  Settle();
  ASSERT_TRUE(OkNow(c));
  EXPECT_GT((*c)->grant.fence, (*b)->grant.fence);
}

TEST_F(KeyedConditionTest, WaitReleasesTheLockAndReacquiresItBeforeReturning) {
  auto w = Park(s1_, "k");
  EXPECT_FALSE(cond_.locked());
  EXPECT_EQ(cond_.waiter_count("k"), 1u);
  // Another session can take the lock while the first waits, and notify.
  auto b = Lock(s2_);
  ASSERT_TRUE(OkNow(b));
  ASSERT_EQ(cond_.Notify(&s2_, "o", "k").value(), 1);
  EXPECT_EQ(cond_.waiter_count("k"), 0u);
  Settle();
  EXPECT_FALSE(Ready(w));  // notified, but the lock is still s2's
  ASSERT_TRUE(cond_.Release(&s2_, "o").ok());
  Settle();
  ASSERT_TRUE(OkNow(w));
  EXPECT_TRUE(cond_.IsOwner(&s1_, "o"));
  EXPECT_EQ((*w)->grant.fence, cond_.holder()->fence);
  EXPECT_GT((*w)->grant.fence, (*b)->grant.fence);
  ExpectInvariants();
}

TEST_F(KeyedConditionTest, WaitHandsTheLockToItsNextWaiterAtOnce) {
  ASSERT_TRUE(OkNow(Lock(s1_)));
  auto b = Lock(s2_);
  auto w = WaitOn(s1_, "k");
  // Ownership passed inside the server: a newcomer cannot slip in.
  EXPECT_TRUE(cond_.IsOwner(&s2_, "o"));
  auto c = Lock(s3_);
  Settle();
  EXPECT_TRUE(OkNow(b));
  EXPECT_FALSE(Ready(c));
  EXPECT_FALSE(Ready(w));
}

TEST_F(KeyedConditionTest, NotifyIsFifoPerKeyAndWakesOnlyThatKey) {
  auto k1 = Park(s1_, "k", "first");
  auto j1 = Park(s2_, "j");
  auto k2 = Park(s1_, "k", "second");
  auto k3 = Park(s3_, "k");
  EXPECT_EQ(cond_.waiter_count("k"), 3u);
  EXPECT_EQ(cond_.waiter_count("j"), 1u);
  EXPECT_EQ(cond_.waiter_count(), 4u);
  const std::vector<Pending<WaitResult>*> order = {&k1, &k2, &k3};
  const std::vector<std::pair<Session*, std::string>> owners = {
      {&s1_, "first"}, {&s1_, "second"}, {&s3_, "o"}};
  for (std::size_t i = 0; i < order.size(); ++i) {
    ASSERT_TRUE(OkNow(Lock(s4_)));
    ASSERT_EQ(cond_.Notify(&s4_, "o", "k").value(), 1);
    ASSERT_TRUE(cond_.Release(&s4_, "o").ok());
    Settle();
    for (std::size_t j = 0; j < order.size(); ++j) {
      EXPECT_EQ(Ready(*order[j]), j <= i) << "after notify " << i;
    }
    EXPECT_FALSE(Ready(j1));
    ASSERT_TRUE(OkNow(*order[i]));
    ASSERT_TRUE(cond_.Release(owners[i].first, owners[i].second).ok());
  }
  EXPECT_EQ(cond_.waiter_count("j"), 1u);
  ExpectInvariants();
}

TEST_F(KeyedConditionTest, NotifyWakesUpToN) {
  auto a = Park(s1_, "k");
  auto b = Park(s2_, "k");
  auto c = Park(s3_, "k");
  ASSERT_TRUE(OkNow(Lock(s4_)));
  EXPECT_EQ(cond_.Notify(&s4_, "o", "k", 2).value(), 2);
  EXPECT_EQ(cond_.waiter_count("k"), 1u);
  EXPECT_EQ(cond_.Notify(&s4_, "o", "k", 5).value(), 1);
  EXPECT_EQ(cond_.waiter_count("k"), 0u);
  EXPECT_EQ(cond_.Notify(&s4_, "o", "k", 5).value(), 0);
  EXPECT_EQ(cond_.Notify(&s4_, "o", "nobody").value(), 0);
  ASSERT_TRUE(cond_.Release(&s4_, "o").ok());
  Settle();
  // The lock is re-acquired in the order of notification.
  ASSERT_TRUE(OkNow(a));
  EXPECT_FALSE(Ready(b));
  ASSERT_TRUE(cond_.Release(&s1_, "o").ok());
  Settle();
  ASSERT_TRUE(OkNow(b));
  ASSERT_TRUE(cond_.Release(&s2_, "o").ok());
  Settle();
  ASSERT_TRUE(OkNow(c));
}

TEST_F(KeyedConditionTest, StrictNotifyFailsWhenFewerThanNWokeButWakesThem) {
  ASSERT_TRUE(OkNow(Lock(s4_)));
  auto none = cond_.Notify(&s4_, "o", "k", 1, /*strict=*/true);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(none.status().message().find("woke 0 of n=1"), std::string::npos)
      << none.status();
  ASSERT_TRUE(cond_.Release(&s4_, "o").ok());

  auto a = Park(s1_, "k");
  auto b = Park(s2_, "k");
  ASSERT_TRUE(OkNow(Lock(s4_)));
  auto few = cond_.Notify(&s4_, "o", "k", 3, /*strict=*/true);
  EXPECT_EQ(few.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(few.status().message().find("woke 2 of n=3"), std::string::npos)
      << few.status();
  EXPECT_EQ(cond_.waiter_count("k"), 0u);  // both were woken all the same
  ASSERT_TRUE(cond_.Release(&s4_, "o").ok());
  Settle();
  ASSERT_TRUE(OkNow(a));
  ASSERT_TRUE(cond_.Release(&s1_, "o").ok());
  Settle();
  ASSERT_TRUE(OkNow(b));

  // Exactly n is fine when strict.
  ASSERT_TRUE(cond_.Release(&s2_, "o").ok());
  auto c = Park(s3_, "k");
  ASSERT_TRUE(OkNow(Lock(s4_)));
  EXPECT_EQ(cond_.Notify(&s4_, "o", "k", 1, /*strict=*/true).value(), 1);
}

TEST_F(KeyedConditionTest, NonPositiveNIsAnErrorAndWakesNoOne) {
  auto a = Park(s1_, "k");
  ASSERT_TRUE(OkNow(Lock(s4_)));
  for (std::int64_t n : {0, -1}) {
    auto r = cond_.Notify(&s4_, "o", "k", n);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("n must be >= 1"), std::string::npos)
        << r.status();
  }
  EXPECT_EQ(cond_.waiter_count("k"), 1u);
}

TEST_F(KeyedConditionTest, OperationsOfANonHolderFailAndChangeNothing) {
  auto a = Park(s1_, "k");
  // The lock is free: nobody holds it.
  EXPECT_EQ(cond_.Notify(&s2_, "o", "k").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(cond_.NotifyAll(&s2_, "o", std::nullopt).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(cond_.AssertLocked(&s2_, "o").code(),
            absl::StatusCode::kFailedPrecondition);
  auto free_wait = WaitOn(s2_, "k");
  ASSERT_TRUE(Ready(free_wait));
  EXPECT_EQ(CodeOf(free_wait), absl::StatusCode::kFailedPrecondition);
  // Another owner holds it.
  ASSERT_TRUE(OkNow(Lock(s3_)));
  EXPECT_EQ(cond_.Notify(&s2_, "o", "k").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(cond_.Notify(&s3_, "other", "k").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(cond_.NotifyAll(&s2_, "o", "k").status().code(),
            absl::StatusCode::kFailedPrecondition);
  absl::Status assert_status = cond_.AssertLocked(&s2_, "o");
  EXPECT_EQ(assert_status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(assert_status.message().find("another owner holds it"),
            std::string::npos);
  auto held_wait = WaitOn(s2_, "k");
  ASSERT_TRUE(Ready(held_wait));
  EXPECT_EQ(CodeOf(held_wait), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(cond_.Release(&s2_, "o").code(),
            absl::StatusCode::kFailedPrecondition);
  auto no_session = LaunchTask(
      [&] { return cond_.Wait({.session = nullptr, .owner_key = "o"}, "k"); });
  EXPECT_EQ(CodeOf(no_session), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(cond_.IsOwner(&s3_, "o"));
  EXPECT_EQ(cond_.waiter_count("k"), 1u);
  EXPECT_FALSE(Ready(a));
  ExpectInvariants();
}

TEST_F(KeyedConditionTest, NotifyAllReturnsHowManyForAKeyAndForEveryKey) {
  auto a1 = Park(s1_, "a");
  auto b1 = Park(s2_, "b");
  auto a2 = Park(s3_, "a");
  auto c1 = Park(s1_, "c", "x");
  ASSERT_TRUE(OkNow(Lock(s4_)));
  EXPECT_EQ(cond_.NotifyAll(&s4_, "o", "a").value(), 2);
  EXPECT_EQ(cond_.waiter_count("a"), 0u);
  EXPECT_EQ(cond_.waiter_count(), 2u);
  EXPECT_EQ(cond_.NotifyAll(&s4_, "o", "zzz").value(), 0);
  EXPECT_EQ(cond_.NotifyAll(&s4_, "o", std::nullopt).value(), 2);
  EXPECT_EQ(cond_.waiter_count(), 0u);
  EXPECT_EQ(cond_.NotifyAll(&s4_, "o", std::nullopt).value(), 0);
  ExpectInvariants();
  ASSERT_TRUE(cond_.Release(&s4_, "o").ok());
  Settle();
  // Everyone re-acquires in turn: a1, a2 (first notify_all), then b1, c1
  // (notify_all of every key wakes in arrival order).
  struct Turn {
    Pending<WaitResult>* wait;
    Session* session;
    std::string owner;
  };
  const std::vector<Turn> turns = {
      {&a1, &s1_, "o"}, {&a2, &s3_, "o"}, {&b1, &s2_, "o"}, {&c1, &s1_, "x"}};
  std::uint64_t last_fence = 0;
  for (const Turn& turn : turns) {
    const Pending<WaitResult>& wait = *turn.wait;
    ASSERT_TRUE(OkNow(wait));
    EXPECT_GT((*wait)->grant.fence, last_fence);
    last_fence = (*wait)->grant.fence;
    ASSERT_TRUE(cond_.Release(turn.session, turn.owner).ok());
    Settle();
  }
}

TEST_F(KeyedConditionTest, WaitAllWithNobodyWaitingIsGrantedAtOnce) {
  auto all = Launch([&] { return cond_.WaitAll(Opts(s1_)); });
  EXPECT_TRUE(OkNow(all));
  auto try_once = Launch(
      [&] { return cond_.WaitAll(Opts(s1_, "o", absl::ZeroDuration())); });
  EXPECT_TRUE(OkNow(try_once));
}

TEST_F(KeyedConditionTest, WaitAllCoversTheWaitersPresentAtTheCallOnly) {
  auto w1 = Park(s1_, "k");
  auto w2 = Park(s2_, "j", "o", absl::Seconds(5));
  auto all = Launch([&] { return cond_.WaitAll(Opts(s4_, "watcher")); });
  EXPECT_FALSE(Ready(all));
  EXPECT_EQ(cond_.wait_all_count(), 1u);
  auto w3 = Park(s3_, "k");                            // later: not included
  auto w4 = Park(s3_, "j", "late", absl::Seconds(1));  // later too
  ExpectInvariants();
  Advance(absl::Seconds(1));  // w4 leaves: it was not counted
  EXPECT_EQ(CodeOf(w4), absl::StatusCode::kDeadlineExceeded);
  EXPECT_FALSE(Ready(all));
  ASSERT_TRUE(cond_.Release(&s3_, "late").ok());
  ExpectInvariants();
  ASSERT_TRUE(OkNow(Lock(s4_)));
  ASSERT_EQ(cond_.Notify(&s4_, "o", "k").value(), 1);  // wakes w1, the oldest
  ASSERT_TRUE(cond_.Release(&s4_, "o").ok());
  Settle();
  EXPECT_FALSE(Ready(all));  // w2 still waits
  ExpectInvariants();
  Advance(absl::Seconds(4));  // w2 times out (5 s after it came): it left
  EXPECT_TRUE(OkNow(all));
  EXPECT_EQ(cond_.waiter_count("k"), 1u);  // w3 still waits
  EXPECT_FALSE(Ready(w3));
  EXPECT_TRUE(Ready(w1));
}

TEST_F(KeyedConditionTest, WaitAllTimeoutDisturbsNoOne) {
  auto w1 = Park(s1_, "k");
  auto all = Launch(
      [&] { return cond_.WaitAll(Opts(s4_, "watcher", absl::Seconds(2))); });
  auto zero = Launch(
      [&] { return cond_.WaitAll(Opts(s4_, "w0", absl::ZeroDuration())); });
  EXPECT_EQ(CodeOf(zero), absl::StatusCode::kDeadlineExceeded);
  Advance(absl::Seconds(2));
  EXPECT_EQ(CodeOf(all), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(cond_.wait_all_count(), 0u);
  EXPECT_EQ(cond_.waiter_count("k"), 1u);
  EXPECT_FALSE(Ready(w1));
  ASSERT_TRUE(OkNow(Lock(s2_)));
  EXPECT_EQ(cond_.Notify(&s2_, "o", "k").value(), 1);
  ASSERT_TRUE(cond_.Release(&s2_, "o").ok());
  Settle();
  EXPECT_TRUE(OkNow(w1));
}

TEST_F(KeyedConditionTest, WaitAllCountsCancelAndSessionEndAsLeaving) {
  runtime::CancellationSignal cancel;
  auto w1 = Park(s1_, "k", "o", {}, &cancel);
  auto w2 = Park(s2_, "k");
  runtime::CancellationSignal all_cancel;
  auto cancelled_all = Launch(
      [&] { return cond_.WaitAll(Opts(s4_, "c", std::nullopt, &all_cancel)); });
  auto all = Launch([&] { return cond_.WaitAll(Opts(s4_, "watcher")); });
  all_cancel.Cancel();
  Settle();
  EXPECT_EQ(CodeOf(cancelled_all), absl::StatusCode::kCancelled);
  cancel.Cancel();
  Settle();
  EXPECT_FALSE(Ready(all));
  ExpectInvariants();
  s2_.End();
  Settle();
  EXPECT_TRUE(OkNow(all));
  EXPECT_EQ(CodeOf(w1), absl::StatusCode::kCancelled);
  EXPECT_EQ(CodeOf(w2), absl::StatusCode::kAborted);
}

TEST_F(KeyedConditionTest, WaitTimeoutIsAnErrorAfterReacquiringTheLock) {
  auto w = Park(s1_, "k", "o", absl::Seconds(5));
  auto b = Lock(s2_);
  ASSERT_TRUE(OkNow(b));
  Advance(absl::Milliseconds(4999));
  EXPECT_EQ(cond_.waiter_count("k"), 1u);
  Advance(absl::Milliseconds(1));
  EXPECT_EQ(cond_.waiter_count("k"), 0u);  // left phase 1...
  EXPECT_FALSE(Ready(w));                  // ...but waits for the lock
  ASSERT_TRUE(cond_.Release(&s2_, "o").ok());
  Settle();
  ASSERT_TRUE(Ready(w));
  EXPECT_EQ(CodeOf(w), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(cond_.IsOwner(&s1_, "o"));
  EXPECT_EQ((*w)->grant.fence, cond_.holder()->fence);
  // It consumed nothing: a notify now finds no one.
  EXPECT_EQ(cond_.Notify(&s1_, "o", "k").value(), 0);
}

TEST_F(KeyedConditionTest, WaitTimeoutZeroReleasesAndReacquiresTheLock) {
  ASSERT_TRUE(OkNow(Lock(s1_)));
  auto alone = WaitOn(s1_, "k", "o", absl::ZeroDuration());
  ASSERT_TRUE(Ready(alone));  // nobody else wanted the lock
  EXPECT_EQ(CodeOf(alone), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(cond_.IsOwner(&s1_, "o"));
  EXPECT_EQ(cond_.waiter_count("k"), 0u);

  auto b = Lock(s2_);
  auto contended = WaitOn(s1_, "k", "o", absl::ZeroDuration());
  EXPECT_EQ(cond_.waiter_count("k"), 0u);
  EXPECT_TRUE(cond_.IsOwner(&s2_, "o"));  // the lock passed on meanwhile
  Settle();
  EXPECT_TRUE(OkNow(b));
  EXPECT_FALSE(Ready(contended));
  ASSERT_TRUE(cond_.Release(&s2_, "o").ok());
  Settle();
  EXPECT_EQ(CodeOf(contended), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(cond_.IsOwner(&s1_, "o"));
}

TEST_F(KeyedConditionTest, WaitWithoutTimeoutWaitsForever) {
  auto w = Park(s1_, "k");
  Advance(absl::Hours(24));
  EXPECT_FALSE(Ready(w));
  EXPECT_EQ(cond_.waiter_count("k"), 1u);
}

TEST_F(KeyedConditionTest, CancelIsAnErrorAfterReacquiringTheLock) {
  runtime::CancellationSignal cancel;
  auto w = Park(s1_, "k", "o", {}, &cancel);
  ASSERT_TRUE(OkNow(Lock(s2_)));
  cancel.Cancel();
  EXPECT_EQ(cond_.waiter_count("k"), 0u);
  Settle();
  EXPECT_FALSE(Ready(w));
  ASSERT_TRUE(cond_.Release(&s2_, "o").ok());
  Settle();
  EXPECT_EQ(CodeOf(w), absl::StatusCode::kCancelled);
  EXPECT_TRUE(cond_.IsOwner(&s1_, "o"));
}

TEST_F(KeyedConditionTest, AlreadyCancelledWaitKeepsTheLock) {
  runtime::CancellationSignal cancel;
  cancel.Cancel();
  ASSERT_TRUE(OkNow(Lock(s1_)));
  auto b = Lock(s2_);
  auto w = WaitOn(s1_, "k", "o", {}, &cancel);
  ASSERT_TRUE(Ready(w));
  EXPECT_EQ(CodeOf(w), absl::StatusCode::kCancelled);
  EXPECT_TRUE(cond_.IsOwner(&s1_, "o"));  // never released
  Settle();
  EXPECT_FALSE(Ready(b));
}

TEST_F(KeyedConditionTest, CancelDuringPhaseTwoDoesNotStopTheReacquire) {
  runtime::CancellationSignal cancel;
  auto w = Park(s1_, "k", "o", {}, &cancel);
  ASSERT_TRUE(OkNow(Lock(s2_)));
  ASSERT_EQ(cond_.Notify(&s2_, "o", "k").value(), 1);
  Settle();  // w resumed and queued for the lock
  cancel.Cancel();
  ASSERT_TRUE(cond_.Release(&s2_, "o").ok());
  Settle();
  EXPECT_TRUE(OkNow(w));
  EXPECT_TRUE(cond_.IsOwner(&s1_, "o"));
}

TEST_F(KeyedConditionTest, NotifiedAndCancelledInTheSameInstantPassesItOn) {
  runtime::CancellationSignal cancel;
  auto w1 = Park(s1_, "k", "o", {}, &cancel);
  auto w2 = Park(s2_, "k");
  auto w3 = Park(s3_, "k");
  auto other = Park(s1_, "j", "x");
  ASSERT_TRUE(OkNow(Lock(s4_)));
  ASSERT_EQ(cond_.Notify(&s4_, "o", "k").value(), 1);  // w1 woken...
  EXPECT_EQ(cond_.waiter_count("k"), 2u);
  cancel.Cancel();                         // ...and cancelled before it resumed
  EXPECT_EQ(cond_.waiter_count("k"), 1u);  // w2 got the wake-up
  EXPECT_EQ(cond_.waiter_count("j"), 1u);  // no other key's
  ExpectInvariants();
  ASSERT_TRUE(cond_.Release(&s4_, "o").ok());
  Settle();
  EXPECT_EQ(CodeOf(w1), absl::StatusCode::kCancelled);  // holds the lock
  EXPECT_TRUE(cond_.IsOwner(&s1_, "o"));
  ASSERT_TRUE(cond_.Release(&s1_, "o").ok());
  Settle();
  EXPECT_TRUE(OkNow(w2));
  EXPECT_FALSE(Ready(w3));
}

TEST_F(KeyedConditionTest, NotifiedAndSessionEndedInTheSameInstantPassesItOn) {
  auto w1 = Park(s1_, "k");
  auto w2 = Park(s2_, "k");
  ASSERT_TRUE(OkNow(Lock(s4_)));
  ASSERT_EQ(cond_.Notify(&s4_, "o", "k").value(), 1);
  s1_.End();
  EXPECT_EQ(cond_.waiter_count("k"), 0u);  // w2 got the wake-up
  ASSERT_TRUE(cond_.Release(&s4_, "o").ok());
  Settle();
  EXPECT_EQ(CodeOf(w1), absl::StatusCode::kAborted);
  EXPECT_TRUE(OkNow(w2));
  EXPECT_TRUE(cond_.IsOwner(&s2_, "o"));
}

TEST_F(KeyedConditionTest, SessionEndDuringPhaseOneLeavesNoLockBehind) {
  auto w1 = Park(s1_, "k");
  auto all = Launch([&] { return cond_.WaitAll(Opts(s4_, "watcher")); });
  ASSERT_TRUE(OkNow(Lock(s2_)));
  auto next = Lock(s3_);
  s1_.End();
  EXPECT_EQ(cond_.waiter_count("k"), 0u);
  Settle();
  EXPECT_EQ(CodeOf(w1), absl::StatusCode::kAborted);
  EXPECT_TRUE(OkNow(all));
  EXPECT_FALSE(cond_.IsOwner(&s1_, "o"));
  ASSERT_TRUE(cond_.Release(&s2_, "o").ok());
  Settle();
  EXPECT_TRUE(OkNow(next));  // the lock passes on as usual
  EXPECT_FALSE(s1_.has_holds());
  EXPECT_FALSE(s1_.has_waiters());
  ExpectInvariants();
}

TEST_F(KeyedConditionTest, SessionEndDuringPhaseTwoLeavesNoLockBehind) {
  auto w1 = Park(s1_, "k");
  ASSERT_TRUE(OkNow(Lock(s2_)));
  ASSERT_EQ(cond_.Notify(&s2_, "o", "k").value(), 1);
  Settle();  // w1 resumed and queued for the lock
  auto next = Lock(s3_);
  EXPECT_FALSE(Ready(w1));
  s1_.End();
  Settle();
  EXPECT_EQ(CodeOf(w1), absl::StatusCode::kAborted);
  ASSERT_TRUE(cond_.Release(&s2_, "o").ok());
  Settle();
  EXPECT_TRUE(OkNow(next));  // not s1, which is gone
  EXPECT_FALSE(s1_.has_holds());
  ExpectInvariants();
}

TEST_F(KeyedConditionTest, SessionEndWhileReacquireIsGrantedPassesTheLockOn) {
  auto w1 = Park(s1_, "k");
  ASSERT_TRUE(OkNow(Lock(s2_)));
  ASSERT_EQ(cond_.Notify(&s2_, "o", "k").value(), 1);
  Settle();
  auto next = Lock(s3_);
  ASSERT_TRUE(cond_.Release(&s2_, "o").ok());
  EXPECT_TRUE(cond_.IsOwner(&s1_, "o"));  // granted, not yet resumed
  s1_.End();
  EXPECT_TRUE(cond_.IsOwner(&s3_, "o"));
  Settle();
  EXPECT_EQ(CodeOf(w1), absl::StatusCode::kAborted);
  EXPECT_TRUE(OkNow(next));
}

TEST_F(KeyedConditionTest, SessionEndOfTheHolderPassesTheLockOn) {
  ASSERT_TRUE(OkNow(Lock(s1_)));
  auto next = Lock(s2_);
  s1_.End();
  Settle();
  EXPECT_TRUE(OkNow(next));
  auto late = WaitOn(s1_, "k");
  EXPECT_EQ(CodeOf(late), absl::StatusCode::kAborted);
}

TEST_F(KeyedConditionTest, FencesStrictlyIncreaseAcrossWaits) {
  std::uint64_t last = 0;
  for (int i = 0; i < 5; ++i) {
    auto w = Park(s1_, "k");
    auto b = Lock(s2_);
    ASSERT_TRUE(OkNow(b));
    EXPECT_GT((*b)->grant.fence, last);
    ASSERT_EQ(cond_.Notify(&s2_, "o", "k").value(), 1);
    ASSERT_TRUE(cond_.Release(&s2_, "o").ok());
    Settle();
    ASSERT_TRUE(OkNow(w));
    EXPECT_GT((*w)->grant.fence, (*b)->grant.fence);
    last = (*w)->grant.fence;
    EXPECT_EQ(cond_.lock_last_fence(), last);
    ASSERT_TRUE(cond_.Release(&s1_, "o").ok());
  }
}

TEST_F(KeyedConditionTest, CloseRevokesTheHolderAndFailsEveryWait) {
  auto phase1 = Park(s1_, "k");
  auto phase2 = Park(s2_, "j");
  auto holder = Lock(s3_, "h");
  ASSERT_TRUE(OkNow(holder));
  ASSERT_EQ(cond_.Notify(&s3_, "h", "j").value(), 1);
  Settle();  // phase2 waits for the lock now
  auto locker = Lock(s4_);
  auto all = Launch([&] { return cond_.WaitAll(Opts(s4_, "watcher")); });
  cond_.Close(absl::NotFoundError("deleted"));
  Settle();
  EXPECT_EQ(CodeOf(phase1), absl::StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(phase2), absl::StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(locker), absl::StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(all), absl::StatusCode::kNotFound);
  ASSERT_EQ(revoked_.size(), 1u);
  EXPECT_EQ(revoked_[0].session_id, 3u);
  EXPECT_EQ(revoked_[0].owner_key, "h");
  EXPECT_EQ(revoked_[0].fence, (*holder)->grant.fence);
  EXPECT_EQ(revoked_[0].reason.code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(cond_.locked());
  EXPECT_FALSE(s3_.has_holds());
  EXPECT_EQ(cond_.Notify(&s3_, "h", "k").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(cond_.NotifyAll(&s3_, "h", std::nullopt).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(cond_.Release(&s3_, "h").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(cond_.AssertLocked(&s3_, "h").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(Lock(s1_)), absl::StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(WaitOn(s1_, "k")), absl::StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(Launch([&] { return cond_.WaitAll(Opts(s1_)); })),
            absl::StatusCode::kNotFound);
  ExpectInvariants();
}

TEST_F(KeyedConditionTest, CloseWithdrawsANotificationNotYetDelivered) {
  auto w = Park(s1_, "k");
  ASSERT_TRUE(OkNow(Lock(s2_)));
  ASSERT_EQ(cond_.Notify(&s2_, "o", "k").value(), 1);
  cond_.Close(absl::NotFoundError("deleted"));  // before w resumed
  Settle();
  EXPECT_EQ(CodeOf(w), absl::StatusCode::kNotFound);
  EXPECT_FALSE(s1_.has_holds());
}

TEST_F(KeyedConditionTest, DestroyingTheInstanceAnswersEveryWait) {
  auto cond = std::make_unique<KeyedCondition>(&loop_, 0);
  std::vector<Revocation> revoked;
  cond->set_revocation_callback(
      [&](const Revocation& r) { revoked.push_back(r); });
  ASSERT_TRUE(OkNow(Launch([&] { return cond->Acquire(Opts(s1_)); })));
  auto w = LaunchTask([&] { return cond->Wait(Opts(s1_), "k"); });
  auto notified = LaunchTask([&] { return cond->Wait(Opts(s2_), "k"); });
  EXPECT_EQ(CodeOf(notified), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(OkNow(Launch([&] { return cond->Acquire(Opts(s2_)); })));
  auto w2 = LaunchTask([&] { return cond->Wait(Opts(s2_), "k"); });
  ASSERT_TRUE(OkNow(Launch([&] { return cond->Acquire(Opts(s3_)); })));
  ASSERT_EQ(cond->Notify(&s3_, "o", "k").value(), 1);  // w: not resumed
  cond.reset();
  Settle();  // resumes after the instance is gone: must not touch it
  EXPECT_EQ(CodeOf(w), absl::StatusCode::kAborted);
  EXPECT_EQ(CodeOf(w2), absl::StatusCode::kAborted);
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_EQ(revoked[0].session_id, 3u);
  EXPECT_FALSE(s3_.has_holds());
}

class KeyedConditionReviewTest : public LoopTest {};

// A session may be destroyed (its End() runs in ~Session) while a Wait of
// it is between phases; the Wait must not touch it again. Under ASan this
// was a heap-use-after-free.
TEST_F(KeyedConditionReviewTest, SessionDestroyedWhileWaitingIsNeverTouchedAgain) {
  for (int variant = 0; variant < 2; ++variant) {
    KeyedCondition condition(&loop_, 0);
    auto session = std::make_unique<Session>(100 + variant);
    Session other(200 + variant);
    auto held = Launch([&] { return condition.Acquire(Opts(*session)); });
    ASSERT_TRUE(OkNow(held));
    auto wait = LaunchTask([&] {
      return condition.Wait(Opts(*session, "o", absl::Seconds(1)), "k");
    });
    EXPECT_FALSE(Ready(wait));
    if (variant == 1) {
      // Phase 1 timed out and the coroutine is scheduled, not yet resumed.
      clock_.Advance(absl::Seconds(1));
      // Take the lock first so that the timed-out wait's re-acquire would
      // have to queue on the destroyed session.
      auto taken = Launch([&] { return condition.Acquire(Opts(other)); });
      ASSERT_TRUE(OkNow(taken));
    }
    session.reset();
    Settle();
    ASSERT_TRUE(Ready(wait));
    EXPECT_EQ((*wait)->status.code(), absl::StatusCode::kAborted);
    EXPECT_EQ(condition.waiter_count(), 0u);
    EXPECT_TRUE(condition.CheckInvariants().ok()) << condition.CheckInvariants();
  }
}

}  // namespace
}  // namespace baton::core

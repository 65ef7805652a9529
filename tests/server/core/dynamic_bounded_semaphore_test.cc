// Copyright 2026 The Baton Authors.

#include "server/core/dynamic_bounded_semaphore.h"

#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/loop_test.h"

namespace baton::core {
namespace {

using ::baton::testing::CodeOf;
using ::baton::testing::LoopTest;
using ::baton::testing::OkNow;
using ::baton::testing::Pending;
using ::baton::testing::Ready;

class DynamicBoundedSemaphoreTest : public LoopTest {
 protected:
  void ExpectValid(const DynamicBoundedSemaphore& sem) {
    const absl::Status status = sem.CheckInvariants();
    EXPECT_TRUE(status.ok()) << status;
  }

  // Launches `n` waits from `session` (the same owner key: permits are per
  // session anyway).
  std::vector<Pending<WaitResult>> LaunchMany(DynamicBoundedSemaphore& sem,
                                              Session& session, int n) {
    std::vector<Pending<WaitResult>> waits;
    for (int i = 0; i < n; ++i) {
      waits.push_back(Launch([&] { return sem.Acquire(Opts(session)); }));
    }
    return waits;
  }

  Session s1_{1}, s2_{2}, s3_{3}, s4_{4};
  // Revocations reported by sem_ (declared first: it outlives sem_, whose
  // destructor may still report).
  std::vector<Revocation> revoked_;
  DynamicBoundedSemaphore sem_{&loop_, /*fence_base=*/1000, /*value=*/2};
};

TEST_F(DynamicBoundedSemaphoreTest, DefaultValueIsOne) {
  DynamicBoundedSemaphore sem(&loop_, 0);
  EXPECT_EQ(sem.bound(), 1);
  EXPECT_EQ(sem.available(), 1);
  EXPECT_FALSE(sem.locked());
}

TEST_F(DynamicBoundedSemaphoreTest, FreePermitsAreGrantedAtOnceWithFences) {
  auto a = Launch([&] { return sem_.Acquire(Opts(s1_)); });
  ASSERT_TRUE(OkNow(a));
  EXPECT_EQ((*a)->grant.fence, 1001u);
  EXPECT_FALSE(sem_.locked());
  auto b = Launch([&] { return sem_.Acquire(Opts(s2_)); });
  ASSERT_TRUE(OkNow(b));
  EXPECT_EQ((*b)->grant.fence, 1002u);
  EXPECT_TRUE(sem_.locked());
  EXPECT_EQ(sem_.available(), 0);
  EXPECT_EQ(sem_.held(), 2);
  auto c = Launch([&] { return sem_.Acquire(Opts(s3_)); });
  Settle();
  EXPECT_FALSE(Ready(c));
  EXPECT_EQ(sem_.waiter_count(), 1u);
  const std::vector<PermitHolder> holders = sem_.holders();
  ASSERT_EQ(holders.size(), 2u);
  EXPECT_EQ(holders[0].session_id, 1u);
  EXPECT_EQ(holders[0].permits, 1);
  EXPECT_EQ(holders[0].fence, 1001u);
  EXPECT_EQ(holders[1].session_id, 2u);
  ExpectValid(sem_);
}

TEST_F(DynamicBoundedSemaphoreTest, WaitersAreServedFirstComeFirstServed) {
  DynamicBoundedSemaphore sem(&loop_, 0, 1);
  auto holder = Launch([&] { return sem.Acquire(Opts(s1_)); });
  ASSERT_TRUE(OkNow(holder));
  Session* sessions[] = {&s2_, &s3_, &s4_, &s2_, &s3_};
  std::vector<Pending<WaitResult>> waits;
  for (Session* s : sessions) {
    waits.push_back(Launch([&sem, s] { return sem.Acquire(Opts(*s)); }));
  }
  Settle();
  Session* releaser = &s1_;
  for (std::size_t i = 0; i < waits.size(); ++i) {
    ASSERT_TRUE(sem.Release(releaser).ok());
    Settle();
    for (std::size_t j = 0; j < waits.size(); ++j) {
      EXPECT_EQ(Ready(waits[j]), j <= i)
          << "after release " << i << ", waiter " << j;
    }
    ASSERT_TRUE(OkNow(waits[i]));
    releaser = sessions[i];
    ExpectValid(sem);
  }
}

TEST_F(DynamicBoundedSemaphoreTest, FencesStrictlyIncrease) {
  std::uint64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    Session& s = (i % 3 == 0) ? s1_ : s2_;
    auto a = Launch([&] { return sem_.Acquire(Opts(s)); });
    ASSERT_TRUE(OkNow(a));
    EXPECT_GT((*a)->grant.fence, last);
    last = (*a)->grant.fence;
    ASSERT_TRUE(sem_.Release(&s).ok());
  }
  // Grants from the queue too.
  auto a = Launch([&] { return sem_.Acquire(Opts(s1_)); });
  auto b = Launch([&] { return sem_.Acquire(Opts(s1_)); });
  auto c = Launch([&] { return sem_.Acquire(Opts(s2_)); });
  ASSERT_TRUE(sem_.Release(&s1_).ok());
  Settle();
  ASSERT_TRUE(OkNow(c));
  EXPECT_GT((*b)->grant.fence, (*a)->grant.fence);
  EXPECT_GT((*c)->grant.fence, (*b)->grant.fence);
}

TEST_F(DynamicBoundedSemaphoreTest, RaisingTheBoundByKWakesExactlyKWaiters) {
  auto held = LaunchMany(sem_, s1_, 2);
  auto waits = LaunchMany(sem_, s2_, 5);
  Settle();
  EXPECT_EQ(sem_.waiter_count(), 5u);
  ASSERT_TRUE(sem_.SetBound(5).ok());  // k = 3
  EXPECT_EQ(sem_.bound(), 5);
  EXPECT_EQ(sem_.available(), 0);
  EXPECT_EQ(sem_.held(), 5);
  Settle();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(OkNow(waits[i]), i < 3) << i;
  EXPECT_EQ(sem_.waiter_count(), 2u);
  ExpectValid(sem_);
  // Raising with no one waiting just adds free permits.
  ASSERT_TRUE(sem_.SetBound(9).ok());  // k = 4, 2 waiters
  Settle();
  EXPECT_TRUE(OkNow(waits[3]));
  EXPECT_TRUE(OkNow(waits[4]));
  EXPECT_EQ(sem_.available(), 2);
  EXPECT_FALSE(sem_.locked());
  ExpectValid(sem_);
}

TEST_F(DynamicBoundedSemaphoreTest,
       LoweringTheBoundBelowTheHoldersKeepsTheirPermits) {
  ASSERT_TRUE(sem_.SetBound(3).ok());
  auto held = LaunchMany(sem_, s1_, 2);
  auto held2 = LaunchMany(sem_, s2_, 1);
  auto w1 = Launch([&] { return sem_.Acquire(Opts(s3_)); });
  auto w2 = Launch([&] { return sem_.Acquire(Opts(s4_)); });
  Settle();
  ASSERT_TRUE(sem_.SetBound(1).ok());
  EXPECT_EQ(sem_.bound(), 1);
  EXPECT_EQ(sem_.held(), 3);  // holders keep theirs
  EXPECT_EQ(sem_.available(), -2);
  EXPECT_TRUE(sem_.locked());
  EXPECT_EQ(sem_.PermitsOf(&s1_), 2);
  ExpectValid(sem_);
  // No one new enters, not even a try-once.
  auto try_once = Launch(
      [&] { return sem_.Acquire(Opts(s3_, "o", absl::ZeroDuration())); });
  EXPECT_EQ(CodeOf(try_once), absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(sem_.Release(&s1_).ok());
  Settle();
  EXPECT_EQ(sem_.available(), -1);
  EXPECT_FALSE(Ready(w1));
  ASSERT_TRUE(sem_.Release(&s2_).ok());
  Settle();
  EXPECT_EQ(sem_.available(), 0);
  EXPECT_FALSE(Ready(w1));
  ExpectValid(sem_);
  // Enough released: entries resume, in order, one at a time.
  ASSERT_TRUE(sem_.Release(&s1_).ok());
  Settle();
  EXPECT_TRUE(OkNow(w1));
  EXPECT_FALSE(Ready(w2));
  EXPECT_EQ(sem_.held(), 1);
  EXPECT_EQ(sem_.available(), 0);
  ASSERT_TRUE(sem_.Release(&s3_).ok());
  Settle();
  EXPECT_TRUE(OkNow(w2));
  ExpectValid(sem_);
}

TEST_F(DynamicBoundedSemaphoreTest, RaisingFromBelowZeroWakesOnlyWhatIsFree) {
  auto held = LaunchMany(sem_, s1_, 2);
  auto w = Launch([&] { return sem_.Acquire(Opts(s2_)); });
  ASSERT_TRUE(sem_.SetBound(0).ok());
  EXPECT_EQ(sem_.available(), -2);
  ASSERT_TRUE(sem_.SetBound(2).ok());  // back to 0 free
  Settle();
  EXPECT_FALSE(Ready(w));
  ASSERT_TRUE(sem_.SetBound(3).ok());
  Settle();
  EXPECT_TRUE(OkNow(w));
  ExpectValid(sem_);
}

TEST_F(DynamicBoundedSemaphoreTest, ZeroBoundMakesEveryoneWait) {
  auto sem = DynamicBoundedSemaphore::Create(&loop_, 0, 0);
  ASSERT_TRUE(sem.ok()) << sem.status();
  EXPECT_TRUE((*sem)->locked());
  auto w = Launch([&] { return (*sem)->Acquire(Opts(s1_)); });
  Settle();
  EXPECT_FALSE(Ready(w));
  ASSERT_TRUE((*sem)->SetBound(1).ok());
  Settle();
  EXPECT_TRUE(OkNow(w));
}

TEST_F(DynamicBoundedSemaphoreTest,
       ReleaseByASessionHoldingNothingIsAnErrorAndChangesNothing) {
  auto a = Launch([&] { return sem_.Acquire(Opts(s1_)); });
  auto b = Launch([&] { return sem_.Acquire(Opts(s1_, "other-key")); });
  auto w = Launch([&] { return sem_.Acquire(Opts(s3_)); });
  ASSERT_TRUE(OkNow(b));
  const absl::Status status = sem_.Release(&s2_);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(status.message(), "released too many times"))
      << status;
  Settle();
  EXPECT_FALSE(Ready(w));
  EXPECT_EQ(sem_.available(), 0);
  EXPECT_EQ(sem_.held(), 2);
  EXPECT_EQ(sem_.waiter_count(), 1u);
  // Permits are judged per session: either key of s1 may give them back.
  ASSERT_TRUE(sem_.Release(&s1_).ok());
  Settle();
  EXPECT_TRUE(OkNow(w));
  ASSERT_TRUE(sem_.Release(&s1_).ok());
  EXPECT_EQ(sem_.Release(&s1_).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(sem_.Release(nullptr).code(),
            absl::StatusCode::kFailedPrecondition);
  // The count never goes above the bound.
  ASSERT_TRUE(sem_.Release(&s3_).ok());
  EXPECT_EQ(sem_.available(), 2);
  EXPECT_EQ(sem_.Release(&s3_).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(sem_.available(), 2);
  ExpectValid(sem_);
}

TEST_F(DynamicBoundedSemaphoreTest,
       InvalidValueAndBoundAreRejectedNamingTheField) {
  const absl::Status v = DynamicBoundedSemaphore::Validate(-1);
  EXPECT_EQ(v.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(v.message(), "value must be >= 0, got -1"))
      << v;
  EXPECT_EQ(DynamicBoundedSemaphore::Create(&loop_, 0, -5).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(DynamicBoundedSemaphore::Validate(0).ok());

  auto a = Launch([&] { return sem_.Acquire(Opts(s1_)); });
  const absl::Status b = sem_.SetBound(-3);
  EXPECT_EQ(b.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(b.message(), "bound must be >= 0, got -3"))
      << b;
  EXPECT_EQ(sem_.bound(), 2);
  EXPECT_EQ(sem_.available(), 1);
  ExpectValid(sem_);
}

TEST_F(DynamicBoundedSemaphoreTest, TimeoutAbsentWaitsForever) {
  auto held = LaunchMany(sem_, s1_, 2);
  auto w = Launch([&] { return sem_.Acquire(Opts(s2_)); });
  Advance(absl::Hours(1000));
  EXPECT_FALSE(Ready(w));
  ASSERT_TRUE(sem_.Release(&s1_).ok());
  Settle();
  EXPECT_TRUE(OkNow(w));
}

TEST_F(DynamicBoundedSemaphoreTest, TimeoutZeroTriesOnceAndNeverQueues) {
  auto ok = Launch(
      [&] { return sem_.Acquire(Opts(s1_, "o", absl::ZeroDuration())); });
  EXPECT_TRUE(OkNow(ok));
  auto held = LaunchMany(sem_, s1_, 1);
  auto t = Launch(
      [&] { return sem_.Acquire(Opts(s2_, "o", absl::ZeroDuration())); });
  ASSERT_TRUE(Ready(t));
  EXPECT_EQ(CodeOf(t), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(sem_.waiter_count(), 0u);
  EXPECT_EQ(sem_.PermitsOf(&s2_), 0);
  ExpectValid(sem_);
}

TEST_F(DynamicBoundedSemaphoreTest,
       TimedOutWaiterConsumesNothingAndBlocksNoOne) {
  auto held = LaunchMany(sem_, s1_, 2);
  auto t =
      Launch([&] { return sem_.Acquire(Opts(s2_, "o", absl::Seconds(5))); });
  auto later = Launch([&] { return sem_.Acquire(Opts(s3_)); });
  Advance(absl::Milliseconds(4999));
  EXPECT_FALSE(Ready(t));
  Advance(absl::Milliseconds(1));
  EXPECT_EQ(CodeOf(t), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(sem_.waiter_count(), 1u);
  ASSERT_TRUE(sem_.Release(&s1_).ok());
  Settle();
  EXPECT_TRUE(OkNow(later));
  EXPECT_EQ(sem_.PermitsOf(&s2_), 0);
  ExpectValid(sem_);
}

TEST_F(DynamicBoundedSemaphoreTest, CancelRemovesTheWaiter) {
  runtime::CancellationSignal cancel;
  auto held = LaunchMany(sem_, s1_, 2);
  auto c = Launch([&] { return sem_.Acquire(Opts(s2_, "o", {}, &cancel)); });
  auto later = Launch([&] { return sem_.Acquire(Opts(s3_)); });
  cancel.Cancel();
  Settle();
  EXPECT_EQ(CodeOf(c), absl::StatusCode::kCancelled);
  EXPECT_EQ(sem_.waiter_count(), 1u);
  ASSERT_TRUE(sem_.Release(&s1_).ok());
  Settle();
  EXPECT_TRUE(OkNow(later));
  ExpectValid(sem_);
}

TEST_F(DynamicBoundedSemaphoreTest,
       GrantedAndCancelledInTheSameInstantPassesThePermitOn) {
  runtime::CancellationSignal cancel;
  auto held = LaunchMany(sem_, s1_, 2);
  auto b = Launch([&] { return sem_.Acquire(Opts(s2_, "o", {}, &cancel)); });
  auto c = Launch([&] { return sem_.Acquire(Opts(s3_)); });
  ASSERT_TRUE(sem_.Release(&s1_).ok());  // b is granted...
  EXPECT_EQ(sem_.PermitsOf(&s2_), 1);
  cancel.Cancel();  // ...and cancelled before it resumed
  EXPECT_EQ(sem_.PermitsOf(&s2_), 0);
  EXPECT_EQ(sem_.PermitsOf(&s3_), 1);
  ExpectValid(sem_);
  Settle();
  EXPECT_EQ(CodeOf(b), absl::StatusCode::kCancelled);
  ASSERT_TRUE(OkNow(c));
  EXPECT_GT((*c)->grant.fence,
            (*held[1])->grant.fence + 1);  // b's fence is spent
  EXPECT_EQ(sem_.held(), 2);
}

TEST_F(DynamicBoundedSemaphoreTest,
       GrantedAndCancelledWithNoOneWaitingFreesThePermit) {
  runtime::CancellationSignal cancel;
  auto held = LaunchMany(sem_, s1_, 2);
  auto b = Launch([&] { return sem_.Acquire(Opts(s2_, "o", {}, &cancel)); });
  ASSERT_TRUE(sem_.Release(&s1_).ok());
  cancel.Cancel();
  Settle();
  EXPECT_EQ(CodeOf(b), absl::StatusCode::kCancelled);
  EXPECT_EQ(sem_.available(), 1);
  EXPECT_EQ(sem_.held(), 1);
  ExpectValid(sem_);
}

TEST_F(DynamicBoundedSemaphoreTest, SessionEndInTheMiddleOfAWait) {
  auto held = LaunchMany(sem_, s1_, 2);
  auto w =
      Launch([&] { return sem_.Acquire(Opts(s2_, "o", absl::Seconds(10))); });
  auto later = Launch([&] { return sem_.Acquire(Opts(s3_)); });
  s2_.End();
  Settle();
  EXPECT_EQ(CodeOf(w), absl::StatusCode::kAborted);
  EXPECT_EQ(sem_.waiter_count(), 1u);
  ASSERT_TRUE(sem_.Release(&s1_).ok());
  Settle();
  EXPECT_TRUE(OkNow(later));
  auto late = Launch([&] { return sem_.Acquire(Opts(s2_)); });
  EXPECT_EQ(CodeOf(late), absl::StatusCode::kAborted);
  ExpectValid(sem_);
}

TEST_F(DynamicBoundedSemaphoreTest,
       SessionEndWhileHoldingSeveralPermitsGivesThemAllBack) {
  ASSERT_TRUE(sem_.SetBound(3).ok());
  auto held = LaunchMany(sem_, s1_, 3);
  auto own = Launch([&] { return sem_.Acquire(Opts(s1_, "again")); });
  auto w2 = Launch([&] { return sem_.Acquire(Opts(s2_)); });
  auto w3 = Launch([&] { return sem_.Acquire(Opts(s3_)); });
  auto w4 = Launch([&] { return sem_.Acquire(Opts(s4_)); });
  auto w5 = Launch([&] { return sem_.Acquire(Opts(s2_)); });
  EXPECT_EQ(sem_.PermitsOf(&s1_), 3);
  EXPECT_TRUE(s1_.has_holds());
  s1_.End();
  EXPECT_FALSE(s1_.has_holds());
  EXPECT_EQ(sem_.PermitsOf(&s1_), 0);
  Settle();
  EXPECT_EQ(CodeOf(own), absl::StatusCode::kAborted);  // not given s1's permits
  EXPECT_TRUE(OkNow(w2));
  EXPECT_TRUE(OkNow(w3));
  EXPECT_TRUE(OkNow(w4));
  EXPECT_FALSE(Ready(w5));
  EXPECT_EQ(sem_.held(), 3);
  ExpectValid(sem_);
}

TEST_F(DynamicBoundedSemaphoreTest,
       SessionEndAfterTheBoundWasLoweredKeepsTheCountRight) {
  auto held = LaunchMany(sem_, s1_, 2);
  auto w = Launch([&] { return sem_.Acquire(Opts(s2_)); });
  ASSERT_TRUE(sem_.SetBound(1).ok());
  s1_.End();
  Settle();
  EXPECT_TRUE(OkNow(w));
  EXPECT_EQ(sem_.available(), 0);
  EXPECT_EQ(sem_.held(), 1);
  ExpectValid(sem_);
}

TEST_F(DynamicBoundedSemaphoreTest, CloseRevokesHoldersAndFailsWaiters) {
  std::vector<Revocation>& revoked = revoked_;
  sem_.set_revocation_callback(
      [this](const Revocation& r) { revoked_.push_back(r); });
  auto a = LaunchMany(sem_, s1_, 1);
  auto b = LaunchMany(sem_, s2_, 1);
  auto w = Launch([&] { return sem_.Acquire(Opts(s3_)); });
  sem_.Close(absl::NotFoundError("deleted"));
  Settle();
  EXPECT_EQ(CodeOf(w), absl::StatusCode::kNotFound);
  ASSERT_EQ(revoked.size(), 2u);
  EXPECT_EQ(revoked[0].session_id, 1u);
  EXPECT_EQ(revoked[0].fence, (*a[0])->grant.fence);
  EXPECT_EQ(revoked[0].reason.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(revoked[1].session_id, 2u);
  EXPECT_EQ(revoked[1].fence, (*b[0])->grant.fence);
  EXPECT_FALSE(s1_.has_holds());
  EXPECT_FALSE(s2_.has_holds());
  EXPECT_EQ(sem_.held(), 0);
  ExpectValid(sem_);
  auto late = Launch([&] { return sem_.Acquire(Opts(s3_)); });
  EXPECT_EQ(CodeOf(late), absl::StatusCode::kNotFound);
  EXPECT_EQ(sem_.Release(&s1_).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(sem_.SetBound(5).code(), absl::StatusCode::kNotFound);
}

TEST_F(DynamicBoundedSemaphoreTest, CloseWithdrawsAGrantNotYetDelivered) {
  auto held = LaunchMany(sem_, s1_, 2);
  auto w = Launch([&] { return sem_.Acquire(Opts(s2_)); });
  ASSERT_TRUE(sem_.Release(&s1_).ok());  // w granted, not resumed
  sem_.Close(absl::NotFoundError("deleted"));
  Settle();
  EXPECT_EQ(CodeOf(w), absl::StatusCode::kNotFound);
  EXPECT_FALSE(s2_.has_holds());
}

TEST_F(DynamicBoundedSemaphoreTest,
       DestroyingTheInstanceFailsWaitersAndRevokesHolds) {
  int revoked = 0;  // declared first: outlives sem
  auto sem = std::make_unique<DynamicBoundedSemaphore>(&loop_, 0, 1);
  sem->set_revocation_callback([&](const Revocation&) { ++revoked; });
  auto a = Launch([&] { return sem->Acquire(Opts(s1_)); });
  auto w = Launch([&] { return sem->Acquire(Opts(s2_)); });
  ASSERT_TRUE(OkNow(a));
  sem.reset();
  Settle();
  EXPECT_EQ(CodeOf(w), absl::StatusCode::kAborted);
  EXPECT_EQ(revoked, 1);
  EXPECT_FALSE(s1_.has_holds());
}

}  // namespace
}  // namespace baton::core

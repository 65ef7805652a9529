// Copyright 2026 The Baton Authors.

#include "server/core/priority_semaphore.h"

#include <limits>
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

class PrioritySemaphoreTest : public LoopTest {
 protected:
  void ExpectValid(const PrioritySemaphore& sem) {
    const absl::Status status = sem.CheckInvariants();
    EXPECT_TRUE(status.ok()) << status;
  }

  std::vector<Pending<WaitResult>> LaunchMany(PrioritySemaphore& sem,
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
  PrioritySemaphore sem_{&loop_, /*fence_base=*/1000, /*value=*/2};
};

TEST_F(PrioritySemaphoreTest, DefaultValueIsOne) {
  PrioritySemaphore sem(&loop_, 0);
  EXPECT_EQ(sem.value(), 1);
  EXPECT_EQ(sem.available(), 1);
  EXPECT_FALSE(sem.locked());
}

TEST_F(PrioritySemaphoreTest, FreePermitsAreGrantedAtOnceWithFences) {
  auto a = Launch([&] { return sem_.Acquire(Opts(s1_), 7); });
  ASSERT_TRUE(OkNow(a));
  EXPECT_EQ((*a)->grant.fence, 1001u);
  EXPECT_FALSE(sem_.locked());
  auto b = Launch([&] { return sem_.Acquire(Opts(s1_)); });
  ASSERT_TRUE(OkNow(b));
  EXPECT_EQ((*b)->grant.fence, 1002u);
  EXPECT_TRUE(sem_.locked());
  EXPECT_EQ(sem_.PermitsOf(&s1_), 2);
  const std::vector<PermitHolder> holders = sem_.holders();
  ASSERT_EQ(holders.size(), 1u);
  EXPECT_EQ(holders[0].session_id, 1u);
  EXPECT_EQ(holders[0].permits, 2);
  EXPECT_EQ(holders[0].fence, 1002u);
  ExpectValid(sem_);
}

TEST_F(PrioritySemaphoreTest, PriorityOrderWithFifoTies) {
  PrioritySemaphore sem(&loop_, 0, 1);
  auto holder = Launch([&] { return sem.Acquire(Opts(s1_)); });
  ASSERT_TRUE(OkNow(holder));
  struct Entry {
    Session* session;
    std::int64_t priority;
  };
  const Entry entries[] = {{&s2_, 5}, {&s3_, 1},  {&s4_, 5},
                           {&s2_, 1}, {&s3_, -3}, {&s4_, 0}};
  std::vector<Pending<WaitResult>> waits;
  for (const Entry& e : entries) {
    waits.push_back(Launch(
        [&sem, e] { return sem.Acquire(Opts(*e.session), e.priority); }));
  }
  Settle();
  for (auto& w : waits) EXPECT_FALSE(Ready(w));
  const int expected[] = {4, 5, 1, 3, 0, 2};  // indices into entries
  Session* releaser = &s1_;
  int served = 0;
  for (int index : expected) {
    ASSERT_TRUE(sem.Release(releaser).ok());
    Settle();
    ASSERT_TRUE(OkNow(waits[index])) << "expected waiter " << index;
    ++served;
    int ready = 0;
    for (auto& w : waits) ready += Ready(w) ? 1 : 0;
    EXPECT_EQ(ready, served);
    releaser = entries[index].session;
    ExpectValid(sem);
  }
}

TEST_F(PrioritySemaphoreTest,
       ABetterNewcomerQueuesAheadButNeverEntersPastTheQueue) {
  auto held = LaunchMany(sem_, s1_, 2);
  auto low = Launch([&] { return sem_.Acquire(Opts(s2_), 10); });
  auto high = Launch([&] { return sem_.Acquire(Opts(s3_), -10); });
  Settle();
  EXPECT_FALSE(Ready(high));
  ASSERT_TRUE(sem_.Release(&s1_).ok());
  Settle();
  EXPECT_TRUE(OkNow(high));
  EXPECT_FALSE(Ready(low));
}

TEST_F(PrioritySemaphoreTest, FencesStrictlyIncrease) {
  std::uint64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    Session& s = (i % 3 == 0) ? s1_ : s2_;
    auto a = Launch([&] { return sem_.Acquire(Opts(s), i % 4); });
    ASSERT_TRUE(OkNow(a));
    EXPECT_GT((*a)->grant.fence, last);
    last = (*a)->grant.fence;
    ASSERT_TRUE(sem_.Release(&s).ok());
  }
  auto a = LaunchMany(sem_, s1_, 2);
  auto b = Launch([&] { return sem_.Acquire(Opts(s2_)); });
  ASSERT_TRUE(sem_.Release(&s1_).ok());
  Settle();
  ASSERT_TRUE(OkNow(b));
  EXPECT_GT((*a[0])->grant.fence, last);
  EXPECT_GT((*a[1])->grant.fence, (*a[0])->grant.fence);
  EXPECT_GT((*b)->grant.fence, (*a[1])->grant.fence);
}

TEST_F(PrioritySemaphoreTest,
       StrictReleaseByASessionHoldingNothingIsAnErrorAndChangesNothing) {
  auto held = LaunchMany(sem_, s1_, 2);
  auto w = Launch([&] { return sem_.Acquire(Opts(s3_)); });
  const absl::Status status = sem_.Release(&s2_);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(status.message(), "released too many times"))
      << status;
  EXPECT_EQ(sem_.Release(&s2_, /*strict=*/true).code(),
            absl::StatusCode::kFailedPrecondition);
  Settle();
  EXPECT_FALSE(Ready(w));
  EXPECT_EQ(sem_.available(), 0);
  EXPECT_EQ(sem_.held(), 2);
  EXPECT_EQ(sem_.pool_size(), 2);
  EXPECT_EQ(sem_.waiter_count(), 1u);
  ExpectValid(sem_);
  // The holder's releases work, and a third one is too many.
  ASSERT_TRUE(sem_.Release(&s1_).ok());
  ASSERT_TRUE(sem_.Release(&s1_).ok());
  EXPECT_EQ(sem_.Release(&s1_).code(), absl::StatusCode::kFailedPrecondition);
  Settle();
  EXPECT_TRUE(OkNow(w));
  EXPECT_EQ(sem_.available(), 1);
}

TEST_F(PrioritySemaphoreTest, NonStrictReleaseGrowsThePool) {
  ASSERT_TRUE(sem_.Release(&s1_, /*strict=*/false).ok());
  EXPECT_EQ(sem_.available(), 3);
  EXPECT_EQ(sem_.pool_size(), 3);
  auto held = LaunchMany(sem_, s2_, 3);
  for (auto& h : held) EXPECT_TRUE(OkNow(h));
  EXPECT_TRUE(sem_.locked());
  // With waiters: the added permit goes to the best one at once.
  auto w1 = Launch([&] { return sem_.Acquire(Opts(s3_), 2); });
  auto w2 = Launch([&] { return sem_.Acquire(Opts(s4_), 1); });
  ASSERT_TRUE(sem_.Release(&s1_, /*strict=*/false).ok());
  Settle();
  EXPECT_TRUE(OkNow(w2));
  EXPECT_FALSE(Ready(w1));
  EXPECT_EQ(sem_.pool_size(), 4);
  EXPECT_EQ(sem_.held(), 4);
  ExpectValid(sem_);
}

TEST_F(PrioritySemaphoreTest, NonStrictReleaseByAHolderGivesItsPermitBack) {
  auto held = LaunchMany(sem_, s1_, 1);
  ASSERT_TRUE(sem_.Release(&s1_, /*strict=*/false).ok());
  EXPECT_EQ(sem_.PermitsOf(&s1_), 0);
  EXPECT_EQ(sem_.available(), 2);
  EXPECT_EQ(sem_.pool_size(), 2);  // not grown
  EXPECT_FALSE(s1_.has_holds());
}

TEST_F(PrioritySemaphoreTest,
       ResetRevokesHoldersAndServesWaitersFromTheInitialCount) {
  std::vector<Revocation>& revoked = revoked_;
  sem_.set_revocation_callback([this](const Revocation& r) {
    // The state is whole when holders are told.
    EXPECT_TRUE(sem_.closed() || sem_.CheckInvariants().ok());
    revoked_.push_back(r);
  });
  auto h1 = LaunchMany(sem_, s1_, 1);
  auto h2 = LaunchMany(sem_, s2_, 1);
  ASSERT_TRUE(sem_.Release(&s4_, /*strict=*/false).ok());  // pool 3
  auto h3 = LaunchMany(sem_, s2_, 1);
  auto w3 = Launch([&] { return sem_.Acquire(Opts(s3_), 5); });
  auto w1 = Launch([&] { return sem_.Acquire(Opts(s1_), 1); });
  auto w4 = Launch([&] { return sem_.Acquire(Opts(s4_), 3); });
  Settle();
  EXPECT_EQ(sem_.waiter_count(), 3u);
  const std::uint64_t last_before = sem_.last_fence();

  ASSERT_TRUE(sem_.Reset().ok());
  // Holders are told, with the fence of their latest grant.
  ASSERT_EQ(revoked.size(), 2u);
  EXPECT_EQ(revoked[0].session_id, 1u);
  EXPECT_EQ(revoked[0].fence, (*h1[0])->grant.fence);
  EXPECT_EQ(revoked[0].reason.code(), absl::StatusCode::kAborted);
  EXPECT_TRUE(revoked[0].owner_key.empty());
  EXPECT_EQ(revoked[1].session_id, 2u);
  EXPECT_EQ(revoked[1].fence, (*h3[0])->grant.fence);
  // The count is back to 2 (the added permit is gone): the two best
  // waiters get in, in order, with newer fences.
  Settle();
  EXPECT_TRUE(OkNow(w1));
  EXPECT_TRUE(OkNow(w4));
  EXPECT_FALSE(Ready(w3));
  EXPECT_GT((*w1)->grant.fence, last_before);
  EXPECT_GT((*w4)->grant.fence, (*w1)->grant.fence);
  EXPECT_EQ(sem_.pool_size(), 2);
  EXPECT_EQ(sem_.held(), 2);
  EXPECT_EQ(sem_.PermitsOf(&s1_), 1);  // only the new one
  EXPECT_EQ(sem_.PermitsOf(&s2_), 0);
  EXPECT_FALSE(s2_.has_holds());
  ExpectValid(sem_);
  // The revoked permits cannot be released any more.
  EXPECT_EQ(sem_.Release(&s2_).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(sem_.Release(&s1_).ok());  // its new permit
  Settle();
  EXPECT_TRUE(OkNow(w3));
  EXPECT_EQ(sem_.Release(&s1_).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(PrioritySemaphoreTest, ResetWithNoHoldersRestoresTheInitialValue) {
  ASSERT_TRUE(sem_.Release(&s1_, false).ok());
  ASSERT_TRUE(sem_.Release(&s1_, false).ok());
  EXPECT_EQ(sem_.available(), 4);
  sem_.set_revocation_callback(
      [this](const Revocation& r) { revoked_.push_back(r); });
  ASSERT_TRUE(sem_.Reset().ok());
  EXPECT_EQ(sem_.available(), 2);
  EXPECT_TRUE(revoked_.empty());
}

TEST_F(PrioritySemaphoreTest,
       AGrantNotYetDeliveredAtResetFailsInsteadOfBeingRevoked) {
  std::vector<Revocation>& revoked = revoked_;
  sem_.set_revocation_callback(
      [this](const Revocation& r) { revoked_.push_back(r); });
  runtime::CancellationSignal cancel;
  auto held = LaunchMany(sem_, s1_, 2);
  auto granted =
      Launch([&] { return sem_.Acquire(Opts(s2_, "a", {}, &cancel), 0); });
  auto next = Launch([&] { return sem_.Acquire(Opts(s2_, "b"), 1); });
  auto other = Launch([&] { return sem_.Acquire(Opts(s3_), 2); });
  ASSERT_TRUE(sem_.Release(&s1_).ok());  // `granted` gets it, not resumed yet
  ASSERT_TRUE(sem_.Reset().ok());        // withdraws it; serves next, other
  // Only what was delivered is reported revoked: s1's remaining permit. The
  // caller of `granted` never held its permit, so it hears one failure.
  ASSERT_EQ(revoked.size(), 1u);
  EXPECT_EQ(revoked[0].session_id, 1u);
  EXPECT_EQ(sem_.PermitsOf(&s2_), 1);  // next's permit
  EXPECT_EQ(sem_.PermitsOf(&s3_), 1);
  cancel.Cancel();  // too late to matter: nothing to give back
  EXPECT_EQ(sem_.PermitsOf(&s2_), 1);
  EXPECT_EQ(sem_.available(), 0);
  ExpectValid(sem_);
  Settle();
  EXPECT_EQ(CodeOf(granted), absl::StatusCode::kAborted);
  EXPECT_TRUE(absl::StrContains((*granted)->status.message(), "reset"));
  EXPECT_TRUE(OkNow(next));
  EXPECT_TRUE(OkNow(other));
  EXPECT_GT((*next)->grant.fence, (*held[0])->grant.fence);
}

TEST_F(PrioritySemaphoreTest, InvalidValueIsRejectedNamingTheField) {
  const absl::Status v = PrioritySemaphore::Validate(-2);
  EXPECT_EQ(v.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(v.message(), "value must be >= 0, got -2"))
      << v;
  EXPECT_EQ(PrioritySemaphore::Create(&loop_, 0, -1).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto zero = PrioritySemaphore::Create(&loop_, 0, 0);
  ASSERT_TRUE(zero.ok());
  EXPECT_TRUE((*zero)->locked());
  auto w = Launch([&] { return (*zero)->Acquire(Opts(s1_)); });
  Settle();
  EXPECT_FALSE(Ready(w));
  ASSERT_TRUE((*zero)->Release(&s2_, /*strict=*/false).ok());
  Settle();
  EXPECT_TRUE(OkNow(w));
}

TEST_F(PrioritySemaphoreTest, TimeoutAbsentWaitsForever) {
  auto held = LaunchMany(sem_, s1_, 2);
  auto w = Launch([&] { return sem_.Acquire(Opts(s2_)); });
  Advance(absl::Hours(1000));
  EXPECT_FALSE(Ready(w));
  ASSERT_TRUE(sem_.Release(&s1_).ok());
  Settle();
  EXPECT_TRUE(OkNow(w));
}

TEST_F(PrioritySemaphoreTest, TimeoutZeroTriesOnceAndNeverQueues) {
  auto ok = Launch(
      [&] { return sem_.Acquire(Opts(s1_, "o", absl::ZeroDuration())); });
  EXPECT_TRUE(OkNow(ok));
  auto held = LaunchMany(sem_, s1_, 1);
  auto t = Launch([&] {
    return sem_.Acquire(Opts(s2_, "o", absl::ZeroDuration()),
                        /*priority=*/-100);
  });
  ASSERT_TRUE(Ready(t));
  EXPECT_EQ(CodeOf(t), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(sem_.waiter_count(), 0u);
  ExpectValid(sem_);
}

TEST_F(PrioritySemaphoreTest, TimedOutWaiterConsumesNothingAndBlocksNoOne) {
  auto held = LaunchMany(sem_, s1_, 2);
  auto t = Launch(
      [&] { return sem_.Acquire(Opts(s2_, "o", absl::Seconds(5)), -1); });
  auto later = Launch([&] { return sem_.Acquire(Opts(s3_), 4); });
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

TEST_F(PrioritySemaphoreTest, CancelRemovesTheWaiter) {
  runtime::CancellationSignal cancel;
  auto held = LaunchMany(sem_, s1_, 2);
  auto c =
      Launch([&] { return sem_.Acquire(Opts(s2_, "o", {}, &cancel), -5); });
  auto later = Launch([&] { return sem_.Acquire(Opts(s3_)); });
  cancel.Cancel();
  Settle();
  EXPECT_EQ(CodeOf(c), absl::StatusCode::kCancelled);
  EXPECT_EQ(sem_.waiter_count(), 1u);
  ASSERT_TRUE(sem_.Release(&s1_).ok());
  Settle();
  EXPECT_TRUE(OkNow(later));
}

TEST_F(PrioritySemaphoreTest,
       GrantedAndCancelledInTheSameInstantPassesThePermitOn) {
  runtime::CancellationSignal cancel;
  auto held = LaunchMany(sem_, s1_, 2);
  auto b = Launch([&] { return sem_.Acquire(Opts(s2_, "o", {}, &cancel), 0); });
  auto c = Launch([&] { return sem_.Acquire(Opts(s3_), 1); });
  ASSERT_TRUE(sem_.Release(&s1_).ok());  // b is granted...
  EXPECT_EQ(sem_.PermitsOf(&s2_), 1);
  cancel.Cancel();  // ...and cancelled before it resumed
  EXPECT_EQ(sem_.PermitsOf(&s2_), 0);
  EXPECT_EQ(sem_.PermitsOf(&s3_), 1);
  ExpectValid(sem_);
  Settle();
  EXPECT_EQ(CodeOf(b), absl::StatusCode::kCancelled);
  EXPECT_TRUE(OkNow(c));
  EXPECT_EQ(sem_.held(), 2);
}

TEST_F(PrioritySemaphoreTest, SessionEndInTheMiddleOfAWait) {
  auto held = LaunchMany(sem_, s1_, 2);
  auto w = Launch(
      [&] { return sem_.Acquire(Opts(s2_, "o", absl::Seconds(10)), -1); });
  auto later = Launch([&] { return sem_.Acquire(Opts(s3_), 1); });
  s2_.End();
  Settle();
  EXPECT_EQ(CodeOf(w), absl::StatusCode::kAborted);
  EXPECT_EQ(sem_.waiter_count(), 1u);
  ASSERT_TRUE(sem_.Release(&s1_).ok());
  Settle();
  EXPECT_TRUE(OkNow(later));
  ExpectValid(sem_);
}

TEST_F(PrioritySemaphoreTest,
       SessionEndWhileHoldingSeveralPermitsGivesThemAllBack) {
  auto held = LaunchMany(sem_, s1_, 2);
  auto own = Launch([&] { return sem_.Acquire(Opts(s1_), -100); });
  auto w2 = Launch([&] { return sem_.Acquire(Opts(s2_), 3); });
  auto w3 = Launch([&] { return sem_.Acquire(Opts(s3_), 2); });
  auto w4 = Launch([&] { return sem_.Acquire(Opts(s4_), 4); });
  s1_.End();
  EXPECT_FALSE(s1_.has_holds());
  Settle();
  EXPECT_EQ(CodeOf(own), absl::StatusCode::kAborted);
  EXPECT_TRUE(OkNow(w3));
  EXPECT_TRUE(OkNow(w2));
  EXPECT_FALSE(Ready(w4));
  EXPECT_EQ(sem_.held(), 2);
  ExpectValid(sem_);
}

TEST_F(PrioritySemaphoreTest, CloseRevokesHoldersAndFailsWaiters) {
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
  EXPECT_EQ(revoked[1].session_id, 2u);
  EXPECT_EQ(revoked[1].fence, (*b[0])->grant.fence);
  EXPECT_EQ(revoked[1].reason.code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(s1_.has_holds());
  ExpectValid(sem_);
  auto late = Launch([&] { return sem_.Acquire(Opts(s3_)); });
  EXPECT_EQ(CodeOf(late), absl::StatusCode::kNotFound);
  EXPECT_EQ(sem_.Release(&s1_).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(sem_.Release(&s1_, false).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(sem_.Reset().code(), absl::StatusCode::kNotFound);
}

TEST_F(PrioritySemaphoreTest,
       DestroyingTheInstanceFailsWaitersAndRevokesHolds) {
  int revoked = 0;  // declared first: outlives sem
  auto sem = std::make_unique<PrioritySemaphore>(&loop_, 0, 1);
  sem->set_revocation_callback([&](const Revocation&) { ++revoked; });
  auto a = Launch([&] { return sem->Acquire(Opts(s1_)); });
  auto w = Launch([&] { return sem->Acquire(Opts(s2_)); });
  auto granted = Launch([&] { return sem->Acquire(Opts(s3_)); });
  ASSERT_TRUE(OkNow(a));
  s2_.End();                             // w leaves
  ASSERT_TRUE(sem->Release(&s1_).ok());  // `granted` decided, not resumed
  sem.reset();
  Settle();
  EXPECT_EQ(CodeOf(granted), absl::StatusCode::kAborted);
  // The only permit was never delivered: it is withdrawn, not revoked, so
  // its caller hears one failed wait and no revocation.
  EXPECT_EQ(revoked, 0);
  EXPECT_FALSE(s3_.has_holds());
}

TEST_F(PrioritySemaphoreTest, NonStrictReleaseCannotOverflowThePool) {
  auto sem = PrioritySemaphore::Create(&loop_, 0,
                                       std::numeric_limits<std::int64_t>::max());
  ASSERT_TRUE(sem.ok());
  const absl::Status st = (*sem)->Release(&s1_, /*strict=*/false);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(st.message(), "9223372036854775807")) << st;
  EXPECT_EQ((*sem)->available(), std::numeric_limits<std::int64_t>::max());
  EXPECT_FALSE((*sem)->locked());
  ExpectValid(**sem);
}

}  // namespace
}  // namespace baton::core

// Copyright 2026 The Baton Authors.

#include "server/core/rate_limiter.h"

#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tests/testing/loop_test.h"

namespace baton::core {
namespace {

using ::baton::testing::CodeOf;
using ::baton::testing::LoopTest;
using ::baton::testing::OkNow;
using ::baton::testing::Pending;
using ::baton::testing::Ready;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

class RateLimiterTest : public LoopTest {
 protected:
  void SetUp() override { Make({.rate = 10, .capacity = 5}); }

  void TearDown() override {
    if (limiter_ != nullptr) {
      EXPECT_TRUE(limiter_->CheckInvariants().ok());
    }
    limiter_.reset();
    Settle();  // lets every launched coroutine finish
  }

  void Make(const RateLimiter::Options& options) {
    limiter_.reset();
    Settle();
    auto made = RateLimiter::Create(&loop_, /*fence_base=*/500, options);
    ASSERT_TRUE(made.ok()) << made.status();
    limiter_ = *std::move(made);
  }

  Pending<WaitResult> Acq(Session& s, double tokens,
                          std::optional<absl::Duration> timeout = {},
                          runtime::CancellationSignal* cancel = nullptr) {
    return Launch([&, tokens, timeout, cancel] {
      return limiter_->Acquire(Opts(s, "o", timeout, cancel), tokens);
    });
  }

  // Drain() empties the bucket (which must be full) at once.
  void Drain() {
    auto all = Acq(s1_, limiter_->capacity());
    ASSERT_TRUE(OkNow(all));
    ASSERT_EQ((*all)->grant.tokens_left, 0);
  }

  void ExpectInvariants() {
    absl::Status status = limiter_->CheckInvariants();
    EXPECT_TRUE(status.ok()) << status;
  }

  Session s1_{1}, s2_{2}, s3_{3};
  std::unique_ptr<RateLimiter> limiter_;
};

// --- Creation and validation. ---

TEST_F(RateLimiterTest, StartsFullAndCapacityDefaultsToRate) {
  EXPECT_EQ(limiter_->rate(), 10);
  EXPECT_EQ(limiter_->capacity(), 5);
  EXPECT_TRUE(limiter_->fair());
  EXPECT_EQ(limiter_->tokens(), 5);
  Make({.rate = 2.5, .fair = false});
  EXPECT_EQ(limiter_->capacity(), 2.5);
  EXPECT_EQ(limiter_->tokens(), 2.5);
  EXPECT_FALSE(limiter_->fair());
}

TEST_F(RateLimiterTest, InvalidRateOrCapacityIsRejectedNamingTheField) {
  for (double bad : {0.0, -1.0, kNaN, kInf, -kInf}) {
    absl::Status status = RateLimiter::Validate({.rate = bad});
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(
        absl::StrContains(status.message(), "rate must be finite and > 0"))
        << status;
    EXPECT_EQ(RateLimiter::Create(&loop_, 0, {.rate = bad}).status().code(),
              absl::StatusCode::kInvalidArgument);

    status = RateLimiter::Validate({.rate = 1, .capacity = bad});
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(
        absl::StrContains(status.message(), "capacity must be finite and > 0"))
        << status;
    EXPECT_EQ(RateLimiter::Create(&loop_, 0, {.rate = 1, .capacity = bad})
                  .status()
                  .code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(RateLimiter::Validate({.rate = 0.001, .capacity = 1e9}).ok());
}

TEST_F(RateLimiterTest, GrantReportsTokensLeftAndCarriesNoFence) {
  auto a = Acq(s1_, 2);
  ASSERT_TRUE(OkNow(a));
  EXPECT_EQ((*a)->grant.tokens_left, 3);
  EXPECT_EQ((*a)->grant.fence, 0u);
  auto b = Acq(s2_, 0.5);
  ASSERT_TRUE(OkNow(b));
  EXPECT_EQ((*b)->grant.tokens_left, 2.5);
  EXPECT_EQ(limiter_->tokens(), 2.5);
  EXPECT_EQ(limiter_->last_fence(), 500u);
  EXPECT_FALSE(s1_.has_holds());  // tokens are not holds
  ExpectInvariants();
}

TEST_F(RateLimiterTest, DefaultAcquireTakesOneToken) {
  auto a = Launch([&] { return limiter_->Acquire(Opts(s1_)); });
  ASSERT_TRUE(OkNow(a));
  EXPECT_EQ((*a)->grant.tokens_left, 4);
}

TEST_F(RateLimiterTest, InvalidTokensAreRejectedAndChangeNothing) {
  Drain();
  auto queued = Acq(s2_, 1);  // so that a change of the queue would show
  Advance(absl::Milliseconds(50));
  ASSERT_FALSE(Ready(queued));
  const double before = limiter_->tokens();
  for (double bad : {0.0, -0.0, -1.0, kNaN, kInf, -kInf, 5.000001, 6.0}) {
    auto r = Acq(s1_, bad, absl::Seconds(1));
    ASSERT_TRUE(Ready(r)) << bad;
    EXPECT_EQ(CodeOf(r), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(absl::StrContains(
        (*r)->status.message(), "tokens must be finite and in (0, capacity=5]"))
        << (*r)->status;
    EXPECT_EQ(limiter_->tokens(), before);
    EXPECT_EQ(limiter_->waiter_count(), 1u);
    ExpectInvariants();
  }
  // Exactly the capacity is valid.
  auto full = Acq(s3_, 5);
  EXPECT_FALSE(Ready(full));
  Advance(absl::Milliseconds(50));
  EXPECT_TRUE(OkNow(queued));
}

TEST_F(RateLimiterTest, CapacityBelowOneRejectsTheDefaultAcquireAndIsLocked) {
  Make({.rate = 0.5});
  EXPECT_TRUE(limiter_->locked());
  auto a = Launch([&] { return limiter_->Acquire(Opts(s1_)); });
  EXPECT_EQ(CodeOf(a), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains((*a)->status.message(), "capacity=0.5"));
  auto b = Acq(s1_, 0.5);
  EXPECT_TRUE(OkNow(b));
}

// --- Refill. ---

TEST_F(RateLimiterTest, ContinuousRefillIsExactOnTheManualClock) {
  Drain();
  auto a = Acq(s2_, 3);  // 3 tokens at 10/s: exactly 300 ms
  EXPECT_FALSE(Ready(a));
  EXPECT_EQ(limiter_->waiter_count(), 1u);
  Advance(absl::Milliseconds(299));
  EXPECT_FALSE(Ready(a));
  EXPECT_NEAR(limiter_->tokens(), 2.99, 1e-9);
  ExpectInvariants();
  Advance(absl::Milliseconds(1));  // only the clock moves: the timer serves
  ASSERT_TRUE(OkNow(a));
  EXPECT_NEAR((*a)->grant.tokens_left, 0, 1e-9);
  EXPECT_EQ(limiter_->waiter_count(), 0u);
  EXPECT_EQ(loop_.pending_timers(), 0u);
  ExpectInvariants();
}

TEST_F(RateLimiterTest, RefillIsExactForFractionalRates) {
  Make({.rate = 3, .capacity = 3});
  Drain();
  auto a = Acq(s2_, 1);  // 1/3 s = 333333333.33 ns: granted at ...334
  Advance(absl::Nanoseconds(333333333));
  EXPECT_FALSE(Ready(a));
  Advance(absl::Nanoseconds(1));
  EXPECT_TRUE(OkNow(a));
}

TEST_F(RateLimiterTest, QueuedAcquirersAreServedByTheTimerInOrder) {
  Drain();
  auto a = Acq(s1_, 1);
  auto b = Acq(s2_, 2);
  auto c = Acq(s3_, 1);
  EXPECT_EQ(limiter_->waiter_count(), 3u);
  Advance(absl::Milliseconds(100));
  EXPECT_TRUE(OkNow(a));
  EXPECT_FALSE(Ready(b));
  Advance(absl::Milliseconds(199));
  EXPECT_FALSE(Ready(b));
  Advance(absl::Milliseconds(1));
  EXPECT_TRUE(OkNow(b));
  EXPECT_FALSE(Ready(c));
  Advance(absl::Milliseconds(100));
  EXPECT_TRUE(OkNow(c));
  ExpectInvariants();
}

TEST_F(RateLimiterTest, OneBigClockJumpServesEveryoneThatFits) {
  Drain();
  auto a = Acq(s1_, 2);
  auto b = Acq(s2_, 2);
  auto c = Acq(s3_, 2);
  Advance(absl::Milliseconds(450));  // 4.5 tokens: a and b
  EXPECT_TRUE(OkNow(a));
  EXPECT_TRUE(OkNow(b));
  EXPECT_FALSE(Ready(c));
  EXPECT_NEAR(limiter_->tokens(), 0.5, 1e-9);
  Advance(absl::Milliseconds(150));
  EXPECT_TRUE(OkNow(c));
}

TEST_F(RateLimiterTest, ALateLoopServesAtTheExactInstants) {
  Drain();
  auto a = Acq(s2_, 3);  // due at 300 ms
  auto b = Acq(s3_, 2);  // due at 500 ms
  // One jump past both: the cap must not swallow what they were owed.
  Advance(absl::Milliseconds(600));
  EXPECT_TRUE(OkNow(a));
  EXPECT_TRUE(OkNow(b));
  EXPECT_NEAR(limiter_->tokens(), 1, 1e-9);  // 100 ms since b's grant
  ExpectInvariants();
}

TEST_F(RateLimiterTest, ALateLoopDoesNotGrantAWaiterPastItsDeadline) {
  Drain();
  auto a = Acq(s1_, 1);                           // due at 100 ms
  auto b = Acq(s2_, 3, absl::Milliseconds(250));  // would be due at 400 ms
  auto c = Acq(s3_, 1);                           // behind b
  Advance(absl::Milliseconds(450));               // one jump
  EXPECT_TRUE(OkNow(a));
  EXPECT_EQ(CodeOf(b), absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(OkNow(c));  // granted at 250 ms, when b gave up
  EXPECT_NEAR((*c)->grant.tokens_left, 0.5, 1e-9);
  EXPECT_NEAR(limiter_->tokens(), 2.5, 1e-9);
  ExpectInvariants();
}

TEST_F(RateLimiterTest, TokensNeverExceedCapacityAfterALongIdle) {
  auto a = Acq(s1_, 1);
  ASSERT_TRUE(OkNow(a));
  Advance(absl::Hours(24 * 365));
  EXPECT_EQ(limiter_->tokens(), 5);
  auto b = Acq(s1_, 5);
  ASSERT_TRUE(OkNow(b));
  EXPECT_EQ((*b)->grant.tokens_left, 0);
  ExpectInvariants();
}

// --- Fair and unfair orders. ---

TEST_F(RateLimiterTest, FairNewcomerNeverPassesAQueuedWaiter) {
  Drain();
  auto big = Acq(s2_, 3);
  Advance(absl::Milliseconds(100));  // 1 token: enough for a newcomer of 1
  auto small = Acq(s3_, 1);
  EXPECT_FALSE(Ready(small));
  EXPECT_TRUE(limiter_->locked());
  auto try_once = Acq(s3_, 1, absl::ZeroDuration());
  EXPECT_EQ(CodeOf(try_once), absl::StatusCode::kDeadlineExceeded);
  Advance(absl::Milliseconds(200));
  EXPECT_TRUE(OkNow(big));
  EXPECT_FALSE(Ready(small));
  Advance(absl::Milliseconds(100));
  EXPECT_TRUE(OkNow(small));
  ExpectInvariants();
}

TEST_F(RateLimiterTest, UnfairSmallRequestsPassLargeOnes) {
  Make({.rate = 10, .capacity = 5, .fair = false});
  Drain();
  auto big = Acq(s1_, 4);
  auto small = Acq(s2_, 1);
  auto small2 = Acq(s3_, 1);  // same size: arrival order
  Advance(absl::Milliseconds(100));
  EXPECT_TRUE(OkNow(small));
  EXPECT_FALSE(Ready(small2));
  EXPECT_FALSE(Ready(big));
  Advance(absl::Milliseconds(100));
  EXPECT_TRUE(OkNow(small2));
  EXPECT_FALSE(Ready(big));
  // A newcomer that fits cuts in at once, before the queued big one.
  Advance(absl::Milliseconds(100));
  EXPECT_FALSE(limiter_->locked());
  auto cutter = Acq(s3_, 1);
  EXPECT_TRUE(OkNow(cutter));
  EXPECT_FALSE(Ready(big));
  Advance(absl::Milliseconds(399));
  EXPECT_FALSE(Ready(big));
  Advance(absl::Milliseconds(1));
  EXPECT_TRUE(OkNow(big));
  ExpectInvariants();
}

TEST_F(RateLimiterTest, UnfairNewSmallWaiterBecomesTheFrontAndIsRetimed) {
  Make({.rate = 10, .capacity = 5, .fair = false});
  Drain();
  auto big = Acq(s1_, 4);
  Advance(absl::Milliseconds(50));
  auto small = Acq(s2_, 1);  // 0.5 there: fits after 50 ms more
  EXPECT_FALSE(Ready(small));
  Advance(absl::Milliseconds(49));
  EXPECT_FALSE(Ready(small));
  Advance(absl::Milliseconds(1));
  EXPECT_TRUE(OkNow(small));
  EXPECT_FALSE(Ready(big));
  ExpectInvariants();
}

// --- Release and set_rate. ---

TEST_F(RateLimiterTest, ReleaseServesWaitersAtOnceAndCapsAtCapacity) {
  Drain();
  auto a = Acq(s2_, 2);
  ASSERT_TRUE(limiter_->Release(2).ok());
  Settle();  // the clock did not move
  ASSERT_TRUE(OkNow(a));
  EXPECT_EQ((*a)->grant.tokens_left, 0);
  ASSERT_TRUE(limiter_->Release(100).ok());
  EXPECT_EQ(limiter_->tokens(), 5);
  ASSERT_TRUE(limiter_->Release().ok());  // default 1, still capped
  EXPECT_EQ(limiter_->tokens(), 5);
  ExpectInvariants();
}

TEST_F(RateLimiterTest, InvalidReleaseAndSetRateChangeNothing) {
  Drain();
  auto queued = Acq(s2_, 2);
  Advance(absl::Milliseconds(100));
  for (double bad : {0.0, -1.0, kNaN, kInf, -kInf}) {
    absl::Status release = limiter_->Release(bad);
    EXPECT_EQ(release.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(
        absl::StrContains(release.message(), "tokens must be finite and > 0"))
        << release;
    absl::Status set_rate = limiter_->SetRate(bad);
    EXPECT_EQ(set_rate.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(
        absl::StrContains(set_rate.message(), "rate must be finite and > 0"))
        << set_rate;
    EXPECT_EQ(limiter_->rate(), 10);
    EXPECT_EQ(limiter_->capacity(), 5);
    EXPECT_NEAR(limiter_->tokens(), 1, 1e-9);
    EXPECT_EQ(limiter_->waiter_count(), 1u);
    ExpectInvariants();
  }
  Advance(absl::Milliseconds(100));  // timing untouched
  EXPECT_TRUE(OkNow(queued));
}

TEST_F(RateLimiterTest, SetRateRefillsAtTheOldRateThenRetimesTheQueue) {
  Drain();
  auto a = Acq(s2_, 3);  // due at 300 ms at 10/s
  Advance(absl::Milliseconds(100));
  ASSERT_TRUE(limiter_->SetRate(20).ok());
  EXPECT_NEAR(limiter_->tokens(), 1, 1e-9);  // 100 ms at the old rate
  // 2 more tokens at 20/s: 100 ms, not the 200 ms of the old rate.
  Advance(absl::Milliseconds(99));
  EXPECT_FALSE(Ready(a));
  Advance(absl::Milliseconds(1));
  EXPECT_TRUE(OkNow(a));
  ExpectInvariants();
}

TEST_F(RateLimiterTest, LoweringTheRateDelaysQueuedWaiters) {
  Drain();
  auto a = Acq(s2_, 2);  // due at 200 ms at 10/s
  Advance(absl::Milliseconds(100));
  ASSERT_TRUE(limiter_->SetRate(1).ok());
  Advance(absl::Milliseconds(100));  // would have been granted at the old rate
  EXPECT_FALSE(Ready(a));
  Advance(absl::Milliseconds(899));
  EXPECT_FALSE(Ready(a));
  Advance(absl::Milliseconds(1));
  EXPECT_TRUE(OkNow(a));
  EXPECT_EQ(limiter_->capacity(), 5);  // max(5, 1)
}

TEST_F(RateLimiterTest, CanTakeNowAndTakeNowChargeWithoutQueueing) {
  // rate 10/s, capacity 5, full.
  EXPECT_TRUE(limiter_->CanTakeNow(5));
  EXPECT_FALSE(limiter_->CanTakeNow(5.5));  // above capacity: never
  EXPECT_FALSE(limiter_->CanTakeNow(kNaN));
  ASSERT_TRUE(limiter_->TakeNow(3).ok());
  EXPECT_NEAR(limiter_->tokens(), 2, 1e-9);
  EXPECT_FALSE(limiter_->CanTakeNow(3));
  EXPECT_EQ(limiter_->TakeNow(3).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NEAR(limiter_->tokens(), 2, 1e-9);  // a refusal takes nothing
  EXPECT_EQ(limiter_->TakeNow(-1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(limiter_->waiter_count(), 0u);
  Advance(absl::Milliseconds(100));  // +1 token
  EXPECT_TRUE(limiter_->CanTakeNow(3));
  ExpectInvariants();
}

TEST_F(RateLimiterTest, TakeNowNeverPassesAQueuedWaiterInFairMode) {
  Drain();
  auto a = Acq(s2_, 2);  // queued, due at 200 ms
  Advance(absl::Milliseconds(150));
  EXPECT_FALSE(limiter_->CanTakeNow(1));  // 1.5 there, but a is first
  Advance(absl::Milliseconds(50));
  EXPECT_TRUE(OkNow(a));
  EXPECT_FALSE(limiter_->CanTakeNow(1));  // a took the 2
  Advance(absl::Milliseconds(100));
  EXPECT_TRUE(limiter_->CanTakeNow(1));
}

TEST_F(RateLimiterTest, TimeToFullIsTheRefillOfWhatIsMissing) {
  EXPECT_EQ(limiter_->TimeToFull(), absl::ZeroDuration());
  ASSERT_TRUE(limiter_->TakeNow(2).ok());
  EXPECT_EQ(limiter_->TimeToFull(), absl::Milliseconds(200));
  Advance(absl::Milliseconds(150));
  EXPECT_EQ(limiter_->TimeToFull(), absl::Milliseconds(50));
  Advance(absl::Milliseconds(50));
  EXPECT_EQ(limiter_->TimeToFull(), absl::ZeroDuration());
}

TEST_F(RateLimiterTest, ReconfigureLowersTheCapacityAndCutsTheLevel) {
  ASSERT_TRUE(limiter_->TakeNow(1).ok());  // 4 of 5
  ASSERT_TRUE(limiter_->Reconfigure(/*new_rate=*/1, /*new_capacity=*/2).ok());
  EXPECT_EQ(limiter_->rate(), 1);
  EXPECT_EQ(limiter_->capacity(), 2);
  EXPECT_NEAR(limiter_->tokens(), 2, 1e-9);  // cut to the new capacity
  ASSERT_TRUE(limiter_->TakeNow(2).ok());
  Advance(absl::Milliseconds(999));
  EXPECT_FALSE(limiter_->CanTakeNow(1));  // 1/s now
  Advance(absl::Milliseconds(1));
  EXPECT_TRUE(limiter_->CanTakeNow(1));
  // Raising keeps the level and refills up to the new capacity.
  ASSERT_TRUE(limiter_->Reconfigure(10, 8).ok());
  EXPECT_NEAR(limiter_->tokens(), 1, 1e-9);
  Advance(absl::Seconds(2));
  EXPECT_NEAR(limiter_->tokens(), 8, 1e-9);
  ExpectInvariants();
}

TEST_F(RateLimiterTest, ReconfigureRefusesACapacityBelowAQueuedRequest) {
  Drain();
  auto a = Acq(s2_, 4);
  const absl::Status refused = limiter_->Reconfigure(10, 3);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(refused.message(), "largest queued request (4)")) << refused;
  EXPECT_EQ(limiter_->capacity(), 5);  // unchanged
  EXPECT_EQ(limiter_->Reconfigure(0, 3).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(limiter_->Reconfigure(1, kInf).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(limiter_->Reconfigure(20, 4).ok());  // re-times a: 200 ms at 20/s
  Advance(absl::Milliseconds(199));
  EXPECT_FALSE(Ready(a));
  Advance(absl::Milliseconds(1));
  EXPECT_TRUE(OkNow(a));
}

TEST_F(RateLimiterTest, SetRateAboveCapacityRaisesCapacityButAddsNoTokens) {
  Drain();
  ASSERT_TRUE(limiter_->SetRate(20).ok());
  EXPECT_EQ(limiter_->rate(), 20);
  EXPECT_EQ(limiter_->capacity(), 20);
  EXPECT_EQ(limiter_->tokens(), 0);
  Advance(absl::Seconds(10));
  EXPECT_EQ(limiter_->tokens(), 20);
  auto big = Acq(s2_, 20);  // valid now that capacity is 20
  EXPECT_TRUE(OkNow(big));
  ASSERT_TRUE(limiter_->SetRate(2).ok());
  EXPECT_EQ(limiter_->capacity(), 20);  // never lowered
}

// --- Refusals and retry-after. ---

TEST_F(RateLimiterTest, TryOnceIsGrantedWhenItFitsAndNeverQueues) {
  auto a = Acq(s1_, 4, absl::ZeroDuration());
  ASSERT_TRUE(OkNow(a));
  auto b = Acq(s1_, 2, absl::ZeroDuration());
  ASSERT_TRUE(Ready(b));
  EXPECT_EQ(CodeOf(b), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ((*b)->retry_after, absl::Milliseconds(100));  // (2 - 1) / 10
  EXPECT_EQ(limiter_->waiter_count(), 0u);
  EXPECT_EQ(limiter_->tokens(), 1);  // the refusal took nothing
  Advance((*b)->retry_after);
  auto again = Acq(s1_, 2, absl::ZeroDuration());
  EXPECT_TRUE(OkNow(again));
}

TEST_F(RateLimiterTest, FairRetryAfterCountsEveryQueuedRequest) {
  Drain();
  auto a = Acq(s2_, 3);
  auto b = Acq(s2_, 1);
  Advance(absl::Milliseconds(50));  // 0.5 there
  auto refused = Acq(s3_, 2, absl::ZeroDuration());
  ASSERT_EQ(CodeOf(refused), absl::StatusCode::kDeadlineExceeded);
  // (3 + 1 queued + 2 requested - 0.5 there) / 10 per second.
  EXPECT_EQ((*refused)->retry_after, absl::Milliseconds(550));
  Advance((*refused)->retry_after);
  EXPECT_TRUE(OkNow(a));
  EXPECT_TRUE(OkNow(b));
  auto retry = Acq(s3_, 2, absl::ZeroDuration());
  EXPECT_TRUE(OkNow(retry));  // the advice was exact
}

TEST_F(RateLimiterTest, UnfairRetryAfterCountsOnlyRequestsServedFirst) {
  Make({.rate = 10, .capacity = 5, .fair = false});
  Drain();
  auto big = Acq(s2_, 4);    // served after a request of 2: not counted
  auto small = Acq(s2_, 1);  // served before: counted
  auto refused = Acq(s3_, 2, absl::ZeroDuration());
  ASSERT_EQ(CodeOf(refused), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ((*refused)->retry_after, absl::Milliseconds(300));  // (1 + 2) / 10
  Advance((*refused)->retry_after);
  EXPECT_TRUE(OkNow(small));
  EXPECT_FALSE(Ready(big));
  auto retry = Acq(s3_, 2, absl::ZeroDuration());
  EXPECT_TRUE(OkNow(retry));
  EXPECT_FALSE(Ready(big));  // the starvation the header warns about
  Advance(absl::Milliseconds(400));
  EXPECT_TRUE(OkNow(big));
}

TEST_F(RateLimiterTest, UnfairRetryAfterWithAnEmptyQueue) {
  Make({.rate = 4, .capacity = 8, .fair = false});
  auto a = Acq(s1_, 7);
  ASSERT_TRUE(OkNow(a));
  auto refused = Acq(s1_, 3, absl::ZeroDuration());
  EXPECT_EQ((*refused)->retry_after, absl::Milliseconds(500));  // (3 - 1) / 4
}

// --- locked(). ---

TEST_F(RateLimiterTest, LockedTellsWhetherAnAcquireOfOneWouldWait) {
  EXPECT_FALSE(limiter_->locked());
  auto a = Acq(s1_, 4.5);
  EXPECT_TRUE(OkNow(a));
  EXPECT_TRUE(limiter_->locked());  // 0.5 left
  Advance(absl::Milliseconds(50));
  EXPECT_FALSE(limiter_->locked());
  auto b = Acq(s2_, 3);  // fair: a queued waiter locks it for a newcomer
  EXPECT_FALSE(Ready(b));
  Advance(absl::Milliseconds(100));
  EXPECT_GE(limiter_->tokens(), 1);
  EXPECT_TRUE(limiter_->locked());
  Advance(absl::Milliseconds(100));
  EXPECT_TRUE(OkNow(b));
  EXPECT_TRUE(limiter_->locked());  // 0 left
}

TEST_F(RateLimiterTest, UnfairLockedIgnoresLargerQueuedRequests) {
  Make({.rate = 10, .capacity = 5, .fair = false});
  Drain();
  auto big = Acq(s2_, 4);
  EXPECT_TRUE(limiter_->locked());
  Advance(absl::Milliseconds(100));
  EXPECT_FALSE(limiter_->locked());  // a request of 1 would cut in
}

TEST_F(RateLimiterTest, ReadersSeeWaitersDueBeforeTheLoopRunsTheirTimer) {
  Drain();
  auto a = Acq(s2_, 1);
  clock_.Advance(absl::Milliseconds(150));  // the loop has not run
  EXPECT_FALSE(Ready(a));
  EXPECT_NEAR(limiter_->tokens(), 0.5, 1e-9);  // a's token is spoken for
  EXPECT_TRUE(limiter_->locked());
  ExpectInvariants();  // a timer is due, which is allowed
  // A newcomer arriving now still goes after a.
  auto b = Acq(s3_, 0.5);
  EXPECT_TRUE(OkNow(b));
  Settle();
  EXPECT_TRUE(OkNow(a));
}

// --- Leaving the queue: timeout, cancel, session end, Close. ---

TEST_F(RateLimiterTest, TimedOutWaiterConsumesNothingAndBlocksNoOne) {
  Drain();
  auto a = Acq(s2_, 3, absl::Milliseconds(200));
  auto b = Acq(s3_, 1);
  Advance(absl::Milliseconds(199));
  EXPECT_FALSE(Ready(a));
  EXPECT_FALSE(Ready(b));
  Advance(absl::Milliseconds(1));
  EXPECT_EQ(CodeOf(a), absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(OkNow(b));                          // served as soon as a left
  EXPECT_NEAR((*b)->grant.tokens_left, 1, 1e-9);  // a took nothing
  EXPECT_EQ(limiter_->waiter_count(), 0u);
  ExpectInvariants();
}

TEST_F(RateLimiterTest, PositiveTimeoutIsGrantedWhenTheRefillComesFirst) {
  Drain();
  auto a = Acq(s2_, 1, absl::Milliseconds(100));
  Advance(absl::Milliseconds(100));  // both due at once: the refill is armed
  ASSERT_TRUE(OkNow(a));             // first, so it wins
  auto b = Acq(s2_, 2, absl::Milliseconds(150));
  Advance(absl::Milliseconds(150));
  EXPECT_EQ(CodeOf(b), absl::StatusCode::kDeadlineExceeded);
  EXPECT_NEAR(limiter_->tokens(), 1.5, 1e-9);
}

TEST_F(RateLimiterTest, CancelRemovesTheWaiterWhichConsumesNothing) {
  runtime::CancellationSignal cancel;
  Drain();
  auto a = Acq(s2_, 4, std::nullopt, &cancel);
  auto b = Acq(s3_, 1);
  Advance(absl::Milliseconds(100));
  EXPECT_FALSE(Ready(b));
  cancel.Cancel();
  EXPECT_EQ(limiter_->waiter_count(), 0u);  // b was granted at once
  Settle();
  EXPECT_EQ(CodeOf(a), absl::StatusCode::kCancelled);
  ASSERT_TRUE(OkNow(b));
  EXPECT_NEAR((*b)->grant.tokens_left, 0, 1e-9);
  ExpectInvariants();
}

TEST_F(RateLimiterTest, AlreadyCancelledSignalFailsWithoutTakingTokens) {
  runtime::CancellationSignal cancel;
  cancel.Cancel();
  auto a = Acq(s1_, 1, std::nullopt, &cancel);
  EXPECT_EQ(CodeOf(a), absl::StatusCode::kCancelled);
  EXPECT_EQ(limiter_->tokens(), 5);
}

TEST_F(RateLimiterTest, GrantedAndCancelledInTheSameInstantGivesTheTokensBack) {
  runtime::CancellationSignal cancel;
  Drain();
  auto a = Acq(s2_, 2, std::nullopt, &cancel);
  auto b = Acq(s3_, 2);
  ASSERT_TRUE(limiter_->Release(2).ok());  // a is granted...
  EXPECT_EQ(limiter_->waiter_count(), 1u);
  EXPECT_FALSE(Ready(a));
  cancel.Cancel();  // ...and cancelled before it resumed
  EXPECT_EQ(limiter_->waiter_count(), 0u);  // its tokens went to b
  Settle();
  EXPECT_EQ(CodeOf(a), absl::StatusCode::kCancelled);
  ASSERT_TRUE(OkNow(b));
  EXPECT_EQ((*b)->grant.tokens_left, 0);
  EXPECT_EQ(limiter_->tokens(), 0);
  ExpectInvariants();
}

TEST_F(RateLimiterTest, SessionEndRightAfterAGrantGivesTheTokensToTheNext) {
  Drain();
  auto b = Acq(s2_, 1);
  auto c = Acq(s3_, 1);
  ASSERT_TRUE(limiter_->Release(1).ok());  // b granted, not resumed
  s2_.End();                               // gives b's token to c
  Settle();
  EXPECT_EQ(CodeOf(b), absl::StatusCode::kAborted);
  EXPECT_TRUE(OkNow(c));
  EXPECT_EQ(limiter_->tokens(), 0);
}

TEST_F(RateLimiterTest, GiveBackIsCappedAtCapacity) {
  runtime::CancellationSignal cancel;
  Drain();
  auto c = Acq(s2_, 3, std::nullopt, &cancel);
  ASSERT_TRUE(limiter_->Release(5).ok());  // c granted: 2 left
  ASSERT_TRUE(limiter_->Release(2).ok());  // 4 left, c not yet resumed
  cancel.Cancel();                         // 4 + 3 capped at 5
  EXPECT_EQ(limiter_->tokens(), 5);
  Settle();
  EXPECT_EQ(CodeOf(c), absl::StatusCode::kCancelled);
  ExpectInvariants();
}

TEST_F(RateLimiterTest, SessionEndCancelsWaitsAndReturnsNoGrantedTokens) {
  auto granted = Acq(s1_, 3);
  ASSERT_TRUE(OkNow(granted));
  auto w1 = Acq(s1_, 4);
  auto w2 = Acq(s1_, 3.5);
  auto other = Acq(s2_, 2);
  Advance(absl::Milliseconds(100));  // 3 there: w1 does not fit
  EXPECT_FALSE(Ready(other));
  s1_.End();
  Settle();
  EXPECT_EQ(CodeOf(w1), absl::StatusCode::kAborted);
  EXPECT_EQ(CodeOf(w2), absl::StatusCode::kAborted);
  ASSERT_TRUE(OkNow(other));  // w1 and w2 left: other goes at once
  EXPECT_NEAR((*other)->grant.tokens_left, 1,
              1e-9);  // 3 taken earlier stay taken
  EXPECT_FALSE(s1_.has_waiters());
  auto late = Acq(s1_, 1);
  EXPECT_EQ(CodeOf(late), absl::StatusCode::kAborted);
  ExpectInvariants();
}

TEST_F(RateLimiterTest, CloseFailsWaitersAndLaterCalls) {
  std::vector<Revocation> revoked;
  limiter_->set_revocation_callback(
      [&](const Revocation& r) { revoked.push_back(r); });
  Drain();
  auto a = Acq(s2_, 1);
  auto b = Acq(s3_, 2, absl::Seconds(10));
  limiter_->Close(absl::NotFoundError("deleted"));
  Settle();
  EXPECT_EQ(CodeOf(a), absl::StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(b), absl::StatusCode::kNotFound);
  EXPECT_TRUE(revoked.empty());  // no holds to revoke
  EXPECT_EQ(limiter_->waiter_count(), 0u);
  EXPECT_EQ(loop_.pending_timers(), 0u);
  auto c = Acq(s1_, 1);
  EXPECT_EQ(CodeOf(c), absl::StatusCode::kNotFound);
  EXPECT_EQ(limiter_->Release(1).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(limiter_->SetRate(1).code(), absl::StatusCode::kNotFound);
  ExpectInvariants();
}

TEST_F(RateLimiterTest, CloseWithdrawsGrantsNotYetDelivered) {
  Drain();
  auto a = Acq(s2_, 1);
  ASSERT_TRUE(limiter_->Release(1).ok());  // a granted, not resumed
  limiter_->Close(absl::NotFoundError("deleted"));
  Settle();
  EXPECT_EQ(CodeOf(a), absl::StatusCode::kNotFound);
}

TEST_F(RateLimiterTest, DestroyingTheLimiterFailsItsWaiters) {
  Drain();
  auto a = Acq(s2_, 1);
  limiter_.reset();
  Settle();
  EXPECT_EQ(CodeOf(a), absl::StatusCode::kAborted);
  EXPECT_EQ(loop_.pending_timers(), 0u);
}

class RateLimiterExtremesTest : public LoopTest {};

// Amounts near DBL_MAX: the retry-after must not overflow to infinity.
TEST_F(RateLimiterExtremesTest, RetryAfterOfHugeRequestsIsFinite) {
  Session s(1);
  RateLimiter limiter(&loop_, 0, {.rate = 1e308, .capacity = 1e308});
  auto first = Launch([&] { return limiter.Acquire(Opts(s), 1e308); });
  ASSERT_TRUE(OkNow(first));
  auto queued = Launch([&] { return limiter.Acquire(Opts(s, "q"), 1e308); });
  EXPECT_FALSE(Ready(queued));
  auto refused = Launch(
      [&] { return limiter.Acquire(Opts(s, "t", absl::ZeroDuration()), 1e308); });
  ASSERT_EQ(CodeOf(refused), absl::StatusCode::kDeadlineExceeded);
  // The queued request needs 1 s of refill, this one 1 s more.
  EXPECT_GE((*refused)->retry_after, absl::Milliseconds(1999));
  EXPECT_LE((*refused)->retry_after, absl::Milliseconds(2001));
}

}  // namespace
}  // namespace baton::core

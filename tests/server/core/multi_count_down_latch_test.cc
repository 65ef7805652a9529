// Copyright 2026 The Baton Authors.

#include "server/core/multi_count_down_latch.h"

#include <memory>
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "tests/testing/loop_test.h"

namespace baton::core {
namespace {

using ::baton::testing::CodeOf;
using ::baton::testing::LoopTest;
using ::baton::testing::OkNow;
using ::baton::testing::Pending;
using ::baton::testing::Ready;

class MultiCountDownLatchTest : public LoopTest {
 protected:
  // Answer every pending wait before the fixture's members go away.
  ~MultiCountDownLatchTest() override {
    latch_.Close(absl::AbortedError("test over"));
    Settle();
  }

  Pending<WaitResult> WaitOn(Session& s, const std::string& key,
                             bool strict = false,
                             std::optional<absl::Duration> timeout = {},
                             runtime::CancellationSignal* cancel = nullptr) {
    return Launch([&] {
      return latch_.Wait(Opts(s, "o", timeout, cancel), key, strict);
    });
  }
  Pending<WaitResult> WaitAllOf(Session& s,
                                std::optional<absl::Duration> timeout = {},
                                runtime::CancellationSignal* cancel = nullptr) {
    return Launch(
        [&] { return latch_.WaitAll(Opts(s, "o", timeout, cancel)); });
  }

  void ExpectInvariants() {
    absl::Status s = latch_.CheckInvariants();
    EXPECT_TRUE(s.ok()) << s;
  }

  Session s1_{1}, s2_{2}, s3_{3};
  MultiCountDownLatch latch_{&loop_, 0, {{"a", 2}, {"b", 1}, {"done", 0}}};
};

TEST_F(MultiCountDownLatchTest, PerKeyAndAllKeysWaits) {
  auto a = WaitOn(s1_, "a");
  auto a2 = WaitOn(s2_, "a");
  auto b = WaitOn(s1_, "b");
  auto all = WaitAllOf(s3_);
  Settle();
  EXPECT_FALSE(Ready(a) || Ready(a2) || Ready(b) || Ready(all));
  EXPECT_EQ(latch_.waiter_count("a"), 2u);
  EXPECT_EQ(latch_.wait_all_count(), 1u);
  ExpectInvariants();
  ASSERT_TRUE(latch_.CountDown("a").ok());
  Settle();
  EXPECT_FALSE(Ready(a) || Ready(b) || Ready(all));
  ASSERT_TRUE(latch_.CountDown("b").ok());
  Settle();
  EXPECT_TRUE(OkNow(b));
  EXPECT_FALSE(Ready(a) || Ready(all));
  EXPECT_FALSE(latch_.broken());
  ASSERT_TRUE(latch_.CountDown("a").ok());
  Settle();
  EXPECT_TRUE(OkNow(a));  // every waiter of the key
  EXPECT_TRUE(OkNow(a2));
  EXPECT_TRUE(OkNow(all));
  EXPECT_TRUE(latch_.broken());
  EXPECT_EQ(latch_.waiter_count("a"), 0u);
  ExpectInvariants();
  // Finished: waits are answered at once.
  EXPECT_TRUE(OkNow(WaitOn(s1_, "a")));
  EXPECT_TRUE(OkNow(WaitAllOf(s1_)));
}

TEST_F(MultiCountDownLatchTest, CountDownNeverGoesBelowZero) {
  ASSERT_TRUE(latch_.CountDown("b").ok());
  EXPECT_EQ(latch_.count("b"), 0);
  EXPECT_TRUE(latch_.CountDown("b").ok());  // non-strict: a no-op
  EXPECT_EQ(latch_.count("b"), 0);
  EXPECT_EQ(latch_.CountDown("b", /*strict=*/true).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(latch_.count("b"), 0);
  ExpectInvariants();
}

TEST_F(MultiCountDownLatchTest, StrictCountDownRejectsUnknownAndFinishedKeys) {
  absl::Status unknown = latch_.CountDown("nope", /*strict=*/true);
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(unknown.message().find("'nope'"), std::string::npos) << unknown;
  absl::Status finished = latch_.CountDown("done", /*strict=*/true);
  EXPECT_EQ(finished.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(finished.message().find("'done'"), std::string::npos) << finished;
  EXPECT_TRUE(latch_.CountDown("nope").ok());
  EXPECT_TRUE(latch_.CountDown("done").ok());
  EXPECT_EQ(latch_.count("a"), 2);
  EXPECT_EQ(latch_.count("b"), 1);
  EXPECT_EQ(latch_.count("done"), 0);
  EXPECT_EQ(latch_.count("nope"), std::nullopt);
  EXPECT_EQ(latch_.counts().size(), 3u);
  ASSERT_TRUE(latch_.CountDown("a", /*strict=*/true).ok());
  EXPECT_EQ(latch_.count("a"), 1);
}

TEST_F(MultiCountDownLatchTest, CountDownAllTakesOneOffEveryUnfinishedCounter) {
  auto a = WaitOn(s1_, "a");
  auto b = WaitOn(s1_, "b");
  auto all = WaitAllOf(s2_);
  ASSERT_TRUE(latch_.CountDownAll().ok());
  EXPECT_EQ(latch_.count("a"), 1);
  EXPECT_EQ(latch_.count("b"), 0);
  EXPECT_EQ(latch_.count("done"), 0);
  Settle();
  EXPECT_TRUE(OkNow(b));
  EXPECT_FALSE(Ready(a) || Ready(all));
  ASSERT_TRUE(latch_.CountDownAll().ok());
  Settle();
  EXPECT_TRUE(OkNow(a));
  EXPECT_TRUE(OkNow(all));
  EXPECT_TRUE(latch_.broken());
  ASSERT_TRUE(latch_.CountDownAll().ok());  // nothing left: a no-op
  for (const auto& [key, count] : latch_.counts()) EXPECT_EQ(count, 0) << key;
  ExpectInvariants();
}

TEST_F(MultiCountDownLatchTest, NonPositiveCountsStartFinished) {
  MultiCountDownLatch latch(&loop_, 0, {{"x", 0}, {"y", -5}});
  EXPECT_EQ(latch.count("y"), 0);
  EXPECT_TRUE(latch.broken());
  EXPECT_TRUE(OkNow(Launch([&] { return latch.Wait(Opts(s1_), "y"); })));
  EXPECT_TRUE(OkNow(Launch([&] { return latch.WaitAll(Opts(s1_)); })));
  EXPECT_TRUE(latch.CheckInvariants().ok());
  EXPECT_FALSE(latch_.broken());  // the fixture's has unfinished counters
}

TEST_F(MultiCountDownLatchTest, AnEmptyLatchIsBroken) {
  MultiCountDownLatch latch(&loop_, 0, {});
  EXPECT_TRUE(latch.broken());
  EXPECT_TRUE(OkNow(Launch([&] { return latch.WaitAll(Opts(s1_)); })));
  EXPECT_TRUE(latch.CountDownAll().ok());
}

TEST_F(MultiCountDownLatchTest, ValidateCountsRejectsANegativeCountNamingItsKey) {
  EXPECT_TRUE(MultiCountDownLatch::ValidateCounts({{"a", 1}, {"b", 0}}).ok());
  const absl::Status bad = MultiCountDownLatch::ValidateCounts({{"a", 1}, {"db", -1}});
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.message(), "counts[\"db\"] must be >= 0 (0 starts the counter finished), got -1")
      << bad;
  const absl::Status quoted = MultiCountDownLatch::ValidateCounts({{"a\"b", -7}});
  EXPECT_NE(quoted.message().find("counts[\"a\\\"b\"]"), std::string::npos) << quoted;
}

TEST_F(MultiCountDownLatchTest, ValidateCountsRejectsAnEmptyKey) {
  EXPECT_TRUE(MultiCountDownLatch::ValidateCounts({}).ok());
  absl::Status bad = MultiCountDownLatch::ValidateCounts({{"a", 1}, {"", 3}});
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("non-empty"), std::string::npos) << bad;
}

TEST_F(MultiCountDownLatchTest, WaitOnUnknownKey) {
  auto strict = WaitOn(s1_, "nope", /*strict=*/true);
  ASSERT_TRUE(Ready(strict));
  EXPECT_EQ(CodeOf(strict), absl::StatusCode::kNotFound);
  EXPECT_NE((*strict)->status.message().find("'nope'"), std::string::npos);
  auto lenient = WaitOn(s1_, "nope");
  EXPECT_TRUE(OkNow(lenient));
  EXPECT_EQ(latch_.waiter_count("nope"), 0u);
  // strict on a known key waits as usual.
  auto known = WaitOn(s1_, "b", /*strict=*/true);
  EXPECT_FALSE(Ready(known));
  ASSERT_TRUE(latch_.CountDown("b").ok());
  Settle();
  EXPECT_TRUE(OkNow(known));
}

TEST_F(MultiCountDownLatchTest, TimeoutAbsentWaitsForever) {
  auto a = WaitOn(s1_, "a");
  auto all = WaitAllOf(s1_);
  Advance(absl::Hours(24));
  EXPECT_FALSE(Ready(a) || Ready(all));
}

TEST_F(MultiCountDownLatchTest, TimeoutZeroTriesOnce) {
  auto a = WaitOn(s1_, "a", false, absl::ZeroDuration());
  ASSERT_TRUE(Ready(a));
  EXPECT_EQ(CodeOf(a), absl::StatusCode::kDeadlineExceeded);
  auto all = WaitAllOf(s1_, absl::ZeroDuration());
  EXPECT_EQ(CodeOf(all), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(latch_.waiter_count("a"), 0u);
  EXPECT_EQ(latch_.wait_all_count(), 0u);
  EXPECT_TRUE(OkNow(WaitOn(s1_, "done", false, absl::ZeroDuration())));
}

TEST_F(MultiCountDownLatchTest, PositiveTimeoutLeavesAndBlocksNoOne) {
  auto a = WaitOn(s1_, "b", false, absl::Seconds(3));
  auto other = WaitOn(s2_, "b");
  auto all = WaitAllOf(s1_, absl::Seconds(3));
  Advance(absl::Milliseconds(2999));
  EXPECT_FALSE(Ready(a) || Ready(all));
  Advance(absl::Milliseconds(1));
  EXPECT_EQ(CodeOf(a), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(CodeOf(all), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(latch_.waiter_count("b"), 1u);
  EXPECT_EQ(latch_.wait_all_count(), 0u);
  EXPECT_EQ(latch_.count("b"), 1);  // nothing consumed
  ASSERT_TRUE(latch_.CountDown("b").ok());
  Settle();
  EXPECT_TRUE(OkNow(other));
  ExpectInvariants();
}

TEST_F(MultiCountDownLatchTest, CancelRemovesTheWaiter) {
  runtime::CancellationSignal cancel, cancel_all;
  auto a = WaitOn(s1_, "a", false, {}, &cancel);
  auto all = WaitAllOf(s1_, {}, &cancel_all);
  cancel.Cancel();
  cancel_all.Cancel();
  Settle();
  EXPECT_EQ(CodeOf(a), absl::StatusCode::kCancelled);
  EXPECT_EQ(CodeOf(all), absl::StatusCode::kCancelled);
  EXPECT_EQ(latch_.waiter_count("a"), 0u);
  EXPECT_EQ(latch_.wait_all_count(), 0u);
  auto late = WaitOn(s1_, "a", false, {}, &cancel);  // already cancelled
  EXPECT_EQ(CodeOf(late), absl::StatusCode::kCancelled);
  ExpectInvariants();
}

TEST_F(MultiCountDownLatchTest, WokenAndCancelledInTheSameInstantLosesNothing) {
  runtime::CancellationSignal cancel;
  auto a = WaitOn(s1_, "b", false, {}, &cancel);
  auto other = WaitOn(s2_, "b");
  ASSERT_TRUE(latch_.CountDown("b").ok());  // both woken...
  cancel.Cancel();                          // ...one cancelled before resuming
  Settle();
  EXPECT_EQ(CodeOf(a), absl::StatusCode::kCancelled);
  EXPECT_TRUE(OkNow(other));
  EXPECT_EQ(latch_.count("b"), 0);  // the counter stays finished
  EXPECT_TRUE(OkNow(WaitOn(s1_, "b")));
}

TEST_F(MultiCountDownLatchTest, SessionEndFailsItsWaitsAndCountsSurvive) {
  auto a = WaitOn(s1_, "a");
  auto all = WaitAllOf(s1_);
  auto other = WaitOn(s2_, "a");
  ASSERT_TRUE(latch_.CountDown("a").ok());  // counted down "by" s1
  s1_.End();
  Settle();
  EXPECT_EQ(CodeOf(a), absl::StatusCode::kAborted);
  EXPECT_EQ(CodeOf(all), absl::StatusCode::kAborted);
  EXPECT_FALSE(Ready(other));
  EXPECT_EQ(latch_.count("a"), 1);  // not undone by the session's end
  EXPECT_EQ(latch_.waiter_count("a"), 1u);
  EXPECT_FALSE(s1_.has_holds());
  auto late = WaitOn(s1_, "a");
  EXPECT_EQ(CodeOf(late), absl::StatusCode::kAborted);
  ASSERT_TRUE(latch_.CountDown("a").ok());
  Settle();
  EXPECT_TRUE(OkNow(other));
  ExpectInvariants();
}

TEST_F(MultiCountDownLatchTest, SessionEndInTheSameInstantAsTheWakeUp) {
  auto a = WaitOn(s1_, "b");
  auto other = WaitOn(s2_, "b");
  ASSERT_TRUE(latch_.CountDown("b").ok());
  s1_.End();
  Settle();
  EXPECT_EQ(CodeOf(a), absl::StatusCode::kAborted);
  EXPECT_TRUE(OkNow(other));
}

TEST_F(MultiCountDownLatchTest, CloseFailsEveryWait) {
  auto a = WaitOn(s1_, "a");
  auto all = WaitAllOf(s2_);
  auto woken = WaitOn(s3_, "b");
  ASSERT_TRUE(latch_.CountDown("b").ok());  // woken, not yet resumed
  latch_.Close(absl::NotFoundError("deleted"));
  Settle();
  EXPECT_EQ(CodeOf(a), absl::StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(all), absl::StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(woken), absl::StatusCode::kNotFound);
  EXPECT_EQ(latch_.CountDown("a").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(latch_.CountDownAll().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(WaitOn(s1_, "a")), absl::StatusCode::kNotFound);
  EXPECT_EQ(CodeOf(WaitAllOf(s1_)), absl::StatusCode::kNotFound);
  ExpectInvariants();
}

TEST_F(MultiCountDownLatchTest, DestroyingTheInstanceAnswersEveryWait) {
  auto latch = std::make_unique<MultiCountDownLatch>(
      &loop_, 0, MultiCountDownLatch::Counts{{"k", 1}});
  auto w = Launch([&] { return latch->Wait(Opts(s1_), "k"); });
  latch.reset();
  Settle();
  EXPECT_EQ(CodeOf(w), absl::StatusCode::kAborted);
}

}  // namespace
}  // namespace baton::core

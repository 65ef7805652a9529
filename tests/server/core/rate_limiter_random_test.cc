// Copyright 2026 The Baton Authors.
//
// Seeded randomized test of RateLimiter: many sessions acquire random amounts
// with random timeouts and cancellations while tokens are released, the rate
// changes, sessions end and the manual clock moves. After every step the
// limiter's own invariants hold, and so does a model kept here:
//   - conservation: tokens granted <= initial capacity + integral of the rate
//     over time + tokens released;
//   - the bucket is within [0, capacity];
//   - waiters pending according to the answers received == waiter_count();
//   - fair mode: waiters granted from the queue are granted in arrival
//     order, and an at-once grant leaves no one queued;
//   - locked() agrees with what a try-once Acquire(1) then gets;
//   - at the end, every launched acquire was answered exactly once.

#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/core/rate_limiter.h"
#include "server/runtime/task.h"
#include "tests/testing/loop_test.h"

namespace baton::core {
namespace {

using ::baton::testing::LoopTest;

// One launched acquire, as the test saw it.
struct Record {
  int id = 0;
  double tokens = 0;
  bool launch_returned = false;  // set once Launch() came back
  bool answered_inline = false;  // answered before Launch() came back
  runtime::CancellationSignal* cancel = nullptr;
  int answers = 0;
  WaitResult result;
};

// What the test observed over the run.
struct Tally {
  std::size_t launched = 0;
  std::size_t answered = 0;
  double granted_tokens = 0;            // sum over OK answers
  std::vector<int> queued_grant_order;  // ids granted after waiting
};

class RateLimiterRandomTest
    : public LoopTest,
      public ::testing::WithParamInterface<std::tuple<std::uint64_t, bool>> {
 protected:
  static runtime::Task<void> RunAcquire(RateLimiter* limiter,
                                        WaitOptions options, Record* record,
                                        Tally* tally) {
    WaitResult result =
        co_await limiter->Acquire(std::move(options), record->tokens);
    if (++record->answers > 1)
      ADD_FAILURE() << "answered twice: " << record->id;
    ++tally->answered;
    record->answered_inline = !record->launch_returned;
    if (result.ok()) {
      tally->granted_tokens += record->tokens;
      if (!record->answered_inline) {
        tally->queued_grant_order.push_back(record->id);
      }
    }
    record->result = std::move(result);
  }

  Record* LaunchAcquire(Session* session, double tokens,
                        std::optional<absl::Duration> timeout,
                        runtime::CancellationSignal* cancel) {
    records_.push_back(Record{.id = static_cast<int>(records_.size()),
                              .tokens = tokens,
                              .cancel = cancel});
    Record* record = &records_.back();
    ++tally_.launched;
    runtime::Detach(RunAcquire(limiter_.get(),
                               WaitOptions{.session = session,
                                           .owner_key = "k",
                                           .timeout = timeout,
                                           .cancel = cancel},
                               record, &tally_));
    record->launch_returned = true;
    return record;
  }

  // TearDown() answers whatever an early failure left pending, so that no
  // signal is destroyed while a wait listens to it.
  void TearDown() override {
    for (auto& session : sessions_) session->End();
    Settle();
    limiter_.reset();
    Settle();
  }

  Session* NewSession() {
    sessions_.push_back(std::make_unique<Session>(sessions_.size() + 1));
    return sessions_.back().get();
  }

  std::unique_ptr<RateLimiter> limiter_;
  std::deque<Record> records_;
  Tally tally_;
  std::vector<std::unique_ptr<Session>> sessions_;  // ended ones stay alive
  std::deque<runtime::CancellationSignal> signals_;
};

TEST_P(RateLimiterRandomTest, InvariantsHoldUnderRandomOperations) {
  const auto [seed, fair] = GetParam();
  std::mt19937_64 rng(seed);
  auto uniform = [&](double lo, double hi) {
    return std::uniform_real_distribution<double>(lo, hi)(rng);
  };
  auto chance = [&](double p) { return uniform(0, 1) < p; };
  auto pick = [&](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
  };

  RateLimiter::Options options{.rate = uniform(0.5, 10), .fair = fair};
  if (chance(0.7)) options.capacity = uniform(0.5, 3) * options.rate;
  ASSERT_TRUE(RateLimiter::Validate(options).ok());
  limiter_ = std::make_unique<RateLimiter>(&loop_, 0, options);
  const double initial_capacity = limiter_->capacity();

  constexpr int kLiveSessions = 6;
  std::vector<Session*> live;
  for (int i = 0; i < kLiveSessions; ++i) live.push_back(NewSession());

  double budget = initial_capacity;  // tokens that could ever be handed out
  const absl::Time start = clock_.Now();
  std::size_t checked_order = 0;  // fair order checked up to here

  // A random request size, sometimes invalid, sometimes round.
  auto random_tokens = [&]() -> double {
    const double cap = limiter_->capacity();
    const double r = uniform(0, 1);
    if (r < 0.01) return 0;
    if (r < 0.02) return -1;
    if (r < 0.025) return std::numeric_limits<double>::quiet_NaN();
    if (r < 0.03) return std::numeric_limits<double>::infinity();
    if (r < 0.04) return cap * 1.5;
    if (r < 0.15) return cap;
    if (r < 0.40) return std::min(cap, std::round(uniform(0.25, cap) * 4) / 4);
    return uniform(cap * 1e-3, cap);
  };
  auto random_timeout = [&]() -> std::optional<absl::Duration> {
    const double r = uniform(0, 1);
    if (r < 0.3) return std::nullopt;
    if (r < 0.5) return absl::ZeroDuration();
    return absl::Microseconds(static_cast<std::int64_t>(uniform(1, 2e6)));
  };
  // Cancels the signal of a random unanswered acquire (queued, or granted
  // and not yet resumed), if there is one among the last 200.
  auto cancel_someone = [&] {
    std::vector<runtime::CancellationSignal*> candidates;
    const std::size_t from = records_.size() > 200 ? records_.size() - 200 : 0;
    for (std::size_t i = from; i < records_.size(); ++i) {
      if (records_[i].answers == 0 && records_[i].cancel != nullptr &&
          !records_[i].cancel->cancelled()) {
        candidates.push_back(records_[i].cancel);
      }
    }
    if (!candidates.empty()) candidates[pick(candidates.size())]->Cancel();
  };
  auto end_someone = [&] {
    const std::size_t i = pick(live.size());
    live[i]->End();
    live[i] = NewSession();
  };

  for (int step = 0; step < 20000; ++step) {
    SCOPED_TRACE(absl::StrCat("seed ", seed, " fair ", fair, " step ", step));
    const double op = uniform(0, 1);
    if (op < 0.40) {  // acquire
      runtime::CancellationSignal* cancel = nullptr;
      if (chance(0.2)) cancel = &signals_.emplace_back();
      const double tokens = random_tokens();
      Record* record = LaunchAcquire(live[pick(live.size())], tokens,
                                     random_timeout(), cancel);
      const bool valid =
          std::isfinite(tokens) && tokens > 0 && tokens <= limiter_->capacity();
      if (!valid) {
        ASSERT_TRUE(record->answered_inline);
        ASSERT_EQ(record->result.status.code(),
                  absl::StatusCode::kInvalidArgument);
      }
      if (fair && record->answered_inline && record->result.ok()) {
        ASSERT_EQ(limiter_->waiter_count(), 0u)
            << "granted at once past a queued waiter";
      }
      if (record->answered_inline &&
          record->result.status.code() == absl::StatusCode::kDeadlineExceeded) {
        ASSERT_GT(record->result.retry_after, absl::ZeroDuration());
      }
    } else if (op < 0.48) {  // release
      const double tokens = chance(0.03) ? -uniform(0, 1) : uniform(0.1, 3);
      const absl::Status status = limiter_->Release(tokens);
      if (tokens > 0) {
        ASSERT_TRUE(status.ok()) << status;
        budget += tokens;
      } else {
        ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
      }
    } else if (op < 0.52) {  // set_rate
      const double old_capacity = limiter_->capacity();
      const double new_rate = chance(0.05) ? 0.0 : uniform(0.5, 20);
      const absl::Status status = limiter_->SetRate(new_rate);
      if (new_rate > 0) {
        ASSERT_TRUE(status.ok()) << status;
        ASSERT_EQ(limiter_->rate(), new_rate);
        ASSERT_EQ(limiter_->capacity(), std::max(old_capacity, new_rate));
      } else {
        ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
      }
    } else if (op < 0.60) {
      cancel_someone();
    } else if (op < 0.63) {
      end_someone();
    } else if (op < 0.68) {  // a grant, then a leave in the same instant
      const double tokens = uniform(0.5, 3);
      ASSERT_TRUE(limiter_->Release(tokens).ok());
      budget += tokens;
      if (chance(0.7)) {
        cancel_someone();
      } else {
        end_someone();
      }
    } else if (op < 0.73) {  // locked() vs a try-once acquire of 1
      if (limiter_->capacity() >= 1) {
        const bool locked = limiter_->locked();
        Record* record = LaunchAcquire(live[pick(live.size())], 1,
                                       absl::ZeroDuration(), nullptr);
        ASSERT_TRUE(record->answered_inline);
        if (record->result.status.code() != absl::StatusCode::kAborted) {
          ASSERT_EQ(record->result.ok(), !locked) << record->result.status;
        }
      } else {
        ASSERT_TRUE(limiter_->locked());
      }
    } else {  // the clock moves
      const double r = uniform(0, 1);
      absl::Duration d;
      if (r < 0.1) {
        d = absl::Nanoseconds(1);
      } else if (r < 0.9) {
        d = absl::Microseconds(static_cast<std::int64_t>(uniform(0, 3e5)));
      } else {
        d = absl::Milliseconds(static_cast<std::int64_t>(uniform(300, 5000)));
      }
      budget += limiter_->rate() * absl::ToDoubleSeconds(d);
      clock_.Advance(d);
    }
    Settle();

    // --- The model. ---
    ASSERT_TRUE(limiter_->CheckInvariants().ok())
        << limiter_->CheckInvariants();
    const double tokens = limiter_->tokens();
    ASSERT_GE(tokens, 0);
    ASSERT_LE(tokens, limiter_->capacity());
    // After Settle() every answer has been delivered, so what is not
    // answered is exactly what is queued.
    ASSERT_EQ(tally_.launched - tally_.answered, limiter_->waiter_count());
    ASSERT_LE(tally_.granted_tokens, budget * (1 + 1e-9) + 1e-9)
        << "more tokens granted than ever existed";
    if (fair) {
      const std::vector<int>& order = tally_.queued_grant_order;
      for (std::size_t i = checked_order; i < order.size(); ++i) {
        if (i > 0) {
          ASSERT_LT(order[i - 1], order[i])
              << "fair mode granted a later waiter first";
        }
      }
      checked_order = order.size();
    }
  }

  // Everyone leaves; every acquire gets exactly one answer.
  for (Session* session : live) session->End();
  Settle();
  EXPECT_EQ(limiter_->waiter_count(), 0u);
  EXPECT_TRUE(limiter_->CheckInvariants().ok());
  EXPECT_EQ(tally_.answered, tally_.launched);
  for (const Record& record : records_) {
    EXPECT_EQ(record.answers, 1) << "acquire " << record.id;
  }
  EXPECT_GT(clock_.Now() - start, absl::ZeroDuration());
  // The run exercised every kind of answer.
  std::map<absl::StatusCode, int> codes;
  int queued_grants = 0;
  for (const Record& record : records_) {
    ++codes[record.result.status.code()];
    if (record.result.ok() && !record.answered_inline) ++queued_grants;
  }
  for (absl::StatusCode code :
       {absl::StatusCode::kOk, absl::StatusCode::kInvalidArgument,
        absl::StatusCode::kDeadlineExceeded, absl::StatusCode::kCancelled,
        absl::StatusCode::kAborted}) {
    EXPECT_GT(codes[code], 0) << absl::StatusCodeToString(code);
  }
  EXPECT_GT(queued_grants, 100);
  RecordProperty("acquires", static_cast<int>(records_.size()));
  RecordProperty("granted_after_waiting", queued_grants);
  limiter_.reset();
  Settle();
}

INSTANTIATE_TEST_SUITE_P(
    Seeds, RateLimiterRandomTest,
    ::testing::Combine(::testing::Values(1u, 2u, 3u, 20260601u),
                       ::testing::Bool()),
    [](const ::testing::TestParamInfo<std::tuple<std::uint64_t, bool>>& info) {
      return absl::StrCat("seed", std::get<0>(info.param),
                          std::get<1>(info.param) ? "_fair" : "_unfair");
    });

}  // namespace
}  // namespace baton::core

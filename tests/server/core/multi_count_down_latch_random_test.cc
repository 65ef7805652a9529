// Copyright 2026 The Baton Authors.
//
// Randomized test of MultiCountDownLatch: in rounds, a latch with random
// counters is counted down (one key, all keys, strict or not, known keys or
// not) while many sessions wait on keys and on all keys with random timeouts
// and cancels, sessions end and the clock moves. The test keeps an exact
// model of the counters and of who waits, compares it with the instance
// after every step, and checks every answer against the counters.

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/core/multi_count_down_latch.h"
#include "tests/testing/loop_test.h"

namespace baton::core {
namespace {

using ::baton::testing::LoopTest;

constexpr int kSessions = 6;
constexpr int kKeys = 5;
constexpr int kRounds = 50;
constexpr int kStepsPerRound = 400;  // 20,000 steps per seed

struct Op {
  int id = 0;
  bool wait_all = false;
  std::string key;
  bool strict = false;
  Session* session = nullptr;
  absl::Time deadline = absl::InfiniteFuture();
  bool zero_timeout = false;
  bool has_cancel = false;
  runtime::CancellationSignal cancel;
  bool queued = false;   // in the model: waiting on the latch
  bool granted = false;  // in the model: woken, answer OK unless it left
  bool cancelled = false;
  bool session_ended = false;
  int answers = 0;
};

class MultiCountDownLatchRandomTest
    : public LoopTest,
      public ::testing::WithParamInterface<std::uint32_t> {
 protected:
  void SetUp() override {
    for (auto& slot : slots_)
      slot = std::make_unique<Session>(next_session_id_++);
  }

  void TearDown() override {
    if (latch_ != nullptr) EndRound(/*close=*/true);
  }

  static std::string KeyName(int i) { return absl::StrCat("key", i); }

  void NewRound() {
    MultiCountDownLatch::Counts counts;
    model_.clear();
    const int keys = static_cast<int>(Uniform(0, kKeys));
    for (int i = 0; i < keys; ++i) {
      const std::int64_t count = Uniform(0, 30);
      counts[KeyName(i)] = count;
      model_[KeyName(i)] = std::max<std::int64_t>(count, 0);
    }
    ASSERT_TRUE(MultiCountDownLatch::ValidateCounts(counts).ok());
    latch_ = std::make_unique<MultiCountDownLatch>(&loop_, 0, counts);
    previous_ = model_;
    closed_ = false;
  }

  // EndRound() closes the latch or ends every session, and checks that
  // every wait of the round was answered exactly once.
  void EndRound(bool close) {
    if (close) {
      closed_ = true;
      for (auto& op : ops_) op->queued = false;  // all fail
      latch_->Close(absl::NotFoundError("deleted"));
    } else {
      for (int s = 0; s < kSessions; ++s) EndSession(s);
    }
    Settle();
    for (const auto& op : ops_) {
      EXPECT_EQ(op->answers, 1) << "op " << op->id;
    }
    EXPECT_EQ(latch_->wait_all_count(), 0u);
    latch_.reset();
    ops_.clear();
  }

  static runtime::Task<void> RunWait(MultiCountDownLatchRandomTest* t, Op* op,
                                     WaitOptions options) {
    Waiter waiter =
        op->wait_all ? t->latch_->WaitAll(std::move(options))
                     : t->latch_->Wait(std::move(options), op->key, op->strict);
    WaitResult result = co_await waiter;
    t->OnAnswer(op, result);
  }

  void OnAnswer(Op* op, const WaitResult& result) {
    ++op->answers;
    EXPECT_EQ(op->answers, 1) << "op " << op->id << " answered twice";
    EXPECT_FALSE(op->queued) << "op " << op->id << " answered while waiting";
    const absl::StatusCode code = result.status.code();
    switch (code) {
      case absl::StatusCode::kOk:
        ++ok_;
        if (op->wait_all) {
          EXPECT_TRUE(latch_->broken()) << "wait_all " << op->id;
        } else if (auto count = latch_->count(op->key); count.has_value()) {
          EXPECT_EQ(*count, 0) << "wait " << op->id << " on " << op->key;
        } else {
          EXPECT_FALSE(op->strict);
        }
        break;
      case absl::StatusCode::kDeadlineExceeded:
        ++timeouts_;
        EXPECT_TRUE(op->zero_timeout || op->deadline <= clock_.Now());
        EXPECT_FALSE(op->granted) << "op " << op->id;
        break;
      case absl::StatusCode::kCancelled:
        EXPECT_TRUE(op->cancelled);
        break;
      case absl::StatusCode::kAborted:
        EXPECT_TRUE(op->session_ended);
        break;
      case absl::StatusCode::kNotFound:
        EXPECT_TRUE(closed_ || (op->strict && !latch_->count(op->key)))
            << result.status;
        break;
      default:
        ADD_FAILURE() << "op " << op->id << ": " << result.status;
    }
    // A woken wait answers OK unless it left before it resumed.
    if (op->granted && !op->cancelled && !op->session_ended && !closed_) {
      EXPECT_EQ(code, absl::StatusCode::kOk) << "op " << op->id;
    }
  }

  // --- Model. ---

  bool Broken() const {
    for (const auto& [key, count] : model_) {
      if (count > 0) return false;
    }
    return true;
  }

  void Wake(Op* op) {
    op->queued = false;
    op->granted = true;
  }

  void ModelDecrement(const std::string& key) {
    if (--model_[key] > 0) return;
    for (auto& op : ops_) {
      if (op->queued && !op->wait_all && op->key == key) Wake(op.get());
    }
    if (Broken()) {
      for (auto& op : ops_) {
        if (op->queued && op->wait_all) Wake(op.get());
      }
    }
  }

  // --- Steps. ---

  void StepWait(bool wait_all) {
    auto op = std::make_unique<Op>();
    op->id = next_op_id_++;
    op->wait_all = wait_all;
    op->session = slots_[Uniform(0, kSessions - 1)].get();
    op->key = KeyName(static_cast<int>(Uniform(0, kKeys)));  // may be unknown
    op->strict = Chance(40);
    WaitOptions options{.session = op->session, .owner_key = "o"};
    const std::int64_t mode = Uniform(0, 9);
    if (mode < 2) {
      options.timeout = absl::ZeroDuration();
      op->zero_timeout = true;
    } else if (mode < 6) {
      options.timeout = absl::Milliseconds(Uniform(1, 3000));
      op->deadline = clock_.Now() + *options.timeout;
    }
    if (Chance(30)) {
      op->has_cancel = true;
      options.cancel = &op->cancel;
    }
    // What the model expects at once.
    bool at_once = true;
    if (wait_all) {
      at_once = Broken() || op->zero_timeout;
    } else if (auto it = model_.find(op->key); it != model_.end()) {
      at_once = it->second == 0 || op->zero_timeout;
    }
    op->queued = !at_once;
    Op* raw = op.get();
    ops_.push_back(std::move(op));
    runtime::Detach(RunWait(this, raw, std::move(options)));
    EXPECT_EQ(raw->answers, at_once ? 1 : 0) << "op " << raw->id;
  }

  void StepCountDown() {
    const std::string key = KeyName(static_cast<int>(Uniform(0, kKeys)));
    const bool strict = Chance(50);
    auto it = model_.find(key);
    absl::StatusCode expected = absl::StatusCode::kOk;
    if (it == model_.end()) {
      if (strict) expected = absl::StatusCode::kNotFound;
    } else if (it->second == 0) {
      if (strict) expected = absl::StatusCode::kFailedPrecondition;
    } else {
      ModelDecrement(key);
    }
    EXPECT_EQ(latch_->CountDown(key, strict).code(), expected) << key;
  }

  void StepCountDownAll() {
    for (auto& [key, count] : model_) {
      if (count > 0) ModelDecrement(key);
    }
    EXPECT_TRUE(latch_->CountDownAll().ok());
  }

  void StepCancel() {
    std::vector<Op*> candidates;
    for (auto& op : ops_) {
      if (op->answers == 0 && op->has_cancel && !op->cancelled) {
        candidates.push_back(op.get());
      }
    }
    if (candidates.empty()) return;
    Op* op = candidates[Uniform(0, candidates.size() - 1)];
    op->cancelled = true;
    op->queued = false;
    op->cancel.Cancel();
  }

  void EndSession(int slot) {
    Session* session = slots_[slot].get();
    for (auto& op : ops_) {
      if (op->session == session && op->answers == 0) {
        op->session_ended = true;
        op->queued = false;
      }
    }
    const std::map<std::string, std::int64_t> before = model_;
    session->End();
    // Counts are nobody's: a session's end changes none.
    for (const auto& [key, count] : before) {
      EXPECT_EQ(latch_->count(key), count) << key;
    }
    graveyard_.push_back(std::move(slots_[slot]));
    slots_[slot] = std::make_unique<Session>(next_session_id_++);
  }

  void StepAdvance() {
    static constexpr std::int64_t kMillis[] = {0, 1, 200, 900, 2500};
    const absl::Duration d = absl::Milliseconds(kMillis[Uniform(0, 4)]);
    const absl::Time then = clock_.Now() + d;
    for (auto& op : ops_) {
      if (op->queued && op->deadline <= then) op->queued = false;
    }
    Advance(d);
  }

  void CheckModel() {
    absl::Status invariants = latch_->CheckInvariants();
    ASSERT_TRUE(invariants.ok()) << invariants;
    ASSERT_EQ(latch_->counts().size(), model_.size());
    for (const auto& [key, count] : model_) {
      const std::optional<std::int64_t> actual = latch_->count(key);
      ASSERT_TRUE(actual.has_value()) << key;
      ASSERT_EQ(*actual, count) << key;
      ASSERT_GE(*actual, 0) << key;
      ASSERT_LE(*actual, previous_[key]) << key << " went up";
      if (*actual == 0) {
        ASSERT_EQ(latch_->waiter_count(key), 0u) << key;
      }
    }
    previous_ = model_;
    ASSERT_EQ(latch_->broken(), Broken());
    std::map<std::string, std::size_t> waiting;
    std::size_t waiting_all = 0;
    for (const auto& op : ops_) {
      if (!op->queued) continue;
      if (op->wait_all) {
        ++waiting_all;
      } else {
        ++waiting[op->key];
      }
    }
    for (int i = 0; i <= kKeys; ++i) {
      ASSERT_EQ(latch_->waiter_count(KeyName(i)), waiting[KeyName(i)])
          << KeyName(i);
    }
    ASSERT_EQ(latch_->wait_all_count(), waiting_all);
  }

  std::int64_t Uniform(std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_);
  }
  bool Chance(int percent) { return Uniform(1, 100) <= percent; }

  std::mt19937_64 rng_{GetParam()};
  std::unique_ptr<MultiCountDownLatch> latch_;
  std::map<std::string, std::int64_t> model_;
  std::map<std::string, std::int64_t> previous_;
  std::unique_ptr<Session> slots_[kSessions];
  std::vector<std::unique_ptr<Session>> graveyard_;
  std::uint64_t next_session_id_ = 1;
  std::vector<std::unique_ptr<Op>> ops_;
  int next_op_id_ = 0;
  bool closed_ = false;
  std::int64_t ok_ = 0;
  std::int64_t timeouts_ = 0;
};

TEST_P(MultiCountDownLatchRandomTest,
       ModelAndInvariantsHoldUnderRandomOperations) {
  for (int round = 0; round < kRounds; ++round) {
    NewRound();
    for (int step = 0; step < kStepsPerRound; ++step) {
      const std::int64_t dice = Uniform(1, 100);
      if (dice <= 25) {
        StepWait(/*wait_all=*/false);
      } else if (dice <= 35) {
        StepWait(/*wait_all=*/true);
      } else if (dice <= 55) {
        StepCountDown();
      } else if (dice <= 58) {
        StepCountDownAll();
      } else if (dice <= 66) {
        StepCancel();
      } else if (dice <= 69) {
        EndSession(static_cast<int>(Uniform(0, kSessions - 1)));
      } else if (dice <= 84) {
        StepAdvance();
      } else {
        Settle();
      }
      CheckModel();
      if (HasFailure()) {
        FAIL() << "seed " << GetParam() << " round " << round << " step "
               << step;
      }
    }
    EndRound(/*close=*/round % 2 == 0);
  }
  EXPECT_GT(ok_, 1000);
  EXPECT_GT(timeouts_, 100);
  std::printf("seed %u: %d waits, %lld ok, %lld timed out\n", GetParam(),
              next_op_id_, static_cast<long long>(ok_),
              static_cast<long long>(timeouts_));
}

INSTANTIATE_TEST_SUITE_P(Seeds, MultiCountDownLatchRandomTest,
                         ::testing::Values(1u, 2u, 3u, 20260101u));

}  // namespace
}  // namespace baton::core

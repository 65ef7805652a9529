// Copyright 2026 The Baton Authors.
//
// Randomized, seeded test of the mutex family: many sessions and owners
// acquire with random priorities, timeouts and cancellations, release (also
// wrongly), end sessions and move the clock. After every step the lock is
// checked against a model built only from the answers the callers received.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/core/priority_mutex.h"
#include "tests/testing/loop_test.h"

namespace baton::core {
namespace {

using ::baton::testing::LoopTest;

struct Op {
  int session = 0;  // index into sessions_
  std::string key;
  std::int64_t priority = 0;
  std::uint64_t order = 0;  // launch order, the FIFO tie-break
  std::unique_ptr<runtime::CancellationSignal> cancel;
  testing::Pending<WaitResult> slot;
  bool seen = false;  // answer already folded into the model
};

class MutexRandomTest : public LoopTest,
                        public ::testing::WithParamInterface<
                            std::tuple<PriorityMutex::Reentrancy, unsigned>> {
 protected:
  struct Model {
    int session = -1;
    std::string key;
    std::int64_t depth = 0;
    std::uint64_t fence = 0;
  };

  Session& S(int index) { return *sessions_[index]; }

  void NewSession(int slot) {
    sessions_[slot] = std::make_unique<Session>(next_session_id_++);
    session_index_[slot] = static_cast<int>(all_sessions_.size());
    all_sessions_.push_back(sessions_[slot].get());
  }

  std::vector<std::unique_ptr<Session>> sessions_;
  std::vector<Session*> all_sessions_;
  std::vector<int> session_index_;
  std::vector<std::unique_ptr<Session>> ended_;
  std::uint64_t next_session_id_ = 1;
};

TEST_P(MutexRandomTest, InvariantsHoldAfterEveryStep) {
  const auto [reentrancy, seed] = GetParam();
  const bool reentrant = reentrancy == PriorityMutex::Reentrancy::kReentrant;
  std::mt19937_64 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };

  PriorityMutex lock(&loop_, /*fence_base=*/seed * 1000, reentrancy);
  constexpr int kSessions = 6;
  constexpr int kKeys = 3;
  sessions_.resize(kSessions);
  session_index_.resize(kSessions);
  for (int i = 0; i < kSessions; ++i) NewSession(i);

  // Ops refer to sessions by their index in all_sessions_ (never reused).
  std::vector<std::unique_ptr<Op>> ops;
  Model model;
  std::uint64_t last_fence = seed * 1000;
  int granted = 0, refused = 0, timed_out = 0, cancelled = 0, aborted = 0;

  auto fold_answers = [&] {
    // Fold this step's answers in the order the grants were made: by fence
    // (each new hold has a larger one), and within one fence the new
    // holder's own grant (the best-ranked) before its queued re-entries.
    std::vector<Op*> fresh;
    for (auto& op : ops) {
      if (!op->seen && op->slot->has_value()) fresh.push_back(op.get());
    }
    auto rank = [](const Op* op) {
      const WaitResult& r = **op->slot;
      return std::make_tuple(r.ok() ? 0 : 1, r.grant.fence, op->priority, op->order);
    };
    std::sort(fresh.begin(), fresh.end(),
              [&](const Op* a, const Op* b) { return rank(a) < rank(b); });
    // Owners one of whose grants was given back in this step: a re-entry
    // granted with it then keeps the lock although it ranked lower.
    std::set<std::pair<int, std::string>> gave_back;
    for (const Op* op : fresh) {
      if (!(*op->slot)->ok()) gave_back.insert({op->session, op->key});
    }
    for (Op* op : fresh) {
      op->seen = true;
      const WaitResult& r = **op->slot;
      switch (r.status.code()) {
        case absl::StatusCode::kOk: {
          ++granted;
          // Mutual exclusion: a grant goes to a free lock, or to its owner
          // again when reentrant.
          const bool same_owner = model.depth > 0 && model.session == op->session &&
                                  model.key == op->key;
          ASSERT_TRUE(model.depth == 0 || (reentrant && same_owner))
              << "granted while held by another owner";
          if (same_owner) {
            EXPECT_EQ(r.grant.fence, model.fence);
            ++model.depth;
          } else {
            EXPECT_GT(r.grant.fence, last_fence) << "fences must increase";
            last_fence = r.grant.fence;
            model = {op->session, op->key, 1, r.grant.fence};
          }
          // Priority then FIFO: nothing still waiting was better.
          for (auto& other : ops) {
            if (other->slot->has_value() || other.get() == op) continue;
            const bool better = other->priority < op->priority ||
                                (other->priority == op->priority &&
                                 other->order < op->order);
            const bool reentry = reentrant && (same_owner || gave_back.count(
                                                  {op->session, op->key}) > 0);
            EXPECT_FALSE(better && !reentry) << "a better waiter was passed over";
          }
          break;
        }
        case absl::StatusCode::kDeadlineExceeded: ++timed_out; break;
        case absl::StatusCode::kCancelled: ++cancelled; break;
        case absl::StatusCode::kAborted: ++aborted; break;
        case absl::StatusCode::kFailedPrecondition:
          ++refused;
          EXPECT_FALSE(reentrant) << r.status;
          break;
        default:
          ADD_FAILURE() << "unexpected answer " << r.status;
      }
    }
  };

  std::uint64_t order = 0;
  for (int step = 0; step < 20000; ++step) {
    const int action = pick(100);
    const int s = pick(kSessions);
    const std::string key = absl::StrCat("k", pick(kKeys));
    if (action < 40) {  // acquire
      auto op = std::make_unique<Op>();
      op->session = session_index_[s];
      op->key = key;
      op->priority = pick(5) - 2;
      op->order = ++order;
      std::optional<absl::Duration> timeout;
      const int t = pick(4);
      if (t == 1) timeout = absl::ZeroDuration();
      if (t == 2) timeout = absl::Milliseconds(1 + pick(50));
      if (pick(3) == 0) op->cancel = std::make_unique<runtime::CancellationSignal>();
      Op* raw = op.get();
      op->slot = Launch([&, raw, timeout, s] {
        return lock.Acquire(Opts(S(s), raw->key, timeout, raw->cancel.get()),
                            raw->priority);
      });
      ops.push_back(std::move(op));
    } else if (action < 70) {  // release, by anyone
      const bool expect_ok = model.depth > 0 && model.session == session_index_[s] &&
                             model.key == key;
      const absl::Status status = lock.Release(&S(s), key);
      ASSERT_EQ(status.ok(), expect_ok) << status;
      if (expect_ok && --model.depth == 0) model = {};
    } else if (action < 80) {  // cancel a random op (maybe answered already)
      // Half the time the holder releases first, in the same instant, so the
      // cancel may hit a waiter granted but not yet resumed.
      if (pick(2) == 0 && model.depth > 0) {
        const int holder_slot = [&] {
          for (int i = 0; i < kSessions; ++i) {
            if (session_index_[i] == model.session) return i;
          }
          return -1;
        }();
        ASSERT_GE(holder_slot, 0);
        ASSERT_TRUE(lock.Release(&S(holder_slot), model.key).ok());
        if (--model.depth == 0) model = {};
      }
      if (!ops.empty()) {
        // Aim at recent ops: most older ones have been answered.
        const int recent = std::min<int>(20, static_cast<int>(ops.size()));
        Op& op = *ops[ops.size() - 1 - pick(recent)];
        if (op.cancel) op.cancel->Cancel();
      }
    } else if (action < 85) {  // a session ends; a new one takes its place
      const int ended_index = session_index_[s];
      S(s).End();
      if (model.session == ended_index) model = {};
      ended_.push_back(std::move(sessions_[s]));
      NewSession(s);
    } else {  // time passes
      clock_.Advance(absl::Milliseconds(pick(20)));
    }
    Settle();
    fold_answers();
    ASSERT_TRUE(lock.CheckInvariants().ok()) << lock.CheckInvariants();
    const auto holder = lock.holder();
    ASSERT_EQ(holder.has_value(), model.depth > 0) << "step " << step;
    if (holder) {
      ASSERT_EQ(holder->session_id, all_sessions_[model.session]->id());
      ASSERT_EQ(holder->owner_key, model.key);
      ASSERT_EQ(holder->depth, model.depth);
      ASSERT_EQ(holder->fence, model.fence);
    }
    if (HasFatalFailure()) return;
  }

  // Every wait is answered exactly once once every session has ended.
  for (int i = 0; i < kSessions; ++i) S(i).End();
  Settle();
  fold_answers();
  for (auto& op : ops) EXPECT_TRUE(op->slot->has_value());
  EXPECT_FALSE(lock.locked());
  EXPECT_EQ(lock.waiter_count(), 0u);
  // The run exercised every path.
  EXPECT_GT(granted, 100);
  EXPECT_GT(timed_out, 10);
  EXPECT_GT(cancelled, 10);
  EXPECT_GT(aborted, 10);
  if (!reentrant) {
    EXPECT_GT(refused, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Seeds, MutexRandomTest,
    ::testing::Combine(::testing::Values(PriorityMutex::Reentrancy::kNonReentrant,
                                         PriorityMutex::Reentrancy::kReentrant),
                       ::testing::Values(1u, 2u, 3u)));

}  // namespace
}  // namespace baton::core

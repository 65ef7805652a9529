// Copyright 2026 The Baton Authors.
//
// Randomized, seeded test of PrioritySemaphore: many sessions acquire with
// random priorities, timeouts and cancellations, release (strictly, also too
// often, and not strictly, growing the pool), reset, end and move the clock.
// The loop is only run on some steps, so grants often wait to be delivered
// while cancels, session ends and resets arrive. After every step the
// semaphore is checked against a model built only from the answers the
// callers received and the revocations reported.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "server/core/priority_semaphore.h"
#include "tests/testing/loop_test.h"

namespace baton::core {
namespace {

using ::baton::testing::LoopTest;

struct Op {
  int session = 0;  // index into all_sessions_
  std::int64_t priority = 0;
  std::uint64_t order = 0;  // launch order: the tie-break
  // last_fence() at launch: the op was present before every grant with a
  // larger fence was decided.
  std::uint64_t fence_at_launch = 0;
  bool immediate = false;  // answered inside Acquire()
  std::unique_ptr<runtime::CancellationSignal> cancel;
  testing::Pending<WaitResult> slot;
};

class PrioritySemaphoreRandomTest
    : public LoopTest,
      public ::testing::WithParamInterface<unsigned> {
 protected:
  Session& S(int slot) { return *sessions_[slot]; }

  void NewSession(int slot) {
    sessions_[slot] = std::make_unique<Session>(next_session_id_++);
    session_index_[slot] = static_cast<int>(all_sessions_.size());
    all_sessions_.push_back(sessions_[slot].get());
    model_permits_.push_back(0);
  }

  // Sessions outlive the semaphore (a local of the test), whose destructor
  // detaches holds from them.
  std::vector<std::unique_ptr<Session>> sessions_;
  std::vector<Session*> all_sessions_;
  std::vector<int> session_index_;
  std::vector<std::unique_ptr<Session>> ended_;
  // Permits each session holds according to the answers it received.
  std::vector<std::int64_t> model_permits_;
  std::uint64_t next_session_id_ = 1;
};

TEST_P(PrioritySemaphoreRandomTest, InvariantsHoldAfterEveryStep) {
  const unsigned seed = GetParam();
  std::mt19937_64 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % n); };

  constexpr int kSessions = 8;
  constexpr int kSteps = 20000;
  const std::uint64_t fence_base = seed * 1'000'000ull;
  sessions_.resize(kSessions);
  session_index_.resize(kSessions);
  for (int i = 0; i < kSessions; ++i) NewSession(i);

  // Declared before the semaphore, which may still use them when destroyed.
  std::vector<std::unique_ptr<Op>> ops;
  std::vector<Op*> unanswered;
  std::set<std::uint64_t> fences_received;
  std::vector<Revocation> reports;
  PrioritySemaphore sem(&loop_, fence_base, /*value=*/1 + pick(3));
  sem.set_revocation_callback(
      [&](const Revocation& r) { reports.push_back(r); });
  // The pool: value plus the permits non-strict releases added since the
  // last reset.
  std::int64_t model_pool = sem.value();
  // Grants up to this fence were revoked by a reset, delivered or not.
  std::uint64_t revoked_through = 0;
  int granted = 0, timed_out = 0, refused_now = 0, cancelled = 0, aborted = 0,
      bad_releases = 0, added = 0, resets = 0, withdrawn = 0,
      given_back = 0;

  auto fold_answers = [&] {
    std::vector<Op*> still;
    for (Op* op : unanswered) {
      if (!op->slot->has_value()) {
        still.push_back(op);
        continue;
      }
      const WaitResult& r = **op->slot;
      switch (r.status.code()) {
        case absl::StatusCode::kOk: {
          ++granted;
          ASSERT_FALSE(all_sessions_[op->session]->ended())
              << "a grant reached an ended session";
          const std::uint64_t fence = r.grant.fence;
          ASSERT_GT(fence, fence_base);
          ASSERT_LE(fence, sem.last_fence());
          ASSERT_TRUE(fences_received.insert(fence).second) << "fence reused";
          // A grant undelivered at a reset is withdrawn (it fails), so a
          // delivered grant always postdates the last reset.
          ASSERT_GT(fence, revoked_through)
              << "a grant revoked by a reset was delivered";
          ++model_permits_[op->session];
          // Priority, then FIFO: no one still waiting that was queued when
          // this grant was decided came before it.
          if (!op->immediate) {
            for (Op* other : unanswered) {
              if (other->slot->has_value() || other == op) continue;
              const bool better =
                  other->priority < op->priority ||
                  (other->priority == op->priority && other->order < op->order);
              ASSERT_FALSE(other->fence_at_launch < fence && better)
                  << "a better waiter was passed over";
            }
          }
          break;
        }
        case absl::StatusCode::kDeadlineExceeded:
          ++(op->immediate ? refused_now : timed_out);
          break;
        case absl::StatusCode::kCancelled:
          ++cancelled;
          break;
        case absl::StatusCode::kAborted:
          ++aborted;
          if (absl::StrContains(r.status.message(), "reset")) ++withdrawn;
          break;
        default:
          FAIL() << "unexpected answer " << r.status;
      }
    }
    unanswered = std::move(still);
  };

  std::uint64_t order = 0;
  for (int step = 0; step < kSteps; ++step) {
    SCOPED_TRACE(absl::StrCat("seed ", seed, " step ", step));
    const std::int64_t held_before = sem.held();
    reports.clear();
    bool reset = false;
    const int action = pick(100);
    const int s = pick(kSessions);
    const int g = session_index_[s];
    if (action < 40) {  // acquire
      auto op = std::make_unique<Op>();
      op->session = g;
      op->priority = pick(5) - 2;
      op->order = ++order;
      op->fence_at_launch = sem.last_fence();
      std::optional<absl::Duration> timeout;
      const int t = pick(4);
      if (t == 1) timeout = absl::ZeroDuration();
      if (t == 2) timeout = absl::Milliseconds(1 + pick(50));
      if (pick(3) == 0)
        op->cancel = std::make_unique<runtime::CancellationSignal>();
      Op* raw = op.get();
      op->slot = Launch([&, raw, timeout, s] {
        return sem.Acquire(Opts(S(s), "k", timeout, raw->cancel.get()),
                           raw->priority);
      });
      op->immediate = op->slot->has_value();
      unanswered.push_back(raw);
      ops.push_back(std::move(op));
    } else if (action < 70) {  // release, also by sessions holding nothing
      const bool strict = pick(4) != 0;
      const std::int64_t model = model_permits_[g];
      const std::int64_t ledger = sem.PermitsOf(&S(s));
      ASSERT_LE(model, ledger) << "the session holds less than it was granted";
      if (model > 0) {
        ASSERT_TRUE(sem.Release(&S(s), strict).ok());
        --model_permits_[g];
      } else if (ledger == 0 && strict) {
        // Released too many times: an error that changes nothing.
        const std::int64_t available = sem.available();
        const std::size_t waiters = sem.waiter_count();
        const std::uint64_t last_fence = sem.last_fence();
        ASSERT_EQ(sem.Release(&S(s), strict).code(),
                  absl::StatusCode::kFailedPrecondition);
        ASSERT_EQ(sem.available(), available);
        ASSERT_EQ(sem.held(), held_before);
        ASSERT_EQ(sem.waiter_count(), waiters);
        ASSERT_EQ(sem.last_fence(), last_fence);
        ++bad_releases;
      } else if (ledger == 0) {
        // Not strict: one more permit in the pool.
        ASSERT_TRUE(sem.Release(&S(s), strict).ok());
        ++model_pool;
        ++added;
      }
      // else: a grant is on its way to the session; it cannot know yet.
    } else if (action < 74) {  // reset
      const std::vector<PermitHolder> holders = sem.holders();
      revoked_through = sem.last_fence();
      ASSERT_TRUE(sem.Reset().ok());
      reset = true;
      ++resets;
      // Every session holding a delivered permit is told, once, with a
      // fence no older than its permits; a session whose only permits were
      // still undelivered is not (its callers get a failure instead).
      std::set<std::uint64_t> expected;
      for (std::size_t i = 0; i < all_sessions_.size(); ++i) {
        if (model_permits_[i] > 0) expected.insert(all_sessions_[i]->id());
      }
      std::set<std::uint64_t> told;
      for (const Revocation& report : reports) {
        ASSERT_TRUE(told.insert(report.session_id).second) << "told twice";
        ASSERT_EQ(report.reason.code(), absl::StatusCode::kAborted);
        const auto holder = std::find_if(
            holders.begin(), holders.end(), [&](const PermitHolder& h) {
              return h.session_id == report.session_id;
            });
        ASSERT_NE(holder, holders.end());
        ASSERT_EQ(report.fence, holder->fence);
      }
      ASSERT_EQ(told, expected);
      for (std::int64_t& permits : model_permits_) permits = 0;
      model_pool = sem.value();
    } else if (action < 86) {  // cancel an op
      // Aim at ops likely granted and not yet resumed: their session holds
      // more than its callers know of.
      std::vector<Op*> granted_unseen;
      for (Op* op : unanswered) {
        if (op->cancel != nullptr && !op->cancel->cancelled() &&
            sem.PermitsOf(all_sessions_[op->session]) >
                model_permits_[op->session]) {
          granted_unseen.push_back(op);
        }
      }
      if (!granted_unseen.empty() && pick(2) == 0) {
        Op& op = *granted_unseen[pick(static_cast<int>(granted_unseen.size()))];
        const Session* session = all_sessions_[op.session];
        const std::int64_t before = sem.PermitsOf(session);
        if (op.cancel) op.cancel->Cancel();
        // A grant taken back from a caller that never saw it.
        if (sem.PermitsOf(session) < before) ++given_back;
      } else if (!ops.empty()) {  // a recent one, maybe answered already
        const int recent = std::min<int>(20, static_cast<int>(ops.size()));
        Op& op = *ops[ops.size() - 1 - pick(recent)];
        if (op.cancel) op.cancel->Cancel();
      }
    } else if (action < 90) {  // a session ends; a new one takes its place
      S(s).End();
      model_permits_[g] = 0;
      ASSERT_EQ(sem.PermitsOf(&S(s)), 0);
      ASSERT_FALSE(S(s).has_holds());
      ended_.push_back(std::move(sessions_[s]));
      NewSession(s);
    } else {  // time passes
      Advance(absl::Milliseconds(pick(20)));
    }
    const bool settled = pick(3) == 0;
    if (settled) Settle();
    fold_answers();
    if (HasFatalFailure()) return;

    // The semaphore's own invariants.
    const absl::Status invariants = sem.CheckInvariants();
    ASSERT_TRUE(invariants.ok()) << invariants;
    // Holds are only taken away by a reset.
    if (!reset) {
      ASSERT_TRUE(reports.empty());
    }
    // The pool is what the model says; never a permit more is out.
    ASSERT_EQ(sem.available() + sem.held(), model_pool);
    ASSERT_EQ(sem.pool_size(), model_pool);
    ASSERT_GE(sem.available(), 0);
    // No waiter queued while a permit is free.
    if (sem.waiter_count() > 0) {
      ASSERT_EQ(sem.available(), 0);
    }
    // The model of the callers: never more than the semaphore counts as
    // held, exactly that once every answer is delivered.
    std::int64_t model_total = 0;
    for (int i = 0; i < kSessions; ++i) {
      const std::int64_t model = model_permits_[session_index_[i]];
      ASSERT_GE(model, 0);
      ASSERT_LE(model, sem.PermitsOf(&S(i)));
      if (settled) {
        ASSERT_EQ(model, sem.PermitsOf(&S(i))) << "session slot " << i;
      }
      model_total += model;
    }
    ASSERT_LE(model_total, sem.held());
    if (settled) {
      ASSERT_EQ(model_total, sem.held());
    }
  }

  // Every wait is answered exactly once once every session has ended.
  for (int i = 0; i < kSessions; ++i) S(i).End();
  Settle();
  fold_answers();
  EXPECT_TRUE(unanswered.empty());
  for (auto& op : ops) EXPECT_TRUE(op->slot->has_value());
  EXPECT_EQ(granted + timed_out + refused_now + cancelled + aborted,
            static_cast<int>(ops.size()));
  EXPECT_EQ(sem.held(), 0);
  EXPECT_EQ(sem.waiter_count(), 0u);
  EXPECT_EQ(sem.available(), model_pool);
  EXPECT_TRUE(sem.CheckInvariants().ok());
  // The run exercised every path.
  EXPECT_GT(granted, 1000);
  EXPECT_GT(timed_out, 50);
  EXPECT_GT(refused_now, 50);
  EXPECT_GT(cancelled, 50);
  EXPECT_GT(aborted, 50);
  EXPECT_GT(bad_releases, 50);
  EXPECT_GT(added, 50);
  EXPECT_GT(resets, 50);
  EXPECT_GT(withdrawn, 5);  // grants undelivered at a reset
  EXPECT_GT(given_back, 10);
}

INSTANTIATE_TEST_SUITE_P(Seeds, PrioritySemaphoreRandomTest,
                         ::testing::Values(1u, 2u, 3u, 4u));

}  // namespace
}  // namespace baton::core

// Copyright 2026 The Baton Authors.
//
// Randomized test of KeyedCondition: many owners in several sessions acquire
// and release the lock, wait on keys, notify, wait for everyone (WaitAll),
// cancel, time out and end their sessions, on a manual clock. The test keeps
// an exact model of who holds the lock (from the answers received) and of
// the phase-1 queues of every key (including the hand-on of a wake-up whose
// waiter was cancelled before it resumed), and after every step compares the
// model with the instance and checks its invariants.

#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/core/keyed_condition.h"
#include "tests/testing/loop_test.h"

namespace baton::core {
namespace {

using ::baton::testing::LoopTest;

constexpr int kSessions = 5;
constexpr int kOwnersPerSession = 2;
constexpr int kSteps = 20000;
constexpr int kMaxPendingWaitAll = 4;
const char* const kKeys[] = {"a", "b", "c"};

// One launched operation and what the model knows of it.
struct Op {
  enum class Kind { kAcquire, kWait, kWaitAll };
  // A Wait's phase in the model: kPhase1 while on its key's queue, kNotified
  // once woken but not yet resumed (a cancel then hands the wake-up on),
  // kAfter once past both.
  enum class Phase { kNone, kPhase1, kNotified, kAfter };

  int id = 0;
  Kind kind = Kind::kAcquire;
  Session* session = nullptr;
  std::string owner_key;
  int slot = -1;  // session slot and owner index, for owner ops
  int owner = -1;
  std::string key;  // Wait
  absl::Time deadline = absl::InfiniteFuture();
  bool zero_timeout = false;
  bool has_cancel = false;
  runtime::CancellationSignal cancel;
  Phase phase = Phase::kNone;
  bool notified = false;
  bool cancelled = false;
  bool session_ended = false;
  bool expect_refusal = false;  // launched by a non-holder where it matters
  std::set<int> snapshot;       // WaitAll: phase-1 waits present at the call
  bool snapshot_was_empty = false;
  int answers = 0;
};

class KeyedConditionRandomTest
    : public LoopTest,
      public ::testing::WithParamInterface<std::uint32_t> {
 protected:
  struct Owner {
    Session* session = nullptr;
    std::string key;
    int pending = -1;  // op id, or -1 when idle
  };

  void SetUp() override {
    for (int s = 0; s < kSessions; ++s) NewSession(s);
  }

  // After a failure midway, answer what is pending before members go away.
  void TearDown() override {
    if (cond_ == nullptr) return;
    closed_ = true;
    cond_->Close(absl::NotFoundError("deleted"));
    for (auto& session : slots_) session->End();
    Settle();
    cond_.reset();
  }

  void NewSession(int slot) {
    slots_[slot] = std::make_unique<Session>(next_session_id_++);
    for (int o = 0; o < kOwnersPerSession; ++o) {
      owners_[slot][o] =
          Owner{.session = slots_[slot].get(), .key = absl::StrCat("k", o)};
    }
  }

  // --- Launching. ---

  Op* NewOp(Op::Kind kind, Session* session, std::string owner_key) {
    auto op = std::make_unique<Op>();
    op->id = static_cast<int>(ops_.size());
    op->kind = kind;
    op->session = session;
    op->owner_key = std::move(owner_key);
    ops_.push_back(std::move(op));
    return ops_.back().get();
  }

  WaitOptions OptionsFor(Op* op, int timeout_mode) {
    WaitOptions options{.session = op->session, .owner_key = op->owner_key};
    // timeout_mode: 0 absent, 1 zero, 2 positive.
    if (timeout_mode == 1) {
      options.timeout = absl::ZeroDuration();
      op->zero_timeout = true;
    } else if (timeout_mode == 2) {
      options.timeout = absl::Milliseconds(Uniform(1, 5000));
      op->deadline = Now() + *options.timeout;
    }
    if (Chance(30)) {
      op->has_cancel = true;
      options.cancel = &op->cancel;
    }
    return options;
  }

  static runtime::Task<void> RunAcquire(KeyedConditionRandomTest* t, Op* op,
                                        WaitOptions options) {
    Waiter waiter = t->cond_->Acquire(std::move(options));
    WaitResult result = co_await waiter;
    t->OnAnswer(op, result);
  }
  static runtime::Task<void> RunWait(KeyedConditionRandomTest* t, Op* op,
                                     WaitOptions options) {
    runtime::Task<WaitResult> wait =
        t->cond_->Wait(std::move(options), op->key);
    WaitResult result = co_await std::move(wait);
    t->OnAnswer(op, result);
  }
  static runtime::Task<void> RunWaitAll(KeyedConditionRandomTest* t, Op* op,
                                        WaitOptions options) {
    Waiter waiter = t->cond_->WaitAll(std::move(options));
    WaitResult result = co_await waiter;
    t->OnAnswer(op, result);
  }

  // --- Answers. ---

  void OnAnswer(Op* op, const WaitResult& result) {
    ++op->answers;
    ++answers_;
    EXPECT_EQ(op->answers, 1) << "op " << op->id << " answered twice";
    if (op->slot >= 0 && owners_[op->slot][op->owner].pending == op->id) {
      owners_[op->slot][op->owner].pending = -1;
    }
    const absl::StatusCode code = result.status.code();
    const bool owns = cond_->IsOwner(op->session, op->owner_key);
    if (closed_ && code == absl::StatusCode::kNotFound) {
      EXPECT_FALSE(owns);
      return;
    }
    if (code == absl::StatusCode::kDeadlineExceeded) {
      EXPECT_TRUE(op->zero_timeout || op->deadline <= Now())
          << "op " << op->id << " timed out early";
    }
    if (code == absl::StatusCode::kCancelled) {
      EXPECT_TRUE(op->cancelled);
    }
    if (code == absl::StatusCode::kAborted) {
      EXPECT_TRUE(op->session_ended) << "op " << op->id;
    }
    if (code == absl::StatusCode::kFailedPrecondition) {
      EXPECT_TRUE(op->expect_refusal)
          << "op " << op->id << ": " << result.status;
    }
    switch (op->kind) {
      case Op::Kind::kAcquire:
        if (result.ok()) {
          TookLock(op, result, owns);
        } else {
          // A refused re-acquire leaves the holder holding.
          EXPECT_EQ(owns, code == absl::StatusCode::kFailedPrecondition)
              << "op " << op->id << ": " << result.status;
        }
        EXPECT_TRUE(code == absl::StatusCode::kOk ||
                    code == absl::StatusCode::kDeadlineExceeded ||
                    code == absl::StatusCode::kCancelled ||
                    code == absl::StatusCode::kAborted ||
                    code == absl::StatusCode::kFailedPrecondition)
            << result.status;
        break;
      case Op::Kind::kWait:
        EXPECT_NE(op->phase, Op::Phase::kPhase1)
            << "op " << op->id << " answered while on its queue";
        if (code == absl::StatusCode::kOk ||
            code == absl::StatusCode::kDeadlineExceeded ||
            code == absl::StatusCode::kCancelled) {
          // A wait comes back holding the lock.
          TookLock(op, result, owns);
        } else {
          EXPECT_FALSE(owns) << "op " << op->id << ": " << result.status;
          EXPECT_TRUE(code == absl::StatusCode::kAborted ||
                      code == absl::StatusCode::kFailedPrecondition)
              << result.status;
        }
        if (code == absl::StatusCode::kDeadlineExceeded && op->notified) {
          ADD_FAILURE() << "op " << op->id << " notified but timed out";
        }
        if (code == absl::StatusCode::kDeadlineExceeded) ++wait_timeouts_;
        if (result.ok()) {
          EXPECT_TRUE(op->notified) << "op " << op->id << " OK unnotified";
          ++ok_waits_;
          EXPECT_LE(ok_waits_, notified_);
        }
        break;
      case Op::Kind::kWaitAll:
        if (result.ok() && !op->snapshot_was_empty) ++wait_all_granted_later_;
        if (result.ok()) {
          EXPECT_TRUE(op->snapshot.empty())
              << "wait_all " << op->id << " granted with "
              << op->snapshot.size() << " waiters still in phase 1";
        }
        EXPECT_TRUE(code == absl::StatusCode::kOk ||
                    code == absl::StatusCode::kDeadlineExceeded ||
                    code == absl::StatusCode::kCancelled ||
                    code == absl::StatusCode::kAborted)
            << result.status;
        break;
    }
  }

  void TookLock(Op* op, const WaitResult& result, bool owns) {
    EXPECT_TRUE(owns) << "op " << op->id << " answered " << result.status
                      << " without holding the lock";
    EXPECT_FALSE(holder_.has_value())
        << "op " << op->id << " got the lock while op-holder "
        << holder_->session->id() << "/" << holder_->key << " has it";
    EXPECT_GT(result.grant.fence, last_fence_);
    last_fence_ = result.grant.fence;
    holder_ = Holder{op->session, op->owner_key};
  }

  // --- The model of the phase-1 queues. ---

  void DropFromSnapshots(int id) {
    for (int w : pending_wait_all_) ops_[w]->snapshot.erase(id);
  }

  void LeavePhase1(Op* op) {
    std::deque<int>& q = queues_[op->key];
    for (auto it = q.begin(); it != q.end(); ++it) {
      if (*it == op->id) {
        q.erase(it);
        break;
      }
    }
    op->phase = Op::Phase::kAfter;
    DropFromSnapshots(op->id);
  }

  // WakeFront() is a notification (new or handed on) to the oldest waiter.
  bool WakeFront(const std::string& key) {
    std::deque<int>& q = queues_[key];
    if (q.empty()) return false;
    Op* op = ops_[q.front()].get();
    q.pop_front();
    EXPECT_EQ(op->phase, Op::Phase::kPhase1);
    EXPECT_FALSE(op->notified) << "op " << op->id << " notified twice";
    op->phase = Op::Phase::kNotified;
    op->notified = true;
    DropFromSnapshots(op->id);
    return true;
  }

  // A wait leaving for a cancel or its session's end, seen by the model.
  void ModelLeave(Op* op) {
    if (op->kind != Op::Kind::kWait) return;
    if (op->phase == Op::Phase::kPhase1) {
      LeavePhase1(op);
    } else if (op->phase == Op::Phase::kNotified) {
      op->phase = Op::Phase::kAfter;
      ++handed_on_;
      WakeFront(op->key);  // the wake-up is handed on
    }
  }

  void Resumed() {
    for (auto& op : ops_) {
      if (op->phase == Op::Phase::kNotified) op->phase = Op::Phase::kAfter;
    }
  }

  // --- Steps. ---

  void StepAcquire() {
    auto [slot, o] = RandomOwner(/*idle=*/true);
    if (slot < 0) return;
    Owner& owner = owners_[slot][o];
    Op* op = NewOp(Op::Kind::kAcquire, owner.session, owner.key);
    op->slot = slot;
    op->owner = o;
    op->expect_refusal = IsHolder(owner);  // not reentrant
    owner.pending = op->id;
    WaitOptions options = OptionsFor(op, static_cast<int>(Uniform(0, 2)));
    runtime::Detach(RunAcquire(this, op, std::move(options)));
    if (op->expect_refusal) {
      EXPECT_EQ(op->answers, 1);
    }
  }

  void StepRelease() {
    if (holder_.has_value() && Chance(85)) {
      ASSERT_TRUE(cond_->Release(holder_->session, holder_->key).ok());
      holder_.reset();
      return;
    }
    auto [slot, o] = RandomOwner(/*idle=*/true);
    if (slot < 0 || IsHolder(owners_[slot][o])) return;
    EXPECT_EQ(
        cond_->Release(owners_[slot][o].session, owners_[slot][o].key).code(),
        absl::StatusCode::kFailedPrecondition);
  }

  void StepWait() {
    Owner* owner = nullptr;
    int slot = -1, o = -1;
    if (holder_.has_value() && Chance(90)) {
      for (int s = 0; s < kSessions && owner == nullptr; ++s) {
        for (int i = 0; i < kOwnersPerSession; ++i) {
          if (IsHolder(owners_[s][i])) {
            owner = &owners_[s][i];
            slot = s;
            o = i;
          }
        }
      }
    } else {
      std::tie(slot, o) = RandomOwner(/*idle=*/true);
      if (slot < 0 || IsHolder(owners_[slot][o])) return;
      owner = &owners_[slot][o];
    }
    if (owner == nullptr) return;
    Op* op = NewOp(Op::Kind::kWait, owner->session, owner->key);
    op->slot = slot;
    op->owner = o;
    op->key = kKeys[Uniform(0, 2)];
    const bool holds = IsHolder(*owner);
    op->expect_refusal = !holds;
    owner->pending = op->id;
    const int timeout_mode = Chance(10) ? 1 : (Chance(50) ? 2 : 0);
    WaitOptions options = OptionsFor(op, timeout_mode);
    if (holds) {
      holder_.reset();  // Start() releases it
      if (!op->zero_timeout) {
        op->phase = Op::Phase::kPhase1;
        queues_[op->key].push_back(op->id);
      } else {
        op->phase = Op::Phase::kAfter;
      }
    }
    runtime::Detach(RunWait(this, op, std::move(options)));
    if (!holds) {
      EXPECT_EQ(op->answers, 1);
    }
  }

  void StepNotify() {
    const std::string key = kKeys[Uniform(0, 2)];
    if (!holder_.has_value() || Chance(5)) {
      auto [slot, o] = RandomOwner(/*idle=*/true);
      if (slot < 0 || IsHolder(owners_[slot][o])) return;
      EXPECT_EQ(
          cond_->Notify(owners_[slot][o].session, owners_[slot][o].key, key)
              .status()
              .code(),
          absl::StatusCode::kFailedPrecondition);
      return;
    }
    if (Chance(3)) {
      EXPECT_EQ(
          cond_->Notify(holder_->session, holder_->key, key, 0).status().code(),
          absl::StatusCode::kInvalidArgument);
      return;
    }
    const std::int64_t n = Uniform(1, 3);
    const bool strict = Chance(30);
    std::int64_t expected = 0;
    while (expected < n && WakeFront(key)) ++expected;
    notified_ += expected;
    auto woken = cond_->Notify(holder_->session, holder_->key, key, n, strict);
    if (strict && expected < n) {
      EXPECT_EQ(woken.status().code(), absl::StatusCode::kFailedPrecondition);
    } else {
      ASSERT_TRUE(woken.ok()) << woken.status();
      EXPECT_EQ(*woken, expected);
    }
  }

  void StepNotifyAll() {
    if (!holder_.has_value()) return;
    std::optional<std::string> key;
    if (Chance(50)) key = kKeys[Uniform(0, 2)];
    std::int64_t expected = 0;
    for (const char* k : kKeys) {
      if (key.has_value() && *key != k) continue;
      while (WakeFront(k)) ++expected;
    }
    notified_ += expected;
    auto woken = cond_->NotifyAll(
        holder_->session, holder_->key,
        key.has_value() ? std::optional<std::string_view>(*key) : std::nullopt);
    ASSERT_TRUE(woken.ok()) << woken.status();
    EXPECT_EQ(*woken, expected);
    // No waiter is left in phase 1 on what was notified.
    if (key.has_value()) {
      EXPECT_EQ(cond_->waiter_count(*key), 0u);
    } else {
      EXPECT_EQ(cond_->waiter_count(), 0u);
    }
  }

  void StepWaitAll() {
    if (pending_wait_all_.size() >= kMaxPendingWaitAll) return;
    Session* session = slots_[Uniform(0, kSessions - 1)].get();
    Op* op = NewOp(Op::Kind::kWaitAll, session, "watcher");
    for (const auto& [key, q] : queues_) {
      op->snapshot.insert(q.begin(), q.end());
    }
    op->snapshot_was_empty = op->snapshot.empty();
    WaitOptions options = OptionsFor(op, static_cast<int>(Uniform(0, 2)));
    pending_wait_all_.insert(op->id);
    runtime::Detach(RunWaitAll(this, op, std::move(options)));
    if (op->snapshot.empty() || op->zero_timeout) {
      EXPECT_EQ(op->answers, 1);
    }
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
    ModelLeave(op);
    op->cancel.Cancel();
  }

  void StepEndSession() {
    const int slot = static_cast<int>(Uniform(0, kSessions - 1));
    Session* session = slots_[slot].get();
    for (auto& op : ops_) {  // in launch order, as Session::End aborts them
      if (op->session != session || op->answers > 0) continue;
      op->session_ended = true;
      ModelLeave(op.get());
    }
    if (holder_.has_value() && holder_->session == session) holder_.reset();
    session->End();
    EXPECT_FALSE(session->has_holds());
    EXPECT_FALSE(session->has_waiters());
    graveyard_.push_back(std::move(slots_[slot]));
    NewSession(slot);
  }

  void StepAdvance() {
    static constexpr std::int64_t kMillis[] = {0, 1, 100, 700, 1500, 4000};
    const absl::Duration d = absl::Milliseconds(kMillis[Uniform(0, 5)]);
    Resumed();
    const absl::Time then = Now() + d;
    for (auto& op : ops_) {
      if (op->phase == Op::Phase::kPhase1 && op->deadline <= then) {
        LeavePhase1(op.get());
      }
    }
    Advance(d);
  }

  void StepAssertLocked() {
    auto [slot, o] = RandomOwner(/*idle=*/true);
    if (slot < 0) return;
    const Owner& owner = owners_[slot][o];
    EXPECT_EQ(cond_->AssertLocked(owner.session, owner.key).ok(),
              IsHolder(owner));
  }

  void CheckModel() {
    absl::Status invariants = cond_->CheckInvariants();
    ASSERT_TRUE(invariants.ok()) << invariants;
    std::size_t total = 0;
    for (const char* key : kKeys) {
      const std::size_t expected = queues_[key].size();
      ASSERT_EQ(cond_->waiter_count(key), expected) << "key " << key;
      total += expected;
    }
    ASSERT_EQ(cond_->waiter_count(), total);
    if (holder_.has_value()) {
      ASSERT_TRUE(cond_->IsOwner(holder_->session, holder_->key));
    }
    std::size_t queued_wait_all = 0;
    for (auto it = pending_wait_all_.begin(); it != pending_wait_all_.end();) {
      Op* op = ops_[*it].get();
      if (op->answers > 0) {
        it = pending_wait_all_.erase(it);
        continue;
      }
      if (!op->snapshot.empty() && op->deadline > Now() && !op->cancelled &&
          !op->session_ended) {
        ++queued_wait_all;
      }
      ++it;
    }
    ASSERT_EQ(cond_->wait_all_count(), queued_wait_all);
  }

  // --- Helpers. ---

  struct Holder {
    Session* session;
    std::string key;
  };

  bool IsHolder(const Owner& owner) const {
    return holder_.has_value() && holder_->session == owner.session &&
           holder_->key == owner.key;
  }

  std::pair<int, int> RandomOwner(bool idle) {
    for (int attempt = 0; attempt < 8; ++attempt) {
      const int slot = static_cast<int>(Uniform(0, kSessions - 1));
      const int o = static_cast<int>(Uniform(0, kOwnersPerSession - 1));
      if (!idle || owners_[slot][o].pending < 0) return {slot, o};
    }
    return {-1, -1};
  }

  std::int64_t Uniform(std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_);
  }
  bool Chance(int percent) { return Uniform(1, 100) <= percent; }
  absl::Time Now() const { return clock_.Now(); }

  std::mt19937_64 rng_{GetParam()};
  std::unique_ptr<KeyedCondition> cond_ =
      std::make_unique<KeyedCondition>(&loop_, /*fence_base=*/1u << 20);
  std::unique_ptr<Session> slots_[kSessions];
  Owner owners_[kSessions][kOwnersPerSession];
  std::vector<std::unique_ptr<Session>> graveyard_;
  std::uint64_t next_session_id_ = 1;
  std::vector<std::unique_ptr<Op>> ops_;
  std::set<int> pending_wait_all_;
  std::map<std::string, std::deque<int>> queues_;
  std::optional<Holder> holder_;
  std::uint64_t last_fence_ = 0;
  std::int64_t notified_ = 0;
  std::int64_t ok_waits_ = 0;
  std::int64_t answers_ = 0;
  // Coverage: the run must reach the interesting paths.
  std::int64_t handed_on_ = 0;
  std::int64_t wait_all_granted_later_ = 0;
  std::int64_t wait_timeouts_ = 0;
  bool closed_ = false;
};

TEST_P(KeyedConditionRandomTest, ModelAndInvariantsHoldUnderRandomOperations) {
  for (int step = 0; step < kSteps; ++step) {
    const std::int64_t dice = Uniform(1, 100);
    if (dice <= 18) {
      StepAcquire();
    } else if (dice <= 30) {
      StepRelease();
    } else if (dice <= 48) {
      StepWait();
    } else if (dice <= 60) {
      StepNotify();
    } else if (dice <= 63) {
      StepNotifyAll();
    } else if (dice <= 68) {
      StepWaitAll();
    } else if (dice <= 74) {
      StepCancel();
    } else if (dice <= 76) {
      StepEndSession();
    } else if (dice <= 86) {
      StepAdvance();
    } else if (dice <= 96) {
      Resumed();
      Settle();
    } else {
      StepAssertLocked();
    }
    CheckModel();
    if (HasFatalFailure() || HasFailure()) {
      FAIL() << "seed " << GetParam() << " step " << step;
    }
  }
  // The end: close the instance (odd seeds) or end every session, and every
  // operation must have been answered exactly once.
  if (GetParam() % 2 == 1) {
    closed_ = true;
    cond_->Close(absl::NotFoundError("deleted"));
  }
  for (int s = 0; s < kSessions; ++s) {
    for (auto& op : ops_) {
      if (op->session == slots_[s].get() && op->answers == 0) {
        op->session_ended = true;
        ModelLeave(op.get());
      }
    }
    slots_[s]->End();
  }
  holder_.reset();
  Resumed();
  Settle();
  for (const auto& op : ops_) {
    EXPECT_EQ(op->answers, 1)
        << "op " << op->id << " kind " << static_cast<int>(op->kind);
  }
  EXPECT_EQ(answers_, static_cast<std::int64_t>(ops_.size()));
  EXPECT_FALSE(cond_->locked());
  EXPECT_EQ(cond_->waiter_count(), 0u);
  EXPECT_EQ(cond_->wait_all_count(), 0u);
  EXPECT_TRUE(cond_->CheckInvariants().ok());
  EXPECT_GT(ok_waits_, 100) << "the run should exercise notifications";
  EXPECT_GT(handed_on_, 0) << "no wake-up was handed on";
  EXPECT_GT(wait_all_granted_later_, 10) << "no wait_all waited";
  EXPECT_GT(wait_timeouts_, 10) << "no wait timed out";
  std::printf(
      "seed %u: %zu ops, %lld ok waits, %lld handed on, %lld "
      "wait_all granted later, %lld wait timeouts\n",
      GetParam(), ops_.size(), static_cast<long long>(ok_waits_),
      static_cast<long long>(handed_on_),
      static_cast<long long>(wait_all_granted_later_),
      static_cast<long long>(wait_timeouts_));
  cond_.reset();
}

INSTANTIATE_TEST_SUITE_P(Seeds, KeyedConditionRandomTest,
                         ::testing::Values(1u, 2u, 3u, 20260101u));

}  // namespace
}  // namespace baton::core

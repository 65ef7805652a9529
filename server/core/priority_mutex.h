// Copyright 2026 The Baton Authors.
//
// PriorityMutex is the one mutex behind PriorityLock, PriorityRLock and RLock
// (and the lock of every KeyedCondition). Waiters are served by priority
// (lower first), then by arrival. Release hands the lock straight to the best
// waiter inside the server, so no newcomer can slip in between; every grant
// carries a fresh fence.
//
// The owner is the pair (session, owner key). A non-reentrant mutex answers
// a second acquire by its owner with FAILED_PRECONDITION (a deadlock
// detected, not a hang); a reentrant one counts it, never queueing it,
// whatever its priority, and keeps the fence of the hold.
//
// Example:
//   PriorityLock lock(&loop, /*fence_base=*/0);
//   WaitResult r = co_await lock.Acquire({.session = &s, .owner_key = "w1"}, 5);
//   if (r.ok()) { ...use r.grant.fence...; lock.Release(&s, "w1"); }
//
// Threading: confined to its EventLoop's thread, like every primitive.

#ifndef BATON_SERVER_CORE_PRIORITY_MUTEX_H_
#define BATON_SERVER_CORE_PRIORITY_MUTEX_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"

#include "absl/status/status.h"
#include "server/core/primitive.h"
#include "server/core/session.h"
#include "server/core/wait_queue.h"
#include "server/core/waiter.h"

namespace baton::core {

class PriorityMutex : public Primitive {
 public:
  enum class Reentrancy : std::uint8_t { kNonReentrant, kReentrant };

  // The most acquisitions a reentrant owner holds at once; one more is
  // RESOURCE_EXHAUSTED.
  static constexpr std::int32_t kMaxDepth = std::numeric_limits<std::int32_t>::max();

  // Who holds the mutex now.
  struct Holder {
    std::uint64_t session_id = 0;
    std::string owner_key;
    std::int64_t depth = 0;  // acquisitions not yet released
    std::uint64_t fence = 0;
  };

  PriorityMutex(runtime::EventLoop* loop, std::uint64_t fence_base,
                Reentrancy reentrancy);
  ~PriorityMutex() override;

  // Acquire() waits for the mutex on behalf of (options.session,
  // options.owner_key). The grant carries the hold's fence.
  Waiter Acquire(WaitOptions options, std::int64_t priority = 0) {
    return Waiter(this, std::move(options), {.priority = priority});
  }

  // Release() releases one acquisition by the owner; at the last one the
  // mutex passes to the best waiter. FAILED_PRECONDITION, changing nothing,
  // when the caller is not the owner.
  absl::Status Release(const Session* session, std::string_view owner_key);

  bool locked() const { return depth_ > 0; }
  bool IsOwner(const Session* session, std::string_view owner_key) const;
  std::optional<Holder> holder() const;
  std::size_t waiter_count() const {
    return waiting_ == nullptr ? 0 : waiting_->queue.size();
  }
  bool reentrant() const { return reentrancy_ == Reentrancy::kReentrant; }

  absl::Status CheckInvariants() const override;

 protected:
  std::optional<WaitResult> Start(Waiter* waiter) override;
  void Enqueue(Waiter* waiter) override;
  void Remove(Waiter* waiter) override;
  void GiveBack(Waiter* waiter) override;
  void ReleaseHold(HoldLink* hold) override;
  void OnClose(const absl::Status& status) override;

 private:
  // Take() makes the waiter's owner the holder, with a new fence.
  Grant Take(const Waiter& waiter);
  // ReleaseOne() drops one level of the hold; at zero, hands the mutex on.
  void ReleaseOne();
  void Clear();
  void Serve();

  // GrantQueuedReentries() grants, as re-entries, the holder's own waiters
  // still queued (reentrant only): re-entry never queues, even for a wait
  // that began before its owner got the lock.
  void GrantQueuedReentries();
  void CountQueued(const Waiter& waiter, int delta);

  // What only a mutex that has had waiters needs.
  struct Waiting {
    WaitQueue<std::int64_t> queue;
    // Reentrant only: how many waiters each owner has queued, so the queue
    // is searched for an owner's other waiters only when it has some.
    absl::flat_hash_map<std::pair<const Session*, std::string>, int> queued_per_owner;
  };

  // An idle mutex is what a million locks cost: it keeps its waiting state
  // out of line, made at its first waiter, and its holder's fence is the
  // last fence (every grant takes a new one).
  // (reentrancy_ and depth_ first: they fit in Primitive's tail padding.)
  const Reentrancy reentrancy_;
  std::int32_t depth_ = 0;  // acquisitions not yet released
  std::unique_ptr<Waiting> waiting_;
  HoldLink hold_{this};  // attached to the holder's session while held
  std::string holder_key_;
};

// A mutex ordered by priority. Not reentrant.
class PriorityLock : public PriorityMutex {
 public:
  PriorityLock(runtime::EventLoop* loop, std::uint64_t fence_base)
      : PriorityMutex(loop, fence_base, Reentrancy::kNonReentrant) {}
};

// A reentrant mutex ordered by priority.
class PriorityRLock : public PriorityMutex {
 public:
  PriorityRLock(runtime::EventLoop* loop, std::uint64_t fence_base)
      : PriorityMutex(loop, fence_base, Reentrancy::kReentrant) {}
};

// A reentrant FIFO mutex.
class RLock : public PriorityMutex {
 public:
  RLock(runtime::EventLoop* loop, std::uint64_t fence_base)
      : PriorityMutex(loop, fence_base, Reentrancy::kReentrant) {}

  Waiter Acquire(WaitOptions options) {
    return PriorityMutex::Acquire(std::move(options), 0);
  }
};

}  // namespace baton::core

#endif  // BATON_SERVER_CORE_PRIORITY_MUTEX_H_

// Copyright 2026 The Baton Authors.
//
// KeyedCondition is a condition variable over a lock of its own, with its
// waiters grouped by key (a string): "wake the workers waiting for job 42".
// The lock is a non-reentrant FIFO PriorityLock owned by the condition;
// Acquire()/Release()/locked()/IsOwner() act on it, and its grants carry its
// fences.
//
// Wait(key) is asyncio.Condition.wait() for a server: the caller must hold
// the lock; the wait releases it and joins the queue of `key` in one step
// (phase 1), and once it leaves that queue, for whatever reason but session
// end or Close(), it re-acquires the lock before it returns (phase 2). The
// answer of a Wait:
//
//   phase 1 ended by      lock at return   status
//   ------------------    --------------   ---------------------------------
//   Notify/NotifyAll      held             OK (grant.fence: the new hold's)
//   its timeout           held             DEADLINE_EXCEEDED (grant.fence set)
//   its cancel signal     held             CANCELLED (grant.fence set)
//   session end           not held         ABORTED (in phase 1 or phase 2)
//   Close()               not held         the close status
//
// Phase 2 itself has no timeout and no cancel: like asyncio, a wait always
// comes back holding the lock unless its session ended or the instance was
// closed. Checks made before anything changes (the lock stays held): a caller
// not holding the lock gets FAILED_PRECONDITION, an already-cancelled signal
// CANCELLED. A timeout of 0 releases the lock, is refused at once (nobody
// can have notified yet) and re-acquires the lock: DEADLINE_EXCEEDED, held.
//
// Notify(key, n) wakes up to n waiters of `key`, oldest first; NotifyAll
// wakes every waiter of a key or of every key (in arrival order). A waiter
// woken and cancelled (or whose session ended) before it resumed passes its
// wake-up on to the next waiter of its key: a wake-up is never lost.
//
// WaitAll() waits, without the lock, until every phase-1 waiter present at
// the call has been notified or has left (timeout, cancel, session end).
// Later waiters are not included, and its own timeout disturbs no one.
//
// Example:
//   KeyedCondition cond(&loop, /*fence_base=*/0);
//   co_await cond.Acquire(opts);                       // take the lock
//   while (!JobDone(42)) {
//     WaitResult r = co_await cond.Wait(opts, "job-42");  // lock held again
//     if (r.status.code() == absl::StatusCode::kAborted) co_return;
//   }
//   cond.Release(opts.session, opts.owner_key);
//   // elsewhere, holding the lock: cond.Notify(&s, "o", "job-42", 3);
//
// Threading: confined to its EventLoop's thread, like every primitive.

#ifndef BATON_SERVER_CORE_KEYED_CONDITION_H_
#define BATON_SERVER_CORE_KEYED_CONDITION_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/core/primitive.h"
#include "server/core/priority_mutex.h"
#include "server/core/session.h"
#include "server/core/waiter.h"
#include "server/runtime/intrusive_list.h"
#include "server/runtime/task.h"

namespace baton::core {

class KeyedCondition : public Primitive {
 public:
  // `fence_base` is also the base of the inner lock's fences.
  KeyedCondition(runtime::EventLoop* loop, std::uint64_t fence_base);
  // The destructor closes the instance (ABORTED "instance destroyed").
  ~KeyedCondition() override;

  // --- The lock. ---

  // Acquire() waits for the condition's lock (FIFO, not reentrant: a second
  // acquire by the owner is FAILED_PRECONDITION). The grant carries a fence.
  Waiter Acquire(WaitOptions options) {
    return lock_.Acquire(std::move(options), /*priority=*/0);
  }

  // Release() releases the lock, which passes to its next waiter at once.
  // FAILED_PRECONDITION, changing nothing, when the caller is not the owner.
  absl::Status Release(const Session* session, std::string_view owner_key);

  bool locked() const { return lock_.locked(); }
  bool IsOwner(const Session* session, std::string_view owner_key) const {
    return lock_.IsOwner(session, owner_key);
  }
  std::optional<PriorityMutex::Holder> holder() const { return lock_.holder(); }
  // lock_last_fence() is the last fence the lock granted. The grants of a
  // condition are its lock's, so Primitive::last_fence() of the condition
  // itself stays at fence_base: persist this one instead.
  std::uint64_t lock_last_fence() const { return lock_.last_fence(); }

  // AssertLocked() is OK when (session, owner_key) holds the lock, and
  // FAILED_PRECONDITION otherwise.
  absl::Status AssertLocked(const Session* session,
                            std::string_view owner_key) const;

  // --- The condition. ---

  // Wait() releases the lock and waits on `key`, then re-acquires the lock;
  // see the table at the top of this file for its answers. The returned
  // task is lazy: nothing happens until it is awaited.
  runtime::Task<WaitResult> Wait(WaitOptions options, std::string key);

  // Notify() wakes up to `n` waiters of `key`, oldest first, and returns how
  // many it woke. The caller must hold the lock (FAILED_PRECONDITION); n must
  // be >= 1 (INVALID_ARGUMENT). With `strict`, waking fewer than `n` (none
  // included) is FAILED_PRECONDITION, yet those that could be woken are.
  absl::StatusOr<std::int64_t> Notify(const Session* session,
                                      std::string_view owner_key,
                                      std::string_view key, std::int64_t n = 1,
                                      bool strict = false);

  // NotifyAll() wakes every waiter of `key`, or of every key when `key` is
  // absent (in arrival order), and returns how many. The caller must hold the
  // lock (FAILED_PRECONDITION).
  absl::StatusOr<std::int64_t> NotifyAll(const Session* session,
                                         std::string_view owner_key,
                                         std::optional<std::string_view> key);

  // WaitAll() waits until every waiter in phase 1 now has been notified or
  // has left; OK at once when there is none. Needs no lock and takes none.
  Waiter WaitAll(WaitOptions options) {
    return Waiter(this, std::move(options), {.priority = kWaitAllKind});
  }

  // waiter_count() is the number of phase-1 waiters of `key`, or of every key.
  std::size_t waiter_count(std::string_view key) const;
  std::size_t waiter_count() const { return waiting_; }
  // lock_waiter_count() is the number of waiters queued for the lock (new
  // acquirers and waits re-acquiring it after a notify).
  std::size_t lock_waiter_count() const { return lock_.waiter_count(); }
  // wait_all_count() is the number of WaitAll() calls pending.
  std::size_t wait_all_count() const { return wait_all_.size(); }

  absl::Status CheckInvariants() const override;

 protected:
  std::optional<WaitResult> Start(Waiter* waiter) override;
  void Enqueue(Waiter* waiter) override;
  void Remove(Waiter* waiter) override;
  void GiveBack(Waiter* waiter) override;
  void ReleaseHold(HoldLink* hold) override;
  void OnClose(const absl::Status& status) override;

 private:
  // The condition has no priorities: request().priority tells the kind of
  // wait. Phase-1 waiters carry their key in request().key, and
  // Waiter::counter == 1 once Start() released the lock for them. WaitAll
  // waiters keep in Waiter::counter how many phase-1 waiters that arrived
  // before them (smaller sequence()) are still in phase 1.
  static constexpr std::int64_t kKeyWaitKind = 0;
  static constexpr std::int64_t kWaitAllKind = 1;

  using WaiterList = runtime::IntrusiveList<Waiter, QueueTag>;

  // WakeFront() takes the oldest waiter of the key list `it` off and grants
  // it (erasing the key when it empties). Returns false when none is left.
  bool WakeFront(absl::node_hash_map<std::string, WaiterList>::iterator it);
  // LeavePhase1() accounts for `waiter` leaving phase 1: it no longer
  // counts for any WaitAll, and those that reach zero are granted.
  void LeavePhase1(const Waiter& waiter);
  // CheckHolder() is OK when the caller holds the lock.
  absl::Status CheckHolder(const Session* session, std::string_view owner_key,
                           std::string_view operation) const;

  // The lock; its revocations are reported as this instance's.
  PriorityLock lock_;
  // Phase-1 waiters by key, oldest first; a key is erased when its list
  // empties. node_hash_map: the lists are not movable.
  absl::node_hash_map<std::string, WaiterList> keys_;
  std::size_t waiting_ = 0;  // phase-1 waiters over every key
  // WaitAll waiters in arrival order.
  WaiterList wait_all_;
  // Expires with the instance; a Wait resumed after the instance was
  // destroyed checks it before touching the instance again.
  std::shared_ptr<const bool> alive_ = std::make_shared<const bool>(true);
};

}  // namespace baton::core

#endif  // BATON_SERVER_CORE_KEYED_CONDITION_H_

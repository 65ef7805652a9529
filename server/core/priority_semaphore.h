// Copyright 2026 The Baton Authors.
//
// PrioritySemaphore is a counting semaphore whose waiters are served by
// priority (lower first), then by arrival. Every grant carries a fresh
// fence. Permits belong to sessions (not to owner keys).
//
// The pool: it starts with `value` permits. Release(strict = false) by a
// session holding no permit adds one more to it, as the seed allows, so the
// pool can grow past `value`; Reset() brings it back to `value`:
//
//   pool_size() == available() + held()   (always)
//   pool_size() == value() + permits added by non-strict releases since the
//                  last Reset()
//
// Reset() revokes every permit out (each holding session is reported with
// its latest fence and an ABORTED reason, so those fences become stale),
// then serves the queued waiters from the fresh pool in priority order.
//
// Example:
//   PrioritySemaphore sem(&loop, /*fence_base=*/0, /*value=*/2);
//   WaitResult r = co_await sem.Acquire({.session = &s}, /*priority=*/-1);
//   if (r.ok()) { ...; sem.Release(&s); }
//
// Threading: confined to its EventLoop's thread, like every primitive.

#ifndef BATON_SERVER_CORE_PRIORITY_SEMAPHORE_H_
#define BATON_SERVER_CORE_PRIORITY_SEMAPHORE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/core/permit_ledger.h"
#include "server/core/primitive.h"
#include "server/core/session.h"
#include "server/core/wait_queue.h"
#include "server/core/waiter.h"

namespace baton::core {

class PrioritySemaphore : public Primitive {
 public:
  // Validate() checks the constructor's parameters: `value` (the initial
  // number of permits) must be >= 0.
  static absl::Status Validate(std::int64_t value);

  // Create() validates, then constructs.
  static absl::StatusOr<std::unique_ptr<PrioritySemaphore>> Create(
      runtime::EventLoop* loop, std::uint64_t fence_base,
      std::int64_t value = 1);

  // `value` must pass Validate() (the constructor aborts otherwise).
  PrioritySemaphore(runtime::EventLoop* loop, std::uint64_t fence_base,
                    std::int64_t value = 1);
  // The destructor closes the instance: waiters fail with ABORTED and holds
  // are revoked.
  ~PrioritySemaphore() override;

  // Acquire() waits for one permit for options.session, served by
  // `priority` (lower first), then by arrival. The grant carries the
  // permit's fence.
  Waiter Acquire(WaitOptions options, std::int64_t priority = 0) {
    return Waiter(this, std::move(options), {.priority = priority});
  }

  // Release() gives back one permit held by `session` and hands it to the
  // best waiter. When the session holds none: with `strict`, it is
  // FAILED_PRECONDITION ("released too many times") and changes nothing;
  // without, a permit is added to the pool anyway.
  absl::Status Release(const Session* session, bool strict = true);

  // Reset() returns to the initial state: every permit out is revoked and
  // reported, the pool goes back to value() permits, and queued waiters stay
  // queued and are served from it in order. Fails only once closed.
  absl::Status Reset();

  // value() is the initial number of permits.
  std::int64_t value() const { return value_; }
  std::int64_t available() const { return available_; }
  std::int64_t held() const { return ledger_.total(); }
  std::int64_t pool_size() const { return available_ + ledger_.total(); }
  std::int64_t PermitsOf(const Session* session) const {
    return ledger_.PermitsOf(session);
  }
  std::size_t waiter_count() const { return queue_.size(); }
  // locked() is true when an Acquire() would have to wait now.
  bool locked() const { return available_ <= 0 || !queue_.empty(); }
  std::vector<PermitHolder> holders() const { return ledger_.holders(); }

  absl::Status CheckInvariants() const override;

 protected:
  std::optional<WaitResult> Start(Waiter* waiter) override;
  void Enqueue(Waiter* waiter) override;
  void Remove(Waiter* waiter) override;
  void GiveBack(Waiter* waiter) override;
  void ReleaseHold(HoldLink* hold) override;
  void OnClose(const absl::Status& status) override;

 private:
  // Take() gives one permit to the waiter's session, with a new fence.
  Grant Take(const Waiter& waiter);
  // Serve() grants permits to the best waiters while any are free.
  void Serve();

  const std::int64_t value_;
  // Free permits; never negative. The queue is non-empty only while it is 0.
  std::int64_t available_;
  PermitLedger ledger_{this};
  WaitQueue<std::int64_t> queue_;  // keyed by priority
};

}  // namespace baton::core

#endif  // BATON_SERVER_CORE_PRIORITY_SEMAPHORE_H_

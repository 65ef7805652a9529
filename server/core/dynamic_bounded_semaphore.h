// Copyright 2026 The Baton Authors.
//
// DynamicBoundedSemaphore is a bounded semaphore whose bound can be changed
// while in use: it caps how many permits are out at once, and the cap can be
// tuned live. Waiters are served first-come first-served; every grant
// carries a fresh fence.
//
// Permits belong to sessions (not to owner keys). A release by a session
// that holds no permit is an error ("released too many times") and changes
// nothing, so the count can never rise above the bound.
//
// Changing the bound by k changes the number of free permits by k at once:
//   - raising it adds k permits and wakes up to k waiters, in order;
//   - lowering it removes k permits: current holders keep theirs, so
//     available() may go below zero, and no one new enters until holders
//     have released enough to bring it back above zero.
//
// Example:
//   DynamicBoundedSemaphore sem(&loop, /*fence_base=*/0, /*value=*/3);
//   WaitResult r = co_await sem.Acquire({.session = &s, .timeout =
//   absl::Seconds(1)}); if (r.ok()) { ...call the downstream with
//   r.grant.fence...; sem.Release(&s); } sem.SetBound(5);  // elsewhere: two
//   more calls may run now
//
// Threading: confined to its EventLoop's thread, like every primitive.

#ifndef BATON_SERVER_CORE_DYNAMIC_BOUNDED_SEMAPHORE_H_
#define BATON_SERVER_CORE_DYNAMIC_BOUNDED_SEMAPHORE_H_

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

class DynamicBoundedSemaphore : public Primitive {
 public:
  // Validate() checks the constructor's parameters: `value` (the initial
  // bound, all of it free) must be >= 0.
  static absl::Status Validate(std::int64_t value);

  // Create() validates, then constructs.
  static absl::StatusOr<std::unique_ptr<DynamicBoundedSemaphore>> Create(
      runtime::EventLoop* loop, std::uint64_t fence_base,
      std::int64_t value = 1);

  // `value` must pass Validate() (the constructor aborts otherwise).
  DynamicBoundedSemaphore(runtime::EventLoop* loop, std::uint64_t fence_base,
                          std::int64_t value = 1);
  // The destructor closes the instance: waiters fail with ABORTED and holds
  // are revoked.
  ~DynamicBoundedSemaphore() override;

  // Acquire() waits for one permit for options.session, first-come
  // first-served. The grant carries the permit's fence.
  Waiter Acquire(WaitOptions options) {
    return Waiter(this, std::move(options));
  }

  // Release() gives back one permit held by `session` and hands it to the
  // first waiter if the bound allows. FAILED_PRECONDITION ("released too many
  // times"), changing nothing, when the session holds none.
  absl::Status Release(const Session* session);

  // SetBound() changes the bound to `bound` (>= 0, else INVALID_ARGUMENT,
  // changing nothing): see the file comment.
  absl::Status SetBound(std::int64_t bound);

  std::int64_t bound() const { return bound_; }
  // available() is bound() - held(); negative after the bound was lowered
  // below the number of permits held.
  std::int64_t available() const { return available_; }
  std::int64_t held() const { return ledger_.total(); }
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
  // Serve() grants permits to the front waiters while any are free.
  void Serve();

  // available_ == bound_ - ledger_.total() at all times; the queue is
  // non-empty only while available_ <= 0.
  std::int64_t bound_;
  std::int64_t available_;
  PermitLedger ledger_{this};
  WaitQueue<int> queue_;  // one key: plain FIFO
};

}  // namespace baton::core

#endif  // BATON_SERVER_CORE_DYNAMIC_BOUNDED_SEMAPHORE_H_

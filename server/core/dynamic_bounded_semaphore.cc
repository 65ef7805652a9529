// Copyright 2026 The Baton Authors.

#include "server/core/dynamic_bounded_semaphore.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/core/status_macros.h"

namespace baton::core {

absl::Status DynamicBoundedSemaphore::Validate(std::int64_t value) {
  if (value < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("value must be >= 0, got ", value));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<DynamicBoundedSemaphore>>
DynamicBoundedSemaphore::Create(runtime::EventLoop* loop,
                                std::uint64_t fence_base, std::int64_t value) {
  BATON_RETURN_IF_ERROR(Validate(value));
  return std::make_unique<DynamicBoundedSemaphore>(loop, fence_base, value);
}

DynamicBoundedSemaphore::DynamicBoundedSemaphore(runtime::EventLoop* loop,
                                                 std::uint64_t fence_base,
                                                 std::int64_t value)
    : Primitive(loop, fence_base), bound_(value), available_(value) {
  if (!Validate(value).ok()) std::abort();
}

DynamicBoundedSemaphore::~DynamicBoundedSemaphore() {
  Close(absl::AbortedError("instance destroyed"));
}

absl::Status DynamicBoundedSemaphore::Release(const Session* session) {
  if (closed()) return close_status();
  // A session holding a permit means held() >= 1, so available_ <= bound_ - 1
  // and giving it back can never take the count above the bound.
  if (!ledger_.TakeOne(session)) {
    return absl::FailedPreconditionError(
        absl::StrCat("released too many times: session ",
                     session == nullptr ? 0 : session->id(),
                     " holds no permit of this semaphore"));
  }
  ++available_;
  Serve();
  return absl::OkStatus();
}

absl::Status DynamicBoundedSemaphore::SetBound(std::int64_t bound) {
  if (closed()) return close_status();
  if (bound < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("bound must be >= 0, got ", bound));
  }
  available_ += bound - bound_;
  bound_ = bound;
  Serve();
  return absl::OkStatus();
}

std::optional<WaitResult> DynamicBoundedSemaphore::Start(Waiter* waiter) {
  if (available_ <= 0 || !queue_.empty()) return std::nullopt;
  return WaitResult{.grant = Take(*waiter)};
}

void DynamicBoundedSemaphore::Enqueue(Waiter* waiter) {
  queue_.Push(waiter, 0);
}

// A queue is only non-empty while no permit is free, so a departure from it
// lets no one through.
void DynamicBoundedSemaphore::Remove(Waiter* waiter) { queue_.Remove(waiter); }

void DynamicBoundedSemaphore::GiveBack(Waiter* waiter) {
  if (!ledger_.TakeOne(waiter->session())) return;
  ++available_;
  Serve();
}

void DynamicBoundedSemaphore::ReleaseHold(HoldLink* hold) {
  available_ += ledger_.TakeAll(hold);
  Serve();
}

void DynamicBoundedSemaphore::OnClose(const absl::Status& status) {
  while (Waiter* waiter = queue_.PopFront()) FailWaiter(waiter, status);
  const std::vector<PermitLedger::Revoked> revoked = ledger_.RevokeAll();
  for (const PermitLedger::Revoked& r : revoked) available_ += r.permits;
  for (const PermitLedger::Revoked& r : revoked) {
    ReportRevoked(r.session, /*owner_key=*/"", r.fence, status);
  }
}

Grant DynamicBoundedSemaphore::Take(const Waiter& waiter) {
  const std::uint64_t fence = NextFence();
  ledger_.Add(waiter.session(), fence);
  --available_;
  return Grant{.fence = fence};
}

void DynamicBoundedSemaphore::Serve() {
  if (closed()) return;
  while (available_ > 0) {
    Waiter* next = queue_.PopFront();
    if (next == nullptr) return;
    GrantWaiter(next, Take(*next));
  }
}

absl::Status DynamicBoundedSemaphore::CheckInvariants() const {
  if (bound_ < 0) return absl::InternalError("negative bound");
  if (ledger_.total() < 0) return absl::InternalError("negative held count");
  if (available_ != bound_ - ledger_.total()) {
    return absl::InternalError(absl::StrCat("available ", available_,
                                            " != bound ", bound_, " - held ",
                                            ledger_.total()));
  }
  if (available_ > 0 && !queue_.empty()) {
    return absl::InternalError(absl::StrCat(queue_.size(),
                                            " waiters queued while ",
                                            available_, " permits are free"));
  }
  if (closed() && (!queue_.empty() || !ledger_.empty())) {
    return absl::InternalError("closed but still has waiters or holders");
  }
  return ledger_.CheckInvariants(last_fence());
}

}  // namespace baton::core

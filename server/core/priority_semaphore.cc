// Copyright 2026 The Baton Authors.

#include "server/core/priority_semaphore.h"

#include <cstdlib>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/core/status_macros.h"

namespace baton::core {

absl::Status PrioritySemaphore::Validate(std::int64_t value) {
  if (value < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("value must be >= 0, got ", value));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<PrioritySemaphore>> PrioritySemaphore::Create(
    runtime::EventLoop* loop, std::uint64_t fence_base, std::int64_t value) {
  BATON_RETURN_IF_ERROR(Validate(value));
  return std::make_unique<PrioritySemaphore>(loop, fence_base, value);
}

PrioritySemaphore::PrioritySemaphore(runtime::EventLoop* loop,
                                     std::uint64_t fence_base,
                                     std::int64_t value)
    : Primitive(loop, fence_base), value_(value), available_(value) {
  if (!Validate(value).ok()) std::abort();
}

PrioritySemaphore::~PrioritySemaphore() {
  Close(absl::AbortedError("instance destroyed"));
}

absl::Status PrioritySemaphore::Release(const Session* session, bool strict) {
  if (closed()) return close_status();
  if (ledger_.PermitsOf(session) == 0) {
    if (strict) {
      return absl::FailedPreconditionError(absl::StrCat(
          "released too many times: session ",
          session == nullptr ? 0 : session->id(),
          " holds no permit of this semaphore (release with strict = false "
          "to add a permit anyway)"));
    }
    if (pool_size() == std::numeric_limits<std::int64_t>::max()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "release(strict = false): the pool already has the most permits "
          "there can be (",
          std::numeric_limits<std::int64_t>::max(), ")"));
    }
  } else {
    ledger_.TakeOne(session);
  }
  // Either the session's permit came back, or (not strict) a new one joins
  // the pool.
  ++available_;
  Serve();
  return absl::OkStatus();
}

absl::Status PrioritySemaphore::Reset() {
  if (closed()) return close_status();
  const absl::Status reason =
      absl::AbortedError("permit revoked: the semaphore was reset");
  // A grant not yet delivered fails instead: its caller never held it.
  WithdrawUndeliveredGrants(reason, [this](const Waiter& waiter) {
    ledger_.TakeOne(waiter.session());
  });
  const std::vector<PermitLedger::Revoked> revoked = ledger_.RevokeAll();
  available_ = value_;
  Serve();
  // Reported once the state is whole again, in case the callback reads it.
  for (const PermitLedger::Revoked& r : revoked) {
    ReportRevoked(r.session, /*owner_key=*/"", r.fence, reason);
  }
  return absl::OkStatus();
}

std::optional<WaitResult> PrioritySemaphore::Start(Waiter* waiter) {
  if (available_ <= 0 || !queue_.empty()) return std::nullopt;
  return WaitResult{.grant = Take(*waiter)};
}

void PrioritySemaphore::Enqueue(Waiter* waiter) {
  queue_.Push(waiter, waiter->request().priority);
}

// A queue is only non-empty while no permit is free, so a departure from it
// lets no one through.
void PrioritySemaphore::Remove(Waiter* waiter) { queue_.Remove(waiter); }

void PrioritySemaphore::GiveBack(Waiter* waiter) {
  if (!ledger_.TakeOne(waiter->session())) return;
  ++available_;
  Serve();
}

void PrioritySemaphore::ReleaseHold(HoldLink* hold) {
  available_ += ledger_.TakeAll(hold);
  Serve();
}

void PrioritySemaphore::OnClose(const absl::Status& status) {
  while (Waiter* waiter = queue_.PopFront()) FailWaiter(waiter, status);
  const std::vector<PermitLedger::Revoked> revoked = ledger_.RevokeAll();
  for (const PermitLedger::Revoked& r : revoked) available_ += r.permits;
  for (const PermitLedger::Revoked& r : revoked) {
    ReportRevoked(r.session, /*owner_key=*/"", r.fence, status);
  }
}

Grant PrioritySemaphore::Take(const Waiter& waiter) {
  const std::uint64_t fence = NextFence();
  ledger_.Add(waiter.session(), fence);
  --available_;
  return Grant{.fence = fence};
}

void PrioritySemaphore::Serve() {
  if (closed()) return;
  while (available_ > 0) {
    Waiter* next = queue_.PopFront();
    if (next == nullptr) return;
    GrantWaiter(next, Take(*next));
  }
}

absl::Status PrioritySemaphore::CheckInvariants() const {
  if (available_ < 0) {
    return absl::InternalError(
        absl::StrCat("available is negative: ", available_));
  }
  if (available_ > 0 && !queue_.empty()) {
    return absl::InternalError(absl::StrCat(queue_.size(),
                                            " waiters queued while ",
                                            available_, " permits are free"));
  }
  if (pool_size() < value_) {
    return absl::InternalError(
        absl::StrCat("pool of ", pool_size(),
                     " permits is below the initial value ", value_));
  }
  if (closed() && (!queue_.empty() || !ledger_.empty())) {
    return absl::InternalError("closed but still has waiters or holders");
  }
  return ledger_.CheckInvariants(last_fence());
}

}  // namespace baton::core

// Copyright 2026 The Baton Authors.

#include "server/core/primitive.h"

#include <cstdlib>
#include <utility>

namespace baton::core {

Primitive::Primitive(runtime::EventLoop* loop, std::uint64_t fence_base)
    : loop_(loop), last_fence_(fence_base) {}

namespace {

// The sink of set_revocation_callback(), owned by the primitive.
class CallbackSink final : public RevocationSink {
 public:
  explicit CallbackSink(Primitive::RevocationCallback callback)
      : callback_(std::move(callback)) {}
  void OnRevoked(const Primitive&, const Revocation& revocation) override {
    if (callback_) callback_(revocation);
  }

 private:
  Primitive::RevocationCallback callback_;
};

}  // namespace

Primitive::~Primitive() {
  // Subclasses Close() in their destructors; by now nobody points here.
  if (settling_ != nullptr && !settling_->resolved.empty()) std::abort();
  set_revocation_sink(nullptr);
}

const absl::Status& Primitive::close_status() const {
  static const absl::Status* const kOk = new absl::Status();
  return settling_ == nullptr ? *kOk : settling_->close_status;
}

Primitive::Settling& Primitive::settling() {
  if (settling_ == nullptr) settling_ = std::make_unique<Settling>();
  return *settling_;
}

std::uint64_t Primitive::NextSequence() {
  // Per loop, not per thread: a loop's turns may run on other threads than
  // its own (EventLoop::DeferWakes::Owed::kRunHere).
  return loop_->NextSequence();
}

void Primitive::set_revocation_callback(RevocationCallback callback) {
  set_revocation_sink(new CallbackSink(std::move(callback)));
  owns_revocation_sink_ = true;
}

void Primitive::set_revocation_sink(RevocationSink* sink) {
  if (owns_revocation_sink_) delete revocation_sink_;
  revocation_sink_ = sink;
  owns_revocation_sink_ = false;
}

absl::Duration Primitive::RetryAfter(const Waiter&) const {
  return absl::ZeroDuration();
}

void Primitive::Close(const absl::Status& status) {
  if (closed_) return;
  closed_ = true;
  settling().close_status = status;
  // Grants decided but not yet delivered are withdrawn first and taken back
  // (GiveBack serves no one once closed): their callers learn of the close
  // as one failed wait, and OnClose() revokes and reports only holds that
  // their holders know of.
  WithdrawUndeliveredGrants(status, [this](Waiter& waiter) { GiveBack(&waiter); });
  OnClose(status);
  // The waiters forget this primitive.
  while (settling_->resolved.PopFront() != nullptr) {
  }
}

void Primitive::WithdrawUndeliveredGrants(
    const absl::Status& status,
    absl::FunctionRef<void(Waiter&)> on_withdrawn) {
  if (settling_ == nullptr) return;
  runtime::IntrusiveList<Waiter, QueueTag>& resolved = settling_->resolved;
  for (Waiter* waiter = resolved.Front(); waiter != nullptr; waiter = resolved.Next(waiter)) {
    if (!waiter->granted_) continue;
    on_withdrawn(*waiter);
    waiter->granted_ = false;
    waiter->status_ = status;
    waiter->SetGrant(Grant{});
  }
}

void Primitive::GrantWaiter(Waiter* waiter, const Grant& grant) {
  waiter->Resolve(absl::OkStatus(), grant, /*granted=*/true);
}

void Primitive::FailWaiter(Waiter* waiter, const absl::Status& status) {
  waiter->Resolve(status, Grant{}, /*granted=*/false);
}

void Primitive::ReportRevoked(const Session* session, std::string owner_key,
                              std::uint64_t fence, const absl::Status& reason) {
  ReportRevoked(Revocation{.session_id = session->id(),
                           .owner_key = std::move(owner_key),
                           .fence = fence,
                           .reason = reason});
}

void Primitive::ReportRevoked(const Revocation& revocation) {
  if (revocation_sink_ != nullptr) revocation_sink_->OnRevoked(*this, revocation);
}

}  // namespace baton::core

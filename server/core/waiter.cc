// Copyright 2026 The Baton Authors.

#include "server/core/waiter.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/core/primitive.h"

namespace baton::core {

Waiter::Waiter(Primitive* primitive, WaitOptions options, WaitRequest request)
    : primitive_(primitive),
      options_(std::move(options)),
      request_(std::move(request)) {}

Waiter::~Waiter() {
  // Only reached early when a coroutine frame is destroyed while suspended
  // here, which happens when a loop is torn down. Leave no dangling link.
  if (state_ == State::kQueued) {
    primitive_->Remove(this);
    primitive_->loop().CancelTimer(this);
  } else if (state_ == State::kResolved && granted_) {
    granted_ = false;
    primitive_->GiveBack(this);
  }
  runtime::ListHook<QueueTag>::Unlink();
  runtime::ListHook<SessionWaiterTag>::Unlink();
  if (options_.cancel != nullptr) options_.cancel->StopListening(this);
}

bool Waiter::await_ready() {
  const auto finish = [this](WaitResult result) {
    result_ = std::move(result);
    state_ = State::kDone;
    return true;
  };
  if (primitive_->closed()) {
    return finish({.status = primitive_->close_status()});
  }
  if (options_.session == nullptr) {
    return finish({.status = absl::InvalidArgumentError("session is required")});
  }
  if (options_.session->ended()) {
    return finish({.status = absl::AbortedError("session ended")});
  }
  if (options_.cancel != nullptr && options_.cancel->cancelled()) {
    return finish({.status = absl::CancelledError("cancelled")});
  }
  sequence_ = primitive_->NextSequence();
  if (std::optional<WaitResult> answer = primitive_->Start(this)) {
    return finish(*std::move(answer));
  }
  if (options_.timeout.has_value() && *options_.timeout <= absl::ZeroDuration()) {
    return finish({.status = absl::DeadlineExceededError(
                       "not available now and timeout is 0 (try once)"),
                   .retry_after = primitive_->RetryAfter(*this)});
  }
  deadline_ = options_.timeout.has_value()
                  ? primitive_->Now() + *options_.timeout
                  : absl::InfiniteFuture();
  state_ = State::kQueued;
  primitive_->Enqueue(this);
  options_.session->waiters_.PushBack(this);
  if (deadline_ != absl::InfiniteFuture()) {
    primitive_->loop().AddTimer(this, deadline_);
  }
  if (options_.cancel != nullptr) options_.cancel->Listen(this);
  return false;
}

void Waiter::await_suspend(std::coroutine_handle<> handle) { handle_ = handle; }

WaitResult Waiter::await_resume() {
  if (state_ == State::kResolved) {
    runtime::ListHook<QueueTag>::Unlink();  // off the primitive's resolved list
    runtime::ListHook<SessionWaiterTag>::Unlink();
    if (options_.cancel != nullptr) options_.cancel->StopListening(this);
    state_ = State::kDone;
  }
  granted_ = false;
  return std::move(result_);
}

void Waiter::Resolve(absl::Status status, const Grant& grant, bool granted) {
  if (state_ != State::kQueued) std::abort();
  state_ = State::kResolved;
  result_.status = std::move(status);
  result_.grant = grant;
  granted_ = granted;
  primitive_->loop().CancelTimer(this);
  primitive_->resolved_.PushBack(this);
  primitive_->loop().Schedule(handle_);
}

void Waiter::Leave(const absl::Status& status) {
  if (state_ == State::kQueued) {
    primitive_->Remove(this);
    Resolve(status, Grant{}, /*granted=*/false);
  } else if (state_ == State::kResolved && granted_) {
    granted_ = false;
    result_.status = status;
    primitive_->GiveBack(this);
    result_.grant = Grant{};
  }
}

void Waiter::OnSessionEnd(const absl::Status& status) {
  session_ended_ = true;
  if (state_ == State::kResolved && !granted_) result_.status = status;
  Leave(status);
  runtime::ListHook<SessionWaiterTag>::Unlink();
}

void Waiter::OnTimer() {
  Leave(absl::DeadlineExceededError(
      absl::StrCat("timed out after ", absl::FormatDuration(*options_.timeout))));
}

void Waiter::OnCancel() { Leave(absl::CancelledError("cancelled")); }

}  // namespace baton::core

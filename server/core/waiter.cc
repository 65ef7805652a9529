// Copyright 2026 The Baton Authors.

#include "server/core/waiter.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/core/primitive.h"

namespace baton::core {

namespace internal {

WaiterKeys::WaiterKeys(std::string_view first, std::string_view second) {
  const std::size_t size = first.size() + second.size();
  char* out;
  if (size <= kInline) {
    bytes_[kInline] = static_cast<unsigned char>(size);
    out = reinterpret_cast<char*>(bytes_);
  } else {
    // A waiter's offsets into its keys are 32-bit (owner_key_size_).
    if (size > std::numeric_limits<std::uint32_t>::max()) std::abort();
    out = new char[size];
    const auto size32 = static_cast<std::uint32_t>(size);
    std::memcpy(bytes_, &out, sizeof(out));
    std::memcpy(bytes_ + sizeof(out), &size32, sizeof(size32));
    bytes_[kInline] = kOnHeap;
  }
  if (!first.empty()) std::memcpy(out, first.data(), first.size());
  if (!second.empty()) std::memcpy(out + first.size(), second.data(), second.size());
}

WaiterKeys::~WaiterKeys() {
  if (on_heap()) {
    char* data;
    std::memcpy(&data, bytes_, sizeof(data));
    delete[] data;
  }
}

std::string_view WaiterKeys::view() const {
  if (!on_heap()) {
    return std::string_view(reinterpret_cast<const char*>(bytes_), bytes_[kInline]);
  }
  const char* data;
  std::uint32_t size;
  std::memcpy(&data, bytes_, sizeof(data));
  std::memcpy(&size, bytes_ + sizeof(data), sizeof(size));
  return std::string_view(data, size);
}

}  // namespace internal

class Waiter::Timer final : public runtime::TimerNode {
 public:
  explicit Timer(Waiter* waiter) : waiter_(waiter) {}
  void OnTimer() override { waiter_->OnTimer(); }

 private:
  Waiter* const waiter_;
};

Waiter::Waiter(Primitive* primitive, WaitOptions options, WaitRequest request)
    : primitive_(primitive),
      session_(options.session),
      cancel_(options.cancel),
      keys_(options.owner_key, request.key),
      timeout_(options.timeout.value_or(absl::InfiniteDuration())),
      owner_key_size_(static_cast<std::uint32_t>(options.owner_key.size())),
      has_amount_(request.amount != 0) {
  if (has_amount_) {
    amount_ = request.amount;
  } else {
    priority_ = request.priority;
  }
}

Waiter::~Waiter() {
  // Only reached early when a coroutine frame is destroyed while suspended
  // here, which happens when a loop is torn down. Leave no dangling link.
  if (state_ == State::kQueued) {
    primitive_->Remove(this);
    if (timer_ != nullptr) primitive_->loop().CancelTimer(timer_.get());
  } else if (state_ == State::kResolved && granted_) {
    granted_ = false;
    primitive_->GiveBack(this);
  }
  runtime::ListHook<QueueTag>::Unlink();
  runtime::ListHook<SessionWaiterTag>::Unlink();
  if (cancel_ != nullptr) cancel_->StopListening(this);
}

absl::Time Waiter::deadline() const {
  return timer_armed_ ? timer_->deadline() : absl::InfiniteFuture();
}

Grant Waiter::grant() const {
  if (tokens_granted_) return Grant{.tokens_left = tokens_left_};
  return Grant{.fence = fence_};
}

void Waiter::SetGrant(const Grant& grant) {
  // A grant carries a fence or (a rate limiter's) tokens, never both.
  tokens_granted_ = grant.fence == 0 && grant.tokens_left != 0;
  if (tokens_granted_) {
    tokens_left_ = grant.tokens_left;
  } else {
    fence_ = grant.fence;
  }
}

bool Waiter::Finish(WaitResult result) {
  status_ = std::move(result.status);
  SetGrant(result.grant);
  has_retry_after_ = result.retry_after != absl::ZeroDuration();
  if (has_retry_after_) timeout_ = result.retry_after;
  state_ = State::kDone;
  return true;
}

bool Waiter::await_ready() {
  if (primitive_->closed()) return Finish({.status = primitive_->close_status()});
  if (session_ == nullptr) {
    return Finish({.status = absl::InvalidArgumentError("session is required")});
  }
  if (session_->ended()) return Finish({.status = absl::AbortedError("session ended")});
  if (cancel_ != nullptr && cancel_->cancelled()) {
    return Finish({.status = absl::CancelledError("cancelled")});
  }
  sequence_ = primitive_->NextSequence();
  if (std::optional<WaitResult> answer = primitive_->Start(this)) {
    return Finish(*std::move(answer));
  }
  if (timeout_ <= absl::ZeroDuration()) {
    return Finish({.status = absl::DeadlineExceededError(
                       "not available now and timeout is 0 (try once)"),
                   .retry_after = primitive_->RetryAfter(*this)});
  }
  // Made before the waiter queues, so that running out of memory here
  // changes nothing.
  if (timeout_ != absl::InfiniteDuration()) timer_ = std::make_unique<Timer>(this);
  state_ = State::kQueued;
  primitive_->Enqueue(this);
  session_->waiters_.PushBack(this);
  // After Enqueue(): a timer the primitive armed there for the same instant
  // fires first. (Enqueue() reads deadline() as InfiniteFuture(), which,
  // the deadline being in the future, tells it nothing different.)
  if (timer_ != nullptr) {
    const absl::Time deadline = primitive_->Now() + timeout_;
    if (deadline != absl::InfiniteFuture()) {
      primitive_->loop().AddTimer(timer_.get(), deadline);
      timer_armed_ = true;
    } else {
      timer_.reset();
    }
  }
  if (cancel_ != nullptr) cancel_->Listen(this);
  return false;
}

void Waiter::await_suspend(std::coroutine_handle<> handle) { handle_ = handle; }

WaitResult Waiter::await_resume() {
  if (state_ == State::kResolved) {
    runtime::ListHook<QueueTag>::Unlink();  // off the primitive's resolved list
    runtime::ListHook<SessionWaiterTag>::Unlink();
    if (cancel_ != nullptr) cancel_->StopListening(this);
    state_ = State::kDone;
  }
  granted_ = false;
  return WaitResult{
      .status = std::move(status_),
      .grant = grant(),
      .retry_after = has_retry_after_ ? timeout_ : absl::ZeroDuration()};
}

void Waiter::Resolve(absl::Status status, const Grant& grant, bool granted) {
  if (state_ != State::kQueued) std::abort();
  state_ = State::kResolved;
  status_ = std::move(status);
  SetGrant(grant);
  granted_ = granted;
  if (timer_ != nullptr) primitive_->loop().CancelTimer(timer_.get());
  primitive_->settling().resolved.PushBack(this);
  if (by_callback_) {
    // The lambda (one pointer) fits AnyInvocable's inline storage: no
    // allocation, and the same run queue, in the same order, as Schedule().
    primitive_->loop().Defer([this] { callback_->OnWaitDone(*this); });
  } else {
    primitive_->loop().Schedule(handle_);
  }
}

void Waiter::Leave(const absl::Status& status) {
  if (state_ == State::kQueued) {
    primitive_->Remove(this);
    Resolve(status, Grant{}, /*granted=*/false);
  } else if (state_ == State::kResolved && granted_) {
    granted_ = false;
    status_ = status;
    primitive_->GiveBack(this);
    SetGrant(Grant{});
  }
}

void Waiter::OnSessionEnd(const absl::Status& status) {
  session_ended_ = true;
  if (state_ == State::kResolved && !granted_) status_ = status;
  Leave(status);
  runtime::ListHook<SessionWaiterTag>::Unlink();
}

void Waiter::OnTimer() {
  Leave(absl::DeadlineExceededError(
      absl::StrCat("timed out after ", absl::FormatDuration(timeout_))));
}

void Waiter::OnCancel() { Leave(absl::CancelledError("cancelled")); }

}  // namespace baton::core

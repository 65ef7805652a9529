// Copyright 2026 The Baton Authors.
//
// baton::Op, baton::Hold and the handle classes: each operation of the seed
// API as one request on the session stream (see client.h).

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/src/channel_credentials.h"
#include "client/src/client_impl.h"

namespace baton {

using internal::Call;
using internal::ClientImpl;
using internal::HoldState;

using internal::SetDuration;
using internal::ToDuration;

namespace {

// SetTimeout() writes the effective timeout of a wait: the call's, else the
// client's default; an infinite one is left absent (wait forever). The call
// remembers it, for a resend in a cluster.
void SetTimeout(const CallOptions& options, const ClientOptions& client,
                google::protobuf::Duration* (*mutable_timeout)(v1::Request&), Call& call) {
  absl::Duration timeout = options.timeout.value_or(client.default_timeout);
  call.timeout_field = mutable_timeout;
  call.timeout = timeout;
  if (timeout == absl::InfiniteDuration()) return;
  if (timeout < absl::ZeroDuration()) timeout = absl::ZeroDuration();
  call.timeout = timeout;
  SetDuration(timeout, mutable_timeout(call.request));
}

// A call answered already, with `status`: awaiting it does not suspend.
std::shared_ptr<Call> Immediate(ClientImpl* client, absl::Status status) {
  auto call = std::make_shared<Call>();
  call->client = client;
  call->status = std::move(status);
  absl::MutexLock lock(&call->mu);
  call->done = true;
  return call;
}

// --- Converters: from an answered call to what the operation returns. ---

absl::StatusOr<Done> ToDone(Call& call) {
  if (!call.status.ok()) return call.status;
  return Done{};
}

absl::StatusOr<Hold> ToHold(Call& call);  // defined below, a friend of Hold

absl::StatusOr<RateDecision> ToRateDecision(Call& call) {
  RateDecision decision;
  if (call.status.ok()) {
    decision.granted = true;
    decision.tokens_left = call.response.tokens_left();
    return decision;
  }
  if (call.status.code() == absl::StatusCode::kDeadlineExceeded) {
    if (call.response.has_retry_after()) {
      decision.retry_after = ToDuration(call.response.retry_after());
    }
    return decision;
  }
  return call.status;
}

InstanceState FromProto(const v1::InstanceState& s) {
  InstanceState state;
  state.locked = s.locked();
  state.is_owner = s.is_owner();
  state.waiters = s.waiter_count();
  if (s.has_owner()) {
    state.owner_session = s.owner().session_id();
    state.owner_key = s.owner().owner_key();
  }
  state.last_fence = s.last_fence();
  state.tokens = s.tokens();
  state.rate = s.rate();
  state.capacity = s.capacity();
  state.fair = s.fair();
  state.available = s.available();
  state.held = s.held();
  state.session_permits = s.session_permits();
  state.bound = s.bound();
  state.pool = s.pool();
  state.broken = s.broken();
  for (const auto& [key, count] : s.counts()) state.counts[key] = count;
  return state;
}

absl::StatusOr<InstanceState> ToState(Call& call) {
  if (!call.status.ok()) return call.status;
  return FromProto(call.response.state());
}

absl::StatusOr<bool> ToLocked(Call& call) {
  if (!call.status.ok()) return call.status;
  return call.response.state().locked();
}

absl::StatusOr<bool> ToIsOwner(Call& call) {
  if (!call.status.ok()) return call.status;
  return call.response.state().is_owner();
}

absl::StatusOr<bool> ToBroken(Call& call) {
  if (!call.status.ok()) return call.status;
  return call.response.state().broken();
}

absl::StatusOr<std::int64_t> ToBound(Call& call) {
  if (!call.status.ok()) return call.status;
  return call.response.state().bound();
}

absl::StatusOr<std::int64_t> ToCount(Call& call) {
  if (!call.status.ok()) return call.status;
  return call.response.count();
}

absl::StatusOr<std::optional<std::string>> ToOwner(Call& call) {
  if (!call.status.ok()) return call.status;
  if (!call.response.state().has_owner()) return std::optional<std::string>();
  return std::optional<std::string>(call.response.state().owner().owner_key());
}

absl::StatusOr<ConditionWake> ToConditionWake(Call& call) {
  const absl::StatusCode code = call.status.code();
  if (code == absl::StatusCode::kOk) {
    return ConditionWake{.notified = true, .fence = call.response.fence()};
  }
  if ((code == absl::StatusCode::kDeadlineExceeded || code == absl::StatusCode::kCancelled) &&
      call.response.has_fence()) {
    return ConditionWake{.notified = false, .fence = call.response.fence()};
  }
  return call.status;
}

// Declares `name` with `config` through Admin.Declare (a unary call).
std::shared_ptr<Call> DeclareCall(ClientImpl* client, const std::string& name,
                                  v1::InstanceConfig config) {
  auto call = std::make_shared<Call>();
  call->client = client;
  call->send_override = [name, config = std::move(config)](std::shared_ptr<Call> self) mutable {
    struct Unary {
      grpc::ClientContext context;
      v1::DeclareRequest request;
      v1::DeclareResponse response;
    };
    auto unary = std::make_shared<Unary>();
    unary->context.set_deadline(std::chrono::system_clock::now() +
                                absl::ToChronoSeconds(self->client->options().connect_timeout));
    unary->request.set_name(name);
    *unary->request.mutable_config() = std::move(config);
    internal::AddToken(self->client->options(), unary->context);
    ClientImpl* client = self->client;
    // Shutdown() waits for the call's end: `client` outlives the callback.
    client->BeginUnary();
    // Straight to the owner in a cluster (any node would forward it).
    client->AdminFor(unary->request.name())
        .async()
        ->Declare(&unary->context, &unary->request, &unary->response,
                  [unary, self = std::move(self), client](grpc::Status status) {
                    client->Complete(
                        self, absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                                           status.error_message()));
                    client->EndUnary();
                  });
  };
  return call;
}

}  // namespace

// ---------------------------------------------------------------------------
// Op<T>.

template <typename T>
bool Op<T>::await_suspend(std::coroutine_handle<> handle) {
  {
    absl::MutexLock lock(&call_->mu);
    if (call_->done) return false;  // answered without the server
  }
  call_->client->Start(call_, handle);
  return true;
}

template <typename T>
absl::StatusOr<T> Op<T>::Wait() && {
  {
    absl::MutexLock lock(&call_->mu);
    if (call_->done) return convert_(*call_);
  }
  ClientImpl* client = call_->client;
  if (client->InDispatcherThread() && !client->options().executor) {
    return absl::FailedPreconditionError(
        "baton: Wait() on the client's dispatcher thread would deadlock: co_await instead");
  }
  client->Start(call_, nullptr);
  {
    absl::MutexLock lock(&call_->mu);
    while (!call_->done) call_->cv.Wait(&call_->mu);
  }
  return convert_(*call_);
}

template class Op<Done>;
template class Op<Hold>;
template class Op<RateDecision>;
template class Op<InstanceState>;
template class Op<bool>;
template class Op<std::int64_t>;
template class Op<std::optional<std::string>>;
template class Op<ConditionWake>;

// ---------------------------------------------------------------------------
// Hold.

namespace {

absl::StatusOr<Hold> ToHold(Call& call) {
  if (!call.status.ok()) return call.status;
  return internal::MakeHold(call.hold);
}

}  // namespace

namespace internal {
Hold MakeHold(std::shared_ptr<HoldState> state) { return Hold(std::move(state)); }
}  // namespace internal

Hold& Hold::operator=(Hold&& other) noexcept {
  if (this != &other) {
    Hold old(std::move(*this));  // released by its destructor
    state_ = std::move(other.state_);
  }
  return *this;
}

Hold::~Hold() {
  if (state_ == nullptr) return;
  {
    absl::MutexLock lock(&state_->mu);
    if (state_->state != HoldState::State::kHeld) return;
    state_->state = HoldState::State::kReleased;
  }
  if (std::shared_ptr<ClientImpl> client = state_->client.lock()) {
    client->FireAndForget(client->ReleaseCall(*state_));
  }
}

std::uint64_t Hold::fence() const {
  if (state_ == nullptr) return 0;
  absl::MutexLock lock(&state_->mu);
  return state_->fence;
}

const std::string& Hold::name() const {
  static const std::string* const kEmpty = new std::string();
  return state_ == nullptr ? *kEmpty : state_->name;
}

bool Hold::held() const {
  if (state_ == nullptr) return false;
  absl::MutexLock lock(&state_->mu);
  return state_->state == HoldState::State::kHeld;
}

bool Hold::lost() const {
  if (state_ == nullptr) return false;
  absl::MutexLock lock(&state_->mu);
  return state_->state == HoldState::State::kLost;
}

absl::Status Hold::lost_reason() const {
  if (state_ == nullptr) return absl::OkStatus();
  absl::MutexLock lock(&state_->mu);
  return state_->lost_reason;
}

void Hold::OnLost(absl::AnyInvocable<void(const absl::Status&)> callback) {
  if (state_ == nullptr) return;
  absl::Status reason;
  {
    absl::MutexLock lock(&state_->mu);
    if (state_->state == HoldState::State::kHeld) {
      state_->on_lost.push_back(std::move(callback));
      return;
    }
    if (state_->state != HoldState::State::kLost) return;
    reason = state_->lost_reason;
  }
  if (std::shared_ptr<ClientImpl> client = state_->client.lock()) {
    client->Run([callback = std::move(callback), reason]() mutable { callback(reason); });
  }
}

Hold::LostAwaitable Hold::Lost() { return LostAwaitable(state_); }

bool Hold::LostAwaitable::await_ready() const {
  if (state_ == nullptr) return true;
  absl::MutexLock lock(&state_->mu);
  return state_->state == HoldState::State::kLost;
}

bool Hold::LostAwaitable::await_suspend(std::coroutine_handle<> handle) {
  absl::MutexLock lock(&state_->mu);
  if (state_->state == HoldState::State::kLost) return false;
  state_->lost_waiters.push_back(handle);
  return true;
}

absl::Status Hold::LostAwaitable::await_resume() const {
  if (state_ == nullptr) return absl::FailedPreconditionError("an empty Hold is never lost");
  absl::MutexLock lock(&state_->mu);
  return state_->lost_reason;
}

Op<Done> Hold::Release() {
  if (state_ == nullptr) {
    return Op<Done>(Immediate(nullptr, absl::OkStatus()), &ToDone);
  }
  std::shared_ptr<ClientImpl> client = state_->client.lock();
  bool held;
  {
    absl::MutexLock lock(&state_->mu);
    held = state_->state == HoldState::State::kHeld && client != nullptr;
    if (held) state_->state = HoldState::State::kReleased;
  }
  if (!held) return Op<Done>(Immediate(client.get(), absl::OkStatus()), &ToDone);
  return Op<Done>(client->ReleaseCall(*state_), &ToDone);
}

void Hold::Detach() {
  if (state_ == nullptr) return;
  absl::MutexLock lock(&state_->mu);
  if (state_->state == HoldState::State::kHeld) state_->state = HoldState::State::kDetached;
}

// ---------------------------------------------------------------------------
// Handles.

std::shared_ptr<Call> Handle::NewCall(const CallOptions& options) const {
  return client_->impl().NewCall(name_, kind_, owner_key_, options);
}

namespace {

template <typename T>
Op<T> MakeOp(std::shared_ptr<Call> call, absl::StatusOr<T> (*convert)(Call&)) {
  return Op<T>(std::move(call), convert);
}

google::protobuf::Duration* AcquireTimeout(v1::Request& r) {
  return r.mutable_acquire()->mutable_timeout();
}
google::protobuf::Duration* RateAcquireTimeout(v1::Request& r) {
  return r.mutable_rate_acquire()->mutable_timeout();
}
google::protobuf::Duration* ConditionWaitTimeout(v1::Request& r) {
  return r.mutable_condition_wait()->mutable_timeout();
}
google::protobuf::Duration* LatchWaitTimeout(v1::Request& r) {
  return r.mutable_latch_wait()->mutable_timeout();
}
google::protobuf::Duration* WaitAllTimeout(v1::Request& r) {
  return r.mutable_wait_all()->mutable_timeout();
}

// AcquireOp() builds an acquire of a lock, a semaphore or a condition.
Op<Hold> AcquireOp(std::shared_ptr<Call> call, std::int64_t priority,
                   const CallOptions& options) {
  call->flavor = Call::Flavor::kHold;
  call->request.mutable_acquire()->set_priority(priority);
  SetTimeout(options, call->client->options(), &AcquireTimeout, *call);
  return Op<Hold>(std::move(call), &ToHold);
}

Op<Done> ReleaseOp(std::shared_ptr<Call> call) {
  call->request.mutable_release();
  return Op<Done>(std::move(call), &ToDone);
}

template <typename T>
Op<T> ReadOp(std::shared_ptr<Call> call, absl::StatusOr<T> (*convert)(Call&)) {
  call->request.mutable_read();
  return Op<T>(std::move(call), convert);
}

}  // namespace

// --- RateLimiter. ---

RateLimiter::RateLimiter(Client* client, std::string name)
    : Handle(client, std::move(name), v1::KIND_ADVANCED_RATE_LIMIT) {}

Op<Done> RateLimiter::Declare(double rate, std::optional<double> capacity, bool fair) {
  v1::InstanceConfig config;
  config.set_kind(v1::KIND_ADVANCED_RATE_LIMIT);
  config.mutable_rate_limit()->set_rate(rate);
  if (capacity.has_value()) config.mutable_rate_limit()->set_capacity(*capacity);
  config.mutable_rate_limit()->set_fair(fair);
  return Op<Done>(DeclareCall(&client_->impl(), name_, std::move(config)), &ToDone);
}

Op<RateDecision> RateLimiter::Acquire(double tokens, CallOptions options) {
  std::shared_ptr<Call> call = NewCall(options);
  call->request.mutable_rate_acquire()->set_tokens(tokens);
  SetTimeout(options, call->client->options(), &RateAcquireTimeout, *call);
  return Op<RateDecision>(std::move(call), &ToRateDecision);
}

Op<Done> RateLimiter::Release(double tokens) {
  std::shared_ptr<Call> call = NewCall({});
  call->request.mutable_rate_release()->set_tokens(tokens);
  return Op<Done>(std::move(call), &ToDone);
}

Op<Done> RateLimiter::SetRate(double rate) {
  std::shared_ptr<Call> call = NewCall({});
  call->request.mutable_set_rate()->set_rate(rate);
  return Op<Done>(std::move(call), &ToDone);
}

Op<InstanceState> RateLimiter::Read() { return ReadOp(NewCall({}), &ToState); }
Op<bool> RateLimiter::Locked() { return ReadOp(NewCall({}), &ToLocked); }

// --- DynamicBoundedSemaphore. ---

namespace {
v1::InstanceConfig SemaphoreConfig(v1::Kind kind, std::int64_t value) {
  v1::InstanceConfig config;
  config.set_kind(kind);
  config.mutable_semaphore()->set_value(value);
  return config;
}
}  // namespace

DynamicBoundedSemaphore::DynamicBoundedSemaphore(Client* client, std::string name)
    : Handle(client, std::move(name), v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE) {}

Op<Done> DynamicBoundedSemaphore::Declare(std::int64_t value) {
  return Op<Done>(DeclareCall(&client_->impl(), name_,
                              SemaphoreConfig(v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE, value)),
                  &ToDone);
}
Op<Hold> DynamicBoundedSemaphore::Acquire(CallOptions options) {
  return AcquireOp(NewCall(options), 0, options);
}
Op<Done> DynamicBoundedSemaphore::Release() { return ReleaseOp(NewCall({})); }
Op<Done> DynamicBoundedSemaphore::SetBound(std::int64_t bound) {
  std::shared_ptr<Call> call = NewCall({});
  call->request.mutable_set_bound()->set_bound(bound);
  return Op<Done>(std::move(call), &ToDone);
}
Op<std::int64_t> DynamicBoundedSemaphore::Bound() { return ReadOp(NewCall({}), &ToBound); }
Op<InstanceState> DynamicBoundedSemaphore::Read() { return ReadOp(NewCall({}), &ToState); }

// --- PrioritySemaphore. ---

PrioritySemaphore::PrioritySemaphore(Client* client, std::string name)
    : Handle(client, std::move(name), v1::KIND_PRIORITY_SEMAPHORE) {}

Op<Done> PrioritySemaphore::Declare(std::int64_t value) {
  return Op<Done>(DeclareCall(&client_->impl(), name_,
                              SemaphoreConfig(v1::KIND_PRIORITY_SEMAPHORE, value)),
                  &ToDone);
}
Op<Hold> PrioritySemaphore::Acquire(std::int64_t priority, CallOptions options) {
  return AcquireOp(NewCall(options), priority, options);
}
Op<Done> PrioritySemaphore::Release(bool strict) {
  std::shared_ptr<Call> call = NewCall({});
  call->request.mutable_release()->set_strict(strict);
  return Op<Done>(std::move(call), &ToDone);
}
Op<Done> PrioritySemaphore::Reset() {
  std::shared_ptr<Call> call = NewCall({});
  call->request.mutable_reset();
  return Op<Done>(std::move(call), &ToDone);
}
Op<bool> PrioritySemaphore::Locked() { return ReadOp(NewCall({}), &ToLocked); }
Op<InstanceState> PrioritySemaphore::Read() { return ReadOp(NewCall({}), &ToState); }

// --- The mutexes. ---

PriorityLock::PriorityLock(Client* client, std::string name)
    : Handle(client, std::move(name), v1::KIND_PRIORITY_LOCK) {}
PriorityLock::PriorityLock(Client* client, std::string name, int kind)
    : Handle(client, std::move(name), kind) {}

PriorityLock PriorityLock::WithOwner(std::string owner_key) const {
  PriorityLock copy = *this;
  copy.owner_key_ = std::move(owner_key);
  return copy;
}
Op<Hold> PriorityLock::Acquire(std::int64_t priority, CallOptions options) {
  return AcquireOp(NewCall(options), priority, options);
}
Op<Done> PriorityLock::Release(CallOptions options) { return ReleaseOp(NewCall(options)); }
Op<bool> PriorityLock::Locked() { return ReadOp(NewCall({}), &ToLocked); }
Op<bool> PriorityLock::IsOwner(CallOptions options) {
  return ReadOp(NewCall(options), &ToIsOwner);
}
Op<InstanceState> PriorityLock::Read(CallOptions options) {
  return ReadOp(NewCall(options), &ToState);
}

PriorityRLock::PriorityRLock(Client* client, std::string name)
    : PriorityLock(client, std::move(name), v1::KIND_PRIORITY_RLOCK) {}
PriorityRLock PriorityRLock::WithOwner(std::string owner_key) const {
  PriorityRLock copy = *this;
  copy.owner_key_ = std::move(owner_key);
  return copy;
}
Op<std::optional<std::string>> PriorityRLock::Owner() { return ReadOp(NewCall({}), &ToOwner); }

RLock::RLock(Client* client, std::string name)
    : PriorityLock(client, std::move(name), v1::KIND_RLOCK) {}
RLock RLock::WithOwner(std::string owner_key) const {
  RLock copy = *this;
  copy.owner_key_ = std::move(owner_key);
  return copy;
}
Op<Hold> RLock::Acquire(CallOptions options) { return PriorityLock::Acquire(0, options); }
Op<std::optional<std::string>> RLock::Owner() { return ReadOp(NewCall({}), &ToOwner); }

// --- KeyedCondition. ---

KeyedCondition::KeyedCondition(Client* client, std::string name)
    : Handle(client, std::move(name), v1::KIND_KEYED_CONDITION) {}

KeyedCondition KeyedCondition::WithOwner(std::string owner_key) const {
  KeyedCondition copy = *this;
  copy.owner_key_ = std::move(owner_key);
  return copy;
}
Op<Hold> KeyedCondition::Acquire(CallOptions options) {
  return AcquireOp(NewCall(options), 0, options);
}
Op<Done> KeyedCondition::Release(CallOptions options) { return ReleaseOp(NewCall(options)); }
Op<ConditionWake> KeyedCondition::Wait(std::string key, CallOptions options) {
  std::shared_ptr<Call> call = NewCall(options);
  call->flavor = Call::Flavor::kConditionWait;
  call->request.mutable_condition_wait()->set_key(std::move(key));
  SetTimeout(options, call->client->options(), &ConditionWaitTimeout, *call);
  return Op<ConditionWake>(std::move(call), &ToConditionWake);
}
Op<std::int64_t> KeyedCondition::Notify(std::string key, std::int64_t n, bool strict,
                                        CallOptions options) {
  std::shared_ptr<Call> call = NewCall(options);
  v1::Notify* notify = call->request.mutable_notify();
  notify->set_key(std::move(key));
  notify->set_n(n);
  notify->set_strict(strict);
  return Op<std::int64_t>(std::move(call), &ToCount);
}
Op<std::int64_t> KeyedCondition::NotifyAll(std::optional<std::string> key,
                                           CallOptions options) {
  std::shared_ptr<Call> call = NewCall(options);
  v1::NotifyAll* notify = call->request.mutable_notify_all();
  if (key.has_value()) notify->set_key(std::move(*key));
  return Op<std::int64_t>(std::move(call), &ToCount);
}
Op<Done> KeyedCondition::WaitAll(CallOptions options) {
  std::shared_ptr<Call> call = NewCall(options);
  call->request.mutable_wait_all();
  SetTimeout(options, call->client->options(), &WaitAllTimeout, *call);
  return Op<Done>(std::move(call), &ToDone);
}
Op<bool> KeyedCondition::Locked() { return ReadOp(NewCall({}), &ToLocked); }
Op<InstanceState> KeyedCondition::Read(CallOptions options) {
  return ReadOp(NewCall(options), &ToState);
}

absl::Status KeyedCondition::AssertLocked(CallOptions options) {
  absl::StatusOr<bool> owner = ReadOp(NewCall(options), &ToIsOwner).Wait();
  if (!owner.ok()) return owner.status();
  if (!*owner) {
    return absl::FailedPreconditionError(
        absl::StrCat("the lock of condition '", name_, "' is not held by this owner"));
  }
  return absl::OkStatus();
}

namespace {

// The loop of WaitFor(), over a copy of the handle so that it may outlive
// the caller's.
Task<absl::Status> WaitForLoop(KeyedCondition condition, std::string key,
                               std::function<bool()> predicate, CallOptions options) {
  while (!predicate()) {
    Op<ConditionWake> wait = condition.Wait(key, options);
    absl::StatusOr<ConditionWake> wake = co_await wait;
    if (!wake.ok()) co_return wake.status();
    if (!wake->notified && !predicate()) {
      co_return absl::DeadlineExceededError(
          absl::StrCat("wait_for on '", condition.name(), "' key '", key,
                       "': a wait ended unnotified and the predicate is still false"));
    }
  }
  co_return absl::OkStatus();
}

}  // namespace

Task<absl::Status> KeyedCondition::WaitForAsync(std::string key,
                                                std::function<bool()> predicate,
                                                CallOptions options) {
  return WaitForLoop(*this, std::move(key), std::move(predicate), std::move(options));
}

absl::Status KeyedCondition::WaitFor(std::string key, const std::function<bool()>& predicate,
                                     CallOptions options) {
  if (client_->impl().InDispatcherThread() && !client_->options().executor) {
    return absl::FailedPreconditionError(
        "baton: WaitFor() on the client's dispatcher thread would deadlock: "
        "co_await WaitForAsync() instead");
  }
  return SyncWait(WaitForAsync(std::move(key), predicate, std::move(options)));
}

// --- MultiCountDownLatch. ---

MultiCountDownLatch::MultiCountDownLatch(Client* client, std::string name)
    : Handle(client, std::move(name), v1::KIND_MULTI_COUNT_DOWN_LATCH) {}

Op<Done> MultiCountDownLatch::Declare(std::map<std::string, std::int64_t> counts) {
  v1::InstanceConfig config;
  config.set_kind(v1::KIND_MULTI_COUNT_DOWN_LATCH);
  for (const auto& [key, count] : counts) {
    v1::LatchParams::Count* entry = config.mutable_latch()->add_counts();
    entry->set_key(key);
    entry->set_value(count);
  }
  return Op<Done>(DeclareCall(&client_->impl(), name_, std::move(config)), &ToDone);
}
Op<Done> MultiCountDownLatch::CountDown(std::string key, bool strict) {
  std::shared_ptr<Call> call = NewCall({});
  call->request.mutable_count_down()->set_key(std::move(key));
  call->request.mutable_count_down()->set_strict(strict);
  return Op<Done>(std::move(call), &ToDone);
}
Op<Done> MultiCountDownLatch::CountDownAll() {
  std::shared_ptr<Call> call = NewCall({});
  call->request.mutable_count_down_all();
  return Op<Done>(std::move(call), &ToDone);
}
Op<Done> MultiCountDownLatch::Wait(std::string key, bool strict, CallOptions options) {
  std::shared_ptr<Call> call = NewCall(options);
  call->request.mutable_latch_wait()->set_key(std::move(key));
  call->request.mutable_latch_wait()->set_strict(strict);
  SetTimeout(options, call->client->options(), &LatchWaitTimeout, *call);
  return Op<Done>(std::move(call), &ToDone);
}
Op<Done> MultiCountDownLatch::WaitAll(CallOptions options) {
  std::shared_ptr<Call> call = NewCall(options);
  call->request.mutable_wait_all();
  SetTimeout(options, call->client->options(), &WaitAllTimeout, *call);
  return Op<Done>(std::move(call), &ToDone);
}
Op<bool> MultiCountDownLatch::Broken() { return ReadOp(NewCall({}), &ToBroken); }
Op<InstanceState> MultiCountDownLatch::Read() { return ReadOp(NewCall({}), &ToState); }

}  // namespace baton

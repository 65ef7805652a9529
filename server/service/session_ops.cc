// Copyright 2026 The Baton Authors.
//
// SessionService, the operations: checking a request (on the gRPC thread)
// and running it on its primitive (on the instance's shard). See
// session_state.h.

#include <cmath>
#include <coroutine>
#include <cstdlib>
#include <exception>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "server/cluster/cluster_view.h"
#include "server/core/instance_name.h"
#include "server/metrics/counters.h"
#include "server/service/proto_convert.h"
#include "server/service/session_state.h"

namespace baton::service {
namespace {

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

// The longest google.protobuf.Duration: 10,000 years.
constexpr std::int64_t kMaxDurationSeconds = 315'576'000'000;

}  // namespace

namespace session_internal {

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  const std::int64_t nanos = absl::ToInt64Nanoseconds(d);  // saturates
  out->set_seconds(nanos / 1'000'000'000);
  out->set_nanos(static_cast<std::int32_t>(nanos % 1'000'000'000));
}

// DurationOf() checks a google.protobuf.Duration that must not be negative.
absl::StatusOr<absl::Duration> DurationOf(const google::protobuf::Duration& d,
                                          std::string_view field) {
  const std::int64_t s = d.seconds();
  const std::int32_t n = d.nanos();
  if (n < -999'999'999 || n > 999'999'999) {
    return absl::InvalidArgumentError(absl::StrCat(
        Absl(field), ": nanos must be in [-999999999, 999999999], got ", n));
  }
  if ((s > 0 && n < 0) || (s < 0 && n > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        Absl(field), ": seconds and nanos must have the same sign, got ", s,
        "s and ", n, "ns"));
  }
  if (s < 0 || n < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        Absl(field), ": must not be negative, got ", s, "s ", n, "ns"));
  }
  if (s > kMaxDurationSeconds) {
    return absl::InvalidArgumentError(absl::StrCat(
        Absl(field), ": must be at most ", kMaxDurationSeconds, "s, got ", s));
  }
  return absl::Seconds(s) + absl::Nanoseconds(n);
}

std::string_view OpName(OpCase op) {
  switch (op) {
    case v1::Request::kAcquire: return "acquire";
    case v1::Request::kRelease: return "release";
    case v1::Request::kRateAcquire: return "rate_acquire";
    case v1::Request::kCancel: return "cancel";
    case v1::Request::kConditionWait: return "condition_wait";
    case v1::Request::kNotify: return "notify";
    case v1::Request::kCountDown: return "count_down";
    case v1::Request::kLatchWait: return "latch_wait";
    case v1::Request::kWaitAll: return "wait_all";
    case v1::Request::kRead: return "read";
    case v1::Request::kRateRelease: return "rate_release";
    case v1::Request::kSetRate: return "set_rate";
    case v1::Request::kSetBound: return "set_bound";
    case v1::Request::kReset: return "reset";
    case v1::Request::kNotifyAll: return "notify_all";
    case v1::Request::kCountDownAll: return "count_down_all";
    case v1::Request::OP_NOT_SET: break;
  }
  return "op";
}

// IsWait() is true for the operations that may queue.
bool IsWait(OpCase op) {
  switch (op) {
    case v1::Request::kAcquire:
    case v1::Request::kRateAcquire:
    case v1::Request::kConditionWait:
    case v1::Request::kLatchWait:
    case v1::Request::kWaitAll:
      return true;
    default:
      return false;
  }
}

absl::Status CheckKey(std::string_view key, std::string_view field,
                      std::uint32_t max_key_bytes) {
  if (key.size() > max_key_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        Absl(field), ": must be at most ", max_key_bytes, " bytes (max_key_bytes), got ",
        key.size()));
  }
  return core::ValidateUtf8(key, field);
}

void SetStatus(const absl::Status& status, v1::Status* out) {
  out->set_code(static_cast<std::int32_t>(status.code()));
  out->set_message(std::string(status.message()));
  // In a cluster: the owner of the name, for the client to follow.
  if (absl::optional<absl::Cord> redirect = status.GetPayload(cluster::kRedirectTypeUrl)) {
    out->mutable_redirect()->ParseFromString(std::string(*redirect));
  }
}

v1::Response ErrorResponse(std::uint64_t id, const absl::Status& status) {
  v1::Response response;
  response.set_id(id);
  SetStatus(status, response.mutable_status());
  return response;
}

}  // namespace session_internal

namespace {

using session_internal::CheckKey;
using session_internal::DurationOf;
using session_internal::ErrorResponse;
using session_internal::IsWait;
using session_internal::OpCase;
using session_internal::OpName;
using session_internal::Prepared;
using session_internal::SetDuration;

// TimeoutOf() reads an optional `timeout` field: absent is nullopt.
absl::StatusOr<std::optional<absl::Duration>> TimeoutOf(
    bool has, const google::protobuf::Duration& d, std::string_view op) {
  if (!has) return std::optional<absl::Duration>();
  // A valid timeout (every one but a client's bug) is read without the
  // field's name, which only an error message needs: no string is built
  // per request. The same bounds as DurationOf()'s.
  const std::int64_t s = d.seconds();
  const std::int32_t n = d.nanos();
  if (s >= 0 && s <= kMaxDurationSeconds && n >= 0 && n <= 999'999'999) {
    return std::optional<absl::Duration>(absl::Seconds(s) + absl::Nanoseconds(n));
  }
  absl::StatusOr<absl::Duration> timeout =
      DurationOf(d, absl::StrCat(Absl(op), ".timeout"));
  if (!timeout.ok()) return timeout.status();
  return std::optional<absl::Duration>(*timeout);
}

bool IsLock(core::Kind kind) {
  return kind == core::Kind::kPriorityLock || kind == core::Kind::kPriorityRLock ||
         kind == core::Kind::kRLock;
}

bool IsSemaphore(core::Kind kind) {
  return kind == core::Kind::kDynamicBoundedSemaphore ||
         kind == core::Kind::kPrioritySemaphore;
}

// OpBelongsTo() is the table at the top of session.proto.
bool OpBelongsTo(OpCase op, core::Kind kind) {
  switch (op) {
    case v1::Request::kAcquire:
    case v1::Request::kRelease:
      return IsLock(kind) || IsSemaphore(kind) || kind == core::Kind::kKeyedCondition;
    case v1::Request::kRead:
      return true;
    case v1::Request::kRateAcquire:
    case v1::Request::kRateRelease:
    case v1::Request::kSetRate:
      return kind == core::Kind::kAdvancedRateLimit;
    case v1::Request::kSetBound:
      return kind == core::Kind::kDynamicBoundedSemaphore;
    case v1::Request::kReset:
      return kind == core::Kind::kPrioritySemaphore;
    case v1::Request::kConditionWait:
    case v1::Request::kNotify:
    case v1::Request::kNotifyAll:
      return kind == core::Kind::kKeyedCondition;
    case v1::Request::kWaitAll:
      return kind == core::Kind::kKeyedCondition ||
             kind == core::Kind::kMultiCountDownLatch;
    case v1::Request::kCountDown:
    case v1::Request::kCountDownAll:
    case v1::Request::kLatchWait:
      return kind == core::Kind::kMultiCountDownLatch;
    case v1::Request::kCancel:
    case v1::Request::OP_NOT_SET:
      break;
  }
  return false;
}

absl::Status CheckPositiveFinite(bool has, double value, std::string_view field) {
  if (!has || (std::isfinite(value) && value > 0)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(Absl(field), ": must be finite and > 0, got ", value));
}

// ChangesKeptState() is true for the operations that change state the
// store keeps (kept_state.h).
bool ChangesKeptState(OpCase op) {
  return op == v1::Request::kCountDown || op == v1::Request::kCountDownAll ||
         op == v1::Request::kSetRate || op == v1::Request::kSetBound;
}

// WithField() prefixes the message of an INVALID_ARGUMENT from the core with
// the request field it is about; other statuses pass unchanged.
absl::Status WithField(const absl::Status& status, std::string_view field) {
  if (status.code() != absl::StatusCode::kInvalidArgument) return status;
  return absl::InvalidArgumentError(absl::StrCat(Absl(field), ": ", status.message()));
}

}  // namespace

absl::Status SessionState::Check(const v1::Request& request, Prepared* prepared) const {
  const SessionService::Options& o = options();
  const OpCase op = request.op_case();
  if (op == v1::Request::OP_NOT_SET) {
    return absl::InvalidArgumentError("op: no operation set (or one this server does not know)");
  }
  if (absl::Status name = core::ValidateName(request.name()); !name.ok()) return name;
  absl::StatusOr<core::Kind> kind = KindFromProto(request.kind(), "kind");
  if (!kind.ok()) return kind.status();
  prepared->kind = *kind;
  if (!OpBelongsTo(op, *kind)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "op: ", Absl(OpName(op)), " is not an operation of ", Absl(core::KindName(*kind))));
  }
  if (request.has_owner_key()) {
    if (absl::Status key = CheckKey(request.owner_key(), "owner_key", o.max_key_bytes);
        !key.ok()) {
      return key;
    }
  }
  const std::string_view name = OpName(op);
  absl::StatusOr<std::optional<absl::Duration>> timeout = std::optional<absl::Duration>();
  switch (op) {
    case v1::Request::kAcquire: {
      const v1::Acquire& a = request.acquire();
      const bool has_priority = *kind == core::Kind::kPriorityLock ||
                                *kind == core::Kind::kPriorityRLock ||
                                *kind == core::Kind::kPrioritySemaphore;
      if (!has_priority && a.priority() != 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "acquire.priority: ", Absl(core::KindName(*kind)),
            " serves waiters in arrival order and has no priorities; got ", a.priority()));
      }
      timeout = TimeoutOf(a.has_timeout(), a.timeout(), name);
      break;
    }
    case v1::Request::kRelease:
      if (request.release().has_strict() && !request.release().strict() &&
          *kind != core::Kind::kPrioritySemaphore) {
        return absl::InvalidArgumentError(absl::StrCat(
            "release.strict: only a PrioritySemaphore accepts strict = false, not a ",
            Absl(core::KindName(*kind))));
      }
      break;
    case v1::Request::kRateAcquire: {
      const v1::RateAcquire& a = request.rate_acquire();
      if (absl::Status t = CheckPositiveFinite(a.has_tokens(), a.tokens(),
                                               "rate_acquire.tokens");
          !t.ok()) {
        return t;
      }
      timeout = TimeoutOf(a.has_timeout(), a.timeout(), name);
      break;
    }
    case v1::Request::kRateRelease: {
      const v1::RateRelease& r = request.rate_release();
      if (absl::Status t = CheckPositiveFinite(r.has_tokens(), r.tokens(),
                                               "rate_release.tokens");
          !t.ok()) {
        return t;
      }
      break;
    }
    case v1::Request::kSetRate:
      if (absl::Status t = CheckPositiveFinite(true, request.set_rate().rate(), "set_rate.rate");
          !t.ok()) {
        return t;
      }
      break;
    case v1::Request::kSetBound:
      if (request.set_bound().bound() < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "set_bound.bound: must be >= 0, got ", request.set_bound().bound()));
      }
      break;
    case v1::Request::kConditionWait: {
      const v1::ConditionWait& w = request.condition_wait();
      if (absl::Status key = CheckKey(w.key(), "condition_wait.key", o.max_key_bytes);
          !key.ok()) {
        return key;
      }
      timeout = TimeoutOf(w.has_timeout(), w.timeout(), name);
      break;
    }
    case v1::Request::kNotify: {
      const v1::Notify& n = request.notify();
      if (absl::Status key = CheckKey(n.key(), "notify.key", o.max_key_bytes); !key.ok()) {
        return key;
      }
      if (n.has_n() && n.n() < 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("notify.n: must be >= 1, got ", n.n()));
      }
      break;
    }
    case v1::Request::kNotifyAll:
      if (request.notify_all().has_key()) {
        if (absl::Status key = CheckKey(request.notify_all().key(), "notify_all.key",
                                        o.max_key_bytes);
            !key.ok()) {
          return key;
        }
      }
      break;
    case v1::Request::kWaitAll:
      timeout = TimeoutOf(request.wait_all().has_timeout(), request.wait_all().timeout(), name);
      break;
    case v1::Request::kCountDown:
      if (absl::Status key = CheckKey(request.count_down().key(), "count_down.key",
                                      o.max_key_bytes);
          !key.ok()) {
        return key;
      }
      break;
    case v1::Request::kLatchWait: {
      const v1::LatchWait& w = request.latch_wait();
      if (absl::Status key = CheckKey(w.key(), "latch_wait.key", o.max_key_bytes); !key.ok()) {
        return key;
      }
      timeout = TimeoutOf(w.has_timeout(), w.timeout(), name);
      break;
    }
    default:
      break;
  }
  if (!timeout.ok()) return timeout.status();
  prepared->timeout = *timeout;
  prepared->owner_key = request.has_owner_key() ? std::string_view(request.owner_key())
                                                : std::string_view(default_owner_key_);
  return absl::OkStatus();
}

namespace {

// WaiterFor() is the Waiter of a wait request other than condition_wait:
// every kind's wait is the same type, so RunWait awaits them at one site.
// It takes the owner key out of `prepared`.
core::Waiter WaiterFor(core::Instance* instance, Prepared& prepared, core::Session* session,
                       runtime::CancellationSignal* cancel) {
  const v1::Request& request = *prepared.request;
  core::WaitOptions options{.session = session,
                            .owner_key = std::string(prepared.owner_key),
                            .timeout = prepared.timeout,
                            .cancel = cancel};
  switch (request.op_case()) {
    case v1::Request::kAcquire: {
      const std::int64_t priority = request.acquire().priority();
      switch (prepared.kind) {
        case core::Kind::kKeyedCondition:
          return instance->As<core::KeyedCondition>()->Acquire(std::move(options));
        case core::Kind::kDynamicBoundedSemaphore:
          return instance->As<core::DynamicBoundedSemaphore>()->Acquire(std::move(options));
        case core::Kind::kPrioritySemaphore:
          return instance->As<core::PrioritySemaphore>()->Acquire(std::move(options), priority);
        default:
          return static_cast<core::PriorityMutex*>(instance->primitive())
              ->Acquire(std::move(options), priority);
      }
    }
    case v1::Request::kRateAcquire:
      return instance->As<core::RateLimiter>()->Acquire(
          std::move(options),
          request.rate_acquire().has_tokens() ? request.rate_acquire().tokens() : 1.0);
    case v1::Request::kLatchWait:
      return instance->As<core::MultiCountDownLatch>()->Wait(
          std::move(options), request.latch_wait().key(), request.latch_wait().strict());
    case v1::Request::kWaitAll:
      if (prepared.kind == core::Kind::kKeyedCondition) {
        return instance->As<core::KeyedCondition>()->WaitAll(std::move(options));
      }
      return instance->As<core::MultiCountDownLatch>()->WaitAll(std::move(options));
    default:
      // Execute() starts RunWait for IsWait() operations only.
      std::abort();
  }
}

// ConditionWaitFor() is the wait of a condition_wait request; it takes the
// owner key and the key out of `prepared`.
runtime::Task<core::WaitResult> ConditionWaitFor(core::Instance* instance, Prepared& prepared,
                                                 core::Session* session,
                                                 runtime::CancellationSignal* cancel) {
  core::WaitOptions options{.session = session,
                            .owner_key = std::string(prepared.owner_key),
                            .timeout = prepared.timeout,
                            .cancel = cancel};
  std::string key = std::move(*prepared.request->mutable_condition_wait()->mutable_key());
  return instance->As<core::KeyedCondition>()->Wait(std::move(options), std::move(key));
}

// What the answer to a wait needs of its request besides its id: RunWait
// keeps this, not the request, while it waits.
static_assert(metrics::kKinds == core::kKindCount, "metrics count every kind");

struct WaitAnswer {
  OpCase op = v1::Request::OP_NOT_SET;
  bool try_once = false;  // a timeout of zero
  core::Kind kind = core::Kind::kPriorityLock;  // for the metrics
  std::int64_t dispatched_ns = 0;
};

WaitAnswer WaitAnswerOf(const Prepared& prepared) {
  return {.op = prepared.request->op_case(),
          .try_once = prepared.timeout.has_value() && *prepared.timeout <= absl::ZeroDuration(),
          .kind = prepared.kind,
          .dispatched_ns = prepared.dispatched_ns};
}

// AnswerWait() answers a wait with how it ended.
void AnswerWait(ShardSession* ss, std::uint64_t id, const WaitAnswer& wait,
                const core::WaitResult& result) {
  // Built in place among the turn's answers, unless it must wait for kept
  // state (a latch's wait reports its counts).
  const bool durable = wait.kind == core::Kind::kMultiCountDownLatch;
  std::optional<v1::Response> held;  // made only when it must wait
  if (durable) held.emplace().set_id(id);
  v1::Response& response = durable ? *held : *ss->AddAnswer(id);
  const absl::StatusCode code = result.status.code();
  metrics::SessionCounters& counters = metrics::Session();
  const std::size_t shard = ss->shard().index;
  if (result.ok()) {
    counters.RecordGrant(shard, static_cast<std::size_t>(wait.kind));
  } else if (code == absl::StatusCode::kDeadlineExceeded) {
    counters.RecordTimeout(shard, static_cast<std::size_t>(wait.kind));
  }
  if (wait.dispatched_ns != 0) {
    counters.RecordDuration(shard, metrics::NowNanos() - wait.dispatched_ns);
  }
  if (!result.ok()) {
    const absl::Status status =
        wait.op == v1::Request::kRateAcquire ? WithField(result.status, "rate_acquire.tokens")
                                             : result.status;
    session_internal::SetStatus(status, response.mutable_status());
  }
  switch (wait.op) {
    case v1::Request::kAcquire:
      if (result.ok()) response.set_fence(result.grant.fence);
      break;
    case v1::Request::kRateAcquire:
      if (result.ok()) {
        response.set_tokens_left(result.grant.tokens_left);
      } else if (code == absl::StatusCode::kDeadlineExceeded && wait.try_once) {
        SetDuration(result.retry_after, response.mutable_retry_after());
      }
      break;
    case v1::Request::kConditionWait:
      // Every answer but ABORTED comes back holding the lock again.
      if (code == absl::StatusCode::kOk || code == absl::StatusCode::kDeadlineExceeded ||
          code == absl::StatusCode::kCancelled) {
        response.set_fence(result.grant.fence);
      }
      break;
    default:
      break;
  }
  // A latch's wait reports its counts, which are kept state: it goes once
  // they are durable.
  if (durable) ss->AnswerWhenDurable(std::move(*held));
}

// WaitTask is the coroutine of one condition_wait (RunConditionWait): it
// starts at once and frees its frame when it ends, so a wait costs one
// frame (a runtime::Task under runtime::Detach costs two).
struct WaitTask {
  struct promise_type {
    WaitTask get_return_object() const noexcept { return {}; }
    std::suspend_never initial_suspend() const noexcept { return {}; }
    std::suspend_never final_suspend() const noexcept { return {}; }
    void return_void() const noexcept {}
    // A wait has no one to report to; an escaped exception is a bug.
    [[noreturn]] void unhandled_exception() const noexcept { std::terminate(); }
  };
};

// FinishWait() answers a wait that `waiter` ran.
void FinishWait(ShardSession* ss, const PendingWait& pending, const WaitAnswer& wait,
                core::Waiter& waiter, bool queued) {
  // A cancel takes the wait out of the list itself (Execute()).
  if (queued) ss->waits.erase(pending.id);
  const core::WaitResult result = waiter.await_resume();
  AnswerWait(ss, pending.id, wait, result);
}

// What RunWait and RunConditionWait start from: read before their first
// suspension only (one parameter, one pointer in the frame).
struct WaitStart {
  core::Instance* instance;
  Prepared* prepared;
};

// RunWait runs a wait request other than condition_wait and answers it. It
// is one heap record, not a coroutine: a queued wait is what a million
// waiters cost, and a coroutine frame would hold, besides the same fields,
// its resume and destroy pointers, copies of its parameters and the
// temporaries of its co_await. The record is the waiter and what the answer
// needs; it frees itself once it has answered. The request's op is a
// template parameter, not a field: the record's vtable says it; so is the
// instance's kind, which the metrics count grants and timeouts by. The
// instance is not touched after its wait: a Delete may have destroyed it.
template <OpCase kOp, core::Kind kKind>
class RunWait final : public core::WaitCallback {
 public:
  // Start() runs the wait; `start` is read here only.
  // Like a coroutine's body, it has no one to report an exception to (the
  // allocations here can throw): noexcept.
  // The session lives while it does: the batch that runs it holds it.
  static void Start(ShardSession* ss, const WaitStart& start, const WaitAnswer& wait) noexcept {
    static_assert(sizeof(RunWait) <= Node::Shard::kWaitRecordBytes && alignof(RunWait) <= 8,
                  "a wait's record fits its shard's pool's blocks");
    auto* run = new (ss->shard().wait_records.Allocate()) RunWait(ss, start);
    if (run->waiter_.Begin(run)) {
      // Answered at once: it was never pending on the shard, and nothing
      // could cancel it meanwhile (a cancel runs in a later request).
      run->Finish(wait, /*queued=*/false);
      return;
    }
    // Queued: from now on a cancel finds it by id, and the session lives
    // until it is answered.
    ss->waits.insert(&run->pending_);
    ss->AddQueuedWait();
  }

  // A wait answered later queued, so it was not a try-once one (a timeout
  // of zero never queues).
  // Not in the request-duration histogram (dispatched_ns 0): a queued
  // wait's time is how long others held, not batond's latency (and the
  // record has no room for a timestamp).
  void OnWaitDone(core::Waiter&) override {
    Finish({.op = kOp, .try_once = false, .kind = kKind, .dispatched_ns = 0}, /*queued=*/true);
  }

 private:
  RunWait(ShardSession* ss, const WaitStart& start)
      : pending_{.id = start.prepared->request->id()},
        waiter_(WaiterFor(start.instance, *start.prepared, ss, &pending_.cancel)) {}

  // The shard session is the waiter's session.
  ShardSession* ss() const { return static_cast<ShardSession*>(waiter_.session()); }

  // Finish() answers the wait and frees the record; `queued`: the wait
  // queued (it is in its shard session's waits, and counted there). An
  // exception here has no one to report to (as in a coroutine's frame): a
  // bug, so noexcept.
  void Finish(const WaitAnswer& wait, bool queued) noexcept {
    ShardSession* const ss = this->ss();
    FinishWait(ss, pending_, wait, waiter_, queued);
    this->~RunWait();
    runtime::RecordPool::Free(this);
    if (queued) ss->RemoveQueuedWait();  // may destroy the session: last
  }

  // A queued wait keeps the session (and its ShardSession) alive through
  // its count there (ShardSession::AddQueuedWait()), not by a shared_ptr
  // of its own: 16 bytes less per queued wait. `pending_` outlives
  // `waiter_`, which listens to its signal.
  PendingWait pending_;
  core::Waiter waiter_;
};

// A queued wait is what a million waiters cost (bench/scale): the record is
// a 184-byte block of its shard's pool (Node::Shard::wait_records). The figure is for 64-bit
// libstdc++.
static_assert(sizeof(void*) != 8 || sizeof(std::string) != 32 ||
                  sizeof(RunWait<v1::Request::kAcquire, core::Kind::kPriorityLock>) <= 184,
              "RunWait grew: see bench/scale (memory per queued waiter)");

// StartWaitOf() starts the RunWait of op kOp on an instance of `kind`.
template <OpCase kOp>
void StartWaitOf(ShardSession* ss, const WaitStart& start, const WaitAnswer& wait) {
  using K = core::Kind;
  switch (wait.kind) {
    case K::kAdvancedRateLimit:
      return RunWait<kOp, K::kAdvancedRateLimit>::Start(ss, start, wait);
    case K::kDynamicBoundedSemaphore:
      return RunWait<kOp, K::kDynamicBoundedSemaphore>::Start(ss, start, wait);
    case K::kKeyedCondition:
      return RunWait<kOp, K::kKeyedCondition>::Start(ss, start, wait);
    case K::kMultiCountDownLatch:
      return RunWait<kOp, K::kMultiCountDownLatch>::Start(ss, start, wait);
    case K::kPriorityLock:
      return RunWait<kOp, K::kPriorityLock>::Start(ss, start, wait);
    case K::kPriorityRLock:
      return RunWait<kOp, K::kPriorityRLock>::Start(ss, start, wait);
    case K::kPrioritySemaphore:
      return RunWait<kOp, K::kPrioritySemaphore>::Start(ss, start, wait);
    case K::kRLock:
      return RunWait<kOp, K::kRLock>::Start(ss, start, wait);
  }
  std::abort();  // every kind is above
}

// StartWait() starts the RunWait of a wait request other than
// condition_wait.
void StartWait(ShardSession* ss, const WaitStart& start) {
  const WaitAnswer wait = WaitAnswerOf(*start.prepared);
  switch (wait.op) {
    case v1::Request::kAcquire:
      return StartWaitOf<v1::Request::kAcquire>(ss, start, wait);
    case v1::Request::kRateAcquire:
      return StartWaitOf<v1::Request::kRateAcquire>(ss, start, wait);
    case v1::Request::kLatchWait:
      return StartWaitOf<v1::Request::kLatchWait>(ss, start, wait);
    case v1::Request::kWaitAll:
      return StartWaitOf<v1::Request::kWaitAll>(ss, start, wait);
    default:
      // Execute() starts waits for IsWait() operations only.
      std::abort();
  }
}

// RunConditionWait() is RunWait() for condition_wait, whose wait is a task
// of its own (it waits for a notify, then for the lock).
WaitTask RunConditionWait(std::shared_ptr<SessionState> self, ShardSession* ss,
                          const WaitStart& start) {
  static_cast<void>(self);
  WaitAnswer wait = WaitAnswerOf(*start.prepared);
  wait.dispatched_ns = 0;  // a wait for a notify: not in the request-duration histogram
  PendingWait pending{.id = start.prepared->request->id()};
  ss->waits.insert(&pending);
  runtime::Task<core::WaitResult> task =
      ConditionWaitFor(start.instance, *start.prepared, ss, &pending.cancel);
  const core::WaitResult result = co_await std::move(task);
  ss->waits.erase(pending.id);
  AnswerWait(ss, pending.id, wait, result);
}

}  // namespace

void SessionState::Execute(ShardSession* ss, Prepared& prepared) {
  v1::Request& request = *prepared.request;
  const std::uint64_t id = request.id();
  const OpCase op = request.op_case();
  // The request-duration histogram: answered in this call unless it is a
  // wait that goes on (AnswerWait() records those).
  struct RecordUnlessWaiting {
    ~RecordUnlessWaiting() {
      if (!waiting && dispatched_ns != 0) {
        metrics::Session().RecordDuration(shard, metrics::NowNanos() - dispatched_ns);
      }
    }
    std::int64_t dispatched_ns;
    std::size_t shard;
    bool waiting = false;
  } record{.dispatched_ns = prepared.dispatched_ns, .shard = ss->shard().index};
  if (op == v1::Request::kCancel) {
    const auto it = ss->waits.find(request.cancel().request_id());
    if (it == ss->waits.end()) {
      ss->Answer(ErrorResponse(
          id, absl::NotFoundError(absl::StrCat("cancel.request_id: no request ",
                                               request.cancel().request_id(),
                                               " of this session is pending"))));
      return;
    }
    PendingWait* pending = *it;
    ss->waits.erase(it);
    pending->cancel.Cancel();
    v1::Response response;
    response.set_id(id);
    ss->Answer(std::move(response));
    return;
  }

  core::Registry& registry = ss->shard().registry;
  // Check() validated the name on the gRPC thread.
  absl::StatusOr<core::Instance*> found =
      registry.GetOrCreateValidated(request.name(), prepared.name_hash, prepared.kind);
  if (!found.ok()) {
    ss->Answer(ErrorResponse(id, found.status()));
    return;
  }
  core::Instance* instance = *found;
  if (IsWait(op)) {
    record.waiting = true;
    const WaitStart start{.instance = instance, .prepared = &prepared};
    if (op == v1::Request::kConditionWait) {
      RunConditionWait(shared_from_this(), ss, start);
    } else {
      StartWait(ss, start);
    }
    return;
  }

  const core::Session* session = ss;
  const std::string_view owner = prepared.owner_key;
  // The answer's fields besides its id and status (read, notify,
  // notify_all), made only by those: the others' answers are built in
  // place among the turn's (ShardSession::AddAnswer()).
  std::optional<v1::Response> payload;
  const auto answer = [&]() -> v1::Response& {
    if (!payload.has_value()) payload.emplace().set_id(id);
    return *payload;
  };
  absl::Status status;
  switch (op) {
    case v1::Request::kRelease:
      switch (prepared.kind) {
        case core::Kind::kKeyedCondition:
          status = instance->As<core::KeyedCondition>()->Release(session, owner);
          break;
        case core::Kind::kDynamicBoundedSemaphore:
          status = instance->As<core::DynamicBoundedSemaphore>()->Release(session);
          break;
        case core::Kind::kPrioritySemaphore:
          status = instance->As<core::PrioritySemaphore>()->Release(
              session, !request.release().has_strict() || request.release().strict());
          break;
        default:
          status = static_cast<core::PriorityMutex*>(instance->primitive())
                       ->Release(session, owner);
          break;
      }
      break;
    case v1::Request::kRead: {
      const core::InstanceSnapshot snapshot = instance->Describe();
      v1::InstanceState* state = answer().mutable_state();
      StateToProto(snapshot, state);
      if (IsLock(prepared.kind)) {
        state->set_is_owner(static_cast<core::PriorityMutex*>(instance->primitive())
                                ->IsOwner(session, owner));
      } else if (prepared.kind == core::Kind::kKeyedCondition) {
        state->set_is_owner(instance->As<core::KeyedCondition>()->IsOwner(session, owner));
      } else if (prepared.kind == core::Kind::kDynamicBoundedSemaphore) {
        state->set_session_permits(
            instance->As<core::DynamicBoundedSemaphore>()->PermitsOf(session));
      } else if (prepared.kind == core::Kind::kPrioritySemaphore) {
        state->set_session_permits(
            instance->As<core::PrioritySemaphore>()->PermitsOf(session));
      }
      break;
    }
    case v1::Request::kRateRelease:
      status = WithField(instance->As<core::RateLimiter>()->Release(
                             request.rate_release().has_tokens()
                                 ? request.rate_release().tokens()
                                 : 1.0),
                         "rate_release.tokens");
      break;
    case v1::Request::kSetRate:
      status = WithField(instance->As<core::RateLimiter>()->SetRate(request.set_rate().rate()),
                         "set_rate.rate");
      break;
    case v1::Request::kSetBound:
      status = WithField(
          instance->As<core::DynamicBoundedSemaphore>()->SetBound(request.set_bound().bound()),
          "set_bound.bound");
      break;
    case v1::Request::kReset:
      status = instance->As<core::PrioritySemaphore>()->Reset();
      break;
    case v1::Request::kNotify: {
      const v1::Notify& n = request.notify();
      absl::StatusOr<std::int64_t> count = instance->As<core::KeyedCondition>()->Notify(
          session, owner, n.key(), n.has_n() ? n.n() : 1, n.strict());
      if (count.ok()) {
        answer().set_count(*count);
      } else {
        status = WithField(count.status(), "notify.n");
      }
      break;
    }
    case v1::Request::kNotifyAll: {
      std::optional<std::string_view> key;
      if (request.notify_all().has_key()) key = request.notify_all().key();
      absl::StatusOr<std::int64_t> count =
          instance->As<core::KeyedCondition>()->NotifyAll(session, owner, key);
      if (count.ok()) {
        answer().set_count(*count);
      } else {
        status = count.status();
      }
      break;
    }
    case v1::Request::kCountDown:
      status = instance->As<core::MultiCountDownLatch>()->CountDown(
          request.count_down().key(), request.count_down().strict());
      break;
    case v1::Request::kCountDownAll:
      status = instance->As<core::MultiCountDownLatch>()->CountDownAll();
      break;
    default:
      status = absl::InternalError(absl::StrCat("op: ", Absl(OpName(op)), " not handled"));
      break;
  }
  // Kept state (kept_state.h): an answer that reports a change of it, or
  // anything about an instance whose change is not durable yet, waits
  // until it is.
  if (KeptState* kept = ss->shard().kept.get(); kept != nullptr) {
    if (status.ok() && ChangesKeptState(op)) kept->Changed(request.name());
    if (kept->Pending(request.name())) {
      ss->AnswerWhenDurable(status.ok() ? std::move(answer()) : ErrorResponse(id, status));
      return;
    }
  }
  if (!status.ok()) {
    session_internal::SetStatus(status, ss->AddAnswer(id)->mutable_status());
    return;
  }
  if (payload.has_value()) {
    ss->Answer(std::move(*payload));
    return;
  }
  ss->AddAnswer(id);
}

}  // namespace baton::service


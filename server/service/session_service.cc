// Copyright 2026 The Baton Authors.

#include "server/service/session_service.h"

#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "server/core/instance_name.h"
#include "server/runtime/cancellation.h"
#include "server/runtime/task.h"
#include "server/runtime/timer_heap.h"
#include "server/service/proto_convert.h"
#include "server/service/status_convert.h"

namespace baton::service {

namespace {

using OpCase = v1::Request::OpCase;

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

// The longest google.protobuf.Duration: 10,000 years.
constexpr std::int64_t kMaxDurationSeconds = 315'576'000'000;
// A session logs its first few rejected requests, then says it stops.
constexpr int kMaxLoggedRejections = 10;
// At most this many bytes of OpenSession.client_name are kept.
constexpr std::size_t kMaxClientNameBytes = 256;

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

// TimeoutOf() reads an optional `timeout` field: absent is nullopt.
absl::StatusOr<std::optional<absl::Duration>> TimeoutOf(
    bool has, const google::protobuf::Duration& d, std::string_view op) {
  if (!has) return std::optional<absl::Duration>();
  absl::StatusOr<absl::Duration> timeout =
      DurationOf(d, absl::StrCat(Absl(op), ".timeout"));
  if (!timeout.ok()) return timeout.status();
  return std::optional<absl::Duration>(*timeout);
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

absl::Status CheckKey(std::string_view key, std::string_view field,
                      std::uint32_t max_key_bytes) {
  if (key.size() > max_key_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        Absl(field), ": must be at most ", max_key_bytes, " bytes (max_key_bytes), got ",
        key.size()));
  }
  return core::ValidateUtf8(key, field);
}

// CutUtf8() is the longest prefix of valid UTF-8 `text` of at most `max`
// bytes that ends on a character boundary.
std::string CutUtf8(const std::string& text, std::size_t max) {
  if (text.size() <= max) return text;
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut);
}

absl::Status CheckPositiveFinite(bool has, double value, std::string_view field) {
  if (!has || (std::isfinite(value) && value > 0)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(Absl(field), ": must be finite and > 0, got ", value));
}

// A request that passed the checks that need no instance, on its way to
// the shard that owns its instance.
struct Prepared {
  v1::Request request;
  core::Kind kind = core::Kind::kPriorityLock;
  std::string owner_key;
  std::optional<absl::Duration> timeout;
};

v1::Response ErrorResponse(std::uint64_t id, const absl::Status& status) {
  v1::Response response;
  response.set_id(id);
  response.mutable_status()->set_code(static_cast<std::int32_t>(status.code()));
  response.mutable_status()->set_message(std::string(status.message()));
  return response;
}

// WithField() prefixes the message of an INVALID_ARGUMENT from the core with
// the request field it is about; other statuses pass unchanged.
absl::Status WithField(const absl::Status& status, std::string_view field) {
  if (status.code() != absl::StatusCode::kInvalidArgument) return status;
  return absl::InvalidArgumentError(absl::StrCat(Absl(field), ": ", status.message()));
}

}  // namespace

// ---------------------------------------------------------------------------
// ShardSession: the part of a session that lives on one shard.

class ShardSession {
 public:
  ShardSession(SessionState* state, Node::Shard* shard, std::uint64_t id)
      : state_(state), shard_(shard), session(id) {}
  ShardSession(const ShardSession&) = delete;
  ShardSession& operator=(const ShardSession&) = delete;

  Node::Shard& shard() const { return *shard_; }

  // Answer() queues `response` (of a registered request) to go out at the
  // end of this turn of the loop, with every other answer of the turn.
  void Answer(v1::Response response);
  // Tell() queues a notice the same way.
  void Tell(v1::Notice notice);

 private:
  friend class SessionState;
  void ScheduleFlush();

  SessionState* const state_;
  Node::Shard* const shard_;
  std::vector<v1::Response> answers_;
  std::vector<v1::Notice> notices_;
  bool flush_scheduled_ = false;

 public:
  core::Session session;
  // The waits pending on this shard, by request id, for Cancel.
  absl::flat_hash_map<std::uint64_t, runtime::CancellationSignal*> waits;
};

struct SessionService::ShardTable {
  absl::flat_hash_map<std::uint64_t, ShardSession*> sessions;
};

// ---------------------------------------------------------------------------
// SessionState: one session, shared by its reactor and the shards.

class SessionState : public std::enable_shared_from_this<SessionState> {
 public:
  using Reactor = SessionService::Reactor;

  SessionState(SessionService* service, std::uint64_t id, std::string peer)
      : service_(service),
        node_(service->node_),
        id_(id),
        peer_(std::move(peer)),
        home_shard_(id % service->node_->shard_count()),
        shards_(service->node_->shard_count()),
        lease_timer_(this) {}

  std::uint64_t id() const { return id_; }
  const SessionService::Options& options() const { return service_->options_; }

  // --- Reactor side (gRPC threads). ---

  void Attach(Reactor* reactor) {
    absl::MutexLock lock(&mu_);
    reactor_ = reactor;
  }
  // Detach() is the reactor's OnDone: nothing is written any more.
  void Detach();

  // Open() handles the first ClientMessage's OpenSession: it checks it,
  // queues SessionOpened and arms the lease. Returns an error that ends the
  // stream.
  absl::Status Open(const v1::OpenSession& open);
  // Heard() renews the lease.
  void Heard() {
    last_heard_nanos_.store(absl::ToUnixNanos(service_->clock_->Now()),
                            std::memory_order_relaxed);
  }
  // Dispatch() checks the requests of one message and posts them to their
  // shards; errors are answered at once.
  void Dispatch(google::protobuf::RepeatedPtrField<v1::Request>* requests);
  // reading() is true while the reactor should read on.
  bool reading() const {
    absl::MutexLock lock(&mu_);
    return phase_ == Phase::kOpen;
  }
  void HalfClose();
  // EndWith() ends the stream with `status` at once (answers not yet written
  // are dropped) and releases everything. Idempotent; any thread.
  void EndWith(const absl::Status& status);
  void WriteDone(bool ok);
  void Drain(absl::Duration grace);

  // --- Shard side. ---

  // RunBatch() runs requests on shard `shard`, in order.
  void RunBatch(Node::Shard& shard, std::vector<Prepared>& batch);
  // Flush() hands what `ss` answered this turn to the stream.
  void Flush(ShardSession* ss);

  std::string log_close_reason() const {
    absl::MutexLock lock(&mu_);
    return close_reason_;
  }
  const std::string& client_name() const { return client_name_; }
  const std::string& peer() const { return peer_; }

 private:
  enum class Phase {
    kOpening,    // waiting for OpenSession
    kOpen,       // reading and answering
    kClosing,    // half-closed: answering what is pending, then OK
    kFinishing,  // ending with finish_status_ as soon as no write is in flight
  };
  struct PendingRequest {
    std::size_t shard = 0;
    bool wait = false;
  };

  // The lease timer, on the session's home shard.
  struct LeaseTimer final : runtime::TimerNode {
    explicit LeaseTimer(SessionState* state) : state(state) {}
    void OnTimer() override { state->OnLeaseTimer(); }
    SessionState* const state;
  };

  // ShardSessionFor() is the session's part on `shard`, created on first use.
  ShardSession* ShardSessionFor(Node::Shard& shard);
  void Execute(ShardSession* ss, Prepared& prepared);
  runtime::Task<void> RunWait(std::shared_ptr<SessionState> self, ShardSession* ss,
                              core::Instance* instance, Prepared prepared);
  void EndOnShard(Node::Shard& shard);
  void ArmLease(Node::Shard& shard, absl::Time at);
  void OnLeaseTimer();

  // Check() validates what needs no instance; fills `prepared`.
  absl::Status Check(const v1::Request& request, Prepared* prepared) const;
  void RejectLocked(std::uint64_t id, std::string_view op, const absl::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EndWithLocked(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // EndShardsLocked() posts End() to every shard, once.
  void EndShardsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // PumpLocked() starts the next write, or finishes the stream, when it can.
  void PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool HasOutgoingLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return next_.has_opened() || next_.responses_size() > 0 || next_.notices_size() > 0;
  }

  SessionService* const service_;
  Node* const node_;
  const std::uint64_t id_;
  const std::string peer_;
  const std::size_t home_shard_;
  // Set by Open(), before any request is dispatched; constant afterwards.
  std::string client_name_;
  std::string default_owner_key_;
  absl::Duration lease_ = absl::ZeroDuration();

  // Entry i is touched only by shard i's thread.
  std::vector<std::unique_ptr<ShardSession>> shards_;
  // Home shard's thread only.
  LeaseTimer lease_timer_;
  runtime::EventLoop* lease_loop_ = nullptr;
  bool lease_warned_ = false;
  std::int64_t lease_warned_for_ = 0;

  std::atomic<std::int64_t> last_heard_nanos_{0};

  mutable absl::Mutex mu_;
  Reactor* reactor_ ABSL_GUARDED_BY(mu_) = nullptr;
  Phase phase_ ABSL_GUARDED_BY(mu_) = Phase::kOpening;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::uint64_t, PendingRequest> pending_ ABSL_GUARDED_BY(mu_);
  std::uint32_t waits_ ABSL_GUARDED_BY(mu_) = 0;
  // What the next write carries, and what the write in flight carries.
  v1::ServerMessage next_ ABSL_GUARDED_BY(mu_);
  v1::ServerMessage writing_ ABSL_GUARDED_BY(mu_);
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool shards_ended_ ABSL_GUARDED_BY(mu_) = false;
  std::size_t ends_outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<grpc::Status> finish_status_ ABSL_GUARDED_BY(mu_);
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
  std::string close_reason_ ABSL_GUARDED_BY(mu_);
  int rejections_logged_ ABSL_GUARDED_BY(mu_) = 0;
};

// ---------------------------------------------------------------------------
// The reactor: one per stream.

class SessionService::Reactor final
    : public grpc::ServerBidiReactor<v1::ClientMessage, v1::ServerMessage> {
 public:
  Reactor(SessionService* service, grpc::CallbackServerContext* context)
      : service_(service),
        state_(std::make_shared<SessionState>(
            service, service->next_session_id_.fetch_add(1), context->peer())) {
    state_->Attach(this);
    if (absl::Status admitted = service_->Admit(this); !admitted.ok()) {
      state_->EndWith(admitted);
      return;
    }
    admitted_ = true;
    StartRead(&in_);
  }

  SessionState& state() { return *state_; }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The client half-closed, or the call is over (cancelled, broken).
      if (opened_) {
        state_->HalfClose();
      } else {
        state_->EndWith(absl::InvalidArgumentError(
            "open: the stream ended before a ClientMessage with open"));
      }
      return;
    }
    state_->Heard();
    if (!opened_) {
      if (!in_.has_open()) {
        state_->EndWith(absl::InvalidArgumentError(
            "open: the first ClientMessage must set open"));
        return;
      }
      if (absl::Status opened = state_->Open(in_.open()); !opened.ok()) {
        state_->EndWith(opened);
        return;
      }
      opened_ = true;
    } else if (in_.has_open()) {
      state_->EndWith(absl::InvalidArgumentError(
          "open: only the first ClientMessage may set open"));
      return;
    }
    if (in_.requests_size() > 0) state_->Dispatch(in_.mutable_requests());
    in_.Clear();
    if (state_->reading()) StartRead(&in_);
  }

  void OnWriteDone(bool ok) override { state_->WriteDone(ok); }

  void OnCancel() override {
    state_->EndWith(absl::CancelledError("the client cancelled the call"));
  }

  void OnDone() override {
    state_->Detach();
    if (admitted_) {
      if (service_->options_.log && opened_) {
        std::fprintf(stderr, "batond: session %llu closed: %s\n",
                     static_cast<unsigned long long>(state_->id()),
                     state_->log_close_reason().c_str());
      }
      service_->Forget(this);
    }
    delete this;
  }

 private:
  SessionService* const service_;
  std::shared_ptr<SessionState> state_;
  v1::ClientMessage in_;
  bool admitted_ = false;
  bool opened_ = false;  // reactions are serialized: no lock needed
};

// ---------------------------------------------------------------------------
// SessionState, reactor side.

void SessionState::Detach() {
  absl::MutexLock lock(&mu_);
  reactor_ = nullptr;
  // A call can end without our Finish having been the cause (it always is
  // here, but be safe): make sure everything is released.
  if (phase_ != Phase::kFinishing) {
    phase_ = Phase::kFinishing;
    if (close_reason_.empty()) close_reason_ = "call ended";
  }
  EndShardsLocked();
}

absl::Status SessionState::Open(const v1::OpenSession& open) {
  const SessionService::Options& o = options();
  if (absl::Status key = CheckKey(open.default_owner_key(), "open.default_owner_key",
                                  o.max_key_bytes);
      !key.ok()) {
    return key;
  }
  if (absl::Status name = core::ValidateUtf8(open.client_name(), "open.client_name");
      !name.ok()) {
    return name;
  }
  absl::Duration lease = o.default_lease;
  if (open.has_lease()) {
    absl::StatusOr<absl::Duration> wish = DurationOf(open.lease(), "open.lease");
    if (!wish.ok()) return wish.status();
    if (*wish > absl::ZeroDuration()) lease = *wish;
  }
  lease = std::clamp(lease, o.min_lease, o.max_lease);
  client_name_ = CutUtf8(open.client_name(), kMaxClientNameBytes);
  default_owner_key_ = open.default_owner_key();
  lease_ = lease;

  {
    absl::MutexLock lock(&mu_);
    if (phase_ != Phase::kOpening) return absl::OkStatus();  // ending already
    phase_ = Phase::kOpen;
    v1::SessionOpened* opened = next_.mutable_opened();
    opened->set_session_id(id_);
    opened->set_server_epoch(o.server_epoch);
    SetDuration(lease, opened->mutable_lease());
    v1::SessionLimits* limits = opened->mutable_limits();
    limits->set_max_requests_per_message(o.max_requests_per_message);
    limits->set_max_pending_requests(o.max_pending_requests);
    limits->set_max_name_bytes(static_cast<std::uint32_t>(core::kMaxNameBytes));
    limits->set_max_key_bytes(o.max_key_bytes);
    opened->set_server_version(o.server_version);
    PumpLocked();
  }
  if (o.log) {
    std::fprintf(stderr, "batond: session %llu opened: client '%s' from %s, lease %s\n",
                 static_cast<unsigned long long>(id_), client_name_.c_str(),
                 peer_.c_str(), absl::FormatDuration(lease).c_str());
  }
  const absl::Time first = absl::FromUnixNanos(last_heard_nanos_.load()) + lease_ * 2 / 3;
  node_->RunOn(home_shard_, [self = shared_from_this(), first](Node::Shard& shard) {
    self->ArmLease(shard, first);
  });
  return absl::OkStatus();
}

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
  prepared->owner_key = request.has_owner_key() ? request.owner_key() : default_owner_key_;
  return absl::OkStatus();
}

void SessionState::RejectLocked(std::uint64_t id, std::string_view op,
                                const absl::Status& status) {
  *next_.add_responses() = ErrorResponse(id, status);
  if (!options().log) return;
  if (rejections_logged_ < kMaxLoggedRejections) {
    std::fprintf(stderr, "batond: session %llu: request %llu (%.*s) rejected: %s\n",
                 static_cast<unsigned long long>(id_), static_cast<unsigned long long>(id),
                 static_cast<int>(op.size()), op.data(), status.ToString().c_str());
  } else if (rejections_logged_ == kMaxLoggedRejections) {
    std::fprintf(stderr, "batond: session %llu: further rejected requests not logged\n",
                 static_cast<unsigned long long>(id_));
  }
  ++rejections_logged_;
}

void SessionState::Dispatch(google::protobuf::RepeatedPtrField<v1::Request>* requests) {
  const SessionService::Options& o = options();
  // Batches by shard, in the order of the message.
  std::vector<std::pair<std::size_t, std::vector<Prepared>>> batches;
  auto batch_for = [&](std::size_t shard) -> std::vector<Prepared>& {
    for (auto& [index, batch] : batches) {
      if (index == shard) return batch;
    }
    return batches.emplace_back(shard, std::vector<Prepared>()).second;
  };

  absl::MutexLock lock(&mu_);
  if (phase_ != Phase::kOpen) return;
  int position = 0;
  for (v1::Request& request : *requests) {
    const std::uint64_t id = request.id();
    const OpCase op = request.op_case();
    const std::string_view op_name = OpName(op);
    if (++position > static_cast<int>(o.max_requests_per_message)) {
      RejectLocked(id, op_name, absl::ResourceExhaustedError(absl::StrCat(
                                    "max_requests_per_message: at most ",
                                    o.max_requests_per_message,
                                    " requests in one ClientMessage")));
      continue;
    }
    if (pending_.contains(id)) {
      RejectLocked(id, op_name, absl::AlreadyExistsError(absl::StrCat(
                                    "id: request ", id, " of this session is still pending")));
      continue;
    }
    if (draining_ && op != v1::Request::kCancel) {
      RejectLocked(id, op_name, absl::UnavailableError(
                                    "server draining: finish up and open a new session "
                                    "on another server"));
      continue;
    }
    if (pending_.size() >= o.max_pending_requests) {
      RejectLocked(id, op_name, absl::ResourceExhaustedError(absl::StrCat(
                                    "max_pending_requests: the session has ", pending_.size(),
                                    " requests unanswered, the server's limit")));
      continue;
    }
    if (op == v1::Request::kCancel) {
      const auto target = pending_.find(request.cancel().request_id());
      if (target == pending_.end()) {
        *next_.add_responses() = ErrorResponse(
            id, absl::NotFoundError(absl::StrCat("cancel.request_id: no request ",
                                                 request.cancel().request_id(),
                                                 " of this session is pending")));
        continue;
      }
      const std::size_t shard = target->second.shard;
      pending_.emplace(id, PendingRequest{.shard = shard, .wait = false});
      Prepared& prepared = batch_for(shard).emplace_back();
      prepared.request = std::move(request);
      continue;
    }
    Prepared prepared;
    if (absl::Status checked = Check(request, &prepared); !checked.ok()) {
      RejectLocked(id, op_name, checked);
      continue;
    }
    const bool wait = IsWait(op);
    if (wait && waits_ >= o.max_waits_per_session) {
      RejectLocked(id, op_name, absl::ResourceExhaustedError(absl::StrCat(
                                    "max_waits_per_session: the session has ", waits_,
                                    " waits pending, the server's limit")));
      continue;
    }
    const std::size_t shard = node_->ShardIndexOf(request.name());
    pending_.emplace(id, PendingRequest{.shard = shard, .wait = wait});
    if (wait) ++waits_;
    prepared.request = std::move(request);
    batch_for(shard).push_back(std::move(prepared));
  }
  // Posting under mu_ orders every batch before the End() of the session.
  for (auto& [index, batch] : batches) {
    node_->RunOn(index, [self = shared_from_this(),
                         batch = std::move(batch)](Node::Shard& shard) mutable {
      self->RunBatch(shard, batch);
    });
  }
  PumpLocked();
}

void SessionState::HalfClose() {
  absl::MutexLock lock(&mu_);
  if (phase_ != Phase::kOpen && phase_ != Phase::kOpening) return;
  phase_ = Phase::kClosing;
  close_reason_ = "the client closed it";
  EndShardsLocked();
  PumpLocked();
}

void SessionState::EndWith(const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  EndWithLocked(status);
}

void SessionState::EndWithLocked(const absl::Status& status) {
  if (phase_ == Phase::kFinishing) return;
  phase_ = Phase::kFinishing;
  finish_status_ = ToGrpcStatus(status);
  close_reason_ = status.ToString();
  EndShardsLocked();
  PumpLocked();
}

void SessionState::WriteDone(bool ok) {
  absl::MutexLock lock(&mu_);
  write_in_flight_ = false;
  if (!ok) {
    EndWithLocked(absl::CancelledError("a write failed: the client is gone"));
    return;
  }
  PumpLocked();
}

void SessionState::Drain(absl::Duration grace) {
  absl::MutexLock lock(&mu_);
  if (phase_ == Phase::kFinishing || draining_) return;
  draining_ = true;
  SetDuration(grace, next_.add_notices()->mutable_draining()->mutable_grace());
  PumpLocked();
}

void SessionState::EndShardsLocked() {
  if (shards_ended_) return;
  shards_ended_ = true;
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    ++ends_outstanding_;
    node_->RunOn(i, [self = shared_from_this()](Node::Shard& shard) {
      self->EndOnShard(shard);
    });
  }
}

void SessionState::PumpLocked() {
  if (reactor_ == nullptr || write_in_flight_ || finish_called_) return;
  if (finish_status_.has_value()) {
    finish_called_ = true;
    reactor_->Finish(*finish_status_);
    return;
  }
  if (HasOutgoingLocked()) {
    writing_.Swap(&next_);
    next_.Clear();
    write_in_flight_ = true;
    reactor_->StartWrite(&writing_);
    return;
  }
  if (phase_ == Phase::kClosing && pending_.empty() && ends_outstanding_ == 0) {
    finish_called_ = true;
    reactor_->Finish(grpc::Status::OK);
  }
}

// ---------------------------------------------------------------------------
// SessionState, shard side.

void ShardSession::Answer(v1::Response response) {
  answers_.push_back(std::move(response));
  ScheduleFlush();
}

void ShardSession::Tell(v1::Notice notice) {
  notices_.push_back(std::move(notice));
  ScheduleFlush();
}

void ShardSession::ScheduleFlush() {
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  // After everything this turn of the loop resumes: one flush carries all.
  shard_->loop->Defer([self = state_->shared_from_this(), this] { self->Flush(this); });
}

void SessionState::Flush(ShardSession* ss) {
  ss->flush_scheduled_ = false;
  absl::MutexLock lock(&mu_);
  for (v1::Response& response : ss->answers_) {
    const auto it = pending_.find(response.id());
    if (it != pending_.end()) {
      if (it->second.wait) --waits_;
      pending_.erase(it);
    }
    if (phase_ != Phase::kFinishing) next_.add_responses()->Swap(&response);
  }
  ss->answers_.clear();
  for (v1::Notice& notice : ss->notices_) {
    if (phase_ != Phase::kFinishing) next_.add_notices()->Swap(&notice);
  }
  ss->notices_.clear();
  PumpLocked();
}

ShardSession* SessionState::ShardSessionFor(Node::Shard& shard) {
  std::unique_ptr<ShardSession>& slot = shards_[shard.index];
  if (slot == nullptr) {
    slot = std::make_unique<ShardSession>(this, &shard, id_);
    service_->tables_[shard.index]->sessions.emplace(id_, slot.get());
  }
  return slot.get();
}

void SessionState::RunBatch(Node::Shard& shard, std::vector<Prepared>& batch) {
  ShardSession* ss = ShardSessionFor(shard);
  for (Prepared& prepared : batch) Execute(ss, prepared);
}

void SessionState::EndOnShard(Node::Shard& shard) {
  if (std::unique_ptr<ShardSession>& ss = shards_[shard.index]; ss != nullptr) {
    service_->tables_[shard.index]->sessions.erase(id_);
    ss->session.End();
  }
  if (shard.index == home_shard_) shard.loop->CancelTimer(&lease_timer_);
  // The waits that End() failed resume on this loop and answer (their
  // answers flush after them); PumpLocked() finishes a closing stream once
  // nothing is pending and every shard has ended.
  absl::MutexLock lock(&mu_);
  --ends_outstanding_;
  PumpLocked();
}

void SessionState::ArmLease(Node::Shard& shard, absl::Time at) {
  {
    absl::MutexLock lock(&mu_);
    if (shards_ended_) return;
  }
  lease_loop_ = shard.loop;
  shard.loop->AddTimer(&lease_timer_, at);
}

void SessionState::OnLeaseTimer() {
  runtime::EventLoop& loop = *lease_loop_;
  const absl::Time now = loop.Now();
  const std::int64_t heard_nanos = last_heard_nanos_.load(std::memory_order_relaxed);
  const absl::Time heard = absl::FromUnixNanos(heard_nanos);
  const absl::Time expiry = heard + lease_;
  const absl::Time warning = heard + lease_ * 2 / 3;
  if (now >= expiry) {
    EndWith(absl::AbortedError(absl::StrCat(
        "session lease expired: nothing heard from the client for ",
        absl::FormatDuration(lease_))));
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    if (shards_ended_) return;
  }
  if (now >= warning) {
    if (!lease_warned_ || lease_warned_for_ != heard_nanos) {
      lease_warned_ = true;
      lease_warned_for_ = heard_nanos;
      v1::Notice notice;
      SetDuration(expiry - now, notice.mutable_session_expiring()->mutable_remaining());
      absl::MutexLock lock(&mu_);
      *next_.add_notices() = std::move(notice);
      PumpLocked();
    }
    loop.AddTimer(&lease_timer_, expiry);
  } else {
    loop.AddTimer(&lease_timer_, warning);
  }
}

void SessionState::Execute(ShardSession* ss, Prepared& prepared) {
  v1::Request& request = prepared.request;
  const std::uint64_t id = request.id();
  const OpCase op = request.op_case();
  if (op == v1::Request::kCancel) {
    const auto it = ss->waits.find(request.cancel().request_id());
    if (it == ss->waits.end()) {
      ss->Answer(ErrorResponse(
          id, absl::NotFoundError(absl::StrCat("cancel.request_id: no request ",
                                               request.cancel().request_id(),
                                               " of this session is pending"))));
      return;
    }
    runtime::CancellationSignal* signal = it->second;
    ss->waits.erase(it);
    signal->Cancel();
    v1::Response response;
    response.set_id(id);
    ss->Answer(std::move(response));
    return;
  }

  core::Registry& registry = ss->shard().registry;
  absl::StatusOr<core::Instance*> found = registry.GetOrCreate(request.name(), prepared.kind);
  if (!found.ok()) {
    ss->Answer(ErrorResponse(id, found.status()));
    return;
  }
  core::Instance* instance = *found;
  if (IsWait(op)) {
    runtime::Detach(RunWait(shared_from_this(), ss, instance, std::move(prepared)));
    return;
  }

  const core::Session* session = &ss->session;
  const std::string& owner = prepared.owner_key;
  v1::Response response;
  response.set_id(id);
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
      v1::InstanceState* state = response.mutable_state();
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
        response.set_count(*count);
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
        response.set_count(*count);
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
  if (!status.ok()) {
    ss->Answer(ErrorResponse(id, status));
    return;
  }
  ss->Answer(std::move(response));
}

runtime::Task<void> SessionState::RunWait(std::shared_ptr<SessionState> self,
                                          ShardSession* ss, core::Instance* instance,
                                          Prepared prepared) {
  // `self` keeps the session (and `ss`) alive for as long as the wait runs.
  static_cast<void>(self);
  const v1::Request& request = prepared.request;
  const std::uint64_t id = request.id();
  const OpCase op = request.op_case();
  runtime::CancellationSignal cancel;
  ss->waits.emplace(id, &cancel);
  core::WaitOptions options{.session = &ss->session,
                            .owner_key = prepared.owner_key,
                            .timeout = prepared.timeout,
                            .cancel = &cancel};
  core::WaitResult result;
  // Each co_await takes named locals only (GCC 12: see waiter.h). The
  // instance is not touched after its wait: a Delete may have destroyed it.
  switch (op) {
    case v1::Request::kAcquire: {
      const std::int64_t priority = request.acquire().priority();
      switch (prepared.kind) {
        case core::Kind::kKeyedCondition:
          result = co_await instance->As<core::KeyedCondition>()->Acquire(std::move(options));
          break;
        case core::Kind::kDynamicBoundedSemaphore:
          result = co_await instance->As<core::DynamicBoundedSemaphore>()->Acquire(
              std::move(options));
          break;
        case core::Kind::kPrioritySemaphore:
          result = co_await instance->As<core::PrioritySemaphore>()->Acquire(
              std::move(options), priority);
          break;
        default:
          result = co_await static_cast<core::PriorityMutex*>(instance->primitive())
                       ->Acquire(std::move(options), priority);
          break;
      }
      break;
    }
    case v1::Request::kRateAcquire: {
      const double tokens =
          request.rate_acquire().has_tokens() ? request.rate_acquire().tokens() : 1.0;
      result = co_await instance->As<core::RateLimiter>()->Acquire(std::move(options), tokens);
      break;
    }
    case v1::Request::kConditionWait: {
      std::string key = request.condition_wait().key();
      result = co_await instance->As<core::KeyedCondition>()->Wait(std::move(options),
                                                                     std::move(key));
      break;
    }
    case v1::Request::kLatchWait: {
      std::string key = request.latch_wait().key();
      const bool strict = request.latch_wait().strict();
      result = co_await instance->As<core::MultiCountDownLatch>()->Wait(
          std::move(options), std::move(key), strict);
      break;
    }
    case v1::Request::kWaitAll:
      if (prepared.kind == core::Kind::kKeyedCondition) {
        result = co_await instance->As<core::KeyedCondition>()->WaitAll(std::move(options));
      } else {
        result = co_await instance->As<core::MultiCountDownLatch>()->WaitAll(
            std::move(options));
      }
      break;
    default:
      result.status = absl::InternalError("not a wait");
      break;
  }
  ss->waits.erase(id);

  v1::Response response;
  response.set_id(id);
  const absl::StatusCode code = result.status.code();
  if (!result.ok()) {
    const absl::Status status =
        op == v1::Request::kRateAcquire ? WithField(result.status, "rate_acquire.tokens")
                                        : result.status;
    response.mutable_status()->set_code(static_cast<std::int32_t>(status.code()));
    response.mutable_status()->set_message(std::string(status.message()));
  }
  switch (op) {
    case v1::Request::kAcquire:
      if (result.ok()) response.set_fence(result.grant.fence);
      break;
    case v1::Request::kRateAcquire:
      if (result.ok()) {
        response.set_tokens_left(result.grant.tokens_left);
      } else if (code == absl::StatusCode::kDeadlineExceeded && prepared.timeout.has_value() &&
                 *prepared.timeout <= absl::ZeroDuration()) {
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
  ss->Answer(std::move(response));
}

// ---------------------------------------------------------------------------
// SessionService.

SessionService::SessionService(Node* node, runtime::Clock* clock, Options options)
    : node_(node), clock_(clock), options_(std::move(options)) {
  tables_.reserve(node_->shard_count());
  for (std::size_t i = 0; i < node_->shard_count(); ++i) {
    tables_.push_back(std::make_unique<ShardTable>());
  }
  // Holds the server takes away (Reset, Delete) are told to their session.
  for (std::size_t i = 0; i < node_->shard_count(); ++i) {
    node_->RunOn(i, [table = tables_[i].get()](Node::Shard& shard) {
      shard.registry.set_revocation_callback(
          [table, &shard](std::string_view name, const core::Revocation& revocation) {
            const auto it = table->sessions.find(revocation.session_id);
            if (it == table->sessions.end()) return;
            v1::Notice notice;
            v1::HoldRevoked* revoked = notice.mutable_hold_revoked();
            revoked->set_name(std::string(name));
            if (const core::Instance* instance = shard.registry.Find(name)) {
              revoked->set_kind(KindToProto(instance->kind()));
            }
            revoked->set_owner_key(revocation.owner_key);
            revoked->set_fence(revocation.fence);
            revoked->mutable_reason()->set_code(
                static_cast<std::int32_t>(revocation.reason.code()));
            revoked->mutable_reason()->set_message(std::string(revocation.reason.message()));
            it->second->Tell(std::move(notice));
          });
    });
  }
}

SessionService::~SessionService() = default;

grpc::ServerBidiReactor<v1::ClientMessage, v1::ServerMessage>* SessionService::Session(
    grpc::CallbackServerContext* context) {
  return new Reactor(this, context);
}

absl::Status SessionService::Admit(Reactor* reactor) {
  absl::MutexLock lock(&mu_);
  if (draining_) {
    return absl::UnavailableError(
        "server draining: open the session on another server");
  }
  if (live_.size() >= options_.max_sessions) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "max_sessions: ", live_.size(), " sessions are open, the server's limit"));
  }
  live_.insert(reactor);
  return absl::OkStatus();
}

void SessionService::Forget(Reactor* reactor) {
  absl::MutexLock lock(&mu_);
  live_.erase(reactor);
  if (live_.empty()) no_sessions_.SignalAll();
}

void SessionService::StartDrain(absl::Duration grace) {
  absl::MutexLock lock(&mu_);
  draining_ = true;
  grace_ = grace;
  for (Reactor* reactor : live_) reactor->state().Drain(grace);
}

bool SessionService::WaitForNoSessions(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  while (!live_.empty()) {
    if (no_sessions_.WaitWithDeadline(&mu_, deadline)) return live_.empty();
  }
  return true;
}

void SessionService::EndAll(const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  for (Reactor* reactor : live_) reactor->state().EndWith(status);
}

std::size_t SessionService::live_sessions() const {
  absl::MutexLock lock(&mu_);
  return live_.size();
}

}  // namespace baton::service

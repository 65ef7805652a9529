// Copyright 2026 The Baton Authors.
//
// The insides of SessionService (session_service.h), shared by its two
// files: session_service.cc (the stream: reactor, writes, lease, drain) and
// session_ops.cc (checking requests and running them on the primitives).
// Not an API: nothing outside server/service includes it.

#ifndef BATON_SERVER_SERVICE_SESSION_STATE_H_
#define BATON_SERVER_SERVICE_SESSION_STATE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "baton/v1/session.grpc.pb.h"
#include "server/core/registry.h"
#include "server/core/session.h"
#include "server/runtime/cancellation.h"
#include "server/runtime/task.h"
#include "server/runtime/timer_heap.h"
#include "server/service/node.h"
#include "server/service/session_service.h"

namespace baton::service {
namespace session_internal {

using OpCase = v1::Request::OpCase;

// SetDuration() writes `d` (saturating) as a google.protobuf.Duration.
void SetDuration(absl::Duration d, google::protobuf::Duration* out);
// DurationOf() checks a google.protobuf.Duration that must not be negative;
// errors name `field`.
absl::StatusOr<absl::Duration> DurationOf(const google::protobuf::Duration& d,
                                          std::string_view field);
// OpName() is the request field of `op`, e.g. "rate_acquire".
std::string_view OpName(OpCase op);
// IsWait() is true for the operations that may queue.
bool IsWait(OpCase op);
// CheckKey() checks a client-chosen key: at most `max_key_bytes`, UTF-8.
absl::Status CheckKey(std::string_view key, std::string_view field,
                      std::uint32_t max_key_bytes);
// SetStatus() writes `status` into `out`, with its redirect, if any.
void SetStatus(const absl::Status& status, v1::Status* out);
// ErrorResponse() answers request `id` with `status`.
v1::Response ErrorResponse(std::uint64_t id, const absl::Status& status);

// A request that passed the checks that need no instance, on its way to
// the shard that owns its instance. `request` points into the
// MessageRequests of its message, which outlives the batch's run.
struct Prepared {
  v1::Request* request = nullptr;
  core::Kind kind = core::Kind::kPriorityLock;
  // The request's owner key, or the session's default: a view of the
  // request's field (which lives as long as `request`) or of the
  // session's default key (constant once the session is open).
  std::string_view owner_key;
  // The name's runtime::NameHash(), computed to choose the shard, and
  // reused to find the instance in its registry.
  std::uint64_t name_hash = 0;
  std::optional<absl::Duration> timeout;
  // When the message was dispatched (metrics::NowNanos()), for the
  // request-duration histogram.
  std::int64_t dispatched_ns = 0;
};

// MessageRequests is the requests of one ClientMessage on their way to the
// shards: taken out of the reactor's message whole (one swap, where moving
// each Request out cost a Request, its name's string and their frees per
// request), and handed back to the session once every shard has run its
// part. The next message is then parsed into the same Request objects,
// whose strings keep their buffers (protobuf reuses cleared elements).
struct MessageRequests {
  google::protobuf::RepeatedPtrField<v1::Request> requests;
  // Shards yet to run their part.
  std::atomic<std::uint32_t> parts{0};
};

// MessagePart is one shard's part of a MessageRequests, and the session it
// belongs to (which it keeps alive): when the last part of a message is
// destroyed (its batch has run, or its loop dropped it), the requests go
// back to the session (SessionState::RecycleRequests). Move-only.
class MessagePart {
 public:
  MessagePart(std::shared_ptr<SessionState> state, MessageRequests* requests)
      : state_(std::move(state)), requests_(requests) {}
  MessagePart(MessagePart&& other) noexcept
      : state_(std::move(other.state_)), requests_(std::exchange(other.requests_, nullptr)) {}
  MessagePart(const MessagePart&) = delete;
  MessagePart& operator=(const MessagePart&) = delete;
  MessagePart& operator=(MessagePart&&) = delete;
  ~MessagePart();

  SessionState* state() const { return state_.get(); }

 private:
  std::shared_ptr<SessionState> state_;
  MessageRequests* requests_;
};

}  // namespace session_internal

// ---------------------------------------------------------------------------
// ShardSession: the part of a session that lives on one shard.

// PendingWait is a wait request running on a shard: it lives in the frame of
// the coroutine that runs it, and ShardSession::waits finds it by id.
struct PendingWait {
  std::uint64_t id = 0;
  runtime::CancellationSignal cancel;
};

// It is the session's core::Session on this shard (its holds and waits
// there): a wait's record finds it from its waiter's session (RunWait keeps
// no pointer of its own).
class ShardSession : public core::Session {
 public:
  ShardSession(SessionState* state, Node::Shard* shard, std::uint64_t id)
      : core::Session(id), state_(state), shard_(shard) {}
  ShardSession(const ShardSession&) = delete;
  ShardSession& operator=(const ShardSession&) = delete;

  Node::Shard& shard() const { return *shard_; }

  // Answer() queues `response` (of a registered request) to go out at the
  // end of this turn of the loop, with every other answer of the turn.
  void Answer(v1::Response response);
  // AddAnswer() is Answer() built in place: a cleared Response (reused from
  // an earlier turn) with `id` set, queued the same way, for the caller to
  // fill in before the turn ends.
  v1::Response* AddAnswer(std::uint64_t id);
  // AnswerWhenDurable() is Answer() once every change of kept state on this
  // shard so far is durable (kept_state.h); Answer() at once when none is
  // pending or nothing is kept. If the store fails, the answer becomes
  // UNAVAILABLE: the change is made but may not survive a crash.
  void AnswerWhenDurable(v1::Response response);
  // Tell() queues a notice the same way.
  void Tell(v1::Notice notice);

  // AddQueuedWait() counts a wait that queued (a RunWait record): while
  // any is counted, the session is kept alive, by one reference here.
  // RemoveQueuedWait() uncounts it; the last may destroy the session, and
  // this with it: call it last.
  void AddQueuedWait();
  void RemoveQueuedWait();

 private:
  friend class SessionState;
  void ScheduleFlush();

  SessionState* const state_;
  Node::Shard* const shard_;
  // This turn's answers. A RepeatedPtrField, not a vector: its cleared
  // elements are reused by the next turn, and Flush() hands them to the
  // next write whole when it has none yet (a swap).
  google::protobuf::RepeatedPtrField<v1::Response> answers_;
  std::vector<v1::Notice> notices_;
  // The messages (by SessionState's message number) whose part for this
  // shard ran this turn: the flush tells the stream they are done here.
  std::vector<std::uint64_t> parts_run_;
  bool flush_scheduled_ = false;
  std::size_t queued_waits_ = 0;
  std::shared_ptr<SessionState> keep_alive_;

 public:
  // The waits pending on this shard, found by request id, for Cancel. A set
  // of pointers into the waits' frames: 8 bytes a slot, not the 16 of a
  // map from id to signal.
  struct ById {
    using is_transparent = void;
    static std::uint64_t IdOf(const PendingWait* wait) { return wait->id; }
    static std::uint64_t IdOf(std::uint64_t id) { return id; }
    template <typename T>
    std::size_t operator()(const T& t) const {
      return absl::Hash<std::uint64_t>()(IdOf(t));
    }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return IdOf(a) == IdOf(b);
    }
  };
  absl::flat_hash_set<PendingWait*, ById, ById> waits;
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
        tables_(service->tables_),
        lease_timer_(this) {}

  ~SessionState();

  std::uint64_t id() const { return id_; }
  const SessionService::Options& options() const { return service_->options_; }

  // SetCaller() sets who the session is (--auth_file), before it opens.
  void SetCaller(std::unique_ptr<auth::Caller> caller) {
    absl::MutexLock lock(&mu_);
    caller_ = std::move(caller);
  }

  // --- Reactor side (gRPC threads). ---

  void Attach(Reactor* reactor) {
    absl::MutexLock lock(&mu_);
    reactor_ = reactor;
  }
  // Count() records that the session counts against max_sessions; it is
  // counted out once, when the stream's end is decided.
  void Count();
  // Detach() is called once nothing is outstanding on the stream (the
  // reactor's Over()): nothing is written any more.
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
  // DispatchAndRun() is Dispatch() without setting up the deferral of the
  // writes (a caller that set it up starts them).
  void DispatchAndRun(google::protobuf::RepeatedPtrField<v1::Request>* requests);
  // ContinueReading() is true while the reactor should read on. False when
  // the session is no longer open, or when the client is not reading its
  // answers (more than max_unread_bytes wait behind a write in flight):
  // then reading is paused, and WriteDone() says when to resume.
  bool ContinueReading();
  void HalfClose();
  // EndWith() ends the stream with `status` at once (answers not yet written
  // are dropped) and releases everything. Idempotent; any thread.
  void EndWith(const absl::Status& status);
  // EndByClient() is EndWith() for a call the client cancelled: a normal
  // end, logged at debug.
  void EndByClient();
  // WriteDone() handles a write's completion; true when the reactor must
  // start a read again (reading was paused for back-pressure). Called from
  // the write's reaction, so the reactor lives while it starts the read.
  bool WriteDone(bool ok);
  void Drain(absl::Duration grace);
  // OnThrottleTimer() resumes reading a stream paused by its namespace's
  // requests_per_second quota (unless back-pressure holds it). Called by
  // the service's throttle thread: neither a shard's nor gRPC's, since the
  // read it starts may run its reaction inline.
  void OnThrottleTimer();

  // --- Shard side. ---

  // RunBatch() runs requests on shard `shard`, in order: the part of the
  // tracked message `part_of` (0: of a message not tracked, see unrun_).
  void RunBatch(Node::Shard& shard, std::uint64_t part_of,
                std::vector<session_internal::Prepared>& batch);
  // RecycleRequests() takes back the requests of a message every shard has
  // run (MessagePart): kept for the next message to parse into, or freed.
  // Any thread.
  void RecycleRequests(session_internal::MessageRequests* requests);
  // Flush() hands what `ss` answered this turn to the stream.
  void Flush(ShardSession* ss);

  // LogClosed() logs the session's end (once it is over).
  void LogClosed() const;
  const std::string& client_name() const { return client_name_; }
  const std::string& peer() const { return peer_; }

 private:
  enum class Phase {
    kOpening,    // waiting for OpenSession
    kOpen,       // reading and answering
    kClosing,    // half-closed: answering what is pending, then OK
    kFinishing,  // ending with finish_status_ as soon as no write is in flight
  };
  // 8 bytes: pending_ holds one per request in flight (a queued wait too).
  struct PendingRequest {
    std::uint32_t shard = 0;
    // The namespace's entry in namespaces_ (0: none counted), whose
    // waiters quota a wait counts against until answered.
    std::uint16_t ns = 0;
    bool wait = false;
  };
  // A message whose requests some shards have still to run.
  struct Unrun {
    std::uint64_t message = 0;
    std::uint32_t parts = 0;  // shards yet to run their part
    // Some of its answers wait in next_: a part has run, or the message had
    // requests rejected before any was posted.
    bool answered = false;
  };

  // The lease timer, on the session's home shard.
  struct LeaseTimer final : runtime::TimerNode {
    explicit LeaseTimer(SessionState* state) : state(state) {}
    void OnTimer() override { state->OnLeaseTimer(); }
    SessionState* const state;
  };

  // ShardSessionFor() is the session's part on `shard`, created on first use.
  ShardSession* ShardSessionFor(Node::Shard& shard);
  void Execute(ShardSession* ss, session_internal::Prepared& prepared);
  void EndOnShard(Node::Shard& shard);
  void ArmLease(Node::Shard& shard, absl::Time at);
  void OnLeaseTimer();

  // AdmitLocked() applies --auth_file to a checked request: the caller's
  // `use` role on its namespace, and the namespace's quotas (sessions on
  // the session's first request there, requests_per_second, waiters).
  // Sets `*ns` to the namespace's entry in namespaces_.
  absl::Status AdmitLocked(const v1::Request& request, bool wait, std::uint16_t* ns)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // ReleaseNamespacesLocked() uncounts the session from every namespace it
  // used, once.
  void ReleaseNamespacesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Check() validates what needs no instance; fills `prepared`.
  absl::Status Check(const v1::Request& request, session_internal::Prepared* prepared) const;
  void RejectLocked(std::uint64_t id, std::string_view op, const absl::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EndWithLocked(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UncountLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // EndShardsLocked() posts End() to every shard, once.
  void EndShardsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // PumpLocked() starts the next write, or finishes the stream, when it can.
  // The write itself (StartWrite, which may send on the socket) is started
  // by the Locked that holds mu_, once it has released mu_: every caller of
  // PumpLocked() holds mu_ through a Locked.
  void PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // MeasureLocked() adds the answers and notices queued in next_ since the
  // last call to unread_bytes_, and ends the session past the hard bound
  // (4 x max_unread_bytes, at least 64 MiB). Called while a write is in flight: that is when
  // next_ can grow.
  void MeasureLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // EndUnreadLocked() ends a session whose client does not read: as
  // EndWithLocked(), and the call is cancelled, since its status could not
  // get past the write the client does not read.
  void EndUnreadLocked(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Locked holds mu_ for its scope; on leaving, it releases mu_ and then
  // starts the write PumpLocked() decided on, if any.
  class ABSL_SCOPED_LOCKABLE Locked {
   public:
    explicit Locked(SessionState* state) ABSL_EXCLUSIVE_LOCK_FUNCTION(state->mu_)
        : state_(state) {
      state_->mu_.Lock();
    }
    Locked(const Locked&) = delete;
    Locked& operator=(const Locked&) = delete;
    ~Locked() ABSL_UNLOCK_FUNCTION();

   private:
    SessionState* const state_;
  };
  bool HasOutgoingLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return next_.has_opened() || next_.responses_size() > 0 || next_.notices_size() > 0;
  }
  // HeldLocked() is true while a message up to hold_through_ is answered in
  // part: the next write waits for the rest, so that a message spanning
  // shards is answered in one write, not one per shard (each of which the
  // client would answer with a message of its own). A message none of whose
  // parts has run holds nothing, nor does one whose parts have all run.
  // Best effort under pipelining: a message after hold_through_ whose first
  // part runs meanwhile goes out in part with this write.
  bool HeldLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (std::size_t i = unrun_head_; i < unrun_.size(); ++i) {
      if (unrun_[i].message > hold_through_) return false;
      if (unrun_[i].answered && unrun_[i].parts > 0) return true;
    }
    return false;
  }
  // PartsRunLocked() records that one shard ran its part of each message in
  // `messages`.
  void PartsRunLocked(const std::vector<std::uint64_t>& messages)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

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
  // The service's tables (shared: a session may end after the service).
  const std::vector<std::shared_ptr<SessionService::ShardTable>> tables_;
  // Home shard's thread only.
  LeaseTimer lease_timer_;
  runtime::EventLoop* lease_loop_ = nullptr;
  bool lease_warned_ = false;
  std::int64_t lease_warned_for_ = 0;

  std::atomic<std::int64_t> last_heard_nanos_{0};

  // A MessageRequests whose requests have run, cleared, for the next
  // message (RecycleRequests(), DispatchAndRun()); nullptr when none.
  std::atomic<session_internal::MessageRequests*> spare_requests_{nullptr};

  mutable absl::Mutex mu_;
  Reactor* reactor_ ABSL_GUARDED_BY(mu_) = nullptr;
  Phase phase_ ABSL_GUARDED_BY(mu_) = Phase::kOpening;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::uint64_t, PendingRequest> pending_ ABSL_GUARDED_BY(mu_);
  std::uint32_t waits_ ABSL_GUARDED_BY(mu_) = 0;
  // --auth_file: who the session is (nullptr: access control off), and the
  // namespaces it used, by name, each with its usage (nullptr when no
  // quota applied at first use). Entry 0 is "none".
  std::unique_ptr<auth::Caller> caller_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::uint16_t> namespace_index_ ABSL_GUARDED_BY(mu_);
  std::vector<auth::NamespaceUsage*> namespaces_ ABSL_GUARDED_BY(mu_){nullptr};
  bool namespaces_released_ ABSL_GUARDED_BY(mu_) = false;
  // requests_per_second: what the requests refused since the last read
  // would have cost the namespace's bucket. Reading pauses that long (at
  // most a second) after the message, so that a tenant over its quota
  // costs the server the little it takes to refuse one message per pause,
  // not a refusal for every request it can send.
  absl::Duration throttle_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  bool throttled_ ABSL_GUARDED_BY(mu_) = false;
  // Set while the throttle timer starts a read (outside mu_, the reactor
  // pinned): nothing ends the stream until it has.
  bool resuming_ ABSL_GUARDED_BY(mu_) = false;
  // Messages are numbered from 1 as they are dispatched; unrun_ (from
  // unrun_head_ on) holds those with parts not yet run, oldest first, of the
  // messages that can be answered in part (several shards, or rejections). The
  // next write is held until every message up to hold_through_ that is
  // answered in part has run: hold_through_ is fixed when that write could
  // first start, so messages that arrive while it waits do not hold it.
  std::uint64_t messages_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Unrun> unrun_ ABSL_GUARDED_BY(mu_);
  std::size_t unrun_head_ ABSL_GUARDED_BY(mu_) = 0;
  std::uint64_t hold_through_ ABSL_GUARDED_BY(mu_) = 0;
  bool hold_fixed_ ABSL_GUARDED_BY(mu_) = false;
  // What the next write carries, and what the write in flight carries.
  v1::ServerMessage next_ ABSL_GUARDED_BY(mu_);
  v1::ServerMessage writing_ ABSL_GUARDED_BY(mu_);
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  // Back-pressure: the bytes of next_'s answers and notices measured so
  // far (by MeasureLocked()), how many of each that covers, and whether
  // reading is paused.
  std::size_t unread_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int measured_responses_ ABSL_GUARDED_BY(mu_) = 0;
  int measured_notices_ ABSL_GUARDED_BY(mu_) = 0;
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  // Set by EndUnreadLocked(): the Locked in scope cancels the call after
  // releasing mu_; until it has, nothing ends the stream.
  Reactor* cancel_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool cancelling_ ABSL_GUARDED_BY(mu_) = false;
  // Set by PumpLocked() when writing_ is to be written: the Locked in scope
  // starts the write after releasing mu_ (or, inside Dispatch()'s turns,
  // after them: writes_after_turns). Until WriteDone(), writing_ and
  // the reactor are left alone (no Finish while a write is in flight).
  Reactor* start_write_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool shards_ended_ ABSL_GUARDED_BY(mu_) = false;
  std::size_t ends_outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<grpc::Status> finish_status_ ABSL_GUARDED_BY(mu_);
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
  bool counted_ ABSL_GUARDED_BY(mu_) = false;
  std::string close_reason_ ABSL_GUARDED_BY(mu_);
  // A normal end (the client closed or cancelled): logged at debug.
  bool closed_by_client_ ABSL_GUARDED_BY(mu_) = false;
};

inline void ShardSession::AddQueuedWait() {
  if (queued_waits_++ == 0) keep_alive_ = state_->shared_from_this();
}

inline void ShardSession::RemoveQueuedWait() {
  if (--queued_waits_ > 0) return;
  // Destroyed after this object's last use.
  const std::shared_ptr<SessionState> last = std::move(keep_alive_);
}

}  // namespace baton::service

#endif  // BATON_SERVER_SERVICE_SESSION_STATE_H_

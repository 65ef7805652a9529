// Copyright 2026 The Baton Authors.
//
// SessionService implements baton.v1.Baton/Session, the bidirectional stream
// that carries every operation of a client session (proto/baton/v1/
// session.proto is the contract; this file says how it is kept).
//
// Shape:
//   - One reactor per stream, on one of gRPC's two server APIs (AddTo()):
//     - the callback API (the default): the thread that read a message
//       often runs its reaction, with no hand-off; the cheapest per message
//       with up to a few thousand sessions.
//     - the completion-queue API with N queues and a thread polling each
//       (--completion_queues=N; Start(), StopQueues()). With the epoll1
//       poller every callback server shares one completion queue, and
//       Debian's libgrpc, built without NDEBUG, checks each completion
//       against the list of every operation outstanding on its queue (a
//       linear scan under the queue's mutex, cq_check_tag). Every session
//       keeps a read and a done-notice outstanding, so the scan grows with
//       the sessions: 28 % of batond's CPU at 10,000. N queues make it N
//       times shorter, at the price of a hand-off to the queue's thread per
//       completion (bench/RESULTS.md has both).
//     Either way, a reactor's reactions only check
//     requests and post them, batched per shard, to the shards that own the
//     instances (Node::RunOn); they never run a primitive and never block.
//   - On a shard, a session is a core::Session (holds and waits there) plus
//     the waits it has pending there, by request id, for Cancel. A request
//     either answers at once (release, read, notify, ...) or starts a
//     coroutine that awaits the primitive (acquire, waits) and answers when
//     it resumes. Answers produced in one turn of a shard's loop go out
//     together (see ShardSession::Answer), and a stream has one write in
//     flight at a time, with everything decided meanwhile in the next one:
//     that is the server side of batching.
//   - The session ends once, whatever ends it (half-close, client cancel,
//     lease expiry, drain, a protocol violation, a broken write): End() is
//     posted to every shard, which cancels the session's waits and releases
//     its holds in one step, handing each to the next waiter.
//
// Threading: gRPC's threads (or the queues' threads) run the reactions, one
// at a time per stream; shards answer from theirs. A session's shared state
// (pending ids, the outgoing message, its phase) is guarded by one mutex per
// session; the per-shard part of a session is touched only by that shard's
// thread. The service-wide set of live sessions (drain, limits) has its own
// mutex.

#ifndef BATON_SERVER_SERVICE_SESSION_SERVICE_H_
#define BATON_SERVER_SERVICE_SESSION_SERVICE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "baton/v1/session.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "server/auth/access.h"
#include "server/log/log.h"
#include "server/service/node.h"

namespace baton::service {

class SessionState;

class SessionService final {
 public:
  struct Options {
    // Sessions open at once; one more is refused RESOURCE_EXHAUSTED.
    std::size_t max_sessions = 10'000;
    // Requests of one session not yet answered.
    std::uint32_t max_pending_requests = 100'000;
    // Waits (acquire, rate_acquire, condition_wait, latch_wait, wait_all)
    // of one session not yet answered.
    std::uint32_t max_waits_per_session = 50'000;
    // Requests in one ClientMessage.
    std::uint32_t max_requests_per_message = 1'000;
    // Bytes of an owner key, a condition key or a latch key.
    std::uint32_t max_key_bytes = 256;
    // Leases: the default when the client asks none, and the bounds a wish
    // is clamped to.
    absl::Duration default_lease = absl::Seconds(30);
    absl::Duration min_lease = absl::Seconds(1);
    absl::Duration max_lease = absl::Hours(1);
    // Back-pressure for a client that does not read its answers: while a
    // write to it is in flight and more than this many bytes of answers and
    // notices wait behind it, its stream is not read (HTTP/2 flow control
    // then stops its sends), until the write completes. When the lease runs
    // out while it is not read, or past a hard bound of 4 times this (at
    // least 64 MiB: the answers of requests read before the pause still
    // come), the session ends RESOURCE_EXHAUSTED, what it held is released,
    // and the call is cancelled.
    std::size_t max_unread_bytes = 1 << 20;
    // Told to clients in SessionOpened.
    std::uint64_t server_epoch = 0;
    std::string server_version = "0.1.0";
    // One line per session opened and closed (server/log: info, or debug
    // when the client ended it normally) and per rejected request (warn, at
    // most `rejections_logged_per_second` across the server).
    bool log = true;
    double rejections_logged_per_second = 10;
    // --auth_file: every session authenticates at its start (its stream
    // ends UNAUTHENTICATED otherwise), each request needs the `use` role on
    // its name's namespace, and counts against that namespace's quotas
    // (sessions, waiters, requests_per_second). nullptr or disabled: none.
    // Must outlive the service.
    auth::Access* access = nullptr;
  };

  // `node` must outlive the service and be started.
  SessionService(Node* node, runtime::Clock* clock, Options options);
  // Calls StopQueues(): with the queues on, the server must be shut down
  // first.
  ~SessionService();

  // AddTo() registers the service with `builder`: on the callback API when
  // `queues` is 0, else on the completion-queue API with `queues` queues.
  // Once.
  void AddTo(grpc::ServerBuilder* builder, std::size_t queues);
  // Start() starts a thread polling each queue (if any), once the server is
  // built and started.
  void Start();
  // StopQueues() ends the queues' threads (if any). Only after the server's
  // Shutdown(): it waits for every stream to be done (and every request for
  // one to fail), then shuts the queues down and drains them.
  void StopQueues();

  // StartDrain() begins a drain: every live session is sent a Draining
  // notice with `grace`; from now on new sessions are refused UNAVAILABLE
  // and new requests answered UNAVAILABLE (cancels still work). Pending
  // waits go on. Any thread.
  void StartDrain(absl::Duration grace);

  // WaitForNoSessions() blocks until no session is live or `deadline`
  // passes; true when none is. Any thread.
  bool WaitForNoSessions(absl::Time deadline);

  // EndAll() ends every live session with `status` (the stream ends with
  // it; holds are released, waits cancelled). Any thread.
  void EndAll(const absl::Status& status);

  std::size_t live_sessions() const;

  // ClientName() is the client name a live session opened with ("" when no
  // such session is open). Any thread.
  std::string ClientName(std::uint64_t session_id) const;

  const Options& options() const { return options_; }

  // One stream (session_service.cc).
  class Reactor;

 private:
  class QueueReactor;
  friend class Reactor;
  friend class SessionState;

  // Admit() registers a new session; RESOURCE_EXHAUSTED or UNAVAILABLE when
  // it may not open.
  absl::Status Admit(Reactor* reactor);
  void Forget(Reactor* reactor);
  // Poll() runs one queue: accepts streams on it and runs their reactions.
  void Poll(grpc::ServerCompletionQueue* queue);

  // ResumeAt() has the throttle thread call `session`'s OnThrottleTimer()
  // at `at` (if it still exists).
  void ResumeAt(absl::Time at, std::weak_ptr<SessionState> session);
  void RunThrottle();
  bool ThrottleDue() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(throttle_mu_);

  Node* const node_;
  runtime::Clock* const clock_;
  const Options options_;
  // Sessions paused by a requests_per_second quota, by the time their
  // reading resumes; the thread starts with the first.
  mutable absl::Mutex throttle_mu_;
  std::multimap<absl::Time, std::weak_ptr<SessionState>> throttled_ ABSL_GUARDED_BY(throttle_mu_);
  bool throttle_stop_ ABSL_GUARDED_BY(throttle_mu_) = false;
  std::thread throttle_thread_ ABSL_GUARDED_BY(throttle_mu_);
  std::unique_ptr<v1::Baton::CallbackService> callback_;
  v1::Baton::AsyncService async_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues_;
  std::vector<std::thread> threads_;
  // QueueReactors alive: waiting for a stream, or serving one.
  std::atomic<std::size_t> queue_reactors_{0};
  std::atomic<std::uint64_t> next_session_id_{1};
  // Sessions counted against max_sessions.
  std::atomic<std::size_t> open_sessions_{0};

  // Rejected requests are logged at a bounded rate.
  log::RateLimiter rejection_log_;

  mutable absl::Mutex mu_;
  absl::CondVar no_sessions_;
  absl::flat_hash_set<Reactor*> live_ ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  absl::Duration grace_ ABSL_GUARDED_BY(mu_);

  // The client names of the open sessions, for Admin.Describe.
  mutable absl::Mutex names_mu_;
  absl::flat_hash_map<std::uint64_t, std::string> client_names_ ABSL_GUARDED_BY(names_mu_);

  // Per shard, the sessions present there by id (to route revocation
  // notices). Entry i is touched only by shard i's thread. Shared with the
  // registries' revocation callbacks, which may outlive the service.
  struct ShardTable;
  std::vector<std::shared_ptr<ShardTable>> tables_;
};

// DeferSessionWrites: while one lives on a thread, the session writes
// decided there (by shard turns the thread runs itself, see
// runtime::EventLoop::DeferWakes::Owed::kRunHere) are started at its end,
// not inside the turns: a write may send on the socket, and a shard whose
// turn is held that long makes the other threads leave their work to it.
// Declare it before the DeferWakes whose turns it covers. Nests (the
// outermost starts them); stack only.
class DeferSessionWrites {
 public:
  // The writes to start; room for a few without an allocation.
  using Writes =
      absl::InlinedVector<std::pair<SessionService::Reactor*, const v1::ServerMessage*>, 4>;

  DeferSessionWrites();
  DeferSessionWrites(const DeferSessionWrites&) = delete;
  DeferSessionWrites& operator=(const DeferSessionWrites&) = delete;
  ~DeferSessionWrites();

 private:
  const bool outer_;
  Writes writes_;
};

// LocalStream is one Session stream with no gRPC call under it, for tests
// and the fuzzers (tests/fuzz): the client's messages go in by Send(), and
// what the server writes comes out in written(). The session is the real
// one (SessionState, the shards' code); only the transport is replaced.
//
// Threading: for a Node that is not started, driven by Node::RunUntilIdle()
// on one thread: the LocalStream is used from that thread only, and the
// server's writes and its end happen inside these calls or inside
// RunUntilIdle(). A write stays in flight until CompleteWrite() (the
// client read it), as on the wire: the back-pressure rules apply.
class LocalStream {
 public:
  // Opens the stream (admitted as a session, or ended at once: status()).
  LocalStream(SessionService* service, std::string peer);
  LocalStream(const LocalStream&) = delete;
  LocalStream& operator=(const LocalStream&) = delete;
  // A stream not ended yet is cancelled, as by a client gone away.
  ~LocalStream();

  // Send() delivers `message` as a read that completes; false when the
  // server is not reading (it paused reading, or the stream is over): the
  // message is not delivered.
  bool Send(v1::ClientMessage message);
  // HalfClose() is the client's half-close: delivered now, or when the
  // server reads again.
  void HalfClose();
  // CompleteWrite() completes the write in flight (the client read it);
  // false when none is.
  bool CompleteWrite();

  // Every ServerMessage written, in order.
  const std::vector<v1::ServerMessage>& written() const;
  // The status the server ended the stream with; nullopt until then.
  const std::optional<grpc::Status>& status() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace baton::service

#endif  // BATON_SERVER_SERVICE_SESSION_SERVICE_H_

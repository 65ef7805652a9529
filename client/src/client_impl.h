// Copyright 2026 The Baton Authors.
//
// The insides of baton::Client (client/include/baton/client.h). Not an API.
//
// Shape:
//   - ClientImpl is the client: its options, its dispatcher, and the nodes
//     it talks to. Alone (a batond that answers Admin.Cluster with no
//     members) it has one NodeSession, `home_`, and every call goes there.
//     In a cluster it keeps the member list (client/src/routing.h) and one
//     NodeSession per node, opened on first use: each call goes to the
//     owner of its name; an answer that redirects or says UNAVAILABLE comes
//     back to the ClientImpl, which sends it on (Refused()).
//   - A NodeSession owns the channel to one node, its current session
//     stream (a SessionStream, gRPC callback API), the pending calls by
//     request id, the requests waiting for the write in flight, and the
//     holds it granted.
//   - A Call is one request and its answer. It is sent on a stream (or, for
//     Declare, as an Admin unary call) and completed once: its coroutine is
//     resumed, or its blocked Wait() woken, through the dispatcher.
//   - The Dispatcher is one thread per client that runs continuations and
//     callbacks (unless ClientOptions::executor is set); the ticker, another,
//     sends heartbeats, refreshes the member list and resends calls after
//     their backoff.
//   - A session that ends fails every pending call of its node UNAVAILABLE
//     and marks every hold of it lost; the next call to that node opens a
//     new session, with backoff after failed attempts. The other nodes'
//     sessions are untouched.
//
// Locking: ClientImpl::mu_ guards the member list, the nodes and the calls
// waiting to be resent; NodeSession::mu_ guards one node's session, pending
// calls, queue and holds; a Call's own mutex guards its completion; a
// HoldState's mutex its state. Order: ClientImpl::mu_, then NodeSession::mu_,
// then Call::mu / HoldState::mu. No user code runs under any of them.

#ifndef BATON_CLIENT_SRC_CLIENT_IMPL_H_
#define BATON_CLIENT_SRC_CLIENT_IMPL_H_

#include <atomic>
#include <condition_variable>
#include <coroutine>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "baton/client.h"
#include "baton/v1/admin.grpc.pb.h"
#include "baton/v1/session.grpc.pb.h"
#include "client/src/routing.h"
#include "grpcpp/grpcpp.h"

namespace baton::internal {

class NodeSession;
class SessionStream;

// A status of the wire (baton.v1.Status, a gRPC status) as an absl::Status.
absl::Status FromProto(const v1::Status& status);
absl::Status FromGrpc(const grpc::Status& status);

// Conversions of google.protobuf.Duration (saturating).
void SetDuration(absl::Duration d, google::protobuf::Duration* out);
absl::Duration ToDuration(const google::protobuf::Duration& d);

// Dispatcher: one thread that runs posted functions in order, functions
// posted for later when they are due, and `tick` every `tick_period`
// (between them). Its state is shared with its thread, so that it may be
// stopped from that very thread (a continuation that destroys the Client):
// the thread is then detached, finishes what is queued, and ends.
class Dispatcher {
 public:
  Dispatcher();
  ~Dispatcher() { Stop(); }
  void Post(absl::AnyInvocable<void()> fn);
  // PostAfter() runs `fn` after `delay`, unless the dispatcher stops first
  // (then `fn` is destroyed without running).
  void PostAfter(absl::Duration delay, absl::AnyInvocable<void()> fn);
  void SetTick(absl::Duration period, std::function<void()> tick);
  // Stop() drops the tick and what is posted for later, runs what is queued
  // and ends the thread: joins it, or detaches it when called on it.
  // Idempotent.
  void Stop();
  bool InDispatcherThread() const { return std::this_thread::get_id() == thread_id_; }

 private:
  struct State {
    absl::Mutex mu;
    std::deque<absl::AnyInvocable<void()>> queue ABSL_GUARDED_BY(mu);
    std::multimap<absl::Time, absl::AnyInvocable<void()>> later ABSL_GUARDED_BY(mu);
    bool stop ABSL_GUARDED_BY(mu) = false;
    absl::Duration tick_period ABSL_GUARDED_BY(mu) = absl::InfiniteDuration();
    std::function<void()> tick ABSL_GUARDED_BY(mu);
  };
  static void Run(std::shared_ptr<State> state);

  std::shared_ptr<State> state_;
  std::thread thread_;
  std::thread::id thread_id_;
};

// HoldState is the shared record behind a Hold.
struct HoldState {
  enum class State { kHeld, kReleased, kDetached, kLost };

  std::weak_ptr<ClientImpl> client;
  // The node whose session granted it (alive as long as the client is).
  NodeSession* node = nullptr;
  std::string name;
  int kind = 0;
  std::string owner_key;
  std::uint64_t generation = 0;  // the session of `node` it belongs to

  absl::Mutex mu;
  State state ABSL_GUARDED_BY(mu) = State::kHeld;
  std::uint64_t fence ABSL_GUARDED_BY(mu) = 0;
  absl::Status lost_reason ABSL_GUARDED_BY(mu);
  std::vector<absl::AnyInvocable<void(const absl::Status&)>> on_lost ABSL_GUARDED_BY(mu);
  std::vector<std::coroutine_handle<>> lost_waiters ABSL_GUARDED_BY(mu);

  // MarkLost() moves a held hold to lost and appends to `notify` what must
  // run now (its callbacks, its waiters): the caller runs them (through
  // ClientImpl::Run) after letting go of its locks.
  void MarkLost(const absl::Status& reason, std::vector<absl::AnyInvocable<void()>>* notify);
};

// Call is one request in flight and its answer.
class Call {
 public:
  enum class Flavor {
    kPlain,  // answer as is
    kHold,   // an acquire: an OK answer makes a hold
    kConditionWait,  // refreshes the condition hold's fence
  };

  ClientImpl* client = nullptr;
  v1::Request request;
  Flavor flavor = Flavor::kPlain;
  std::stop_token stop;
  // A release of a hold: the node and the session it must go on (0: any).
  // Dropped, as done, when that session has ended.
  NodeSession* pinned = nullptr;
  std::uint64_t generation = 0;
  // Set for calls that are not on the stream (Declare): sends it itself and
  // ends with Complete().
  absl::AnyInvocable<void(std::shared_ptr<Call>)> send_override;
  // A wait's timeout field in `request` (null for other requests) and the
  // timeout it was given; in a cluster, a resent wait gets what is left.
  google::protobuf::Duration* (*timeout_field)(v1::Request&) = nullptr;
  absl::Duration timeout = absl::InfiniteDuration();

  // Routing in a cluster (ClientImpl::Refused): when it was first sent,
  // until when it may be sent again, redirects followed, retries made.
  absl::Time first_sent = absl::InfinitePast();
  absl::Time retry_until = absl::InfinitePast();
  int redirects = 0;
  int retries = 0;

  // The outcome: `status` (transport, protocol or the answer's status) and
  // the answer itself.
  absl::Status status;
  v1::Response response;
  std::shared_ptr<HoldState> hold;  // kHold, when granted

  // Completion.
  absl::Mutex mu;
  bool done ABSL_GUARDED_BY(mu) = false;
  bool cancel_sent ABSL_GUARDED_BY(mu) = false;
  // The node it was last sent to, for a cancel.
  NodeSession* node ABSL_GUARDED_BY(mu) = nullptr;
  std::coroutine_handle<> continuation ABSL_GUARDED_BY(mu);
  absl::CondVar cv;
  std::optional<std::stop_callback<std::function<void()>>> stop_callback;

  // Movable() is true for a request that may go to another node than the
  // one that answered: routed by its name, not bound to one session.
  bool Movable() const {
    return pinned == nullptr && flavor != Flavor::kConditionWait && !request.has_cancel();
  }
  // Undone() is true for a Movable() request whose every effect ends with
  // the session it was sent on (an acquire: the end of a session releases
  // what it was granted), or that has none (a read, a latch's wait): when
  // that session ends before the answer, it may be sent again elsewhere.
  bool Undone() const {
    return Movable() && (request.has_acquire() || request.has_read() ||
                         request.has_latch_wait() || request.has_wait_all());
  }
};

// NodeSession is the client's session with one batond node: its channel,
// its Session stream (one at a time, opened on first use and again after
// it ends), the calls pending on it and the holds it granted. Called from
// any thread; its SessionStream's reactions come on gRPC threads.
class NodeSession {
 public:
  NodeSession(ClientImpl* client, std::string address,
              const std::shared_ptr<grpc::ChannelCredentials>& credentials,
              const grpc::ChannelArguments& args);

  const std::string& address() const { return address_; }
  v1::Admin::Stub& admin() { return *admin_; }

  // Open() connects and opens a session, waiting up to `deadline`.
  absl::Status Open(absl::Time deadline);
  // Shutdown() ends the session for good and waits for its streams' end.
  void Shutdown();
  // End() ends the current session, if any (its holds are lost); the next
  // call opens another.
  void End();

  // Send() sends `call` on the session (opening one if needed) and returns
  // true; or returns false with `*refused` the call's outcome, unsent (the
  // session is backing off after failed attempts, the client shuts down, a
  // release whose session ended).
  bool Send(const std::shared_ptr<Call>& call, absl::Status* refused);
  void SendCancel(const std::shared_ptr<Call>& call);
  void Heartbeat();

  std::uint64_t session_id() const;
  std::uint64_t server_epoch() const;
  bool connected() const;

  // --- Called by SessionStream (gRPC threads). ---
  void OnOpened(SessionStream* stream, const v1::SessionOpened& opened);
  void OnServerMessage(SessionStream* stream, v1::ServerMessage& message);
  void OnWriteDone(SessionStream* stream, bool ok);
  void OnStreamEnding(SessionStream* stream);
  void OnStreamDone(SessionStream* stream, const grpc::Status& status);

 private:
  // EnsureSessionLocked() starts a session if none is open or opening.
  void EnsureSessionLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EnqueueLocked(const std::shared_ptr<Call>& call) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendCancelLocked(const std::shared_ptr<Call>& call) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Answer() completes the pending call `response` answers (or hands it
  // back to the client to be sent elsewhere).
  void Answer(v1::Response& response, std::uint64_t generation);
  void Revoke(const v1::HoldRevoked& revoked);

  ClientImpl* const client_;
  const std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Baton::Stub> stub_;
  std::unique_ptr<v1::Admin::Stub> admin_;

  mutable absl::Mutex mu_;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  SessionStream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;  // open or opening
  // Streams whose OnDone has not finished: Shutdown() waits for none.
  int streams_alive_ ABSL_GUARDED_BY(mu_) = 0;
  // The stream's reads ended: no more writes on it (OnDone follows).
  bool stream_ending_ ABSL_GUARDED_BY(mu_) = false;
  // From SessionOpened.limits.
  int max_requests_per_message_ ABSL_GUARDED_BY(mu_) = 0;
  // Reconnection backoff after failed attempts.
  int failed_attempts_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time next_attempt_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool stream_open_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status last_failure_ ABSL_GUARDED_BY(mu_);
  std::uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  std::uint64_t session_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::uint64_t server_epoch_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Duration lease_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  // Calls sent and not answered, by request id.
  std::map<std::uint64_t, std::shared_ptr<Call>> pending_ ABSL_GUARDED_BY(mu_);
  std::uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  // Requests waiting for the write in flight, and it.
  std::vector<v1::Request> queued_ ABSL_GUARDED_BY(mu_);
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool heartbeat_due_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_write_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  v1::ClientMessage writing_ ABSL_GUARDED_BY(mu_);
  // The holds granted in the current session.
  std::vector<std::weak_ptr<HoldState>> holds_ ABSL_GUARDED_BY(mu_);
};

class ClientImpl : public std::enable_shared_from_this<ClientImpl> {
 public:
  // `credentials` and `args` are the channels' (ChannelCredentials()); the
  // transport settings are added to `args`.
  ClientImpl(ClientOptions options, std::shared_ptr<grpc::ChannelCredentials> credentials,
             grpc::ChannelArguments args);
  ~ClientImpl();

  // Open() opens the first session, with the node at options.address,
  // waiting for it up to connect_timeout, and asks it for the cluster's
  // members.
  absl::Status Open();
  // Shutdown() ends every session and stops the dispatcher; idempotent.
  void Shutdown();

  const ClientOptions& options() const { return options_; }
  std::shared_ptr<Call> NewCall(const std::string& name, int kind,
                                const std::optional<std::string>& owner_key,
                                const CallOptions& call_options);

  // Start() sends `call`; `continuation` (may be null: Wait()) resumes when
  // it is answered.
  void Start(std::shared_ptr<Call> call, std::coroutine_handle<> continuation);
  // Complete() records the end of `call` and resumes whoever waits.
  void Complete(const std::shared_ptr<Call>& call, absl::Status status);
  // Run() runs `fn` where continuations run (executor or dispatcher).
  void Run(absl::AnyInvocable<void()> fn);
  bool InDispatcherThread() const { return dispatcher_.InDispatcherThread(); }

  // Releases a hold: the call of its release, on the hold's session.
  std::shared_ptr<Call> ReleaseCall(const HoldState& hold);
  void FireAndForget(std::shared_ptr<Call> call);

  // AdminFor() is the Admin stub of the node that owns `name` (the node at
  // options.address when alone).
  v1::Admin::Stub& AdminFor(const std::string& name);
  // The session with the node at options.address.
  std::uint64_t session_id() const { return home_->session_id(); }
  std::uint64_t server_epoch() const { return home_->server_epoch(); }
  bool connected() const { return home_->connected(); }
  // clustered() is true once a node answered a member list.
  bool clustered() const { return clustered_.load(std::memory_order_acquire); }
  // members() is the member list as the client knows it now.
  Membership members() const;

  // Unary calls (Declare, Cluster) in flight: Shutdown() waits for them.
  void BeginUnary();
  void EndUnary();

  // --- Called by NodeSession. ---
  // Refused() takes back a Movable() call that `node` answered with a
  // redirect or UNAVAILABLE, or could not send, and sends it on, or
  // completes it with `status`.
  void Refused(std::shared_ptr<Call> call, const v1::Status& status);
  // Unsent() takes back, in a cluster, a Movable() call whose session ended
  // before it was sent, or an Undone() one whose session ended before its
  // answer: the node may have gone; the call goes to the name's owner.
  void Unsent(std::shared_ptr<Call> call, absl::Status status);
  // SessionEnded() hears that a session with a node ended.
  void SessionEnded(NodeSession* node, bool was_open);

 private:
  // Route() is the node `call` goes to: its name's owner in a cluster.
  NodeSession* Route(const Call& call);
  // NodeLocked() is the session of node `node_id` at `address`, made on
  // first use.
  NodeSession* NodeLocked(const std::string& node_id, const std::string& address)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // SendTo() sends `call` (again) to `node`, with what is left of its
  // timeout.
  void SendTo(std::shared_ptr<Call> call, NodeSession* node);
  // RetryLater() sends `call` again after a backoff, or completes it with
  // `status` when its time to retry has run out.
  void RetryLater(std::shared_ptr<Call> call, absl::Status status);
  // RefreshMembers() asks a node for the member list, unless it was asked
  // less than kMinRefreshInterval ago or a question is in flight.
  void RefreshMembers();
  void AskMembers(std::vector<NodeSession*> candidates, std::size_t next);
  void ApplyMembers(const v1::ClusterResponse& response);
  void Tick();

  const ClientOptions options_;
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  grpc::ChannelArguments args_;  // constant after construction
  Dispatcher dispatcher_;        // continuations and callbacks
  Dispatcher ticker_;            // heartbeats, member list, resends; never delayed by user code
  // The node at options.address: alone, the only one. Constant after
  // construction; owned by nodes_.
  NodeSession* home_ = nullptr;
  std::atomic<bool> clustered_{false};

  mutable absl::Mutex mu_;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  // Every node session ever made, never freed before the client: holds and
  // calls point at them.
  std::vector<std::unique_ptr<NodeSession>> nodes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, NodeSession*> by_id_ ABSL_GUARDED_BY(mu_);
  Membership members_ ABSL_GUARDED_BY(mu_);
  std::string home_id_ ABSL_GUARDED_BY(mu_);
  bool refresh_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_refresh_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // Calls waiting for their backoff to end before they are sent again.
  std::map<Call*, std::shared_ptr<Call>> retrying_ ABSL_GUARDED_BY(mu_);
  int unary_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace baton::internal

#endif  // BATON_CLIENT_SRC_CLIENT_IMPL_H_

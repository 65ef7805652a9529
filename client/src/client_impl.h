// Copyright 2026 The Baton Authors.
//
// The insides of baton::Client (client/include/baton/client.h). Not an API.
//
// Shape:
//   - ClientImpl owns the channel, the current session stream (a
//     SessionStream, gRPC callback API), the pending calls by request id, the
//     requests waiting for the write in flight, and the holds it granted.
//   - A Call is one request and its answer. It is sent on the stream (or, for
//     Declare, as an Admin unary call) and completed once: its coroutine is
//     resumed, or its blocked Wait() woken, through the dispatcher.
//   - The Dispatcher is one thread per client that runs continuations and
//     callbacks (unless ClientOptions::executor is set) and sends the
//     heartbeat.
//   - A session that ends fails every pending call UNAVAILABLE and marks
//     every hold of it lost; the next call opens a new session, with backoff
//     after failed attempts.
//
// Locking: ClientImpl::mu_ guards the session, the pending calls, the queue
// and the holds registry; a Call's own mutex guards its completion; a
// HoldState's mutex its state. Order: ClientImpl::mu_, then Call::mu /
// HoldState::mu. No user code runs under any of them.

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
#include "grpcpp/grpcpp.h"

namespace baton::internal {

class SessionStream;

// Conversions of google.protobuf.Duration (saturating).
void SetDuration(absl::Duration d, google::protobuf::Duration* out);
absl::Duration ToDuration(const google::protobuf::Duration& d);

// Dispatcher: one thread that runs posted functions in order, and calls
// `tick` every `tick_period` (between them). Its state is shared with its
// thread, so that it may be stopped from that very thread (a continuation
// that destroys the Client): the thread is then detached, finishes what is
// queued, and ends.
class Dispatcher {
 public:
  Dispatcher();
  ~Dispatcher() { Stop(); }
  void Post(absl::AnyInvocable<void()> fn);
  void SetTick(absl::Duration period, std::function<void()> tick);
  // Stop() drops the tick, runs what is queued and ends the thread: joins it,
  // or detaches it when called on it. Idempotent.
  void Stop();
  bool InDispatcherThread() const { return std::this_thread::get_id() == thread_id_; }

 private:
  struct State {
    absl::Mutex mu;
    std::deque<absl::AnyInvocable<void()>> queue ABSL_GUARDED_BY(mu);
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
  std::string name;
  int kind = 0;
  std::string owner_key;
  std::uint64_t generation = 0;  // the session it belongs to

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
  // A release of a hold: the session it must go on (0: any). Dropped, as
  // done, when that session has ended.
  std::uint64_t generation = 0;
  // Set for calls that are not on the stream (Declare): sends it itself and
  // ends with Complete().
  absl::AnyInvocable<void(std::shared_ptr<Call>)> send_override;

  // The outcome: `status` (transport, protocol or the answer's status) and
  // the answer itself.
  absl::Status status;
  v1::Response response;
  std::shared_ptr<HoldState> hold;  // kHold, when granted

  // Completion.
  absl::Mutex mu;
  bool done ABSL_GUARDED_BY(mu) = false;
  bool cancel_sent ABSL_GUARDED_BY(mu) = false;
  std::coroutine_handle<> continuation ABSL_GUARDED_BY(mu);
  absl::CondVar cv;
  std::optional<std::stop_callback<std::function<void()>>> stop_callback;
};

class ClientImpl : public std::enable_shared_from_this<ClientImpl> {
 public:
  // `credentials` and `args` are the channel's (ChannelCredentials()); the
  // transport settings are added to `args`.
  ClientImpl(ClientOptions options, std::shared_ptr<grpc::ChannelCredentials> credentials,
             grpc::ChannelArguments args);
  ~ClientImpl();

  // Open() opens the first session, waiting for it up to connect_timeout.
  absl::Status Open();
  // Shutdown() ends the session and stops the dispatcher; idempotent.
  void Shutdown();

  const ClientOptions& options() const { return options_; }
  std::shared_ptr<Call> NewCall(const std::string& name, int kind,
                                const std::optional<std::string>& owner_key,
                                const CallOptions& call_options);

  // Start() sends `call`; `continuation` (may be null: Wait()) resumes when
  // it is answered. Returns false, without sending, when the call cannot
  // wait here (Wait() on the dispatcher thread): it is then completed.
  void Start(std::shared_ptr<Call> call, std::coroutine_handle<> continuation);
  // Complete() records the end of `call` and resumes whoever waits.
  void Complete(const std::shared_ptr<Call>& call, absl::Status status);
  // Run() runs `fn` where continuations run (executor or dispatcher).
  void Run(absl::AnyInvocable<void()> fn);
  bool InDispatcherThread() const { return dispatcher_.InDispatcherThread(); }

  // Releases a hold: the call of its release, with no one waiting when
  // `wait` is false.
  std::shared_ptr<Call> ReleaseCall(const HoldState& hold);
  void FireAndForget(std::shared_ptr<Call> call);

  v1::Admin::Stub& admin() { return *admin_; }
  std::uint64_t session_id() const;
  std::uint64_t server_epoch() const;
  bool connected() const;

  // --- Called by SessionStream (gRPC threads). ---
  void OnOpened(SessionStream* stream, const v1::SessionOpened& opened);
  void OnServerMessage(SessionStream* stream, v1::ServerMessage& message);
  void OnWriteDone(SessionStream* stream, bool ok);
  void OnStreamEnding(SessionStream* stream);
  void OnStreamDone(SessionStream* stream, const grpc::Status& status);
  // Unary calls (Declare) in flight: Shutdown() waits for them.
  void BeginUnary();
  void EndUnary();

 private:
  // EnsureSessionLocked() starts a session if none is open or opening.
  void EnsureSessionLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PumpLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendCancelLocked(const std::shared_ptr<Call>& call) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Heartbeat();
  // Answer() completes the pending call `response` answers.
  void Answer(v1::Response& response, std::uint64_t generation);
  void Revoke(const v1::HoldRevoked& revoked);

  const ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Baton::Stub> stub_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  Dispatcher dispatcher_;  // continuations and callbacks
  Dispatcher ticker_;      // heartbeats, never delayed by user code

  mutable absl::Mutex mu_;
  absl::CondVar opened_cv_;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
  SessionStream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;  // open or opening
  // Streams whose OnDone has not finished, and unary calls in flight:
  // Shutdown() waits for none of either.
  int streams_alive_ ABSL_GUARDED_BY(mu_) = 0;
  int unary_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
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

}  // namespace baton::internal

#endif  // BATON_CLIENT_SRC_CLIENT_IMPL_H_

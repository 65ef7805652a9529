// Copyright 2026 The Baton Authors.
//
// baton::Client: the session stream, calls, holds, leases. See client_impl.h.

#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/src/channel_credentials.h"
#include "client/src/client_impl.h"
#include "client/src/routing.h"

namespace baton {
namespace internal {

namespace {

absl::Status FromProto(const v1::Status& status) {
  if (status.code() == 0) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.code()), status.message());
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

std::string DefaultOwnerKey() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return absl::StrCat(host, ":", getpid());
}

bool IsSemaphoreKind(int kind) {
  return kind == v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE || kind == v1::KIND_PRIORITY_SEMAPHORE;
}

}  // namespace

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  const std::int64_t nanos = absl::ToInt64Nanoseconds(d);  // saturates
  out->set_seconds(nanos / 1'000'000'000);
  out->set_nanos(static_cast<std::int32_t>(nanos % 1'000'000'000));
}

absl::Duration ToDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

// The largest message the server takes by default is far above this many
// requests; its per-message limit (1,000 by default) is what counts.
constexpr int kMaxRequestsPerMessage = 500;

// ---------------------------------------------------------------------------
// Dispatcher.

Dispatcher::Dispatcher() : state_(std::make_shared<State>()) {
  thread_ = std::thread(&Dispatcher::Run, state_);
  thread_id_ = thread_.get_id();
}

void Dispatcher::Post(absl::AnyInvocable<void()> fn) {
  absl::MutexLock lock(&state_->mu);
  state_->queue.push_back(std::move(fn));
}

void Dispatcher::PostAfter(absl::Duration delay, absl::AnyInvocable<void()> fn) {
  absl::MutexLock lock(&state_->mu);
  state_->later.emplace(absl::Now() + delay, std::move(fn));
  state_->queue.push_back([] {});  // wakes the loop, which then sees the new deadline
}

void Dispatcher::SetTick(absl::Duration period, std::function<void()> tick) {
  absl::MutexLock lock(&state_->mu);
  state_->tick_period = period;
  state_->tick = std::move(tick);
  state_->queue.push_back([] {});  // wakes the loop, which then arms the tick
}

void Dispatcher::Stop() {
  std::multimap<absl::Time, absl::AnyInvocable<void()>> dropped;
  {
    absl::MutexLock lock(&state_->mu);
    state_->stop = true;
    state_->tick = nullptr;
    dropped.swap(state_->later);
  }
  if (!thread_.joinable()) return;
  if (InDispatcherThread()) {
    thread_.detach();  // the thread owns the state; it ends after this item
  } else {
    thread_.join();
  }
}

void Dispatcher::Run(std::shared_ptr<State> state) {
  absl::Time next_tick = absl::InfiniteFuture();
  while (true) {
    absl::AnyInvocable<void()> fn;
    std::function<void()> tick;
    {
      absl::MutexLock lock(&state->mu);
      auto ready = [&state]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu) {
        return state->stop || !state->queue.empty();
      };
      if (next_tick == absl::InfiniteFuture() && state->tick_period != absl::InfiniteDuration()) {
        next_tick = absl::Now() + state->tick_period;
      }
      const absl::Time next_later =
          state->later.empty() ? absl::InfiniteFuture() : state->later.begin()->first;
      state->mu.AwaitWithDeadline(absl::Condition(&ready), std::min(next_tick, next_later));
      if (!state->queue.empty()) {
        fn = std::move(state->queue.front());
        state->queue.pop_front();
      } else if (!state->later.empty() && absl::Now() >= state->later.begin()->first) {
        fn = std::move(state->later.begin()->second);
        state->later.erase(state->later.begin());
      } else if (state->stop) {
        return;
      } else if (absl::Now() >= next_tick) {
        tick = state->tick;  // a copy: Stop() may drop it meanwhile
        next_tick = absl::InfiniteFuture();
      }
    }
    if (fn) fn();
    if (tick) tick();
  }
}

// ---------------------------------------------------------------------------
// SessionStream: one session's stream.

class SessionStream final
    : public grpc::ClientBidiReactor<v1::ClientMessage, v1::ServerMessage> {
 public:
  SessionStream(NodeSession* node, const ClientOptions& options, std::uint64_t generation)
      : client_(node), options_(options), generation_(generation) {}

  std::uint64_t generation() const { return generation_; }
  grpc::ClientContext& context() { return context_; }

  void Begin(v1::Baton::Stub& stub, const v1::ClientMessage* first) {
    AddToken(options_, context_);
    stub.async()->Session(&context_, this);
    // Held until the reads end: until then gRPC keeps this stream, so a
    // StartWrite() that races the end of the call is safe (it fails).
    AddHold();
    StartWrite(first);
    StartRead(&in_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      client_->OnStreamEnding(this);  // no more writes on this stream
      RemoveHold();                   // then OnDone may follow
      return;
    }
    if (in_.has_opened()) client_->OnOpened(this, in_.opened());
    client_->OnServerMessage(this, in_);
    in_.Clear();
    StartRead(&in_);
  }
  void OnWriteDone(bool ok) override { client_->OnWriteDone(this, ok); }
  void OnDone(const grpc::Status& status) override {
    client_->OnStreamDone(this, status);
    delete this;
  }

 private:
  NodeSession* const client_;
  const ClientOptions& options_;
  const std::uint64_t generation_;
  grpc::ClientContext context_;
  v1::ServerMessage in_;
};

// ---------------------------------------------------------------------------
// HoldState.

void HoldState::MarkLost(const absl::Status& reason,
                         std::vector<absl::AnyInvocable<void()>>* notify) {
  absl::MutexLock lock(&mu);
  if (state != State::kHeld) return;
  state = State::kLost;
  lost_reason = reason;
  for (auto& callback : on_lost) {
    notify->push_back([callback = std::move(callback), reason]() mutable { callback(reason); });
  }
  on_lost.clear();
  for (std::coroutine_handle<> waiter : lost_waiters) {
    notify->push_back([waiter] { waiter.resume(); });
  }
  lost_waiters.clear();
}

// ---------------------------------------------------------------------------
// gRPC's callback queue.

// PinCallbackQueue() works around a gRPC 1.51 defect, once per process.
// Where gRPC's I/O does not run in the background (this build), callback
// calls of every channel share one process-wide completion queue, served by
// "nexting" threads and reference-counted by the channels that used it.
// When the last such channel goes, the queue is shut down while those
// threads may still poll it, and the process aborts ("prior > 0" in
// grpc_cq_internal_unref): a program that destroys its last Client and
// creates another (every test suite) hits it. A channel that made one
// callback call and is never destroyed keeps the queue alive for the life
// of the process; it points nowhere and costs one idle channel.
void* g_pinned_callback_channel = nullptr;

void PinCallbackQueue() {
  struct Pin {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<v1::Admin::Stub> stub;
    grpc::ClientContext context;
    v1::ListRequest request;
    v1::ListResponse response;
  };
  // Never freed, by design; kept in a global with external linkage, which
  // leak checkers scan as a root: neither it nor what gRPC hangs on it is
  // reported.
  static Pin* const pin = [] {
    auto* p = new Pin;
    g_pinned_callback_channel = p;
    p->channel = grpc::CreateChannel("unix:/nonexistent/baton-pin",
                                     grpc::InsecureChannelCredentials());
    p->stub = v1::Admin::NewStub(p->channel);
    p->context.set_deadline(std::chrono::system_clock::now());
    p->stub->async()->List(&p->context, &p->request, &p->response, [](grpc::Status) {});
    return p;
  }();
  static_cast<void>(pin);
}

// ---------------------------------------------------------------------------
// NodeSession.

NodeSession::NodeSession(ClientImpl* client, std::string address,
                         const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                         const grpc::ChannelArguments& args)
    : client_(client), address_(std::move(address)) {
  channel_ = grpc::CreateCustomChannel(address_, credentials, args);
  stub_ = v1::Baton::NewStub(channel_);
  admin_ = v1::Admin::NewStub(channel_);
}

absl::Status NodeSession::Open(absl::Time deadline) {
  const absl::Duration timeout = client_->options().connect_timeout;
  if (!channel_->WaitForConnected(absl::ToChronoTime(deadline))) {
    return absl::UnavailableError(absl::StrCat("cannot reach batond at ", address_, " within ",
                                               absl::FormatDuration(timeout)));
  }
  absl::MutexLock lock(&mu_);
  EnsureSessionLocked();
  const std::uint64_t generation = generation_;
  auto settled = [this, generation]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stream_open_ || generation_ != generation || stream_ == nullptr;
  };
  if (!mu_.AwaitWithDeadline(absl::Condition(&settled), deadline)) {
    return absl::UnavailableError(absl::StrCat(
        "batond at ", address_, " did not open a session within ", absl::FormatDuration(timeout)));
  }
  if (!stream_open_) {
    return absl::UnavailableError(
        absl::StrCat("batond at ", address_, " refused the session: ", last_failure_.ToString()));
  }
  return absl::OkStatus();
}

void NodeSession::Shutdown() {
  absl::MutexLock lock(&mu_);
  shutdown_ = true;
  if (stream_ != nullptr) stream_->context().TryCancel();
  auto quiet = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return streams_alive_ == 0; };
  mu_.Await(absl::Condition(&quiet));
}

void NodeSession::End() {
  absl::MutexLock lock(&mu_);
  if (stream_ != nullptr) stream_->context().TryCancel();
}

std::uint64_t NodeSession::session_id() const {
  absl::MutexLock lock(&mu_);
  return stream_open_ ? session_id_ : 0;
}

std::uint64_t NodeSession::server_epoch() const {
  absl::MutexLock lock(&mu_);
  return stream_open_ ? server_epoch_ : 0;
}

bool NodeSession::connected() const {
  absl::MutexLock lock(&mu_);
  return stream_open_;
}

bool NodeSession::Send(const std::shared_ptr<Call>& call, absl::Status* refused) {
  absl::MutexLock lock(&mu_);
  const bool no_session = stream_ == nullptr;
  if (shutdown_) {
    *refused = absl::CancelledError("the client is shutting down");
  } else if (call->generation != 0 && (no_session || call->generation != generation_)) {
    // A release for a session that has ended: the server released it then.
    *refused = absl::OkStatus();
  } else if (no_session && absl::Now() < next_attempt_) {
    *refused = absl::UnavailableError(absl::StrCat(
        "reconnecting to batond at ", address_, ": next attempt in ",
        absl::FormatDuration(absl::Trunc(next_attempt_ - absl::Now(), absl::Milliseconds(1))),
        " (last: ", last_failure_.ToString(), ")"));
  } else {
    EnsureSessionLocked();
    EnqueueLocked(call);
    // A stop requested between the caller's check and now found nothing
    // pending here to cancel: cancel it now.
    if (call->stop.stop_requested()) SendCancelLocked(call);
    PumpLocked();
    return true;
  }
  return false;
}

void NodeSession::EnqueueLocked(const std::shared_ptr<Call>& call) {
  const std::uint64_t id = next_id_++;
  call->request.set_id(id);
  pending_.emplace(id, call);
  queued_.push_back(call->request);
}

void NodeSession::SendCancel(const std::shared_ptr<Call>& call) {
  absl::MutexLock lock(&mu_);
  SendCancelLocked(call);
}

void NodeSession::SendCancelLocked(const std::shared_ptr<Call>& call) {
  // Not sent here, or answered already.
  const auto it = pending_.find(call->request.id());
  if (call->request.id() == 0 || it == pending_.end() || it->second != call) return;
  {
    absl::MutexLock lock(&call->mu);
    if (call->done || call->cancel_sent) return;
    call->cancel_sent = true;
  }
  auto cancel = std::make_shared<Call>();
  cancel->client = client_;
  cancel->request.mutable_cancel()->set_request_id(call->request.id());
  EnqueueLocked(cancel);
  PumpLocked();
}

void NodeSession::EnsureSessionLocked() {
  if (stream_ != nullptr || shutdown_) return;
  ++generation_;
  stream_open_ = false;
  stream_ending_ = false;
  ++streams_alive_;
  stream_ = new SessionStream(this, client_->options(), generation_);
  writing_.Clear();
  const ClientOptions& options = client_->options();
  v1::OpenSession* open = writing_.mutable_open();
  open->set_client_name(options.client_name);
  open->set_default_owner_key(options.owner_key);
  if (options.lease > absl::ZeroDuration()) SetDuration(options.lease, open->mutable_lease());
  write_in_flight_ = true;
  last_write_ = absl::Now();
  stream_->Begin(*stub_, &writing_);
}

void NodeSession::PumpLocked() {
  // Nothing but the open before the session is open: a session that never
  // opens has then sent nothing, and its calls may go elsewhere.
  if (stream_ == nullptr || !stream_open_ || stream_ending_ || write_in_flight_) return;
  if (queued_.empty() && !heartbeat_due_) return;
  writing_.Clear();
  const int per_message = max_requests_per_message_ > 0
                              ? std::min(max_requests_per_message_, kMaxRequestsPerMessage)
                              : kMaxRequestsPerMessage;
  const std::size_t n = std::min<std::size_t>(queued_.size(), per_message);
  for (std::size_t i = 0; i < n; ++i) writing_.add_requests()->Swap(&queued_[i]);
  queued_.erase(queued_.begin(), queued_.begin() + static_cast<std::ptrdiff_t>(n));
  heartbeat_due_ = false;
  write_in_flight_ = true;
  last_write_ = absl::Now();
  stream_->StartWrite(&writing_);
}

void NodeSession::Heartbeat() {
  absl::MutexLock lock(&mu_);
  if (!stream_open_ || lease_ <= absl::ZeroDuration()) return;
  if (absl::Now() - last_write_ >= lease_ / 3) {
    heartbeat_due_ = true;
    PumpLocked();
  }
}

void NodeSession::OnOpened(SessionStream* stream, const v1::SessionOpened& opened) {
  absl::MutexLock lock(&mu_);
  if (stream != stream_) return;
  stream_open_ = true;
  failed_attempts_ = 0;
  next_attempt_ = absl::InfinitePast();
  max_requests_per_message_ = static_cast<int>(opened.limits().max_requests_per_message());
  session_id_ = opened.session_id();
  server_epoch_ = opened.server_epoch();
  lease_ = ToDuration(opened.lease());
  PumpLocked();  // what was queued while it opened
}

void NodeSession::OnWriteDone(SessionStream* stream, bool ok) {
  absl::MutexLock lock(&mu_);
  if (stream != stream_) return;
  write_in_flight_ = false;
  if (!ok) return;  // the stream is ending: OnDone fails what is pending
  PumpLocked();
}

void NodeSession::OnServerMessage(SessionStream* stream, v1::ServerMessage& message) {
  for (v1::Response& response : *message.mutable_responses()) {
    Answer(response, stream->generation());
  }
  for (const v1::Notice& notice : message.notices()) {
    if (notice.has_hold_revoked()) Revoke(notice.hold_revoked());
    // Draining and SessionExpiring need nothing here: the end of the stream
    // that follows them is what every holder learns.
  }
}

void NodeSession::Answer(v1::Response& response, std::uint64_t generation) {
  std::shared_ptr<Call> call;
  bool cancelled = false;
  bool refused = false;
  {
    absl::MutexLock lock(&mu_);
    const auto it = pending_.find(response.id());
    if (it == pending_.end()) return;
    call = std::move(it->second);
    pending_.erase(it);
    {
      absl::MutexLock call_lock(&call->mu);
      cancelled = call->cancel_sent;
    }
    call->response.Swap(&response);
    const v1::Status& answered = call->response.status();
    const absl::Status status = FromProto(answered);
    if (!status.ok() && !cancelled && call->Movable() &&
        OnAnswer(answered, call->redirects) != AnswerAction::kComplete) {
      // Not here (a redirect) or not now (UNAVAILABLE): the node did
      // nothing, and the client sends it on. Only errors pay for this.
      refused = true;
    } else if (call->flavor == Call::Flavor::kHold && status.ok()) {
      auto hold = std::make_shared<HoldState>();
      hold->node = this;
      hold->name = call->request.name();
      hold->kind = call->request.kind();
      hold->owner_key =
          call->request.has_owner_key() ? call->request.owner_key() : client_->options().owner_key;
      hold->generation = generation;
      if (cancelled) {
        // The grant crossed our cancel: give it back, as the contract asks.
        std::shared_ptr<Call> release = client_->ReleaseCall(*hold);
        EnqueueLocked(release);
        PumpLocked();
      } else {
        hold->client = client_->weak_from_this();
        {
          absl::MutexLock hold_lock(&hold->mu);
          hold->fence = call->response.fence();
        }
        holds_.push_back(hold);
        call->hold = std::move(hold);
      }
    } else if (call->flavor == Call::Flavor::kConditionWait && call->response.has_fence()) {
      const std::string owner =
          call->request.has_owner_key() ? call->request.owner_key() : client_->options().owner_key;
      for (const std::weak_ptr<HoldState>& weak : holds_) {
        std::shared_ptr<HoldState> hold = weak.lock();
        if (hold == nullptr || hold->name != call->request.name() || hold->owner_key != owner) {
          continue;
        }
        absl::MutexLock hold_lock(&hold->mu);
        if (hold->state == HoldState::State::kHeld) hold->fence = call->response.fence();
      }
    }
  }
  if (refused) {
    const v1::Status answered = call->response.status();
    client_->Refused(std::move(call), answered);
    return;
  }
  absl::Status status = FromProto(call->response.status());
  if (cancelled && call->flavor == Call::Flavor::kHold && status.ok()) {
    status = absl::CancelledError("cancelled; the grant that crossed the cancel was released");
  }
  client_->Complete(call, std::move(status));
}

void NodeSession::Revoke(const v1::HoldRevoked& revoked) {
  const absl::Status reason(absl::StatusCode::kAborted, absl::StrCat("hold revoked by the server: ",
                                                                     revoked.reason().message()));
  std::vector<absl::AnyInvocable<void()>> notify;
  {
    absl::MutexLock lock(&mu_);
    for (const std::weak_ptr<HoldState>& weak : holds_) {
      std::shared_ptr<HoldState> hold = weak.lock();
      if (hold == nullptr || hold->name != revoked.name()) continue;
      bool revoke;
      {
        absl::MutexLock hold_lock(&hold->mu);
        // The fence tells which holds: a semaphore's notice carries the
        // session's latest permit's, and a reset revokes every permit up to
        // it; a permit granted after the reset has a larger fence.
        revoke = hold->fence <= revoked.fence() &&
                 (IsSemaphoreKind(hold->kind) || hold->owner_key == revoked.owner_key());
      }
      if (revoke) hold->MarkLost(reason, &notify);
    }
  }
  for (auto& fn : notify) client_->Run(std::move(fn));
}

void NodeSession::OnStreamEnding(SessionStream* stream) {
  absl::MutexLock lock(&mu_);
  if (stream == stream_) stream_ending_ = true;
}

void NodeSession::OnStreamDone(SessionStream* stream, const grpc::Status& status) {
  std::map<std::uint64_t, std::shared_ptr<Call>> pending;
  std::vector<absl::AnyInvocable<void()>> notify;
  bool was_open;
  bool shutting_down;
  absl::Status last_failure;
  const absl::Status reason =
      absl::UnavailableError(absl::StrCat("the Baton session with ", address_, " ended (",
                                          FromGrpc(status).ToString(), "): its holds are lost"));
  {
    absl::MutexLock lock(&mu_);
    shutting_down = shutdown_;
    was_open = stream_open_ && stream == stream_;
    if (stream == stream_) stream_ = nullptr;
    stream_open_ = false;
    stream_ending_ = false;
    write_in_flight_ = false;
    heartbeat_due_ = false;
    queued_.clear();
    pending.swap(pending_);
    last_failure_ = FromGrpc(status);
    last_failure = absl::UnavailableError(
        absl::StrCat("batond at ", address_, ": ", last_failure_.ToString()));
    if (was_open) {
      failed_attempts_ = 0;
    } else {
      // An attempt that never opened: back off, 100 ms doubling to 5 s.
      ++failed_attempts_;
      const absl::Duration backoff = std::min(
          absl::Milliseconds(100) * (1 << std::min(failed_attempts_ - 1, 6)), absl::Seconds(5));
      next_attempt_ = absl::Now() + backoff;
    }
    // Lost before anyone can open the next session (under mu_), so that a
    // release from a Hold of this session can never reach the next one.
    for (const auto& weak : holds_) {
      if (std::shared_ptr<HoldState> hold = weak.lock()) hold->MarkLost(reason, &notify);
    }
    holds_.clear();
  }
  // Pending calls of an open session fail: a count-down or a notify may
  // have been done, a wait granted just before the end (and released by
  // it); only the caller may decide to try again. In a cluster, those of a
  // session that never opened were not sent, and an acquire's grant, if
  // any, went with the session: they go to the name's owner (the node may
  // be gone), as if sent now.
  for (auto& [id, call] : pending) {
    if ((was_open ? call->Undone() : call->Movable()) && client_->clustered()) {
      client_->Unsent(std::move(call), last_failure);
    } else {
      client_->Complete(call, reason);
    }
  }
  for (auto& fn : notify) client_->Run(std::move(fn));
  const ClientOptions& options = client_->options();
  if (was_open && !shutting_down && options.on_lease_lost) {
    client_->Run([callback = options.on_lease_lost, reason] { callback(reason); });
  }
  if (!shutting_down) client_->SessionEnded(this, was_open);
  // Last: Shutdown() may return, and the client go, once this is zero.
  absl::MutexLock lock(&mu_);
  --streams_alive_;
}

// ---------------------------------------------------------------------------
// ClientImpl.

ClientImpl::ClientImpl(ClientOptions options, std::shared_ptr<grpc::ChannelCredentials> credentials,
                       grpc::ChannelArguments args)
    : options_([&] {
        if (options.owner_key.empty()) options.owner_key = DefaultOwnerKey();
        return std::move(options);
      }()),
      credentials_(std::move(credentials)),
      args_(std::move(args)) {
  PinCallbackQueue();
  const int keepalive_ms =
      static_cast<int>(std::max<std::int64_t>(1000, absl::ToInt64Milliseconds(options_.keepalive)));
  args_.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, keepalive_ms);
  args_.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, keepalive_ms);
  args_.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args_.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // Reconnect quickly after a server restart.
  args_.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args_.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  absl::MutexLock lock(&mu_);
  nodes_.push_back(std::make_unique<NodeSession>(this, options_.address, credentials_, args_));
  home_ = nodes_.back().get();
}

ClientImpl::~ClientImpl() {
  Shutdown();
  // Before the members go: no heartbeat and no queued work may touch them.
  ticker_.Stop();
  dispatcher_.Stop();
}

absl::Status ClientImpl::Open() {
  const absl::Time deadline = absl::Now() + options_.connect_timeout;
  if (absl::Status opened = home_->Open(deadline); !opened.ok()) return opened;
  // The member list. A batond that runs alone answers none (one from before
  // clusters answers UNIMPLEMENTED): every call then goes to it, as it
  // always did. A redirect would still be followed (Refused()).
  grpc::ClientContext context;
  AddToken(options_, context);
  context.set_deadline(absl::ToChronoTime(deadline));
  v1::ClusterResponse response;
  const grpc::Status asked = home_->admin().Cluster(&context, v1::ClusterRequest(), &response);
  if (asked.ok()) ApplyMembers(response);
  ticker_.SetTick(absl::Milliseconds(100), [this] { Tick(); });
  return absl::OkStatus();
}

void ClientImpl::Shutdown() {
  std::vector<NodeSession*> nodes;
  std::map<Call*, std::shared_ptr<Call>> retrying;
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) return;
    shutdown_ = true;
    for (const auto& node : nodes_) nodes.push_back(node.get());
    retrying.swap(retrying_);
  }
  for (auto& [raw, call] : retrying) {
    Complete(call, absl::CancelledError("the client is shutting down"));
  }
  for (NodeSession* node : nodes) node->Shutdown();
  absl::MutexLock lock(&mu_);
  auto quiet = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return unary_in_flight_ == 0; };
  mu_.Await(absl::Condition(&quiet));
}

void ClientImpl::Run(absl::AnyInvocable<void()> fn) {
  if (options_.executor) {
    options_.executor(std::move(fn));
  } else {
    dispatcher_.Post(std::move(fn));
  }
}

std::shared_ptr<Call> ClientImpl::NewCall(const std::string& name, int kind,
                                          const std::optional<std::string>& owner_key,
                                          const CallOptions& call_options) {
  auto call = std::make_shared<Call>();
  call->client = this;
  call->request.set_name(name);
  call->request.set_kind(static_cast<v1::Kind>(kind));
  if (call_options.owner_key.has_value()) {
    call->request.set_owner_key(*call_options.owner_key);
  } else if (owner_key.has_value()) {
    call->request.set_owner_key(*owner_key);
  }
  call->stop = call_options.stop;
  return call;
}

void ClientImpl::Start(std::shared_ptr<Call> call, std::coroutine_handle<> continuation) {
  {
    absl::MutexLock lock(&call->mu);
    call->continuation = continuation;
  }
  if (call->send_override) {
    auto send = std::move(call->send_override);
    send(std::move(call));
    return;
  }
  // The stop callback is in place before the request goes, so that a stop
  // requested at any moment from now on cancels it; one requested already
  // means the call is not sent at all.
  if (call->stop.stop_possible()) {
    std::weak_ptr<Call> weak = call;
    call->stop_callback.emplace(call->stop, std::function<void()>([weak] {
                                  std::shared_ptr<Call> c = weak.lock();
                                  if (c == nullptr) return;
                                  NodeSession* node;
                                  {
                                    absl::MutexLock lock(&c->mu);
                                    node = c->node;
                                  }
                                  // Not sent yet: SendTo() sees the stop before
                                  // it sends.
                                  if (node != nullptr) node->SendCancel(c);
                                }));
    if (call->stop.stop_requested()) {
      Complete(call, absl::CancelledError("cancelled before it was sent"));
      return;
    }
  }
  if (call->pinned != nullptr || !clustered()) {
    // Alone, or a release on the session of its hold: no routing.
    NodeSession* node = call->pinned != nullptr ? call->pinned : home_;
    if (call->stop_callback.has_value()) {
      absl::MutexLock lock(&call->mu);
      call->node = node;  // for a cancel
    }
    absl::Status refused;
    if (!node->Send(call, &refused)) Complete(call, std::move(refused));
    return;
  }
  call->first_sent = absl::Now();
  NodeSession* node = Route(*call);
  SendTo(std::move(call), node);
}

NodeSession* ClientImpl::Route(const Call& call) {
  absl::MutexLock lock(&mu_);
  const Member* owner = members_.OwnerOf(call.request.name());
  if (owner == nullptr) return home_;
  return NodeLocked(owner->node_id, owner->address);
}

NodeSession* ClientImpl::NodeLocked(const std::string& node_id, const std::string& address) {
  // No session starts once Shutdown() has begun: home_ refuses the call.
  if (shutdown_) return home_;
  NodeSession*& node = by_id_[node_id];
  // A node that moved (a pod with a new address) gets a new session; the
  // node at options.address keeps its own, whatever name it advertises.
  if (node != nullptr && (node->address() == address || node_id == home_id_)) return node;
  if (node != nullptr) node->End();
  nodes_.push_back(std::make_unique<NodeSession>(this, address, credentials_, args_));
  node = nodes_.back().get();
  return node;
}

void ClientImpl::SendTo(std::shared_ptr<Call> call, NodeSession* node) {
  if (call->stop.stop_requested()) {
    Complete(call, absl::CancelledError("cancelled"));
    return;
  }
  if (call->timeout_field != nullptr && call->timeout != absl::InfiniteDuration()) {
    // A wait sent again waits only for what is left of its timeout.
    const absl::Duration left = call->first_sent + call->timeout - absl::Now();
    if (call->retries + call->redirects > 0) {
      if (left <= absl::ZeroDuration() && call->timeout > absl::ZeroDuration()) {
        Complete(call, absl::DeadlineExceededError(
                           absl::StrCat("timed out while '", call->request.name(),
                                        "' was being handed over between nodes of the cluster")));
        return;
      }
      SetDuration(std::max(left, absl::ZeroDuration()), call->timeout_field(call->request));
    }
  }
  {
    absl::MutexLock lock(&call->mu);
    call->node = node;
  }
  absl::Status refused;
  if (node->Send(call, &refused)) return;
  if (refused.code() == absl::StatusCode::kUnavailable && call->Movable()) {
    RetryLater(std::move(call),
               std::move(refused));  // not sent: the node is unreachable
    return;
  }
  Complete(call, std::move(refused));
}

void ClientImpl::Refused(std::shared_ptr<Call> call, const v1::Status& answer) {
  const absl::Status status = FromProto(answer);
  switch (OnAnswer(answer, call->redirects)) {
    case AnswerAction::kFollowRedirect: {
      ++call->redirects;
      if (call->first_sent == absl::InfinitePast()) call->first_sent = absl::Now();
      NodeSession* node;
      {
        absl::MutexLock lock(&mu_);
        node = NodeLocked(answer.redirect().node_id(), answer.redirect().address());
      }
      RefreshMembers();
      SendTo(std::move(call), node);
      return;
    }
    case AnswerAction::kTooManyRedirects:
      Complete(call,
               absl::UnavailableError(absl::StrCat(
                   "'", call->request.name(), "' was redirected ", call->redirects,
                   " times without reaching its owner (the cluster's members are changing); last: ",
                   status.message())));
      return;
    case AnswerAction::kRetryLater:
      if (clustered()) {
        RetryLater(std::move(call), status);
        return;
      }
      break;  // a batond that runs alone and drains: as it always did
    case AnswerAction::kComplete:
      break;
  }
  Complete(call, status);
}

void ClientImpl::RetryLater(std::shared_ptr<Call> call, absl::Status status) {
  const absl::Time now = absl::Now();
  if (call->first_sent == absl::InfinitePast()) call->first_sent = now;
  if (call->retry_until == absl::InfinitePast()) {
    // The hand-off window, and no longer than the wait itself would take.
    call->retry_until = call->first_sent + options_.handoff_timeout;
    if (call->timeout_field != nullptr && call->timeout != absl::InfiniteDuration()) {
      call->retry_until = std::min(call->retry_until, call->first_sent + call->timeout);
    }
  }
  if (now >= call->retry_until) {
    Complete(call, std::move(status));
    return;
  }
  ++call->retries;
  const absl::Duration backoff = std::min(RetryBackoff(call->retries), call->retry_until - now);
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_) {
      status = absl::CancelledError("the client is shutting down");
    } else {
      retrying_.emplace(call.get(), call);
      ticker_.PostAfter(backoff, [this, raw = call.get()] {
        std::shared_ptr<Call> again;
        {
          absl::MutexLock lock(&mu_);
          auto it = retrying_.find(raw);
          if (it == retrying_.end()) return;  // completed by Shutdown()
          again = std::move(it->second);
          retrying_.erase(it);
        }
        NodeSession* node = Route(*again);
        SendTo(std::move(again), node);
      });
      status = absl::OkStatus();
    }
  }
  if (!status.ok()) {
    Complete(call, std::move(status));
    return;
  }
  RefreshMembers();
}

void ClientImpl::Unsent(std::shared_ptr<Call> call, absl::Status status) {
  RetryLater(std::move(call), std::move(status));
}

void ClientImpl::SessionEnded(NodeSession* /*node*/, bool was_open) {
  // A node that went away: the member list may have changed.
  if (was_open && clustered()) RefreshMembers();
}

void ClientImpl::FireAndForget(std::shared_ptr<Call> call) { Start(std::move(call), nullptr); }

void ClientImpl::Complete(const std::shared_ptr<Call>& call, absl::Status status) {
  std::coroutine_handle<> continuation;
  {
    absl::MutexLock lock(&call->mu);
    if (call->done) return;
    call->done = true;
    call->status = std::move(status);
    continuation = call->continuation;
    call->cv.SignalAll();
  }
  // Done: a later stop request has nothing to cancel (and the client may be
  // gone by then).
  call->stop_callback.reset();
  if (continuation) Run([continuation] { continuation.resume(); });
}

std::shared_ptr<Call> ClientImpl::ReleaseCall(const HoldState& hold) {
  auto call = std::make_shared<Call>();
  call->client = this;
  call->pinned = hold.node;
  call->generation = hold.generation;
  call->request.set_name(hold.name);
  call->request.set_kind(static_cast<v1::Kind>(hold.kind));
  call->request.set_owner_key(hold.owner_key);
  call->request.mutable_release();
  return call;
}

v1::Admin::Stub& ClientImpl::AdminFor(const std::string& name) {
  if (!clustered()) return home_->admin();
  absl::MutexLock lock(&mu_);
  const Member* owner = members_.OwnerOf(name);
  if (owner == nullptr) return home_->admin();
  return NodeLocked(owner->node_id, owner->address)->admin();
}

Membership ClientImpl::members() const {
  absl::MutexLock lock(&mu_);
  return members_;
}

void ClientImpl::BeginUnary() {
  absl::MutexLock lock(&mu_);
  ++unary_in_flight_;
}

void ClientImpl::EndUnary() {
  absl::MutexLock lock(&mu_);
  --unary_in_flight_;
}

// How often the member list is asked for: at least every kRefreshPeriod, and
// on a redirect, an UNAVAILABLE or a node's session ending, but not twice
// within kMinRefreshInterval.
constexpr absl::Duration kRefreshPeriod = absl::Seconds(5);
constexpr absl::Duration kMinRefreshInterval = absl::Milliseconds(100);

void ClientImpl::RefreshMembers() {
  std::vector<NodeSession*> candidates;
  {
    absl::MutexLock lock(&mu_);
    if (shutdown_ || refresh_in_flight_ || absl::Now() - last_refresh_ < kMinRefreshInterval) {
      return;
    }
    refresh_in_flight_ = true;
    last_refresh_ = absl::Now();
    ++unary_in_flight_;
    // Any node answers: the one at options.address first, then the others.
    candidates.push_back(home_);
    for (const auto& [id, node] : by_id_) {
      if (node != home_) candidates.push_back(node);
    }
  }
  AskMembers(std::move(candidates), 0);
}

void ClientImpl::AskMembers(std::vector<NodeSession*> candidates, std::size_t next) {
  if (next == candidates.size()) {
    absl::MutexLock lock(&mu_);
    refresh_in_flight_ = false;
    --unary_in_flight_;
    return;
  }
  struct Unary {
    grpc::ClientContext context;
    v1::ClusterRequest request;
    v1::ClusterResponse response;
  };
  auto unary = std::make_shared<Unary>();
  AddToken(options_, unary->context);
  unary->context.set_deadline(
      absl::ToChronoTime(absl::Now() + std::min(options_.connect_timeout, absl::Seconds(2))));
  NodeSession* node = candidates[next];
  node->admin().async()->Cluster(
      &unary->context, &unary->request, &unary->response,
      [this, unary, candidates = std::move(candidates), next](grpc::Status status) mutable {
        if (!status.ok() || unary->response.members().empty()) {
          AskMembers(std::move(candidates), next + 1);
          return;
        }
        ApplyMembers(unary->response);
        // Last: Shutdown() may return, and the client go, once this is zero.
        absl::MutexLock lock(&mu_);
        refresh_in_flight_ = false;
        --unary_in_flight_;
      });
}

void ClientImpl::ApplyMembers(const v1::ClusterResponse& response) {
  Membership members = Membership::FromResponse(response);
  if (members.empty()) return;  // alone; or a node that lost sight of etcd
  std::vector<NodeSession*> gone;
  {
    absl::MutexLock lock(&mu_);
    if (home_id_.empty() && !response.node_id().empty()) {
      home_id_ = response.node_id();
      by_id_[home_id_] = home_;
    }
    // A node no longer a member grants nothing: its session ends, and with
    // it every hold of it, which the holders learn as lease loss.
    for (const auto& [id, node] : by_id_) {
      if (members.Find(id) == nullptr && node != home_) gone.push_back(node);
    }
    for (const Member& member : members.members()) {
      if (by_id_.contains(member.node_id)) NodeLocked(member.node_id, member.address);
    }
    members_ = std::move(members);
  }
  clustered_.store(true, std::memory_order_release);
  for (NodeSession* node : gone) node->End();
}

void ClientImpl::Tick() {
  std::vector<NodeSession*> nodes;
  bool refresh = false;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& node : nodes_) nodes.push_back(node.get());
    refresh = clustered() && absl::Now() - last_refresh_ >= kRefreshPeriod;
  }
  for (NodeSession* node : nodes) node->Heartbeat();
  if (refresh) RefreshMembers();
}

}  // namespace internal

// ---------------------------------------------------------------------------
// Client.

Client::Client(std::shared_ptr<internal::ClientImpl> impl) : impl_(std::move(impl)) {}

Client::~Client() { impl_->Shutdown(); }

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(ClientOptions options) {
  // Read before anything dials: a missing file is the caller's mistake, not
  // an unreachable server.
  grpc::ChannelArguments args;
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      internal::ChannelCredentials(options.tls, &args);
  if (!credentials.ok()) return credentials.status();
  if (absl::Status token = internal::CheckToken(options.token, "token"); !token.ok()) {
    return token;
  }
  if (options.handoff_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("handoff_timeout: must be >= 0, got ",
                     absl::FormatDuration(options.handoff_timeout)));
  }
  for (std::size_t i = 0; i < options.seeds.size(); ++i) {
    if (options.seeds[i].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("seeds[", i, "]: an empty address (expected host:port of a node)"));
    }
  }
  // options.address, then each seed: the first node that opens a session.
  std::vector<std::string> addresses = {options.address};
  addresses.insert(addresses.end(), options.seeds.begin(), options.seeds.end());
  absl::Status first_failure;
  for (const std::string& address : addresses) {
    ClientOptions attempt = options;
    attempt.address = address;
    auto impl = std::make_shared<internal::ClientImpl>(std::move(attempt), *credentials, args);
    absl::Status opened = impl->Open();
    if (opened.ok()) return std::unique_ptr<Client>(new Client(std::move(impl)));
    if (first_failure.ok()) first_failure = std::move(opened);
    if (first_failure.code() != absl::StatusCode::kUnavailable) break;
  }
  return first_failure;
}

std::uint64_t Client::session_id() const { return impl_->session_id(); }
std::uint64_t Client::server_epoch() const { return impl_->server_epoch(); }
const ClientOptions& Client::options() const { return impl_->options(); }
bool Client::connected() const { return impl_->connected(); }

std::vector<std::pair<std::string, std::string>> Client::members() const {
  std::vector<std::pair<std::string, std::string>> members;
  const internal::Membership membership = impl_->members();
  for (const internal::Member& member : membership.members()) {
    members.emplace_back(member.node_id, member.address);
  }
  return members;
}

}  // namespace baton

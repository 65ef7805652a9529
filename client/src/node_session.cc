// Copyright 2026 The Baton Authors.
//
// NodeSession: the client's session with one batond node (client_impl.h),
// and SessionStream, the gRPC reactor of its Session stream.

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/src/channel_credentials.h"
#include "client/src/client_impl.h"
#include "client/src/routing.h"

namespace baton::internal {
namespace {

bool IsSemaphoreKind(int kind) {
  return kind == v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE || kind == v1::KIND_PRIORITY_SEMAPHORE;
}

// The largest message the server takes by default is far above this many
// requests; its per-message limit (1,000 by default) is what counts.
constexpr int kMaxRequestsPerMessage = 500;

}  // namespace

// ---------------------------------------------------------------------------
// SessionStream: one session's stream.

class SessionStream final : public grpc::ClientBidiReactor<v1::ClientMessage, v1::ServerMessage> {
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

}  // namespace baton::internal

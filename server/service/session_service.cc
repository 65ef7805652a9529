// Copyright 2026 The Baton Authors.

#include "server/service/session_service.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "server/auth/grpc_credentials.h"
#include "server/core/instance_name.h"
#include "server/metrics/counters.h"
#include "server/runtime/cancellation.h"
#include "server/runtime/event_loop.h"
#include "server/runtime/memory_release.h"
#include "server/runtime/task.h"
#include "server/runtime/timer_heap.h"
#include "server/service/proto_convert.h"
#include "server/service/session_state.h"
#include "server/service/status_convert.h"

namespace baton::service {

namespace {

using session_internal::CheckKey;
using session_internal::DurationOf;
using session_internal::ErrorResponse;
using session_internal::IsWait;
using session_internal::OpCase;
using session_internal::OpName;
using session_internal::Prepared;
using session_internal::SetDuration;

// At most this many bytes of OpenSession.client_name are kept.
constexpr std::size_t kMaxClientNameBytes = 256;

// The writes decided on while a DeferSessionWrites lives on this thread, or
// null: they are started at its end.
thread_local DeferSessionWrites::Writes* writes_after_turns = nullptr;

// CutUtf8() is the longest prefix of valid UTF-8 `text` of at most `max`
// bytes that ends on a character boundary.
std::string CutUtf8(const std::string& text, std::size_t max) {
  if (text.size() <= max) return text;
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut);
}

}  // namespace

// ---------------------------------------------------------------------------
// The reactors: one per stream, on either of gRPC's two server APIs.

// What both kinds share: the session, reading and the end.
class SessionService::Reactor {
 public:
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;
  virtual ~Reactor() = default;

  SessionState& state() { return *state_; }

  // CountWrite() is called under the session's mutex when a write is
  // decided, before Write() starts it (after the mutex is released).
  virtual void CountWrite() {}
  // Write() writes `message`: one write at a time; any thread.
  virtual void Write(const v1::ServerMessage* message) = 0;
  // End() ends the stream with `status`: once, with no write in flight,
  // under the session's mutex; any thread.
  virtual void End(const grpc::Status& status) = 0;
  // ResumeRead() starts the next read of a stream whose reading was paused
  // (not from a reaction): the session pins the reactor around it and holds
  // End() back until it returns.
  virtual void ResumeRead() = 0;
  // Cancel() cancels the call (RST_STREAM): for a client that does not
  // read, whose write in flight would never complete, so that End() could
  // never be sent. Not under the session's mutex (gRPC may run reactions
  // inline); the session holds End() back meanwhile, and Pin() (under the
  // mutex) keeps the reactor alive until Unpin() (after Cancel()).
  virtual void Cancel() = 0;
  virtual void Pin() {}
  virtual void Unpin() {}

 protected:
  explicit Reactor(SessionService* service) : service_(service) {}

  // Begin() starts the session of a stream just accepted; false when it
  // may not open (the stream is ending): the server is full or draining,
  // or the caller is not one of --auth_file's.
  // `context`: the call's, for its credentials (nullptr: none, in-process).
  bool Begin(std::string peer, const grpc::ServerContextBase* context) {
    state_ = std::make_shared<SessionState>(service_, service_->next_session_id_.fetch_add(1),
                                            std::move(peer));
    state_->Attach(this);
    if (absl::Status admitted = service_->Admit(this); !admitted.ok()) {
      state_->EndWith(admitted);
      return false;
    }
    admitted_ = true;
    if (auth::Access* access = service_->options_.access; access != nullptr && access->enabled()) {
      auto caller = std::make_unique<auth::Caller>(
          access, context != nullptr ? auth::CredentialsOf(*context) : auth::Credentials{});
      if (absl::Status known = caller->Authenticate(); !known.ok()) {
        state_->EndWith(known);
        return false;
      }
      state_->SetCaller(std::move(caller));
    }
    return true;
  }

  // OnRead() handles a read's completion (in_); true when the next read
  // should start.
  bool OnRead(bool ok) {
    if (!ok) {
      // The client half-closed, or the call is over (cancelled, broken).
      if (opened_) {
        state_->HalfClose();
      } else {
        state_->EndWith(absl::InvalidArgumentError(
            "open: the stream ended before a ClientMessage with open"));
      }
      return false;
    }
    state_->Heard();
    if (!opened_) {
      if (!in_.has_open()) {
        state_->EndWith(absl::InvalidArgumentError(
            "open: the first ClientMessage must set open"));
        return false;
      }
      if (absl::Status opened = state_->Open(in_.open()); !opened.ok()) {
        state_->EndWith(opened);
        return false;
      }
      opened_ = true;
    } else if (in_.has_open()) {
      state_->EndWith(absl::InvalidArgumentError(
          "open: only the first ClientMessage may set open"));
      return false;
    }
    if (in_.requests_size() > 0) state_->Dispatch(in_.mutable_requests());
    in_.Clear();
    return state_->ContinueReading();
  }

  // Over() is called once nothing is outstanding on the stream: nothing is
  // written any more, and the session is forgotten.
  void Over() {
    state_->Detach();
    if (!admitted_) return;
    if (service_->options_.log && opened_) state_->LogClosed();
    service_->Forget(this);
  }

  SessionService* const service_;
  std::shared_ptr<SessionState> state_;
  v1::ClientMessage in_;

 private:
  bool admitted_ = false;
  bool opened_ = false;  // reactions are serialized: no lock needed
};

namespace {

// On the callback API (the default): gRPC's threads call the reactions,
// the thread that read the bytes often running the reaction itself.
class CallbackReactor final : public SessionService::Reactor,
                              public grpc::ServerBidiReactor<v1::ClientMessage, v1::ServerMessage> {
 public:
  CallbackReactor(SessionService* service, grpc::CallbackServerContext* context)
      : SessionService::Reactor(service), context_(context) {
    if (Begin(context->peer(), context)) StartRead(&in_);
  }

  void Write(const v1::ServerMessage* message) override { StartWrite(message); }
  void End(const grpc::Status& status) override { Finish(status); }
  void Cancel() override { context_->TryCancel(); }
  void ResumeRead() override { StartRead(&in_); }

  void OnReadDone(bool ok) override {
    if (OnRead(ok)) StartRead(&in_);
  }
  void OnWriteDone(bool ok) override {
    if (state_->WriteDone(ok)) StartRead(&in_);
  }
  void OnCancel() override { state_->EndByClient(); }
  void OnDone() override {
    Over();
    Unpin();  // the reference of the call itself
  }
  // gRPC may be done with the call (OnDone()) while the session still
  // holds it pinned: after its Cancel(), End() may be called and complete
  // on another thread before Unpin().
  void Pin() override { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Unpin() override {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

 private:
  grpc::CallbackServerContext* const context_;
  std::atomic<int> refs_{1};  // the call's, until OnDone(), and the pins
};

class SessionCallbackService final : public v1::Baton::CallbackService {
 public:
  explicit SessionCallbackService(SessionService* service) : service_(service) {}
  grpc::ServerBidiReactor<v1::ClientMessage, v1::ServerMessage>* Session(
      grpc::CallbackServerContext* context) override {
    return new CallbackReactor(service_, context);
  }

 private:
  SessionService* const service_;
};

}  // namespace

// On the completion-queue API (--completion_queues): the thread polling the
// stream's queue runs its reactions, one at a time.
class SessionService::QueueReactor final : public SessionService::Reactor {
 public:
  enum class Op { kAccept, kRead, kWrite, kFinish, kDone };
  // What a completion-queue tag points to.
  struct Tag {
    QueueReactor* reactor;
    Op op;
  };

  // Asks for the next stream on `queue`.
  QueueReactor(SessionService* service, grpc::ServerCompletionQueue* queue)
      : SessionService::Reactor(service), queue_(queue) {
    service_->queue_reactors_.fetch_add(1, std::memory_order_relaxed);
    // The done tag comes back only for a call that was accepted.
    context_.AsyncNotifyWhenDone(&done_tag_);
    service_->async_.RequestSession(&context_, &stream_, queue_, queue_, &accept_tag_);
  }

  // Proceed() is the completion of `op` (the queue's thread).
  void Proceed(Op op, bool ok) {
    switch (op) {
      case Op::kAccept:
        if (!ok) {  // The server is shutting down: no call, no done tag.
          Gone();
          return;
        }
        new QueueReactor(service_, queue_);  // The next stream on this queue.
        ops_.store(1, std::memory_order_relaxed);  // the done tag
        if (Begin(context_.peer(), &context_)) StartRead();
        return;
      case Op::kRead:
        if (OnRead(ok)) StartRead();
        break;
      case Op::kWrite:
        if (state_->WriteDone(ok)) StartRead();
        break;
      case Op::kFinish:
        break;
      case Op::kDone:
        if (context_.IsCancelled()) state_->EndByClient();
        break;
    }
    if (ops_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      Over();
      Gone();
    }
  }

  // Counted when decided, under the session's mutex, so that the stream
  // cannot be done (and deleted) before the write starts.
  void CountWrite() override { ops_.fetch_add(1, std::memory_order_relaxed); }
  void Write(const v1::ServerMessage* message) override { stream_.Write(*message, &write_tag_); }
  void End(const grpc::Status& status) override {
    ops_.fetch_add(1, std::memory_order_relaxed);
    stream_.Finish(status, &finish_tag_);
  }
  void Cancel() override { context_.TryCancel(); }
  void ResumeRead() override { StartRead(); }
  // A queue reactor is gone once no operation is outstanding, Finish or
  // not: the pin counts as one.
  void Pin() override { ops_.fetch_add(1, std::memory_order_relaxed); }
  void Unpin() override {
    if (ops_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      Over();
      Gone();
    }
  }

 private:
  void StartRead() {
    ops_.fetch_add(1, std::memory_order_relaxed);
    stream_.Read(&in_, &read_tag_);
  }
  // Gone() deletes this reactor; StopQueues() waits for none to be left.
  void Gone() {
    SessionService* const service = service_;
    delete this;
    service->queue_reactors_.fetch_sub(1, std::memory_order_release);
  }

  grpc::ServerCompletionQueue* const queue_;
  grpc::ServerContext context_;
  grpc::ServerAsyncReaderWriter<v1::ServerMessage, v1::ClientMessage> stream_{&context_};
  Tag accept_tag_{this, Op::kAccept};
  Tag read_tag_{this, Op::kRead};
  Tag write_tag_{this, Op::kWrite};
  Tag finish_tag_{this, Op::kFinish};
  Tag done_tag_{this, Op::kDone};
  // Operations started and not completed: the done tag, the read, the
  // write, the finish. The stream is done when none is left.
  std::atomic<int> ops_{0};
};

// In-process, for tests and the fuzzers (LocalStream in session_service.h):
// writes and the end are recorded, and complete when the caller says so.
class LocalStream::Impl final : public SessionService::Reactor {
 public:
  Impl(SessionService* service, std::string peer) : SessionService::Reactor(service) {
    reading_ = Begin(std::move(peer), nullptr);
  }
  ~Impl() override {
    if (!status_.has_value()) {
      state_->EndByClient();
      cancelled_ = true;
      CompleteWrite();  // fails: the end waited for it
    }
    Over();
  }

  void Write(const v1::ServerMessage* message) override {
    written_.push_back(*message);
    in_flight_ = true;
  }
  void End(const grpc::Status& status) override {
    status_ = status;
    reading_ = false;
  }
  void Cancel() override { cancelled_ = true; }
  void ResumeRead() override {
    reading_ = true;
    if (half_closed_) DeliverHalfClose();
  }

  bool Send(v1::ClientMessage message) {
    if (!reading_ || half_closed_) return false;
    in_ = std::move(message);
    reading_ = OnRead(true);
    return true;
  }
  void HalfClose() {
    if (half_closed_ || status_.has_value()) return;
    half_closed_ = true;
    if (reading_) DeliverHalfClose();
  }
  bool CompleteWrite() {
    if (!in_flight_) return false;
    in_flight_ = false;
    // A cancelled call's writes fail.
    if (state_->WriteDone(!cancelled_) && !status_.has_value()) {
      reading_ = true;
      if (half_closed_) DeliverHalfClose();
    }
    return true;
  }

  std::vector<v1::ServerMessage> written_;
  std::optional<grpc::Status> status_;

 private:
  // The read that tells the server of the half-close: once.
  void DeliverHalfClose() {
    if (half_close_read_) return;
    half_close_read_ = true;
    reading_ = OnRead(false);
  }

  bool reading_ = false;
  bool half_closed_ = false;
  bool half_close_read_ = false;
  bool in_flight_ = false;
  bool cancelled_ = false;
};

LocalStream::LocalStream(SessionService* service, std::string peer)
    : impl_(std::make_unique<Impl>(service, std::move(peer))) {}
LocalStream::~LocalStream() = default;
bool LocalStream::Send(v1::ClientMessage message) { return impl_->Send(std::move(message)); }
void LocalStream::HalfClose() { impl_->HalfClose(); }
bool LocalStream::CompleteWrite() { return impl_->CompleteWrite(); }
const std::vector<v1::ServerMessage>& LocalStream::written() const { return impl_->written_; }
const std::optional<grpc::Status>& LocalStream::status() const { return impl_->status_; }

// ---------------------------------------------------------------------------
// SessionState, reactor side.

void SessionState::Count() {
  absl::MutexLock lock(&mu_);
  counted_ = true;
}

namespace session_internal {

MessagePart::~MessagePart() {
  if (requests_ != nullptr && requests_->parts.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    state_->RecycleRequests(requests_);
  }
}

}  // namespace session_internal

void SessionState::RecycleRequests(session_internal::MessageRequests* requests) {
  // A message of many requests is not kept: its cleared Requests would sit
  // with an idle session.
  constexpr int kMaxKeptRequests = 64;
  if (requests->requests.size() > kMaxKeptRequests) {
    // Such messages come in bursts (a client queueing many waits at once),
    // parsed faster than they run: once the burst is over, what their
    // requests held is handed back to the system (memory_release.h). About
    // a Request, its op's message and its name's buffer each.
    constexpr std::size_t kBytesPerRequest = sizeof(v1::Request) + 96;
    runtime::BurstRelease::Global().Note(static_cast<std::size_t>(requests->requests.size()) *
                                         kBytesPerRequest);
    delete requests;
    return;
  }
  requests->requests.Clear();
  delete spare_requests_.exchange(requests, std::memory_order_acq_rel);
}

SessionState::~SessionState() {
  delete spare_requests_.load(std::memory_order_relaxed);
  // Waits the shards never answered (the process is ending) are uncounted
  // from their namespaces here.
  for (const auto& [id, pending] : pending_) {
    if (pending.wait && pending.ns != 0 && namespaces_[pending.ns] != nullptr) {
      namespaces_[pending.ns]->RemoveWaiter();
    }
  }
}

void SessionState::ReleaseNamespacesLocked() {
  if (namespaces_released_) return;
  namespaces_released_ = true;
  for (auth::NamespaceUsage* usage : namespaces_) {
    if (usage != nullptr) usage->RemoveSession();
  }
}

absl::Status SessionState::AdmitLocked(const v1::Request& request, bool wait,
                                       std::uint16_t* ns) {
  const std::string_view name = auth::NamespaceOf(request.name());
  if (absl::Status allowed = caller_->AllowNamespace(name, auth::Role::kUse); !allowed.ok()) {
    return allowed;
  }
  std::uint16_t index = 0;
  if (const auto it = namespace_index_.find(absl::string_view(name.data(), name.size())); it != namespace_index_.end()) {
    index = it->second;
  } else {
    // A session of a caller granted "*" could otherwise name a new
    // namespace with every request.
    constexpr std::size_t kMaxNamespacesPerSession = 1024;
    if (namespaces_.size() > kMaxNamespacesPerSession) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "name: a session may use at most ", kMaxNamespacesPerSession,
          " namespaces; open another session"));
    }
    auth::NamespaceUsage* usage = options().access->Usage(name);
    if (usage != nullptr) {
      if (absl::Status added = usage->AddSession(); !added.ok()) return added;
    }
    index = static_cast<std::uint16_t>(namespaces_.size());
    namespaces_.push_back(usage);
    namespace_index_.emplace(std::string(name), index);
  }
  if (auth::NamespaceUsage* usage = namespaces_[index]; usage != nullptr) {
    // The waiter first: a wait refused for `waiters` spends nothing of the
    // requests_per_second quota.
    if (wait) {
      if (absl::Status added = usage->AddWaiter(); !added.ok()) return added;
    }
    if (absl::Status taken = usage->TakeRequest(service_->clock_->Now()); !taken.ok()) {
      if (wait) usage->RemoveWaiter();
      throttle_ += usage->RequestInterval();
      return taken;
    }
  }
  *ns = index;
  return absl::OkStatus();
}

void SessionState::UncountLocked() {
  ReleaseNamespacesLocked();
  if (!counted_) return;
  counted_ = false;
  service_->open_sessions_.fetch_sub(1);
}

void SessionState::Detach() {
  absl::MutexLock lock(&mu_);
  UncountLocked();
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
    Locked lock(this);
    if (phase_ != Phase::kOpening) return absl::OkStatus();  // ending already
    if (draining_) {
      return absl::UnavailableError("server draining: open the session on another server");
    }
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
  {
    absl::MutexLock lock(&service_->names_mu_);
    service_->client_names_.emplace(id_, client_name_);
  }
  if (o.log) {
    std::string principal;
    {
      absl::MutexLock lock(&mu_);
      if (caller_ != nullptr) principal = caller_->principal();
    }
    log::Info("session opened", {{"session", id_},
                                 {"client", client_name_},
                                 {"principal", principal},
                                 {"peer", peer_},
                                 {"lease", lease}});
  }
  const absl::Time first = absl::FromUnixNanos(last_heard_nanos_.load()) + lease_ * 2 / 3;
  node_->RunOn(home_shard_, [self = shared_from_this(), first](Node::Shard& shard) {
    self->ArmLease(shard, first);
  });
  return absl::OkStatus();
}

void SessionState::RejectLocked(std::uint64_t id, std::string_view op,
                                const absl::Status& status) {
  *next_.add_responses() = ErrorResponse(id, status);
  if (!options().log || !log::Enabled(log::Level::kWarn)) return;
  const std::int64_t suppressed = service_->rejection_log_.Allow(service_->clock_->Now());
  if (suppressed < 0) return;
  log::Warn("request rejected", {{"session", id_},
                                 {"client", client_name_},
                                 {"request", id},
                                 {"op", op},
                                 {"status", status},
                                 {"not_logged_before", suppressed}});
}

void SessionState::Dispatch(google::protobuf::RepeatedPtrField<v1::Request>* requests) {
  // The writes that the turns run here decide on (this session's, and those
  // of the sessions whose work was in the same turns) are started once the
  // turns are over (DispatchAndRun()'s kRunHere scope ends before this one).
  DeferSessionWrites defer_writes;
  DispatchAndRun(requests);
}

void SessionState::DispatchAndRun(google::protobuf::RepeatedPtrField<v1::Request>* requests) {
  const SessionService::Options& o = options();
  // Batches by shard, in the order of the message; each has room for the
  // whole message (one allocation, not one per doubling).
  absl::InlinedVector<std::pair<std::size_t, std::vector<Prepared>>, 2> batches;
  auto batch_for = [&](std::size_t shard) -> std::vector<Prepared>& {
    for (auto& [index, batch] : batches) {
      if (index == shard) return batch;
    }
    std::vector<Prepared>& batch = batches.emplace_back(shard, std::vector<Prepared>()).second;
    batch.reserve(static_cast<std::size_t>(requests->size()));
    return batch;
  };

  // The batches are posted under mu_ (ordered before any End() of the
  // session). A shard that sleeps is not woken but run here, on this gRPC
  // thread, once mu_ is released: the request is answered, and its answer's
  // write started, with no thread switch.
  runtime::EventLoop::DeferWakes run_here(runtime::EventLoop::DeferWakes::Owed::kRunHere);
  Locked lock(this);
  if (phase_ != Phase::kOpen) return;
  // The message's rejections, like its answers, wait for its parts (see
  // HeldLocked(); best effort when a write was already waiting for earlier
  // messages).
  const std::uint64_t message = ++messages_;
  const std::int64_t dispatched_ns = metrics::NowNanos();
  const int answered_before = next_.responses_size();
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
    // One probe of pending_ per request: its entry is made here, and taken
    // out again if the request is refused below.
    const auto [entry, fresh] = pending_.try_emplace(id);
    if (!fresh) {
      RejectLocked(id, op_name, absl::AlreadyExistsError(absl::StrCat(
                                    "id: request ", id, " of this session is still pending")));
      continue;
    }
    const auto refuse = [&, entry = entry](const absl::Status& status)
                            ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      pending_.erase(entry);
      RejectLocked(id, op_name, status);
    };
    if (draining_ && op != v1::Request::kCancel) {
      refuse(absl::UnavailableError(
          "server draining: finish up and open a new session on another server"));
      continue;
    }
    // A cancel frees what it cancels: it is let in above the limit. (The
    // request's own entry is not counted.)
    if (const std::size_t unanswered = pending_.size() - 1;
        unanswered >= o.max_pending_requests && op != v1::Request::kCancel) {
      refuse(absl::ResourceExhaustedError(
          absl::StrCat("max_pending_requests: the session has ", unanswered,
                       " requests unanswered, the server's limit")));
      continue;
    }
    if (op == v1::Request::kCancel) {
      const auto target = pending_.find(request.cancel().request_id());
      // A cancel of its own id finds no request: it is not pending yet.
      if (target == pending_.end() || target == entry) {
        pending_.erase(entry);
        *next_.add_responses() = ErrorResponse(
            id, absl::NotFoundError(absl::StrCat("cancel.request_id: no request ",
                                                 request.cancel().request_id(),
                                                 " of this session is pending")));
        continue;
      }
      const std::uint32_t shard = target->second.shard;
      entry->second = PendingRequest{.shard = shard, .wait = false};
      Prepared& prepared = batch_for(shard).emplace_back();
      prepared.request = &request;
      prepared.dispatched_ns = dispatched_ns;
      continue;
    }
    Prepared prepared;
    prepared.dispatched_ns = dispatched_ns;
    if (absl::Status checked = Check(request, &prepared); !checked.ok()) {
      refuse(checked);
      continue;
    }
    const bool wait = IsWait(op);
    if (wait && waits_ >= o.max_waits_per_session) {
      refuse(
          absl::ResourceExhaustedError(absl::StrCat("max_waits_per_session: the session has ",
                                                    waits_, " waits pending, the server's limit")));
      continue;
    }
    std::uint16_t ns = 0;
    if (caller_ != nullptr) {
      if (absl::Status admitted = AdmitLocked(request, wait, &ns); !admitted.ok()) {
        refuse(admitted);
        continue;
      }
    }
    // The name is hashed once: for its shard, and for its registry there.
    const Node::Placement placement = node_->Place(request.name());
    entry->second = PendingRequest{
        .shard = static_cast<std::uint32_t>(placement.shard), .ns = ns, .wait = wait};
    if (wait) ++waits_;
    prepared.request = &request;
    prepared.name_hash = placement.hash;
    batch_for(placement.shard).push_back(std::move(prepared));
  }
  // Only a message that can be answered in part is tracked (see
  // HeldLocked()): one with parts on several shards, or with rejections
  // waiting for its one part. The others (most) cost the shards nothing.
  const bool rejected = next_.responses_size() > answered_before;
  const bool tracked = batches.size() > 1 || (rejected && !batches.empty());
  if (tracked) {
    unrun_.push_back(Unrun{.message = message,
                           .parts = static_cast<std::uint32_t>(batches.size()),
                           .answered = rejected});
  }
  if (batches.empty()) {
    PumpLocked();
    return;
  }
  // The requests go to the shards whole: a swap, with the Request objects
  // (and the pointers to them in the batches) left where they are. The
  // reactor's message gets the cleared requests of an earlier message to
  // parse the next one into.
  session_internal::MessageRequests* taken = spare_requests_.exchange(nullptr);
  if (taken == nullptr) taken = new session_internal::MessageRequests;
  taken->requests.Swap(requests);
  taken->parts.store(static_cast<std::uint32_t>(batches.size()), std::memory_order_relaxed);
  // Posting under mu_ orders every batch before the End() of the session.
  for (auto& [index, batch] : batches) {
    node_->RunOn(index, [part = session_internal::MessagePart(shared_from_this(), taken),
                         part_of = tracked ? message : 0,
                         batch = std::move(batch)](Node::Shard& shard) mutable {
      part.state()->RunBatch(shard, part_of, batch);
    });
  }
  PumpLocked();
}

void SessionState::HalfClose() {
  Locked lock(this);
  if (phase_ != Phase::kOpen && phase_ != Phase::kOpening) return;
  phase_ = Phase::kClosing;
  close_reason_ = "the client closed it";
  closed_by_client_ = true;
  EndShardsLocked();
  PumpLocked();
}

void SessionState::EndWith(const absl::Status& status) {
  Locked lock(this);
  EndWithLocked(status);
}

void SessionState::EndByClient() {
  Locked lock(this);
  if (phase_ == Phase::kFinishing) return;
  EndWithLocked(absl::CancelledError("the client cancelled the call"));
  closed_by_client_ = true;
}

void SessionState::LogClosed() const {
  std::string reason;
  bool by_client = false;
  {
    absl::MutexLock lock(&mu_);
    reason = close_reason_;
    by_client = closed_by_client_;
  }
  // Not under mu_: a blocked stderr must not stall the shards' flushes.
  log::Write(by_client ? log::Level::kDebug : log::Level::kInfo, "session closed",
             {{"session", id_}, {"client", client_name_}, {"reason", reason}});
}

bool SessionState::ContinueReading() {
  std::size_t unread = 0;
  {
    Locked lock(this);
    if (phase_ != Phase::kOpen) return false;
    if (throttle_ > absl::ZeroDuration()) {
      const absl::Duration pause = std::min(throttle_, absl::Seconds(1));
      throttle_ = absl::ZeroDuration();
      read_paused_ = true;
      throttled_ = true;
      service_->ResumeAt(absl::Now() + std::min(pause, lease_ / 4), weak_from_this());
      return false;
    }
    if (!write_in_flight_) return true;
    // Measured in steps of 64 answers (PumpLocked()): a few KiB of slack
    // against a bound of at least 4 KiB, and no size computed per message.
    if (unread_bytes_ <= options().max_unread_bytes) return true;
    MeasureLocked();
    if (unread_bytes_ <= options().max_unread_bytes || phase_ != Phase::kOpen) {
      return phase_ == Phase::kOpen;
    }
    read_paused_ = true;
    unread = unread_bytes_;
  }
  if (options().log) {
    log::Debug("session paused: the client is not reading its answers",
               {{"session", id_}, {"client", client_name_}, {"unread_bytes", unread}});
  }
  return false;
}

void SessionState::MeasureLocked() {
  for (int i = measured_responses_; i < next_.responses_size(); ++i) {
    // The field's tag and length prefix: a few bytes more than the message.
    unread_bytes_ += next_.responses(i).ByteSizeLong() + 4;
  }
  measured_responses_ = next_.responses_size();
  for (int i = measured_notices_; i < next_.notices_size(); ++i) {
    unread_bytes_ += next_.notices(i).ByteSizeLong() + 4;
  }
  measured_notices_ = next_.notices_size();
  // Answers still come while reading is paused (those of the requests read
  // before), up to max_pending_requests of them: a client that reads late
  // is not ended for those, hence a floor of 64 MiB.
  const std::size_t hard = std::max<std::size_t>(4 * options().max_unread_bytes, 64 << 20);
  // Only while reading is paused: a client that reads may get a burst of
  // answers at once (a delete that fails many waits) and is not ended.
  if (read_paused_ && unread_bytes_ > hard && phase_ != Phase::kFinishing) {
    EndUnreadLocked(absl::ResourceExhaustedError(absl::StrCat(
        "max_unread_bytes: the client is not reading its answers: ", unread_bytes_,
        " bytes wait behind the write in flight, past the hard bound of ", hard,
        " (4 x max_unread_bytes, at least 64 MiB); everything the session held is released")));
  }
}

void SessionState::EndUnreadLocked(const absl::Status& status) {
  EndWithLocked(status);
  // The write in flight completes only when the client reads, and the
  // status could only follow it: the call is cancelled instead (the client
  // sees CANCELLED; the log says why). Its holds are released already.
  if (write_in_flight_ && reactor_ != nullptr && !finish_called_ && !cancelling_) {
    cancelling_ = true;
    cancel_ = reactor_;
    reactor_->Pin();
  }
}

void SessionState::EndWithLocked(const absl::Status& status) {
  if (phase_ == Phase::kFinishing) return;
  phase_ = Phase::kFinishing;
  finish_status_ = ToGrpcStatus(status);
  close_reason_ = status.ToString();
  closed_by_client_ = false;  // the server's end, unless EndByClient() says otherwise
  EndShardsLocked();
  PumpLocked();
}

bool SessionState::WriteDone(bool ok) {
  Locked lock(this);
  write_in_flight_ = false;
  // A failed write ends the session; if its end was decided already (it
  // waited for this write), the pump below finishes the stream.
  if (!ok) EndWithLocked(absl::CancelledError("a write failed: the client is gone"));
  PumpLocked();
  // The client read a write: what waited behind it has gone out (or goes
  // out with no write in flight), so reading resumes, unless the quota's
  // pause is not over (its timer resumes it).
  if (!read_paused_ || throttled_) return false;
  read_paused_ = false;
  return phase_ == Phase::kOpen;
}

void SessionState::Drain(absl::Duration grace) {
  Locked lock(this);
  if (phase_ == Phase::kFinishing || draining_) return;
  draining_ = true;
  // A session not yet open is refused when its open arrives (Open()): the
  // first message it gets must carry `opened`, or nothing.
  if (phase_ == Phase::kOpening) return;
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

SessionState::Locked::~Locked() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  Reactor* const reactor = state_->start_write_;
  state_->start_write_ = nullptr;
  Reactor* const cancel = state_->cancel_;
  state_->cancel_ = nullptr;
  v1::ServerMessage* const message = &state_->writing_;
  state_->mu_.Unlock();
  if (cancel != nullptr) {
    // The reactor lives: it was pinned, and End() is held back
    // (cancelling_) until the cancel has been asked for.
    cancel->Cancel();
    {
      Locked lock(state_);
      state_->cancelling_ = false;
      state_->PumpLocked();
    }
    cancel->Unpin();
  }
  // No lock: nothing touches writing_ or ends the call until WriteDone().
  if (reactor == nullptr) return;
  if (writes_after_turns != nullptr) {
    writes_after_turns->emplace_back(reactor, message);
  } else {
    reactor->Write(message);
  }
}

void SessionState::PumpLocked() {
  if (reactor_ == nullptr || finish_called_ || cancelling_ || resuming_) return;
  if (write_in_flight_) {
    // What cannot go out now is counted against max_unread_bytes, unless
    // it is little (most writes carry a few answers).
    if (next_.responses_size() - measured_responses_ >= 64 ||
        next_.notices_size() > measured_notices_) {
      MeasureLocked();
    }
    return;
  }
  if (finish_status_.has_value()) {
    finish_called_ = true;
    UncountLocked();
    reactor_->End(*finish_status_);
    return;
  }
  if (HasOutgoingLocked()) {
    if (!hold_fixed_) {
      hold_fixed_ = true;
      hold_through_ = messages_;
    }
    if (HeldLocked()) return;  // the part that runs last pumps
    hold_fixed_ = false;
    writing_.Swap(&next_);
    next_.Clear();
    unread_bytes_ = 0;
    measured_responses_ = 0;
    measured_notices_ = 0;
    write_in_flight_ = true;
    start_write_ = reactor_;
    reactor_->CountWrite();
    return;
  }
  if (phase_ == Phase::kClosing && pending_.empty() && ends_outstanding_ == 0) {
    finish_called_ = true;
    UncountLocked();
    reactor_->End(grpc::Status::OK);
  }
}

// ---------------------------------------------------------------------------
// SessionState, shard side.

void ShardSession::Answer(v1::Response response) {
  answers_.Add()->Swap(&response);
  ScheduleFlush();
}

v1::Response* ShardSession::AddAnswer(std::uint64_t id) {
  v1::Response* response = answers_.Add();
  response->set_id(id);
  ScheduleFlush();
  return response;
}

void ShardSession::AnswerWhenDurable(v1::Response response) {
  KeptState* kept = shard_->kept.get();
  if (kept == nullptr || !kept->AnyPending()) {
    Answer(std::move(response));
    return;
  }
  kept->WhenDurable([self = state_->shared_from_this(), this,
                     response = std::move(response)](const absl::Status& durable) mutable {
    if (!durable.ok() && (!response.has_status() || response.status().code() == 0)) {
      response = session_internal::ErrorResponse(
          response.id(), absl::UnavailableError(absl::StrCat(
                             "done, but not durable: it may not survive a restart (",
                             durable.message(), ")")));
    }
    Answer(std::move(response));
  });
}

void ShardSession::Tell(v1::Notice notice) {
  notices_.push_back(std::move(notice));
  ScheduleFlush();
}

void ShardSession::ScheduleFlush() {
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  // After everything this turn of the loop resumes: one flush carries all.
  // The closure holds the session by a pointer to this part of it (an
  // aliasing shared_ptr, 16 bytes): it fits in the AnyInvocable itself,
  // with no allocation per flush.
  shard_->loop->Defer([self = std::shared_ptr<ShardSession>(state_->shared_from_this(), this)] {
    self->state_->Flush(self.get());
  });
}

void SessionState::PartsRunLocked(const std::vector<std::uint64_t>& messages) {
  // unrun_ is in message order: a binary search finds each.
  const auto begin = unrun_.begin() + static_cast<std::ptrdiff_t>(unrun_head_);
  for (const std::uint64_t message : messages) {
    const auto it = std::lower_bound(
        begin, unrun_.end(), message,
        [](const Unrun& unrun, std::uint64_t wanted) { return unrun.message < wanted; });
    if (it != unrun_.end() && it->message == message) {
      --it->parts;
      it->answered = true;
    }
  }
  while (unrun_head_ < unrun_.size() && unrun_[unrun_head_].parts == 0) ++unrun_head_;
  if (unrun_head_ == unrun_.size()) {
    unrun_.clear();
    unrun_head_ = 0;
  } else if (unrun_head_ >= 64 && unrun_head_ * 2 >= unrun_.size()) {
    // A client that keeps messages in flight may never let it empty.
    unrun_.erase(unrun_.begin(), unrun_.begin() + static_cast<std::ptrdiff_t>(unrun_head_));
    unrun_head_ = 0;
  }
}

void SessionState::Flush(ShardSession* ss) {
  ss->flush_scheduled_ = false;
  Locked lock(this);
  PartsRunLocked(ss->parts_run_);
  ss->parts_run_.clear();
  for (const v1::Response& response : ss->answers_) {
    const auto it = pending_.find(response.id());
    if (it != pending_.end()) {
      if (it->second.wait) {
        --waits_;
        if (it->second.ns != 0 && namespaces_[it->second.ns] != nullptr) {
          namespaces_[it->second.ns]->RemoveWaiter();
        }
      }
      pending_.erase(it);
    }
  }
  if (phase_ != Phase::kFinishing) {
    if (next_.responses_size() == 0) {
      // The answers become the next write's as they are (a swap of the
      // fields; the turn gets the write's cleared elements to reuse).
      next_.mutable_responses()->Swap(&ss->answers_);
    } else {
      for (v1::Response& response : ss->answers_) next_.add_responses()->Swap(&response);
    }
  }
  ss->answers_.Clear();
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
    tables_[shard.index]->sessions.emplace(id_, slot.get());
  }
  return slot.get();
}

void SessionState::RunBatch(Node::Shard& shard, std::uint64_t part_of,
                            std::vector<Prepared>& batch) {
  ShardSession* ss = ShardSessionFor(shard);
  for (Prepared& prepared : batch) Execute(ss, prepared);
  if (part_of == 0) return;
  // The flush after this turn's work tells the stream this part has run,
  // with whatever it answered.
  ss->parts_run_.push_back(part_of);
  ss->ScheduleFlush();
}

void SessionState::EndOnShard(Node::Shard& shard) {
  if (std::unique_ptr<ShardSession>& ss = shards_[shard.index]; ss != nullptr) {
    tables_[shard.index]->sessions.erase(id_);
    ss->End();
  }
  if (shard.index == home_shard_) shard.loop->CancelTimer(&lease_timer_);
  // The waits that End() failed resume on this loop and answer (their
  // answers flush after them); PumpLocked() finishes a closing stream once
  // nothing is pending and every shard has ended.
  Locked lock(this);
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

void SessionState::OnThrottleTimer() {
  Reactor* reactor = nullptr;
  {
    absl::MutexLock lock(&mu_);
    throttled_ = false;
    if (phase_ != Phase::kOpen || !read_paused_ || reactor_ == nullptr || finish_called_ ||
        cancelling_) {
      return;
    }
    // Back-pressure holds it too: the write's completion resumes it.
    if (write_in_flight_ && unread_bytes_ > options().max_unread_bytes) return;
    read_paused_ = false;
    resuming_ = true;
    reactor = reactor_;
    reactor->Pin();
  }
  reactor->ResumeRead();
  {
    Locked lock(this);
    resuming_ = false;
    PumpLocked();
  }
  reactor->Unpin();
}

void SessionState::OnLeaseTimer() {
  runtime::EventLoop& loop = *lease_loop_;
  const absl::Time now = loop.Now();
  const std::int64_t heard_nanos = last_heard_nanos_.load(std::memory_order_relaxed);
  const absl::Time heard = absl::FromUnixNanos(heard_nanos);
  const absl::Time expiry = heard + lease_;
  const absl::Time warning = heard + lease_ * 2 / 3;
  if (now >= expiry) {
    Locked lock(this);
    if (read_paused_ && !throttled_) {
      // Not heard because not read: the client stopped reading its answers.
      EndUnreadLocked(absl::ResourceExhaustedError(absl::StrCat(
          "max_unread_bytes: the client read none of its answers for its lease (",
          absl::FormatDuration(lease_), ") while more than max_unread_bytes (",
          options().max_unread_bytes,
          ") waited: a client must read its stream; everything the session held is "
          "released")));
    } else {
      // A write the client does not read would hold the end back: the call
      // is cancelled then too.
      EndUnreadLocked(absl::AbortedError(absl::StrCat(
          "session lease expired: nothing heard from the client for ",
          absl::FormatDuration(lease_))));
    }
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
      Locked lock(this);
      *next_.add_notices() = std::move(notice);
      PumpLocked();
    }
    loop.AddTimer(&lease_timer_, expiry);
  } else {
    loop.AddTimer(&lease_timer_, warning);
  }
}

// ---------------------------------------------------------------------------
// SessionService.

DeferSessionWrites::DeferSessionWrites() : outer_(writes_after_turns == nullptr) {
  if (outer_) writes_after_turns = &writes_;
}

DeferSessionWrites::~DeferSessionWrites() {
  if (!outer_) return;
  writes_after_turns = nullptr;
  for (auto& [reactor, message] : writes_) reactor->Write(message);
}

SessionService::SessionService(Node* node, runtime::Clock* clock, Options options)
    : node_(node),
      clock_(clock),
      options_(std::move(options)),
      rejection_log_(options_.rejections_logged_per_second,
                     2 * options_.rejections_logged_per_second) {
  tables_.reserve(node_->shard_count());
  for (std::size_t i = 0; i < node_->shard_count(); ++i) {
    tables_.push_back(std::make_shared<ShardTable>());
  }
  // Holds the server takes away (Reset, Delete) are told to their session.
  for (std::size_t i = 0; i < node_->shard_count(); ++i) {
    node_->RunOn(i, [table = tables_[i]](Node::Shard& shard) {
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

SessionService::~SessionService() {
  StopQueues();
  std::thread throttle;
  {
    absl::MutexLock lock(&throttle_mu_);
    throttle_stop_ = true;
    throttle = std::move(throttle_thread_);
  }
  if (throttle.joinable()) throttle.join();
}

bool SessionService::ThrottleDue() const {
  return throttle_stop_ || (!throttled_.empty() && throttled_.begin()->first <= absl::Now());
}

void SessionService::ResumeAt(absl::Time at, std::weak_ptr<SessionState> session) {
  absl::MutexLock lock(&throttle_mu_);
  if (throttle_stop_) return;
  if (!throttle_thread_.joinable()) throttle_thread_ = std::thread([this] { RunThrottle(); });
  throttled_.emplace(at, std::move(session));
}

void SessionService::RunThrottle() {
  absl::MutexLock lock(&throttle_mu_);
  while (!throttle_stop_) {
    const absl::Time now = absl::Now();
    if (throttled_.empty() || throttled_.begin()->first > now) {
      const absl::Time next =
          throttled_.empty() ? now + absl::Seconds(1) : throttled_.begin()->first;
      throttle_mu_.AwaitWithDeadline(absl::Condition(this, &SessionService::ThrottleDue), next);
      continue;
    }
    std::weak_ptr<SessionState> due = std::move(throttled_.begin()->second);
    throttled_.erase(throttled_.begin());
    throttle_mu_.Unlock();
    if (std::shared_ptr<SessionState> session = due.lock()) session->OnThrottleTimer();
    throttle_mu_.Lock();
  }
}

void SessionService::AddTo(grpc::ServerBuilder* builder, std::size_t queues) {
  if (queues == 0) {
    callback_ = std::make_unique<SessionCallbackService>(this);
    builder->RegisterService(callback_.get());
    return;
  }
  builder->RegisterService(&async_);
  for (std::size_t i = 0; i < queues; ++i) queues_.push_back(builder->AddCompletionQueue());
}

void SessionService::Start() {
  for (const auto& queue : queues_) {
    threads_.emplace_back([this, queue = queue.get()] { Poll(queue); });
  }
}

// Streams asked for ahead on each queue, so that a burst of new sessions
// does not wait for one accept at a time.
constexpr int kAcceptsAhead = 16;

void SessionService::Poll(grpc::ServerCompletionQueue* queue) {
  for (int i = 0; i < kAcceptsAhead; ++i) new QueueReactor(this, queue);
  void* tag = nullptr;
  bool ok = false;
  while (queue->Next(&tag, &ok)) {
    QueueReactor::Tag* done = static_cast<QueueReactor::Tag*>(tag);
    done->reactor->Proceed(done->op, ok);
  }
}

void SessionService::StopQueues() {
  if (threads_.empty()) return;
  // A stream not yet done may still start a write or its finish (from a
  // shard), and an accepted stream asks for the next: the queues must take
  // them, so they are shut down only once no reactor is left. After the
  // server's Shutdown() every call is cancelled and every request for a
  // stream fails, so that comes soon; a queue shut down earlier would abort
  // the process on the next operation started on it.
  const absl::Time start = absl::Now();
  bool told = false;
  while (queue_reactors_.load(std::memory_order_acquire) > 0) {
    if (!told && absl::Now() - start > absl::Seconds(5)) {
      log::Info("still waiting for streams to end", {{"streams", queue_reactors_.load()}});
      told = true;
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
  for (const auto& queue : queues_) queue->Shutdown();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

absl::Status SessionService::Admit(Reactor* reactor) {
  absl::MutexLock lock(&mu_);
  if (draining_) {
    return absl::UnavailableError(
        "server draining: open the session on another server");
  }
  // Counted out when the stream's end is decided (SessionState::Uncount), so
  // that a client may open a new session as soon as it saw the old one end.
  if (open_sessions_.fetch_add(1) >= options_.max_sessions) {
    open_sessions_.fetch_sub(1);
    return absl::ResourceExhaustedError(absl::StrCat(
        "max_sessions: ", options_.max_sessions, " sessions are open, the server's limit"));
  }
  reactor->state().Count();
  live_.insert(reactor);
  return absl::OkStatus();
}

void SessionService::Forget(Reactor* reactor) {
  {
    absl::MutexLock lock(&names_mu_);
    client_names_.erase(reactor->state().id());
  }
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

std::string SessionService::ClientName(std::uint64_t session_id) const {
  absl::MutexLock lock(&names_mu_);
  const auto it = client_names_.find(session_id);
  return it == client_names_.end() ? std::string() : it->second;
}

std::size_t SessionService::live_sessions() const {
  absl::MutexLock lock(&mu_);
  return live_.size();
}

}  // namespace baton::service

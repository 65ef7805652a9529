// Copyright 2026 The Baton Authors.
//
// baton::Client: calls, holds, routing, the dispatcher. See client_impl.h;
// one node's session is in node_session.cc.

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

absl::Status FromProto(const v1::Status& status) {
  if (status.code() == 0) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.code()), status.message());
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

namespace {

std::string DefaultOwnerKey() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return absl::StrCat(host, ":", getpid());
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
      if (answer.redirect().address().empty()) {  // no address to go to: ask again
        RetryLater(std::move(call), status);
        return;
      }
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

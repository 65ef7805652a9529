// Copyright 2026 The Baton Authors.

#include "server/service/admin_service.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/auth/grpc_credentials.h"
#include "server/core/instance_name.h"
#include "server/core/priority_semaphore.h"
#include "server/core/rate_limiter.h"
#include "server/log/log.h"
#include "server/runtime/event_loop.h"
#include "server/runtime/task.h"
#include "server/service/proto_convert.h"
#include "server/service/session_service.h"
#include "server/service/status_convert.h"

namespace baton::service {

namespace {

using grpc::ServerUnaryReactor;

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

// CutUtf8() is the longest prefix of the UTF-8 `text` of at most `max_bytes`
// that does not end inside a character.
std::string_view CutUtf8(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t end = max_bytes;
  // Back off the continuation bytes (10xxxxxx) of a character cut in two.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

// Audit is the log line of one Admin mutation (declare, delete, set-rate,
// set-bound, reset): who (peer, client name), what, on which name, and the
// result. Made on the gRPC thread when the call arrives (the context may be
// gone by the time the shard answers), written when the result is known.
// On a call another node of the cluster forwarded, `via` is that node's id
// (as it says) and, when its certificate vouched for the caller's
// (cluster_peers), `via_peer` is the cluster_peers entry it matched: the
// principal is then the caller's, and the peer the forwarding node's address.
class Audit {
 public:
  Audit(grpc::CallbackServerContext* context, std::string_view what, const std::string& name)
      : peer_(context->peer()), what_(what), name_(Cut(name)) {
    // Self-asserted by the client: who it says it is, for the log only.
    const auto& metadata = context->client_metadata();
    if (auto it = metadata.find(kClientNameKey); it != metadata.end()) {
      client_ = Cut(std::string_view(it->second.data(), it->second.size()));
    } else if (auto agent = metadata.find("user-agent"); agent != metadata.end()) {
      client_ = Cut(std::string_view(agent->second.data(), agent->second.size()));
    }
    if (auto it = metadata.find(cluster::kForwardedByKey); it != metadata.end()) {
      via_ = Cut(std::string_view(it->second.data(), it->second.size()));
    }
  }
  // The --auth_file principal the caller authenticated as, and the cluster
  // peer that vouched for it ("" when none did).
  void set_principal(std::string principal, std::string via_peer) {
    principal_ = std::move(principal);
    via_peer_ = std::move(via_peer);
  }
  // Done() logs the result; `detail` is what changed ("bound=8"). Refusals
  // are logged at a bounded rate: a client can cause them at will.
  void Done(const absl::Status& result, const std::string& detail = "") const {
    static log::RateLimiter refusals(/*per_second=*/10, /*burst=*/20);
    std::int64_t not_logged_before = 0;
    if (!result.ok()) {
      not_logged_before = refusals.Allow(absl::Now());
      if (not_logged_before < 0) return;
    }
    log::Write(result.ok() ? log::Level::kInfo : log::Level::kWarn, "admin",
               {{"call", what_},
                {"name", name_},
                {"detail", detail},
                {"result", result.ok() ? std::string("OK") : result.ToString()},
                {"peer", peer_},
                {"principal", principal_},
                {"client", client_},
                {"via", via_},
                {"via_peer", via_peer_},
                {"not_logged_before", not_logged_before}});
  }

 private:
  // Cut() keeps at most 256 bytes (a refused name may be megabytes), not
  // splitting a character.
  static std::string Cut(std::string_view text) { return std::string(CutUtf8(text, 256)); }
  // The metadata a client may send to be named in the log ("baton" CLI).
  static constexpr char kClientNameKey[] = "baton-client-name";
  std::string peer_;
  std::string principal_;
  std::string via_peer_;
  std::string client_;
  std::string via_;
  std::string what_;
  std::string name_;
};

// Authorize() is OK when the caller of `context` has `role` on the
// namespace of `name` (or access control is off); the audit line names the
// principal.
absl::Status Authorize(auth::Access* access, grpc::CallbackServerContext* context,
                       std::string_view name, auth::Role role, Audit* audit = nullptr) {
  if (access == nullptr || !access->enabled()) return absl::OkStatus();
  auth::Caller caller(access, auth::CredentialsOf(*context));
  absl::Status allowed = caller.Allow(name, role);
  if (audit != nullptr) audit->set_principal(caller.principal(), caller.via());
  return allowed;
}

// Finish() answers the call with `status`; returns the reactor for chaining.
ServerUnaryReactor* Finish(ServerUnaryReactor* reactor, const absl::Status& status) {
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// WithField() prefixes an INVALID_ARGUMENT from the core with the request
// field it is about ("rate: must be ..."); other statuses pass unchanged.
absl::Status WithField(const absl::Status& status, absl::string_view field) {
  if (status.code() != absl::StatusCode::kInvalidArgument) return status;
  // The core may name it already ("tokens must be at most ...").
  if (absl::StartsWith(status.message(), absl::StrCat(field, " "))) return status;
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", status.message()));
}

absl::Status PositiveFinite(double value, absl::string_view field) {
  if (std::isfinite(value) && value > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": must be finite and > 0, got ", value));
}

absl::Status NotFound(std::string_view name) {
  return absl::NotFoundError(
      absl::StrCat("name: no instance named '", Absl(name), "'"));
}

// NotFoundIn() is what a lookup of `name` in `registry` that found nothing
// answers: NOT_FOUND, unless the name is not this node's to serve now (a
// cluster's: the admission's redirect, or UNAVAILABLE while it moves here).
absl::Status NotFoundIn(const core::Registry& registry, std::string_view name) {
  if (absl::Status here = registry.Admissible(name); !here.ok()) return here;
  return NotFound(name);
}

// FindAs() finds `name` and requires it to be of the primitive type T.
template <typename T>
absl::StatusOr<core::Instance*> FindAs(core::Registry& registry,
                                       std::string_view name,
                                       std::string_view kind_name) {
  core::Instance* instance = registry.Find(name);
  if (instance == nullptr) return NotFoundIn(registry, name);
  if (instance->As<T>() == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "name: '", Absl(name), "' is a ", Absl(core::KindName(instance->kind())),
        ", not a ", Absl(kind_name)));
  }
  registry.Touch(instance);
  return instance;
}

// CheckKind() verifies an optional expected kind against the instance.
absl::Status CheckKind(const core::Instance& instance, v1::Kind expected) {
  if (expected == v1::KIND_UNSPECIFIED) return absl::OkStatus();
  if (KindToProto(instance.kind()) == expected) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "kind: '", Absl(instance.name()), "' is a ",
      Absl(core::KindName(instance.kind())), ", not the kind asked for"));
}

runtime::Task<void> TryAcquireOnce(core::RateLimiter* limiter,
                                   core::Session* session, double tokens,
                                   v1::TryAcquireResponse* response,
                                   ServerUnaryReactor* reactor) {
  // Named local, not a temporary in the co_await (see waiter.h: GCC 12).
  core::WaitOptions options{.session = session,
                            .owner_key = "admin",
                            .timeout = absl::ZeroDuration()};
  core::WaitResult result = co_await limiter->Acquire(std::move(options), tokens);
  if (result.ok()) {
    response->set_allowed(true);
    response->set_tokens_left(result.grant.tokens_left);
  } else if (result.status.code() == absl::StatusCode::kDeadlineExceeded) {
    response->set_allowed(false);
    response->set_tokens_left(limiter->tokens());
    // Saturates at ~292 years, well within google.protobuf.Duration.
    const std::int64_t nanos = absl::ToInt64Nanoseconds(result.retry_after);
    response->mutable_retry_after()->set_seconds(nanos / 1'000'000'000);
    response->mutable_retry_after()->set_nanos(
        static_cast<std::int32_t>(nanos % 1'000'000'000));
  } else {
    Finish(reactor, WithField(result.status, "tokens"));
    co_return;
  }
  reactor->Finish(grpc::Status::OK);
}

// FinishWhenDurable() finishes the call with `status` once what it changed
// of `name`'s kept state (KeptState::Changed()) is durable: at once when
// nothing of `name` is pending, or nothing is kept. If the store fails,
// the call fails UNAVAILABLE: the change is made but may not survive a
// crash.
void FinishWhenDurable(Node::Shard& shard, std::string_view name,
                       ServerUnaryReactor* reactor, const absl::Status& status) {
  KeptState* kept = shard.kept.get();
  if (kept == nullptr || !kept->Pending(name)) {
    Finish(reactor, status);
    return;
  }
  kept->WhenDurable([reactor, status](const absl::Status& durable) {
    if (status.ok() && !durable.ok()) {
      Finish(reactor, absl::UnavailableError(absl::StrCat(
                          "done, but not durable: it may not survive a restart (",
                          durable.message(), ")")));
      return;
    }
    Finish(reactor, status);
  });
}

// OnInstanceOf<T>() answers a call about the instance `name`, which must be a
// T: it checks the name here, then on the name's shard finds the instance
// (NOT_FOUND, or FAILED_PRECONDITION when it is another kind) and finishes
// the call with the status `fn(T&, shard, reactor)` returns; `fn` returns
// nullopt when it finishes the call itself (through `reactor`). `name` must live until the call ends
// (it is the request's).
template <typename T, typename Fn>
ServerUnaryReactor* OnInstanceOf(Node* node, grpc::CallbackServerContext* context,
                                 const std::string& name,
                                 std::string_view kind_name, Fn fn,
                                 std::optional<Audit> audit = std::nullopt) {
  ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status valid = core::ValidateName(name); !valid.ok()) {
    if (audit) audit->Done(valid);
    return Finish(reactor, valid);
  }
  // A shard that sleeps runs the call here, on this gRPC thread; the
  // session writes its turns decide on start after them.
  DeferSessionWrites defer_writes;
  runtime::EventLoop::DeferWakes run_here(runtime::EventLoop::DeferWakes::Owed::kRunHere);
  node->Run(name, [&name, kind_name, reactor, fn = std::move(fn),
                   audit = std::move(audit)](Node::Shard& shard) mutable {
    absl::StatusOr<core::Instance*> instance =
        FindAs<T>(shard.registry, name, kind_name);
    if (!instance.ok()) {
      if (audit) audit->Done(instance.status());
      Finish(reactor, instance.status());
      return;
    }
    const std::optional<absl::Status> status =
        fn(*(*instance)->As<T>(), shard, reactor);
    if (!status.has_value()) return;
    FinishWhenDurable(shard, name, reactor, *status);
  });
  return reactor;
}

}  // namespace

ServerUnaryReactor* AdminService::Declare(grpc::CallbackServerContext* context,
                                          const v1::DeclareRequest* request,
                                          v1::DeclareResponse* response) {
  ServerUnaryReactor* reactor = context->DefaultReactor();
  Audit audit(context, "declare", request->name());
  if (absl::Status allowed =
          Authorize(access_, context, request->name(), auth::Role::kAdmin, &audit);
      !allowed.ok()) {
    audit.Done(allowed);
    return Finish(reactor, allowed);
  }
  if (absl::Status valid = core::ValidateName(request->name()); !valid.ok()) {
    audit.Done(valid);
    return Finish(reactor, valid);
  }
  absl::StatusOr<core::InstanceConfig> config = ConfigFromProto(request->config(), max_key_bytes_);
  if (!config.ok()) {
    audit.Done(config.status());
    return Finish(reactor, config.status());
  }
  if (Forward(context, request->name(), request, response, reactor,
              [](v1::Admin::Stub* stub, grpc::ClientContext* client, const auto* q, auto* a,
                 std::function<void(grpc::Status)> done) {
                stub->async()->Declare(client, q, a, std::move(done));
              })) {
    return reactor;
  }
  node_->Run(request->name(), [request, response, reactor, audit = std::move(audit),
                               config = *std::move(config)](Node::Shard& shard) {
    const bool existed = shard.registry.Find(request->name()) != nullptr;
    absl::StatusOr<core::Instance*> instance =
        shard.registry.Declare(request->name(), config);
    if (!instance.ok()) {
      audit.Done(instance.status());
      Finish(reactor, instance.status());
      return;
    }
    response->set_created(!existed);
    ConfigToProto((*instance)->LiveConfig(), response->mutable_config());
    audit.Done(absl::OkStatus(), absl::StrCat(existed ? "existed " : "created ",
                                              response->config().ShortDebugString()));
    // Declared: kept from now on, even if it was created implicitly.
    if (shard.kept != nullptr) shard.kept->Changed(request->name());
    FinishWhenDurable(shard, request->name(), reactor, absl::OkStatus());
  });
  return reactor;
}

ServerUnaryReactor* AdminService::Describe(grpc::CallbackServerContext* context,
                                           const v1::DescribeRequest* request,
                                           v1::DescribeResponse* response) {
  ServerUnaryReactor* reactor = context->DefaultReactor();
  if (absl::Status allowed = Authorize(access_, context, request->name(), auth::Role::kUse);
      !allowed.ok()) {
    return Finish(reactor, allowed);
  }
  if (absl::Status valid = core::ValidateName(request->name()); !valid.ok()) {
    return Finish(reactor, valid);
  }
  if (Forward(context, request->name(), request, response, reactor,
              [](v1::Admin::Stub* stub, grpc::ClientContext* client, const auto* q, auto* a,
                 std::function<void(grpc::Status)> done) {
                stub->async()->Describe(client, q, a, std::move(done));
              })) {
    return reactor;
  }
  node_->Run(request->name(), [this, request, response, reactor](Node::Shard& shard) {
    core::Instance* instance = shard.registry.Find(request->name());
    if (instance == nullptr) {
      Finish(reactor, NotFoundIn(shard.registry, request->name()));
      return;
    }
    if (absl::Status kind = CheckKind(*instance, request->kind()); !kind.ok()) {
      Finish(reactor, kind);
      return;
    }
    SnapshotToProto(instance->Describe(), response);
    if (client_name_of_) {
      for (v1::Holder& holder : *response->mutable_holders()) {
        holder.set_client_name(client_name_of_(holder.session_id()));
      }
    }
    FinishWhenDurable(shard, request->name(), reactor, absl::OkStatus());
  });
  return reactor;
}

// ListMerge gathers the parts of one List call (a page from each shard of
// this node and, in a cluster, one from each other member) and answers the
// call when the last part is in: the names of every part in order, without
// duplicates (a name being handed over may be listed by its old and its new
// owner), the first page_size of them, next_page_token the last name
// answered. Each part has its first page_size names after the token, so the
// first page_size of their union are the cluster's.
//
// Threading: its methods are called from shard threads and gRPC callback
// threads; the last part to answer finishes the call, on its thread.
class AdminService::ListMerge {
 public:
  struct Entry {
    std::string name;
    v1::Kind kind = v1::KIND_UNSPECIFIED;
  };

  ListMerge(int page_size, std::size_t parts, v1::ListResponse* response,
            ServerUnaryReactor* reactor)
      : page_size_(page_size), response_(response), reactor_(reactor), remaining_(parts) {}

  // Add() is one shard's page of this node; `more`: the shard has names
  // past it.
  void Add(std::vector<Entry> entries, bool more) {
    {
      absl::MutexLock lock(&mu_);
      more_ = more_ || more;
      for (Entry& entry : entries) entries_.push_back(std::move(entry));
    }
    PartDone();
  }
  // Add() is another member's page.
  void Add(const v1::ListResponse& page) {
    {
      absl::MutexLock lock(&mu_);
      more_ = more_ || !page.next_page_token().empty();
      for (const v1::InstanceSummary& instance : page.instances()) {
        entries_.push_back({instance.name(), instance.kind()});
      }
    }
    PartDone();
  }
  // LocalFailed() is a shard's error (the request's: a bad page token); it
  // wins over any member's.
  void LocalFailed(absl::Status status) {
    {
      absl::MutexLock lock(&mu_);
      if (local_error_.ok()) local_error_ = std::move(status);
    }
    PartDone();
  }
  // PeerFailed() is another member's answer other than OK: the member is
  // unreachable when it did not answer (UNAVAILABLE, DEADLINE_EXCEEDED,
  // CANCELLED); any other error fails the call, naming the member.
  void PeerFailed(const cluster::Member& peer, const grpc::Status& status) {
    {
      absl::MutexLock lock(&mu_);
      switch (status.error_code()) {
        case grpc::StatusCode::UNAVAILABLE:
        case grpc::StatusCode::DEADLINE_EXCEEDED:
        case grpc::StatusCode::CANCELLED:
          unreachable_.push_back(peer.node_id);
          break;
        default:
          if (peer_error_.ok()) {
            peer_error_ = absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                                       absl::StrCat("node ", peer.node_id, " (", peer.address,
                                                    "): ", status.error_message()));
          }
      }
    }
    PartDone();
  }

 private:
  void PartDone() {
    {
      absl::MutexLock lock(&mu_);
      if (--remaining_ > 0) return;
    }
    // The last part: no other thread touches this object now.
    absl::MutexLock lock(&mu_);
    if (!local_error_.ok() || !peer_error_.ok()) {
      Finish(reactor_, !local_error_.ok() ? local_error_ : peer_error_);
      return;
    }
    std::sort(entries_.begin(), entries_.end(),
              [](const Entry& a, const Entry& b) { return a.name < b.name; });
    entries_.erase(std::unique(entries_.begin(), entries_.end(),
                               [](const Entry& a, const Entry& b) { return a.name == b.name; }),
                   entries_.end());
    bool more = more_;
    if (entries_.size() > static_cast<std::size_t>(page_size_)) {
      entries_.resize(static_cast<std::size_t>(page_size_));
      more = true;
    }
    for (Entry& entry : entries_) {
      v1::InstanceSummary* summary = response_->add_instances();
      summary->set_name(std::move(entry.name));
      summary->set_kind(entry.kind);
    }
    if (more && !entries_.empty()) {
      response_->set_next_page_token(response_->instances(response_->instances_size() - 1).name());
    }
    std::sort(unreachable_.begin(), unreachable_.end());
    for (std::string& node_id : unreachable_) response_->add_unreachable_nodes(std::move(node_id));
    reactor_->Finish(grpc::Status::OK);
  }

  const int page_size_;
  v1::ListResponse* const response_;
  ServerUnaryReactor* const reactor_;
  absl::Mutex mu_;
  std::size_t remaining_ ABSL_GUARDED_BY(mu_);
  bool more_ ABSL_GUARDED_BY(mu_) = false;  // some part has names past its page
  std::vector<Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> unreachable_ ABSL_GUARDED_BY(mu_);
  absl::Status local_error_ ABSL_GUARDED_BY(mu_);
  absl::Status peer_error_ ABSL_GUARDED_BY(mu_);
};

ServerUnaryReactor* AdminService::List(grpc::CallbackServerContext* context,
                                       const v1::ListRequest* request,
                                       v1::ListResponse* response) {
  ServerUnaryReactor* reactor = context->DefaultReactor();
  // With --auth_file, the caller sees the names of the namespaces it may
  // use, and no others.
  // Names outside them are skipped by each shard's scan, so pages and page
  // tokens hold only names the caller may see.
  std::function<bool(std::string_view)> visible;
  if (access_ != nullptr && access_->enabled()) {
    auth::Caller caller(access_, auth::CredentialsOf(*context));
    if (absl::Status known = caller.Authenticate(); !known.ok()) return Finish(reactor, known);
    visible = caller.Visible();
  }
  if (request->page_size() < 0) {
    return Finish(reactor, absl::InvalidArgumentError(absl::StrCat(
                               "page_size must be >= 0, got ", request->page_size())));
  }
  if (absl::Status valid = core::ValidateUtf8(request->prefix(), "prefix"); !valid.ok()) {
    return Finish(reactor, valid);
  }
  if (absl::Status valid = core::ValidateUtf8(request->page_token(), "page_token");
      !valid.ok()) {
    return Finish(reactor, valid);
  }
  std::optional<core::Kind> kind;
  if (request->kind() != v1::KIND_UNSPECIFIED) {
    absl::StatusOr<core::Kind> parsed = KindFromProto(request->kind(), "kind");
    if (!parsed.ok()) return Finish(reactor, parsed.status());
    kind = *parsed;
  }
  const int page_size =
      request->page_size() == 0
          ? core::Registry::kDefaultPageSize
          : std::min<int>(request->page_size(), core::Registry::kMaxPageSize);

  // Every shard lists its own names, and in a cluster every other member
  // its own (ListPeers); the last part to answer merges.
  std::vector<cluster::Member> peers;
  if (cluster_ != nullptr && !cluster::PeerChannels::IsForwarded(*context)) {
    std::int64_t revision = 0;
    for (cluster::Member& member : cluster_->Members(&revision)) {
      if (member.node_id != cluster_->node_id()) peers.push_back(std::move(member));
    }
  }
  auto merge = std::make_shared<ListMerge>(page_size, node_->shard_count() + peers.size(), response,
                                           reactor);
  ListPeers(context, request, peers, merge);
  for (std::size_t i = 0; i < node_->shard_count(); ++i) {
    node_->RunOn(i, [=](Node::Shard& shard) {
      absl::StatusOr<core::Registry::ListPage> page = shard.registry.List(
          request->prefix(), kind, page_size, request->page_token(), visible);
      if (!page.ok()) {
        merge->LocalFailed(page.status());
        return;
      }
      std::vector<ListMerge::Entry> entries;
      entries.reserve(page->entries.size());
      for (auto& entry : page->entries) {
        entries.push_back({std::move(entry.name), KindToProto(entry.kind)});
      }
      merge->Add(std::move(entries), !page->next_page_token.empty());
    });
  }
  return reactor;
}

void AdminService::ListPeers(grpc::CallbackServerContext* context, const v1::ListRequest* request,
                             const std::vector<cluster::Member>& peers,
                             const std::shared_ptr<ListMerge>& merge) {
  if (peers.empty()) return;
  // Each member gets 9/10 of the caller's time left (at most
  // kListPeerTimeout): the answer, naming those that did not answer, leaves
  // before the caller gives up.
  const auto now = std::chrono::system_clock::now();
  const auto left = context->deadline() - now;
  const auto deadline =
      now + std::min<std::chrono::system_clock::duration>(left - left / 10, kListPeerTimeout);
  for (const cluster::Member& peer : peers) {
    std::shared_ptr<v1::Admin::Stub> stub = StubFor(peer.address);
    struct PeerCall {
      grpc::ClientContext client;
      v1::ListResponse page;
    };
    auto call = std::make_shared<PeerCall>();
    cluster::PeerChannels::PrepareForwarded(*context, cluster_->node_id(), &call->client);
    call->client.set_deadline(deadline);
    // The request is the caller's: it lives until the call is finished,
    // which is after every part has answered.
    stub->async()->List(&call->client, request, &call->page,
                        [merge, call, stub, peer](grpc::Status status) {
                          if (status.ok()) {
                            merge->Add(call->page);
                          } else {
                            merge->PeerFailed(peer, status);
                          }
                        });
  }
}

ServerUnaryReactor* AdminService::Delete(grpc::CallbackServerContext* context,
                                         const v1::DeleteRequest* request,
                                         v1::DeleteResponse* response) {
  ServerUnaryReactor* reactor = context->DefaultReactor();
  Audit audit(context, "delete", request->name());
  if (absl::Status allowed =
          Authorize(access_, context, request->name(), auth::Role::kAdmin, &audit);
      !allowed.ok()) {
    audit.Done(allowed);
    return Finish(reactor, allowed);
  }
  if (absl::Status valid = core::ValidateName(request->name()); !valid.ok()) {
    audit.Done(valid);
    return Finish(reactor, valid);
  }
  if (absl::Status valid = core::ValidateUtf8(request->reason(), "reason"); !valid.ok()) {
    audit.Done(valid);
    return Finish(reactor, valid);
  }
  if (Forward(context, request->name(), request, response, reactor,
              [](v1::Admin::Stub* stub, grpc::ClientContext* client, const auto* q, auto* a,
                 std::function<void(grpc::Status)> done) {
                stub->async()->Delete(client, q, a, std::move(done));
              })) {
    return reactor;
  }
  node_->Run(request->name(), [request, response, reactor,
                               audit = std::move(audit)](Node::Shard& shard) {
    core::Instance* instance = shard.registry.Find(request->name());
    if (instance == nullptr) {
      const absl::Status missing = NotFoundIn(shard.registry, request->name());
      audit.Done(missing);
      Finish(reactor, missing);
      return;
    }
    if (absl::Status kind = CheckKind(*instance, request->kind()); !kind.ok()) {
      audit.Done(kind);
      Finish(reactor, kind);
      return;
    }
    // The holds revoked are the holders at the moment of deletion.
    response->set_revoked_holds(
        static_cast<std::int64_t>(instance->Describe().holders.size()));
    const std::string reason =
        request->reason().empty()
            ? absl::StrCat("instance '", request->name(), "' deleted")
            : absl::StrCat("instance '", request->name(),
                           "' deleted: ", Absl(CutUtf8(request->reason(), 256)));
    const absl::Status deleted = shard.registry.Delete(request->name(), absl::AbortedError(reason));
    audit.Done(deleted, absl::StrCat("revoked_holds=", response->revoked_holds(), " reason=",
                                     Absl(CutUtf8(request->reason(), 256))));
    if (deleted.ok() && shard.kept != nullptr) shard.kept->Changed(request->name());
    FinishWhenDurable(shard, request->name(), reactor, deleted);
  });
  return reactor;
}

ServerUnaryReactor* AdminService::SetRate(grpc::CallbackServerContext* context,
                                          const v1::SetRateRequest* request,
                                          v1::SetRateResponse* response) {
  Audit audit(context, "set-rate", request->name());
  if (absl::Status allowed =
          Authorize(access_, context, request->name(), auth::Role::kAdmin, &audit);
      !allowed.ok()) {
    audit.Done(allowed);
    return Finish(context->DefaultReactor(), allowed);
  }
  // Checked before the instance is found: a bad rate changes nothing.
  if (absl::Status rate = PositiveFinite(request->rate(), "rate"); !rate.ok()) {
    audit.Done(rate);
    return Finish(context->DefaultReactor(), rate);
  }
  if (ServerUnaryReactor* forwarded = Forward(context, request->name(), request, response, nullptr,
              [](v1::Admin::Stub* stub, grpc::ClientContext* client, const auto* q, auto* a,
                 std::function<void(grpc::Status)> done) {
                stub->async()->SetRate(client, q, a, std::move(done));
              })) {
    return forwarded;
  }
  return OnInstanceOf<core::RateLimiter>(
      node_, context, request->name(), "AdvancedRateLimit",
      [request, response, audit](core::RateLimiter& limiter, Node::Shard& shard,
                                 ServerUnaryReactor*) -> std::optional<absl::Status> {
        absl::Status set = WithField(limiter.SetRate(request->rate()), "rate");
        if (set.ok() && shard.kept != nullptr) shard.kept->Changed(request->name());
        response->set_rate(limiter.rate());
        response->set_capacity(limiter.capacity());
        audit.Done(set, absl::StrCat("rate=", limiter.rate(), " capacity=", limiter.capacity()));
        return set;
      },
      audit);
}

ServerUnaryReactor* AdminService::SetBound(grpc::CallbackServerContext* context,
                                           const v1::SetBoundRequest* request,
                                           v1::SetBoundResponse* response) {
  Audit audit(context, "set-bound", request->name());
  if (absl::Status allowed =
          Authorize(access_, context, request->name(), auth::Role::kAdmin, &audit);
      !allowed.ok()) {
    audit.Done(allowed);
    return Finish(context->DefaultReactor(), allowed);
  }
  if (request->bound() < 0) {
    const absl::Status bad =
        absl::InvalidArgumentError(absl::StrCat("bound: must be >= 0, got ", request->bound()));
    audit.Done(bad);
    return Finish(context->DefaultReactor(), bad);
  }
  if (ServerUnaryReactor* forwarded = Forward(context, request->name(), request, response, nullptr,
              [](v1::Admin::Stub* stub, grpc::ClientContext* client, const auto* q, auto* a,
                 std::function<void(grpc::Status)> done) {
                stub->async()->SetBound(client, q, a, std::move(done));
              })) {
    return forwarded;
  }
  return OnInstanceOf<core::DynamicBoundedSemaphore>(
      node_, context, request->name(), "DynamicBoundedSemaphore",
      [request, response, audit](core::DynamicBoundedSemaphore& semaphore, Node::Shard& shard,
                                 ServerUnaryReactor*) -> std::optional<absl::Status> {
        absl::Status set = WithField(semaphore.SetBound(request->bound()), "bound");
        if (set.ok() && shard.kept != nullptr) shard.kept->Changed(request->name());
        response->set_bound(semaphore.bound());
        response->set_available(semaphore.available());
        audit.Done(set, absl::StrCat("bound=", semaphore.bound(),
                                     " available=", semaphore.available()));
        return set;
      },
      audit);
}

ServerUnaryReactor* AdminService::Reset(grpc::CallbackServerContext* context,
                                        const v1::ResetRequest* request,
                                        v1::ResetResponse* response) {
  Audit audit(context, "reset", request->name());
  if (absl::Status allowed =
          Authorize(access_, context, request->name(), auth::Role::kAdmin, &audit);
      !allowed.ok()) {
    audit.Done(allowed);
    return Finish(context->DefaultReactor(), allowed);
  }
  if (ServerUnaryReactor* forwarded = Forward(context, request->name(), request, response, nullptr,
              [](v1::Admin::Stub* stub, grpc::ClientContext* client, const auto* q, auto* a,
                 std::function<void(grpc::Status)> done) {
                stub->async()->Reset(client, q, a, std::move(done));
              })) {
    return forwarded;
  }
  return OnInstanceOf<core::PrioritySemaphore>(
      node_, context, request->name(), "PrioritySemaphore",
      [response, audit](core::PrioritySemaphore& semaphore, Node::Shard&,
                        ServerUnaryReactor*) -> std::optional<absl::Status> {
        response->set_revoked_holds(
            static_cast<std::int64_t>(semaphore.holders().size()));
        absl::Status reset = semaphore.Reset();
        response->set_available(semaphore.available());
        audit.Done(reset, absl::StrCat("revoked_holds=", response->revoked_holds(),
                                       " available=", semaphore.available()));
        return reset;
      },
      audit);
}

ServerUnaryReactor* AdminService::TryAcquire(grpc::CallbackServerContext* context,
                                             const v1::TryAcquireRequest* request,
                                             v1::TryAcquireResponse* response) {
  if (absl::Status allowed = Authorize(access_, context, request->name(), auth::Role::kUse);
      !allowed.ok()) {
    return Finish(context->DefaultReactor(), allowed);
  }
  if (request->has_tokens()) {
    if (absl::Status tokens = PositiveFinite(request->tokens(), "tokens"); !tokens.ok()) {
      return Finish(context->DefaultReactor(), tokens);
    }
  }
  if (ServerUnaryReactor* forwarded = Forward(context, request->name(), request, response, nullptr,
              [](v1::Admin::Stub* stub, grpc::ClientContext* client, const auto* q, auto* a,
                 std::function<void(grpc::Status)> done) {
                stub->async()->TryAcquire(client, q, a, std::move(done));
              })) {
    return forwarded;
  }
  return OnInstanceOf<core::RateLimiter>(
      node_, context, request->name(), "AdvancedRateLimit",
      [request, response](core::RateLimiter& limiter, Node::Shard& shard,
                          ServerUnaryReactor* reactor) -> std::optional<absl::Status> {
        const double tokens = request->has_tokens() ? request->tokens() : 1.0;
        // A try-once acquire is answered inside the co_await, which
        // finishes the call before Detach() returns.
        runtime::Detach(TryAcquireOnce(&limiter, &shard.admin_session, tokens,
                                       response, reactor));
        return std::nullopt;
      });
}

template <typename Request, typename Response, typename Call>
ServerUnaryReactor* AdminService::Forward(grpc::CallbackServerContext* context,
                                          std::string_view name, const Request* request,
                                          Response* response, ServerUnaryReactor* reactor,
                                          Call call) {
  if (cluster_ == nullptr) return nullptr;
  // One hop at most: the owner answers, even if it disagrees.
  if (cluster::PeerChannels::IsForwarded(*context)) return nullptr;
  const std::optional<cluster::Member> owner = cluster_->OwnerElsewhere(name);
  if (!owner.has_value()) return nullptr;
  if (reactor == nullptr) reactor = context->DefaultReactor();
  std::shared_ptr<v1::Admin::Stub> stub = StubFor(owner->address);
  auto client = std::make_shared<grpc::ClientContext>();
  cluster::PeerChannels::PrepareForwarded(*context, cluster_->node_id(), client.get());
  call(stub.get(), client.get(), request, response,
       [client, stub, reactor](grpc::Status status) { reactor->Finish(status); });
  return reactor;
}

std::shared_ptr<v1::Admin::Stub> AdminService::StubFor(const std::string& address) {
  absl::MutexLock lock(&stubs_mutex_);
  std::shared_ptr<v1::Admin::Stub>& stub = stubs_[address];
  if (stub == nullptr) {
    stub = v1::Admin::NewStub(peers_->ChannelTo(address));
  }
  return stub;
}

ServerUnaryReactor* AdminService::Cluster(grpc::CallbackServerContext* context,
                                          const v1::ClusterRequest* /*request*/,
                                          v1::ClusterResponse* response) {
  ServerUnaryReactor* reactor = context->DefaultReactor();
  if (cluster_ != nullptr) {
    response->set_cluster_name(cluster_->cluster_name());
    response->set_node_id(cluster_->node_id());
    std::int64_t revision = 0;
    for (const cluster::Member& member : cluster_->Members(&revision)) {
      v1::ClusterMember* out = response->add_members();
      out->set_node_id(member.node_id);
      out->set_address(member.address);
    }
    response->set_revision(revision);
  }
  return Finish(reactor, absl::OkStatus());
}

}  // namespace baton::service

// Copyright 2026 The Baton Authors.

#include "server/cluster/etcd_membership.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "etcd/rpc.grpc.pb.h"
#include "server/log/log.h"

namespace baton::cluster {

struct EtcdMembership::Endpoint {
  // etcd back after a restart is reconnected to within a second, not after
  // gRPC's default backoff (up to two minutes): the node must prove its
  // lease again before it may grant.
  static grpc::ChannelArguments ChannelArguments() {
    grpc::ChannelArguments args;
    // The snapshot is every key of the cluster, the kept records included
    // (tens of MB for a few hundred thousand declared instances): not
    // gRPC's default 4 MiB.
    args.SetMaxReceiveMessageSize(-1);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    return args;
  }
  Endpoint(const std::string& target, std::shared_ptr<grpc::ChannelCredentials> credentials)
      : address(target),
        channel(grpc::CreateCustomChannel(
            target, credentials != nullptr ? credentials : grpc::InsecureChannelCredentials(),
            ChannelArguments())),
        kv(etcdserverpb::KV::NewStub(channel)),
        lease(etcdserverpb::Lease::NewStub(channel)),
        watch(etcdserverpb::Watch::NewStub(channel)) {}
  const std::string address;
  const std::shared_ptr<grpc::Channel> channel;
  const std::unique_ptr<etcdserverpb::KV::Stub> kv;
  const std::unique_ptr<etcdserverpb::Lease::Stub> lease;
  const std::unique_ptr<etcdserverpb::Watch::Stub> watch;
};

namespace {

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

absl::Status FromGrpc(const grpc::Status& status, std::string_view what) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat("etcd ", Absl(what), ": ", status.error_message()));
}

void SetDeadline(grpc::ClientContext* context, absl::Duration timeout) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

// The end of the range of every key that starts with `prefix`.
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty()) {
    const unsigned char last = static_cast<unsigned char>(prefix.back());
    if (last < 0xff) {
      prefix.back() = static_cast<char>(last + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');
}

Ack ParseAck(std::string_view value, std::int64_t revision) {
  Ack ack;
  ack.revision = revision;
  for (absl::string_view id : absl::StrSplit(Absl(value), ',', absl::SkipEmpty())) {
    ack.node_ids.emplace_back(id.data(), id.size());
  }
  std::sort(ack.node_ids.begin(), ack.node_ids.end());
  return ack;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseEndpoints(std::string_view text,
                                                        std::string_view flag) {
  std::vector<std::string> endpoints;
  for (absl::string_view entry : absl::StrSplit(Absl(text), ',', absl::SkipWhitespace())) {
    const std::size_t colon = entry.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == entry.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(Absl(flag), ": '", entry, "' is not HOST:PORT (e.g. 127.0.0.1:2379)"));
    }
    endpoints.emplace_back(entry.data(), entry.size());
  }
  if (endpoints.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Absl(flag), ": must name at least one etcd endpoint, HOST:PORT[,HOST:PORT...]"));
  }
  return endpoints;
}

EtcdMembership::EtcdMembership(Options options, ClusterView* view, runtime::Clock* clock,
                               Applier applier)
    : options_(std::move(options)), view_(view), clock_(clock), applier_(std::move(applier)) {
  absl::MutexLock lock(&mutex_);
  for (const std::string& endpoint : options_.endpoints) {
    endpoints_.push_back(std::make_shared<Endpoint>(endpoint, options_.credentials));
  }
}

EtcdMembership::~EtcdMembership() { Stop(); }

std::string EtcdMembership::Prefix() const {
  return absl::StrCat(options_.key_prefix, "/", view_->cluster_name(), "/");
}

std::string EtcdMembership::MemberKey(std::string_view node_id) const {
  return absl::StrCat(Prefix(), "members/", Absl(node_id));
}

std::string EtcdMembership::AckKey(std::string_view node_id) const {
  return AckKeyOf(options_.key_prefix, view_->cluster_name(), node_id);
}

std::string EtcdMembership::KeptPrefix() const {
  return KeptPrefixOf(options_.key_prefix, view_->cluster_name());
}

std::string EtcdMembership::AckKeyOf(std::string_view key_prefix, std::string_view cluster_name,
                                     std::string_view node_id) {
  return absl::StrCat(Absl(key_prefix), "/", Absl(cluster_name), "/acks/", Absl(node_id));
}

std::string EtcdMembership::KeptPrefixOf(std::string_view key_prefix,
                                         std::string_view cluster_name) {
  return absl::StrCat(Absl(key_prefix), "/", Absl(cluster_name), "/kept/");
}

std::shared_ptr<EtcdMembership::Endpoint> EtcdMembership::CurrentEndpoint() {
  absl::MutexLock lock(&mutex_);
  return endpoints_[current_];
}

void EtcdMembership::Rotate(const std::shared_ptr<Endpoint>& failed) {
  absl::MutexLock lock(&mutex_);
  if (endpoints_[current_] == failed) current_ = (current_ + 1) % endpoints_.size();
}

absl::Status EtcdMembership::Register(absl::Duration timeout) {
  const std::shared_ptr<Endpoint> endpoint = CurrentEndpoint();
  const absl::Time sent = clock_->Now();
  etcdserverpb::LeaseGrantRequest grant;
  grant.set_ttl(std::max<std::int64_t>(1, absl::ToInt64Seconds(options_.lease_ttl)));
  etcdserverpb::LeaseGrantResponse granted;
  {
    grpc::ClientContext context;
    SetDeadline(&context, timeout);
    const absl::Status status =
        FromGrpc(endpoint->lease->LeaseGrant(&context, grant, &granted), "LeaseGrant");
    if (!status.ok()) {
      Rotate(endpoint);
      return status;
    }
  }
  if (!granted.error().empty() || granted.ttl() <= 0) {
    return absl::UnavailableError(absl::StrCat("etcd LeaseGrant: ", granted.error()));
  }
  etcdserverpb::PutRequest put;
  put.set_key(MemberKey(view_->node_id()));
  put.set_value(options_.address);
  put.set_lease(granted.id());
  etcdserverpb::PutResponse put_response;
  {
    grpc::ClientContext context;
    SetDeadline(&context, timeout);
    const absl::Status status =
        FromGrpc(endpoint->kv->Put(&context, put, &put_response), "Put member key");
    if (!status.ok()) {
      Rotate(endpoint);
      return status;
    }
  }
  const absl::Duration ttl = absl::Seconds(granted.ttl());
  // The acknowledgement of an earlier lease is gone with it.
  if (options_.kept != nullptr) options_.kept->SetAckRevision(0);
  view_->Registered(put_response.header().revision());
  {
    absl::MutexLock lock(&mutex_);
    lease_id_ = granted.id();
  }
  view_->SetLeaseProvenUntil(sent + ttl - ttl / 4, /*reset=*/true);
  log::Info("cluster member registered",
            {{"node", view_->node_id()}, {"cluster", view_->cluster_name()},
             {"address", options_.address}, {"lease_ttl", ttl},
             {"revision", put_response.header().revision()}, {"etcd", endpoint->address}});
  return absl::OkStatus();
}

absl::Status EtcdMembership::KeepAlive() {
  std::int64_t lease_id;
  {
    absl::MutexLock lock(&mutex_);
    lease_id = lease_id_;
  }
  const std::shared_ptr<Endpoint> endpoint = CurrentEndpoint();
  grpc::ClientContext context;
  SetDeadline(&context, options_.lease_ttl / 4);
  const absl::Time sent = clock_->Now();
  std::unique_ptr<grpc::ClientReaderWriter<etcdserverpb::LeaseKeepAliveRequest,
                                           etcdserverpb::LeaseKeepAliveResponse>>
      stream = endpoint->lease->LeaseKeepAlive(&context);
  etcdserverpb::LeaseKeepAliveRequest request;
  request.set_id(lease_id);
  etcdserverpb::LeaseKeepAliveResponse response;
  const bool answered = stream->Write(request) && stream->Read(&response);
  context.TryCancel();
  const grpc::Status finished = stream->Finish();
  if (!answered) {
    Rotate(endpoint);
    return absl::UnavailableError(
        absl::StrCat("etcd LeaseKeepAlive: ",
                     finished.ok() ? "no answer" : finished.error_message()));
  }
  if (response.ttl() <= 0) {
    {
      absl::MutexLock lock(&mutex_);
      lease_id_ = 0;
    }
    if (options_.kept != nullptr) options_.kept->SetAckRevision(0);
    view_->SetLeaseProvenUntil(absl::InfinitePast(), /*reset=*/true);
    return absl::NotFoundError("etcd LeaseKeepAlive: the lease is gone");
  }
  const absl::Duration ttl = absl::Seconds(response.ttl());
  view_->SetLeaseProvenUntil(sent + ttl - ttl / 4);
  return absl::OkStatus();
}

absl::Status EtcdMembership::WriteAck(const std::vector<std::string>& node_ids) {
  std::int64_t lease_id;
  {
    absl::MutexLock lock(&mutex_);
    lease_id = lease_id_;
  }
  if (lease_id == 0) return absl::UnavailableError("no lease");
  const std::shared_ptr<Endpoint> endpoint = CurrentEndpoint();
  etcdserverpb::PutRequest put;
  put.set_key(AckKey(view_->node_id()));
  put.set_value(absl::StrJoin(node_ids, ","));
  put.set_lease(lease_id);
  etcdserverpb::PutResponse response;
  grpc::ClientContext context;
  SetDeadline(&context, options_.lease_ttl / 4);
  // Unanswered, the write may still land: until one is answered, this
  // node's acknowledgement admits nothing (ClusterView rule 3).
  view_->AckWriteStarted();
  const absl::Status status = FromGrpc(endpoint->kv->Put(&context, put, &response), "Put ack");
  if (!status.ok()) {
    Rotate(endpoint);
    return status;
  }
  view_->AckWritten(response.header().revision());
  if (options_.kept != nullptr) options_.kept->SetAckRevision(response.header().revision());
  return status;
}

void EtcdMembership::Reconcile() {
  std::vector<std::string> target = view_->Target();
  {
    absl::MutexLock lock(&mutex_);
    if (applying_ || (applied_.has_value() && *applied_ == target)) return;
    applying_ = true;
    ack_pending_.reset();
  }
  // Before the sweep: from now on no shard creates a name `target` does
  // not give to this node (ClusterView rule 2).
  view_->SetApplied(target);
  log::Info("cluster applying members", {{"node", view_->node_id()},
                                         {"members", absl::StrJoin(target, ",")}});
  // `done` may come after Stop() (a sweep waits for the kept state's
  // writes): it touches this object only while it lives.
  applier_(target, [this, alive = alive_, target]() mutable {
    absl::MutexLock alive_lock(&alive->mu);
    if (!alive->alive) return;
    absl::MutexLock lock(&mutex_);
    applying_ = false;
    applied_ = target;
    if (!target.empty()) ack_pending_ = std::move(target);
    ++changes_;
  });
}

absl::StatusOr<std::int64_t> EtcdMembership::Snapshot() {
  const std::shared_ptr<Endpoint> endpoint = CurrentEndpoint();
  const std::string prefix = Prefix();
  etcdserverpb::RangeRequest request;
  request.set_key(prefix);
  request.set_range_end(PrefixEnd(prefix));
  etcdserverpb::RangeResponse response;
  grpc::ClientContext context;
  SetDeadline(&context, std::max(options_.lease_ttl / 4, absl::Milliseconds(500)));
  const absl::Status status = FromGrpc(endpoint->kv->Range(&context, request, &response), "Range");
  if (!status.ok()) {
    Rotate(endpoint);
    return status;
  }
  std::vector<Member> members;
  absl::flat_hash_map<std::string, Ack> acks;
  std::vector<std::pair<std::string, std::string>> kept;
  const std::string members_prefix = prefix + "members/";
  const std::string acks_prefix = prefix + "acks/";
  const std::string kept_prefix = prefix + "kept/";
  for (const mvccpb::KeyValue& kv : response.kvs()) {
    const std::string_view key = kv.key();
    if (key.substr(0, kept_prefix.size()) == kept_prefix) {
      kept.emplace_back(kv.key(), kv.value());
    } else if (key.substr(0, members_prefix.size()) == members_prefix) {
      members.push_back(Member{std::string(key.substr(members_prefix.size())), kv.value()});
    } else if (key.substr(0, acks_prefix.size()) == acks_prefix) {
      acks[std::string(key.substr(acks_prefix.size()))] = ParseAck(kv.value(), kv.mod_revision());
    }
  }
  // The records before the acknowledgements that admit their names.
  if (options_.kept != nullptr) options_.kept->SetSnapshot(kept, response.header().revision());
  view_->SetSnapshot(std::move(members), std::move(acks), response.header().revision());
  return response.header().revision();
}

absl::Status EtcdMembership::Start(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status status;
  for (;;) {
    status = Register(std::max(options_.lease_ttl / 2, absl::Seconds(1)));
    if (status.ok()) status = Snapshot().status();
    if (status.ok() || absl::Now() >= deadline) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot join cluster ", view_->cluster_name(),
                                               " on etcd ",
                                               absl::StrJoin(options_.endpoints, ","), ": ",
                                               status.message()));
  }
  started_ = true;
  lease_thread_ = std::thread([this] { LeaseLoop(); });
  watch_thread_ = std::thread([this] { WatchLoop(); });
  return absl::OkStatus();
}

void EtcdMembership::Stop() {
  {
    absl::MutexLock lock(&alive_->mu);
    alive_->alive = false;
  }
  if (!started_) return;
  started_ = false;
  {
    absl::MutexLock lock(&mutex_);
    stop_ = true;
    if (watch_context_ != nullptr) watch_context_->TryCancel();
  }
  lease_thread_.join();
  watch_thread_.join();
  std::int64_t lease_id;
  {
    absl::MutexLock lock(&mutex_);
    lease_id = lease_id_;
    lease_id_ = 0;
  }
  view_->SetLeaseProvenUntil(absl::InfinitePast(), /*reset=*/true);
  if (lease_id == 0) return;
  // Both keys go at once: the other nodes take this node's names over now.
  const std::shared_ptr<Endpoint> endpoint = CurrentEndpoint();
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(lease_id);
  etcdserverpb::LeaseRevokeResponse response;
  grpc::ClientContext context;
  SetDeadline(&context, absl::Seconds(1));
  const absl::Status status =
      FromGrpc(endpoint->lease->LeaseRevoke(&context, request, &response), "LeaseRevoke");
  log::Info("cluster member left", {{"node", view_->node_id()}, {"result", status}});
}

void EtcdMembership::LeaseLoop() {
  const absl::Duration period = options_.lease_ttl / 4;
  absl::Time next_keepalive = clock_->Now() + period;
  absl::Time last_warning = absl::InfinitePast();
  for (;;) {
    bool have_lease;
    std::optional<std::vector<std::string>> ack;
    {
      absl::MutexLock lock(&mutex_);
      if (stop_) return;
      have_lease = lease_id_ != 0;
      if (ack_pending_.has_value() && !applying_ && applied_ == ack_pending_) ack = ack_pending_;
    }
    absl::Status status;
    absl::Time now = clock_->Now();
    if (!have_lease) {
      status = Register(period);
      next_keepalive = clock_->Now() + period;
    } else if (now >= next_keepalive) {
      status = KeepAlive();
      next_keepalive = clock_->Now() + (status.ok() ? period : period / 4);
    }
    if (ack.has_value() && status.ok()) {
      status = WriteAck(*ack);
      if (status.ok()) {
        absl::MutexLock lock(&mutex_);
        if (ack_pending_ == ack) ack_pending_.reset();
      }
    }
    if (!status.ok() && clock_->Now() - last_warning >= absl::Seconds(5)) {
      last_warning = clock_->Now();
      log::Warn("cluster membership", {{"node", view_->node_id()}, {"result", status}});
    }
    Reconcile();
    // Sleep until the next keepalive, the end of the proven lease (when
    // everything must be revoked), or a change.
    now = clock_->Now();
    absl::Time wake = next_keepalive;
    const absl::Time proven = view_->lease_proven_until();
    if (proven > now) wake = std::min(wake, proven);
    if (!status.ok()) wake = std::min(wake, now + absl::Milliseconds(100));
    {
      absl::MutexLock lock(&mutex_);
      const std::uint64_t seen = changes_;
      auto changed = [this, seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
        return stop_ || changes_ != seen ||
               (ack_pending_.has_value() && !applying_ && applied_ == ack_pending_);
      };
      mutex_.AwaitWithTimeout(absl::Condition(&changed), std::max(wake - now, absl::ZeroDuration()));
    }
  }
}

void EtcdMembership::WatchLoop() {
  const std::string prefix = Prefix();
  const std::string members_prefix = prefix + "members/";
  const std::string acks_prefix = prefix + "acks/";
  const std::string kept_prefix = prefix + "kept/";
  for (;;) {
    {
      absl::MutexLock lock(&mutex_);
      if (stop_) return;
    }
    const absl::StatusOr<std::int64_t> revision = Snapshot();
    if (!revision.ok()) {
      absl::SleepFor(absl::Milliseconds(100));
      continue;
    }
    {
      absl::MutexLock lock(&mutex_);
      ++changes_;
    }
    const std::shared_ptr<Endpoint> endpoint = CurrentEndpoint();
    grpc::ClientContext context;
    {
      absl::MutexLock lock(&mutex_);
      if (stop_) return;
      watch_context_ = &context;
    }
    std::unique_ptr<grpc::ClientReaderWriter<etcdserverpb::WatchRequest,
                                             etcdserverpb::WatchResponse>>
        stream = endpoint->watch->Watch(&context);
    etcdserverpb::WatchRequest request;
    etcdserverpb::WatchCreateRequest* create = request.mutable_create_request();
    create->set_key(prefix);
    create->set_range_end(PrefixEnd(prefix));
    create->set_start_revision(*revision + 1);
    etcdserverpb::WatchResponse response;
    if (stream->Write(request)) {
      while (stream->Read(&response)) {
        if (response.canceled() || response.compact_revision() != 0) break;
        if (response.events_size() == 0) continue;
        for (const mvccpb::Event& event : response.events()) {
          const std::string_view key = event.kv().key();
          const bool put = event.type() == mvccpb::Event::PUT;
          const std::int64_t at = event.kv().mod_revision();
          if (key.substr(0, kept_prefix.size()) == kept_prefix) {
            // In etcd's order: before any later acknowledgement admits the
            // name elsewhere.
            if (options_.kept != nullptr) {
              options_.kept->Apply(key,
                                   put ? std::optional<std::string>(event.kv().value())
                                       : std::nullopt,
                                   at);
            }
          } else if (key.substr(0, members_prefix.size()) == members_prefix) {
            view_->SetMember(key.substr(members_prefix.size()),
                             put ? std::optional<std::string>(event.kv().value()) : std::nullopt,
                             at);
          } else if (key.substr(0, acks_prefix.size()) == acks_prefix) {
            view_->SetAck(key.substr(acks_prefix.size()),
                          put ? std::optional<Ack>(ParseAck(event.kv().value(), at))
                              : std::nullopt,
                          at);
          }
        }
        absl::MutexLock lock(&mutex_);
        ++changes_;
      }
    }
    context.TryCancel();
    (void)stream->Finish();
    {
      absl::MutexLock lock(&mutex_);
      watch_context_ = nullptr;
      if (stop_) return;
    }
    Rotate(endpoint);
    absl::SleepFor(absl::Milliseconds(100));
  }
}

}  // namespace baton::cluster

// Copyright 2026 The Baton Authors.

#include "server/cluster/etcd_kept_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "etcd/rpc.grpc.pb.h"
#include "server/log/log.h"

namespace baton::cluster {

struct EtcdKeptStore::Endpoint {
  Endpoint(const std::string& target, const std::shared_ptr<grpc::ChannelCredentials>& credentials)
      : address(target),
        kv(etcdserverpb::KV::NewStub(grpc::CreateChannel(
            target, credentials != nullptr ? credentials : grpc::InsecureChannelCredentials()))) {}
  const std::string address;
  const std::unique_ptr<etcdserverpb::KV::Stub> kv;
};

EtcdKeptStore::EtcdKeptStore(Options options) : options_(std::move(options)) {
  for (const std::string& endpoint : options_.endpoints) {
    endpoints_.push_back(std::make_shared<Endpoint>(endpoint, options_.credentials));
  }
  writer_ = std::thread([this] { WriterLoop(); });
}

EtcdKeptStore::~EtcdKeptStore() { Close(); }

absl::StatusOr<std::optional<std::string>> EtcdKeptStore::Get(std::string_view key) const {
  absl::MutexLock lock(&records_mu_);
  const auto it = records_.find(absl::string_view(key.data(), key.size()));
  if (it == records_.end()) return std::nullopt;
  return it->second.value;
}

void EtcdKeptStore::Commit(Batch batch, Done done) {
  {
    absl::MutexLock lock(&mu_);
    if (!closing_) {
      queue_.push_back(Queued{std::move(batch), std::move(done)});
      return;
    }
  }
  done(absl::FailedPreconditionError("kept state on etcd: the store is closed"));
}

void EtcdKeptStore::Close() {
  {
    absl::MutexLock lock(&mu_);
    if (closing_) {
      // Another Close() joins the writer; wait until it has.
      mu_.Await(absl::Condition(&closed_));
      return;
    }
    closing_ = true;
  }
  writer_.join();
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

void EtcdKeptStore::SetSnapshot(const std::vector<std::pair<std::string, std::string>>& kvs,
                                std::int64_t revision) {
  absl::MutexLock lock(&records_mu_);
  // What this node wrote after the snapshot's revision stays.
  for (auto it = records_.begin(); it != records_.end();) {
    if (it->second.revision <= revision) {
      records_.erase(it++);
    } else {
      ++it;
    }
  }
  while (!tombstones_.empty() && tombstones_.front().second <= revision) tombstones_.pop_front();
  for (const auto& [key, value] : kvs) {
    if (key.size() > options_.key_prefix.size() &&
        std::string_view(key).substr(0, options_.key_prefix.size()) == options_.key_prefix) {
      ApplyLocked(key.substr(options_.key_prefix.size()), value, revision, /*own_write=*/false);
    }
  }
}

void EtcdKeptStore::Apply(std::string_view etcd_key, std::optional<std::string> value,
                          std::int64_t revision) {
  if (etcd_key.size() <= options_.key_prefix.size() ||
      etcd_key.substr(0, options_.key_prefix.size()) != options_.key_prefix) {
    return;
  }
  absl::MutexLock lock(&records_mu_);
  ApplyLocked(std::string(etcd_key.substr(options_.key_prefix.size())), std::move(value), revision,
              /*own_write=*/false);
}

void EtcdKeptStore::ApplyLocked(std::string key, std::optional<std::string> value,
                                std::int64_t revision, bool own_write) {
  if (!own_write) {
    // The watch is at `revision`: no event older than it is to come, so
    // the tombstones up to it have done their work.
    while (!tombstones_.empty() && tombstones_.front().second <= revision) {
      const auto& [dead, at] = tombstones_.front();
      if (const auto found = records_.find(dead); found != records_.end() &&
                                                  !found->second.value.has_value() &&
                                                  found->second.revision == at) {
        records_.erase(found);
      }
      tombstones_.pop_front();
    }
  }
  const auto it = records_.find(key);
  if (it != records_.end() && it->second.revision > revision) return;  // older than known
  if (value.has_value()) {
    records_.insert_or_assign(std::move(key), Record{std::move(value), revision});
  } else if (own_write) {
    // A delete of this node's own stays as a tombstone until the watch
    // passes its revision (an older event of the watch must not bring the
    // record back meanwhile).
    tombstones_.emplace_back(key, revision);
    records_.insert_or_assign(std::move(key), Record{std::nullopt, revision});
  } else if (it != records_.end()) {
    records_.erase(it);
  }
}

void EtcdKeptStore::SetAckRevision(std::int64_t revision) {
  absl::MutexLock lock(&mu_);
  // A lease gone ends what was taken under it: nothing of it is sent again.
  if (revision == 0) ++lease_epoch_;
  ack_revision_ = revision;
}

std::size_t EtcdKeptStore::size() const {
  absl::MutexLock lock(&records_mu_);
  return records_.size();
}

std::uint64_t EtcdKeptStore::transactions() const {
  absl::MutexLock lock(&mu_);
  return transactions_;
}

absl::Status EtcdKeptStore::Send(const std::vector<const Batch::Op*>& ops,
                                 std::int64_t ack_revision, bool* guard_failed) {
  *guard_failed = false;
  // (Applied to the records here once etcd has them: see Apply().)
  etcdserverpb::TxnRequest txn;
  etcdserverpb::Compare* guard = txn.add_compare();
  guard->set_result(etcdserverpb::Compare::EQUAL);
  guard->set_target(etcdserverpb::Compare::MOD);
  guard->set_key(options_.ack_key);
  guard->set_mod_revision(ack_revision);
  for (const Batch::Op* op : ops) {
    etcdserverpb::RequestOp* request = txn.add_success();
    const std::string key = absl::StrCat(options_.key_prefix, op->key);
    if (op->value.has_value()) {
      etcdserverpb::PutRequest* put = request->mutable_request_put();
      put->set_key(key);
      put->set_value(*op->value);
    } else {
      request->mutable_request_delete_range()->set_key(key);
    }
  }
  const std::shared_ptr<Endpoint> endpoint = endpoints_[current_];
  etcdserverpb::TxnResponse response;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
  const grpc::Status status = endpoint->kv->Txn(&context, txn, &response);
  {
    absl::MutexLock lock(&mu_);
    ++transactions_;
  }
  if (!status.ok()) {
    current_ = (current_ + 1) % endpoints_.size();
    return absl::UnavailableError(absl::StrCat("kept state not written to etcd (",
                                               endpoint->address, "): ", status.error_message()));
  }
  if (!response.succeeded()) {
    *guard_failed = true;
    return absl::UnavailableError(
        "kept state not written: this node's cluster membership changed meanwhile (the "
        "name may be served by another node now); the change was made but is not kept");
  }
  const std::int64_t revision = response.header().revision();
  absl::MutexLock lock(&records_mu_);
  for (const Batch::Op* op : ops) ApplyLocked(op->key, op->value, revision, /*own_write=*/true);
  return absl::OkStatus();
}

void EtcdKeptStore::WriterLoop() {
  for (;;) {
    std::deque<Queued> taken;
    std::int64_t ack_revision = 0;
    std::uint64_t epoch = 0;
    bool closing = false;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]()
                       ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || closing_; };
      mu_.Await(absl::Condition(&ready));
      taken.swap(queue_);
      ack_revision = ack_revision_;
      epoch = lease_epoch_;
      closing = closing_;
    }
    if (taken.empty() && closing) return;
    absl::Status status = SendAll(taken, ack_revision, epoch);
    if (!status.ok()) log::Warn("cluster kept state", {{"result", status}});
    for (Queued& queued : taken) queued.done(status);
  }
}

absl::Status EtcdKeptStore::SendAll(const std::deque<Queued>& taken, std::int64_t ack_revision,
                                    std::uint64_t epoch) {
  if (ack_revision == 0) {
    return absl::UnavailableError(
        "kept state not written: this node has no acknowledged membership (is etcd "
        "reachable?); the change was made but is not kept");
  }
  // Every queued batch's ops, the last write of each key winning (etcd
  // refuses a key twice in one transaction). Records are independent: a
  // batch split over two transactions loses nothing but the atomicity of
  // the split.
  absl::flat_hash_map<std::string_view, std::size_t> index;
  std::vector<const Batch::Op*> ops;
  for (const Queued& queued : taken) {
    for (const Batch::Op& op : queued.batch.ops()) {
      const auto [it, fresh] = index.try_emplace(op.key, ops.size());
      if (fresh) {
        ops.push_back(&op);
      } else {
        ops[it->second] = &op;
      }
    }
  }
  // Transactions of at most kMaxTxnOps keys and kMaxTxnBytes.
  std::size_t start = 0;
  while (start < ops.size()) {
    std::size_t end = start;
    std::size_t bytes = 0;
    while (end < ops.size() && end - start < kMaxTxnOps) {
      const std::size_t size = options_.key_prefix.size() + ops[end]->key.size() +
                               (ops[end]->value.has_value() ? ops[end]->value->size() : 0);
      if (end > start && bytes + size > kMaxTxnBytes) break;
      bytes += size;
      ++end;
    }
    const std::vector<const Batch::Op*> chunk(ops.begin() + static_cast<std::ptrdiff_t>(start),
                                              ops.begin() + static_cast<std::ptrdiff_t>(end));
    for (;;) {
      bool guard_failed = false;
      absl::Status status = Send(chunk, ack_revision, &guard_failed);
      if (status.ok()) break;
      if (!guard_failed) return status;
      // This node acknowledged a member list since the batch was taken.
      // Every batch committed before a shard's hand-off sweep is written
      // before that acknowledgement (the sweep waits for it), so this one
      // was committed after the sweep and holds no name that moved away:
      // it is sent again under the new acknowledgement. A guard that fails
      // for another reason (the lease and its key are gone) fails the
      // batch. etcd may have the new acknowledgement before the lease
      // thread has its answer: wait for that a little.
      absl::MutexLock lock(&mu_);
      const std::int64_t used = ack_revision;
      auto moved = [this, used, epoch]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return ack_revision_ != used || lease_epoch_ != epoch || closing_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&moved), options_.timeout);
      if (lease_epoch_ != epoch || ack_revision_ == 0 || ack_revision_ == used) return status;
      ack_revision = ack_revision_;
    }
    start = end;
  }
  return absl::OkStatus();
}

}  // namespace baton::cluster

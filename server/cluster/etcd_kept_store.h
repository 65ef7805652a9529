// Copyright 2026 The Baton Authors.
//
// EtcdKeptStore keeps a cluster's kept records (server/service/kept_state.h:
// declared instances with their parameters, live changes, latch counts,
// bucket levels at checkpoints) in etcd, where every node finds them:
//
//   <prefix>/<cluster>/kept/<key>   = the record (proto/baton/store)
//
// so that a name's new owner creates it as its old owner kept it, whether
// the old one left, was killed, or lost the name to a node that joined.
//
// Reads come from memory: EtcdMembership's snapshot and watch of the
// cluster's keys feed every record here (SetSnapshot, Apply), in etcd's
// order and before the acknowledgements that follow them. A node admits a
// name only once it has seen the acknowledgement of the node that owned it
// before (ClusterView rule 4) or that node's lease end; every write of the
// old owner precedes either in etcd's order (see below), so the new owner
// reads the old owner's last record.
//
// Writes: Commit() queues a batch; one writer thread sends what is queued
// as etcd transactions guarded by this node's acknowledgement:
//   if mod_revision(<prefix>/<cluster>/acks/<node>) == the revision at which
//   this node last wrote it: the puts and deletes; else nothing
// so a write is only ever applied under the member list this node acted on
// when it was made. A node writes its next acknowledgement only after its
// shards' changes are durable (ClusterApplier waits for them); a write
// still in flight then, or one that lands after the lease ended (the key is
// gone), fails its guard instead of overwriting the new owner's record.
// A guard that fails because this node has acknowledged a newer member
// list is retried under it (the batch was committed after the sweep, so it
// holds no name that moved away); one that fails because the lease is gone
// answers UNAVAILABLE: the change was made in memory but not kept, and the
// name may be owned elsewhere now.
//
// Threading: thread-safe. Get() never blocks on I/O; `done` runs on the
// writer thread.

#ifndef BATON_SERVER_CLUSTER_ETCD_KEPT_STORE_H_
#define BATON_SERVER_CLUSTER_ETCD_KEPT_STORE_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/record_store.h"

namespace baton::cluster {

class EtcdKeptStore final : public store::RecordStore {
 public:
  struct Options {
    // HOST:PORT of etcd's client URLs, at least one.
    std::vector<std::string> endpoints;
    // Where the records live: "<prefix>/<cluster>/kept/".
    std::string key_prefix;
    // This node's acknowledgement key, which guards every write.
    std::string ack_key;
    // How long one transaction may take before it is reported failed.
    absl::Duration timeout = absl::Seconds(2);
    // How to reach etcd (nullptr: plaintext).
    std::shared_ptr<grpc::ChannelCredentials> credentials;
  };
  // The most operations in one transaction (etcd's --max-txn-ops default),
  // and about the most bytes (etcd's --max-request-bytes is 1.5 MiB).
  static constexpr std::size_t kMaxTxnOps = 128;
  static constexpr std::size_t kMaxTxnBytes = 1 << 20;

  explicit EtcdKeptStore(Options options);
  EtcdKeptStore(const EtcdKeptStore&) = delete;
  EtcdKeptStore& operator=(const EtcdKeptStore&) = delete;
  ~EtcdKeptStore() override;  // Close()

  // RecordStore.
  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const override;
  void Commit(Batch batch, Done done) override;
  bool shared() const override { return true; }

  // Close() sends what was committed, runs every `done`, and stops the
  // writer. Idempotent; later commits fail at once.
  void Close();

  // From EtcdMembership (its snapshot and watch; keys are etcd's, whole):
  // SetSnapshot() replaces every record by those of `kvs` under the
  // prefix, read at `revision`; Apply() puts (`value`) or deletes
  // (nullopt) one key at `revision`. A node's own writes are applied here
  // when etcd answers them, before their `done` (so that a name deleted
  // and then used at once is not brought back from the record the watch
  // has not removed yet): what is older than what is known is ignored.
  void SetSnapshot(const std::vector<std::pair<std::string, std::string>>& kvs,
                   std::int64_t revision);
  void Apply(std::string_view etcd_key, std::optional<std::string> value, std::int64_t revision);
  // SetAckRevision(): this node's acknowledgement was written at
  // `revision` (0: it has none, its lease is gone: every write fails).
  void SetAckRevision(std::int64_t revision);

  const std::string& key_prefix() const { return options_.key_prefix; }
  // How many records are known; how many transactions were sent.
  std::size_t size() const;
  std::uint64_t transactions() const;

 private:
  struct Endpoint;
  struct Queued {
    Batch batch;
    Done done;
  };
  void WriterLoop();
  // SendAll(): the batches `taken` under acknowledgement `ack_revision` of
  // lease `epoch`, in as many transactions as their size takes.
  absl::Status SendAll(const std::deque<Queued>& taken, std::int64_t ack_revision,
                       std::uint64_t epoch);
  // Send(): `ops` (unique keys, at most kMaxTxnOps) as one transaction;
  // `guard_failed`: etcd answered, and the guard did not hold.
  absl::Status Send(const std::vector<const Batch::Op*>& ops, std::int64_t ack_revision,
                    bool* guard_failed);

  const Options options_;
  std::vector<std::shared_ptr<Endpoint>> endpoints_;
  std::size_t current_ = 0;  // writer thread only

  // A key's value (nullopt: deleted by this node, until the watch says so
  // too) and the revision it is from.
  struct Record {
    std::optional<std::string> value;
    std::int64_t revision = 0;
  };
  void ApplyLocked(std::string key, std::optional<std::string> value, std::int64_t revision,
                   bool own_write) ABSL_EXCLUSIVE_LOCKS_REQUIRED(records_mu_);

  mutable absl::Mutex records_mu_;
  absl::flat_hash_map<std::string, Record> records_ ABSL_GUARDED_BY(records_mu_);
  // This node's deletes not yet seen on the watch, in revision order.
  std::deque<std::pair<std::string, std::int64_t>> tombstones_ ABSL_GUARDED_BY(records_mu_);

  mutable absl::Mutex mu_;
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  std::int64_t ack_revision_ ABSL_GUARDED_BY(mu_) = 0;
  // Bumped when the lease is gone (SetAckRevision(0)).
  std::uint64_t lease_epoch_ ABSL_GUARDED_BY(mu_) = 0;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::uint64_t transactions_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread writer_;
};

}  // namespace baton::cluster

#endif  // BATON_SERVER_CLUSTER_ETCD_KEPT_STORE_H_

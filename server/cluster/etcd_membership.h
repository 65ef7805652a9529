// Copyright 2026 The Baton Authors.
//
// EtcdMembership makes a batond a member of a cluster on etcd (v3 API) and
// keeps its ClusterView current:
//
//   <prefix>/<cluster>/members/<node_id> = address      on the node's lease
//   <prefix>/<cluster>/acks/<node_id>    = "a,b,c"      on the node's lease
//   <prefix>/<cluster>/kept/...          kept records (etcd_kept_store.h)
//
// At Start() it grants a lease (TTL), puts its member key on it, reads the
// whole <prefix>/<cluster>/ range and watches it from the next revision.
// A keepalive goes every TTL/4; an answered keepalive sent at t proves the
// lease until t + TTL - TTL/4 (ClusterView rule 1). Whenever the member
// list to apply changes (a member came or went, the lease proven again or
// no longer), it calls the Applier, which revokes every hold on names the
// node does not own under the new list and then calls `done`; then it
// writes the list as its acknowledgement. A lease that etcd says is gone
// (keepalive answered TTL 0) is granted again and the member key put again.
// Endpoints are tried in turn when one fails.
//
// Stop() leaves: it revokes the lease (deleting both keys at once, so that
// the other nodes take the names over without waiting for the TTL). Call it
// only once this node grants nothing any more (after its sessions ended).
//
// Threading: Start() and Stop() from one thread; two threads of its own
// (the lease and acknowledgements; the watch) make blocking gRPC calls;
// the Applier is called on the lease thread and `done` may be called from
// any thread.

#ifndef BATON_SERVER_CLUSTER_ETCD_MEMBERSHIP_H_
#define BATON_SERVER_CLUSTER_ETCD_MEMBERSHIP_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/cluster/cluster_view.h"
#include "server/cluster/etcd_kept_store.h"
#include "server/runtime/clock.h"

namespace baton::cluster {

class EtcdMembership {
 public:
  struct Options {
    // HOST:PORT of etcd's client URLs, at least one.
    std::vector<std::string> endpoints;
    std::string key_prefix = "/baton";
    // The lease's TTL: a killed node's names move after at most this (plus
    // a watch round trip). Whole seconds, at least 1.
    absl::Duration lease_ttl = absl::Seconds(5);
    // The node's address for clients (the member key's value).
    std::string address;
    // Where the cluster's kept records are (nullptr: none are kept): fed
    // by this membership's snapshot and watch, and told the revision of
    // each acknowledgement this node writes. Outlives the membership.
    EtcdKeptStore* kept = nullptr;
    // How etcd is reached (auth::ClientChannelCredentials(), from the
    // --cluster_etcd_* TLS flags); null: plaintext.
    std::shared_ptr<grpc::ChannelCredentials> credentials;
  };
  // Applier: make `node_ids` the member list the node acts on (revoke every
  // hold on names it does not own under them), then call `done`.
  using Applier = absl::AnyInvocable<void(std::vector<std::string> node_ids,
                                          absl::AnyInvocable<void() &&> done)>;

  EtcdMembership(Options options, ClusterView* view, runtime::Clock* clock, Applier applier);
  EtcdMembership(const EtcdMembership&) = delete;
  EtcdMembership& operator=(const EtcdMembership&) = delete;
  ~EtcdMembership();  // Stop()

  // Start() registers (lease, member key), reads the members, and starts
  // the threads. UNAVAILABLE when no endpoint answered within `timeout`.
  absl::Status Start(absl::Duration timeout);

  // Stop() stops the threads and revokes the lease. Idempotent.
  void Stop();

  // MemberKey() and AckKey() are this cluster's keys of `node_id`;
  // KeptPrefix() where its kept records are (etcd_kept_store.h).
  std::string MemberKey(std::string_view node_id) const;
  std::string AckKey(std::string_view node_id) const;
  std::string KeptPrefix() const;
  // The same, for a cluster's keys before there is a membership.
  static std::string AckKeyOf(std::string_view key_prefix, std::string_view cluster_name,
                              std::string_view node_id);
  static std::string KeptPrefixOf(std::string_view key_prefix, std::string_view cluster_name);

 private:
  // One etcd endpoint's channel and stubs.
  struct Endpoint;

  void LeaseLoop();
  void WatchLoop();
  // Register(): a new lease and the member key on it.
  absl::Status Register(absl::Duration timeout);
  // KeepAlive(): one keepalive; false when etcd says the lease is gone.
  absl::Status KeepAlive();
  // Reconcile(): start applying Target() if it differs from what was last
  // applied and nothing is being applied. Lease thread.
  void Reconcile();
  absl::Status WriteAck(const std::vector<std::string>& node_ids);
  // Snapshot(): range the cluster's keys into the view; its revision.
  absl::StatusOr<std::int64_t> Snapshot();
  std::shared_ptr<Endpoint> CurrentEndpoint();
  void Rotate(const std::shared_ptr<Endpoint>& failed);
  std::string Prefix() const;

  // Whether this object still takes the applier's `done` (Stop() says no).
  struct Alive {
    absl::Mutex mu;
    bool alive ABSL_GUARDED_BY(mu) = true;
  };
  const std::shared_ptr<Alive> alive_ = std::make_shared<Alive>();

  const Options options_;
  ClusterView* const view_;
  runtime::Clock* const clock_;
  Applier applier_;

  absl::Mutex mutex_;
  std::vector<std::shared_ptr<Endpoint>> endpoints_ ABSL_GUARDED_BY(mutex_);
  std::size_t current_ ABSL_GUARDED_BY(mutex_) = 0;
  bool stop_ ABSL_GUARDED_BY(mutex_) = false;
  std::int64_t lease_id_ ABSL_GUARDED_BY(mutex_) = 0;
  // The member list last applied, and whether an apply is under way.
  std::optional<std::vector<std::string>> applied_ ABSL_GUARDED_BY(mutex_);
  bool applying_ ABSL_GUARDED_BY(mutex_) = false;
  // An applied list whose acknowledgement is not written yet.
  std::optional<std::vector<std::string>> ack_pending_ ABSL_GUARDED_BY(mutex_);
  // Bumped by the watch and by `done`, so that the lease thread looks again.
  std::uint64_t changes_ ABSL_GUARDED_BY(mutex_) = 0;
  grpc::ClientContext* watch_context_ ABSL_GUARDED_BY(mutex_) = nullptr;

  std::thread lease_thread_;
  std::thread watch_thread_;
  bool started_ = false;
};

// ParseEndpoints() splits "HOST:PORT[,HOST:PORT...]"; INVALID_ARGUMENT
// naming `flag` when empty or an entry has no port.
absl::StatusOr<std::vector<std::string>> ParseEndpoints(std::string_view text,
                                                        std::string_view flag);

}  // namespace baton::cluster

#endif  // BATON_SERVER_CLUSTER_ETCD_MEMBERSHIP_H_

// Copyright 2026 The Baton Authors.
//
// ClusterView is what one batond of a cluster knows of the cluster, and the
// one rule by which it decides whether it may grant a name (README, "A
// cluster on etcd", has the argument in full):
//
//   A node may create an instance of `name` (and so grant it) only while
//     1. its etcd lease is proven live: a keepalive sent at t was answered,
//        and now < t + TTL - margin (etcd ends the lease no earlier than
//        t + TTL, so the node stops before etcd can give its names away);
//     2. under the member list it has applied (revoked every hold on names
//        it does not own under it), rendezvous hashing gives `name` to it;
//     3. its own acknowledgement in etcd (the member list it applied,
//        written after applying it, and seen back on its watch: the
//        latest it wrote, on its current lease) gives `name` to it too; and
//     4. no other node's acknowledgement gives `name` to that node.
//   An instance is deleted (its holds revoked, HoldRevoked notices, its
//   waits failed) when the node applies a member list under which it does
//   not own the name, and everything is deleted when its lease is no longer
//   proven; only after that does the node write its acknowledgement.
//
// Rules 3 and 4 are a Dekker handshake on etcd's total order: of two nodes
// that both claim `name` in their acknowledgements, the one whose claim is
// later in etcd's order sees the other's claim (its watch delivered its own
// claim, hence everything before it) and refuses; so at most one node
// grants a name at a time. Fences: the instance's fences start above
// (revision of the node's own acknowledgement) << 32; a new owner's claim
// is later in etcd than the old owner's, so its fences are above every
// fence the old owner granted (provided a shard grants fewer than 2^32
// fences under one acknowledgement).
//
// The membership (etcd_membership.h) feeds it what etcd says; the request
// path asks Admit() on the shard that would create the instance.
//
// Threading: every method may be called from any thread (one mutex).

#ifndef BATON_SERVER_CLUSTER_CLUSTER_VIEW_H_
#define BATON_SERVER_CLUSTER_CLUSTER_VIEW_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/runtime/clock.h"

namespace baton::cluster {

// A member of the cluster, as its key in etcd says.
struct Member {
  std::string node_id;
  std::string address;
  friend bool operator==(const Member&, const Member&) = default;
};

// An acknowledgement: the member list (node ids, ascending) a node has
// applied, and the etcd revision at which it wrote it.
struct Ack {
  std::vector<std::string> node_ids;
  std::int64_t revision = 0;
};

// The type URL of the payload a redirect carries on an absl::Status (a
// serialized baton.v1.Redirect).
inline constexpr char kRedirectTypeUrl[] = "type.googleapis.com/baton.v1.Redirect";

// RedirectStatus() is FAILED_PRECONDITION naming `owner`, with the payload.
absl::Status RedirectStatus(std::string_view name, const Member& owner);

// OwnerOf() is the owner of `name` among `node_ids`, or empty when none.
std::string_view OwnerOf(const std::vector<std::string>& node_ids, std::string_view name);

class ClusterView {
 public:
  ClusterView(std::string node_id, std::string cluster_name, runtime::Clock* clock);
  ClusterView(const ClusterView&) = delete;
  ClusterView& operator=(const ClusterView&) = delete;

  const std::string& node_id() const { return node_id_; }
  const std::string& cluster_name() const { return cluster_name_; }

  // --- What etcd says (the membership's threads).

  // SetSnapshot() replaces everything seen: the members (any order), every
  // node's acknowledgement, and the revision they are as of.
  void SetSnapshot(std::vector<Member> members, absl::flat_hash_map<std::string, Ack> acks,
                   std::int64_t revision);
  // SetMember() adds or replaces a member (nullopt `address`: removes it);
  // SetAck() likewise for an acknowledgement. `revision` is the event's.
  void SetMember(std::string_view node_id, std::optional<std::string> address,
                 std::int64_t revision);
  void SetAck(std::string_view node_id, std::optional<Ack> ack, std::int64_t revision);

  // SetLeaseProvenUntil() records until when this node's lease is proven
  // live (rule 1); never moves it back unless `reset` (a lease lost).
  void SetLeaseProvenUntil(absl::Time until, bool reset = false);
  absl::Time lease_proven_until() const;

  // Registered() records that this node's member key was put at
  // `revision` (a new lease): only an acknowledgement written after it
  // counts for rule 3. AckWriteStarted() and AckWritten() bracket each
  // write of this node's acknowledgement: until the watch has delivered
  // the latest one written (or the one being written, whose revision is
  // unknown until it answers), rule 3 holds nothing (an acknowledgement
  // seen may be older than one written since, which gave names up).
  void Registered(std::int64_t revision);
  void AckWriteStarted();
  void AckWritten(std::int64_t revision);

  // --- Applying.

  // Target() is the member list this node must apply now: the members
  // seen, when its lease is proven live and it is one of them; otherwise
  // empty (it owns nothing).
  std::vector<std::string> Target() const;
  // SetApplied() records that every hold on a name this node does not own
  // under `node_ids` is gone.
  void SetApplied(std::vector<std::string> node_ids);
  std::vector<std::string> applied() const;

  // OwnsUnder() says whether this node owns `name` under `node_ids`: what
  // applying them keeps.
  bool OwnsUnder(const std::vector<std::string>& node_ids, std::string_view name) const;

  // --- The request path (any thread).

  // Admit() is OK, with the floor of the new instance's fences, when this
  // node may create `name` now (the rules above); FAILED_PRECONDITION with
  // a redirect (RedirectStatus) when another node owns it; UNAVAILABLE
  // while the node cannot prove its lease, or `name` is being handed over
  // to it (retry).
  absl::StatusOr<std::uint64_t> Admit(std::string_view name) const;

  // OwnerElsewhere() is the owner of `name` under the members seen when it
  // is another node (where an Admin call or an Envoy rate-limit request is
  // forwarded), else nullopt. Allocates nothing when it answers nullopt.
  std::optional<Member> OwnerElsewhere(std::string_view name) const;

  // Members() is the members seen, ascending by node id, and their revision.
  std::vector<Member> Members(std::int64_t* revision) const;

 private:
  // MembersChangedLocked() makes member_ids_ follow members_.
  void MembersChangedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  const std::string node_id_;
  const std::string cluster_name_;
  runtime::Clock* const clock_;

  mutable absl::Mutex mutex_;
  // By node id (ordered: the member list is ascending).
  std::vector<Member> members_ ABSL_GUARDED_BY(mutex_);
  // Their node ids, in the same order (what placement takes).
  std::vector<std::string> member_ids_ ABSL_GUARDED_BY(mutex_);
  absl::flat_hash_map<std::string, Ack> acks_ ABSL_GUARDED_BY(mutex_);
  std::int64_t revision_ ABSL_GUARDED_BY(mutex_) = 0;
  absl::Time lease_proven_until_ ABSL_GUARDED_BY(mutex_) = absl::InfinitePast();
  std::vector<std::string> applied_ ABSL_GUARDED_BY(mutex_);
  // Rule 3 counts this node's acknowledgement only from this revision on,
  // and not while a write of it is unanswered.
  std::int64_t own_ack_floor_ ABSL_GUARDED_BY(mutex_) = 0;
  bool ack_write_unanswered_ ABSL_GUARDED_BY(mutex_) = false;
};

}  // namespace baton::cluster

#endif  // BATON_SERVER_CLUSTER_CLUSTER_VIEW_H_

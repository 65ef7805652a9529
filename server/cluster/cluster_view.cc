// Copyright 2026 The Baton Authors.

#include "server/cluster/cluster_view.h"

#include <algorithm>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "baton/v1/common.pb.h"
#include "server/cluster/placement.h"

namespace baton::cluster {
namespace {

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

bool Contains(const std::vector<std::string>& ids, std::string_view id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

absl::Status RedirectStatus(std::string_view name, const Member& owner) {
  absl::Status status = absl::FailedPreconditionError(
      absl::StrCat("name '", Absl(name), "' is owned by node ", owner.node_id, " at ", owner.address,
                   ": send it there"));
  v1::Redirect redirect;
  redirect.set_node_id(owner.node_id);
  redirect.set_address(owner.address);
  status.SetPayload(kRedirectTypeUrl, absl::Cord(redirect.SerializeAsString()));
  return status;
}

std::string_view OwnerOf(const std::vector<std::string>& node_ids, std::string_view name) {
  const std::optional<std::size_t> owner = OwnerIndex(node_ids, name);
  if (!owner) return {};
  return node_ids[*owner];
}

ClusterView::ClusterView(std::string node_id, std::string cluster_name, runtime::Clock* clock)
    : node_id_(std::move(node_id)), cluster_name_(std::move(cluster_name)), clock_(clock) {}

void ClusterView::SetSnapshot(std::vector<Member> members,
                              absl::flat_hash_map<std::string, Ack> acks, std::int64_t revision) {
  std::sort(members.begin(), members.end(),
            [](const Member& a, const Member& b) { return a.node_id < b.node_id; });
  absl::MutexLock lock(&mutex_);
  members_ = std::move(members);
  MembersChangedLocked();
  acks_ = std::move(acks);
  revision_ = revision;
}

void ClusterView::SetMember(std::string_view node_id, std::optional<std::string> address,
                            std::int64_t revision) {
  absl::MutexLock lock(&mutex_);
  auto it = std::lower_bound(members_.begin(), members_.end(), node_id,
                             [](const Member& m, std::string_view id) { return m.node_id < id; });
  const bool found = it != members_.end() && it->node_id == node_id;
  if (address.has_value()) {
    if (found) {
      it->address = std::move(*address);
    } else {
      members_.insert(it, Member{std::string(node_id), std::move(*address)});
    }
  } else if (found) {
    members_.erase(it);
  }
  MembersChangedLocked();
  revision_ = std::max(revision_, revision);
}

void ClusterView::SetAck(std::string_view node_id, std::optional<Ack> ack, std::int64_t revision) {
  absl::MutexLock lock(&mutex_);
  if (ack.has_value()) {
    acks_[std::string(node_id)] = std::move(*ack);
  } else {
    acks_.erase(std::string(node_id));
  }
  revision_ = std::max(revision_, revision);
}

void ClusterView::SetLeaseProvenUntil(absl::Time until, bool reset) {
  absl::MutexLock lock(&mutex_);
  if (reset || until > lease_proven_until_) lease_proven_until_ = until;
}

absl::Time ClusterView::lease_proven_until() const {
  absl::MutexLock lock(&mutex_);
  return lease_proven_until_;
}

void ClusterView::Registered(std::int64_t revision) {
  absl::MutexLock lock(&mutex_);
  own_ack_floor_ = std::max(own_ack_floor_, revision + 1);
}

void ClusterView::AckWriteStarted() {
  absl::MutexLock lock(&mutex_);
  ack_write_unanswered_ = true;
}

void ClusterView::AckWritten(std::int64_t revision) {
  absl::MutexLock lock(&mutex_);
  ack_write_unanswered_ = false;
  own_ack_floor_ = std::max(own_ack_floor_, revision);
}

void ClusterView::MembersChangedLocked() {
  member_ids_.clear();
  for (const Member& member : members_) member_ids_.push_back(member.node_id);
}

std::vector<std::string> ClusterView::Target() const {
  absl::MutexLock lock(&mutex_);
  if (!(clock_->Now() < lease_proven_until_)) return {};
  if (!Contains(member_ids_, node_id_)) return {};
  return member_ids_;
}

void ClusterView::SetApplied(std::vector<std::string> node_ids) {
  absl::MutexLock lock(&mutex_);
  applied_ = std::move(node_ids);
}

std::vector<std::string> ClusterView::applied() const {
  absl::MutexLock lock(&mutex_);
  return applied_;
}

bool ClusterView::OwnsUnder(const std::vector<std::string>& node_ids,
                            std::string_view name) const {
  return Contains(node_ids, node_id_) && OwnerOf(node_ids, name) == node_id_;
}

absl::StatusOr<std::uint64_t> ClusterView::Admit(std::string_view name) const {
  absl::MutexLock lock(&mutex_);
  // Rule 1: the lease.
  if (!(clock_->Now() < lease_proven_until_) || !Contains(applied_, node_id_)) {
    return absl::UnavailableError(absl::StrCat(
        "node ", node_id_, " of cluster ", cluster_name_,
        " cannot prove its membership now (is etcd reachable?): it grants nothing; retry"));
  }
  // Rule 2: the member list applied.
  const std::string_view owner = OwnerOf(applied_, name);
  if (owner != node_id_) {
    for (const Member& member : members_) {
      if (member.node_id == owner) return RedirectStatus(name, member);
    }
    return absl::UnavailableError(absl::StrCat("name '", Absl(name), "' is owned by node ", Absl(owner),
                                               ", which this node does not see now; retry"));
  }
  // Rule 3: this node's own acknowledgement, seen back from etcd.
  const auto own = acks_.find(node_id_);
  if (own == acks_.end() || ack_write_unanswered_ || own->second.revision < own_ack_floor_ ||
      OwnerOf(own->second.node_ids, name) != node_id_) {
    return absl::UnavailableError(absl::StrCat(
        "name '", Absl(name), "' is being handed over to node ", node_id_, "; retry"));
  }
  // Rule 4: nobody else claims it.
  for (const auto& [id, ack] : acks_) {
    if (id != node_id_ && OwnerOf(ack.node_ids, name) == id) {
      return absl::UnavailableError(absl::StrCat("name '", Absl(name), "' is being handed over from node ",
                                                 id, " to node ", node_id_, "; retry"));
    }
  }
  return static_cast<std::uint64_t>(own->second.revision) << 32;
}

std::optional<Member> ClusterView::OwnerElsewhere(std::string_view name) const {
  // Shared: every Envoy rate-limit request of a cluster node asks it.
  absl::ReaderMutexLock lock(&mutex_);
  const std::optional<std::size_t> owner = OwnerIndex(member_ids_, name);
  if (!owner || members_[*owner].node_id == node_id_) return std::nullopt;
  return members_[*owner];
}

std::vector<Member> ClusterView::Members(std::int64_t* revision) const {
  absl::MutexLock lock(&mutex_);
  if (revision != nullptr) *revision = revision_;
  return members_;
}

}  // namespace baton::cluster

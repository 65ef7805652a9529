// Copyright 2026 The Baton Authors.

#include "client/src/routing.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "server/cluster/placement.h"

namespace baton::internal {

Membership Membership::FromResponse(const v1::ClusterResponse& response) {
  std::vector<Member> members;
  members.reserve(response.members_size());
  for (const v1::ClusterMember& member : response.members()) {
    members.push_back(Member{member.node_id(), member.address()});
  }
  return FromMembers(std::move(members));
}

Membership Membership::FromMembers(std::vector<Member> members) {
  std::sort(members.begin(), members.end(),
            [](const Member& a, const Member& b) { return a.node_id < b.node_id; });
  Membership membership;
  membership.ids_.reserve(members.size());
  for (const Member& member : members) membership.ids_.push_back(member.node_id);
  membership.members_ = std::move(members);
  return membership;
}

const Member* Membership::OwnerOf(std::string_view name) const {
  const std::optional<std::size_t> owner = cluster::OwnerIndex(ids_, name);
  return owner.has_value() ? &members_[*owner] : nullptr;
}

const Member* Membership::Find(std::string_view node_id) const {
  for (const Member& member : members_) {
    if (member.node_id == node_id) return &member;
  }
  return nullptr;
}

AnswerAction OnAnswer(const v1::Status& status, int redirects) {
  const auto code = static_cast<absl::StatusCode>(status.code());
  if (code == absl::StatusCode::kFailedPrecondition && status.has_redirect()) {
    return redirects < kMaxRedirects ? AnswerAction::kFollowRedirect
                                     : AnswerAction::kTooManyRedirects;
  }
  if (code == absl::StatusCode::kUnavailable) return AnswerAction::kRetryLater;
  return AnswerAction::kComplete;
}

absl::Duration RetryBackoff(int attempt) {
  const int doublings = std::clamp(attempt - 1, 0, 4);
  return std::min(absl::Milliseconds(20) * (1 << doublings), absl::Milliseconds(250));
}

}  // namespace baton::internal

// Copyright 2026 The Baton Authors.
//
// Routing in a cluster of batond nodes (README, "A cluster on etcd"): which
// node a request goes to, and what to do with an answer that says "not
// here". The pure part of the client's routing, kept apart from the
// streams so that it is tested alone (tests/client/routing_test.cc).
//
//   - Membership is the member list a node answered (Admin.Cluster); the
//     owner of a name is computed here with the server's own placement
//     function (server/cluster/placement.h, compiled into the client), so
//     a request goes straight to the node that grants it.
//   - A node that does not own a name answers FAILED_PRECONDITION with a
//     redirect naming the owner: the client sends the request there, at
//     most kMaxRedirects times. While a name is being handed over (or the
//     owner cannot prove its membership) the answer is UNAVAILABLE: the
//     client sends it again after RetryBackoff(), within the request's
//     timeout and ClientOptions::handoff_timeout. Both answers mean the
//     node did nothing (it refuses to create the instance: server/core/
//     registry.cc, Registry::Create, asks the cluster's admission first;
//     a wait it ends on a hand-off was not granted).
//
// Example:
//   Membership members = Membership::FromResponse(cluster_response);
//   if (const Member* owner = members.OwnerOf("jobs/nightly"))
//   Dial(owner->address);
//
// Threading: values; a const Membership may be read from any thread.

#ifndef BATON_CLIENT_SRC_ROUTING_H_
#define BATON_CLIENT_SRC_ROUTING_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "baton/v1/admin.pb.h"
#include "baton/v1/common.pb.h"

namespace baton::internal {

// How many redirects one request follows before it fails UNAVAILABLE.
inline constexpr int kMaxRedirects = 3;

struct Member {
  std::string node_id;
  std::string address;
  bool operator==(const Member&) const = default;
};

class Membership {
 public:
  Membership() = default;
  // FromResponse() takes the members of an Admin.Cluster answer (empty for
  // a batond that runs alone), in ascending order of node id.
  static Membership FromResponse(const v1::ClusterResponse& response);
  static Membership FromMembers(std::vector<Member> members);

  bool empty() const { return members_.empty(); }
  const std::vector<Member>& members() const { return members_; }
  // OwnerOf() is the member that owns `name`, or nullptr when there is none.
  const Member* OwnerOf(std::string_view name) const;
  // Find() is the member with `node_id`, or nullptr.
  const Member* Find(std::string_view node_id) const;

 private:
  std::vector<Member> members_;   // ascending node ids
  std::vector<std::string> ids_;  // their ids, for placement
};

// What the client does with a node's answer to a request it routed.
enum class AnswerAction {
  kComplete,        // the answer is the request's
  kFollowRedirect,  // send it to the node the redirect names
  kRetryLater,      // UNAVAILABLE: send it again after a backoff
  kTooManyRedirects,
};

// OnAnswer() decides, for an answer `status` to a request that has followed
// `redirects` redirects already. Only a request that may move is asked
// (routed by its name, not bound to a hold of one session, not cancelled).
AnswerAction OnAnswer(const v1::Status& status, int redirects);

// RetryBackoff() is the pause before the `attempt`-th retry (1, 2, ...):
// 20 ms doubling to 250 ms.
absl::Duration RetryBackoff(int attempt);

}  // namespace baton::internal

#endif  // BATON_CLIENT_SRC_ROUTING_H_

// Copyright 2026 The Baton Authors.
//
// The client's routing (client/src/routing.h): the owner it computes is the
// one the server admits (server/cluster/cluster_view.h, OwnerOf), whatever
// order the members come in; redirects and UNAVAILABLE answers lead to the
// right action; the backoff is bounded.

#include "client/src/routing.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "baton/client.h"
#include "gtest/gtest.h"
#include "server/cluster/cluster_view.h"

namespace baton::internal {
namespace {

std::vector<Member> MembersOf(const std::vector<std::string>& ids) {
  std::vector<Member> members;
  for (const std::string& id : ids) members.push_back({id, id + ".example:7070"});
  return members;
}

TEST(MembershipTest, OwnerAgreesWithTheServerOnManyNamesAndMemberOrders) {
  std::mt19937 random(15);
  for (int round = 0; round < 20; ++round) {
    std::vector<std::string> ids;
    const int n = 1 + round % 7;
    for (int i = 0; i < n; ++i) ids.push_back("node-" + std::to_string(random() % 1000));
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    std::vector<Member> shuffled = MembersOf(ids);
    std::shuffle(shuffled.begin(), shuffled.end(), random);
    const Membership membership = Membership::FromMembers(shuffled);
    for (int i = 0; i < 500; ++i) {
      const std::string name = (i % 10 == 0 ? "envoy/domain-" + std::to_string(i % 30) + "/k"
                                            : "jobs/" + std::to_string(random()));
      const Member* owner = membership.OwnerOf(name);
      ASSERT_NE(owner, nullptr);
      EXPECT_EQ(owner->node_id, cluster::OwnerOf(ids, name)) << name;
      EXPECT_EQ(owner->address, owner->node_id + ".example:7070");
    }
  }
}

TEST(MembershipTest, AnEnvoyDomainStaysOnOneNode) {
  const Membership membership = Membership::FromMembers(MembersOf({"a", "b", "c", "d"}));
  const Member* first = membership.OwnerOf("envoy/payments/k1");
  ASSERT_NE(first, nullptr);
  for (const char* name : {"envoy/payments/k2", "envoy/payments/x/y", "envoy/payments/"}) {
    EXPECT_EQ(membership.OwnerOf(name)->node_id, first->node_id) << name;
  }
}

TEST(MembershipTest, FromResponseKeepsEveryMemberAndFindsThemById) {
  v1::ClusterResponse response;
  for (const char* id : {"c", "a", "b"}) {
    v1::ClusterMember* member = response.add_members();
    member->set_node_id(id);
    member->set_address(std::string(id) + ":1");
  }
  const Membership membership = Membership::FromResponse(response);
  ASSERT_EQ(membership.members().size(), 3u);
  EXPECT_EQ(membership.members()[0].node_id, "a");
  ASSERT_NE(membership.Find("b"), nullptr);
  EXPECT_EQ(membership.Find("b")->address, "b:1");
  EXPECT_EQ(membership.Find("z"), nullptr);
  EXPECT_TRUE(Membership::FromResponse(v1::ClusterResponse()).empty());
  EXPECT_EQ(Membership().OwnerOf("x"), nullptr);
}

v1::Status StatusOf(absl::StatusCode code, bool redirect) {
  v1::Status status;
  status.set_code(static_cast<int>(code));
  if (redirect) status.mutable_redirect()->set_node_id("b");
  return status;
}

TEST(OnAnswerTest, RedirectsAreFollowedABoundedNumberOfTimes) {
  const v1::Status redirect = StatusOf(absl::StatusCode::kFailedPrecondition, true);
  for (int hops = 0; hops < kMaxRedirects; ++hops) {
    EXPECT_EQ(OnAnswer(redirect, hops), AnswerAction::kFollowRedirect) << hops;
  }
  EXPECT_EQ(OnAnswer(redirect, kMaxRedirects), AnswerAction::kTooManyRedirects);
}

TEST(OnAnswerTest, UnavailableIsRetriedAndEverythingElseIsTheAnswer) {
  EXPECT_EQ(OnAnswer(StatusOf(absl::StatusCode::kUnavailable, false), 0),
            AnswerAction::kRetryLater);
  // FAILED_PRECONDITION without a redirect is an answer (another kind, not
  // held): never sent elsewhere.
  for (absl::StatusCode code : {absl::StatusCode::kOk, absl::StatusCode::kFailedPrecondition,
                                absl::StatusCode::kDeadlineExceeded, absl::StatusCode::kNotFound,
                                absl::StatusCode::kAborted, absl::StatusCode::kResourceExhausted}) {
    EXPECT_EQ(OnAnswer(StatusOf(code, false), 0), AnswerAction::kComplete)
        << absl::StatusCodeToString(code);
  }
}

TEST(RetryBackoffTest, DoublesFrom20MsTo250Ms) {
  EXPECT_EQ(RetryBackoff(1), absl::Milliseconds(20));
  EXPECT_EQ(RetryBackoff(2), absl::Milliseconds(40));
  EXPECT_EQ(RetryBackoff(4), absl::Milliseconds(160));
  EXPECT_EQ(RetryBackoff(5), absl::Milliseconds(250));
  EXPECT_EQ(RetryBackoff(1000), absl::Milliseconds(250));
}

TEST(ConnectTest, BadClusterOptionsAreRefusedNamingTheFieldBeforeDialing) {
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Connect({.address = "unix:/nonexistent", .handoff_timeout = absl::Seconds(-1)});
  EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(client.status().message().find("handoff_timeout"), absl::string_view::npos)
      << client.status();
  client = Client::Connect({.address = "unix:/nonexistent", .seeds = {"a:1", ""}});
  EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(client.status().message().find("seeds[1]"), absl::string_view::npos)
      << client.status();
}

}  // namespace
}  // namespace baton::internal

// Copyright 2026 The Baton Authors.

#include "server/cluster/placement.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace baton::cluster {
namespace {

// Every router (the C++ client, the Python client) computes the same
// scores: these values are the contract (computed independently in Python).
TEST(PlacementTest, ScoresArePinned) {
  EXPECT_EQ(RendezvousScore("n1", "jobs/nightly"), 1695623948682119032ull);
  EXPECT_EQ(RendezvousScore("node-a", "x"), 18872229811939082ull);
  EXPECT_EQ(RendezvousScore("", ""), 2737183428366584608ull);
  const std::vector<std::string> ids = {"n1", "n2", "n3"};
  EXPECT_EQ(ids[*OwnerIndex(ids, "jobs/nightly")], "n3");
  EXPECT_EQ(ids[*OwnerIndex(ids, "a")], "n3");
  EXPECT_EQ(ids[*OwnerIndex(ids, "b")], "n2");
}

TEST(PlacementTest, NoMembersNoOwner) {
  EXPECT_FALSE(OwnerIndex({}, "x").has_value());
}

TEST(PlacementTest, EnvoyDomainsStayTogether) {
  EXPECT_EQ(PlacementKey("envoy/dom/a/b"), "envoy/dom/");
  EXPECT_EQ(PlacementKey("envoy"), "envoy");
  EXPECT_EQ(PlacementKey("jobs/x"), "jobs/x");
  const std::vector<std::string> ids = {"n1", "n2", "n3", "n4"};
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(OwnerIndex(ids, absl::StrCat("envoy/dom/", i)), OwnerIndex(ids, "envoy/dom/"));
  }
}

TEST(PlacementTest, SpreadsNames) {
  const std::vector<std::string> ids = {"n1", "n2", "n3"};
  std::map<std::size_t, int> per_node;
  constexpr int kNames = 30000;
  for (int i = 0; i < kNames; ++i) ++per_node[*OwnerIndex(ids, absl::StrCat("name/", i))];
  ASSERT_EQ(per_node.size(), 3u);
  for (const auto& [node, count] : per_node) {
    EXPECT_GT(count, kNames / 3 * 9 / 10) << ids[node];
    EXPECT_LT(count, kNames / 3 * 11 / 10) << ids[node];
  }
}

// A member that comes takes names only for itself; one that goes gives up
// only its own: nothing else moves.
TEST(PlacementTest, OnlyTheNamesOfTheNodeThatCameOrWentMove) {
  const std::vector<std::string> three = {"a", "b", "c"};
  const std::vector<std::string> four = {"a", "b", "c", "d"};
  int moved = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string name = absl::StrCat("n", i);
    const std::string before = three[*OwnerIndex(three, name)];
    const std::string after = four[*OwnerIndex(four, name)];
    if (before != after) {
      EXPECT_EQ(after, "d") << name;  // joined: only to the newcomer
      ++moved;
    }
    // d leaves again: its names go back where they were, nothing else moves.
    EXPECT_EQ(before, three[*OwnerIndex(three, name)]);
  }
  EXPECT_GT(moved, 20000 / 4 * 8 / 10);
  EXPECT_LT(moved, 20000 / 4 * 12 / 10);
}

}  // namespace
}  // namespace baton::cluster

// Copyright 2026 The Baton Authors.
//
// ClusterView's rule, on a fake membership and a manual clock: what a node
// admits, redirects and refuses, and (the randomized test) that across
// nodes whose views lag etcd by different amounts, no two nodes ever have
// an instance of the same name, and fences grow across owners.

#include "server/cluster/cluster_view.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "baton/v1/common.pb.h"
#include "gtest/gtest.h"
#include "server/runtime/clock.h"

namespace baton::cluster {
namespace {

std::vector<Member> Members(const std::vector<std::string>& ids) {
  std::vector<Member> members;
  for (const std::string& id : ids) members.push_back({id, absl::StrCat(id, ".host:7070")});
  return members;
}

// A name that `owner` owns among `ids`.
std::string NameOwnedBy(const std::vector<std::string>& ids, std::string_view owner,
                        std::string_view also_owner_among = {},
                        const std::vector<std::string>* other_ids = nullptr) {
  for (int i = 0;; ++i) {
    std::string name = absl::StrCat("name/", i);
    if (OwnerOf(ids, name) != owner) continue;
    if (other_ids != nullptr && OwnerOf(*other_ids, name) != also_owner_among) continue;
    return name;
  }
}

class ClusterViewTest : public ::testing::Test {
 protected:
  // Node "a" of {a, b, c}, lease proven for 3 s, list applied and acked at
  // revision 10.
  void SetUpSteady() {
    view_.SetSnapshot(Members(ids_), {}, 9);
    view_.SetLeaseProvenUntil(clock_.Now() + absl::Seconds(3));
    view_.SetApplied(view_.Target());
    view_.SetAck("a", Ack{ids_, 10}, 10);
  }

  runtime::ManualClock clock_;
  ClusterView view_{"a", "test", &clock_};
  const std::vector<std::string> ids_ = {"a", "b", "c"};
};

TEST_F(ClusterViewTest, NothingIsAdmittedBeforeTheLeaseIsProven) {
  view_.SetSnapshot(Members(ids_), {}, 9);
  view_.SetApplied(ids_);
  view_.SetAck("a", Ack{ids_, 10}, 10);
  EXPECT_TRUE(view_.Target().empty());
  const absl::StatusOr<std::uint64_t> admitted = view_.Admit(NameOwnedBy(ids_, "a"));
  EXPECT_EQ(admitted.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(ClusterViewTest, OwnNamesAdmittedWithTheRevisionInTheFence) {
  SetUpSteady();
  const absl::StatusOr<std::uint64_t> admitted = view_.Admit(NameOwnedBy(ids_, "a"));
  ASSERT_TRUE(admitted.ok()) << admitted.status();
  EXPECT_EQ(*admitted, std::uint64_t{10} << 32);
}

TEST_F(ClusterViewTest, OtherNamesRedirectToTheirOwner) {
  SetUpSteady();
  const std::string name = NameOwnedBy(ids_, "b");
  const absl::StatusOr<std::uint64_t> admitted = view_.Admit(name);
  ASSERT_EQ(admitted.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(admitted.status().message().find("b.host:7070"), absl::string_view::npos);
  const absl::optional<absl::Cord> payload = admitted.status().GetPayload(kRedirectTypeUrl);
  ASSERT_TRUE(payload.has_value());
  v1::Redirect redirect;
  ASSERT_TRUE(redirect.ParseFromString(std::string(*payload)));
  EXPECT_EQ(redirect.node_id(), "b");
  EXPECT_EQ(redirect.address(), "b.host:7070");
  ASSERT_TRUE(view_.OwnerElsewhere(name).has_value());
  EXPECT_EQ(view_.OwnerElsewhere(name)->node_id, "b");
  EXPECT_FALSE(view_.OwnerElsewhere(NameOwnedBy(ids_, "a")).has_value());
}

TEST_F(ClusterViewTest, LeaseNotProvenStopsEverything) {
  SetUpSteady();
  clock_.Advance(absl::Seconds(3));
  EXPECT_TRUE(view_.Target().empty());
  EXPECT_EQ(view_.Admit(NameOwnedBy(ids_, "a")).status().code(), absl::StatusCode::kUnavailable);
  // A keepalive answered again: back.
  view_.SetLeaseProvenUntil(clock_.Now() + absl::Seconds(1));
  EXPECT_EQ(view_.Target(), ids_);
  EXPECT_TRUE(view_.Admit(NameOwnedBy(ids_, "a")).ok());
  // A lease lost moves the proof back.
  view_.SetLeaseProvenUntil(absl::InfinitePast(), /*reset=*/true);
  EXPECT_TRUE(view_.Target().empty());
}

TEST_F(ClusterViewTest, NotAMemberOwnsNothing) {
  SetUpSteady();
  view_.SetMember("a", std::nullopt, 11);
  EXPECT_TRUE(view_.Target().empty());
}

TEST_F(ClusterViewTest, NewNamesWaitForTheOwnAcknowledgement) {
  SetUpSteady();
  // d joins; a name moves from a to... a name that c owns now and "a"
  // owns once c has gone: a takes it when c leaves.
  const std::vector<std::string> without_c = {"a", "b"};
  const std::string name = NameOwnedBy(without_c, "a", "c", &ids_);
  view_.SetMember("c", std::nullopt, 11);
  view_.SetAck("c", std::nullopt, 11);
  view_.SetApplied(view_.Target());
  // Applied, but a's acknowledgement still says {a,b,c}: c's name is not
  // a's yet.
  EXPECT_EQ(view_.Admit(name).status().code(), absl::StatusCode::kUnavailable);
  view_.SetAck("a", Ack{without_c, 12}, 12);
  const absl::StatusOr<std::uint64_t> admitted = view_.Admit(name);
  ASSERT_TRUE(admitted.ok()) << admitted.status();
  EXPECT_EQ(*admitted, std::uint64_t{12} << 32);
}

TEST_F(ClusterViewTest, ANameAnotherNodeStillClaimsWaits) {
  SetUpSteady();
  // c claims it in an acknowledgement of a list where it owns it.
  const std::vector<std::string> with_d = {"a", "b", "c", "d"};
  const std::string name = NameOwnedBy(ids_, "a", "d", &with_d);
  // a sees d leave: {a,b,c} is what a applies; d's last acknowledgement,
  // of {a,b,c,d}, still claims the name.
  view_.SetAck("d", Ack{with_d, 11}, 11);
  EXPECT_EQ(view_.Admit(name).status().code(), absl::StatusCode::kUnavailable);
  // d acknowledges a list where it does not own it (or its lease ends).
  view_.SetAck("d", std::nullopt, 12);
  EXPECT_TRUE(view_.Admit(name).ok());
}

// --- The randomized model: etcd as an ordered log, nodes whose watches
// lag it, apply and acknowledge at random moments, crash (lease expiry:
// the node has stopped before etcd deletes its keys), leave and join.

struct Event {
  bool member = false;  // else an ack
  std::string id;
  std::optional<std::string> value;  // nullopt: deleted
  std::int64_t revision = 0;
};

struct ModelNode {
  ModelNode(std::string id, runtime::Clock* clock)
      : id(id), view(std::make_unique<ClusterView>(id, "model", clock)) {}
  std::string id;
  std::unique_ptr<ClusterView> view;
  std::size_t watched = 0;  // events of the log applied to the view
  std::optional<std::vector<std::string>> applied;
  std::optional<std::vector<std::string>> ack_pending;
  bool alive = true;
  bool registered = true;
  // Instances (names it may grant), with their fence floors.
  std::map<std::string, std::uint64_t> instances;
};

class Model {
 public:
  explicit Model(std::uint32_t seed) : random_(seed) {}

  void Run(int steps) {
    for (int i = 0; i < 3; ++i) Join();
    for (int step = 0; step < steps; ++step) {
      Step();
      Check(step);
      if (::testing::Test::HasFailure()) return;
    }
  }

  std::size_t grants() const { return grants_; }

 private:
  std::int64_t Append(bool member, std::string id, std::optional<std::string> value) {
    ++revision_;
    log_.push_back(Event{member, std::move(id), std::move(value), revision_});
    return revision_;
  }

  void Join() {
    const std::string id = absl::StrCat("n", next_id_++);
    nodes_.push_back(std::make_unique<ModelNode>(id, &clock_));
    ModelNode& node = *nodes_.back();
    Register(node);
    // Start(): a snapshot at the current revision.
    CatchUp(node);
  }

  void CatchUp(ModelNode& node) {
    while (node.watched < log_.size()) WatchOne(node);
  }

  void WatchOne(ModelNode& node) {
    const Event& event = log_[node.watched++];
    if (event.member) {
      node.view->SetMember(event.id, event.value, event.revision);
    } else if (event.value.has_value()) {
      Ack ack;
      ack.revision = event.revision;
      for (absl::string_view id : absl::StrSplit(*event.value, ',', absl::SkipEmpty())) {
        ack.node_ids.emplace_back(id.data(), id.size());
      }
      node.view->SetAck(event.id, std::move(ack), event.revision);
    } else {
      node.view->SetAck(event.id, std::nullopt, event.revision);
    }
  }

  void Apply(ModelNode& node) {
    std::vector<std::string> target = node.view->Target();
    if (node.applied == target) return;
    node.view->SetApplied(target);
    for (auto it = node.instances.begin(); it != node.instances.end();) {
      it = node.view->OwnsUnder(target, it->first) ? std::next(it) : node.instances.erase(it);
    }
    node.applied = target;
    node.ack_pending = target.empty() ? std::nullopt : std::optional(target);
  }

  void WriteAck(ModelNode& node) {
    if (!node.ack_pending || node.applied != node.ack_pending || !node.registered) return;
    node.view->AckWriteStarted();
    const int outcome = std::uniform_int_distribution<int>(0, 9)(random_);
    if (outcome == 0) return;  // timed out before etcd got it: retried later
    const std::int64_t revision = Append(false, node.id, absl::StrJoin(*node.ack_pending, ","));
    if (outcome == 1) return;  // landed, but the answer timed out: retried later
    node.view->AckWritten(revision);
    node.ack_pending.reset();
  }

  // The node's lease ends while it lives (etcd unreachable past the TTL):
  // it has stopped first (rule 1), then etcd deletes its keys; later it
  // registers again, with a new lease, and catches up at its own pace.
  void LoseLease(ModelNode& node) {
    node.instances.clear();
    node.view->SetLeaseProvenUntil(absl::InfinitePast(), /*reset=*/true);
    node.registered = false;
    Append(true, node.id, std::nullopt);
    Append(false, node.id, std::nullopt);
  }

  void Register(ModelNode& node) {
    node.view->SetLeaseProvenUntil(absl::InfiniteFuture());
    node.view->Registered(Append(true, node.id, absl::StrCat(node.id, ":1")));
    node.registered = true;
  }

  void TryCreate(ModelNode& node) {
    const std::string name = absl::StrCat("x", std::uniform_int_distribution<int>(0, 11)(random_));
    if (node.instances.count(name) != 0) return;
    const absl::StatusOr<std::uint64_t> admitted = node.view->Admit(name);
    if (!admitted.ok()) return;
    // The fence floor is above every fence an earlier owner granted.
    auto [it, inserted] = last_owner_.try_emplace(name, node.id, *admitted);
    if (!inserted) {
      if (it->second.first != node.id) {
        EXPECT_GT(*admitted, it->second.second)
            << name << " taken by " << node.id << " from " << it->second.first;
      }
      it->second = {node.id, std::max(it->second.second, *admitted)};
    }
    node.instances[name] = *admitted;
    ++grants_;
  }

  // The node stops (rule 1: before etcd ends its lease), then its keys go.
  void Crash(ModelNode& node) {
    node.instances.clear();
    node.alive = false;
    node.view->SetLeaseProvenUntil(absl::InfinitePast(), /*reset=*/true);
    Append(true, node.id, std::nullopt);
    Append(false, node.id, std::nullopt);
  }

  void Step() {
    std::vector<ModelNode*> alive;
    for (auto& node : nodes_) {
      if (node->alive) alive.push_back(node.get());
    }
    const int what = std::uniform_int_distribution<int>(0, 99)(random_);
    if (what < 2 && alive.size() < 6) {
      Join();
      return;
    }
    if (what < 4 && alive.size() > 1) {
      Crash(*alive[std::uniform_int_distribution<std::size_t>(0, alive.size() - 1)(random_)]);
      return;
    }
    ModelNode& node =
        *alive[std::uniform_int_distribution<std::size_t>(0, alive.size() - 1)(random_)];
    if (what < 6) {
      if (node.registered) {
        LoseLease(node);
      } else {
        Register(node);
      }
    } else if (what < 40) {
      if (node.watched < log_.size()) WatchOne(node);
    } else if (what < 55) {
      Apply(node);
    } else if (what < 65) {
      WriteAck(node);
    } else {
      TryCreate(node);
    }
  }

  void Check(int step) {
    std::map<std::string, std::string> holder;
    for (const auto& node : nodes_) {
      for (const auto& [name, floor] : node->instances) {
        auto [it, inserted] = holder.emplace(name, node->id);
        EXPECT_TRUE(inserted) << "step " << step << ": " << name << " on " << it->second
                              << " and " << node->id;
      }
    }
  }

  runtime::ManualClock clock_;
  std::mt19937 random_;
  std::vector<Event> log_;
  std::int64_t revision_ = 1;
  int next_id_ = 0;
  std::vector<std::unique_ptr<ModelNode>> nodes_;
  std::map<std::string, std::pair<std::string, std::uint64_t>> last_owner_;
  std::size_t grants_ = 0;
};

TEST(ClusterViewModelTest, NoNameOnTwoNodesAndFencesGrowAcrossOwners) {
  std::size_t grants = 0;
  for (std::uint32_t seed = 1; seed <= 200; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    Model model(seed);
    model.Run(3000);
    grants += model.grants();
    if (::testing::Test::HasFailure()) return;
  }
  EXPECT_GT(grants, 10000u);  // the model does reach the interesting states
}

}  // namespace
}  // namespace baton::cluster

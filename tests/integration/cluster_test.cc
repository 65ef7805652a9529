// Copyright 2026 The Baton Authors.
//
// A cluster of batond nodes on one etcd (issue 15), all on loopback: etcd
// started by the test on a temp dir, nodes with a 2 s lease. The clients
// here are raw Session streams that route by rendezvous hashing over the
// members (Admin.Cluster) and follow redirects, one session per node.
//
//   - names spread over every node; a non-owner redirects; Admin calls to a
//     non-owner are forwarded;
//   - mutual exclusion from workers on every node while a node is killed
//     and another added: a history of every grant and release, checked for
//     overlaps and for fences increasing per name;
//   - etcd stopped (SIGSTOP) for a few seconds: the nodes stop granting,
//     revoke their holds, and serve again once it is back;
//   - the C++ client (baton::Client) and the `baton` CLI connected to one
//     node: locks of every node taken on their owners, mutual exclusion
//     across clients of different seed nodes, a killed node's holds lost
//     and its names granted again by their new owners;
//   - Admin.List from any node lists every node's instances, paged; the
//     members that do not answer are named;
//   - Envoy's ShouldRateLimit sent to any node is decided by the domain's
//     owner, on one bucket.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "baton/client.h"
#include "baton/v1/admin.grpc.pb.h"
#include "envoy/service/ratelimit/v3/rls.grpc.pb.h"
#include "gtest/gtest.h"
#include "server/cluster/peer_channels.h"
#include "server/cluster/placement.h"
#include "tests/testing/batond_process.h"
#include "tests/testing/etcd_process.h"
#include "tests/testing/session_client.h"

namespace baton {
namespace {

using ::baton::testing::BatondProcess;
using ::baton::testing::EtcdProcess;
using ::baton::testing::FreePort;
using ::baton::testing::SessionClient;
using Clock = std::chrono::steady_clock;
namespace ops = ::baton::testing::ops;

struct Members {
  std::vector<std::string> ids;
  std::map<std::string, std::string> address;  // by id
};

absl::StatusOr<Members> AskCluster(const std::string& address) {
  auto stub =
      v1::Admin::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  v1::ClusterResponse response;
  const grpc::Status status = stub->Cluster(&context, v1::ClusterRequest(), &response);
  if (!status.ok()) return absl::UnavailableError(status.error_message());
  Members members;
  for (const v1::ClusterMember& member : response.members()) {
    members.ids.push_back(member.node_id());
    members.address[member.node_id()] = member.address();
  }
  return members;
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(etcd_.Ready()) << "etcd did not start: " << etcd_.last_error();
  }

  // AddNode() starts the node `id`, with `flags` besides the cluster's.
  BatondProcess& AddNode(const std::string& id, std::vector<std::string> flags = {}) {
    std::vector<std::string> all = {"--shards=2",
                                    "--cluster_etcd=" + etcd_.endpoint(),
                                    "--cluster_node_id=" + id,
                                    "--cluster_lease_ttl=2s",
                                    "--cluster_name=test",
                                    "--grace=0s"};
    all.insert(all.end(), flags.begin(), flags.end());
    nodes_[id] = std::make_unique<BatondProcess>(std::move(all));
    return *nodes_[id];
  }

  // WaitForMembers() waits until every live node lists exactly `ids`.
  bool WaitForMembers(std::vector<std::string> ids) {
    std::sort(ids.begin(), ids.end());
    const auto deadline = Clock::now() + std::chrono::seconds(15);
    while (Clock::now() < deadline) {
      bool all = true;
      for (const std::string& id : ids) {
        absl::StatusOr<Members> members = AskCluster(nodes_[id]->address());
        all = all && members.ok() && members->ids == ids;
      }
      if (all) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling the members
    }
    return false;
  }

  EtcdProcess etcd_;
  std::map<std::string, std::unique_ptr<BatondProcess>> nodes_;
};

// Router: a worker's sessions, one per node, opened on first use; sends each
// request to the owner of its name and follows redirects.
class Router {
 public:
  explicit Router(std::string seed, std::string name) : seed_(std::move(seed)), name_(name) {
    Refresh();
  }
  ~Router() {
    for (auto& [address, session] : sessions_) session->HalfClose();
    for (auto& [address, session] : sessions_) session->Finish(std::chrono::seconds(2));
  }

  struct Outcome {
    std::optional<v1::Response> response;
    std::string node;  // the address that answered
  };

  // Call() sends `request` to the owner; on a redirect, to the node named;
  // on UNAVAILABLE or a broken stream, again after a refresh, until
  // `deadline`.
  Outcome Call(v1::Request request, Clock::time_point deadline) {
    std::string address = OwnerAddress(request.name());
    while (Clock::now() < deadline) {
      if (address.empty()) {
        Refresh();
        address = OwnerAddress(request.name());
        if (address.empty()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));  // retry backoff
          continue;
        }
      }
      SessionClient* session = SessionFor(address);
      request.set_id(next_id_++);
      std::optional<v1::Response> response =
          session == nullptr ? std::nullopt : session->Call(request, std::chrono::seconds(3));
      if (!response.has_value()) {
        sessions_.erase(address);  // broken: the node died, or is slow
        address.clear();
        continue;
      }
      if (response->status().code() == grpc::StatusCode::FAILED_PRECONDITION &&
          response->status().has_redirect()) {
        address = response->status().redirect().address();
        continue;
      }
      if (response->status().code() == grpc::StatusCode::UNAVAILABLE) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // retry backoff
        address.clear();
        continue;
      }
      return Outcome{std::move(response), address};
    }
    return Outcome{};
  }

  // Release() sends a release to `address` only (the node that granted).
  std::optional<v1::Response> Release(const std::string& address, v1::Request request) {
    SessionClient* session = SessionFor(address);
    if (session == nullptr) return std::nullopt;
    request.set_id(next_id_++);
    return session->Call(request, std::chrono::seconds(3));
  }

  void Refresh() {
    std::vector<std::string> candidates = {seed_};
    for (const auto& [id, address] : members_.address) candidates.push_back(address);
    for (const std::string& candidate : candidates) {
      absl::StatusOr<Members> members = AskCluster(candidate);
      if (members.ok() && !members->ids.empty()) {
        members_ = *std::move(members);
        return;
      }
    }
  }

  std::string OwnerAddress(const std::string& name) {
    const std::optional<std::size_t> owner = cluster::OwnerIndex(members_.ids, name);
    if (!owner) return "";
    return members_.address[members_.ids[*owner]];
  }

  void set_seed(std::string seed) { seed_ = std::move(seed); }

 private:
  SessionClient* SessionFor(const std::string& address) {
    auto it = sessions_.find(address);
    if (it != sessions_.end()) return it->second.get();
    auto session = std::make_unique<SessionClient>(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    if (!session->Open(name_, name_, std::nullopt, {}, std::chrono::seconds(2))) return nullptr;
    return sessions_.emplace(address, std::move(session)).first->second.get();
  }

  std::string seed_;
  std::string name_;
  Members members_;
  std::map<std::string, std::unique_ptr<SessionClient>> sessions_;
  std::uint64_t next_id_ = 1;
};

TEST_F(ClusterTest, NamesSpreadRedirectAndAdminIsForwarded) {
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(AddNode(id).started());
  ASSERT_TRUE(WaitForMembers({"a", "b", "c"}));
  Router router(nodes_["a"]->address(), "spread");
  std::map<std::string, int> per_node;
  for (int i = 0; i < 30; ++i) {
    const std::string name = "spread/" + std::to_string(i);
    Router::Outcome outcome = router.Call(ops::Acquire(0, name, v1::KIND_PRIORITY_LOCK),
                                          Clock::now() + std::chrono::seconds(10));
    ASSERT_TRUE(outcome.response.has_value()) << name;
    ASSERT_EQ(testing::CodeOf(*outcome.response), grpc::StatusCode::OK)
        << outcome.response->ShortDebugString();
    EXPECT_EQ(outcome.node, router.OwnerAddress(name));
    ++per_node[outcome.node];
  }
  EXPECT_EQ(per_node.size(), 3u);

  // A non-owner redirects a Session request to the owner.
  const std::string name = "spread/0";
  const std::string owner = router.OwnerAddress(name);
  std::string other;
  for (const auto& [id, node] : nodes_) {
    if (node->address() != owner) other = node->address();
  }
  SessionClient direct(grpc::CreateChannel(other, grpc::InsecureChannelCredentials()));
  ASSERT_TRUE(direct.Open("direct", "direct"));
  std::optional<v1::Response> redirected =
      direct.Call(ops::Acquire(1, name, v1::KIND_PRIORITY_LOCK));
  ASSERT_TRUE(redirected.has_value());
  EXPECT_EQ(testing::CodeOf(*redirected), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(redirected->status().redirect().address(), owner);

  // An Admin call to the non-owner is forwarded: the owner describes it.
  auto admin =
      v1::Admin::NewStub(grpc::CreateChannel(other, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::DescribeRequest describe;
  describe.set_name(name);
  v1::DescribeResponse described;
  const grpc::Status status = admin->Describe(&context, describe, &described);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(described.state().locked());
  direct.HalfClose();
  direct.Finish(std::chrono::seconds(2));
}

// One grant in the history.
struct Grant {
  std::string name;
  std::uint64_t fence = 0;
  std::string node;
  Clock::time_point granted;
  Clock::time_point release_sent;
  bool released = false;  // the release was answered OK: held until it was sent
};

TEST_F(ClusterTest, MutualExclusionThroughAKillAndAJoin) {
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(AddNode(id).started());
  ASSERT_TRUE(WaitForMembers({"a", "b", "c"}));
  std::vector<std::string> names;
  for (int i = 0; i < 8; ++i) names.push_back("mutex/" + std::to_string(i));

  std::mutex history_mutex;
  std::vector<Grant> history;
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  const std::string seed = nodes_["a"]->address();
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&, w] {
      Router router(seed, "worker-" + std::to_string(w));
      std::mt19937 random(w);
      while (!stop.load()) {
        const std::string& name = names[random() % names.size()];
        Router::Outcome outcome =
            router.Call(ops::Acquire(0, name, v1::KIND_PRIORITY_LOCK, 0, std::chrono::seconds(1)),
                        Clock::now() + std::chrono::seconds(2));
        if (!outcome.response.has_value() || !testing::IsOk(*outcome.response)) continue;
        Grant grant{name, outcome.response->fence(), outcome.node, Clock::now(), {}, false};
        std::this_thread::sleep_for(std::chrono::milliseconds(random() % 10));  // the work
        grant.release_sent = Clock::now();
        std::optional<v1::Response> released =
            router.Release(outcome.node, ops::Release(0, name, v1::KIND_PRIORITY_LOCK, true));
        grant.released = released.has_value() && testing::IsOk(*released);
        std::lock_guard<std::mutex> lock(history_mutex);
        history.push_back(grant);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));  // load before the kill
  const std::string killed = nodes_["b"]->address();
  const Clock::time_point kill_time = Clock::now();
  nodes_["b"]->Signal(SIGKILL);
  std::this_thread::sleep_for(std::chrono::seconds(4));  // the lease runs out; names move
  ASSERT_TRUE(AddNode("d").started());
  std::this_thread::sleep_for(std::chrono::seconds(3));  // d takes its names
  stop = true;
  for (std::thread& worker : workers) worker.join();

  // Zero overlaps among holds whose release proved them held until it.
  std::map<std::string, std::vector<const Grant*>> by_name;
  for (const Grant& grant : history) by_name[grant.name].push_back(&grant);
  std::size_t overlaps = 0;
  std::set<std::string> nodes_granting;
  std::optional<Clock::duration> failover;
  std::set<std::string> names_of_killed;
  for (auto& [name, grants] : by_name) {
    std::sort(grants.begin(), grants.end(),
              [](const Grant* x, const Grant* y) { return x->granted < y->granted; });
    for (std::size_t i = 0; i < grants.size(); ++i) {
      nodes_granting.insert(grants[i]->node);
      if (grants[i]->node == killed) names_of_killed.insert(name);
      if (i > 0) {
        EXPECT_GT(grants[i]->fence, grants[i - 1]->fence)
            << name << ": fence of a later grant (on " << grants[i]->node
            << ") not above the one before (on " << grants[i - 1]->node << ")";
      }
      for (std::size_t j = i + 1; j < grants.size(); ++j) {
        const Grant& x = *grants[i];
        const Grant& y = *grants[j];
        if (!x.released || !y.released) continue;
        if (y.granted < x.release_sent && x.granted < y.release_sent) ++overlaps;
      }
    }
  }
  for (const auto& [name, grants] : by_name) {
    if (names_of_killed.count(name) == 0) continue;
    for (const Grant* grant : grants) {
      if (grant->granted > kill_time && grant->node != killed) {
        const Clock::duration took = grant->granted - kill_time;
        if (!failover || took < *failover) failover = took;
        break;
      }
    }
  }
  EXPECT_EQ(overlaps, 0u);
  EXPECT_GE(nodes_granting.size(), 4u) << "grants from a, b, c and d";
  EXPECT_GT(history.size(), 100u);
  ASSERT_TRUE(failover.has_value()) << "no name of the killed node was granted again";
  // The lease's TTL (2 s), etcd's expiry check (every 500 ms), a watch
  // round trip, the hand-off, and this client's retries: the figure (about
  // 2-3.5 s) is printed below and measured by bench/cluster; a timed bound
  // here failed at 5.02 s on two cores with two busy loops beside it. What
  // the test asserts is that the names move by the lease's expiry at all,
  // not by some much later event (a lease that never expires, a node that
  // never sees the deletion): well under ten TTLs.
  EXPECT_LT(*failover, std::chrono::seconds(20));
  std::printf("history: %zu grants, %zu names; failover from kill to first grant by a new "
              "owner: %lld ms\n",
              history.size(), by_name.size(),
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(*failover).count()));
}

TEST_F(ClusterTest, EtcdStoppedStopsGrantsUntilItIsBack) {
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(AddNode(id).started());
  ASSERT_TRUE(WaitForMembers({"a", "b", "c"}));
  Router router(nodes_["a"]->address(), "etcd-stop");
  const std::string name = "held/0";
  Router::Outcome held = router.Call(ops::Acquire(0, name, v1::KIND_PRIORITY_LOCK),
                                     Clock::now() + std::chrono::seconds(10));
  ASSERT_TRUE(held.response.has_value() && testing::IsOk(*held.response));
  const std::uint64_t fence_before = held.response->fence();

  etcd_.Signal(SIGSTOP);
  // Past 3/4 of the TTL without a keepalive answered: nothing is granted.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  for (int i = 0; i < 6; ++i) {
    for (const auto& [id, node] : nodes_) {
      SessionClient session(grpc::CreateChannel(node->address(),
                                                grpc::InsecureChannelCredentials()));
      ASSERT_TRUE(session.Open("probe", "probe"));
      std::optional<v1::Response> answer = session.Call(
          ops::Acquire(1, "probe/" + std::to_string(i), v1::KIND_PRIORITY_LOCK, 0,
                       std::chrono::milliseconds(100)));
      ASSERT_TRUE(answer.has_value());
      EXPECT_NE(testing::CodeOf(*answer), grpc::StatusCode::OK)
          << id << " granted while etcd was stopped";
    }
  }
  // The hold taken before is gone: its release is refused.
  std::optional<v1::Response> release =
      router.Release(held.node, ops::Release(0, name, v1::KIND_PRIORITY_LOCK, true));
  ASSERT_TRUE(release.has_value());
  EXPECT_NE(testing::CodeOf(*release), grpc::StatusCode::OK);

  etcd_.Signal(SIGCONT);
  Router::Outcome again = router.Call(ops::Acquire(0, name, v1::KIND_PRIORITY_LOCK),
                                      Clock::now() + std::chrono::seconds(15));
  ASSERT_TRUE(again.response.has_value()) << "no grant after etcd came back";
  ASSERT_TRUE(testing::IsOk(*again.response)) << again.response->ShortDebugString();
  EXPECT_GT(again.response->fence(), fence_before);
}

// NamesOwnedBy() is `count` names with prefix `prefix` that `owner` owns
// among `ids`.
std::vector<std::string> NamesOwnedBy(const std::vector<std::string>& ids, const std::string& owner,
                                      const std::string& prefix, int count) {
  std::vector<std::string> names;
  for (int i = 0; static_cast<int>(names.size()) < count; ++i) {
    const std::string name = prefix + std::to_string(i);
    if (ids[*cluster::OwnerIndex(ids, name)] == owner) names.push_back(name);
  }
  return names;
}

// NodeHas() is true when the node at `address` hosts `name` (a List marked
// as forwarded answers only the node's own instances).
bool NodeHas(const std::string& address, const std::string& name) {
  auto admin = v1::Admin::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  context.AddMetadata(cluster::kForwardedByKey, "test");
  v1::ListRequest request;
  request.set_prefix(name);
  v1::ListResponse response;
  if (!admin->List(&context, request, &response).ok()) return false;
  for (const v1::InstanceSummary& instance : response.instances()) {
    if (instance.name() == name) return true;
  }
  return false;
}

std::unique_ptr<Client> ConnectTo(const std::string& address, const std::string& name) {
  ClientOptions options;
  options.address = address;
  options.client_name = name;
  options.owner_key = name;
  options.keepalive = absl::Seconds(1);
  absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(std::move(options));
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

// RunCli() runs `baton ARGS` and returns its exit code and stdout.
std::pair<int, std::string> RunCli(const std::string& args) {
  const std::string command = std::string(BATON_CLI_PATH) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, ""};
  std::string out;
  char buffer[512];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) out += buffer;
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST_F(ClusterTest, ClientAndCliRouteEachNameToItsOwnerFromAnyNode) {
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(AddNode(id).started());
  ASSERT_TRUE(WaitForMembers({"a", "b", "c"}));
  const std::vector<std::string> ids = {"a", "b", "c"};
  std::unique_ptr<Client> first = ConnectTo(nodes_["a"]->address(), "first");
  std::unique_ptr<Client> second = ConnectTo(nodes_["c"]->address(), "second");
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(first->members().size(), 3u);

  // One lock owned by each node, taken through the client connected to a:
  // each is on its owner (and only there), granted on the first try.
  std::vector<Hold> holds;
  for (const std::string& id : ids) {
    const std::string name = NamesOwnedBy(ids, id, "route/" + id + "/", 1)[0];
    absl::StatusOr<Hold> hold = PriorityLock(first.get(), name).Acquire().Wait();
    ASSERT_TRUE(hold.ok()) << name << ": " << hold.status();
    for (const std::string& node : ids) {
      EXPECT_EQ(NodeHas(nodes_[node]->address(), name), node == id) << name << " on " << node;
    }
    holds.push_back(*std::move(hold));
  }

  // The client of c is excluded from all three, then gets each once released.
  for (Hold& hold : holds) {
    PriorityLock lock(second.get(), hold.name());
    absl::StatusOr<Hold> refused = lock.Acquire(0, {.timeout = absl::ZeroDuration()}).Wait();
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kDeadlineExceeded) << hold.name();
    ASSERT_TRUE(hold.Release().Wait().ok());
    absl::StatusOr<Hold> granted = lock.Acquire(0, {.timeout = absl::Seconds(5)}).Wait();
    ASSERT_TRUE(granted.ok()) << hold.name() << ": " << granted.status();
    EXPECT_GT(granted->fence(), hold.fence());
  }

  // Declare goes to the owner too; a semaphore's permits live there.
  const std::string semaphore = NamesOwnedBy(ids, "b", "route/sem/", 1)[0];
  DynamicBoundedSemaphore permits(first.get(), semaphore);
  ASSERT_TRUE(permits.Declare(2).Wait().ok());
  ASSERT_TRUE(permits.Acquire().Wait().ok());
  EXPECT_TRUE(NodeHas(nodes_["b"]->address(), semaphore));
  EXPECT_FALSE(NodeHas(nodes_["a"]->address(), semaphore));

  // The CLI, given node a, takes a lock that b owns: held by `first`, so
  // `baton lock` times out (exit 3), where an unrouted request would have
  // been refused by a (exit 1); free, it runs the command.
  const std::string cli_name = NamesOwnedBy(ids, "b", "route/cli/", 1)[0];
  absl::StatusOr<Hold> held = PriorityLock(first.get(), cli_name).Acquire().Wait();
  ASSERT_TRUE(held.ok()) << held.status();
  const std::string addr = "--addr " + nodes_["a"]->address();
  auto [timed_out, out] = RunCli(addr + " lock " + cli_name + " --timeout 300ms -- true");
  EXPECT_EQ(timed_out, 3) << out;
  ASSERT_TRUE(held->Release().Wait().ok());
  auto [ran, ran_out] = RunCli(addr + " lock " + cli_name + " -- sh -c 'exit 7'");
  EXPECT_EQ(ran, 7) << ran_out;
  auto [listed, members] = RunCli(addr + " cluster --json");
  EXPECT_EQ(listed, 0) << members;
  EXPECT_NE(members.find("\"cluster\":\"test\""), std::string::npos) << members;
  for (const std::string& id : ids) {
    EXPECT_NE(members.find("\"address\":\"" + nodes_[id]->address() + "\""), std::string::npos)
        << members;
  }
}

TEST_F(ClusterTest, ClientOfAKilledNodeLosesOnlyItsHoldsAndItsNamesMove) {
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(AddNode(id).started());
  ASSERT_TRUE(WaitForMembers({"a", "b", "c"}));
  const std::vector<std::string> ids = {"a", "b", "c"};
  std::unique_ptr<Client> client = ConnectTo(nodes_["a"]->address(), "survivor");
  ASSERT_NE(client, nullptr);
  std::map<std::string, Hold> holds;  // by owner
  for (const std::string& id : ids) {
    const std::string name = NamesOwnedBy(ids, id, "kill/" + id + "/", 1)[0];
    absl::StatusOr<Hold> hold = PriorityLock(client.get(), name).Acquire().Wait();
    ASSERT_TRUE(hold.ok()) << name << ": " << hold.status();
    holds.emplace(id, *std::move(hold));
  }
  absl::Notification lost;
  holds["b"].OnLost([&lost](const absl::Status&) { lost.Notify(); });

  const Clock::time_point kill_time = Clock::now();
  nodes_["b"]->Signal(SIGKILL);
  ASSERT_TRUE(lost.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_TRUE(holds["b"].lost());
  EXPECT_EQ(holds["b"].lost_reason().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(holds["a"].lost());
  EXPECT_FALSE(holds["c"].lost());

  // The killed node's name is granted again by its new owner once the
  // cluster has let b's lease run out: the client retries the hand-off.
  absl::StatusOr<Hold> again = PriorityLock(client.get(), holds["b"].name())
                                   .Acquire(0, {.timeout = absl::Seconds(10)})
                                   .Wait();
  ASSERT_TRUE(again.ok()) << again.status();
  const auto failover =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - kill_time);
  const std::vector<std::string> left = {"a", "c"};
  const std::string new_owner = left[*cluster::OwnerIndex(left, holds["b"].name())];
  EXPECT_TRUE(NodeHas(nodes_[new_owner]->address(), holds["b"].name()));
  EXPECT_FALSE(holds["a"].lost());
  EXPECT_FALSE(holds["c"].lost());
  // The holds on a and c were kept through it all: released as held.
  EXPECT_TRUE(holds["a"].Release().Wait().ok());
  EXPECT_TRUE(holds["c"].Release().Wait().ok());
  EXPECT_EQ(client->members().size(), 2u);
  std::printf("C++ client: from the kill to the grant by the new owner (%s): %lld ms\n",
              new_owner.c_str(), static_cast<long long>(failover.count()));
}

// Admin calls through node `address` (forwarded to each name's owner).
class AdminVia {
 public:
  explicit AdminVia(const std::string& address)
      : stub_(v1::Admin::NewStub(
            grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))) {}

  template <typename Request, typename Response, typename Method>
  grpc::Status CallOnce(Method method, const Request& request, Response* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return (stub_.get()->*method)(&context, request, response);
  }

  // Call() retries what a cluster answers while it settles (UNAVAILABLE
  // before a node's first acknowledgement, or while a name moves) for up to
  // 5 s.
  template <typename Request, typename Response, typename Method>
  grpc::Status Call(Method method, const Request& request, Response* response) {
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    for (;;) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      const grpc::Status status = (stub_.get()->*method)(&context, request, response);
      if (status.error_code() != grpc::StatusCode::UNAVAILABLE || Clock::now() >= deadline) {
        return status;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the settling's retry
    }
  }

  grpc::Status Declare(const std::string& name, v1::InstanceConfig config) {
    v1::DeclareRequest request;
    request.set_name(name);
    *request.mutable_config() = std::move(config);
    v1::DeclareResponse response;
    return Call(&v1::Admin::Stub::Declare, request, &response);
  }

  // Describe() retries UNAVAILABLE and redirects (a name between owners)
  // until `deadline`.
  grpc::Status Describe(const std::string& name, v1::DescribeResponse* response,
                        Clock::time_point deadline) {
    v1::DescribeRequest request;
    request.set_name(name);
    for (;;) {
      response->Clear();
      grpc::Status status = Call(&v1::Admin::Stub::Describe, request, response);
      const bool moving = status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                          status.error_code() == grpc::StatusCode::FAILED_PRECONDITION;
      if (!moving || Clock::now() >= deadline) return status;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the hand-off's retry
    }
  }

 private:
  std::unique_ptr<v1::Admin::Stub> stub_;
};

v1::InstanceConfig SemaphoreConfig(std::int64_t value) {
  v1::InstanceConfig config;
  config.set_kind(v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE);
  config.mutable_semaphore()->set_value(value);
  return config;
}

// What a node kept goes to etcd and comes back on the name's next owner:
// declared parameters, live changes and latch counts, whether the owner is
// killed; a deleted instance stays deleted.
TEST_F(ClusterTest, KeptStateMovesWithItsNamesWhenTheirOwnerIsKilled) {
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(AddNode(id).started());
  ASSERT_TRUE(WaitForMembers({"a", "b", "c"}));
  const std::vector<std::string> ids = {"a", "b", "c"};
  const std::vector<std::string> names = NamesOwnedBy(ids, "b", "kept/", 4);
  const std::string& semaphore = names[0];
  const std::string& latch = names[1];
  const std::string& limiter = names[2];
  const std::string& deleted = names[3];
  AdminVia admin(nodes_["a"]->address());

  ASSERT_TRUE(admin.Declare(semaphore, SemaphoreConfig(3)).ok());
  v1::SetBoundRequest set_bound;
  set_bound.set_name(semaphore);
  set_bound.set_bound(5);
  v1::SetBoundResponse bound_set;
  ASSERT_TRUE(admin.Call(&v1::Admin::Stub::SetBound, set_bound, &bound_set).ok());

  v1::InstanceConfig latch_config;
  latch_config.set_kind(v1::KIND_MULTI_COUNT_DOWN_LATCH);
  for (const auto& [key, value] : {std::pair<const char*, int>{"x", 2}, {"y", 1}}) {
    v1::LatchParams::Count* count = latch_config.mutable_latch()->add_counts();
    count->set_key(key);
    count->set_value(value);
  }
  ASSERT_TRUE(admin.Declare(latch, latch_config).ok());
  std::unique_ptr<Client> client = ConnectTo(nodes_["a"]->address(), "kept");
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(MultiCountDownLatch(client.get(), latch).CountDown("x").Wait().ok());

  v1::InstanceConfig limiter_config;
  limiter_config.set_kind(v1::KIND_ADVANCED_RATE_LIMIT);
  limiter_config.mutable_rate_limit()->set_rate(7);
  limiter_config.mutable_rate_limit()->set_capacity(9);
  ASSERT_TRUE(admin.Declare(limiter, limiter_config).ok());
  v1::SetRateRequest set_rate;
  set_rate.set_name(limiter);
  set_rate.set_rate(11);
  v1::SetRateResponse rate_set;
  ASSERT_TRUE(admin.Call(&v1::Admin::Stub::SetRate, set_rate, &rate_set).ok());

  ASSERT_TRUE(admin.Declare(deleted, SemaphoreConfig(4)).ok());
  v1::DeleteRequest delete_request;
  delete_request.set_name(deleted);
  v1::DeleteResponse delete_response;
  ASSERT_TRUE(admin.Call(&v1::Admin::Stub::Delete, delete_request, &delete_response).ok());

  nodes_["b"]->SignalAndWait(SIGKILL, std::chrono::seconds(5));
  const auto deadline = Clock::now() + std::chrono::seconds(15);
  const std::vector<std::string> left = {"a", "c"};

  v1::DescribeResponse described;
  ASSERT_TRUE(admin.Describe(semaphore, &described, deadline).ok());
  EXPECT_EQ(described.state().bound(), 5) << described.DebugString();
  const std::string new_owner = left[*cluster::OwnerIndex(left, semaphore)];
  EXPECT_TRUE(NodeHas(nodes_[new_owner]->address(), semaphore));

  ASSERT_TRUE(admin.Describe(latch, &described, deadline).ok());
  EXPECT_EQ(described.state().counts().at("x"), 1) << described.DebugString();
  EXPECT_EQ(described.state().counts().at("y"), 1) << described.DebugString();

  ASSERT_TRUE(admin.Describe(limiter, &described, deadline).ok());
  EXPECT_EQ(described.state().rate(), 11) << described.DebugString();
  EXPECT_EQ(described.state().capacity(), 11) << described.DebugString();

  EXPECT_EQ(admin.Describe(deleted, &described, deadline).error_code(),
            grpc::StatusCode::NOT_FOUND)
      << described.DebugString();
}

// A name that moves to a node that joins keeps what its old owner kept,
// changes made just before the move included: the old owner writes them
// before its acknowledgement lets the new one create the name.
TEST_F(ClusterTest, KeptStateMovesWithItsNamesToANodeThatJoins) {
  for (const char* id : {"a", "b"}) ASSERT_TRUE(AddNode(id).started());
  ASSERT_TRUE(WaitForMembers({"a", "b"}));
  AdminVia admin(nodes_["a"]->address());
  // Names that c will own once it joins.
  const std::vector<std::string> names =
      NamesOwnedBy({"a", "b", "c"}, "c", "kept/join/", 12);
  for (std::size_t i = 0; i < names.size(); ++i) {
    ASSERT_TRUE(admin.Declare(names[i], SemaphoreConfig(2)).ok()) << names[i];
    v1::SetBoundRequest set_bound;
    set_bound.set_name(names[i]);
    set_bound.set_bound(static_cast<std::int64_t>(10 + i));
    v1::SetBoundResponse bound_set;
    ASSERT_TRUE(admin.Call(&v1::Admin::Stub::SetBound, set_bound, &bound_set).ok()) << names[i];
  }
  // Meanwhile, changes of a name that stays on a: each answered OK, none
  // refused because a acknowledged the new member list while its write
  // was on its way (the write is sent again under the new one).
  const std::string stays = NamesOwnedBy({"a", "b", "c"}, "a", "kept/stays/", 1)[0];
  const std::vector<std::string> before = {"a", "b"};
  ASSERT_EQ(before[*cluster::OwnerIndex(before, stays)], "a");
  ASSERT_TRUE(admin.Declare(stays, SemaphoreConfig(1)).ok());
  std::atomic<bool> joined{false};
  std::vector<std::string> refused;
  int changes = 0;
  std::thread changer([&] {
    AdminVia direct(nodes_["a"]->address());
    while (!joined.load()) {
      v1::SetBoundRequest set_bound;
      set_bound.set_name(stays);
      set_bound.set_bound(1 + changes % 7);
      v1::SetBoundResponse bound_set;
      const grpc::Status status =
          direct.CallOnce(&v1::Admin::Stub::SetBound, set_bound, &bound_set);
      if (!status.ok()) refused.push_back(status.error_message());
      ++changes;
    }
  });
  ASSERT_TRUE(AddNode("c").started());
  const bool members = WaitForMembers({"a", "b", "c"});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the acks settle under load
  joined = true;
  changer.join();
  ASSERT_TRUE(members);
  EXPECT_GT(changes, 0);
  EXPECT_TRUE(refused.empty()) << refused.size() << " of " << changes << ": "
                               << (refused.empty() ? "" : refused[0]);
  const auto deadline = Clock::now() + std::chrono::seconds(15);
  for (std::size_t i = 0; i < names.size(); ++i) {
    v1::DescribeResponse described;
    const grpc::Status status = admin.Describe(names[i], &described, deadline);
    ASSERT_TRUE(status.ok()) << names[i] << ": " << status.error_code() << " "
                             << status.error_message();
    EXPECT_EQ(described.state().bound(), static_cast<std::int64_t>(10 + i)) << names[i];
    EXPECT_TRUE(NodeHas(nodes_["c"]->address(), names[i])) << names[i];
  }
}

// Declared() declares `name` (a PriorityLock, or a DynamicBoundedSemaphore
// when `semaphore`) through the node at `address`, which forwards it to the
// owner; the refusals of a cluster that is settling after its start are
// retried.
bool Declared(const std::string& address, const std::string& name, bool semaphore = false) {
  auto admin = v1::Admin::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  v1::DeclareRequest request;
  request.set_name(name);
  request.mutable_config()->set_kind(semaphore ? v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE
                                               : v1::KIND_PRIORITY_LOCK);
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    v1::DeclareResponse response;
    const grpc::Status status = admin->Declare(&context, request, &response);
    if (status.ok()) return true;
    // UNAVAILABLE while a name is handed over, FAILED_PRECONDITION while
    // the owner has not applied the member list yet (a redirect): the
    // start settles within a few hundred milliseconds.
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE &&
        status.error_code() != grpc::StatusCode::FAILED_PRECONDITION) {
      ADD_FAILURE() << name << ": " << status.error_message();
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // retry backoff
  }
  return false;
}

// Listing: every page of a List through one node.
struct Listing {
  std::vector<std::string> names;  // in the order answered
  std::vector<v1::Kind> kinds;
  std::vector<int> page_sizes;
  std::set<std::string> unreachable;  // named by any page
  grpc::Status status;
};

Listing ListAll(const std::string& address, const std::string& prefix, int page_size,
                v1::Kind kind = v1::KIND_UNSPECIFIED,
                std::chrono::milliseconds deadline = std::chrono::seconds(5)) {
  auto admin = v1::Admin::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  Listing listing;
  v1::ListRequest request;
  request.set_prefix(prefix);
  request.set_kind(kind);
  request.set_page_size(page_size);
  do {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + deadline);
    v1::ListResponse response;
    listing.status = admin->List(&context, request, &response);
    if (!listing.status.ok()) break;
    listing.page_sizes.push_back(response.instances_size());
    for (const v1::InstanceSummary& instance : response.instances()) {
      listing.names.push_back(instance.name());
      listing.kinds.push_back(instance.kind());
    }
    listing.unreachable.insert(response.unreachable_nodes().begin(),
                               response.unreachable_nodes().end());
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return listing;
}

TEST_F(ClusterTest, ListFromAnyNodeListsEveryNodesInstancesInOrder) {
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(AddNode(id).started());
  ASSERT_TRUE(WaitForMembers({"a", "b", "c"}));
  const std::vector<std::string> ids = {"a", "b", "c"};
  // On each node: 4 locks and a semaphore under list/, a lock elsewhere;
  // all declared through a, which forwards them.
  std::vector<std::string> expected;
  std::vector<std::string> semaphores;
  for (const std::string& id : ids) {
    for (const std::string& name : NamesOwnedBy(ids, id, "list/lock-", 4)) {
      ASSERT_TRUE(Declared(nodes_["a"]->address(), name));
      expected.push_back(name);
    }
    const std::string semaphore = NamesOwnedBy(ids, id, "list/sem-", 1)[0];
    ASSERT_TRUE(Declared(nodes_["a"]->address(), semaphore, /*semaphore=*/true));
    expected.push_back(semaphore);
    semaphores.push_back(semaphore);
    ASSERT_TRUE(Declared(nodes_["a"]->address(), NamesOwnedBy(ids, id, "other/", 1)[0]));
    // Each instance lives on its owner only.
    EXPECT_TRUE(NodeHas(nodes_[id]->address(), semaphore));
    for (const std::string& other : ids) {
      if (other != id) {
        EXPECT_FALSE(NodeHas(nodes_[other]->address(), semaphore)) << other;
      }
    }
  }
  std::sort(expected.begin(), expected.end());
  std::sort(semaphores.begin(), semaphores.end());

  for (const std::string& id : ids) {
    // Pages of 4 across three nodes: in order, each name once, nothing else.
    const Listing listing = ListAll(nodes_[id]->address(), "list/", 4);
    ASSERT_TRUE(listing.status.ok()) << id << ": " << listing.status.error_message();
    EXPECT_EQ(listing.names, expected) << "through " << id;
    EXPECT_TRUE(listing.unreachable.empty()) << id;
    EXPECT_EQ(listing.page_sizes, (std::vector<int>{4, 4, 4, 3})) << id;
    // The kind is honoured on every node.
    const Listing only =
        ListAll(nodes_[id]->address(), "list/", 2, v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE);
    ASSERT_TRUE(only.status.ok()) << only.status.error_message();
    EXPECT_EQ(only.names, semaphores) << "through " << id;
    for (v1::Kind kind : only.kinds) EXPECT_EQ(kind, v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE);
  }
  // A page token from one node resumes on another.
  auto admin = v1::Admin::NewStub(
      grpc::CreateChannel(nodes_["b"]->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::ListRequest request;
  request.set_prefix("list/");
  request.set_page_token(expected[6]);
  request.set_page_size(3);
  v1::ListResponse response;
  ASSERT_TRUE(admin->List(&context, request, &response).ok());
  ASSERT_EQ(response.instances_size(), 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(response.instances(i).name(), expected[7 + i]);
  EXPECT_EQ(response.next_page_token(), expected[9]);
  // A bad token is the same error as on a lone batond, not a member's.
  grpc::ClientContext bad_context;
  request.set_page_token("elsewhere/x");
  const grpc::Status bad = admin->List(&bad_context, request, &response);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(bad.error_message().rfind("page_token", 0), 0u) << bad.error_message();
}

TEST_F(ClusterTest, ListNamesTheMembersThatDoNotAnswer) {
  for (const char* id : {"a", "b", "c"}) ASSERT_TRUE(AddNode(id).started());
  ASSERT_TRUE(WaitForMembers({"a", "b", "c"}));
  const std::vector<std::string> ids = {"a", "b", "c"};
  std::map<std::string, std::vector<std::string>> owned;
  for (const std::string& id : ids) {
    owned[id] = NamesOwnedBy(ids, id, "gone/", 3);
    for (const std::string& name : owned[id]) ASSERT_TRUE(Declared(nodes_[id]->address(), name));
  }
  const auto listed = [](const Listing& listing, const std::vector<std::string>& names) {
    for (const std::string& name : names) {
      if (std::find(listing.names.begin(), listing.names.end(), name) == listing.names.end()) {
        return false;
      }
    }
    return true;
  };
  const auto none_listed = [](const Listing& listing, const std::vector<std::string>& names) {
    for (const std::string& name : names) {
      if (std::find(listing.names.begin(), listing.names.end(), name) != listing.names.end()) {
        return false;
      }
    }
    return true;
  };

  // c killed: until its lease runs out it is still a member, and cannot
  // answer; a and b's instances are listed, in pages, and c is named.
  nodes_["c"]->Signal(SIGKILL);
  const Clock::time_point kill_time = Clock::now();
  const Listing after_kill = ListAll(nodes_["a"]->address(), "gone/", 2);
  ASSERT_TRUE(after_kill.status.ok()) << after_kill.status.error_message();
  EXPECT_EQ(after_kill.unreachable, std::set<std::string>{"c"});
  EXPECT_TRUE(listed(after_kill, owned["a"]));
  EXPECT_TRUE(listed(after_kill, owned["b"]));
  EXPECT_TRUE(none_listed(after_kill, owned["c"]));
  EXPECT_TRUE(std::is_sorted(after_kill.names.begin(), after_kill.names.end()));
  // The CLI lists them too, and warns on stderr.
  auto [code, out] = RunCli("--addr " + nodes_["b"]->address() + " list gone/");
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find(owned["a"][0]), std::string::npos) << out;
  EXPECT_NE(out.find("warning: node c of the cluster did not answer"), std::string::npos) << out;
  auto [json_code, json] = RunCli("--addr " + nodes_["b"]->address() + " list gone/ --json");
  EXPECT_EQ(json_code, 0) << json;
  EXPECT_NE(json.find("\"unreachable_nodes\":[\"c\"]"), std::string::npos) << json;
  const auto kill_took = Clock::now() - kill_time;

  // b stopped (SIGSTOP: connected, silent): a answers within the caller's
  // deadline with its own instances, b named.
  nodes_["b"]->Signal(SIGSTOP);
  const Clock::time_point stop_time = Clock::now();
  const Listing after_stop = ListAll(nodes_["a"]->address(), "gone/", 100, v1::KIND_UNSPECIFIED,
                                     std::chrono::milliseconds(1500));
  const auto stop_took = Clock::now() - stop_time;
  ASSERT_TRUE(after_stop.status.ok()) << after_stop.status.error_message();
  EXPECT_EQ(after_stop.unreachable.count("b"), 1u);
  EXPECT_TRUE(listed(after_stop, owned["a"]));
  EXPECT_TRUE(none_listed(after_stop, owned["b"]));
  EXPECT_LT(stop_took, std::chrono::milliseconds(1500));
  nodes_["b"]->Signal(SIGCONT);
  std::printf(
      "list with a killed member: %lld ms (with the CLI's); with a stopped one: %lld ms "
      "(deadline 1500 ms)\n",
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(kill_took).count()),
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(stop_took).count()));
}

TEST_F(ClusterTest, ShouldRateLimitFromAnyNodeDrawsOnTheDomainOwnersBucket) {
  using envoy::service::ratelimit::v3::RateLimitRequest;
  using envoy::service::ratelimit::v3::RateLimitResponse;
  using envoy::service::ratelimit::v3::RateLimitService;
  char dir[] = "/tmp/baton-cluster-rls-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string rules = std::string(dir) + "/rules.yaml";
  std::ofstream(rules) << "domain: shared\n"
                          "descriptors:\n"
                          "  - key: user\n"
                          "    rate_limit: {unit: minute, requests_per_unit: 5}\n";
  const int rls_port = FreePort();
  for (const char* id : {"a", "b", "c"}) {
    std::vector<std::string> flags = {"--rls_config=" + rules};
    if (std::string(id) == "b")
      flags.push_back("--rls_listen=127.0.0.1:" + std::to_string(rls_port));
    ASSERT_TRUE(AddNode(id, flags).started()) << nodes_[id]->log();
  }
  std::filesystem::remove_all(dir);  // read at start
  ASSERT_TRUE(WaitForMembers({"a", "b", "c"}));
  const std::vector<std::string> ids = {"a", "b", "c"};
  const std::string owner = ids[*cluster::OwnerIndex(ids, "envoy/shared/user=ann")];
  // Every node's gRPC port, and b's --rls_listen.
  std::vector<std::string> targets;
  for (const std::string& id : ids) targets.push_back(nodes_[id]->address());
  targets.push_back("127.0.0.1:" + std::to_string(rls_port));

  RateLimitRequest request;
  request.set_domain("shared");
  auto* entry = request.add_descriptors()->add_entries();
  entry->set_key("user");
  entry->set_value("ann");
  const auto ask = [&](const std::string& target, RateLimitResponse* response) {
    auto stub =
        RateLimitService::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
    // UNAVAILABLE (the domain handed over at the start) or a redirect (the
    // owner has not applied the member list yet): nothing was charged,
    // asked again.
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    grpc::Status status;
    do {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
      response->Clear();
      status = stub->ShouldRateLimit(&context, request, response);
      if (status.error_code() != grpc::StatusCode::UNAVAILABLE &&
          status.error_code() != grpc::StatusCode::FAILED_PRECONDITION) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // retry backoff
    } while (Clock::now() < deadline);
    return status;
  };
  // 5 per minute, whichever node is asked: 5 OK, then over the limit.
  for (int i = 0; i < 7; ++i) {
    const std::string& target = targets[i % targets.size()];
    RateLimitResponse response;
    const grpc::Status status = ask(target, &response);
    ASSERT_TRUE(status.ok()) << target << ": " << status.error_message();
    ASSERT_EQ(response.statuses_size(), 1);
    EXPECT_EQ(response.overall_code(),
              i < 5 ? RateLimitResponse::OK : RateLimitResponse::OVER_LIMIT)
        << "request " << i << " through " << target;
    // The owner's answer, headers included.
    EXPECT_EQ(response.statuses(0).limit_remaining(),
              static_cast<std::uint32_t>(std::max(4 - i, 0)))
        << "request " << i;
    ASSERT_EQ(response.response_headers_to_add_size(), 3) << "request " << i;
    EXPECT_EQ(response.response_headers_to_add(1).key(), "x-ratelimit-remaining");
    EXPECT_EQ(response.response_headers_to_add(1).value(), std::to_string(std::max(4 - i, 0)));
  }
  // Only the owner holds the bucket.
  for (const std::string& id : ids) {
    EXPECT_EQ(NodeHas(nodes_[id]->address(), "envoy/shared/user=ann"), id == owner) << id;
  }

  // The owner killed: another node answers UNAVAILABLE naming it, until
  // the owner's lease runs out and the domain moves.
  nodes_[owner]->Signal(SIGKILL);
  const std::string other = owner == "a" ? "b" : "a";
  auto stub = RateLimitService::NewStub(
      grpc::CreateChannel(nodes_[other]->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
  RateLimitResponse response;
  const grpc::Status status = stub->ShouldRateLimit(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_NE(status.error_message().find("node " + owner), std::string::npos)
      << status.error_message();
}

}  // namespace
}  // namespace baton

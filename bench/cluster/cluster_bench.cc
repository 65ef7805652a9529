// Copyright 2026 The Baton Authors.
//
// baton_cluster_bench: what routing costs and what a cluster gives back
// (issue 15, item 8), in one run, against batond processes that
// bench/cluster/run_cluster.sh starts: a lone batond and three nodes on one
// etcd.
//
//   1. Lock ops/s through the C++ client (baton::Client) at each client
//      shape SESSIONSxIN_FLIGHT: S clients, each with F coroutines that
//      acquire and release a lock of their own (two ops per loop), first
//      against the lone batond, then against the cluster (each client
//      connected to one node, routing to the owners). The servers' CPU is
//      the sum of utime + stime of every batond process over the window
//      (/proc/PID/stat); ops/s per core used is ops/s / (CPU s / wall s).
//   2. Admin.Describe of one lock, sent to its owner and to a non-owner
//      (which forwards it), alternately, one call at a time: p50 and p99.
//   3. Failover: a lock of one node held; that node SIGKILLed; the time
//      until the hold is reported lost, and until an acquire of the same
//      name, sent at once through the same client, is granted by the new
//      owner (the client's retries included).
//
// Prints one Markdown table on stdout; progress on stderr.
//
//   baton_cluster_bench --lone=ADDR --lone_pid=PID --cluster=ADDR
//       --node_pids=ID:PID,ID:PID,... [--shapes=4x16,1x1] [--duration=5s]
//       [--warmup=1s] [--describes=1000] [--rounds=1]

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "baton/client.h"
#include "baton/v1/admin.grpc.pb.h"
#include "bench/common/measure.h"
#include "grpcpp/grpcpp.h"
#include "server/cluster/placement.h"

ABSL_FLAG(std::string, lone, "", "the lone batond's HOST:PORT");
ABSL_FLAG(long, lone_pid, 0, "its pid");
ABSL_FLAG(std::string, cluster, "", "one cluster node's HOST:PORT (the seed)");
ABSL_FLAG(std::string, node_pids, "", "ID:PID of every cluster node, comma-separated");
ABSL_FLAG(std::string, shapes, "4x16,1x1", "client shapes SESSIONSxIN_FLIGHT");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5), "measurement window per run");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1), "before each window");
ABSL_FLAG(int, describes, 1000, "Describe calls each way");
ABSL_FLAG(int, rounds, 1, "lone-then-cluster rounds per shape");
ABSL_FLAG(bool, same_depth, true,
          "also run the lone batond with the cluster's requests per stream (SxF as S*nxF/n)");
ABSL_FLAG(bool, failover, true, "end with the failover measurement (kills a node)");

namespace baton::bench {
namespace {

// A detached coroutine: starts at once, frees itself at the end.
struct Detached {
  struct promise_type {
    Detached get_return_object() { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() {}
    void unhandled_exception() { std::terminate(); }
  };
};

struct LoadState {
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> window_start{0};
  std::atomic<std::int64_t> window_end{0};
  std::atomic<std::uint64_t> ops{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<int> running{0};
  absl::Notification all_done;
};

std::int64_t NowNs() { return absl::GetCurrentTimeNanos(); }

void Count(LoadState* state) {
  const std::int64_t now = NowNs();
  if (now >= state->window_start.load(std::memory_order_relaxed) &&
      now < state->window_end.load(std::memory_order_relaxed)) {
    state->ops.fetch_add(1, std::memory_order_relaxed);
  }
}

Detached LockLoop(PriorityLock lock, LoadState* state) {
  while (!state->stop.load(std::memory_order_relaxed)) {
    Op<Hold> acquire = lock.Acquire();
    absl::StatusOr<Hold> hold = co_await acquire;
    if (!hold.ok()) {
      state->errors.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // a failing server
      continue;
    }
    Count(state);
    Op<Done> release = hold->Release();
    absl::StatusOr<Done> released = co_await release;
    if (released.ok()) Count(state);
  }
  if (state->running.fetch_sub(1) == 1) state->all_done.Notify();
}

struct Row {
  std::string target;
  std::string shape;
  double ops_per_s = 0;
  double server_cores = 0;
  double client_cores = 0;
  std::uint64_t errors = 0;
  double per_core() const { return server_cores > 0 ? ops_per_s / server_cores : 0; }
};

double CpuOf(const std::vector<long>& pids) {
  double sum = 0;
  for (long pid : pids) sum += ProcessCpuSeconds(pid);
  return sum;
}

Row RunLocks(const std::string& target, const std::vector<std::string>& addresses,
             const std::vector<long>& pids, int sessions, int in_flight, int round) {
  std::fprintf(stderr, "cluster_bench: %s %dx%d\n", target.c_str(), sessions, in_flight);
  std::vector<std::unique_ptr<Client>> clients;
  for (int s = 0; s < sessions; ++s) {
    absl::StatusOr<std::unique_ptr<Client>> client = Client::Connect(
        {.address = addresses[s % addresses.size()], .client_name = "cluster_bench"});
    if (!client.ok()) {
      std::fprintf(stderr, "cluster_bench: %s\n", client.status().ToString().c_str());
      std::exit(1);
    }
    clients.push_back(*std::move(client));
  }
  LoadState state;
  state.window_start = std::numeric_limits<std::int64_t>::max();
  state.window_end = std::numeric_limits<std::int64_t>::max();
  state.running = sessions * in_flight;
  for (int s = 0; s < sessions; ++s) {
    for (int f = 0; f < in_flight; ++f) {
      LockLoop(PriorityLock(clients[s].get(),
                            absl::StrCat("bench/", target, "/", round, "/", s, "/", f)),
               &state);
    }
  }
  absl::SleepFor(absl::GetFlag(FLAGS_warmup));
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  const double server_before = CpuOf(pids);
  const double client_before = ProcessCpuSeconds(getpid());
  const std::int64_t start = NowNs();
  state.window_end = start + absl::ToInt64Nanoseconds(duration);
  state.window_start = start;
  absl::SleepFor(duration);
  const double server_after = CpuOf(pids);
  const double client_after = ProcessCpuSeconds(getpid());
  const double wall = static_cast<double>(NowNs() - start) / 1e9;
  state.stop = true;
  state.all_done.WaitForNotificationWithTimeout(absl::Seconds(10));
  Row row;
  row.target = target;
  row.shape = absl::StrCat(sessions, "x", in_flight);
  row.ops_per_s = static_cast<double>(state.ops.load()) / absl::ToDoubleSeconds(duration);
  row.server_cores = (server_after - server_before) / wall;
  row.client_cores = (client_after - client_before) / wall;
  row.errors = state.errors.load();
  return row;
}

struct NodeInfo {
  std::string id;
  std::string address;
  long pid = 0;
};

std::vector<NodeInfo> AskMembers(const std::string& seed, const std::string& node_pids) {
  auto admin = v1::Admin::NewStub(grpc::CreateChannel(seed, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::ClusterResponse response;
  if (!admin->Cluster(&context, v1::ClusterRequest(), &response).ok()) return {};
  std::map<std::string, long> pids;
  for (absl::string_view entry : absl::StrSplit(node_pids, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(entry, ':');
    long pid = 0;
    if (absl::SimpleAtoi(kv.second, &pid)) pids[kv.first] = pid;
  }
  std::vector<NodeInfo> nodes;
  for (const v1::ClusterMember& member : response.members()) {
    nodes.push_back({member.node_id(), member.address(), pids[member.node_id()]});
  }
  return nodes;
}

std::string OwnerOf(const std::vector<NodeInfo>& nodes, const std::string& name) {
  std::vector<std::string> ids;
  for (const NodeInfo& node : nodes) ids.push_back(node.id);
  return ids[*cluster::OwnerIndex(ids, name)];
}

// Describe latency, owner vs a non-owner, calls alternating.
std::pair<std::vector<std::uint64_t>, std::vector<std::uint64_t>> Describes(
    const std::string& name, const std::string& owner, const std::string& other, int calls) {
  auto direct = v1::Admin::NewStub(grpc::CreateChannel(owner, grpc::InsecureChannelCredentials()));
  auto forwarded =
      v1::Admin::NewStub(grpc::CreateChannel(other, grpc::InsecureChannelCredentials()));
  std::vector<std::uint64_t> direct_ns, forwarded_ns;
  v1::DescribeRequest request;
  request.set_name(name);
  for (int i = 0; i < calls + 50; ++i) {  // 50 of warm-up
    for (v1::Admin::Stub* stub : {direct.get(), forwarded.get()}) {
      grpc::ClientContext context;
      v1::DescribeResponse response;
      const std::int64_t start = NowNs();
      const grpc::Status status = stub->Describe(&context, request, &response);
      const std::int64_t took = NowNs() - start;
      if (!status.ok()) {
        std::fprintf(stderr, "cluster_bench: Describe: %s\n", status.error_message().c_str());
        std::exit(1);
      }
      if (i < 50) continue;
      (stub == direct.get() ? direct_ns : forwarded_ns).push_back(static_cast<std::uint64_t>(took));
    }
  }
  std::sort(direct_ns.begin(), direct_ns.end());
  std::sort(forwarded_ns.begin(), forwarded_ns.end());
  return {direct_ns, forwarded_ns};
}

int Main() {
  const std::string lone = absl::GetFlag(FLAGS_lone);
  const std::string seed = absl::GetFlag(FLAGS_cluster);
  std::vector<NodeInfo> nodes = AskMembers(seed, absl::GetFlag(FLAGS_node_pids));
  if (nodes.size() < 2) {
    std::fprintf(stderr, "cluster_bench: %s answers %zu members; 2 or more needed\n", seed.c_str(),
                 nodes.size());
    return 1;
  }
  std::vector<long> cluster_pids;
  std::vector<std::string> node_addresses;
  for (const NodeInfo& node : nodes) {
    cluster_pids.push_back(node.pid);
    node_addresses.push_back(node.address);
  }
  const std::vector<long> lone_pids = {absl::GetFlag(FLAGS_lone_pid)};

  // At rest: what the nodes spend on etcd (keepalives, the watch) and
  // timers, against the lone batond's timers.
  {
    const double lone_before = CpuOf(lone_pids);
    const double cluster_before = CpuOf(cluster_pids);
    absl::SleepFor(absl::Seconds(2));
    std::printf("batond CPU at rest (2 s, no client): lone %.3f cores, %zu nodes %.3f cores\n\n",
                (CpuOf(lone_pids) - lone_before) / 2, nodes.size(),
                (CpuOf(cluster_pids) - cluster_before) / 2);
  }
  std::printf(
      "| what | shape | ops/s | batond CPU (cores) | ops/s per core | client CPU (cores) "
      "| errors |\n| --- | --- | --- | --- | --- | --- | --- |\n");
  std::vector<std::pair<Row, Row>> pairs;
  std::vector<std::pair<std::string, double>> diluted_ratios;
  for (absl::string_view shape : absl::StrSplit(absl::GetFlag(FLAGS_shapes), ',')) {
    std::pair<std::string, std::string> parts = absl::StrSplit(shape, 'x');
    int sessions = 0, in_flight = 0;
    if (!absl::SimpleAtoi(parts.first, &sessions) || !absl::SimpleAtoi(parts.second, &in_flight)) {
      std::fprintf(stderr, "cluster_bench: --shapes: expected SxF, got %s\n",
                   std::string(shape).c_str());
      return 2;
    }
    for (int round = 0; round < absl::GetFlag(FLAGS_rounds); ++round) {
      Row alone = RunLocks("lone", {lone}, lone_pids, sessions, in_flight, round);
      // Clients connected to the nodes in turn, as an application's
      // replicas would be; each routes to the owners.
      Row routed = RunLocks(absl::StrCat(nodes.size(), "-node"), node_addresses, cluster_pids,
                            sessions, in_flight, round);
      for (const Row* row : {&alone, &routed}) {
        std::printf("| lock acquire+release, %s | %s | %.0f | %.2f | %.0f | %.2f | %llu |\n",
                    row->target == "lone" ? "one lone batond" : "3 nodes, routed by the client",
                    row->shape.c_str(), row->ops_per_s, row->server_cores, row->per_core(),
                    row->client_cores, static_cast<unsigned long long>(row->errors));
      }
      pairs.emplace_back(alone, routed);
      // The cluster's streams carry a third of each client's requests, so
      // a third as many per message: the lone batond at that depth per
      // stream (S*n streams of F/n) tells batching from routing.
      if (absl::GetFlag(FLAGS_same_depth) && in_flight >= static_cast<int>(nodes.size())) {
        const int n = static_cast<int>(nodes.size());
        Row diluted = RunLocks("lone", {lone}, lone_pids, sessions * n, in_flight / n, round);
        std::printf(
            "| lock acquire+release, one lone batond, the cluster's depth per stream | "
            "%s | %.0f | %.2f | %.0f | %.2f | %llu |\n",
            diluted.shape.c_str(), diluted.ops_per_s, diluted.server_cores, diluted.per_core(),
            diluted.client_cores, static_cast<unsigned long long>(diluted.errors));
        diluted_ratios.push_back(
            {alone.shape, diluted.per_core() > 0 ? routed.per_core() / diluted.per_core() : 0});
      }
    }
  }
  std::printf(
      "\n| shape | cluster/lone ops/s | cluster/lone ops/s per core |\n"
      "| --- | --- | --- |\n");
  for (const auto& [alone, routed] : pairs) {
    std::printf("| %s | %.2f | %.2f |\n", alone.shape.c_str(),
                alone.ops_per_s > 0 ? routed.ops_per_s / alone.ops_per_s : 0,
                alone.per_core() > 0 ? routed.per_core() / alone.per_core() : 0);
  }

  for (const auto& [shape, ratio] : diluted_ratios) {
    std::printf("| %s, against the lone batond at the cluster's depth per stream | | %.2f |\n",
                shape.c_str(), ratio);
  }

  // Describe: a lock of a node that is not the seed, asked of the seed.
  absl::StatusOr<std::unique_ptr<Client>> client =
      Client::Connect({.address = seed, .client_name = "cluster_bench"});
  if (!client.ok()) return 1;
  std::string seed_id;
  for (const NodeInfo& node : nodes) {
    if (node.address == seed) seed_id = node.id;
  }
  std::string name;
  for (int i = 0; name.empty(); ++i) {
    const std::string candidate = absl::StrCat("bench/describe/", i);
    if (OwnerOf(nodes, candidate) != seed_id) name = candidate;
  }
  std::string owner_address, other_address;
  const std::string owner_id = OwnerOf(nodes, name);
  for (const NodeInfo& node : nodes) {
    if (node.id == owner_id) {
      owner_address = node.address;
    } else if (other_address.empty()) {
      other_address = node.address;
    }
  }
  absl::StatusOr<Hold> described_hold = PriorityLock(client->get(), name).Acquire().Wait();
  if (!described_hold.ok()) return 1;
  std::fprintf(stderr, "cluster_bench: Describe, direct and forwarded\n");
  auto [direct, forwarded] =
      Describes(name, owner_address, other_address, absl::GetFlag(FLAGS_describes));
  std::printf(
      "\n| Admin.Describe, one call at a time (%d each, alternating) | p50 | p99 |\n"
      "| --- | --- | --- |\n",
      absl::GetFlag(FLAGS_describes));
  std::printf("| to the owner | %.0f µs | %.0f µs |\n", PercentileMicros(direct, 0.5),
              PercentileMicros(direct, 0.99));
  std::printf("| to a non-owner, forwarded | %.0f µs | %.0f µs |\n",
              PercentileMicros(forwarded, 0.5), PercentileMicros(forwarded, 0.99));
  std::printf("| forwarded / direct | %.2fx | %.2fx |\n",
              PercentileMicros(forwarded, 0.5) / PercentileMicros(direct, 0.5),
              PercentileMicros(forwarded, 0.99) / PercentileMicros(direct, 0.99));
  (void)described_hold->Release().Wait();
  if (!absl::GetFlag(FLAGS_failover)) return 0;

  // Failover: a lock held on a node other than the seed's; that node killed.
  const NodeInfo* victim = nullptr;
  for (const NodeInfo& node : nodes) {
    if (node.address != seed && node.pid > 0) victim = &node;
  }
  if (victim == nullptr) return 0;
  std::string victim_name;
  for (int i = 0; victim_name.empty(); ++i) {
    const std::string candidate = absl::StrCat("bench/failover/", i);
    if (OwnerOf(nodes, candidate) == victim->id) victim_name = candidate;
  }
  PriorityLock lock(client->get(), victim_name);
  absl::StatusOr<Hold> hold = lock.Acquire().Wait();
  if (!hold.ok()) return 1;
  absl::Notification lost;
  std::atomic<std::int64_t> lost_at{0};
  hold->OnLost([&](const absl::Status&) {
    lost_at = NowNs();
    lost.Notify();
  });
  std::fprintf(stderr, "cluster_bench: SIGKILL to node %s (pid %ld)\n", victim->id.c_str(),
               victim->pid);
  const std::int64_t killed = NowNs();
  kill(static_cast<pid_t>(victim->pid), SIGKILL);
  CallOptions options;
  options.timeout = absl::Seconds(30);
  absl::StatusOr<Hold> again = lock.Acquire(0, options).Wait();
  const std::int64_t granted = NowNs();
  lost.WaitForNotificationWithTimeout(absl::Seconds(10));
  std::printf("\n| failover (SIGKILL of node %s) | time |\n| --- | --- |\n", victim->id.c_str());
  std::printf("| the hold on it reported lost (Hold::OnLost) | %.0f ms |\n",
              lost.HasBeenNotified() ? static_cast<double>(lost_at - killed) / 1e6 : -1.0);
  if (again.ok()) {
    std::printf(
        "| an acquire of its name, sent at the kill, granted by the new owner | %.0f ms |\n",
        static_cast<double>(granted - killed) / 1e6);
  } else {
    std::printf("| an acquire of its name, sent at the kill | failed: %s |\n",
                again.status().ToString().c_str());
  }
  return 0;
}

}  // namespace
}  // namespace baton::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return baton::bench::Main();
}

// Copyright 2026 The Baton Authors.
//
// etcd_bench: what Baton's locks cost when a user takes them from etcd's lock
// service instead (etcd 3.4, v3lockpb.Lock over gRPC), measured like
// bench/loadgen measures Baton and printed as one row of the same Markdown
// table:
//
//   | scenario | target | sessions | in flight | ops/s | p50 µs | p99 µs | p99.9 µs | server CPU s
//   per 1M ops |
//
// Scenario `lock` (uncontended): every in-flight slot grants itself a lease
// (TTL 10 s), then loops Lock(name unique to the slot, lease) and
// Unlock(owner key). As in bench/loadgen, the acquire (Lock) and the release
// (Unlock) are an op each, one RPC each (on the server, a Txn and a
// DeleteRange, each a Raft proposal). The lease is granted again every 5 s,
// not counted as an op, so that it never expires under a lock (the server's
// own keepalive is orphaned per Lock).
//
// --sessions N gRPC channels, each on a TCP connection of its own, each with
// --inflight K slots; each slot is a thread making blocking calls (the gRPC
// sync API). After --warmup seconds, ops that complete in the next --seconds
// are counted and their latencies kept; the server's CPU time (utime + stime
// of --server_pid from /proc/PID/stat) is read at both ends of that window and
// scaled to seconds per million ops. Every RPC has a 5 s deadline.
//
// Example:
//   etcd_bench --endpoint 127.0.0.1:23790 --sessions 4 --inflight 16
//     --seconds 10 --server_pid 1234 --target "etcd 3.4.23"
//
// Threading: each slot's thread owns its stubs' calls; channels are shared by
// the K slots of a session (gRPC channels are thread-safe); the main thread
// only reads the clock and the server's CPU, and merges after joining.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/common/measure.h"

#include "etcd/rpc.grpc.pb.h"
#include "etcd/v3lock.grpc.pb.h"

namespace {

using ::baton::bench::PercentileMicros;
using ::baton::bench::ProcessCpuSeconds;

using Clock = std::chrono::steady_clock;

constexpr auto kRpcDeadline = std::chrono::seconds(5);
constexpr auto kLeaseRenewAfter = std::chrono::seconds(5);
constexpr int64_t kLeaseTtlSeconds = 10;
constexpr int kMaxConsecutiveErrors = 20;

struct Options {
  std::string endpoint = "127.0.0.1:2379";
  std::string scenario = "lock";
  std::string target = "etcd";
  int sessions = 4;
  int inflight = 16;
  double seconds = 10;
  double warmup = 1;
  long server_pid = 0;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "etcd_bench: %s\n"
               "usage: etcd_bench [--endpoint HOST:PORT] [--scenario lock] [--sessions N]\n"
               "  [--inflight K] [--seconds S] [--warmup S] [--server_pid PID]\n"
               "  [--target LABEL] [--header]\n",
               why);
  std::exit(2);
}

struct SlotResult {
  std::vector<uint64_t> latencies_ns;  // ops completed inside the window
  uint64_t ops = 0;
  uint64_t errors = 0;
  std::string last_error;
};

std::unique_ptr<grpc::ClientContext> NewContext(bool wait_for_ready = false) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + kRpcDeadline);
  context->set_wait_for_ready(wait_for_ready);
  return context;
}

// One in-flight slot: lease, then Lock/Unlock until `end`.
void RunSlot(const std::shared_ptr<grpc::Channel>& channel, const std::string& name,
             Clock::time_point window_start, Clock::time_point end, SlotResult* result) {
  auto leases = etcdserverpb::Lease::NewStub(channel);
  auto locks = v3lockpb::Lock::NewStub(channel);
  result->latencies_ns.reserve(1 << 14);
  auto fail = [&](const grpc::Status& status) {
    ++result->errors;
    result->last_error = std::to_string(status.error_code()) + " " + status.error_message();
  };

  int64_t lease = 0;
  Clock::time_point lease_granted;
  int consecutive_errors = 0;
  while (Clock::now() < end && consecutive_errors < kMaxConsecutiveErrors) {
    if (lease == 0 || Clock::now() - lease_granted > kLeaseRenewAfter) {
      etcdserverpb::LeaseGrantRequest request;
      request.set_ttl(kLeaseTtlSeconds);
      etcdserverpb::LeaseGrantResponse response;
      auto context = NewContext(/*wait_for_ready=*/lease == 0);
      grpc::Status status = leases->LeaseGrant(context.get(), request, &response);
      if (!status.ok() || !response.error().empty() || response.id() == 0) {
        if (status.ok()) status = grpc::Status(grpc::StatusCode::UNKNOWN, response.error());
        fail(status);
        ++consecutive_errors;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      lease = response.id();
      lease_granted = Clock::now();
    }

    auto record = [&](Clock::time_point start, Clock::time_point now) {
      if (now >= window_start && now < end) {
        ++result->ops;
        result->latencies_ns.push_back(static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now - start).count()));
      }
    };
    Clock::time_point start = Clock::now();
    v3lockpb::LockRequest lock_request;
    // After a failed Lock the server may still have created an owner key
    // under the name; a fresh name keeps the next Lock from waiting for it.
    lock_request.set_name(name + "/" + std::to_string(result->errors));
    lock_request.set_lease(lease);
    v3lockpb::LockResponse lock_response;
    auto lock_context = NewContext();
    grpc::Status status = locks->Lock(lock_context.get(), lock_request, &lock_response);
    if (!status.ok()) {
      fail(status);
      ++consecutive_errors;
      lease = 0;  // the lease may be gone: take a new one
      continue;
    }
    Clock::time_point acquired = Clock::now();
    record(start, acquired);
    v3lockpb::UnlockRequest unlock_request;
    unlock_request.set_key(lock_response.key());
    v3lockpb::UnlockResponse unlock_response;
    auto unlock_context = NewContext();
    status = locks->Unlock(unlock_context.get(), unlock_request, &unlock_response);
    Clock::time_point now = Clock::now();
    if (!status.ok()) {
      fail(status);
      ++consecutive_errors;
      continue;
    }
    consecutive_errors = 0;
    record(acquired, now);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  bool header = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage(("missing value for " + arg).c_str());
      return argv[++i];
    };
    try {  // std::stoi and std::stod throw on a malformed value
    if (arg == "--endpoint")
      options.endpoint = value();
    else if (arg == "--scenario")
      options.scenario = value();
    else if (arg == "--target")
      options.target = value();
    else if (arg == "--sessions")
      options.sessions = std::stoi(value());
    else if (arg == "--inflight")
      options.inflight = std::stoi(value());
    else if (arg == "--seconds")
      options.seconds = std::stod(value());
    else if (arg == "--warmup")
      options.warmup = std::stod(value());
    else if (arg == "--server_pid")
      options.server_pid = std::stol(value());
    else if (arg == "--header")
      header = true;
    else
      Usage(("unknown argument " + arg).c_str());
    } catch (const std::logic_error&) {
      Usage(("malformed value for " + arg).c_str());
    }
  }
  if (options.scenario != "lock") Usage("--scenario is lock");
  if (options.sessions < 1 || options.inflight < 1 || options.sessions * options.inflight > 2000 ||
      options.seconds <= 0 || options.seconds > 600 || options.warmup < 0) {
    Usage("out-of-range value");
  }

  Clock::time_point begin = Clock::now();
  Clock::time_point window_start = begin + std::chrono::duration_cast<Clock::duration>(
                                               std::chrono::duration<double>(options.warmup));
  Clock::time_point window_end = window_start + std::chrono::duration_cast<Clock::duration>(
                                                    std::chrono::duration<double>(options.seconds));

  // Lock names unique to this run too, so that nothing a previous run left
  // behind (a key whose lease has not yet expired) can make a Lock wait.
  std::string run = std::to_string(getpid()) + "-" +
                    std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  size_t slots = static_cast<size_t>(options.sessions) * static_cast<size_t>(options.inflight);
  std::vector<SlotResult> results(slots);
  std::vector<std::thread> threads;
  threads.reserve(slots);
  for (int s = 0; s < options.sessions; ++s) {
    // A subchannel pool of its own: each session is a TCP connection of its own.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("baton.bench.session", s);
    auto channel =
        grpc::CreateCustomChannel(options.endpoint, grpc::InsecureChannelCredentials(), args);
    for (int k = 0; k < options.inflight; ++k) {
      size_t index =
          static_cast<size_t>(s) * static_cast<size_t>(options.inflight) + static_cast<size_t>(k);
      std::string name = "bench/lock/" + run + "/" + std::to_string(s) + "-" + std::to_string(k);
      threads.emplace_back([channel, name, window_start, window_end, &results, index] {
        RunSlot(channel, name, window_start, window_end, &results[index]);
      });
    }
  }
  std::this_thread::sleep_until(window_start);
  double cpu_start = ProcessCpuSeconds(options.server_pid);
  double self_cpu_start = ProcessCpuSeconds(getpid());
  std::this_thread::sleep_until(window_end);
  double cpu_end = ProcessCpuSeconds(options.server_pid);
  double self_cpu_end = ProcessCpuSeconds(getpid());
  for (auto& t : threads) t.join();

  std::vector<uint64_t> latencies;
  uint64_t ops = 0, errors = 0;
  std::string last_error;
  for (auto& r : results) {
    ops += r.ops;
    errors += r.errors;
    if (!r.last_error.empty()) last_error = r.last_error;
    latencies.insert(latencies.end(), r.latencies_ns.begin(), r.latencies_ns.end());
  }
  std::sort(latencies.begin(), latencies.end());

  std::string cpu = "-";
  if (cpu_start >= 0 && cpu_end >= 0 && ops > 0) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.2f",
                  (cpu_end - cpu_start) * 1e6 / static_cast<double>(ops));
    cpu = buffer;
  }
  if (header) {
    std::printf(
        "| scenario | target | sessions | in flight | ops/s | p50 µs | p99 µs | p99.9 µs | server "
        "CPU s per 1M ops |\n");
    std::printf("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  }
  std::printf("| %s | %s | %d | %d | %.0f | %.1f | %.1f | %.1f | %s |\n", options.scenario.c_str(),
              options.target.c_str(), options.sessions, options.inflight,
              static_cast<double>(ops) / options.seconds, PercentileMicros(latencies, 0.50),
              PercentileMicros(latencies, 0.99), PercentileMicros(latencies, 0.999), cpu.c_str());
  std::fflush(stdout);
  std::fprintf(
      stderr,
      "etcd_bench: %s on %s: %" PRIu64 " ops, %" PRIu64
      " errors%s%s; etcd_bench CPU %.2f s per 1M ops\n",
      options.scenario.c_str(), options.target.c_str(), ops, errors,
      last_error.empty() ? "" : " (last: ", last_error.empty() ? "" : (last_error + ")").c_str(),
      ops > 0 ? (self_cpu_end - self_cpu_start) * 1e6 / static_cast<double>(ops) : 0.0);
  return (errors > 0 || ops == 0) ? 1 : 0;
}

// Copyright 2026 The Baton Authors.
//
// baton_loadgen: runs one scenario against one target and prints one
// Markdown table row (with --header, the table's header first):
//
//   | scenario | target | sessions | in flight | ops/s | p50 µs | p99 µs | p99.9 µs | server CPU s per 1M ops |
//
// Example:
//   baton_loadgen --header --scenario=lock --target_addr=127.0.0.1:7070
//     --target=baton --sessions=4 --in_flight=16 --server_pid=PID
//
// Scenarios (--scenario):
//   echo         against baton_echo_server (baton.bench.Echo/Session): the
//                lock scenario's messages, answered without any work
//   lock         uncontended PriorityLock: acquire then release, one name per
//                in-flight slot
//   semaphore    DynamicBoundedSemaphore acquire then release, one instance
//                with a bound far above what is ever held
//   handoff      pairs of sessions passing locks: A releases, B (queued) is
//                granted; latency from A's release issued to B's grant
//                received; an op is one handoff
//   rate_stream  RateAcquire with timeout 0 on the stream, over --keys keys
//                drawn uniformly, or one with --hot_key
//   rate_unary   Admin.TryAcquire unary calls, sessions x in_flight of them
//                outstanding (callback unary API)
//   echo_unary   the same calls to the echo server's TryAcquire (allowed at
//                once): the unary call's own cost
//   count_down   count_down on one MultiCountDownLatch key that never
//                reaches zero: kept state, so with a store (--durable) each
//                answer waits for its group commit
// Otherwise an op is one request answered: a lock's acquire and its release
// are two. Latency runs from the moment a request is ready to send (batching
// delay included) to its answer. Stream sessions use the raw generated
// stubs, so batond and the echo server are driven by the same code.
//
// Server CPU: utime + stime of --server_pid (/proc/PID/stat) over the
// measured window, per million ops; "-" without --server_pid.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/common/measure.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "baton/v1/admin.grpc.pb.h"
#include "bench/loadgen/run.h"

ABSL_FLAG(std::string, scenario, "",
          "echo, lock, semaphore, handoff, rate_stream, rate_unary or echo_unary (empty "
          "with --header: print the header only)");
ABSL_FLAG(std::string, target_addr, "127.0.0.1:7070", "the server's address");
ABSL_FLAG(std::string, target, "", "the target's name in the table; empty: --target_addr");
ABSL_FLAG(std::string, service, "auto",
          "baton (baton.v1.Baton/Session), echo (baton.bench.Echo/Session), or auto: echo for "
          "the echo scenario, baton otherwise");
ABSL_FLAG(int, sessions, 4, "sessions (streams; rate_unary: groups of in-flight calls)");
ABSL_FLAG(int, in_flight, 16, "requests each session keeps outstanding");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5), "how long to measure");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1), "how long to run before measuring");
ABSL_FLAG(int, batch, 1000, "most requests per ClientMessage; 1 disables batching");
ABSL_FLAG(int, server_pid, 0, "the server's pid, for its CPU time; 0: not measured");
ABSL_FLAG(bool, header, false, "print the table's header before the row");
ABSL_FLAG(bool, hot_key, false, "rate_*: every request on one key");
ABSL_FLAG(int, keys, 1024, "rate_*: how many keys (declared at setup)");
ABSL_FLAG(int, channels, 0, "gRPC channels (TCP connections); 0: min(sessions, 4)");
ABSL_FLAG(int, client_threads, 0, "threads polling the client's completion queues; 0: nproc");
ABSL_FLAG(bool, setup, true, "declare the instances the scenario needs (rate limits, semaphore)");

namespace baton::bench {

std::string RateKeyName(int key) { return absl::StrCat("loadgen/rate/", key); }

namespace {

constexpr char kHeader[] =
    "| scenario | target | sessions | in flight | ops/s | p50 µs | p99 µs | p99.9 µs | "
    "server CPU s per 1M ops |\n"
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";

std::optional<Scenario> ParseScenario(const std::string& name) {
  if (name == "echo") return Scenario::kEcho;
  if (name == "lock") return Scenario::kLock;
  if (name == "semaphore") return Scenario::kSemaphore;
  if (name == "handoff") return Scenario::kHandoff;
  if (name == "rate_stream") return Scenario::kRateStream;
  if (name == "rate_unary") return Scenario::kRateUnary;
  if (name == "echo_unary") return Scenario::kEchoUnary;
  if (name == "count_down") return Scenario::kCountDown;
  return std::nullopt;
}

// Declare creates what the scenario needs on batond (idempotent: a second
// run declares the same). Returns false, having said why, on an error.
bool Declare(const RunOptions& options, const std::shared_ptr<grpc::Channel>& channel) {
  std::unique_ptr<v1::Admin::Stub> admin = v1::Admin::NewStub(channel);
  std::vector<v1::DeclareRequest> requests;
  if (options.scenario == Scenario::kSemaphore) {
    v1::DeclareRequest& request = requests.emplace_back();
    request.set_name(kSemaphoreName);
    request.mutable_config()->set_kind(v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE);
    request.mutable_config()->mutable_semaphore()->set_value(int64_t{1} << 30);
  } else if (options.scenario == Scenario::kCountDown) {
    v1::DeclareRequest& request = requests.emplace_back();
    request.set_name(kLatchName);
    request.mutable_config()->set_kind(v1::KIND_MULTI_COUNT_DOWN_LATCH);
    {
    auto* entry = request.mutable_config()->mutable_latch()->add_counts();
    entry->set_key("k");
    entry->set_value(int64_t{1} << 62);
  }
  } else if (options.scenario == Scenario::kRateStream ||
             options.scenario == Scenario::kRateUnary) {
    // A rate never reached: every acquire is granted, so the figures are
    // those of the grant path.
    for (int key = 0; key < (options.hot_key ? 1 : options.keys); ++key) {
      v1::DeclareRequest& request = requests.emplace_back();
      request.set_name(RateKeyName(key));
      request.mutable_config()->set_kind(v1::KIND_ADVANCED_RATE_LIMIT);
      request.mutable_config()->mutable_rate_limit()->set_rate(1e9);
    }
  }
  for (const v1::DeclareRequest& request : requests) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::DeclareResponse response;
    grpc::Status status = admin->Declare(&context, request, &response);
    if (!status.ok()) {
      std::fprintf(stderr, "loadgen: declaring %s: %d %s\n", request.name().c_str(),
                   status.error_code(), status.error_message().c_str());
      return false;
    }
  }
  return true;
}

void SleepUntil(int64_t ns) {
  const int64_t now = NowNanos();
  if (ns > now) std::this_thread::sleep_for(std::chrono::nanoseconds(ns - now));
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "baton_loadgen --scenario=NAME --target_addr=HOST:PORT [--server_pid=PID] [--header]");
  absl::ParseCommandLine(argc, argv);
  const std::string scenario_name = absl::GetFlag(FLAGS_scenario);
  if (absl::GetFlag(FLAGS_header)) std::fputs(kHeader, stdout);
  if (scenario_name.empty() && absl::GetFlag(FLAGS_header)) return 0;
  const std::optional<Scenario> scenario = ParseScenario(scenario_name);
  if (!scenario) {
    std::fprintf(stderr, "loadgen: unknown --scenario '%s'\n", scenario_name.c_str());
    return 2;
  }

  RunOptions options;
  options.scenario = *scenario;
  const std::string service = absl::GetFlag(FLAGS_service);
  options.echo_service =
      service == "echo" || (service == "auto" && (*scenario == Scenario::kEcho ||
                                                  *scenario == Scenario::kEchoUnary));
  options.sessions = std::max(1, absl::GetFlag(FLAGS_sessions));
  if (*scenario == Scenario::kHandoff) options.sessions = std::max(2, options.sessions / 2 * 2);
  options.in_flight = std::max(1, absl::GetFlag(FLAGS_in_flight));
  options.batch = std::max(1, absl::GetFlag(FLAGS_batch));
  options.hot_key = absl::GetFlag(FLAGS_hot_key);
  options.keys = std::max(1, absl::GetFlag(FLAGS_keys));
  const int nproc = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  options.client_threads = absl::GetFlag(FLAGS_client_threads);
  if (options.client_threads <= 0) options.client_threads = nproc;
  int channel_count = absl::GetFlag(FLAGS_channels);
  if (channel_count <= 0) channel_count = std::min(options.sessions, 4);

  // Distinct channels get distinct connections: each has its own subchannel
  // pool.
  const std::string target_addr = absl::GetFlag(FLAGS_target_addr);
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < channel_count; ++i) {
    grpc::ChannelArguments arguments;
    arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    channels.push_back(
        grpc::CreateCustomChannel(target_addr, grpc::InsecureChannelCredentials(), arguments));
  }
  if (!channels[0]->WaitForConnected(std::chrono::system_clock::now() +
                                     std::chrono::seconds(5))) {
    std::fprintf(stderr, "loadgen: cannot connect to %s\n", target_addr.c_str());
    return 1;
  }
  if (absl::GetFlag(FLAGS_setup) && !options.echo_service && !Declare(options, channels[0])) {
    return 1;
  }

  const bool unary = *scenario == Scenario::kRateUnary || *scenario == Scenario::kEchoUnary;
  std::unique_ptr<Driver> driver =
      unary ? NewUnaryDriver(options, channels) : NewStreamDriver(options, channels);
  const int64_t warmup_ns = absl::ToInt64Nanoseconds(absl::GetFlag(FLAGS_warmup));
  const int64_t duration_ns = absl::ToInt64Nanoseconds(absl::GetFlag(FLAGS_duration));
  Window window;
  window.start_ns = NowNanos() + warmup_ns;
  window.end_ns = window.start_ns + duration_ns;
  driver->Start(window);

  const int server_pid = absl::GetFlag(FLAGS_server_pid);
  SleepUntil(window.start_ns);
  const double server_cpu_before = server_pid > 0 ? ::baton::bench::ProcessCpuSeconds(server_pid) : -1;
  const double self_cpu_before = ::baton::bench::ProcessCpuSeconds(getpid());
  SleepUntil(window.end_ns);
  const double server_cpu_after = server_pid > 0 ? ::baton::bench::ProcessCpuSeconds(server_pid) : -1;
  const double self_cpu_after = ::baton::bench::ProcessCpuSeconds(getpid());
  const Counts counts = driver->Stop();

  const double seconds = static_cast<double>(duration_ns) / 1e9;
  const double ops = static_cast<double>(counts.ops);
  std::string server_cpu = "-";
  if (server_cpu_before >= 0 && server_cpu_after >= 0 && counts.ops > 0) {
    server_cpu = absl::StrFormat("%.2f", (server_cpu_after - server_cpu_before) / ops * 1e6);
  }
  std::string label = scenario_name;
  if (options.hot_key && (*scenario == Scenario::kRateStream || *scenario == Scenario::kRateUnary)) {
    label += " (hot key)";
  }
  if (options.batch == 1) label += " (no batching)";
  std::string target = absl::GetFlag(FLAGS_target);
  if (target.empty()) target = target_addr;
  std::printf("| %s | %s | %d | %d | %.0f | %.1f | %.1f | %.1f | %s |\n", label.c_str(),
              target.c_str(), options.sessions, options.in_flight, ops / seconds,
              counts.latency.PercentileMicros(0.50), counts.latency.PercentileMicros(0.99),
              counts.latency.PercentileMicros(0.999), server_cpu.c_str());
  std::fflush(stdout);
  std::fprintf(stderr,
               "loadgen: %s on %s: %llu ops, %llu refused, %llu errors%s%s; loadgen CPU %.2f s "
               "per 1M ops\n",
               label.c_str(), target.c_str(), static_cast<unsigned long long>(counts.ops),
               static_cast<unsigned long long>(counts.refused),
               static_cast<unsigned long long>(counts.errors),
               counts.first_error.empty() ? "" : " (first: ", 
               counts.first_error.empty() ? "" : (counts.first_error + ")").c_str(),
               counts.ops > 0 ? (self_cpu_after - self_cpu_before) / ops * 1e6 : 0.0);
  if (counts.messages_read > 0 && counts.messages_written > 0) {
    std::fprintf(stderr,
                 "loadgen: %.2f answers per message read, %.2f ops per message written\n",
                 ops / static_cast<double>(counts.messages_read),
                 ops / static_cast<double>(counts.messages_written));
  }
  std::fflush(stderr);
  // The calls are over (or, after a timeout, abandoned): skip tearing gRPC
  // down, which a call abandoned mid-flight could make hang.
  // Exit status 1 when something went wrong (an error answer, a broken
  // stream, nothing measured), so that a smoke run fails loudly.
  std::_Exit(counts.errors > 0 || counts.ops == 0 ? 1 : 0);
}

}  // namespace
}  // namespace baton::bench

int main(int argc, char** argv) { return baton::bench::Main(argc, argv); }

// Copyright 2026 The Baton Authors.
//
// What the load generator's drivers share: the options of one run, the
// measurement window, the clock, and what a run counts.
//
// A run opens its sessions (or unary slots), keeps `in_flight` requests
// outstanding in each, and counts only the answers received inside the
// window [start_ns, end_ns): the warm-up before it and the shutdown after it
// are not measured. An op is one request answered (a lock's acquire and its
// release are two ops), except for handoff, where an op is one handoff.

#ifndef BATON_BENCH_LOADGEN_RUN_H_
#define BATON_BENCH_LOADGEN_RUN_H_

#include <time.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bench/loadgen/histogram.h"
#include "grpcpp/grpcpp.h"

namespace baton::bench {

enum class Scenario {
  kEcho,
  kLock,
  kSemaphore,
  kHandoff,
  kRateStream,
  kRateUnary,
  kEchoUnary,
  kCountDown,
};

struct RunOptions {
  Scenario scenario = Scenario::kEcho;
  // Streams go to baton.bench.Echo/Session instead of baton.v1.Baton/Session.
  bool echo_service = false;
  int sessions = 1;
  int in_flight = 1;
  // Most requests per ClientMessage; 1 sends each alone.
  int batch = 1000;
  // Threads polling the client's completion queues (stream scenarios).
  int client_threads = 2;
  // rate_*: every request on one key instead of `keys` keys drawn uniformly.
  bool hot_key = false;
  int keys = 1024;
};

// The measurement window, on the monotonic clock, in nanoseconds.
struct Window {
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  bool Contains(int64_t ns) const { return ns >= start_ns && ns < end_ns; }
};

inline int64_t NowNanos() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

// What one session (or slot) counted inside the window; merged at the end.
struct Counts {
  LatencyHistogram latency;
  uint64_t ops = 0;
  // rate_*: refusals (DEADLINE_EXCEEDED with timeout 0; allowed = false).
  uint64_t refused = 0;
  // Any other error status, anywhere in the run.
  uint64_t errors = 0;
  // Stream scenarios: messages read and written inside the window, to tell
  // how many requests each message carried (the server's batching and ours).
  uint64_t messages_read = 0;
  uint64_t messages_written = 0;
  std::string first_error;

  void Merge(const Counts& other) {
    latency.Merge(other.latency);
    ops += other.ops;
    refused += other.refused;
    errors += other.errors;
    messages_read += other.messages_read;
    messages_written += other.messages_written;
    if (first_error.empty()) first_error = other.first_error;
  }
};

// The instance names the scenarios use, so that setup declares what the
// drivers then use.
std::string RateKeyName(int key);
inline constexpr char kSemaphoreName[] = "loadgen/semaphore";
inline constexpr char kLatchName[] = "loadgen/latch";

// A Driver runs one scenario. Start opens everything and begins sending at
// once; Stop ends it (waiting at most a few seconds) and returns the counts.
// Start and Stop are called from the main thread, once each.
class Driver {
 public:
  virtual ~Driver() = default;
  virtual void Start(const Window& window) = 0;
  virtual Counts Stop() = 0;
};

std::unique_ptr<Driver> NewStreamDriver(const RunOptions& options,
                                        std::vector<std::shared_ptr<grpc::Channel>> channels);
std::unique_ptr<Driver> NewUnaryDriver(const RunOptions& options,
                                       std::vector<std::shared_ptr<grpc::Channel>> channels);

}  // namespace baton::bench

#endif  // BATON_BENCH_LOADGEN_RUN_H_

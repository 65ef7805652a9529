// Copyright 2026 The Baton Authors.
//
// rls_bench: Envoy's global rate limit, decided two ways at the same
// concurrency, in one run, printed as one Markdown table:
//
//   baton  envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit on a
//          batond started with a rules file (bench/rls/run_rls.sh): domain
//          --domain, one descriptor {key: --key, value: u<i>} per request,
//          i uniform over --users values, hits_addend 0 (one hit).
//   redis  what envoyproxy/ratelimit's fixed-window Redis cache
//          (src/redis/fixed_cache_impl.go, pipelineAppend) sends for the same
//          request: one pipeline per request, `INCRBY key hits` then
//          `EXPIRE key unit_seconds`, in one round trip, with its cache key
//          <domain>_<key>_<value>_<window start> (limiter's cache key, empty
//          prefix), and the over-limit test on the INCRBY reply
//          (count > requests_per_unit). With one descriptor ratelimit sends
//          no GET pipeline first (that happens only with several keys), and
//          without a local cache nothing else. The ratelimit Go service that
//          would sit between Envoy and Redis is not run: this row is Redis's
//          share of the work only, a lower bound on that deployment's cost.
//          Two Redis rows at the same concurrency: --conns connections with
//          --inflight requests pipelined on each (ratelimit with radix's
//          implicit pipelining), and conns x inflight connections with one
//          request each (ratelimit's default: no implicit pipelining, each
//          request's pipeline holds a pooled connection).
//
// Both: --conns connections (gRPC channels, each its own subchannel, or
// hiredis contexts), each driven by one thread with --inflight calls
// outstanding (a completion queue; hiredis pipelining), every slot a closed
// loop. A decision's latency runs from its request being issued to its answer
// being read. After --warmup seconds, decisions completed in the next
// --seconds are counted; the server's CPU time (utime + stime from
// /proc/PID/stat, bench/common/measure.h) is read at both ends of that window.
//
// Example (run_rls.sh does this):
//   rls_bench --baton 127.0.0.1:4000 --baton_pid 11 --redis_port 6400
//     --redis_pid 12 --conns 4 --inflight 16 --seconds 5 --warmup 1
//
// Threading: each connection is owned by one thread; the main thread starts
// them, reads the clock and the servers' CPU, and merges results after
// joining them. The two targets run one after the other, never together.

#include <grpcpp/grpcpp.h>
#include <hiredis.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/common/measure.h"
#include "envoy/service/ratelimit/v3/rls.grpc.pb.h"

namespace {

using ::baton::bench::PercentileMicros;
using ::baton::bench::ProcessCpuSeconds;
using ::envoy::service::ratelimit::v3::RateLimitRequest;
using ::envoy::service::ratelimit::v3::RateLimitResponse;
using ::envoy::service::ratelimit::v3::RateLimitService;

using Clock = std::chrono::steady_clock;

struct Options {
  std::string baton;  // HOST:PORT; empty: no Baton row
  long baton_pid = 0;
  std::string redis_host = "127.0.0.1";
  int redis_port = 0;  // 0: no Redis row
  long redis_pid = 0;
  std::string redis_label = "redis";
  std::string baton_label = "batond";
  int conns = 4;
  int inflight = 16;
  double seconds = 5;
  double warmup = 1;
  int users = 10000;
  std::string domain = "bench";
  std::string key = "user";
  // The rule's, for Redis's over-limit test and EXPIRE (run_rls.sh writes
  // the same into batond's rules file).
  std::uint64_t requests_per_unit = 1000000000;
  long unit_seconds = 60;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "rls_bench: %s\n"
               "usage: rls_bench [--baton HOST:PORT --baton_pid PID] [--redis_port P --redis_pid PID]\n"
               "  [--conns N] [--inflight K] [--seconds S] [--warmup S] [--users N]\n"
               "  [--domain D] [--key K] [--requests_per_unit N] [--unit_seconds S]\n"
               "  [--baton_label L] [--redis_label L] [--header]\n",
               why);
  std::exit(2);
}

struct Window {
  Clock::time_point start;  // end of warm-up
  Clock::time_point end;    // no new requests after it
};

struct ThreadResult {
  std::vector<std::uint64_t> latencies_ns;  // decisions completed in the window
  std::uint64_t decisions = 0;
  std::uint64_t over_limit = 0;
  std::uint64_t errors = 0;
  std::string fatal;
};

struct Row {
  std::string target;
  std::string how;
  double decisions_per_s = 0;
  double p50_us = 0;
  double p99_us = 0;
  double cpu_us_per_decision = -1;
  std::uint64_t decisions = 0;
  std::uint64_t over_limit = 0;
  std::uint64_t errors = 0;
  bool ok = false;
};

std::string UserValue(std::mt19937_64* rng, int users) {
  std::uniform_int_distribution<int> pick(0, users - 1);
  std::string value = "u";  // not "u" + ...: GCC 12's false -Wrestrict
  value += std::to_string(pick(*rng));
  return value;
}

std::uint64_t Nanos(Clock::duration d) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

// --- Baton: ShouldRateLimit on a completion queue ----------------------------

struct BatonCall {
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientAsyncResponseReader<RateLimitResponse>> reader;
  RateLimitRequest request;
  RateLimitResponse response;
  grpc::Status status;
  Clock::time_point start;
};

void RunBatonConnection(const Options& options, const Window& window, int index,
                        ThreadResult* result) {
  grpc::ChannelArguments arguments;
  // Each connection its own TCP connection, as bench/loadgen does.
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel =
      grpc::CreateCustomChannel(options.baton, grpc::InsecureChannelCredentials(), arguments);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5))) {
    result->fatal = "cannot connect to " + options.baton;
    return;
  }
  auto stub = RateLimitService::NewStub(channel);
  grpc::CompletionQueue cq;
  std::mt19937_64 rng(static_cast<std::uint64_t>(index + 1) * 0x9E3779B97F4A7C15ull);
  std::vector<BatonCall> calls(static_cast<std::size_t>(options.inflight));
  result->latencies_ns.reserve(1 << 16);

  auto issue = [&](BatonCall* call) {
    call->context = std::make_unique<grpc::ClientContext>();
    call->context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    call->response.Clear();
    call->request.mutable_descriptors(0)->mutable_entries(0)->set_value(
        UserValue(&rng, options.users));
    call->start = Clock::now();
    call->reader = stub->PrepareAsyncShouldRateLimit(call->context.get(), call->request, &cq);
    call->reader->StartCall();
    call->reader->Finish(&call->response, &call->status, call);
  };
  for (BatonCall& call : calls) {
    call.request.set_domain(options.domain);
    call.request.add_descriptors()->add_entries()->set_key(options.key);
    issue(&call);
  }
  std::size_t outstanding = calls.size();
  while (outstanding > 0) {
    void* tag = nullptr;
    bool ok = false;
    if (!cq.Next(&tag, &ok)) break;
    auto* call = static_cast<BatonCall*>(tag);
    const Clock::time_point now = Clock::now();
    const bool in_window = now >= window.start && now < window.end;
    if (!ok || !call->status.ok()) {
      ++result->errors;
      if (result->errors <= 3) {
        std::fprintf(stderr, "rls_bench: baton: %s\n", call->status.error_message().c_str());
      }
    } else if (in_window) {
      ++result->decisions;
      if (call->response.overall_code() == RateLimitResponse::OVER_LIMIT) ++result->over_limit;
      result->latencies_ns.push_back(Nanos(now - call->start));
    }
    if (now >= window.end) {
      --outstanding;
      continue;
    }
    issue(call);
  }
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
}

// --- Redis: envoyproxy/ratelimit's fixed window ------------------------------

void RunRedisConnection(const Options& options, const Window& window, int index,
                        ThreadResult* result) {
  timeval timeout{5, 0};
  redisContext* c = redisConnectWithTimeout(options.redis_host.c_str(), options.redis_port, timeout);
  if (c == nullptr || c->err) {
    result->fatal = c ? c->errstr : "cannot allocate a redis context";
    if (c) redisFree(c);
    return;
  }
  redisSetTimeout(c, timeout);
  std::mt19937_64 rng(static_cast<std::uint64_t>(index + 1) * 0x9E3779B97F4A7C15ull);
  result->latencies_ns.reserve(1 << 16);
  const std::string expire = std::to_string(options.unit_seconds);
  const std::string prefix = options.domain + "_" + options.key + "_";

  // Replies come in the order requests were queued: a FIFO of start times.
  std::vector<Clock::time_point> fifo(static_cast<std::size_t>(options.inflight) + 1);
  std::size_t head = 0, tail = 0, outstanding = 0;
  std::string key;
  auto issue = [&]() {
    // ratelimit's cache key: <prefix><domain>_<key>_<value>_<window start>.
    const auto now_s = static_cast<long>(std::time(nullptr));
    key = prefix;
    key += UserValue(&rng, options.users);
    key += '_';
    key += std::to_string(now_s / options.unit_seconds * options.unit_seconds);
    fifo[tail] = Clock::now();
    tail = (tail + 1) % fifo.size();
    ++outstanding;
    // hits_addend 0 is one hit (utils.Max(1, request.HitsAddend)).
    redisAppendCommand(c, "INCRBY %b 1", key.data(), key.size());
    redisAppendCommand(c, "EXPIRE %b %s", key.data(), key.size(), expire.c_str());
  };
  for (int i = 0; i < options.inflight; ++i) issue();
  while (outstanding > 0) {
    redisReply* incr = nullptr;
    redisReply* exp = nullptr;
    if (redisGetReply(c, reinterpret_cast<void**>(&incr)) != REDIS_OK ||
        redisGetReply(c, reinterpret_cast<void**>(&exp)) != REDIS_OK) {
      result->fatal = c->errstr[0] ? c->errstr : "connection lost";
      if (incr) freeReplyObject(incr);
      redisFree(c);
      return;
    }
    const Clock::time_point now = Clock::now();
    const Clock::time_point start = fifo[head];
    head = (head + 1) % fifo.size();
    --outstanding;
    const bool error = incr->type != REDIS_REPLY_INTEGER || exp->type != REDIS_REPLY_INTEGER;
    if (error) {
      ++result->errors;
      if (result->errors <= 3) {
        std::fprintf(stderr, "rls_bench: redis: %s\n",
                     incr->type == REDIS_REPLY_ERROR ? incr->str : "unexpected reply");
      }
    } else if (now >= window.start && now < window.end) {
      ++result->decisions;
      // ratelimit's test: limitAfterIncrease > requests_per_unit.
      if (static_cast<std::uint64_t>(incr->integer) > options.requests_per_unit) {
        ++result->over_limit;
      }
      result->latencies_ns.push_back(Nanos(now - start));
    }
    freeReplyObject(incr);
    freeReplyObject(exp);
    if (now < window.end) issue();
  }
  redisFree(c);
}

// --- one row -------------------------------------------------------------------

template <typename RunConnection>
Row Measure(const Options& options, long server_pid, RunConnection run_connection) {
  Window window;
  const Clock::time_point begin = Clock::now();
  window.start = begin + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double>(options.warmup));
  window.end = window.start + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(options.seconds));
  std::vector<ThreadResult> results(static_cast<std::size_t>(options.conns));
  std::vector<std::thread> threads;
  for (int i = 0; i < options.conns; ++i) {
    threads.emplace_back([&, i] { run_connection(options, window, i, &results[i]); });
  }
  std::this_thread::sleep_until(window.start);
  const double cpu_start = ProcessCpuSeconds(server_pid);
  std::this_thread::sleep_until(window.end);
  const double cpu_end = ProcessCpuSeconds(server_pid);
  for (auto& t : threads) t.join();

  Row row;
  std::vector<std::uint64_t> latencies;
  bool fatal = false;
  for (auto& r : results) {
    if (!r.fatal.empty()) {
      std::fprintf(stderr, "rls_bench: %s\n", r.fatal.c_str());
      fatal = true;
    }
    row.decisions += r.decisions;
    row.over_limit += r.over_limit;
    row.errors += r.errors;
    latencies.insert(latencies.end(), r.latencies_ns.begin(), r.latencies_ns.end());
  }
  std::sort(latencies.begin(), latencies.end());
  row.decisions_per_s = static_cast<double>(row.decisions) / options.seconds;
  row.p50_us = PercentileMicros(latencies, 0.50);
  row.p99_us = PercentileMicros(latencies, 0.99);
  if (cpu_start >= 0 && cpu_end >= 0 && row.decisions > 0) {
    row.cpu_us_per_decision = (cpu_end - cpu_start) * 1e6 / static_cast<double>(row.decisions);
  }
  row.ok = !fatal && row.decisions > 0 && row.errors == 0;
  return row;
}

std::string Thousands(double v) {
  std::string digits = std::to_string(static_cast<long long>(v + 0.5));
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

void PrintRow(const Options& options, const Row& row) {
  char cpu[32] = "n/a";
  if (row.cpu_us_per_decision >= 0) std::snprintf(cpu, sizeof cpu, "%.2f", row.cpu_us_per_decision);
  std::printf("| %s | %s | %dx%d | %s | %.1f | %.1f | %s | %" PRIu64 " | %" PRIu64 " |\n",
              row.target.c_str(), row.how.c_str(), options.conns, options.inflight,
              Thousands(row.decisions_per_s).c_str(), row.p50_us, row.p99_us, cpu, row.over_limit,
              row.errors);
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  bool header = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage(("missing value for " + arg).c_str());
      return argv[++i];
    };
    try {
      if (arg == "--baton") options.baton = value();
      else if (arg == "--baton_pid") options.baton_pid = std::stol(value());
      else if (arg == "--redis_host") options.redis_host = value();
      else if (arg == "--redis_port") options.redis_port = std::stoi(value());
      else if (arg == "--redis_pid") options.redis_pid = std::stol(value());
      else if (arg == "--baton_label") options.baton_label = value();
      else if (arg == "--redis_label") options.redis_label = value();
      else if (arg == "--conns") options.conns = std::stoi(value());
      else if (arg == "--inflight") options.inflight = std::stoi(value());
      else if (arg == "--seconds") options.seconds = std::stod(value());
      else if (arg == "--warmup") options.warmup = std::stod(value());
      else if (arg == "--users") options.users = std::stoi(value());
      else if (arg == "--domain") options.domain = value();
      else if (arg == "--key") options.key = value();
      else if (arg == "--requests_per_unit") options.requests_per_unit = std::stoull(value());
      else if (arg == "--unit_seconds") options.unit_seconds = std::stol(value());
      else if (arg == "--header") header = true;
      else Usage(("unknown argument " + arg).c_str());
    } catch (const std::logic_error&) {
      Usage(("malformed value for " + arg).c_str());
    }
  }
  if (options.conns < 1 || options.inflight < 1 || options.users < 1 || options.seconds <= 0 ||
      options.seconds > 600 || options.warmup < 0 || options.unit_seconds < 1) {
    Usage("out-of-range value");
  }
  if (options.baton.empty() && options.redis_port == 0) Usage("give --baton, --redis_port or both");

  if (header) {
    std::printf(
        "| target | how | conns x in flight | decisions/s | p50 µs | p99 µs | server CPU µs/decision "
        "| over limit | errors |\n"
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  }
  int status = 0;
  Row baton;
  if (!options.baton.empty()) {
    baton = Measure(options, options.baton_pid, RunBatonConnection);
    baton.target = options.baton_label;
    baton.how = "ShouldRateLimit (gRPC, token bucket)";
    PrintRow(options, baton);
    if (!baton.ok) status = 1;
  }
  // Two ways ratelimit's Redis client can carry the same concurrency:
  // K requests' pipelines in flight on each of N connections (radix's
  // implicit pipelining, REDIS_PIPELINE_WINDOW set, batches concurrent
  // requests on a connection), and its default (no implicit pipelining:
  // each request's INCRBY+EXPIRE pipeline holds a pooled connection for its
  // round trip), N x K connections with one request each.
  struct RedisRun {
    Options options;
    Row row;
  };
  std::vector<RedisRun> redis_runs;
  if (options.redis_port != 0) {
    redis_runs.push_back({options, {}});
    if (options.inflight > 1) {
      Options per_connection = options;
      per_connection.conns = options.conns * options.inflight;
      per_connection.inflight = 1;
      redis_runs.push_back({per_connection, {}});
    }
  }
  for (RedisRun& run : redis_runs) {
    run.row = Measure(run.options, options.redis_pid, RunRedisConnection);
    run.row.target = options.redis_label;
    run.row.how = run.options.inflight > 1
                      ? "INCRBY+EXPIRE, K requests pipelined per connection"
                      : "INCRBY+EXPIRE, one request per connection (ratelimit's default pool)";
    PrintRow(run.options, run.row);
    if (!run.row.ok) status = 1;
  }
  std::vector<std::string> verdicts;
  for (const RedisRun& run : redis_runs) {
    const Row& redis = run.row;
    if (!baton.ok || !redis.ok) continue;
    char cpu[32] = "n/a";
    if (baton.cpu_us_per_decision > 0 && redis.cpu_us_per_decision > 0) {
      std::snprintf(cpu, sizeof cpu, "%.2fx", baton.cpu_us_per_decision / redis.cpu_us_per_decision);
    }
    std::printf("| ratio Baton/Redis %dx%d | target: decisions/s ≥ 3x, p99 ≤ 1x, CPU ≤ 1x | %dx%d vs %dx%d | %.2fx | %.2fx | %.2fx | %s |  |  |\n",
                run.options.conns, run.options.inflight, options.conns, options.inflight,
                run.options.conns, run.options.inflight, baton.decisions_per_s / redis.decisions_per_s,
                baton.p50_us / redis.p50_us, baton.p99_us / redis.p99_us, cpu);
    const bool throughput = baton.decisions_per_s >= 3 * redis.decisions_per_s;
    const bool p99 = baton.p99_us <= redis.p99_us;
    const bool cpu_ok = baton.cpu_us_per_decision >= 0 && redis.cpu_us_per_decision > 0 &&
                        baton.cpu_us_per_decision <= redis.cpu_us_per_decision;
    char line[256];
    std::snprintf(line, sizeof line, "against Redis %dx%d: %s (decisions/s %s, p99 %s, CPU %s)",
                  run.options.conns, run.options.inflight,
                  throughput && p99 && cpu_ok ? "met" : "NOT met", throughput ? "yes" : "no",
                  p99 ? "yes" : "no", cpu_ok ? "yes" : "no");
    verdicts.push_back(line);
  }
  if (!verdicts.empty()) {
    std::printf("\nTarget (Baton >= 3x Redis's decisions/s at equal or lower p99, server CPU per "
                "decision <= Redis's):\n");
    for (const std::string& v : verdicts) std::printf("- %s\n", v.c_str());
  }
  return status;
}

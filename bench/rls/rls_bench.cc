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
//   model  (--model) ShouldRateLimit on rls_ratelimit_model
//          (ratelimit_model.cc): that service's whole path, gRPC then the
//          Redis pipeline on a pool of connections, what batond replaces;
//          its CPU is its own process's plus Redis's (--model_pids).
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
#include <atomic>
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

#include "baton/v1/admin.grpc.pb.h"
#include "bench/common/measure.h"
#include "echo.grpc.pb.h"
#include "envoy/service/ratelimit/v3/rls.grpc.pb.h"

namespace {

using ::baton::bench::PercentileMicros;
using ::baton::bench::ProcessCpuSeconds;
using ::envoy::service::ratelimit::v3::RateLimitRequest;
using ::envoy::service::ratelimit::v3::RateLimitResponse;
using ::envoy::service::ratelimit::v3::RateLimitService;

using Clock = std::chrono::steady_clock;

struct Options {
  std::string baton; // HOST:PORT; empty: no Baton row
  long baton_pid = 0;
  std::string redis_host = "127.0.0.1";
  int redis_port = 0; // 0: no Redis row
  long redis_pid = 0;
  std::string redis_label = "redis";
  std::string baton_label = "batond";
  int conns = 4;
  int inflight = 16;
  double seconds = 5;
  double warmup = 1;
  int users = 10000;
  // baton_echo_server addresses and pids (--api=callback and --api=cq):
  // the gRPC unary floor rows; empty: none.
  std::string echo_cb;
  long echo_cb_pid = 0;
  std::string echo_cq;
  long echo_cq_pid = 0;
  bool admin = false;    // the Admin.TryAcquire row on batond
  bool also_1x1 = false; // every gRPC and Redis row again at 1x1
  // The over-limit row: ShouldRateLimit in --over_domain (a rule of
  // --over_requests_per_unit per --over_unit_seconds, key --key) over
  // --over_users users, checked against the token bucket's figure.
  std::string over_domain;
  int over_users = 10;
  std::uint64_t over_requests_per_unit = 100;
  long over_unit_seconds = 1;
  // rls_ratelimit_model (bench/rls/ratelimit_model.cc): envoyproxy/ratelimit's
  // whole path, gRPC and Redis; its CPU is its process's and Redis's.
  std::string model;
  std::vector<long> model_pids;
  std::string model_label = "ratelimit model";
  std::string only; // run just this row: baton, echo_cb, echo_cq, admin, model,
                    // redis, over
  std::string grpc_target; // the gRPC row being measured (set per row)
  std::string domain = "bench";
  std::string key = "user";
  // The rule's, for Redis's over-limit test and EXPIRE (run_rls.sh writes
  // the same into batond's rules file).
  std::uint64_t requests_per_unit = 1000000000;
  long unit_seconds = 60;
};

[[noreturn]] void Usage(const char *why) {
  std::fprintf(
      stderr,
      "rls_bench: %s\n"
      "usage: rls_bench [--baton HOST:PORT --baton_pid PID] [--redis_port P "
      "--redis_pid PID]\n"
      "  [--conns N] [--inflight K] [--seconds S] [--warmup S] [--users N]\n"
      "  [--domain D] [--key K] [--requests_per_unit N] [--unit_seconds S]\n"
      "  [--baton_label L] [--redis_label L] [--header]\n"
      "  [--echo_cb HOST:PORT --echo_cb_pid PID] [--echo_cq HOST:PORT "
      "--echo_cq_pid PID]\n"
      "  [--model HOST:PORT --model_pids PID,PID [--model_label L]]\n"
      "  [--admin] [--also_1x1] [--only "
      "baton|echo_cb|echo_cq|admin|model|redis|over]\n"
      "  [--over_domain D --over_users N --over_requests_per_unit N "
      "--over_unit_seconds S]\n",
      why);
  std::exit(2);
}

struct Window {
  Clock::time_point start; // end of warm-up
  Clock::time_point end;   // no new requests after it
};

struct ThreadResult {
  std::vector<std::uint64_t> latencies_ns; // decisions completed in the window
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

std::string UserValue(std::mt19937_64 *rng, int users) {
  std::uniform_int_distribution<int> pick(0, users - 1);
  std::string value = "u"; // not "u" + ...: GCC 12's false -Wrestrict
  value += std::to_string(pick(*rng));
  return value;
}

std::vector<std::string> SplitCommas(const std::string &text) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = text.find(',', start);
    parts.push_back(text.substr(start, comma - start));
    if (comma == std::string::npos)
      return parts;
    start = comma + 1;
  }
}

std::uint64_t Nanos(Clock::duration d) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

// --- gRPC unary calls on a completion queue ---------------------------------

// What each gRPC row calls: Calls::Prepare() starts one call on the stub,
// Calls::Next() sets the request's varying part, Calls::Over() reads the
// decision.
struct ShouldRateLimitCalls {
  using Stub = RateLimitService::Stub;
  using Request = RateLimitRequest;
  using Response = RateLimitResponse;
  static std::unique_ptr<Stub>
  NewStub(const std::shared_ptr<grpc::Channel> &channel) {
    return RateLimitService::NewStub(channel);
  }
  static void Init(const Options &options, Request *request) {
    request->set_domain(options.domain);
    request->add_descriptors()->add_entries()->set_key(options.key);
  }
  static void Next(const Options &options, std::mt19937_64 *rng,
                   Request *request) {
    request->mutable_descriptors(0)->mutable_entries(0)->set_value(
        UserValue(rng, options.users));
  }
  static auto Prepare(Stub *stub, grpc::ClientContext *context,
                      const Request &request, grpc::CompletionQueue *cq) {
    return stub->PrepareAsyncShouldRateLimit(context, request, cq);
  }
  static bool Over(const Response &response) {
    return response.overall_code() == RateLimitResponse::OVER_LIMIT;
  }
};

// baton.bench.Echo/TryAcquire on baton_echo_server: answered allowed at
// once, no work: the unary call's own cost, on the callback API
// (--api=callback, as batond serves ShouldRateLimit) or on the completion
// queues (--api=cq).
struct EchoCalls {
  using Stub = ::baton::bench::Echo::Stub;
  using Request = ::baton::v1::TryAcquireRequest;
  using Response = ::baton::v1::TryAcquireResponse;
  static std::unique_ptr<Stub>
  NewStub(const std::shared_ptr<grpc::Channel> &channel) {
    return ::baton::bench::Echo::NewStub(channel);
  }
  static void Init(const Options & /*options*/, Request * /*request*/) {}
  static void Next(const Options &options, std::mt19937_64 *rng,
                   Request *request) {
    // The same name as the Admin row's, so that the messages weigh the same.
    std::string name = "envoy/";
    name += options.domain;
    name += '/';
    name += options.key;
    name += '=';
    name += UserValue(rng, options.users);
    request->set_name(name);
  }
  static auto Prepare(Stub *stub, grpc::ClientContext *context,
                      const Request &request, grpc::CompletionQueue *cq) {
    return stub->PrepareAsyncTryAcquire(context, request, cq);
  }
  static bool Over(const Response &response) { return !response.allowed(); }
};

// baton.v1.Admin/TryAcquire on batond, on the very buckets ShouldRateLimit
// made (envoy/<domain>/<key>=u<i>: same shard, same lookup, same
// RateLimiter): Baton's own cheapest unary decision.
struct AdminCalls : EchoCalls {
  using Stub = ::baton::v1::Admin::Stub;
  static std::unique_ptr<Stub>
  NewStub(const std::shared_ptr<grpc::Channel> &channel) {
    return ::baton::v1::Admin::NewStub(channel);
  }
  static auto Prepare(Stub *stub, grpc::ClientContext *context,
                      const Request &request, grpc::CompletionQueue *cq) {
    return stub->PrepareAsyncTryAcquire(context, request, cq);
  }
};

template <typename Calls> struct UnaryCall {
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientAsyncResponseReader<typename Calls::Response>>
      reader;
  typename Calls::Request request;
  typename Calls::Response response;
  grpc::Status status;
  Clock::time_point start;
};

template <typename Calls>
void RunUnaryConnection(const Options &options, const Window &window, int index,
                        ThreadResult *result) {
  grpc::ChannelArguments arguments;
  // Each connection its own TCP connection, as bench/loadgen does.
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(
      options.grpc_target, grpc::InsecureChannelCredentials(), arguments);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() +
                                 std::chrono::seconds(5))) {
    result->fatal = "cannot connect to " + options.grpc_target;
    return;
  }
  auto stub = Calls::NewStub(channel);
  grpc::CompletionQueue cq;
  std::mt19937_64 rng(static_cast<std::uint64_t>(index + 1) *
                      0x9E3779B97F4A7C15ull);
  std::vector<UnaryCall<Calls>> calls(
      static_cast<std::size_t>(options.inflight));
  result->latencies_ns.reserve(1 << 16);

  auto issue = [&](UnaryCall<Calls> *call) {
    call->context = std::make_unique<grpc::ClientContext>();
    call->context->set_deadline(std::chrono::system_clock::now() +
                                std::chrono::seconds(10));
    call->response.Clear();
    Calls::Next(options, &rng, &call->request);
    call->start = Clock::now();
    call->reader =
        Calls::Prepare(stub.get(), call->context.get(), call->request, &cq);
    call->reader->StartCall();
    call->reader->Finish(&call->response, &call->status, call);
  };
  for (UnaryCall<Calls> &call : calls) {
    Calls::Init(options, &call.request);
    issue(&call);
  }
  std::size_t outstanding = calls.size();
  while (outstanding > 0) {
    void *tag = nullptr;
    bool ok = false;
    if (!cq.Next(&tag, &ok))
      break;
    auto *call = static_cast<UnaryCall<Calls> *>(tag);
    const Clock::time_point now = Clock::now();
    const bool in_window = now >= window.start && now < window.end;
    if (!ok || !call->status.ok()) {
      ++result->errors;
      if (result->errors <= 3) {
        std::fprintf(stderr, "rls_bench: %s: %s\n", options.grpc_target.c_str(),
                     call->status.error_message().c_str());
      }
    } else if (in_window) {
      ++result->decisions;
      if (Calls::Over(call->response))
        ++result->over_limit;
      result->latencies_ns.push_back(Nanos(now - call->start));
    }
    if (now >= window.end) {
      --outstanding;
      continue;
    }
    issue(call);
  }
  cq.Shutdown();
  void *tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
}

// MakeBuckets() asks ShouldRateLimit once for every user, so that every
// bucket the Admin row names exists (Admin.TryAcquire does not create).
bool MakeBuckets(const Options &options) {
  auto stub = RateLimitService::NewStub(
      grpc::CreateChannel(options.baton, grpc::InsecureChannelCredentials()));
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      RateLimitRequest request;
      ShouldRateLimitCalls::Init(options, &request);
      for (int user = t; user < options.users; user += kThreads) {
        std::string value = "u"; // not "u" + ...: GCC 12's false -Wrestrict
        value += std::to_string(user);
        request.mutable_descriptors(0)->mutable_entries(0)->set_value(value);
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::seconds(10));
        RateLimitResponse response;
        if (!stub->ShouldRateLimit(&context, request, &response).ok())
          ++failures;
      }
    });
  }
  for (std::thread &thread : threads)
    thread.join();
  return failures == 0;
}

// --- Redis: envoyproxy/ratelimit's fixed window ------------------------------

void RunRedisConnection(const Options &options, const Window &window, int index,
                        ThreadResult *result) {
  timeval timeout{5, 0};
  redisContext *c = redisConnectWithTimeout(options.redis_host.c_str(),
                                            options.redis_port, timeout);
  if (c == nullptr || c->err) {
    result->fatal = c ? c->errstr : "cannot allocate a redis context";
    if (c)
      redisFree(c);
    return;
  }
  redisSetTimeout(c, timeout);
  std::mt19937_64 rng(static_cast<std::uint64_t>(index + 1) *
                      0x9E3779B97F4A7C15ull);
  result->latencies_ns.reserve(1 << 16);
  const std::string expire = std::to_string(options.unit_seconds);
  const std::string prefix = options.domain + "_" + options.key + "_";

  // Replies come in the order requests were queued: a FIFO of start times.
  std::vector<Clock::time_point> fifo(
      static_cast<std::size_t>(options.inflight) + 1);
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
    redisAppendCommand(c, "EXPIRE %b %s", key.data(), key.size(),
                       expire.c_str());
  };
  for (int i = 0; i < options.inflight; ++i)
    issue();
  while (outstanding > 0) {
    redisReply *incr = nullptr;
    redisReply *exp = nullptr;
    if (redisGetReply(c, reinterpret_cast<void **>(&incr)) != REDIS_OK ||
        redisGetReply(c, reinterpret_cast<void **>(&exp)) != REDIS_OK) {
      result->fatal = c->errstr[0] ? c->errstr : "connection lost";
      if (incr)
        freeReplyObject(incr);
      redisFree(c);
      return;
    }
    const Clock::time_point now = Clock::now();
    const Clock::time_point start = fifo[head];
    head = (head + 1) % fifo.size();
    --outstanding;
    const bool error =
        incr->type != REDIS_REPLY_INTEGER || exp->type != REDIS_REPLY_INTEGER;
    if (error) {
      ++result->errors;
      if (result->errors <= 3) {
        std::fprintf(stderr, "rls_bench: redis: %s\n",
                     incr->type == REDIS_REPLY_ERROR ? incr->str
                                                     : "unexpected reply");
      }
    } else if (now >= window.start && now < window.end) {
      ++result->decisions;
      // ratelimit's test: limitAfterIncrease > requests_per_unit.
      if (static_cast<std::uint64_t>(incr->integer) >
          options.requests_per_unit) {
        ++result->over_limit;
      }
      result->latencies_ns.push_back(Nanos(now - start));
    }
    freeReplyObject(incr);
    freeReplyObject(exp);
    if (now < window.end)
      issue();
  }
  redisFree(c);
}

// --- one row
// -------------------------------------------------------------------

// The CPU seconds of every process of a server (-1 when one cannot be read).
double ServerCpuSeconds(const std::vector<long> &pids) {
  double sum = 0;
  for (long pid : pids) {
    const double seconds = ProcessCpuSeconds(pid);
    if (seconds < 0)
      return -1;
    sum += seconds;
  }
  return pids.empty() ? -1 : sum;
}

template <typename RunConnection>
Row Measure(const Options &options, const std::vector<long> &server_pids,
            RunConnection run_connection) {
  Window window;
  const Clock::time_point begin = Clock::now();
  window.start = begin + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double>(options.warmup));
  window.end =
      window.start + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(options.seconds));
  std::vector<ThreadResult> results(static_cast<std::size_t>(options.conns));
  std::vector<std::thread> threads;
  for (int i = 0; i < options.conns; ++i) {
    threads.emplace_back(
        [&, i] { run_connection(options, window, i, &results[i]); });
  }
  std::this_thread::sleep_until(window.start);
  const double cpu_start = ServerCpuSeconds(server_pids);
  std::this_thread::sleep_until(window.end);
  const double cpu_end = ServerCpuSeconds(server_pids);
  for (auto &t : threads)
    t.join();

  Row row;
  std::vector<std::uint64_t> latencies;
  bool fatal = false;
  for (auto &r : results) {
    if (!r.fatal.empty()) {
      std::fprintf(stderr, "rls_bench: %s\n", r.fatal.c_str());
      fatal = true;
    }
    row.decisions += r.decisions;
    row.over_limit += r.over_limit;
    row.errors += r.errors;
    latencies.insert(latencies.end(), r.latencies_ns.begin(),
                     r.latencies_ns.end());
  }
  std::sort(latencies.begin(), latencies.end());
  row.decisions_per_s = static_cast<double>(row.decisions) / options.seconds;
  row.p50_us = PercentileMicros(latencies, 0.50);
  row.p99_us = PercentileMicros(latencies, 0.99);
  if (cpu_start >= 0 && cpu_end >= 0 && row.decisions > 0) {
    row.cpu_us_per_decision =
        (cpu_end - cpu_start) * 1e6 / static_cast<double>(row.decisions);
  }
  row.ok = !fatal && row.decisions > 0 && row.errors == 0;
  return row;
}

std::string Thousands(double v) {
  std::string digits = std::to_string(static_cast<long long>(v + 0.5));
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return out;
}

void PrintRow(const Options &options, const Row &row) {
  char cpu[32] = "n/a";
  if (row.cpu_us_per_decision >= 0)
    std::snprintf(cpu, sizeof cpu, "%.2f", row.cpu_us_per_decision);
  std::printf("| %s | %s | %dx%d | %s | %.1f | %.1f | %s | %" PRIu64
              " | %" PRIu64 " |\n",
              row.target.c_str(), row.how.c_str(), options.conns,
              options.inflight, Thousands(row.decisions_per_s).c_str(),
              row.p50_us, row.p99_us, cpu, row.over_limit, row.errors);
}

} // namespace

int main(int argc, char **argv) {
  Options options;
  bool header = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        Usage(("missing value for " + arg).c_str());
      return argv[++i];
    };
    try {
      if (arg == "--baton")
        options.baton = value();
      else if (arg == "--baton_pid")
        options.baton_pid = std::stol(value());
      else if (arg == "--redis_host")
        options.redis_host = value();
      else if (arg == "--redis_port")
        options.redis_port = std::stoi(value());
      else if (arg == "--redis_pid")
        options.redis_pid = std::stol(value());
      else if (arg == "--baton_label")
        options.baton_label = value();
      else if (arg == "--redis_label")
        options.redis_label = value();
      else if (arg == "--conns")
        options.conns = std::stoi(value());
      else if (arg == "--inflight")
        options.inflight = std::stoi(value());
      else if (arg == "--seconds")
        options.seconds = std::stod(value());
      else if (arg == "--warmup")
        options.warmup = std::stod(value());
      else if (arg == "--users")
        options.users = std::stoi(value());
      else if (arg == "--domain")
        options.domain = value();
      else if (arg == "--key")
        options.key = value();
      else if (arg == "--requests_per_unit")
        options.requests_per_unit = std::stoull(value());
      else if (arg == "--unit_seconds")
        options.unit_seconds = std::stol(value());
      else if (arg == "--header")
        header = true;
      else if (arg == "--echo_cb")
        options.echo_cb = value();
      else if (arg == "--echo_cb_pid")
        options.echo_cb_pid = std::stol(value());
      else if (arg == "--echo_cq")
        options.echo_cq = value();
      else if (arg == "--echo_cq_pid")
        options.echo_cq_pid = std::stol(value());
      else if (arg == "--admin")
        options.admin = true;
      else if (arg == "--also_1x1")
        options.also_1x1 = true;
      else if (arg == "--only")
        options.only = value();
      else if (arg == "--model")
        options.model = value();
      else if (arg == "--model_label")
        options.model_label = value();
      else if (arg == "--model_pids") {
        for (const std::string &pid : SplitCommas(value()))
          options.model_pids.push_back(std::stol(pid));
      } else if (arg == "--over_domain")
        options.over_domain = value();
      else if (arg == "--over_users")
        options.over_users = std::stoi(value());
      else if (arg == "--over_requests_per_unit")
        options.over_requests_per_unit = std::stoull(value());
      else if (arg == "--over_unit_seconds")
        options.over_unit_seconds = std::stol(value());
      else
        Usage(("unknown argument " + arg).c_str());
    } catch (const std::logic_error &) {
      Usage(("malformed value for " + arg).c_str());
    }
  }
  if (options.conns < 1 || options.inflight < 1 || options.users < 1 ||
      options.seconds <= 0 || options.seconds > 600 || options.warmup < 0 ||
      options.unit_seconds < 1) {
    Usage("out-of-range value");
  }
  if (options.over_users < 1 || options.over_unit_seconds < 1)
    Usage("out-of-range value");
  if (!options.model.empty() && options.model_pids.empty())
    Usage("--model needs --model_pids");
  if (options.baton.empty() && options.redis_port == 0 &&
      options.echo_cb.empty() && options.echo_cq.empty()) {
    Usage("give --baton, --redis_port, --echo_cb or --echo_cq");
  }

  if (header) {
    std::printf(
        "| target | how | conns x in flight | decisions/s | p50 µs | p99 µs | "
        "server CPU µs/decision "
        "| over limit | errors |\n"
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  }
  const auto wanted = [&](const char *row) {
    return options.only.empty() || options.only == row;
  };
  int status = 0;
  // One gRPC row: `calls` against `target` at `shape`'s concurrency.
  const auto grpc_row = [&](auto calls, const Options &shape,
                            const std::string &target, std::vector<long> pids,
                            const std::string &label, const std::string &how) {
    Options row_options = shape;
    row_options.grpc_target = target;
    Row row = Measure(row_options, pids, RunUnaryConnection<decltype(calls)>);
    row.target = label;
    row.how = how;
    PrintRow(row_options, row);
    if (!row.ok)
      status = 1;
    return row;
  };
  Options one = options;
  one.conns = 1;
  one.inflight = 1;
  std::vector<Options> shapes = {options};
  if (options.also_1x1 && (options.conns != 1 || options.inflight != 1))
    shapes.push_back(one);

  struct Result {
    Options shape;
    Row baton, admin, echo_cb, echo_cq, model;
    std::vector<std::pair<Options, Row>> redis;
  };
  std::vector<Result> results;
  bool buckets_made = false;
  for (const Options &shape : shapes) {
    Result r;
    r.shape = shape;
    if (!options.baton.empty() && wanted("baton")) {
      r.baton = grpc_row(ShouldRateLimitCalls{}, shape, options.baton,
                         {options.baton_pid}, options.baton_label,
                         "ShouldRateLimit (gRPC, token bucket)");
    }
    if (!options.echo_cb.empty() && wanted("echo_cb")) {
      r.echo_cb = grpc_row(EchoCalls{}, shape, options.echo_cb,
                           {options.echo_cb_pid}, "echo server (callback API)",
                           "empty unary TryAcquire: the gRPC floor");
    }
    if (!options.echo_cq.empty() && wanted("echo_cq")) {
      r.echo_cq = grpc_row(EchoCalls{}, shape, options.echo_cq,
                           {options.echo_cq_pid}, "echo server (CQ API)",
                           "empty unary TryAcquire: the gRPC floor");
    }
    if (!options.baton.empty() && options.admin && wanted("admin")) {
      if (!buckets_made && !MakeBuckets(options)) {
        std::fprintf(stderr,
                     "rls_bench: could not make the Admin row's buckets\n");
        status = 1;
      }
      buckets_made = true;
      r.admin = grpc_row(AdminCalls{}, shape, options.baton,
                         {options.baton_pid}, options.baton_label,
                         "Admin.TryAcquire unary, the same buckets");
    }
    if (!options.model.empty() && wanted("model")) {
      r.model = grpc_row(
          ShouldRateLimitCalls{}, shape, options.model, options.model_pids,
          options.model_label,
          "ShouldRateLimit: gRPC, then INCRBY+EXPIRE on a pool of Redis "
          "connections (envoyproxy/ratelimit's path)");
    }
    // Two ways ratelimit's Redis client can carry the same concurrency:
    // K requests' pipelines in flight on each of N connections (radix's
    // implicit pipelining, REDIS_PIPELINE_WINDOW set, batches concurrent
    // requests on a connection), and its default (no implicit pipelining:
    // each request's INCRBY+EXPIRE pipeline holds a pooled connection for
    // its round trip), N x K connections with one request each.
    if (options.redis_port != 0 && wanted("redis")) {
      r.redis.push_back({shape, {}});
      if (shape.inflight > 1) {
        Options per_connection = shape;
        per_connection.conns = shape.conns * shape.inflight;
        per_connection.inflight = 1;
        r.redis.push_back({per_connection, {}});
      }
    }
    for (auto &[redis_options, row] : r.redis) {
      row = Measure(redis_options, {options.redis_pid}, RunRedisConnection);
      row.target = options.redis_label;
      row.how = redis_options.inflight > 1
                    ? "INCRBY+EXPIRE, K requests pipelined per connection"
                    : "INCRBY+EXPIRE, one request per connection (ratelimit's "
                      "default pool)";
      PrintRow(redis_options, row);
      if (!row.ok)
        status = 1;
    }
    results.push_back(std::move(r));
  }

  // The over-limit row: every user's bucket is drained in the warm-up, so
  // in the window each grants its refill, users x rate x seconds, give or
  // take the calls in flight at the window's edges and the tokens refilled
  // but not yet whole; never more than that plus one capacity per user (a
  // token bucket's bound over any span).
  std::string over_check;
  if (!options.baton.empty() && !options.over_domain.empty() &&
      wanted("over")) {
    Options over = options;
    over.domain = options.over_domain;
    over.users = options.over_users;
    const Row row =
        grpc_row(ShouldRateLimitCalls{}, over, options.baton,
                 {options.baton_pid}, options.baton_label,
                 "ShouldRateLimit, over limit: " +
                     std::to_string(options.over_requests_per_unit) + " per " +
                     std::to_string(options.over_unit_seconds) + " s, " +
                     std::to_string(options.over_users) + " users");
    const double rate = static_cast<double>(options.over_requests_per_unit) /
                        static_cast<double>(options.over_unit_seconds);
    const double expected = options.over_users * rate * options.seconds;
    const double in_flight =
        static_cast<double>(options.conns) * options.inflight;
    const double low = expected - options.over_users - in_flight;
    const double high =
        expected +
        options.over_users *
            static_cast<double>(options.over_requests_per_unit) +
        in_flight;
    const double ok_count = static_cast<double>(row.decisions - row.over_limit);
    const bool right = ok_count >= low && ok_count <= high;
    char line[400];
    std::snprintf(
        line, sizeof line,
        "Over-limit check: %" PRIu64 " decisions, %.0f OK and %" PRIu64
        " OVER_LIMIT; the token bucket grants %.0f in %.1f s (%d users x "
        "%.4g/s), "
        "accepted [%.0f, %.0f]: %s",
        row.decisions, ok_count, row.over_limit, expected, options.seconds,
        options.over_users, rate, low, high, right ? "right" : "WRONG");
    over_check = line;
    if (!right || !row.ok)
      status = 1;
  }

  // Ratios, per shape.
  const auto ratio = [](const Row &a, const Row &b, const std::string &what,
                        const std::string &shapes_text) {
    char cpu[32] = "n/a";
    if (a.cpu_us_per_decision > 0 && b.cpu_us_per_decision > 0) {
      std::snprintf(cpu, sizeof cpu, "%.2fx",
                    a.cpu_us_per_decision / b.cpu_us_per_decision);
    }
    std::printf("| ratio %s | decisions/s, p50, p99, CPU | %s | %.2fx | %.2fx "
                "| %.2fx | %s |  |  |\n",
                what.c_str(), shapes_text.c_str(),
                a.decisions_per_s / b.decisions_per_s, a.p50_us / b.p50_us,
                a.p99_us / b.p99_us, cpu);
  };
  const auto shape_text = [](const Options &o) {
    return std::to_string(o.conns) + "x" + std::to_string(o.inflight);
  };
  std::vector<std::string> verdicts;
  for (const Result &r : results) {
    const std::string s = shape_text(r.shape);
    if (!r.baton.ok)
      continue;
    // The floor: the faster of the two echo servers.
    const Row *floor = nullptr;
    if (r.echo_cb.ok)
      floor = &r.echo_cb;
    if (r.echo_cq.ok && (floor == nullptr ||
                         r.echo_cq.decisions_per_s > floor->decisions_per_s)) {
      floor = &r.echo_cq;
    }
    if (floor != nullptr)
      ratio(r.baton, *floor, "Baton/floor (" + floor->target + ")",
            s + " vs " + s);
    if (r.admin.ok)
      ratio(r.baton, r.admin, "Baton/Admin.TryAcquire", s + " vs " + s);
    if (r.model.ok) {
      ratio(r.baton, r.model, "Baton/" + r.model.target, s + " vs " + s);
      const bool throughput =
          r.baton.decisions_per_s >= 3 * r.model.decisions_per_s;
      const bool p99 = r.baton.p99_us <= r.model.p99_us;
      const bool cpu_ok =
          r.baton.cpu_us_per_decision >= 0 && r.model.cpu_us_per_decision > 0 &&
          r.baton.cpu_us_per_decision <= r.model.cpu_us_per_decision;
      char line[256];
      std::snprintf(line, sizeof line,
                    "Baton %s against %s %s (gRPC + Redis): %s (decisions/s "
                    "%.2fx, p99 %s, CPU %s)",
                    s.c_str(), r.model.target.c_str(), s.c_str(),
                    throughput && p99 && cpu_ok ? "met" : "NOT met",
                    r.baton.decisions_per_s / r.model.decisions_per_s,
                    p99 ? "yes" : "no", cpu_ok ? "yes" : "no");
      verdicts.push_back(line);
    }
    for (const auto &[redis_options, redis] : r.redis) {
      if (!redis.ok)
        continue;
      const std::string rs = shape_text(redis_options);
      ratio(r.baton, redis, "Baton/Redis " + rs, s + " vs " + rs);
      const bool throughput =
          r.baton.decisions_per_s >= 3 * redis.decisions_per_s;
      const bool p99 = r.baton.p99_us <= redis.p99_us;
      const bool cpu_ok =
          r.baton.cpu_us_per_decision >= 0 && redis.cpu_us_per_decision > 0 &&
          r.baton.cpu_us_per_decision <= redis.cpu_us_per_decision;
      char line[256];
      std::snprintf(
          line, sizeof line,
          "Baton %s against Redis %s: %s (decisions/s %s, p99 %s, CPU %s)",
          s.c_str(), rs.c_str(),
          throughput && p99 && cpu_ok ? "met" : "NOT met",
          throughput ? "yes" : "no", p99 ? "yes" : "no", cpu_ok ? "yes" : "no");
      verdicts.push_back(line);
    }
  }
  if (!over_check.empty())
    std::printf("\n%s\n", over_check.c_str());
  if (!verdicts.empty()) {
    std::printf("\nThe target (Baton >= 3x the peer's decisions/s at equal or "
                "lower p99, "
                "server CPU per decision <= the peer's), against Redis alone "
                "and against the "
                "whole ratelimit path:\n");
    for (const std::string &v : verdicts)
      std::printf("- %s\n", v.c_str());
  }
  return status;
}

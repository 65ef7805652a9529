// Copyright 2026 The Baton Authors.
//
// redis_bench: what Baton's rate limits and locks cost when a user builds them
// on Redis instead, measured like bench/loadgen measures Baton and printed as
// one row of the same Markdown table:
//
//   | scenario | target | sessions | in flight | ops/s | p50 µs | p99 µs | p99.9 µs | server CPU s
//   per 1M ops |
//
// Scenarios:
//   rate_stream  a token bucket in Lua (SCRIPT LOAD once, EVALSHA per call):
//                refill continuously at --rate tokens/s up to --capacity, take
//                one token if there is one, answer {allowed, retry_after_us}.
//                Keys uniform over --keys keys, or one hot key (--hot).
//                One op = one EVALSHA; a refusal (no token) counts as an op.
//                The default rate (1e9/s, as bench/loadgen declares Baton's) is
//                never reached: every call takes the grant path.
//   lock         the standard uncontended Redis lock: SET key token NX PX 10000,
//                then a compare-and-delete Lua script (EVALSHA). Each in-flight
//                slot has a key of its own. As in bench/loadgen, the acquire
//                and the release are an op each (one command each).
//
// --sessions N connections, each on its own thread, each with --inflight K
// commands outstanding (hiredis pipelining; K=1 is the plain request/reply
// client). Every slot is a closed loop: it queues its next command as soon as
// its reply is read. An op's latency runs from its command being queued in
// the client to its reply being read. After --warmup seconds, ops that complete in the next
// --seconds are counted and their latencies kept; the server's CPU time (utime
// + stime of --server_pid from /proc/PID/stat) is read at both ends of that
// window and scaled to seconds per million ops.
//
// Example:
//   redis_bench --port 6400 --scenario rate_stream --hot --sessions 4
//     --inflight 16 --seconds 10 --server_pid 1234 --target "redis 7.0.15"
//
// Threading: each connection is owned by one thread; the main thread only
// starts them, reads the clock and the server's CPU, and merges the results
// after joining them.
#include <hiredis.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/common/measure.h"

namespace {

using ::baton::bench::PercentileMicros;
using ::baton::bench::ProcessCpuSeconds;

using Clock = std::chrono::steady_clock;

constexpr char kRateScript[] = R"lua(
-- KEYS[1]: the bucket. ARGV[1]: refill rate, tokens per second.
-- ARGV[2]: capacity. Returns {allowed (0 or 1), retry_after_us}.
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
local elapsed = now - ts
if elapsed < 0 then elapsed = 0 end
tokens = math.min(capacity, tokens + elapsed * rate / 1000000)
local allowed = 0
local retry_after_us = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry_after_us = math.ceil((1 - tokens) * 1000000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens),
           'ts', string.format('%d', now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return {allowed, retry_after_us}
)lua";

constexpr char kUnlockScript[] = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
)lua";

struct Options {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string scenario = "rate_stream";
  std::string target = "redis";
  int sessions = 4;
  int inflight = 16;
  double seconds = 10;
  double warmup = 1;
  int keys = 1024;
  bool hot = false;
  // As bench/loadgen declares Baton's: a rate never reached, so every call
  // takes the grant path.
  double rate = 1e9;
  double capacity = 1000;
  long server_pid = 0;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "redis_bench: %s\n"
               "usage: redis_bench [--host H] [--port P] [--scenario rate_stream|lock]\n"
               "  [--sessions N] [--inflight K] [--seconds S] [--warmup S] [--keys N]\n"
               "  [--hot] [--rate TOKENS_PER_S] [--capacity C] [--server_pid PID]\n"
               "  [--target LABEL] [--header]\n",
               why);
  std::exit(2);
}

// The measured window, shared by every connection thread.
struct Window {
  Clock::time_point start;  // end of warm-up
  Clock::time_point end;    // end of measurement: no new commands after it
};

struct ConnectionResult {
  std::vector<uint64_t> latencies_ns;  // ops completed inside the window
  uint64_t ops = 0;
  uint64_t allowed = 0;  // rate_stream: answers that granted a token
  uint64_t errors = 0;
  std::string fatal;  // set when the connection could not run at all
};

// One in-flight slot of a connection: a closed loop of commands.
struct Slot {
  Clock::time_point command_start;  // when the outstanding command was queued
  std::string key;
  std::string token;
  bool in_release = false;  // lock: the SET succeeded and the delete is out
};

class Connection {
 public:
  Connection(const Options& options, const Window& window, int index, const std::string& rate_sha,
             const std::string& unlock_sha)
      : options_(options),
        window_(window),
        index_(index),
        rate_sha_(rate_sha),
        unlock_sha_(unlock_sha),
        rng_(static_cast<uint64_t>(index) * 0x9E3779B97F4A7C15ull + 1) {}

  ~Connection() {
    if (context_ != nullptr) redisFree(context_);
  }

  // Connects, then drives the slots until the window ends, then drains.
  void Run(ConnectionResult* result) {
    result_ = result;
    timeval connect_timeout{5, 0};
    context_ = redisConnectWithTimeout(options_.host.c_str(), options_.port, connect_timeout);
    if (context_ == nullptr || context_->err) {
      result->fatal = context_ ? context_->errstr : "cannot allocate a redis context";
      return;
    }
    // Every read and write is bounded: a stuck server ends the run.
    timeval io_timeout{5, 0};
    redisSetTimeout(context_, io_timeout);
    result->latencies_ns.reserve(1 << 16);

    // Until the window opens, slots run as warm-up.
    slots_.resize(static_cast<size_t>(options_.inflight));
    for (size_t i = 0; i < slots_.size(); ++i) {
      slots_[i].key = "bench:lock:" + std::to_string(index_) + ":" + std::to_string(i);
    }
    // Replies come back in the order commands were queued: a FIFO of slots.
    std::vector<size_t> order(slots_.size() * 2 + 1);
    size_t head = 0, tail = 0, outstanding = 0;
    auto push = [&](size_t slot) {
      order[tail] = slot;
      tail = (tail + 1) % order.size();
      ++outstanding;
    };
    for (size_t i = 0; i < slots_.size(); ++i) {
      StartOp(&slots_[i], Clock::now());
      push(i);
    }
    while (outstanding > 0) {
      redisReply* reply = nullptr;
      if (redisGetReply(context_, reinterpret_cast<void**>(&reply)) != REDIS_OK) {
        result->fatal = context_->errstr[0] ? context_->errstr : "connection lost";
        return;
      }
      size_t i = order[head];
      head = (head + 1) % order.size();
      --outstanding;
      Clock::time_point now = Clock::now();
      bool next = OnReply(&slots_[i], reply, now);
      freeReplyObject(reply);
      if (next) push(i);
    }
  }

 private:
  // Queues the first command of a new op on this slot.
  void StartOp(Slot* slot, Clock::time_point now) {
    slot->command_start = now;
    if (options_.scenario == "rate_stream") {
      const std::string& key = options_.hot ? kHotKey : UniformKey(&slot->key);
      redisAppendCommand(context_, "EVALSHA %s 1 %s %s %s", rate_sha_.c_str(), key.c_str(),
                         rate_arg_.c_str(), capacity_arg_.c_str());
    } else {
      slot->token = std::to_string(index_) + "-" + std::to_string(++token_counter_);
      slot->in_release = false;
      redisAppendCommand(context_, "SET %s %s NX PX 10000", slot->key.c_str(), slot->token.c_str());
    }
  }

  // Handles one reply for `slot`; returns whether the slot queued a command.
  bool OnReply(Slot* slot, redisReply* reply, Clock::time_point now) {
    bool error = reply == nullptr || reply->type == REDIS_REPLY_ERROR;
    if (error) {
      ++result_->errors;
      if (reply != nullptr && result_->errors <= 3) {
        std::fprintf(stderr, "redis_bench: error reply: %s\n", reply->str);
      }
    } else if (options_.scenario == "lock" && !slot->in_release && reply->type == REDIS_REPLY_NIL) {
      // Someone holds this slot's key: cannot happen uncontended.
      ++result_->errors;
      error = true;
    }
    bool in_window = now >= window_.start && now < window_.end;
    if (!error && in_window) {
      ++result_->ops;
      result_->latencies_ns.push_back(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - slot->command_start).count()));
      if (options_.scenario == "rate_stream" && reply->type == REDIS_REPLY_ARRAY &&
          reply->elements == 2 && reply->element[0]->integer == 1) {
        ++result_->allowed;
      }
    }
    if (options_.scenario == "lock" && !error && !slot->in_release) {
      // Acquired: the release goes out even after the window, so that no
      // key is left held.
      slot->in_release = true;
      slot->command_start = now;
      redisAppendCommand(context_, "EVALSHA %s 1 %s %s", unlock_sha_.c_str(), slot->key.c_str(),
                         slot->token.c_str());
      return true;
    }
    if (now >= window_.end) return false;
    StartOp(slot, now);
    return true;
  }

  const std::string& UniformKey(std::string* buffer) {
    std::uniform_int_distribution<int> pick(0, options_.keys - 1);
    *buffer = "bench:rate:" + std::to_string(pick(rng_));
    return *buffer;
  }

  static inline const std::string kHotKey = "bench:rate:hot";

  const Options& options_;
  const Window& window_;
  const int index_;
  const std::string& rate_sha_;
  const std::string& unlock_sha_;
  const std::string rate_arg_ = std::to_string(options_.rate);
  const std::string capacity_arg_ = std::to_string(options_.capacity);
  std::mt19937_64 rng_;
  redisContext* context_ = nullptr;
  ConnectionResult* result_ = nullptr;
  std::vector<Slot> slots_;
  uint64_t token_counter_ = 0;
};

// Loads a script with SCRIPT LOAD and returns its SHA1, or "" on failure.
std::string LoadScript(const Options& options, const char* script) {
  timeval timeout{5, 0};
  redisContext* c = redisConnectWithTimeout(options.host.c_str(), options.port, timeout);
  if (c == nullptr || c->err) {
    std::fprintf(stderr, "redis_bench: cannot connect to %s:%d: %s\n", options.host.c_str(),
                 options.port, c ? c->errstr : "out of memory");
    if (c) redisFree(c);
    return "";
  }
  redisSetTimeout(c, timeout);
  std::string sha;
  auto* reply = static_cast<redisReply*>(redisCommand(c, "SCRIPT LOAD %s", script));
  if (reply != nullptr && reply->type == REDIS_REPLY_STRING) {
    sha.assign(reply->str, reply->len);
  } else {
    std::fprintf(stderr, "redis_bench: SCRIPT LOAD failed: %s\n", reply ? reply->str : c->errstr);
  }
  if (reply) freeReplyObject(reply);
  redisFree(c);
  return sha;
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
    if (arg == "--host")
      options.host = value();
    else if (arg == "--port")
      options.port = std::stoi(value());
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
    else if (arg == "--keys")
      options.keys = std::stoi(value());
    else if (arg == "--hot")
      options.hot = true;
    else if (arg == "--rate")
      options.rate = std::stod(value());
    else if (arg == "--capacity")
      options.capacity = std::stod(value());
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
  if (options.scenario != "rate_stream" && options.scenario != "lock") {
    Usage("--scenario is rate_stream or lock");
  }
  if (options.sessions < 1 || options.inflight < 1 || options.keys < 1 || options.seconds <= 0 ||
      options.seconds > 600 || options.warmup < 0 || options.rate <= 0 || options.capacity < 1) {
    Usage("out-of-range value");
  }

  std::string rate_sha = LoadScript(options, kRateScript);
  std::string unlock_sha = LoadScript(options, kUnlockScript);
  if (rate_sha.empty() || unlock_sha.empty()) return 1;

  Window window;
  Clock::time_point begin = Clock::now();
  window.start = begin + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double>(options.warmup));
  window.end = window.start + std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(options.seconds));

  std::vector<ConnectionResult> results(static_cast<size_t>(options.sessions));
  std::vector<std::thread> threads;
  threads.reserve(results.size());
  for (int i = 0; i < options.sessions; ++i) {
    threads.emplace_back([&, i] {
      Connection connection(options, window, i, rate_sha, unlock_sha);
      connection.Run(&results[static_cast<size_t>(i)]);
    });
  }
  std::this_thread::sleep_until(window.start);
  double cpu_start = ProcessCpuSeconds(options.server_pid);
  double self_cpu_start = ProcessCpuSeconds(getpid());
  std::this_thread::sleep_until(window.end);
  double cpu_end = ProcessCpuSeconds(options.server_pid);
  double self_cpu_end = ProcessCpuSeconds(getpid());
  for (auto& t : threads) t.join();

  std::vector<uint64_t> latencies;
  uint64_t ops = 0, allowed = 0, errors = 0;
  int failed = 0;
  for (auto& r : results) {
    ops += r.ops;
    allowed += r.allowed;
    errors += r.errors;
    if (!r.fatal.empty()) {
      if (++failed <= 3)
        std::fprintf(stderr, "redis_bench: connection failed: %s\n", r.fatal.c_str());
    }
    latencies.insert(latencies.end(), r.latencies_ns.begin(), r.latencies_ns.end());
  }
  std::sort(latencies.begin(), latencies.end());

  std::string scenario = options.scenario;
  if (options.scenario == "rate_stream" && options.hot) scenario += " (hot key)";
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
  std::printf("| %s | %s | %d | %d | %.0f | %.1f | %.1f | %.1f | %s |\n", scenario.c_str(),
              options.target.c_str(), options.sessions, options.inflight,
              static_cast<double>(ops) / options.seconds, PercentileMicros(latencies, 0.50),
              PercentileMicros(latencies, 0.99), PercentileMicros(latencies, 0.999), cpu.c_str());
  std::fflush(stdout);
  std::fprintf(stderr,
               "redis_bench: %s on %s: %" PRIu64 " ops, %" PRIu64 " refused, %" PRIu64
               " errors; redis_bench CPU %.2f s per 1M ops\n",
               scenario.c_str(), options.target.c_str(), ops,
               options.scenario == "rate_stream" ? ops - allowed : 0, errors,
               ops > 0 ? (self_cpu_end - self_cpu_start) * 1e6 / static_cast<double>(ops) : 0.0);
  return (failed > 0 || errors > 0 || ops == 0) ? 1 : 0;
}

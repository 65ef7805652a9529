// Copyright 2026 The Baton Authors.
//
// rls_ratelimit_model: envoyproxy/ratelimit's data path, for bench/rls. A
// deployment of envoyproxy/ratelimit answers Envoy's ShouldRateLimit on
// gRPC and decides it on Redis; the Redis rows of rls_bench measure only the
// second half. This server is both halves, as that service does them, so
// that batond (which replaces both) is compared with the whole path:
//
//   - envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit on gRPC
//     (C++, the callback API, as batond serves it: the gRPC floor is the
//     same for both, and C++ gRPC is the faster of the two stacks);
//   - per request, for every descriptor whose first entry's key is
//     --key (the rule: --requests_per_unit per --unit_seconds), its
//     fixed-window cache key <domain>_<key>_<value>_<window start>, and one
//     pipeline of `INCRBY key hits` + `EXPIRE key unit` per descriptor, in
//     one round trip (src/redis/fixed_cache_impl.go);
//   - on a pool of --pool Redis connections (ratelimit's REDIS_POOL_SIZE,
//     default 10; no implicit pipelining, its default): a request holds one
//     connection for its round trip, on the gRPC thread that received it,
//     as a goroutine holds a pooled radix connection and blocks on it.
//   - the answer: OVER_LIMIT when a count after the increment is above the
//     limit, each status with current_limit, limit_remaining and
//     duration_until_reset (the rest of the window).
//
// What it leaves out makes it cheaper than the real service, never dearer:
// no rule matching (one rule), no stats, no local cache, no near-limit
// accounting, and C++ where ratelimit is Go.
//
//   rls_ratelimit_model --listen=127.0.0.1:0 --redis_port=6379
//   -> stderr: "ratelimit_model: listening on 127.0.0.1:PORT (pool 10)"
//
// Threading: gRPC's threads run ShouldRateLimit, each taking a connection
// from the pool (a mutex) for the call. It runs until SIGTERM or SIGINT.

#include <hiredis.h>
#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "envoy/service/ratelimit/v3/rls.grpc.pb.h"
#include "grpcpp/grpcpp.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0",
          "address to listen on; port 0 picks a free one");
ABSL_FLAG(std::string, redis_host, "127.0.0.1", "Redis host");
ABSL_FLAG(int, redis_port, 6379, "Redis port");
ABSL_FLAG(int, pool, 10,
          "Redis connections (envoyproxy/ratelimit's REDIS_POOL_SIZE)");
ABSL_FLAG(std::string, key, "user", "the rule's descriptor key");
ABSL_FLAG(uint64_t, requests_per_unit, 1000000000,
          "the rule's limit per window");
ABSL_FLAG(int64_t, unit_seconds, 60, "the rule's window, seconds");

namespace baton::bench {
namespace {

using ::envoy::service::ratelimit::v3::RateLimitRequest;
using ::envoy::service::ratelimit::v3::RateLimitResponse;
using ::envoy::service::ratelimit::v3::RateLimitService;

// The pooled Redis connections: a call takes one for its round trip.
class Pool {
public:
  explicit Pool(int size) {
    const std::string host = absl::GetFlag(FLAGS_redis_host);
    const timeval timeout{5, 0};
    for (int i = 0; i < size; ++i) {
      redisContext *redis = redisConnectWithTimeout(
          host.c_str(), absl::GetFlag(FLAGS_redis_port), timeout);
      if (redis == nullptr || redis->err) {
        std::fprintf(stderr, "ratelimit_model: connection %d to Redis: %s\n", i,
                     redis ? redis->errstr : "cannot allocate");
        std::exit(1);
      }
      free_.push_back(redis);
    }
  }
  redisContext *Take() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &Pool::HasFree));
    redisContext *redis = free_.back();
    free_.pop_back();
    return redis;
  }
  void Give(redisContext *redis) {
    absl::MutexLock lock(&mu_);
    free_.push_back(redis);
  }

private:
  bool HasFree() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !free_.empty();
  }

  absl::Mutex mu_;
  std::vector<redisContext *> free_ ABSL_GUARDED_BY(mu_);
};

// Decides `request` on `redis` as the fixed-window cache does; false when
// Redis answered an error.
bool Decide(const RateLimitRequest &request, redisContext *redis,
            RateLimitResponse *response) {
  static const std::string rule_key = absl::GetFlag(FLAGS_key);
  static const std::uint64_t limit = absl::GetFlag(FLAGS_requests_per_unit);
  static const std::int64_t unit = absl::GetFlag(FLAGS_unit_seconds);
  static const std::string expire = std::to_string(unit);
  thread_local std::string key;
  thread_local std::vector<int> limited; // the descriptors the rule matched
  const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
  const std::int64_t window = now / unit * unit;
  const std::uint32_t hits =
      request.hits_addend() == 0 ? 1 : request.hits_addend();
  limited.clear();
  for (int i = 0; i < request.descriptors_size(); ++i) {
    const auto &descriptor = request.descriptors(i);
    if (descriptor.entries_size() == 0 ||
        descriptor.entries(0).key() != rule_key)
      continue;
    key = request.domain();
    for (const auto &entry : descriptor.entries()) {
      key += '_';
      key += entry.key();
      key += '_';
      key += entry.value();
    }
    key += '_';
    key += std::to_string(window);
    redisAppendCommand(redis, "INCRBY %b %u", key.data(), key.size(), hits);
    redisAppendCommand(redis, "EXPIRE %b %s", key.data(), key.size(),
                       expire.c_str());
    limited.push_back(i);
  }
  response->set_overall_code(RateLimitResponse::OK);
  bool ok = true;
  std::size_t next = 0;
  for (int i = 0; i < request.descriptors_size(); ++i) {
    auto *status = response->add_statuses();
    if (next >= limited.size() || limited[next] != i) {
      status->set_code(RateLimitResponse::OK); // no rule: not limited
      continue;
    }
    ++next;
    redisReply *incr = nullptr;
    redisReply *exp = nullptr;
    if (redisGetReply(redis, reinterpret_cast<void **>(&incr)) != REDIS_OK ||
        redisGetReply(redis, reinterpret_cast<void **>(&exp)) != REDIS_OK) {
      std::fprintf(stderr, "ratelimit_model: Redis: %s\n", redis->errstr);
      std::exit(1);
    }
    if (incr->type != REDIS_REPLY_INTEGER) {
      ok = false;
    } else {
      const auto after = static_cast<std::uint64_t>(incr->integer);
      const bool over = after > limit;
      status->set_code(over ? RateLimitResponse::OVER_LIMIT
                            : RateLimitResponse::OK);
      if (over)
        response->set_overall_code(RateLimitResponse::OVER_LIMIT);
      status->mutable_current_limit()->set_requests_per_unit(
          static_cast<std::uint32_t>(
              std::min<std::uint64_t>(limit, UINT32_MAX)));
      status->set_limit_remaining(static_cast<std::uint32_t>(
          std::min<std::uint64_t>(over ? 0 : limit - after, UINT32_MAX)));
      status->mutable_duration_until_reset()->set_seconds(window + unit - now);
    }
    freeReplyObject(incr);
    freeReplyObject(exp);
  }
  return ok;
}

// Each call is decided on the gRPC thread that received it, which blocks for
// its Redis round trip, as a Go handler's goroutine does (no hand-off to
// another thread, which would add two wake-ups per call).
class ModelService final : public RateLimitService::CallbackService {
public:
  explicit ModelService(Pool *pool) : pool_(pool) {}

  grpc::ServerUnaryReactor *
  ShouldRateLimit(grpc::CallbackServerContext *context,
                  const RateLimitRequest *request,
                  RateLimitResponse *response) override {
    redisContext *redis = pool_->Take();
    const bool ok = Decide(*request, redis, response);
    pool_->Give(redis);
    grpc::ServerUnaryReactor *reactor = context->DefaultReactor();
    reactor->Finish(ok ? grpc::Status::OK
                       : grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                      "redis answered an error"));
    return reactor;
  }

private:
  Pool *pool_;
};

} // namespace
} // namespace baton::bench

int main(int argc, char **argv) {
  absl::ParseCommandLine(argc, argv);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const int pool = absl::GetFlag(FLAGS_pool);
  if (pool < 1 || pool > 1024) {
    std::fprintf(
        stderr, "ratelimit_model: --pool must be in [1, 1024], got %d\n", pool);
    return 2;
  }
  baton::bench::Pool connections(pool);
  baton::bench::ModelService service(&connections);

  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::GetFlag(FLAGS_listen),
                           grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "ratelimit_model: cannot listen on %s\n",
                 absl::GetFlag(FLAGS_listen).c_str());
    return 1;
  }
  std::string address = absl::GetFlag(FLAGS_listen);
  address = address.substr(0, address.rfind(':')) + ":" + std::to_string(port);
  std::fprintf(stderr, "ratelimit_model: listening on %s (pool %d)\n",
               address.c_str(), pool);
  int signal = 0;
  sigwait(&signals, &signal);
  server->Shutdown(std::chrono::system_clock::now());
  return 0;
}

// Copyright 2026 The Baton Authors.
//
// RlsService serves envoy.service.ratelimit.v3.RateLimitService/
// ShouldRateLimit (Envoy's global rate-limit filter) on batond's own
// AdvancedRateLimit buckets, as a drop-in for envoyproxy/ratelimit: same
// protos, same YAML rules (rls_config.h), same answers, except that each
// limit is a token bucket instead of a fixed window.
//
// A request, step by step:
//   1. On the gRPC thread: check it (domain, descriptors, entries, limit
//      overrides: INVALID_ARGUMENT naming the field and the limit), and find
//      each descriptor's limit in the rules in force (RlsRules). Unknown
//      domain, no matching rule, or `unlimited`: OK without a bucket.
//   2. Each limited descriptor is the bucket BucketName(): rate =
//      requests_per_unit / unit, capacity = requests_per_unit (one unit's
//      worth), declared on first use, and made to follow the rule
//      (RateLimiter::Reconfigure) when it has other parameters (a changed
//      rule after a reload, or someone who declared it by hand).
//   3. Every bucket of a domain lives on one shard (Node::ShardKeyOf), so
//      one turn of that shard decides the whole request: every bucket is
//      checked for hits_addend tokens (0 means 1) first, and they are all
//      charged only if every non-shadow one fits. A request over any limit
//      charges nothing. A shadow_mode descriptor answers OK whatever its
//      bucket says, and is charged (when it fits) if the request is allowed.
//   4. The answer: overall_code, one status per descriptor (current_limit,
//      limit_remaining = floor of the tokens left, duration_until_reset =
//      time until the bucket is full again), and x-ratelimit-limit,
//      x-ratelimit-remaining, x-ratelimit-reset (whole seconds, rounded up)
//      of the descriptor closest to its limit (an over-limit one first), as
//      envoyproxy/ratelimit picks it.
//
// In a cluster (set_cluster()), a domain is decided by its owner (every
// bucket of a domain has the placement key "envoy/<domain>/"): a node that
// receives a request for a domain another node owns checks it (step 1's
// INVALID_ARGUMENT) and forwards it whole to the owner (once: a forwarded
// request is decided by the node that receives it, whatever it thinks),
// with the caller's deadline and `authorization`, and relays the owner's
// answer or error. An owner that cannot be reached is UNAVAILABLE naming
// it (Envoy's failure_mode_deny decides what the request gets).
//
// Threading: gRPC calls ShouldRateLimit on its threads; the decision runs on
// the domain's shard, which finishes the call (a forwarded request: the
// gRPC thread that receives the owner's answer). RlsRules is shared by
// every RlsService (one per listening port) and swapped under a mutex by
// Reload.

#ifndef BATON_SERVER_RLS_RLS_SERVICE_H_
#define BATON_SERVER_RLS_RLS_SERVICE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "envoy/service/ratelimit/v3/rls.grpc.pb.h"
#include "server/auth/access.h"
#include "server/cluster/cluster_view.h"
#include "server/cluster/peer_channels.h"
#include "server/rls/rls_config.h"
#include "server/service/node.h"

namespace baton::rls {

// Limits on a request (INVALID_ARGUMENT beyond, naming the field).
inline constexpr int kMaxDescriptors = 64;
inline constexpr int kMaxEntries = 32;
inline constexpr std::size_t kMaxDomainBytes = 128;  // once encoded

// BucketName() is the instance name of a descriptor's bucket:
//
//   envoy/<domain>/<key>=<value>/<key>=<value>...
//
// one segment per entry of the descriptor, in the request's order, with the
// request's values (a default or wildcard rule gives each value its own
// bucket, as envoyproxy/ratelimit's cache keys do). A request's limit
// override adds a last segment "!limit=<N>-per-<unit>" (its own bucket, so
// that requests with and without it do not retune each other). Bytes other
// than ASCII letters, digits and - _ . ~ : @ + , ; are written %XX
// (uppercase hex), so names are printable ASCII and satisfy
// core::ValidateName(); "=" and "/" inside keys and values are escaped too,
// and a domain "." or ".." is written %2E.
// A name that would exceed 256 bytes becomes envoy/<domain>/!hash=<16 hex
// digits> (FNV-1a 64 of the long name). INVALID_ARGUMENT when the encoded
// domain exceeds kMaxDomainBytes.
absl::StatusOr<std::string> BucketName(std::string_view domain,
                                       absl::Span<const RlsEntry> entries,
                                       const RlsLimit* override_limit);

// RlsRules holds the rules in force and reloads them from --rls_config.
// Thread-safe.
class RlsRules {
 public:
  // `path`: the --rls_config file or directory; empty: no rules (every
  // request is OK).
  explicit RlsRules(std::string path) : path_(std::move(path)) {}

  // Load() reads the rules from the path. On success they replace those in
  // force; on error nothing changes and the error (file, line, field) is
  // returned for the caller to log.
  absl::Status Load();

  // Changed() is true when the files differ (names, sizes, times) from
  // those of the last Load(), successful or not.
  bool Changed() const;

  std::shared_ptr<const RlsConfig> Get() const {
    absl::MutexLock lock(&mutex_);
    return config_;
  }
  const std::string& path() const { return path_; }

 private:
  const std::string path_;
  mutable absl::Mutex mutex_;
  std::shared_ptr<const RlsConfig> config_ ABSL_GUARDED_BY(mutex_) =
      std::make_shared<const RlsConfig>();
  std::string fingerprint_ ABSL_GUARDED_BY(mutex_);
};

// RlsOptions are the settings envoyproxy/ratelimit takes from its
// environment, as batond flags (--rls_shadow_mode, --rls_response_headers,
// --rls_header_*).
struct RlsOptions {
  // SHADOW_MODE: every request is answered OK; the statuses and the
  // counters still say what was over the limit (and over-limit requests
  // still charge nothing), and ratelimit_service_global_shadow_mode counts
  // the answers it turned to OK.
  bool global_shadow_mode = false;
  // LIMIT_RESPONSE_HEADERS_ENABLED, LIMIT_LIMIT_HEADER,
  // LIMIT_REMAINING_HEADER, LIMIT_RESET_HEADER. On by default here, with
  // the x-ratelimit-* names (ratelimit: off, RateLimit-* names).
  bool response_headers = true;
  std::string limit_header = "x-ratelimit-limit";
  std::string remaining_header = "x-ratelimit-remaining";
  std::string reset_header = "x-ratelimit-reset";
};

class RlsService final : public envoy::service::ratelimit::v3::RateLimitService::CallbackService {
 public:
  // `access`: --auth_file (nullptr: everything allowed). A caller needs
  // the `use` role on the namespace "envoy" (where the buckets live); Envoy
  // sends its token with the grpc_service's initial_metadata.
  //
  // The service installs its own message allocator for ShouldRateLimit:
  // each call's request and response live on a protobuf Arena, with the
  // call's working state (the plan, the bucket names), in a Call object
  // taken from a pool and given back when gRPC releases the call's
  // messages, so a request allocates nothing once the pool is warm. The
  // service must outlive the grpc::Server it is registered with (as gRPC
  // requires of an allocator).
  RlsService(service::Node* node, const RlsRules* rules, auth::Access* access = nullptr,
             RlsOptions options = {});
  ~RlsService() override;

  grpc::ServerUnaryReactor* ShouldRateLimit(
      grpc::CallbackServerContext* context,
      const envoy::service::ratelimit::v3::RateLimitRequest* request,
      envoy::service::ratelimit::v3::RateLimitResponse* response) override;

  // set_cluster() makes this a cluster member's service: a request for a
  // domain `view` gives to another node is forwarded to it through `peers`.
  // Before the server starts; both outlive the service.
  void set_cluster(const cluster::ClusterView* view, cluster::PeerChannels* peers) {
    cluster_ = view;
    peers_ = peers;
  }

  // The pooled per-call state and its allocator (rls_service.cc).
  class Call;
  class CallPool;

 private:
  using Stub = envoy::service::ratelimit::v3::RateLimitService::Stub;

  // Forward() sends the request to `owner` and finishes the call with its
  // answer.
  grpc::ServerUnaryReactor* Forward(grpc::CallbackServerContext* context,
                                    const envoy::service::ratelimit::v3::RateLimitRequest* request,
                                    envoy::service::ratelimit::v3::RateLimitResponse* response,
                                    const cluster::Member& owner);
  std::shared_ptr<Stub> StubFor(const std::string& address);

  service::Node* const node_;
  const RlsRules* const rules_;
  auth::Access* const access_;
  const RlsOptions options_;
  const std::unique_ptr<CallPool> calls_;
  const cluster::ClusterView* cluster_ = nullptr;
  cluster::PeerChannels* peers_ = nullptr;
  absl::Mutex stubs_mutex_;
  absl::flat_hash_map<std::string, std::shared_ptr<Stub>> stubs_ ABSL_GUARDED_BY(stubs_mutex_);
};

}  // namespace baton::rls

#endif  // BATON_SERVER_RLS_RLS_SERVICE_H_

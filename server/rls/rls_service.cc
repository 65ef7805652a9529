// Copyright 2026 The Baton Authors.

#include "server/rls/rls_service.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "server/auth/grpc_credentials.h"
#include "server/core/instance_name.h"
#include "server/core/rate_limiter.h"
#include "server/core/registry.h"
#include "server/log/log.h"
#include "server/metrics/counters.h"
#include "server/runtime/event_loop.h"
#include "server/service/session_service.h"
#include "server/service/status_convert.h"

namespace baton::rls {

namespace {

using envoy::service::ratelimit::v3::RateLimitRequest;
using envoy::service::ratelimit::v3::RateLimitResponse;

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

bool Safe(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '-': case '_': case '.': case '~': case ':': case '@': case '+': case ',': case ';':
      return true;
    default:
      return false;
  }
}

// Encode() appends `text` with every byte outside Safe() written %XX.
void Encode(std::string_view text, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (Safe(c)) {
      out->push_back(ch);
    } else {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xF]);
    }
  }
}

std::uint64_t Fnv1a64(std::string_view text) {
  std::uint64_t hash = 14695981039346656037ull;
  for (const char ch : text) {
    hash ^= static_cast<unsigned char>(ch);
    hash *= 1099511628211ull;
  }
  return hash;
}

// What one descriptor of a request needs.
struct Check {
  enum class Kind {
    kNone,       // no rule (or an unknown domain, or a replaced limit): OK
    kUnlimited,  // an unlimited rule: OK, no bucket
    kRefuseAll,  // requests_per_unit 0: over limit, no bucket
    kBucket,     // a token bucket decides
  };
  Kind kind = Kind::kNone;
  RlsLimit limit;
  int bucket = -1;  // index in Plan::buckets
  // Where the descriptor is counted (kRefuseAll and kBucket only): its
  // domain and key path, as envoyproxy/ratelimit's stats name it.
  metrics::RlsCounts* counts = nullptr;
};

// One bucket of a request (descriptors with the same name share one).
struct Bucket {
  std::string name;
  int descriptor = 0;  // the first descriptor that uses it, for errors
  double rate = 0;
  double capacity = 0;
  double need = 0;  // hits times the descriptors that use it
  bool shadow_mode = true;  // every descriptor that uses it is in shadow mode
  bool fits = false;
  double tokens = 0;  // after the decision
  absl::Duration to_full;
};

struct Plan {
  std::vector<Check> checks;
  std::vector<Bucket> buckets;
  std::uint32_t hits = 1;
};

// Near-limit ratio, envoyproxy/ratelimit's NEAR_LIMIT_RATIO default: a
// descriptor within its limit is near it past 80% of the limit used.
constexpr double kNearLimitRatio = 0.8;

// Count() adds one descriptor's decision to its counts: total_hits,
// over_limit (shadow mode or not), shadow_mode (over, in shadow mode),
// within_limit, and near_limit (within, past kNearLimitRatio of the limit
// used), each by the request's hits, as envoyproxy/ratelimit counts them.
void Count(const Check& check, bool over, double used, std::uint32_t hits) {
  metrics::RlsCounts* counts = check.counts;
  if (counts == nullptr) return;
  counts->total_hits.fetch_add(hits, std::memory_order_relaxed);
  if (over) {
    counts->over_limit.fetch_add(hits, std::memory_order_relaxed);
    if (check.limit.shadow_mode) counts->shadow_mode.fetch_add(hits, std::memory_order_relaxed);
    return;
  }
  counts->within_limit.fetch_add(hits, std::memory_order_relaxed);
  if (used > kNearLimitRatio * check.limit.requests_per_unit) {
    counts->near_limit.fetch_add(hits, std::memory_order_relaxed);
  }
}

bool Close(double a, double b) { return std::fabs(a - b) <= 1e-9 * std::max(a, b); }

std::uint32_t Remaining(double tokens) {
  const double floor = std::floor(tokens + 1e-9);
  if (!(floor > 0)) return 0;
  if (floor >= std::numeric_limits<std::uint32_t>::max()) {
    return std::numeric_limits<std::uint32_t>::max();
  }
  return static_cast<std::uint32_t>(floor);
}

void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  const std::int64_t nanos = absl::ToInt64Nanoseconds(d);
  out->set_seconds(nanos / 1'000'000'000);
  out->set_nanos(static_cast<std::int32_t>(nanos % 1'000'000'000));
}

void SetLimit(const RlsLimit& limit, RateLimitResponse::DescriptorStatus* status) {
  auto* current = status->mutable_current_limit();
  current->set_requests_per_unit(limit.requests_per_unit);
  current->set_unit(static_cast<RateLimitResponse::RateLimit::Unit>(limit.unit));
  current->set_name(limit.name);
}

// Decide() runs on the domain's shard: declares or retunes the buckets,
// checks them all, charges them all or none, and fills `response`.
// `registry` (the shard's) may be null when the plan has no bucket.
absl::Status Decide(core::Registry* registry, Plan& plan, const RlsOptions& options,
                    RateLimitResponse* response) {
  std::vector<core::RateLimiter*> limiters(plan.buckets.size(), nullptr);
  for (std::size_t i = 0; i < plan.buckets.size(); ++i) {
    Bucket& bucket = plan.buckets[i];
    core::Instance* instance = registry->Find(bucket.name);
    if (instance == nullptr) {
      core::InstanceConfig config;
      config.kind = core::Kind::kAdvancedRateLimit;
      config.rate_limit = {.rate = bucket.rate, .capacity = bucket.capacity, .fair = true};
      absl::StatusOr<core::Instance*> declared = registry->Declare(bucket.name, config);
      if (!declared.ok()) {
        return absl::Status(declared.status().code(),
                            absl::StrCat("descriptors[", bucket.descriptor, "]: bucket '",
                                         bucket.name, "': ", declared.status().message()));
      }
      instance = *declared;
      // Made again from its rule when needed: evicted once idle and full,
      // so that a bucket per client address does not stay forever.
      instance->EvictWhenFull();
    } else {
      registry->Touch(instance);
    }
    core::RateLimiter* limiter = instance->As<core::RateLimiter>();
    if (limiter == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          "descriptors[", bucket.descriptor, "]: name '", bucket.name, "' is a ",
          Absl(core::KindName(instance->kind())), ", not an AdvancedRateLimit"));
    }
    if (!Close(limiter->rate(), bucket.rate) || !Close(limiter->capacity(), bucket.capacity)) {
      // A changed rule, or an instance declared by hand: it follows the rule.
      const double old_rate = limiter->rate();
      const double old_capacity = limiter->capacity();
      if (absl::Status s = limiter->Reconfigure(bucket.rate, bucket.capacity); s.ok()) {
        log::Info("rls bucket follows its rule",
                  {{"name", bucket.name},
                   {"from", absl::StrCat("rate=", old_rate, " capacity=", old_capacity)},
                   {"to", absl::StrCat("rate=", bucket.rate, " capacity=", bucket.capacity)}});
      } else {
        log::Warn("rls bucket cannot follow its rule",
                  {{"name", bucket.name}, {"status", s}});
      }
    }
    limiters[i] = limiter;
    bucket.fits = limiter->CanTakeNow(bucket.need);
  }
  bool over = false;
  for (const Bucket& bucket : plan.buckets) over |= !bucket.fits && !bucket.shadow_mode;
  for (const Check& check : plan.checks) {
    over |= check.kind == Check::Kind::kRefuseAll && !check.limit.shadow_mode;
  }
  for (std::size_t i = 0; i < plan.buckets.size(); ++i) {
    Bucket& bucket = plan.buckets[i];
    if (!over && bucket.fits) {
      if (absl::Status s = limiters[i]->TakeNow(bucket.need); !s.ok()) {
        log::Error("rls bucket refused a checked charge", {{"name", bucket.name}, {"status", s}});
      }
    }
    bucket.tokens = limiters[i]->tokens();
    bucket.to_full = limiters[i]->TimeToFull();
  }

  // The statuses, and the descriptor closest to its limit for the headers
  // (envoyproxy/ratelimit: the smallest remaining among those with a limit;
  // an over-limit one wins).
  const RateLimitResponse::DescriptorStatus* closest = nullptr;
  std::uint32_t closest_remaining = std::numeric_limits<std::uint32_t>::max();
  const RateLimitResponse::DescriptorStatus* closest_for_reset = nullptr;
  absl::Duration closest_reset;
  bool any_over = false;
  for (std::size_t i = 0; i < plan.checks.size(); ++i) {
    const Check& check = plan.checks[i];
    RateLimitResponse::DescriptorStatus* status = response->add_statuses();
    status->set_code(RateLimitResponse::OK);
    bool this_over = false;
    absl::Duration reset;
    switch (check.kind) {
      case Check::Kind::kNone:
        continue;
      case Check::Kind::kUnlimited:
        status->set_limit_remaining(std::numeric_limits<std::uint32_t>::max());
        continue;
      case Check::Kind::kRefuseAll:
        SetLimit(check.limit, status);
        reset = UnitDuration(check.limit.unit);
        this_over = true;
        Count(check, true, 0, plan.hits);
        break;
      case Check::Kind::kBucket: {
        const Bucket& bucket = plan.buckets[static_cast<std::size_t>(check.bucket)];
        SetLimit(check.limit, status);
        this_over = !bucket.fits;
        status->set_limit_remaining(this_over ? 0 : Remaining(bucket.tokens));
        reset = bucket.to_full;
        // Used: what the bucket lacks of full, after this request's charge
        // (or what it would have been, when another descriptor refused it).
        double used = bucket.capacity - bucket.tokens;
        if (over && !this_over) used += bucket.need;
        Count(check, this_over, used, plan.hits);
        break;
      }
    }
    SetDuration(reset, status->mutable_duration_until_reset());
    if (this_over && !check.limit.shadow_mode) {
      status->set_code(RateLimitResponse::OVER_LIMIT);
      any_over = true;
    }
    const bool counts_as_over = status->code() == RateLimitResponse::OVER_LIMIT;
    if (counts_as_over || status->limit_remaining() < closest_remaining) {
      closest = status;
      closest_remaining = counts_as_over ? 0 : status->limit_remaining();
      closest_for_reset = status;
      closest_reset = reset;
    }
  }
  if (any_over && options.global_shadow_mode) {
    metrics::Rls().CountGlobalShadowMode();
    any_over = false;
  }
  response->set_overall_code(any_over ? RateLimitResponse::OVER_LIMIT : RateLimitResponse::OK);
  if (options.response_headers && closest != nullptr && closest_for_reset != nullptr) {
    const auto add = [response](std::string_view key, std::string value) {
      auto* header = response->add_response_headers_to_add();
      header->set_key(std::string(key));
      header->set_value(std::move(value));
    };
    add(options.limit_header, absl::StrCat(closest->current_limit().requests_per_unit()));
    add(options.remaining_header, absl::StrCat(closest->limit_remaining()));
    add(options.reset_header,
        absl::StrCat(static_cast<std::int64_t>(std::ceil(absl::ToDoubleSeconds(closest_reset)))));
  }
  return absl::OkStatus();
}

// Validate() checks what the config lookup does not: INVALID_ARGUMENT
// naming the field and its limit.
absl::Status Validate(const RateLimitRequest& request) {
  if (request.domain().empty()) return absl::InvalidArgumentError("domain: must not be empty");
  if (request.descriptors().empty()) {
    return absl::InvalidArgumentError("descriptors: must not be empty");
  }
  if (request.descriptors_size() > kMaxDescriptors) {
    return absl::InvalidArgumentError(absl::StrCat("descriptors: at most ", kMaxDescriptors,
                                                   " per request, got ",
                                                   request.descriptors_size()));
  }
  for (int i = 0; i < request.descriptors_size(); ++i) {
    const auto& descriptor = request.descriptors(i);
    if (descriptor.entries().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("descriptors[", i, "].entries: must not be empty"));
    }
    if (descriptor.entries_size() > kMaxEntries) {
      return absl::InvalidArgumentError(absl::StrCat("descriptors[", i, "].entries: at most ",
                                                     kMaxEntries, ", got ",
                                                     descriptor.entries_size()));
    }
    for (int j = 0; j < descriptor.entries_size(); ++j) {
      if (descriptor.entries(j).key().empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("descriptors[", i, "].entries[", j, "].key: must not be empty"));
      }
    }
    if (descriptor.has_limit()) {
      const int unit = static_cast<int>(descriptor.limit().unit());
      if (unit < static_cast<int>(Unit::kSecond) || unit > static_cast<int>(Unit::kYear)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "descriptors[", i, "].limit.unit: must be SECOND, MINUTE, HOUR, DAY, MONTH or YEAR "
            "(1 to 6), got ", unit));
      }
    }
  }
  return absl::OkStatus();
}

// KeyPath() is a descriptor's keys joined by '_' ("path_user"): its label
// in the metrics (the values would make them unbounded).
std::string KeyPath(const std::vector<RlsEntry>& entries) {
  std::string path;
  for (const RlsEntry& entry : entries) {
    if (!path.empty()) path.push_back('_');
    path.append(entry.key);
  }
  return path;
}

// MakePlan() finds each descriptor's limit and bucket.
absl::StatusOr<Plan> MakePlan(const RateLimitRequest& request, const RlsConfig& config) {
  Plan plan;
  plan.checks.resize(static_cast<std::size_t>(request.descriptors_size()));
  const bool known_domain = config.HasDomain(request.domain());
  std::vector<std::vector<RlsEntry>> entries(plan.checks.size());
  absl::flat_hash_set<std::string> replaced;
  for (int i = 0; i < request.descriptors_size(); ++i) {
    const auto& descriptor = request.descriptors(i);
    Check& check = plan.checks[static_cast<std::size_t>(i)];
    for (const auto& entry : descriptor.entries()) {
      entries[static_cast<std::size_t>(i)].push_back({entry.key(), entry.value()});
    }
    if (!known_domain) continue;
    if (descriptor.has_limit()) {
      // As envoyproxy/ratelimit: the override replaces the rule (never in
      // shadow mode), in a known domain only.
      check.limit.requests_per_unit = descriptor.limit().requests_per_unit();
      check.limit.unit = static_cast<Unit>(descriptor.limit().unit());
      check.kind = Check::Kind::kBucket;
    } else if (const RlsLimit* limit =
                   config.Find(request.domain(), entries[static_cast<std::size_t>(i)]);
               limit != nullptr) {
      check.limit = *limit;
      check.kind = limit->unlimited ? Check::Kind::kUnlimited : Check::Kind::kBucket;
    }
    for (const std::string& name : check.limit.replaces) replaced.insert(name);
  }
  for (Check& check : plan.checks) {
    if (check.kind != Check::Kind::kNone && !check.limit.name.empty() &&
        replaced.contains(check.limit.name)) {
      check.kind = Check::Kind::kNone;
    }
  }
  const std::uint32_t hits = request.hits_addend() == 0 ? 1 : request.hits_addend();
  plan.hits = hits;
  absl::flat_hash_map<std::string, int> bucket_of;
  for (std::size_t i = 0; i < plan.checks.size(); ++i) {
    Check& check = plan.checks[i];
    if (check.kind != Check::Kind::kBucket) continue;
    check.counts = metrics::Rls().For(request.domain(), KeyPath(entries[i]));
    if (check.limit.requests_per_unit == 0) {
      check.kind = Check::Kind::kRefuseAll;
      continue;
    }
    const bool is_override = request.descriptors(static_cast<int>(i)).has_limit();
    absl::StatusOr<std::string> name =
        BucketName(request.domain(), entries[i], is_override ? &check.limit : nullptr);
    if (!name.ok()) return name.status();
    auto [it, inserted] = bucket_of.emplace(*name, static_cast<int>(plan.buckets.size()));
    if (inserted) {
      Bucket bucket;
      bucket.name = std::move(*name);
      bucket.descriptor = static_cast<int>(i);
      bucket.capacity = check.limit.requests_per_unit;
      bucket.rate = check.limit.requests_per_unit / absl::ToDoubleSeconds(UnitDuration(check.limit.unit));
      plan.buckets.push_back(std::move(bucket));
    }
    Bucket& bucket = plan.buckets[static_cast<std::size_t>(it->second)];
    bucket.need += hits;
    bucket.shadow_mode = bucket.shadow_mode && check.limit.shadow_mode;
    check.bucket = it->second;
  }
  return plan;
}

}  // namespace

absl::StatusOr<std::string> BucketName(std::string_view domain,
                                       absl::Span<const RlsEntry> entries,
                                       const RlsLimit* override_limit) {
  if (domain.empty()) return absl::InvalidArgumentError("domain: must not be empty");
  std::string prefix = "envoy/";
  if (domain == "." || domain == "..") {
    for (std::size_t i = 0; i < domain.size(); ++i) prefix += "%2E";  // not a "." segment
  } else {
    Encode(domain, &prefix);
  }
  if (prefix.size() - 6 > kMaxDomainBytes) {
    return absl::InvalidArgumentError(absl::StrCat("domain: at most ", kMaxDomainBytes,
                                                   " bytes once encoded, got ",
                                                   prefix.size() - 6));
  }
  prefix.push_back('/');
  std::string name = prefix;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) name.push_back('/');
    Encode(entries[i].key, &name);
    name.push_back('=');
    Encode(entries[i].value, &name);
  }
  if (override_limit != nullptr) {
    absl::StrAppend(&name, "/!limit=", override_limit->requests_per_unit, "-per-",
                    Absl(UnitName(override_limit->unit)));
  }
  if (name.size() > core::kMaxNameBytes) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx",
                  static_cast<unsigned long long>(Fnv1a64(name)));
    name = absl::StrCat(prefix, "!hash=", hex);
  }
  return name;
}

absl::Status RlsRules::Load() {
  if (path_.empty()) return absl::OkStatus();
  std::string fingerprint = RlsConfig::Fingerprint(path_);
  absl::StatusOr<RlsConfig> loaded = RlsConfig::Load(path_);
  absl::MutexLock lock(&mutex_);
  fingerprint_ = std::move(fingerprint);
  if (!loaded.ok()) return loaded.status();
  config_ = std::make_shared<const RlsConfig>(std::move(*loaded));
  return absl::OkStatus();
}

bool RlsRules::Changed() const {
  if (path_.empty()) return false;
  const std::string fingerprint = RlsConfig::Fingerprint(path_);
  absl::MutexLock lock(&mutex_);
  return fingerprint != fingerprint_;
}

grpc::ServerUnaryReactor* RlsService::ShouldRateLimit(grpc::CallbackServerContext* context,
                                                      const RateLimitRequest* request,
                                                      RateLimitResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (access_ != nullptr && access_->enabled()) {
    auth::Caller caller(access_, auth::CredentialsOf(*context));
    if (absl::Status allowed = caller.AllowNamespace("envoy", auth::Role::kUse); !allowed.ok()) {
      reactor->Finish(service::ToGrpcStatus(allowed));
      return reactor;
    }
  }
  if (absl::Status valid = Validate(*request); !valid.ok()) {
    reactor->Finish(service::ToGrpcStatus(valid));
    return reactor;
  }
  std::shared_ptr<const RlsConfig> config = rules_->Get();
  absl::StatusOr<Plan> plan = MakePlan(*request, *config);
  if (!plan.ok()) {
    reactor->Finish(service::ToGrpcStatus(plan.status()));
    return reactor;
  }
  if (plan->buckets.empty()) {  // nothing to charge: decided here
    reactor->Finish(service::ToGrpcStatus(Decide(nullptr, *plan, options_, response)));
    return reactor;
  }
  const std::string shard_name = plan->buckets.front().name;
  // A shard that sleeps runs the decision here, on this gRPC thread (as
  // the Admin service does).
  service::DeferSessionWrites defer_writes;
  runtime::EventLoop::DeferWakes run_here(runtime::EventLoop::DeferWakes::Owed::kRunHere);
  node_->Run(shard_name, [plan = std::move(*plan), response, reactor, options = &options_](
                             service::Node::Shard& shard) mutable {
    reactor->Finish(service::ToGrpcStatus(Decide(&shard.registry, plan, *options, response)));
  });
  return reactor;
}

}  // namespace baton::rls

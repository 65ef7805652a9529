// Copyright 2026 The Baton Authors.

#include "server/rls/rls_service.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/arena.h"
#include "grpcpp/support/message_allocator.h"
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
// Runs of safe bytes are appended whole.
void Encode(std::string_view text, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::size_t run = 0;  // where the current run of safe bytes starts
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (Safe(c)) continue;
    out->append(text.data() + run, i - run);
    const char escaped[3] = {'%', kHex[c >> 4], kHex[c & 0xF]};
    out->append(escaped, sizeof escaped);
    run = i + 1;
  }
  out->append(text.data() + run, text.size() - run);
}

std::uint64_t Fnv1a64(std::string_view text) {
  std::uint64_t hash = 14695981039346656037ull;
  for (const char ch : text) {
    hash ^= static_cast<unsigned char>(ch);
    hash *= 1099511628211ull;
  }
  return hash;
}

}  // namespace

// The working state of one ShouldRateLimit call. It lives in the call's
// pooled RlsService::Call (or, for a call made without the service's
// allocator, in a Plan of its own), and keeps its vectors' and strings'
// capacity from one call to the next, so a warm call allocates nothing here.
namespace should_rate_limit {

// What one descriptor of a request needs.
struct Check {
  enum class Kind {
    kNone,       // no rule (or an unknown domain, or a replaced limit): OK
    kUnlimited,  // an unlimited rule: OK, no bucket
    kRefuseAll,  // requests_per_unit 0: over limit, no bucket
    kBucket,     // a token bucket decides
  };
  Kind kind = Kind::kNone;
  // The rule's limit (owned by Plan::config), or, when is_override, the
  // request's own (override_limit: only requests_per_unit and unit set).
  const RlsLimit* rule = nullptr;
  bool is_override = false;
  RlsLimit override_limit;
  // The descriptor's entries: Plan::entries[first_entry, +entry_count).
  std::uint32_t first_entry = 0;
  std::uint32_t entry_count = 0;
  int bucket = -1;  // index in Plan::buckets
  // Where the descriptor is counted (kRefuseAll and kBucket only): its
  // domain and key path, as envoyproxy/ratelimit's stats name it.
  metrics::RlsCounts* counts = nullptr;

  const RlsLimit& limit() const { return is_override ? override_limit : *rule; }
  bool limited() const { return kind == Kind::kRefuseAll || kind == Kind::kBucket; }
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
  core::RateLimiter* limiter = nullptr;  // found on the shard
};

struct Plan {
  // Linear search for a request's bucket names up to this many
  // descriptors; a hash map beyond.
  static constexpr std::size_t kLinearBuckets = 8;

  std::vector<Check> checks;  // one per descriptor
  // The first bucket_count are this request's; those after are kept only
  // for their names' capacity.
  std::vector<Bucket> buckets;
  std::size_t bucket_count = 0;
  std::vector<RlsEntry> entries;  // every descriptor's, in order
  std::vector<std::string_view> replaced;  // limit names replaced
  absl::flat_hash_map<std::string_view, int> bucket_of;  // > kLinearBuckets
  std::uint32_t hits = 1;
  // The rules the checks point into, held until the call is released.
  std::shared_ptr<const RlsConfig> config;
  // Where the decision goes, so that the shard's closure carries only the
  // plan (small enough to be stored without an allocation of its own).
  RateLimitResponse* response = nullptr;
  grpc::ServerUnaryReactor* reactor = nullptr;
  const RlsOptions* options = nullptr;

  absl::Span<const RlsEntry> EntriesOf(const Check& check) const {
    return absl::MakeConstSpan(entries).subspan(check.first_entry, check.entry_count);
  }
  // Clear() forgets the request, keeping the capacity.
  void Clear() {
    checks.clear();
    bucket_count = 0;
    entries.clear();
    replaced.clear();
    bucket_of.clear();
    hits = 1;
    config.reset();
    response = nullptr;
    reactor = nullptr;
    options = nullptr;
  }
};

}  // namespace should_rate_limit

// A ShouldRateLimit call's messages, on an Arena whose first block is part
// of the object, and its Plan. Pooled by CallPool; gRPC calls Release()
// once the call is done with the messages.
class RlsService::Call final
    : public grpc::MessageHolder<envoy::service::ratelimit::v3::RateLimitRequest,
                                 envoy::service::ratelimit::v3::RateLimitResponse> {
 public:
  explicit Call(CallPool* pool) : pool_(pool), arena_(block_, sizeof block_) {}

  // Start() empties the arena and makes the call's request and response
  // on it. The arena is reset here, on the gRPC thread that is about to
  // fill it, not in Release(): a protobuf Arena hands its first block to
  // the thread that resets it, and any other thread allocating on it gets
  // a block of its own from the heap.
  void Start() {
    arena_.Reset();
    set_request(google::protobuf::Arena::CreateMessage<
                envoy::service::ratelimit::v3::RateLimitRequest>(&arena_));
    set_response(google::protobuf::Arena::CreateMessage<
                 envoy::service::ratelimit::v3::RateLimitResponse>(&arena_));
  }
  void Release() override;

  should_rate_limit::Plan plan;

 private:
  // Enough for a request of a few descriptors and its answer; a larger one
  // makes the arena take more blocks from the heap (freed at Release()).
  static constexpr std::size_t kBlockBytes = 4096;

  CallPool* const pool_;
  alignas(std::max_align_t) char block_[kBlockBytes];
  google::protobuf::Arena arena_;
};

// CallPool is ShouldRateLimit's message allocator: Calls taken from, and
// given back to, a free list (at most kMaxIdle kept). Thread-safe.
class RlsService::CallPool final
    : public grpc::MessageAllocator<envoy::service::ratelimit::v3::RateLimitRequest,
                                    envoy::service::ratelimit::v3::RateLimitResponse> {
 public:
  static constexpr std::size_t kMaxIdle = 1024;

  CallPool() = default;
  CallPool(const CallPool&) = delete;
  CallPool& operator=(const CallPool&) = delete;
  ~CallPool() override {
    absl::MutexLock lock(&mutex_);
    for (Call* call : idle_) delete call;
  }

  grpc::MessageHolder<envoy::service::ratelimit::v3::RateLimitRequest,
                      envoy::service::ratelimit::v3::RateLimitResponse>*
  AllocateMessages() override {
    Call* call = nullptr;
    {
      absl::MutexLock lock(&mutex_);
      if (!idle_.empty()) {
        call = idle_.back();
        idle_.pop_back();
      }
    }
    if (call == nullptr) call = new Call(this);
    call->Start();
    return call;
  }

  void Put(Call* call) {
    {
      absl::MutexLock lock(&mutex_);
      if (idle_.size() < kMaxIdle) {
        idle_.push_back(call);
        return;
      }
    }
    delete call;
  }

 private:
  absl::Mutex mutex_;
  std::vector<Call*> idle_ ABSL_GUARDED_BY(mutex_);
};

void RlsService::Call::Release() {
  plan.Clear();  // the messages stay on the arena until the next Start()
  pool_->Put(this);
}

namespace {

using should_rate_limit::Bucket;
using should_rate_limit::Check;
using should_rate_limit::Plan;

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
    if (check.limit().shadow_mode) counts->shadow_mode.fetch_add(hits, std::memory_order_relaxed);
    return;
  }
  counts->within_limit.fetch_add(hits, std::memory_order_relaxed);
  if (used > kNearLimitRatio * check.limit().requests_per_unit) {
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
  if (!limit.name.empty()) current->set_name(limit.name);  // proto3: empty is unset
}

// SetNumber() writes `value` in decimal into `out`, in place: Prepare()
// gave it a string of its own, so no allocation on the shard's thread.
template <typename Int>
void SetNumber(Int value, std::string* out) {
  char digits[24];
  const std::to_chars_result end = std::to_chars(digits, digits + sizeof digits, value);
  out->assign(digits, end.ptr);
}

// Prepare() builds, on the gRPC thread, every message of the response that
// Decide() will fill: a status per descriptor (the limit, and the duration
// message of the limited ones) and the three headers with their keys when
// any descriptor is limited. Decide() then only sets numbers, on the shard,
// with nothing to allocate (the messages live on the call's arena, which
// the gRPC thread started).
void Prepare(const Plan& plan, const RlsOptions& options, RateLimitResponse* response) {
  bool any_limited = false;
  for (const Check& check : plan.checks) {
    RateLimitResponse::DescriptorStatus* status = response->add_statuses();
    if (!check.limited()) continue;
    SetLimit(check.limit(), status);
    status->mutable_duration_until_reset();
    any_limited = true;
  }
  if (options.response_headers && any_limited) {
    for (const std::string* key :
         {&options.limit_header, &options.remaining_header, &options.reset_header}) {
      auto* header = response->add_response_headers_to_add();
      header->set_key(*key);
      header->set_value("0");  // a string of its own, which Decide() rewrites
    }
  }
}

// Decide() runs on the domain's shard: declares or retunes the buckets,
// checks them all, charges them all or none, and fills `response` (which
// Prepare() built from the same plan).
// `registry` (the shard's) may be null when the plan has no bucket.
absl::Status Decide(core::Registry* registry, Plan& plan, const RlsOptions& options,
                    RateLimitResponse* response) {
  for (std::size_t i = 0; i < plan.bucket_count; ++i) {
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
    bucket.limiter = limiter;
    bucket.fits = limiter->CanTakeNow(bucket.need);
  }
  bool over = false;
  for (std::size_t i = 0; i < plan.bucket_count; ++i) {
    const Bucket& bucket = plan.buckets[i];
    over |= !bucket.fits && !bucket.shadow_mode;
  }
  for (const Check& check : plan.checks) {
    over |= check.kind == Check::Kind::kRefuseAll && !check.limit().shadow_mode;
  }
  for (std::size_t i = 0; i < plan.bucket_count; ++i) {
    Bucket& bucket = plan.buckets[i];
    if (!over && bucket.fits) {
      if (absl::Status s = bucket.limiter->TakeNow(bucket.need); !s.ok()) {
        log::Error("rls bucket refused a checked charge", {{"name", bucket.name}, {"status", s}});
      }
    }
    bucket.tokens = bucket.limiter->tokens();
    bucket.to_full = bucket.limiter->TimeToFull();
  }

  // The statuses, and the descriptor closest to its limit for the headers
  // (envoyproxy/ratelimit: the smallest remaining among those with a limit;
  // an over-limit one wins).
  const RateLimitResponse::DescriptorStatus* closest = nullptr;
  std::uint32_t closest_remaining = std::numeric_limits<std::uint32_t>::max();
  absl::Duration closest_reset;
  bool any_over = false;
  for (std::size_t i = 0; i < plan.checks.size(); ++i) {
    const Check& check = plan.checks[i];
    RateLimitResponse::DescriptorStatus* status = response->mutable_statuses(static_cast<int>(i));
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
        reset = UnitDuration(check.limit().unit);
        this_over = true;
        Count(check, true, 0, plan.hits);
        break;
      case Check::Kind::kBucket: {
        const Bucket& bucket = plan.buckets[static_cast<std::size_t>(check.bucket)];
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
    if (this_over && !check.limit().shadow_mode) {
      status->set_code(RateLimitResponse::OVER_LIMIT);
      any_over = true;
    }
    const bool counts_as_over = status->code() == RateLimitResponse::OVER_LIMIT;
    if (counts_as_over || status->limit_remaining() < closest_remaining) {
      closest = status;
      closest_remaining = counts_as_over ? 0 : status->limit_remaining();
      closest_reset = reset;
    }
  }
  if (any_over && options.global_shadow_mode) {
    metrics::Rls().CountGlobalShadowMode();
    any_over = false;
  }
  response->set_overall_code(any_over ? RateLimitResponse::OVER_LIMIT : RateLimitResponse::OK);
  if (options.response_headers && closest != nullptr &&
      response->response_headers_to_add_size() == 3) {
    SetNumber(closest->current_limit().requests_per_unit(),
              response->mutable_response_headers_to_add(0)->mutable_value());
    SetNumber(closest->limit_remaining(),
              response->mutable_response_headers_to_add(1)->mutable_value());
    SetNumber(static_cast<std::int64_t>(std::ceil(absl::ToDoubleSeconds(closest_reset))),
              response->mutable_response_headers_to_add(2)->mutable_value());
  } else {
    // No descriptor to report (every limited one has 2^32-1 tokens or more).
    response->clear_response_headers_to_add();
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

// AppendDomainPrefix() writes "envoy/<domain>/", the start of every bucket
// name of `domain` and its placement key, into `name` (cleared first),
// reusing its capacity.
absl::Status AppendDomainPrefix(std::string_view domain, std::string* name) {
  name->clear();
  if (domain.empty()) return absl::InvalidArgumentError("domain: must not be empty");
  name->append("envoy/");
  if (domain == "." || domain == "..") {
    for (std::size_t i = 0; i < domain.size(); ++i) name->append("%2E");  // not a "." segment
  } else {
    Encode(domain, name);
  }
  const std::size_t encoded_domain = name->size() - 6;
  if (encoded_domain > kMaxDomainBytes) {
    return absl::InvalidArgumentError(absl::StrCat("domain: at most ", kMaxDomainBytes,
                                                   " bytes once encoded, got ", encoded_domain));
  }
  name->push_back('/');
  return absl::OkStatus();
}

// AppendBucketName() writes BucketName() into `name` (cleared first),
// reusing its capacity.
absl::Status AppendBucketName(std::string_view domain, absl::Span<const RlsEntry> entries,
                              const RlsLimit* override_limit, std::string* name) {
  if (absl::Status prefixed = AppendDomainPrefix(domain, name); !prefixed.ok()) return prefixed;
  const std::size_t prefix = name->size();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) name->push_back('/');
    Encode(entries[i].key, name);
    name->push_back('=');
    Encode(entries[i].value, name);
  }
  if (override_limit != nullptr) {
    absl::StrAppend(name, "/!limit=", override_limit->requests_per_unit, "-per-",
                    Absl(UnitName(override_limit->unit)));
  }
  if (name->size() > core::kMaxNameBytes) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx",
                  static_cast<unsigned long long>(Fnv1a64(*name)));
    name->resize(prefix);
    name->append("!hash=");
    name->append(hex);
  }
  return absl::OkStatus();
}

// CountsFor() is metrics::Rls().For(domain, key path), the key path being
// the descriptor's keys joined by '_' ("path_user": its label in the
// metrics; the values would make them unbounded). Each thread caches what
// For() answered (stable: label sets are never removed, and the cap is set
// once at start) for up to kMaxCached label sets, which spares the request
// For()'s string and lock.
metrics::RlsCounts* CountsFor(std::string_view domain, absl::Span<const RlsEntry> entries) {
  static constexpr std::size_t kMaxCached = 1024;
  thread_local std::string id;  // domain '\0' key path
  thread_local absl::flat_hash_map<std::string, metrics::RlsCounts*> cache;
  id.assign(domain);
  id.push_back('\0');
  const std::size_t key_start = id.size();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) id.push_back('_');
    id.append(entries[i].key);
  }
  if (const auto it = cache.find(Absl(id)); it != cache.end()) return it->second;
  metrics::RlsCounts* counts =
      metrics::Rls().For(Absl(domain), Absl(std::string_view(id).substr(key_start)));
  if (cache.size() < kMaxCached) cache.emplace(id, counts);
  return counts;
}

// UnitSeconds() is UnitDuration(unit) in seconds, without a Duration
// division per request.
double UnitSeconds(Unit unit) {
  switch (unit) {
    case Unit::kSecond: return 1;
    case Unit::kMinute: return 60;
    case Unit::kHour: return 3600;
    case Unit::kDay: return 86400;
    case Unit::kMonth: return 86400.0 * 30;
    case Unit::kYear: return 86400.0 * 365;
  }
  return absl::ToDoubleSeconds(UnitDuration(unit));
}

// FindBucket() is the index of the bucket `name` among the plan's first
// bucket_count, or -1.
int FindBucket(const Plan& plan, std::string_view name) {
  if (plan.checks.size() > Plan::kLinearBuckets) {
    const auto it = plan.bucket_of.find(name);
    return it == plan.bucket_of.end() ? -1 : it->second;
  }
  for (std::size_t i = 0; i < plan.bucket_count; ++i) {
    if (plan.buckets[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

// MakePlan() finds each descriptor's limit and bucket, into `plan` (clear).
absl::Status MakePlan(const RateLimitRequest& request, std::shared_ptr<const RlsConfig> config,
                      Plan* plan) {
  plan->config = std::move(config);
  const RlsConfig& rules = *plan->config;
  const std::size_t descriptors = static_cast<std::size_t>(request.descriptors_size());
  plan->checks.resize(descriptors);
  const bool known_domain = rules.HasDomain(request.domain());
  for (int i = 0; i < request.descriptors_size(); ++i) {
    const auto& descriptor = request.descriptors(i);
    Check& check = plan->checks[static_cast<std::size_t>(i)];
    check.first_entry = static_cast<std::uint32_t>(plan->entries.size());
    check.entry_count = static_cast<std::uint32_t>(descriptor.entries_size());
    for (const auto& entry : descriptor.entries()) {
      plan->entries.push_back({entry.key(), entry.value()});
    }
  }
  if (known_domain) {
    for (int i = 0; i < request.descriptors_size(); ++i) {
      const auto& descriptor = request.descriptors(i);
      Check& check = plan->checks[static_cast<std::size_t>(i)];
      if (descriptor.has_limit()) {
        // As envoyproxy/ratelimit: the override replaces the rule (never in
        // shadow mode), in a known domain only.
        check.is_override = true;
        check.override_limit.requests_per_unit = descriptor.limit().requests_per_unit();
        check.override_limit.unit = static_cast<Unit>(descriptor.limit().unit());
        check.kind = Check::Kind::kBucket;
      } else if (const RlsLimit* limit = rules.Find(request.domain(), plan->EntriesOf(check));
                 limit != nullptr) {
        check.rule = limit;
        check.kind = limit->unlimited ? Check::Kind::kUnlimited : Check::Kind::kBucket;
        for (const std::string& name : limit->replaces) plan->replaced.push_back(name);
      }
    }
  }
  if (!plan->replaced.empty()) {
    for (Check& check : plan->checks) {
      if (check.kind != Check::Kind::kNone && !check.limit().name.empty() &&
          std::find(plan->replaced.begin(), plan->replaced.end(), check.limit().name) !=
              plan->replaced.end()) {
        check.kind = Check::Kind::kNone;
      }
    }
  }
  const std::uint32_t hits = request.hits_addend() == 0 ? 1 : request.hits_addend();
  plan->hits = hits;
  // At most one bucket per descriptor: reserved now, so that the names
  // bucket_of points into do not move.
  plan->buckets.reserve(descriptors);
  for (std::size_t i = 0; i < plan->checks.size(); ++i) {
    Check& check = plan->checks[i];
    if (check.kind != Check::Kind::kBucket) continue;
    check.counts = CountsFor(request.domain(), plan->EntriesOf(check));
    if (check.limit().requests_per_unit == 0) {
      check.kind = Check::Kind::kRefuseAll;
      continue;
    }
    if (plan->bucket_count == plan->buckets.size()) plan->buckets.emplace_back();
    Bucket& candidate = plan->buckets[plan->bucket_count];
    if (absl::Status named = AppendBucketName(request.domain(), plan->EntriesOf(check),
                                              check.is_override ? &check.override_limit : nullptr,
                                              &candidate.name);
        !named.ok()) {
      return named;
    }
    int index = FindBucket(*plan, candidate.name);
    if (index < 0) {
      index = static_cast<int>(plan->bucket_count++);
      if (plan->checks.size() > Plan::kLinearBuckets) {
        plan->bucket_of.emplace(candidate.name, index);
      }
      candidate.descriptor = static_cast<int>(i);
      candidate.capacity = check.limit().requests_per_unit;
      candidate.rate = check.limit().requests_per_unit / UnitSeconds(check.limit().unit);
      candidate.need = 0;
      candidate.shadow_mode = true;
      candidate.fits = false;
      candidate.tokens = 0;
      candidate.to_full = absl::ZeroDuration();
      candidate.limiter = nullptr;
    }
    Bucket& bucket = plan->buckets[static_cast<std::size_t>(index)];
    bucket.need += hits;
    bucket.shadow_mode = bucket.shadow_mode && check.limit().shadow_mode;
    check.bucket = index;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> BucketName(std::string_view domain,
                                       absl::Span<const RlsEntry> entries,
                                       const RlsLimit* override_limit) {
  std::string name;
  if (absl::Status named = AppendBucketName(domain, entries, override_limit, &name);
      !named.ok()) {
    return named;
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

RlsService::RlsService(service::Node* node, const RlsRules* rules, auth::Access* access,
                       RlsOptions options)
    : node_(node),
      rules_(rules),
      access_(access),
      options_(std::move(options)),
      calls_(std::make_unique<CallPool>()) {
  SetMessageAllocatorFor_ShouldRateLimit(calls_.get());
}

RlsService::~RlsService() = default;

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
  if (cluster_ != nullptr && !cluster::PeerChannels::IsForwarded(*context)) {
    // The domain's owner decides it (a buffer per thread: no allocation).
    thread_local std::string placement_key;
    if (absl::Status valid = AppendDomainPrefix(request->domain(), &placement_key); !valid.ok()) {
      reactor->Finish(service::ToGrpcStatus(valid));
      return reactor;
    }
    if (std::optional<cluster::Member> owner = cluster_->OwnerElsewhere(placement_key)) {
      return Forward(context, request, response, *owner);
    }
  }
  // The plan lives in the call's pooled state when gRPC allocated the
  // messages with calls_ (always, on a server); a call made otherwise (a
  // test driving the handler, or gRPC's default holder) gets one of its own.
  std::unique_ptr<Plan> own_plan;
  Plan* plan = nullptr;
  if (auto* call = dynamic_cast<Call*>(context->GetRpcAllocatorState()); call != nullptr) {
    plan = &call->plan;
  } else {
    own_plan = std::make_unique<Plan>();
    plan = own_plan.get();
  }
  if (absl::Status planned = MakePlan(*request, rules_->Get(), plan); !planned.ok()) {
    reactor->Finish(service::ToGrpcStatus(planned));
    return reactor;
  }
  Prepare(*plan, options_, response);
  if (plan->bucket_count == 0) {  // nothing to charge: decided here
    reactor->Finish(service::ToGrpcStatus(Decide(nullptr, *plan, options_, response)));
    return reactor;
  }
  const std::size_t shard_index = node_->ShardIndexOf(plan->buckets.front().name);
  // A shard that sleeps runs the decision here, on this gRPC thread (as
  // the Admin service does).
  service::DeferSessionWrites defer_writes;
  runtime::EventLoop::DeferWakes run_here(runtime::EventLoop::DeferWakes::Owed::kRunHere);
  plan->response = response;
  plan->reactor = reactor;
  plan->options = &options_;
  node_->RunOn(shard_index, [plan, own_plan = std::move(own_plan)](service::Node::Shard& shard) {
    plan->reactor->Finish(
        service::ToGrpcStatus(Decide(&shard.registry, *plan, *plan->options, plan->response)));
  });
  return reactor;
}

grpc::ServerUnaryReactor* RlsService::Forward(grpc::CallbackServerContext* context,
                                              const RateLimitRequest* request,
                                              RateLimitResponse* response,
                                              const cluster::Member& owner) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::shared_ptr<Stub> stub = StubFor(owner.address);
  auto client = std::make_shared<grpc::ClientContext>();
  cluster::PeerChannels::PrepareForwarded(*context, cluster_->node_id(), client.get());
  // The request and the response are the call's: they live until it is
  // finished, here, once the owner has answered.
  stub->async()->ShouldRateLimit(
      client.get(), request, response,
      [client, stub, reactor, request, owner](grpc::Status status) {
        // The owner answered (its own error included) when its headers came
        // back; otherwise it was not reached, or not in time.
        const bool answered = !client->GetServerInitialMetadata().empty() ||
                              !client->GetServerTrailingMetadata().empty();
        metrics::Rls().CountForwarded(answered);
        if (!status.ok()) {
          status = grpc::Status(
              status.error_code(),
              absl::StrCat("rate-limit domain '", request->domain(),
                           "' is decided by its owner, node ", owner.node_id, " (", owner.address,
                           answered ? "), which answered: " : "), which did not answer: ",
                           status.error_message()),
              status.error_details());
        }
        reactor->Finish(status);
      });
  return reactor;
}

std::shared_ptr<RlsService::Stub> RlsService::StubFor(const std::string& address) {
  absl::MutexLock lock(&stubs_mutex_);
  std::shared_ptr<Stub>& stub = stubs_[address];
  if (stub == nullptr) {
    stub = envoy::service::ratelimit::v3::RateLimitService::NewStub(peers_->ChannelTo(address));
  }
  return stub;
}

}  // namespace baton::rls

// Copyright 2026 The Baton Authors.

#include "server/core/registry.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/core/instance_name.h"
#include "server/core/status_macros.h"

namespace baton::core {
namespace {

constexpr Kind kAllKinds[] = {
    Kind::kAdvancedRateLimit, Kind::kDynamicBoundedSemaphore,
    Kind::kKeyedCondition,    Kind::kMultiCountDownLatch,
    Kind::kPriorityLock,      Kind::kPriorityRLock,
    Kind::kPrioritySemaphore, Kind::kRLock,
};

// Abseil 20220623 on Debian has its own string_view.
absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

double EffectiveCapacity(const RateLimiter::Options& options) {
  return options.capacity.value_or(options.rate);
}

// SameCounts() compares latch counts as the latch stores them: a count <= 0
// is a finished counter, 0.
bool SameCounts(const MultiCountDownLatch::Counts& a,
                const MultiCountDownLatch::Counts& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [key, count] : a) {
    auto it = b.find(key);
    if (it == b.end()) return false;
    if (std::max<std::int64_t>(count, 0) !=
        std::max<std::int64_t>(it->second, 0)) {
      return false;
    }
  }
  return true;
}

// Quoted() renders a name for messages; names are validated first, so they
// hold no control characters.
std::string Quoted(std::string_view name) {
  return absl::StrCat("'", Absl(name), "'");
}

// DescribeDifferences() lists, field by field, how `asked` differs from
// `live` (the same kind), with the value `declared` at creation when it is
// another, e.g. "value is 8 now (its bound; declared 4), asked 5".
std::string DescribeDifferences(const InstanceConfig& live, const InstanceConfig& declared,
                                const InstanceConfig& asked) {
  std::vector<std::string> out;
  const auto was = [](auto now, auto then, std::string_view what) {
    std::string note(what);
    if (now != then) {
      absl::StrAppend(&note, note.empty() ? "" : "; ", "declared ", then);
    }
    return note.empty() ? std::string() : absl::StrCat(" (", note, ")");
  };
  switch (live.kind) {
    case Kind::kAdvancedRateLimit: {
      if (live.rate_limit.rate != asked.rate_limit.rate) {
        out.push_back(absl::StrCat("rate is ", live.rate_limit.rate, " now",
                                   was(live.rate_limit.rate, declared.rate_limit.rate, ""),
                                   ", asked ", asked.rate_limit.rate));
      }
      const double live_capacity = EffectiveCapacity(live.rate_limit);
      const double asked_capacity = EffectiveCapacity(asked.rate_limit);
      if (live_capacity != asked_capacity) {
        out.push_back(absl::StrCat("capacity is ", live_capacity, " now",
                                   was(live_capacity, EffectiveCapacity(declared.rate_limit), ""),
                                   ", asked ", asked_capacity,
                                   asked.rate_limit.capacity.has_value()
                                       ? ""
                                       : " (absent: equal to the rate asked)"));
      }
      if (live.rate_limit.fair != asked.rate_limit.fair) {
        out.push_back(absl::StrCat("fair is ", live.rate_limit.fair ? "true" : "false",
                                   ", asked ", asked.rate_limit.fair ? "true" : "false"));
      }
      break;
    }
    case Kind::kDynamicBoundedSemaphore:
      out.push_back(absl::StrCat("value is ", live.value, " now",
                                 was(live.value, declared.value, "its bound"), ", asked ",
                                 asked.value));
      break;
    case Kind::kPrioritySemaphore:
      out.push_back(absl::StrCat("value is ", live.value, ", asked ", asked.value));
      break;
    case Kind::kMultiCountDownLatch: {
      // Sorted, so that the message is the same on every call.
      std::vector<std::string> keys;
      for (const auto& [key, count] : live.counts) keys.push_back(key);
      for (const auto& [key, count] : asked.counts) {
        if (!live.counts.contains(key)) keys.push_back(key);
      }
      std::sort(keys.begin(), keys.end());
      for (const std::string& key : keys) {
        const auto l = live.counts.find(key);
        const auto a = asked.counts.find(key);
        const std::string field = absl::StrCat("counts[\"", absl::CHexEscape(key), "\"]");
        if (a == asked.counts.end()) {
          out.push_back(absl::StrCat(field, " was declared ",
                                     std::max<std::int64_t>(l->second, 0), ", not asked"));
        } else if (l == live.counts.end()) {
          out.push_back(absl::StrCat(field, " was not declared, asked ", a->second));
        } else if (std::max<std::int64_t>(l->second, 0) !=
                   std::max<std::int64_t>(a->second, 0)) {
          out.push_back(absl::StrCat(field, " was declared ",
                                     std::max<std::int64_t>(l->second, 0), ", asked ",
                                     a->second));
        }
      }
      break;
    }
    case Kind::kKeyedCondition:
    case Kind::kPriorityLock:
    case Kind::kPriorityRLock:
    case Kind::kRLock:
      break;
  }
  return absl::StrJoin(out, "; ");
}

}  // namespace

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kAdvancedRateLimit:
      return "AdvancedRateLimit";
    case Kind::kDynamicBoundedSemaphore:
      return "DynamicBoundedSemaphore";
    case Kind::kKeyedCondition:
      return "KeyedCondition";
    case Kind::kMultiCountDownLatch:
      return "MultiCountDownLatch";
    case Kind::kPriorityLock:
      return "PriorityLock";
    case Kind::kPriorityRLock:
      return "PriorityRLock";
    case Kind::kPrioritySemaphore:
      return "PrioritySemaphore";
    case Kind::kRLock:
      return "RLock";
  }
  return "UnknownKind";
}

absl::StatusOr<Kind> ParseKind(std::string_view name) {
  for (Kind kind : kAllKinds) {
    if (KindName(kind) == name) return kind;
  }
  std::vector<absl::string_view> names;
  for (Kind kind : kAllKinds) names.push_back(Absl(KindName(kind)));
  return absl::InvalidArgumentError(absl::StrCat("kind must be one of ",
                                                 absl::StrJoin(names, ", "),
                                                 "; got ", Quoted(name)));
}

std::optional<InstanceConfig> InstanceConfig::Default(Kind kind) {
  if (kind == Kind::kAdvancedRateLimit || kind == Kind::kMultiCountDownLatch) {
    return std::nullopt;
  }
  return InstanceConfig{.kind = kind};  // semaphores: value 1
}

bool operator==(const InstanceConfig& a, const InstanceConfig& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Kind::kAdvancedRateLimit:
      return a.rate_limit.rate == b.rate_limit.rate &&
             EffectiveCapacity(a.rate_limit) ==
                 EffectiveCapacity(b.rate_limit) &&
             a.rate_limit.fair == b.rate_limit.fair;
    case Kind::kDynamicBoundedSemaphore:
    case Kind::kPrioritySemaphore:
      return a.value == b.value;
    case Kind::kMultiCountDownLatch:
      return SameCounts(a.counts, b.counts);
    case Kind::kKeyedCondition:
    case Kind::kPriorityLock:
    case Kind::kPriorityRLock:
    case Kind::kRLock:
      return true;
  }
  return false;
}

absl::Status ValidateConfig(const InstanceConfig& config) {
  switch (config.kind) {
    case Kind::kAdvancedRateLimit:
      return RateLimiter::Validate(config.rate_limit);
    case Kind::kDynamicBoundedSemaphore:
      return DynamicBoundedSemaphore::Validate(config.value);
    case Kind::kPrioritySemaphore:
      return PrioritySemaphore::Validate(config.value);
    case Kind::kMultiCountDownLatch:
      return MultiCountDownLatch::ValidateCounts(config.counts);
    case Kind::kKeyedCondition:
    case Kind::kPriorityLock:
    case Kind::kPriorityRLock:
    case Kind::kRLock:
      return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "kind must be a known kind, got ", static_cast<int>(config.kind)));
}

std::string DescribeConfig(const InstanceConfig& config) {
  const absl::string_view kind = Absl(KindName(config.kind));
  switch (config.kind) {
    case Kind::kAdvancedRateLimit:
      return absl::StrCat(kind, "(rate=", config.rate_limit.rate,
                          ", capacity=", EffectiveCapacity(config.rate_limit),
                          ", fair=", config.rate_limit.fair ? "true" : "false",
                          ")");
    case Kind::kDynamicBoundedSemaphore:
    case Kind::kPrioritySemaphore:
      return absl::StrCat(kind, "(value=", config.value, ")");
    case Kind::kMultiCountDownLatch: {
      std::vector<std::pair<std::string, std::int64_t>> sorted(
          config.counts.begin(), config.counts.end());
      std::sort(sorted.begin(), sorted.end());
      return absl::StrCat(
          kind, "(counts={",
          absl::StrJoin(sorted, ", ",
                        [](std::string* out, const auto& entry) {
                          absl::StrAppend(
                              out, entry.first, ": ",
                              std::max<std::int64_t>(entry.second, 0));
                        }),
          "})");
    }
    case Kind::kKeyedCondition:
    case Kind::kPriorityLock:
    case Kind::kPriorityRLock:
    case Kind::kRLock:
      break;
  }
  return std::string(kind);
}

// --- Instance ---

template <typename Fn>
decltype(auto) Instance::Visit(Fn&& fn) const {
  switch (kind_) {
    case Kind::kAdvancedRateLimit:
      return fn(static_cast<const Of<RateLimiter>&>(*this));
    case Kind::kDynamicBoundedSemaphore:
      return fn(static_cast<const Of<DynamicBoundedSemaphore>&>(*this));
    case Kind::kKeyedCondition:
      return fn(static_cast<const Of<KeyedCondition>&>(*this));
    case Kind::kMultiCountDownLatch:
      return fn(static_cast<const Of<MultiCountDownLatch>&>(*this));
    case Kind::kPriorityLock:
      return fn(static_cast<const Of<PriorityLock>&>(*this));
    case Kind::kPriorityRLock:
      return fn(static_cast<const Of<PriorityRLock>&>(*this));
    case Kind::kPrioritySemaphore:
      return fn(static_cast<const Of<PrioritySemaphore>&>(*this));
    case Kind::kRLock:
      return fn(static_cast<const Of<RLock>&>(*this));
  }
  std::abort();  // no other kind is ever created
}

template <typename P, typename... Args>
Instance::Ptr Instance::Create(std::string_view name, const InstanceConfig& config,
                               absl::Time now, Args&&... args) {
  // One block: the instance, then the name's bytes.
  void* block = ::operator new(sizeof(Of<P>) + name.size());
  auto* of = new (block) Of<P>(config, name.size(), now, std::forward<Args>(args)...);
  char* const name_bytes = reinterpret_cast<char*>(of + 1);
  std::memcpy(name_bytes, name.data(), name.size());
  Instance* const instance = of;
  instance->name_offset_ =
      static_cast<std::uint16_t>(name_bytes - reinterpret_cast<char*>(instance));
  return Ptr(instance);
}

void Instance::Deleter::operator()(Instance* instance) const {
  instance->Visit([](const auto& of) {
    using OfP = std::remove_cvref_t<decltype(of)>;
    OfP* const block = const_cast<OfP*>(&of);
    block->~OfP();
    ::operator delete(block);
  });
}

const InstanceConfig& Instance::config() const {
  // The shared configuration of the kinds without parameters.
  static const InstanceConfig* const kDefaults = [] {
    auto* defaults = new InstanceConfig[std::size(kAllKinds)];
    for (std::size_t i = 0; i < std::size(kAllKinds); ++i) defaults[i].kind = kAllKinds[i];
    return defaults;
  }();
  return Visit([this](const auto& of) -> const InstanceConfig& {
    if constexpr (std::remove_cvref_t<decltype(of)>::kHasParameters) {
      return of.parameters;
    } else {
      for (std::size_t i = 0; i < std::size(kAllKinds); ++i) {
        if (kAllKinds[i] == kind_) return kDefaults[i];
      }
      std::abort();
    }
  });
}

Primitive* Instance::primitive() const {
  return Visit([](const auto& of) -> Primitive* {
    return const_cast<Primitive*>(static_cast<const Primitive*>(&of));
  });
}

std::uint64_t Instance::last_fence() const {
  if (const KeyedCondition* condition = As<KeyedCondition>()) {
    return condition->lock_last_fence();
  }
  return primitive()->last_fence();
}

bool Instance::Busy() const {
  if (const PriorityMutex* mutex = As<PriorityLock>()) {
    return mutex->locked() || mutex->waiter_count() > 0;
  }
  if (const PriorityMutex* mutex = As<PriorityRLock>()) {
    return mutex->locked() || mutex->waiter_count() > 0;
  }
  if (const PriorityMutex* mutex = As<RLock>()) {
    return mutex->locked() || mutex->waiter_count() > 0;
  }
  if (const KeyedCondition* condition = As<KeyedCondition>()) {
    // Nobody queues for a free lock, so a free lock has no waiters.
    return condition->locked() || condition->waiter_count() > 0 ||
           condition->wait_all_count() > 0;
  }
  if (const DynamicBoundedSemaphore* semaphore =
          As<DynamicBoundedSemaphore>()) {
    return semaphore->held() > 0 || semaphore->waiter_count() > 0;
  }
  if (const PrioritySemaphore* semaphore = As<PrioritySemaphore>()) {
    return semaphore->held() > 0 || semaphore->waiter_count() > 0;
  }
  if (const RateLimiter* limiter = As<RateLimiter>()) {
    return limiter->waiter_count() > 0;
  }
  if (const MultiCountDownLatch* latch = As<MultiCountDownLatch>()) {
    if (latch->wait_all_count() > 0) return true;
    for (const auto& [key, count] : latch->counts()) {
      if (latch->waiter_count(key) > 0) return true;
    }
    return false;
  }
  return true;
}

bool Instance::Evictable() const {
  if (evict_when_full_) {
    const RateLimiter* limiter = As<RateLimiter>();
    return limiter != nullptr && !Busy() && limiter->tokens() >= limiter->capacity();
  }
  const std::optional<InstanceConfig> defaults =
      InstanceConfig::Default(kind());
  // Rate limits and latches have no defaults: their configuration (and a
  // latch's counts) is state that only a declaration can give back.
  if (!defaults.has_value() || !(config() == *defaults)) return false;
  if (Busy()) return false;
  if (const DynamicBoundedSemaphore* semaphore =
          As<DynamicBoundedSemaphore>()) {
    return semaphore->bound() == config().value;
  }
  if (const PrioritySemaphore* semaphore = As<PrioritySemaphore>()) {
    return semaphore->pool_size() == semaphore->value();
  }
  return true;
}

InstanceConfig Instance::LiveConfig() const {
  InstanceConfig live = config();
  if (const RateLimiter* limiter = As<RateLimiter>()) {
    live.rate_limit.rate = limiter->rate();
    live.rate_limit.capacity = limiter->capacity();
    live.rate_limit.fair = limiter->fair();
  } else if (const DynamicBoundedSemaphore* semaphore = As<DynamicBoundedSemaphore>()) {
    live.value = semaphore->bound();
  }
  return live;
}

namespace {

// WaiterCount() is InstanceSnapshot::waiter_count of `instance`.
std::size_t WaiterCount(const Instance& instance) {
  if (const PriorityMutex* mutex = instance.As<PriorityLock>()) return mutex->waiter_count();
  if (const PriorityMutex* mutex = instance.As<PriorityRLock>()) return mutex->waiter_count();
  if (const PriorityMutex* mutex = instance.As<RLock>()) return mutex->waiter_count();
  if (const KeyedCondition* condition = instance.As<KeyedCondition>()) {
    return condition->waiter_count() + condition->wait_all_count() +
           condition->lock_waiter_count();
  }
  if (const DynamicBoundedSemaphore* semaphore = instance.As<DynamicBoundedSemaphore>()) {
    return semaphore->waiter_count();
  }
  if (const PrioritySemaphore* semaphore = instance.As<PrioritySemaphore>()) {
    return semaphore->waiter_count();
  }
  if (const RateLimiter* limiter = instance.As<RateLimiter>()) return limiter->waiter_count();
  if (const MultiCountDownLatch* latch = instance.As<MultiCountDownLatch>()) {
    std::size_t count = latch->wait_all_count();
    for (const auto& [key, unused] : latch->counts()) count += latch->waiter_count(key);
    return count;
  }
  return 0;
}

}  // namespace

void Registry::AddKindCounts(KindCounts* counts) const {
  for (const Instance::Ptr& instance : instances_) {
    const auto kind = static_cast<std::size_t>(instance->kind());
    if (kind >= kKindCount) continue;
    ++counts->instances[kind];
    counts->waiters[kind] += WaiterCount(*instance);
  }
}

InstanceSnapshot Instance::Describe() const {
  InstanceSnapshot snapshot{.name = std::string(name()),
                            .config = LiveConfig(),
                            .last_used = last_used(),
                            .last_fence = last_fence()};
  const auto describe_mutex = [&snapshot](const PriorityMutex& mutex) {
    snapshot.locked = mutex.locked();
    snapshot.waiter_count = mutex.waiter_count();
    if (std::optional<PriorityMutex::Holder> holder = mutex.holder()) {
      snapshot.holders.push_back({.session_id = holder->session_id,
                                  .owner_key = holder->owner_key,
                                  .count = holder->depth,
                                  .fence = holder->fence});
    }
  };
  const auto describe_permits =
      [&snapshot](const std::vector<PermitHolder>& holders) {
        for (const PermitHolder& holder : holders) {
          snapshot.holders.push_back({.session_id = holder.session_id,
                                      .count = holder.permits,
                                      .fence = holder.fence});
        }
      };
  if (const PriorityLock* lock = As<PriorityLock>()) {
    describe_mutex(*lock);
  } else if (const PriorityRLock* rlock = As<PriorityRLock>()) {
    describe_mutex(*rlock);
  } else if (const RLock* plain_rlock = As<RLock>()) {
    describe_mutex(*plain_rlock);
  } else if (const KeyedCondition* condition = As<KeyedCondition>()) {
    snapshot.locked = condition->locked();
    snapshot.waiter_count = condition->waiter_count() +
                            condition->wait_all_count() +
                            condition->lock_waiter_count();
    if (std::optional<PriorityMutex::Holder> holder = condition->holder()) {
      snapshot.holders.push_back({.session_id = holder->session_id,
                                  .owner_key = holder->owner_key,
                                  .count = holder->depth,
                                  .fence = holder->fence});
    }
  } else if (const DynamicBoundedSemaphore* dynamic =
                 As<DynamicBoundedSemaphore>()) {
    snapshot.locked = dynamic->locked();
    snapshot.waiter_count = dynamic->waiter_count();
    snapshot.semaphore =
        InstanceSnapshot::Semaphore{.bound = dynamic->bound(),
                                    .available = dynamic->available(),
                                    .held = dynamic->held()};
    describe_permits(dynamic->holders());
  } else if (const PrioritySemaphore* priority = As<PrioritySemaphore>()) {
    snapshot.locked = priority->locked();
    snapshot.waiter_count = priority->waiter_count();
    snapshot.semaphore =
        InstanceSnapshot::Semaphore{.bound = priority->pool_size(),
                                    .available = priority->available(),
                                    .held = priority->held()};
    describe_permits(priority->holders());
  } else if (const RateLimiter* limiter = As<RateLimiter>()) {
    snapshot.locked = limiter->locked();
    snapshot.waiter_count = limiter->waiter_count();
    snapshot.rate_limit =
        InstanceSnapshot::RateLimit{.rate = limiter->rate(),
                                    .capacity = limiter->capacity(),
                                    .tokens = limiter->tokens(),
                                    .fair = limiter->fair()};
  } else if (const MultiCountDownLatch* latch = As<MultiCountDownLatch>()) {
    snapshot.waiter_count = latch->wait_all_count();
    for (const auto& [key, count] : latch->counts()) {
      snapshot.waiter_count += latch->waiter_count(key);
    }
    snapshot.latch = InstanceSnapshot::Latch{.counts = latch->counts(),
                                             .broken = latch->broken()};
  }
  return snapshot;
}

// --- Registry ---

void Registry::Revocations::OnRevoked(const Primitive& primitive,
                                      const Revocation& revocation) {
  // Every primitive of the registry is an instance's. (Not while it is
  // destroyed, but it reports nothing then: the registry closed it first.)
  const auto* instance = dynamic_cast<const Instance*>(&primitive);
  if (instance != nullptr && registry_->revocation_callback_) {
    registry_->revocation_callback_(instance->name(), revocation);
  }
}

void Registry::SweepTimer::OnTimer() {
  registry->SweepNow();
  registry->ArmSweep(deadline());
}

Registry::Registry(runtime::EventLoop* loop, std::uint64_t fence_base)
    : Registry(loop, fence_base, Options()) {}

Registry::Registry(runtime::EventLoop* loop, std::uint64_t fence_base,
                   Options options)
    : loop_(loop),
      fence_base_(fence_base),
      options_(options),
      fence_floor_(fence_base) {}

Registry::~Registry() {
  loop_->CancelTimer(&sweep_timer_);
  const absl::Status shutdown = absl::AbortedError("shard shutting down");
  for (const Instance::Ptr& instance : instances_) instance->primitive()->Close(shutdown);
  by_hash_.clear();
  instances_.clear();
}

bool Registry::eviction_enabled() const {
  return options_.idle_eviction > absl::ZeroDuration() &&
         options_.idle_eviction != absl::InfiniteDuration();
}

absl::StatusOr<Instance*> Registry::Declare(std::string_view name,
                                            const InstanceConfig& config) {
  BATON_RETURN_IF_ERROR(ValidateName(name));
  BATON_RETURN_IF_ERROR(ValidateConfig(config));
  Instance* existing = Find(name);
  if (existing == nullptr) {
    bool restored = false;
    BATON_ASSIGN_OR_RETURN(Instance * created, Create(name, config, &restored));
    if (!restored) return created;
    existing = created;  // kept by its previous owner: compared as below
  }
  // Compared with the parameters now, live changes included (what
  // Describe shows), and with those of the creation (what the service
  // that declared it declares again at its next start).
  const InstanceConfig live = existing->LiveConfig();
  if (!(live == config) && !(existing->config() == config)) {
    std::string message =
        absl::StrCat("name ", Quoted(name), " already exists as ", DescribeConfig(live),
                     "; cannot declare it as ", DescribeConfig(config));
    if (live.kind == config.kind) {
      absl::StrAppend(&message, ": ", DescribeDifferences(live, existing->config(), config));
    }
    return absl::AlreadyExistsError(std::move(message));
  }
  Touch(existing);
  return existing;
}

absl::StatusOr<Instance*> Registry::GetOrCreate(std::string_view name,
                                                Kind kind) {
  BATON_RETURN_IF_ERROR(ValidateName(name));
  return GetOrCreateValidated(name, kind);
}

absl::StatusOr<Instance*> Registry::GetOrCreateValidated(std::string_view name, Kind kind) {
  return GetOrCreateValidated(name, runtime::NameHash(name), kind);
}

absl::StatusOr<Instance*> Registry::GetOrCreateValidated(std::string_view name, std::uint64_t hash,
                                                         Kind kind) {
  if (Instance* existing = Find(name, hash)) {
    if (existing->kind() != kind) {
      return absl::FailedPreconditionError(absl::StrCat(
          "name ", Quoted(name), " is a ", Absl(KindName(existing->kind())),
          ", not a ", Absl(KindName(kind))));
    }
    Touch(existing);
    return existing;
  }
  std::optional<InstanceConfig> config = InstanceConfig::Default(kind);
  if (!config.has_value()) {
    // Not "declare it first" for a name another node serves, or one still
    // on its way here with what its owner kept.
    BATON_RETURN_IF_ERROR(Admissible(name));
    const absl::string_view needs = kind == Kind::kAdvancedRateLimit
                                        ? "its rate (capacity and fair are "
                                          "optional)"
                                        : "its counts";
    return absl::NotFoundError(absl::StrCat(
        "no ", Absl(KindName(kind)), " named ", Quoted(name), ": a ",
        Absl(KindName(kind)),
        " cannot be created implicitly; declare it first with ", needs));
  }
  return Create(name, *config);
}

Instance* Registry::Find(std::string_view name) const {
  return Find(name, runtime::NameHash(name));
}

Instance* Registry::Find(std::string_view name, std::uint64_t hash) const {
  if (const auto found = by_hash_.find(NameKey{.name = name, .hash = hash});
      found != by_hash_.end()) {
    return *found;
  }
  if (reloading_) return nullptr;  // the hook's own lookup of the name it restores
  if (reload_on_any_miss_ && reload_hook_ != nullptr && !stored_.contains(name)) {
    if (!Reload(name)) return nullptr;
    const auto found = by_hash_.find(NameKey{.name = name, .hash = hash});
    return found == by_hash_.end() ? nullptr : *found;
  }
  if (stored_.empty()) return nullptr;
  const auto stored = stored_.find(name);
  if (stored == stored_.end() || reload_hook_ == nullptr) return nullptr;
  // Out of stored_ before the hook runs: restoring the instance looks the
  // name up again (Declare), which must not reload it a second time.
  const Kind kind = stored->second;
  std::string stored_name = std::move(stored_.extract(stored).key());
  if (!Reload(name)) {
    // Not restored (the hook logged why): still in the store, still listed.
    stored_.emplace(std::move(stored_name), kind);
    return nullptr;
  }
  const auto found = by_hash_.find(NameKey{.name = name, .hash = hash});
  return found == by_hash_.end() ? nullptr : *found;
}

absl::Status Registry::Admissible(std::string_view name) const {
  if (admission_ == nullptr) return absl::OkStatus();
  return admission_->Admit(name).status();
}

bool Registry::Reload(std::string_view name) const {
  reloading_ = true;
  const bool restored = reload_hook_(name);
  reloading_ = false;
  return restored;
}

Instance* Registry::FindLoaded(std::string_view name) const {
  const auto found = by_hash_.find(NameKey{.name = name, .hash = runtime::NameHash(name)});
  return found == by_hash_.end() ? nullptr : *found;
}

absl::Status Registry::Delete(std::string_view name,
                              const absl::Status& reason) {
  BATON_RETURN_IF_ERROR(ValidateName(name));
  Find(name);  // an instance evicted to a store is deleted like the others
  auto it = instances_.find(name);
  if (it == instances_.end()) {
    return absl::NotFoundError(
        absl::StrCat("no instance named ", Quoted(name)));
  }
  // Waiters must fail: an OK status would read as a grant without one.
  const absl::Status status = reason.ok()
                                  ? absl::AbortedError(absl::StrCat(
                                        "instance ", Quoted(name), " deleted"))
                                  : reason;
  (*it)->primitive()->Close(status);
  Remove(it);
  return absl::OkStatus();
}

absl::StatusOr<Registry::ListPage> Registry::List(
    std::string_view prefix, std::optional<Kind> kind, int page_size,
    std::string_view page_token, const std::function<bool(std::string_view)>& visible) const {
  if (page_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size must be >= 0, got ", page_size));
  }
  if (page_size == 0) page_size = kDefaultPageSize;
  page_size = std::min(page_size, kMaxPageSize);
  if (!page_token.empty() &&
      !absl::StartsWith(Absl(page_token), Absl(prefix))) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_token must come from a listing of the same prefix ",
                     Quoted(prefix), ", got ", Quoted(page_token)));
  }
  // Two ordered sequences, merged by name: the instances in memory and
  // those evicted to a store (a name is never in both).
  auto it = page_token.empty() ? instances_.lower_bound(prefix)
                               : instances_.upper_bound(page_token);
  auto stored = page_token.empty() ? stored_.lower_bound(prefix)
                                   : stored_.upper_bound(page_token);
  const auto in_prefix = [&](std::string_view name) {
    return absl::StartsWith(Absl(name), Absl(prefix));
  };
  ListPage page;
  while (true) {
    const bool memory_left = it != instances_.end() && in_prefix((*it)->name());
    const bool stored_left = stored != stored_.end() && in_prefix(stored->first);
    if (!memory_left && !stored_left) break;
    std::string_view name;
    Kind entry_kind;
    if (memory_left && (!stored_left || (*it)->name() < std::string_view(stored->first))) {
      name = (*it)->name();
      entry_kind = (*it)->kind();
      ++it;
    } else {
      name = stored->first;
      entry_kind = stored->second;
      ++stored;
    }
    if (kind.has_value() && entry_kind != *kind) continue;
    if (visible && !visible(name)) continue;
    if (page.entries.size() == static_cast<std::size_t>(page_size)) {
      // One more match exists: there is a next page.
      page.next_page_token = page.entries.back().name;
      break;
    }
    page.entries.push_back({.name = std::string(name), .kind = entry_kind});
  }
  return page;
}

void Registry::Touch(Instance* instance) {
  // Read once per pass of the loop, not per request: a use is a use.
  instance->Touch(loop_->NowInPass());
}

std::uint64_t Registry::HighestFence() const {
  std::uint64_t highest = fence_floor_;
  for (const Instance::Ptr& instance : instances_) {
    highest = std::max(highest, instance->last_fence());
  }
  return highest;
}

std::size_t Registry::SweepNow() {
  if (!eviction_enabled()) return 0;
  const absl::Time now = loop_->Now();
  std::size_t evicted = 0;
  for (auto it = instances_.begin(); it != instances_.end();) {
    Instance& instance = **it;
    if (instance.Busy()) {
      // In use now: it counts as used, whatever the service reported.
      Touch(&instance);
      ++it;
      continue;
    }
    if (now - instance.last_used() < options_.idle_eviction ||
        !(instance.Evictable() || (evict_hook_ != nullptr && evict_hook_(instance)))) {
      ++it;
      continue;
    }
    if (!instance.Evictable()) {
      // Its state went to the store (evict_hook_ said so): still listed.
      stored_.emplace(std::string(instance.name()), instance.kind());
    }
    instance.primitive()->Close(absl::AbortedError(
        absl::StrCat("instance ", Quoted(instance.name()), " evicted")));
    it = Remove(it);
    ++evicted;
  }
  return evicted;
}

absl::StatusOr<Instance*> Registry::Create(std::string_view name,
                                           const InstanceConfig& config,
                                           bool* restored_from_store) {
  if (instances_.size() >= options_.max_instances) {
    return absl::ResourceExhaustedError(
        absl::StrCat("instances per shard must be at most ",
                     options_.max_instances, "; cannot create ", Quoted(name)));
  }
  // Above every fence granted on this shard, also by earlier instances of
  // the same name that were deleted or evicted (and, in a cluster, above
  // every fence an earlier owner of the name granted).
  std::uint64_t base = fence_floor_;
  if (admission_ != nullptr) {
    BATON_ASSIGN_OR_RETURN(const std::uint64_t floor, admission_->Admit(name));
    base = std::max(base, floor);
    if (reload_on_any_miss_ && reload_hook_ != nullptr && !reloading_ && Reload(name)) {
      // Admitted only now (the lookup before found the name not this
      // node's yet): what its previous owner kept comes first.
      if (Instance* found = FindLoaded(name)) {
        if (restored_from_store != nullptr) *restored_from_store = true;
        return found;
      }
    }
  }
  if (FindLoaded(name) != nullptr) {
    // A caller's bug (Create() is for names not in memory), never a
    // second instance of one name.
    return absl::InternalError(absl::StrCat("registry: ", Quoted(name), " exists already"));
  }
  if (accounting_ != nullptr) BATON_RETURN_IF_ERROR(accounting_->Created(name));
  const absl::Time now = loop_->Now();
  Instance::Ptr instance;
  switch (config.kind) {
    case Kind::kAdvancedRateLimit:
      instance = Instance::Create<RateLimiter>(name, config, now, loop_, base, config.rate_limit);
      break;
    case Kind::kDynamicBoundedSemaphore:
      instance = Instance::Create<DynamicBoundedSemaphore>(name, config, now, loop_, base,
                                                           config.value);
      break;
    case Kind::kKeyedCondition:
      instance = Instance::Create<KeyedCondition>(name, config, now, loop_, base);
      break;
    case Kind::kMultiCountDownLatch:
      instance = Instance::Create<MultiCountDownLatch>(name, config, now, loop_, base,
                                                       config.counts);
      break;
    case Kind::kPriorityLock:
      instance = Instance::Create<PriorityLock>(name, config, now, loop_, base);
      break;
    case Kind::kPriorityRLock:
      instance = Instance::Create<PriorityRLock>(name, config, now, loop_, base);
      break;
    case Kind::kPrioritySemaphore:
      instance = Instance::Create<PrioritySemaphore>(name, config, now, loop_, base,
                                                     config.value);
      break;
    case Kind::kRLock:
      instance = Instance::Create<RLock>(name, config, now, loop_, base);
      break;
  }
  Instance* const raw = instance.get();
  raw->primitive()->set_revocation_sink(&revocations_);
  by_hash_.insert(raw);
  instances_.insert(std::move(instance));
  ArmSweep();
  return raw;
}

Registry::InstanceMap::iterator Registry::Remove(InstanceMap::iterator it) {
  fence_floor_ = std::max(fence_floor_, (*it)->last_fence());
  if (accounting_ != nullptr) accounting_->Removed((*it)->name());
  by_hash_.erase(it->get());
  return instances_.erase(it);
}

void Registry::ArmSweep(std::optional<absl::Time> previous) {
  if (!eviction_enabled() || instances_.empty() || sweep_timer_.scheduled()) {
    return;
  }
  const absl::Duration period = options_.idle_eviction / 4;
  const absl::Time now = loop_->Now();
  absl::Time next = now + period;
  if (previous.has_value() && *previous <= now) {
    // Keep to the grid of the previous sweeps: a loop that ran late (or a
    // manual clock moved far) gets its next sweep at the next grid point,
    // not one period after the late one.
    absl::Duration remainder;
    const std::int64_t periods =
        absl::IDivDuration(now - *previous, period, &remainder);
    next = *previous + (periods + 1) * period;
  }
  loop_->AddTimer(&sweep_timer_, next);
}

}  // namespace baton::core

// Copyright 2026 The Baton Authors.
//
// Registry holds the named instances of one shard: every lock, semaphore,
// condition, latch and rate limiter that clients reach by name. It creates
// them (explicitly with Declare(), implicitly with GetOrCreate()), finds,
// lists and deletes them, and evicts those left idle.
//
// Names and kinds (SEMANTICS.md, "Named instances"):
//   - Declare(name, config) creates the instance, or returns the existing one
//     when its kind and parameters are equal to `config` (a no-op). Other
//     kind or other parameters: ALREADY_EXISTS, naming both; an instance is
//     never replaced silently.
//   - GetOrCreate(name, kind) returns the instance if it has that kind
//     (FAILED_PRECONDITION "name 'x' is a PriorityLock, not a RLock"
//     otherwise), or creates it with the seed's defaults: semaphores start
//     at value 1; locks and conditions have no parameters. A rate limiter
//     (its rate) and a latch (its counts) cannot be implied: NOT_FOUND,
//     saying it must be declared first and with what.
//   - Parameters are compared by their effective values (an absent rate
//     limiter capacity equals a capacity equal to the rate). A declaration
//     is a declare-if-absent: it is a no-op when it matches the parameters
//     the instance has NOW (Instance::LiveConfig(), what Describe shows: a
//     rate limit's rate, capacity and fairness after any SetRate, a dynamic
//     semaphore's bound after any SetBound as its value), and also when it
//     matches those it was created with (so the service that declared it
//     can declare it again at its next start after an operator tuned it
//     live). Anything else is a true conflict: ALREADY_EXISTS naming, field
//     by field, the value now (and the one declared, when another) and the
//     value asked. Progress is not a parameter: a latch counted down is
//     still "declared with" its initial counts, a priority semaphore with
//     the value Reset returns to.
//
// Fences: every instance's fences grow across the life of the shard, also
// when a name is deleted (or evicted) and created again: the registry keeps
// a floor, the highest fence any removed instance granted, and creates new
// instances with max(fence_base, floor) as their base. HighestFence() is
// what the server persists so that the next start can begin above it.
//
// Idle eviction: an instance is evictable when re-creating it with
// GetOrCreate() would give an identical instance, that is when
//   - its configuration is the default of its kind (so rate limiters and
//     latches, which have none, are never evicted; a semaphore declared with
//     a value other than 1 is never evicted, explicit declaration or not),
//   - and it has no holder, no waiter, and default state (a semaphore whose
//     bound or pool differs from its value is not evictable),
// and it has not been used for Options::idle_eviction. "Used" means touched:
// Declare() and GetOrCreate() touch the instance they return, and the service
// calls Touch() for every other operation (releases included). A sweep runs
// every idle_eviction / 4: it touches every busy instance (so one that was
// busy recently is never evicted) and evicts the idle ones, so an instance
// goes between idle_eviction and 1.25 * idle_eviction after its last use.
// Sweeps keep to a fixed grid (one period apart from the first one armed),
// whatever the delays of the loop.
// A sweep is O(instances); an idle_eviction of zero or less, or infinite,
// disables eviction.
//
// Pointers: an Instance* stays valid until Delete() of its name or until a
// sweep evicts it; a sweep only runs from the loop (a timer), and never
// evicts a busy instance, so the pointer is safe for the duration of one
// operation and for as long as its caller holds or waits on the instance.
//
// Example:
//   Registry registry(&loop, /*fence_base=*/epoch << 32, {});
//   registry.set_revocation_callback(
//       [](std::string_view name, const Revocation& r) { ...tell holder });
//   BATON_ASSIGN_OR_RETURN(Instance* instance,
//                          registry.GetOrCreate("jobs", Kind::kPriorityLock));
//   co_await instance->As<PriorityLock>()->Acquire(options);
//
// Threading: a Registry and its instances are confined to the thread of the
// shard's EventLoop.

#ifndef BATON_SERVER_CORE_REGISTRY_H_
#define BATON_SERVER_CORE_REGISTRY_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/core/dynamic_bounded_semaphore.h"
#include "server/core/keyed_condition.h"
#include "server/core/multi_count_down_latch.h"
#include "server/core/primitive.h"
#include "server/core/priority_mutex.h"
#include "server/core/priority_semaphore.h"
#include "server/core/rate_limiter.h"
#include "server/runtime/event_loop.h"
#include "server/runtime/shard_set.h"
#include "server/runtime/timer_heap.h"

namespace baton::core {

// The eight kinds of instance, as the seed names them.
enum class Kind : std::uint8_t {
  kAdvancedRateLimit,
  kDynamicBoundedSemaphore,
  kKeyedCondition,
  kMultiCountDownLatch,
  kPriorityLock,
  kPriorityRLock,
  kPrioritySemaphore,
  kRLock,
};

inline constexpr std::size_t kKindCount = 8;  // the kinds above

// KindName() is the seed's name of `kind`, e.g. "PriorityLock".
std::string_view KindName(Kind kind);

// ParseKind() is the inverse of KindName() (exact, case-sensitive);
// INVALID_ARGUMENT listing the kinds for anything else.
absl::StatusOr<Kind> ParseKind(std::string_view name);

// What an instance is: its kind and the parameters of that kind. Fields of
// other kinds are ignored (neither validated nor compared).
struct InstanceConfig {
  Kind kind = Kind::kPriorityLock;

  // kAdvancedRateLimit: rate, capacity (absent: equal to rate) and fairness.
  RateLimiter::Options rate_limit;

  // kDynamicBoundedSemaphore, kPrioritySemaphore: the initial value.
  std::int64_t value = 1;

  // kMultiCountDownLatch: the counters.
  MultiCountDownLatch::Counts counts;

  // Default() is the configuration GetOrCreate() implies for `kind`, or
  // nullopt for the kinds that must be declared (rate limit, latch).
  static std::optional<InstanceConfig> Default(Kind kind);

  // Equality compares the kind and the effective parameters of that kind
  // (see the file comment).
  friend bool operator==(const InstanceConfig& a, const InstanceConfig& b);
};

// ValidateConfig() is OK when `config` can create an instance, else
// INVALID_ARGUMENT naming the field and its limit (each primitive's own
// Validate()).
absl::Status ValidateConfig(const InstanceConfig& config);

// DescribeConfig() renders the kind and parameters for messages, e.g.
// "AdvancedRateLimit(rate=10, capacity=10, fair=true)",
// "MultiCountDownLatch(counts={a: 3, b: 0})", "PriorityLock".
std::string DescribeConfig(const InstanceConfig& config);

// One holder of an instance, for inspection.
struct HolderSnapshot {
  std::uint64_t session_id = 0;
  std::string owner_key;  // empty for semaphore permits (held by sessions)
  // Lock: acquisitions not yet released (reentrant depth). Semaphore: the
  // number of permits the session holds.
  std::int64_t count = 0;
  std::uint64_t fence = 0;  // of the latest grant
};

// A snapshot of an instance's state (Instance::Describe()).
struct InstanceSnapshot {
  std::string name;
  InstanceConfig config;  // the live configuration (Instance::LiveConfig())
  absl::Time last_used;
  std::uint64_t last_fence = 0;
  bool locked = false;  // locks and the condition's lock; semaphores, rate
                        // limits: an acquire would wait now
  std::vector<HolderSnapshot> holders;
  // Every pending wait. For a condition: its Wait()s still waiting for a
  // notify, its WaitAll()s and the waits queued for its lock. For a latch:
  // its Wait()s plus its WaitAll()s.
  std::size_t waiter_count = 0;

  struct RateLimit {
    double rate = 0;
    double capacity = 0;
    double tokens = 0;
    bool fair = true;
  };
  std::optional<RateLimit> rate_limit;

  struct Semaphore {
    // DynamicBoundedSemaphore: the current bound. PrioritySemaphore: the
    // pool (value plus permits added by non-strict releases).
    std::int64_t bound = 0;
    std::int64_t available = 0;  // may be negative after a bound decrease
    std::int64_t held = 0;
  };
  std::optional<Semaphore> semaphore;

  struct Latch {
    MultiCountDownLatch::Counts counts;  // the current counts
    bool broken = false;
  };
  std::optional<Latch> latch;
};

class Registry;

// Instance is one named primitive of a shard: its name, the configuration it
// was created with, and the primitive itself.
//
// An idle instance is what a million locks cost, so an instance is one heap
// block: the primitive, this header and the name's bytes (Instance::Of<P>
// derives from both P and Instance; the name follows it). Only the kinds
// with parameters keep their InstanceConfig; the others share a default.
//
// Threading: confined to the shard's EventLoop thread, like its registry.
class Instance {
 public:
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  std::string_view name() const {
    return {reinterpret_cast<const char*>(this) + name_offset_, name_size_};
  }
  Kind kind() const { return kind_; }
  // config() is the configuration the instance was created with.
  const InstanceConfig& config() const;
  // LiveConfig() is the configuration now: config() with the live changes
  // (a rate limiter's rate, capacity and fairness; a dynamic semaphore's
  // bound as its value). What Declare() compares with, besides config().
  InstanceConfig LiveConfig() const;
  absl::Time last_used() const { return absl::FromUnixNanos(last_used_nanos_); }

  // primitive() is the primitive, whatever its kind.
  Primitive* primitive() const;

  // As<T>() is the primitive as a T (RateLimiter, DynamicBoundedSemaphore,
  // KeyedCondition, MultiCountDownLatch, PriorityLock, PriorityRLock,
  // PrioritySemaphore, RLock), or nullptr when it is of another kind.
  template <typename T>
  T* As() const {
    if (kind_ != Of<T>::kKind) return nullptr;
    return static_cast<Of<T>*>(const_cast<Instance*>(this));
  }

  // last_fence() is the last fence the instance granted (for a condition,
  // its lock's), or the base it was created with.
  std::uint64_t last_fence() const;

  // Busy() is true while the instance has a holder or a waiter.
  bool Busy() const;

  // Evictable() is true when the instance is not busy and its configuration
  // and state are the defaults of its kind (see the Registry comment), or,
  // for a rate limit marked EvictWhenFull(), when its bucket is full. It
  // does not look at the time.
  bool Evictable() const;

  // EvictWhenFull() marks a rate limit that its creator makes again, with
  // the same parameters, whenever it is needed (the buckets of the Envoy
  // rate-limit service, one per client address or path): once idle and
  // full, it holds nothing a re-creation would not, so it may be evicted.
  void EvictWhenFull() { evict_when_full_ = true; }
  bool evict_when_full() const { return evict_when_full_; }

  // kept() is true when the server keeps the instance's state in its store
  // (server/service/kept_state.h): set by the service's hook, and read by
  // the registry's eviction hooks (Registry::set_eviction_hooks()).
  bool kept() const { return kept_; }
  void set_kept() { kept_ = true; }

  // Describe() takes a snapshot of the instance's state.
  InstanceSnapshot Describe() const;

 private:
  friend class Registry;
  template <typename P>
  class Of;
  struct Deleter {
    void operator()(Instance* instance) const;
  };
  using Ptr = std::unique_ptr<Instance, Deleter>;

  Instance(Kind kind, std::size_t name_size, absl::Time now)
      : last_used_nanos_(absl::ToUnixNanos(now)),
        name_size_(static_cast<std::uint16_t>(name_size)),
        kind_(kind) {}
  ~Instance() = default;

  // Create() makes the instance `name` of `config`, its primitive built from
  // `args`.
  template <typename P, typename... Args>
  static Ptr Create(std::string_view name, const InstanceConfig& config,
                    absl::Time now, Args&&... args);
  // Visit() calls `fn` with the instance as the Of<P> of its kind.
  template <typename Fn>
  decltype(auto) Visit(Fn&& fn) const;

  void Touch(absl::Time now) { last_used_nanos_ = absl::ToUnixNanos(now); }

  std::int64_t last_used_nanos_;
  std::uint16_t name_size_;
  std::uint16_t name_offset_ = 0;  // from `this` to the name's bytes
  Kind kind_;
  bool evict_when_full_ = false;  // in the padding after kind_
  bool kept_ = false;             // likewise
};

// Instance::Of<P> is an instance whose primitive is a P; the name's bytes
// follow it in the same block. Kinds with parameters keep their config.
template <typename P>
class Instance::Of final : public P, public Instance {
 public:
  static constexpr Kind kKind =
      std::is_same_v<P, RateLimiter>               ? Kind::kAdvancedRateLimit
      : std::is_same_v<P, DynamicBoundedSemaphore> ? Kind::kDynamicBoundedSemaphore
      : std::is_same_v<P, KeyedCondition>          ? Kind::kKeyedCondition
      : std::is_same_v<P, MultiCountDownLatch>     ? Kind::kMultiCountDownLatch
      : std::is_same_v<P, PriorityLock>            ? Kind::kPriorityLock
      : std::is_same_v<P, PriorityRLock>           ? Kind::kPriorityRLock
      : std::is_same_v<P, PrioritySemaphore>       ? Kind::kPrioritySemaphore
                                                   : Kind::kRLock;
  static constexpr bool kHasParameters =
      kKind == Kind::kAdvancedRateLimit || kKind == Kind::kDynamicBoundedSemaphore ||
      kKind == Kind::kMultiCountDownLatch || kKind == Kind::kPrioritySemaphore;
  struct NoParameters {
    explicit NoParameters(const InstanceConfig&) {}
  };
  using Parameters = std::conditional_t<kHasParameters, InstanceConfig, NoParameters>;

  template <typename... Args>
  Of(const InstanceConfig& config, std::size_t name_size, absl::Time now, Args&&... args)
      : P(std::forward<Args>(args)...),
        Instance(config.kind, name_size, now),
        parameters(config) {}

  [[no_unique_address]] const Parameters parameters;
};

class Registry {
 public:
  struct Options {
    // How long an evictable instance must go unused before it is evicted;
    // zero, negative or infinite: never.
    absl::Duration idle_eviction = absl::Minutes(10);
    // The most instances the shard holds; creating one more is
    // RESOURCE_EXHAUSTED.
    std::size_t max_instances = 1'000'000;
  };

  // One page of List().
  struct ListEntry {
    std::string name;
    Kind kind = Kind::kPriorityLock;
  };
  struct ListPage {
    std::vector<ListEntry> entries;  // by name, lexicographic (bytewise)
    // Pass it back to get the next page; empty when there is none.
    std::string next_page_token;
  };
  static constexpr int kDefaultPageSize = 100;
  static constexpr int kMaxPageSize = 1000;

  // RevocationCallback receives every hold taken away from a holder of any
  // instance (Delete, a semaphore's Reset), with the instance's name. It
  // must not call back into the registry.
  using RevocationCallback =
      absl::AnyInvocable<void(std::string_view name, const Revocation&)>;

  // `fence_base`: every instance's fences are larger than this (the server
  // derives it from a persisted epoch).
  Registry(runtime::EventLoop* loop, std::uint64_t fence_base);
  Registry(runtime::EventLoop* loop, std::uint64_t fence_base, Options options);
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;
  // The destructor closes every instance (ABORTED "shard shutting down"),
  // reporting the holds it revokes, then destroys them.
  ~Registry();

  // Declare() creates `name` with `config`, or returns the existing instance
  // when its live configuration (LiveConfig()) or the configuration it was
  // created with (config()) equals `config`.
  // INVALID_ARGUMENT for a bad name or config; ALREADY_EXISTS, naming the
  // existing kind and parameters and each differing field's two values, when
  // they differ; RESOURCE_EXHAUSTED when the shard is full. Touches the
  // instance.
  absl::StatusOr<Instance*> Declare(std::string_view name,
                                    const InstanceConfig& config);

  // GetOrCreate() returns the instance `name` if it is a `kind`, or creates
  // it with the defaults of `kind` (see the file comment). Touches it.
  absl::StatusOr<Instance*> GetOrCreate(std::string_view name, Kind kind);
  // GetOrCreateValidated() is GetOrCreate() for a name that passed
  // ValidateName() already (the Session stream checks every request's name
  // on the gRPC thread): the name is not scanned a second time.
  absl::StatusOr<Instance*> GetOrCreateValidated(std::string_view name, Kind kind);
  // The same for a name whose runtime::NameHash() the caller computed
  // already (the Session stream hashes it once, to choose the shard): the
  // name is neither scanned nor hashed again. `hash` must be NameHash(name).
  absl::StatusOr<Instance*> GetOrCreateValidated(std::string_view name, std::uint64_t hash,
                                                 Kind kind);

  // Find() returns the instance `name`, or nullptr. Does not touch it. An
  // instance evicted to a store comes back (see set_eviction_hooks()); a
  // miss on a name that was never evicted costs no call to the hook,
  // unless the store is shared (set_reload_on_any_miss()).
  Instance* Find(std::string_view name) const;
  // Find() of a name whose runtime::NameHash() is `hash`.
  Instance* Find(std::string_view name, std::uint64_t hash) const;
  // FindLoaded() is Find() of what is in memory: it never reloads.
  Instance* FindLoaded(std::string_view name) const;

  // Delete() closes the instance `name` with `reason` (its holders are
  // revoked and reported, its waiters fail with `reason`), then removes it;
  // the name is free again. An instance evicted to a store is brought back
  // first, so it is deleted like any other. An OK `reason` is replaced by ABORTED "instance
  // 'x' deleted". NOT_FOUND when absent, INVALID_ARGUMENT for a bad name.
  absl::Status Delete(std::string_view name, const absl::Status& reason);

  // List() returns the instances whose names start with `prefix` and, if
  // `kind` is set, of that kind, in lexicographic order of their names,
  // after `page_token` (the next_page_token of the previous page; empty for
  // the first). page_size: 0 means kDefaultPageSize, above kMaxPageSize
  // means kMaxPageSize, negative is INVALID_ARGUMENT, as is a page token
  // that does not start with `prefix`. O(log n + names scanned).
  // `visible`, when set, hides the names for which it is false (they are
  // neither listed nor counted in the page). Instances evicted to a store
  // are listed too: eviction frees memory, it does not hide an instance.
  absl::StatusOr<ListPage> List(
      std::string_view prefix, std::optional<Kind> kind, int page_size,
      std::string_view page_token,
      const std::function<bool(std::string_view)>& visible = nullptr) const;

  // Touch() records a use of `instance` now: it is not evicted before
  // idle_eviction from now. The service calls it on every operation.
  void Touch(Instance* instance);

  // Accounting is told of every instance created and removed (the
  // namespace quotas of batond's --auth_file): Created() may refuse a
  // creation (RESOURCE_EXHAUSTED naming the quota), which then does not
  // happen. Called on the shard's thread; must not call back into the
  // registry.
  class Accounting {
   public:
    virtual ~Accounting() = default;
    virtual absl::Status Created(std::string_view name) = 0;
    virtual void Removed(std::string_view name) = 0;
  };
  // set_accounting() sets it for the instances to come (nullptr: none).
  // `accounting` must outlive the registry.
  void set_accounting(Accounting* accounting) { accounting_ = accounting; }

  // Admission is asked before any instance is created (Declare(),
  // GetOrCreate(), a reload after eviction): a cluster's node may create
  // only the names it may grant now (server/cluster/cluster_view.h). An
  // error refuses the creation and is returned as is; OK carries a floor
  // for the new instance's fences (they start above it and above the
  // registry's own floor). Called on the shard's thread; must not call
  // back into the registry.
  class Admission {
   public:
    virtual ~Admission() = default;
    virtual absl::StatusOr<std::uint64_t> Admit(std::string_view name) = 0;
  };
  // set_admission() sets it for the instances to come (nullptr: every
  // creation is admitted, as in a batond that runs alone). `admission`
  // must outlive the registry.
  void set_admission(Admission* admission) { admission_ = admission; }
  // Admissible() is OK when `name` may be created here now (always, without
  // an admission), else the admission's refusal: what a lookup that found
  // nothing answers in a cluster, rather than NOT_FOUND, while the name is
  // not this node's (yet): a redirect, or UNAVAILABLE during a hand-off.
  absl::Status Admissible(std::string_view name) const;

  // ForEach() calls `fn` with every instance, in name order. `fn` must not
  // create or remove instances. O(instances).
  void ForEach(absl::FunctionRef<void(Instance&)> fn) const {
    for (const Instance::Ptr& instance : instances_) fn(*instance);
  }

  // Eviction to a store (server/service/kept_state.h). EvictHook is asked,
  // by a sweep, about an instance idle for idle_eviction, not busy and not
  // Evictable(): true when its state is kept elsewhere (the hook saves it),
  // so that it may leave memory all the same. ReloadHook is called when
  // Find() (hence Declare(), GetOrCreate()) misses a name: it creates the
  // instance again, from what EvictHook kept, if it has it, and returns
  // whether it did. Neither may remove instances.
  // The registry remembers the names (and kinds) it evicted this way, in
  // order, for List(), and calls ReloadHook only for them.
  using EvictHook = absl::AnyInvocable<bool(const Instance&)>;
  using ReloadHook = absl::AnyInvocable<bool(std::string_view name)>;
  void set_eviction_hooks(EvictHook evict, ReloadHook reload) {
    evict_hook_ = std::move(evict);
    reload_hook_ = std::move(reload);
  }
  // set_reload_on_any_miss(true): Find() asks ReloadHook about every name
  // it misses, not only those it evicted (a cluster's node: the store is
  // shared, and a name this node never held may have a record its
  // previous owner kept). The hook is not asked again about a name while
  // it restores that name.
  void set_reload_on_any_miss(bool any) { reload_on_any_miss_ = any; }

  // Stored() is true when `name` was evicted to a store by EvictHook and is
  // not in memory now (Find() would bring it back).
  bool Stored(std::string_view name) const { return stored_.contains(name); }
  std::size_t stored_count() const { return stored_.size(); }

  // set_revocation_callback() sets the callback of every instance, those
  // existing and those to come.
  void set_revocation_callback(RevocationCallback callback) {
    revocation_callback_ = std::move(callback);
  }

  // HighestFence() is the highest fence granted on this shard so far (by
  // live or removed instances), or fence_base: persist it so that the next
  // start's fence_base is not below it. O(instances).
  std::uint64_t HighestFence() const;

  // SweepNow() runs an eviction sweep at once (the timer runs one every
  // idle_eviction / 4) and returns how many instances it evicted.
  std::size_t SweepNow();

  std::size_t size() const { return instances_.size(); }

  // The instances of a shard and their pending waits (as
  // InstanceSnapshot::waiter_count counts them), per kind: index
  // static_cast<std::size_t>(Kind).
  struct KindCounts {
    std::array<std::size_t, kKindCount> instances{};
    std::array<std::size_t, kKindCount> waiters{};
  };
  // AddKindCounts() adds this registry's to `counts`. O(instances), without
  // the allocations of Describe(); for /metrics.
  void AddKindCounts(KindCounts* counts) const;

  const Options& options() const { return options_; }
  std::uint64_t fence_base() const { return fence_base_; }

 private:
  // The timer of the periodic eviction sweep.
  struct SweepTimer final : runtime::TimerNode {
    explicit SweepTimer(Registry* registry) : registry(registry) {}
    void OnTimer() override;
    Registry* const registry;
  };

  // The sink of every instance's revocations.
  class Revocations final : public RevocationSink {
   public:
    explicit Revocations(Registry* registry) : registry_(registry) {}
    void OnRevoked(const Primitive& primitive, const Revocation& revocation) override;

   private:
    Registry* const registry_;
  };

  bool eviction_enabled() const;
  // Create() builds the instance for a validated name and config. With a
  // shared store, a name admitted here only now is first restored from what
  // its previous owner kept (then `*restored_from_store` is set, and the
  // instance is that one, not one of `config`).
  absl::StatusOr<Instance*> Create(std::string_view name, const InstanceConfig& config,
                                   bool* restored_from_store = nullptr);
  // Instances ordered by name, which each keeps itself (the map keeps
  // only pointers).
  struct ByName {
    using is_transparent = void;
    static std::string_view NameOf(const Instance::Ptr& instance) { return instance->name(); }
    static std::string_view NameOf(std::string_view name) { return name; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return NameOf(a) < NameOf(b);
    }
  };
  using InstanceMap = absl::btree_set<Instance::Ptr, ByName>;
  // The same instances by their names' hashes, for the lookups of every
  // request (a few probes, no string compares down a tree): 8-byte slots of
  // pointers, about 10 to 20 bytes per instance with the control bytes.
  // The hash is runtime::NameHash() (FNV-1a, the shard's), mixed so that
  // every bit of it counts in the table's probe sequence and tags.
  struct NameKey {
    std::string_view name;
    std::uint64_t hash;
  };
  struct ByHash {
    using is_transparent = void;
    static std::size_t Mix(std::uint64_t hash) {
      hash ^= hash >> 32;
      hash *= 0x9e3779b97f4a7c15ULL;
      return static_cast<std::size_t>(hash ^ (hash >> 29));
    }
    static std::string_view NameOf(const Instance* instance) { return instance->name(); }
    static std::string_view NameOf(const NameKey& key) { return key.name; }
    std::size_t operator()(const Instance* instance) const {
      return Mix(runtime::NameHash(instance->name()));
    }
    std::size_t operator()(const NameKey& key) const { return Mix(key.hash); }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return NameOf(a) == NameOf(b);
    }
  };
  using HashIndex = absl::flat_hash_set<Instance*, ByHash, ByHash>;

  // Remove() raises the fence floor to the instance's last fence and erases
  // it, returning the next; the instance must be closed.
  InstanceMap::iterator Remove(InstanceMap::iterator it);
  // ArmSweep() arms the sweep timer if eviction is on, instances exist and
  // it is not armed: one period after now, or, after the sweep that was due
  // at `previous`, at the first point of that sweep's grid after now.
  void ArmSweep(std::optional<absl::Time> previous = std::nullopt);

  runtime::EventLoop* const loop_;
  const std::uint64_t fence_base_;
  const Options options_;
  // The highest fence granted by any instance removed so far (at least
  // fence_base_): new instances start above it.
  std::uint64_t fence_floor_;
  RevocationCallback revocation_callback_;
  Accounting* accounting_ = nullptr;
  Admission* admission_ = nullptr;

  EvictHook evict_hook_;
  // Called from Find(), which is const: bringing an evicted instance back
  // is not a change a caller of Find() can tell from its having stayed.
  mutable ReloadHook reload_hook_;
  // Instances evicted through evict_hook_, by name: out of memory, in the
  // store. Find() moves a name back (hence mutable, as reload_hook_).
  mutable absl::btree_map<std::string, Kind, std::less<>> stored_;
  bool reload_on_any_miss_ = false;
  // Reload() asks the reload hook for `name`, marked as reloading.
  bool Reload(std::string_view name) const;
  // While the hook restores a name (its Declare() looks the name up
  // again, which must not reload it a second time).
  mutable bool reloading_ = false;
  Revocations revocations_{this};
  // Ordered, for List(); owns the instances.
  InstanceMap instances_;
  // Every instance of instances_, by hash, for Find().
  HashIndex by_hash_;
  SweepTimer sweep_timer_{this};
};

}  // namespace baton::core

#endif  // BATON_SERVER_CORE_REGISTRY_H_

// Copyright 2026 The Baton Authors.

#include "server/core/registry.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "server/core/instance_name.h"
#include "server/runtime/shard_set.h"
#include "tests/testing/loop_test.h"

namespace baton::core {
namespace {

using ::baton::testing::CodeOf;
using ::baton::testing::LoopTest;
using ::baton::testing::OkNow;
using ::baton::testing::Ready;

constexpr std::uint64_t kFenceBase = 1000;

bool Contains(absl::string_view text, absl::string_view part) {
  return text.find(part) != absl::string_view::npos;
}

#define EXPECT_STATUS(expr, code_, part)                             \
  do {                                                               \
    const absl::Status status_ = (expr);                             \
    EXPECT_EQ(status_.code(), absl::StatusCode::code_) << status_;   \
    EXPECT_TRUE(Contains(status_.message(), part))                   \
        << "'" << status_.message() << "' lacks '" << (part) << "'"; \
  } while (false)

InstanceConfig RateLimit(double rate, std::optional<double> capacity = {},
                         bool fair = true) {
  return InstanceConfig{
      .kind = Kind::kAdvancedRateLimit,
      .rate_limit = {.rate = rate, .capacity = capacity, .fair = fair}};
}

InstanceConfig Semaphore(Kind kind, std::int64_t value) {
  return InstanceConfig{.kind = kind, .value = value};
}

InstanceConfig Latch(MultiCountDownLatch::Counts counts) {
  return InstanceConfig{.kind = Kind::kMultiCountDownLatch,
                        .counts = std::move(counts)};
}

InstanceConfig Plain(Kind kind) { return InstanceConfig{.kind = kind}; }

struct Reported {
  std::string name;
  Revocation revocation;
};

class RegistryTest : public LoopTest {
 protected:
  RegistryTest() {
    registry_->set_revocation_callback(
        [this](std::string_view name, const Revocation& revocation) {
          reported_.push_back({std::string(name), revocation});
        });
  }

  // Remake() replaces the registry with one built with `options`.
  void Remake(Registry::Options options) {
    registry_ = std::make_unique<Registry>(&loop_, kFenceBase, options);
    registry_->set_revocation_callback(
        [this](std::string_view name, const Revocation& revocation) {
          reported_.push_back({std::string(name), revocation});
        });
  }

  // Step() moves the clock by `d` one second at a time, running the loop
  // after each, as a loop on a real clock would (a single Advance() fires
  // every due sweep late, at the new time).
  void Step(absl::Duration d) {
    for (; d >= absl::Seconds(1); d -= absl::Seconds(1)) {
      Advance(absl::Seconds(1));
    }
    Advance(d);
  }

  Instance* MustGet(std::string_view name, Kind kind) {
    absl::StatusOr<Instance*> instance = registry_->GetOrCreate(name, kind);
    EXPECT_TRUE(instance.ok()) << instance.status();
    return instance.ok() ? *instance : nullptr;
  }

  Instance* MustDeclare(std::string_view name, const InstanceConfig& config) {
    absl::StatusOr<Instance*> instance = registry_->Declare(name, config);
    EXPECT_TRUE(instance.ok()) << instance.status();
    return instance.ok() ? *instance : nullptr;
  }

  // Names() lists every name on one page of `prefix`.
  std::vector<std::string> Names(const Registry::ListPage& page) {
    std::vector<std::string> names;
    for (const auto& entry : page.entries) names.push_back(entry.name);
    return names;
  }

  // Acquires `lock` for (s, owner) at once and returns the fence.
  std::uint64_t AcquireNow(PriorityMutex* lock, Session& s,
                           std::string owner = "o") {
    auto a = Launch([&] { return lock->Acquire(Opts(s, owner)); });
    EXPECT_TRUE(OkNow(a));
    return OkNow(a) ? (*a)->grant.fence : 0;
  }

  std::vector<Reported> reported_;
  Session s1_{1}, s2_{2}, s3_{3};
  std::unique_ptr<Registry> registry_ =
      std::make_unique<Registry>(&loop_, kFenceBase);
};

// --- Kinds and configs. ---

TEST(KindTest, NamesRoundTrip) {
  const std::pair<Kind, const char*> kinds[] = {
      {Kind::kAdvancedRateLimit, "AdvancedRateLimit"},
      {Kind::kDynamicBoundedSemaphore, "DynamicBoundedSemaphore"},
      {Kind::kKeyedCondition, "KeyedCondition"},
      {Kind::kMultiCountDownLatch, "MultiCountDownLatch"},
      {Kind::kPriorityLock, "PriorityLock"},
      {Kind::kPriorityRLock, "PriorityRLock"},
      {Kind::kPrioritySemaphore, "PrioritySemaphore"},
      {Kind::kRLock, "RLock"},
  };
  for (const auto& [kind, name] : kinds) {
    EXPECT_EQ(KindName(kind), name);
    absl::StatusOr<Kind> parsed = ParseKind(name);
    ASSERT_TRUE(parsed.ok()) << name;
    EXPECT_EQ(*parsed, kind);
  }
  EXPECT_STATUS(ParseKind("rlock").status(), kInvalidArgument,
                "kind must be one of AdvancedRateLimit");
  EXPECT_STATUS(ParseKind("").status(), kInvalidArgument, "got ''");
}

TEST(InstanceConfigTest, EqualityComparesEffectiveParametersOfTheKind) {
  // An absent capacity is the rate.
  EXPECT_TRUE(RateLimit(10) == RateLimit(10, 10.0));
  EXPECT_FALSE(RateLimit(10) == RateLimit(10, 5.0));
  EXPECT_FALSE(RateLimit(10) == RateLimit(11));
  EXPECT_FALSE(RateLimit(10) == RateLimit(10, {}, /*fair=*/false));
  // Counts <= 0 are all "finished".
  EXPECT_TRUE(Latch({{"a", 0}, {"b", 3}}) == Latch({{"a", -4}, {"b", 3}}));
  EXPECT_FALSE(Latch({{"a", 1}}) == Latch({{"a", 2}}));
  EXPECT_FALSE(Latch({{"a", 1}}) == Latch({{"b", 1}}));
  EXPECT_FALSE(Latch({{"a", 1}}) == Latch({{"a", 1}, {"b", 1}}));
  // Fields of other kinds are ignored.
  InstanceConfig lock = Plain(Kind::kPriorityLock);
  InstanceConfig lock_with_noise = lock;
  lock_with_noise.value = 7;
  lock_with_noise.rate_limit.rate = 3;
  EXPECT_TRUE(lock == lock_with_noise);
  EXPECT_FALSE(Plain(Kind::kPriorityLock) == Plain(Kind::kRLock));
  EXPECT_FALSE(Semaphore(Kind::kPrioritySemaphore, 1) ==
               Semaphore(Kind::kDynamicBoundedSemaphore, 1));
}

TEST(InstanceConfigTest, DescribeConfig) {
  EXPECT_EQ(DescribeConfig(RateLimit(10)),
            "AdvancedRateLimit(rate=10, capacity=10, fair=true)");
  EXPECT_EQ(DescribeConfig(Semaphore(Kind::kPrioritySemaphore, 3)),
            "PrioritySemaphore(value=3)");
  EXPECT_EQ(DescribeConfig(Latch({{"b", 5}, {"a", -1}})),
            "MultiCountDownLatch(counts={a: 0, b: 5})");
  EXPECT_EQ(DescribeConfig(Plain(Kind::kRLock)), "RLock");
}

// --- Declare. ---

// An idle lock is what a million instances cost (issue 6): one block of
// the lock, the instance header and the name. Keep it from growing back
// unnoticed. The figures are for 64-bit libstdc++.
TEST(InstanceSizeTest, AnIdleLockStaysSmall) {
  if (sizeof(void*) != 8 || sizeof(std::string) != 32) GTEST_SKIP();
  EXPECT_LE(sizeof(PriorityLock), 120u);
  EXPECT_LE(sizeof(Primitive), 48u);
}

TEST_F(RegistryTest, EveryKindKeepsItsNameConfigAndPrimitive) {
  const std::string long_name(kMaxNameBytes, 'n');
  RateLimiter::Options rate{.rate = 5, .capacity = 7, .fair = false};
  const std::vector<InstanceConfig> configs = {
      {.kind = Kind::kAdvancedRateLimit, .rate_limit = rate},
      {.kind = Kind::kDynamicBoundedSemaphore, .value = 3},
      {.kind = Kind::kKeyedCondition},
      {.kind = Kind::kMultiCountDownLatch, .counts = {{"a", 2}}},
      {.kind = Kind::kPriorityLock},
      {.kind = Kind::kPriorityRLock},
      {.kind = Kind::kPrioritySemaphore, .value = 4},
      {.kind = Kind::kRLock},
  };
  for (const InstanceConfig& config : configs) {
    for (const std::string& name :
         {std::string(KindName(config.kind)), std::string(KindName(config.kind)) + long_name}) {
      const std::string unique = name.substr(0, kMaxNameBytes);
      Instance* instance = MustDeclare(unique, config);
      ASSERT_NE(instance, nullptr);
      EXPECT_EQ(instance->name(), unique);
      EXPECT_EQ(instance->kind(), config.kind);
      EXPECT_EQ(instance->config(), config);
      EXPECT_EQ(instance->config().kind, config.kind);
      EXPECT_EQ(registry_->Find(unique), instance);
      EXPECT_NE(instance->primitive(), nullptr);
    }
  }
  EXPECT_EQ(registry_->Find("Priority"), nullptr);
  Instance* lock = registry_->Find("PriorityLock");
  ASSERT_NE(lock, nullptr);
  EXPECT_EQ(static_cast<Primitive*>(lock->As<PriorityLock>()), lock->primitive());
  EXPECT_EQ(lock->As<PriorityRLock>(), nullptr);
  EXPECT_EQ(lock->As<RateLimiter>(), nullptr);
  Instance* limiter = registry_->Find("AdvancedRateLimit");
  ASSERT_NE(limiter, nullptr);
  EXPECT_EQ(static_cast<Primitive*>(limiter->As<RateLimiter>()), limiter->primitive());
  EXPECT_EQ(limiter->config().rate_limit.capacity, 7);
  EXPECT_FALSE(limiter->config().rate_limit.fair);
  EXPECT_EQ(registry_->size(), 2 * configs.size());
}

TEST_F(RegistryTest, DeclareIsIdempotentForEqualConfigs) {
  Instance* lock = MustDeclare("lock", Plain(Kind::kPriorityLock));
  ASSERT_NE(lock, nullptr);
  EXPECT_EQ(MustDeclare("lock", Plain(Kind::kPriorityLock)), lock);
  Instance* sem = MustDeclare("sem", Semaphore(Kind::kPrioritySemaphore, 3));
  EXPECT_EQ(MustDeclare("sem", Semaphore(Kind::kPrioritySemaphore, 3)), sem);
  Instance* limit = MustDeclare("limit", RateLimit(10));
  EXPECT_EQ(MustDeclare("limit", RateLimit(10, 10.0)), limit);
  Instance* latch = MustDeclare("latch", Latch({{"a", 2}, {"b", 0}}));
  EXPECT_EQ(MustDeclare("latch", Latch({{"a", 2}, {"b", 0}})), latch);
  EXPECT_EQ(registry_->size(), 4u);
  EXPECT_EQ(lock->As<PriorityLock>(), lock->primitive());
  EXPECT_EQ(lock->As<RLock>(), nullptr);
  EXPECT_EQ(sem->As<PrioritySemaphore>()->value(), 3);
  EXPECT_EQ(limit->As<RateLimiter>()->rate(), 10);
  EXPECT_EQ(latch->As<MultiCountDownLatch>()->count("a"), 2);
}

TEST_F(RegistryTest, DeclareIdempotencyComparesTheDeclaredNotTheCurrentState) {
  Instance* latch = MustDeclare("latch", Latch({{"a", 2}}));
  ASSERT_TRUE(latch->As<MultiCountDownLatch>()->CountDown("a").ok());
  EXPECT_EQ(MustDeclare("latch", Latch({{"a", 2}})), latch);
  EXPECT_EQ(latch->As<MultiCountDownLatch>()->count("a"), 1);  // untouched
}

TEST_F(RegistryTest, DeclareWithAnotherKindFailsAndReplacesNothing) {
  Instance* lock = MustDeclare("x", Plain(Kind::kPriorityLock));
  const std::uint64_t fence = AcquireNow(lock->As<PriorityLock>(), s1_);
  EXPECT_STATUS(registry_->Declare("x", Plain(Kind::kRLock)).status(),
                kAlreadyExists,
                "name 'x' already exists as PriorityLock; cannot declare it "
                "as RLock");
  EXPECT_EQ(registry_->Find("x"), lock);
  EXPECT_EQ(lock->As<PriorityLock>()->holder()->fence, fence);
  EXPECT_TRUE(reported_.empty());
}

TEST_F(RegistryTest, DeclareWithOtherParametersFails) {
  MustDeclare("sem", Semaphore(Kind::kDynamicBoundedSemaphore, 2));
  EXPECT_STATUS(
      registry_->Declare("sem", Semaphore(Kind::kDynamicBoundedSemaphore, 3))
          .status(),
      kAlreadyExists,
      "already exists as DynamicBoundedSemaphore(value=2); cannot declare it "
      "as DynamicBoundedSemaphore(value=3)");
  MustDeclare("limit", RateLimit(10));
  EXPECT_STATUS(registry_->Declare("limit", RateLimit(10, 20.0)).status(),
                kAlreadyExists, "capacity=10");
  EXPECT_STATUS(registry_->Declare("limit", RateLimit(5)).status(),
                kAlreadyExists, "rate=5");
  EXPECT_STATUS(registry_->Declare("limit", RateLimit(10, {}, false)).status(),
                kAlreadyExists, "fair=false");
  MustDeclare("latch", Latch({{"a", 1}}));
  EXPECT_STATUS(registry_->Declare("latch", Latch({{"a", 2}})).status(),
                kAlreadyExists, "counts={a: 1}");
  EXPECT_EQ(registry_->Find("sem")->As<DynamicBoundedSemaphore>()->bound(), 2);
  EXPECT_EQ(registry_->Find("limit")->As<RateLimiter>()->rate(), 10);
  EXPECT_EQ(registry_->size(), 3u);
}

// Declared versus live values: a declaration is compared with what the
// instance is now (what Describe shows), never with what it was created with.
TEST_F(RegistryTest, DeclareAfterSetBoundComparesWithTheLiveBound) {
  Instance* sem = MustDeclare("downstream/db", Semaphore(Kind::kDynamicBoundedSemaphore, 4));
  auto* semaphore = sem->As<DynamicBoundedSemaphore>();
  ASSERT_TRUE(semaphore->SetBound(8).ok());
  EXPECT_EQ(sem->Describe().config.value, 8);
  // As Describe shows it: a no-op, the same instance, nothing changed.
  EXPECT_EQ(MustDeclare("downstream/db", Semaphore(Kind::kDynamicBoundedSemaphore, 8)), sem);
  EXPECT_EQ(semaphore->bound(), 8);
  EXPECT_EQ(semaphore->available(), 8);
  // As created: also a no-op (the declaring service restarts), nothing
  // changed: the live bound stays.
  EXPECT_EQ(MustDeclare("downstream/db", Semaphore(Kind::kDynamicBoundedSemaphore, 4)), sem);
  EXPECT_EQ(semaphore->bound(), 8);
  // Neither: a conflict naming the value now, the one declared and the one
  // asked.
  EXPECT_STATUS(
      registry_->Declare("downstream/db", Semaphore(Kind::kDynamicBoundedSemaphore, 5)).status(),
      kAlreadyExists,
      "name 'downstream/db' already exists as DynamicBoundedSemaphore(value=8); cannot "
      "declare it as DynamicBoundedSemaphore(value=5): value is 8 now (its bound; declared "
      "4), asked 5");
  EXPECT_EQ(semaphore->bound(), 8);
  EXPECT_EQ(registry_->size(), 1u);
}

TEST_F(RegistryTest, DeclareAfterSetRateComparesWithTheLiveRateAndCapacity) {
  Instance* limit = MustDeclare("api/limit", RateLimit(1, 1.0));
  auto* limiter = limit->As<RateLimiter>();
  ASSERT_TRUE(limiter->SetRate(5).ok());  // capacity becomes max(1, 5)
  EXPECT_EQ(limit->Describe().config.rate_limit.rate, 5);
  EXPECT_EQ(limit->Describe().config.rate_limit.capacity, 5);
  EXPECT_EQ(MustDeclare("api/limit", RateLimit(5)), limit);
  EXPECT_EQ(MustDeclare("api/limit", RateLimit(5, 5.0, true)), limit);
  EXPECT_EQ(MustDeclare("api/limit", RateLimit(1, 1.0)), limit);  // as created
  EXPECT_STATUS(registry_->Declare("api/limit", RateLimit(3, 3.0)).status(), kAlreadyExists,
                "rate is 5 now (declared 1), asked 3; capacity is 5 now (declared 1), asked 3");
  EXPECT_STATUS(registry_->Declare("api/limit", RateLimit(5, 7.0)).status(), kAlreadyExists,
                ": capacity is 5 now (declared 1), asked 7");
  EXPECT_STATUS(registry_->Declare("api/limit", RateLimit(5, {}, false)).status(),
                kAlreadyExists, ": fair is true, asked false");
  // A rate lowered below the capacity keeps the capacity: the asked
  // capacity, absent, follows the rate asked, and the message says so.
  ASSERT_TRUE(limiter->SetRate(2).ok());
  EXPECT_EQ(MustDeclare("api/limit", RateLimit(2, 5.0)), limit);
  EXPECT_STATUS(registry_->Declare("api/limit", RateLimit(2)).status(), kAlreadyExists,
                ": capacity is 5 now (declared 1), asked 2 (absent: equal to the rate asked)");
  EXPECT_EQ(limiter->rate(), 2);
  EXPECT_EQ(limiter->capacity(), 5);
}

TEST_F(RegistryTest, ALatchConflictNamesEachKeyWithBothCounts) {
  MustDeclare("latch", Latch({{"a", 1}, {"b", 2}}));
  EXPECT_STATUS(registry_->Declare("latch", Latch({{"a", 3}, {"c", 1}})).status(),
                kAlreadyExists,
                ": counts[\"a\"] was declared 1, asked 3; counts[\"b\"] was declared 2, not "
                "asked; counts[\"c\"] was not declared, asked 1");
}

TEST_F(RegistryTest, NegativeLatchCountsAreRefused) {
  EXPECT_STATUS(registry_->Declare("l", Latch({{"db", -1}})).status(), kInvalidArgument,
                "counts[\"db\"] must be >= 0");
  EXPECT_EQ(registry_->size(), 0u);
}

TEST_F(RegistryTest, DeclareOfAnImpliedInstanceWithItsDefaultsIsANoOp) {
  Instance* sem = MustGet("sem", Kind::kPrioritySemaphore);
  EXPECT_EQ(MustDeclare("sem", Semaphore(Kind::kPrioritySemaphore, 1)), sem);
  EXPECT_EQ(registry_->Declare("sem", Semaphore(Kind::kPrioritySemaphore, 2))
                .status()
                .code(),
            absl::StatusCode::kAlreadyExists);
}

// --- GetOrCreate. ---

TEST_F(RegistryTest, GetOrCreateImpliesTheSeedDefaults) {
  for (Kind kind : {Kind::kPriorityLock, Kind::kPriorityRLock, Kind::kRLock,
                    Kind::kKeyedCondition, Kind::kDynamicBoundedSemaphore,
                    Kind::kPrioritySemaphore}) {
    const std::string name(KindName(kind));
    Instance* instance = MustGet(name, kind);
    ASSERT_NE(instance, nullptr);
    EXPECT_EQ(instance->kind(), kind);
    EXPECT_TRUE(instance->config() == *InstanceConfig::Default(kind));
    EXPECT_EQ(MustGet(name, kind), instance);  // the same one again
    EXPECT_EQ(instance->last_fence(), kFenceBase);
  }
  EXPECT_EQ(registry_->Find("DynamicBoundedSemaphore")
                ->As<DynamicBoundedSemaphore>()
                ->bound(),
            1);
  EXPECT_EQ(registry_->Find("PrioritySemaphore")
                ->As<PrioritySemaphore>()
                ->available(),
            1);
  EXPECT_FALSE(registry_->Find("PriorityRLock")->As<PriorityRLock>() ==
               nullptr);
  EXPECT_TRUE(registry_->Find("RLock")->As<RLock>()->reentrant());
  EXPECT_FALSE(
      registry_->Find("PriorityLock")->As<PriorityLock>()->reentrant());
  EXPECT_EQ(registry_->size(), 6u);
}

TEST_F(RegistryTest, GetOrCreateRefusesAnotherKind) {
  MustGet("x", Kind::kPriorityLock);
  EXPECT_STATUS(registry_->GetOrCreate("x", Kind::kRLock).status(),
                kFailedPrecondition, "name 'x' is a PriorityLock, not a RLock");
  EXPECT_EQ(registry_->Find("x")->kind(), Kind::kPriorityLock);
}

TEST_F(RegistryTest, GetOrCreateCannotImplyARateLimitOrALatch) {
  EXPECT_STATUS(
      registry_->GetOrCreate("limit", Kind::kAdvancedRateLimit).status(),
      kNotFound, "declare it first with its rate");
  EXPECT_STATUS(
      registry_->GetOrCreate("latch", Kind::kMultiCountDownLatch).status(),
      kNotFound, "declare it first with its counts");
  EXPECT_EQ(registry_->size(), 0u);
  Instance* limit = MustDeclare("limit", RateLimit(4));
  EXPECT_EQ(MustGet("limit", Kind::kAdvancedRateLimit), limit);
  Instance* latch = MustDeclare("latch", Latch({{"k", 1}}));
  EXPECT_EQ(MustGet("latch", Kind::kMultiCountDownLatch), latch);
}

// --- Bad input. ---

TEST_F(RegistryTest, InvalidNamesAreRefusedEverywhere) {
  const std::string bad_names[] = {"", std::string(257, 'n'), "a\nb",
                                   "\xC0\xAF", "\xED\xA0\x80"};
  for (const std::string& name : bad_names) {
    EXPECT_EQ(
        registry_->Declare(name, Plain(Kind::kPriorityLock)).status().code(),
        absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(registry_->GetOrCreate(name, Kind::kRLock).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(registry_->Delete(name, absl::AbortedError("x")).code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(registry_->Find(name), nullptr);
  }
  EXPECT_STATUS(
      registry_->GetOrCreate(std::string(300, 'n'), Kind::kRLock).status(),
      kInvalidArgument, "name must be at most 256 bytes, got 300");
  EXPECT_EQ(registry_->size(), 0u);
  EXPECT_TRUE(registry_->GetOrCreate(std::string(256, 'n'), Kind::kRLock).ok());
}

TEST_F(RegistryTest, InvalidParametersNameTheField) {
  EXPECT_STATUS(registry_->Declare("r", RateLimit(0)).status(),
                kInvalidArgument, "rate must be finite and > 0, got 0");
  EXPECT_STATUS(
      registry_
          ->Declare("r", RateLimit(std::numeric_limits<double>::infinity()))
          .status(),
      kInvalidArgument, "rate must be finite");
  EXPECT_STATUS(registry_->Declare("r", RateLimit(1, -2.0)).status(),
                kInvalidArgument, "capacity must be finite and > 0, got -2");
  EXPECT_STATUS(
      registry_->Declare("s", Semaphore(Kind::kDynamicBoundedSemaphore, -1))
          .status(),
      kInvalidArgument, "value must be >= 0, got -1");
  EXPECT_STATUS(
      registry_->Declare("s", Semaphore(Kind::kPrioritySemaphore, -5)).status(),
      kInvalidArgument, "value must be >= 0, got -5");
  EXPECT_STATUS(registry_->Declare("l", Latch({{"", 3}})).status(),
                kInvalidArgument, "counts: every key must be non-empty");
  EXPECT_EQ(registry_->size(), 0u);
  // A bad config for an existing name is a bad config, not a conflict.
  MustDeclare("s", Semaphore(Kind::kPrioritySemaphore, 1));
  EXPECT_EQ(registry_->Declare("s", Semaphore(Kind::kPrioritySemaphore, -1))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(RegistryTest, MaxInstancesIsEnforced) {
  Remake({.max_instances = 2});
  Instance* a = MustGet("a", Kind::kPriorityLock);
  MustDeclare("b", RateLimit(1));
  EXPECT_STATUS(registry_->GetOrCreate("c", Kind::kPriorityLock).status(),
                kResourceExhausted,
                "instances per shard must be at most 2; cannot create 'c'");
  EXPECT_EQ(registry_->Declare("c", Plain(Kind::kRLock)).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(registry_->size(), 2u);
  // Existing names still work when full.
  EXPECT_EQ(MustGet("a", Kind::kPriorityLock), a);
  EXPECT_TRUE(registry_->Declare("b", RateLimit(1)).ok());
  ASSERT_TRUE(registry_->Delete("a", absl::AbortedError("gone")).ok());
  EXPECT_TRUE(registry_->GetOrCreate("c", Kind::kPriorityLock).ok());
}

// --- Delete. ---

TEST_F(RegistryTest, DeleteRevokesTheHolderAndFailsTheWaiters) {
  Instance* instance = MustGet("jobs", Kind::kPriorityLock);
  PriorityLock* lock = instance->As<PriorityLock>();
  const std::uint64_t fence = AcquireNow(lock, s1_, "w1");
  auto waiter = Launch([&] { return lock->Acquire(Opts(s2_, "w2")); });
  Settle();
  ASSERT_FALSE(Ready(waiter));

  const absl::Status reason = absl::UnavailableError("jobs deleted by admin");
  ASSERT_TRUE(registry_->Delete("jobs", reason).ok());
  ASSERT_EQ(reported_.size(), 1u);
  EXPECT_EQ(reported_[0].name, "jobs");
  EXPECT_EQ(reported_[0].revocation.session_id, 1u);
  EXPECT_EQ(reported_[0].revocation.owner_key, "w1");
  EXPECT_EQ(reported_[0].revocation.fence, fence);
  EXPECT_EQ(reported_[0].revocation.reason, reason);
  Settle();
  ASSERT_TRUE(Ready(waiter));
  EXPECT_EQ((*waiter)->status, reason);
  EXPECT_EQ(registry_->Find("jobs"), nullptr);
  EXPECT_EQ(registry_->size(), 0u);
  EXPECT_FALSE(s1_.has_holds());
  EXPECT_FALSE(s2_.has_waiters());

  // The name is free for another kind.
  Instance* again = MustDeclare("jobs", Semaphore(Kind::kPrioritySemaphore, 2));
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->kind(), Kind::kPrioritySemaphore);
}

TEST_F(RegistryTest, DeleteRevokesSemaphorePermitsAndConditionWaits) {
  PrioritySemaphore* sem =
      MustGet("sem", Kind::kPrioritySemaphore)->As<PrioritySemaphore>();
  auto permit = Launch([&] { return sem->Acquire(Opts(s1_)); });
  ASSERT_TRUE(OkNow(permit));
  KeyedCondition* cond =
      MustGet("cond", Kind::kKeyedCondition)->As<KeyedCondition>();
  auto lock = Launch([&] { return cond->Acquire(Opts(s2_)); });
  ASSERT_TRUE(OkNow(lock));
  auto wait = LaunchTask([&] { return cond->Wait(Opts(s2_), "k"); });
  Settle();
  ASSERT_FALSE(Ready(wait));

  ASSERT_TRUE(registry_->Delete("sem", absl::AbortedError("bye")).ok());
  ASSERT_EQ(reported_.size(), 1u);
  EXPECT_EQ(reported_[0].name, "sem");
  EXPECT_EQ(reported_[0].revocation.session_id, 1u);
  EXPECT_EQ(reported_[0].revocation.owner_key, "");
  EXPECT_EQ(reported_[0].revocation.fence, (*permit)->grant.fence);

  ASSERT_TRUE(registry_->Delete("cond", absl::AbortedError("bye")).ok());
  Settle();
  ASSERT_TRUE(Ready(wait));
  EXPECT_EQ((*wait)->status, absl::AbortedError("bye"));
  EXPECT_EQ(registry_->size(), 0u);
}

TEST_F(RegistryTest, DeleteWithAnOkReasonStillFailsWaiters) {
  PriorityLock* lock = MustGet("l", Kind::kPriorityLock)->As<PriorityLock>();
  AcquireNow(lock, s1_);
  auto waiter = Launch([&] { return lock->Acquire(Opts(s2_)); });
  ASSERT_TRUE(registry_->Delete("l", absl::OkStatus()).ok());
  Settle();
  ASSERT_TRUE(Ready(waiter));
  EXPECT_EQ(CodeOf(waiter), absl::StatusCode::kAborted);
  EXPECT_TRUE(Contains((*waiter)->status.message(), "instance 'l' deleted"));
  ASSERT_EQ(reported_.size(), 1u);
  EXPECT_EQ(reported_[0].revocation.reason.code(), absl::StatusCode::kAborted);
}

TEST_F(RegistryTest, DeleteOfAnAbsentNameIsNotFound) {
  EXPECT_STATUS(registry_->Delete("nobody", absl::AbortedError("x")), kNotFound,
                "no instance named 'nobody'");
}

TEST_F(RegistryTest, RevocationsOfAResetCarryTheName) {
  PrioritySemaphore* sem =
      MustGet("pool", Kind::kPrioritySemaphore)->As<PrioritySemaphore>();
  auto permit = Launch([&] { return sem->Acquire(Opts(s3_)); });
  ASSERT_TRUE(OkNow(permit));
  ASSERT_TRUE(sem->Reset().ok());
  ASSERT_EQ(reported_.size(), 1u);
  EXPECT_EQ(reported_[0].name, "pool");
  EXPECT_EQ(reported_[0].revocation.session_id, 3u);
}

TEST_F(RegistryTest, DestroyingTheRegistryRevokesAndFails) {
  PriorityLock* lock = MustGet("l", Kind::kPriorityLock)->As<PriorityLock>();
  AcquireNow(lock, s1_);
  auto waiter = Launch([&] { return lock->Acquire(Opts(s2_)); });
  registry_.reset();
  ASSERT_EQ(reported_.size(), 1u);
  EXPECT_EQ(reported_[0].name, "l");
  EXPECT_TRUE(Contains(reported_[0].revocation.reason.message(),
                       "shard shutting down"));
  Settle();
  EXPECT_EQ(CodeOf(waiter), absl::StatusCode::kAborted);
  EXPECT_EQ(loop_.pending_timers(), 0u);
}

// --- List. ---

TEST_F(RegistryTest, ListIsOrderedAndFiltersByPrefixAndKind) {
  MustGet("b/2", Kind::kPriorityLock);
  MustGet("a", Kind::kRLock);
  MustGet("b/10", Kind::kRLock);
  MustGet("b/1", Kind::kPriorityLock);
  MustGet("c", Kind::kPriorityLock);
  MustGet("b", Kind::kKeyedCondition);
  absl::StatusOr<Registry::ListPage> all = registry_->List("", {}, 0, "");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(Names(*all),
            (std::vector<std::string>{"a", "b", "b/1", "b/10", "b/2", "c"}));
  EXPECT_EQ(all->next_page_token, "");
  EXPECT_EQ(all->entries[1].kind, Kind::kKeyedCondition);

  absl::StatusOr<Registry::ListPage> b = registry_->List("b/", {}, 0, "");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(Names(*b), (std::vector<std::string>{"b/1", "b/10", "b/2"}));

  absl::StatusOr<Registry::ListPage> locks =
      registry_->List("", Kind::kPriorityLock, 0, "");
  ASSERT_TRUE(locks.ok());
  EXPECT_EQ(Names(*locks), (std::vector<std::string>{"b/1", "b/2", "c"}));

  absl::StatusOr<Registry::ListPage> b_rlocks =
      registry_->List("b", Kind::kRLock, 0, "");
  ASSERT_TRUE(b_rlocks.ok());
  EXPECT_EQ(Names(*b_rlocks), (std::vector<std::string>{"b/10"}));

  absl::StatusOr<Registry::ListPage> none = registry_->List("z", {}, 0, "");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->entries.empty());
  EXPECT_EQ(none->next_page_token, "");
}

TEST_F(RegistryTest, ListPaginates) {
  for (int i = 0; i < 7; ++i) {
    MustGet(absl::StrCat("p/", i),
            i % 2 == 0 ? Kind::kRLock : Kind::kPriorityLock);
  }
  MustGet("q", Kind::kRLock);
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    absl::StatusOr<Registry::ListPage> page =
        registry_->List("p/", {}, 3, token);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_LE(page->entries.size(), 3u);
    for (const std::string& name : Names(*page)) seen.push_back(name);
    token = page->next_page_token;
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(pages, 3);  // 3 + 3 + 1
  EXPECT_EQ(seen, (std::vector<std::string>{"p/0", "p/1", "p/2", "p/3", "p/4",
                                            "p/5", "p/6"}));

  // With a kind filter, a page that exactly uses up the matches has no
  // next token.
  absl::StatusOr<Registry::ListPage> first =
      registry_->List("p/", Kind::kRLock, 2, "");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(Names(*first), (std::vector<std::string>{"p/0", "p/2"}));
  EXPECT_EQ(first->next_page_token, "p/2");
  absl::StatusOr<Registry::ListPage> second =
      registry_->List("p/", Kind::kRLock, 2, first->next_page_token);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(Names(*second), (std::vector<std::string>{"p/4", "p/6"}));
  EXPECT_EQ(second->next_page_token, "");

  // A name deleted between pages does not break the listing.
  absl::StatusOr<Registry::ListPage> one = registry_->List("p/", {}, 1, "");
  ASSERT_TRUE(one.ok());
  ASSERT_TRUE(registry_->Delete("p/0", absl::AbortedError("x")).ok());
  absl::StatusOr<Registry::ListPage> rest =
      registry_->List("p/", {}, 1, one->next_page_token);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(Names(*rest), (std::vector<std::string>{"p/1"}));
}

TEST_F(RegistryTest, ListPageSizeDefaultsAndLimits) {
  for (int i = 0; i < 1005; ++i) {
    MustGet(absl::StrFormat("n%04d", i), Kind::kPriorityLock);
  }
  absl::StatusOr<Registry::ListPage> by_default =
      registry_->List("", {}, 0, "");
  ASSERT_TRUE(by_default.ok());
  EXPECT_EQ(by_default->entries.size(), 100u);
  EXPECT_EQ(by_default->next_page_token, "n0099");
  absl::StatusOr<Registry::ListPage> capped = registry_->List("", {}, 5000, "");
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(capped->entries.size(), 1000u);
  EXPECT_EQ(capped->next_page_token, "n0999");
  absl::StatusOr<Registry::ListPage> tail =
      registry_->List("", {}, 5000, capped->next_page_token);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(tail->entries.size(), 5u);
  EXPECT_EQ(tail->next_page_token, "");
  EXPECT_STATUS(registry_->List("", {}, -1, "").status(), kInvalidArgument,
                "page_size must be >= 0, got -1");
  EXPECT_STATUS(registry_->List("x/", {}, 10, "n0001").status(),
                kInvalidArgument, "page_token must come from a listing");
}

// --- Eviction. ---

// --- The hash index (the lookups of every request). ---

TEST_F(RegistryTest, LookupsByHashFindWhatTheTreeHoldsThroughCreatesDeletesAndEvictions) {
  // Enough names to make the index grow several times, deleted and made
  // again, evicted and made again: after every step, every name is found
  // by Find(), by Find() with its hash and by GetOrCreateValidated() with
  // its hash, exactly when it lives.
  std::vector<std::string> names;
  for (int i = 0; i < 3000; ++i) names.push_back(absl::StrCat("jobs/", i % 7, "/", i));
  const auto check = [&](const std::set<std::string>& live) {
    for (const std::string& name : names) {
      const std::uint64_t hash = runtime::NameHash(name);
      Instance* found = registry_->Find(name, hash);
      ASSERT_EQ(found, registry_->Find(name)) << name;
      ASSERT_EQ(found != nullptr, live.contains(name)) << name;
      if (found != nullptr) {
        ASSERT_EQ(found->name(), name);
      }
    }
    ASSERT_EQ(registry_->size(), live.size());
  };
  std::set<std::string> live;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    absl::StatusOr<Instance*> made = registry_->GetOrCreateValidated(
        name, runtime::NameHash(name), i % 2 == 0 ? Kind::kPriorityLock : Kind::kRLock);
    ASSERT_TRUE(made.ok()) << made.status();
    ASSERT_EQ((*made)->name(), name);
    live.insert(name);
  }
  check(live);
  // The same name by hash is the same instance; another kind is refused
  // with the message GetOrCreate() gives.
  absl::StatusOr<Instance*> again =
      registry_->GetOrCreateValidated(names[0], runtime::NameHash(names[0]), Kind::kPriorityLock);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, registry_->Find(names[0]));
  absl::StatusOr<Instance*> other =
      registry_->GetOrCreateValidated(names[0], runtime::NameHash(names[0]), Kind::kRLock);
  EXPECT_EQ(other.status(), registry_->GetOrCreate(names[0], Kind::kRLock).status());
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
  // Delete every third name, then make half of those again.
  for (std::size_t i = 0; i < names.size(); i += 3) {
    ASSERT_TRUE(registry_->Delete(names[i], absl::OkStatus()).ok());
    live.erase(names[i]);
  }
  check(live);
  for (std::size_t i = 0; i < names.size(); i += 6) {
    ASSERT_NE(MustGet(names[i], Kind::kPriorityLock), nullptr);
    live.insert(names[i]);
  }
  check(live);
  // Every idle lock is evicted; the index forgets them too.
  Step(absl::Minutes(13));
  check({});
  ASSERT_NE(MustGet(names[5], Kind::kRLock), nullptr);
  check({names[5]});
}

TEST_F(RegistryTest, NamesThatShareTheirHashesLowBitsAreKeptApart) {
  // Names whose hashes agree in their low byte (the table's tag bits come
  // from the mixed hash, not from these) are all found, each as itself.
  std::vector<std::string> same_low_byte;
  for (int i = 0; same_low_byte.size() < 200; ++i) {
    std::string name = absl::StrCat("n", i);
    if ((runtime::NameHash(name) & 0xff) == 0x2a) same_low_byte.push_back(std::move(name));
  }
  for (const std::string& name : same_low_byte) MustGet(name, Kind::kPriorityLock);
  for (const std::string& name : same_low_byte) {
    Instance* found = registry_->Find(name, runtime::NameHash(name));
    ASSERT_NE(found, nullptr) << name;
    EXPECT_EQ(found->name(), name);
  }
  EXPECT_EQ(registry_->Find("n-absent"), nullptr);
}

TEST_F(RegistryTest, IdleDefaultLockIsEvictedAfterTheIdleTimeNotBefore) {
  MustGet("idle", Kind::kPriorityLock);
  Step(absl::Minutes(10) - absl::Seconds(1));
  EXPECT_NE(registry_->Find("idle"), nullptr);
  Step(absl::Seconds(1));
  EXPECT_EQ(registry_->Find("idle"), nullptr);
  EXPECT_EQ(registry_->size(), 0u);
  // No instances left: no sweep timer keeps the loop busy.
  EXPECT_EQ(loop_.pending_timers(), 0u);
}

TEST_F(RegistryTest, TouchPostponesEviction) {
  Instance* instance = MustGet("used", Kind::kRLock);
  Advance(absl::Minutes(5));
  registry_->Touch(instance);
  Advance(absl::Minutes(9));
  EXPECT_EQ(registry_->Find("used"), instance);
  // GetOrCreate touches too.
  EXPECT_EQ(MustGet("used", Kind::kRLock), instance);
  Advance(absl::Minutes(9));
  EXPECT_EQ(registry_->Find("used"), instance);
  // Find does not.
  EXPECT_EQ(registry_->Find("used"), instance);
  Advance(absl::Minutes(4));
  EXPECT_EQ(registry_->Find("used"), nullptr);
}

TEST_F(RegistryTest, EvictionHappensAtTheFirstSweepAfterTheIdleTime) {
  Remake({.idle_eviction = absl::Minutes(4)});
  Step(absl::Seconds(30));
  Instance* instance = MustGet("x", Kind::kKeyedCondition);
  // Sweeps run every minute from 1:30 on.
  Step(absl::Seconds(30));
  registry_->Touch(instance);  // at 1:00: idle long enough from 5:00 on
  Step(absl::Minutes(4) + absl::Seconds(29));
  EXPECT_EQ(registry_->Find("x"), instance);  // 5:29: no sweep since 4:30
  Step(absl::Seconds(1));
  EXPECT_EQ(registry_->Find("x"), nullptr);  // the sweep of 5:30
}

TEST_F(RegistryTest, HeldLockIsNeverEvicted) {
  Instance* instance = MustGet("held", Kind::kPriorityLock);
  PriorityLock* lock = instance->As<PriorityLock>();
  AcquireNow(lock, s1_);
  Advance(absl::Hours(2));
  ASSERT_EQ(registry_->Find("held"), instance);
  ASSERT_TRUE(lock->Release(&s1_, "o").ok());
  registry_->Touch(instance);
  Advance(absl::Minutes(9));
  EXPECT_EQ(registry_->Find("held"), instance);
  Advance(absl::Minutes(1));
  EXPECT_EQ(registry_->Find("held"), nullptr);
}

TEST_F(RegistryTest, LockWithAWaiterIsNeverEvicted) {
  Instance* instance = MustGet("contended", Kind::kPriorityRLock);
  PriorityRLock* lock = instance->As<PriorityRLock>();
  AcquireNow(lock, s1_);
  auto waiter = Launch([&] { return lock->Acquire(Opts(s2_)); });
  Advance(absl::Hours(1));
  EXPECT_EQ(registry_->Find("contended"), instance);
  // The holder's session ends: the waiter holds it now.
  s1_.End();
  Advance(absl::Hours(1));
  EXPECT_TRUE(OkNow(waiter));
  EXPECT_EQ(registry_->Find("contended"), instance);
  s2_.End();  // no Touch: the sweeps saw it busy until now
  Advance(absl::Minutes(7));
  EXPECT_EQ(registry_->Find("contended"), instance);
  Advance(absl::Minutes(10));
  EXPECT_EQ(registry_->Find("contended"), nullptr);
}

TEST_F(RegistryTest, ConditionWithAWaiterIsNeverEvicted) {
  Instance* instance = MustGet("cond", Kind::kKeyedCondition);
  KeyedCondition* cond = instance->As<KeyedCondition>();
  auto lock = Launch([&] { return cond->Acquire(Opts(s1_)); });
  ASSERT_TRUE(OkNow(lock));
  auto wait = LaunchTask([&] { return cond->Wait(Opts(s1_), "job"); });
  Settle();
  ASSERT_FALSE(cond->locked());  // the wait released the lock
  Advance(absl::Hours(1));
  EXPECT_EQ(registry_->Find("cond"), instance);
  EXPECT_FALSE(Ready(wait));
  s1_.End();
  Advance(absl::Minutes(15));
  EXPECT_EQ(registry_->Find("cond"), nullptr);
  EXPECT_EQ(CodeOf(wait), absl::StatusCode::kAborted);
}

TEST_F(RegistryTest, LatchesAndRateLimitsAreNeverEvicted) {
  MustDeclare("latch", Latch({{"a", 3}}));
  MustDeclare("finished-latch", Latch({}));
  MustDeclare("limit", RateLimit(100));
  Advance(absl::Hours(3));
  EXPECT_NE(registry_->Find("latch"), nullptr);
  EXPECT_NE(registry_->Find("finished-latch"), nullptr);
  EXPECT_NE(registry_->Find("limit"), nullptr);
  EXPECT_FALSE(registry_->Find("limit")->Evictable());
  EXPECT_FALSE(registry_->Find("latch")->Evictable());
}

TEST_F(RegistryTest, ARateLimitMarkedEvictWhenFullGoesOnceIdleAndFull) {
  Instance* bucket = MustDeclare("envoy/edge/remote_address=10.0.0.7", RateLimit(1, 10));
  bucket->EvictWhenFull();
  RateLimiter* limiter = bucket->As<RateLimiter>();
  ASSERT_TRUE(limiter->TakeNow(10).ok());  // empty
  // Idle past the eviction time but still refilling: kept (its level is
  // state a re-creation would lose).
  Advance(absl::Seconds(5));
  EXPECT_FALSE(registry_->Find("envoy/edge/remote_address=10.0.0.7")->Evictable());
  // Full again (10 s at 1 token/s) and idle for the eviction time: gone.
  Step(absl::Seconds(20));
  EXPECT_DOUBLE_EQ(limiter->tokens(), 10);
  EXPECT_TRUE(registry_->Find("envoy/edge/remote_address=10.0.0.7")->Evictable());
  Step(absl::Minutes(13));
  EXPECT_EQ(registry_->Find("envoy/edge/remote_address=10.0.0.7"), nullptr);
  // An unmarked one stays, full or not.
  MustDeclare("limit", RateLimit(1, 10));
  Step(absl::Minutes(13));
  EXPECT_NE(registry_->Find("limit"), nullptr);
}

TEST_F(RegistryTest, SemaphoresWithNonDefaultStateAreNotEvicted) {
  MustDeclare("declared3", Semaphore(Kind::kPrioritySemaphore, 3));
  DynamicBoundedSemaphore* raised =
      MustGet("raised", Kind::kDynamicBoundedSemaphore)
          ->As<DynamicBoundedSemaphore>();
  ASSERT_TRUE(raised->SetBound(5).ok());
  PrioritySemaphore* grown =
      MustGet("grown", Kind::kPrioritySemaphore)->As<PrioritySemaphore>();
  ASSERT_TRUE(grown->Release(&s1_, /*strict=*/false).ok());  // pool 2
  MustGet("plain", Kind::kDynamicBoundedSemaphore);
  // Declared with the defaults: as evictable as an implied one.
  MustDeclare("declared1", Semaphore(Kind::kPrioritySemaphore, 1));
  Advance(absl::Hours(1));
  EXPECT_NE(registry_->Find("declared3"), nullptr);
  EXPECT_NE(registry_->Find("raised"), nullptr);
  EXPECT_NE(registry_->Find("grown"), nullptr);
  EXPECT_EQ(registry_->Find("plain"), nullptr);
  EXPECT_EQ(registry_->Find("declared1"), nullptr);
  // Back to the defaults: evictable again.
  ASSERT_TRUE(raised->SetBound(1).ok());
  ASSERT_TRUE(grown->Reset().ok());
  Advance(absl::Hours(1));
  EXPECT_EQ(registry_->Find("raised"), nullptr);
  EXPECT_EQ(registry_->Find("grown"), nullptr);
  EXPECT_NE(registry_->Find("declared3"), nullptr);
}

TEST_F(RegistryTest, HeldSemaphoreIsNotEvicted) {
  DynamicBoundedSemaphore* sem = MustGet("sem", Kind::kDynamicBoundedSemaphore)
                                     ->As<DynamicBoundedSemaphore>();
  auto permit = Launch([&] { return sem->Acquire(Opts(s1_)); });
  ASSERT_TRUE(OkNow(permit));
  Advance(absl::Hours(1));
  ASSERT_NE(registry_->Find("sem"), nullptr);
  EXPECT_EQ(registry_->Find("sem")->Describe().holders.size(), 1u);
}

TEST_F(RegistryTest, EvictionCanBeDisabled) {
  Remake({.idle_eviction = absl::ZeroDuration()});
  MustGet("x", Kind::kPriorityLock);
  EXPECT_EQ(loop_.pending_timers(), 0u);
  Advance(absl::Hours(100));
  EXPECT_NE(registry_->Find("x"), nullptr);
  EXPECT_EQ(registry_->SweepNow(), 0u);
  Remake({.idle_eviction = absl::InfiniteDuration()});
  MustGet("x", Kind::kPriorityLock);
  Advance(absl::Hours(100));
  EXPECT_NE(registry_->Find("x"), nullptr);
}

// --- Fences. ---

TEST_F(RegistryTest, FencesStartAtTheBaseAndSurviveEviction) {
  PriorityLock* lock = MustGet("l", Kind::kPriorityLock)->As<PriorityLock>();
  std::uint64_t last = 0;
  for (int i = 0; i < 3; ++i) {
    last = AcquireNow(lock, s1_);
    ASSERT_TRUE(lock->Release(&s1_, "o").ok());
  }
  EXPECT_EQ(last, kFenceBase + 3);
  EXPECT_EQ(registry_->HighestFence(), kFenceBase + 3);
  Advance(absl::Minutes(11));
  ASSERT_EQ(registry_->Find("l"), nullptr);  // evicted
  EXPECT_EQ(registry_->HighestFence(), kFenceBase + 3);

  // Re-created (another kind even): its fences continue above.
  RLock* again = MustGet("l", Kind::kRLock)->As<RLock>();
  EXPECT_EQ(again->last_fence(), kFenceBase + 3);
  EXPECT_EQ(AcquireNow(again, s2_), kFenceBase + 4);
}

TEST_F(RegistryTest, FencesSurviveDeleteAndRecreation) {
  DynamicBoundedSemaphore* sem =
      MustDeclare("s", Semaphore(Kind::kDynamicBoundedSemaphore, 5))
          ->As<DynamicBoundedSemaphore>();
  std::uint64_t last = 0;
  for (int i = 0; i < 4; ++i) {
    auto permit = Launch([&] { return sem->Acquire(Opts(s1_)); });
    ASSERT_TRUE(OkNow(permit));
    last = (*permit)->grant.fence;
  }
  ASSERT_TRUE(registry_->Delete("s", absl::AbortedError("x")).ok());
  PriorityLock* lock = MustGet("s", Kind::kPriorityLock)->As<PriorityLock>();
  EXPECT_GT(AcquireNow(lock, s2_), last);
}

TEST_F(RegistryTest, ConditionFencesAreItsLocksAndSurviveEviction) {
  KeyedCondition* cond =
      MustGet("c", Kind::kKeyedCondition)->As<KeyedCondition>();
  auto a = Launch([&] { return cond->Acquire(Opts(s1_)); });
  ASSERT_TRUE(OkNow(a));
  ASSERT_TRUE(cond->Release(&s1_, "o").ok());
  EXPECT_EQ(registry_->Find("c")->last_fence(), (*a)->grant.fence);
  EXPECT_EQ(registry_->HighestFence(), (*a)->grant.fence);
  Advance(absl::Minutes(11));
  ASSERT_EQ(registry_->Find("c"), nullptr);
  KeyedCondition* again =
      MustGet("c", Kind::kKeyedCondition)->As<KeyedCondition>();
  auto b = Launch([&] { return again->Acquire(Opts(s1_)); });
  ASSERT_TRUE(OkNow(b));
  EXPECT_GT((*b)->grant.fence, (*a)->grant.fence);
}

TEST_F(RegistryTest, HighestFenceCoversLiveInstances) {
  EXPECT_EQ(registry_->HighestFence(), kFenceBase);
  PriorityLock* a = MustGet("a", Kind::kPriorityLock)->As<PriorityLock>();
  PriorityLock* b = MustGet("b", Kind::kPriorityLock)->As<PriorityLock>();
  AcquireNow(a, s1_);
  ASSERT_TRUE(a->Release(&s1_, "o").ok());
  AcquireNow(b, s1_);
  ASSERT_TRUE(b->Release(&s1_, "o").ok());
  AcquireNow(b, s1_);
  EXPECT_EQ(registry_->HighestFence(), kFenceBase + 2);
}

// --- Describe. ---

TEST_F(RegistryTest, DescribeSnapshotsEachKind) {
  Instance* lock = MustGet("lock", Kind::kRLock);
  const std::uint64_t fence = AcquireNow(lock->As<RLock>(), s1_, "w");
  AcquireNow(lock->As<RLock>(), s1_, "w");  // reentry
  auto waiter = Launch([&] { return lock->As<RLock>()->Acquire(Opts(s2_)); });
  InstanceSnapshot l = lock->Describe();
  EXPECT_EQ(l.name, "lock");
  EXPECT_EQ(l.config.kind, Kind::kRLock);
  EXPECT_TRUE(l.locked);
  ASSERT_EQ(l.holders.size(), 1u);
  EXPECT_EQ(l.holders[0].session_id, 1u);
  EXPECT_EQ(l.holders[0].owner_key, "w");
  EXPECT_EQ(l.holders[0].count, 2);
  EXPECT_EQ(l.holders[0].fence, fence);
  EXPECT_EQ(l.waiter_count, 1u);
  EXPECT_EQ(l.last_fence, fence);

  Instance* sem =
      MustDeclare("sem", Semaphore(Kind::kDynamicBoundedSemaphore, 2));
  auto p1 = Launch(
      [&] { return sem->As<DynamicBoundedSemaphore>()->Acquire(Opts(s1_)); });
  auto p2 = Launch(
      [&] { return sem->As<DynamicBoundedSemaphore>()->Acquire(Opts(s3_)); });
  ASSERT_TRUE(OkNow(p1) && OkNow(p2));
  ASSERT_TRUE(sem->As<DynamicBoundedSemaphore>()->SetBound(1).ok());
  InstanceSnapshot s = sem->Describe();
  ASSERT_TRUE(s.semaphore.has_value());
  EXPECT_EQ(s.semaphore->bound, 1);
  EXPECT_EQ(s.semaphore->available, -1);
  EXPECT_EQ(s.semaphore->held, 2);
  ASSERT_EQ(s.holders.size(), 2u);
  EXPECT_EQ(s.holders[0].session_id, 1u);
  EXPECT_EQ(s.holders[0].count, 1);
  EXPECT_EQ(s.holders[1].session_id, 3u);
  EXPECT_EQ(s.holders[1].fence, (*p2)->grant.fence);

  Instance* limit = MustDeclare("limit", RateLimit(2, 4.0, false));
  auto t =
      Launch([&] { return limit->As<RateLimiter>()->Acquire(Opts(s1_), 3); });
  ASSERT_TRUE(OkNow(t));
  clock_.Advance(absl::Milliseconds(500));
  InstanceSnapshot r = limit->Describe();
  ASSERT_TRUE(r.rate_limit.has_value());
  EXPECT_EQ(r.rate_limit->rate, 2);
  EXPECT_EQ(r.rate_limit->capacity, 4);
  EXPECT_DOUBLE_EQ(r.rate_limit->tokens, 2);  // 1 left + 0.5 s * 2/s
  EXPECT_FALSE(r.rate_limit->fair);
  EXPECT_TRUE(r.holders.empty());

  Instance* latch = MustDeclare("latch", Latch({{"a", 2}, {"b", 1}}));
  ASSERT_TRUE(latch->As<MultiCountDownLatch>()->CountDown("b").ok());
  auto w = Launch(
      [&] { return latch->As<MultiCountDownLatch>()->Wait(Opts(s2_), "a"); });
  auto wa = Launch(
      [&] { return latch->As<MultiCountDownLatch>()->WaitAll(Opts(s2_)); });
  InstanceSnapshot c = latch->Describe();
  ASSERT_TRUE(c.latch.has_value());
  EXPECT_EQ(c.latch->counts.at("a"), 2);
  EXPECT_EQ(c.latch->counts.at("b"), 0);
  EXPECT_FALSE(c.latch->broken);
  EXPECT_EQ(c.waiter_count, 2u);
  EXPECT_EQ(c.last_used, clock_.Now());
  EXPECT_EQ(r.last_used, clock_.Now() - absl::Milliseconds(500));
}

TEST_F(RegistryTest, InstancesPassTheirInvariantsAfterALifeOfUse) {
  // A small sequence over every kind, then invariants.
  MustDeclare("limit", RateLimit(1));
  MustDeclare("latch", Latch({{"k", 1}}));
  for (Kind kind : {Kind::kPriorityLock, Kind::kPriorityRLock, Kind::kRLock,
                    Kind::kKeyedCondition, Kind::kDynamicBoundedSemaphore,
                    Kind::kPrioritySemaphore}) {
    MustGet(KindName(kind), kind);
  }
  absl::StatusOr<Registry::ListPage> page = registry_->List("", {}, 0, "");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->entries.size(), 8u);
  for (const auto& entry : page->entries) {
    Instance* instance = registry_->Find(entry.name);
    ASSERT_NE(instance, nullptr);
    EXPECT_EQ(instance->kind(), entry.kind);
    EXPECT_TRUE(instance->primitive()->CheckInvariants().ok()) << entry.name;
    EXPECT_FALSE(instance->Busy()) << entry.name;
  }
}

}  // namespace
}  // namespace baton::core

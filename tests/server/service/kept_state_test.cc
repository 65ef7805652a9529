// Copyright 2026 The Baton Authors.
//
// Tests of KeptState and the instance records: a record restores what was
// declared and changed (live parameters, latch counts, the bucket level with
// the refill of the time between), and KeptState writes a turn's changes in
// one batch, holds WhenDurable() until the store has them, and writes the
// deletion of a name that is gone. The loop runs on a manual clock; the
// store is a real one in a temp directory.

#include "server/service/kept_state.h"

#include <stdlib.h>

#include <chrono>
#include <map>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "server/core/registry.h"
#include "server/runtime/clock.h"
#include "server/runtime/event_loop.h"
#include "server/store/store.h"

namespace baton::service {
namespace {

const absl::Time kWallNow = absl::FromUnixSeconds(1'800'000'000);

core::InstanceConfig LatchConfig() {
  core::InstanceConfig config;
  config.kind = core::Kind::kMultiCountDownLatch;
  config.counts = {{"a", 3}, {"b", 1}};
  return config;
}

core::InstanceConfig RateConfig() {
  core::InstanceConfig config;
  config.kind = core::Kind::kAdvancedRateLimit;
  config.rate_limit.rate = 10;
  config.rate_limit.capacity = 20;
  return config;
}

core::InstanceConfig BoundConfig() {
  core::InstanceConfig config;
  config.kind = core::Kind::kDynamicBoundedSemaphore;
  config.value = 2;
  return config;
}

class KeptStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "kept_state_test.XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << pattern;
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code error;
    std::filesystem::remove_all(dir_, error);
  }

  // RunUntil() turns the loop until `done()`; the store's writer thread
  // posts its completions to it. Fails after 10 s.
  template <typename Done>
  bool RunUntil(runtime::EventLoop& loop, Done done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      loop.RunUntilIdle();
      std::this_thread::yield();
    }
    return true;
  }

  runtime::ManualClock clock_;
  std::string dir_;
};

TEST_F(KeptStateTest, ARecordRestoresLiveParametersCountsAndTheBucketLevel) {
  runtime::EventLoop loop(&clock_);
  core::Registry registry(&loop, 1000);
  core::Instance* latch = registry.Declare("latch", LatchConfig()).value();
  core::Instance* rate = registry.Declare("rate", RateConfig()).value();
  core::Instance* bound = registry.Declare("bound", BoundConfig()).value();
  ASSERT_TRUE(latch->As<core::MultiCountDownLatch>()->CountDown("a").ok());
  ASSERT_TRUE(latch->As<core::MultiCountDownLatch>()->CountDownAll().ok());
  ASSERT_TRUE(rate->As<core::RateLimiter>()->SetRate(25).ok());
  const double live_capacity = rate->As<core::RateLimiter>()->capacity();
  ASSERT_TRUE(rate->As<core::RateLimiter>()->TakeNow(15).ok());  // 5 left
  ASSERT_TRUE(bound->As<core::DynamicBoundedSemaphore>()->SetBound(7).ok());
  const std::string latch_record = EncodeInstance(*latch, kWallNow);
  const std::string rate_record = EncodeInstance(*rate, kWallNow);
  const std::string bound_record = EncodeInstance(*bound, kWallNow);

  core::Registry restored(&loop, 1000);
  ASSERT_TRUE(RestoreInstance(restored, "latch", latch_record, kWallNow).ok());
  // Down for 100 ms: 2.5 tokens refilled at the live rate.
  ASSERT_TRUE(
      RestoreInstance(restored, "rate", rate_record, kWallNow + absl::Milliseconds(100)).ok());
  ASSERT_TRUE(RestoreInstance(restored, "bound", bound_record, kWallNow).ok());

  const auto* l = restored.Find("latch")->As<core::MultiCountDownLatch>();
  EXPECT_EQ(l->count("a"), 1);
  EXPECT_EQ(l->count("b"), 0);
  EXPECT_FALSE(l->broken());
  EXPECT_EQ(restored.Find("latch")->config(), LatchConfig());  // still declared with 3, 1

  const auto* r = restored.Find("rate")->As<core::RateLimiter>();
  EXPECT_EQ(r->rate(), 25);
  EXPECT_EQ(r->capacity(), live_capacity);
  EXPECT_NEAR(r->tokens(), 7.5, 1e-9);
  EXPECT_EQ(restored.Find("rate")->config(), RateConfig());

  EXPECT_EQ(restored.Find("bound")->As<core::DynamicBoundedSemaphore>()->bound(), 7);
  EXPECT_EQ(restored.Find("bound")->config(), BoundConfig());

  EXPECT_EQ(RestoreInstance(restored, "junk", "\xff\xff", kWallNow).code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(KeptStateTest, ChangesOfATurnAreOneBatchAndAnswersWaitUntilItIsDurable) {
  std::unique_ptr<store::Store> store = store::Store::Open(dir_ + "/state").value();
  runtime::EventLoop loop(&clock_);
  auto registry = std::make_unique<core::Registry>(&loop, 1000);
  auto kept = std::make_unique<KeptState>(&loop, registry.get(), store.get());
  core::Instance* latch = registry->Declare("latch", LatchConfig()).value();
  registry->Declare("gone", BoundConfig()).value();

  // Nothing pending: at once.
  bool at_once = false;
  loop.Post([&] { kept->WhenDurable([&](const absl::Status&) { at_once = true; }); });
  loop.RunUntilIdle();
  EXPECT_TRUE(at_once);

  int durable = 0;
  const std::uint64_t syncs_before = store->syncs();
  loop.Post([&] {
    kept->Changed("gone");
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(latch->As<core::MultiCountDownLatch>()->CountDown("a").ok());
      kept->Changed("latch");
      kept->WhenDurable([&](const absl::Status& status) {
        EXPECT_TRUE(status.ok()) << status;
        ++durable;
      });
    }
    EXPECT_TRUE(kept->Pending("latch"));
    EXPECT_FALSE(kept->Pending("other"));
  });
  loop.Post([&] {
    // A later turn, before the write completes: its record is in flight.
    EXPECT_EQ(durable, 0);
  });
  // Deleted in the same turn as it changed: its deletion is written.
  loop.Post([&] { ASSERT_TRUE(registry->Delete("gone", absl::OkStatus()).ok()); });
  ASSERT_TRUE(RunUntil(loop, [&] { return durable == 3; }));
  EXPECT_FALSE(kept->Pending("latch"));
  EXPECT_LE(store->syncs() - syncs_before, 2u);

  kept.reset();
  registry.reset();
  core::Registry restored(&loop, 1000);
  int records = 0;
  ASSERT_TRUE(store
                  ->Scan(kInstanceKeyPrefix,
                         [&](std::string_view key, std::string_view value) {
                           ++records;
                           ASSERT_TRUE(RestoreInstance(restored,
                                                       key.substr(kInstanceKeyPrefix.size()),
                                                       value, absl::Now())
                                           .ok());
                         })
                  .ok());
  EXPECT_EQ(records, 1);
  ASSERT_NE(restored.Find("latch"), nullptr);
  EXPECT_EQ(restored.Find("latch")->As<core::MultiCountDownLatch>()->count("a"), 0);
  EXPECT_EQ(restored.Find("gone"), nullptr);
}

TEST_F(KeptStateTest, AKeptInstanceIsEvictedFromMemoryOnlyAndComesBackWhenUsed) {
  std::unique_ptr<store::Store> store = store::Store::Open(dir_ + "/state").value();
  runtime::EventLoop loop(&clock_);
  core::Registry::Options options;
  options.idle_eviction = absl::Minutes(1);
  core::Registry registry(&loop, 1000, options);
  KeptState kept(&loop, &registry, store.get());
  bool durable = false;
  loop.Post([&] {
    core::Instance* latch = registry.Declare("latch", LatchConfig()).value();
    ASSERT_TRUE(latch->As<core::MultiCountDownLatch>()->CountDown("a").ok());
    kept.Changed("latch");
    ASSERT_TRUE(registry.GetOrCreate("lock", core::Kind::kPriorityLock).ok());  // not kept
    kept.WhenDurable([&](const absl::Status&) { durable = true; });
  });
  ASSERT_TRUE(RunUntil(loop, [&] { return durable; }));
  EXPECT_TRUE(registry.Find("latch")->kept());

  clock_.Advance(absl::Minutes(2));
  loop.Post([&] {
    EXPECT_EQ(registry.SweepNow(), 2u);  // both leave memory
    EXPECT_EQ(registry.size(), 0u);
    // Used again in the same turn, before its record is written.
    core::Instance* back = registry.Find("latch");
    ASSERT_NE(back, nullptr);
    EXPECT_EQ(back->As<core::MultiCountDownLatch>()->count("a"), 2);
    EXPECT_EQ(registry.Find("lock"), nullptr);  // gone for good, as before
  });
  loop.RunUntilIdle();

  clock_.Advance(absl::Minutes(2));
  loop.Post([&] { EXPECT_EQ(registry.SweepNow(), 1u); });
  loop.RunUntilIdle();
  ASSERT_TRUE(RunUntil(loop, [&] { return store->Get(InstanceKey("latch")).value().has_value(); }));
  // From the store this time.
  loop.Post([&] {
    absl::StatusOr<core::Instance*> back =
        registry.GetOrCreate("latch", core::Kind::kMultiCountDownLatch);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ((*back)->As<core::MultiCountDownLatch>()->count("a"), 2);
    EXPECT_EQ((*back)->config(), LatchConfig());
    EXPECT_TRUE((*back)->kept());
  });
  loop.RunUntilIdle();
}

TEST_F(KeptStateTest, AnEvictedKeptInstanceIsListedAndItsDeleteRemovesTheRecord) {
  std::unique_ptr<store::Store> store = store::Store::Open(dir_ + "/state").value();
  runtime::EventLoop loop(&clock_);
  core::Registry::Options options;
  options.idle_eviction = absl::Minutes(1);
  core::Registry registry(&loop, 1000, options);
  KeptState kept(&loop, &registry, store.get());
  bool durable = false;
  loop.Post([&] {
    ASSERT_TRUE(registry.Declare("jobs/b-latch", LatchConfig()).ok());
    kept.Changed("jobs/b-latch");
    ASSERT_TRUE(registry.Declare("jobs/d-rate", RateConfig()).ok());
    kept.Changed("jobs/d-rate");
    kept.WhenDurable([&](const absl::Status&) { durable = true; });
  });
  ASSERT_TRUE(RunUntil(loop, [&] { return durable; }));

  clock_.Advance(absl::Minutes(2));
  loop.Post([&] {
    EXPECT_EQ(registry.SweepNow(), 2u);
    // In memory again: two names in memory between and around the two in
    // the store, so the listing merges both orders.
    ASSERT_TRUE(registry.GetOrCreate("jobs/a-lock", core::Kind::kPriorityLock).ok());
    ASSERT_TRUE(registry.GetOrCreate("jobs/c-lock", core::Kind::kPriorityLock).ok());
    ASSERT_TRUE(registry.GetOrCreate("other/lock", core::Kind::kPriorityLock).ok());
  });
  loop.RunUntilIdle();
  ASSERT_TRUE(RunUntil(loop, [&] {
    return store->Get(InstanceKey("jobs/b-latch")).value().has_value() &&
           store->Get(InstanceKey("jobs/d-rate")).value().has_value();
  }));

  loop.Post([&] {
    EXPECT_TRUE(registry.Stored("jobs/b-latch"));
    std::vector<std::string> names;
    std::string token;
    do {  // pages of one: every page token crosses between the two orders
      core::Registry::ListPage page =
          registry.List("jobs/", std::nullopt, 1, token).value();
      for (const auto& entry : page.entries) names.push_back(entry.name);
      token = page.next_page_token;
    } while (!token.empty());
    EXPECT_EQ(names, (std::vector<std::string>{"jobs/a-lock", "jobs/b-latch", "jobs/c-lock",
                                               "jobs/d-rate"}));
    core::Registry::ListPage latches =
        registry.List("", core::Kind::kMultiCountDownLatch, 0, "").value();
    ASSERT_EQ(latches.entries.size(), 1u);
    EXPECT_EQ(latches.entries[0].name, "jobs/b-latch");
    // Listing does not bring anything back into memory.
    EXPECT_EQ(registry.size(), 3u);

    // Delete finds it out of memory, and its record goes too.
    EXPECT_TRUE(registry.Delete("jobs/b-latch", absl::OkStatus()).ok());
    kept.Changed("jobs/b-latch");
    EXPECT_FALSE(registry.Stored("jobs/b-latch"));
    EXPECT_EQ(registry.Find("jobs/b-latch"), nullptr);
  });
  loop.RunUntilIdle();
  ASSERT_TRUE(RunUntil(loop, [&] {
    return !store->Get(InstanceKey("jobs/b-latch")).value().has_value();
  }));
  loop.Post([&] {
    core::Registry::ListPage page = registry.List("jobs/", std::nullopt, 0, "").value();
    ASSERT_EQ(page.entries.size(), 3u);
    EXPECT_EQ(page.entries[1].name, "jobs/c-lock");
  });
  loop.RunUntilIdle();
}

TEST_F(KeptStateTest, ACheckpointRecordsTheBucketsUsedSinceTheLastOne) {
  std::unique_ptr<store::Store> store = store::Store::Open(dir_ + "/state").value();
  runtime::EventLoop loop(&clock_);
  core::Registry registry(&loop, 1000);
  KeptState kept(&loop, &registry, store.get());
  core::Instance* rate = registry.Declare("rate", RateConfig()).value();
  core::Instance* envoy = registry.Declare("envoy/d/k", RateConfig()).value();
  envoy->EvictWhenFull();  // the Envoy service's: not kept
  ASSERT_TRUE(rate->As<core::RateLimiter>()->TakeNow(15).ok());
  bool durable = false;
  loop.Post([&] { kept.Checkpoint([&](const absl::Status&) { durable = true; }); });
  ASSERT_TRUE(RunUntil(loop, [&] { return durable; }));
  absl::StatusOr<std::optional<std::string>> record = store->Get(InstanceKey("rate"));
  ASSERT_TRUE(record.ok() && record->has_value());
  EXPECT_FALSE(store->Get(InstanceKey("envoy/d/k")).value().has_value());
  core::Registry restored(&loop, 1000);
  ASSERT_TRUE(RestoreInstance(restored, "rate", **record, absl::Now()).ok());
  EXPECT_NEAR(restored.Find("rate")->As<core::RateLimiter>()->tokens(), 5, 0.5);

  // Nothing used since: nothing to write.
  const std::uint64_t batches = store->batches();
  durable = false;
  clock_.Advance(absl::Seconds(5));
  loop.Post([&] { kept.Checkpoint([&](const absl::Status&) { durable = true; }); });
  ASSERT_TRUE(RunUntil(loop, [&] { return durable; }));
  EXPECT_EQ(store->batches(), batches);
}

// A store shared with other processes (a cluster's, in etcd), in memory:
// commits apply at once; `refuse` makes the admission refuse every name
// (a node the name has not moved to yet).
class SharedStore final : public store::RecordStore {
 public:
  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const override {
    absl::MutexLock lock(&mu_);
    const auto it = records_.find(std::string(key));
    if (it == records_.end()) return std::nullopt;
    return it->second;
  }
  void Commit(Batch batch, Done done) override {
    {
      absl::MutexLock lock(&mu_);
      ++commits_;
      for (const Batch::Op& op : batch.ops()) {
        if (op.value.has_value()) {
          records_[op.key] = *op.value;
        } else {
          records_.erase(op.key);
        }
      }
    }
    done(absl::OkStatus());
  }
  bool shared() const override { return true; }
  void Put(const std::string& key, std::string value) {
    absl::MutexLock lock(&mu_);
    records_[key] = std::move(value);
  }
  bool Has(const std::string& key) const { return Get(key).value().has_value(); }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::string> records_ ABSL_GUARDED_BY(mu_);
  int commits_ ABSL_GUARDED_BY(mu_) = 0;
};

class Refusing final : public core::Registry::Admission {
 public:
  absl::StatusOr<std::uint64_t> Admit(std::string_view) override {
    if (refuse) return absl::UnavailableError("not this node's yet");
    return 0;
  }
  bool refuse = false;
};

TEST_F(KeptStateTest, WithASharedStoreAMissRestoresWhatAnotherNodeKept) {
  runtime::EventLoop loop(&clock_);
  SharedStore shared;
  // What the name's previous owner kept: a semaphore declared 2, bound 7.
  {
    core::Registry elsewhere(&loop, 1000);
    core::Instance* bound = elsewhere.Declare("bound", BoundConfig()).value();
    ASSERT_TRUE(bound->As<core::DynamicBoundedSemaphore>()->SetBound(7).ok());
    shared.Put(InstanceKey("bound"), EncodeInstance(*bound, absl::Now()));
  }
  core::Registry::Options options;
  options.idle_eviction = absl::Minutes(1);
  core::Registry registry(&loop, 1000, options);
  Refusing admission;
  registry.set_admission(&admission);
  KeptState kept(&loop, &registry, &shared);

  // Not this node's yet: nothing is created, and the refusal is what a
  // lookup answers instead of NOT_FOUND.
  admission.refuse = true;
  EXPECT_EQ(registry.Find("bound"), nullptr);
  EXPECT_EQ(registry.Admissible("bound").code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(registry.GetOrCreate("latch", core::Kind::kMultiCountDownLatch).status().code(),
            absl::StatusCode::kUnavailable);

  admission.refuse = false;
  core::Instance* restored = registry.Find("bound");
  ASSERT_NE(restored, nullptr);
  EXPECT_EQ(restored->As<core::DynamicBoundedSemaphore>()->bound(), 7);
  EXPECT_EQ(restored->config(), BoundConfig());
  // A name nobody kept is created with its defaults, as before.
  EXPECT_EQ(registry.Find("fresh"), nullptr);
  EXPECT_TRUE(registry.GetOrCreate("fresh", core::Kind::kPriorityLock).ok());
  // In a cluster a kept instance stays in memory (no eviction to the
  // store); the one at its defaults goes as before.
  clock_.Advance(absl::Hours(1));
  EXPECT_EQ(registry.SweepNow(), 1u);
  EXPECT_NE(registry.FindLoaded("bound"), nullptr);
  EXPECT_EQ(registry.FindLoaded("fresh"), nullptr);
}

TEST_F(KeptStateTest, WithASharedStoreADeleteIsNotUndoneAndAMovedNameKeepsItsChange) {
  runtime::EventLoop loop(&clock_);
  SharedStore shared;
  core::Registry registry(&loop, 1000);
  KeptState kept(&loop, &registry, &shared);
  ASSERT_TRUE(registry.Declare("gone", BoundConfig()).ok());
  ASSERT_TRUE(registry.Declare("moved", BoundConfig()).ok());
  kept.Changed("gone");
  kept.Changed("moved");
  loop.RunUntilIdle();
  ASSERT_TRUE(shared.Has(InstanceKey("gone")));
  ASSERT_TRUE(shared.Has(InstanceKey("moved")));

  // Deleted in this turn: a lookup in the same turn does not bring it back
  // from the record not yet deleted, and the turn's batch deletes it.
  ASSERT_TRUE(registry.Delete("gone", absl::OkStatus()).ok());
  kept.Changed("gone");
  EXPECT_EQ(registry.Find("gone"), nullptr);
  // Changed, then moved to another node in the same turn: its record is
  // written as changed, not deleted, and WhenDurable() waits for it.
  core::Instance* moved = registry.FindLoaded("moved");
  ASSERT_TRUE(moved->As<core::DynamicBoundedSemaphore>()->SetBound(9).ok());
  kept.Changed("moved");
  kept.Release(*moved);
  ASSERT_TRUE(registry.Delete("moved", absl::OkStatus()).ok());
  bool durable = false;
  kept.WhenDurable([&](const absl::Status& status) { durable = status.ok(); });
  EXPECT_FALSE(durable);
  loop.RunUntilIdle();
  EXPECT_TRUE(durable);
  EXPECT_FALSE(shared.Has(InstanceKey("gone")));
  ASSERT_TRUE(shared.Has(InstanceKey("moved")));

  core::Registry next_owner(&loop, 1000);
  KeptState next_kept(&loop, &next_owner, &shared);
  core::Instance* back = next_owner.Find("moved");
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(back->As<core::DynamicBoundedSemaphore>()->bound(), 9);
  EXPECT_EQ(next_owner.Find("gone"), nullptr);
}

}  // namespace
}  // namespace baton::service

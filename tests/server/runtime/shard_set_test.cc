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
  // Placement must be the same in every process, build and release. These
  // values come from an independent implementation of FNV-1a 64 and jump
  // consistent hashing (a few lines of Python), not from this code.
  struct Case {
    const char* name;
    std::size_t shards[4];  // for 2, 4, 16 and 1000 shards
  };
  const Case cases[] = {{"", {1, 1, 13, 266}},
                        {"jobs/42", {0, 0, 4, 59}},
                        {"jobs/43", {0, 2, 13, 184}},
                        {"payments/limiter", {0, 0, 5, 180}},
                        {"a", {1, 2, 12, 163}}};
  const std::size_t counts[] = {2, 4, 16, 1000};
  for (const Case& c : cases) {
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(ShardIndexFor(c.name, counts[i]), c.shards[i])
          << "'" << c.name << "' over " << counts[i] << " shards";
    }
  }
}

TEST(ShardIndexTest, NameHashIsFnv1a64AndPlacesAsShardIndexFor) {
  // FNV-1a 64's published test values (the same independent source as
  // the placement values above).
  EXPECT_EQ(NameHash(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(NameHash("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(NameHash("foobar"), 0x85944171f73967e8ULL);
  // Every length around the 8-byte rounds, against a byte-at-a-time FNV.
  std::string name;
  for (int length = 0; length < 40; ++length) {
    std::uint64_t expected = 0xcbf29ce484222325ULL;
    for (unsigned char c : name) expected = (expected ^ c) * 0x100000001b3ULL;
    EXPECT_EQ(NameHash(name), expected) << length;
    for (const std::size_t shards : std::initializer_list<std::size_t>{1, 2, 3, 16, 1000}) {
      EXPECT_EQ(ShardIndexForHash(NameHash(name), shards), ShardIndexFor(name, shards));
    }
    name.push_back(static_cast<char>('a' + length * 7 % 26 + (length % 3 == 0 ? 128 : 0)));
  }
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

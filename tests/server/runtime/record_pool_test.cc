// Copyright 2026 The Baton Authors.

#include "server/runtime/record_pool.h"

#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace baton::runtime {
namespace {

TEST(RecordPoolTest, BlocksAreDistinctAlignedAndKeepTheirBytes) {
  RecordPool pool(184);
  EXPECT_EQ(pool.block_bytes(), 184u);
  std::vector<unsigned char*> blocks;
  // Three slabs' worth and some.
  const std::size_t count = 3 * pool.blocks_per_slab() + 7;
  std::set<std::uintptr_t> seen;
  for (std::size_t i = 0; i < count; ++i) {
    auto* block = static_cast<unsigned char*>(pool.Allocate());
    ASSERT_EQ(reinterpret_cast<std::uintptr_t>(block) % 8, 0u);
    ASSERT_TRUE(seen.insert(reinterpret_cast<std::uintptr_t>(block)).second);
    std::memset(block, static_cast<int>(i & 0xff), 184);
    blocks.push_back(block);
  }
  EXPECT_EQ(pool.live(), count);
  EXPECT_EQ(pool.slabs(), 4u);
  // No block overlaps another: each still holds what was written.
  for (std::size_t i = 0; i < count; ++i) {
    for (std::size_t k = 0; k < 184; ++k) ASSERT_EQ(blocks[i][k], i & 0xff) << i << " " << k;
  }
  for (unsigned char* block : blocks) RecordPool::Free(block);
  EXPECT_EQ(pool.live(), 0u);
  // Empty slabs go back, but for one kept with room.
  EXPECT_EQ(pool.slabs(), 1u);
}

TEST(RecordPoolTest, FreedBlocksAreReusedBeforeNewSlabsAndEmptySlabsGoBack) {
  RecordPool pool(100);  // rounded up to 104
  EXPECT_EQ(pool.block_bytes(), 104u);
  std::mt19937 random(7);
  std::vector<void*> out;
  std::size_t most = 0;
  // A random walk of allocations and frees, with a model of what is out.
  for (int step = 0; step < 200'000; ++step) {
    const bool allocate = out.empty() || (step < 100'000 ? random() % 3 != 0 : random() % 3 == 0);
    if (allocate) {
      out.push_back(pool.Allocate());
    } else {
      const std::size_t i = random() % out.size();
      RecordPool::Free(out[i]);
      out[i] = out.back();
      out.pop_back();
    }
    most = std::max(most, out.size());
    ASSERT_EQ(pool.live(), out.size());
    // Never more slabs than the blocks out need, plus one with room, plus
    // those kept alive by a single block each.
    ASSERT_LE(pool.slabs(), most / pool.blocks_per_slab() + 2 + out.size());
  }
  std::set<void*> distinct(out.begin(), out.end());
  EXPECT_EQ(distinct.size(), out.size());
  for (void* block : out) RecordPool::Free(block);
  EXPECT_EQ(pool.live(), 0u);
  EXPECT_LE(pool.slabs(), 1u);
}

TEST(RecordPoolTest, ABlockMayBeFreedAfterItsPoolIsGone) {
  auto pool = std::make_unique<RecordPool>(64);
  void* kept = pool->Allocate();
  void* other = pool->Allocate();
  RecordPool::Free(other);
  pool.reset();  // the slab stays mapped for `kept`
  std::memset(kept, 0x5a, 64);
  RecordPool::Free(kept);  // and goes with it
}

}  // namespace
}  // namespace baton::runtime

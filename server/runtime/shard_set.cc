// Copyright 2026 The Baton Authors.

#include "server/runtime/shard_set.h"

#include <cstdlib>

namespace baton::runtime {

namespace {

// Lamping and Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm".
std::int32_t JumpConsistentHash(std::uint64_t key, std::int32_t buckets) {
  std::int64_t b = -1;
  std::int64_t j = 0;
  while (j < buckets) {
    b = j;
    key = key * 2862933555777941757ULL + 1;
    j = static_cast<std::int64_t>(static_cast<double>(b + 1) *
                                  (static_cast<double>(1LL << 31) /
                                   static_cast<double>((key >> 33) + 1)));
  }
  return static_cast<std::int32_t>(b);
}

}  // namespace

std::uint64_t NameHash(std::string_view name) {
  constexpr std::uint64_t kPrime = 0x100000001b3ULL;
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  const auto* p = reinterpret_cast<const unsigned char*>(name.data());
  std::size_t n = name.size();
  // Eight bytes a round: the multiplications stay serial (FNV-1a's), the
  // loop's own instructions are an eighth.
  for (; n >= 8; n -= 8, p += 8) {
    hash = (hash ^ p[0]) * kPrime;
    hash = (hash ^ p[1]) * kPrime;
    hash = (hash ^ p[2]) * kPrime;
    hash = (hash ^ p[3]) * kPrime;
    hash = (hash ^ p[4]) * kPrime;
    hash = (hash ^ p[5]) * kPrime;
    hash = (hash ^ p[6]) * kPrime;
    hash = (hash ^ p[7]) * kPrime;
  }
  for (; n > 0; --n, ++p) hash = (hash ^ *p) * kPrime;
  return hash;
}

std::size_t ShardIndexForHash(std::uint64_t hash, std::size_t shard_count) {
  if (shard_count <= 1) return 0;
  return static_cast<std::size_t>(JumpConsistentHash(hash, static_cast<std::int32_t>(shard_count)));
}

std::size_t ShardIndexFor(std::string_view name, std::size_t shard_count) {
  if (shard_count <= 1) return 0;
  return ShardIndexForHash(NameHash(name), shard_count);
}

ShardSet::ShardSet(std::size_t shard_count, Clock* clock) {
  if (shard_count == 0) std::abort();
  loops_.reserve(shard_count);
  for (std::size_t i = 0; i < shard_count; ++i) {
    loops_.push_back(std::make_unique<EventLoop>(clock));
  }
}

ShardSet::~ShardSet() { Shutdown(); }

void ShardSet::Start() {
  if (!threads_.empty()) return;
  for (auto& loop : loops_) {
    threads_.emplace_back([l = loop.get()] { l->Run(); });
  }
}

void ShardSet::Shutdown() {
  for (auto& loop : loops_) loop->Stop();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

}  // namespace baton::runtime

// Copyright 2026 The Baton Authors.

#include "server/runtime/shard_set.h"

#include <cstdlib>

namespace baton::runtime {

namespace {

std::uint64_t Fnv1a64(std::string_view bytes) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

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

std::size_t ShardIndexFor(std::string_view name, std::size_t shard_count) {
  if (shard_count <= 1) return 0;
  return static_cast<std::size_t>(
      JumpConsistentHash(Fnv1a64(name), static_cast<std::int32_t>(shard_count)));
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

// Copyright 2026 The Baton Authors.
//
// ShardSet runs several EventLoops, each on a thread of its own, and places
// every named instance on exactly one of them. All state of an instance is
// touched only by its shard's thread, so the primitives need no mutex; work
// reaches a shard through EventLoop::Post().
//
// Example:
//   ShardSet shards(4, SteadyClock::Get());
//   shards.Start();
//   shards.ForName("jobs/42").Post([] { ... });
//   shards.Shutdown();
//
// Start() and Shutdown() are called by the owner of the set, once each;
// ForName() and shard() may be called from any thread.

#ifndef BATON_SERVER_RUNTIME_SHARD_SET_H_
#define BATON_SERVER_RUNTIME_SHARD_SET_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include "server/runtime/clock.h"
#include "server/runtime/event_loop.h"

namespace baton::runtime {

// ShardIndexFor() maps `name` to a shard in [0, shard_count): a stable 64-bit
// FNV-1a hash of the bytes, spread with jump consistent hashing, so that
// growing the shard count moves as few names as possible. The same name maps
// to the same shard in every process and on every platform.
std::size_t ShardIndexFor(std::string_view name, std::size_t shard_count);

// NameHash() is the 64-bit FNV-1a hash of `name`'s bytes, the hash
// ShardIndexFor() places by: computed once per request, it also finds the
// name in its shard's registry (core::Registry's hash index).
std::uint64_t NameHash(std::string_view name);

// ShardIndexForHash() is ShardIndexFor() of a name whose NameHash() is
// `hash`.
std::size_t ShardIndexForHash(std::uint64_t hash, std::size_t shard_count);

class ShardSet {
 public:
  // `shard_count` must be at least 1.
  ShardSet(std::size_t shard_count, Clock* clock);
  ShardSet(const ShardSet&) = delete;
  ShardSet& operator=(const ShardSet&) = delete;
  ~ShardSet();  // calls Shutdown()

  std::size_t size() const { return loops_.size(); }
  EventLoop& shard(std::size_t index) { return *loops_[index]; }
  EventLoop& ForName(std::string_view name) {
    return *loops_[ShardIndexFor(name, loops_.size())];
  }

  // Start() starts one thread per shard, each running its loop.
  void Start();

  // Shutdown() stops every loop and joins its thread. Idempotent.
  void Shutdown();

 private:
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::vector<std::thread> threads_;
};

}  // namespace baton::runtime

#endif  // BATON_SERVER_RUNTIME_SHARD_SET_H_

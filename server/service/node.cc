// Copyright 2026 The Baton Authors.

#include "server/service/node.h"

#include <array>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "server/core/status_macros.h"

namespace baton::service {

Node::Node(Options options, runtime::Clock* clock)
    : shards_(options.shards == 0 ? 1 : options.shards, clock) {
  state_.reserve(shards_.size());
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    state_.push_back(std::make_unique<Shard>(i, &shards_.shard(i), options));
  }
}

Node::~Node() {
  Shutdown();
  // The shard threads are gone. Run what was posted to them while the
  // registries still exist (a posted fn reaches its Shard by pointer), then
  // destroy the registries and run what their closing scheduled.
  for (std::size_t i = 0; i < shards_.size(); ++i) shards_.shard(i).RunUntilIdle();
  state_.clear();
  for (std::size_t i = 0; i < shards_.size(); ++i) shards_.shard(i).RunUntilIdle();
}

std::size_t Node::RunUntilIdle() {
  std::size_t total = 0;
  // A shard's work may post to another: until a whole pass runs nothing.
  for (std::size_t ran = 1; ran > 0;) {
    ran = 0;
    for (std::size_t i = 0; i < shards_.size(); ++i) ran += shards_.shard(i).RunUntilIdle();
    total += ran;
  }
  return total;
}

void Node::Run(std::string_view name, ShardFn fn) {
  RunOn(ShardIndexOf(name), std::move(fn));
}

absl::StatusOr<std::size_t> Node::LoadKeptState(store::Store& store, absl::Time wall_now) {
  // One thread reads the store in key order and hands the records to their
  // shards in chunks, which decode and create them in parallel with the
  // read. A chunk is one buffer (few allocations: a million records is
  // what this must take in seconds) and is freed once its shard is done.
  struct Chunk {
    std::string bytes;
    // Each record: where its name starts in `bytes`, the name's length, the
    // value's (right after the name).
    std::vector<std::array<std::uint32_t, 3>> records;
  };
  struct Progress {
    absl::Mutex mu;
    std::size_t outstanding ABSL_GUARDED_BY(mu) = 0;
    absl::Status error ABSL_GUARDED_BY(mu);
    bool Done() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return outstanding == 0; }
  };
  constexpr std::size_t kChunkRecords = 4096;
  auto progress = std::make_shared<Progress>();
  std::vector<Chunk> chunks(shard_count());
  auto post = [this, progress, wall_now](std::size_t index, Chunk chunk) {
    {
      absl::MutexLock lock(&progress->mu);
      ++progress->outstanding;
    }
    RunOn(index, [progress, wall_now, chunk = std::move(chunk)](Shard& shard) {
      absl::Status status;
      for (const auto& [at, name_size, value_size] : chunk.records) {
        const std::string_view name(chunk.bytes.data() + at, name_size);
        const std::string_view value(chunk.bytes.data() + at + name_size, value_size);
        status = RestoreInstance(shard.registry, name, value, wall_now);
        if (!status.ok()) break;
      }
      absl::MutexLock lock(&progress->mu);
      if (!status.ok() && progress->error.ok()) progress->error = std::move(status);
      --progress->outstanding;
    });
  };
  std::size_t count = 0;
  const absl::Status scanned = store.Scan(
      kInstanceKeyPrefix, [&](std::string_view key, std::string_view value) {
        const std::string_view name = key.substr(kInstanceKeyPrefix.size());
        const std::size_t index = ShardIndexOf(name);
        Chunk& chunk = chunks[index];
        chunk.records.push_back({static_cast<std::uint32_t>(chunk.bytes.size()),
                                 static_cast<std::uint32_t>(name.size()),
                                 static_cast<std::uint32_t>(value.size())});
        chunk.bytes.append(name);
        chunk.bytes.append(value);
        ++count;
        if (chunk.records.size() >= kChunkRecords) post(index, std::exchange(chunk, Chunk()));
      });
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    if (!chunks[i].records.empty()) post(i, std::move(chunks[i]));
  }
  absl::MutexLock lock(&progress->mu);
  progress->mu.Await(absl::Condition(progress.get(), &Progress::Done));
  BATON_RETURN_IF_ERROR(scanned);
  BATON_RETURN_IF_ERROR(progress->error);
  return count;
}

void Node::CheckpointKeptState(bool wait) {
  if (state_.empty() || state_[0]->kept == nullptr) return;
  auto done = std::make_shared<absl::BlockingCounter>(static_cast<int>(shard_count()));
  for (std::size_t i = 0; i < shard_count(); ++i) {
    RunOn(i, [done](Shard& shard) {
      shard.kept->Checkpoint([done](const absl::Status&) { done->DecrementCount(); });
    });
  }
  if (wait) done->Wait();
}

}  // namespace baton::service

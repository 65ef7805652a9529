// Copyright 2026 The Baton Authors.

#include "server/service/node.h"

#include <string>
#include <utility>

#include "absl/synchronization/blocking_counter.h"
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

void Node::Run(std::string_view name, ShardFn fn) {
  RunOn(ShardIndexOf(name), std::move(fn));
}

void Node::RunOn(std::size_t index, ShardFn fn) {
  Shard* shard = state_[index].get();
  shards_.shard(index).Post([shard, fn = std::move(fn)]() mutable { fn(*shard); });
}

absl::StatusOr<std::size_t> Node::LoadKeptState(store::Store& store, absl::Time wall_now) {
  // One thread reads the store in key order; each shard decodes and creates
  // its own instances, in parallel.
  std::vector<std::vector<std::pair<std::string, std::string>>> records(shard_count());
  std::size_t count = 0;
  BATON_RETURN_IF_ERROR(store.Scan(
      kInstanceKeyPrefix, [&](std::string_view key, std::string_view value) {
        const std::string_view name = key.substr(kInstanceKeyPrefix.size());
        records[ShardIndexOf(name)].emplace_back(name, value);
        ++count;
      }));
  std::vector<absl::Status> errors(shard_count());
  absl::BlockingCounter done(static_cast<int>(shard_count()));
  for (std::size_t i = 0; i < shard_count(); ++i) {
    RunOn(i, [&records, &errors, &done, i, wall_now](Shard& shard) {
      for (const auto& [name, value] : records[i]) {
        absl::Status restored = RestoreInstance(shard.registry, name, value, wall_now);
        if (!restored.ok()) {
          errors[i] = std::move(restored);
          break;
        }
      }
      std::vector<std::pair<std::string, std::string>>().swap(records[i]);
      done.DecrementCount();
    });
  }
  done.Wait();
  for (const absl::Status& error : errors) BATON_RETURN_IF_ERROR(error);
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

// Copyright 2026 The Baton Authors.

#include "server/service/node.h"

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

void Node::RunOn(std::size_t index, ShardFn fn) {
  Shard* shard = state_[index].get();
  shards_.shard(index).Post([shard, fn = std::move(fn)]() mutable { fn(*shard); });
}

}  // namespace baton::service

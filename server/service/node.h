// Copyright 2026 The Baton Authors.
//
// Node is one batond's state: its shards (an EventLoop per thread) and, on
// each, the Registry of the instances placed there. Everything about an
// instance happens on its shard's thread; the service reaches it with
// Run(name, fn), which posts `fn(registry)` there and never blocks.
//
// Threading: construct, Start() and Shutdown() from one thread; Run() and
// RunOnEach() from any thread between them. Registries are created before the
// shard threads start and destroyed after they stop, so they need no lock.

#ifndef BATON_SERVER_SERVICE_NODE_H_
#define BATON_SERVER_SERVICE_NODE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/core/registry.h"
#include "server/runtime/clock.h"
#include "server/runtime/record_pool.h"
#include "server/runtime/shard_set.h"
#include "server/service/kept_state.h"
#include "server/store/store.h"

namespace baton::service {

class Node {
 public:
  struct Options {
    std::size_t shards = 1;
    core::Registry::Options registry;
    std::uint64_t fence_base = 0;
    // Where each shard keeps the state no session owns (kept_state.h);
    // nullptr: nothing is kept. Outlives the Node, and is closed before
    // the Node is destroyed.
    store::RecordStore* store = nullptr;
  };

  Node(Options options, runtime::Clock* clock);
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  ~Node();  // Shutdown(), then the registries close every instance

  void Start() { shards_.Start(); }
  void Shutdown() { shards_.Shutdown(); }

  // RunUntilIdle() runs every shard's work on the calling thread until none
  // is left (what was posted, what that resumes or posts to other shards,
  // timers due). Only for a Node that is not started, driven from one
  // thread on a ManualClock: tests and the fuzzers (tests/fuzz). Returns how
  // many items ran.
  std::size_t RunUntilIdle();

  std::size_t shard_count() const { return shards_.size(); }

  // What lives on one shard.
  struct Shard {
    Shard(std::size_t index, runtime::EventLoop* loop, const Options& options)
        : index(index),
          loop(loop),
          registry(loop, options.fence_base, options.registry),
          kept(options.store == nullptr
                   ? nullptr
                   : std::make_unique<KeptState>(loop, &registry, options.store)) {}
    const std::size_t index;
    runtime::EventLoop* const loop;
    core::Registry registry;
    // The session of Admin calls that wait (TryAcquire answers at once and
    // holds nothing, so it never ends). Session ids from 1 on are clients'.
    core::Session admin_session{0};
    // The hook that keeps this shard's declared and changed instances in
    // the store; nullptr when nothing is kept.
    const std::unique_ptr<KeptState> kept;
    // The records of the Session stream's queued waits on this shard
    // (session_ops.cc's RunWait, which checks that it fits in
    // kWaitRecordBytes): what a million queued waiters cost.
    static constexpr std::size_t kWaitRecordBytes = 184;
    runtime::RecordPool wait_records{kWaitRecordBytes};
  };
  using ShardFn = absl::AnyInvocable<void(Shard&)>;

  // Run() runs `fn(shard)` on the shard that owns `name`.
  void Run(std::string_view name, ShardFn fn);

  // RunOn() runs `fn(shard)` on shard `index`. `fn` is any callable
  // taking a Shard& (a ShardFn too); it is posted as one closure, so a
  // lambda costs one allocation at most, not one for the ShardFn and one
  // for the closure that calls it.
  template <typename Fn>
  void RunOn(std::size_t index, Fn&& fn) {
    Shard* shard = state_[index].get();
    shards_.shard(index).Post([shard, fn = std::forward<Fn>(fn)]() mutable { fn(*shard); });
  }

  // LoadKeptState() creates, on their shards, the instances kept in
  // `store` (kept_state.h) and returns how many. The shards must be
  // running and no request served yet; blocks until every shard is done
  // (the shards load in parallel). An error (a record that does not parse,
  // a shard full) is returned rather than starting without kept state.
  absl::StatusOr<std::size_t> LoadKeptState(store::Store& store, absl::Time wall_now);

  // CheckpointKeptState() has every shard record its rate limits' bucket
  // levels (KeptState::Checkpoint()); with `wait`, blocks until they are
  // durable. A no-op when nothing is kept. The shards must be running.
  void CheckpointKeptState(bool wait);

  // QueueDepth() is how many work items wait in shard `index`'s inbox.
  // Any thread.
  std::size_t QueueDepth(std::size_t index) const { return state_[index]->loop->posted(); }

  // ShardIndexOf() is the index of the shard that owns `name`: the hash of
  // its ShardKeyOf().
  std::size_t ShardIndexOf(std::string_view name) const {
    return runtime::ShardIndexFor(ShardKeyOf(name), shards_.size());
  }

  // Where a name lives: its shard, and its runtime::NameHash(), by which
  // that shard's registry finds it (Registry::GetOrCreateValidated()).
  struct Placement {
    std::size_t shard = 0;
    std::uint64_t hash = 0;
  };
  // Place() is ShardIndexOf() and the name's hash, the name's bytes read
  // once (twice under "envoy/", whose shard key is a prefix).
  Placement Place(std::string_view name) const {
    const std::uint64_t hash = runtime::NameHash(name);
    const std::string_view key = ShardKeyOf(name);
    return {.shard = key.size() == name.size() ? runtime::ShardIndexForHash(hash, shards_.size())
                                               : runtime::ShardIndexFor(key, shards_.size()),
            .hash = hash};
  }

  // ShardKeyOf() is the part of `name` that places it on a shard: the whole
  // name, except under "envoy/" (the Envoy rate-limit service's buckets,
  // server/rls/rls_service.h), where it is the first two segments,
  // "envoy/<domain>/": every bucket of one rate-limit domain lives on one
  // shard, so that one turn of that shard can decide all the descriptors
  // of a request at once (all charged or none). A Baton client's own names
  // under "envoy/" are placed the same way.
  static std::string_view ShardKeyOf(std::string_view name) {
    constexpr std::string_view kEnvoyPrefix = "envoy/";
    if (name.substr(0, kEnvoyPrefix.size()) != kEnvoyPrefix) return name;
    const std::size_t slash = name.find('/', kEnvoyPrefix.size());
    if (slash == std::string_view::npos) return name;
    return name.substr(0, slash + 1);
  }

 private:
  runtime::ShardSet shards_;
  std::vector<std::unique_ptr<Shard>> state_;
};

}  // namespace baton::service

#endif  // BATON_SERVER_SERVICE_NODE_H_

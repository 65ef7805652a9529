// Copyright 2026 The Baton Authors.
//
// KeptState is the hook through which the services keep, in the store
// (server/store), the state of a shard's instances that no session owns:
// every declared instance (kind, name, parameters), live changes (SetRate,
// SetBound), latch counts, and rate-limit bucket levels (at checkpoints and
// at shutdown). Holds and waits belong to sessions and are not kept.
//
// The rule (README, "What survives a restart"): an answer that reports a
// change of kept state is sent only once the change is durable. A service
// that changed kept state calls Changed(name) and hands the answer to
// WhenDurable(); answers about an instance with a change not yet durable
// (Pending(name)) wait the same way. At the end of the loop's turn,
// KeptState writes the record of every instance changed in the turn (its
// whole state: writing it twice is harmless) as one batch to the store,
// which syncs the batches of every shard queued meanwhile in one write
// (group commit); the answers go once their batch is durable. Operations
// on state that is not kept (locks, semaphore acquire/release, rate
// acquire) never wait for the store.
//
// In a cluster the store is etcd (cluster::EtcdKeptStore, shared by the
// nodes): a name missed in memory is looked up there once the node is
// admitted to create it, a name that moves away has its unwritten change
// written (Release()), and nothing is evicted to the store.
//
// Idle eviction: an instance at its kind's defaults is evicted as before.
// One whose state is kept (declared or changed: Instance::kept()) is
// evicted from memory only: KeptState writes its record as it goes (its
// bucket level too) and remembers its name; the registry's next Find() of
// the name (any use, Describe) reads the record back (a LevelDB read on the
// shard, once) and creates it again. List() shows it all the while, and
// Delete() deletes it, record included.
//
// Threading: confined to its shard's EventLoop, like the registry.

#ifndef BATON_SERVER_SERVICE_KEPT_STATE_H_
#define BATON_SERVER_SERVICE_KEPT_STATE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/registry.h"
#include "server/runtime/event_loop.h"
#include "server/store/record_store.h"

namespace baton::service {

// The store's key of instance `name`: "i/<name>".
inline constexpr std::string_view kInstanceKeyPrefix = "i/";
std::string InstanceKey(std::string_view name);

// EncodeInstance() is the record of `instance` as it is now
// (proto/baton/store/record.proto); `wall_now` dates a bucket's level.
std::string EncodeInstance(const core::Instance& instance, absl::Time wall_now);

// RestoreInstance() creates `name` in `registry` as `record` describes it.
// A bucket's level gets the refill of the time between its record and
// `wall_now`. DATA_LOSS for a record that does not parse.
absl::Status RestoreInstance(core::Registry& registry, std::string_view name,
                             std::string_view record, absl::Time wall_now);

class KeptState {
 public:
  // Done receives OK once what it waited for is durable, or the store's
  // error (the change is made in memory, but may be lost in a crash).
  using Done = absl::AnyInvocable<void(const absl::Status&)>;

  // `loop` and `registry` are the shard's; `store` outlives this object
  // and is closed (Store::Close()) before it is destroyed.
  KeptState(runtime::EventLoop* loop, core::Registry* registry, store::RecordStore* store);
  KeptState(const KeptState&) = delete;
  KeptState& operator=(const KeptState&) = delete;
  ~KeptState();

  // Changed() records that the kept state of `name` changed in this turn
  // (declared, deleted, set_rate, set_bound, count_down...): its record, or
  // its deletion if it is gone by then, is written at the turn's end.
  void Changed(std::string_view name);

  // Release() is told of an instance about to leave memory because its
  // name moved to another node of the cluster: a change of it not yet
  // written is written as it is now (its record, not its deletion).
  void Release(const core::Instance& instance);

  // Pending() is true while a change of `name` is not durable yet.
  bool Pending(std::string_view name) const {
    const absl::string_view key(name.data(), name.size());
    return (!dirty_.empty() && dirty_.contains(key)) ||
           (!pending_.empty() && pending_.contains(key));
  }
  // AnyPending() is true while any change of this shard is not durable.
  bool AnyPending() const { return !pending_.empty() || !dirty_.empty(); }

  // WhenDurable() runs `done` on this loop once every change recorded so
  // far is durable: at once (OK) if none is pending.
  void WhenDurable(Done done);

  // Checkpoint() records the bucket level of every rate limit used since
  // the last checkpoint (of those the Envoy service makes and evicts
  // itself, none), and runs `done` once they are durable. O(instances).
  void Checkpoint(Done done);

 private:
  // What outlives this object in the store's callbacks: they post to the
  // loop only while `owner` is set.
  struct Link {
    Link(KeptState* owner, runtime::EventLoop* loop) : owner(owner), loop(loop) {}
    absl::Mutex mu;
    KeptState* owner ABSL_GUARDED_BY(mu);
    runtime::EventLoop* const loop;
  };

  void CommitTurn();
  void ScheduleCommit();
  // The registry's eviction hooks (Registry::set_eviction_hooks()).
  bool Evict(const core::Instance& instance);
  bool Reload(std::string_view name);
  void OnCommitted(std::uint64_t sequence, const absl::Status& status);

  runtime::EventLoop* const loop_;
  core::Registry* const registry_;
  store::RecordStore* const store_;
  std::shared_ptr<Link> link_;
  // Names changed in this turn; written by CommitTurn() at its end.
  absl::flat_hash_set<std::string> dirty_;
  bool commit_scheduled_ = false;
  // Name -> the batch that makes its last change durable.
  absl::flat_hash_map<std::string, std::uint64_t> pending_;
  std::uint64_t next_sequence_ = 1;  // of this turn's batch
  std::uint64_t submitted_ = 0;      // the last batch handed to the store
  std::uint64_t committed_ = 0;      // the last batch durable
  // Waiting for a batch, in order of sequence.
  std::deque<std::pair<std::uint64_t, Done>> waiting_;
  absl::Time last_checkpoint_ = absl::InfinitePast();
  // Records of kept instances evicted in this turn, until its batch is
  // written (the registry remembers which names are out of memory:
  // Registry::Stored()).
  absl::flat_hash_map<std::string, std::string> evicted_;
};

}  // namespace baton::service

#endif  // BATON_SERVER_SERVICE_KEPT_STATE_H_

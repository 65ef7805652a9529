// Copyright 2026 The Baton Authors.
//
// RecordStore is what KeptState (server/service/kept_state.h) needs of the
// place where a shard's kept records live: read one record, and commit a
// batch of changes with a callback once it is durable. Two implement it:
// store::Store (LevelDB in --data_dir, a batond that runs alone) and
// cluster::EtcdKeptStore (etcd, shared by the nodes of a cluster, so that
// a name's new owner finds what its old owner kept).
//
// Threading: implementations are thread-safe; Get() must not block on I/O
// when shared() is true (it runs on a shard when a name is first used).

#ifndef BATON_SERVER_STORE_RECORD_STORE_H_
#define BATON_SERVER_STORE_RECORD_STORE_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace baton::store {

class RecordStore {
 public:
  // A batch of changes applied atomically. Cheap to move.
  class Batch {
   public:
    struct Op {
      std::string key;
      std::optional<std::string> value;  // nullopt: delete
    };
    void Put(std::string_view key, std::string_view value) {
      ops_.push_back({std::string(key), std::string(value)});
    }
    void Delete(std::string_view key) { ops_.push_back({std::string(key), std::nullopt}); }
    bool empty() const { return ops_.empty(); }
    std::size_t size() const { return ops_.size(); }
    const std::vector<Op>& ops() const { return ops_; }

   private:
    std::vector<Op> ops_;
  };

  // Done receives OK once the batch is durable, or the error that kept it
  // from being written (then it may or may not be).
  using Done = absl::AnyInvocable<void(const absl::Status&)>;

  virtual ~RecordStore() = default;

  // Get() is the value of `key`, or nullopt if it is absent.
  virtual absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const = 0;

  // Commit() queues `batch`; `done` runs once it is written (on a thread
  // of the store's: it must be short).
  virtual void Commit(Batch batch, Done done) = 0;

  // shared() is true when other processes write this store too (a
  // cluster's): a name this process never held may have a record, so a
  // registry looks there before it creates a name with its defaults.
  virtual bool shared() const { return false; }
};

}  // namespace baton::store

#endif  // BATON_SERVER_STORE_RECORD_STORE_H_

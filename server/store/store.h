// Copyright 2026 The Baton Authors.
//
// Store is batond's durable state on an embedded engine, LevelDB (Debian's
// libleveldb-dev): one database in `<data_dir>/state`, keys and values of
// bytes. What batond keeps there (server/service/kept_state.h): a record
// per declared or changed instance under "i/<name>", and the fence state
// under "fence" (server/service/fence_store.h).
//
// Writes are group-committed. Commit() queues a batch and returns; one
// writer thread takes every batch queued since its last write, applies them
// as one LevelDB WriteBatch with sync = true (one fsync of the log for
// all of them), and then calls each batch's `done`. Batches are applied in
// the order of their Commit() calls, atomically each: a crash leaves a
// prefix of them. So the cost of a sync is shared by whatever the shards
// changed while the previous one ran, and throughput grows with the load
// instead of collapsing to one change per fsync.
//
// Example:
//   BATON_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(dir));
//   Store::Batch batch;
//   batch.Put("i/jobs", record);
//   store->Commit(std::move(batch), [](absl::Status s) { ...durable now });
//
// Threading: thread-safe. Get(), Scan() and Write() block on I/O: call
// them from batond's main thread (start, shutdown), never from a shard.
// Commit() never blocks on I/O; `done` runs on the writer thread and must
// be short (post to a loop).

#ifndef BATON_SERVER_STORE_STORE_H_
#define BATON_SERVER_STORE_STORE_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/store/record_store.h"

namespace leveldb {
class DB;
}  // namespace leveldb

namespace baton::store {

class Store final : public RecordStore {
 public:
  struct Options {
    // sync = false skips the fsync (tests, benchmarks of the engine alone):
    // a crash of the machine, not of batond, may then lose what was
    // committed.
    bool sync = true;
  };

  using Batch = RecordStore::Batch;
  using Done = RecordStore::Done;

  // Open() opens (creating if missing) the database in `dir`, which must
  // exist or whose parent must. FAILED_PRECONDITION when another process
  // has it open, or it cannot be created; DATA_LOSS when it is corrupt.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& dir,
                                                     Options options);
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& dir) {
    return Open(dir, Options());
  }

  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  // The destructor is Close(), then closes the database.
  ~Store();

  // Get() is the value of `key`, or nullopt if it is absent.
  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) const override;

  // Scan() calls `fn` with every key starting with `prefix` and its value,
  // in key order.
  absl::Status Scan(std::string_view prefix,
                    absl::FunctionRef<void(std::string_view key, std::string_view value)> fn)
      const;

  // Write() is Commit() that waits: it returns once `batch` is written
  // (synced unless Options::sync is false), after what was committed
  // before it. After Close(), it writes on the caller's thread.
  [[nodiscard]] absl::Status Write(Batch batch);

  // Commit() queues `batch` for the writer thread (see the file comment),
  // and `done` to run once it is written. After Close(), `done` runs at
  // once with FAILED_PRECONDITION, on the caller's thread.
  void Commit(Batch batch, Done done) override;

  // Close() writes what was committed, runs the `done`s, and stops the
  // writer thread. Idempotent.
  void Close();

  // syncs() is how many synced writes the writer made; batches() how many
  // batches they carried (their ratio is the group-commit factor).
  std::uint64_t syncs() const;
  std::uint64_t batches() const;

  const std::string& dir() const { return dir_; }

 private:
  Store(std::string dir, Options options, std::unique_ptr<leveldb::DB> db);
  void WriterLoop();
  bool HasWorkLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || closing_;
  }
  bool ClosingLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closing_; }

  const std::string dir_;
  const Options options_;
  const std::unique_ptr<leveldb::DB> db_;

  struct Queued {
    Batch batch;
    Done done;
  };
  mutable absl::Mutex mu_;
  std::deque<Queued> queue_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::uint64_t syncs_ ABSL_GUARDED_BY(mu_) = 0;
  std::uint64_t batches_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread writer_;
};

}  // namespace baton::store

#endif  // BATON_SERVER_STORE_STORE_H_

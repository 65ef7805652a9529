// Copyright 2026 The Baton Authors.
//
// FenceStore keeps, in a data directory, what makes fencing tokens strictly
// increase across batond restarts: the server epoch (a number that grows with
// every start) and a floor under every fence granted so far. The state is one
// small text file, `dir`/fence-state:
//
//   epoch 1796601600123
//   fence_floor 1796601600123456789
//
// Every start takes a new epoch and a fence base above everything an earlier
// run can have granted; while it runs, the server records the highest fence
// it granted now and then (Persist), so the next start's base stays above it.
// Fences granted after the last Persist() before a crash are covered by a
// margin of 2^32 that the next start adds to the recorded floor.
//
// The wall clock is a second floor, so that fences keep increasing even when
// the directory is lost (a pod re-created on an emptyDir, a disk replaced):
//   epoch      >= the Unix time of the start in milliseconds
//   fence_base >= the Unix time of the start in nanoseconds
// A run grants far fewer than one fence per nanosecond, so its fences stay
// below the wall clock's nanoseconds at its end, hence below the base of any
// later start, with or without the file, as long as the clock is not set
// back. What the file adds on top (the crash margin, about 4.3 s of
// nanoseconds, after a crash or a quick restart) is the clock's `lead()`:
// after a lost directory, fences stay increasing if the new start's clock is
// at most that far behind the old run's. batond logs the lead at start.
//
// With a store (server/store, batond's default), the same two lines are the
// value of the store's key "fence", written synced, and there is no file:
// an existing `dir`/fence-state (from a batond that had no store) is read
// once, its state carried into the store, and the file removed once the
// store has it durably.
//
// The file is replaced atomically and durably (temp file, fsync, rename,
// fsync of the directory), so a crash leaves either the old or the new state.
// A file that cannot be parsed is an error, never a reason to start over:
// starting over could hand out fences again that were already granted.
//
// Example:
//   BATON_ASSIGN_OR_RETURN(FenceStore fences, FenceStore::Open(data_dir, absl::Now()));
//   node_options.fence_base = fences.fence_base();
//   ...
//   BATON_RETURN_IF_ERROR(fences.Persist(highest_fence_granted));

#ifndef BATON_SERVER_SERVICE_FENCE_STORE_H_
#define BATON_SERVER_SERVICE_FENCE_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/store/store.h"

namespace baton::service {

// Threading: not thread-safe. Open() and Persist() do blocking file I/O;
// batond calls them from one thread (its main thread), never from a shard.
// Movable, not copyable: one FenceStore owns the state of its directory.
// Two processes must not open the same directory at once (nothing stops
// them: both would take the same epoch).
class FenceStore {
 public:
  // What the next start adds to the recorded floor, to cover fences granted
  // after the last Persist() before a crash.
  static constexpr std::uint64_t kCrashMargin = std::uint64_t{1} << 32;
  // The name of the state file inside the data directory.
  static constexpr char kFileName[] = "fence-state";
  // The store's key of the state, when there is a store.
  static constexpr char kStoreKey[] = "fence";

  // Open() creates `dir` (and its parents) if missing, reads `dir`/fence-state
  // (absent: a first start, previous epoch 0 and floor 0) and starts a new
  // epoch at wall-clock time `now`:
  //   epoch      = max(previous epoch + 1, Unix milliseconds of now)
  //   fence_base = max(previous floor + kCrashMargin, Unix nanoseconds of now)
  // then records {epoch, fence_base} durably before returning, so two starts
  // never share an epoch. Errors name the path and say what was wrong:
  // FAILED_PRECONDITION for a directory or file that cannot be created, read
  // or written (with the errno text), DATA_LOSS for a state file that does
  // not parse (it is left untouched), OUT_OF_RANGE when the epoch or the
  // fence base would overflow 64 bits, INVALID_ARGUMENT for an empty `dir`.
  //
  // With `store`, the state lives in the store under kStoreKey, migrated
  // from the file if the store has none (see the file comment); `store`
  // outlives the FenceStore.
  static absl::StatusOr<FenceStore> Open(const std::string& dir, absl::Time now,
                                         store::Store* store = nullptr);

  FenceStore(FenceStore&&) = default;
  FenceStore& operator=(FenceStore&&) = default;
  FenceStore(const FenceStore&) = delete;
  FenceStore& operator=(const FenceStore&) = delete;

  // epoch() is this run's epoch: above every earlier start's.
  std::uint64_t epoch() const { return epoch_; }
  // fence_base() is below every fence of this run: they are all larger.
  std::uint64_t fence_base() const { return fence_base_; }
  // lead() is how far fence_base() is ahead of the wall clock's nanoseconds
  // at Open() (zero when the clock set it): after a lost data directory,
  // fences stay increasing if the clock is not behind this run's by more.
  absl::Duration lead() const { return lead_; }

  // Persist() records that fences up to `highest` were granted, if `highest`
  // is above what is recorded, durably like Open(). A cheap no-op (no I/O)
  // when it is not higher. On error the recorded floor is unchanged and the
  // next call tries again.
  [[nodiscard]] absl::Status Persist(std::uint64_t highest);

  // path() is where the state is: the file `dir`/fence-state, or the
  // store's key ("<store dir> key 'fence'").
  const std::string& path() const { return path_; }

 private:
  FenceStore(std::string dir, std::string path, std::uint64_t epoch,
             std::uint64_t fence_base, absl::Duration lead)
      : dir_(std::move(dir)),
        path_(std::move(path)),
        epoch_(epoch),
        fence_base_(fence_base),
        lead_(lead),
        floor_(fence_base) {}

  std::string dir_;
  std::string path_;
  // Closes the flock()ed `path_`.lock that keeps other processes out.
  std::shared_ptr<void> lock_;
  std::uint64_t epoch_;
  std::uint64_t fence_base_;
  absl::Duration lead_;
  // The fence floor recorded in the file: fence_base_ or the highest
  // persisted since.
  std::uint64_t floor_;
  // Where the state lives instead of the file; nullptr: the file.
  store::Store* store_ = nullptr;
};

}  // namespace baton::service

#endif  // BATON_SERVER_SERVICE_FENCE_STORE_H_

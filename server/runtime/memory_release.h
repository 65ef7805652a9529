// Copyright 2026 The Baton Authors.
//
// BurstRelease gives memory freed after a burst back to the system. A burst
// of requests (a client queueing a million acquires in messages of a
// thousand) is parsed faster than its shard runs it: the parsed requests
// pile up, then are freed, and malloc keeps that memory, in holes between
// what stays (bench/scale: ~85 bytes per queued waiter). Once frees noted
// with Note() add up to `min_bytes` and then stop for `quiet`, a thread of
// its own calls `release` (by default malloc_trim(0), which returns free
// pages to the system also from the middle of the heap) once. A steady
// load of large messages postpones it (the memory is being reused).
//
// Example:
//   BurstRelease::Global().Note(freed_bytes);
//
// Threading: Note() from any thread; `release` runs on the object's thread.

#ifndef BATON_SERVER_RUNTIME_MEMORY_RELEASE_H_
#define BATON_SERVER_RUNTIME_MEMORY_RELEASE_H_

#include <cstddef>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace baton::runtime {

class BurstRelease {
 public:
  struct Options {
    std::size_t min_bytes = std::size_t{16} << 20;
    absl::Duration quiet = absl::Milliseconds(500);
    // Gives free memory back; nullptr: malloc_trim(0) (nothing where the
    // C library has none).
    std::function<void()> release;
  };

  explicit BurstRelease(Options options);
  BurstRelease(const BurstRelease&) = delete;
  BurstRelease& operator=(const BurstRelease&) = delete;
  // Stops the thread (a release due is not run).
  ~BurstRelease();

  // Global() is the process's, with the default options; never destroyed.
  static BurstRelease& Global();

  // Note() records that `bytes` of burst memory were freed just now.
  void Note(std::size_t bytes);

  // How many times `release` ran. For tests.
  int releases() const;

 private:
  void Run();
  bool Due() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  mutable absl::Mutex mu_;
  std::size_t noted_ ABSL_GUARDED_BY(mu_) = 0;
  // When the release is due (the last Note() plus `quiet`), once noted_
  // reached min_bytes; InfiniteFuture() otherwise.
  absl::Time due_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  int releases_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_ ABSL_GUARDED_BY(mu_);
};

}  // namespace baton::runtime

#endif  // BATON_SERVER_RUNTIME_MEMORY_RELEASE_H_

// Copyright 2026 The Baton Authors.

#include "server/runtime/memory_release.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <utility>

namespace baton::runtime {

BurstRelease::BurstRelease(Options options) : options_(std::move(options)) {}

BurstRelease::~BurstRelease() {
  std::thread thread;
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    thread = std::move(thread_);
  }
  if (thread.joinable()) thread.join();
}

BurstRelease& BurstRelease::Global() {
  // Never destroyed: its thread may be waiting when the process exits.
  static BurstRelease* const global = new BurstRelease(Options());
  return *global;
}

void BurstRelease::Note(std::size_t bytes) {
  absl::MutexLock lock(&mu_);
  noted_ += bytes;
  if (noted_ < options_.min_bytes) return;
  // Postponed by every burst frees: due once they stop.
  due_ = absl::Now() + options_.quiet;
  if (!thread_.joinable()) thread_ = std::thread([this] { Run(); });
}

int BurstRelease::releases() const {
  absl::MutexLock lock(&mu_);
  return releases_;
}

bool BurstRelease::Due() const { return stop_ || due_ <= absl::Now(); }

void BurstRelease::Run() {
  absl::MutexLock lock(&mu_);
  while (!stop_) {
    if (!Due()) {
      // Until the release is due, or a Note() moves it (or sets it).
      const absl::Time waited_for = due_;
      const auto moved = [this, waited_for]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || due_ != waited_for;
      };
      mu_.AwaitWithDeadline(absl::Condition(&moved), waited_for);
      continue;
    }
    due_ = absl::InfiniteFuture();
    noted_ = 0;
    ++releases_;
    mu_.Unlock();
    if (options_.release) {
      options_.release();
    } else {
#if defined(__GLIBC__)
      malloc_trim(0);
#endif
    }
    mu_.Lock();
  }
}

}  // namespace baton::runtime

// Copyright 2026 The Baton Authors.
//
// The counters batond's services bump on their hot paths, read at scrape
// time by /metrics (--metrics_listen). Process-wide: every service instance
// (batond runs the rate-limit service on up to two ports) counts into the
// same ones.
//
//   metrics::Session().RecordGrant(kind_index);          // a shard thread
//   metrics::Session().RecordDuration(nanos);            // a shard thread
//   metrics::RlsCounts* counts = metrics::Rls().For("edge", "remote_address");
//   counts->total_hits.fetch_add(1, std::memory_order_relaxed);
//
// Threading: everything here is thread-safe. The Session counters are
// relaxed atomics (no ordering between them: a scrape may see a grant before
// the duration of the same request). RlsCounters::For() takes a reader lock
// on the label-set table (a writer lock only the first time a label set is
// seen); the counts are relaxed atomics.

#ifndef BATON_SERVER_METRICS_COUNTERS_H_
#define BATON_SERVER_METRICS_COUNTERS_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace baton::metrics {

// Kinds of instances, as core::Kind numbers them (static_assert'ed there).
inline constexpr std::size_t kKinds = 8;

// SessionCounters: what the Session stream answers, per kind. Each shard
// counts into a slot of its own (its index modulo kSlots, a cache line
// apart), so shards do not contend; a read sums the slots.
class SessionCounters {
 public:
  // Upper bounds of the request-duration buckets, in seconds.
  static constexpr std::array<double, 10> kDurationBounds = {
      0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 1, 10, 60};
  static constexpr std::size_t kSlots = 64;

  void RecordGrant(std::size_t shard, std::size_t kind) {
    if (kind < kKinds) Add(slots_[shard % kSlots].grants[kind], 1);
  }
  void RecordTimeout(std::size_t shard, std::size_t kind) {
    if (kind < kKinds) Add(slots_[shard % kSlots].timeouts[kind], 1);
  }
  // RecordDuration() counts one request answered `nanos` after its dispatch.
  void RecordDuration(std::size_t shard, std::int64_t nanos);

  std::uint64_t grants(std::size_t kind) const;
  std::uint64_t timeouts(std::size_t kind) const;
  // Per bucket (not cumulative), kDurationBounds.size() + 1 of them.
  std::vector<std::uint64_t> duration_counts() const;
  double duration_sum_seconds() const;

 private:
  using Counter = std::atomic<std::uint64_t>;
  // Written by one shard's thread (or two, past kSlots shards): a relaxed
  // load and store would do for one writer; fetch_add keeps two exact.
  static void Add(Counter& counter, std::uint64_t n) {
    counter.fetch_add(n, std::memory_order_relaxed);
  }
  struct alignas(64) Slot {
    std::array<Counter, kKinds> grants{};
    std::array<Counter, kKinds> timeouts{};
    std::array<Counter, kDurationBounds.size() + 1> durations{};
    Counter duration_sum_ns{0};
  };
  std::array<Slot, kSlots> slots_{};
};

// The counts of one (domain, key) label set of the rate-limit service, as
// envoyproxy/ratelimit names them.
struct RlsCounts {
  std::atomic<std::uint64_t> total_hits{0};
  std::atomic<std::uint64_t> over_limit{0};
  std::atomic<std::uint64_t> near_limit{0};
  std::atomic<std::uint64_t> within_limit{0};
  std::atomic<std::uint64_t> shadow_mode{0};
};

// RlsCounters: the rate-limit service's counts per (domain, key), at most
// max_label_sets of them; those seen after the cap count into
// ("other", "other").
class RlsCounters {
 public:
  static constexpr char kOther[] = "other";

  explicit RlsCounters(std::size_t max_label_sets = 1000) : max_label_sets_(max_label_sets) {}

  // set_max_label_sets() changes the cap (batond sets it once at start).
  void set_max_label_sets(std::size_t max) {
    absl::MutexLock lock(&mutex_);
    max_label_sets_ = max;
  }

  // For() is the counts of (domain, key); never null, valid for the life of
  // this object.
  RlsCounts* For(absl::string_view domain, absl::string_view key);

  struct Row {
    std::string domain;
    std::string key;
    std::uint64_t total_hits = 0;
    std::uint64_t over_limit = 0;
    std::uint64_t near_limit = 0;
    std::uint64_t within_limit = 0;
    std::uint64_t shadow_mode = 0;
  };
  // Snapshot() reads every label set (the "other" one last, when used).
  std::vector<Row> Snapshot() const;

  // Answers that --rls_shadow_mode turned from OVER_LIMIT to OK.
  void CountGlobalShadowMode() { global_shadow_mode_.fetch_add(1, std::memory_order_relaxed); }
  std::uint64_t global_shadow_mode() const {
    return global_shadow_mode_.load(std::memory_order_relaxed);
  }

  // In a cluster: requests this node forwarded to their domain's owner,
  // `answered` by it (whatever the answer), or not (the owner unreachable,
  // or past the deadline). The owner counts the descriptors' hits.
  void CountForwarded(bool answered) {
    (answered ? forwarded_ : forward_failed_).fetch_add(1, std::memory_order_relaxed);
  }
  std::uint64_t forwarded() const { return forwarded_.load(std::memory_order_relaxed); }
  std::uint64_t forward_failed() const { return forward_failed_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    std::string domain;
    std::string key;
    RlsCounts counts;
  };
  mutable absl::Mutex mutex_;
  std::size_t max_label_sets_ ABSL_GUARDED_BY(mutex_);
  // By domain + '\0' + key; insertion order in order_.
  absl::flat_hash_map<std::string, std::unique_ptr<Entry>> entries_ ABSL_GUARDED_BY(mutex_);
  std::vector<const Entry*> order_ ABSL_GUARDED_BY(mutex_);
  bool other_used_ ABSL_GUARDED_BY(mutex_) = false;
  std::atomic<std::uint64_t> global_shadow_mode_{0};
  std::atomic<std::uint64_t> forwarded_{0};
  std::atomic<std::uint64_t> forward_failed_{0};
  RlsCounts other_;
};

// NowNanos() is the steady clock in nanoseconds, for RecordDuration().
inline std::int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The process's counters.
SessionCounters& Session();
RlsCounters& Rls();

}  // namespace baton::metrics

#endif  // BATON_SERVER_METRICS_COUNTERS_H_

// Copyright 2026 The Baton Authors.

#include "server/metrics/counters.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace baton::metrics {

void SessionCounters::RecordDuration(std::size_t shard, std::int64_t nanos) {
  if (nanos < 0) nanos = 0;
  // kDurationBounds in nanoseconds; most requests fall in the first buckets,
  // so a scan from the smallest beats a binary search over doubles.
  static constexpr std::array<std::int64_t, kDurationBounds.size()> kBoundsNs = [] {
    std::array<std::int64_t, kDurationBounds.size()> ns{};
    for (std::size_t i = 0; i < ns.size(); ++i) {
      ns[i] = static_cast<std::int64_t>(kDurationBounds[i] * 1e9 + 0.5);
    }
    return ns;
  }();
  std::size_t bucket = 0;
  while (bucket < kBoundsNs.size() && nanos > kBoundsNs[bucket]) ++bucket;
  Slot& slot = slots_[shard % kSlots];
  Add(slot.durations[bucket], 1);
  Add(slot.duration_sum_ns, static_cast<std::uint64_t>(nanos));
}

std::uint64_t SessionCounters::grants(std::size_t kind) const {
  std::uint64_t sum = 0;
  for (const Slot& slot : slots_) sum += slot.grants[kind].load(std::memory_order_relaxed);
  return sum;
}

std::uint64_t SessionCounters::timeouts(std::size_t kind) const {
  std::uint64_t sum = 0;
  for (const Slot& slot : slots_) sum += slot.timeouts[kind].load(std::memory_order_relaxed);
  return sum;
}

std::vector<std::uint64_t> SessionCounters::duration_counts() const {
  std::vector<std::uint64_t> counts(kDurationBounds.size() + 1, 0);
  for (const Slot& slot : slots_) {
    for (std::size_t i = 0; i < counts.size(); ++i) {
      counts[i] += slot.durations[i].load(std::memory_order_relaxed);
    }
  }
  return counts;
}

double SessionCounters::duration_sum_seconds() const {
  std::uint64_t sum = 0;
  for (const Slot& slot : slots_) sum += slot.duration_sum_ns.load(std::memory_order_relaxed);
  return static_cast<double>(sum) / 1e9;
}

RlsCounts* RlsCounters::For(absl::string_view domain, absl::string_view key) {
  std::string id = absl::StrCat(domain, absl::string_view("\0", 1), key);
  {
    absl::ReaderMutexLock lock(&mutex_);
    if (const auto it = entries_.find(id); it != entries_.end()) return &it->second->counts;
    if (entries_.size() >= max_label_sets_ && other_used_) return &other_;
  }
  absl::MutexLock lock(&mutex_);
  if (const auto it = entries_.find(id); it != entries_.end()) return &it->second->counts;
  if (entries_.size() >= max_label_sets_) {
    other_used_ = true;
    return &other_;
  }
  auto entry = std::make_unique<Entry>();
  entry->domain = std::string(domain);
  entry->key = std::string(key);
  Entry* raw = entry.get();
  entries_.emplace(std::move(id), std::move(entry));
  order_.push_back(raw);
  return &raw->counts;
}

std::vector<RlsCounters::Row> RlsCounters::Snapshot() const {
  const auto read = [](absl::string_view domain, absl::string_view key, const RlsCounts& c) {
    return Row{.domain = std::string(domain),
               .key = std::string(key),
               .total_hits = c.total_hits.load(std::memory_order_relaxed),
               .over_limit = c.over_limit.load(std::memory_order_relaxed),
               .near_limit = c.near_limit.load(std::memory_order_relaxed),
               .within_limit = c.within_limit.load(std::memory_order_relaxed),
               .shadow_mode = c.shadow_mode.load(std::memory_order_relaxed)};
  };
  std::vector<Row> rows;
  absl::ReaderMutexLock lock(&mutex_);
  rows.reserve(order_.size() + 1);
  for (const Entry* entry : order_) rows.push_back(read(entry->domain, entry->key, entry->counts));
  if (other_used_) rows.push_back(read(kOther, kOther, other_));
  return rows;
}

SessionCounters& Session() {
  static SessionCounters* const counters = new SessionCounters();
  return *counters;
}

RlsCounters& Rls() {
  static RlsCounters* const counters = new RlsCounters();
  return *counters;
}

}  // namespace baton::metrics

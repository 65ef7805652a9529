// Copyright 2026 The Baton Authors.

#include "bench/loadgen/histogram.h"

#include <cmath>

namespace baton::bench {

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
}

double LatencyHistogram::MiddleOf(int index) {
  if (index < static_cast<int>(kSubBuckets)) return index;
  const int exponent = index / static_cast<int>(kSubBuckets) - 1 + kSubBits;
  const double sub = index % static_cast<int>(kSubBuckets);
  const double width = std::ldexp(1.0, exponent - kSubBits);
  return (kSubBuckets + sub) * width + width / 2;
}

double LatencyHistogram::PercentileMicros(double q) const {
  if (count_ == 0) return 0;
  // The rank of the wanted duration, 1-based: the ceil(q * count)-th.
  uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return MiddleOf(i) / 1000.0;
  }
  return MiddleOf(kBuckets - 1) / 1000.0;
}

}  // namespace baton::bench

// Copyright 2026 The Baton Authors.
//
// LatencyHistogram: a fixed log-bucket histogram of durations in nanoseconds
// (32 buckets per power of two: a percentile is read within 3%). Recording
// is an index computation and an increment, never an allocation.
//
// Not thread-safe: each session (or unary slot) of the load generator records
// into its own, and they are merged once the run is over.
//
// Example:
//   LatencyHistogram h;
//   h.Record(1500);                        // 1.5 us
//   double p99 = h.PercentileMicros(0.99);

#ifndef BATON_BENCH_LOADGEN_HISTOGRAM_H_
#define BATON_BENCH_LOADGEN_HISTOGRAM_H_

#include <array>
#include <cstdint>

namespace baton::bench {

class LatencyHistogram {
 public:
  // Record adds one duration of `nanos` nanoseconds.
  void Record(uint64_t nanos) { ++counts_[BucketOf(nanos)]; ++count_; }

  // Merge adds every duration recorded by `other`.
  void Merge(const LatencyHistogram& other);

  // count is how many durations were recorded.
  uint64_t count() const { return count_; }

  // PercentileMicros is the duration, in microseconds, below which a
  // fraction `q` (0 < q <= 1) of the recorded ones fall: the middle of the
  // bucket holding it. 0 when nothing was recorded.
  double PercentileMicros(double q) const;

 private:
  static constexpr int kSubBits = 5;
  static constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBits;
  // Values below kSubBuckets have a bucket each; above, each power of two
  // from 2^kSubBits to 2^63 has kSubBuckets.
  static constexpr int kBuckets = (64 - kSubBits + 1) * kSubBuckets;

  static int BucketOf(uint64_t nanos) {
    if (nanos < kSubBuckets) return static_cast<int>(nanos);
    const int exponent = 63 - __builtin_clzll(nanos);
    const uint64_t sub = (nanos >> (exponent - kSubBits)) - kSubBuckets;
    return static_cast<int>((exponent - kSubBits + 1) * kSubBuckets + sub);
  }
  // The middle of bucket `index`, in nanoseconds.
  static double MiddleOf(int index);

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
};

}  // namespace baton::bench

#endif  // BATON_BENCH_LOADGEN_HISTOGRAM_H_

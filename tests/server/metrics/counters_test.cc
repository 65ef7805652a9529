// Copyright 2026 The Baton Authors.

#include "server/metrics/counters.h"

#include "gtest/gtest.h"

namespace baton::metrics {
namespace {

TEST(RlsCountersTest, SameLabelSetSameCounts) {
  RlsCounters counters(10);
  RlsCounts* a = counters.For("edge", "remote_address");
  EXPECT_EQ(counters.For("edge", "remote_address"), a);
  EXPECT_NE(counters.For("edge", "path"), a);
  // The separator cannot be forged by a domain that ends like a key.
  EXPECT_NE(counters.For("edg", "eremote_address"), a);
}

TEST(RlsCountersTest, LabelSetsPastTheCapFoldIntoOther) {
  RlsCounters counters(2);
  counters.For("d", "a")->total_hits += 1;
  counters.For("d", "b")->total_hits += 2;
  RlsCounts* c = counters.For("d", "c");
  RlsCounts* e = counters.For("e", "a");
  EXPECT_EQ(c, e);
  c->total_hits += 3;
  e->over_limit += 1;
  counters.For("d", "a")->total_hits += 1;  // a known one still counts as itself
  const std::vector<RlsCounters::Row> rows = counters.Snapshot();
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].domain, "d");
  EXPECT_EQ(rows[0].key, "a");
  EXPECT_EQ(rows[0].total_hits, 2u);
  EXPECT_EQ(rows[1].key, "b");
  EXPECT_EQ(rows[2].domain, "other");
  EXPECT_EQ(rows[2].key, "other");
  EXPECT_EQ(rows[2].total_hits, 3u);
  EXPECT_EQ(rows[2].over_limit, 1u);
}

TEST(SessionCountersTest, DurationsFallInTheirBuckets) {
  SessionCounters counters;
  counters.RecordDuration(0, 50'000);           // 50us: first bucket (<= 100us)
  counters.RecordDuration(1, 100'000);          // exactly 100us: still the first (le)
  counters.RecordDuration(2, 2'000'000);        // 2ms: <= 5ms
  counters.RecordDuration(70, 120'000'000'000);  // 2 min: +Inf (slot 70 % 64)
  counters.RecordDuration(0, -5);               // a clock oddity counts as 0
  const std::vector<std::uint64_t> counts = counters.duration_counts();
  ASSERT_EQ(counts.size(), SessionCounters::kDurationBounds.size() + 1);
  EXPECT_EQ(counts[0], 3u);
  EXPECT_EQ(counts[3], 1u);
  EXPECT_EQ(counts.back(), 1u);
  EXPECT_NEAR(counters.duration_sum_seconds(), 120.00215, 1e-9);
  counters.RecordGrant(0, 1);
  counters.RecordGrant(5, 1);   // another shard: summed
  counters.RecordGrant(6, 99);  // out of range: ignored
  counters.RecordTimeout(1000, 7);
  EXPECT_EQ(counters.grants(1), 2u);
  EXPECT_EQ(counters.timeouts(7), 1u);
}

}  // namespace
}  // namespace baton::metrics

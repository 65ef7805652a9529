// Copyright 2026 The Baton Authors.

#include "server/metrics/exposition.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace baton::metrics {
namespace {

TEST(EscapeLabelValueTest, EscapesBackslashQuoteAndNewline) {
  EXPECT_EQ(EscapeLabelValue(R"(a\b)"), R"(a\\b)");
  EXPECT_EQ(EscapeLabelValue(R"(say "hi")"), R"(say \"hi\")");
  EXPECT_EQ(EscapeLabelValue("two\nlines"), R"(two\nlines)");
  EXPECT_EQ(EscapeLabelValue("\\\"\n"), R"(\\\"\n)");
}

TEST(EscapeLabelValueTest, LeavesOtherBytesAlone) {
  EXPECT_EQ(EscapeLabelValue(""), "");
  EXPECT_EQ(EscapeLabelValue("remote_address 10.0.0.1/{}=,\t\xc3\xa9"),
            "remote_address 10.0.0.1/{}=,\t\xc3\xa9");
}

TEST(EscapeHelpTest, EscapesBackslashAndNewlineNotQuotes) {
  EXPECT_EQ(EscapeHelp("a \"b\"\\c\nd"), "a \"b\"\\\\c\\nd");
}

TEST(FormatValueTest, IntegersSpecialsAndFractions) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(42), "42");
  EXPECT_EQ(FormatValue(-3), "-3");
  EXPECT_EQ(FormatValue(0.5), "0.5");
  EXPECT_EQ(FormatValue(0.0001), "0.0001");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
  EXPECT_EQ(FormatValue(1e20), "1e+20");
}

TEST(ExpositionTest, FamilyAndSamples) {
  Exposition out;
  out.Family("baton_grants_total", "Waits granted.\nPer kind.", "counter");
  out.Sample("baton_grants_total", {{"kind", "PriorityLock"}}, 3);
  out.Sample("baton_grants_total", {{"domain", "a\"b"}, {"key", "x\\y\nz"}}, 1);
  out.Family("baton_sessions_open", "Open.", "gauge");
  out.Sample("baton_sessions_open", {}, 0);
  EXPECT_EQ(out.text(),
            "# HELP baton_grants_total Waits granted.\\nPer kind.\n"
            "# TYPE baton_grants_total counter\n"
            "baton_grants_total{kind=\"PriorityLock\"} 3\n"
            "baton_grants_total{domain=\"a\\\"b\",key=\"x\\\\y\\nz\"} 1\n"
            "# HELP baton_sessions_open Open.\n"
            "# TYPE baton_sessions_open gauge\n"
            "baton_sessions_open 0\n");
}

TEST(ExpositionTest, HistogramIsCumulativeWithInfSumAndCount) {
  Exposition out;
  out.Histogram("d_seconds", {}, {0.1, 1}, {2, 3, 4}, 12.5);
  EXPECT_EQ(out.text(),
            "d_seconds_bucket{le=\"0.1\"} 2\n"
            "d_seconds_bucket{le=\"1\"} 5\n"
            "d_seconds_bucket{le=\"+Inf\"} 9\n"
            "d_seconds_sum 12.5\n"
            "d_seconds_count 9\n");
}

}  // namespace
}  // namespace baton::metrics

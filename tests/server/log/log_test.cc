// Copyright 2026 The Baton Authors.
//
// Tests of server/log: the line formats (text and JSON, with escaping), level
// names, and the rate limiter on a manual timeline.

#include "server/log/log.h"

#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace baton::log {
namespace {

TEST(LogFormatTest, TextQuotesStringsAndLeavesNumbersBare) {
  EXPECT_EQ(FormatLine(Format::kText, "session opened",
                       {{"session", 12}, {"client", "jobs \"a\""}, {"ok", true},
                        {"lease", absl::Seconds(30)}, {"negative", -3}}),
            "session opened session=12 client=\"jobs \\\"a\\\"\" ok=true lease=\"30s\" "
            "negative=-3");
}

TEST(LogFormatTest, JsonIsAnObjectBodyWithEscapes) {
  EXPECT_EQ(FormatLine(Format::kJson, "a \"b\"\n",
                       {{"status", absl::CancelledError("gone")},
                        {"bytes", std::string("\x01z\\")},
                        {"count", uint64_t{18446744073709551615u}}}),
            "\"msg\":\"a \\\"b\\\"\\n\",\"status\":\"CANCELLED: gone\","
            "\"bytes\":\"\\u0001z\\\\\",\"count\":18446744073709551615");
}

TEST(LogFormatTest, BytesThatAreNotUtf8StayValidJson) {
  // A client's name may hold anything; the line must still parse.
  const std::string name = "a\xff\xc3(\xe2\x82z\xed\xa0\x80\xc3\xa9\xf0\x9f\x99\x82";
  EXPECT_EQ(FormatLine(Format::kJson, "m", {{"name", name}}),
            "\"msg\":\"m\",\"name\":\"a\\ufffd\\ufffd(\\ufffd\\ufffdz\\ufffd\\ufffd\\ufffd"
            "\xc3\xa9\xf0\x9f\x99\x82\"");
  EXPECT_EQ(FormatLine(Format::kText, "m", {{"name", std::string("a\xff")}}),
            "m name=\"a\\xff\"");
}

TEST(LogFormatTest, LevelsAndFormatsParse) {
  Level level = Level::kOff;
  EXPECT_TRUE(ParseLevel("DEBUG", &level));
  EXPECT_EQ(level, Level::kDebug);
  EXPECT_TRUE(ParseLevel("warning", &level));
  EXPECT_EQ(level, Level::kWarn);
  EXPECT_FALSE(ParseLevel("loud", &level));
  EXPECT_EQ(LevelName(Level::kError), "error");
  Format format = Format::kText;
  EXPECT_TRUE(ParseFormat("json", &format));
  EXPECT_EQ(format, Format::kJson);
  EXPECT_FALSE(ParseFormat("xml", &format));
}

TEST(LogRateLimiterTest, LetsABurstThroughThenRefillsAndCountsWhatItDropped) {
  RateLimiter limiter(/*per_second=*/2, /*burst=*/3);
  const absl::Time start = absl::FromUnixSeconds(1000);
  EXPECT_EQ(limiter.Allow(start), 0);
  EXPECT_EQ(limiter.Allow(start), 0);
  EXPECT_EQ(limiter.Allow(start), 0);
  EXPECT_EQ(limiter.Allow(start), -1);
  EXPECT_EQ(limiter.Allow(start + absl::Milliseconds(100)), -1);
  // Half a second later: one line's worth, which reports the two dropped.
  EXPECT_EQ(limiter.Allow(start + absl::Milliseconds(500)), 2);
  EXPECT_EQ(limiter.Allow(start + absl::Milliseconds(500)), -1);
  // Long idle: back to the burst, not more.
  const absl::Time later = start + absl::Hours(1);
  EXPECT_EQ(limiter.Allow(later), 1);
  EXPECT_EQ(limiter.Allow(later), 0);
  EXPECT_EQ(limiter.Allow(later), 0);
  EXPECT_EQ(limiter.Allow(later), -1);
}

TEST(LogRateLimiterTest, ZeroPerSecondLetsNothingThrough) {
  RateLimiter limiter(/*per_second=*/0, /*burst=*/0);
  const absl::Time start = absl::FromUnixSeconds(1000);
  EXPECT_EQ(limiter.Allow(start), -1);
  EXPECT_EQ(limiter.Allow(start + absl::Hours(1)), -1);
}

}  // namespace
}  // namespace baton::log

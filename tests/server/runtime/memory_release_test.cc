// Copyright 2026 The Baton Authors.

#include "server/runtime/memory_release.h"

#include <atomic>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace baton::runtime {
namespace {

TEST(BurstReleaseTest, ReleasesOnceTheFreesAddUpAndStop) {
  std::atomic<int> released{0};
  BurstRelease burst({.min_bytes = 1000, .quiet = absl::Milliseconds(30), .release = [&] {
                        released.fetch_add(1);
                      }});
  // Below the threshold: nothing, however long.
  burst.Note(600);
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(released.load(), 0);
  // A burst that goes on postpones it: frees every 5 ms for 150 ms.
  for (int i = 0; i < 30; ++i) {
    burst.Note(600);
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(released.load(), 0);
  // Once they stop, one release, after the quiet time.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (released.load() == 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(released.load(), 1);
  EXPECT_EQ(burst.releases(), 1);
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(released.load(), 1);
  // The count starts again from nothing.
  burst.Note(600);
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(released.load(), 1);
  burst.Note(600);
  while (released.load() == 1 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(released.load(), 2);
}

TEST(BurstReleaseTest, DestroyedWithAReleaseDueRunsNoneAndStops) {
  std::atomic<int> released{0};
  {
    BurstRelease burst(
        {.min_bytes = 1, .quiet = absl::Seconds(30), .release = [&] { released.fetch_add(1); }});
    burst.Note(10);
  }
  EXPECT_EQ(released.load(), 0);
}

TEST(BurstReleaseTest, TheDefaultReleaseIsMallocTrim) {
  // The default release (malloc_trim) runs without harm.
  BurstRelease burst({.min_bytes = 1, .quiet = absl::Milliseconds(1), .release = nullptr});
  burst.Note(1);
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (burst.releases() == 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(burst.releases(), 1);
}

}  // namespace
}  // namespace baton::runtime

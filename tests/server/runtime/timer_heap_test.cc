// Copyright 2026 The Baton Authors.

#include "server/runtime/timer_heap.h"

#include <algorithm>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace baton::runtime {
namespace {

struct RecordingTimer : TimerNode {
  int id = 0;
  std::vector<int>* fired = nullptr;
  void OnTimer() override { fired->push_back(id); }
};

absl::Time At(int seconds) { return absl::UnixEpoch() + absl::Seconds(seconds); }

TEST(TimerHeapTest, PopsInDeadlineOrderThenInsertionOrder) {
  TimerHeap heap;
  std::vector<int> fired;
  std::vector<RecordingTimer> timers(5);
  const int deadlines[] = {3, 1, 2, 1, 3};
  for (int i = 0; i < 5; ++i) {
    timers[i].id = i;
    timers[i].fired = &fired;
    heap.Add(&timers[i], At(deadlines[i]));
  }
  EXPECT_EQ(heap.Earliest(), At(1));
  EXPECT_EQ(heap.PopDue(At(0)), nullptr);
  while (TimerNode* node = heap.PopDue(At(10))) node->OnTimer();
  EXPECT_EQ(fired, (std::vector<int>{1, 3, 2, 0, 4}));
  EXPECT_TRUE(heap.empty());
}

TEST(TimerHeapTest, RemoveFromTheMiddleKeepsOrder) {
  // Randomized against a sorted reference: remove half at random positions.
  std::mt19937 rng(7);
  TimerHeap heap;
  std::vector<RecordingTimer> timers(500);
  std::vector<int> fired;
  for (int i = 0; i < 500; ++i) {
    timers[i].id = i;
    timers[i].fired = &fired;
    heap.Add(&timers[i], At(static_cast<int>(rng() % 100)));
  }
  std::vector<int> kept;
  for (int i = 0; i < 500; ++i) {
    if (rng() % 2 == 0) {
      heap.Remove(&timers[i]);
      EXPECT_FALSE(timers[i].scheduled());
    } else {
      kept.push_back(i);
    }
  }
  std::stable_sort(kept.begin(), kept.end(), [&](int a, int b) {
    return timers[a].deadline() < timers[b].deadline();
  });
  while (TimerNode* node = heap.PopDue(At(1000))) node->OnTimer();
  EXPECT_EQ(fired, kept);
}

TEST(TimerHeapTest, RemoveUnscheduledIsANoOp) {
  TimerHeap heap;
  RecordingTimer timer;
  heap.Remove(&timer);
  EXPECT_TRUE(heap.empty());
}

}  // namespace
}  // namespace baton::runtime

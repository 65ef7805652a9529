// Copyright 2026 The Baton Authors.

#include "server/runtime/event_loop.h"

#include <atomic>
#include <cstdio>
#include <coroutine>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/runtime/cancellation.h"
#include "server/runtime/clock.h"

namespace baton::runtime {
namespace {

struct CallbackTimer : TimerNode {
  std::vector<int>* log = nullptr;
  int id = 0;
  void OnTimer() override { log->push_back(id); }
};

TEST(EventLoopTest, TimersFireOnlyWhenTheManualClockReachesThem) {
  ManualClock clock;
  EventLoop loop(&clock);
  std::vector<int> log;
  CallbackTimer a, b;
  a.log = b.log = &log;
  a.id = 1;
  b.id = 2;
  loop.AddTimer(&a, clock.Now() + absl::Seconds(2));
  loop.AddTimer(&b, clock.Now() + absl::Seconds(1));
  loop.RunUntilIdle();
  EXPECT_TRUE(log.empty());
  clock.Advance(absl::Seconds(1));
  loop.RunUntilIdle();
  EXPECT_EQ(log, std::vector<int>{2});
  clock.Advance(absl::Milliseconds(999));
  loop.RunUntilIdle();
  EXPECT_EQ(log, std::vector<int>{2});
  clock.Advance(absl::Milliseconds(1));
  loop.RunUntilIdle();
  EXPECT_EQ(log, (std::vector<int>{2, 1}));
  EXPECT_EQ(loop.pending_timers(), 0u);
}

TEST(EventLoopTest, CancelledTimerNeverFires) {
  ManualClock clock;
  EventLoop loop(&clock);
  std::vector<int> log;
  CallbackTimer a;
  a.log = &log;
  loop.AddTimer(&a, clock.Now() + absl::Seconds(1));
  loop.CancelTimer(&a);
  clock.Advance(absl::Seconds(5));
  loop.RunUntilIdle();
  EXPECT_TRUE(log.empty());
}

TEST(EventLoopTest, RunQueueIsFifoAndWorkAddedWhileRunningAlsoRuns) {
  ManualClock clock;
  EventLoop loop(&clock);
  std::vector<int> log;
  loop.Defer([&] {
    log.push_back(1);
    loop.Defer([&] { log.push_back(3); });
  });
  loop.Defer([&] { log.push_back(2); });
  EXPECT_EQ(loop.RunUntilIdle(), 3u);
  EXPECT_EQ(log, (std::vector<int>{1, 2, 3}));
}

struct YieldToLoop {
  EventLoop* loop;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) { loop->Schedule(h); }
  void await_resume() const noexcept {}
};

Task<void> Steps(EventLoop* loop, std::vector<int>* log, int id) {
  log->push_back(id);
  co_await YieldToLoop{loop};
  log->push_back(id + 10);
}

TEST(EventLoopTest, SpawnStartsFromTheRunQueueAndScheduleResumesInOrder) {
  ManualClock clock;
  EventLoop loop(&clock);
  std::vector<int> log;
  loop.Spawn(Steps(&loop, &log, 1));
  loop.Spawn(Steps(&loop, &log, 2));
  EXPECT_TRUE(log.empty());  // not inline
  loop.RunUntilIdle();
  EXPECT_EQ(log, (std::vector<int>{1, 2, 11, 12}));
}

// Waits until the loop running on `runner` has run everything posted so
// far, then stops it.
void FinishAndStop(EventLoop& loop, std::thread& runner) {
  absl::Notification all;
  loop.Post([&] { all.Notify(); });
  all.WaitForNotification();
  loop.Stop();
  runner.join();
}

// Each poster's items ran, all of them, in the order it posted them.
void ExpectInPostedOrder(const std::vector<std::vector<int>>& seen, int per_thread) {
  for (const auto& s : seen) {
    ASSERT_EQ(s.size(), static_cast<size_t>(per_thread));
    for (int i = 0; i < per_thread; ++i) ASSERT_EQ(s[i], i);
  }
}

TEST(EventLoopTest, PostFromOtherThreadsRunsOnTheLoopThreadInOrder) {
  EventLoop loop(SteadyClock::Get());
  std::thread runner([&] { loop.Run(); });
  constexpr int kThreads = 4;
  constexpr int kPerThread = 1000;
  std::vector<std::vector<int>> seen(kThreads);
  std::atomic<int> done{0};
  std::atomic<bool> off_thread{false};
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t) {
    posters.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        loop.Post([&, t, i] {
          if (!loop.InLoopThread()) off_thread = true;
          seen[t].push_back(i);  // confined to the loop: no lock needed
          done.fetch_add(1);
        });
      }
    });
  }
  for (auto& p : posters) p.join();
  FinishAndStop(loop, runner);
  EXPECT_EQ(done.load(), kThreads * kPerThread);
  EXPECT_FALSE(off_thread.load());
  ExpectInPostedOrder(seen, kPerThread);
}

TEST(EventLoopTest, RunSleepsUntilTheNextTimerOnTheSteadyClock) {
  EventLoop loop(SteadyClock::Get());
  absl::Notification fired;
  struct NotifyTimer : TimerNode {
    absl::Notification* n;
    void OnTimer() override { n->Notify(); }
  } timer;
  timer.n = &fired;
  loop.Post([&] { loop.AddTimer(&timer, loop.Now() + absl::Milliseconds(20)); });
  std::thread runner([&] { loop.Run(); });
  EXPECT_TRUE(fired.WaitForNotificationWithTimeout(absl::Seconds(30)));
  loop.Stop();
  runner.join();
}

// Spins until Run()'s thread waits for work.
void AwaitSleeping(const EventLoop& loop) {
  while (!loop.Sleeping()) std::this_thread::yield();
}

TEST(EventLoopTest, RunHereRunsASleepingLoopsWorkOnThePostingThread) {
  EventLoop loop(SteadyClock::Get());
  std::thread runner([&] { loop.Run(); });
  AwaitSleeping(loop);
  std::thread::id ran_on;
  bool in_loop = false;
  {
    EventLoop::DeferWakes run_here(EventLoop::DeferWakes::Owed::kRunHere);
    loop.Post([&] {
      ran_on = std::this_thread::get_id();
      in_loop = loop.InLoopThread();
    });
    EXPECT_EQ(ran_on, std::thread::id());  // not before the scope ends
  }
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_TRUE(in_loop);
  EXPECT_FALSE(loop.InLoopThread());
  // The loop's thread slept through it, and still wakes for later work.
  EXPECT_TRUE(loop.Sleeping());
  absl::Notification later;
  std::thread::id later_on;
  loop.Post([&] {
    later_on = std::this_thread::get_id();
    later.Notify();
  });
  ASSERT_TRUE(later.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(later_on, runner.get_id());
  loop.Stop();
  runner.join();
}

TEST(EventLoopTest, RunHereWakesTheLoopForATimerItArmed) {
  EventLoop loop(SteadyClock::Get());
  std::thread runner([&] { loop.Run(); });
  AwaitSleeping(loop);  // with no timer: it sleeps until woken
  absl::Notification fired;
  struct NotifyTimer : TimerNode {
    absl::Notification* n;
    void OnTimer() override { n->Notify(); }
  } timer;
  timer.n = &fired;
  {
    EventLoop::DeferWakes run_here(EventLoop::DeferWakes::Owed::kRunHere);
    loop.Post([&] { loop.AddTimer(&timer, loop.Now() + absl::Milliseconds(1)); });
  }
  EXPECT_TRUE(fired.WaitForNotificationWithTimeout(absl::Seconds(30)));
  loop.Stop();
  runner.join();
}

TEST(EventLoopTest, RunHereKeepsTurnsExclusiveAndPostsInOrder) {
  EventLoop loop(SteadyClock::Get());
  std::thread runner([&] { loop.Run(); });
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  std::vector<std::vector<int>> seen(kThreads);
  std::atomic<int> inside{0};
  std::atomic<bool> overlapped{false};
  std::atomic<int> ran_here{0};
  std::vector<std::thread> posters;
  for (int t = 0; t < kThreads; ++t) {
    posters.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        EventLoop::DeferWakes run_here(EventLoop::DeferWakes::Owed::kRunHere);
        const std::thread::id poster = std::this_thread::get_id();
        loop.Post([&, t, i, poster] {
          if (inside.fetch_add(1) != 0) overlapped = true;
          seen[t].push_back(i);  // confined to the loop's turns
          if (std::this_thread::get_id() == poster) ran_here.fetch_add(1);
          inside.fetch_sub(1);
        });
      }
    });
  }
  for (auto& p : posters) p.join();
  FinishAndStop(loop, runner);
  EXPECT_FALSE(overlapped.load());
  ExpectInPostedOrder(seen, kPerThread);
  std::printf("%d of %d posts ran on their poster's thread\n", ran_here.load(),
              kThreads * kPerThread);
}

TEST(EventLoopTest, RunHereLeavesAStoppedLoopsWorkQueued) {
  ManualClock clock;
  EventLoop loop(&clock);  // never Run(): tests drive it
  bool ran = false;
  {
    EventLoop::DeferWakes run_here(EventLoop::DeferWakes::Owed::kRunHere);
    loop.Post([&] { ran = true; });
  }
  EXPECT_FALSE(ran);
  loop.RunUntilIdle();
  EXPECT_TRUE(ran);
}

struct Listener : CancellationListener {
  int calls = 0;
  void OnCancel() override { ++calls; }
};

TEST(CancellationTest, TellsTheListenerOnceAndIsSticky) {
  CancellationSignal signal;
  Listener listener;
  ASSERT_TRUE(signal.Listen(&listener));
  signal.Cancel();
  signal.Cancel();
  EXPECT_EQ(listener.calls, 1);
  EXPECT_TRUE(signal.cancelled());
  Listener late;
  EXPECT_FALSE(signal.Listen(&late));
  EXPECT_EQ(late.calls, 0);
}

TEST(CancellationTest, StopListeningDetaches) {
  CancellationSignal signal;
  Listener listener;
  ASSERT_TRUE(signal.Listen(&listener));
  signal.StopListening(&listener);
  signal.Cancel();
  EXPECT_EQ(listener.calls, 0);
}

TEST(CancellationTest, IsOneWordAndKeepsEachStateApart) {
  // A queued wait has one: its cancelled flag rides in its listener's
  // address.
  static_assert(sizeof(CancellationSignal) == sizeof(void*));
  CancellationSignal signal;
  EXPECT_FALSE(signal.cancelled());
  Listener first, second;
  // Listen, stop, listen again with another: only the last one is told.
  ASSERT_TRUE(signal.Listen(&first));
  EXPECT_FALSE(signal.cancelled());
  signal.StopListening(&second);  // not the current one: no effect
  signal.StopListening(&first);
  ASSERT_TRUE(signal.Listen(&second));
  EXPECT_FALSE(signal.cancelled());
  signal.Cancel();
  EXPECT_EQ(first.calls, 0);
  EXPECT_EQ(second.calls, 1);
  EXPECT_TRUE(signal.cancelled());
  // Cancelled stays cancelled: stopping listens to nothing, nothing more
  // is told, and the signal is destroyed with no listener.
  signal.StopListening(&second);
  EXPECT_TRUE(signal.cancelled());
  signal.Cancel();
  EXPECT_EQ(second.calls, 1);
  // Cancelled before anyone listens.
  CancellationSignal early;
  early.Cancel();
  EXPECT_TRUE(early.cancelled());
  EXPECT_FALSE(early.Listen(&first));
  EXPECT_EQ(first.calls, 0);
}

}  // namespace
}  // namespace baton::runtime

// Copyright 2026 The Baton Authors.
//
// EventLoop is Baton's single-threaded scheduler: a run queue of coroutines
// and callbacks, a heap of timers read against an injected Clock, and a
// thread-safe inbox through which other threads Post() work and wake it.
//
// Threading contract: the loop's work runs in turns, one thread at a time:
// the thread in Run() or, in tests, RunUntilIdle(); or, while Run()'s thread
// sleeps, a thread that posted work and runs the turn itself (see
// DeferWakes::Owed::kRunHere). Each turn holds the loop's turn (a flag
// taken atomically), so state confined to a loop needs no mutex of its own. Post(), Stop() and
// Wake() may be called from any thread; every other method only from the
// loop's work.
//
// Example (tests, on a manual clock):
//   ManualClock clock;
//   EventLoop loop(&clock);
//   Detach(SomeTask(loop));
//   clock.Advance(absl::Seconds(2));
//   loop.RunUntilIdle();
//
// Waiters are never resumed inline by whoever grants them: the granter calls
// Schedule(), and the loop resumes them from its run queue, later in the same
// turn. This keeps grants free of reentrancy.

#ifndef BATON_SERVER_RUNTIME_EVENT_LOOP_H_
#define BATON_SERVER_RUNTIME_EVENT_LOOP_H_

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/runtime/clock.h"
#include "server/runtime/task.h"
#include "server/runtime/timer_heap.h"

namespace baton::runtime {

class EventLoop {
 public:
  explicit EventLoop(Clock* clock);
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;
  ~EventLoop();

  Clock& clock() const { return *clock_; }
  absl::Time Now() const { return clock_->Now(); }
  // NowInPass() is Now() read once per pass over the loop's work (at its
  // first call in the pass; a pass takes what was posted, runs the run
  // queue, fires the timers due), for bookkeeping that needs no more
  // precision than that, on every request: when an instance was last used.
  // Outside the loop's work, Now(). From the loop's work.
  absl::Time NowInPass() {
    if (!in_pass_) return clock_->Now();
    if (!pass_now_read_) {
      pass_now_ = clock_->Now();
      pass_now_read_ = true;
    }
    return pass_now_;
  }

  // --- From the loop's work only (inside a turn). ---

  // Schedule() queues `handle` to be resumed by the loop, after what is
  // already queued.
  void Schedule(std::coroutine_handle<> handle);

  // Defer() queues `fn` on the run queue, like Schedule().
  void Defer(absl::AnyInvocable<void()> fn);

  // Spawn() starts `task` from the run queue (not inline) and lets it run
  // detached.
  void Spawn(Task<void> task);

  // AddTimer() arms `node` to fire at `deadline` (at once if already past,
  // on the next turn of the loop). CancelTimer() disarms it; a no-op when it
  // is not armed.
  void AddTimer(TimerNode* node, absl::Time deadline);
  void CancelTimer(TimerNode* node);

  // RunUntilIdle() runs posted work, the run queue and every timer due by
  // clock().Now() until none is left. Returns how many items ran. Meant for
  // tests on a ManualClock, and for draining on shutdown.
  std::size_t RunUntilIdle();

  // Run() runs the loop on this thread until Stop(), sleeping until the
  // next timer or the next Post().
  void Run();

  // NextSequence() numbers events of this loop in the order of its turns:
  // 1, 2, 3, … (waiters' arrival order).
  std::uint64_t NextSequence() { return ++last_sequence_; }

  // --- Any thread. ---

  // Post() hands `fn` to the loop; it runs on the owner thread, in order of
  // posting. Never blocks on the loop's work. Only a loop that sleeps is
  // woken, and the wake (a futex syscall) happens after the loop's mutex is
  // released, or, inside a DeferWakes scope on this thread, at its end.
  void Post(absl::AnyInvocable<void()> fn);

  // DeferWakes: while one lives on a thread, the wakes that Post() from
  // that thread owes sleeping loops wait for its end, so that a caller can
  // post under its own mutex and wake the loops after releasing it. The
  // posts themselves are in the inbox at once, in order. Nests; stack only.
  //
  // With Owed::kRunHere, a loop owed a wake is not woken at the scope's end
  // when its turn is free: this thread takes the turn and runs the loop's
  // work itself (what was posted, what that resumes, timers due), and the
  // loop's thread sleeps on. Work posted from a thread that is about to wait
  // for its answer anyway (a gRPC reaction) then costs no thread switch.
  // Runs arbitrary loop work in the destructor: use it only where no lock
  // is held that loop work might take.
  class DeferWakes {
   public:
    enum class Owed { kWake, kRunHere };
    explicit DeferWakes(Owed owed = Owed::kWake);
    DeferWakes(const DeferWakes&) = delete;
    DeferWakes& operator=(const DeferWakes&) = delete;
    ~DeferWakes();

   private:
    friend class EventLoop;
    static constexpr std::size_t kMaxLoops = 8;
    // Add() records `loop`; false when full (the caller wakes it at once).
    bool Add(EventLoop* loop);
    DeferWakes* const outer_;
    const Owed owed_;
    EventLoop* loops_[kMaxLoops];
    std::size_t size_ = 0;
  };

  // Stop() makes Run() return after the current item.
  void Stop();

  // Wake() makes a sleeping Run() look at its clock and queues again (used
  // after moving a ManualClock under a running loop).
  void Wake();

  // InLoopThread() tells whether the caller is running a turn of this loop.
  bool InLoopThread() const;

  // Sleeping() tells whether Run()'s thread waits for work. For tests.
  bool Sleeping() const {
    absl::MutexLock lock(&mu_);
    return sleeping_;
  }

  // pending_timers() and ready() report sizes, for tests and diagnostics.
  std::size_t pending_timers() const { return timers_.size(); }
  std::size_t ready() const { return ready_.size(); }
  // posted() is how many work items wait in the inbox, not yet taken by
  // the loop. Any thread (it locks the inbox).
  std::size_t posted() const {
    absl::MutexLock lock(&mu_);
    return inbox_.size();
  }

 private:
  // A run-queue entry: a coroutine to resume or a callback to call.
  struct Item {
    std::coroutine_handle<> handle;
    absl::AnyInvocable<void()> fn;
  };

  // TakePosted() moves the inbox into the run queue; returns how many.
  std::size_t TakePosted();
  // RunReady() runs the run queue until empty; returns how many ran.
  std::size_t RunReady();
  // FireDue() fires timers due by now; returns how many fired.
  std::size_t FireDue();
  // NextTimer() is the earliest timer's deadline, InfiniteFuture() if none.
  absl::Time NextTimer() const;
  // RunHereOrWake() is the end of a kRunHere scope for a loop that Post()
  // owed a wake: run a turn on this thread if the turn is free and Run() is
  // on, else wake the loop.
  void RunHereOrWake();
  // At most this many turns in a row run in one RunHereOrWake().
  static constexpr int kMaxTurnsHere = 4;

  Clock* const clock_;
  // The turn: taken by whoever runs the loop's work, and guarding the loop's
  // confined state below. An atomic flag, not a mutex, so that a failed
  // TryTakeTurn() always means that someone holds it (absl::Mutex::TryLock
  // may fail on a free mutex, which would leave a post unrun and the loop
  // asleep). Run()'s thread waits for a borrowed turn on wake_ (TakeTurn).
  std::atomic<bool> turn_taken_{false};
  bool TryTakeTurn() { return !turn_taken_.exchange(true, std::memory_order_acquire); }
  void TakeTurn();
  void ReleaseTurn() { turn_taken_.store(false, std::memory_order_release); }
  std::deque<Item> ready_;
  // What TakePosted() took from the inbox last; empty between its calls,
  // kept for its buffer (the inbox and it trade buffers).
  std::vector<absl::AnyInvocable<void()>> taken_;
  TimerHeap timers_;
  // True while Run() is on (set and read within turns): only then may
  // another thread take a turn.
  bool in_run_ = false;
  std::uint64_t last_sequence_ = 0;
  // NowInPass(): inside RunUntilIdle(), and the time read in this pass.
  bool in_pass_ = false;
  bool pass_now_read_ = false;
  absl::Time pass_now_;

  mutable absl::Mutex mu_;
  std::vector<absl::AnyInvocable<void()>> inbox_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  // True while Run() waits on wake_; the first Post() after clears it and
  // signals (or runs the turn itself), later ones need not.
  bool sleeping_ ABSL_GUARDED_BY(mu_) = false;
  // True while Run()'s thread waits for a turn another thread holds; that
  // thread signals wake_ when it gives the turn back.
  bool turn_wanted_ ABSL_GUARDED_BY(mu_) = false;
  // The deadline Run()'s thread sleeps until: the earliest timer at the end
  // of its last turn. A turn run by another thread that arms an earlier one
  // wakes it.
  absl::Time next_timer_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  absl::CondVar wake_;

  std::atomic<std::thread::id> running_thread_{};
};

}  // namespace baton::runtime

#endif  // BATON_SERVER_RUNTIME_EVENT_LOOP_H_

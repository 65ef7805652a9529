// Copyright 2026 The Baton Authors.

#include "server/runtime/event_loop.h"

#include <utility>

namespace baton::runtime {

namespace {
thread_local EventLoop::DeferWakes* current_defer_wakes = nullptr;
}  // namespace

EventLoop::DeferWakes::DeferWakes(Owed owed) : outer_(current_defer_wakes), owed_(owed) {
  current_defer_wakes = this;
}

EventLoop::DeferWakes::~DeferWakes() {
  // Restored first: what the turns below post wakes its loops at once.
  current_defer_wakes = outer_;
  for (std::size_t i = 0; i < size_; ++i) {
    if (owed_ == Owed::kRunHere) {
      loops_[i]->RunHereOrWake();
    } else {
      loops_[i]->wake_.Signal();
    }
  }
}

bool EventLoop::DeferWakes::Add(EventLoop* loop) {
  for (std::size_t i = 0; i < size_; ++i) {
    if (loops_[i] == loop) return true;
  }
  if (size_ == kMaxLoops) return false;
  loops_[size_++] = loop;
  return true;
}

EventLoop::EventLoop(Clock* clock) : clock_(clock) {}

EventLoop::~EventLoop() {
  // Work still queued is dropped: callbacks are destroyed without running;
  // suspended coroutines belong to their owners, which must be gone first.
  absl::MutexLock lock(&mu_);
  inbox_.clear();
}

void EventLoop::Schedule(std::coroutine_handle<> handle) {
  ready_.push_back(Item{handle, nullptr});
}

void EventLoop::Defer(absl::AnyInvocable<void()> fn) {
  ready_.push_back(Item{nullptr, std::move(fn)});
}

void EventLoop::Spawn(Task<void> task) {
  Defer([task = std::move(task)]() mutable { Detach(std::move(task)); });
}

void EventLoop::AddTimer(TimerNode* node, absl::Time deadline) {
  timers_.Add(node, deadline);
}

void EventLoop::CancelTimer(TimerNode* node) { timers_.Remove(node); }

void EventLoop::Post(absl::AnyInvocable<void()> fn) {
  bool wake = false;
  {
    absl::MutexLock lock(&mu_);
    inbox_.push_back(std::move(fn));
    woken_ = true;
    wake = sleeping_;
    sleeping_ = false;
  }
  if (!wake) return;
  // Run() enqueued itself on wake_ before it released mu_: a signal after
  // the release cannot be lost. A spare signal only makes it look again.
  if (current_defer_wakes == nullptr || !current_defer_wakes->Add(this)) wake_.Signal();
}

void EventLoop::Stop() {
  absl::MutexLock lock(&mu_);
  stop_ = true;
  wake_.Signal();
}

void EventLoop::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
  wake_.Signal();
}

bool EventLoop::InLoopThread() const {
  return running_thread_.load(std::memory_order_relaxed) ==
         std::this_thread::get_id();
}

std::size_t EventLoop::TakePosted() {
  // taken_ is empty here: the swap leaves the inbox its buffer, so that a
  // post does not allocate a new one each time the loop takes the last.
  {
    absl::MutexLock lock(&mu_);
    taken_.swap(inbox_);
    woken_ = false;
  }
  const std::size_t taken = taken_.size();
  for (auto& fn : taken_) ready_.push_back(Item{nullptr, std::move(fn)});
  taken_.clear();
  return taken;
}

std::size_t EventLoop::RunReady() {
  std::size_t ran = 0;
  while (!ready_.empty()) {
    Item item = std::move(ready_.front());
    ready_.pop_front();
    if (item.handle) {
      item.handle.resume();
    } else {
      item.fn();
    }
    ++ran;
  }
  return ran;
}

std::size_t EventLoop::FireDue() {
  std::size_t fired = 0;
  const absl::Time now = clock_->Now();
  while (TimerNode* node = timers_.PopDue(now)) {
    node->OnTimer();
    ++fired;
  }
  return fired;
}

std::size_t EventLoop::RunUntilIdle() {
  std::size_t total = 0;
  const bool outer = !in_pass_;  // a callback may run the loop's work itself
  in_pass_ = true;
  while (true) {
    pass_now_read_ = false;
    std::size_t step = TakePosted();
    step += RunReady();
    step += FireDue();
    if (step == 0) break;
    total += step;
  }
  pass_now_read_ = false;
  if (outer) in_pass_ = false;
  return total;
}

absl::Time EventLoop::NextTimer() const {
  return timers_.empty() ? absl::InfiniteFuture() : timers_.Earliest();
}

void EventLoop::TakeTurn() {
  if (TryTakeTurn()) return;
  // Another thread runs a turn: it looks at turn_wanted_ under mu_ after it
  // gives the turn back, and this thread tries again under mu_ before
  // waiting, so the hand-over cannot be missed.
  absl::MutexLock lock(&mu_);
  while (!TryTakeTurn()) {
    turn_wanted_ = true;
    wake_.Wait(&mu_);
  }
  turn_wanted_ = false;
}

void EventLoop::Run() {
  TakeTurn();
  in_run_ = true;
  ReleaseTurn();
  const std::thread::id self = std::this_thread::get_id();
  while (true) {
    TakeTurn();
    running_thread_.store(self, std::memory_order_relaxed);
    RunUntilIdle();
    running_thread_.store(std::thread::id(), std::memory_order_relaxed);
    const absl::Time next = NextTimer();
    {
      absl::MutexLock lock(&mu_);
      next_timer_ = next;
    }
    ReleaseTurn();
    absl::MutexLock lock(&mu_);
    if (stop_) break;
    if (!inbox_.empty() || woken_) continue;
    if (next_timer_ == absl::InfiniteFuture()) {
      sleeping_ = true;
      wake_.Wait(&mu_);
    } else {
      const absl::Duration wait = next_timer_ - clock_->Now();
      if (wait > absl::ZeroDuration()) {
        sleeping_ = true;
        wake_.WaitWithTimeout(&mu_, wait);
      }
    }
    sleeping_ = false;
  }
  TakeTurn();
  in_run_ = false;
  ReleaseTurn();
  absl::MutexLock lock(&mu_);
  stop_ = false;
}

void EventLoop::RunHereOrWake() {
  // Post() cleared sleeping_ for us: until we wake the loop or say it
  // sleeps again, no other Post() will wake it. Every holder of the turn
  // looks at the inbox after giving it back (Run() before it sleeps, this
  // function below), so a post that finds the turn taken needs no wake.
  for (int round = 1;; ++round) {
    if (!TryTakeTurn()) return;
    if (!in_run_) {
      ReleaseTurn();
      wake_.Signal();
      return;
    }
    running_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
    RunUntilIdle();
    running_thread_.store(std::thread::id(), std::memory_order_relaxed);
    const absl::Time next = NextTimer();
    ReleaseTurn();
    {
      absl::MutexLock lock(&mu_);
      const bool posted = !inbox_.empty();
      // A stop, a Wake(), Run()'s thread waiting for the turn, a timer
      // earlier than the one it sleeps for, or work still coming after
      // several turns: the loop's thread takes over.
      const bool wake = stop_ || turn_wanted_ || (woken_ && !posted) ||
                        next < next_timer_ || (posted && round == kMaxTurnsHere);
      if (!wake) {
        if (posted) continue;  // posted during our turn: one more turn here
        // The loop's thread still waits on wake_ (or, if it woke meanwhile,
        // checks the inbox under mu_ before waiting again: a Post() that
        // signals in vain loses nothing).
        sleeping_ = true;
        return;
      }
      woken_ = true;
      sleeping_ = false;
    }
    wake_.Signal();
    return;
  }
}

}  // namespace baton::runtime

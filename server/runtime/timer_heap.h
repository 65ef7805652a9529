// Copyright 2026 The Baton Authors.
//
// TimerHeap is an indexed binary min-heap of intrusive timer nodes: adding,
// removing any node and popping the earliest are O(log n), and a node knows
// its own position, so a waiter that leaves early (granted, cancelled) takes
// its timer out without a search. Nodes live in their owners (usually a
// waiter in a coroutine frame); the heap only stores pointers to them.
//
// Equal deadlines fire in the order they were added, so runs are
// deterministic. Not thread-safe: owned by one EventLoop.

#ifndef BATON_SERVER_RUNTIME_TIMER_HEAP_H_
#define BATON_SERVER_RUNTIME_TIMER_HEAP_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/time/time.h"

namespace baton::runtime {

class TimerHeap;

// TimerNode is something that fires at a deadline. Subclasses implement
// OnTimer(); it runs on the loop thread after the node left the heap.
class TimerNode {
 public:
  TimerNode() = default;
  TimerNode(const TimerNode&) = delete;
  TimerNode& operator=(const TimerNode&) = delete;
  virtual ~TimerNode();

  bool scheduled() const { return index_ != kNotScheduled; }
  absl::Time deadline() const { return deadline_; }

  // OnTimer() is called once when the deadline passes.
  virtual void OnTimer() = 0;

 private:
  friend class TimerHeap;
  static constexpr std::size_t kNotScheduled = static_cast<std::size_t>(-1);

  absl::Time deadline_;
  std::uint64_t sequence_ = 0;
  std::size_t index_ = kNotScheduled;
};

class TimerHeap {
 public:
  bool empty() const { return nodes_.empty(); }
  std::size_t size() const { return nodes_.size(); }

  // Add() schedules `node` at `deadline`; the node must not be scheduled.
  void Add(TimerNode* node, absl::Time deadline);

  // Remove() unschedules `node`; a no-op when it is not scheduled.
  void Remove(TimerNode* node);

  // Earliest() returns the earliest deadline; the heap must not be empty.
  absl::Time Earliest() const { return nodes_.front()->deadline_; }

  // PopDue() removes and returns the earliest node if its deadline is at or
  // before `now`, else returns nullptr.
  TimerNode* PopDue(absl::Time now);

 private:
  bool Less(std::size_t a, std::size_t b) const;
  void Place(TimerNode* node, std::size_t index);
  void SiftUp(std::size_t index);
  void SiftDown(std::size_t index);

  std::vector<TimerNode*> nodes_;
  std::uint64_t next_sequence_ = 0;
};

}  // namespace baton::runtime

#endif  // BATON_SERVER_RUNTIME_TIMER_HEAP_H_

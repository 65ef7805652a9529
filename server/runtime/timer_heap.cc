// Copyright 2026 The Baton Authors.

#include "server/runtime/timer_heap.h"

#include <cstdlib>
#include <utility>

namespace baton::runtime {

TimerNode::~TimerNode() {
  if (scheduled()) std::abort();  // the heap would keep a dangling pointer
}

void TimerHeap::Add(TimerNode* node, absl::Time deadline) {
  if (node->scheduled()) std::abort();
  node->deadline_ = deadline;
  node->sequence_ = next_sequence_++;
  nodes_.push_back(node);
  node->index_ = nodes_.size() - 1;
  SiftUp(node->index_);
}

void TimerHeap::Remove(TimerNode* node) {
  if (!node->scheduled()) return;
  const std::size_t index = node->index_;
  node->index_ = TimerNode::kNotScheduled;
  TimerNode* last = nodes_.back();
  nodes_.pop_back();
  if (index == nodes_.size()) return;  // it was the last one
  Place(last, index);
  SiftUp(index);
  SiftDown(last->index_);
}

TimerNode* TimerHeap::PopDue(absl::Time now) {
  if (nodes_.empty() || nodes_.front()->deadline_ > now) return nullptr;
  TimerNode* node = nodes_.front();
  Remove(node);
  return node;
}

bool TimerHeap::Less(std::size_t a, std::size_t b) const {
  const TimerNode* x = nodes_[a];
  const TimerNode* y = nodes_[b];
  if (x->deadline_ != y->deadline_) return x->deadline_ < y->deadline_;
  return x->sequence_ < y->sequence_;
}

void TimerHeap::Place(TimerNode* node, std::size_t index) {
  nodes_[index] = node;
  node->index_ = index;
}

void TimerHeap::SiftUp(std::size_t index) {
  while (index > 0) {
    const std::size_t parent = (index - 1) / 2;
    if (!Less(index, parent)) break;
    TimerNode* child = nodes_[index];
    Place(nodes_[parent], index);
    Place(child, parent);
    index = parent;
  }
}

void TimerHeap::SiftDown(std::size_t index) {
  const std::size_t n = nodes_.size();
  while (true) {
    std::size_t best = index;
    const std::size_t left = 2 * index + 1;
    const std::size_t right = left + 1;
    if (left < n && Less(left, best)) best = left;
    if (right < n && Less(right, best)) best = right;
    if (best == index) return;
    TimerNode* node = nodes_[index];
    Place(nodes_[best], index);
    Place(node, best);
    index = best;
  }
}

}  // namespace baton::runtime

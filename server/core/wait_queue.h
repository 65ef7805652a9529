// Copyright 2026 The Baton Authors.
//
// WaitQueue orders waiters by a key, then by arrival: the front is the
// waiter with the smallest key that came first. It is the queue core shared
// by the locks, semaphores and the rate limiter (key = priority, or the
// request size for an unfair rate limiter; a FIFO queue uses one key).
//
// Waiters of equal key share one intrusive FIFO list (a bucket), so pushing
// is O(log k) for k distinct keys present, the front and removal of any
// waiter O(1) (plus O(log k) when its bucket empties), and waiting allocates
// only when a new key appears.
//
// Not thread-safe: owned by one primitive.

#ifndef BATON_SERVER_CORE_WAIT_QUEUE_H_
#define BATON_SERVER_CORE_WAIT_QUEUE_H_

#include <cstddef>
#include <cstdlib>
#include <map>

#include "server/core/waiter.h"
#include "server/runtime/intrusive_list.h"

namespace baton::core {

template <typename Key>
class WaitQueue {
 public:
  WaitQueue() = default;
  WaitQueue(const WaitQueue&) = delete;
  WaitQueue& operator=(const WaitQueue&) = delete;

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }

  // Push() adds `waiter` after every waiter whose key is <= `key`.
  void Push(Waiter* waiter, const Key& key) {
    auto [it, inserted] = buckets_.try_emplace(key);
    if (inserted) it->second.self = it;
    it->second.waiters.PushBack(waiter);
    waiter->queue_slot = &it->second;
    ++size_;
  }

  // Front() returns the first waiter, or nullptr when empty.
  Waiter* Front() const {
    return empty() ? nullptr : buckets_.begin()->second.waiters.Front();
  }

  // FrontKey() returns the key of Front(); the queue must not be empty.
  const Key& FrontKey() const { return buckets_.begin()->first; }

  // Remove() takes `waiter`, which must be on this queue, off it.
  void Remove(Waiter* waiter) {
    auto* bucket = static_cast<Bucket*>(waiter->queue_slot);
    if (bucket == nullptr) std::abort();
    static_cast<runtime::ListHook<QueueTag>*>(waiter)->Unlink();
    waiter->queue_slot = nullptr;
    --size_;
    if (bucket->waiters.empty()) buckets_.erase(bucket->self);
  }

  Waiter* PopFront() {
    Waiter* waiter = Front();
    if (waiter != nullptr) Remove(waiter);
    return waiter;
  }

  // Contains() tells whether `waiter` is on a queue (this one, if the caller
  // only ever puts it on this one).
  static bool Contains(const Waiter* waiter) {
    return waiter->queue_slot != nullptr;
  }

  // ForEach() calls `fn(key, waiter)` in queue order; `fn` must not change
  // the queue.
  template <typename Fn>
  void ForEach(Fn fn) const {
    for (const auto& [key, bucket] : buckets_) {
      for (Waiter* w = bucket.waiters.Front(); w != nullptr;
           w = bucket.waiters.Next(w)) {
        fn(key, w);
      }
    }
  }

  // ForEachWhile() is ForEach() that stops as soon as `fn` returns false.
  template <typename Fn>
  void ForEachWhile(Fn fn) const {
    for (const auto& [key, bucket] : buckets_) {
      for (Waiter* w = bucket.waiters.Front(); w != nullptr;
           w = bucket.waiters.Next(w)) {
        if (!fn(key, w)) return;
      }
    }
  }

 private:
  struct Bucket {
    runtime::IntrusiveList<Waiter, QueueTag> waiters;
    typename std::map<Key, Bucket>::iterator self;
  };

  std::map<Key, Bucket> buckets_;
  std::size_t size_ = 0;
};

}  // namespace baton::core

#endif  // BATON_SERVER_CORE_WAIT_QUEUE_H_

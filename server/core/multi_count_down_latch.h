// Copyright 2026 The Baton Authors.
//
// MultiCountDownLatch is a set of countdown counters identified by key,
// fixed at creation: "start when the 3 schema migrations and 5 cache warmers
// are done". CountDown(key) takes one off a counter; when it reaches zero,
// every waiter of that key is woken, and when every counter is zero, every
// WaitAll() waiter too. A counter never goes below zero, and a finished one
// stays finished.
//
// Counters are state that no session owns: they survive the session that
// made them, and waits hold nothing (a wake-up is not consumed, so a waiter
// woken and cancelled in the same instant has nothing to pass on).
//
// Keys: a counter's key must be non-empty and its count >= 0
// (ValidateCounts()); the set may be empty, and then the latch is broken from
// the start. A count of 0 starts finished. A negative count is refused: it
// is almost always a bug in the caller (a count computed wrong), and taking
// it as "finished" would release every waiter of that key at once. A non-strict Wait() on a key that does not exist
// is answered OK at once: there is nothing to wait for; strict, it is
// NOT_FOUND. Likewise a non-strict CountDown() of an unknown or finished key
// does nothing, while a strict one is an error.
//
// Example:
//   MultiCountDownLatch latch(&loop, 0, {{"migrations", 3}, {"warmers", 5}});
//   co_await latch.Wait(opts, "migrations");  // elsewhere: CountDown(...)
//   co_await latch.WaitAll(opts);
//
// Threading: confined to its EventLoop's thread, like every primitive.

#ifndef BATON_SERVER_CORE_MULTI_COUNT_DOWN_LATCH_H_
#define BATON_SERVER_CORE_MULTI_COUNT_DOWN_LATCH_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "server/core/primitive.h"
#include "server/core/waiter.h"
#include "server/runtime/intrusive_list.h"

namespace baton::core {

class MultiCountDownLatch : public Primitive {
 public:
  using Counts = absl::flat_hash_map<std::string, std::int64_t>;

  // ValidateCounts() is OK when `counts` may create a latch: every key is
  // non-empty and every count >= 0 (0 means finished). Otherwise
  // INVALID_ARGUMENT naming the key: counts["db"] must be >= 0 ...
  static absl::Status ValidateCounts(const Counts& counts);

  // `counts` should pass ValidateCounts(); the service checks it first. (An
  // empty key is accepted here and behaves like any other key; a negative
  // count is stored as 0, finished.)
  MultiCountDownLatch(runtime::EventLoop* loop, std::uint64_t fence_base,
                      Counts counts);
  // The destructor closes the instance (ABORTED "instance destroyed").
  ~MultiCountDownLatch() override;

  // CountDown() takes one off the counter of `key`; at zero it wakes every
  // waiter of `key`, and every WaitAll waiter if all counters are now zero.
  // strict: an unknown key is NOT_FOUND and a finished one
  // FAILED_PRECONDITION (changing nothing); non-strict, both are no-ops.
  absl::Status CountDown(std::string_view key, bool strict = false);

  // CountDownAll() takes one off every unfinished counter, waking as
  // CountDown() does. Only fails when the instance is closed.
  absl::Status CountDownAll();

  // Restore() sets the counters to `current` as kept by the server's store
  // (server/store): for each of the latch's keys, the count in `current`, if
  // lower (a key `current` lacks, or does not lower, keeps its count). Only
  // before any waiter (at load time); FAILED_PRECONDITION otherwise.
  absl::Status Restore(const Counts& current);

  // Wait() waits until the counter of `key` is zero; OK at once if it is.
  // An unknown key: strict, NOT_FOUND at once; non-strict, OK at once.
  Waiter Wait(WaitOptions options, std::string key, bool strict = false) {
    return Waiter(this, std::move(options),
                  {.priority = strict ? kStrictKeyWaitKind : kKeyWaitKind,
                   .key = std::move(key)});
  }

  // WaitAll() waits until every counter is zero; OK at once if they are.
  Waiter WaitAll(WaitOptions options) {
    return Waiter(this, std::move(options), {.priority = kWaitAllKind});
  }

  // broken() is true when every counter is zero.
  bool broken() const { return unfinished_ == 0; }
  // count() is the counter of `key`, or nullopt for an unknown key.
  std::optional<std::int64_t> count(std::string_view key) const;
  const Counts& counts() const { return counts_; }

  // waiter_count() is the number of Wait() calls pending on `key`, and
  // wait_all_count() that of WaitAll() calls.
  std::size_t waiter_count(std::string_view key) const;
  std::size_t wait_all_count() const { return wait_all_.size(); }

  absl::Status CheckInvariants() const override;

 protected:
  std::optional<WaitResult> Start(Waiter* waiter) override;
  void Enqueue(Waiter* waiter) override;
  void Remove(Waiter* waiter) override;
  void GiveBack(Waiter* waiter) override;
  void ReleaseHold(HoldLink* hold) override;
  void OnClose(const absl::Status& status) override;

 private:
  // The latch has no priorities: request().priority tells the kind of wait.
  static constexpr std::int64_t kKeyWaitKind = 0;
  static constexpr std::int64_t kStrictKeyWaitKind = 1;
  static constexpr std::int64_t kWaitAllKind = 2;

  using WaiterList = runtime::IntrusiveList<Waiter, QueueTag>;

  // Decrement() takes one off an unfinished counter and wakes its waiters
  // (and WaitAll's) when it reaches zero.
  void Decrement(Counts::iterator it);

  Counts counts_;
  std::int64_t unfinished_ = 0;  // counters above zero
  // Waiters by key, only for unfinished keys; a key is erased when its list
  // empties. node_hash_map: the lists are not movable.
  absl::node_hash_map<std::string, WaiterList> waiters_;
  WaiterList wait_all_;
};

}  // namespace baton::core

#endif  // BATON_SERVER_CORE_MULTI_COUNT_DOWN_LATCH_H_

// Copyright 2026 The Baton Authors.
//
// Waiter is one pending operation on a primitive (acquire, wait, ...), and
// the awaitable that a coroutine co_awaits for it (or that a caller without
// a coroutine starts with Begin(), to be told by a WaitCallback). It lives
// in the awaiting coroutine's frame (or the caller's record) and links
// itself intrusively into the primitive's queue, its session's list of
// waits and its cancellation signal, so that leaving is O(1) or O(log n).
// A wait that queues with a timeout makes its timer (a node of the loop's
// timer heap) then; nothing else allocates, but keys longer than 15 bytes.
//
// Example (inside a primitive):
//   Waiter Acquire(const WaitOptions& options, std::int64_t priority) {
//     return Waiter(this, options, {.priority = priority});
//   }
//   // caller: WaitResult r = co_await mutex.Acquire(options, 0);
//
// The life of a waiter:
//
//   kIdle --await_ready--> kDone                 (answered at once: granted,
//      |                                          refused, invalid)
//      +--> kQueued --grant/timeout/cancel/abort--> kResolved --resume--> kDone
//
// kResolved means the answer is decided and the coroutine is on the loop's run
// queue, not yet resumed. A cancel or session end that arrives in that window
// gives a grant back to the primitive (Primitive::GiveBack), which passes it
// on to the next waiter: a wake-up is never lost, and a grant reaches a
// caller only if the caller still wants it.
//
// Threading: everything happens on the loop thread of the primitive's shard.
//
// GCC 12 caveat (a compiler bug, fixed in later GCCs; clang is not affected):
// a temporary with a non-trivial destructor created inside a co_await
// expression is destroyed twice. So never write
//   co_await lock.Acquire(WaitOptions{.session = s, .owner_key = "k"});
// but build the options in a named local first:
//   WaitOptions options{.session = s, .owner_key = "k"};
//   co_await lock.Acquire(std::move(options));
// The ASan build in CI (with GCC) catches any violation in Baton's own code.

#ifndef BATON_SERVER_CORE_WAITER_H_
#define BATON_SERVER_CORE_WAITER_H_

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/core/session.h"
#include "server/runtime/cancellation.h"
#include "server/runtime/intrusive_list.h"
#include "server/runtime/timer_heap.h"

namespace baton::core {

class Primitive;

// Who waits, and for how long.
struct WaitOptions {
  // The session waiting; required. Its end cancels the wait.
  Session* session = nullptr;
  // With `session`, the owner of what the wait acquires.
  std::string owner_key;
  // Absent: wait forever. Zero (or negative): try once, never queue.
  // Positive: fail with DEADLINE_EXCEEDED after that long.
  std::optional<absl::Duration> timeout;
  // If set, Cancel() on it fails the wait with CANCELLED.
  runtime::CancellationSignal* cancel = nullptr;
};

// What a primitive needs to know of a request beyond WaitOptions.
struct WaitRequest {
  std::int64_t priority = 0;  // locks and semaphores: lower goes first
  double amount = 0;          // rate limiter: tokens
  std::string key;            // condition and latch: the key waited on
};

// What a granted wait receives.
struct Grant {
  // Locks and permits: larger than every fence the instance granted before.
  std::uint64_t fence = 0;
  // Rate limiter: tokens left in the bucket after this grant.
  double tokens_left = 0;
};

// The answer to a wait.
struct WaitResult {
  absl::Status status;
  Grant grant;  // when status is OK
  // Refusals of a rate limiter: how long until the request could be granted.
  absl::Duration retry_after = absl::ZeroDuration();

  bool ok() const { return status.ok(); }
};

struct QueueTag {};

namespace internal {

// WaiterKeys holds two strings back to back (a waiter's owner key, then its
// request's key) in 16 bytes: inline up to 15 bytes in all, as
// std::string's own short-string buffer would, else in one heap block of
// the exact size. Half a std::string, and a queued waiter is what a million
// waits cost.
class WaiterKeys {
 public:
  WaiterKeys(std::string_view first, std::string_view second);
  WaiterKeys(const WaiterKeys&) = delete;
  WaiterKeys& operator=(const WaiterKeys&) = delete;
  ~WaiterKeys();

  // All of it: the first string, then the second.
  std::string_view view() const;

 private:
  static constexpr std::size_t kInline = 15;
  // The last byte: the size when inline, kOnHeap when not (then the first
  // 8 bytes are the block's address, the next 4 its size).
  static constexpr unsigned char kOnHeap = 0xff;

  bool on_heap() const { return bytes_[kInline] == kOnHeap; }

  alignas(8) unsigned char bytes_[kInline + 1];
};

}  // namespace internal

class Waiter;

// WaitCallback is told when a wait started with Waiter::Begin() is answered:
// the callback way to wait, for a caller that would otherwise spend a
// coroutine frame on nothing but this one wait.
class WaitCallback {
 public:
  // OnWaitDone() is called once, from the loop's run queue (where the
  // coroutine of a co_await would be resumed), when `waiter` is answered;
  // it takes the answer with waiter.await_resume(). It may destroy the
  // waiter (and itself).
  virtual void OnWaitDone(Waiter& waiter) = 0;

 protected:
  ~WaitCallback() = default;
};

class Waiter final : public runtime::ListHook<SessionWaiterTag>,
                     public runtime::ListHook<QueueTag>,
                     private runtime::CancellationListener {
 public:
  enum class State : std::uint8_t { kIdle, kQueued, kResolved, kDone };

  // What the waiter asks of its primitive (a view of its WaitRequest).
  struct Request {
    std::int64_t priority = 0;
    double amount = 0;
    std::string_view key;  // valid while the waiter lives
  };

  Waiter(Primitive* primitive, WaitOptions options, WaitRequest request = {});
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;
  // Destroying a waiter that is still queued (its coroutine destroyed while
  // suspended) takes it out cleanly and gives back any grant it received.
  ~Waiter() override;

  // --- Read by primitives. ---
  State state() const { return state_; }
  Session* session() const { return session_; }
  std::string_view owner_key() const {
    return keys_.view().substr(0, owner_key_size_);
  }
  Request request() const {
    return {.priority = has_amount_ ? 0 : priority_,
            .amount = has_amount_ ? amount_ : 0,
            .key = keys_.view().substr(owner_key_size_)};
  }
  bool granted() const { return granted_; }
  Grant grant() const;
  // The moment the wait gives up; InfiniteFuture() when it never does, and
  // until it is queued (Enqueue() included).
  absl::Time deadline() const;
  // Arrival order among all waiters of the primitive.
  std::uint64_t sequence() const { return sequence_; }

  // Free slots for the primitive: a waiter is on a WaitQueue (which uses
  // queue_slot) or on a primitive's own lists (which may use counter, e.g.
  // wait_all's count), never both, so the two share their storage.
  union {
    void* queue_slot = nullptr;
    std::int64_t counter;
  };

  // --- The awaitable protocol. ---
  bool await_ready();
  void await_suspend(std::coroutine_handle<> handle);
  WaitResult await_resume();

  // Begin() is co_await without a coroutine: it starts the wait and returns
  // true when it is answered at once (take the answer with await_resume()),
  // or false when it waits; `callback` is then told when it is answered.
  bool Begin(WaitCallback* callback) {
    if (await_ready()) return true;
    callback_ = callback;
    by_callback_ = true;
    return false;
  }

  // OnSessionEnd() is called by Session::End(): it fails the wait with
  // `status` wherever it is; a grant not yet delivered is given back.
  void OnSessionEnd(const absl::Status& status);

  // session_ended() is true when the session ended before the waiter's
  // coroutine resumed. The session may be gone by then: a coroutine that
  // goes on after this wait (KeyedCondition::Wait) must not touch it.
  bool session_ended() const { return session_ended_; }

 private:
  friend class Primitive;
  // The timer of a wait with a timeout (waiter.cc).
  class Timer;

  // Resolve() records the answer and schedules the coroutine. The waiter
  // must not be on the primitive's queue any more.
  void Resolve(absl::Status status, const Grant& grant, bool granted);
  // Leave() takes a queued or resolved waiter out, for timeout, cancel and
  // abort alike.
  void Leave(const absl::Status& status);
  // Finish() records an answer given at once, without queueing.
  bool Finish(WaitResult result);
  void SetGrant(const Grant& grant);
  void OnTimer();
  void OnCancel() override;

  // A queued waiter is what a million waits cost: every field counts (see
  // the size test in tests/server/core/waiter_test.cc).
  Primitive* primitive_;
  Session* session_;
  runtime::CancellationSignal* cancel_;
  // Whom to resume once answered: a coroutine (await_suspend) or, when
  // by_callback_, a callback (Begin).
  union {
    std::coroutine_handle<> handle_{};
    WaitCallback* callback_;
  };
  // The owner key, then the request's key: one string, at most one block.
  internal::WaiterKeys keys_;
  // Of the request: a rate limiter's amount, or everyone else's priority.
  union {
    std::int64_t priority_;
    double amount_;
  };
  // The wait's timeout (InfiniteDuration(): none). A try-once refusal,
  // which never queues, keeps its retry_after here instead.
  absl::Duration timeout_;
  // Made when the wait queues with a timeout, kept until the waiter goes:
  // out of line, since a wait without one (a lock waited on for as long as
  // it takes) is the common queued wait, and a timer node is 40 bytes.
  std::unique_ptr<Timer> timer_;
  std::uint64_t sequence_ = 0;
  absl::Status status_;
  // Of the grant: a rate limiter's tokens_left, or everyone else's fence.
  union {
    std::uint64_t fence_ = 0;
    double tokens_left_;
  };
  std::uint32_t owner_key_size_ = 0;
  State state_ = State::kIdle;
  bool has_amount_ : 1 = false;
  bool tokens_granted_ : 1 = false;
  bool granted_ : 1 = false;
  bool session_ended_ : 1 = false;
  bool has_retry_after_ : 1 = false;
  bool timer_armed_ : 1 = false;  // timer_ added to the loop (deadline())
  bool by_callback_ : 1 = false;
};

}  // namespace baton::core

#endif  // BATON_SERVER_CORE_WAITER_H_

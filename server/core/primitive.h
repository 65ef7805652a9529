// Copyright 2026 The Baton Authors.
//
// Primitive is the base of Baton's eight primitives. It owns what they share:
// the loop they live on, fences, the list of answered-but-not-yet-resumed
// waiters, revocation reports, and Close(). Each primitive implements the
// hooks below; Waiter drives them, so that timeouts, cancellation, session
// end and the "granted and cancelled in the same instant" rule behave the
// same in all eight.
//
// Threading: a primitive and everything it touches belong to the thread of
// its EventLoop; no method is thread-safe.

#ifndef BATON_SERVER_CORE_PRIMITIVE_H_
#define BATON_SERVER_CORE_PRIMITIVE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/core/session.h"
#include "server/core/waiter.h"
#include "server/runtime/event_loop.h"
#include "server/runtime/intrusive_list.h"

namespace baton::core {

// A hold taken away from its owner by the server (reset, delete), reported
// so that the service can tell the holder at once.
struct Revocation {
  std::uint64_t session_id = 0;
  std::string owner_key;  // empty for permits, which belong to the session
  std::uint64_t fence = 0;
  absl::Status reason;
};

class Primitive;

// RevocationSink receives the revocations of the primitives it is set on
// (set_revocation_sink), with the primitive that reports.
class RevocationSink {
 public:
  virtual ~RevocationSink() = default;
  virtual void OnRevoked(const Primitive& primitive, const Revocation& revocation) = 0;
};

class Primitive {
 public:
  // `fence_base`: the instance's fences are all larger than this. The server
  // derives it from its persisted epoch so fences increase across restarts.
  Primitive(runtime::EventLoop* loop, std::uint64_t fence_base);
  Primitive(const Primitive&) = delete;
  Primitive& operator=(const Primitive&) = delete;
  virtual ~Primitive();

  runtime::EventLoop& loop() const { return *loop_; }
  absl::Time Now() const { return loop_->Now(); }

  // The last fence granted (fence_base before the first grant).
  std::uint64_t last_fence() const { return last_fence_; }

  // Close() ends the instance's service for good: pending waits fail with
  // `status`, grants not yet delivered are withdrawn, and every hold is
  // revoked and reported. Later operations fail with `status`. Idempotent.
  void Close(const absl::Status& status);
  bool closed() const { return closed_; }
  // close_status() is the status Close() was given; OK while open.
  const absl::Status& close_status() const;

  // The callback receives every hold the server takes away (Close, reset).
  // It replaces any sink or callback set before.
  using RevocationCallback = absl::AnyInvocable<void(const Revocation&)>;
  void set_revocation_callback(RevocationCallback callback);
  // set_revocation_sink() is set_revocation_callback() with a sink that
  // outlives the primitive (a registry for all its instances), which costs
  // the primitive no allocation.
  void set_revocation_sink(RevocationSink* sink);

  // CheckInvariants() returns OK, or describes the first broken invariant.
  // For tests and debugging; O(size of the instance).
  virtual absl::Status CheckInvariants() const { return absl::OkStatus(); }

 protected:
  friend class Session;
  friend class Waiter;

  // --- Hooks, called by Waiter and Session. ---

  // Start() answers a new wait now if it can: it grants (taking what is
  // granted) or refuses, and returns the answer; or it returns nullopt when
  // the waiter must wait. The waiter's session is live and not cancelled.
  virtual std::optional<WaitResult> Start(Waiter* waiter) = 0;

  // Enqueue() puts a waiter that must wait on the queue.
  virtual void Enqueue(Waiter* waiter) = 0;

  // Remove() takes a queued waiter off the queue (timeout, cancel, session
  // end), then serves whoever its departure lets through.
  virtual void Remove(Waiter* waiter) = 0;

  // GiveBack() undoes the grant of a waiter answered but not yet resumed,
  // and passes it on. Only called for granted waiters. Also called by
  // Close(), with closed() already true: it must then grant no one.
  virtual void GiveBack(Waiter* waiter) = 0;

  // RetryAfter() tells a refused try-once caller how long until its request
  // could succeed; zero when unknown. Called after Start() said "wait".
  virtual absl::Duration RetryAfter(const Waiter& waiter) const;

  // ReleaseHold() releases everything `hold` stands for, because its session
  // ended, and detaches it. It serves waiters as usual.
  virtual void ReleaseHold(HoldLink* hold) = 0;

  // OnClose() fails every queued waiter with `status` (FailWaiter) and
  // revokes every hold (ReportRevoked, then detach). closed() is already
  // true, so no waiter may be granted from here on.
  virtual void OnClose(const absl::Status& status) = 0;

  // --- Helpers for subclasses. ---

  // GrantWaiter()/FailWaiter() answer a waiter that is off the queue and
  // schedule its coroutine.
  void GrantWaiter(Waiter* waiter, const Grant& grant);
  void FailWaiter(Waiter* waiter, const absl::Status& status);

  std::uint64_t NextFence() { return ++last_fence_; }

  // WithdrawUndeliveredGrants() turns every grant decided but not yet
  // delivered into a failure with `status`, calling `on_withdrawn(waiter)`
  // first so the subclass takes back what the grant stood for. The caller
  // then learns of, say, a reset as one failed wait, never as a grant that
  // was already revoked.
  void WithdrawUndeliveredGrants(
      const absl::Status& status,
      absl::FunctionRef<void(Waiter&)> on_withdrawn);

  void ReportRevoked(const Session* session, std::string owner_key,
                     std::uint64_t fence, const absl::Status& reason);
  // ReportRevoked() passes on a revocation reported by an inner primitive
  // (a KeyedCondition's lock) as this primitive's own.
  void ReportRevoked(const Revocation& revocation);

 private:
  // NextSequence() numbers waiters in arrival order. One counter serves
  // every primitive of the loop (the order within each is all that counts);
  // not one per thread, since another thread may run the loop's turn.
  std::uint64_t NextSequence();

  // An idle primitive is what a million instances cost: every field counts
  // (see the size test in tests/server/core/registry_test.cc).
  // What most primitives never need: made at the first answer of a waiter
  // that had to wait, or at Close().
  struct Settling {
    // Waiters answered whose coroutines have not resumed yet.
    runtime::IntrusiveList<Waiter, QueueTag> resolved;
    absl::Status close_status;
  };
  Settling& settling();

  runtime::EventLoop* const loop_;
  std::uint64_t last_fence_;
  RevocationSink* revocation_sink_ = nullptr;
  std::unique_ptr<Settling> settling_;
  bool closed_ = false;
  bool owns_revocation_sink_ = false;  // one set_revocation_callback() made
  // Subclasses' small fields may follow in the tail padding.
};

}  // namespace baton::core

#endif  // BATON_SERVER_CORE_PRIMITIVE_H_

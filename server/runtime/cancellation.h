// Copyright 2026 The Baton Authors.
//
// Cancellation of a pending wait. A CancellationSignal belongs to one request;
// whoever may cancel it (a client's cancel message, a deadline of the caller)
// calls Cancel(), and the wait currently listening, if any, is told at once.
// Cancellation is sticky: a wait that starts listening after Cancel() sees it
// and fails without queueing.
//
// Example:
//   CancellationSignal cancel;
//   auto result = co_await lock.Acquire({.cancel = &cancel, ...});
//   // elsewhere, on the same loop thread: cancel.Cancel();
//
// Not thread-safe: a signal and its listener belong to one EventLoop thread.
// To cancel from another thread, Post() the Cancel() call to that loop.

#ifndef BATON_SERVER_RUNTIME_CANCELLATION_H_
#define BATON_SERVER_RUNTIME_CANCELLATION_H_

#include <cstdint>
#include <cstdlib>

namespace baton::runtime {

class CancellationSignal;

// CancellationListener is told when the signal it listens to is cancelled.
class CancellationListener {
 public:
  virtual ~CancellationListener() = default;

  // OnCancel() is called at most once, on the loop thread, from Cancel().
  virtual void OnCancel() = 0;
};

class CancellationSignal {
 public:
  CancellationSignal() = default;
  CancellationSignal(const CancellationSignal&) = delete;
  CancellationSignal& operator=(const CancellationSignal&) = delete;
  ~CancellationSignal() {
    if (listener() != nullptr) std::abort();  // a wait still listens
  }

  bool cancelled() const { return (state_ & kCancelled) != 0; }

  // Cancel() marks the signal cancelled and tells the listener, if any.
  // Later calls do nothing.
  void Cancel() {
    if (cancelled()) return;
    CancellationListener* const listener = this->listener();
    state_ = kCancelled;
    if (listener != nullptr) listener->OnCancel();
  }

  // Listen() makes `listener` the one to tell; there may be only one at a
  // time. Returns false (and does not register) when already cancelled.
  bool Listen(CancellationListener* listener) {
    if (this->listener() != nullptr) std::abort();
    if (cancelled()) return false;
    state_ = reinterpret_cast<std::uintptr_t>(listener);
    return true;
  }

  // StopListening() unregisters `listener` if it is the current one.
  void StopListening(CancellationListener* listener) {
    if (this->listener() == listener) state_ &= kCancelled;
  }

 private:
  // One word, since every queued wait has a signal (a million waits are
  // what bench/scale measures): the listener's address, whose lowest bit
  // is free (a listener is a polymorphic object, so at least pointer
  // aligned), or kCancelled.
  static constexpr std::uintptr_t kCancelled = 1;
  static_assert(alignof(CancellationListener) > 1);

  CancellationListener* listener() const {
    return reinterpret_cast<CancellationListener*>(state_ & ~kCancelled);
  }

  std::uintptr_t state_ = 0;
};

}  // namespace baton::runtime

#endif  // BATON_SERVER_RUNTIME_CANCELLATION_H_

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
    if (listener_ != nullptr) std::abort();  // a wait still listens
  }

  bool cancelled() const { return cancelled_; }

  // Cancel() marks the signal cancelled and tells the listener, if any.
  // Later calls do nothing.
  void Cancel() {
    if (cancelled_) return;
    cancelled_ = true;
    if (CancellationListener* listener = listener_) {
      listener_ = nullptr;
      listener->OnCancel();
    }
  }

  // Listen() makes `listener` the one to tell; there may be only one at a
  // time. Returns false (and does not register) when already cancelled.
  bool Listen(CancellationListener* listener) {
    if (listener_ != nullptr) std::abort();
    if (cancelled_) return false;
    listener_ = listener;
    return true;
  }

  // StopListening() unregisters `listener` if it is the current one.
  void StopListening(CancellationListener* listener) {
    if (listener_ == listener) listener_ = nullptr;
  }

 private:
  bool cancelled_ = false;
  CancellationListener* listener_ = nullptr;
};

}  // namespace baton::runtime

#endif  // BATON_SERVER_RUNTIME_CANCELLATION_H_

// Copyright 2026 The Baton Authors.

#include "server/core/session.h"

#include <cstdlib>

#include "absl/status/status.h"
#include "server/core/primitive.h"
#include "server/core/waiter.h"

namespace baton::core {

void HoldLink::Attach(Session* session) {
  if (session_ != nullptr || session == nullptr) std::abort();
  session_ = session;
  session->holds_.PushBack(this);
}

void HoldLink::Detach() {
  Unlink();
  session_ = nullptr;
}

Session::~Session() { End(); }

void Session::End() {
  ended_ = true;
  // Waits first, so that the holds released below go to other sessions'
  // waiters and never to this session's own.
  const absl::Status ended = absl::AbortedError("session ended");
  while (Waiter* waiter = waiters_.Front()) waiter->OnSessionEnd(ended);
  while (HoldLink* hold = holds_.Front()) {
    hold->primitive()->ReleaseHold(hold);
    if (holds_.Front() == hold) std::abort();  // ReleaseHold must detach
  }
}

}  // namespace baton::core

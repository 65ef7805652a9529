// Copyright 2026 The Baton Authors.
//
// A Session is one client session as seen by one shard: the waits it has
// pending there and the holds it has there. Ending it (one call, End())
// cancels every pending wait and then releases every hold, so that a client
// that vanishes never keeps anyone waiting.
//
// Owners: who holds a lock is the pair (session, owner key); the owner key is
// chosen by the client, one per task or thread by default. Semaphore permits
// are judged per session.
//
// Threading: a Session belongs to one shard's EventLoop thread, like the
// primitives it touches. The service layer creates one per shard the session
// uses and ends them all when the stream ends.

#ifndef BATON_SERVER_CORE_SESSION_H_
#define BATON_SERVER_CORE_SESSION_H_

#include <cstdint>

#include "server/runtime/intrusive_list.h"

namespace baton::core {

class Primitive;
class Session;
class Waiter;

struct SessionWaiterTag {};
struct SessionHoldTag {};

// HoldLink is a primitive's record that a session holds something in it
// (a lock, some permits). The primitive embeds it next to its own holder
// state and attaches it to the holding session, so that Session::End() can
// find every primitive to release without a search.
class HoldLink : public runtime::ListHook<SessionHoldTag> {
 public:
  explicit HoldLink(Primitive* primitive) : primitive_(primitive) {}
  HoldLink(const HoldLink&) = delete;
  HoldLink& operator=(const HoldLink&) = delete;
  ~HoldLink() { Detach(); }

  Primitive* primitive() const { return primitive_; }
  Session* session() const { return session_; }
  bool attached() const { return session_ != nullptr; }

  // Attach() links the hold to `session`; it must not be attached already.
  void Attach(Session* session);

  // Detach() unlinks the hold from its session; a no-op when detached.
  void Detach();

 private:
  Primitive* const primitive_;
  Session* session_ = nullptr;
};

class Session {
 public:
  explicit Session(std::uint64_t id) : id_(id) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session();  // calls End()

  std::uint64_t id() const { return id_; }

  // ended() is true after End(): every later wait of this session fails at
  // once with ABORTED, and it can gain no new hold.
  bool ended() const { return ended_; }

  // End() cancels every pending wait of the session (they fail with ABORTED)
  // and then releases every hold it has, handing each on to the next waiter.
  // Idempotent.
  void End();

  bool has_waiters() const { return !waiters_.empty(); }
  bool has_holds() const { return !holds_.empty(); }

 private:
  friend class HoldLink;
  friend class Waiter;

  const std::uint64_t id_;
  bool ended_ = false;
  runtime::IntrusiveList<Waiter, SessionWaiterTag> waiters_;
  runtime::IntrusiveList<HoldLink, SessionHoldTag> holds_;
};

}  // namespace baton::core

#endif  // BATON_SERVER_CORE_SESSION_H_

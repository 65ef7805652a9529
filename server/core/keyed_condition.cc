// Copyright 2026 The Baton Authors.

#include "server/core/keyed_condition.h"

#include <algorithm>
#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace baton::core {
namespace {

// This Abseil's string_view is its own type, not std::string_view.
absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace

KeyedCondition::KeyedCondition(runtime::EventLoop* loop,
                               std::uint64_t fence_base)
    : Primitive(loop, fence_base), lock_(loop, fence_base) {
  // The lock revokes its holder only when this instance closes it; report
  // that as a revocation of this instance.
  lock_.set_revocation_callback(
      [this](const Revocation& revocation) { ReportRevoked(revocation); });
}

KeyedCondition::~KeyedCondition() {
  // Waits resumed from now on must not touch the instance (see Wait()).
  alive_.reset();
  // Closing fails every waiter here and on the lock, and revokes the lock's
  // holder while this instance can still report it; the lock member, torn
  // down after this body, is then already closed and empty.
  Close(absl::AbortedError("instance destroyed"));
}

absl::Status KeyedCondition::Release(const Session* session,
                                     std::string_view owner_key) {
  if (closed()) return close_status();
  return lock_.Release(session, owner_key);
}

absl::Status KeyedCondition::AssertLocked(const Session* session,
                                          std::string_view owner_key) const {
  if (closed()) return close_status();
  return CheckHolder(session, owner_key, "assert_locked");
}

absl::Status KeyedCondition::CheckHolder(const Session* session,
                                         std::string_view owner_key,
                                         std::string_view operation) const {
  if (lock_.IsOwner(session, owner_key)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      Absl(operation), " requires holding the condition's lock; owner '",
      Absl(owner_key), "' does not hold it (",
      lock_.locked() ? "another owner holds it" : "it is free", ")"));
}

runtime::Task<WaitResult> KeyedCondition::Wait(WaitOptions options,
                                               std::string key) {
  // Checks first: when one fails, nothing changed and a held lock stays held.
  if (closed()) co_return WaitResult{.status = close_status()};
  if (options.session == nullptr) {
    co_return WaitResult{.status =
                             absl::InvalidArgumentError("session is required")};
  }
  if (options.session->ended()) {
    co_return WaitResult{.status = absl::AbortedError("session ended")};
  }
  if (absl::Status held =
          CheckHolder(options.session, options.owner_key, "wait");
      !held.ok()) {
    co_return WaitResult{.status = std::move(held)};
  }
  if (options.cancel != nullptr && options.cancel->cancelled()) {
    co_return WaitResult{.status = absl::CancelledError("cancelled")};
  }
  Session* const session = options.session;
  const std::string owner_key = options.owner_key;
  const std::weak_ptr<const bool> alive = alive_;

  // Phase 1: Start() releases the lock and the waiter queues on `key`.
  Waiter phase1(this, std::move(options),
                {.priority = kKeyWaitKind, .key = std::move(key)});
  WaitResult result = co_await phase1;
  const bool released = phase1.counter != 0;
  // Not released: refused before Start() (the caller still holds the lock).
  // Destroyed: Close() already answered the wait, and `this` is gone.
  // Session ended (the answer says ABORTED): it may be gone, and it can
  // hold nothing any more, so there is no lock to take back.
  if (!released || alive.expired() || phase1.session_ended()) co_return result;

  // Phase 2: re-acquire the lock, with no timeout and no cancel. It fails
  // only when the session ended (ABORTED) or the instance was closed.
  // (A named waiter: GCC 12 mishandles a Waiter temporary returned by a
  // call with temporary arguments inside a co_await expression.)
  Waiter phase2 = lock_.Acquire({.session = session, .owner_key = owner_key});
  WaitResult relock = co_await phase2;
  if (!relock.ok()) co_return relock;
  result.grant = relock.grant;
  co_return result;
}

absl::StatusOr<std::int64_t> KeyedCondition::Notify(const Session* session,
                                                    std::string_view owner_key,
                                                    std::string_view key,
                                                    std::int64_t n,
                                                    bool strict) {
  if (closed()) return close_status();
  if (n <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("n must be >= 1, got ", n));
  }
  if (absl::Status held = CheckHolder(session, owner_key, "notify");
      !held.ok()) {
    return held;
  }
  std::int64_t woken = 0;
  while (woken < n) {
    auto it = keys_.find(Absl(key));
    if (it == keys_.end() || !WakeFront(it)) break;
    ++woken;
  }
  if (strict && woken < n) {
    return absl::FailedPreconditionError(absl::StrCat(
        "strict notify woke ", woken, " of n=", n, " waiters on key '",
        Absl(key),
        "': ", woken == 0 ? "no one waits on it" : "fewer were waiting"));
  }
  return woken;
}

absl::StatusOr<std::int64_t> KeyedCondition::NotifyAll(
    const Session* session, std::string_view owner_key,
    std::optional<std::string_view> key) {
  if (closed()) return close_status();
  if (absl::Status held = CheckHolder(session, owner_key, "notify_all");
      !held.ok()) {
    return held;
  }
  std::int64_t woken = 0;
  if (key.has_value()) {
    while (true) {
      auto it = keys_.find(Absl(*key));
      if (it == keys_.end() || !WakeFront(it)) break;
      ++woken;
    }
    return woken;
  }
  // Every key: wake in arrival order, so that the lock is re-acquired in it.
  std::vector<Waiter*> all;
  all.reserve(waiting_);
  for (auto& [unused_key, list] : keys_) {
    while (Waiter* waiter = list.PopFront()) all.push_back(waiter);
  }
  keys_.clear();
  waiting_ = 0;
  std::sort(all.begin(), all.end(), [](const Waiter* a, const Waiter* b) {
    return a->sequence() < b->sequence();
  });
  for (Waiter* waiter : all) {
    GrantWaiter(waiter, Grant{});
    LeavePhase1(*waiter);
  }
  return static_cast<std::int64_t>(all.size());
}

std::size_t KeyedCondition::waiter_count(std::string_view key) const {
  auto it = keys_.find(Absl(key));
  return it == keys_.end() ? 0 : it->second.size();
}

bool KeyedCondition::WakeFront(
    absl::node_hash_map<std::string, WaiterList>::iterator it) {
  Waiter* waiter = it->second.PopFront();
  if (waiter == nullptr) return false;
  if (it->second.empty()) keys_.erase(it);
  --waiting_;
  GrantWaiter(waiter, Grant{});
  LeavePhase1(*waiter);
  return true;
}

void KeyedCondition::LeavePhase1(const Waiter& waiter) {
  // A WaitAll counts the phase-1 waiters that arrived before it.
  Waiter* all = wait_all_.Front();
  while (all != nullptr) {
    Waiter* next = wait_all_.Next(all);
    if (all->sequence() > waiter.sequence() && --all->counter == 0) {
      all->runtime::ListHook<QueueTag>::Unlink();
      GrantWaiter(all, Grant{});
    }
    all = next;
  }
}

// The state of a phase-1 waiter: Start() checks that its owner holds the
// lock, releases it (it passes to the lock's next waiter inside the server)
// and marks the waiter with counter = 1, so that Wait() knows phase 2 must
// follow whatever the answer. It never answers at once after releasing; the
// only refusal then is Waiter's own try-once (timeout 0).
std::optional<WaitResult> KeyedCondition::Start(Waiter* waiter) {
  if (waiter->request().priority == kWaitAllKind) {
    if (waiting_ == 0) return WaitResult{};
    // Every phase-1 waiter present arrived before this one.
    waiter->counter = static_cast<std::int64_t>(waiting_);
    return std::nullopt;
  }
  if (absl::Status held =
          CheckHolder(waiter->session(), waiter->owner_key(), "wait");
      !held.ok()) {
    return WaitResult{.status = std::move(held)};
  }
  if (!lock_.Release(waiter->session(), waiter->owner_key()).ok()) {
    std::abort();  // the owner was just checked
  }
  waiter->counter = 1;
  return std::nullopt;
}

void KeyedCondition::Enqueue(Waiter* waiter) {
  if (waiter->request().priority == kWaitAllKind) {
    wait_all_.PushBack(waiter);
    return;
  }
  keys_[Absl(waiter->request().key)].PushBack(waiter);
  ++waiting_;
}

void KeyedCondition::Remove(Waiter* waiter) {
  waiter->runtime::ListHook<QueueTag>::Unlink();
  if (waiter->request().priority == kWaitAllKind) return;
  auto it = keys_.find(Absl(waiter->request().key));
  if (it == keys_.end()) std::abort();  // a queued waiter's key is present
  if (it->second.empty()) keys_.erase(it);
  --waiting_;
  LeavePhase1(*waiter);
}

// A waiter notified and then cancelled, or whose session ended, before it
// resumed: its wake-up goes to the next waiter of its key, if any. (Its own
// phase 2 still follows; it already counted as notified for WaitAll.)
void KeyedCondition::GiveBack(Waiter* waiter) {
  if (waiter->request().priority == kWaitAllKind || closed()) return;
  auto it = keys_.find(Absl(waiter->request().key));
  if (it != keys_.end()) WakeFront(it);
}

// The condition itself holds nothing for anyone: the lock has its own hold.
void KeyedCondition::ReleaseHold(HoldLink*) { std::abort(); }

void KeyedCondition::OnClose(const absl::Status& status) {
  // WaitAll waiters first, so that failing phase-1 waiters grants none.
  while (Waiter* waiter = wait_all_.PopFront()) FailWaiter(waiter, status);
  for (auto& [unused_key, list] : keys_) {
    while (Waiter* waiter = list.PopFront()) FailWaiter(waiter, status);
  }
  keys_.clear();
  waiting_ = 0;
  // Fails the lock's waiters (phase 2 included) and revokes its holder,
  // reported through the forwarding callback set in the constructor.
  lock_.Close(status);
}

absl::Status KeyedCondition::CheckInvariants() const {
  if (absl::Status lock = lock_.CheckInvariants(); !lock.ok()) return lock;
  std::size_t total = 0;
  for (const auto& [key, list] : keys_) {
    if (list.empty()) {
      return absl::InternalError(absl::StrCat("key '", key, "' has no waiter"));
    }
    for (Waiter* w = list.Front(); w != nullptr; w = list.Next(w)) {
      if (w->state() != Waiter::State::kQueued ||
          w->request().priority != kKeyWaitKind || Absl(w->request().key) != key ||
          w->counter != 1) {
        return absl::InternalError(
            absl::StrCat("bad phase-1 waiter on key '", key, "'"));
      }
      ++total;
    }
  }
  if (total != waiting_) {
    return absl::InternalError(
        absl::StrCat("waiting_=", waiting_, " but counted ", total));
  }
  for (Waiter* all = wait_all_.Front(); all != nullptr;
       all = wait_all_.Next(all)) {
    std::int64_t before = 0;
    for (const auto& [key, list] : keys_) {
      for (Waiter* w = list.Front(); w != nullptr; w = list.Next(w)) {
        if (w->sequence() < all->sequence()) ++before;
      }
    }
    if (all->state() != Waiter::State::kQueued || before == 0 ||
        all->counter != before) {
      return absl::InternalError(
          absl::StrCat("wait_all count ", all->counter, " but ", before,
                       " earlier waiters are in phase 1"));
    }
  }
  if (closed() && (waiting_ != 0 || !wait_all_.empty())) {
    return absl::InternalError("waiters queued on a closed condition");
  }
  return absl::OkStatus();
}

}  // namespace baton::core

// Copyright 2026 The Baton Authors.
//
// PermitLedger records which sessions hold permits of one semaphore, how
// many each holds, and the fence of each session's latest grant. It is the
// holder bookkeeping shared by DynamicBoundedSemaphore and PrioritySemaphore
// (build up, don't duplicate): the semaphores own the count of free permits
// and the wait queue, the ledger owns who holds what.
//
// Permits belong to the session, not to an owner key: any task of a session
// may release a permit that session acquired. For every session holding at
// least one permit, the ledger keeps a HoldLink attached to that session, so
// that Session::End() finds the semaphore and gives every permit back
// (Primitive::ReleaseHold -> TakeAll()).
//
// Example (inside a semaphore):
//   ledger_.Add(waiter->session(), NextFence());     // grant
//   if (!ledger_.TakeOne(session)) return Error();   // release
//   available_ += ledger_.TakeAll(hold);             // session end
//
// Threading: owned by one primitive and confined to its EventLoop's thread.

#ifndef BATON_SERVER_CORE_PERMIT_LEDGER_H_
#define BATON_SERVER_CORE_PERMIT_LEDGER_H_

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/core/session.h"

namespace baton::core {

class Primitive;

// What one session holds in a semaphore, for inspection.
struct PermitHolder {
  std::uint64_t session_id = 0;
  std::int64_t permits = 0;
  // The fence of the session's latest grant.
  std::uint64_t fence = 0;
};

class PermitLedger {
 public:
  // A session's permits taken away at once by RevokeAll().
  struct Revoked {
    const Session* session = nullptr;
    std::int64_t permits = 0;
    std::uint64_t fence = 0;  // of the session's latest grant
  };

  // `primitive` is the semaphore whose permits are recorded; the HoldLinks
  // point to it.
  explicit PermitLedger(Primitive* primitive) : primitive_(primitive) {}
  PermitLedger(const PermitLedger&) = delete;
  PermitLedger& operator=(const PermitLedger&) = delete;
  // Entries still present detach their HoldLinks as they are destroyed.
  ~PermitLedger() = default;

  // total() is the number of permits held by all sessions together.
  std::int64_t total() const { return total_; }
  bool empty() const { return entries_.empty(); }

  // PermitsOf() is the number of permits `session` holds (0 if none).
  std::int64_t PermitsOf(const Session* session) const {
    auto it = entries_.find(session);
    return it == entries_.end() ? 0 : it->second.permits;
  }

  // Add() records one more permit for `session`, granted with `fence`. On
  // the session's first permit the hold is attached to the session.
  void Add(Session* session, std::uint64_t fence) {
    auto [it, inserted] = entries_.try_emplace(session, primitive_);
    if (inserted) it->second.hold.Attach(session);
    ++it->second.permits;
    it->second.fence = fence;
    ++total_;
  }

  // TakeOne() removes one permit of `session`; false, changing nothing, when
  // it holds none. At zero the hold is detached and the entry dropped.
  bool TakeOne(const Session* session) {
    auto it = entries_.find(session);
    if (it == entries_.end()) return false;
    --total_;
    if (--it->second.permits == 0) entries_.erase(it);  // detaches the hold
    return true;
  }

  // TakeAll() removes every permit of the session `hold` stands for (the
  // session ended), detaches the hold and returns how many there were.
  // `hold` must be one of this ledger's.
  std::int64_t TakeAll(HoldLink* hold) {
    auto it = entries_.find(hold->session());
    if (it == entries_.end() || &it->second.hold != hold) std::abort();
    const std::int64_t permits = it->second.permits;
    total_ -= permits;
    entries_.erase(it);
    return permits;
  }

  // RevokeAll() empties the ledger (reset, close), detaching every hold, and
  // returns what each session held, in grant order of their latest fences.
  // The caller reports them once its own state is consistent again.
  std::vector<Revoked> RevokeAll() {
    std::vector<Revoked> revoked;
    revoked.reserve(entries_.size());
    for (const auto& [session, entry] : entries_) {
      revoked.push_back(
          {.session = session, .permits = entry.permits, .fence = entry.fence});
    }
    std::sort(
        revoked.begin(), revoked.end(),
        [](const Revoked& a, const Revoked& b) { return a.fence < b.fence; });
    entries_.clear();
    total_ = 0;
    return revoked;
  }

  // holders() lists every holding session, in order of their latest fences.
  std::vector<PermitHolder> holders() const {
    std::vector<PermitHolder> result;
    result.reserve(entries_.size());
    for (const auto& [session, entry] : entries_) {
      result.push_back({.session_id = session->id(),
                        .permits = entry.permits,
                        .fence = entry.fence});
    }
    std::sort(result.begin(), result.end(),
              [](const PermitHolder& a, const PermitHolder& b) {
                return a.fence < b.fence;
              });
    return result;
  }

  // CheckInvariants() verifies that every entry holds >= 1 permit through a
  // hold of this primitive attached to its session, that no fence is above
  // `last_fence`, and that the entries add up to total().
  absl::Status CheckInvariants(std::uint64_t last_fence) const {
    std::int64_t sum = 0;
    for (const auto& [session, entry] : entries_) {
      if (entry.permits <= 0) {
        return absl::InternalError(absl::StrCat("session ", session->id(),
                                                " has an entry with ",
                                                entry.permits, " permits"));
      }
      if (entry.hold.session() != session ||
          entry.hold.primitive() != primitive_) {
        return absl::InternalError(
            absl::StrCat("the hold of session ", session->id(),
                         " is not attached to it for this semaphore"));
      }
      if (entry.fence == 0 || entry.fence > last_fence) {
        return absl::InternalError(absl::StrCat(
            "session ", session->id(), " holds fence ", entry.fence,
            " but the last fence granted is ", last_fence));
      }
      sum += entry.permits;
    }
    if (sum != total_) {
      return absl::InternalError(absl::StrCat("ledger entries add up to ", sum,
                                              " but total() is ", total_));
    }
    return absl::OkStatus();
  }

 private:
  // One session's permits. Lives in a node of entries_, so the HoldLink,
  // which its session links to, never moves.
  struct Entry {
    explicit Entry(Primitive* primitive) : hold(primitive) {}

    HoldLink hold;  // attached to the session for as long as the entry exists
    std::int64_t permits = 0;
    std::uint64_t fence = 0;
  };

  Primitive* const primitive_;
  absl::node_hash_map<const Session*, Entry> entries_;
  std::int64_t total_ = 0;
};

}  // namespace baton::core

#endif  // BATON_SERVER_CORE_PERMIT_LEDGER_H_

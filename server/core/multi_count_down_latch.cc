// Copyright 2026 The Baton Authors.

#include "server/core/multi_count_down_latch.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace baton::core {
namespace {

// This Abseil's string_view is its own type, not std::string_view.
absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace

absl::Status MultiCountDownLatch::ValidateCounts(const Counts& counts) {
  for (const auto& [key, count] : counts) {
    if (key.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "counts: every key must be non-empty, got an empty key with count ",
          count));
    }
    if (count < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "counts[\"", absl::CHexEscape(key), "\"] must be >= 0 (0 starts the counter "
          "finished), got ", count));
    }
  }
  return absl::OkStatus();
}

MultiCountDownLatch::MultiCountDownLatch(runtime::EventLoop* loop,
                                         std::uint64_t fence_base,
                                         Counts counts)
    : Primitive(loop, fence_base), counts_(std::move(counts)) {
  for (auto& [key, count] : counts_) {
    count = std::max<std::int64_t>(count, 0);
    if (count > 0) ++unfinished_;
  }
}

absl::Status MultiCountDownLatch::Restore(const Counts& current) {
  if (!waiters_.empty() || !wait_all_.empty()) {
    return absl::FailedPreconditionError("latch: restore with waiters");
  }
  for (auto& [key, count] : counts_) {
    const auto it = current.find(key);
    if (it == current.end()) continue;
    const std::int64_t restored = std::max<std::int64_t>(it->second, 0);
    if (restored >= count) continue;
    if (count > 0 && restored == 0) --unfinished_;
    count = restored;
  }
  return absl::OkStatus();
}

MultiCountDownLatch::~MultiCountDownLatch() {
  Close(absl::AbortedError("instance destroyed"));
}

std::optional<std::int64_t> MultiCountDownLatch::count(
    std::string_view key) const {
  auto it = counts_.find(Absl(key));
  if (it == counts_.end()) return std::nullopt;
  return it->second;
}

std::size_t MultiCountDownLatch::waiter_count(std::string_view key) const {
  auto it = waiters_.find(Absl(key));
  return it == waiters_.end() ? 0 : it->second.size();
}

absl::Status MultiCountDownLatch::CountDown(std::string_view key, bool strict) {
  if (closed()) return close_status();
  auto it = counts_.find(Absl(key));
  if (it == counts_.end()) {
    if (!strict) return absl::OkStatus();
    return absl::NotFoundError(
        absl::StrCat("count_down: no counter with key '", Absl(key), "'"));
  }
  if (it->second == 0) {
    if (!strict) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(
        "count_down: counter '", Absl(key), "' already reached zero"));
  }
  Decrement(it);
  return absl::OkStatus();
}

absl::Status MultiCountDownLatch::CountDownAll() {
  if (closed()) return close_status();
  for (auto it = counts_.begin(); it != counts_.end(); ++it) {
    if (it->second > 0) Decrement(it);
  }
  return absl::OkStatus();
}

void MultiCountDownLatch::Decrement(Counts::iterator it) {
  if (--it->second > 0) return;
  --unfinished_;
  if (auto waiting = waiters_.find(it->first); waiting != waiters_.end()) {
    while (Waiter* waiter = waiting->second.PopFront()) {
      GrantWaiter(waiter, Grant{});
    }
    waiters_.erase(waiting);
  }
  if (unfinished_ == 0) {
    while (Waiter* waiter = wait_all_.PopFront()) GrantWaiter(waiter, Grant{});
  }
}

std::optional<WaitResult> MultiCountDownLatch::Start(Waiter* waiter) {
  if (waiter->request().priority == kWaitAllKind) {
    if (broken()) return WaitResult{};
    return std::nullopt;
  }
  auto it = counts_.find(Absl(waiter->request().key));
  if (it == counts_.end()) {
    if (waiter->request().priority != kStrictKeyWaitKind) return WaitResult{};
    return WaitResult{
        .status = absl::NotFoundError(absl::StrCat(
            "wait: no counter with key '", Absl(waiter->request().key), "'"))};
  }
  if (it->second == 0) return WaitResult{};
  return std::nullopt;
}

void MultiCountDownLatch::Enqueue(Waiter* waiter) {
  if (waiter->request().priority == kWaitAllKind) {
    wait_all_.PushBack(waiter);
  } else {
    waiters_[Absl(waiter->request().key)].PushBack(waiter);
  }
}

// Leaving changes no counter, so it lets no one through.
void MultiCountDownLatch::Remove(Waiter* waiter) {
  waiter->runtime::ListHook<QueueTag>::Unlink();
  if (waiter->request().priority == kWaitAllKind) return;
  auto it = waiters_.find(Absl(waiter->request().key));
  if (it == waiters_.end()) std::abort();  // a queued waiter's key is present
  if (it->second.empty()) waiters_.erase(it);
}

// A latch wake-up is not consumed: everyone else it concerned was woken too.
void MultiCountDownLatch::GiveBack(Waiter*) {}

// Waits hold nothing, so no hold is ever attached to a session.
void MultiCountDownLatch::ReleaseHold(HoldLink*) { std::abort(); }

void MultiCountDownLatch::OnClose(const absl::Status& status) {
  while (Waiter* waiter = wait_all_.PopFront()) FailWaiter(waiter, status);
  for (auto& [unused_key, list] : waiters_) {
    while (Waiter* waiter = list.PopFront()) FailWaiter(waiter, status);
  }
  waiters_.clear();
}

absl::Status MultiCountDownLatch::CheckInvariants() const {
  std::int64_t unfinished = 0;
  for (const auto& [key, count] : counts_) {
    if (count < 0) {
      return absl::InternalError(
          absl::StrCat("counter '", key, "' is negative: ", count));
    }
    if (count > 0) ++unfinished;
  }
  if (unfinished != unfinished_) {
    return absl::InternalError(
        absl::StrCat("unfinished_=", unfinished_, " but counted ", unfinished));
  }
  for (const auto& [key, list] : waiters_) {
    if (list.empty()) {
      return absl::InternalError(absl::StrCat("key '", key, "' has no waiter"));
    }
    auto it = counts_.find(Absl(key));
    if (it == counts_.end() || it->second == 0) {
      return absl::InternalError(absl::StrCat(
          "waiters left on key '", key, "', which is unknown or finished"));
    }
    for (Waiter* w = list.Front(); w != nullptr; w = list.Next(w)) {
      if (w->state() != Waiter::State::kQueued || Absl(w->request().key) != key) {
        return absl::InternalError(
            absl::StrCat("bad waiter on key '", key, "'"));
      }
    }
  }
  if (broken() && !wait_all_.empty()) {
    return absl::InternalError("wait_all waiters left on a broken latch");
  }
  if (closed() && (!waiters_.empty() || !wait_all_.empty())) {
    return absl::InternalError("waiters queued on a closed latch");
  }
  return absl::OkStatus();
}

}  // namespace baton::core

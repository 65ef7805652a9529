// Copyright 2026 The Baton Authors.

#include "server/core/priority_mutex.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace baton::core {
namespace {

// This Abseil's string_view is its own type, not std::string_view.
absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

absl::Status DepthExhausted() {
  return absl::ResourceExhaustedError(
      absl::StrCat("a reentrant lock is held at most ", PriorityMutex::kMaxDepth,
                   " times at once by its owner"));
}

}  // namespace

PriorityMutex::PriorityMutex(runtime::EventLoop* loop, std::uint64_t fence_base,
                             Reentrancy reentrancy)
    : Primitive(loop, fence_base), reentrancy_(reentrancy) {}

PriorityMutex::~PriorityMutex() {
  Close(absl::AbortedError("instance destroyed"));
}

bool PriorityMutex::IsOwner(const Session* session,
                            std::string_view owner_key) const {
  return depth_ > 0 && hold_.session() == session && holder_key_ == owner_key;
}

std::optional<PriorityMutex::Holder> PriorityMutex::holder() const {
  if (depth_ == 0) return std::nullopt;
  return Holder{.session_id = hold_.session()->id(),
                .owner_key = holder_key_,
                .depth = depth_,
                .fence = last_fence()};
}

absl::Status PriorityMutex::Release(const Session* session,
                                    std::string_view owner_key) {
  if (!IsOwner(session, owner_key)) {
    return absl::FailedPreconditionError(
        depth_ == 0 ? "release of a lock that is not held"
                    : "release by a non-owner: the lock is held by another owner");
  }
  ReleaseOne();
  return absl::OkStatus();
}

std::optional<WaitResult> PriorityMutex::Start(Waiter* waiter) {
  if (IsOwner(waiter->session(), waiter->owner_key())) {
    if (!reentrant()) {
      return WaitResult{.status = absl::FailedPreconditionError(absl::StrCat(
                            "deadlock: owner '", Absl(waiter->owner_key()),
                            "' already holds this lock, which is not reentrant"))};
    }
    if (depth_ == kMaxDepth) return WaitResult{.status = DepthExhausted()};
    ++depth_;
    return WaitResult{.grant = {.fence = last_fence()}};
  }
  if (depth_ > 0) return std::nullopt;
  return WaitResult{.grant = Take(*waiter)};
}

void PriorityMutex::Enqueue(Waiter* waiter) {
  if (waiting_ == nullptr) waiting_ = std::make_unique<Waiting>();
  waiting_->queue.Push(waiter, waiter->request().priority);
  CountQueued(*waiter, +1);
}

// A free mutex has an empty queue, so a leaving waiter lets no one through.
void PriorityMutex::Remove(Waiter* waiter) {
  waiting_->queue.Remove(waiter);
  CountQueued(*waiter, -1);
}

void PriorityMutex::CountQueued(const Waiter& waiter, int delta) {
  if (!reentrant()) return;
  auto key = std::make_pair<const Session*, std::string>(waiter.session(),
                                                         std::string(waiter.owner_key()));
  auto& queued_per_owner = waiting_->queued_per_owner;
  auto it = queued_per_owner.try_emplace(std::move(key), 0).first;
  if ((it->second += delta) == 0) queued_per_owner.erase(it);
}

void PriorityMutex::GrantQueuedReentries() {
  if (!reentrant() || depth_ == 0 || waiting_ == nullptr) return;
  auto& queued_per_owner = waiting_->queued_per_owner;
  auto it = queued_per_owner.find(
      std::make_pair<const Session*, std::string>(hold_.session(), std::string(holder_key_)));
  if (it == queued_per_owner.end()) return;
  std::vector<Waiter*> own;
  waiting_->queue.ForEachWhile([&](std::int64_t, Waiter* w) {
    if (w->session() == hold_.session() && w->owner_key() == holder_key_) {
      own.push_back(w);
    }
    return static_cast<int>(own.size()) < it->second;
  });
  for (Waiter* w : own) {
    Remove(w);
    if (depth_ == kMaxDepth) {
      FailWaiter(w, DepthExhausted());
      continue;
    }
    ++depth_;
    GrantWaiter(w, Grant{.fence = last_fence()});
  }
}

void PriorityMutex::GiveBack(Waiter* waiter) {
  if (IsOwner(waiter->session(), waiter->owner_key())) ReleaseOne();
}

void PriorityMutex::ReleaseHold(HoldLink* hold) {
  if (hold != &hold_) std::abort();
  Clear();
  Serve();
}

void PriorityMutex::OnClose(const absl::Status& status) {
  if (waiting_ != nullptr) {
    while (Waiter* waiter = waiting_->queue.PopFront()) FailWaiter(waiter, status);
    waiting_->queued_per_owner.clear();
  }
  if (depth_ > 0) {
    ReportRevoked(hold_.session(), holder_key_, last_fence(), status);
    Clear();
  }
}

Grant PriorityMutex::Take(const Waiter& waiter) {
  hold_.Attach(waiter.session());
  holder_key_ = waiter.owner_key();
  depth_ = 1;
  return Grant{.fence = NextFence()};
}

void PriorityMutex::ReleaseOne() {
  if (--depth_ > 0) return;
  Clear();
  Serve();
}

void PriorityMutex::Clear() {
  hold_.Detach();
  holder_key_.clear();
  depth_ = 0;
}

void PriorityMutex::Serve() {
  if (closed() || depth_ > 0 || waiting_ == nullptr) return;
  Waiter* next = waiting_->queue.Front();
  if (next == nullptr) return;
  Remove(next);
  GrantWaiter(next, Take(*next));
  GrantQueuedReentries();
}

absl::Status PriorityMutex::CheckInvariants() const {
  if ((depth_ > 0) != hold_.attached()) {
    return absl::InternalError("holder depth and hold link disagree");
  }
  if (depth_ < 0) return absl::InternalError("negative depth");
  if (depth_ == 0 && waiter_count() > 0) {
    return absl::InternalError("waiters queued while the lock is free");
  }
  if (depth_ > 1 && !reentrant()) {
    return absl::InternalError("non-reentrant lock held more than once");
  }
  return absl::OkStatus();
}

}  // namespace baton::core

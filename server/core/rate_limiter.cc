// Copyright 2026 The Baton Authors.

#include "server/core/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"

namespace baton::core {
namespace {

// Relative tolerance of Fits(): a level within this fraction of the need is
// enough. It absorbs the rounding of refills computed in floating point, so
// that a timer firing at its computed instant always grants.
constexpr double kFitTolerance = 1e-11;

// TimeToRefill() rounds down by this fraction before rounding up to the
// nanosecond, so that floating-point noise above an exact instant (300 ms
// computed as 300000000.00000006 ns) does not push the timer 1 ns late. It
// is far below kFitTolerance, so the level at the instant still fits.
constexpr double kTimeSlack = 1e-13;

// Waits longer than this (about 126 years) are treated as never.
constexpr double kMaxWaitNanos = 4e18;

bool PositiveFinite(double x) { return std::isfinite(x) && x > 0; }

}  // namespace

absl::Status RateLimiter::Validate(const Options& options) {
  if (!PositiveFinite(options.rate)) {
    return absl::InvalidArgumentError(
        absl::StrCat("rate must be finite and > 0, got ", options.rate));
  }
  if (options.capacity.has_value() && !PositiveFinite(*options.capacity)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "capacity must be finite and > 0, got ", *options.capacity));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RateLimiter>> RateLimiter::Create(
    runtime::EventLoop* loop, std::uint64_t fence_base,
    const Options& options) {
  if (absl::Status status = Validate(options); !status.ok()) return status;
  return std::make_unique<RateLimiter>(loop, fence_base, options);
}

RateLimiter::RateLimiter(runtime::EventLoop* loop, std::uint64_t fence_base,
                         const Options& options)
    : Primitive(loop, fence_base),
      rate_(options.rate),
      capacity_(options.capacity.value_or(options.rate)),
      fair_(options.fair),
      tokens_(capacity_),
      last_refill_(loop->Now()) {
  if (!Validate(options).ok()) std::abort();  // callers Validate() first
}

RateLimiter::~RateLimiter() { Close(absl::AbortedError("instance destroyed")); }

absl::Status RateLimiter::Release(double tokens) {
  if (closed()) return close_status();
  if (!PositiveFinite(tokens)) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokens must be finite and > 0, got ", tokens));
  }
  CatchUp();
  tokens_ = std::min(capacity_, tokens_ + tokens);
  Serve();
  return absl::OkStatus();
}

absl::Status RateLimiter::SetRate(double new_rate) {
  if (closed()) return close_status();
  if (!PositiveFinite(new_rate)) {
    return absl::InvalidArgumentError(
        absl::StrCat("rate must be finite and > 0, got ", new_rate));
  }
  CatchUp();  // at the old rate, up to now
  rate_ = new_rate;
  capacity_ = std::max(capacity_, new_rate);
  Serve();  // re-times the queue at the new rate
  return absl::OkStatus();
}

absl::Status RateLimiter::Reconfigure(double new_rate, double new_capacity) {
  if (closed()) return close_status();
  if (!PositiveFinite(new_rate)) {
    return absl::InvalidArgumentError(
        absl::StrCat("rate must be finite and > 0, got ", new_rate));
  }
  if (!PositiveFinite(new_capacity)) {
    return absl::InvalidArgumentError(
        absl::StrCat("capacity must be finite and > 0, got ", new_capacity));
  }
  double largest_queued = 0;
  queue_.ForEach([&](double, const Waiter* waiter) {
    largest_queued = std::max(largest_queued, waiter->request().amount);
  });
  if (largest_queued > new_capacity) {
    return absl::InvalidArgumentError(absl::StrCat(
        "capacity must be >= the largest queued request (", largest_queued,
        "), got ", new_capacity));
  }
  CatchUp();  // at the old rate, up to now
  rate_ = new_rate;
  capacity_ = new_capacity;
  tokens_ = std::min(tokens_, capacity_);
  Serve();  // re-times the queue at the new rate
  return absl::OkStatus();
}

absl::Status RateLimiter::RestoreTokens(double tokens) {
  if (!queue_.empty()) {
    return absl::FailedPreconditionError("rate limit: restore with waiters");
  }
  if (!std::isfinite(tokens)) tokens = capacity_;
  tokens_ = std::clamp(tokens, 0.0, capacity_);
  last_refill_ = loop().Now();
  return absl::OkStatus();
}

bool RateLimiter::CanTakeNow(double tokens) {
  if (closed() || !PositiveFinite(tokens) || tokens > capacity_) return false;
  Serve();  // queued waiters due by now go first
  return (!fair_ || queue_.empty()) && Fits(tokens_, tokens);
}

absl::Status RateLimiter::TakeNow(double tokens) {
  if (closed()) return close_status();
  if (!PositiveFinite(tokens)) {
    return absl::InvalidArgumentError(
        absl::StrCat("tokens must be finite and > 0, got ", tokens));
  }
  if (!CanTakeNow(tokens)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot take ", tokens, " tokens now (", tokens_, " there)"));
  }
  tokens_ = std::max(0.0, tokens_ - tokens);
  ArmTimer();  // the level changed
  return absl::OkStatus();
}

absl::Duration RateLimiter::TimeToFull() const {
  const double missing = capacity_ - tokens();
  if (!(missing > 0)) return absl::ZeroDuration();
  return TimeToRefill(missing);
}

double RateLimiter::tokens() const {
  return ProjectAt(Now(), /*ahead_of=*/0).tokens;
}

bool RateLimiter::locked() const {
  if (capacity_ < 1) return true;
  const Projection now = ProjectAt(Now(), /*ahead_of=*/0);
  if (fair_ && !now.queue_empty) return true;
  // Unfair: whoever is still queued needs more than is there, so a request
  // of 1 that fits is smaller than all of them and cuts in.
  return !Fits(now.tokens, 1);
}

std::optional<WaitResult> RateLimiter::Start(Waiter* waiter) {
  const double need = waiter->request().amount;
  if (!PositiveFinite(need) || need > capacity_) {
    return WaitResult{.status = absl::InvalidArgumentError(absl::StrCat(
                          "tokens must be finite and in (0, capacity=",
                          capacity_, "], got ", need))};
  }
  CatchUp();  // queued waiters due by now go before the newcomer
  std::optional<WaitResult> answer;
  if ((!fair_ || queue_.empty()) && Fits(tokens_, need)) {
    tokens_ = std::max(0.0, tokens_ - need);
    answer = WaitResult{.grant = {.tokens_left = tokens_}};
  }
  ArmTimer();  // the level changed
  return answer;
}

void RateLimiter::Enqueue(Waiter* waiter) {
  const double need = waiter->request().amount;
  queue_.Push(waiter, fair_ ? 0.0 : need);
  queued_tokens_ += need;
  ArmTimer();  // the newcomer may be the new front
}

void RateLimiter::Remove(Waiter* waiter) {
  // Those behind it could not go while it was there: bring the bucket up to
  // now with it still queued, then let them go from now.
  CatchUp(/*stop_at=*/waiter);
  queue_.Remove(waiter);
  queued_tokens_ -= waiter->request().amount;
  if (queue_.empty()) queued_tokens_ = 0;  // no drift left behind
  Serve();  // in fair mode the next one may fit now
}

void RateLimiter::GiveBack(Waiter* waiter) {
  if (closed()) return;  // Close() withdraws grants; no one is served now
  CatchUp();
  tokens_ = std::min(capacity_, tokens_ + waiter->request().amount);
  Serve();
}

absl::Duration RateLimiter::RetryAfter(const Waiter& waiter) const {
  const double need = waiter.request().amount;
  const Projection now = ProjectAt(Now(), /*ahead_of=*/need);
  // The queued requests served first, then this one, from what is there.
  // In seconds, term by term: with amounts near DBL_MAX a sum of tokens
  // would overflow to infinity.
  const double seconds =
      (now.queued_ahead / rate_ - now.tokens / rate_) + need / rate_;
  if (seconds <= 0) return absl::ZeroDuration();
  return WaitFor(seconds);
}

void RateLimiter::ReleaseHold(HoldLink*) {
  std::abort();  // the limiter never attaches a hold
}

void RateLimiter::OnClose(const absl::Status& status) {
  while (Waiter* waiter = queue_.PopFront()) FailWaiter(waiter, status);
  queued_tokens_ = 0;
  loop().CancelTimer(&timer_);
}

bool RateLimiter::Fits(double level, double need) {
  return level >= need * (1 - kFitTolerance);
}

RateLimiter::Level RateLimiter::RefilledTo(Level level, absl::Time t) const {
  if (t <= level.at) return level;
  const double added = rate_ * absl::ToDoubleSeconds(t - level.at);
  return Level{.tokens = std::min(capacity_, level.tokens + added), .at = t};
}

absl::Duration RateLimiter::TimeToRefill(double missing) const {
  return WaitFor(missing / rate_);
}

absl::Duration RateLimiter::WaitFor(double seconds) {
  const double nanos = std::ceil(seconds * 1e9 * (1 - kTimeSlack));
  if (!(nanos < kMaxWaitNanos)) return absl::InfiniteDuration();
  return absl::Nanoseconds(
      std::max<std::int64_t>(1, static_cast<std::int64_t>(nanos)));
}

absl::Time RateLimiter::FitTime(const Level& level, double need) const {
  if (Fits(level.tokens, need)) return level.at;
  return level.at + TimeToRefill(need - level.tokens);
}

RateLimiter::Step RateLimiter::Replay(const Level& level, const Waiter& waiter,
                                      absl::Time now) const {
  using Kind = Step::Kind;
  const double need = waiter.request().amount;
  const absl::Time at = FitTime(level, need);
  if (at > waiter.deadline() && waiter.deadline() <= now) {
    // It gave up first. Whoever is behind it waited at least until then.
    return Step{.kind = Kind::kExpire,
                .level = RefilledTo(level, waiter.deadline())};
  }
  if (at > now) return Step{.kind = Kind::kWait, .level = level};
  Level after = RefilledTo(level, at);
  if (!Fits(after.tokens, need)) {
    // Rounding left it a hair short at `at`: take it at `now` if it fits.
    after = RefilledTo(level, now);
    if (!Fits(after.tokens, need))
      return Step{.kind = Kind::kWait, .level = level};
  }
  after.tokens = std::max(0.0, after.tokens - need);
  return Step{.kind = Kind::kGrant, .level = after};
}

void RateLimiter::CatchUp(const Waiter* stop_at) {
  const absl::Time now = Now();
  Level level = current();
  while (Waiter* front = queue_.Front()) {
    if (front == stop_at) break;
    const Step step = Replay(level, *front, now);
    if (step.kind == Step::Kind::kWait) break;
    level = step.level;
    queue_.Remove(front);
    queued_tokens_ -= front->request().amount;
    if (step.kind == Step::Kind::kGrant) {
      GrantWaiter(front, Grant{.tokens_left = level.tokens});
    } else {
      // Its own timer is due too; answering here keeps the order exact.
      FailWaiter(front, absl::DeadlineExceededError(
                            "timed out before enough tokens were refilled"));
    }
  }
  if (queue_.empty()) queued_tokens_ = 0;
  level = RefilledTo(level, now);
  tokens_ = level.tokens;
  last_refill_ = std::max(level.at, last_refill_);
}

void RateLimiter::Serve() {
  if (closed()) return;
  CatchUp();
  ArmTimer();
}

void RateLimiter::ArmTimer() {
  loop().CancelTimer(&timer_);
  if (closed() || queue_.empty()) return;
  loop().AddTimer(&timer_,
                  FitTime(current(), queue_.Front()->request().amount));
}

RateLimiter::Projection RateLimiter::ProjectAt(absl::Time now,
                                               double ahead_of) const {
  // O(1) past the waiters due by now: behind the first one still waiting,
  // fair mode needs only the running sum, and unfair mode only the requests
  // no larger than `ahead_of` (the queue is sorted by size). Try-once
  // refusals, tokens() and locked() must not cost O(queue).
  Projection projection{.queue_empty = true};
  Level level = current();
  double replayed = 0;  // tokens of the waiters that leave by `now`
  queue_.ForEachWhile([&](double key, const Waiter* waiter) {
    const double need = waiter->request().amount;
    if (projection.queue_empty) {
      const Step step = Replay(level, *waiter, now);
      if (step.kind != Step::Kind::kWait) {
        level = step.level;
        replayed += need;
        return true;
      }
      projection.queue_empty = false;
    }
    if (fair_) {
      projection.queued_ahead = std::max(0.0, queued_tokens_ - replayed);
      return false;
    }
    if (key > ahead_of) return false;  // larger requests are served after
    projection.queued_ahead += need;
    return true;
  });
  projection.tokens = RefilledTo(level, now).tokens;
  return projection;
}

absl::Status RateLimiter::CheckInvariants() const {
  if (!PositiveFinite(rate_) || !PositiveFinite(capacity_)) {
    return absl::InternalError(
        absl::StrCat("bad rate ", rate_, " or capacity ", capacity_));
  }
  if (!(tokens_ >= 0 && tokens_ <= capacity_)) {
    return absl::InternalError(absl::StrCat(
        "tokens ", tokens_, " outside [0, capacity=", capacity_, "]"));
  }
  if (last_refill_ > Now()) {
    return absl::InternalError("last refill is in the future");
  }
  double sum = 0;
  absl::Status queue_status;
  queue_.ForEach([&](double key, const Waiter* waiter) {
    const double need = waiter->request().amount;
    sum += need;
    if (!queue_status.ok()) return;
    if (!PositiveFinite(need) || need > capacity_) {
      queue_status = absl::InternalError(
          absl::StrCat("queued request of ", need, " tokens is invalid"));
    } else if (key != (fair_ ? 0.0 : need)) {
      queue_status = absl::InternalError("queue key does not match the mode");
    } else if (waiter->state() != Waiter::State::kQueued) {
      queue_status = absl::InternalError("a waiter on the queue is not queued");
    }
  });
  if (!queue_status.ok()) return queue_status;
  if (std::abs(sum - queued_tokens_) > 1e-9 * std::max(1.0, sum)) {
    return absl::InternalError(absl::StrCat("running sum ", queued_tokens_,
                                            " != queued tokens ", sum));
  }
  if (timer_.scheduled() != !queue_.empty()) {
    return absl::InternalError(queue_.empty()
                                   ? "refill timer armed with an empty queue"
                                   : "waiters queued with no refill timer");
  }
  if (queue_.empty()) return absl::OkStatus();
  if (closed()) return absl::InternalError("waiters queued after Close()");
  const double front_need = queue_.Front()->request().amount;
  if (Fits(tokens_, front_need)) {
    return absl::InternalError(
        absl::StrCat("front waiter needs ", front_need, " and ", tokens_,
                     " tokens were there at the last refill"));
  }
  if (timer_.deadline() != FitTime(current(), front_need)) {
    return absl::InternalError(
        "refill timer not armed for the moment the front fits");
  }
  // No waiter is left queued while its need is there, unless its timer is
  // due and the loop has not run it yet.
  if (Fits(RefilledTo(current(), Now()).tokens, front_need) &&
      timer_.deadline() > Now()) {
    return absl::InternalError("front waiter fits now but its timer is later");
  }
  return absl::OkStatus();
}

}  // namespace baton::core

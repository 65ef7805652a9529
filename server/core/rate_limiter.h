// Copyright 2026 The Baton Authors.
//
// RateLimiter is the token bucket behind AdvancedRateLimit. The bucket starts
// full and refills continuously at `rate` tokens per second up to
// `capacity`. An acquire of n tokens is granted at once when n tokens are
// there and no one queued goes first; otherwise it queues, and a timer of the
// limiter grants it the moment the refill reaches its need: no later call is
// needed. Grants report the tokens left; a try-once refusal (timeout 0)
// reports how long until the request could be granted (retry-after).
//
// Two orders:
//   - fair (the default): strict FIFO. A newcomer never passes a queued
//     waiter, even when its own request would fit.
//   - unfair ("waiters can cut the queue"): the smallest request is served
//     first, ties in arrival order, and a newcomer that fits is granted at
//     once. STARVATION RISK: a large request can be overtaken forever by a
//     steady stream of small ones, since the bucket may never fill up to its
//     need; use fair mode when every caller must eventually get through.
//
// Tokens are not holds: a grant carries no fence and nothing is tied to the
// session, so a session end only cancels the session's pending waits.
//
// The bucket is computed lazily: `tokens_` is the level as of
// `last_refill_`, brought forward when something happens. Whenever the queue
// is not empty, exactly one timer is armed, for the moment the front's need
// is reached; it is re-armed whenever the front, the level or the rate
// changes. When the loop runs late (the timer fires, or a call arrives,
// after that moment), the queue is replayed: each waiter is granted at the
// exact instant the refill reached its need, and one whose deadline came
// first is answered DEADLINE_EXCEEDED, so a late loop neither loses tokens
// to the cap nor grants past a deadline.
//
// Refusals: a try-once acquire that cannot be granted now gets a
// retry-after: (the queued requests served before it + its own - the tokens
// there) / rate. In fair mode every queued request goes before it; in
// unfair mode only those no larger than it. It is exact unless something
// changes meanwhile (release, set_rate, waiters leaving, newcomers cutting
// in).
//
// Example:
//   RateLimiter limiter(&loop, /*fence_base=*/0, {.rate = 10, .capacity = 5});
//   WaitResult r = co_await limiter.Acquire({.session = &s}, /*tokens=*/2);
//   if (r.ok()) { ...r.grant.tokens_left... }
//   limiter.Release(1);
//
// Threading: confined to its EventLoop's thread, like every primitive.

#ifndef BATON_SERVER_CORE_RATE_LIMITER_H_
#define BATON_SERVER_CORE_RATE_LIMITER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/core/primitive.h"
#include "server/core/session.h"
#include "server/core/wait_queue.h"
#include "server/core/waiter.h"
#include "server/runtime/event_loop.h"
#include "server/runtime/timer_heap.h"

namespace baton::core {

class RateLimiter : public Primitive {
 public:
  struct Options {
    // Tokens added per second; finite and > 0.
    double rate = 0;
    // Most tokens the bucket holds; finite and > 0. Absent: `rate`.
    std::optional<double> capacity;
    // FIFO when true; smallest request first when false (see above).
    bool fair = true;
  };

  // Validate() returns OK, or INVALID_ARGUMENT naming the field and its limit.
  static absl::Status Validate(const Options& options);

  // Create() validates `options` and builds a limiter.
  static absl::StatusOr<std::unique_ptr<RateLimiter>> Create(
      runtime::EventLoop* loop, std::uint64_t fence_base,
      const Options& options);

  // The constructor requires valid options (see Validate(); aborts on
  // invalid ones). The bucket starts full.
  RateLimiter(runtime::EventLoop* loop, std::uint64_t fence_base,
              const Options& options);
  ~RateLimiter() override;

  // Acquire() waits for `tokens` tokens. INVALID_ARGUMENT unless `tokens` is
  // finite and in (0, capacity]. The grant reports the tokens left (and no
  // fence); a refusal with timeout 0 reports the retry-after.
  Waiter Acquire(WaitOptions options, double tokens = 1) {
    return Waiter(this, std::move(options), {.amount = tokens});
  }

  // Release() adds `tokens` (finite, > 0) to the bucket, capped at capacity,
  // and serves waiters at once. Nobody needs to have acquired them.
  absl::Status Release(double tokens = 1);

  // SetRate() refills at the old rate up to now, then switches to
  // `new_rate` (finite, > 0); capacity becomes max(capacity, new_rate).
  // Queued waiters are re-timed at once.
  absl::Status SetRate(double new_rate);

  // Reconfigure() is SetRate() that also sets the capacity, up or down: the
  // bucket is brought up to date at the old rate, then refills at
  // `new_rate` up to `new_capacity` (both finite and > 0), and a level
  // above the new capacity is cut to it. INVALID_ARGUMENT when a queued
  // request needs more than `new_capacity` (it could never be granted);
  // nothing changes then. Queued waiters are re-timed at once. The
  // Envoy rate-limit service uses it to make a bucket follow its rule.
  absl::Status Reconfigure(double new_rate, double new_capacity);

  // CanTakeNow() tells whether TakeNow(`tokens`) would succeed: `tokens`
  // are there now and nobody queued goes first (fair mode: nobody is
  // queued). Serves the queued waiters due by now first. Together with
  // TakeNow() it lets one loop turn check several buckets before charging
  // any (all or nothing).
  // RestoreTokens() sets the bucket's level now to `tokens` (clamped to
  // [0, capacity]), as kept by the server's store (server/store). Only with
  // nobody queued (at load time); FAILED_PRECONDITION otherwise.
  absl::Status RestoreTokens(double tokens);

  bool CanTakeNow(double tokens);

  // TakeNow() takes `tokens` at once, never queueing: OK when
  // CanTakeNow(tokens), FAILED_PRECONDITION (nothing taken) otherwise;
  // INVALID_ARGUMENT unless `tokens` is finite and > 0.
  absl::Status TakeNow(double tokens);

  // TimeToFull() is how long the refill takes to fill the bucket from its
  // level now (zero when full), if nothing is taken meanwhile.
  absl::Duration TimeToFull() const;

  double rate() const { return rate_; }
  double capacity() const { return capacity_; }
  bool fair() const { return fair_; }

  // tokens() returns the level now: refilled up to the clock's present, less
  // what queued waiters due by now take (the loop grants them on its next
  // turn).
  double tokens() const;

  // locked() is true when Acquire(1) would have to wait now; also when the
  // capacity is below 1, since 1 token can then never be granted.
  bool locked() const;

  std::size_t waiter_count() const { return queue_.size(); }

  absl::Status CheckInvariants() const override;

 protected:
  std::optional<WaitResult> Start(Waiter* waiter) override;
  void Enqueue(Waiter* waiter) override;
  void Remove(Waiter* waiter) override;
  void GiveBack(Waiter* waiter) override;
  absl::Duration RetryAfter(const Waiter& waiter) const override;
  // ReleaseHold() is never called: the limiter attaches no holds.
  void ReleaseHold(HoldLink* hold) override;
  void OnClose(const absl::Status& status) override;

 private:
  // The timer armed for the moment the front of the queue can be served.
  struct RefillTimer final : runtime::TimerNode {
    explicit RefillTimer(RateLimiter* limiter) : limiter(limiter) {}
    void OnTimer() override { limiter->Serve(); }
    RateLimiter* const limiter;
  };

  // The bucket at a moment: `tokens` as of `at`.
  struct Level {
    double tokens = 0;
    absl::Time at;
  };

  // What happens next to a queued waiter, replaying the refill from a level
  // up to some `now` (see Replay()).
  struct Step {
    enum class Kind {
      kWait,    // its need is not reached by `now`: it stays queued
      kGrant,   // its need is reached at level.at <= now: granted then
      kExpire,  // its deadline passed before its need was reached
    };
    Kind kind = Kind::kWait;
    Level level;  // the bucket after the step
  };

  // What the bucket and queue look like at a moment, once every queued
  // waiter due by then has been served or has expired (computed without
  // changing anything).
  struct Projection {
    double tokens = 0;
    bool queue_empty = true;
    // Sum of the remaining queued requests that go before a request of
    // `ahead_of` tokens (all of them in fair mode).
    double queued_ahead = 0;
  };

  // Fits() tells whether `need` tokens can be taken from `level`, allowing
  // a tiny relative error so that a timer firing at its computed instant
  // always grants.
  static bool Fits(double level, double need);

  Level current() const { return Level{.tokens = tokens_, .at = last_refill_}; }
  // RefilledTo() returns `level` brought forward to `t`, capped at capacity
  // (unchanged when `t` is not later).
  Level RefilledTo(Level level, absl::Time t) const;
  // TimeToRefill() returns how long the refill takes to add `missing` (> 0)
  // tokens, rounded up to the nanosecond (InfiniteDuration when too far).
  absl::Duration TimeToRefill(double missing) const;
  // WaitFor() turns `seconds` (> 0) into a duration rounded up to the
  // nanosecond (InfiniteDuration when too far).
  static absl::Duration WaitFor(double seconds);
  // FitTime() returns the first moment, from `level` on, at which `need`
  // tokens fit; InfiniteFuture() when too far.
  absl::Time FitTime(const Level& level, double need) const;
  // Replay() decides what happens next to `waiter`, at the front of the
  // queue at `level`, by `now`. Queued waiters are served at the exact
  // instant the refill reaches their need, even when the loop runs late
  // (the timer fires, or someone calls, after that instant): so the cap
  // never swallows tokens that a waiter was owed, and a waiter whose
  // deadline came first is not granted.
  Step Replay(const Level& level, const Waiter& waiter, absl::Time now) const;

  // CatchUp() replays the queue up to now, granting and expiring waiters in
  // order, and leaves tokens_ as of now. The replay stops when `stop_at` (a
  // waiter about to leave) reaches the front. It does not touch the timer.
  void CatchUp(const Waiter* stop_at = nullptr);
  // Serve() is CatchUp(), then re-arms the timer for the new front (or
  // disarms it). Called whenever the level, the rate or the front changes.
  void Serve();
  // ArmTimer() arms the timer for the moment the front of the queue fits,
  // or disarms it when the queue is empty.
  void ArmTimer();
  // ProjectAt() replays the queue up to `now` on paper: O(waiters due by
  // now), plus, unfair only, the queued requests no larger than `ahead_of`.
  Projection ProjectAt(absl::Time now, double ahead_of) const;

  double rate_;
  double capacity_;
  const bool fair_;
  double tokens_;  // the level as of last_refill_, in [0, capacity_]
  absl::Time last_refill_;
  // Fair: every key is 0 (FIFO). Unfair: key = tokens requested.
  WaitQueue<double> queue_;
  double queued_tokens_ = 0;  // sum of the requests on queue_
  RefillTimer timer_{this};
};

}  // namespace baton::core

#endif  // BATON_SERVER_CORE_RATE_LIMITER_H_

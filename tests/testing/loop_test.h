// Copyright 2026 The Baton Authors.
//
// LoopTest: a gtest fixture with a ManualClock and an EventLoop on it, and
// Launch(), which starts an awaitable in a detached coroutine and records its
// result. The coroutine runs inline up to its first suspension, so answers
// given at once are visible immediately; queued ones after RunUntilIdle().
//
// Example:
//   TEST_F(MutexTest, Waits) {
//     auto a = Launch([&] { return lock.Acquire(Opts(s1)); });
//     EXPECT_TRUE(Ready(a));
//     clock_.Advance(absl::Seconds(1));
//     loop_.RunUntilIdle();
//   }

#ifndef BATON_TESTS_TESTING_LOOP_TEST_H_
#define BATON_TESTS_TESTING_LOOP_TEST_H_

#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/core/session.h"
#include "server/core/waiter.h"
#include "server/runtime/clock.h"
#include "server/runtime/event_loop.h"
#include "server/runtime/task.h"

namespace baton::testing {

// The result slot of a launched operation: empty while it is pending.
template <typename T>
using Pending = std::shared_ptr<std::optional<T>>;

class LoopTest : public ::testing::Test {
 protected:
  // Runs after the subclass's members (primitives, sessions) are destroyed:
  // they failed whatever still waited, so resuming those coroutines now lets
  // every launched operation finish and free its frame.
  ~LoopTest() override { loop_.RunUntilIdle(); }

  // Launch() starts `make()`'s awaitable and returns its result slot.
  template <typename MakeAwaitable>
  auto Launch(MakeAwaitable make) {
    using Result = std::decay_t<decltype(std::declval<
        decltype(make())>().await_resume())>;
    auto slot = std::make_shared<std::optional<Result>>();
    runtime::Detach(Run<Result>(std::move(make), slot));
    return slot;
  }

  // Launches a Task<T>-returning call.
  template <typename MakeTask>
  auto LaunchTask(MakeTask make) {
    using TaskType = decltype(make());
    using Result = decltype(std::declval<typename TaskType::promise_type>()
                                .TakeValue());
    auto slot = std::make_shared<std::optional<Result>>();
    runtime::Detach(RunTask<Result>(std::move(make), slot));
    return slot;
  }

  // Opts() builds WaitOptions for `session` and owner `key`.
  static core::WaitOptions Opts(core::Session& session, std::string key = "o",
                                std::optional<absl::Duration> timeout = {},
                                runtime::CancellationSignal* cancel = nullptr) {
    return core::WaitOptions{.session = &session,
                             .owner_key = std::move(key),
                             .timeout = timeout,
                             .cancel = cancel};
  }

  void Advance(absl::Duration d) {
    clock_.Advance(d);
    loop_.RunUntilIdle();
  }
  void Settle() { loop_.RunUntilIdle(); }

  runtime::ManualClock clock_;
  runtime::EventLoop loop_{&clock_};

 private:
  template <typename Result, typename MakeAwaitable>
  static runtime::Task<void> Run(MakeAwaitable make,
                                 std::shared_ptr<std::optional<Result>> slot) {
    *slot = co_await make();
  }
  template <typename Result, typename MakeTask>
  static runtime::Task<void> RunTask(MakeTask make,
                                     std::shared_ptr<std::optional<Result>> slot) {
    *slot = co_await make();
  }
};

// Ready(slot) is true once the operation answered; OkNow(slot) once it
// answered with OK.
template <typename T>
bool Ready(const Pending<T>& slot) {
  return slot->has_value();
}
inline bool OkNow(const Pending<core::WaitResult>& slot) {
  return slot->has_value() && (*slot)->ok();
}
inline absl::StatusCode CodeOf(const Pending<core::WaitResult>& slot) {
  return slot->has_value() ? (*slot)->status.code() : absl::StatusCode::kUnknown;
}

}  // namespace baton::testing

#endif  // BATON_TESTS_TESTING_LOOP_TEST_H_

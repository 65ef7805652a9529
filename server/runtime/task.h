// Copyright 2026 The Baton Authors.
//
// Task<T> is a lazy coroutine: it starts when awaited and, when it finishes,
// transfers control straight to its awaiter (symmetric transfer), so chains of
// tasks of any length run in constant stack. An exception that escapes the
// coroutine is rethrown at the co_await.
//
// Example:
//   Task<int> Answer() { co_return 42; }
//   Task<void> Caller() { int x = co_await Answer(); ... }
//   Detach(Caller());  // starts it; the frame frees itself at the end
//
// A Task is owned by whoever holds it and destroyed with it; it is movable,
// not copyable, and may be awaited once. Tasks carry no thread affinity of
// their own: they run where they are resumed, which in Baton's server is the
// EventLoop thread of the shard that owns the instance.

#ifndef BATON_SERVER_RUNTIME_TASK_H_
#define BATON_SERVER_RUNTIME_TASK_H_

#include <coroutine>
#include <cstdlib>
#include <exception>
#include <optional>
#include <utility>

namespace baton::runtime {

template <typename T = void>
class Task;

namespace internal {

class PromiseBase {
 public:
  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    template <typename Promise>
    std::coroutine_handle<> await_suspend(
        std::coroutine_handle<Promise> self) noexcept {
      return self.promise().continuation_;
    }
    void await_resume() const noexcept {}
  };

  std::suspend_always initial_suspend() const noexcept { return {}; }
  FinalAwaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { exception_ = std::current_exception(); }

  void set_continuation(std::coroutine_handle<> c) { continuation_ = c; }
  void RethrowIfFailed() const {
    if (exception_) std::rethrow_exception(exception_);
  }

 private:
  std::coroutine_handle<> continuation_ = std::noop_coroutine();
  std::exception_ptr exception_;
};

template <typename T>
class Promise final : public PromiseBase {
 public:
  Task<T> get_return_object() noexcept;
  template <typename U>
  void return_value(U&& value) {
    value_.emplace(std::forward<U>(value));
  }
  T TakeValue() {
    RethrowIfFailed();
    return std::move(*value_);
  }

 private:
  std::optional<T> value_;
};

template <>
class Promise<void> final : public PromiseBase {
 public:
  Task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void TakeValue() const { RethrowIfFailed(); }
};

}  // namespace internal

template <typename T>
class [[nodiscard]] Task {
 public:
  using promise_type = internal::Promise<T>;
  using Handle = std::coroutine_handle<promise_type>;

  Task() = default;
  explicit Task(Handle handle) : handle_(handle) {}
  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      if (handle_) handle_.destroy();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  ~Task() {
    if (handle_) handle_.destroy();
  }

  bool valid() const { return static_cast<bool>(handle_); }
  bool done() const { return handle_ && handle_.done(); }

  auto operator co_await() && noexcept {
    struct Awaiter {
      Handle handle;
      bool await_ready() const noexcept { return !handle || handle.done(); }
      std::coroutine_handle<> await_suspend(
          std::coroutine_handle<> awaiting) noexcept {
        handle.promise().set_continuation(awaiting);
        return handle;
      }
      T await_resume() { return handle.promise().TakeValue(); }
    };
    return Awaiter{handle_};
  }

  // Release() gives up ownership of the coroutine frame.
  Handle Release() { return std::exchange(handle_, {}); }

 private:
  Handle handle_;
};

namespace internal {

template <typename T>
Task<T> Promise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}

inline Task<void> Promise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}

// DetachedTask runs eagerly and frees its own frame when it ends.
struct DetachedTask {
  struct promise_type {
    DetachedTask get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() const noexcept { return {}; }
    std::suspend_never final_suspend() const noexcept { return {}; }
    void return_void() const noexcept {}
    // A detached task has no one to report to; an escaped exception is a bug.
    [[noreturn]] void unhandled_exception() const noexcept { std::terminate(); }
  };
};

inline DetachedTask RunDetached(Task<void> task) { co_await std::move(task); }

}  // namespace internal

// Detach() starts `task` now, on this thread, and lets it run to completion
// on its own; its frame is freed when it ends.
inline void Detach(Task<void> task) { internal::RunDetached(std::move(task)); }

}  // namespace baton::runtime

#endif  // BATON_SERVER_RUNTIME_TASK_H_

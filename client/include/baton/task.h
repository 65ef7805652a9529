// Copyright 2026 The Baton Authors.
//
// A minimal coroutine type for code that has none of its own: Task<T> is a
// lazy coroutine (it starts when awaited) that resumes its awaiter by
// symmetric transfer, and SyncWait() runs one from a plain thread and blocks
// until it ends. Baton's operations (baton::Op) are awaitable from any
// coroutine type (folly, cppcoro, asio, ...); this one is here so that a
// first program needs nothing else.
//
// Example:
//   baton::Task<absl::Status> Work(baton::Client& client) {
//     baton::PriorityLock lock(&client, "jobs/nightly");
//     absl::StatusOr<baton::Hold> hold = co_await lock.Acquire();
//     if (!hold.ok()) co_return hold.status();
//     ... work, tagged with hold->fence() ...
//     co_return absl::OkStatus();
//   }
//   absl::Status status = baton::SyncWait(Work(*client));
//
// Threads: a Task runs on whatever thread resumes it: the caller of
// SyncWait() until its first suspension, then the client's dispatcher thread
// (or ClientOptions::executor). An exception escaping the coroutine is
// rethrown by co_await / SyncWait().

#ifndef BATON_CLIENT_INCLUDE_BATON_TASK_H_
#define BATON_CLIENT_INCLUDE_BATON_TASK_H_

#include <condition_variable>
#include <coroutine>
#include <exception>
#include <mutex>
#include <optional>
#include <utility>

namespace baton {

template <typename T>
class [[nodiscard]] Task {
 public:
  struct promise_type {
    std::optional<T> value;
    std::exception_ptr exception;
    std::coroutine_handle<> continuation = std::noop_coroutine();

    Task get_return_object() {
      return Task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct FinalAwaiter {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        return h.promise().continuation;
      }
      void await_resume() noexcept {}
    };
    FinalAwaiter final_suspend() noexcept { return {}; }
    template <typename U>
    void return_value(U&& v) {
      value.emplace(std::forward<U>(v));
    }
    void unhandled_exception() { exception = std::current_exception(); }
  };

  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      if (handle_) handle_.destroy();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  ~Task() {
    if (handle_) handle_.destroy();
  }

  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiter) {
    handle_.promise().continuation = awaiter;
    return handle_;
  }
  T await_resume() {
    if (handle_.promise().exception) std::rethrow_exception(handle_.promise().exception);
    return std::move(*handle_.promise().value);
  }

 private:
  explicit Task(std::coroutine_handle<promise_type> handle) : handle_(handle) {}
  std::coroutine_handle<promise_type> handle_;
};

namespace internal {

// The coroutine SyncWait() runs a Task in: it signals when the Task ends.
struct SyncWaitDone {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
};

struct SyncWaitCoroutine {
  struct promise_type {
    SyncWaitCoroutine get_return_object() { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() {}
    void unhandled_exception() { std::terminate(); }  // caught below
  };
};

template <typename T>
SyncWaitCoroutine RunAndSignal(Task<T> task, std::optional<T>* out,
                               std::exception_ptr* exception, SyncWaitDone* done) {
  try {
    // The task's frame (and the Holds in it) is destroyed at the end of
    // this block, before SyncWait() returns to its caller.
    Task<T> local = std::move(task);
    out->emplace(co_await local);
  } catch (...) {
    *exception = std::current_exception();
  }
  std::lock_guard<std::mutex> lock(done->mu);
  done->done = true;
  done->cv.notify_all();
}

}  // namespace internal

// SyncWait() runs `task` and blocks the calling thread until it ends; returns
// its value (or rethrows its exception). Do not call it on the thread that
// the task needs to resume on (a client's dispatcher or executor thread).
template <typename T>
T SyncWait(Task<T> task) {
  internal::SyncWaitDone done;
  std::optional<T> out;
  std::exception_ptr exception;
  internal::RunAndSignal(std::move(task), &out, &exception, &done);
  std::unique_lock<std::mutex> lock(done.mu);
  done.cv.wait(lock, [&] { return done.done; });
  if (exception) std::rethrow_exception(exception);
  return std::move(*out);
}

}  // namespace baton

#endif  // BATON_CLIENT_INCLUDE_BATON_TASK_H_

// Copyright 2026 The Baton Authors.

#include "server/runtime/task.h"

#include <stdexcept>
#include <string>

#include "gtest/gtest.h"

namespace baton::runtime {
namespace {

Task<int> Leaf(int x) { co_return x * 2; }

Task<int> Chain(int depth) {
  if (depth == 0) co_return 0;
  int below = co_await Chain(depth - 1);
  co_return below + 1;
}

Task<void> Record(int* out, Task<int> task) { *out = co_await std::move(task); }

TEST(TaskTest, IsLazyUntilAwaited) {
  bool started = false;
  auto make = [&]() -> Task<void> {
    started = true;
    co_return;
  };
  Task<void> task = make();
  EXPECT_FALSE(started);
  Detach(std::move(task));
  EXPECT_TRUE(started);
}

TEST(TaskTest, ReturnsValue) {
  int out = -1;
  Detach(Record(&out, Leaf(21)));
  EXPECT_EQ(out, 42);
}

// GCC implements symmetric transfer as a tail call, which AddressSanitizer's
// instrumentation prevents: under ASan the chain is kept shallow, and the
// constant-stack property is checked by the regular and clang builds.
#if defined(__SANITIZE_ADDRESS__)
constexpr int kChainDepth = 2'000;
#else
constexpr int kChainDepth = 300'000;
#endif

TEST(TaskTest, DeepChainsRunInConstantStackBySymmetricTransfer) {
  // 300,000 nested awaits overflow an 8 MiB stack without symmetric transfer
  // (each resumption would nest a call frame).
  int out = -1;
  Detach(Record(&out, Chain(kChainDepth)));
  EXPECT_EQ(out, kChainDepth);
}

Task<int> Throws() {
  throw std::runtime_error("boom");
  co_return 0;
}

Task<void> Catch(std::string* what) {
  try {
    co_await Throws();
  } catch (const std::runtime_error& e) {
    *what = e.what();
  }
}

TEST(TaskTest, ExceptionsPropagateToTheAwaiter) {
  std::string what;
  Detach(Catch(&what));
  EXPECT_EQ(what, "boom");
}

TEST(TaskTest, DestroyingAnUnstartedTaskFreesIt) {
  bool started = false;
  auto make = [&]() -> Task<void> {
    started = true;
    co_return;
  };
  { Task<void> task = make(); }
  EXPECT_FALSE(started);
}

}  // namespace
}  // namespace baton::runtime

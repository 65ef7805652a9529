// Copyright 2026 The Baton Authors.
//
// Integration tests of the baton.v1.Baton/Session stream, written against the
// wire contract (proto/baton/v1/session.proto): a real batond on a loopback
// port, real sessions (tests/testing/session_client.h), and a helper process
// (session_holder) that holds a lock until the test kills or freezes it.
// session_contract_test.cc tests more of the contract, kind by kind.
//
// No test sleeps to let time pass: each waits, with a generous bound, for the
// event it expects (an answer, a notice, the end of a stream, a process exit,
// a waiter showing up in Admin.Describe). The only paced loop is the heartbeat
// of the lease test, which is the client's job there.

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/session_test_fixture.h"

extern char** environ;

namespace baton::session_test {
namespace {

// HolderProcess runs session_holder (a session holding one lock) as a child
// process, so that a test can kill or stop it while it holds.
class HolderProcess {
 public:
  HolderProcess(const std::string& address, const std::string& name, const std::string& kind) {
    std::vector<std::string> args = {SESSION_HOLDER_PATH, address, name, kind};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_fds[1]);
    stdout_fd_ = pipe_fds[0];
  }
  HolderProcess(const HolderProcess&) = delete;
  HolderProcess& operator=(const HolderProcess&) = delete;
  ~HolderProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGCONT);
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (stdout_fd_ >= 0) close(stdout_fd_);
  }

  pid_t pid() const { return pid_; }

  // ReadLine() waits up to `timeout` for one whole line on the child's stdout.
  std::optional<std::string> ReadLine(milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (output_.find('\n') == std::string::npos) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd pfd{stdout_fd_, POLLIN, 0};
      if (poll(&pfd, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
      char buffer[256];
      const ssize_t n = read(stdout_fd_, buffer, sizeof(buffer));
      if (n <= 0) return std::nullopt;
      output_.append(buffer, static_cast<std::size_t>(n));
    }
    const std::size_t end = output_.find('\n');
    std::string line = output_.substr(0, end);
    output_.erase(0, end + 1);
    return line;
  }

  // Held() reads the "held <fence>" line; nullopt if something else came.
  std::optional<uint64_t> Held(milliseconds timeout = seconds(10)) {
    std::optional<std::string> line = ReadLine(timeout);
    if (!line || line->rfind("held ", 0) != 0) return std::nullopt;
    return std::stoull(line->substr(5));
  }

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string output_;
};

// ---------------------------------------------------------------------------
// 1. Mutual exclusion and priority order across sessions.

TEST_F(SessionTest, PriorityLockServesSessionsByPriorityThenArrival) {
  StartBatond();
  ASSERT_STARTED();
  const std::string name = "t1/lock";
  auto a = NewSession("a"), b = NewSession("b"), c = NewSession("c"), d = NewSession("d");
  ASSERT_OPENED(a);
  ASSERT_OPENED(b);
  ASSERT_OPENED(c);
  ASSERT_OPENED(d);

  std::optional<v1::Response> held = a->Call(ops::Acquire(1, name, kLock));
  ASSERT_TRUE(Granted(held));
  const uint64_t fence_a = held->fence();

  ASSERT_TRUE(b->Send(ops::Acquire(1, name, kLock, /*priority=*/5)));
  ASSERT_TRUE(WaitForWaiters(name, 1));
  ASSERT_TRUE(c->Send(ops::Acquire(1, name, kLock, /*priority=*/1)));
  ASSERT_TRUE(WaitForWaiters(name, 2));
  ASSERT_TRUE(d->Send(ops::Acquire(1, name, kLock, /*priority=*/1)));
  ASSERT_TRUE(WaitForWaiters(name, 3));

  // A reads itself as the owner; B does not.
  std::optional<v1::Response> read = a->Call(ops::Read(2, name, kLock));
  ASSERT_TRUE(Answered(read, grpc::StatusCode::OK));
  EXPECT_TRUE(read->state().locked());
  EXPECT_TRUE(read->state().is_owner());
  EXPECT_EQ(read->state().owner().session_id(), a->opened()->session_id());
  EXPECT_EQ(read->state().owner().owner_key(), "a");
  EXPECT_EQ(read->state().owner().fence(), fence_a);
  EXPECT_EQ(read->state().waiter_count(), 3);
  read = b->Call(ops::Read(2, name, kLock));
  ASSERT_TRUE(Answered(read, grpc::StatusCode::OK));
  EXPECT_TRUE(read->state().has_is_owner());
  EXPECT_FALSE(read->state().is_owner());
  EXPECT_TRUE(b->NoResponseYet(1));
  EXPECT_TRUE(c->NoResponseYet(1));
  EXPECT_TRUE(d->NoResponseYet(1));

  // A releases: C (priority 1, first) and only C.
  ASSERT_TRUE(Answered(a->Call(ops::Release(3, name, kLock)), grpc::StatusCode::OK));
  std::optional<v1::Response> granted_c = c->WaitResponse(1);
  ASSERT_TRUE(Granted(granted_c));
  EXPECT_GT(granted_c->fence(), fence_a);
  read = c->Call(ops::Read(2, name, kLock));
  ASSERT_TRUE(Answered(read, grpc::StatusCode::OK));
  EXPECT_TRUE(read->state().is_owner());
  EXPECT_EQ(read->state().owner().session_id(), c->opened()->session_id());
  EXPECT_EQ(read->state().owner().fence(), granted_c->fence());
  EXPECT_EQ(read->state().waiter_count(), 2);
  ASSERT_TRUE(Answered(b->Call(ops::Read(2, name, kLock)), grpc::StatusCode::OK));
  ASSERT_TRUE(Answered(d->Call(ops::Read(2, name, kLock)), grpc::StatusCode::OK));
  EXPECT_TRUE(b->NoResponseYet(1));
  EXPECT_TRUE(d->NoResponseYet(1));

  // C releases: D (priority 1, after C), not B.
  ASSERT_TRUE(Answered(c->Call(ops::Release(3, name, kLock)), grpc::StatusCode::OK));
  std::optional<v1::Response> granted_d = d->WaitResponse(1);
  ASSERT_TRUE(Granted(granted_d));
  EXPECT_GT(granted_d->fence(), granted_c->fence());
  ASSERT_TRUE(Answered(b->Call(ops::Read(3, name, kLock)), grpc::StatusCode::OK));
  EXPECT_TRUE(b->NoResponseYet(1));

  // D releases: B.
  ASSERT_TRUE(Answered(d->Call(ops::Release(3, name, kLock)), grpc::StatusCode::OK));
  std::optional<v1::Response> granted_b = b->WaitResponse(1);
  ASSERT_TRUE(Granted(granted_b));
  EXPECT_GT(granted_b->fence(), granted_d->fence());
  read = b->Call(ops::Read(4, name, kLock));
  ASSERT_TRUE(Answered(read, grpc::StatusCode::OK));
  EXPECT_TRUE(read->state().is_owner());
  EXPECT_EQ(read->state().waiter_count(), 0);
  EXPECT_EQ(read->state().last_fence(), granted_b->fence());
  ASSERT_TRUE(Answered(b->Call(ops::Release(5, name, kLock)), grpc::StatusCode::OK));
  std::optional<v1::DescribeResponse> described = Describe(name);
  ASSERT_TRUE(described);
  EXPECT_FALSE(described->state().locked());
}

// ---------------------------------------------------------------------------
// 2. A rate limit shared by four sessions.

TEST_F(SessionTest, FourSessionsSharingARateLimitGetNoMoreThanRateTimesTimePlusCapacity) {
  StartBatond();
  ASSERT_STARTED();
  const std::string name = "t2/rate";
  constexpr double kRate = 50, kCapacity = 10;
  v1::InstanceConfig config;
  config.set_kind(v1::KIND_ADVANCED_RATE_LIMIT);
  config.mutable_rate_limit()->set_rate(kRate);
  config.mutable_rate_limit()->set_capacity(kCapacity);
  config.mutable_rate_limit()->set_fair(true);
  ASSERT_TRUE(Declare(name, config).ok());

  constexpr int kSessions = 4;
  std::vector<std::unique_ptr<SessionClient>> sessions;
  for (int i = 0; i < kSessions; ++i) {
    sessions.push_back(NewSession(absl::StrCat("s", i)));
    ASSERT_OPENED(sessions.back());
  }
  std::vector<int> granted(kSessions, 0);
  std::vector<std::string> failures(kSessions);
  const auto start = Clock::now();
  const auto stop = start + seconds(2);
  std::vector<std::thread> threads;
  for (int i = 0; i < kSessions; ++i) {
    threads.emplace_back([&, i] {
      for (uint64_t id = 1; Clock::now() < stop; ++id) {
        std::optional<v1::Response> response = sessions[i]->Call(ops::RateAcquire(id, name));
        if (!response || !testing::IsOk(*response)) {
          failures[i] = response ? response->ShortDebugString() : "no answer";
          return;
        }
        ++granted[i];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  int total = 0;
  for (int i = 0; i < kSessions; ++i) {
    EXPECT_EQ(failures[i], "") << "session " << i;
    EXPECT_GT(granted[i], 0) << "session " << i;
    total += granted[i];
  }
  EXPECT_LE(total, kRate * elapsed + kCapacity + 1) << "elapsed " << elapsed << " s";
  EXPECT_GE(total, kRate * 1.0) << "queued acquirers were not served; elapsed " << elapsed;

  // The bucket is empty now: a try-once of the whole capacity is refused with
  // a retry-after, and the same request without a timeout queues and is
  // granted by the refill, with no further call from the client.
  SessionClient& s = *sessions[0];
  std::optional<v1::Response> refused =
      s.Call(ops::RateAcquire(1000, name, kCapacity, milliseconds(0)));
  ASSERT_TRUE(Answered(refused, grpc::StatusCode::DEADLINE_EXCEEDED));
  EXPECT_TRUE(refused->has_retry_after());
  EXPECT_GT(FromDuration(refused->retry_after()).count(), 0);
  ASSERT_TRUE(s.Send(ops::RateAcquire(1001, name, kCapacity)));
  std::optional<v1::Response> queued = s.WaitResponse(1001, seconds(5));
  ASSERT_TRUE(Answered(queued, grpc::StatusCode::OK));
  EXPECT_TRUE(queued->has_tokens_left());
  EXPECT_GE(queued->tokens_left(), 0);
  EXPECT_LT(queued->tokens_left(), 1);
}

// ---------------------------------------------------------------------------
// 3. A latch and a condition across sessions.

TEST_F(SessionTest, LatchWaitsAreAnsweredOnlyAfterTheLastCountDown) {
  StartBatond();
  ASSERT_STARTED();
  const std::string name = "t3/latch";
  v1::InstanceConfig config;
  config.set_kind(kLatch);
  {
    auto* entry = config.mutable_latch()->add_counts();
    entry->set_key("a");
    entry->set_value(2);
  }
  {
    auto* entry = config.mutable_latch()->add_counts();
    entry->set_key("b");
    entry->set_value(1);
  }
  ASSERT_TRUE(Declare(name, config).ok());
  auto a = NewSession("a"), b = NewSession("b");
  ASSERT_OPENED(a);
  ASSERT_OPENED(b);

  ASSERT_TRUE(a->Send(ops::LatchWait(1, name, "a"), ops::WaitAll(2, name, kLatch)));
  ASSERT_TRUE(WaitForWaiters(name, 2));
  ASSERT_TRUE(Answered(b->Call(ops::CountDown(1, name, "a")), grpc::StatusCode::OK));
  std::optional<v1::Response> read = a->Call(ops::Read(3, name, kLatch));
  ASSERT_TRUE(Answered(read, grpc::StatusCode::OK));
  EXPECT_EQ(read->state().counts().at("a"), 1);
  EXPECT_EQ(read->state().counts().at("b"), 1);
  EXPECT_FALSE(read->state().broken());
  EXPECT_TRUE(a->NoResponseYet(1));
  EXPECT_TRUE(a->NoResponseYet(2));

  ASSERT_TRUE(Answered(b->Call(ops::CountDown(2, name, "a")), grpc::StatusCode::OK));
  EXPECT_TRUE(Answered(a->WaitResponse(1), grpc::StatusCode::OK));
  ASSERT_TRUE(Answered(a->Call(ops::Read(4, name, kLatch)), grpc::StatusCode::OK));
  EXPECT_TRUE(a->NoResponseYet(2));

  ASSERT_TRUE(Answered(b->Call(ops::CountDown(3, name, "b")), grpc::StatusCode::OK));
  EXPECT_TRUE(Answered(a->WaitResponse(2), grpc::StatusCode::OK));
  read = a->Call(ops::Read(5, name, kLatch));
  ASSERT_TRUE(Answered(read, grpc::StatusCode::OK));
  EXPECT_TRUE(read->state().broken());
  EXPECT_EQ(read->state().waiter_count(), 0);
}

TEST_F(SessionTest, ConditionWaitReleasesTheLockAndComesBackHoldingIt) {
  StartBatond();
  ASSERT_STARTED();
  const std::string name = "t3/condition";
  auto a = NewSession("a"), b = NewSession("b");
  ASSERT_OPENED(a);
  ASSERT_OPENED(b);

  std::optional<v1::Response> first = a->Call(ops::Acquire(1, name, kCondition));
  ASSERT_TRUE(Granted(first));
  ASSERT_TRUE(a->Send(ops::ConditionWait(2, name, "job")));
  // The wait released the lock: B takes it.
  std::optional<v1::Response> second = b->Call(ops::Acquire(1, name, kCondition));
  ASSERT_TRUE(Granted(second));
  EXPECT_GT(second->fence(), first->fence());
  std::optional<v1::Response> read = a->Call(ops::Read(3, name, kCondition));
  ASSERT_TRUE(Answered(read, grpc::StatusCode::OK));
  EXPECT_FALSE(read->state().is_owner());
  EXPECT_EQ(read->state().waiter_count(), 1);
  EXPECT_TRUE(a->NoResponseYet(2));

  std::optional<v1::Response> notified = b->Call(ops::Notify(2, name, "job", 1));
  ASSERT_TRUE(Answered(notified, grpc::StatusCode::OK));
  EXPECT_EQ(notified->count(), 1);
  // Notified, but B still holds the lock: A's wait is not answered yet.
  ASSERT_TRUE(Answered(a->Call(ops::Read(4, name, kCondition)), grpc::StatusCode::OK));
  EXPECT_TRUE(a->NoResponseYet(2));

  ASSERT_TRUE(Answered(b->Call(ops::Release(3, name, kCondition)), grpc::StatusCode::OK));
  std::optional<v1::Response> woken = a->WaitResponse(2);
  ASSERT_TRUE(Granted(woken));
  EXPECT_GT(woken->fence(), second->fence());
  read = a->Call(ops::Read(5, name, kCondition));
  ASSERT_TRUE(Answered(read, grpc::StatusCode::OK));
  EXPECT_TRUE(read->state().is_owner());
  EXPECT_EQ(read->state().owner().fence(), woken->fence());
  EXPECT_TRUE(Answered(a->Call(ops::Release(6, name, kCondition)), grpc::StatusCode::OK));
}

TEST_F(SessionTest, ConditionWaitEndedByTimeoutOrCancelComesBackHoldingTheLock) {
  StartBatond();
  ASSERT_STARTED();
  const std::string name = "t3/condition-ends";
  auto a = NewSession("a"), b = NewSession("b");
  ASSERT_OPENED(a);
  ASSERT_OPENED(b);
  // Not holding the lock: refused, changing nothing.
  EXPECT_TRUE(Answered(b->Call(ops::ConditionWait(1, name, "job")),
                       grpc::StatusCode::FAILED_PRECONDITION));
  std::optional<v1::Response> held = a->Call(ops::Acquire(1, name, kCondition));
  ASSERT_TRUE(Granted(held));
  uint64_t last_fence = held->fence();
  auto expect_held = [&](uint64_t id) {
    std::optional<v1::Response> read = a->Call(ops::Read(id, name, kCondition));
    ASSERT_TRUE(Answered(read, grpc::StatusCode::OK));
    EXPECT_TRUE(read->state().is_owner());
  };

  // Its timeout: DEADLINE_EXCEEDED, holding the lock again, with a fence.
  const auto start = Clock::now();
  std::optional<v1::Response> timed_out =
      a->Call(ops::ConditionWait(2, name, "job", milliseconds(200)));
  EXPECT_GE(Clock::now() - start, milliseconds(195));
  ASSERT_TRUE(Answered(timed_out, grpc::StatusCode::DEADLINE_EXCEEDED));
  ASSERT_TRUE(timed_out->has_fence()) << timed_out->ShortDebugString();
  EXPECT_GT(timed_out->fence(), last_fence);
  last_fence = timed_out->fence();
  expect_held(3);

  // Zero: released, refused at once, re-acquired.
  std::optional<v1::Response> refused =
      a->Call(ops::ConditionWait(4, name, "job", milliseconds(0)));
  ASSERT_TRUE(Answered(refused, grpc::StatusCode::DEADLINE_EXCEEDED));
  ASSERT_TRUE(refused->has_fence()) << refused->ShortDebugString();
  EXPECT_GE(refused->fence(), last_fence);
  last_fence = refused->fence();
  expect_held(5);

  // Cancel: CANCELLED, holding the lock again; the Cancel is answered OK.
  ASSERT_TRUE(a->Send(ops::ConditionWait(6, name, "job")));
  ASSERT_TRUE(WaitForWaiters(name, 1));
  ASSERT_TRUE(a->Send(ops::Cancel(7, 6)));
  std::optional<v1::Response> cancelled = a->WaitResponse(6);
  ASSERT_TRUE(Answered(cancelled, grpc::StatusCode::CANCELLED));
  ASSERT_TRUE(cancelled->has_fence()) << cancelled->ShortDebugString();
  EXPECT_GT(cancelled->fence(), last_fence);
  EXPECT_TRUE(Answered(a->WaitResponse(7), grpc::StatusCode::OK));
  expect_held(8);
  EXPECT_TRUE(Answered(a->Call(ops::Release(9, name, kCondition)), grpc::StatusCode::OK));
}

// ---------------------------------------------------------------------------
// 4, 5. A holder that crashes, or freezes.

TEST_F(SessionTest, SigkillOfAHolderGrantsTheLockToTheNextWaiter) {
  StartBatond();
  ASSERT_STARTED();
  const std::string name = "t4/lock";
  HolderProcess holder(batond_->address(), name, "KIND_PRIORITY_LOCK");
  ASSERT_GT(holder.pid(), 0);
  std::optional<uint64_t> holder_fence = holder.Held();
  ASSERT_TRUE(holder_fence) << batond_->log();
  auto a = NewSession("a");
  ASSERT_OPENED(a);
  ASSERT_TRUE(a->Send(ops::Acquire(1, name, kLock)));
  ASSERT_TRUE(WaitForWaiters(name, 1));
  EXPECT_TRUE(a->NoResponseYet(1));

  ASSERT_EQ(kill(holder.pid(), SIGKILL), 0);
  std::optional<v1::Response> granted = a->WaitResponse(1, seconds(5));
  ASSERT_TRUE(Granted(granted));
  EXPECT_GT(granted->fence(), *holder_fence);
}

TEST_F(SessionTest, SigstopOfAHolderIsDetectedByKeepaliveAndItsLockGoesOn) {
  StartBatond({"--shards=2", "--keepalive_time=1s", "--keepalive_timeout=1s"});
  ASSERT_STARTED();
  const std::string name = "t5/lock";
  HolderProcess holder(batond_->address(), name, "PRIORITY_LOCK");
  ASSERT_GT(holder.pid(), 0);
  std::optional<uint64_t> holder_fence = holder.Held();
  ASSERT_TRUE(holder_fence) << batond_->log();
  auto a = NewSession("a");
  ASSERT_OPENED(a);
  ASSERT_TRUE(a->Send(ops::Acquire(1, name, kLock)));
  ASSERT_TRUE(WaitForWaiters(name, 1));

  ASSERT_EQ(kill(holder.pid(), SIGSTOP), 0);
  const auto stopped = Clock::now();
  std::optional<v1::Response> granted = a->WaitResponse(1, seconds(20));
  const auto elapsed = Clock::now() - stopped;
  ASSERT_TRUE(Granted(granted));
  EXPECT_GT(granted->fence(), *holder_fence);
  // keepalive_time + keepalive_timeout, plus slack.
  EXPECT_LT(elapsed, seconds(1 + 1 + 3))
      << std::chrono::duration<double>(elapsed).count() << " s";
  // ~HolderProcess sends SIGCONT and SIGKILL.
}

// ---------------------------------------------------------------------------
// 6. Bad requests, limits and protocol violations.

class BadRequestTest : public SessionTest {
 protected:
  void SetUp() override {
    StartBatond();
    ASSERT_STARTED();
    a_ = NewSession("a");
    ASSERT_OPENED(a_);
  }

  // Expect() sends `request` and checks its answer.
  ::testing::AssertionResult Expect(v1::Request request, grpc::StatusCode code,
                                    const std::string& in_message = "") {
    const uint64_t id = request.id();
    if (!a_->Send(std::move(request))) return ::testing::AssertionFailure() << "stream ended";
    return Answered(a_->WaitResponse(id), code, in_message);
  }

  // StillWorks() checks that the session goes on: an acquire and a release.
  ::testing::AssertionResult StillWorks() {
    const uint64_t id = NextId();
    ::testing::AssertionResult acquired = Granted(a_->Call(ops::Acquire(id, "t6/ok", kLock)));
    if (!acquired) return acquired;
    return Answered(a_->Call(ops::Release(NextId(), "t6/ok", kLock)), grpc::StatusCode::OK);
  }

  uint64_t NextId() { return next_id_++; }

  std::unique_ptr<SessionClient> a_;
  uint64_t next_id_ = 100;
};

TEST_F(BadRequestTest, MalformedRequestsAreAnsweredNamingTheFieldAndTheSessionGoesOn) {
  using grpc::StatusCode;
  EXPECT_TRUE(Expect(ops::Acquire(NextId(), "", kLock), StatusCode::INVALID_ARGUMENT, "name"));
  EXPECT_TRUE(StillWorks());
  ASSERT_GE(a_->opened()->limits().max_name_bytes(), 1u);
  ASSERT_LT(a_->opened()->limits().max_name_bytes(), 300u);
  EXPECT_TRUE(Expect(ops::Acquire(NextId(), std::string(300, 'x'), kLock),
                     StatusCode::INVALID_ARGUMENT, "name"));
  EXPECT_TRUE(StillWorks());
  EXPECT_TRUE(Expect(ops::Acquire(NextId(), "t6/l", v1::KIND_UNSPECIFIED),
                     StatusCode::INVALID_ARGUMENT, "kind"));
  EXPECT_TRUE(StillWorks());
  EXPECT_TRUE(Expect(ops::Base(NextId(), "t6/l", kLock), StatusCode::INVALID_ARGUMENT, "op"));
  EXPECT_TRUE(StillWorks());
  EXPECT_TRUE(Expect(ops::SetBound(NextId(), "t6/l", 3, kLock), StatusCode::INVALID_ARGUMENT,
                     "op"));
  EXPECT_TRUE(StillWorks());

  // A name used as another kind.
  EXPECT_TRUE(Granted(a_->Call(ops::Acquire(NextId(), "t6/l", kLock))));
  EXPECT_TRUE(Answered(a_->Call(ops::Release(NextId(), "t6/l", kLock)), StatusCode::OK));
  {
    std::optional<v1::Response> other =
        a_->Call(ops::Acquire(NextId(), "t6/l", v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE));
    EXPECT_TRUE(Answered(other, StatusCode::FAILED_PRECONDITION));
    if (other) {
      const std::string folded = Folded(other->status().message());
      EXPECT_TRUE(absl::StrContains(folded, "prioritylock")) << other->ShortDebugString();
      EXPECT_TRUE(absl::StrContains(folded, "dynamicboundedsemaphore"))
          << other->ShortDebugString();
    }
  }
  EXPECT_TRUE(StillWorks());

  // Timeouts: negative, nanos out of range, signs that differ.
  EXPECT_TRUE(Expect(ops::Acquire(NextId(), "t6/l", kLock, 0, milliseconds(-1000)),
                     StatusCode::INVALID_ARGUMENT, "acquire.timeout"));
  {
    v1::Request request = ops::Acquire(NextId(), "t6/l", kLock, 0, milliseconds(0));
    request.mutable_acquire()->mutable_timeout()->set_nanos(1'000'000'000);
    EXPECT_TRUE(Expect(request, StatusCode::INVALID_ARGUMENT, "acquire.timeout"));
    request.set_id(NextId());
    request.mutable_acquire()->mutable_timeout()->set_seconds(1);
    request.mutable_acquire()->mutable_timeout()->set_nanos(-5);
    EXPECT_TRUE(Expect(request, StatusCode::INVALID_ARGUMENT, "acquire.timeout"));
  }
  EXPECT_TRUE(StillWorks());

  // Rate-limit tokens: NaN, above capacity, zero, infinite.
  v1::InstanceConfig rate;
  rate.set_kind(v1::KIND_ADVANCED_RATE_LIMIT);
  rate.mutable_rate_limit()->set_rate(5);
  ASSERT_TRUE(Declare("t6/rate", rate).ok());
  for (double tokens : {std::numeric_limits<double>::quiet_NaN(), 7.0, 0.0, -1.0,
                        std::numeric_limits<double>::infinity()}) {
    EXPECT_TRUE(Expect(ops::RateAcquire(NextId(), "t6/rate", tokens),
                       StatusCode::INVALID_ARGUMENT, "rate_acquire.tokens"))
        << "tokens " << tokens;
  }
  EXPECT_TRUE(Answered(a_->Call(ops::RateAcquire(NextId(), "t6/rate", 5.0)), StatusCode::OK));
  EXPECT_TRUE(StillWorks());

  // notify n = 0, holding the condition's lock.
  EXPECT_TRUE(Granted(a_->Call(ops::Acquire(NextId(), "t6/cond", kCondition))));
  EXPECT_TRUE(Expect(ops::Notify(NextId(), "t6/cond", "k", 0), StatusCode::INVALID_ARGUMENT,
                     "notify.n"));
  EXPECT_TRUE(Answered(a_->Call(ops::Release(NextId(), "t6/cond", kCondition)), StatusCode::OK));
  EXPECT_TRUE(StillWorks());

  EXPECT_TRUE(Expect(ops::SetBound(NextId(), "t6/dbs", -1), StatusCode::INVALID_ARGUMENT,
                     "set_bound.bound"));
  EXPECT_TRUE(StillWorks());
  EXPECT_TRUE(Expect(ops::Release(NextId(), "t6/l", kLock, /*strict=*/false),
                     StatusCode::INVALID_ARGUMENT, "release.strict"));
  EXPECT_TRUE(StillWorks());
  EXPECT_TRUE(Expect(ops::Acquire(NextId(), "t6/rlock", v1::KIND_RLOCK, /*priority=*/3),
                     StatusCode::INVALID_ARGUMENT, "acquire.priority"));
  EXPECT_TRUE(StillWorks());
  EXPECT_TRUE(Expect(ops::RateAcquire(NextId(), "t6/undeclared-rate"), StatusCode::NOT_FOUND));
  EXPECT_TRUE(Expect(ops::LatchWait(NextId(), "t6/undeclared-latch", "k"),
                     StatusCode::NOT_FOUND));
  EXPECT_TRUE(StillWorks());
  EXPECT_TRUE(Expect(ops::Cancel(NextId(), 987654), StatusCode::NOT_FOUND, "cancel.request_id"));
  EXPECT_TRUE(StillWorks());
}

TEST_F(BadRequestTest, OwnershipErrorsAndDuplicateIds) {
  using grpc::StatusCode;
  const std::string name = "t6/owned";
  auto b = NewSession("b");
  ASSERT_OPENED(b);

  // Release by a non-owner: another owner key, another session.
  std::optional<v1::Response> held =
      a_->Call(ops::WithOwner(ops::Acquire(NextId(), name, kLock), "x"));
  ASSERT_TRUE(Granted(held));
  EXPECT_TRUE(Expect(ops::WithOwner(ops::Release(NextId(), name, kLock), "y"),
                     StatusCode::FAILED_PRECONDITION));
  EXPECT_TRUE(Answered(b->Call(ops::WithOwner(ops::Release(1, name, kLock), "x")),
                       StatusCode::FAILED_PRECONDITION));
  EXPECT_TRUE(StillWorks());

  // Re-acquire of a PRIORITY_LOCK by its owner: a deadlock, answered at once.
  EXPECT_TRUE(Expect(ops::WithOwner(ops::Acquire(NextId(), name, kLock), "x"),
                     StatusCode::FAILED_PRECONDITION));
  std::optional<v1::DescribeResponse> described = Describe(name);
  ASSERT_TRUE(described);
  EXPECT_EQ(described->state().waiter_count(), 0);
  EXPECT_EQ(described->state().owner().fence(), held->fence());
  EXPECT_TRUE(StillWorks());

  // A duplicate id of a pending request: ALREADY_EXISTS, and the pending one
  // goes on.
  ASSERT_TRUE(a_->Send(ops::WithOwner(ops::Acquire(500, name, kLock), "y")));
  ASSERT_TRUE(WaitForWaiters(name, 1));
  EXPECT_TRUE(Expect(ops::Read(500, name, kLock), StatusCode::ALREADY_EXISTS, "id"));
  EXPECT_TRUE(StillWorks());
  EXPECT_TRUE(Answered(a_->Call(ops::WithOwner(ops::Release(NextId(), name, kLock), "x")),
                       StatusCode::OK));
  std::optional<v1::Response> granted = a_->WaitResponse(500);
  ASSERT_TRUE(Granted(granted));
  EXPECT_GT(granted->fence(), held->fence());
  EXPECT_TRUE(Answered(a_->Call(ops::WithOwner(ops::Release(NextId(), name, kLock), "y")),
                       StatusCode::OK));
  EXPECT_TRUE(StillWorks());
}

// The name grammar holds on the Session stream as on the Admin calls: every
// operation refuses a name outside it, naming the rule, creating nothing, and
// the session goes on.
TEST_F(BadRequestTest, NamesOutsideTheGrammarAreRefusedByEveryOperation) {
  using grpc::StatusCode;
  const struct {
    std::string name;
    std::string rule;
  } bad_names[] = {
      {"jobs/nightly ", "name must not contain whitespace, got U+0020 at byte offset 12"},
      {"my lock", "name must not contain whitespace"},
      {"a//b", "name must not contain an empty segment"},
      {"/leading", "name must not start with '/'"},
      {"trailing/", "name must not end with '/'"},
      {"a/../b", "name must not contain a '..' segment"},
      {"zero\xE2\x80\x8Bwidth", "name must not contain invisible format characters"},
  };
  for (const auto& bad : bad_names) {
    const std::vector<v1::Request> requests = {
        ops::Acquire(NextId(), bad.name, kLock),
        ops::Release(NextId(), bad.name, kLock),
        ops::Read(NextId(), bad.name, kSemaphore),
        ops::RateAcquire(NextId(), bad.name),
        ops::RateRelease(NextId(), bad.name),
        ops::SetRate(NextId(), bad.name, 5),
        ops::SetBound(NextId(), bad.name, 3),
        ops::Reset(NextId(), bad.name),
        ops::ConditionWait(NextId(), bad.name, "k"),
        ops::NotifyAll(NextId(), bad.name),
        ops::WaitAll(NextId(), bad.name, kLatch),
        ops::CountDown(NextId(), bad.name, "k"),
        ops::CountDownAll(NextId(), bad.name),
        ops::LatchWait(NextId(), bad.name, "k"),
    };
    for (const v1::Request& request : requests) {
      EXPECT_TRUE(Expect(request, StatusCode::INVALID_ARGUMENT, bad.rule))
          << request.ShortDebugString();
    }
    EXPECT_FALSE(Describe(bad.name).has_value()) << bad.name;
  }
  // Nothing was created, and the session goes on with a name in the grammar.
  v1::ListRequest list;
  v1::ListResponse listed;
  ASSERT_TRUE(admin_->List(Context().get(), list, &listed).ok());
  EXPECT_EQ(listed.instances_size(), 0) << listed.ShortDebugString();
  EXPECT_TRUE(StillWorks());
  EXPECT_TRUE(Granted(a_->Call(ops::Acquire(NextId(), "jobs/nightly", kLock))));
}

// Request ids: unique among the pending requests only. Id 0 (the value of
// an id left unset) is an id like any other: reused while its request is
// pending, the reuse is refused ALREADY_EXISTS naming `id` and the pending
// request is unaffected and still answered; once answered, 0 is free again.
TEST_F(BadRequestTest, RequestIdZeroReusedWhilePendingIsRefusedAndTheFirstStillAnswered) {
  using grpc::StatusCode;
  const std::string name = "t6/ids";
  ASSERT_TRUE(Granted(a_->Call(ops::WithOwner(ops::Acquire(NextId(), name, kLock), "x"))));
  v1::Request pending = ops::WithOwner(ops::Acquire(0, name, kLock), "y");
  pending.clear_id();  // absent: the same as 0
  ASSERT_TRUE(a_->Send(pending));
  ASSERT_TRUE(WaitForWaiters(name, 1));
  // Reused while pending, by a wait and by an instant operation, in one
  // message: both refused, under id 0, naming the field.
  ASSERT_TRUE(a_->Send(ops::WithOwner(ops::Acquire(0, "t6/other", kLock), "z"),
                       ops::Read(0, name, kLock)));
  EXPECT_TRUE(Answered(a_->WaitResponse(0), StatusCode::ALREADY_EXISTS,
                       "id: request 0 of this session is still pending"));
  EXPECT_TRUE(Answered(a_->WaitResponse(0), StatusCode::ALREADY_EXISTS, "id"));
  // Nothing changed: the refused acquire took nothing, the first still waits.
  EXPECT_FALSE(Describe("t6/other").has_value());
  EXPECT_TRUE(a_->NoResponseYet(0));
  std::optional<v1::DescribeResponse> described = Describe(name);
  ASSERT_TRUE(described);
  EXPECT_EQ(described->state().waiter_count(), 1);
  EXPECT_TRUE(StillWorks());
  // The first request is still answered, under its id, once the lock frees.
  EXPECT_TRUE(Answered(a_->Call(ops::WithOwner(ops::Release(NextId(), name, kLock), "x")),
                       StatusCode::OK));
  EXPECT_TRUE(Granted(a_->WaitResponse(0)));
  // Answered: id 0 is free again, for any request.
  EXPECT_TRUE(Answered(a_->Call(ops::WithOwner(ops::Release(0, name, kLock), "y")),
                       StatusCode::OK));
  EXPECT_TRUE(Granted(a_->Call(ops::Acquire(0, "t6/other", kLock))));
  EXPECT_TRUE(Answered(a_->Call(ops::Release(0, "t6/other", kLock)), StatusCode::OK));
  EXPECT_TRUE(StillWorks());
}

TEST_F(BadRequestTest, MalformedTextIsAnsweredInvalidArgumentAndTheSessionGoesOn) {
  // Client-chosen text travels as bytes that must hold UTF-8: a malformed
  // one is a bad request, not a failed parse of the whole message.
  const std::string not_utf8("t6/\xff\xfe-bad");
  EXPECT_TRUE(Expect(ops::Acquire(NextId(), not_utf8, kLock), grpc::StatusCode::INVALID_ARGUMENT,
                     "name"));
  ASSERT_FALSE(a_->ended()) << "the stream ended: " << a_->Finish().error_code() << " "
                            << a_->Finish().error_message();
  EXPECT_TRUE(StillWorks());
  EXPECT_TRUE(Expect(ops::Acquire(NextId(), "t6/control\nchar", kLock),
                     grpc::StatusCode::INVALID_ARGUMENT, "name"));
  EXPECT_TRUE(StillWorks());
  EXPECT_TRUE(Expect(ops::WithOwner(ops::Acquire(NextId(), "t6/l", kLock), "\xc3"),
                     grpc::StatusCode::INVALID_ARGUMENT, "owner_key"));
  EXPECT_TRUE(StillWorks());
  EXPECT_TRUE(Granted(a_->Call(ops::Acquire(NextId(), "t6/text-cond", kCondition))));
  EXPECT_TRUE(Expect(ops::ConditionWait(NextId(), "t6/text-cond", "\xff"),
                     grpc::StatusCode::INVALID_ARGUMENT, "condition_wait.key"));
  EXPECT_TRUE(Answered(a_->Call(ops::Release(NextId(), "t6/text-cond", kCondition)),
                       grpc::StatusCode::OK));
  EXPECT_TRUE(StillWorks());
}

TEST_F(SessionTest, AClientNameThatIsNotUtf8EndsTheStreamInvalidArgument) {
  StartBatond();
  ASSERT_STARTED();
  SessionClient a(channel_);
  EXPECT_FALSE(a.Open("client-\xff", "a").has_value());
  const grpc::Status end = a.Finish();
  EXPECT_EQ(end.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(end.error_message(), "open.client_name")) << end.error_message();
}

TEST_F(SessionTest, RequestsBeyondTheMessageLimitAreResourceExhaustedAndTheSessionGoesOn) {
  StartBatond({"--shards=2", "--max_requests_per_message=4"});
  ASSERT_STARTED();
  const std::string name = "t6/per-message";
  auto a = NewSession("a");
  ASSERT_OPENED(a);
  EXPECT_EQ(a->opened()->limits().max_requests_per_message(), 4u);
  ASSERT_GE(a->opened()->limits().max_pending_requests(), 6u);

  std::vector<v1::Request> six;
  for (uint64_t id = 1; id <= 6; ++id) six.push_back(ops::Read(id, name, kLock));
  ASSERT_TRUE(a->Send(std::move(six)));
  for (uint64_t id = 1; id <= 4; ++id) {
    EXPECT_TRUE(Answered(a->WaitResponse(id), grpc::StatusCode::OK)) << "id " << id;
  }
  for (uint64_t id = 5; id <= 6; ++id) {
    EXPECT_TRUE(Answered(a->WaitResponse(id), grpc::StatusCode::RESOURCE_EXHAUSTED,
                         "max_requests_per_message"))
        << "id " << id;
  }
  EXPECT_TRUE(Granted(a->Call(ops::Acquire(7, name, kLock))));
  EXPECT_TRUE(Answered(a->Call(ops::Release(8, name, kLock)), grpc::StatusCode::OK));
}

TEST_F(SessionTest, RequestsBeyondThePendingLimitAreResourceExhaustedAndTheSessionGoesOn) {
  StartBatond({"--shards=2", "--max_pending_requests=3"});
  ASSERT_STARTED();
  const std::string name = "t6/pending";
  auto a = NewSession("a"), b = NewSession("b");
  ASSERT_OPENED(a);
  ASSERT_OPENED(b);
  EXPECT_EQ(a->opened()->limits().max_pending_requests(), 3u);

  // Three waits pending (B holds the lock); a fourth is refused.
  ASSERT_TRUE(Granted(b->Call(ops::Acquire(1, name, kLock))));
  ASSERT_TRUE(a->Send(ops::WithOwner(ops::Acquire(10, name, kLock), "y10"),
                      ops::WithOwner(ops::Acquire(11, name, kLock), "y11"),
                      ops::WithOwner(ops::Acquire(12, name, kLock), "y12")));
  ASSERT_TRUE(WaitForWaiters(name, 3));
  EXPECT_TRUE(Answered(a->Call(ops::WithOwner(ops::Acquire(13, name, kLock), "y13")),
                       grpc::StatusCode::RESOURCE_EXHAUSTED, "max_pending_requests"));
  // The session goes on: the waits are granted in turn as the lock passes.
  ASSERT_TRUE(Answered(b->Call(ops::Release(2, name, kLock)), grpc::StatusCode::OK));
  for (uint64_t id = 10; id <= 12; ++id) {
    ASSERT_TRUE(Granted(a->WaitResponse(id))) << "id " << id;
    EXPECT_TRUE(Answered(
        a->Call(ops::WithOwner(ops::Release(id + 100, name, kLock), absl::StrCat("y", id))),
        grpc::StatusCode::OK));
  }
  EXPECT_TRUE(Granted(a->Call(ops::Acquire(20, name, kLock))));
  EXPECT_TRUE(Answered(a->Call(ops::Release(21, name, kLock)), grpc::StatusCode::OK));
}

TEST_F(SessionTest, ASessionBeyondMaxSessionsEndsResourceExhausted) {
  StartBatond({"--shards=2", "--max_sessions=2"});
  ASSERT_STARTED();
  auto a = NewSession("a"), b = NewSession("b");
  ASSERT_OPENED(a);
  ASSERT_OPENED(b);
  auto c = NewSession("c");
  EXPECT_FALSE(c->opened().has_value());
  const grpc::Status refused = c->Finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(absl::StrContains(refused.error_message(), "max_sessions"))
      << refused.error_message();
  // The sessions open go on, and once one ends a new one may open.
  EXPECT_TRUE(Answered(a->Call(ops::Read(1, "t6/sessions", kLock)), grpc::StatusCode::OK));
  b->HalfClose();
  EXPECT_TRUE(b->Finish().ok());
  // The server counts B out when its call is done, which may come a moment
  // after B saw its status: retry, within a bound.
  std::unique_ptr<SessionClient> d;
  const auto deadline = Clock::now() + seconds(5);
  do {
    d = NewSession("d");
  } while (!d->opened() && Clock::now() < deadline);
  ASSERT_OPENED(d);
  EXPECT_TRUE(Answered(d->Call(ops::Read(1, "t6/sessions", kLock)), grpc::StatusCode::OK));
}

TEST_F(SessionTest, ASecondOpenEndsTheStreamInvalidArgument) {
  StartBatond();
  ASSERT_STARTED();
  auto a = NewSession("a");
  ASSERT_OPENED(a);
  v1::ClientMessage again;
  again.mutable_open()->set_client_name("again");
  a->Write(again);
  ASSERT_TRUE(a->WaitEnded());
  EXPECT_EQ(a->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(SessionTest, AFirstMessageWithoutOpenEndsTheStreamInvalidArgument) {
  StartBatond();
  ASSERT_STARTED();
  SessionClient a(channel_);
  a.Start();
  a.Send(ops::Read(1, "t6/l", kLock));
  ASSERT_TRUE(a.WaitEnded());
  EXPECT_FALSE(a.opened().has_value());
  EXPECT_TRUE(a.NoResponseYet(1));
  EXPECT_EQ(a.Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// ---------------------------------------------------------------------------
// 7. Cancel and timeouts.

TEST_F(SessionTest, ACancelledWaitIsAnsweredCancelledAndTheLockGoesToTheNextWaiter) {
  StartBatond();
  ASSERT_STARTED();
  const std::string name = "t7/lock";
  auto a = NewSession("a"), b = NewSession("b"), c = NewSession("c");
  ASSERT_OPENED(a);
  ASSERT_OPENED(b);
  ASSERT_OPENED(c);
  ASSERT_TRUE(Granted(b->Call(ops::Acquire(1, name, kLock))));
  ASSERT_TRUE(a->Send(ops::Acquire(1, name, kLock)));
  ASSERT_TRUE(WaitForWaiters(name, 1));
  ASSERT_TRUE(c->Send(ops::Acquire(1, name, kLock)));
  ASSERT_TRUE(WaitForWaiters(name, 2));

  ASSERT_TRUE(a->Send(ops::Cancel(2, 1)));
  EXPECT_TRUE(Answered(a->WaitResponse(1), grpc::StatusCode::CANCELLED));
  EXPECT_TRUE(Answered(a->WaitResponse(2), grpc::StatusCode::OK));
  EXPECT_TRUE(WaitForWaiters(name, 1));

  ASSERT_TRUE(Answered(b->Call(ops::Release(2, name, kLock)), grpc::StatusCode::OK));
  EXPECT_TRUE(Granted(c->WaitResponse(1)));
  std::optional<v1::Response> read = a->Call(ops::Read(3, name, kLock));
  ASSERT_TRUE(Answered(read, grpc::StatusCode::OK));
  EXPECT_FALSE(read->state().is_owner());
  EXPECT_EQ(read->state().owner().session_id(), c->opened()->session_id());
  EXPECT_TRUE(a->NoResponseYet(1));
}

TEST_F(SessionTest, TimeoutsAreAnsweredDeadlineExceededAndLeaveNoWaiter) {
  StartBatond();
  ASSERT_STARTED();
  const std::string name = "t7/timeouts";
  auto a = NewSession("a"), b = NewSession("b");
  ASSERT_OPENED(a);
  ASSERT_OPENED(b);
  ASSERT_TRUE(Granted(b->Call(ops::Acquire(1, name, kLock))));

  // A positive timeout on a queued acquire.
  auto start = Clock::now();
  std::optional<v1::Response> timed_out =
      a->Call(ops::Acquire(1, name, kLock, 0, milliseconds(300)));
  auto elapsed = Clock::now() - start;
  EXPECT_TRUE(Answered(timed_out, grpc::StatusCode::DEADLINE_EXCEEDED));
  EXPECT_GE(elapsed, milliseconds(295));
  EXPECT_FALSE(timed_out && timed_out->has_fence());
  EXPECT_TRUE(WaitForWaiters(name, 0));

  // Zero: try once, never queued.
  start = Clock::now();
  EXPECT_TRUE(Answered(a->Call(ops::Acquire(2, name, kLock, 0, milliseconds(0))),
                       grpc::StatusCode::DEADLINE_EXCEEDED));
  EXPECT_LT(Clock::now() - start, seconds(2));
  std::optional<v1::DescribeResponse> described = Describe(name);
  ASSERT_TRUE(described);
  EXPECT_EQ(described->state().waiter_count(), 0);

  // The lock still passes normally.
  ASSERT_TRUE(Answered(b->Call(ops::Release(2, name, kLock)), grpc::StatusCode::OK));
  EXPECT_TRUE(Granted(a->Call(ops::Acquire(3, name, kLock, 0, milliseconds(0)))));
}

// ---------------------------------------------------------------------------
// 8. The end of a session releases everything.

TEST_F(SessionTest, HalfCloseAbortsPendingWaitsEndsOkAndReleasesHolds) {
  StartBatond();
  ASSERT_STARTED();
  auto a = NewSession("a"), b = NewSession("b");
  ASSERT_OPENED(a);
  ASSERT_OPENED(b);
  ASSERT_TRUE(Granted(a->Call(ops::Acquire(1, "t8/lock", kLock))));
  ASSERT_TRUE(Granted(a->Call(ops::Acquire(2, "t8/semaphore", kSemaphore))));
  ASSERT_TRUE(Granted(b->Call(ops::Acquire(1, "t8/other", kLock))));
  ASSERT_TRUE(a->Send(ops::Acquire(3, "t8/other", kLock)));
  ASSERT_TRUE(WaitForWaiters("t8/other", 1));
  ASSERT_TRUE(b->Send(ops::Acquire(10, "t8/lock", kLock),
                      ops::Acquire(11, "t8/semaphore", kSemaphore)));
  ASSERT_TRUE(WaitForWaiters("t8/lock", 1));
  ASSERT_TRUE(WaitForWaiters("t8/semaphore", 1));

  a->HalfClose();
  EXPECT_TRUE(Answered(a->WaitResponse(3), grpc::StatusCode::ABORTED, "session ended"));
  const grpc::Status end = a->Finish();
  EXPECT_TRUE(end.ok()) << end.error_code() << " " << end.error_message();
  EXPECT_TRUE(Granted(b->WaitResponse(10)));
  EXPECT_TRUE(Granted(b->WaitResponse(11)));
  EXPECT_TRUE(WaitForWaiters("t8/other", 0));
}

// ---------------------------------------------------------------------------
// 9, 10. Restart and drain.

TEST_F(SessionTest, FencesAndEpochGrowAcrossARestartOnTheSameDataDir) {
  StartBatond({"--shards=2", "--grace=1s"});
  ASSERT_STARTED();
  const std::string name = "t9/lock";
  uint64_t fence_before = 0, epoch_before = 0;
  {
    auto a = NewSession("a");
    ASSERT_OPENED(a);
    epoch_before = a->opened()->server_epoch();
    std::optional<v1::Response> held = a->Call(ops::Acquire(1, name, kLock));
    ASSERT_TRUE(Granted(held));
    fence_before = held->fence();
    a->HalfClose();
    EXPECT_TRUE(a->Finish().ok());
  }
  const int status = batond_->SignalAndWait(SIGTERM, seconds(30));
  ASSERT_NE(status, -1) << "batond did not exit: " << batond_->log();
  ASSERT_TRUE(WIFEXITED(status)) << batond_->log();
  EXPECT_EQ(WEXITSTATUS(status), 0) << batond_->log();

  ASSERT_TRUE(batond_->Restart()) << batond_->log();
  Connect();
  auto b = NewSession("b");
  ASSERT_OPENED(b);
  EXPECT_GT(b->opened()->server_epoch(), epoch_before);
  std::optional<v1::Response> again = b->Call(ops::Acquire(1, name, kLock));
  ASSERT_TRUE(Granted(again));
  EXPECT_GT(again->fence(), fence_before);
}

TEST_F(SessionTest, SigtermSendsDrainingRefusesNewRequestsAndEndsUnavailable) {
  StartBatond({"--shards=2", "--grace=1s"});
  ASSERT_STARTED();
  auto a = NewSession("a");
  ASSERT_OPENED(a);
  ASSERT_TRUE(Granted(a->Call(ops::Acquire(1, "t10/lock", kLock))));

  const auto signalled = Clock::now();
  batond_->Signal(SIGTERM);
  std::optional<v1::Notice> draining = a->WaitNotice(IsDraining);
  ASSERT_TRUE(draining) << batond_->log();
  EXPECT_GT(FromDuration(draining->draining().grace()).count(), 0);
  EXPECT_LE(FromDuration(draining->draining().grace()), seconds(1));
  EXPECT_TRUE(Answered(a->Call(ops::Read(2, "t10/lock", kLock)), grpc::StatusCode::UNAVAILABLE));
  ASSERT_TRUE(a->WaitEnded(seconds(6)));
  EXPECT_EQ(a->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  const int status = batond_->WaitExit(
      std::chrono::duration_cast<milliseconds>(signalled + seconds(1 + 5) - Clock::now()));
  ASSERT_NE(status, -1) << "batond did not exit within grace + 5 s: " << batond_->log();
  ASSERT_TRUE(WIFEXITED(status)) << batond_->log();
  EXPECT_EQ(WEXITSTATUS(status), 0) << batond_->log();
}

// ---------------------------------------------------------------------------
// 11. Leases.

TEST_F(SessionTest, ASilentSessionExpiresAndItsLockGoesOn) {
  StartBatond();
  ASSERT_STARTED();
  const std::string name = "t11/lock";
  auto a = NewSession("a", seconds(1)), b = NewSession("b");
  ASSERT_OPENED(a);
  ASSERT_OPENED(b);
  EXPECT_EQ(FromDuration(a->opened()->lease()), seconds(1));
  ASSERT_TRUE(Granted(a->Call(ops::Acquire(1, name, kLock))));
  ASSERT_TRUE(b->Send(ops::Acquire(1, name, kLock)));

  // A sends nothing more.
  std::optional<v1::Notice> expiring = a->WaitNotice(IsExpiring, seconds(5));
  ASSERT_TRUE(expiring);
  EXPECT_LE(FromDuration(expiring->session_expiring().remaining()), seconds(1));
  ASSERT_TRUE(a->WaitEnded(seconds(5)));
  const grpc::Status end = a->Finish();
  EXPECT_EQ(end.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_TRUE(absl::StrContains(end.error_message(), "session lease expired"))
      << end.error_message();
  EXPECT_TRUE(Granted(b->WaitResponse(1, seconds(5))));
}

TEST_F(SessionTest, HeartbeatsKeepASessionAlive) {
  StartBatond();
  ASSERT_STARTED();
  const std::string name = "t11/heartbeat";
  auto a = NewSession("a", seconds(1));
  ASSERT_OPENED(a);
  ASSERT_TRUE(Granted(a->Call(ops::Acquire(1, name, kLock))));
  const auto until = Clock::now() + milliseconds(2500);
  while (Clock::now() < until) {
    std::this_thread::sleep_for(milliseconds(300));  // the client's heartbeat pace
    ASSERT_TRUE(a->Heartbeat());
  }
  EXPECT_FALSE(a->ended());
  std::optional<v1::Response> read = a->Call(ops::Read(2, name, kLock));
  ASSERT_TRUE(Answered(read, grpc::StatusCode::OK));
  EXPECT_TRUE(read->state().is_owner());
  a->HalfClose();
  EXPECT_TRUE(a->Finish().ok());
}

// ---------------------------------------------------------------------------
// 12. Holds revoked by the server.

TEST_F(SessionTest, ResetRevokesPermitsWithANotice) {
  StartBatond();
  ASSERT_STARTED();
  const std::string name = "t12/semaphore";
  auto a = NewSession("a"), b = NewSession("b");
  ASSERT_OPENED(a);
  ASSERT_OPENED(b);
  std::optional<v1::Response> permit = a->Call(ops::Acquire(1, name, kSemaphore));
  ASSERT_TRUE(Granted(permit));

  ASSERT_TRUE(Answered(b->Call(ops::Reset(1, name)), grpc::StatusCode::OK));
  std::optional<v1::Notice> revoked = a->WaitNotice(
      [&](const v1::Notice& n) { return n.has_hold_revoked() && n.hold_revoked().name() == name; });
  ASSERT_TRUE(revoked);
  EXPECT_EQ(revoked->hold_revoked().kind(), kSemaphore);
  EXPECT_EQ(revoked->hold_revoked().owner_key(), "");
  EXPECT_EQ(revoked->hold_revoked().fence(), permit->fence());
  EXPECT_EQ(revoked->hold_revoked().reason().code(), grpc::StatusCode::ABORTED);
  EXPECT_TRUE(absl::StrContains(revoked->hold_revoked().reason().message(), "reset"))
      << revoked->ShortDebugString();
  std::optional<v1::Response> read = a->Call(ops::Read(2, name, kSemaphore));
  ASSERT_TRUE(Answered(read, grpc::StatusCode::OK));
  EXPECT_EQ(read->state().session_permits(), 0);
  EXPECT_EQ(read->state().available(), 1);
}

TEST_F(SessionTest, DeleteRevokesTheHoldAndAbortsTheWaits) {
  StartBatond();
  ASSERT_STARTED();
  const std::string name = "t12/lock";
  auto a = NewSession("a");
  ASSERT_OPENED(a);
  std::optional<v1::Response> held = a->Call(ops::WithOwner(ops::Acquire(1, name, kLock), "w"));
  ASSERT_TRUE(Granted(held));
  ASSERT_TRUE(a->Send(ops::WithOwner(ops::Acquire(2, name, kLock), "w2")));
  ASSERT_TRUE(WaitForWaiters(name, 1));

  v1::DeleteRequest request;
  request.set_name(name);
  request.set_reason("test delete");
  v1::DeleteResponse response;
  ASSERT_TRUE(admin_->Delete(Context().get(), request, &response).ok());
  EXPECT_EQ(response.revoked_holds(), 1);

  std::optional<v1::Notice> revoked = a->WaitNotice(
      [&](const v1::Notice& n) { return n.has_hold_revoked() && n.hold_revoked().name() == name; });
  ASSERT_TRUE(revoked);
  EXPECT_EQ(revoked->hold_revoked().kind(), kLock);
  EXPECT_EQ(revoked->hold_revoked().owner_key(), "w");
  EXPECT_EQ(revoked->hold_revoked().fence(), held->fence());
  EXPECT_EQ(revoked->hold_revoked().reason().code(), grpc::StatusCode::ABORTED);
  // The reason says the instance was deleted, and Admin.Delete's reason.
  EXPECT_TRUE(absl::StrContains(revoked->hold_revoked().reason().message(), "deleted"))
      << revoked->ShortDebugString();
  EXPECT_TRUE(absl::StrContains(revoked->hold_revoked().reason().message(), "test delete"))
      << revoked->ShortDebugString();
  EXPECT_TRUE(Answered(a->WaitResponse(2), grpc::StatusCode::ABORTED, "test delete"));

  // The name is free again, and its new fences are still larger.
  std::optional<v1::Response> again = a->Call(ops::WithOwner(ops::Acquire(3, name, kLock), "w"));
  ASSERT_TRUE(Granted(again));
  EXPECT_GT(again->fence(), held->fence());
}

}  // namespace
}  // namespace baton::session_test

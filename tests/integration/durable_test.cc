// Copyright 2026 The Baton Authors.
//
// Kept state against a real batond (README, "What survives a restart"):
// declared instances, live changes and latch counts survive a SIGKILL and a
// restart on the same --data_dir; a SIGKILL in the middle of count-downs
// from several sessions loses no acknowledged one and applies none twice.

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/session_test_fixture.h"

namespace baton::session_test {
namespace {

class DurableTest : public SessionTest {
 protected:
  static v1::InstanceConfig Latch(const std::string& key, int64_t count) {
    v1::InstanceConfig config;
    config.set_kind(v1::KIND_MULTI_COUNT_DOWN_LATCH);
    {
    auto* entry = config.mutable_latch()->add_counts();
    entry->set_key(key);
    entry->set_value(count);
  }
    return config;
  }

  void KillAndRestart() {
    ASSERT_GE(batond_->SignalAndWait(SIGKILL, seconds(30)), 0);
    ASSERT_TRUE(batond_->Restart()) << batond_->log();
    Connect();
  }

  int64_t CountOf(const std::string& name, const std::string& key) {
    std::optional<v1::DescribeResponse> described = Describe(name);
    if (!described) return -1;
    return described->state().counts().at(key);
  }
};

TEST_F(DurableTest, DeclaredInstancesAndTheirChangesSurviveASigkill) {
  StartBatond({"--shards=2"});
  ASSERT_TRUE(batond_->started()) << batond_->log();
  v1::InstanceConfig latch;
  latch.set_kind(v1::KIND_MULTI_COUNT_DOWN_LATCH);
  {
    auto* entry = latch.mutable_latch()->add_counts();
    entry->set_key("db");
    entry->set_value(3);
  }
  {
    auto* entry = latch.mutable_latch()->add_counts();
    entry->set_key("cache");
    entry->set_value(2);
  }
  ASSERT_TRUE(Declare("deploy/ready", latch).ok());
  v1::InstanceConfig rate;
  rate.set_kind(v1::KIND_ADVANCED_RATE_LIMIT);
  rate.mutable_rate_limit()->set_rate(10);
  ASSERT_TRUE(Declare("api/limit", rate).ok());
  v1::InstanceConfig bound;
  bound.set_kind(v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE);
  bound.mutable_semaphore()->set_value(2);
  ASSERT_TRUE(Declare("pool/db", bound).ok());
  v1::InstanceConfig lock;
  lock.set_kind(v1::KIND_PRIORITY_LOCK);
  ASSERT_TRUE(Declare("jobs/nightly", lock).ok());
  {
    auto session = NewSession("a");
    ASSERT_TRUE(session->opened());
    ASSERT_TRUE(Answered(session->Call(ops::CountDown(1, "deploy/ready", "db")),
                         grpc::StatusCode::OK));
    ASSERT_TRUE(Answered(session->Call(ops::CountDownAll(2, "deploy/ready")),
                         grpc::StatusCode::OK));
    ASSERT_TRUE(Answered(session->Call(ops::SetRate(3, "api/limit", 25)), grpc::StatusCode::OK));
    ASSERT_TRUE(Answered(session->Call(ops::SetBound(4, "pool/db", 7)), grpc::StatusCode::OK));
    // A hold is not kept: the lock is free after the restart.
    ASSERT_TRUE(Granted(session->Call(ops::Acquire(5, "jobs/nightly", kLock))));
  }
  KillAndRestart();
  EXPECT_EQ(CountOf("deploy/ready", "db"), 1);
  EXPECT_EQ(CountOf("deploy/ready", "cache"), 1);
  std::optional<v1::DescribeResponse> limit = Describe("api/limit");
  ASSERT_TRUE(limit.has_value());
  EXPECT_EQ(limit->config().rate_limit().rate(), 25);
  std::optional<v1::DescribeResponse> pool = Describe("pool/db");
  ASSERT_TRUE(pool.has_value());
  EXPECT_EQ(pool->config().semaphore().value(), 7);
  std::optional<v1::DescribeResponse> nightly = Describe("jobs/nightly");
  ASSERT_TRUE(nightly.has_value());
  EXPECT_FALSE(nightly->state().locked());
  // Declaring again at the next start is a no-op, as before.
  EXPECT_TRUE(Declare("deploy/ready", latch).ok());
  EXPECT_EQ(CountOf("deploy/ready", "db"), 1);
}

TEST_F(DurableTest, ASigkillMidStreamLosesNoAcknowledgedCountDownAndAppliesNoneTwice) {
  StartBatond({"--shards=2"});
  ASSERT_TRUE(batond_->started()) << batond_->log();
  constexpr int64_t kStart = 1'000'000;
  ASSERT_TRUE(Declare("crash/latch", Latch("k", kStart)).ok());

  constexpr int kSessions = 4;
  constexpr int kInFlight = 16;
  std::atomic<int64_t> acknowledged{0};
  std::atomic<int64_t> sent{0};
  std::vector<std::unique_ptr<SessionClient>> sessions;
  for (int s = 0; s < kSessions; ++s) {
    sessions.push_back(NewSession(absl::StrCat("s", s)));
    ASSERT_TRUE(sessions.back()->opened());
  }
  std::vector<std::thread> threads;
  for (int s = 0; s < kSessions; ++s) {
    threads.emplace_back([&, session = sessions[s].get()] {
      uint64_t id = 0;
      while (true) {
        std::vector<v1::Request> window;
        for (int i = 0; i < kInFlight; ++i) window.push_back(ops::CountDown(++id, "crash/latch", "k"));
        sent += kInFlight;
        if (!session->Send(std::move(window))) return;
        for (uint64_t wait = id - kInFlight + 1; wait <= id; ++wait) {
          std::optional<v1::Response> answer = session->WaitResponse(wait, seconds(10));
          if (!answer) return;  // the stream ended: batond was killed
          if (answer->status().code() == 0) ++acknowledged;
        }
      }
    });
  }
  // Kill it in the middle of the stream.
  const auto deadline = Clock::now() + seconds(20);
  while (acknowledged.load() < 2000 && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(1));  // polling progress, not timing logic
  }
  ASSERT_GE(batond_->SignalAndWait(SIGKILL, seconds(30)), 0);
  for (std::thread& thread : threads) thread.join();
  sessions.clear();
  const int64_t acked = acknowledged.load();
  ASSERT_GE(acked, 2000);
  ASSERT_TRUE(batond_->Restart()) << batond_->log();
  Connect();
  const int64_t counted = kStart - CountOf("crash/latch", "k");
  // Every acknowledged count-down is there; those in flight at the kill may
  // or may not be (their answers never came), none is there twice.
  EXPECT_GE(counted, acked);
  EXPECT_LE(counted, sent.load());
  EXPECT_LE(counted - acked, kSessions * kInFlight);
}

TEST_F(DurableTest, ABucketLevelSurvivesAShutdown) {
  StartBatond({"--shards=2", "--grace=0s"});
  ASSERT_TRUE(batond_->started()) << batond_->log();
  v1::InstanceConfig rate;
  rate.set_kind(v1::KIND_ADVANCED_RATE_LIMIT);
  rate.mutable_rate_limit()->set_rate(0.01);  // one token per 100 s
  rate.mutable_rate_limit()->set_capacity(3);
  ASSERT_TRUE(Declare("api/slow", rate).ok());
  auto try_acquire = [this] {
    v1::TryAcquireRequest request;
    request.set_name("api/slow");
    v1::TryAcquireResponse response;
    EXPECT_TRUE(admin_->TryAcquire(Context().get(), request, &response).ok());
    return response.allowed();
  };
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(try_acquire()) << i;
  ASSERT_FALSE(try_acquire());
  ASSERT_EQ(batond_->SignalAndWait(SIGTERM, seconds(30)), 0) << batond_->log();
  ASSERT_TRUE(batond_->Restart()) << batond_->log();
  Connect();
  // The bucket is as empty as it was, not full again.
  EXPECT_FALSE(try_acquire());
}

}  // namespace
}  // namespace baton::session_test

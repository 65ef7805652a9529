// Copyright 2026 The Baton Authors.
//
// More of the Session stream's wire contract, against a real batond:
// reentrant locks, both semaphores, strict latch keys, fair and unfair rate
// limits, the condition's WaitAll and NotifyAll, lease bounds, key, wait and
// message-size limits, draining with waits pending, and the fields of
// answers. The core scenarios are in session_test.cc.

#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/runtime/shard_set.h"
#include "tests/integration/session_test_fixture.h"

namespace baton::session_test {
namespace {

TEST_F(SessionTest, ReentrantLocksCountReacquiresAndAnswerTheSameFence) {
  StartBatond();
  ASSERT_STARTED();
  for (v1::Kind kind : {v1::KIND_PRIORITY_RLOCK, v1::KIND_RLOCK}) {
    SCOPED_TRACE(v1::Kind_Name(kind));
    const std::string name = absl::StrCat("t13/", v1::Kind_Name(kind));
    const int64_t priority = kind == v1::KIND_PRIORITY_RLOCK ? 7 : 0;
    auto a = NewSession("a"), b = NewSession("b");
    ASSERT_OPENED(a);
    ASSERT_OPENED(b);
    std::optional<v1::Response> first = a->Call(ops::Acquire(1, name, kind));
    ASSERT_TRUE(Granted(first));
    ASSERT_TRUE(b->Send(ops::Acquire(1, name, kind)));
    ASSERT_TRUE(WaitForWaiters(name, 1));
    // Re-entry never queues, whatever its priority, and keeps the fence.
    std::optional<v1::Response> again = a->Call(ops::Acquire(2, name, kind, priority));
    ASSERT_TRUE(Granted(again));
    EXPECT_EQ(again->fence(), first->fence());
    std::optional<v1::Response> read = a->Call(ops::Read(3, name, kind));
    ASSERT_TRUE(Answered(read, grpc::StatusCode::OK));
    EXPECT_TRUE(read->state().is_owner());
    EXPECT_EQ(read->state().owner().count(), 2);
    EXPECT_EQ(read->state().owner().fence(), first->fence());

    ASSERT_TRUE(Answered(a->Call(ops::Release(4, name, kind)), grpc::StatusCode::OK));
    read = a->Call(ops::Read(5, name, kind));
    ASSERT_TRUE(Answered(read, grpc::StatusCode::OK));
    EXPECT_TRUE(read->state().is_owner());
    EXPECT_EQ(read->state().owner().count(), 1);
    EXPECT_TRUE(b->NoResponseYet(1));
    ASSERT_TRUE(Answered(a->Call(ops::Release(6, name, kind)), grpc::StatusCode::OK));
    std::optional<v1::Response> granted = b->WaitResponse(1);
    ASSERT_TRUE(Granted(granted));
    EXPECT_GT(granted->fence(), first->fence());
    EXPECT_TRUE(Answered(a->Call(ops::Release(7, name, kind)),
                         grpc::StatusCode::FAILED_PRECONDITION));
    EXPECT_TRUE(Answered(b->Call(ops::Release(2, name, kind)), grpc::StatusCode::OK));
  }
}

TEST_F(SessionTest, PrioritySemaphorePermitsBelongToTheSessionAndNonStrictReleaseGrowsThePool) {
  StartBatond();
  ASSERT_STARTED();
  const std::string name = "t13/priority-semaphore";
  auto a = NewSession("a"), b = NewSession("b");
  ASSERT_OPENED(a);
  ASSERT_OPENED(b);
  std::optional<v1::Response> first = a->Call(ops::Acquire(1, name, kSemaphore));
  ASSERT_TRUE(Granted(first));
  ASSERT_TRUE(b->Send(ops::Acquire(1, name, kSemaphore)));
  ASSERT_TRUE(WaitForWaiters(name, 1));
  // Another owner key of the same session releases the session's permit.
  ASSERT_TRUE(Answered(a->Call(ops::WithOwner(ops::Release(2, name, kSemaphore), "other")),
                       grpc::StatusCode::OK));
  std::optional<v1::Response> second = b->WaitResponse(1);
  ASSERT_TRUE(Granted(second));
  EXPECT_GT(second->fence(), first->fence());
  EXPECT_TRUE(Answered(a->Call(ops::Release(3, name, kSemaphore)),
                       grpc::StatusCode::FAILED_PRECONDITION, "released too many times"));
  EXPECT_TRUE(Answered(a->Call(ops::Release(4, name, kSemaphore, /*strict=*/false)),
                       grpc::StatusCode::OK));
  std::optional<v1::Response> read = a->Call(ops::Read(5, name, kSemaphore));
  ASSERT_TRUE(Answered(read, grpc::StatusCode::OK));
  EXPECT_EQ(read->state().pool(), 2);
  EXPECT_EQ(read->state().held(), 1);
  EXPECT_EQ(read->state().available(), 1);
  EXPECT_EQ(read->state().session_permits(), 0);
  std::optional<v1::Response> third =
      a->Call(ops::Acquire(6, name, kSemaphore, 0, milliseconds(0)));
  ASSERT_TRUE(Granted(third));
  EXPECT_GT(third->fence(), second->fence());
  read = a->Call(ops::Read(7, name, kSemaphore));
  ASSERT_TRUE(Answered(read, grpc::StatusCode::OK));
  EXPECT_EQ(read->state().session_permits(), 1);
  EXPECT_TRUE(read->state().locked());
  // Reset: back to the initial value 1, both permits revoked.
  ASSERT_TRUE(Answered(a->Call(ops::Reset(8, name)), grpc::StatusCode::OK));
  read = b->Call(ops::Read(2, name, kSemaphore));
  ASSERT_TRUE(Answered(read, grpc::StatusCode::OK));
  EXPECT_EQ(read->state().pool(), 1);
  EXPECT_EQ(read->state().held(), 0);
  EXPECT_EQ(read->state().available(), 1);
  EXPECT_EQ(read->state().session_permits(), 0);
}

TEST_F(SessionTest, DynamicBoundedSemaphoreBoundChangesWakeWaitersAndHoldersKeepTheirs) {
  StartBatond();
  ASSERT_STARTED();
  const std::string name = "t13/dynamic-semaphore";
  const v1::Kind kind = v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE;
  auto a = NewSession("a"), b = NewSession("b");
  ASSERT_OPENED(a);
  ASSERT_OPENED(b);
  ASSERT_TRUE(Granted(a->Call(ops::Acquire(1, name, kind))));
  ASSERT_TRUE(b->Send(ops::Acquire(1, name, kind)));
  ASSERT_TRUE(WaitForWaiters(name, 1));
  ASSERT_TRUE(b->Send(ops::Acquire(2, name, kind)));
  ASSERT_TRUE(WaitForWaiters(name, 2));
  // Raising the bound by 2 wakes both waiters.
  ASSERT_TRUE(Answered(a->Call(ops::SetBound(2, name, 3)), grpc::StatusCode::OK));
  EXPECT_TRUE(Granted(b->WaitResponse(1)));
  EXPECT_TRUE(Granted(b->WaitResponse(2)));
  // Lowering it below what is held: holders keep theirs, available < 0.
  ASSERT_TRUE(Answered(a->Call(ops::SetBound(3, name, 1)), grpc::StatusCode::OK));
  std::optional<v1::Response> read = a->Call(ops::Read(4, name, kind));
  ASSERT_TRUE(Answered(read, grpc::StatusCode::OK));
  EXPECT_EQ(read->state().bound(), 1);
  EXPECT_EQ(read->state().held(), 3);
  EXPECT_EQ(read->state().available(), -2);
  EXPECT_EQ(read->state().session_permits(), 1);
  ASSERT_TRUE(Answered(a->Call(ops::Release(5, name, kind)), grpc::StatusCode::OK));
  EXPECT_TRUE(Answered(a->Call(ops::Acquire(6, name, kind, 0, milliseconds(0))),
                       grpc::StatusCode::DEADLINE_EXCEEDED));
  EXPECT_TRUE(Answered(a->Call(ops::Release(7, name, kind)),
                       grpc::StatusCode::FAILED_PRECONDITION, "released too many times"));
}

TEST_F(SessionTest, StrictLatchKeysAndImmediateAnswers) {
  StartBatond();
  ASSERT_STARTED();
  const std::string name = "t13/latch";
  v1::InstanceConfig config;
  config.set_kind(kLatch);
  {
    auto* entry = config.mutable_latch()->add_counts();
    entry->set_key("a");
    entry->set_value(1);
  }
  {
    auto* entry = config.mutable_latch()->add_counts();
    entry->set_key("b");
    entry->set_value(2);
  }
  ASSERT_TRUE(Declare(name, config).ok());
  auto a = NewSession("a");
  ASSERT_OPENED(a);
  EXPECT_TRUE(Answered(a->Call(ops::CountDown(1, name, "nope", /*strict=*/true)),
                       grpc::StatusCode::NOT_FOUND));
  EXPECT_TRUE(Answered(a->Call(ops::CountDown(2, name, "nope")), grpc::StatusCode::OK));
  EXPECT_TRUE(Answered(a->Call(ops::LatchWait(3, name, "nope", /*strict=*/true)),
                       grpc::StatusCode::NOT_FOUND));
  EXPECT_TRUE(Answered(a->Call(ops::LatchWait(4, name, "nope")), grpc::StatusCode::OK));
  EXPECT_TRUE(Answered(a->Call(ops::CountDown(5, name, "a", /*strict=*/true)),
                       grpc::StatusCode::OK));
  EXPECT_TRUE(Answered(a->Call(ops::CountDown(6, name, "a", /*strict=*/true)),
                       grpc::StatusCode::FAILED_PRECONDITION));
  EXPECT_TRUE(Answered(a->Call(ops::LatchWait(7, name, "a")), grpc::StatusCode::OK));
  EXPECT_TRUE(Answered(a->Call(ops::WaitAll(8, name, kLatch, milliseconds(0))),
                       grpc::StatusCode::DEADLINE_EXCEEDED));
  ASSERT_TRUE(a->Send(ops::WaitAll(9, name, kLatch)));
  ASSERT_TRUE(WaitForWaiters(name, 1));
  EXPECT_TRUE(Answered(a->Call(ops::CountDownAll(10, name)), grpc::StatusCode::OK));
  EXPECT_TRUE(a->NoResponseYet(9));
  EXPECT_TRUE(Answered(a->Call(ops::CountDownAll(11, name)), grpc::StatusCode::OK));
  EXPECT_TRUE(Answered(a->WaitResponse(9), grpc::StatusCode::OK));
  std::optional<v1::Response> read = a->Call(ops::Read(12, name, kLatch));
  ASSERT_TRUE(Answered(read, grpc::StatusCode::OK));
  EXPECT_TRUE(read->state().broken());
  EXPECT_EQ(read->state().counts().at("b"), 0);
}

TEST_F(SessionTest, LeasesAreClampedToTheServerBounds) {
  StartBatond({"--shards=2", "--min_lease=2s", "--max_lease=5s", "--default_lease=3s"});
  ASSERT_STARTED();
  auto short_lease = NewSession("short", milliseconds(100));
  auto long_lease = NewSession("long", std::chrono::hours(1));
  auto default_lease = NewSession("default");
  ASSERT_OPENED(short_lease);
  ASSERT_OPENED(long_lease);
  ASSERT_OPENED(default_lease);
  EXPECT_EQ(FromDuration(short_lease->opened()->lease()), seconds(2));
  EXPECT_EQ(FromDuration(long_lease->opened()->lease()), seconds(5));
  EXPECT_EQ(FromDuration(default_lease->opened()->lease()), seconds(3));
}

// A message whose requests go to both shards is answered in one
// ServerMessage, rejections included: the stream waits for the part that
// runs last instead of writing each shard's answers as they come (which the
// client would answer with a message per write, doubling the messages).
TEST_F(SessionTest, AMessageSpanningShardsIsAnsweredInOneServerMessage) {
  StartBatond({"--shards=2"});
  ASSERT_STARTED();
  auto a = NewSession("a");
  ASSERT_OPENED(a);
  // Other sessions keep both shards busy, so that a's parts often find a
  // shard's turn taken and run after the other's.
  std::atomic<bool> stop{false};
  std::vector<std::thread> load;
  for (int t = 0; t < 3; ++t) {
    load.emplace_back([this, t, &stop] {
      auto busy = NewSession(absl::StrCat("busy", t));
      if (!busy->opened()) return;
      for (uint64_t id = 1; !stop.load(); id += 2) {
        const std::string name = absl::StrCat("busy/", t, "/", id % 16);
        if (!busy->Call(ops::Acquire(id, name, kLock)).has_value()) return;
        if (!busy->Call(ops::Release(id + 1, name, kLock)).has_value()) return;
      }
    });
  }
  constexpr int kRounds = 50;
  constexpr int kPerShard = 4;
  uint64_t id = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<v1::Request> requests;
    int on_shard[2] = {0, 0};
    for (int i = 0; on_shard[0] < kPerShard || on_shard[1] < kPerShard; ++i) {
      const std::string name = absl::StrCat("spread/", round, "/", i);
      int& count = on_shard[runtime::ShardIndexFor(name, 2)];
      if (count == kPerShard) continue;
      ++count;
      requests.push_back(ops::Acquire(++id, name, kLock));
    }
    requests.push_back(ops::Acquire(++id, "", kLock));  // rejected before any shard
    const uint64_t last = id;
    ASSERT_TRUE(a->Send(requests));
    for (uint64_t answered = last - 2 * kPerShard; answered < last; ++answered) {
      ASSERT_TRUE(Granted(a->WaitResponse(answered)));
    }
    ASSERT_TRUE(Answered(a->WaitResponse(last), grpc::StatusCode::INVALID_ARGUMENT, "name"));
  }
  stop = true;
  for (std::thread& thread : load) thread.join();
  const std::vector<int> answers = a->AnswersPerMessage();
  EXPECT_EQ(answers.size(), static_cast<size_t>(kRounds));
  for (size_t i = 0; i < answers.size(); ++i) {
    EXPECT_EQ(answers[i], 2 * kPerShard + 1) << "ServerMessage " << i;
  }
}

TEST_F(SessionTest, KeysLongerThanMaxKeyBytesAreRefused) {
  StartBatond({"--shards=2", "--max_key_bytes=16"});
  ASSERT_STARTED();
  const std::string too_long(17, 'k');
  auto a = NewSession("a");
  ASSERT_OPENED(a);
  EXPECT_EQ(a->opened()->limits().max_key_bytes(), 16u);
  EXPECT_TRUE(Answered(a->Call(ops::WithOwner(ops::Acquire(1, "t13/keys", kLock), too_long)),
                       grpc::StatusCode::INVALID_ARGUMENT, "owner_key"));
  ASSERT_TRUE(Granted(a->Call(ops::Acquire(2, "t13/keys-cond", kCondition))));
  EXPECT_TRUE(Answered(a->Call(ops::ConditionWait(3, "t13/keys-cond", too_long)),
                       grpc::StatusCode::INVALID_ARGUMENT, "condition_wait.key"));
  EXPECT_TRUE(Answered(a->Call(ops::Release(4, "t13/keys-cond", kCondition)),
                       grpc::StatusCode::OK));
  EXPECT_TRUE(Granted(a->Call(ops::WithOwner(ops::Acquire(5, "t13/keys", kLock),
                                              std::string(16, 'k')))));

  // A default owner key too long ends the stream.
  auto b = NewSession(too_long);
  EXPECT_FALSE(b->opened().has_value());
  const grpc::Status end = b->Finish();
  EXPECT_EQ(end.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(end.error_message(), "open.default_owner_key"))
      << end.error_message();
}

TEST_F(SessionTest, WaitsBeyondMaxWaitsPerSessionAreResourceExhausted) {
  StartBatond({"--shards=2", "--max_waits_per_session=2"});
  ASSERT_STARTED();
  const std::string name = "t13/waits";
  auto a = NewSession("a"), b = NewSession("b");
  ASSERT_OPENED(a);
  ASSERT_OPENED(b);
  ASSERT_TRUE(Granted(b->Call(ops::Acquire(1, name, kLock))));
  ASSERT_TRUE(a->Send(ops::WithOwner(ops::Acquire(1, name, kLock), "w1"),
                      ops::WithOwner(ops::Acquire(2, name, kLock), "w2")));
  ASSERT_TRUE(WaitForWaiters(name, 2));
  EXPECT_TRUE(Answered(a->Call(ops::WithOwner(ops::Acquire(3, name, kLock), "w3")),
                       grpc::StatusCode::RESOURCE_EXHAUSTED, "max_waits_per_session"));
  // What is not a wait still goes.
  EXPECT_TRUE(Answered(a->Call(ops::Read(4, name, kLock)), grpc::StatusCode::OK));
  ASSERT_TRUE(a->Send(ops::Cancel(5, 1)));
  EXPECT_TRUE(Answered(a->WaitResponse(1), grpc::StatusCode::CANCELLED));
  EXPECT_TRUE(Answered(a->WaitResponse(5), grpc::StatusCode::OK));
  EXPECT_TRUE(Answered(a->Call(ops::Acquire(6, "t13/waits-free", kLock)), grpc::StatusCode::OK));
}

TEST_F(SessionTest, AMessageLargerThanMaxMessageBytesEndsTheStreamResourceExhausted) {
  StartBatond({"--shards=2", "--max_message_bytes=4096"});
  ASSERT_STARTED();
  auto a = NewSession("a");
  ASSERT_OPENED(a);
  EXPECT_TRUE(Answered(a->Call(ops::Read(1, "t13/size", kLock)), grpc::StatusCode::OK));
  std::vector<v1::Request> many;
  for (uint64_t id = 10; id < 40; ++id) {
    many.push_back(ops::Read(id, absl::StrCat("t13/", std::string(200, 's'), id), kLock));
  }
  a->Send(std::move(many));  // ~6.5 kB
  ASSERT_TRUE(a->WaitEnded());
  EXPECT_TRUE(a->NoResponseYet(10));
  EXPECT_EQ(a->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(SessionTest, FairRateLimitNeverLetsANewcomerPassButUnfairServesTheSmallestFirst) {
  StartBatond();
  ASSERT_STARTED();
  auto a = NewSession("a");
  ASSERT_OPENED(a);
  for (bool fair : {true, false}) {
    SCOPED_TRACE(fair ? "fair" : "unfair");
    const std::string name = fair ? "t13/rate-fair" : "t13/rate-unfair";
    v1::InstanceConfig config;
    config.set_kind(v1::KIND_ADVANCED_RATE_LIMIT);
    config.mutable_rate_limit()->set_rate(10);
    config.mutable_rate_limit()->set_fair(fair);
    ASSERT_TRUE(Declare(name, config).ok());
    const uint64_t base = fair ? 100 : 200;
    // Empty the bucket, then queue 8 tokens (0.8 s of refill) and 1 token.
    ASSERT_TRUE(Answered(a->Call(ops::RateAcquire(base, name, 10.0)), grpc::StatusCode::OK));
    ASSERT_TRUE(a->Send(ops::RateAcquire(base + 1, name, 8.0)));
    ASSERT_TRUE(WaitForWaiters(name, 1));
    ASSERT_TRUE(a->Send(ops::RateAcquire(base + 2, name, 1.0)));
    if (fair) {
      EXPECT_TRUE(Answered(a->WaitResponse(base + 1), grpc::StatusCode::OK));
      EXPECT_TRUE(a->NoResponseYet(base + 2));
      EXPECT_TRUE(Answered(a->WaitResponse(base + 2), grpc::StatusCode::OK));
    } else {
      EXPECT_TRUE(Answered(a->WaitResponse(base + 2), grpc::StatusCode::OK));
      EXPECT_TRUE(a->NoResponseYet(base + 1));
      EXPECT_TRUE(Answered(a->WaitResponse(base + 1), grpc::StatusCode::OK));
    }
  }
}

TEST_F(SessionTest, ConditionWaitAllAndNotifyAllAcrossSessions) {
  StartBatond();
  ASSERT_STARTED();
  const std::string name = "t13/condition";
  auto a = NewSession("a"), b = NewSession("b"), c = NewSession("c");
  ASSERT_OPENED(a);
  ASSERT_OPENED(b);
  ASSERT_OPENED(c);
  ASSERT_TRUE(Granted(a->Call(ops::Acquire(1, name, kCondition))));
  ASSERT_TRUE(a->Send(ops::ConditionWait(2, name, "k1")));
  ASSERT_TRUE(Granted(b->Call(ops::Acquire(1, name, kCondition))));
  ASSERT_TRUE(b->Send(ops::ConditionWait(2, name, "k2")));
  ASSERT_TRUE(WaitForWaiters(name, 2));
  ASSERT_TRUE(c->Send(ops::WaitAll(1, name, kCondition)));
  ASSERT_TRUE(WaitForWaiters(name, 3));
  ASSERT_TRUE(Granted(c->Call(ops::Acquire(2, name, kCondition))));
  EXPECT_TRUE(c->NoResponseYet(1));
  std::optional<v1::Response> woken = c->Call(ops::NotifyAll(3, name));
  ASSERT_TRUE(Answered(woken, grpc::StatusCode::OK));
  EXPECT_EQ(woken->count(), 2);
  // Both were notified: the WaitAll is answered, though C still holds the lock.
  EXPECT_TRUE(Answered(c->WaitResponse(1), grpc::StatusCode::OK));
  EXPECT_TRUE(a->NoResponseYet(2));
  EXPECT_TRUE(b->NoResponseYet(2));
  ASSERT_TRUE(Answered(c->Call(ops::Release(4, name, kCondition)), grpc::StatusCode::OK));
  // Arrival order: A re-acquires first, then B.
  ASSERT_TRUE(Granted(a->WaitResponse(2)));
  EXPECT_TRUE(Answered(b->Call(ops::Read(3, name, kCondition)), grpc::StatusCode::OK));
  EXPECT_TRUE(b->NoResponseYet(2));
  ASSERT_TRUE(Answered(a->Call(ops::Release(3, name, kCondition)), grpc::StatusCode::OK));
  ASSERT_TRUE(Granted(b->WaitResponse(2)));
  ASSERT_TRUE(Answered(b->Call(ops::Release(4, name, kCondition)), grpc::StatusCode::OK));
}

TEST_F(SessionTest, DuringDrainPendingWaitsAreStillGrantedUntilGraceRunsOut) {
  StartBatond({"--shards=2", "--grace=3s"});
  ASSERT_STARTED();
  const std::string name = "t13/drain";
  auto a = NewSession("a"), b = NewSession("b");
  ASSERT_OPENED(a);
  ASSERT_OPENED(b);
  ASSERT_TRUE(Granted(b->Call(ops::Acquire(1, name, kLock))));
  ASSERT_TRUE(a->Send(ops::Acquire(1, name, kLock)));
  ASSERT_TRUE(WaitForWaiters(name, 1));
  batond_->Signal(SIGTERM);
  ASSERT_TRUE(a->WaitNotice(IsDraining));
  ASSERT_TRUE(b->WaitNotice(IsDraining));
  // B leaves: its stream ends OK and its lock goes to A's pending wait.
  b->HalfClose();
  const grpc::Status b_end = b->Finish();
  EXPECT_TRUE(b_end.ok()) << b_end.error_code() << " " << b_end.error_message();
  EXPECT_TRUE(Granted(a->WaitResponse(1, seconds(3))));
  ASSERT_TRUE(a->WaitEnded(seconds(8)));
  EXPECT_EQ(a->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  const int status = batond_->WaitExit(seconds(10));
  ASSERT_NE(status, -1) << batond_->log();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << batond_->log();
}

TEST_F(SessionTest, IdsNamesClientNamesAndTheFieldsOfAnswers) {
  StartBatond();
  ASSERT_STARTED();
  auto a = std::make_unique<SessionClient>(channel_);
  // 255 bytes, then a 2-byte character that crosses the 256-byte cut.
  ASSERT_TRUE(a->Open(std::string(255, 'c') + "\xc3\xa9" + std::string(40, 'c'), "a"));
  const uint32_t max_name_bytes = a->opened()->limits().max_name_bytes();
  ASSERT_GT(max_name_bytes, 3u);
  const std::string name = "t13/" + std::string(max_name_bytes - 4, 'n');  // at the limit

  // Id 0 is valid; only the fields of each answer are set.
  std::optional<v1::Response> held = a->Call(ops::Acquire(0, name, kLock));
  ASSERT_TRUE(Granted(held));
  EXPECT_FALSE(held->has_state());
  EXPECT_FALSE(held->has_tokens_left());
  EXPECT_FALSE(held->has_count());
  std::optional<v1::Response> read = a->Call(ops::Read(1, name, kLock));
  ASSERT_TRUE(Answered(read, grpc::StatusCode::OK));
  EXPECT_FALSE(read->has_fence());
  EXPECT_EQ(read->state().kind(), kLock);
  EXPECT_EQ(read->state().owner().client_name(), "");  // Describe only
  EXPECT_FALSE(read->state().has_tokens());
  EXPECT_FALSE(read->state().has_available());
  EXPECT_FALSE(read->state().has_broken());

  // Admin.Describe shows the holder, with its client name cut to at most 256
  // bytes, at a character boundary.
  std::optional<v1::DescribeResponse> described = Describe(name);
  ASSERT_TRUE(described);
  ASSERT_EQ(described->holders_size(), 1);
  EXPECT_EQ(described->holders(0).session_id(), a->opened()->session_id());
  EXPECT_EQ(described->holders(0).owner_key(), "a");
  EXPECT_EQ(described->holders(0).fence(), held->fence());
  EXPECT_EQ(described->holders(0).client_name(), std::string(255, 'c'));

  // Ids may be reused once answered.
  std::optional<v1::Response> released = a->Call(ops::Release(0, name, kLock));
  ASSERT_TRUE(Answered(released, grpc::StatusCode::OK));
  EXPECT_FALSE(released->has_fence());
  EXPECT_FALSE(released->has_state());
  EXPECT_TRUE(Answered(a->Call(ops::Read(0, name + "x", kLock)),
                       grpc::StatusCode::INVALID_ARGUMENT, "name"));
}

}  // namespace
}  // namespace baton::session_test

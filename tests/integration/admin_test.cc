// Copyright 2026 The Baton Authors.
//
// Integration tests of batond's Admin service and process behaviour, against
// a real batond on a loopback port with generated stubs.

#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "baton/v1/admin.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testing/batond_process.h"

namespace baton {
namespace {

using ::baton::testing::BatondProcess;

class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(batond_.started()) << batond_.log();
    channel_ = grpc::CreateChannel(batond_.address(), grpc::InsecureChannelCredentials());
    admin_ = v1::Admin::NewStub(channel_);
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return context;
  }

  grpc::Status Declare(const std::string& name, v1::InstanceConfig config,
                       v1::DeclareResponse* response = nullptr) {
    v1::DeclareRequest request;
    request.set_name(name);
    *request.mutable_config() = std::move(config);
    v1::DeclareResponse unused;
    return admin_->Declare(Context().get(), request, response ? response : &unused);
  }

  static v1::InstanceConfig RateLimit(double rate, double capacity) {
    v1::InstanceConfig config;
    config.set_kind(v1::KIND_ADVANCED_RATE_LIMIT);
    config.mutable_rate_limit()->set_rate(rate);
    config.mutable_rate_limit()->set_capacity(capacity);
    return config;
  }
  static v1::InstanceConfig Of(v1::Kind kind) {
    v1::InstanceConfig config;
    config.set_kind(kind);
    return config;
  }

  BatondProcess batond_{{"--shards=2"}};
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

TEST_F(AdminTest, HealthServiceAnswersServing) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(health->Check(Context().get(), request, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(AdminTest, DeclareIsIdempotentAndAConflictIsAClearError) {
  v1::DeclareResponse first, again;
  ASSERT_TRUE(Declare("api/limit", RateLimit(10, 20), &first).ok());
  EXPECT_TRUE(first.created());
  ASSERT_TRUE(Declare("api/limit", RateLimit(10, 20), &again).ok());
  EXPECT_FALSE(again.created());
  EXPECT_EQ(again.config().rate_limit().capacity(), 20);
  const grpc::Status other_params = Declare("api/limit", RateLimit(10, 30));
  EXPECT_EQ(other_params.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  const grpc::Status other_kind = Declare("api/limit", Of(v1::KIND_PRIORITY_LOCK));
  EXPECT_EQ(other_kind.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_TRUE(absl::StrContains(other_kind.error_message(), "AdvancedRateLimit"))
      << other_kind.error_message();
}

TEST_F(AdminTest, BadInputsGetErrorsNamingTheFieldAndTheServerGoesOn) {
  struct Case {
    std::string name;
    v1::InstanceConfig config;
    grpc::StatusCode code;
    std::string mentions;
  };
  v1::InstanceConfig nan_rate = RateLimit(std::nan(""), 1);
  v1::InstanceConfig no_params = Of(v1::KIND_ADVANCED_RATE_LIMIT);
  v1::InstanceConfig negative_value = Of(v1::KIND_PRIORITY_SEMAPHORE);
  negative_value.mutable_semaphore()->set_value(-1);
  v1::InstanceConfig wrong_params = Of(v1::KIND_PRIORITY_LOCK);
  wrong_params.mutable_latch();
  const std::vector<Case> cases = {
      {"", Of(v1::KIND_RLOCK), grpc::StatusCode::INVALID_ARGUMENT, "name"},
      {std::string(257, 'x'), Of(v1::KIND_RLOCK), grpc::StatusCode::INVALID_ARGUMENT, "256"},
      {"ctl\x01", Of(v1::KIND_RLOCK), grpc::StatusCode::INVALID_ARGUMENT, "control"},
      {"k", Of(v1::KIND_UNSPECIFIED), grpc::StatusCode::INVALID_ARGUMENT, "config.kind"},
      {"r", nan_rate, grpc::StatusCode::INVALID_ARGUMENT, "rate"},
      {"r", no_params, grpc::StatusCode::INVALID_ARGUMENT, "config.rate_limit"},
      {"s", negative_value, grpc::StatusCode::INVALID_ARGUMENT, "value"},
      {"l", wrong_params, grpc::StatusCode::INVALID_ARGUMENT, "config.latch"},
  };
  for (const Case& c : cases) {
    const grpc::Status status = Declare(c.name, c.config);
    EXPECT_EQ(status.error_code(), c.code) << c.mentions << ": " << status.error_message();
    EXPECT_TRUE(absl::StrContains(status.error_message(), c.mentions))
        << status.error_message();
  }
  // Invalid UTF-8 in a string field is refused by protobuf itself while
  // parsing, before Baton sees it: the call fails and changes nothing.
  EXPECT_FALSE(Declare("bad\xff", Of(v1::KIND_RLOCK)).ok());
  v1::DescribeRequest describe;
  describe.set_name("never/declared");
  v1::DescribeResponse described;
  EXPECT_EQ(admin_->Describe(Context().get(), describe, &described).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::ListRequest list;
  list.set_page_size(-1);
  v1::ListResponse listed;
  const grpc::Status bad_page = admin_->List(Context().get(), list, &listed);
  EXPECT_EQ(bad_page.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(bad_page.error_message(), "page_size"));
  // Nothing was created by the bad calls, and the server still serves.
  v1::ListRequest all;
  ASSERT_TRUE(admin_->List(Context().get(), all, &listed).ok());
  EXPECT_EQ(listed.instances_size(), 0);
  EXPECT_TRUE(Declare("fine", Of(v1::KIND_RLOCK)).ok());
}

TEST_F(AdminTest, ListPagesThroughEveryShardInNameOrder) {
  std::set<std::string> declared;
  for (int i = 0; i < 25; ++i) {
    const std::string name = absl::StrCat("jobs/", i < 10 ? "0" : "", i);
    ASSERT_TRUE(Declare(name, Of(i % 2 ? v1::KIND_RLOCK : v1::KIND_PRIORITY_LOCK)).ok());
    declared.insert(name);
  }
  ASSERT_TRUE(Declare("other/x", Of(v1::KIND_RLOCK)).ok());
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    v1::ListRequest request;
    request.set_prefix("jobs/");
    request.set_page_size(10);
    request.set_page_token(token);
    v1::ListResponse response;
    ASSERT_TRUE(admin_->List(Context().get(), request, &response).ok());
    for (const auto& instance : response.instances()) seen.push_back(instance.name());
    token = response.next_page_token();
    ASSERT_LT(++pages, 10);
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, std::vector<std::string>(declared.begin(), declared.end()));
  v1::ListRequest rlocks;
  rlocks.set_prefix("jobs/");
  rlocks.set_kind(v1::KIND_RLOCK);
  v1::ListResponse only;
  ASSERT_TRUE(admin_->List(Context().get(), rlocks, &only).ok());
  EXPECT_EQ(only.instances_size(), 12);
  for (const auto& instance : only.instances()) EXPECT_EQ(instance.kind(), v1::KIND_RLOCK);
}

TEST_F(AdminTest, ClientsSharingARateLimitGetNoMoreThanRateTimesTimePlusCapacity) {
  constexpr double kRate = 50, kCapacity = 10;
  ASSERT_TRUE(Declare("shared/limit", RateLimit(kRate, kCapacity)).ok());
  std::atomic<int> allowed{0}, refused{0}, bad_retry{0};
  const auto start = std::chrono::steady_clock::now();
  const auto stop = start + std::chrono::seconds(1);
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&] {
      auto stub = v1::Admin::NewStub(
          grpc::CreateChannel(batond_.address(), grpc::InsecureChannelCredentials()));
      while (std::chrono::steady_clock::now() < stop) {
        v1::TryAcquireRequest request;
        request.set_name("shared/limit");
        v1::TryAcquireResponse response;
        grpc::ClientContext context;
        if (!stub->TryAcquire(&context, request, &response).ok()) continue;
        if (response.allowed()) {
          ++allowed;
        } else {
          ++refused;
          const double retry =
              response.retry_after().seconds() + response.retry_after().nanos() * 1e-9;
          // At most one token's refill away (0 when it arrived between the
          // refusal and the measurement: retry now).
          if (!(retry >= 0 && retry <= 1.0 / kRate + 1e-6)) ++bad_retry;
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LE(allowed.load(), kCapacity + kRate * elapsed + 1) << "elapsed " << elapsed;
  EXPECT_GE(allowed.load(), kCapacity);  // the bucket starts full
  EXPECT_GT(refused.load(), 0);
  EXPECT_EQ(bad_retry.load(), 0);
}

TEST_F(AdminTest, SetRateSetBoundResetDescribeAndDelete) {
  ASSERT_TRUE(Declare("rl", RateLimit(1, 1)).ok());
  v1::SetRateRequest set_rate;
  set_rate.set_name("rl");
  set_rate.set_rate(5);
  v1::SetRateResponse rate;
  ASSERT_TRUE(admin_->SetRate(Context().get(), set_rate, &rate).ok());
  EXPECT_EQ(rate.rate(), 5);
  EXPECT_EQ(rate.capacity(), 5);  // capacity becomes max(capacity, rate)
  set_rate.set_rate(-1);
  EXPECT_EQ(admin_->SetRate(Context().get(), set_rate, &rate).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  v1::InstanceConfig dynamic = Of(v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE);
  dynamic.mutable_semaphore()->set_value(2);
  ASSERT_TRUE(Declare("sem", dynamic).ok());
  v1::SetBoundRequest set_bound;
  set_bound.set_name("sem");
  set_bound.set_bound(7);
  v1::SetBoundResponse bound;
  ASSERT_TRUE(admin_->SetBound(Context().get(), set_bound, &bound).ok());
  EXPECT_EQ(bound.bound(), 7);
  EXPECT_EQ(bound.available(), 7);
  set_bound.set_name("rl");  // the wrong kind
  const grpc::Status wrong = admin_->SetBound(Context().get(), set_bound, &bound);
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(wrong.error_message(), "AdvancedRateLimit"));

  v1::InstanceConfig priority = Of(v1::KIND_PRIORITY_SEMAPHORE);
  priority.mutable_semaphore()->set_value(3);
  ASSERT_TRUE(Declare("psem", priority).ok());
  v1::ResetRequest reset;
  reset.set_name("psem");
  v1::ResetResponse reset_response;
  ASSERT_TRUE(admin_->Reset(Context().get(), reset, &reset_response).ok());
  EXPECT_EQ(reset_response.available(), 3);

  v1::DescribeRequest describe;
  describe.set_name("sem");
  v1::DescribeResponse described;
  ASSERT_TRUE(admin_->Describe(Context().get(), describe, &described).ok());
  EXPECT_EQ(described.config().kind(), v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE);
  EXPECT_EQ(described.state().bound(), 7);
  describe.set_kind(v1::KIND_RLOCK);
  EXPECT_EQ(admin_->Describe(Context().get(), describe, &described).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  v1::DeleteRequest del;
  del.set_name("sem");
  v1::DeleteResponse deleted;
  ASSERT_TRUE(admin_->Delete(Context().get(), del, &deleted).ok());
  describe.set_kind(v1::KIND_UNSPECIFIED);
  EXPECT_EQ(admin_->Describe(Context().get(), describe, &described).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(admin_->Delete(Context().get(), del, &deleted).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // The name is free again, for another kind.
  EXPECT_TRUE(Declare("sem", Of(v1::KIND_RLOCK)).ok());
}

TEST_F(AdminTest, SigtermDrainsAndExitsZero) {
  const int status = batond_.SignalAndWait(SIGTERM, std::chrono::seconds(30));
  ASSERT_NE(status, -1) << "batond did not exit: " << batond_.log();
  ASSERT_TRUE(WIFEXITED(status)) << batond_.log();
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(absl::StrContains(batond_.log(), "draining")) << batond_.log();
  EXPECT_TRUE(absl::StrContains(batond_.log(), "stopped")) << batond_.log();
}

}  // namespace
}  // namespace baton

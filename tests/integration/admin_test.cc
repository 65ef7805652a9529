// Copyright 2026 The Baton Authors.
//
// Integration tests of batond's Admin service and process behaviour, against
// a real batond on a loopback port with generated stubs.

#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "baton/v1/admin.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testing/batond_process.h"
#include "tests/testing/session_client.h"

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
  // Invalid UTF-8 in a name: a bad request naming the field (the name is
  // bytes on the wire, so the parse does not fail before Baton sees it).
  const grpc::Status not_utf8 = Declare("bad\xff", Of(v1::KIND_RLOCK));
  EXPECT_EQ(not_utf8.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StartsWith(not_utf8.error_message(), "name must be valid UTF-8"))
      << not_utf8.error_message();
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

// ExpectRefused() checks an INVALID_ARGUMENT (or `code`) whose message starts
// with `starts_with`.
::testing::AssertionResult Refused(const grpc::Status& status, const std::string& starts_with,
                                   grpc::StatusCode code = grpc::StatusCode::INVALID_ARGUMENT) {
  if (status.error_code() != code) {
    return ::testing::AssertionFailure()
           << "expected code " << code << ", got " << status.error_code() << " "
           << status.error_message();
  }
  if (!absl::StartsWith(status.error_message(), starts_with)) {
    return ::testing::AssertionFailure()
           << "'" << status.error_message() << "' does not start with '" << starts_with << "'";
  }
  return ::testing::AssertionSuccess();
}

class AdminInputTest : public AdminTest {
 protected:
  // Every Admin call on `name`, each with valid arguments but the name.
  std::vector<std::pair<std::string, grpc::Status>> EveryCallOn(const std::string& name) {
    std::vector<std::pair<std::string, grpc::Status>> out;
    out.emplace_back("Declare", Declare(name, Of(v1::KIND_RLOCK)));
    {
      v1::DescribeRequest request;
      request.set_name(name);
      v1::DescribeResponse response;
      out.emplace_back("Describe", admin_->Describe(Context().get(), request, &response));
    }
    {
      v1::DeleteRequest request;
      request.set_name(name);
      v1::DeleteResponse response;
      out.emplace_back("Delete", admin_->Delete(Context().get(), request, &response));
    }
    {
      v1::SetRateRequest request;
      request.set_name(name);
      request.set_rate(5);
      v1::SetRateResponse response;
      out.emplace_back("SetRate", admin_->SetRate(Context().get(), request, &response));
    }
    {
      v1::SetBoundRequest request;
      request.set_name(name);
      request.set_bound(5);
      v1::SetBoundResponse response;
      out.emplace_back("SetBound", admin_->SetBound(Context().get(), request, &response));
    }
    {
      v1::ResetRequest request;
      request.set_name(name);
      v1::ResetResponse response;
      out.emplace_back("Reset", admin_->Reset(Context().get(), request, &response));
    }
    {
      v1::TryAcquireRequest request;
      request.set_name(name);
      v1::TryAcquireResponse response;
      out.emplace_back("TryAcquire", admin_->TryAcquire(Context().get(), request, &response));
    }
    return out;
  }

  std::vector<std::string> ListedNames() {
    v1::ListRequest request;
    v1::ListResponse response;
    EXPECT_TRUE(admin_->List(Context().get(), request, &response).ok());
    std::vector<std::string> names;
    for (const auto& instance : response.instances()) names.push_back(instance.name());
    return names;
  }

  std::optional<v1::DescribeResponse> Describe(const std::string& name) {
    v1::DescribeRequest request;
    request.set_name(name);
    v1::DescribeResponse response;
    if (!admin_->Describe(Context().get(), request, &response).ok()) return std::nullopt;
    return response;
  }
};

// Issue 17: text that is not UTF-8 used to fail the parse of the request
// (UNIMPLEMENTED, empty message) before Baton saw it.
TEST_F(AdminInputTest, InvalidUtf8IsInvalidArgumentNamingTheFieldInEveryCall) {
  // The DescribeRequest, byte for byte: 0a 03 61 ff 62.
  v1::DescribeRequest wire;
  ASSERT_TRUE(wire.ParseFromString(std::string("\x0a\x03\x61\xff\x62", 5)));
  v1::DescribeResponse described;
  EXPECT_TRUE(Refused(admin_->Describe(Context().get(), wire, &described),
                      "name must be valid UTF-8: invalid lead byte 0xFF at byte offset 1"));
  for (const auto& [call, status] : EveryCallOn("a\xff" "b")) {
    EXPECT_TRUE(Refused(status, "name must be valid UTF-8")) << call;
  }
  v1::ListRequest list;
  v1::ListResponse listed;
  list.set_prefix("jobs/\xc3");
  EXPECT_TRUE(Refused(admin_->List(Context().get(), list, &listed),
                      "prefix must be valid UTF-8: truncated sequence at byte offset 5"));
  list.set_prefix("jobs/");
  list.set_page_token("jobs/\xfe");
  EXPECT_TRUE(Refused(admin_->List(Context().get(), list, &listed),
                      "page_token must be valid UTF-8"));
  ASSERT_TRUE(Declare("jobs/x", Of(v1::KIND_RLOCK)).ok());
  v1::DeleteRequest del;
  del.set_name("jobs/x");
  del.set_reason("bad \xed\xa0\x80 reason");
  v1::DeleteResponse deleted;
  EXPECT_TRUE(Refused(admin_->Delete(Context().get(), del, &deleted),
                      "reason must be valid UTF-8: surrogate U+D800"));
  // Nothing changed (jobs/x is still there), and the server goes on.
  EXPECT_EQ(ListedNames(), std::vector<std::string>{"jobs/x"});
  del.set_reason("done");
  EXPECT_TRUE(admin_->Delete(Context().get(), del, &deleted).ok());
  EXPECT_TRUE(ListedNames().empty());
}

// A Delete reason is cut to 256 bytes at a character boundary: the notice
// that carries it to the holder stays UTF-8 (Status.message is a string),
// so the holder's session can parse it and goes on.
TEST_F(AdminInputTest, ALongDeleteReasonIsCutAtACharacterBoundary) {
  testing::SessionClient holder(channel_);
  holder.Open("admin_test/holder", "o");
  ASSERT_TRUE(holder.opened().has_value()) << holder.Finish().error_message();
  std::optional<v1::Response> granted =
      holder.Call(testing::ops::Acquire(1, "jobs/cut", v1::KIND_RLOCK));
  ASSERT_TRUE(granted && granted->status().code() == 0) << granted->ShortDebugString();
  v1::DeleteRequest del;
  del.set_name("jobs/cut");
  std::string reason = "x";
  for (int i = 0; i < 200; ++i) reason += "é";  // 1 + 400 bytes: 256 falls mid-character
  del.set_reason(reason);
  v1::DeleteResponse deleted;
  ASSERT_TRUE(admin_->Delete(Context().get(), del, &deleted).ok());
  EXPECT_EQ(deleted.revoked_holds(), 1);
  std::optional<v1::Notice> revoked =
      holder.WaitNotice([](const v1::Notice& n) { return n.has_hold_revoked(); });
  ASSERT_TRUE(revoked.has_value()) << "no HoldRevoked: " << holder.Finish().error_message();
  EXPECT_EQ(revoked->hold_revoked().reason().message(),
            "instance 'jobs/cut' deleted: " + reason.substr(0, 255));
  // The session goes on.
  std::optional<v1::Response> again =
      holder.Call(testing::ops::Acquire(2, "jobs/cut", v1::KIND_RLOCK));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status().code(), 0) << again->ShortDebugString();
}

TEST_F(AdminInputTest, DeclareErrorsNameTheWholePathOfTheField) {
  v1::InstanceConfig nan_rate = RateLimit(std::nan(""), 1);
  v1::InstanceConfig inf_rate = RateLimit(std::numeric_limits<double>::infinity(), 1);
  v1::InstanceConfig bad_capacity = RateLimit(1, -2);
  v1::InstanceConfig negative_value = Of(v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE);
  negative_value.mutable_semaphore()->set_value(-1);
  v1::InstanceConfig negative_priority_value = Of(v1::KIND_PRIORITY_SEMAPHORE);
  negative_priority_value.mutable_semaphore()->set_value(-3);
  v1::InstanceConfig negative_count = Of(v1::KIND_MULTI_COUNT_DOWN_LATCH);
  {
    auto* entry = negative_count.mutable_latch()->add_counts();
    entry->set_key("ok");
    entry->set_value(2);
  }
  {
    auto* entry = negative_count.mutable_latch()->add_counts();
    entry->set_key("db");
    entry->set_value(-1);
  }
  v1::InstanceConfig empty_key = Of(v1::KIND_MULTI_COUNT_DOWN_LATCH);
  {
    auto* entry = empty_key.mutable_latch()->add_counts();
    entry->set_key("");
    entry->set_value(1);
  }
  // Latch keys travel as bytes: one that is not UTF-8 reaches batond,
  // which names it (before, the whole request failed to parse).
  const auto latch_with = [](std::vector<std::pair<std::string, std::int64_t>> counts) {
    v1::InstanceConfig config = Of(v1::KIND_MULTI_COUNT_DOWN_LATCH);
    for (const auto& [key, count] : counts) {
      v1::LatchParams::Count* entry = config.mutable_latch()->add_counts();
      entry->set_key(key);
      entry->set_value(count);
    }
    return config;
  };
  const v1::InstanceConfig not_utf8 = latch_with({{"ok", 1}, {"a\xff" "b", 1}});
  const v1::InstanceConfig too_long = latch_with({{std::string(300, 'k'), 1}});
  const v1::InstanceConfig twice = latch_with({{"db", 1}, {"db", 2}});
  const std::pair<v1::InstanceConfig, std::string> cases[] = {
      {not_utf8, "config.latch.counts[\"a\\xff\\x62\"] must be valid UTF-8"},
      {too_long, absl::StrCat("config.latch.counts[\"", std::string(32, 'k'),
                              "\"]...: keys must be at most 256 bytes (max_key_bytes), got 300")},
      {twice, "config.latch.counts[\"db\"]: each key once, got it twice"},
      {nan_rate, "config.rate_limit.rate: must be finite and > 0, got nan"},
      {inf_rate, "config.rate_limit.rate: must be finite and > 0, got inf"},
      {bad_capacity, "config.rate_limit.capacity: must be finite and > 0, got -2"},
      {negative_value, "config.semaphore.value: must be >= 0, got -1"},
      {negative_priority_value, "config.semaphore.value: must be >= 0, got -3"},
      {negative_count,
       "config.latch.counts[\"db\"]: must be >= 0 (0 starts the counter finished), got -1"},
      {empty_key, "config.latch.counts[\"\"]: keys must be non-empty"},
  };
  for (const auto& [config, message] : cases) {
    EXPECT_TRUE(Refused(Declare("jobs/bad", config), message)) << config.ShortDebugString();
  }
  // Nothing was created, and the server goes on.
  EXPECT_TRUE(ListedNames().empty());
  v1::InstanceConfig latch = Of(v1::KIND_MULTI_COUNT_DOWN_LATCH);
  {
    auto* entry = latch.mutable_latch()->add_counts();
    entry->set_key("db");
    entry->set_value(0);
  }
  v1::DeclareResponse declared;
  ASSERT_TRUE(Declare("jobs/bad", latch, &declared).ok());
  EXPECT_TRUE(declared.created());
}

TEST_F(AdminInputTest, SetAndTryAcquireParametersAreRefusedNamingTheFieldAndChangeNothing) {
  ASSERT_TRUE(Declare("api/limit", RateLimit(10, 10)).ok());
  v1::InstanceConfig dynamic = Of(v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE);
  dynamic.mutable_semaphore()->set_value(4);
  ASSERT_TRUE(Declare("downstream/db", dynamic).ok());

  v1::SetRateRequest set_rate;
  set_rate.set_name("api/limit");
  v1::SetRateResponse rate;
  set_rate.set_rate(std::nan(""));
  EXPECT_TRUE(Refused(admin_->SetRate(Context().get(), set_rate, &rate),
                      "rate: must be finite and > 0, got nan"));
  set_rate.set_rate(0);
  EXPECT_TRUE(Refused(admin_->SetRate(Context().get(), set_rate, &rate),
                      "rate: must be finite and > 0, got 0"));
  v1::SetBoundRequest set_bound;
  set_bound.set_name("downstream/db");
  set_bound.set_bound(-1);
  v1::SetBoundResponse bound;
  EXPECT_TRUE(Refused(admin_->SetBound(Context().get(), set_bound, &bound),
                      "bound: must be >= 0, got -1"));
  v1::TryAcquireRequest try_acquire;
  try_acquire.set_name("api/limit");
  try_acquire.set_tokens(std::nan(""));
  v1::TryAcquireResponse tried;
  EXPECT_TRUE(Refused(admin_->TryAcquire(Context().get(), try_acquire, &tried),
                      "tokens: must be finite and > 0, got nan"));
  try_acquire.set_tokens(11);
  EXPECT_TRUE(Refused(admin_->TryAcquire(Context().get(), try_acquire, &tried),
                      "tokens must be finite and in (0, capacity=10], got 11"));

  // Nothing changed, and the server goes on.
  std::optional<v1::DescribeResponse> limit = Describe("api/limit");
  ASSERT_TRUE(limit);
  EXPECT_EQ(limit->state().rate(), 10);
  EXPECT_EQ(limit->state().tokens(), 10);
  std::optional<v1::DescribeResponse> db = Describe("downstream/db");
  ASSERT_TRUE(db);
  EXPECT_EQ(db->state().bound(), 4);
  try_acquire.set_tokens(1);
  ASSERT_TRUE(admin_->TryAcquire(Context().get(), try_acquire, &tried).ok());
  EXPECT_TRUE(tried.allowed());
}

// "The first hour of an operator": the names that were accepted.
TEST_F(AdminInputTest, NamesOutsideTheGrammarAreRefusedByEveryCallNamingTheRule) {
  const std::pair<std::string, std::string> cases[] = {
      {"jobs/nightly ", "name must not contain whitespace, got U+0020 at byte offset 12"},
      {"my lock", "name must not contain whitespace, got U+0020 at byte offset 2"},
      {"a//b", "name must not contain an empty segment ('//' at byte offset 1)"},
      {"/leading", "name must not start with '/'"},
      {"trailing/", "name must not end with '/'"},
      {"jobs/./x", "name must not contain a '.' segment"},
      {"nb\xC2\xA0space", "name must not contain whitespace, got U+00A0"},
      {"\xEF\xBB\xBFjobs", "name must not contain invisible format characters, got U+FEFF"},
  };
  for (const auto& [name, rule] : cases) {
    for (const auto& [call, status] : EveryCallOn(name)) {
      EXPECT_TRUE(Refused(status, rule)) << call << " of '" << name << "'";
    }
  }
  // Nothing was created; the grammar's own jobs/nightly is one name.
  EXPECT_TRUE(ListedNames().empty());
  ASSERT_TRUE(Declare("jobs/nightly", Of(v1::KIND_RLOCK)).ok());
  EXPECT_TRUE(Refused(Declare("jobs/nightly ", Of(v1::KIND_RLOCK)), "name must not contain"));
  EXPECT_EQ(ListedNames(), std::vector<std::string>{"jobs/nightly"});
}

// Declared versus live values: Declare compares with what Describe shows.
TEST_F(AdminInputTest, DeclareMatchingTheLiveBoundOrRateIsANoOpAndAConflictNamesBothValues) {
  v1::InstanceConfig dynamic = Of(v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE);
  dynamic.mutable_semaphore()->set_value(4);
  ASSERT_TRUE(Declare("downstream/db", dynamic).ok());
  v1::SetBoundRequest set_bound;
  set_bound.set_name("downstream/db");
  set_bound.set_bound(8);
  v1::SetBoundResponse bound;
  ASSERT_TRUE(admin_->SetBound(Context().get(), set_bound, &bound).ok());
  std::optional<v1::DescribeResponse> described = Describe("downstream/db");
  ASSERT_TRUE(described);
  EXPECT_EQ(described->state().bound(), 8);
  EXPECT_EQ(described->config().semaphore().value(), 8);

  v1::InstanceConfig as_described = Of(v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE);
  as_described.mutable_semaphore()->set_value(8);
  v1::DeclareResponse declared;
  ASSERT_TRUE(Declare("downstream/db", as_described, &declared).ok());
  EXPECT_FALSE(declared.created());
  EXPECT_EQ(declared.config().semaphore().value(), 8);
  // As first declared: a no-op too (the declaring service restarts).
  ASSERT_TRUE(Declare("downstream/db", dynamic, &declared).ok());
  EXPECT_FALSE(declared.created());
  EXPECT_EQ(declared.config().semaphore().value(), 8);
  v1::InstanceConfig other = Of(v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE);
  other.mutable_semaphore()->set_value(5);
  EXPECT_TRUE(Refused(Declare("downstream/db", other),
                      "name 'downstream/db' already exists as DynamicBoundedSemaphore(value=8); "
                      "cannot declare it as DynamicBoundedSemaphore(value=5): value is 8 now "
                      "(its bound; declared 4), asked 5",
                      grpc::StatusCode::ALREADY_EXISTS));
  described = Describe("downstream/db");
  ASSERT_TRUE(described);
  EXPECT_EQ(described->state().bound(), 8);
  EXPECT_EQ(described->state().available(), 8);

  ASSERT_TRUE(Declare("api/limit", RateLimit(10, 10)).ok());
  v1::SetRateRequest set_rate;
  set_rate.set_name("api/limit");
  set_rate.set_rate(20);
  v1::SetRateResponse rate;
  ASSERT_TRUE(admin_->SetRate(Context().get(), set_rate, &rate).ok());
  v1::InstanceConfig rate_only = Of(v1::KIND_ADVANCED_RATE_LIMIT);
  rate_only.mutable_rate_limit()->set_rate(20);
  ASSERT_TRUE(Declare("api/limit", rate_only, &declared).ok());
  EXPECT_FALSE(declared.created());
  EXPECT_EQ(declared.config().rate_limit().capacity(), 20);
  ASSERT_TRUE(Declare("api/limit", RateLimit(10, 10), &declared).ok());  // as first declared
  const grpc::Status conflict = Declare("api/limit", RateLimit(15, 15));
  EXPECT_TRUE(Refused(conflict, "name 'api/limit' already exists as AdvancedRateLimit(rate=20",
                      grpc::StatusCode::ALREADY_EXISTS));
  EXPECT_TRUE(absl::StrContains(
      conflict.error_message(),
      "rate is 20 now (declared 10), asked 15; capacity is 20 now (declared 10), asked 15"))
      << conflict.error_message();
  std::optional<v1::DescribeResponse> limit = Describe("api/limit");
  ASSERT_TRUE(limit);
  EXPECT_EQ(limit->state().rate(), 20);
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

// Copyright 2026 The Baton Authors.
//
// Envoy's rate-limit service on a real batond: a gRPC client built from the
// Envoy protos (proto/envoy/...) against batond started with a rules file
// written here. Limits are per minute or per hour, so the refill during a
// test (milliseconds) never moves a floor: every count below is exact.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "baton/v1/admin.grpc.pb.h"
#include "envoy/service/ratelimit/v3/rls.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testing/batond_process.h"

namespace baton {
namespace {

using envoy::service::ratelimit::v3::RateLimitRequest;
using envoy::service::ratelimit::v3::RateLimitResponse;
using envoy::service::ratelimit::v3::RateLimitService;
using testing::BatondProcess;

constexpr std::uint32_t kUnlimitedRemaining = 4294967295u;

constexpr char kRules[] = R"(domain: edge
descriptors:
  - key: path
    value: /login
    rate_limit: {unit: minute, requests_per_unit: 3}
  - key: a
    rate_limit: {unit: hour, requests_per_unit: 5}
  - key: b
    rate_limit: {unit: hour, requests_per_unit: 2}
  - key: bulk
    rate_limit: {unit: hour, requests_per_unit: 10}
  - key: shadow
    shadow_mode: true
    rate_limit: {unit: hour, requests_per_unit: 1}
  - key: remote_address
    rate_limit: {unit: hour, requests_per_unit: 4}
  - key: remote_address
    value: 10.0.0.1
    rate_limit: {unit: hour, requests_per_unit: 1}
  - key: api
    value: /v1/*
    descriptors:
      - key: user
        rate_limit: {unit: hour, requests_per_unit: 6}
  - key: internal
    rate_limit: {unlimited: true}
  - key: hand
    rate_limit: {unit: hour, requests_per_unit: 2}
  - key: keep
    rate_limit: {unit: hour, requests_per_unit: 5}
  - key: change
    rate_limit: {unit: hour, requests_per_unit: 10}
)";

// A descriptor as (key, value) pairs.
using Descriptor = std::vector<std::pair<std::string, std::string>>;

class RlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char path[] = "/tmp/rls-test-XXXXXX";
    ASSERT_NE(mkdtemp(path), nullptr);
    dir_ = path;
    rules_ = dir_ + "/rules.yaml";
    WriteRules(kRules);
  }
  void TearDown() override {
    batond_.reset();
    std::filesystem::remove_all(dir_);
  }

  void WriteRules(const std::string& text) {
    // Write aside and rename: a reload never sees half a file.
    const std::string temporary = rules_ + ".tmp";
    std::ofstream(temporary) << text;
    std::filesystem::rename(temporary, rules_);
  }

  void Start(std::vector<std::string> flags = {}) {
    flags.push_back("--rls_config=" + rules_);
    flags.push_back("--shards=2");
    batond_ = std::make_unique<BatondProcess>(flags);
    ASSERT_TRUE(batond_->started()) << batond_->log();
    channel_ = grpc::CreateChannel(batond_->address(), grpc::InsecureChannelCredentials());
    rls_ = RateLimitService::NewStub(channel_);
  }

  grpc::Status Call(const RateLimitRequest& request, RateLimitResponse* response,
                    RateLimitService::Stub* stub = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return (stub != nullptr ? stub : rls_.get())->ShouldRateLimit(&context, request, response);
  }

  static RateLimitRequest Request(const std::vector<Descriptor>& descriptors,
                                  std::uint32_t hits = 0, const std::string& domain = "edge") {
    RateLimitRequest request;
    request.set_domain(domain);
    request.set_hits_addend(hits);
    for (const Descriptor& descriptor : descriptors) {
      auto* d = request.add_descriptors();
      for (const auto& [key, value] : descriptor) {
        auto* entry = d->add_entries();
        entry->set_key(key);
        entry->set_value(value);
      }
    }
    return request;
  }

  // Ask() sends one request and expects an answer (not an RPC error).
  RateLimitResponse Ask(const std::vector<Descriptor>& descriptors, std::uint32_t hits = 0,
                        const std::string& domain = "edge") {
    RateLimitResponse response;
    const grpc::Status status = Call(Request(descriptors, hits, domain), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.statuses_size(), static_cast<int>(descriptors.size()));
    return response;
  }

  static std::string Header(const RateLimitResponse& response, const std::string& key) {
    for (const auto& header : response.response_headers_to_add()) {
      if (header.key() == key) return header.value();
    }
    return "(none)";
  }

  // WaitForLog() waits until `text` occurs in batond's log `count` times.
  bool WaitForLog(const std::string& text, int count = 1) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string log = batond_->log();
      int found = 0;
      for (std::size_t at = log.find(text); at != std::string::npos;
           at = log.find(text, at + 1)) {
        ++found;
      }
      if (found >= count) return true;
      usleep(20'000);  // polling another process's log, not timing logic
    }
    return false;
  }

  int CountInLog(const std::string& text) {
    const std::string log = batond_->log();
    int found = 0;
    for (std::size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) {
      ++found;
    }
    return found;
  }

  std::string dir_;
  std::string rules_;
  std::unique_ptr<BatondProcess> batond_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<RateLimitService::Stub> rls_;
};

TEST_F(RlsTest, ALimitIsHitAtItsConfiguredCount) {
  Start();
  for (std::uint32_t left : {2u, 1u, 0u}) {
    RateLimitResponse r = Ask({{{"path", "/login"}}});
    EXPECT_EQ(r.overall_code(), RateLimitResponse::OK);
    const auto& status = r.statuses(0);
    EXPECT_EQ(status.code(), RateLimitResponse::OK);
    EXPECT_EQ(status.current_limit().requests_per_unit(), 3u);
    EXPECT_EQ(status.current_limit().unit(), RateLimitResponse::RateLimit::MINUTE);
    EXPECT_EQ(status.limit_remaining(), left);
    // Time to a full bucket: one token per 20 s, (3 - left) missing.
    EXPECT_NEAR(status.duration_until_reset().seconds(), 20 * (3 - left), 1);
    EXPECT_EQ(Header(r, "x-ratelimit-limit"), "3");
    EXPECT_EQ(Header(r, "x-ratelimit-remaining"), absl::StrCat(left));
  }
  RateLimitResponse over = Ask({{{"path", "/login"}}});
  EXPECT_EQ(over.overall_code(), RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(over.statuses(0).code(), RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(over.statuses(0).limit_remaining(), 0u);
  EXPECT_EQ(Header(over, "x-ratelimit-remaining"), "0");
  EXPECT_EQ(Header(over, "x-ratelimit-reset"), "60");  // seconds to a full bucket, rounded up
}

TEST_F(RlsTest, HitsAddendChargesThatManyAndZeroMeansOne) {
  Start();
  EXPECT_EQ(Ask({{{"bulk", "x"}}}, 4).statuses(0).limit_remaining(), 6u);
  RateLimitResponse over = Ask({{{"bulk", "x"}}}, 7);
  EXPECT_EQ(over.overall_code(), RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(Ask({{{"bulk", "x"}}}, 0).statuses(0).limit_remaining(), 5u);  // 7 took nothing
  // More than the capacity can never fit: over limit, nothing taken.
  EXPECT_EQ(Ask({{{"bulk", "x"}}}, 11).overall_code(), RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(Ask({{{"bulk", "x"}}}, 5).statuses(0).limit_remaining(), 0u);
}

TEST_F(RlsTest, DescriptorsAreDecidedAtomically) {
  Start();
  // Both fit: both charged 2.
  RateLimitResponse both = Ask({{{"a", "1"}}, {{"b", "1"}}}, 2);
  EXPECT_EQ(both.overall_code(), RateLimitResponse::OK);
  EXPECT_EQ(both.statuses(0).limit_remaining(), 3u);
  EXPECT_EQ(both.statuses(1).limit_remaining(), 0u);
  // b is over: the request is over, and a is not charged.
  RateLimitResponse refused = Ask({{{"a", "1"}}, {{"b", "1"}}});
  EXPECT_EQ(refused.overall_code(), RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(refused.statuses(0).code(), RateLimitResponse::OK);
  EXPECT_EQ(refused.statuses(0).limit_remaining(), 3u);
  EXPECT_EQ(refused.statuses(1).code(), RateLimitResponse::OVER_LIMIT);
  // The headers name the over-limit descriptor.
  EXPECT_EQ(Header(refused, "x-ratelimit-limit"), "2");
  EXPECT_EQ(Header(refused, "x-ratelimit-remaining"), "0");
  // a alone: still 3 before this one.
  EXPECT_EQ(Ask({{{"a", "1"}}}).statuses(0).limit_remaining(), 2u);
  // The same bucket twice in one request needs twice the hits.
  RateLimitResponse twice = Ask({{{"a", "1"}}, {{"a", "1"}}}, 2);
  EXPECT_EQ(twice.overall_code(), RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(Ask({{{"a", "1"}}}).statuses(0).limit_remaining(), 1u);
}

// More descriptors than the plan searches linearly (8): the buckets are
// found by a hash map, a repeated one is still one bucket charged twice.
// And the calls' pooled state (rls_service.h: the message allocator) never
// carries one request's statuses, headers or buckets into the next.
TEST_F(RlsTest, ManyDescriptorsAndPooledCallsAnswerEachRequestAlone) {
  Start();
  std::vector<Descriptor> many;
  for (int i = 0; i < 11; ++i) many.push_back({{"bulk", absl::StrCat("v", i % 10)}});
  RateLimitResponse first = Ask(many, 4);
  ASSERT_EQ(first.statuses_size(), 11);
  EXPECT_EQ(first.overall_code(), RateLimitResponse::OK);
  EXPECT_EQ(first.statuses(0).limit_remaining(), 2u);  // v0 twice: 8 of 10
  EXPECT_EQ(first.statuses(1).limit_remaining(), 6u);
  EXPECT_EQ(first.statuses(10).limit_remaining(), 2u);
  EXPECT_EQ(Header(first, "x-ratelimit-remaining"), "2");
  // v0 has 2 left: 4 more for each of its two descriptors is over, and
  // nothing is charged.
  RateLimitResponse over = Ask(many, 4);
  EXPECT_EQ(over.overall_code(), RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(over.statuses(0).code(), RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(over.statuses(1).code(), RateLimitResponse::OK);
  EXPECT_EQ(over.statuses(1).limit_remaining(), 6u);
  // Smaller requests after the large ones: their own statuses only, and no
  // headers when no descriptor is limited.
  for (int round = 0; round < 20; ++round) {
    RateLimitResponse unlimited = Ask({{{"internal", "x"}}});
    ASSERT_EQ(unlimited.statuses_size(), 1);
    EXPECT_EQ(unlimited.statuses(0).limit_remaining(), kUnlimitedRemaining);
    EXPECT_FALSE(unlimited.statuses(0).has_current_limit());
    EXPECT_EQ(unlimited.response_headers_to_add_size(), 0);
    RateLimitResponse one = Ask({{{"bulk", "v5"}}});
    ASSERT_EQ(one.statuses_size(), 1);
    EXPECT_EQ(one.statuses(0).current_limit().requests_per_unit(), 10u);
    EXPECT_EQ(one.response_headers_to_add_size(), 3);
  }
  // v5 had 6 left: the rounds took them, the rest were refused.
  RateLimitResponse last = Ask({{{"bulk", "v5"}}});
  EXPECT_EQ(last.overall_code(), RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(last.statuses(0).limit_remaining(), 0u);
  EXPECT_EQ(Header(last, "x-ratelimit-remaining"), "0");
}

TEST_F(RlsTest, ShadowModeAnswersOkButCounts) {
  Start();
  RateLimitResponse first = Ask({{{"shadow", "s"}}});
  EXPECT_EQ(first.overall_code(), RateLimitResponse::OK);
  EXPECT_EQ(first.statuses(0).limit_remaining(), 0u);  // counted
  RateLimitResponse second = Ask({{{"shadow", "s"}}});
  EXPECT_EQ(second.overall_code(), RateLimitResponse::OK);
  EXPECT_EQ(second.statuses(0).code(), RateLimitResponse::OK);
  EXPECT_EQ(second.statuses(0).current_limit().requests_per_unit(), 1u);
  // A shadow descriptor over its limit does not stop the others.
  RateLimitResponse mixed = Ask({{{"shadow", "s"}}, {{"a", "shadowed"}}});
  EXPECT_EQ(mixed.overall_code(), RateLimitResponse::OK);
  EXPECT_EQ(mixed.statuses(1).limit_remaining(), 4u);
}

// envoyproxy/ratelimit's SHADOW_MODE and its header settings, as flags.
TEST_F(RlsTest, GlobalShadowModeAndTheHeaderSettings) {
  Start({"--rls_shadow_mode", "--rls_header_limit=RateLimit-Limit",
         "--rls_header_remaining=RateLimit-Remaining", "--rls_header_reset=RateLimit-Reset"});
  for (int i = 0; i < 3; ++i) Ask({{{"path", "/login"}}});
  // Over its limit: answered OK, but the status says OVER_LIMIT.
  RateLimitResponse over = Ask({{{"path", "/login"}}});
  EXPECT_EQ(over.overall_code(), RateLimitResponse::OK);
  EXPECT_EQ(over.statuses(0).code(), RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(Header(over, "RateLimit-Remaining"), "0");
  EXPECT_EQ(Header(over, "RateLimit-Limit"), "3");
  EXPECT_EQ(Header(over, "x-ratelimit-limit"), "(none)");
  batond_.reset();

  Start({"--rls_response_headers=false"});
  RateLimitResponse quiet = Ask({{{"path", "/login"}}});
  EXPECT_EQ(quiet.response_headers_to_add_size(), 0);
  batond_.reset();

  // A header name that is not an HTTP token is refused at start.
  BatondProcess bad({"--rls_header_reset=Rate Limit"});
  EXPECT_FALSE(bad.started());
  const int status = bad.WaitExit(std::chrono::seconds(30));
  ASSERT_TRUE(WIFEXITED(status)) << bad.log();
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_TRUE(absl::StrContains(bad.log(), "--rls_header_reset")) << bad.log();
}

TEST_F(RlsTest, NestedDescriptorsWildcardsAndDefaultValues) {
  Start();
  // Exact value beats the default.
  RateLimitResponse exact = Ask({{{"remote_address", "10.0.0.1"}}});
  EXPECT_EQ(exact.statuses(0).current_limit().requests_per_unit(), 1u);
  // The default: one bucket per value.
  EXPECT_EQ(Ask({{{"remote_address", "10.0.0.2"}}}).statuses(0).limit_remaining(), 3u);
  EXPECT_EQ(Ask({{{"remote_address", "10.0.0.2"}}}).statuses(0).limit_remaining(), 2u);
  EXPECT_EQ(Ask({{{"remote_address", "10.0.0.3"}}}).statuses(0).limit_remaining(), 3u);
  // Nested under a wildcard value.
  RateLimitResponse nested = Ask({{{"api", "/v1/items"}, {"user", "bob"}}});
  EXPECT_EQ(nested.statuses(0).current_limit().requests_per_unit(), 6u);
  EXPECT_EQ(nested.statuses(0).current_limit().unit(), RateLimitResponse::RateLimit::HOUR);
  EXPECT_EQ(nested.statuses(0).limit_remaining(), 5u);
  // Not matching the wildcard, or stopping short of the nested rule: no limit.
  RateLimitResponse other = Ask({{{"api", "/v2/items"}, {"user", "bob"}}});
  EXPECT_FALSE(other.statuses(0).has_current_limit());
  EXPECT_FALSE(Ask({{{"api", "/v1/items"}}}).statuses(0).has_current_limit());
}

TEST_F(RlsTest, UnlimitedUnknownDomainAndNoMatchAreOk) {
  Start();
  for (int i = 0; i < 3; ++i) {
    RateLimitResponse unlimited = Ask({{{"internal", "x"}}});
    EXPECT_EQ(unlimited.overall_code(), RateLimitResponse::OK);
    EXPECT_EQ(unlimited.statuses(0).limit_remaining(), kUnlimitedRemaining);
    EXPECT_FALSE(unlimited.statuses(0).has_current_limit());
  }
  RateLimitResponse unknown = Ask({{{"path", "/login"}}, {{"a", "1"}}}, 0, "nobody");
  EXPECT_EQ(unknown.overall_code(), RateLimitResponse::OK);
  EXPECT_FALSE(unknown.statuses(0).has_current_limit());
  EXPECT_TRUE(unknown.response_headers_to_add().empty());
  RateLimitResponse no_rule = Ask({{{"nothing", "here"}}});
  EXPECT_EQ(no_rule.overall_code(), RateLimitResponse::OK);
}

TEST_F(RlsTest, ALimitOverrideReplacesTheRule) {
  Start();
  RateLimitRequest request = Request({{{"path", "/login"}}});
  auto* limit = request.mutable_descriptors(0)->mutable_limit();
  limit->set_requests_per_unit(2);
  limit->set_unit(envoy::type::v3::HOUR);
  RateLimitResponse r;
  ASSERT_TRUE(Call(request, &r).ok());
  EXPECT_EQ(r.statuses(0).current_limit().requests_per_unit(), 2u);
  EXPECT_EQ(r.statuses(0).current_limit().unit(), RateLimitResponse::RateLimit::HOUR);
  EXPECT_EQ(r.statuses(0).limit_remaining(), 1u);
  ASSERT_TRUE(Call(request, &r).ok());
  ASSERT_TRUE(Call(request, &r).ok());
  EXPECT_EQ(r.overall_code(), RateLimitResponse::OVER_LIMIT);
  // The rule's own bucket is another one, untouched.
  EXPECT_EQ(Ask({{{"path", "/login"}}}).statuses(0).limit_remaining(), 2u);
}

TEST_F(RlsTest, BadRequestsNameTheFieldAndChangeNothing) {
  Start();
  RateLimitResponse r;
  grpc::Status status = Call(Request({{{"a", "1"}}}, 0, ""), &r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "domain: must not be empty");
  status = Call(Request({}), &r);
  EXPECT_EQ(status.error_message(), "descriptors: must not be empty");
  status = Call(Request({{}}), &r);
  EXPECT_EQ(status.error_message(), "descriptors[0].entries: must not be empty");
  status = Call(Request({{{"a", "1"}}, {{"", "1"}}}), &r);
  EXPECT_EQ(status.error_message(), "descriptors[1].entries[0].key: must not be empty");
  RateLimitRequest bad_unit = Request({{{"a", "1"}}});
  bad_unit.mutable_descriptors(0)->mutable_limit()->set_requests_per_unit(5);
  status = Call(bad_unit, &r);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "descriptors[0].limit.unit: must be"))
      << status.error_message();
  std::vector<Descriptor> many(65, Descriptor{{"a", "1"}});
  status = Call(Request(many), &r);
  EXPECT_EQ(status.error_message(), "descriptors: at most 64 per request, got 65");
  // Nothing was charged by any of them.
  EXPECT_EQ(Ask({{{"a", "1"}}}).statuses(0).limit_remaining(), 4u);
  // Odd values are escaped into a valid name.
  EXPECT_EQ(Ask({{{"a", "/x y\n."}}}).statuses(0).limit_remaining(), 4u);
}

TEST_F(RlsTest, AnInstanceDeclaredByHandFollowsTheRule) {
  Start();
  auto admin = v1::Admin::NewStub(channel_);
  {
    grpc::ClientContext context;
    v1::DeclareRequest declare;
    declare.set_name("envoy/edge/hand=x");
    declare.mutable_config()->set_kind(v1::KIND_ADVANCED_RATE_LIMIT);
    declare.mutable_config()->mutable_rate_limit()->set_rate(100);
    v1::DeclareResponse declared;
    ASSERT_TRUE(admin->Declare(&context, declare, &declared).ok());
  }
  RateLimitResponse r = Ask({{{"hand", "x"}}});
  EXPECT_EQ(r.statuses(0).current_limit().requests_per_unit(), 2u);
  EXPECT_EQ(r.statuses(0).limit_remaining(), 1u);  // capacity cut to 2, then 1 taken
  grpc::ClientContext context;
  v1::DescribeRequest describe;
  describe.set_name("envoy/edge/hand=x");
  v1::DescribeResponse described;
  ASSERT_TRUE(admin->Describe(&context, describe, &described).ok());
  EXPECT_NEAR(described.config().rate_limit().rate(), 2.0 / 3600, 1e-12);
  EXPECT_EQ(described.config().rate_limit().capacity(), 2);
  EXPECT_TRUE(WaitForLog("rls bucket follows its rule"));
}

TEST_F(RlsTest, AReloadKeepsTheStateOfUnchangedLimits) {
  Start();
  for (int i = 0; i < 3; ++i) Ask({{{"keep", "k"}}});
  EXPECT_EQ(Ask({{{"change", "c"}}}).statuses(0).limit_remaining(), 9u);
  std::string changed = kRules;
  const std::string from = "key: change\n    rate_limit: {unit: hour, requests_per_unit: 10}";
  ASSERT_NE(changed.find(from), std::string::npos);
  changed.replace(changed.find(from), from.size(),
                  "key: change\n    rate_limit: {unit: hour, requests_per_unit: 3}");
  const int reloads = CountInLog("rls config reloaded");
  WriteRules(changed);
  batond_->Signal(SIGHUP);
  ASSERT_TRUE(WaitForLog("rls config reloaded", reloads + 1)) << batond_->log();
  // keep: its rule did not change, its bucket kept its level (2 left).
  EXPECT_EQ(Ask({{{"keep", "k"}}}).statuses(0).limit_remaining(), 1u);
  // change: the new rule, on the same bucket (9 left, cut to 3, then 1 taken).
  RateLimitResponse r = Ask({{{"change", "c"}}});
  EXPECT_EQ(r.statuses(0).current_limit().requests_per_unit(), 3u);
  EXPECT_EQ(r.statuses(0).limit_remaining(), 2u);
}

TEST_F(RlsTest, ABadReloadIsRefusedAndTheOldRulesStay) {
  Start();
  EXPECT_EQ(Ask({{{"a", "1"}}}).statuses(0).limit_remaining(), 4u);
  WriteRules("domain: edge\ndescriptors:\n  - key: a\n    rate_limit: {unit: fortnight, "
             "requests_per_unit: 1}\n");
  batond_->Signal(SIGHUP);
  ASSERT_TRUE(WaitForLog("rls config refused")) << batond_->log();
  const std::string log = batond_->log();
  EXPECT_TRUE(absl::StrContains(log, rules_ + ":4: descriptors[0].rate_limit.unit"))
      << log;
  // The old rules are in force, and the bucket kept its level.
  RateLimitResponse r = Ask({{{"a", "1"}}});
  EXPECT_EQ(r.statuses(0).current_limit().requests_per_unit(), 5u);
  EXPECT_EQ(r.statuses(0).limit_remaining(), 3u);
}

TEST_F(RlsTest, AChangedFileIsReloadedWithoutASignal) {
  Start();
  WriteRules("domain: edge\ndescriptors:\n  - key: a\n    rate_limit: {unit: hour, "
             "requests_per_unit: 7}\n");
  ASSERT_TRUE(WaitForLog("trigger=\"file changed\"")) << batond_->log();
  EXPECT_EQ(Ask({{{"a", "1"}}}).statuses(0).current_limit().requests_per_unit(), 7u);
}

TEST_F(RlsTest, ABadFileAtStartIsExit2NamingFileAndLine) {
  WriteRules("domain: edge\ndescriptors:\n  - key: a\n    rate_limit: {unit: second, "
             "requests_per_unit: lots}\n");
  BatondProcess batond({"--rls_config=" + rules_});
  EXPECT_FALSE(batond.started());
  const int status = batond.WaitExit(std::chrono::seconds(30));
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_TRUE(absl::StrContains(
      batond.log(), rules_ + ":4: descriptors[0].rate_limit.requests_per_unit: must be an integer"))
      << batond.log();
}

TEST_F(RlsTest, RlsListenServesASecondPortAndRefusesATakenOne) {
  Start({"--rls_listen=127.0.0.1:0"});
  ASSERT_TRUE(WaitForLog("rls service on ")) << batond_->log();
  const std::string log = batond_->log();
  const std::size_t at = log.find("rls service on ") + std::string("rls service on ").size();
  const std::string address = log.substr(at, log.find_first_of(" \n", at) - at);
  auto second = RateLimitService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  RateLimitResponse r;
  ASSERT_TRUE(Call(Request({{{"a", "1"}}}), &r, second.get()).ok()) << address;
  EXPECT_EQ(r.statuses(0).limit_remaining(), 4u);
  EXPECT_EQ(Ask({{{"a", "1"}}}).statuses(0).limit_remaining(), 3u);  // the same bucket

  // Another batond whose --rls_listen is taken: exit 1, naming it.
  BatondProcess taken({"--rls_listen=" + batond_->address()});
  EXPECT_FALSE(taken.started());
  const int status = taken.WaitExit(std::chrono::seconds(30));
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_TRUE(absl::StrContains(taken.log(), "cannot listen on --rls_listen=" + batond_->address()))
      << taken.log();
}

}  // namespace
}  // namespace baton

// Copyright 2026 The Baton Authors.
//
// /metrics on a real batond (--metrics_listen=127.0.0.1:0): the test opens
// sessions, gets a grant and a timeout, makes rate-limit decisions, then
// scrapes with a plain HTTP/1.0 GET over a socket, parses the text format
// (every sample line `name{labels} value`, HELP and TYPE for each family)
// and checks that the counts are what it did. Rate limits are per hour, so
// no refill moves a count during the test.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "envoy/service/ratelimit/v3/rls.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testing/batond_process.h"
#include "tests/testing/session_client.h"

namespace baton {
namespace {

using envoy::service::ratelimit::v3::RateLimitRequest;
using envoy::service::ratelimit::v3::RateLimitResponse;
using envoy::service::ratelimit::v3::RateLimitService;
using testing::BatondProcess;
using testing::SessionClient;
namespace ops = testing::ops;

constexpr char kRules[] = R"(domain: edge
descriptors:
  - key: remote_address
    rate_limit: {unit: hour, requests_per_unit: 3}
  - key: path
    descriptors:
      - key: user
        rate_limit: {unit: hour, requests_per_unit: 10}
  - key: shadow
    shadow_mode: true
    rate_limit: {unit: hour, requests_per_unit: 1}
  - key: extra
    rate_limit: {unit: hour, requests_per_unit: 5}
)";

struct HttpAnswer {
  int status = 0;
  std::string headers;
  std::string body;
};

// Get() sends `method path` over HTTP/1.0 to host:port and reads the answer
// to the end. nullopt on a socket error.
std::optional<HttpAnswer> Get(const std::string& address, const std::string& path,
                              const std::string& method = "GET") {
  const std::size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port)) {
    return std::nullopt;
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, address.substr(0, colon).c_str(), &to.sin_addr) != 1) return std::nullopt;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  timeval timeout{.tv_sec = 10, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    close(fd);
    return std::nullopt;
  }
  const std::string request = absl::StrCat(method, " ", path, " HTTP/1.0\r\nHost: ", address,
                                           "\r\n\r\n");
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return std::nullopt;
  }
  std::string raw;
  char buffer[4096];
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    raw.append(buffer, static_cast<std::size_t>(n));
  }
  close(fd);
  const std::size_t end_of_headers = raw.find("\r\n\r\n");
  if (end_of_headers == std::string::npos) return std::nullopt;
  HttpAnswer answer;
  answer.headers = raw.substr(0, end_of_headers);
  answer.body = raw.substr(end_of_headers + 4);
  // "HTTP/1.x NNN reason"
  if (answer.headers.size() < 12 ||
      !absl::SimpleAtoi(answer.headers.substr(9, 3), &answer.status)) {
    return std::nullopt;
  }
  return answer;
}

// A parsed scrape: value by `name{labels}` exactly as written (labels in
// the order batond writes them).
struct Scrape {
  std::map<std::string, double> samples;
  std::set<std::string> helped;  // families with a HELP line
  std::map<std::string, std::string> types;

  double Value(const std::string& series) const {
    const auto it = samples.find(series);
    return it == samples.end() ? -1 : it->second;
  }
};

// Parse() checks the text format line by line; a bad line fails the test.
Scrape Parse(const std::string& text) {
  Scrape scrape;
  // name, then optional {label="value",...} (values may hold \\ \" \n
  // escapes), then a space and a number (or +Inf, -Inf, NaN).
  static const std::regex kSample(
      R"re(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")*\})? ([-+0-9.eE]+|\+Inf|-Inf|NaN)$)re");
  static const std::regex kComment(R"re(^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$)re");
  EXPECT_FALSE(text.empty());
  EXPECT_TRUE(text.empty() || text.back() == '\n');
  std::vector<std::string> families_seen;
  for (const absl::string_view line_view : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    const std::string line(line_view);
    std::smatch match;
    if (line[0] == '#') {
      EXPECT_TRUE(std::regex_match(line, match, kComment)) << "bad comment line: " << line;
      if (match.size() < 4) continue;
      if (match[1] == "HELP") {
        scrape.helped.insert(match[2]);
      } else {
        EXPECT_TRUE(match[3] == "counter" || match[3] == "gauge" || match[3] == "histogram")
            << line;
        EXPECT_EQ(scrape.types.count(match[2]), 0u) << "TYPE twice: " << line;
        scrape.types[match[2]] = match[3];
      }
      continue;
    }
    EXPECT_TRUE(std::regex_match(line, match, kSample)) << "bad sample line: " << line;
    if (match.empty()) continue;
    std::string name = match[1];
    std::string family = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (absl::EndsWith(name, suffix)) {
        const std::string base = name.substr(0, name.size() - std::strlen(suffix));
        if (scrape.types.count(base) != 0 && scrape.types[base] == "histogram") family = base;
      }
    }
    EXPECT_EQ(scrape.types.count(family), 1u) << "no TYPE before: " << line;
    EXPECT_EQ(scrape.helped.count(family), 1u) << "no HELP before: " << line;
    const std::string value_text = match[7];
    double value = 0;
    if (value_text == "+Inf") {
      value = HUGE_VAL;
    } else if (value_text != "NaN" && value_text != "-Inf") {
      EXPECT_TRUE(absl::SimpleAtod(value_text, &value)) << line;
    }
    const std::string series = line.substr(0, line.rfind(' '));
    EXPECT_EQ(scrape.samples.count(series), 0u) << "series twice: " << line;
    scrape.samples[series] = value;
  }
  return scrape;
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char path[] = "/tmp/metrics-test-XXXXXX";
    ASSERT_NE(mkdtemp(path), nullptr);
    dir_ = path;
    std::ofstream(dir_ + "/rules.yaml") << kRules;
    // The cap is 3 label sets: remote_address, path_user and shadow; extra
    // folds into other.
    batond_ = std::make_unique<BatondProcess>(std::vector<std::string>{
        "--shards=2", "--metrics_listen=127.0.0.1:0", "--metrics_max_label_values=3",
        "--rls_config=" + dir_ + "/rules.yaml"});
    ASSERT_TRUE(batond_->started()) << batond_->log();
    metrics_ = batond_->WordAfter("metrics on ");
    ASSERT_FALSE(metrics_.empty()) << batond_->log();
    channel_ = grpc::CreateChannel(batond_->address(), grpc::InsecureChannelCredentials());
    rls_ = RateLimitService::NewStub(channel_);
  }
  void TearDown() override {
    batond_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  RateLimitResponse::Code Ask(std::vector<std::pair<std::string, std::string>> entries) {
    RateLimitRequest request;
    request.set_domain("edge");
    auto* descriptor = request.add_descriptors();
    for (auto& [key, value] : entries) {
      auto* entry = descriptor->add_entries();
      entry->set_key(key);
      entry->set_value(value);
    }
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    RateLimitResponse response;
    const grpc::Status status = rls_->ShouldRateLimit(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.overall_code();
  }

  Scrape ScrapeNow() {
    std::optional<HttpAnswer> answer = Get(metrics_, "/metrics");
    EXPECT_TRUE(answer.has_value());
    if (!answer) return {};
    EXPECT_EQ(answer->status, 200) << answer->headers;
    EXPECT_TRUE(absl::StrContains(answer->headers,
                                  "Content-Type: text/plain; version=0.0.4; charset=utf-8"))
        << answer->headers;
    return Parse(answer->body);
  }

  std::string dir_;
  std::unique_ptr<BatondProcess> batond_;
  std::string metrics_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<RateLimitService::Stub> rls_;
};

TEST_F(MetricsTest, CountsWhatTheClientsDid) {
  // Sessions: a grant, a timeout, and a wait left queued.
  SessionClient a(channel_);
  SessionClient b(channel_);
  ASSERT_TRUE(a.Open("a", "a").has_value());
  ASSERT_TRUE(b.Open("b", "b").has_value());
  std::optional<v1::Response> granted = a.Call(ops::Acquire(1, "m", v1::KIND_PRIORITY_LOCK));
  ASSERT_TRUE(granted && testing::IsOk(*granted));
  std::optional<v1::Response> timed_out = b.Call(
      ops::Acquire(1, "m", v1::KIND_PRIORITY_LOCK, 0, std::chrono::milliseconds(50)));
  ASSERT_TRUE(timed_out.has_value());
  EXPECT_EQ(testing::CodeOf(*timed_out), grpc::StatusCode::DEADLINE_EXCEEDED);
  ASSERT_TRUE(b.Send(ops::Acquire(2, "m", v1::KIND_PRIORITY_LOCK)));
  // The same on a semaphore (value 1): counted by its own kind.
  granted = a.Call(ops::Acquire(3, "s", v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE));
  ASSERT_TRUE(granted && testing::IsOk(*granted));
  timed_out = b.Call(ops::Acquire(4, "s", v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE, 0,
                                  std::chrono::milliseconds(30)));
  ASSERT_TRUE(timed_out.has_value());
  EXPECT_EQ(testing::CodeOf(*timed_out), grpc::StatusCode::DEADLINE_EXCEEDED);

  // Rate limits: remote_address 3 per hour: 3 within (the third past 80%),
  // 1 over. shadow 1 per hour: 1 within (past 80%), 1 over in shadow mode
  // (answered OK). path_user: 1 within. extra: past the cap, as other.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Ask({{"remote_address", "10.0.0.1"}}), RateLimitResponse::OK);
  EXPECT_EQ(Ask({{"remote_address", "10.0.0.1"}}), RateLimitResponse::OVER_LIMIT);
  EXPECT_EQ(Ask({{"shadow", "x"}}), RateLimitResponse::OK);
  EXPECT_EQ(Ask({{"shadow", "x"}}), RateLimitResponse::OK);
  EXPECT_EQ(Ask({{"path", "/a"}, {"user", "bob"}}), RateLimitResponse::OK);
  EXPECT_EQ(Ask({{"extra", "1"}}), RateLimitResponse::OK);
  EXPECT_EQ(Ask({{"nothing", "matches"}}), RateLimitResponse::OK);  // no rule: not counted

  // B's second acquire is queued on the shard by now: the RLS answers
  // above came after it was sent; wait for the gauge all the same.
  Scrape scrape;
  for (int attempt = 0; attempt < 100; ++attempt) {
    scrape = ScrapeNow();
    if (scrape.Value(R"(baton_waiters_queued{kind="PriorityLock"})") == 1) break;
    usleep(20'000);  // polling another process's state
  }
  if (HasFailure()) return;

  EXPECT_EQ(scrape.Value("baton_sessions_open"), 2);
  EXPECT_EQ(scrape.Value(R"(baton_grants_total{kind="PriorityLock"})"), 1);
  EXPECT_EQ(scrape.Value(R"(baton_timeouts_total{kind="PriorityLock"})"), 1);
  EXPECT_EQ(scrape.Value(R"(baton_grants_total{kind="AdvancedRateLimit"})"), 0);
  EXPECT_EQ(scrape.Value(R"(baton_grants_total{kind="DynamicBoundedSemaphore"})"), 1);
  EXPECT_EQ(scrape.Value(R"(baton_timeouts_total{kind="DynamicBoundedSemaphore"})"), 1);
  EXPECT_EQ(scrape.Value(R"(baton_instances{kind="DynamicBoundedSemaphore"})"), 1);
  EXPECT_EQ(scrape.Value(R"(baton_waiters_queued{kind="PriorityLock"})"), 1);
  EXPECT_EQ(scrape.Value(R"(baton_instances{kind="PriorityLock"})"), 1);
  // The buckets: remote_address=10.0.0.1, shadow=x, path=/a/user=bob, extra=1.
  EXPECT_EQ(scrape.Value(R"(baton_instances{kind="AdvancedRateLimit"})"), 4);
  EXPECT_EQ(scrape.types["baton_request_duration_seconds"], "histogram");
  const double count = scrape.Value("baton_request_duration_seconds_count");
  // Requests answered in the turn that ran them: A's two acquires (granted
  // at once); not the waits that queued (B's timeouts, B's pending acquire).
  EXPECT_EQ(count, 2);
  EXPECT_EQ(scrape.Value(R"(baton_request_duration_seconds_bucket{le="+Inf"})"), count);
  EXPECT_LT(scrape.Value("baton_request_duration_seconds_sum"), 0.05);
  EXPECT_EQ(scrape.Value(R"(baton_shard_queue_depth{shard="0"})") >= 0, true);
  EXPECT_EQ(scrape.Value(R"(baton_shard_queue_depth{shard="1"})") >= 0, true);

  const auto rls = [&](const std::string& what, const std::string& domain,
                       const std::string& key) {
    return scrape.Value(absl::StrCat("ratelimit_service_rate_limit_", what, "{domain=\"", domain,
                                     "\",key=\"", key, "\"}"));
  };
  EXPECT_EQ(rls("total_hits", "edge", "remote_address"), 4);
  EXPECT_EQ(rls("within_limit", "edge", "remote_address"), 3);
  EXPECT_EQ(rls("near_limit", "edge", "remote_address"), 1);
  EXPECT_EQ(rls("over_limit", "edge", "remote_address"), 1);
  EXPECT_EQ(rls("shadow_mode", "edge", "remote_address"), 0);
  EXPECT_EQ(rls("total_hits", "edge", "shadow"), 2);
  EXPECT_EQ(rls("within_limit", "edge", "shadow"), 1);
  EXPECT_EQ(rls("near_limit", "edge", "shadow"), 1);
  EXPECT_EQ(rls("over_limit", "edge", "shadow"), 1);
  EXPECT_EQ(rls("shadow_mode", "edge", "shadow"), 1);
  EXPECT_EQ(rls("total_hits", "edge", "path_user"), 1);
  EXPECT_EQ(rls("within_limit", "edge", "path_user"), 1);
  EXPECT_EQ(rls("near_limit", "edge", "path_user"), 0);
  // Past --metrics_max_label_values=3: folded.
  EXPECT_EQ(rls("total_hits", "edge", "extra"), -1);
  EXPECT_EQ(rls("total_hits", "other", "other"), 1);
  EXPECT_EQ(rls("within_limit", "other", "other"), 1);
  EXPECT_EQ(rls("total_hits", "edge", "nothing"), -1);

  EXPECT_GT(scrape.Value("process_resident_memory_bytes"), 1e6);
  EXPECT_GE(scrape.Value("process_cpu_seconds_total"), 0);
  const double now = static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
  EXPECT_GT(scrape.Value("process_start_time_seconds"), now - 600);
  EXPECT_LE(scrape.Value("process_start_time_seconds"), now + 5);

  // A's release grants B's queued acquire.
  ASSERT_TRUE(a.Call(ops::Release(2, "m", v1::KIND_PRIORITY_LOCK)).has_value());
  ASSERT_TRUE(b.WaitResponse(2).has_value());
  scrape = ScrapeNow();
  EXPECT_EQ(scrape.Value(R"(baton_grants_total{kind="PriorityLock"})"), 2);
  EXPECT_EQ(scrape.Value("baton_request_duration_seconds_count"), 3);  // + the release
  EXPECT_EQ(scrape.Value(R"(baton_waiters_queued{kind="PriorityLock"})"), 0);
}

TEST_F(MetricsTest, OnlyGetAndHeadOfMetrics) {
  std::optional<HttpAnswer> other = Get(metrics_, "/");
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->status, 404);
  other = Get(metrics_, "/metrics/x");
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->status, 404);
  std::optional<HttpAnswer> post = Get(metrics_, "/metrics", "POST");
  ASSERT_TRUE(post.has_value());
  EXPECT_EQ(post->status, 405);
  std::optional<HttpAnswer> head = Get(metrics_, "/metrics", "HEAD");
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
  // Garbage does not hurt it.
  std::optional<HttpAnswer> junk = Get(metrics_, "/\x01\xff%%", "BREW");
  ScrapeNow();
}

TEST_F(MetricsTest, ASecondBatondOnTheSameMetricsPortExits1) {
  BatondProcess second({"--metrics_listen=" + metrics_});
  EXPECT_FALSE(second.started()) << second.log();
  const int status = second.WaitExit(std::chrono::seconds(30));
  ASSERT_TRUE(WIFEXITED(status)) << second.log();
  EXPECT_EQ(WEXITSTATUS(status), 1) << second.log();
  EXPECT_TRUE(absl::StrContains(second.log(), "--metrics_listen=" + metrics_)) << second.log();
  EXPECT_TRUE(absl::StrContains(second.log(), "address in use")) << second.log();
  // The first one still serves.
  ScrapeNow();
}

// --auth_file's quotas: each namespace counted shows what it uses, its
// quotas and the requests refused at each.
TEST(NamespaceMetricsTest, UsageQuotasAndRefusalsPerNamespace) {
  char path[] = "/tmp/metrics-test-XXXXXX";
  ASSERT_NE(mkdtemp(path), nullptr);
  const std::string dir = path;
  std::ofstream(dir + "/auth.yaml") << R"(principals:
  - {name: a, tokens: ["token-a-0123456789abcdef"], grants: {"*": [use]}}
quotas:
  team: {instances: 2, sessions: 10}
)";
  BatondProcess batond({"--shards=2", "--metrics_listen=127.0.0.1:0",
                        "--auth_file=" + dir + "/auth.yaml"});
  ASSERT_TRUE(batond.started()) << batond.log();
  const std::string metrics = batond.WordAfter("metrics on ");
  auto channel = grpc::CreateChannel(batond.address(), grpc::InsecureChannelCredentials());
  SessionClient session(channel);
  session.AddMetadata("authorization", "Bearer token-a-0123456789abcdef");
  ASSERT_TRUE(session.Open("metrics", "m"));
  for (uint64_t i = 0; i < 3; ++i) {  // the third is refused: instances 2
    ASSERT_TRUE(session.Call(ops::Acquire(i + 1, absl::StrCat("team/lock-", i),
                                          v1::KIND_PRIORITY_LOCK)).has_value());
  }
  std::optional<HttpAnswer> answer = Get(metrics, "/metrics");
  ASSERT_TRUE(answer.has_value());
  const Scrape scrape = Parse(answer->body);
  EXPECT_EQ(scrape.Value(R"(baton_namespace_usage{namespace="team",quota="instances"})"), 2);
  EXPECT_EQ(scrape.Value(R"(baton_namespace_usage{namespace="team",quota="sessions"})"), 1);
  EXPECT_EQ(scrape.Value(R"(baton_namespace_quota{namespace="team",quota="instances"})"), 2);
  EXPECT_EQ(scrape.Value(R"(baton_namespace_quota{namespace="team",quota="waiters"})"), -1)
      << "an unlimited quota has no sample";
  EXPECT_EQ(scrape.Value(R"(baton_namespace_refused_total{namespace="team",quota="instances"})"),
            1);
  EXPECT_EQ(scrape.Value("baton_namespaces_not_shown"), 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace baton

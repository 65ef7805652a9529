// Copyright 2026 The Baton Authors.
//
// --auth_file against a real batond: callers authenticate with a bearer token,
// act only inside their grants, and each namespace's quotas hold one tenant
// back without touching another.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "baton/client.h"
#include "baton/v1/admin.grpc.pb.h"
#include "envoy/service/ratelimit/v3/rls.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testing/batond_process.h"
#include "tests/testing/session_client.h"

namespace baton {
namespace {

using ::baton::testing::BatondProcess;
using ::baton::testing::SessionClient;
namespace ops = ::baton::testing::ops;
using std::chrono::seconds;

constexpr char kPayments[] = "payments-token-0123456789abcdef";
constexpr char kSearch[] = "search-token-0123456789abcdef";
constexpr char kOperator[] = "operator-token-0123456789abcdef";

constexpr char kAuthFile[] = R"(principals:
  - name: payments
    tokens: ["payments-token-0123456789abcdef"]
    grants: {payments: [use], shared: [use]}
  - name: search
    tokens: ["search-token-0123456789abcdef"]
    grants: {search: [use]}
  - name: operator
    tokens: ["operator-token-0123456789abcdef"]
    grants: {"*": [admin]}
quotas:
  payments: {sessions: 3, instances: 4, waiters: 2, requests_per_second: 1000}
)";

constexpr v1::Kind kLock = v1::KIND_PRIORITY_LOCK;

grpc::StatusCode CodeOf(const v1::Response& response) {
  return static_cast<grpc::StatusCode>(response.status().code());
}

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/baton-auth-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/auth.yaml";
    WriteFile(kAuthFile);
    batond_ = std::make_unique<BatondProcess>(
        std::vector<std::string>{"--shards=2", "--auth_file=" + path_});
    ASSERT_TRUE(batond_->started()) << batond_->log();
    channel_ = grpc::CreateChannel(batond_->address(), grpc::InsecureChannelCredentials());
    admin_ = v1::Admin::NewStub(channel_);
  }
  void TearDown() override {
    batond_.reset();
    std::filesystem::remove_all(dir_);
  }

  void WriteFile(const std::string& text) {
    const std::string next = path_ + ".next";
    {
      std::ofstream out(next, std::ios::trunc);
      out << text;
    }
    std::filesystem::rename(next, path_);
  }

  // Session() opens a session with `token` ("" for none).
  std::unique_ptr<SessionClient> Session(const std::string& token, const std::string& owner) {
    auto session = std::make_unique<SessionClient>(channel_);
    if (!token.empty()) session->AddMetadata("authorization", absl::StrCat("Bearer ", token));
    session->Open(absl::StrCat("auth_test/", owner), owner);
    return session;
  }

  std::unique_ptr<grpc::ClientContext> Context(const std::string& token) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + seconds(10));
    if (!token.empty()) context->AddMetadata("authorization", absl::StrCat("Bearer ", token));
    return context;
  }

  grpc::Status Delete(const std::string& token, const std::string& name) {
    v1::DeleteRequest request;
    request.set_name(name);
    v1::DeleteResponse response;
    return admin_->Delete(Context(token).get(), request, &response);
  }

  grpc::Status DeclareLatch(const std::string& token, const std::string& name) {
    v1::DeclareRequest request;
    request.set_name(name);
    request.mutable_config()->set_kind(v1::KIND_MULTI_COUNT_DOWN_LATCH);
    {
    auto* entry = request.mutable_config()->mutable_latch()->add_counts();
    entry->set_key("k");
    entry->set_value(1);
  }
    v1::DeclareResponse response;
    return admin_->Declare(Context(token).get(), request, &response);
  }

  std::vector<std::string> List(const std::string& token) {
    v1::ListRequest request;
    v1::ListResponse response;
    std::vector<std::string> names;
    if (!admin_->List(Context(token).get(), request, &response).ok()) return {"(error)"};
    for (const auto& instance : response.instances()) names.push_back(instance.name());
    return names;
  }

  std::string dir_;
  std::string path_;
  std::unique_ptr<BatondProcess> batond_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

TEST_F(AuthTest, ASessionWithoutAKnownTokenIsUnauthenticated) {
  for (const std::string token : {"", "not-a-token-of-the-file"}) {
    auto session = Session(token, "anonymous");
    EXPECT_FALSE(session->opened().has_value()) << token;
    const grpc::Status status = session->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << token;
    EXPECT_TRUE(absl::StrContains(status.error_message(), "authorization")) << status.error_message();
    if (!token.empty()) {
      EXPECT_FALSE(absl::StrContains(status.error_message(), token));
      EXPECT_FALSE(absl::StrContains(batond_->log(), token)) << "a token was logged";
    }
  }
  // Nor any Admin call, read or write.
  EXPECT_EQ(Delete("", "payments/x").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(List("nope"), std::vector<std::string>{"(error)"});
}

TEST_F(AuthTest, ATenantActsInItsNamespacesOnlyAndTheSessionGoesOn) {
  auto payments = Session(kPayments, "p");
  ASSERT_TRUE(payments->opened()) << batond_->log();
  auto granted = payments->Call(ops::Acquire(1, "payments/lock", kLock));
  ASSERT_TRUE(granted.has_value());
  EXPECT_EQ(CodeOf(*granted), grpc::StatusCode::OK);
  // Another tenant's namespace, and the default one (a one-segment name).
  for (const std::string name : {"search/lock", "lock"}) {
    auto denied = payments->Call(ops::Acquire(2, name, kLock));
    ASSERT_TRUE(denied.has_value()) << name;
    EXPECT_EQ(CodeOf(*denied), grpc::StatusCode::PERMISSION_DENIED) << name;
    EXPECT_TRUE(absl::StrContains(denied->status().message(),
                                  absl::StrCat("namespace '", name == "lock" ? "default" : "search",
                                               "'")))
        << denied->status().message();
  }
  // The session goes on: its lock is still held, it can release it.
  auto released = payments->Call(ops::Release(3, "payments/lock", kLock));
  ASSERT_TRUE(released.has_value());
  EXPECT_EQ(CodeOf(*released), grpc::StatusCode::OK);

  // `use` is not `admin`: payments may not delete, even its own.
  const grpc::Status denied = Delete(kPayments, "payments/lock");
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(denied.error_message(), "'admin'")) << denied.error_message();
  // The operator may, anywhere.
  EXPECT_TRUE(Delete(kOperator, "payments/lock").ok());
  // The audit line names the principal.
  EXPECT_TRUE(absl::StrContains(batond_->log(), "principal=\"operator\"")) << batond_->log();
}

TEST_F(AuthTest, ListShowsOnlyTheNamespacesACallerMayUse) {
  ASSERT_TRUE(DeclareLatch(kOperator, "payments/a").ok());
  ASSERT_TRUE(DeclareLatch(kOperator, "search/b").ok());
  ASSERT_TRUE(DeclareLatch(kOperator, "shared/c").ok());
  ASSERT_TRUE(DeclareLatch(kOperator, "other/d").ok());
  EXPECT_EQ(List(kPayments), (std::vector<std::string>{"payments/a", "shared/c"}));
  EXPECT_EQ(List(kSearch), (std::vector<std::string>{"search/b"}));
  EXPECT_EQ(List(kOperator).size(), 4u);
  // Page by page, among names it may not see (before, between and after its
  // own): every page and page token holds only names it may see.
  for (const std::string name : {"aaa/1", "aaa/2", "aaa/3", "pb/1", "pb/2", "zzz/1"}) {
    ASSERT_TRUE(DeclareLatch(kOperator, name).ok());
  }
  std::vector<std::string> seen;
  std::string token;
  for (int page = 0; page < 10; ++page) {
    v1::ListRequest request;
    request.set_page_size(1);
    request.set_page_token(token);
    v1::ListResponse response;
    ASSERT_TRUE(admin_->List(Context(kPayments).get(), request, &response).ok());
    for (const auto& instance : response.instances()) seen.push_back(instance.name());
    token = response.next_page_token();
    if (!token.empty()) {
      EXPECT_TRUE(absl::StartsWith(token, "payments/") || absl::StartsWith(token, "shared/"))
          << token;
    }
    if (token.empty()) break;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"payments/a", "shared/c"}));
}

TEST_F(AuthTest, QuotasHoldOneTenantBackAndNotAnother) {
  // instances: 4 in payments.
  auto payments = Session(kPayments, "p");
  ASSERT_TRUE(payments->opened());
  for (uint64_t i = 0; i < 4; ++i) {
    auto granted = payments->Call(ops::Acquire(i + 1, absl::StrCat("payments/lock-", i), kLock));
    ASSERT_TRUE(granted.has_value());
    ASSERT_EQ(CodeOf(*granted), grpc::StatusCode::OK) << granted->status().message();
  }
  auto full = payments->Call(ops::Acquire(10, "payments/lock-4", kLock));
  ASSERT_TRUE(full.has_value());
  EXPECT_EQ(CodeOf(*full), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(absl::StrContains(full->status().message(), "instances")) << full->status().message();
  // The search tenant has no quota: unaffected.
  auto search = Session(kSearch, "s");
  ASSERT_TRUE(search->opened());
  for (uint64_t i = 0; i < 10; ++i) {
    auto granted = search->Call(ops::Acquire(i + 1, absl::StrCat("search/lock-", i), kLock));
    ASSERT_TRUE(granted.has_value());
    EXPECT_EQ(CodeOf(*granted), grpc::StatusCode::OK);
  }

  // waiters: 2 in payments. Two waits queue behind the held lock-0; a
  // third is refused.
  auto other = Session(kPayments, "q");
  ASSERT_TRUE(other->opened());
  ASSERT_TRUE(other->Send(ops::Acquire(1, "payments/lock-0", kLock)));
  ASSERT_TRUE(other->Send(ops::Acquire(2, "payments/lock-1", kLock)));
  auto third = other->Call(ops::Acquire(3, "payments/lock-2", kLock));
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(CodeOf(*third), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(absl::StrContains(third->status().message(), "waiters"))
      << third->status().message();
  // A wait answered frees its place: lock-0 released, wait 1 granted.
  auto released = payments->Call(ops::Release(20, "payments/lock-0", kLock));
  ASSERT_TRUE(released.has_value());
  ASSERT_EQ(CodeOf(*released), grpc::StatusCode::OK) << released->status().message();
  auto first = other->WaitResponse(1);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(CodeOf(*first), grpc::StatusCode::OK);
  // A try of a held lock (a wait with a timeout of 0) is let in again, and
  // times out rather than being refused.
  auto again = other->Call(ops::Acquire(4, "payments/lock-3", kLock, 0, std::chrono::milliseconds(0)));
  ASSERT_TRUE(again.has_value());
  EXPECT_NE(CodeOf(*again), grpc::StatusCode::RESOURCE_EXHAUSTED) << again->status().message();
  EXPECT_NE(CodeOf(*again), grpc::StatusCode::OK) << "lock-3 is held";

  // sessions: 3 use payments (p, q, and one more); a fourth's first request
  // there is refused, its requests elsewhere are not.
  auto third_session = Session(kPayments, "r");
  ASSERT_TRUE(third_session->opened());
  auto used = third_session->Call(ops::Read(1, "payments/lock-3", kLock));
  ASSERT_TRUE(used.has_value());
  EXPECT_EQ(CodeOf(*used), grpc::StatusCode::OK);
  auto fourth = Session(kPayments, "t");
  ASSERT_TRUE(fourth->opened());
  auto refused = fourth->Call(ops::Read(1, "payments/lock-3", kLock));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(CodeOf(*refused), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(absl::StrContains(refused->status().message(), "sessions"))
      << refused->status().message();
  auto elsewhere = fourth->Call(ops::Acquire(2, "shared/lock", kLock));
  ASSERT_TRUE(elsewhere.has_value());
  EXPECT_EQ(CodeOf(*elsewhere), grpc::StatusCode::OK);
  // A session that ends frees its place.
  third_session.reset();
  bool admitted = false;
  for (uint64_t id = 10; id < 500 && !admitted; ++id) {  // the end is asynchronous
    auto tried = fourth->Call(ops::Read(id, "payments/lock-3", kLock));
    admitted = tried.has_value() && CodeOf(*tried) == grpc::StatusCode::OK;
    if (!admitted) usleep(10'000);  // polling the server, not timing logic
  }
  EXPECT_TRUE(admitted);
}

TEST_F(AuthTest, OverRequestsPerSecondRequestsAreRefusedAndTheStreamResumes) {
  WriteFile(std::string(kAuthFile) + "  search: {requests_per_second: 50}\n");
  ASSERT_EQ(kill(batond_->pid(), SIGHUP), 0);
  bool reloaded = false;
  for (int i = 0; i < 500 && !reloaded; ++i) {
    reloaded = absl::StrContains(batond_->log(), "auth file reloaded");
    if (!reloaded) usleep(10'000);  // waiting for the log line, not timing logic
  }
  ASSERT_TRUE(reloaded) << batond_->log();
  auto search = Session(kSearch, "s");
  ASSERT_TRUE(search->opened());
  // 200 reads in one message: the bucket holds 50.
  std::vector<v1::Request> requests;
  for (uint64_t id = 1; id <= 200; ++id) requests.push_back(ops::Read(id, "search/lock", kLock));
  ASSERT_TRUE(search->Send(std::move(requests)));
  int ok = 0;
  int refused = 0;
  for (uint64_t id = 1; id <= 200; ++id) {
    auto answer = search->WaitResponse(id);
    ASSERT_TRUE(answer.has_value()) << id;
    if (CodeOf(*answer) == grpc::StatusCode::OK) {
      ++ok;
    } else {
      ++refused;
      EXPECT_EQ(CodeOf(*answer), grpc::StatusCode::RESOURCE_EXHAUSTED);
      EXPECT_TRUE(absl::StrContains(answer->status().message(), "requests_per_second"))
          << answer->status().message();
    }
  }
  EXPECT_GE(ok, 50);
  EXPECT_GT(refused, 0);
  // The session goes on: reading resumes after its pause (150 refused at 50
  // a second: at most 1 s, a quarter of the lease), and the next requests
  // are answered.
  auto later = search->Call(ops::Read(1000, "search/lock", kLock));
  ASSERT_TRUE(later.has_value());
  // Another namespace of the same server is not paused by it.
  auto payments = Session(kPayments, "p");
  ASSERT_TRUE(payments->opened());
  auto other = payments->Call(ops::Read(1, "payments/lock", kLock));
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(CodeOf(*other), grpc::StatusCode::OK);
}

TEST_F(AuthTest, ARevokedTokenStopsAtTheReloadAndABadFileChangesNothing) {
  auto search = Session(kSearch, "s");
  ASSERT_TRUE(search->opened());
  auto granted = search->Call(ops::Acquire(1, "search/lock", kLock));
  ASSERT_TRUE(granted.has_value());
  ASSERT_EQ(CodeOf(*granted), grpc::StatusCode::OK);

  // A bad file: refused, logged, the file in force stays.
  WriteFile("principals: [{name: x}]\n");
  ASSERT_EQ(kill(batond_->pid(), SIGHUP), 0);
  bool refused = false;
  for (int i = 0; i < 500 && !refused; ++i) {
    refused = absl::StrContains(batond_->log(), "auth file refused");
    if (!refused) usleep(10'000);  // waiting for the log line, not timing logic
  }
  ASSERT_TRUE(refused) << batond_->log();
  auto still = search->Call(ops::Read(2, "search/lock", kLock));
  ASSERT_TRUE(still.has_value());
  EXPECT_EQ(CodeOf(*still), grpc::StatusCode::OK);

  // The search token is removed: its live session is refused from then on.
  WriteFile(R"(principals:
  - name: operator
    tokens: ["operator-token-0123456789abcdef"]
    grants: {"*": [admin]}
)");
  ASSERT_EQ(kill(batond_->pid(), SIGHUP), 0);
  bool revoked = false;
  for (uint64_t id = 10; id < 1000 && !revoked; ++id) {
    auto tried = search->Call(ops::Read(id, "search/lock", kLock));
    revoked = tried.has_value() && CodeOf(*tried) == grpc::StatusCode::UNAUTHENTICATED;
    if (!revoked) usleep(10'000);  // waiting for the reload, not timing logic
  }
  EXPECT_TRUE(revoked) << batond_->log();
}

TEST_F(AuthTest, EnvoysRateLimitServiceNeedsUseOnEnvoy) {
  auto stub = envoy::service::ratelimit::v3::RateLimitService::NewStub(channel_);
  envoy::service::ratelimit::v3::RateLimitRequest request;
  request.set_domain("edge");
  auto* entry = request.add_descriptors()->add_entries();
  entry->set_key("path");
  entry->set_value("/");
  envoy::service::ratelimit::v3::RateLimitResponse response;
  EXPECT_EQ(stub->ShouldRateLimit(Context("").get(), request, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(stub->ShouldRateLimit(Context(kPayments).get(), request, &response).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(stub->ShouldRateLimit(Context(kOperator).get(), request, &response).ok());
}

// The C++ client and the `baton` CLI send their token; without it, or with
// another tenant's, they are refused.
TEST_F(AuthTest, TheClientsSendTheirToken) {
  const auto connect = [&](const std::string& token) {
    ClientOptions options;
    options.address = batond_->address();
    options.client_name = "auth test";
    options.token = token;
    options.connect_timeout = absl::Seconds(5);
    return Client::Connect(std::move(options));
  };
  absl::StatusOr<std::unique_ptr<Client>> payments = connect(kPayments);
  ASSERT_TRUE(payments.ok()) << payments.status();
  PriorityLock lock(payments->get(), "payments/client-lock");
  absl::StatusOr<Hold> hold = lock.Acquire().Wait();
  ASSERT_TRUE(hold.ok()) << hold.status();
  PriorityLock theirs(payments->get(), "search/client-lock");
  absl::StatusOr<Hold> refused = theirs.Acquire().Wait();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied) << refused.status();
  // A token that cannot be an HTTP header value is refused before dialing.
  absl::StatusOr<std::unique_ptr<Client>> bad = connect("has space");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(absl::StrContains(bad.status().message(), "has space"));

  // The CLI: --token, BATON_TOKEN, --token_file; none: refused (exit 77,
  // EX_NOPERM, or another non-zero code).
  const std::string cli = absl::StrCat(BATON_CLI_PATH, " --addr ", batond_->address());
  const auto run = [](const std::string& command) {
    const int status = std::system((command + " >/dev/null 2>&1").c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  EXPECT_EQ(run(absl::StrCat(cli, " --token ", kOperator, " latch declare payments/cli k=1")), 0);
  EXPECT_EQ(run(absl::StrCat("BATON_TOKEN=", kPayments, " ", cli, " describe payments/cli")), 0);
  const std::string token_file = dir_ + "/token";
  std::ofstream(token_file) << kPayments << "\n";
  EXPECT_EQ(run(absl::StrCat(cli, " --token_file ", token_file, " describe payments/cli")), 0);
  EXPECT_NE(run(absl::StrCat(cli, " describe payments/cli")), 0);
  EXPECT_NE(run(absl::StrCat(cli, " --token ", kSearch, " describe payments/cli")), 0);
  EXPECT_NE(run(absl::StrCat(cli, " --token_file ", dir_, "/missing describe payments/cli")), 0);
  // `baton lock ... -- CMD`: CMD's own `baton` reaches batond with the token.
  EXPECT_EQ(run(absl::StrCat("BATON_TOKEN=", kPayments, " ", cli, " lock payments/cli-lock -- ",
                             BATON_CLI_PATH, " describe payments/cli-lock")),
            0);
}

TEST(AuthStartTest, NoAuthFileOffLoopbackIsWarnedAbout) {
  BatondProcess open({"--shards=1", "--listen=0.0.0.0:0"});
  ASSERT_TRUE(open.started()) << open.log();
  EXPECT_TRUE(absl::StrContains(open.log(), "no --auth_file on a non-loopback address"))
      << open.log();
  BatondProcess loopback({"--shards=1"});
  ASSERT_TRUE(loopback.started()) << loopback.log();
  EXPECT_FALSE(absl::StrContains(loopback.log(), "no --auth_file")) << loopback.log();
}

TEST(AuthStartTest, ABadAuthFileAtStartIsExit2NamingFileAndLine) {
  char dir[] = "/tmp/baton-auth-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/auth.yaml";
  {
    std::ofstream out(path);
    out << "principals:\n  - name: a\n    tokens: [t0123456789abcdef]\n    grants: {x: [root]}\n";
  }
  BatondProcess batond({"--auth_file=" + path});
  EXPECT_FALSE(batond.started());
  const int status = batond.WaitExit(seconds(30));
  ASSERT_TRUE(WIFEXITED(status)) << batond.log();
  EXPECT_EQ(WEXITSTATUS(status), 2) << batond.log();
  EXPECT_TRUE(absl::StrContains(batond.log(), path + ":4")) << batond.log();
  EXPECT_TRUE(absl::StrContains(batond.log(), "unknown role 'root'")) << batond.log();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace baton

// Copyright 2026 The Baton Authors.
//
// The fixture and helpers shared by the Session stream's integration tests
// (session_test.cc, session_contract_test.cc): each test starts its own
// batond (StartBatond), opens sessions on it (NewSession), reads instances
// through Admin.Describe, and checks answers with Answered() / Granted().
//
// No helper sleeps to let time pass: each waits, with a generous bound, for
// the event it expects.

#ifndef BATON_TESTS_INTEGRATION_SESSION_TEST_FIXTURE_H_
#define BATON_TESTS_INTEGRATION_SESSION_TEST_FIXTURE_H_

#include <cctype>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "baton/v1/admin.grpc.pb.h"
#include "baton/v1/session.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testing/batond_process.h"
#include "tests/testing/session_client.h"

namespace baton::session_test {

using ::baton::testing::BatondProcess;
using ::baton::testing::CodeOf;
using ::baton::testing::FromDuration;
using ::baton::testing::SessionClient;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;
namespace ops = ::baton::testing::ops;

inline constexpr v1::Kind kLock = v1::KIND_PRIORITY_LOCK;
inline constexpr v1::Kind kSemaphore = v1::KIND_PRIORITY_SEMAPHORE;
inline constexpr v1::Kind kCondition = v1::KIND_KEYED_CONDITION;
inline constexpr v1::Kind kLatch = v1::KIND_MULTI_COUNT_DOWN_LATCH;

// Answered() checks that an answer came, with `code`, and (when given) a
// status message containing `in_message`.
inline ::testing::AssertionResult Answered(const std::optional<v1::Response>& response,
                                           grpc::StatusCode code,
                                           const std::string& in_message = "") {
  if (!response) return ::testing::AssertionFailure() << "no answer came";
  if (CodeOf(*response) != code) {
    return ::testing::AssertionFailure() << "expected code " << code << ", got "
                                         << response->ShortDebugString();
  }
  if (!absl::StrContains(response->status().message(), in_message)) {
    return ::testing::AssertionFailure() << "expected a message naming '" << in_message
                                         << "', got " << response->ShortDebugString();
  }
  return ::testing::AssertionSuccess() << response->ShortDebugString();
}

// Granted() checks an OK answer carrying a fence.
inline ::testing::AssertionResult Granted(const std::optional<v1::Response>& response) {
  ::testing::AssertionResult ok = Answered(response, grpc::StatusCode::OK);
  if (!ok) return ok;
  if (!response->has_fence()) {
    return ::testing::AssertionFailure() << "OK without a fence: " << response->ShortDebugString();
  }
  return ok;
}

inline bool IsDraining(const v1::Notice& notice) { return notice.has_draining(); }
inline bool IsExpiring(const v1::Notice& notice) { return notice.has_session_expiring(); }

// A lowercase copy without underscores, to find a kind named either way
// ("PRIORITY_LOCK", "PriorityLock").
inline std::string Folded(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c != '_') out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

class SessionTest : public ::testing::Test {
 protected:
  // StartBatond() starts the server of this test, with `flags`.
  void StartBatond(std::vector<std::string> flags = {"--shards=2"}) {
    batond_ = std::make_unique<BatondProcess>(std::move(flags));
    Connect();
  }
  void Connect() {
    channel_ = grpc::CreateChannel(batond_->address(), grpc::InsecureChannelCredentials());
    admin_ = v1::Admin::NewStub(channel_);
  }

  // NewSession() opens a session whose default owner key is `owner`; check
  // its opened() before using it.
  std::unique_ptr<SessionClient> NewSession(const std::string& owner,
                                            ops::Timeout lease = std::nullopt) {
    auto session = std::make_unique<SessionClient>(channel_);
    session->Open(absl::StrCat("session_test/", owner), owner, lease);
    return session;
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + seconds(10));
    return context;
  }

  grpc::Status Declare(const std::string& name, const v1::InstanceConfig& config) {
    v1::DeclareRequest request;
    request.set_name(name);
    *request.mutable_config() = config;
    v1::DeclareResponse response;
    return admin_->Declare(Context().get(), request, &response);
  }

  std::optional<v1::DescribeResponse> Describe(const std::string& name) {
    v1::DescribeRequest request;
    request.set_name(name);
    v1::DescribeResponse response;
    if (!admin_->Describe(Context().get(), request, &response).ok()) return std::nullopt;
    return response;
  }

  // WaitForWaiters() waits (up to 10 s) until `name` has `count` pending
  // waits, so that a test knows the order in which its waits were queued.
  ::testing::AssertionResult WaitForWaiters(const std::string& name, int64_t count) {
    const auto deadline = Clock::now() + seconds(10);
    int64_t seen = -1;
    while (Clock::now() < deadline) {
      std::optional<v1::DescribeResponse> described = Describe(name);
      if (described) seen = described->state().waiter_count();
      if (seen == count) return ::testing::AssertionSuccess();
      std::this_thread::sleep_for(milliseconds(2));  // polling the server, not timing logic
    }
    return ::testing::AssertionFailure()
           << name << ": expected " << count << " waiters, saw " << seen;
  }

  std::unique_ptr<BatondProcess> batond_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

#define ASSERT_STARTED()                                          \
  ASSERT_TRUE(batond_ != nullptr && batond_->started())           \
      << (batond_ != nullptr ? batond_->log() : std::string("no batond"))

#define ASSERT_OPENED(session) \
  ASSERT_TRUE((session)->opened().has_value()) << (session)->Finish().error_message()

}  // namespace baton::session_test

#endif  // BATON_TESTS_INTEGRATION_SESSION_TEST_FIXTURE_H_

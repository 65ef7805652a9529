// Copyright 2026 The Baton Authors.
//
// Tests of SessionService on a LocalStream (session_service.h): the real
// session code on a Node that is not started, run on the test's thread on a
// manual clock. The stream's contract itself (over gRPC, against a real
// batond) is tested in tests/integration/session_*_test.cc; these are the
// cases found by the fuzzers (tests/fuzz), kept as regressions.

#include "server/service/session_service.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/runtime/clock.h"
#include "server/service/node.h"

namespace baton::service {
namespace {

class SessionServiceTest : public ::testing::Test {
 protected:
  static SessionService::Options Options() {
    SessionService::Options options;
    options.log = false;
    return options;
  }

  // Settle() runs the shards and reads every write until nothing moves.
  void Settle(LocalStream& stream) {
    while (node_.RunUntilIdle() > 0 || stream.CompleteWrite()) {
    }
  }

  // Responses() is every response written so far.
  static std::vector<v1::Response> Responses(const LocalStream& stream) {
    std::vector<v1::Response> responses;
    for (const v1::ServerMessage& message : stream.written()) {
      for (const v1::Response& response : message.responses()) responses.push_back(response);
    }
    return responses;
  }

  static v1::ClientMessage Open() {
    v1::ClientMessage message;
    message.mutable_open()->set_client_name("test");
    return message;
  }

  runtime::ManualClock clock_;
  Node node_{{.shards = 2}, &clock_};
  SessionService service_{&node_, &clock_, Options()};
};

TEST_F(SessionServiceTest, LocalStreamOpensAnswersAndEndsOnHalfClose) {
  LocalStream stream(&service_, "local");
  ASSERT_TRUE(stream.Send(Open()));
  v1::ClientMessage message;
  v1::Request* acquire = message.add_requests();
  acquire->set_id(1);
  acquire->set_name("jobs/a");
  acquire->set_kind(v1::KIND_PRIORITY_LOCK);
  acquire->mutable_acquire();
  ASSERT_TRUE(stream.Send(message));
  Settle(stream);
  ASSERT_FALSE(stream.written().empty());
  EXPECT_TRUE(stream.written().front().has_opened());
  std::vector<v1::Response> responses = Responses(stream);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].status().code(), 0) << responses[0].status().message();
  EXPECT_TRUE(responses[0].has_fence());

  stream.HalfClose();
  Settle(stream);
  ASSERT_TRUE(stream.status().has_value());
  EXPECT_TRUE(stream.status()->ok()) << stream.status()->error_message();
  EXPECT_EQ(service_.live_sessions(), 1u);  // until the stream is done (destroyed)
}

}  // namespace
}  // namespace baton::service

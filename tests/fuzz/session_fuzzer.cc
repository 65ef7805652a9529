// Copyright 2026 The Baton Authors.
//
// session_fuzzer: the bytes are one baton.v1.ClientMessage, sent on a
// Session stream of an in-process batond (fuzz_support.h): checked by
// SessionState::Open and Check, run on the shards' primitives.
//
// The run: an OpenSession first (the input's own if it has one, else a
// plain one before it), the message, 1.5 s of manual time (timeouts,
// refills, a short lease), the message's requests again (ids now pending,
// cancels that find their wait), the half-close, and the end.
//
// Invariants, besides no crash and no sanitizer report:
//   - the stream ends (no request left hanging, no session stuck);
//   - a stream that ends OK answered every request it read exactly once (a
//     request id answered as many times as it was sent); one that ends with
//     an error answered none more than that;
//   - every error answered names what it is about: a message, and for
//     INVALID_ARGUMENT the request field at fault (the stream's own status:
//     a ClientMessage field, e.g. "open.lease").

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "absl/time/time.h"
#include "baton/v1/session.pb.h"
#include "tests/fuzz/fuzz_support.h"

namespace baton::fuzz {
namespace {

// The request ids of the messages the server read, with their counts.
using IdCounts = std::map<std::uint64_t, int>;

void Count(const v1::ClientMessage& message, IdCounts* sent) {
  for (const v1::Request& request : message.requests()) ++(*sent)[request.id()];
}

void Run(const v1::ClientMessage& input) {
  FuzzNode n;
  n.DeclareFixtures();
  IdCounts sent;
  {
    service::LocalStream stream(&n.sessions, "fuzz");
    if (!input.has_open()) {
      v1::ClientMessage open;
      open.mutable_open()->set_client_name("fuzz");
      stream.Send(open);
      n.Settle(&stream);
    }
    if (stream.Send(input)) Count(input, &sent);
    n.Settle(&stream);
    n.clock.Advance(absl::Milliseconds(1500));
    n.Settle(&stream);
    v1::ClientMessage again = input;
    again.clear_open();
    if (again.requests_size() > 0 && stream.Send(again)) Count(again, &sent);
    n.Settle(&stream);
    stream.HalfClose();
    n.Settle(&stream);

    if (!stream.status().has_value()) Fail("stream not ended", "after the half-close");
    const grpc::Status& status = *stream.status();
    CheckStatus(status.error_code(), status.error_message(), v1::ClientMessage::descriptor());
    IdCounts answered;
    for (const v1::ServerMessage& message : stream.written()) {
      for (const v1::Response& response : message.responses()) {
        ++answered[response.id()];
        CheckStatus(response.status().code(), response.status().message(),
                    v1::Request::descriptor());
      }
    }
    for (const auto& [id, count] : answered) {
      const auto it = sent.find(id);
      const int asked = it == sent.end() ? 0 : it->second;
      if (count > asked) {
        Fail("a request answered more often than sent",
             "id " + std::to_string(id) + ": " + std::to_string(count) + " answers, " +
                 std::to_string(asked) + " requests");
      }
    }
    if (status.ok()) {
      for (const auto& [id, count] : sent) {
        const auto it = answered.find(id);
        if (it == answered.end() || it->second != count) {
          Fail("a stream ended OK with a request unanswered",
               "id " + std::to_string(id) + ": " + std::to_string(count) + " requests, " +
                   std::to_string(it == answered.end() ? 0 : it->second) + " answers");
        }
      }
    }
  }
  n.Settle(nullptr);
  if (n.sessions.live_sessions() != 0) Fail("session still live", "after its stream was done");
}

}  // namespace
}  // namespace baton::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  baton::fuzz::Quiet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  baton::v1::ClientMessage input;
  if (!input.ParseFromArray(data, static_cast<int>(size))) return 0;
  baton::fuzz::Run(input);
  return 0;
}

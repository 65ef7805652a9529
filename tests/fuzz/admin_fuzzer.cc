// Copyright 2026 The Baton Authors.
//
// admin_fuzzer: the bytes are a baton.fuzz.AdminCalls (fuzz_input.proto):
// every Admin request type, called one after the other on AdminService's
// own handlers (through grpc::testing::DefaultReactorTestPeer, no server)
// of an in-process batond (fuzz_support.h), after a session that holds and
// waits on what its ClientMessage asks for.
//
// Invariants, besides no crash and no sanitizer report:
//   - every call is finished exactly once, and by the time the shards have
//     nothing left to run (a handler never leaves a call hanging);
//   - every error names what it is about: a message, and for
//     INVALID_ARGUMENT the request field at fault;
//   - the session's stream still ends, once half-closed.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "fuzz_input.pb.h"
#include "grpcpp/test/default_reactor_test_peer.h"
#include "tests/fuzz/fuzz_support.h"

namespace baton::fuzz {
namespace {

// Calls past this many are not made: each costs a little, and longer
// sequences find nothing shorter ones do not.
constexpr int kMaxCalls = 64;

// Call() calls `method` of the Admin service with `request` and checks how
// it is finished.
template <typename Request, typename Response>
void Call(FuzzNode& n, service::LocalStream* stream,
          grpc::ServerUnaryReactor* (service::AdminService::*method)(
              grpc::CallbackServerContext*, const Request*, Response*),
          const Request& request) {
  grpc::CallbackServerContext context;
  int finished = 0;
  grpc::Status status;
  grpc::testing::DefaultReactorTestPeer peer(&context, [&](grpc::Status s) {
    ++finished;
    status = std::move(s);
  });
  Response response;
  grpc::ServerUnaryReactor* reactor = (n.admin.*method)(&context, &request, &response);
  if (reactor != peer.reactor()) Fail(Request::descriptor()->name(), "not the default reactor");
  n.Settle(stream);
  if (finished != 1) {
    Fail(Request::descriptor()->name(),
         "finished " + std::to_string(finished) + " times: " + request.ShortDebugString());
  }
  CheckStatus(status.error_code(), status.error_message(), Request::descriptor());
}

void Run(const AdminCalls& input) {
  FuzzNode n;
  n.DeclareFixtures();
  {
    service::LocalStream stream(&n.sessions, "fuzz");
    v1::ClientMessage session = input.session();
    if (!session.has_open()) session.mutable_open()->set_client_name("fuzz-holder");
    stream.Send(session);
    n.Settle(&stream);
    int calls = 0;
    for (const AdminCall& call : input.calls()) {
      if (++calls > kMaxCalls) break;
      using A = service::AdminService;
      switch (call.call_case()) {
        case AdminCall::kDeclare: Call(n, &stream, &A::Declare, call.declare()); break;
        case AdminCall::kDescribe: Call(n, &stream, &A::Describe, call.describe()); break;
        case AdminCall::kList: Call(n, &stream, &A::List, call.list()); break;
        case AdminCall::kDelete: Call(n, &stream, &A::Delete, call.delete_()); break;
        case AdminCall::kSetRate: Call(n, &stream, &A::SetRate, call.set_rate()); break;
        case AdminCall::kSetBound: Call(n, &stream, &A::SetBound, call.set_bound()); break;
        case AdminCall::kReset: Call(n, &stream, &A::Reset, call.reset()); break;
        case AdminCall::kTryAcquire:
          Call(n, &stream, &A::TryAcquire, call.try_acquire());
          break;
        case AdminCall::CALL_NOT_SET: break;
      }
      n.clock.Advance(absl::Milliseconds(std::min<std::uint32_t>(call.advance_ms(), 3'600'000)));
      n.Settle(&stream);
    }
    stream.HalfClose();
    n.Settle(&stream);
    if (!stream.status().has_value()) Fail("session stream not ended", "after the half-close");
  }
  n.Settle(nullptr);
}

}  // namespace
}  // namespace baton::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  baton::fuzz::Quiet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  baton::fuzz::AdminCalls input;
  if (!input.ParseFromArray(data, static_cast<int>(size))) return 0;
  baton::fuzz::Run(input);
  return 0;
}

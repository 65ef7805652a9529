// Copyright 2026 The Baton Authors.
//
// session_holder: a helper process for the crash tests of session_test.cc.
//
//   session_holder ADDRESS NAME KIND
//
// Opens a session on batond at ADDRESS (server's default lease, no
// heartbeats), acquires NAME as KIND (e.g. KIND_PRIORITY_LOCK, or
// PRIORITY_LOCK), prints "held <fence>" on stdout, and then blocks until it
// is killed, so that the test can kill it (SIGKILL) or freeze it (SIGSTOP)
// while it holds. On failure it prints "error <why>" and exits 1.

#include <unistd.h>

#include <cstdio>
#include <string>

#include "grpcpp/grpcpp.h"
#include "tests/testing/session_client.h"

int main(int argc, char** argv) {
  using baton::testing::SessionClient;
  namespace ops = baton::testing::ops;
  if (argc != 4) {
    std::fprintf(stderr, "usage: session_holder ADDRESS NAME KIND\n");
    return 2;
  }
  const std::string address = argv[1];
  const std::string name = argv[2];
  std::string kind_name = argv[3];
  if (kind_name.rfind("KIND_", 0) != 0) kind_name = "KIND_" + kind_name;
  baton::v1::Kind kind;
  if (!baton::v1::Kind_Parse(kind_name, &kind)) {
    std::fprintf(stdout, "error unknown kind %s\n", argv[3]);
    return 2;
  }

  SessionClient session(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  if (!session.Open("session_holder", "holder")) {
    std::fprintf(stdout, "error cannot open a session: %s\n",
                 session.Finish().error_message().c_str());
    return 1;
  }
  std::optional<baton::v1::Response> response = session.Call(ops::Acquire(1, name, kind));
  if (!response || !baton::testing::IsOk(*response) || !response->has_fence()) {
    std::fprintf(stdout, "error acquire: %s\n",
                 response ? response->ShortDebugString().c_str() : "no answer");
    return 1;
  }
  std::fprintf(stdout, "held %llu\n", static_cast<unsigned long long>(response->fence()));
  std::fflush(stdout);
  while (true) pause();
}

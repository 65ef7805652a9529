// Copyright 2026 The Baton Authors.
//
// What the fuzzers (tests/fuzz/*_fuzzer.cc) share: a batond in-process, on
// one thread, and the checks every answer must pass.
//
// FuzzNode is a Node that is never started (its shards run on the calling
// thread, Node::RunUntilIdle()) on a ManualClock, with the real Session and
// Admin services on it: the code under test is the server's own, and a run
// is deterministic (libFuzzer can reproduce and minimize what it finds).
//
// Fail() aborts with a message: libFuzzer reports it as a crash, with the
// input that caused it.
//
// Threading: one thread.

#ifndef BATON_TESTS_FUZZ_FUZZ_SUPPORT_H_
#define BATON_TESTS_FUZZ_FUZZ_SUPPORT_H_

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/stubs/logging.h"
#include "grpcpp/grpcpp.h"
#include "server/log/log.h"
#include "server/runtime/clock.h"
#include "server/service/admin_service.h"
#include "server/service/node.h"
#include "server/service/session_service.h"

namespace baton::fuzz {

[[noreturn]] inline void Fail(std::string_view what, std::string_view detail) {
  std::fprintf(stderr, "fuzz invariant broken: %.*s: %.*s\n", static_cast<int>(what.size()),
               what.data(), static_cast<int>(detail.size()), detail.data());
  std::abort();
}

// Quiet() turns batond's log and protobuf's off (a string field that is
// not UTF-8 is logged at each parse): the fuzzers' output is libFuzzer's.
inline void Quiet() {
  log::Init({.level = log::Level::kOff});
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
}

// NamesField() is true when `message` starts with a field path of `type`:
// "name must ...", "acquire.timeout: ...", "descriptors[2].entries[0].key:
// ...", "config.latch.counts[\"db\"]: ...". A segment is a field or a oneof
// (a request's "op"); subscripts are skipped; a message-typed field may be
// followed by its own fields.
inline bool NamesField(std::string_view message, const google::protobuf::Descriptor* type) {
  const std::size_t end = message.find_first_of(" :");
  std::string_view path = message.substr(0, end);
  if (path.empty()) return false;
  const google::protobuf::Descriptor* at = type;
  while (!path.empty()) {
    if (at == nullptr) return false;  // a segment after a scalar field
    const std::size_t dot = path.find('.');
    std::string_view segment = path.substr(0, dot);
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    if (const std::size_t bracket = segment.find('['); bracket != std::string_view::npos) {
      segment = segment.substr(0, bracket);
    }
    const std::string name(segment);
    if (const auto* field = at->FindFieldByName(name)) {
      at = field->message_type();
      if (field->is_map()) at = nullptr;  // counts["key"]: the path ends
    } else if (at->FindOneofByName(name) != nullptr) {
      at = nullptr;
    } else {
      return false;
    }
  }
  return true;
}

// CheckStatus() checks an error the server answered to a request of
// `type`: a known code, a message, and for INVALID_ARGUMENT a message that
// starts with the field at fault (proto/baton/v1/common.proto's rule).
inline void CheckStatus(int code, std::string_view message,
                        const google::protobuf::Descriptor* type) {
  if (code == 0) return;
  if (code < 0 || code > 16) Fail("status code out of range", std::to_string(code));
  if (message.empty()) Fail("error without a message", std::to_string(code));
  if (code == static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT) &&
      !NamesField(message, type)) {
    Fail(std::string("INVALID_ARGUMENT names no field of ") + type->full_name(),
         message);
  }
}

// FuzzNode: a batond's services on a Node that runs on this thread.
struct FuzzNode {
  static service::SessionService::Options SessionOptions() {
    service::SessionService::Options options;
    // Small limits, so that inputs of a few hundred bytes reach them.
    options.max_pending_requests = 64;
    options.max_waits_per_session = 48;
    options.max_requests_per_message = 96;
    options.max_key_bytes = 64;
    options.max_unread_bytes = 4096;
    options.log = false;
    return options;
  }

  FuzzNode()
      : node({.shards = 2, .registry = {.max_instances = 64}}, &clock),
        sessions(&node, &clock, SessionOptions()),
        admin(&node, [this](std::uint64_t id) { return sessions.ClientName(id); }) {
    node.RunUntilIdle();  // the services' set-up on the shards
  }

  // DeclareFixtures() declares what a session cannot create by itself (a
  // rate limit and a latch need parameters), so that a session's requests
  // reach those kinds: "rate" (10/s, capacity 5, fair), "rate/unfair"
  // (1/s, capacity 2) and "latch" (a: 2, b: 1).
  void DeclareFixtures() {
    core::InstanceConfig rate{.kind = core::Kind::kAdvancedRateLimit};
    rate.rate_limit = {.rate = 10, .capacity = 5, .fair = true};
    core::InstanceConfig unfair{.kind = core::Kind::kAdvancedRateLimit};
    unfair.rate_limit = {.rate = 1, .capacity = 2, .fair = false};
    core::InstanceConfig latch{.kind = core::Kind::kMultiCountDownLatch};
    latch.counts = {{"a", 2}, {"b", 1}};
    for (const auto& fixture : {std::pair<std::string, core::InstanceConfig>{"rate", rate},
                                {"rate/unfair", unfair},
                                {"latch", latch}}) {
      node.Run(fixture.first, [name = fixture.first,
                               config = fixture.second](service::Node::Shard& shard) {
        if (!shard.registry.Declare(name, config).ok()) Fail("fixture", name);
      });
    }
    node.RunUntilIdle();
  }

  // Settle() runs the shards and lets `stream` (if any) read every write,
  // until nothing is left to do.
  void Settle(service::LocalStream* stream) {
    for (int round = 0;; ++round) {
      if (round > 100'000) Fail("no quiescence", "the shards and the stream keep busy");
      const std::size_t ran = node.RunUntilIdle();
      const bool wrote = stream != nullptr && stream->CompleteWrite();
      if (ran == 0 && !wrote) return;
    }
  }

  runtime::ManualClock clock;
  service::Node node;
  service::SessionService sessions;
  service::AdminService admin;
};

}  // namespace baton::fuzz

#endif  // BATON_TESTS_FUZZ_FUZZ_SUPPORT_H_

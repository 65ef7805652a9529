// Copyright 2026 The Baton Authors.
//
// rls_fuzzer: the bytes are one envoy.service.ratelimit.v3.RateLimitRequest,
// asked twice (a second apart, the buckets then exist) of RlsService's own
// ShouldRateLimit handler (through grpc::testing::DefaultReactorTestPeer)
// on an in-process batond (fuzz_support.h) with the rules below.
//
// Invariants, besides no crash and no sanitizer report:
//   - the call is finished exactly once, by the time the shards are idle;
//   - an error has a message, and INVALID_ARGUMENT names the request field
//     ("descriptors[3].entries[0].key: ...");
//   - an OK answer has one status per descriptor, and an overall code that
//     is OVER_LIMIT exactly when one of them is.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "absl/time/time.h"
#include "envoy/service/ratelimit/v3/rls.pb.h"
#include "grpcpp/test/default_reactor_test_peer.h"
#include "server/rls/rls_service.h"
#include "tests/fuzz/fuzz_support.h"

namespace baton::fuzz {
namespace {

using envoy::service::ratelimit::v3::RateLimitRequest;
using envoy::service::ratelimit::v3::RateLimitResponse;

// Every kind of rule: defaults, exact values, a wildcard with nesting,
// shadow mode, unlimited, replaces, a limit of 0, long units.
constexpr char kRules[] = R"(domain: edge
descriptors:
  - key: remote_address
    rate_limit: {unit: minute, requests_per_unit: 100}
  - key: remote_address
    value: 10.0.0.1
    rate_limit: {unit: SECOND, requests_per_unit: 5}
  - key: path
    value: /login
    shadow_mode: true
    rate_limit: {unit: second, requests_per_unit: 2, name: login}
  - key: path
    value: /api/*
    descriptors:
      - key: user
        rate_limit: {unit: hour, requests_per_unit: 1000}
      - key: user
        value: admin
  - key: path
    rate_limit: {unit: day, requests_per_unit: 7}
  - key: internal
    rate_limit: {unlimited: true, replaces: [{name: login}]}
  - key: blocked
    rate_limit: {unit: second, requests_per_unit: 0}
  - key: yearly
    rate_limit: {unit: year, requests_per_unit: 4294967295}
)";

rls::RlsRules* rules = nullptr;

void Ask(FuzzNode& n, rls::RlsService& service, const RateLimitRequest& request) {
  grpc::CallbackServerContext context;
  int finished = 0;
  grpc::Status status;
  grpc::testing::DefaultReactorTestPeer peer(&context, [&](grpc::Status s) {
    ++finished;
    status = std::move(s);
  });
  RateLimitResponse response;
  service.ShouldRateLimit(&context, &request, &response);
  n.Settle(nullptr);
  if (finished != 1) Fail("ShouldRateLimit", "finished " + std::to_string(finished) + " times");
  CheckStatus(status.error_code(), status.error_message(), RateLimitRequest::descriptor());
  if (!status.ok()) return;
  if (response.statuses_size() != request.descriptors_size()) {
    Fail("ShouldRateLimit", "statuses " + std::to_string(response.statuses_size()) +
                                " for descriptors " +
                                std::to_string(request.descriptors_size()));
  }
  bool over = false;
  for (const auto& s : response.statuses()) over |= s.code() == RateLimitResponse::OVER_LIMIT;
  if (over != (response.overall_code() == RateLimitResponse::OVER_LIMIT)) {
    Fail("ShouldRateLimit", "overall code disagrees: " + response.ShortDebugString());
  }
}

}  // namespace
}  // namespace baton::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  baton::fuzz::Quiet();
  // RlsRules reads a file: written once, read, removed.
  const std::filesystem::path path = std::filesystem::temp_directory_path() /
                                     ("baton_rls_fuzzer_" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(path) << baton::fuzz::kRules;
  baton::fuzz::rules = new baton::rls::RlsRules(path.string());
  const absl::Status loaded = baton::fuzz::rules->Load();
  std::filesystem::remove(path);
  if (!loaded.ok()) baton::fuzz::Fail("the rules", loaded.ToString());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  envoy::service::ratelimit::v3::RateLimitRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  baton::fuzz::FuzzNode n;
  baton::rls::RlsService service(&n.node, baton::fuzz::rules);
  baton::fuzz::Ask(n, service, request);
  n.clock.Advance(absl::Seconds(1));
  baton::fuzz::Ask(n, service, request);
  return 0;
}

// Copyright 2026 The Baton Authors.
//
// make_seeds writes the fuzzers' seed corpora, tests/fuzz/corpus/<fuzzer>/,
// from the valid inputs listed here in protobuf's text format (YAML as is
// for rls_config_fuzzer): one file per seed, named after it.
//
//   build-fuzz/tests/fuzz/make_seeds tests/fuzz/corpus   # scripts/fuzz.sh --seeds
//
// A seed that does not parse is an error: the list stays valid.

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "baton/v1/session.pb.h"
#include "fuzz_input.pb.h"
#include "envoy/service/ratelimit/v3/rls.pb.h"
#include "google/protobuf/message.h"
#include "google/protobuf/text_format.h"

namespace {

struct Seed {
  const char* name;
  const char* text;
};

// session_fuzzer: one ClientMessage. The fuzzer declares "rate",
// "rate/unfair" and "latch" first (fuzz_support.h).
constexpr Seed kSession[] = {
    {"open", R"(open { client_name: "a" default_owner_key: "w" lease { seconds: 10 } })"},
    {"open_short_lease", R"(open { lease { seconds: 1 } }
       requests { id: 1 name: "jobs/a" kind: KIND_PRIORITY_LOCK acquire {} })"},
    {"lock_contended", R"(
       requests { id: 1 name: "jobs/a" kind: KIND_PRIORITY_LOCK acquire {} }
       requests { id: 2 name: "jobs/a" kind: KIND_PRIORITY_LOCK owner_key: "b"
                  acquire { priority: -1 timeout { seconds: 1 } } }
       requests { id: 3 name: "jobs/a" kind: KIND_PRIORITY_LOCK release {} }
       requests { id: 4 name: "jobs/a" kind: KIND_PRIORITY_LOCK read {} })"},
    {"rlock_reentrant", R"(
       requests { id: 1 name: "r" kind: KIND_RLOCK acquire {} }
       requests { id: 2 name: "r" kind: KIND_RLOCK acquire {} }
       requests { id: 3 name: "r" kind: KIND_RLOCK release {} }
       requests { id: 4 name: "q" kind: KIND_PRIORITY_RLOCK acquire { priority: 5 } })"},
    {"cancel_wait", R"(
       requests { id: 1 name: "l" kind: KIND_PRIORITY_LOCK owner_key: "x" acquire {} }
       requests { id: 2 name: "l" kind: KIND_PRIORITY_LOCK owner_key: "y" acquire {} }
       requests { id: 3 cancel { request_id: 2 } }
       requests { id: 4 cancel { request_id: 99 } })"},
    {"semaphore_bounded", R"(
       requests { id: 1 name: "s" kind: KIND_DYNAMIC_BOUNDED_SEMAPHORE acquire {} }
       requests { id: 2 name: "s" kind: KIND_DYNAMIC_BOUNDED_SEMAPHORE acquire { timeout { nanos: 500000000 } } }
       requests { id: 3 name: "s" kind: KIND_DYNAMIC_BOUNDED_SEMAPHORE set_bound { bound: 3 } }
       requests { id: 4 name: "s" kind: KIND_DYNAMIC_BOUNDED_SEMAPHORE release {} }
       requests { id: 5 name: "s" kind: KIND_DYNAMIC_BOUNDED_SEMAPHORE set_bound { bound: 0 } }
       requests { id: 6 name: "s" kind: KIND_DYNAMIC_BOUNDED_SEMAPHORE read {} })"},
    {"semaphore_priority", R"(
       requests { id: 1 name: "p" kind: KIND_PRIORITY_SEMAPHORE acquire { priority: 2 } }
       requests { id: 2 name: "p" kind: KIND_PRIORITY_SEMAPHORE acquire { priority: -3 } }
       requests { id: 3 name: "p" kind: KIND_PRIORITY_SEMAPHORE release { strict: false } }
       requests { id: 4 name: "p" kind: KIND_PRIORITY_SEMAPHORE reset {} }
       requests { id: 5 name: "p" kind: KIND_PRIORITY_SEMAPHORE release {} })"},
    {"rate", R"(
       requests { id: 1 name: "rate" kind: KIND_ADVANCED_RATE_LIMIT rate_acquire { tokens: 3 } }
       requests { id: 2 name: "rate" kind: KIND_ADVANCED_RATE_LIMIT
                  rate_acquire { tokens: 4 timeout {} } }
       requests { id: 3 name: "rate" kind: KIND_ADVANCED_RATE_LIMIT
                  rate_acquire { tokens: 2 timeout { seconds: 2 } } }
       requests { id: 4 name: "rate" kind: KIND_ADVANCED_RATE_LIMIT rate_release { tokens: 1.5 } }
       requests { id: 5 name: "rate" kind: KIND_ADVANCED_RATE_LIMIT set_rate { rate: 0.25 } }
       requests { id: 6 name: "rate/unfair" kind: KIND_ADVANCED_RATE_LIMIT rate_acquire {} }
       requests { id: 7 name: "rate/unfair" kind: KIND_ADVANCED_RATE_LIMIT rate_acquire { tokens: 2 } }
       requests { id: 8 name: "rate" kind: KIND_ADVANCED_RATE_LIMIT read {} })"},
    {"condition", R"(
       requests { id: 1 name: "c" kind: KIND_KEYED_CONDITION acquire {} }
       requests { id: 2 name: "c" kind: KIND_KEYED_CONDITION condition_wait { key: "k" timeout { seconds: 1 } } }
       requests { id: 3 name: "c" kind: KIND_KEYED_CONDITION owner_key: "o" acquire {} }
       requests { id: 4 name: "c" kind: KIND_KEYED_CONDITION owner_key: "o" notify { key: "k" n: 2 strict: true } }
       requests { id: 5 name: "c" kind: KIND_KEYED_CONDITION owner_key: "o" notify_all { key: "k" } }
       requests { id: 6 name: "c" kind: KIND_KEYED_CONDITION owner_key: "o" notify_all {} }
       requests { id: 7 name: "c" kind: KIND_KEYED_CONDITION wait_all { timeout { seconds: 3 } } }
       requests { id: 8 name: "c" kind: KIND_KEYED_CONDITION owner_key: "o" release {} })"},
    {"latch", R"(
       requests { id: 1 name: "latch" kind: KIND_MULTI_COUNT_DOWN_LATCH latch_wait { key: "a" } }
       requests { id: 2 name: "latch" kind: KIND_MULTI_COUNT_DOWN_LATCH wait_all {} }
       requests { id: 3 name: "latch" kind: KIND_MULTI_COUNT_DOWN_LATCH count_down { key: "a" strict: true } }
       requests { id: 4 name: "latch" kind: KIND_MULTI_COUNT_DOWN_LATCH count_down { key: "z" } }
       requests { id: 5 name: "latch" kind: KIND_MULTI_COUNT_DOWN_LATCH latch_wait { key: "q" strict: true } }
       requests { id: 6 name: "latch" kind: KIND_MULTI_COUNT_DOWN_LATCH count_down_all {} }
       requests { id: 7 name: "latch" kind: KIND_MULTI_COUNT_DOWN_LATCH read {} })"},
    {"shards", R"(
       requests { id: 1 name: "a/1" kind: KIND_PRIORITY_LOCK acquire {} }
       requests { id: 2 name: "b/2" kind: KIND_PRIORITY_LOCK acquire {} }
       requests { id: 3 name: "c/3" kind: KIND_PRIORITY_LOCK acquire {} }
       requests { id: 4 name: "d/4" kind: KIND_RLOCK acquire {} }
       requests { id: 5 name: "e/5" kind: KIND_PRIORITY_SEMAPHORE acquire {} }
       requests { id: 1 name: "a/1" kind: KIND_PRIORITY_LOCK release {} })"},
    {"bad", R"(
       requests { id: 1 name: "a//b" kind: KIND_PRIORITY_LOCK acquire {} }
       requests { id: 2 name: "ok" acquire {} }
       requests { id: 3 name: "ok" kind: KIND_PRIORITY_LOCK rate_acquire {} }
       requests { id: 4 name: "ok" kind: KIND_RLOCK acquire { priority: 1 } }
       requests { id: 5 name: "ok" kind: KIND_PRIORITY_LOCK acquire { timeout { seconds: -1 } } }
       requests { id: 6 name: "ok" kind: KIND_PRIORITY_LOCK }
       requests { id: 7 name: "rate" kind: KIND_ADVANCED_RATE_LIMIT rate_acquire { tokens: nan } }
       requests { id: 8 name: "s" kind: KIND_DYNAMIC_BOUNDED_SEMAPHORE set_bound { bound: -1 } }
       requests { id: 9 name: "rate" kind: KIND_PRIORITY_LOCK acquire {} }
       requests { id: 10 name: "c" kind: KIND_KEYED_CONDITION notify { key: "k" n: 0 } })"},
};

// admin_fuzzer: a session's message, then Admin calls.
constexpr Seed kAdmin[] = {
    {"declare_each_kind", R"(
       calls { declare { name: "r" config { kind: KIND_ADVANCED_RATE_LIMIT rate_limit { rate: 2 capacity: 4 fair: false } } } }
       calls { declare { name: "s" config { kind: KIND_DYNAMIC_BOUNDED_SEMAPHORE semaphore { value: 3 } } } }
       calls { declare { name: "p" config { kind: KIND_PRIORITY_SEMAPHORE semaphore { value: 2 } } } }
       calls { declare { name: "l" config { kind: KIND_MULTI_COUNT_DOWN_LATCH latch { counts { key: "x" value: 1 } } } } }
       calls { declare { name: "k" config { kind: KIND_PRIORITY_LOCK } } }
       calls { declare { name: "k" config { kind: KIND_RLOCK } } }
       calls { list { page_size: 2 } }
       calls { list { prefix: "p" kind: KIND_PRIORITY_SEMAPHORE } })"},
    {"rate", R"(
       calls { declare { name: "r" config { kind: KIND_ADVANCED_RATE_LIMIT rate_limit { rate: 1 } } } }
       calls { try_acquire { name: "r" } advance_ms: 100 }
       calls { try_acquire { name: "r" tokens: 5 } }
       calls { set_rate { name: "r" rate: 100 } advance_ms: 1000 }
       calls { try_acquire { name: "r" tokens: 0.5 } }
       calls { describe { name: "r" kind: KIND_ADVANCED_RATE_LIMIT } })"},
    {"held", R"(
       session { requests { id: 1 name: "k" kind: KIND_PRIORITY_LOCK acquire {} }
                 requests { id: 2 name: "k" kind: KIND_PRIORITY_LOCK owner_key: "2" acquire {} }
                 requests { id: 3 name: "p" kind: KIND_PRIORITY_SEMAPHORE acquire {} }
                 requests { id: 4 name: "s" kind: KIND_DYNAMIC_BOUNDED_SEMAPHORE acquire {} }
                 requests { id: 5 name: "s" kind: KIND_DYNAMIC_BOUNDED_SEMAPHORE acquire {} } }
       calls { describe { name: "k" } }
       calls { set_bound { name: "s" bound: 4 } }
       calls { set_bound { name: "s" bound: 0 } }
       calls { reset { name: "p" } }
       calls { delete { name: "k" kind: KIND_PRIORITY_LOCK reason: "maintenance" } }
       calls { describe { name: "k" } })"},
    {"latch_waited", R"(
       session { requests { id: 1 name: "latch" kind: KIND_MULTI_COUNT_DOWN_LATCH latch_wait { key: "a" } } }
       calls { describe { name: "latch" } }
       calls { delete { name: "latch" } advance_ms: 700000 }
       calls { list {} })"},
    {"bad", R"(
       calls { declare { name: "" config { kind: KIND_PRIORITY_LOCK } } }
       calls { declare { name: "x" config { kind: KIND_ADVANCED_RATE_LIMIT } } }
       calls { declare { name: "x" config { kind: KIND_PRIORITY_LOCK semaphore { value: 1 } } } }
       calls { declare { name: "x" config { kind: KIND_MULTI_COUNT_DOWN_LATCH latch { counts { key: "" value: 1 } } } } }
       calls { set_rate { name: "rate" rate: -1 } }
       calls { set_bound { name: "rate" bound: 1 } }
       calls { reset { name: "nothing" } }
       calls { try_acquire { name: "rate" tokens: inf } }
       calls { list { page_size: -1 } }
       calls { list { prefix: "a" page_token: "b" } }
       calls { describe { name: "rate" kind: KIND_RLOCK } })"},
};

// rls_fuzzer: one RateLimitRequest against rls_fuzzer.cc's rules.
constexpr Seed kRls[] = {
    {"login", R"(domain: "edge" descriptors { entries { key: "path" value: "/login" } })"},
    {"address", R"(domain: "edge" hits_addend: 3
       descriptors { entries { key: "remote_address" value: "10.0.0.1" } }
       descriptors { entries { key: "remote_address" value: "10.0.0.2" } })"},
    {"nested", R"(domain: "edge"
       descriptors { entries { key: "path" value: "/api/x" } entries { key: "user" value: "u1" } }
       descriptors { entries { key: "path" value: "/api/x" } entries { key: "user" value: "admin" } })"},
    {"replaces", R"(domain: "edge"
       descriptors { entries { key: "path" value: "/login" } }
       descriptors { entries { key: "internal" value: "yes" } }
       descriptors { entries { key: "blocked" value: "1" } }
       descriptors { entries { key: "yearly" value: "1" } })"},
    {"override", R"(domain: "edge" descriptors { entries { key: "path" value: "/x" }
       limit { requests_per_unit: 2 unit: MINUTE } })"},
    {"unknown_domain", R"(domain: "other" descriptors { entries { key: "k" value: "v" } })"},
    {"escaped", R"(domain: "." descriptors { entries { key: "a=b/c" value: "\303\251 %" } })"},
};

// rls_config_fuzzer: the text of one file.
constexpr Seed kRlsConfig[] = {
    {"edge.yaml", R"(domain: edge
descriptors:
  - key: remote_address
    rate_limit:
      unit: minute
      requests_per_unit: 100
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
  - key: internal
    rate_limit: {unlimited: true, replaces: [{name: login}]}
  - key: blocked
    rate_limit: {unit: second, requests_per_unit: 0}
    detailed_metric: true
)"},
    {"minimal.yaml", "domain: a\n"},
    {"bad_unit.yaml", "domain: a\ndescriptors:\n  - key: k\n    rate_limit: {unit: minutes, requests_per_unit: 1}\n"},
    {"anchors.yaml", "domain: a\ndescriptors:\n  - &d {key: k, rate_limit: {unit: day, requests_per_unit: 1}}\n  - *d\n"},
};

// WriteProtos() writes each seed of `seeds` as a binary Message.
template <typename Message, std::size_t N>
bool WriteProtos(const std::filesystem::path& dir, const Seed (&seeds)[N]) {
  std::filesystem::create_directories(dir);
  for (const Seed& seed : seeds) {
    Message message;
    if (!google::protobuf::TextFormat::ParseFromString(seed.text, &message)) {
      std::fprintf(stderr, "make_seeds: %s/%s does not parse\n", dir.c_str(), seed.name);
      return false;
    }
    std::ofstream(dir / seed.name, std::ios::binary) << message.SerializeAsString();
  }
  return true;
}

template <std::size_t N>
bool WriteTexts(const std::filesystem::path& dir, const Seed (&seeds)[N]) {
  std::filesystem::create_directories(dir);
  for (const Seed& seed : seeds) std::ofstream(dir / seed.name, std::ios::binary) << seed.text;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds CORPUS_DIR (tests/fuzz/corpus)\n");
    return 2;
  }
  const std::filesystem::path root = argv[1];
  const bool ok =
      WriteProtos<baton::v1::ClientMessage>(root / "session_fuzzer", kSession) &&
      WriteProtos<baton::fuzz::AdminCalls>(root / "admin_fuzzer", kAdmin) &&
      WriteProtos<envoy::service::ratelimit::v3::RateLimitRequest>(root / "rls_fuzzer", kRls) &&
      WriteTexts(root / "rls_config_fuzzer", kRlsConfig);
  return ok ? 0 : 1;
}

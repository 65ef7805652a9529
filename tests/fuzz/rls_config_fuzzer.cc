// Copyright 2026 The Baton Authors.
//
// rls_config_fuzzer: the bytes are the text of an --rls_config YAML file
// (envoyproxy/ratelimit's format), read by RlsConfig::Parse.
//
// Invariants, besides no crash and no sanitizer report (yaml-cpp's own
// exceptions included: Parse must turn each into an error):
//   - an error is INVALID_ARGUMENT and starts with the file's name
//     ("fuzz.yaml:LINE: field: rule", rls_config.h);
//   - a config that parses answers Find() for its domain's first keys.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/rls/rls_config.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  baton::fuzz::Quiet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<baton::rls::RlsConfig> config = baton::rls::RlsConfig::Parse(text, "fuzz.yaml");
  if (!config.ok()) {
    const absl::Status& status = config.status();
    if (status.code() != absl::StatusCode::kInvalidArgument) {
      baton::fuzz::Fail("not INVALID_ARGUMENT", status.ToString());
    }
    if (status.message().substr(0, 9) != "fuzz.yaml") {
      baton::fuzz::Fail("error does not name the file", status.ToString());
    }
    return 0;
  }
  // Lookups of a few shapes; the domain is unknown here, so try the
  // common ones the seeds use.
  for (const char* domain : {"edge", "a", ""}) {
    const baton::rls::RlsEntry one[] = {{"path", "/login"}};
    const baton::rls::RlsEntry two[] = {{"path", "/api/x"}, {"user", "admin"}};
    static_cast<void>(config->Find(domain, one));
    static_cast<void>(config->Find(domain, two));
  }
  return 0;
}

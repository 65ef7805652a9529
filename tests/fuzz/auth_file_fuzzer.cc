// Copyright 2026 The Baton Authors.
//
// auth_file_fuzzer: the bytes are the text of an --auth_file (YAML), read by
// AccessConfig::Parse (server/auth/access.h).
//
// Invariants, besides no crash and no sanitizer report (yaml-cpp's own
// exceptions included: Parse must turn each into an error):
//   - an error is INVALID_ARGUMENT and starts with the file's name;
//   - an error never quotes a token of the file (tokens are secrets): no
//     token of any principal the text might hold appears inside the parts
//     of the message quoted with '...' (where the parser puts what it
//     quotes of the file), checked against every scalar of a "tokens" list
//     that yaml-cpp can read and that is no other scalar of the file too (a
//     name the error may rightly quote);
//   - a file that parses finds each principal by each of its tokens and
//     subjects and by its name, and `admin` on a namespace implies `use`.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "server/auth/access.h"
#include "tests/fuzz/fuzz_support.h"
#include "yaml-cpp/yaml.h"

namespace {

// Every scalar of `node` (keys included) into `out`.
void Scalars(const YAML::Node& node, std::vector<std::string>* out) {
  if (node.IsScalar()) {
    out->push_back(node.Scalar());
  } else if (node.IsSequence()) {
    for (const YAML::Node& item : node) Scalars(item, out);
  } else if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      Scalars(it->first, out);
      Scalars(it->second, out);
    }
  }
}

// The token-like scalars of the text, read by yaml-cpp alone (empty when
// it cannot): principals[*].tokens[*], at least 8 bytes (a shorter one
// could appear by chance), and found in no other scalar of the file.
std::vector<std::string> TokensIn(std::string_view text) {
  std::vector<std::string> tokens;
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    if (!root.IsMap() || !root["principals"] || !root["principals"].IsSequence()) return tokens;
    std::vector<std::string> candidates;
    for (const YAML::Node& principal : root["principals"]) {
      if (!principal.IsMap() || !principal["tokens"] || !principal["tokens"].IsSequence()) {
        continue;
      }
      for (const YAML::Node& token : principal["tokens"]) {
        if (token.IsScalar() && token.Scalar().size() >= 8) candidates.push_back(token.Scalar());
      }
    }
    std::vector<std::string> all;
    Scalars(root, &all);
    for (const std::string& token : candidates) {
      // Once as a token it is; more often, it is also something else.
      std::size_t seen = 0;
      for (const std::string& scalar : all) {
        if (scalar.find(token) != std::string::npos) ++seen;
      }
      if (seen == 1) tokens.push_back(token);
    }
  } catch (const YAML::Exception&) {
  }
  return tokens;
}

// Quoted() is the parts of `message` between single quotes.
std::vector<std::string_view> Quoted(std::string_view message) {
  std::vector<std::string_view> parts;
  std::size_t at = 0;
  while (true) {
    const std::size_t open = message.find('\'', at);
    if (open == std::string_view::npos) break;
    const std::size_t close = message.find('\'', open + 1);
    if (close == std::string_view::npos) break;
    parts.push_back(message.substr(open + 1, close - open - 1));
    at = close + 1;
  }
  return parts;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  baton::fuzz::Quiet();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using baton::auth::AccessConfig;
  using baton::auth::Role;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<AccessConfig> config = AccessConfig::Parse(text, "fuzz.yaml");
  if (!config.ok()) {
    const absl::Status& status = config.status();
    if (status.code() != absl::StatusCode::kInvalidArgument) {
      baton::fuzz::Fail("not INVALID_ARGUMENT", status.ToString());
    }
    if (status.message().substr(0, 9) != "fuzz.yaml") {
      baton::fuzz::Fail("error does not name the file", status.ToString());
    }
    const std::string_view message(status.message().data(), status.message().size());
    for (const std::string& token : TokensIn(text)) {
      for (const std::string_view quoted : Quoted(message)) {
        if (quoted.find(token) != std::string_view::npos) {
          baton::fuzz::Fail("an error quotes a token", status.ToString());
        }
      }
    }
    return 0;
  }
  for (const baton::auth::Principal& principal : config->principals()) {
    if (config->ByName(principal.name) != &principal) {
      baton::fuzz::Fail("principal not found by its name", principal.name);
    }
    for (const std::string& token : principal.tokens) {
      if (config->ByToken(token) != &principal) {
        baton::fuzz::Fail("principal not found by its token", principal.name);
      }
    }
    for (const std::string& subject : principal.subjects) {
      if (config->BySubject({subject}) != &principal) {
        baton::fuzz::Fail("principal not found by its subject", subject);
      }
    }
    for (const baton::auth::Grant& grant : principal.grants) {
      std::string ns = grant.pattern;
      if (!ns.empty() && ns.back() == '*') ns.pop_back();
      if (baton::auth::Permits(principal, ns, Role::kAdmin) &&
          !baton::auth::Permits(principal, ns, Role::kUse)) {
        baton::fuzz::Fail("admin without use", ns);
      }
    }
    static_cast<void>(config->QuotasOf("default"));
  }
  return 0;
}

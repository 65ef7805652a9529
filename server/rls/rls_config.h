// Copyright 2026 The Baton Authors.
//
// RlsConfig is the rules of batond's Envoy rate-limit service, read from
// envoyproxy/ratelimit's own YAML format (one domain per file):
//
//   domain: edge
//   descriptors:
//     - key: remote_address          # no value: a default for every value
//       rate_limit: {unit: minute, requests_per_unit: 100}
//     - key: path
//       value: /login                # exact value
//       rate_limit: {unit: second, requests_per_unit: 5}
//       shadow_mode: true            # answer OK, but count
//     - key: path
//       value: /api/*                # wildcard: a value prefix
//       descriptors:                 # nested: the next entry of the descriptor
//         - key: user
//           rate_limit: {unit: hour, requests_per_unit: 1000}
//     - key: internal
//       rate_limit: {unlimited: true}
//
// Matching a request's descriptor, as envoyproxy/ratelimit's config loader
// (src/config/config_impl.go, GetLimit) does: its entries are walked in
// order, one nesting level each. At each level an entry matches, first
// match wins, (1) the rule with the same key and value, (2) a rule with the
// same key whose value ends in '*' and is a prefix of the entry's value (in
// config order), (3) the rule with the same key and no value (the default).
// An exact value beats the default even if the exact rule has no limit and
// no nesting (the walk then stops without a limit). The limit applies only
// if the rule matched by the LAST entry has a rate_limit: a descriptor
// deeper or shallower than the rules gets none. Wildcards are looked up at
// the level being matched (older ratelimit releases looked at the domain's
// top level only).
//
// Units: second, minute, hour, day, month (30 days) and year (365 days),
// case-insensitive. `unlimited: true` takes no unit. `requests_per_unit: 0`
// refuses everything (it must be written: a missing one is an error).
// `name` and `replaces: [{name: ...}]` are ratelimit's: a matched limit
// whose name another matched limit replaces is not applied.
// `detailed_metric` is accepted and ignored (it only names metrics).
//
// Errors name the file, the line (from yaml-cpp's marks, 1-based), the field
// path and the rule broken: "rls.yaml:7: descriptors[0].rate_limit.unit:
// must be second, minute, hour, day, month or year, got 'minutes'". Unknown
// keys are errors (ratelimit refuses them too).
//
// Example:
//   absl::StatusOr<RlsConfig> config = RlsConfig::Load("/etc/baton/rls");
//   const RlsLimit* limit = config->Find("edge", {{"path", "/login"}});
//
// Threading: immutable once loaded; safe to read from any thread.

#ifndef BATON_SERVER_RLS_RLS_CONFIG_H_
#define BATON_SERVER_RLS_RLS_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace baton::rls {

// The units, numbered as Envoy's RateLimitResponse.RateLimit.Unit.
enum class Unit : int {
  kSecond = 1,
  kMinute = 2,
  kHour = 3,
  kDay = 4,
  kMonth = 5,
  kYear = 6,
};

// UnitDuration() is the length of `unit` (a month is 30 days, a year 365,
// as ratelimit counts them).
absl::Duration UnitDuration(Unit unit);
// UnitName() is the name of `unit` as the config writes it ("minute").
std::string_view UnitName(Unit unit);
// ParseUnit() reads a unit name, case-insensitive; nullopt when unknown.
std::optional<Unit> ParseUnit(std::string_view text);

// One rate_limit of the config (or a request's limit override).
struct RlsLimit {
  std::uint32_t requests_per_unit = 0;
  Unit unit = Unit::kSecond;
  bool unlimited = false;
  bool shadow_mode = false;
  std::string name;                   // rate_limit.name, may be empty
  std::vector<std::string> replaces;  // rate_limit.replaces[].name
  std::string source;                 // "file:line", for logs
};

// One entry of a request's descriptor.
struct RlsEntry {
  std::string_view key;
  std::string_view value;
};

class RlsConfig {
 public:
  RlsConfig() = default;  // no domains: every request is OK
  RlsConfig(RlsConfig&&) = default;
  RlsConfig& operator=(RlsConfig&&) = default;

  // Parse() reads one file's text (one domain); `file` names it in errors.
  // INVALID_ARGUMENT "file:line: field: rule" on any error.
  static absl::StatusOr<RlsConfig> Parse(std::string_view text, std::string_view file);

  // Load() reads `path`: a file, or a directory whose *.yaml and *.yml files
  // (not recursive) are all loaded, in name order. A domain defined twice is
  // an error naming both files. INVALID_ARGUMENT (or NOT_FOUND for a
  // missing path) naming the file.
  static absl::StatusOr<RlsConfig> Load(const std::string& path);

  // Fingerprint() is what changes when a file Load(path) would read changes:
  // the names, sizes and modification times (nanoseconds) of those files.
  // Empty when `path` cannot be read.
  static std::string Fingerprint(const std::string& path);

  // Find() returns the limit that applies to a descriptor of `entries` in
  // `domain` (see the file comment), or nullptr (no limit: OK).
  const RlsLimit* Find(std::string_view domain, absl::Span<const RlsEntry> entries) const;

  bool HasDomain(std::string_view domain) const {
    return domains_.contains(absl::string_view(domain.data(), domain.size()));
  }
  std::size_t domain_count() const { return domains_.size(); }
  // rule_count() is the number of rate_limits, over every domain.
  std::size_t rule_count() const { return rule_count_; }

 private:
  // One level of the descriptor tree.
  struct Rule {
    std::optional<RlsLimit> limit;
    // Exact values by "key\0value"; defaults by "key".
    absl::flat_hash_map<std::string, std::unique_ptr<Rule>> exact;
    absl::flat_hash_map<std::string, std::unique_ptr<Rule>> defaults;
    struct Wildcard {
      std::string key;
      std::string prefix;  // the value without its '*'
      const Rule* rule;
    };
    std::vector<Wildcard> wildcards;  // in config order
    bool has_children() const { return !exact.empty() || !defaults.empty(); }
  };
  class Parser;

  absl::flat_hash_map<std::string, std::unique_ptr<Rule>> domains_;
  absl::flat_hash_map<std::string, std::string> domain_files_;  // domain -> file
  std::size_t rule_count_ = 0;
};

}  // namespace baton::rls

#endif  // BATON_SERVER_RLS_RLS_CONFIG_H_

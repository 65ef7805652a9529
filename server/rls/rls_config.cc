// Copyright 2026 The Baton Authors.

#include "server/rls/rls_config.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "yaml-cpp/yaml.h"

namespace baton::rls {

absl::Duration UnitDuration(Unit unit) {
  switch (unit) {
    case Unit::kSecond: return absl::Seconds(1);
    case Unit::kMinute: return absl::Minutes(1);
    case Unit::kHour: return absl::Hours(1);
    case Unit::kDay: return absl::Hours(24);
    case Unit::kMonth: return absl::Hours(24 * 30);
    case Unit::kYear: return absl::Hours(24 * 365);
  }
  return absl::Seconds(1);
}

std::string_view UnitName(Unit unit) {
  switch (unit) {
    case Unit::kSecond: return "second";
    case Unit::kMinute: return "minute";
    case Unit::kHour: return "hour";
    case Unit::kDay: return "day";
    case Unit::kMonth: return "month";
    case Unit::kYear: return "year";
  }
  return "second";
}

std::optional<Unit> ParseUnit(std::string_view text) {
  const std::string lower = absl::AsciiStrToLower(absl::string_view(text.data(), text.size()));
  for (Unit unit : {Unit::kSecond, Unit::kMinute, Unit::kHour, Unit::kDay, Unit::kMonth,
                    Unit::kYear}) {
    if (lower == UnitName(unit)) return unit;
  }
  return std::nullopt;
}

namespace {

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

// Line() is the 1-based line of `node` (yaml-cpp's marks are 0-based).
int Line(const YAML::Node& node) { return node.Mark().line + 1; }

}  // namespace

// Parser reads one file into a domain, remembering the first error.
class RlsConfig::Parser {
 public:
  explicit Parser(std::string_view file) : file_(file) {}

  absl::Status Error(const YAML::Node& at, std::string_view field, std::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat(Absl(file_), ":", Line(at), ": ", Absl(field), ": ", Absl(what)));
  }

  // Keys() checks that `map` is a map whose keys are among `allowed`.
  absl::Status Keys(const YAML::Node& map, std::string_view field,
                    std::initializer_list<std::string_view> allowed) {
    if (!map.IsMap()) return Error(map, field, "must be a map");
    for (auto it = map.begin(); it != map.end(); ++it) {
      const std::string key = it->first.IsScalar() ? it->first.Scalar() : "";
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::vector<std::string> names(allowed.begin(), allowed.end());
        return Error(it->first, field,
                     absl::StrCat("unknown key '", key, "' (expected ",
                                  absl::StrJoin(names, ", "), ")"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status String(const YAML::Node& node, std::string_view field, std::string* out) {
    if (!node.IsScalar()) return Error(node, field, "must be a string");
    *out = node.Scalar();
    return absl::OkStatus();
  }

  absl::Status Bool(const YAML::Node& node, std::string_view field, bool* out) {
    if (!node.IsScalar()) return Error(node, field, "must be true or false");
    try {
      *out = node.as<bool>();
    } catch (const YAML::Exception&) {
      return Error(node, field, absl::StrCat("must be true or false, got '", node.Scalar(), "'"));
    }
    return absl::OkStatus();
  }

  absl::Status RateLimit(const YAML::Node& node, const std::string& field, bool shadow_mode,
                         RlsLimit* limit) {
    if (auto s = Keys(node, field, {"unit", "requests_per_unit", "unlimited", "name", "replaces"});
        !s.ok()) {
      return s;
    }
    limit->shadow_mode = shadow_mode;
    limit->source = absl::StrCat(file_, ":", Line(node));
    if (node["unlimited"]) {
      if (auto s = Bool(node["unlimited"], field + ".unlimited", &limit->unlimited); !s.ok()) {
        return s;
      }
    }
    if (node["name"]) {
      if (auto s = String(node["name"], field + ".name", &limit->name); !s.ok()) return s;
    }
    if (const YAML::Node unit = node["unit"]; unit) {
      std::string text;
      if (auto s = String(unit, field + ".unit", &text); !s.ok()) return s;
      if (limit->unlimited) {
        return Error(unit, field + ".unit", "must not be given when unlimited is true");
      }
      std::optional<Unit> parsed = ParseUnit(text);
      if (!parsed) {
        return Error(unit, field + ".unit",
                     absl::StrCat("must be second, minute, hour, day, month or year, got '",
                                  text, "'"));
      }
      limit->unit = *parsed;
    } else if (!limit->unlimited) {
      return Error(node, field + ".unit",
                   "missing (second, minute, hour, day, month or year; or unlimited: true)");
    }
    if (const YAML::Node rpu = node["requests_per_unit"]; rpu) {
      std::string text;
      uint64_t value = 0;
      if (!rpu.IsScalar() || !absl::SimpleAtoi(rpu.Scalar(), &value) ||
          value > std::numeric_limits<uint32_t>::max()) {
        return Error(rpu, field + ".requests_per_unit",
                     absl::StrCat("must be an integer in [0, 4294967295], got '",
                                  rpu.IsScalar() ? rpu.Scalar() : "(not a number)", "'"));
      }
      limit->requests_per_unit = static_cast<uint32_t>(value);
    } else if (!limit->unlimited) {
      return Error(node, field + ".requests_per_unit",
                   "missing (an integer; 0 refuses every request, write it explicitly)");
    }
    if (const YAML::Node replaces = node["replaces"]; replaces) {
      if (!replaces.IsSequence()) return Error(replaces, field + ".replaces", "must be a list");
      for (std::size_t i = 0; i < replaces.size(); ++i) {
        const std::string item = absl::StrCat(field, ".replaces[", i, "]");
        if (auto s = Keys(replaces[i], item, {"name"}); !s.ok()) return s;
        std::string name;
        if (replaces[i]["name"]) {
          if (auto s = String(replaces[i]["name"], item + ".name", &name); !s.ok()) return s;
        }
        if (name.empty()) return Error(replaces[i], item + ".name", "must not be empty");
        if (name == limit->name) {
          return Error(replaces[i], item + ".name",
                       absl::StrCat("must not be the limit's own name '", name, "'"));
        }
        limit->replaces.push_back(std::move(name));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Descriptors(const YAML::Node& list, const std::string& field, Rule* parent) {
    if (!list.IsSequence()) return Error(list, field, "must be a list");
    for (std::size_t i = 0; i < list.size(); ++i) {
      const YAML::Node item = list[i];
      const std::string at = absl::StrCat(field, "[", i, "]");
      if (auto s = Keys(item, at,
                        {"key", "value", "rate_limit", "descriptors", "shadow_mode",
                         "detailed_metric"});
          !s.ok()) {
        return s;
      }
      std::string key;
      if (!item["key"]) return Error(item, at + ".key", "missing");
      if (auto s = String(item["key"], at + ".key", &key); !s.ok()) return s;
      if (key.empty()) return Error(item["key"], at + ".key", "must not be empty");
      std::string value;
      if (item["value"]) {
        if (auto s = String(item["value"], at + ".value", &value); !s.ok()) return s;
      }
      bool shadow_mode = false;
      if (item["shadow_mode"]) {
        if (auto s = Bool(item["shadow_mode"], at + ".shadow_mode", &shadow_mode); !s.ok()) {
          return s;
        }
      }
      if (item["detailed_metric"]) {
        bool ignored = false;
        if (auto s = Bool(item["detailed_metric"], at + ".detailed_metric", &ignored); !s.ok()) {
          return s;
        }
      }
      auto rule = std::make_unique<Rule>();
      if (item["rate_limit"]) {
        rule->limit.emplace();
        if (auto s = RateLimit(item["rate_limit"], at + ".rate_limit", shadow_mode, &*rule->limit);
            !s.ok()) {
          return s;
        }
        ++rule_count_;
      }
      if (item["descriptors"]) {
        if (auto s = Descriptors(item["descriptors"], at + ".descriptors", rule.get()); !s.ok()) {
          return s;
        }
      }
      const bool has_value = !value.empty();
      auto& map = has_value ? parent->exact : parent->defaults;
      std::string map_key = has_value ? absl::StrCat(key, std::string(1, '\0'), value) : key;
      if (map.contains(map_key)) {
        return Error(item, at,
                     has_value ? absl::StrCat("duplicate descriptor key '", key, "' value '",
                                              value, "' at this level")
                               : absl::StrCat("duplicate descriptor key '", key,
                                              "' without a value at this level"));
      }
      const Rule* stored = rule.get();
      map.emplace(std::move(map_key), std::move(rule));
      if (has_value && value.back() == '*') {
        parent->wildcards.push_back(
            Rule::Wildcard{key, value.substr(0, value.size() - 1), stored});
      }
    }
    return absl::OkStatus();
  }

  // Domain() reads the whole file: sets `domain` and fills `root`.
  absl::Status Domain(std::string_view text, std::string* domain, Rule* root) {
    YAML::Node doc;
    try {
      doc = YAML::Load(std::string(text));
    } catch (const YAML::ParserException& e) {
      return absl::InvalidArgumentError(
          absl::StrCat(file_, ":", e.mark.line + 1, ": not valid YAML: ", e.msg));
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(absl::StrCat(file_, ": not valid YAML: ", e.what()));
    }
    if (!doc.IsMap()) {
      return absl::InvalidArgumentError(absl::StrCat(
          file_, ":", doc.IsNull() ? 1 : Line(doc),
          ": domain: missing (a rate-limit config is a map with domain and descriptors)"));
    }
    if (auto s = Keys(doc, "(top level)", {"domain", "descriptors"}); !s.ok()) return s;
    if (!doc["domain"]) return Error(doc, "domain", "missing");
    if (auto s = String(doc["domain"], "domain", domain); !s.ok()) return s;
    if (domain->empty()) return Error(doc["domain"], "domain", "must not be empty");
    if (doc["descriptors"] && !doc["descriptors"].IsNull()) {
      if (auto s = Descriptors(doc["descriptors"], "descriptors", root); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  std::size_t rule_count() const { return rule_count_; }

 private:
  std::string file_;
  std::size_t rule_count_ = 0;
};

absl::StatusOr<RlsConfig> RlsConfig::Parse(std::string_view text, std::string_view file) {
  Parser parser(file);
  std::string domain;
  auto root = std::make_unique<Rule>();
  try {
    if (absl::Status s = parser.Domain(text, &domain, root.get()); !s.ok()) return s;
  } catch (const YAML::Exception& e) {  // defensive: a conversion missed above
    return absl::InvalidArgumentError(absl::StrCat(Absl(file), ":", e.mark.line + 1, ": ",
                                                   e.msg));
  }
  RlsConfig config;
  config.rule_count_ = parser.rule_count();
  config.domain_files_.emplace(domain, std::string(file));
  config.domains_.emplace(std::move(domain), std::move(root));
  return config;
}

namespace {

// ConfigFiles() lists the files Load(path) reads.
absl::StatusOr<std::vector<std::string>> ConfigFiles(const std::string& path) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (error || !std::filesystem::exists(status)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file or directory"));
  }
  if (!std::filesystem::is_directory(status)) return std::vector<std::string>{path};
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(path, error)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.') continue;  // editors' swap files, ..data links
    if (!absl::EndsWith(name, ".yaml") && !absl::EndsWith(name, ".yml")) continue;
    if (!entry.is_regular_file(error)) continue;
    files.push_back(entry.path().string());
  }
  if (error) return absl::InvalidArgumentError(absl::StrCat(path, ": ", error.message()));
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no *.yaml or *.yml file in it"));
  }
  return files;
}

}  // namespace

absl::StatusOr<RlsConfig> RlsConfig::Load(const std::string& path) {
  absl::StatusOr<std::vector<std::string>> files = ConfigFiles(path);
  if (!files.ok()) return files.status();
  RlsConfig merged;
  for (const std::string& file : *files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": cannot read: ",
                                                     std::strerror(errno)));
    }
    std::ostringstream text;
    text << in.rdbuf();
    absl::StatusOr<RlsConfig> one = Parse(text.str(), file);
    if (!one.ok()) return one.status();
    for (auto& [domain, rule] : one->domains_) {
      if (auto it = merged.domain_files_.find(domain); it != merged.domain_files_.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            file, ":1: domain: '", domain, "' is defined twice (also in ", it->second, ")"));
      }
      merged.domain_files_.emplace(domain, file);
      merged.domains_.emplace(domain, std::move(rule));
    }
    merged.rule_count_ += one->rule_count_;
  }
  return merged;
}

std::string RlsConfig::Fingerprint(const std::string& path) {
  absl::StatusOr<std::vector<std::string>> files = ConfigFiles(path);
  if (!files.ok()) return "";
  std::string fingerprint;
  for (const std::string& file : *files) {
    struct stat info {};
    if (::stat(file.c_str(), &info) != 0) continue;
    absl::StrAppend(&fingerprint, file, " ", static_cast<int64_t>(info.st_size), " ",
                    static_cast<int64_t>(info.st_mtim.tv_sec), ".",
                    static_cast<int64_t>(info.st_mtim.tv_nsec), " ",
                    static_cast<uint64_t>(info.st_ino), "\n");
  }
  return fingerprint;
}

const RlsLimit* RlsConfig::Find(std::string_view domain,
                                absl::Span<const RlsEntry> entries) const {
  auto it = domains_.find(Absl(domain));
  if (it == domains_.end()) return nullptr;
  const Rule* level = it->second.get();
  const RlsLimit* limit = nullptr;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const RlsEntry& entry = entries[i];
    const Rule* next = nullptr;
    if (!level->exact.empty()) {
      // "key\0value", built in a buffer this thread reuses: no allocation
      // per request once it has grown.
      thread_local std::string key_value;
      key_value.assign(entry.key);
      key_value.push_back('\0');
      key_value.append(entry.value);
      if (auto exact = level->exact.find(Absl(key_value)); exact != level->exact.end()) {
        next = exact->second.get();
      }
    }
    if (next == nullptr) {
      for (const Rule::Wildcard& wildcard : level->wildcards) {
        if (wildcard.key == entry.key && absl::StartsWith(Absl(entry.value), wildcard.prefix)) {
          next = wildcard.rule;
          break;
        }
      }
    }
    if (next == nullptr) {
      if (auto fallback = level->defaults.find(Absl(entry.key)); fallback != level->defaults.end()) {
        next = fallback->second.get();
      }
    }
    if (next == nullptr) break;
    if (next->limit.has_value() && i + 1 == entries.size()) limit = &*next->limit;
    if (!next->has_children()) break;
    level = next;
  }
  return limit;
}

}  // namespace baton::rls

// Copyright 2026 The Baton Authors.

#include "client/cli/format.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/cli/json.h"

namespace baton::cli {
namespace {

constexpr v1::Kind kKinds[] = {
    v1::KIND_ADVANCED_RATE_LIMIT, v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE,
    v1::KIND_KEYED_CONDITION,     v1::KIND_MULTI_COUNT_DOWN_LATCH,
    v1::KIND_PRIORITY_LOCK,       v1::KIND_PRIORITY_RLOCK,
    v1::KIND_PRIORITY_SEMAPHORE,  v1::KIND_RLOCK,
};

std::string YesNo(bool value) { return value ? "yes" : "no"; }

std::string HolderText(const v1::Holder& holder) {
  std::string text = absl::StrCat("session ", holder.session_id());
  if (!holder.owner_key().empty()) absl::StrAppend(&text, ", key ", holder.owner_key());
  if (!holder.client_name().empty()) absl::StrAppend(&text, " (", holder.client_name(), ")");
  absl::StrAppend(&text, ", fence ", holder.fence(), ", count ", holder.count());
  return text;
}

std::string HolderJson(const v1::Holder& holder) {
  JsonObject json;
  json.Unsigned("session_id", holder.session_id())
      .String("owner_key", holder.owner_key())
      .String("client_name", holder.client_name())
      .String("fence", absl::StrCat(holder.fence()))
      .Integer("count", holder.count());
  return json.str();
}

// ConfigText() is the declared parameters: "rate=100 capacity=100 fair=yes".
std::string ConfigText(const v1::InstanceConfig& config) {
  switch (config.params_case()) {
    case v1::InstanceConfig::kRateLimit: {
      const v1::RateLimitParams& p = config.rate_limit();
      return absl::StrCat("rate=", FormatAmount(p.rate()),
                          "/s capacity=", FormatAmount(p.has_capacity() ? p.capacity() : p.rate()),
                          " fair=", YesNo(!p.has_fair() || p.fair()));
    }
    case v1::InstanceConfig::kSemaphore:
      return absl::StrCat("value=",
                          config.semaphore().has_value() ? config.semaphore().value() : 1);
    case v1::InstanceConfig::kLatch: {
      std::vector<std::string> counts;
      for (const v1::LatchParams::Count& entry : config.latch().counts()) {
        counts.push_back(absl::StrCat(entry.key(), "=", entry.value()));
      }
      std::sort(counts.begin(), counts.end());
      return absl::StrJoin(counts, " ");
    }
    case v1::InstanceConfig::PARAMS_NOT_SET:
      break;
  }
  return "";
}

std::string ConfigJson(const v1::InstanceConfig& config) {
  JsonObject json;
  switch (config.params_case()) {
    case v1::InstanceConfig::kRateLimit: {
      const v1::RateLimitParams& p = config.rate_limit();
      json.Number("rate", p.rate())
          .Number("capacity", p.has_capacity() ? p.capacity() : p.rate())
          .Bool("fair", !p.has_fair() || p.fair());
      break;
    }
    case v1::InstanceConfig::kSemaphore:
      json.Integer("value", config.semaphore().has_value() ? config.semaphore().value() : 1);
      break;
    case v1::InstanceConfig::kLatch: {
      JsonObject counts;
      std::map<std::string, std::int64_t> sorted;
      for (const v1::LatchParams::Count& entry : config.latch().counts()) {
        sorted[entry.key()] = entry.value();
      }
      for (const auto& [key, count] : sorted) counts.Integer(key, count);
      json.Raw("counts", counts.str());
      break;
    }
    case v1::InstanceConfig::PARAMS_NOT_SET:
      break;
  }
  return json.str();
}

// Counts of a latch, sorted by key.
std::map<std::string, std::int64_t> SortedCounts(const v1::InstanceState& state) {
  return std::map<std::string, std::int64_t>(state.counts().begin(), state.counts().end());
}

}  // namespace

std::string KindName(v1::Kind kind) {
  switch (kind) {
    case v1::KIND_ADVANCED_RATE_LIMIT:
      return "AdvancedRateLimit";
    case v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE:
      return "DynamicBoundedSemaphore";
    case v1::KIND_KEYED_CONDITION:
      return "KeyedCondition";
    case v1::KIND_MULTI_COUNT_DOWN_LATCH:
      return "MultiCountDownLatch";
    case v1::KIND_PRIORITY_LOCK:
      return "PriorityLock";
    case v1::KIND_PRIORITY_RLOCK:
      return "PriorityRLock";
    case v1::KIND_PRIORITY_SEMAPHORE:
      return "PrioritySemaphore";
    case v1::KIND_RLOCK:
      return "RLock";
    default:
      return absl::StrCat("Kind", static_cast<int>(kind));
  }
}

std::optional<v1::Kind> ParseKind(const std::string& name) {
  for (const v1::Kind kind : kKinds) {
    if (absl::EqualsIgnoreCase(KindName(kind), name)) return kind;
  }
  return std::nullopt;
}

std::string FormatAmount(double value) {
  if (!std::isfinite(value)) return absl::StrCat(value);
  std::string text = absl::StrFormat("%.3f", value);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text == "-0" ? "0" : text;
}

std::string FormatSeconds(absl::Duration duration) {
  return absl::StrFormat("%.3fs", absl::ToDoubleSeconds(duration));
}

std::string DescribeText(const v1::DescribeResponse& response) {
  const v1::InstanceState& s = response.state();
  std::vector<std::string> lines;
  auto line = [&lines](const std::string& key, const std::string& value) {
    lines.push_back(absl::StrFormat("%-12s %s", absl::StrCat(key, ":"), value));
  };
  line("name", response.name());
  line("kind", KindName(response.config().kind()));
  // Describe's config is the live one (SetRate and SetBound included).
  if (std::string config = ConfigText(response.config()); !config.empty()) {
    line("parameters", config);
  }
  if (s.has_locked()) line("locked", YesNo(s.locked()));
  // The owner is also the one holder, listed below.
  if (s.has_owner() && response.holders().empty()) line("owner", HolderText(s.owner()));
  if (s.has_rate()) line("rate", absl::StrCat(FormatAmount(s.rate()), " tokens/s"));
  if (s.has_capacity()) line("capacity", FormatAmount(s.capacity()));
  if (s.has_tokens()) line("tokens", FormatAmount(s.tokens()));
  if (s.has_fair()) line("fair", YesNo(s.fair()));
  if (s.has_bound()) line("bound", absl::StrCat(s.bound()));
  if (s.has_pool()) line("pool", absl::StrCat(s.pool()));
  if (s.has_available()) line("available", absl::StrCat(s.available()));
  if (s.has_held()) line("held", absl::StrCat(s.held()));
  if (s.has_broken()) line("broken", YesNo(s.broken()));
  for (const auto& [key, count] : SortedCounts(s))
    line(absl::StrCat("count ", key), absl::StrCat(count));
  if (s.has_waiter_count()) line("waiters", absl::StrCat(s.waiter_count()));
  if (s.has_last_fence()) line("last fence", absl::StrCat(s.last_fence()));
  for (const v1::Holder& holder : response.holders()) line("holder", HolderText(holder));
  return absl::StrJoin(lines, "\n");
}

std::string DescribeJson(const v1::DescribeResponse& response) {
  const v1::InstanceState& s = response.state();
  JsonObject state;
  if (s.has_locked()) state.Bool("locked", s.locked());
  if (s.has_owner()) state.Raw("owner", HolderJson(s.owner()));
  if (s.has_rate()) state.Number("rate", s.rate());
  if (s.has_capacity()) state.Number("capacity", s.capacity());
  if (s.has_tokens()) state.Number("tokens", s.tokens());
  if (s.has_fair()) state.Bool("fair", s.fair());
  if (s.has_bound()) state.Integer("bound", s.bound());
  if (s.has_pool()) state.Integer("pool", s.pool());
  if (s.has_available()) state.Integer("available", s.available());
  if (s.has_held()) state.Integer("held", s.held());
  if (s.has_broken()) state.Bool("broken", s.broken());
  if (s.counts_size() > 0) {
    JsonObject counts;
    for (const auto& [key, count] : SortedCounts(s)) counts.Integer(key, count);
    state.Raw("counts", counts.str());
  }
  if (s.has_waiter_count()) state.Integer("waiter_count", s.waiter_count());
  // Fences pass 2^53: strings, as proto3's JSON writes 64-bit numbers, so
  // that jq or JavaScript do not round two fences to one.
  if (s.has_last_fence()) state.String("last_fence", absl::StrCat(s.last_fence()));
  std::vector<std::string> holders;
  for (const v1::Holder& holder : response.holders()) holders.push_back(HolderJson(holder));

  JsonObject json;
  json.String("name", response.name())
      .String("kind", KindName(response.config().kind()))
      .Raw("config", ConfigJson(response.config()))
      .Raw("state", state.str())
      .Raw("holders", JsonArray(holders));
  return json.str();
}

}  // namespace baton::cli

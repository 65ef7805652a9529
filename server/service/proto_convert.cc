// Copyright 2026 The Baton Authors.

#include "server/service/proto_convert.h"

#include <cmath>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "server/core/instance_name.h"
#include "server/core/status_macros.h"

namespace baton::service {

namespace {

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

absl::Status PositiveFinite(double value, absl::string_view field) {
  if (std::isfinite(value) && value > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": must be finite and > 0, got ", value));
}

}  // namespace

std::string LatchKeyPath(std::string_view key) {
  return absl::StrCat("config.latch.counts[\"", absl::CHexEscape(Absl(key)), "\"]");
}

absl::StatusOr<core::Kind> KindFromProto(v1::Kind kind, std::string_view field) {
  switch (kind) {
    case v1::KIND_ADVANCED_RATE_LIMIT: return core::Kind::kAdvancedRateLimit;
    case v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE: return core::Kind::kDynamicBoundedSemaphore;
    case v1::KIND_KEYED_CONDITION: return core::Kind::kKeyedCondition;
    case v1::KIND_MULTI_COUNT_DOWN_LATCH: return core::Kind::kMultiCountDownLatch;
    case v1::KIND_PRIORITY_LOCK: return core::Kind::kPriorityLock;
    case v1::KIND_PRIORITY_RLOCK: return core::Kind::kPriorityRLock;
    case v1::KIND_PRIORITY_SEMAPHORE: return core::Kind::kPrioritySemaphore;
    case v1::KIND_RLOCK: return core::Kind::kRLock;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          Absl(field), " must be one of the eight kinds, got ",
          static_cast<int>(kind)));
  }
}

v1::Kind KindToProto(core::Kind kind) {
  switch (kind) {
    case core::Kind::kAdvancedRateLimit: return v1::KIND_ADVANCED_RATE_LIMIT;
    case core::Kind::kDynamicBoundedSemaphore: return v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE;
    case core::Kind::kKeyedCondition: return v1::KIND_KEYED_CONDITION;
    case core::Kind::kMultiCountDownLatch: return v1::KIND_MULTI_COUNT_DOWN_LATCH;
    case core::Kind::kPriorityLock: return v1::KIND_PRIORITY_LOCK;
    case core::Kind::kPriorityRLock: return v1::KIND_PRIORITY_RLOCK;
    case core::Kind::kPrioritySemaphore: return v1::KIND_PRIORITY_SEMAPHORE;
    case core::Kind::kRLock: return v1::KIND_RLOCK;
  }
  return v1::KIND_UNSPECIFIED;
}

absl::StatusOr<core::InstanceConfig> ConfigFromProto(const v1::InstanceConfig& config,
                                                     std::uint32_t max_key_bytes) {
  absl::StatusOr<core::Kind> kind = KindFromProto(config.kind(), "config.kind");
  if (!kind.ok()) return kind.status();
  core::InstanceConfig out;
  out.kind = *kind;
  const std::string kind_name(core::KindName(*kind));
  const auto wrong_params = [&](const char* params) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config.", params, " is not a parameter of ", kind_name));
  };
  switch (*kind) {
    case core::Kind::kAdvancedRateLimit: {
      if (!config.has_rate_limit()) {
        return absl::InvalidArgumentError(
            "config.rate_limit is required for AdvancedRateLimit (rate, and "
            "optionally capacity and fair)");
      }
      const v1::RateLimitParams& p = config.rate_limit();
      BATON_RETURN_IF_ERROR(PositiveFinite(p.rate(), "config.rate_limit.rate"));
      out.rate_limit.rate = p.rate();
      if (p.has_capacity()) {
        BATON_RETURN_IF_ERROR(PositiveFinite(p.capacity(), "config.rate_limit.capacity"));
        out.rate_limit.capacity = p.capacity();
      }
      out.rate_limit.fair = !p.has_fair() || p.fair();
      break;
    }
    case core::Kind::kDynamicBoundedSemaphore:
    case core::Kind::kPrioritySemaphore:
      if (config.has_rate_limit()) return wrong_params("rate_limit");
      if (config.has_latch()) return wrong_params("latch");
      if (config.has_semaphore() && config.semaphore().has_value()) {
        out.value = config.semaphore().value();
        if (out.value < 0) {
          return absl::InvalidArgumentError(
              absl::StrCat("config.semaphore.value: must be >= 0, got ", out.value));
        }
      }
      break;
    case core::Kind::kMultiCountDownLatch:
      if (config.has_rate_limit()) return wrong_params("rate_limit");
      if (config.has_semaphore()) return wrong_params("semaphore");
      for (const v1::LatchParams::Count& entry : config.latch().counts()) {
        const std::string& key = entry.key();
        const std::int64_t count = entry.value();
        if (absl::Status utf8 = core::ValidateUtf8(key, LatchKeyPath(key)); !utf8.ok()) {
          return utf8;
        }
        if (key.size() > max_key_bytes) {
          return absl::InvalidArgumentError(absl::StrCat(
              LatchKeyPath(key.substr(0, 32)), "...: keys must be at most ", max_key_bytes,
              " bytes (max_key_bytes), got ", key.size()));
        }
        if (out.counts.contains(key)) {
          return absl::InvalidArgumentError(
              absl::StrCat(LatchKeyPath(key), ": each key once, got it twice"));
        }
        if (key.empty()) {
          return absl::InvalidArgumentError(absl::StrCat(
              LatchKeyPath(key), ": keys must be non-empty, got one with count ", count));
        }
        if (count < 0) {
          return absl::InvalidArgumentError(absl::StrCat(
              LatchKeyPath(key), ": must be >= 0 (0 starts the counter finished), got ",
              count));
        }
        out.counts[key] = count;
      }
      break;
    default:
      if (config.has_rate_limit()) return wrong_params("rate_limit");
      if (config.has_semaphore()) return wrong_params("semaphore");
      if (config.has_latch()) return wrong_params("latch");
  }
  // The checks above name every field; this one is the core's own, kept
  // as a net for a parameter added to the core and not checked here.
  if (absl::Status valid = core::ValidateConfig(out); !valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("config: ", valid.message()));
  }
  return out;
}

void ConfigToProto(const core::InstanceConfig& config, v1::InstanceConfig* out) {
  out->set_kind(KindToProto(config.kind));
  switch (config.kind) {
    case core::Kind::kAdvancedRateLimit: {
      v1::RateLimitParams* p = out->mutable_rate_limit();
      p->set_rate(config.rate_limit.rate);
      p->set_capacity(config.rate_limit.capacity.value_or(config.rate_limit.rate));
      p->set_fair(config.rate_limit.fair);
      break;
    }
    case core::Kind::kDynamicBoundedSemaphore:
    case core::Kind::kPrioritySemaphore:
      out->mutable_semaphore()->set_value(config.value);
      break;
    case core::Kind::kMultiCountDownLatch:
      for (const auto& [key, count] : config.counts) {
        v1::LatchParams::Count* entry = out->mutable_latch()->add_counts();
        entry->set_key(key);
        entry->set_value(count);
      }
      break;
    default:
      break;
  }
}

bool HasLockOwner(core::Kind kind) {
  switch (kind) {
    case core::Kind::kPriorityLock:
    case core::Kind::kPriorityRLock:
    case core::Kind::kRLock:
    case core::Kind::kKeyedCondition:
      return true;
    default:
      return false;
  }
}

namespace {

void HolderToProto(const core::HolderSnapshot& h, v1::Holder* holder) {
  holder->set_session_id(h.session_id);
  holder->set_owner_key(h.owner_key);
  holder->set_fence(h.fence);
  holder->set_count(h.count);
}

}  // namespace

void StateToProto(const core::InstanceSnapshot& snapshot, v1::InstanceState* state) {
  state->set_kind(KindToProto(snapshot.config.kind));
  state->set_waiter_count(static_cast<std::int64_t>(snapshot.waiter_count));
  if (snapshot.config.kind != core::Kind::kMultiCountDownLatch) {
    state->set_locked(snapshot.locked);
  }
  if (snapshot.config.kind != core::Kind::kAdvancedRateLimit &&
      snapshot.config.kind != core::Kind::kMultiCountDownLatch) {
    state->set_last_fence(snapshot.last_fence);
  }
  if (HasLockOwner(snapshot.config.kind) && !snapshot.holders.empty()) {
    HolderToProto(snapshot.holders.front(), state->mutable_owner());
  }
  if (snapshot.rate_limit) {
    state->set_tokens(snapshot.rate_limit->tokens);
    state->set_rate(snapshot.rate_limit->rate);
    state->set_capacity(snapshot.rate_limit->capacity);
    state->set_fair(snapshot.rate_limit->fair);
  }
  if (snapshot.semaphore) {
    state->set_available(snapshot.semaphore->available);
    state->set_held(snapshot.semaphore->held);
    if (snapshot.config.kind == core::Kind::kDynamicBoundedSemaphore) {
      state->set_bound(snapshot.semaphore->bound);
    } else {
      state->set_pool(snapshot.semaphore->bound);
    }
  }
  if (snapshot.latch) {
    state->set_broken(snapshot.latch->broken);
    for (const auto& [key, count] : snapshot.latch->counts) {
      (*state->mutable_counts())[key] = count;
    }
  }
}

void SnapshotToProto(const core::InstanceSnapshot& snapshot,
                     v1::DescribeResponse* out) {
  out->set_name(snapshot.name);
  ConfigToProto(snapshot.config, out->mutable_config());
  StateToProto(snapshot, out->mutable_state());
  for (const core::HolderSnapshot& h : snapshot.holders) {
    HolderToProto(h, out->add_holders());
  }
}

}  // namespace baton::service

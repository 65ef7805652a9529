// Copyright 2026 The Baton Authors.

#include "server/service/kept_state.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "baton/store/record.pb.h"
#include "server/log/log.h"
#include "server/service/proto_convert.h"

namespace baton::service {

std::string InstanceKey(std::string_view name) {
  std::string key;
  key.reserve(kInstanceKeyPrefix.size() + name.size());
  key.append(kInstanceKeyPrefix);
  key.append(name);
  return key;
}

std::string EncodeInstance(const core::Instance& instance, absl::Time wall_now) {
  store::InstanceRecord record;
  ConfigToProto(instance.config(), record.mutable_declared());
  const core::InstanceConfig live = instance.LiveConfig();
  if (!(live == instance.config())) ConfigToProto(live, record.mutable_live());
  if (const auto* latch = instance.As<core::MultiCountDownLatch>()) {
    for (const auto& [key, count] : latch->counts()) (*record.mutable_counts())[key] = count;
  } else if (const auto* limiter = instance.As<core::RateLimiter>()) {
    record.set_tokens(limiter->tokens());
    record.set_tokens_at_unix_nanos(absl::ToUnixNanos(wall_now));
  }
  return record.SerializeAsString();
}

absl::Status RestoreInstance(core::Registry& registry, std::string_view name,
                             std::string_view bytes, absl::Time wall_now) {
  store::InstanceRecord record;
  auto corrupt = [name](absl::string_view what) {
    return absl::DataLossError(absl::StrCat(
        "store: the record of '", absl::string_view(name.data(), name.size()), "' ", what));
  };
  if (!record.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return corrupt("does not parse");
  }
  absl::StatusOr<core::InstanceConfig> declared = ConfigFromProto(record.declared());
  if (!declared.ok()) return corrupt(declared.status().message());
  absl::StatusOr<core::Instance*> created = registry.Declare(name, *declared);
  if (!created.ok()) return created.status();
  core::Instance* instance = *created;
  instance->set_kept();
  if (record.has_live()) {
    absl::StatusOr<core::InstanceConfig> live = ConfigFromProto(record.live());
    if (!live.ok()) return corrupt(live.status().message());
    if (auto* limiter = instance->As<core::RateLimiter>()) {
      const double rate = live->rate_limit.rate;
      absl::Status set = limiter->Reconfigure(rate, live->rate_limit.capacity.value_or(rate));
      if (!set.ok()) return corrupt(set.message());
    } else if (auto* semaphore = instance->As<core::DynamicBoundedSemaphore>()) {
      absl::Status set = semaphore->SetBound(live->value);
      if (!set.ok()) return corrupt(set.message());
    }
  }
  if (auto* latch = instance->As<core::MultiCountDownLatch>()) {
    core::MultiCountDownLatch::Counts counts(record.counts().begin(), record.counts().end());
    if (absl::Status restored = latch->Restore(counts); !restored.ok()) {
      return corrupt(restored.message());
    }
  } else if (auto* limiter = instance->As<core::RateLimiter>(); limiter && record.has_tokens()) {
    // The bucket refilled while batond was down, as it would have running.
    const absl::Duration down = std::max(
        absl::ZeroDuration(), wall_now - absl::FromUnixNanos(record.tokens_at_unix_nanos()));
    const double level = record.tokens() + limiter->rate() * absl::ToDoubleSeconds(down);
    if (absl::Status restored = limiter->RestoreTokens(level); !restored.ok()) {
      return corrupt(restored.message());
    }
  }
  return absl::OkStatus();
}

KeptState::KeptState(runtime::EventLoop* loop, core::Registry* registry, store::RecordStore* store)
    : loop_(loop),
      registry_(registry),
      store_(store),
      link_(std::make_shared<Link>(this, loop)) {
  registry_->set_eviction_hooks(
      [this](const core::Instance& instance) { return Evict(instance); },
      [this](std::string_view name) { return Reload(name); });
  // A cluster's store: a name's previous owner may have kept it.
  registry_->set_reload_on_any_miss(store_->shared());
}

KeptState::~KeptState() {
  registry_->set_eviction_hooks(nullptr, nullptr);
  registry_->set_reload_on_any_miss(false);
  absl::MutexLock lock(&link_->mu);
  link_->owner = nullptr;
}

void KeptState::Changed(std::string_view name) {
  dirty_.emplace(absl::string_view(name.data(), name.size()));
  ScheduleCommit();
}

void KeptState::ScheduleCommit() {
  if (commit_scheduled_) return;
  commit_scheduled_ = true;
  // After everything this turn runs: one batch carries all its changes.
  loop_->Defer([this] { CommitTurn(); });
}

bool KeptState::Evict(const core::Instance& instance) {
  // In a cluster an idle kept instance stays in memory (as in a batond
  // without a store): a record out of memory would be the node's to
  // forget when the name moves, and another node's to read back.
  if (!instance.kept() || store_->shared()) return false;
  const absl::string_view name(instance.name().data(), instance.name().size());
  // Its state as it leaves (a bucket's level included) is what comes back.
  evicted_.insert_or_assign(name, EncodeInstance(instance, absl::Now()));
  dirty_.erase(name);  // the record above is newer
  ScheduleCommit();
  return true;
}

bool KeptState::Reload(std::string_view name) {
  // The registry calls this for the names it evicted through Evict(), and,
  // with a shared store, for every name it misses.
  const absl::string_view key(name.data(), name.size());
  std::string record;
  if (auto evicted = evicted_.find(key); evicted != evicted_.end()) {
    record = evicted->second;  // not written yet: it stays in the batch
  } else if (store_->shared()) {
    // Deleted here, its deletion in this turn's batch or on its way to the
    // store (whose record is not gone yet): created as new, not restored.
    if (dirty_.contains(key) || pending_.contains(key)) return false;
    // Admitted first, read second: the membership applies the records
    // before the acknowledgement that admits the name here, so a read
    // after the admission sees the previous owner's last record.
    if (!registry_->Admissible(name).ok()) return false;
    absl::StatusOr<std::optional<std::string>> read = store_->Get(InstanceKey(name));
    if (!read.ok() || !read->has_value()) return false;  // never kept: created as new
    record = **std::move(read);
  } else {
    absl::StatusOr<std::optional<std::string>> read = store_->Get(InstanceKey(name));
    if (!read.ok() || !read->has_value()) {
      log::Error("kept instance not found in the store",
                 {{"name", std::string(name)},
                  {"status", read.ok() ? absl::NotFoundError("no record") : read.status()}});
      return false;
    }
    record = **std::move(read);
  }
  if (absl::Status restored = RestoreInstance(*registry_, name, record, absl::Now());
      !restored.ok()) {
    log::Error("kept instance not restored", {{"name", std::string(name)}, {"status", restored}});
    // Not half restored: a record that does not restore is left in the
    // store (for an operator to delete), the name is not served.
    if (registry_->FindLoaded(name) != nullptr) (void)registry_->Delete(name, restored);
    return false;
  }
  return true;
}

void KeptState::Release(const core::Instance& instance) {
  const absl::string_view name(instance.name().data(), instance.name().size());
  if (!dirty_.contains(name)) return;  // its record is written, or being written
  evicted_.insert_or_assign(name, EncodeInstance(instance, absl::Now()));
  dirty_.erase(name);
  ScheduleCommit();
}

void KeptState::WhenDurable(Done done) {
  std::uint64_t sequence = 0;
  if (!dirty_.empty() || !evicted_.empty()) {
    sequence = next_sequence_;  // this turn's batch
  } else if (submitted_ > committed_) {
    sequence = submitted_;
  } else {
    done(absl::OkStatus());
    return;
  }
  waiting_.emplace_back(sequence, std::move(done));
}

void KeptState::Checkpoint(Done done) {
  const absl::Time since = last_checkpoint_;
  last_checkpoint_ = loop_->Now();
  registry_->ForEach([&](core::Instance& instance) {
    if (instance.kind() == core::Kind::kAdvancedRateLimit && !instance.evict_when_full() &&
        instance.last_used() > since) {
      Changed(instance.name());
    }
  });
  WhenDurable(std::move(done));
}

void KeptState::CommitTurn() {
  commit_scheduled_ = false;
  if (dirty_.empty() && evicted_.empty()) return;
  const std::uint64_t sequence = next_sequence_++;
  const absl::Time wall_now = absl::Now();
  store::RecordStore::Batch batch;
  for (auto& [name, record] : evicted_) batch.Put(InstanceKey(name), record);
  evicted_.clear();
  for (const std::string& name : dirty_) {
    const std::string key = InstanceKey(name);
    // Find() would bring back an instance evicted to the store: a Stored()
    // name is not in memory, and its record is up to date.
    const bool stored = registry_->Stored(name);
    core::Instance* instance = stored ? nullptr : registry_->FindLoaded(name);
    if (instance != nullptr) {
      instance->set_kept();
      batch.Put(key, EncodeInstance(*instance, wall_now));
    } else if (!stored) {
      batch.Delete(key);
    }
    pending_.insert_or_assign(name, sequence);
  }
  dirty_.clear();
  submitted_ = sequence;
  store_->Commit(std::move(batch), [link = link_, sequence](const absl::Status& status) {
    absl::MutexLock lock(&link->mu);
    if (link->owner == nullptr) return;
    link->loop->Post([link, sequence, status] {
      KeptState* owner;
      {
        absl::MutexLock lock(&link->mu);
        owner = link->owner;
      }
      if (owner != nullptr) owner->OnCommitted(sequence, status);
    });
  });
}

void KeptState::OnCommitted(std::uint64_t sequence, const absl::Status& status) {
  committed_ = std::max(committed_, sequence);
  if (!status.ok()) {
    log::Error("kept state not durable", {{"status", status}});
  }
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second <= committed_) {
      pending_.erase(it++);
    } else {
      ++it;
    }
  }
  while (!waiting_.empty() && waiting_.front().first <= committed_) {
    Done done = std::move(waiting_.front().second);
    waiting_.pop_front();
    done(status);
  }
}

}  // namespace baton::service

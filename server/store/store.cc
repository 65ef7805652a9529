// Copyright 2026 The Baton Authors.

#include "server/store/store.h"

#include <leveldb/db.h>
#include <leveldb/options.h>
#include <leveldb/write_batch.h>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace baton::store {
namespace {

absl::Status FromLevelDb(const leveldb::Status& status, std::string_view what) {
  if (status.ok()) return absl::OkStatus();
  const std::string message = absl::StrCat("store: ", absl::string_view(what.data(), what.size()), ": ", status.ToString());
  if (status.IsCorruption()) return absl::DataLossError(message);
  if (status.IsNotFound()) return absl::NotFoundError(message);
  return absl::FailedPreconditionError(message);
}

leveldb::Slice SliceOf(std::string_view s) { return leveldb::Slice(s.data(), s.size()); }

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& dir, Options options) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("store: cannot create ", dir, ": ", error.message()));
  }
  leveldb::Options db_options;
  db_options.create_if_missing = true;
  // Records are small and read once at start: a larger write buffer means
  // fewer compactions under a stream of changes.
  db_options.write_buffer_size = 16 << 20;
  leveldb::DB* raw = nullptr;
  leveldb::Status status = leveldb::DB::Open(db_options, dir, &raw);
  if (!status.ok()) {
    if (status.IsIOError() && absl::StrContains(status.ToString(), "LOCK")) {
      return absl::FailedPreconditionError(
          absl::StrCat("store ", dir, " is in use by another process (", status.ToString(), ")"));
    }
    return FromLevelDb(status, absl::StrCat("cannot open ", dir));
  }
  return std::unique_ptr<Store>(new Store(dir, options, std::unique_ptr<leveldb::DB>(raw)));
}

Store::Store(std::string dir, Options options, std::unique_ptr<leveldb::DB> db)
    : dir_(std::move(dir)), options_(options), db_(std::move(db)) {
  writer_ = std::thread([this] { WriterLoop(); });
}

Store::~Store() { Close(); }

absl::StatusOr<std::optional<std::string>> Store::Get(std::string_view key) const {
  std::string value;
  leveldb::Status status = db_->Get(leveldb::ReadOptions(), SliceOf(key), &value);
  if (status.IsNotFound()) return std::nullopt;
  if (!status.ok()) return FromLevelDb(status, absl::StrCat("get ", absl::string_view(key.data(), key.size())));
  return value;
}

absl::Status Store::Scan(
    std::string_view prefix,
    absl::FunctionRef<void(std::string_view key, std::string_view value)> fn) const {
  leveldb::ReadOptions read_options;
  read_options.fill_cache = false;  // read once
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(read_options));
  for (it->Seek(SliceOf(prefix)); it->Valid(); it->Next()) {
    const leveldb::Slice key = it->key();
    const std::string_view k(key.data(), key.size());
    if (k.substr(0, prefix.size()) != prefix) break;
    const leveldb::Slice value = it->value();
    fn(k, std::string_view(value.data(), value.size()));
  }
  return FromLevelDb(it->status(), "scan");
}

absl::Status Store::Write(Batch batch) {
  {
    absl::MutexLock lock(&mu_);
    if (closed_) {
      leveldb::WriteBatch write;
      for (const auto& op : batch.ops()) {
        if (op.value.has_value()) {
          write.Put(SliceOf(op.key), SliceOf(*op.value));
        } else {
          write.Delete(SliceOf(op.key));
        }
      }
      leveldb::WriteOptions write_options;
      write_options.sync = options_.sync;
      return FromLevelDb(db_->Write(write_options, &write), "write");
    }
  }
  absl::Notification written;
  absl::Status result;
  Commit(std::move(batch), [&](const absl::Status& status) {
    result = status;
    written.Notify();
  });
  written.WaitForNotification();
  return result;
}

void Store::Commit(Batch batch, Done done) {
  {
    absl::MutexLock lock(&mu_);
    if (!closing_) {
      queue_.push_back({std::move(batch), std::move(done)});
      return;
    }
  }
  done(absl::FailedPreconditionError("store: closed"));
}

void Store::Close() {
  {
    absl::MutexLock lock(&mu_);
    if (closing_) return;
    closing_ = true;
  }
  writer_.join();
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

void Store::WriterLoop() {
  // How long the last synced write took: on a disk whose fsync is slow, the
  // answers it released come back as new changes within a fraction of it,
  // and a short wait for them (an eighth of a sync, at most 1 ms) puts them
  // in this sync rather than the next (MySQL's group-commit sync delay).
  // On a fast disk (a sync under 1 ms) nothing waits.
  absl::Duration last_sync = absl::ZeroDuration();
  while (true) {
    std::deque<Queued> taken;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &Store::HasWorkLocked));
      if (queue_.empty()) return;  // closing, nothing left
      if (options_.sync && last_sync > absl::Milliseconds(1) && !closing_) {
        const absl::Duration gather = std::min(last_sync / 8, absl::Milliseconds(1));
        mu_.AwaitWithTimeout(absl::Condition(this, &Store::ClosingLocked), gather);
      }
      taken.swap(queue_);
    }
    leveldb::WriteBatch write;
    for (const Queued& queued : taken) {
      for (const auto& op : queued.batch.ops()) {
        if (op.value.has_value()) {
          write.Put(SliceOf(op.key), SliceOf(*op.value));
        } else {
          write.Delete(SliceOf(op.key));
        }
      }
    }
    leveldb::WriteOptions write_options;
    write_options.sync = options_.sync;
    const absl::Time start = absl::Now();
    const absl::Status status = FromLevelDb(db_->Write(write_options, &write), "write");
    last_sync = absl::Now() - start;
    {
      absl::MutexLock lock(&mu_);
      ++syncs_;
      batches_ += taken.size();
    }
    for (Queued& queued : taken) queued.done(status);
  }
}

std::uint64_t Store::syncs() const {
  absl::MutexLock lock(&mu_);
  return syncs_;
}

std::uint64_t Store::batches() const {
  absl::MutexLock lock(&mu_);
  return batches_;
}

}  // namespace baton::store

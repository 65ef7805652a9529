// Copyright 2026 The Baton Authors.
//
// EtcdKeptStore's records in memory, without an etcd: what the snapshot and
// the watch feed, in etcd's order, and what a write refused for want of an
// acknowledgement answers. (Writes to a real etcd: tests/integration's
// ClusterTest.KeptState*.)

#include "server/cluster/etcd_kept_store.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace baton::cluster {
namespace {

constexpr char kPrefix[] = "/baton/test/kept/";

EtcdKeptStore::Options Unreachable() {
  EtcdKeptStore::Options options;
  options.endpoints = {"127.0.0.1:1"};  // nothing listens: no write may succeed
  options.key_prefix = kPrefix;
  options.ack_key = "/baton/test/acks/a";
  options.timeout = absl::Milliseconds(200);
  return options;
}

std::optional<std::string> Record(const EtcdKeptStore& store, std::string_view key) {
  absl::StatusOr<std::optional<std::string>> got = store.Get(key);
  EXPECT_TRUE(got.ok()) << got.status();
  return got.ok() ? *got : std::nullopt;
}

std::string Key(std::string_view key) { return std::string(kPrefix) + std::string(key); }

// CommitAndWait() is Commit()'s result (DEADLINE_EXCEEDED if `done` does not
// run within 5 s).
absl::Status CommitAndWait(EtcdKeptStore& store, EtcdKeptStore::Batch batch) {
  absl::Notification done;
  absl::Status result;
  store.Commit(std::move(batch), [&](const absl::Status& status) {
    result = status;
    done.Notify();
  });
  if (!done.WaitForNotificationWithTimeout(absl::Seconds(5))) {
    return absl::DeadlineExceededError("Commit() did not call back within 5 s");
  }
  return result;
}

TEST(EtcdKeptStoreTest, TheSnapshotAndTheWatchFeedTheRecordsInEtcdsOrder) {
  EtcdKeptStore store(Unreachable());
  EXPECT_TRUE(store.shared());
  store.SetSnapshot({{Key("i/a"), "a1"}, {Key("i/b"), "b1"}, {"/baton/test/acks/x", "a,b"}},
                    /*revision=*/10);
  EXPECT_EQ(store.size(), 2u);  // the acknowledgement is not a record
  EXPECT_EQ(Record(store, "i/a"), "a1");
  EXPECT_EQ(Record(store, "i/b"), "b1");
  EXPECT_EQ(Record(store, "i/c"), std::nullopt);

  store.Apply(Key("i/a"), "a2", 11);
  store.Apply(Key("i/b"), std::nullopt, 12);
  store.Apply(Key("i/c"), "c1", 13);
  store.Apply("/baton/other/kept/i/d", "not ours", 14);
  EXPECT_EQ(Record(store, "i/a"), "a2");
  EXPECT_EQ(Record(store, "i/b"), std::nullopt);
  EXPECT_EQ(Record(store, "i/c"), "c1");
  EXPECT_EQ(Record(store, "i/d"), std::nullopt);

  // An event older than what is known changes nothing.
  store.Apply(Key("i/a"), "a0", 9);
  EXPECT_EQ(Record(store, "i/a"), "a2");

  // A new snapshot (the watch restarted) replaces what it covers.
  store.SetSnapshot({{Key("i/e"), "e1"}}, 20);
  EXPECT_EQ(store.size(), 1u);
  EXPECT_EQ(Record(store, "i/a"), std::nullopt);
  EXPECT_EQ(Record(store, "i/e"), "e1");
}

TEST(EtcdKeptStoreTest, AWriteWithoutAnAcknowledgementFailsAndChangesNothing) {
  EtcdKeptStore store(Unreachable());
  store.SetSnapshot({{Key("i/a"), "a1"}}, 5);
  EtcdKeptStore::Batch batch;
  batch.Put("i/a", "a2");
  batch.Delete("i/b");
  const absl::Status result = CommitAndWait(store, std::move(batch));
  EXPECT_EQ(result.code(), absl::StatusCode::kUnavailable) << result;
  EXPECT_NE(result.message().find("acknowledged membership"), std::string::npos) << result;
  EXPECT_EQ(Record(store, "i/a"), "a1");
  EXPECT_EQ(store.transactions(), 0u);  // nothing was sent
}

TEST(EtcdKeptStoreTest, AWriteEtcdDoesNotAnswerFailsUnavailableNamingTheEndpoint) {
  EtcdKeptStore store(Unreachable());
  store.SetAckRevision(7);
  EtcdKeptStore::Batch batch;
  batch.Put("i/a", "a2");
  const absl::Status result = CommitAndWait(store, std::move(batch));
  EXPECT_EQ(result.code(), absl::StatusCode::kUnavailable) << result;
  EXPECT_NE(result.message().find("127.0.0.1:1"), std::string::npos) << result;
  EXPECT_EQ(Record(store, "i/a"), std::nullopt);
}

TEST(EtcdKeptStoreTest, ACommitAfterCloseFailsAtOnce) {
  EtcdKeptStore store(Unreachable());
  store.Close();
  store.Close();  // idempotent
  absl::Status result;
  store.Commit(EtcdKeptStore::Batch(), [&](const absl::Status& status) { result = status; });
  EXPECT_EQ(result.code(), absl::StatusCode::kFailedPrecondition) << result;
}

}  // namespace
}  // namespace baton::cluster

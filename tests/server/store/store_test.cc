// Copyright 2026 The Baton Authors.
//
// Tests of Store: what is written is read back after a reopen, Write() and
// Commit() keep their order, commits queued together share one sync (group
// commit), a second process (here: a second Open) is refused, and Commit()
// after Close() fails at once.

#include "server/store/store.h"

#include <stdlib.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "gtest/gtest.h"

namespace baton::store {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "store_test.XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << pattern;
    dir_ = pattern + "/state";
  }
  void TearDown() override {
    std::error_code error;
    std::filesystem::remove_all(std::filesystem::path(dir_).parent_path(), error);
  }

  std::unique_ptr<Store> OpenOrDie() {
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir_);
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) std::abort();
    return *std::move(store);
  }

  std::map<std::string, std::string> ScanAll(const Store& store, std::string_view prefix) {
    std::map<std::string, std::string> all;
    EXPECT_TRUE(store
                    .Scan(prefix, [&](std::string_view key, std::string_view value) {
                      all.emplace(key, value);
                    })
                    .ok());
    return all;
  }

  std::string dir_;
};

TEST_F(StoreTest, WhatIsWrittenIsReadBackAfterAReopen) {
  {
    std::unique_ptr<Store> store = OpenOrDie();
    Store::Batch batch;
    batch.Put("i/a", "1");
    batch.Put("i/b", "2");
    batch.Put("fence", "x");
    ASSERT_TRUE(store->Write(std::move(batch)).ok());
    Store::Batch remove;
    remove.Delete("i/a");
    ASSERT_TRUE(store->Write(std::move(remove)).ok());
  }
  std::unique_ptr<Store> store = OpenOrDie();
  EXPECT_EQ(ScanAll(*store, "i/"), (std::map<std::string, std::string>{{"i/b", "2"}}));
  absl::StatusOr<std::optional<std::string>> fence = store->Get("fence");
  ASSERT_TRUE(fence.ok());
  EXPECT_EQ(*fence, "x");
  absl::StatusOr<std::optional<std::string>> absent = store->Get("nothing");
  ASSERT_TRUE(absent.ok());
  EXPECT_FALSE(absent->has_value());
}

TEST_F(StoreTest, CommitsQueuedTogetherShareASyncAndKeepTheirOrder) {
  std::unique_ptr<Store> store = OpenOrDie();
  constexpr int kCommits = 200;
  absl::BlockingCounter done(kCommits);
  for (int i = 0; i < kCommits; ++i) {
    Store::Batch batch;
    batch.Put("i/counter", absl::StrCat(i));  // the last one wins
    batch.Put(absl::StrCat("i/n", i), "x");
    store->Commit(std::move(batch), [&done](const absl::Status& status) {
      EXPECT_TRUE(status.ok()) << status;
      done.DecrementCount();
    });
  }
  done.Wait();
  EXPECT_EQ(store->batches(), static_cast<std::uint64_t>(kCommits));
  EXPECT_LT(store->syncs(), store->batches());  // grouped
  EXPECT_EQ(*store->Get("i/counter").value(), absl::StrCat(kCommits - 1));
  EXPECT_EQ(ScanAll(*store, "i/n").size(), static_cast<std::size_t>(kCommits));
}

TEST_F(StoreTest, ASecondOpenOfTheSameDirectoryIsRefused) {
  std::unique_ptr<Store> store = OpenOrDie();
  absl::StatusOr<std::unique_ptr<Store>> second = Store::Open(dir_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  EXPECT_NE(second.status().message().find("in use"), std::string::npos) << second.status();
}

TEST_F(StoreTest, CommitAfterCloseFailsAtOnceAndWriteStillWorks) {
  std::unique_ptr<Store> store = OpenOrDie();
  store->Close();
  absl::Status result;
  Store::Batch batch;
  batch.Put("i/a", "1");
  store->Commit(std::move(batch), [&result](const absl::Status& status) { result = status; });
  EXPECT_EQ(result.code(), absl::StatusCode::kFailedPrecondition);
  Store::Batch write;
  write.Put("fence", "y");
  EXPECT_TRUE(store->Write(std::move(write)).ok());
  EXPECT_EQ(*store->Get("fence").value(), "y");
}

}  // namespace
}  // namespace baton::store

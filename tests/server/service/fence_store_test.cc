// Copyright 2026 The Baton Authors.
//
// Tests of FenceStore: epochs and fence bases across reopens (restarts),
// Persist(), and the errors: corrupt files (left untouched), directories that
// cannot be created or written, epochs and floors at the end of 64 bits.
// Every test works in a fresh directory of its own under TempDir().

#include "server/service/fence_store.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/store/store.h"

namespace baton::service {
namespace {

// The wall clock of the tests' starts; each test moves it as it needs.
const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);
constexpr std::uint64_t kNowMillis = 1'800'000'000'000;
constexpr std::uint64_t kNowNanos = 1'800'000'000'000'000'000;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

void WriteFile(const std::string& path, absl::string_view contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  ASSERT_TRUE(out.good()) << path;
}

bool Exists(const std::string& path) {
  std::error_code error;
  return std::filesystem::exists(path, error);
}

class FenceStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "fence_store_test.XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << pattern;
    dir_ = pattern;
    state_path_ = dir_ + "/fence-state";
  }

  void TearDown() override {
    std::error_code error;
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, error);
    std::filesystem::remove_all(dir_, error);
  }

  // OpenOrDie() is Open(dir_, now), which must succeed.
  FenceStore OpenOrDie(absl::Time now = kNow) {
    absl::StatusOr<FenceStore> store = FenceStore::Open(dir_, now);
    EXPECT_TRUE(store.ok()) << store.status();
    if (!store.ok()) std::abort();
    return *std::move(store);
  }

  std::string dir_;
  std::string state_path_;
};

TEST_F(FenceStoreTest, FirstStartTakesItsEpochAndBaseFromTheClock) {
  FenceStore store = OpenOrDie();
  EXPECT_EQ(store.epoch(), kNowMillis);
  EXPECT_EQ(store.fence_base(), kNowNanos);
  EXPECT_EQ(store.lead(), absl::ZeroDuration());
  EXPECT_EQ(store.path(), state_path_);
  EXPECT_EQ(ReadFile(state_path_),
            absl::StrCat("epoch ", kNowMillis, "\nfence_floor ", kNowNanos, "\n"));
  EXPECT_FALSE(Exists(state_path_ + ".tmp"));
}

TEST_F(FenceStoreTest, ReopensAtOneInstantTakeTheNextEpochAndALargerBase) {
  // A clock that does not move (or restarts within a millisecond): the file
  // alone keeps epochs and bases increasing.
  std::uint64_t previous_base = 0;
  for (std::uint64_t start = 0; start < 5; ++start) {
    FenceStore store = OpenOrDie();
    EXPECT_EQ(store.epoch(), kNowMillis + start);
    EXPECT_EQ(store.fence_base(), kNowNanos + start * FenceStore::kCrashMargin);
    EXPECT_EQ(store.lead(), absl::Nanoseconds(start * FenceStore::kCrashMargin));
    EXPECT_GT(store.fence_base(), previous_base);
    previous_base = store.fence_base();
  }
}

TEST_F(FenceStoreTest, ALaterStartTakesTheClockWhenItIsAboveTheFile) {
  { FenceStore store = OpenOrDie(); }
  FenceStore store = OpenOrDie(kNow + absl::Seconds(10));
  EXPECT_EQ(store.epoch(), kNowMillis + 10'000);
  EXPECT_EQ(store.fence_base(), kNowNanos + 10'000'000'000);
  EXPECT_EQ(store.lead(), absl::ZeroDuration());
}

TEST_F(FenceStoreTest, ReopenAfterPersistStartsAboveTheHighestFence) {
  std::uint64_t high = 0;
  {
    FenceStore store = OpenOrDie();
    high = store.fence_base() + 12345;
    ASSERT_TRUE(store.Persist(high).ok());
    EXPECT_EQ(ReadFile(state_path_),
              absl::StrCat("epoch ", kNowMillis, "\nfence_floor ", high, "\n"));
  }
  FenceStore store = OpenOrDie(kNow + absl::Seconds(1));
  EXPECT_EQ(store.epoch(), kNowMillis + 1000);
  // One second of nanoseconds is below the margin: the file wins.
  EXPECT_EQ(store.fence_base(), high + FenceStore::kCrashMargin);
  EXPECT_GT(store.fence_base(), high);
}

TEST_F(FenceStoreTest, AClockSetBackIsCoveredByTheFile) {
  std::uint64_t high = 0;
  {
    FenceStore store = OpenOrDie();
    high = store.fence_base() + 1'000'000;
    ASSERT_TRUE(store.Persist(high).ok());
  }
  FenceStore store = OpenOrDie(kNow - absl::Hours(24));
  EXPECT_EQ(store.epoch(), kNowMillis + 1);
  EXPECT_EQ(store.fence_base(), high + FenceStore::kCrashMargin);
  EXPECT_EQ(store.lead(), absl::Hours(24) + absl::Nanoseconds(1'000'000) +
                              absl::Nanoseconds(FenceStore::kCrashMargin));
}

TEST_F(FenceStoreTest, ALostDirectoryStillStartsAboveEveryEarlierFence) {
  // A run that granted fences at a million a second for a minute, then its
  // directory was lost (an emptyDir re-created): the next start, later by
  // the wall clock, is above every fence of it and has a larger epoch.
  std::uint64_t high = 0;
  std::uint64_t epoch = 0;
  {
    FenceStore store = OpenOrDie();
    high = store.fence_base() + 60'000'000;
    epoch = store.epoch();
    ASSERT_TRUE(store.Persist(high).ok());
  }
  std::filesystem::remove_all(dir_);
  FenceStore store = OpenOrDie(kNow + absl::Minutes(1) + absl::Milliseconds(1));
  EXPECT_GT(store.fence_base(), high);
  EXPECT_GT(store.epoch(), epoch);
  EXPECT_EQ(store.lead(), absl::ZeroDuration());
}

TEST_F(FenceStoreTest, PersistNotHigherIsANoOp) {
  FenceStore store = OpenOrDie();
  const std::uint64_t high = store.fence_base() + 100;
  ASSERT_TRUE(store.Persist(high).ok());
  // Remove the file: a Persist() that writes would bring it back.
  ASSERT_EQ(::unlink(state_path_.c_str()), 0);
  EXPECT_TRUE(store.Persist(high).ok());
  EXPECT_TRUE(store.Persist(high - 1).ok());
  EXPECT_TRUE(store.Persist(store.fence_base()).ok());
  EXPECT_TRUE(store.Persist(0).ok());
  EXPECT_FALSE(Exists(state_path_));
  // A higher one writes again.
  EXPECT_TRUE(store.Persist(high + 1).ok());
  EXPECT_EQ(ReadFile(state_path_),
            absl::StrCat("epoch ", kNowMillis, "\nfence_floor ", high + 1, "\n"));
}

TEST_F(FenceStoreTest, AcceptsAHandWrittenFileInAnyOrderWithoutFinalNewline) {
  // Also the files of earlier versions: small epochs, fences epoch << 40.
  const std::uint64_t floor = (std::uint64_t{3} << 40) + 5;
  WriteFile(state_path_, absl::StrCat("fence_floor ", floor, "\nepoch 3"));
  FenceStore store = OpenOrDie();
  EXPECT_EQ(store.epoch(), kNowMillis);
  EXPECT_EQ(store.fence_base(), kNowNanos);
}

TEST_F(FenceStoreTest, AFileAheadOfTheClockWins) {
  WriteFile(state_path_, absl::StrCat("epoch ", kNowMillis * 3, "\nfence_floor ",
                                      kNowNanos * 3));
  FenceStore store = OpenOrDie();
  EXPECT_EQ(store.epoch(), kNowMillis * 3 + 1);
  EXPECT_EQ(store.fence_base(), kNowNanos * 3 + FenceStore::kCrashMargin);
}

TEST_F(FenceStoreTest, CorruptFileIsAnErrorAndIsLeftUntouched) {
  const std::string one = absl::StrCat(std::uint64_t{1} << 40);
  const std::string cases[] = {
      "",
      "\n",
      "garbage",
      "epoch 1\n",
      absl::StrCat("fence_floor ", one, "\n"),
      absl::StrCat("epoch 1\nfence_floor ", one, "\nextra 1\n"),
      absl::StrCat("epoch 1\n\nfence_floor ", one, "\n"),
      absl::StrCat("epoch 1\nfence_floor ", one, "\n\n"),
      absl::StrCat("epoch 1\nepoch 1\nfence_floor ", one, "\n"),
      absl::StrCat("epoch x\nfence_floor ", one, "\n"),
      absl::StrCat("epoch  1\nfence_floor ", one, "\n"),
      absl::StrCat("epoch +1\nfence_floor ", one, "\n"),
      absl::StrCat("epoch -1\nfence_floor ", one, "\n"),
      absl::StrCat("epoch 1 \nfence_floor ", one, "\n"),
      absl::StrCat("epoch 1\r\nfence_floor ", one, "\r\n"),
      absl::StrCat("Epoch 1\nfence_floor ", one, "\n"),
      absl::StrCat("epoch\nfence_floor ", one, "\n"),
      absl::StrCat("epoch 99999999999999999999999\nfence_floor ", one, "\n"),
      absl::StrCat("epoch 0\nfence_floor ", one, "\n"),
      absl::StrCat("epoch 18446744073709551616\nfence_floor ", one, "\n"),
      std::string("epoch 1\0\nfence_floor 1099511627776\n", 35),
      std::string(5000, 'x'),
  };
  for (const std::string& contents : cases) {
    SCOPED_TRACE(absl::StrCat("contents: '", absl::CHexEscape(contents), "'"));
    WriteFile(state_path_, contents);
    absl::StatusOr<FenceStore> store = FenceStore::Open(dir_, kNow);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss)
        << store.status();
    EXPECT_NE(store.status().message().find(state_path_),
              absl::string_view::npos)
        << store.status();
    EXPECT_EQ(ReadFile(state_path_), contents);
    EXPECT_FALSE(Exists(state_path_ + ".tmp"));
  }
}

TEST_F(FenceStoreTest, CorruptFileMessageSaysWhatWasFound) {
  WriteFile(state_path_,
            absl::StrCat("epoch 1\nfence_floor 1\nmystery 42\n"));
  absl::StatusOr<FenceStore> store = FenceStore::Open(dir_, kNow);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("line 3 'mystery 42'"),
            absl::string_view::npos)
      << store.status();
  EXPECT_NE(store.status().message().find("unknown key 'mystery'"),
            absl::string_view::npos)
      << store.status();
}

TEST_F(FenceStoreTest, LastEpochIsAnError) {
  const std::uint64_t last = std::numeric_limits<std::uint64_t>::max();
  const std::string contents = absl::StrCat("epoch ", last, "\nfence_floor 1\n");
  WriteFile(state_path_, contents);
  absl::StatusOr<FenceStore> store = FenceStore::Open(dir_, kNow);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kOutOfRange)
      << store.status();
  EXPECT_EQ(ReadFile(state_path_), contents);
}

TEST_F(FenceStoreTest, SecondToLastEpochStillOpens) {
  const std::uint64_t epoch = std::numeric_limits<std::uint64_t>::max() - 1;
  WriteFile(state_path_, absl::StrCat("epoch ", epoch, "\nfence_floor 1\n"));
  FenceStore store = OpenOrDie();
  EXPECT_EQ(store.epoch(), epoch + 1);
  EXPECT_EQ(store.fence_base(), kNowNanos);
}

TEST_F(FenceStoreTest, FloorWithoutRoomForTheMarginIsAnError) {
  const std::string contents = absl::StrCat(
      "epoch 1\nfence_floor ", std::numeric_limits<std::uint64_t>::max(), "\n");
  WriteFile(state_path_, contents);
  absl::StatusOr<FenceStore> store = FenceStore::Open(dir_, kNow);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kOutOfRange)
      << store.status();
  EXPECT_EQ(ReadFile(state_path_), contents);
}

TEST_F(FenceStoreTest, MissingNestedDirectoryIsCreated) {
  const std::string nested = dir_ + "/a/b/c";
  absl::StatusOr<FenceStore> store = FenceStore::Open(nested + "/", kNow);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(store->epoch(), kNowMillis);
  EXPECT_EQ(store->path(), nested + "/fence-state");
  EXPECT_TRUE(std::filesystem::is_directory(nested));
  EXPECT_TRUE(Exists(nested + "/fence-state"));

  store = absl::UnknownError("closed");  // releases the directory's lock
  absl::StatusOr<FenceStore> again = FenceStore::Open(nested, kNow);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->epoch(), kNowMillis + 1);
}

TEST_F(FenceStoreTest, DirectoryThatIsAFileIsAnError) {
  const std::string file = dir_ + "/plain";
  WriteFile(file, "not a directory");
  for (const std::string& dir : {file, file + "/below"}) {
    SCOPED_TRACE(dir);
    absl::StatusOr<FenceStore> store = FenceStore::Open(dir, kNow);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition)
        << store.status();
    EXPECT_NE(store.status().message().find(file), absl::string_view::npos)
        << store.status();
  }
  EXPECT_EQ(ReadFile(file), "not a directory");
}

TEST_F(FenceStoreTest, EmptyDirectoryNameIsAnError) {
  absl::StatusOr<FenceStore> store = FenceStore::Open("", kNow);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(FenceStoreTest, UnwritableDirectoryIsAnError) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "running as root: chmod does not stop root from writing";
  }
  ASSERT_EQ(::chmod(dir_.c_str(), 0500), 0);
  absl::StatusOr<FenceStore> store = FenceStore::Open(dir_, kNow);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition)
      << store.status();
  EXPECT_NE(store.status().message().find(dir_), absl::string_view::npos)
      << store.status();
  EXPECT_NE(store.status().message().find("Permission denied"),
            absl::string_view::npos)
      << store.status();
  EXPECT_FALSE(Exists(state_path_));
}

TEST_F(FenceStoreTest, PersistIntoAnUnwritableDirectoryFailsAndRetries) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "running as root: chmod does not stop root from writing";
  }
  FenceStore store = OpenOrDie();
  const std::uint64_t high = store.fence_base() + 10;
  ASSERT_EQ(::chmod(dir_.c_str(), 0500), 0);
  absl::Status status = store.Persist(high);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
  ASSERT_EQ(::chmod(dir_.c_str(), 0700), 0);
  // The floor was not raised in memory, so the same call writes now.
  EXPECT_TRUE(store.Persist(high).ok());
  EXPECT_EQ(ReadFile(state_path_),
            absl::StrCat("epoch ", kNowMillis, "\nfence_floor ", high, "\n"));
}

TEST_F(FenceStoreTest, ASecondStoreOnTheSameDirectoryIsRefusedWhileTheFirstLives) {
  absl::StatusOr<FenceStore> first = FenceStore::Open(dir_, kNow);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<FenceStore> second = FenceStore::Open(dir_, kNow);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("in use by another process"), std::string::npos)
      << second.status();
  const std::uint64_t epoch = first->epoch();
  first = absl::UnknownError("closed");  // releases the lock
  absl::StatusOr<FenceStore> third = FenceStore::Open(dir_, kNow);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(third->epoch(), epoch + 1);  // the refused open took no epoch
}

TEST_F(FenceStoreTest, MovedStoreKeepsItsState) {
  FenceStore first = OpenOrDie();
  FenceStore moved = std::move(first);
  EXPECT_EQ(moved.epoch(), kNowMillis);
  EXPECT_EQ(moved.path(), state_path_);
  EXPECT_TRUE(moved.Persist(moved.fence_base() + 1).ok());
  EXPECT_EQ(ReadFile(state_path_), absl::StrCat("epoch ", kNowMillis, "\nfence_floor ",
                                                moved.fence_base() + 1, "\n"));
}

TEST_F(FenceStoreTest, AStoreTakesOverTheFileAndKeepsItsGuarantees) {
  std::uint64_t file_epoch = 0;
  std::uint64_t file_base = 0;
  {
    FenceStore fences = OpenOrDie();
    file_epoch = fences.epoch();
    file_base = fences.fence_base();
    ASSERT_TRUE(fences.Persist(file_base + 1000).ok());
  }
  ASSERT_TRUE(Exists(state_path_));
  std::uint64_t store_base = 0;
  std::uint64_t store_epoch = 0;
  {
    std::unique_ptr<store::Store> store = store::Store::Open(dir_ + "/state").value();
    absl::StatusOr<FenceStore> fences = FenceStore::Open(dir_, kNow, store.get());
    ASSERT_TRUE(fences.ok()) << fences.status();
    // Migrated: above the file's floor plus the crash margin, and the file
    // is gone.
    EXPECT_GT(fences->epoch(), file_epoch);
    EXPECT_EQ(fences->fence_base(), file_base + 1000 + FenceStore::kCrashMargin);
    EXPECT_FALSE(Exists(state_path_));
    store_base = fences->fence_base();
    store_epoch = fences->epoch();
    ASSERT_TRUE(fences->Persist(store_base + 7).ok());
  }
  std::unique_ptr<store::Store> store = store::Store::Open(dir_ + "/state").value();
  absl::StatusOr<FenceStore> fences = FenceStore::Open(dir_, kNow, store.get());
  ASSERT_TRUE(fences.ok()) << fences.status();
  EXPECT_GT(fences->epoch(), store_epoch);
  EXPECT_EQ(fences->fence_base(), store_base + 7 + FenceStore::kCrashMargin);
  EXPECT_FALSE(Exists(state_path_));
}

}  // namespace
}  // namespace baton::service

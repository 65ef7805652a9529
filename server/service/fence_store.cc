// Copyright 2026 The Baton Authors.

#include "server/service/fence_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "server/core/status_macros.h"

namespace baton::service {
namespace {

// A state file is two short lines; anything much larger is not one.
constexpr std::size_t kMaxFileSize = 4096;

struct FenceState {
  std::uint64_t epoch = 0;
  std::uint64_t fence_floor = 0;
};

// strerror_r() is the GNU one (returns the text) or the XSI one (returns 0 and
// fills the buffer), depending on the feature macros; these take either.
[[maybe_unused]] const char* StrErrorResult(const char* text, const char*) {
  return text;
}
[[maybe_unused]] const char* StrErrorResult(int rc, const char* buffer) {
  return rc == 0 ? buffer : "unknown error";
}

// "Permission denied (errno 13)".
std::string ErrnoText(int error_number) {
  char buffer[256] = {};
  return absl::StrCat(
      StrErrorResult(strerror_r(error_number, buffer, sizeof buffer), buffer),
      " (errno ", error_number, ")");
}

absl::Status IoError(absl::string_view what, absl::string_view path,
                     int error_number) {
  return absl::FailedPreconditionError(absl::StrCat(
      "fence state: cannot ", what, " ", path, ": ", ErrnoText(error_number)));
}

absl::Status Corrupt(absl::string_view path, absl::string_view what) {
  return absl::DataLossError(absl::StrCat(
      "fence state file ", path, " is corrupt: ", what,
      " (expected two lines, 'epoch N' and 'fence_floor N'); refusing to "
      "start over, which could grant fences that were granted before: "
      "repair or restore the file"));
}

// A line of the file as it can be shown in a message: escaped, shortened.
std::string Quote(absl::string_view line) {
  constexpr std::size_t kMaxShown = 64;
  std::string quoted =
      absl::StrCat("'", absl::CHexEscape(line.substr(0, kMaxShown)), "'");
  if (line.size() > kMaxShown) absl::StrAppend(&quoted, "...");
  return quoted;
}

// Closes a file descriptor when it goes out of scope, unless Close() did.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() {
    if (fd_ >= 0) ::close(fd_);
  }

  int get() const { return fd_; }

  // Close() closes the descriptor and returns 0 or the errno of close().
  int Close() {
    int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

std::string StripTrailingSlashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// The directory that holds `path` (no trailing slash): "." for a bare name.
std::string ParentOf(const std::string& path) {
  std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  std::string parent = StripTrailingSlashes(path.substr(0, slash));
  return parent == "" ? "/" : parent;
}

absl::Status SyncDirectory(const std::string& dir) {
  ScopedFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return IoError("open directory", dir, errno);
  if (::fsync(fd.get()) != 0) return IoError("sync directory", dir, errno);
  if (int error = fd.Close(); error != 0) {
    return IoError("close directory", dir, error);
  }
  return absl::OkStatus();
}

// MakeDirectories() is `mkdir -p dir`, and syncs the parent of every
// directory it creates, so that the state file does not vanish with its
// directory in a crash.
absl::Status MakeDirectories(const std::string& dir) {
  struct stat info;
  if (::stat(dir.c_str(), &info) == 0) {
    if (S_ISDIR(info.st_mode)) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("fence state: ", dir, " is not a directory"));
  }
  if (errno != ENOENT) return IoError("access", dir, errno);
  const std::string parent = ParentOf(dir);
  if (parent != dir) BATON_RETURN_IF_ERROR(MakeDirectories(parent));
  if (::mkdir(dir.c_str(), 0755) != 0) {
    const int error = errno;
    // Someone else created it meanwhile: fine if it is a directory.
    if (error == EEXIST && ::stat(dir.c_str(), &info) == 0 &&
        S_ISDIR(info.st_mode)) {
      return absl::OkStatus();
    }
    return IoError("create directory", dir, error);
  }
  return SyncDirectory(parent);
}

// ReadStateFile() returns the file's contents, or nullopt if it is absent.
absl::StatusOr<std::optional<std::string>> ReadStateFile(
    const std::string& path) {
  ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::nullopt;
    return IoError("open", path, errno);
  }
  std::string contents;
  char buffer[1024];
  while (true) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("read", path, errno);
    }
    if (n == 0) break;
    contents.append(buffer, static_cast<std::size_t>(n));
    if (contents.size() > kMaxFileSize) {
      return Corrupt(path,
                     absl::StrCat("larger than ", kMaxFileSize, " bytes"));
    }
  }
  return contents;
}

// ParseStateFile() reads `epoch N` and `fence_floor N`, each exactly once, in
// any order, N a plain decimal number; a final newline is optional. Anything
// else is corruption, and so is a state no FenceStore could have written.
absl::StatusOr<FenceState> ParseStateFile(absl::string_view path,
                                          absl::string_view contents) {
  if (contents.empty()) return Corrupt(path, "the file is empty");
  std::vector<absl::string_view> lines = absl::StrSplit(contents, '\n');
  if (lines.back().empty()) lines.pop_back();  // the final newline

  std::optional<std::uint64_t> epoch;
  std::optional<std::uint64_t> fence_floor;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const absl::string_view line = lines[i];
    const std::string where = absl::StrCat("line ", i + 1, " ", Quote(line));
    const std::size_t space = line.find(' ');
    if (space == absl::string_view::npos) {
      return Corrupt(path, absl::StrCat(where, " is not 'KEY VALUE'"));
    }
    const absl::string_view key = line.substr(0, space);
    const absl::string_view value = line.substr(space + 1);
    std::optional<std::uint64_t>* slot = nullptr;
    if (key == "epoch") {
      slot = &epoch;
    } else if (key == "fence_floor") {
      slot = &fence_floor;
    } else {
      return Corrupt(path, absl::StrCat(where, ": unknown key ", Quote(key)));
    }
    if (slot->has_value()) {
      return Corrupt(path, absl::StrCat(where, ": ", key, " appears twice"));
    }
    // SimpleAtoi() alone would also take spaces and a sign.
    std::uint64_t number = 0;
    if (value.empty() ||
        !std::all_of(value.begin(), value.end(), absl::ascii_isdigit) ||
        !absl::SimpleAtoi(value, &number)) {
      return Corrupt(path, absl::StrCat(where, ": ", Quote(value),
                                        " is not a 64-bit unsigned number"));
    }
    *slot = number;
  }
  if (!epoch.has_value()) return Corrupt(path, "no 'epoch' line");
  if (!fence_floor.has_value()) return Corrupt(path, "no 'fence_floor' line");
  if (*epoch == 0) return Corrupt(path, "epoch 0: epochs start at 1");
  return FenceState{.epoch = *epoch, .fence_floor = *fence_floor};
}

std::string FormatStateFile(const FenceState& state) {
  return absl::StrCat("epoch ", state.epoch, "\nfence_floor ",
                      state.fence_floor, "\n");
}

// WriteStateFile() replaces `path` (in `dir`) with `contents` atomically and
// durably: a temp file in `dir`, fsync, rename over `path`, fsync `dir`.
absl::Status WriteStateFile(const std::string& dir, const std::string& path,
                            absl::string_view contents) {
  const std::string temp = absl::StrCat(path, ".tmp");
  ScopedFd fd(
      ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0) return IoError("create", temp, errno);
  auto fail = [&temp](absl::string_view what, int error) {
    absl::Status status = IoError(what, temp, error);
    ::unlink(temp.c_str());
    return status;
  };
  while (!contents.empty()) {
    ssize_t n = ::write(fd.get(), contents.data(), contents.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("write", errno);
    }
    contents.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::fsync(fd.get()) != 0) return fail("sync", errno);
  if (int error = fd.Close(); error != 0) return fail("close", error);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    absl::Status status =
        IoError(absl::StrCat("rename ", temp, " to"), path, errno);
    ::unlink(temp.c_str());
    return status;
  }
  return SyncDirectory(dir);
}

}  // namespace

absl::StatusOr<FenceStore> FenceStore::Open(const std::string& dir, absl::Time now,
                                            store::Store* store) {
  if (dir.empty()) {
    return absl::InvalidArgumentError(
        "fence state: the data directory is empty");
  }
  std::string clean_dir = StripTrailingSlashes(dir);
  BATON_RETURN_IF_ERROR(MakeDirectories(clean_dir));
  std::string path = clean_dir == "/" ? absl::StrCat("/", kFileName)
                                      : absl::StrCat(clean_dir, "/", kFileName);

  // One process per data directory: two sharing it would share an epoch.
  // The lock is held as long as the store lives (and dies with the process).
  const std::string lock_path = absl::StrCat(path, ".lock");
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot open ", lock_path, ": ", std::strerror(errno)));
  }
  std::shared_ptr<void> lock(nullptr, [lock_fd](void*) { ::close(lock_fd); });
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data directory ", clean_dir, " is in use by another process (",
        lock_path, " is locked: ", std::strerror(errno), ")"));
  }

  const std::string store_path =
      store == nullptr ? std::string() : absl::StrCat(store->dir(), " key '", kStoreKey, "'");
  std::optional<std::string> contents;
  std::string read_from = path;
  bool migrate = false;  // from the file into the store
  if (store != nullptr) {
    BATON_ASSIGN_OR_RETURN(contents, store->Get(kStoreKey));
    read_from = store_path;
  }
  if (!contents.has_value()) {
    BATON_ASSIGN_OR_RETURN(contents, ReadStateFile(path));
    read_from = path;
    migrate = store != nullptr && contents.has_value();
  }
  FenceState previous;  // a first start: epoch 0, floor 0
  if (contents.has_value()) {
    BATON_ASSIGN_OR_RETURN(previous, ParseStateFile(read_from, *contents));
  }
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  if (previous.epoch == kMax) {
    return absl::OutOfRangeError(
        absl::StrCat("fence state ", path, ": epoch ", previous.epoch,
                     " was the last one; the next would not fit in 64 bits"));
  }
  // Room for the margin and for fences after it (a run's fences must not
  // wrap): 2^40 of them at least.
  if (previous.fence_floor > kMax - kCrashMargin - (std::uint64_t{1} << 40)) {
    return absl::OutOfRangeError(absl::StrCat(
        "fence state ", path, ": fence_floor ", previous.fence_floor,
        " leaves no room for more fences in 64 bits"));
  }

  // A clock before 1970 counts as 1970: the file's floor still holds.
  const std::uint64_t now_millis =
      static_cast<std::uint64_t>(std::max<std::int64_t>(0, absl::ToUnixMillis(now)));
  const std::uint64_t now_nanos =
      static_cast<std::uint64_t>(std::max<std::int64_t>(0, absl::ToUnixNanos(now)));
  FenceState next;
  next.epoch = std::max(previous.epoch + 1, now_millis);
  next.fence_floor = std::max(previous.fence_floor + kCrashMargin, now_nanos);
  if (store != nullptr) {
    store::Store::Batch batch;
    batch.Put(kStoreKey, FormatStateFile(next));
    BATON_RETURN_IF_ERROR(store->Write(std::move(batch)));
    if (migrate) {
      // The store has it durably: the file would only mislead.
      if (::unlink(path.c_str()) != 0) return IoError("remove", path, errno);
      BATON_RETURN_IF_ERROR(SyncDirectory(clean_dir));
    }
    path = store_path;
  } else {
    BATON_RETURN_IF_ERROR(WriteStateFile(clean_dir, path, FormatStateFile(next)));
  }
  const absl::Duration lead =
      absl::Nanoseconds(static_cast<std::int64_t>(
          std::min<std::uint64_t>(next.fence_floor - now_nanos,
                                  std::numeric_limits<std::int64_t>::max())));
  FenceStore fences(std::move(clean_dir), std::move(path), next.epoch,
                    next.fence_floor, lead);
  fences.lock_ = std::move(lock);
  fences.store_ = store;
  return fences;
}

absl::Status FenceStore::Persist(std::uint64_t highest) {
  if (highest <= floor_) return absl::OkStatus();
  const std::string state = FormatStateFile({.epoch = epoch_, .fence_floor = highest});
  if (store_ != nullptr) {
    store::Store::Batch batch;
    batch.Put(kStoreKey, state);
    BATON_RETURN_IF_ERROR(store_->Write(std::move(batch)));
  } else {
    BATON_RETURN_IF_ERROR(WriteStateFile(dir_, path_, state));
  }
  floor_ = highest;
  return absl::OkStatus();
}

}  // namespace baton::service

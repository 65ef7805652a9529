// Copyright 2026 The Baton Authors.
//
// BatondProcess starts a real batond on a free loopback port for integration
// tests, reads the port it prints, and stops it (SIGTERM, or SIGKILL if it
// outlives the test). The binary's path comes from BATOND_PATH, set by CMake.
//
// Unless the flags name one, each BatondProcess gets a fresh data directory
// (mkdtemp under /tmp, passed as --data_dir, removed at the end). Restart()
// starts a new batond on the same flags and the same data directory, as a
// restarted server would find it.
//
// A thread drains batond's stderr into log() for the whole life of the
// process, so that a chatty server never blocks on a full pipe.
//
// Example:
//   BatondProcess batond({"--shards=2"});
//   ASSERT_TRUE(batond.started()) << batond.log();
//   auto channel = grpc::CreateChannel(batond.address(), ...);
//   batond.SignalAndWait(SIGTERM, std::chrono::seconds(30));
//   ASSERT_TRUE(batond.Restart()) << batond.log();   // same data dir, new port
//
// Thread safety: the methods are for the test's thread; log() may be called
// from any thread.

#ifndef BATON_TESTS_TESTING_BATOND_PROCESS_H_
#define BATON_TESTS_TESTING_BATOND_PROCESS_H_

#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

extern char** environ;

namespace baton::testing {

class BatondProcess {
 public:
  explicit BatondProcess(std::vector<std::string> flags = {}) : flags_(std::move(flags)) {
    const std::string data_dir_flag = "--data_dir=";
    bool has_data_dir = false;
    for (const std::string& flag : flags_) {
      if (flag.rfind(data_dir_flag, 0) == 0) {
        has_data_dir = true;
        data_dir_ = flag.substr(data_dir_flag.size());
      } else if (flag == "--data_dir") {
        has_data_dir = true;  // the value is the next argument
      }
    }
    if (!has_data_dir) {
      char path[] = "/tmp/batond-test-XXXXXX";
      if (mkdtemp(path) != nullptr) {
        data_dir_ = path;
        owns_data_dir_ = true;
        flags_.push_back(data_dir_flag + data_dir_);
      }
    }
    Start();
  }
  BatondProcess(const BatondProcess&) = delete;
  BatondProcess& operator=(const BatondProcess&) = delete;
  ~BatondProcess() {
    Kill();
    if (owns_data_dir_) {
      std::error_code ignored;
      std::filesystem::remove_all(data_dir_, ignored);
    }
  }

  bool started() const { return !address_.empty(); }

  // WordAfter() is what follows the first `marker` in the log, up to a
  // space, quote or newline (e.g. "metrics on " gives HOST:PORT), or empty.
  // Lines logged before "listening on" are there once started() is true.
  std::string WordAfter(const std::string& marker) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::size_t at = log_.find(marker);
    if (at == std::string::npos) return "";
    const std::size_t start = at + marker.size();
    const std::size_t end = log_.find_first_of(" \n\"", start);
    return log_.substr(start, end == std::string::npos ? end : end - start);
  }
  const std::string& address() const { return address_; }  // host:port
  pid_t pid() const { return pid_; }                         // -1 once it exited
  const std::string& data_dir() const { return data_dir_; }
  std::string log() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return log_;
  }

  // Restart() stops this batond if it still runs (SIGKILL) and starts a new
  // one with the same flags, hence on the same data directory. The address
  // changes (a new free port). Returns started().
  bool Restart() {
    Kill();
    Start();
    return started();
  }

  // Signal() sends `signal` to batond without waiting.
  void Signal(int signal) {
    if (pid_ > 0) kill(pid_, signal);
  }

  // WaitExit() waits up to `timeout` for batond to exit. Returns the exit
  // status as waitpid() reports it, or -1 on timeout.
  int WaitExit(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return -1;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        JoinDrain();  // the pipe reaches EOF once the process is gone
        return status;
      }
      if (std::chrono::steady_clock::now() >= deadline) return -1;
      usleep(10'000);  // polling a child's exit, not timing logic
    }
  }

  // SignalAndWait() sends `signal` and waits for the exit, up to `timeout`.
  // Returns the exit status as waitpid() reports it, or -1 on timeout.
  int SignalAndWait(int signal, std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return -1;
    Signal(signal);
    return WaitExit(timeout);
  }

 private:
  void Start() {
    address_.clear();
    std::vector<std::string> args = {BATOND_PATH, "--listen=127.0.0.1:0"};
    args.insert(args.end(), flags_.begin(), flags_.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    close(pipe_fds[1]);
    std::size_t from = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      from = log_.size();
      eof_ = false;
    }
    const int fd = pipe_fds[0];
    drain_ = std::thread([this, fd] { Drain(fd); });
    if (pid_ <= 0) return;

    const std::string marker = "listening on ";
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(30), [&] {
      return eof_ || log_.find(marker, from) != std::string::npos;
    });
    const std::size_t at = log_.find(marker, from);
    if (at != std::string::npos) {
      const std::size_t start = at + marker.size();
      const std::size_t end = log_.find_first_of(" \n\"", start);
      address_ = log_.substr(start, end == std::string::npos ? end : end - start);
    }
  }

  // Drain() runs on drain_: appends batond's stderr to log_ until EOF.
  void Drain(int fd) {
    char buffer[4096];
    while (true) {
      const ssize_t n = read(fd, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      std::lock_guard<std::mutex> lock(mutex_);
      if (n <= 0) {
        eof_ = true;
        changed_.notify_all();
        break;
      }
      log_.append(buffer, static_cast<std::size_t>(n));
      changed_.notify_all();
    }
    close(fd);
  }

  void JoinDrain() {
    if (drain_.joinable()) drain_.join();
  }

  void Kill() {
    if (pid_ > 0) {
      kill(pid_, SIGCONT);  // in case a test stopped it
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    JoinDrain();
  }

  std::vector<std::string> flags_;
  std::string data_dir_;
  bool owns_data_dir_ = false;
  pid_t pid_ = -1;
  std::string address_;
  std::thread drain_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string log_;   // guarded by mutex_
  bool eof_ = false;  // guarded by mutex_
};

}  // namespace baton::testing

#endif  // BATON_TESTS_TESTING_BATOND_PROCESS_H_

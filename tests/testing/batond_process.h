// Copyright 2026 The Baton Authors.
//
// BatondProcess starts a real batond on a free loopback port for integration
// tests, reads the port it prints, and stops it (SIGTERM, or SIGKILL if it
// outlives the test). The binary's path comes from BATOND_PATH, set by CMake.
//
// Example:
//   BatondProcess batond({"--shards=2"});
//   ASSERT_TRUE(batond.started()) << batond.log();
//   auto channel = grpc::CreateChannel(batond.address(), ...);

#ifndef BATON_TESTS_TESTING_BATOND_PROCESS_H_
#define BATON_TESTS_TESTING_BATOND_PROCESS_H_

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

extern char** environ;

namespace baton::testing {

class BatondProcess {
 public:
  explicit BatondProcess(std::vector<std::string> flags = {}) {
    std::vector<std::string> args = {BATOND_PATH, "--listen=127.0.0.1:0"};
    args.insert(args.end(), flags.begin(), flags.end());
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
    stderr_fd_ = pipe_fds[0];
    if (pid_ > 0) ReadUntil("listening on ", std::chrono::seconds(30));
    const std::size_t at = log_.find("listening on ");
    if (at != std::string::npos) {
      const std::size_t start = at + std::string("listening on ").size();
      address_ = log_.substr(start, log_.find(' ', start) - start);
    }
  }
  BatondProcess(const BatondProcess&) = delete;
  BatondProcess& operator=(const BatondProcess&) = delete;
  ~BatondProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (stderr_fd_ >= 0) close(stderr_fd_);
  }

  bool started() const { return !address_.empty(); }
  const std::string& address() const { return address_; }  // host:port
  const std::string& log() const { return log_; }

  // Signal() sends `signal` and waits for the exit, up to `timeout`.
  // Returns the exit status as waitpid() reports it, or -1 on timeout.
  int SignalAndWait(int signal, std::chrono::seconds timeout) {
    if (pid_ <= 0) return -1;
    kill(pid_, signal);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        ReadUntil("\xff", std::chrono::seconds(0));  // collect the rest
        return status;
      }
      ReadUntil("\xff", std::chrono::seconds(0));
      usleep(10'000);  // polling a child's exit, not timing logic
    }
    return -1;
  }

 private:
  void ReadUntil(const std::string& marker, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buffer[4096];
    do {
      pollfd pfd{stderr_fd_, POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (poll(&pfd, 1, static_cast<int>(std::max<long>(0, left.count()))) <= 0) return;
      const ssize_t n = read(stderr_fd_, buffer, sizeof(buffer));
      if (n <= 0) return;
      log_.append(buffer, static_cast<std::size_t>(n));
    } while (log_.find(marker) == std::string::npos);
  }

  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  std::string log_;
  std::string address_;
};

}  // namespace baton::testing

#endif  // BATON_TESTS_TESTING_BATOND_PROCESS_H_

// Copyright 2026 The Baton Authors.
//
// End-to-end tests of the `baton` command-line tool (client/cli/): the real
// binary (BATON_CLI_PATH) against a real batond on a loopback port, checked
// by its exit codes, its output, and what the commands it runs write.
//
// No test sleeps to let time pass: a test waits for an expected event (a
// line in a file, a process exit, a waiter showing in `describe`) with a
// bounded poll.

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/batond_process.h"

namespace baton {
namespace {

using ::baton::testing::BatondProcess;
using std::chrono::seconds;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

// WaitUntil() polls `condition` until it holds or `timeout` passes.
bool WaitUntil(const std::function<bool()>& condition, seconds timeout = seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling, not timing
  }
  return true;
}

// A loopback port nobody listens on.
int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(address);
  bind(fd, reinterpret_cast<sockaddr*>(&address), size);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  close(fd);
  return ntohs(address.sin_port);
}

// SlowProxy is a batond that is reachable but slow to answer: it listens on
// a loopback port, and relays to the real batond only once StartRelay() is
// called, after the client's connection was accepted.
class SlowProxy {
 public:
  SlowProxy() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof(address);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), size);
    listen(listen_fd_, 4);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &size);
    port_ = ntohs(address.sin_port);
  }
  SlowProxy(const SlowProxy&) = delete;
  SlowProxy& operator=(const SlowProxy&) = delete;
  ~SlowProxy() {
    for (int fd : {client_fd_, upstream_fd_}) {
      if (fd >= 0) shutdown(fd, SHUT_RDWR);  // wakes the relay
    }
    if (relay_.joinable()) relay_.join();
    for (int fd : {listen_fd_, client_fd_, upstream_fd_}) {
      if (fd >= 0) close(fd);
    }
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Accept() waits (up to 30 s) for a client to connect.
  bool Accept() {
    pollfd fd = {listen_fd_, POLLIN, 0};
    if (poll(&fd, 1, 30000) != 1) return false;
    client_fd_ = accept(listen_fd_, nullptr, nullptr);
    return client_fd_ >= 0;
  }

  // StartRelay() connects to `target` (host:port on loopback) and relays
  // bytes both ways until either side closes.
  bool StartRelay(int target_port) {
    upstream_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(target_port));
    if (connect(upstream_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      return false;
    }
    relay_ = std::thread([this] {
      pollfd fds[2] = {{client_fd_, POLLIN, 0}, {upstream_fd_, POLLIN, 0}};
      char buffer[16384];
      while (poll(fds, 2, -1) > 0) {
        for (int i = 0; i < 2; ++i) {
          if (fds[i].revents == 0) continue;
          const ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
          if (n <= 0) return;
          for (ssize_t sent = 0; sent < n;) {
            const ssize_t m =
                write(fds[1 - i].fd, buffer + sent, static_cast<std::size_t>(n - sent));
            if (m <= 0) return;
            sent += m;
          }
        }
      }
    });
    return true;
  }

 private:
  int listen_fd_ = -1;
  int client_fd_ = -1;
  int upstream_fd_ = -1;
  int port_ = 0;
  std::thread relay_;
};

int PortOf(const std::string& address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

struct Result {
  int exit_code = -1;  // 128 + N when killed by signal N; -1: did not exit in time
  std::string out;
  std::string err;
};

// Baton is one run of the baton binary, its stdout and stderr in files.
class Baton {
 public:
  Baton(const std::vector<std::string>& args, const std::string& address, const std::string& dir,
        int id)
      : out_path_(dir + "/out." + std::to_string(id)),
        err_path_(dir + "/err." + std::to_string(id)) {
    std::vector<std::string> argv_strings = {BATON_CLI_PATH};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& arg : argv_strings) argv.push_back(arg.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings = {"BATON_ADDR=" + address, "PATH=/usr/bin:/bin"};
    std::vector<char*> env;
    for (std::string& var : env_strings) env.push_back(var.data());
    env.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), env.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  Baton(const Baton&) = delete;
  Baton& operator=(const Baton&) = delete;
  ~Baton() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  pid_t pid() const { return pid_; }
  bool Exited() {
    if (pid_ <= 0) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
    Reaped(status);
    return true;
  }

  // Wait() waits up to `timeout` for the exit (then kills it: exit_code -1).
  Result Wait(seconds timeout = seconds(60)) {
    if (!WaitUntil([this] { return Exited(); }, timeout)) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
      exit_code_ = -1;
    }
    return {exit_code_, ReadFile(out_path_), ReadFile(err_path_)};
  }

 private:
  void Reaped(int status) {
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  std::string out_path_;
  std::string err_path_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(batond_.started()) << batond_.log();
    char path[] = "/tmp/baton-cli-test-XXXXXX";
    ASSERT_NE(mkdtemp(path), nullptr);
    dir_ = path;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::unique_ptr<Baton> Start(const std::vector<std::string>& args) {
    return std::make_unique<Baton>(args, batond_.address(), dir_, next_id_++);
  }
  // RunWithAddress() runs baton with BATON_ADDR=address.
  Result RunWithAddress(const std::string& address, const std::vector<std::string>& args) {
    return Baton(args, address, dir_, next_id_++).Wait();
  }
  Result Run(const std::vector<std::string>& args) { return Start(args)->Wait(); }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  // WaitForWaiters() polls `baton describe NAME --json` until it shows `n`
  // waiters.
  bool WaitForWaiters(const std::string& name, int n) {
    const std::string expected = "\"waiter_count\":" + std::to_string(n);
    return WaitUntil([&] {
      const std::string out = Run({"describe", name, "--json"}).out;
      const std::size_t at = out.find(expected);
      return at != std::string::npos && !std::isdigit(out[at + expected.size()]);
    });
  }

  BatondProcess batond_{{"--shards=2"}};
  std::string dir_;
  int next_id_ = 0;
};

TEST_F(CliTest, HealthSaysServing) {
  Result r = Run({"health"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "SERVING\n");
  r = Run({"health", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"address\":\"" + batond_.address() + "\",\"status\":\"SERVING\"}\n");
}

TEST_F(CliTest, AnUnreachableServerIsExit69NamingTheAddress) {
  const std::string address = "127.0.0.1:" + std::to_string(ClosedPort());
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"health"}, {"describe", "x"}, {"lock", "x", "--", "true"}}) {
    std::vector<std::string> args = {"--addr", address, "--connect-timeout", "300ms"};
    args.insert(args.end(), command.begin(), command.end());
    Result r = Run(args);
    EXPECT_EQ(r.exit_code, 69) << command[0] << ": " << r.err;
    EXPECT_NE(r.err.find("cannot reach batond at " + address), std::string::npos) << r.err;
  }
}

TEST_F(CliTest, BadUsageIsExit2WithTheUsage) {
  const std::vector<std::vector<std::string>> bad = {
      {"no-such-command"},
      {"lock"},
      {"lock", "t/x"},
      {"lock", "t/x", "--timeout", "soon", "--", "true"},
      {"lock", "t/x", "--kind", "spinlock", "--", "true"},
      {"lock", "t/x", "--no-such-flag", "--", "true"},
      {"semaphore", "t/x", "--", "true"},
      {"ratelimit", "t/r", "--capacity", "3"},
      {"latch", "declare", "t/l", "a=three"},
      {"latch"},
      {"set-bound", "t/s", "many"},
      {"describe"},
  };
  for (const std::vector<std::string>& args : bad) {
    Result r = Run(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << " " << (args.size() > 1 ? args[1] : "") << ": "
                              << r.err;
    EXPECT_NE(r.err.find("usage: baton"), std::string::npos) << r.err;
  }
}

TEST_F(CliTest, HelpExplainsEachCommandWithAnExampleAndExitCodes) {
  Result r = Run({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* command : {"lock", "semaphore", "ratelimit", "latch wait", "notify", "health"}) {
    EXPECT_NE(r.out.find(command), std::string::npos) << command;
  }
  r = Run({"help", "lock"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Example"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("75"), std::string::npos) << r.out;
  EXPECT_EQ(Run({"latch", "wait", "--help"}).exit_code, 0);
  EXPECT_EQ(Run({"help", "latch"}).exit_code, 0);
  EXPECT_EQ(Run({"help", "nothing"}).exit_code, 2);
}

// Like batond --version: what an operator checks first, no server needed.
TEST_F(CliTest, VersionPrintsTheVersionAndExitsZero) {
  const Result r = Run({"--version"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("baton ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find('.'), std::string::npos) << r.out;  // 0.1.0
  EXPECT_EQ(r.err, "");
}

TEST_F(CliTest, RateLimitIsGrantedThenRefusedWithRetryAfter) {
  // A bucket of 2 that refills one token in 1000 s.
  const std::vector<std::string> take = {"ratelimit", "t/rl", "--rate", "0.001", "--capacity", "2"};
  Result r = Run(take);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "granted: 1 tokens left\n");
  r = Run({"ratelimit", "t/rl", "--json"});  // declared already: no --rate needed
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("{\"name\":\"t/rl\",\"granted\":true,\"tokens_left\":", 0), 0u) << r.out;
  r = Run(take);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.out.rfind("refused: retry after ", 0), 0u) << r.out;
  EXPECT_EQ(r.out.back(), '\n');
  EXPECT_NE(r.out.find("s\n"), std::string::npos) << r.out;
  r = Run({"ratelimit", "t/rl", "--json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("\"granted\":false,\"retry_after_seconds\":"), std::string::npos) << r.out;
  // A wait that cannot be served in time is refused too.
  r = Run({"ratelimit", "t/rl", "--wait", "100ms"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.out, "refused: not granted within 0.100s\n");
  // Declared with another rate: a conflict.
  r = Run({"ratelimit", "t/rl", "--rate", "5"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("exists"), std::string::npos) << r.err;
}

TEST_F(CliTest, DescribeListAndJson) {
  ASSERT_EQ(Run({"ratelimit", "t/list/rl", "--rate", "10"}).exit_code, 0);
  ASSERT_EQ(Run({"lock", "t/list/lock", "--", "true"}).exit_code, 0);
  ASSERT_EQ(Run({"ratelimit", "other", "--rate", "1"}).exit_code, 0);

  Result r = Run({"describe", "t/list/rl"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("AdvancedRateLimit"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rate:"), std::string::npos) << r.out;
  r = Run({"describe", "t/list/lock", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Lines(r.out).size(), 1u) << r.out;
  EXPECT_EQ(r.out.rfind("{\"name\":\"t/list/lock\",\"kind\":\"PriorityLock\",", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("\"locked\":false"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"last_fence\":"), std::string::npos) << r.out;

  r = Run({"list", "t/list/"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_EQ(lines[0].rfind("t/list/lock ", 0), 0u) << r.out;
  EXPECT_NE(lines[0].find("PriorityLock"), std::string::npos) << r.out;
  EXPECT_EQ(lines[1].rfind("t/list/rl ", 0), 0u) << r.out;
  r = Run({"--json", "list", "t/list/"});
  EXPECT_EQ(r.out,
            "{\"name\":\"t/list/lock\",\"kind\":\"PriorityLock\"}\n"
            "{\"name\":\"t/list/rl\",\"kind\":\"AdvancedRateLimit\"}\n");
  EXPECT_EQ(Lines(Run({"list"}).out).size(), 3u);

  r = Run({"describe", "t/none"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("NOT_FOUND"), std::string::npos) << r.err;
}

TEST_F(CliTest, AdminChangesRateBoundAndDeletes) {
  ASSERT_EQ(Run({"ratelimit", "t/a/rl", "--rate", "1"}).exit_code, 0);
  Result r = Run({"set-rate", "t/a/rl", "5"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "t/a/rl: rate 5 tokens/s, capacity 5\n");
  ASSERT_EQ(Run({"semaphore", "t/a/sem", "--bound", "1", "--", "true"}).exit_code, 0);
  r = Run({"set-bound", "t/a/sem", "4"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "t/a/sem: bound 4, 4 available\n");
  r = Run({"set-bound", "t/a/rl", "4"});
  EXPECT_EQ(r.exit_code, 4);  // another kind
  EXPECT_NE(r.err.find("'t/a/rl' is an AdvancedRateLimit"), std::string::npos) << r.err;
  r = Run({"delete", "t/a/rl", "--reason", "test"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Run({"describe", "t/a/rl"}).exit_code, 1);
}

TEST_F(CliTest, TwoLockedCommandsNeverOverlap) {
  const std::string file = Path("critical");
  const std::string section = "echo start >> " + file + "; sleep 0.1; echo end >> " + file;
  std::vector<std::unique_ptr<Baton>> runs;
  for (int i = 0; i < 4; ++i) runs.push_back(Start({"lock", "t/mutex", "--", "sh", "-c", section}));
  for (auto& run : runs) {
    Result r = run->Wait();
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  const std::vector<std::string> lines = Lines(ReadFile(file));
  ASSERT_EQ(lines.size(), 8u) << ReadFile(file);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i], i % 2 == 0 ? "start" : "end") << "line " << i << ":\n" << ReadFile(file);
  }
}

TEST_F(CliTest, LockPassesOnTheExitCodeAndTheFence) {
  EXPECT_EQ(Run({"lock", "t/code", "--", "sh", "-c", "exit 7"}).exit_code, 7);
  EXPECT_EQ(Run({"lock", "t/code", "--", "sh", "-c", "kill -9 $$"}).exit_code, 128 + 9);
  EXPECT_EQ(Run({"lock", "t/code", "--", "/no/such/command"}).exit_code, 127);
  Result r = Run({"lock", "t/code", "--", "sh", "-c", "echo $BATON_LOCK $BATON_FENCE"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::istringstream fields(r.out);
  std::string name;
  unsigned long long fence = 0;
  fields >> name >> fence;
  EXPECT_EQ(name, "t/code");
  EXPECT_GT(fence, 0u) << r.out;
}

TEST_F(CliTest, ALockTimeoutIsExit3) {
  const std::string held = Path("held"), release = Path("release");
  auto holder = Start({"lock", "t/busy", "--", "sh", "-c",
                       "touch " + held + "; while [ ! -e " + release + " ]; do sleep 0.05; done"});
  ASSERT_TRUE(WaitUntil([&] { return std::filesystem::exists(held); }));
  Result r = Run({"lock", "t/busy", "--timeout", "200ms", "--", "true"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("timed out"), std::string::npos) << r.err;
  std::ofstream(release).put('\n');
  EXPECT_EQ(holder->Wait().exit_code, 0);
}

TEST_F(CliTest, SigtermToBatonIsForwardedToTheCommand) {
  const std::string file = Path("signal");
  auto run = Start({"lock", "t/sig", "--", "sh", "-c",
                    "trap 'echo forwarded >> " + file + "; exit 5' TERM; echo held >> " + file +
                        "; while true; do sleep 0.05; done"});
  ASSERT_TRUE(WaitUntil([&] { return ReadFile(file) == "held\n"; })) << ReadFile(file);
  kill(run->pid(), SIGTERM);
  Result r = run->Wait();
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_EQ(ReadFile(file), "held\nforwarded\n");
  EXPECT_EQ(Run({"lock", "t/sig", "--timeout", "10s", "--", "true"}).exit_code, 0);
}

TEST_F(CliTest, ALostLeaseStopsTheCommandAndExits75) {
  const std::string file = Path("lost");
  auto run = Start({"lock", "t/lost", "--", "sh", "-c",
                    "trap 'echo got-term >> " + file + "; exit 0' TERM; echo held >> " + file +
                        "; while true; do sleep 0.05; done"});
  ASSERT_TRUE(WaitUntil([&] { return ReadFile(file) == "held\n"; })) << ReadFile(file);
  batond_.Signal(SIGKILL);
  ASSERT_NE(batond_.WaitExit(std::chrono::seconds(10)), -1);
  Result r = run->Wait();
  EXPECT_EQ(r.exit_code, 75) << r.err;
  EXPECT_EQ(ReadFile(file), "held\ngot-term\n");
  EXPECT_NE(r.err.find("lost the lease"), std::string::npos) << r.err;
}

TEST_F(CliTest, SemaphoreLetsTwoInButNotThree) {
  const std::string file = Path("sem"), release = Path("release");
  const std::string body = "echo in >> " + file + "; while [ ! -e " + release +
                           " ]; do sleep 0.05; done; echo out >> " + file;
  const std::vector<std::string> run = {"semaphore", "t/sem", "--bound", "2",
                                        "--",        "sh",    "-c",      body};
  auto first = Start(run);
  auto second = Start(run);
  ASSERT_TRUE(WaitUntil([&] { return Count(ReadFile(file), "in") == 2; })) << ReadFile(file);
  auto third = Start(run);
  ASSERT_TRUE(WaitForWaiters("t/sem", 1));
  EXPECT_EQ(Count(ReadFile(file), "in"), 2);
  EXPECT_FALSE(third->Exited());

  Result conflict = Run({"semaphore", "t/sem", "--bound", "3", "--", "true"});
  EXPECT_EQ(conflict.exit_code, 2);
  EXPECT_NE(conflict.err.find("exists with bound 2, not --bound 3"), std::string::npos)
      << conflict.err;

  std::ofstream(release).put('\n');
  EXPECT_EQ(first->Wait().exit_code, 0);
  EXPECT_EQ(second->Wait().exit_code, 0);
  EXPECT_EQ(third->Wait().exit_code, 0);
  EXPECT_EQ(Count(ReadFile(file), "in"), 3);
  EXPECT_EQ(Count(ReadFile(file), "out"), 3);
}

TEST_F(CliTest, LatchRoundTrip) {
  Result r = Run({"latch", "declare", "t/latch", "a=2", "b=1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Run({"latch", "declare", "t/latch", "a=2", "b=1"}).exit_code, 0);
  EXPECT_EQ(Run({"latch", "declare", "t/latch", "a=3"}).exit_code, 2);
  EXPECT_EQ(Run({"latch", "wait", "t/latch", "a", "--timeout", "100ms"}).exit_code, 3);

  auto all = Start({"latch", "wait", "t/latch", "--timeout", "30s"});
  ASSERT_TRUE(WaitForWaiters("t/latch", 1));
  EXPECT_EQ(Run({"latch", "count-down", "t/latch", "a"}).exit_code, 0);
  EXPECT_EQ(Run({"latch", "count-down", "t/latch", "b"}).exit_code, 0);
  r = Run({"latch", "wait", "t/latch", "b"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(all->Exited());
  EXPECT_EQ(Run({"latch", "count-down", "t/latch", "a"}).exit_code, 0);
  r = all->Wait();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "latch t/latch: every key reached zero\n");
  EXPECT_EQ(Run({"latch", "count-down", "t/latch", "a", "--strict"}).exit_code, 1);
}

TEST_F(CliTest, NotifyWakesAWait) {
  EXPECT_EQ(Run({"wait", "t/cond", "k", "--timeout", "100ms"}).exit_code, 3);
  auto waiter = Start({"wait", "t/cond", "k", "--timeout", "30s"});
  ASSERT_TRUE(WaitForWaiters("t/cond", 1));
  Result r = Run({"notify", "t/cond", "other"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "notified 0 waiters of t/cond key other\n");
  r = Run({"notify", "t/cond", "k"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "notified 1 waiter of t/cond key k\n");
  r = waiter->Wait();
  EXPECT_EQ(r.exit_code, 0) << r.err;

  auto first = Start({"wait", "t/cond", "k"});
  auto second = Start({"wait", "t/cond", "k"});
  ASSERT_TRUE(WaitForWaiters("t/cond", 2));
  r = Run({"notify", "t/cond", "k", "--all"});
  EXPECT_EQ(r.out, "notified 2 waiters of t/cond key k\n");
  EXPECT_EQ(first->Wait().exit_code, 0);
  EXPECT_EQ(second->Wait().exit_code, 0);
}

// ---------------------------------------------------------------------------
// The first hour of an operator.

TEST_F(CliTest, HelpSaysALowerPriorityIsServedFirstAndItIs) {
  Result help = Run({"help", "lock"});
  EXPECT_NE(help.out.find("lower P are served first"), std::string::npos) << help.out;
  EXPECT_EQ(help.out.find("higher"), std::string::npos) << help.out;

  const std::string held = Path("held"), release = Path("release"), order = Path("order");
  auto holder = Start({"lock", "t/prio", "--", "sh", "-c",
                       "touch " + held + "; while [ ! -e " + release + " ]; do sleep 0.05; done"});
  ASSERT_TRUE(WaitUntil([&] { return std::filesystem::exists(held); }));
  auto later = Start({"lock", "t/prio", "--priority", "5", "--", "sh", "-c", "echo 5 >> " + order});
  ASSERT_TRUE(WaitForWaiters("t/prio", 1));
  auto urgent =
      Start({"lock", "t/prio", "--priority", "-1", "--", "sh", "-c", "echo -1 >> " + order});
  ASSERT_TRUE(WaitForWaiters("t/prio", 2));
  std::ofstream(release).put('\n');
  EXPECT_EQ(holder->Wait().exit_code, 0);
  EXPECT_EQ(urgent->Wait().exit_code, 0);
  EXPECT_EQ(later->Wait().exit_code, 0);
  EXPECT_EQ(ReadFile(order), "-1\n5\n");
}

TEST_F(CliTest, AMalformedAddressIsAUsageErrorNamingTheFlag) {
  for (const std::string address :
       {"127.0.0.1:99999", "127.0.0.1", "127.0.0.1:0", ":7070", "::1:7070", "[::1]", "host:7x",
        "unix:"}) {
    Result r = Run({"--addr", address, "health"});
    EXPECT_EQ(r.exit_code, 2) << address << ": " << r.err;
    EXPECT_NE(r.err.find("--addr: expected HOST:PORT (e.g. 127.0.0.1:7070"), std::string::npos)
        << address << ": " << r.err;
    EXPECT_NE(r.err.find("'" + address + "'"), std::string::npos) << r.err;
  }
  Result r = RunWithAddress("127.0.0.1", {"describe", "x"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("BATON_ADDR: expected HOST:PORT"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no :PORT"), std::string::npos) << r.err;
  // Well-formed addresses are dialled: unreachable ones are exit 69, not 2.
  const std::string closed = std::to_string(ClosedPort());
  for (const std::string& address : {"[::1]:" + closed, "unix:" + Path("no-such-socket")}) {
    r = Run({"--addr", address, "health"});
    EXPECT_EQ(r.exit_code, 69) << address << ": " << r.err;
  }
}

TEST_F(CliTest, ARefusedConnectionIsReportedAtOnce) {
  const std::string address = "127.0.0.1:" + std::to_string(ClosedPort());
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"health"}, {"lock", "x", "--", "true"}}) {
    std::vector<std::string> args = {"--addr", address, "--connect-timeout", "1h"};
    args.insert(args.end(), command.begin(), command.end());
    // Far less than the connect timeout: exit_code -1 if it waited.
    Result r = Start(args)->Wait(seconds(30));
    EXPECT_EQ(r.exit_code, 69) << command[0] << ": " << r.err;
    EXPECT_NE(r.err.find("cannot reach batond at " + address), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("refused"), std::string::npos) << r.err;
  }
}

TEST_F(CliTest, ASlowButReachableServerIsWaitedFor) {
  SlowProxy proxy;
  auto health = Start({"--addr", proxy.address(), "--connect-timeout", "1h", "health"});
  ASSERT_TRUE(proxy.Accept());  // baton is connected; nothing answers it yet
  EXPECT_FALSE(health->Exited());
  ASSERT_TRUE(proxy.StartRelay(PortOf(batond_.address())));
  Result r = health->Wait();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "SERVING\n");
}

TEST_F(CliTest, LatchCountsMustBeNonNegativeAndKeysKnown) {
  Result r = Run({"latch", "declare", "t/l", "db=-1"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("counts[\"db\"]: must be >= 0, got -1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("usage: baton latch declare"), std::string::npos) << r.err;
  EXPECT_EQ(Run({"describe", "t/l"}).exit_code, 1);  // nothing was declared
  EXPECT_EQ(Run({"latch", "declare", "t/l", "a=1", "a=2"}).exit_code, 2);

  ASSERT_EQ(Run({"latch", "declare", "t/l", "db=1", "cache=2"}).exit_code, 0);
  r = Run({"latch", "count-down", "t/l", "nokey"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("no key 'nokey'; its keys: cache, db"), std::string::npos) << r.err;
  r = Run({"latch", "wait", "t/l", "nokey"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("no key 'nokey'"), std::string::npos) << r.err;
  r = Run({"latch", "count-down", "t/l", "nokey", "--lenient"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // It says nothing was counted, rather than "counted down".
  EXPECT_EQ(r.out, "latch t/l has no key nokey: nothing counted down (--lenient)\n");
  r = Run({"latch", "count-down", "t/l", "nokey", "--lenient", "--json"});
  EXPECT_NE(r.out.find("\"counted_down\":false"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"known_key\":false"), std::string::npos) << r.out;
  EXPECT_EQ(Run({"latch", "wait", "t/l", "nokey", "--lenient"}).exit_code, 0);
  r = Run({"describe", "t/l", "--json"});
  EXPECT_NE(r.out.find("\"counts\":{\"cache\":2,\"db\":1}"), std::string::npos) << r.out;

  r = Run({"latch", "count-down", "t/l", "db"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "latch t/l: counted down db\n");
  r = Run({"latch", "count-down", "t/l", "db"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "latch t/l: db was at zero already\n");
  EXPECT_EQ(Run({"latch", "count-down", "t/l", "db", "--strict"}).exit_code, 1);
  // --all: cache goes 2 -> 1 -> 0.
  EXPECT_EQ(Run({"latch", "count-down", "t/l", "--all"}).exit_code, 0);
  EXPECT_EQ(Run({"latch", "wait", "t/l", "--timeout", "100ms"}).exit_code, 3);
  EXPECT_EQ(Run({"latch", "count-down", "t/l", "--all"}).exit_code, 0);
  r = Run({"latch", "wait", "t/l", "--timeout", "10s"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Run({"latch", "count-down", "t/l"}).exit_code, 2);  // KEY or --all
  EXPECT_EQ(Run({"latch", "count-down", "t/l", "db", "--all"}).exit_code, 2);
  r = Run({"latch", "count-down", "t/none", "db"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("NOT_FOUND"), std::string::npos) << r.err;
}

TEST_F(CliTest, APrioritySemaphoreServesLowerPriorityFirstAndResetRevokes) {
  const std::string held = Path("held"), order = Path("order");
  const std::vector<std::string> sem = {"semaphore", "t/ps", "--kind", "priority", "--bound", "1"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = sem;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  auto holder = Start(with({"--", "sh", "-c",
                            "trap 'echo revoked >> " + order + "; exit 0' TERM; touch " + held +
                                "; while true; do sleep 0.05; done"}));
  ASSERT_TRUE(WaitUntil([&] { return std::filesystem::exists(held); }));
  Result r = Run({"describe", "t/ps", "--json"});
  EXPECT_EQ(r.out.rfind("{\"name\":\"t/ps\",\"kind\":\"PrioritySemaphore\",", 0), 0u) << r.out;
  auto later = Start(with({"--priority", "5", "--", "sh", "-c", "echo 5 >> " + order}));
  ASSERT_TRUE(WaitForWaiters("t/ps", 1));
  auto urgent = Start(with({"--priority", "-1", "--", "sh", "-c", "echo -1 >> " + order}));
  ASSERT_TRUE(WaitForWaiters("t/ps", 2));

  r = Run({"reset", "t/ps"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("t/ps: reset (1 holds revoked)", 0), 0u) << r.out;
  r = holder->Wait();
  EXPECT_EQ(r.exit_code, 75) << r.err;
  EXPECT_NE(r.err.find("lost the lease"), std::string::npos) << r.err;
  EXPECT_EQ(urgent->Wait().exit_code, 0);
  EXPECT_EQ(later->Wait().exit_code, 0);
  // The revoked holder was told (its SIGTERM may cross the next holder's
  // start); the waiters were served lower priority first.
  std::vector<std::string> lines = Lines(ReadFile(order));
  EXPECT_EQ(std::count(lines.begin(), lines.end(), "revoked"), 1) << ReadFile(order);
  lines.erase(std::remove(lines.begin(), lines.end(), "revoked"), lines.end());
  EXPECT_EQ(lines, (std::vector<std::string>{"-1", "5"})) << ReadFile(order);

  EXPECT_EQ(Run({"semaphore", "t/ds", "--priority", "1", "--bound", "1", "--", "true"}).exit_code,
            2);  // --priority needs --kind priority
  EXPECT_EQ(Run({"semaphore", "t/ds", "--kind", "fifo", "--bound", "1", "--", "true"}).exit_code,
            2);
}

TEST_F(CliTest, EveryKindIsReachable) {
  ASSERT_EQ(Run({"ratelimit", "t/all/AdvancedRateLimit", "--rate", "1"}).exit_code, 0);
  ASSERT_EQ(Run({"semaphore", "t/all/DynamicBoundedSemaphore", "--bound", "1", "--", "true"})
                .exit_code,
            0);
  ASSERT_EQ(Run({"notify", "t/all/KeyedCondition", "k"}).exit_code, 0);
  ASSERT_EQ(Run({"latch", "declare", "t/all/MultiCountDownLatch", "a=1"}).exit_code, 0);
  ASSERT_EQ(Run({"lock", "t/all/PriorityLock", "--", "true"}).exit_code, 0);
  ASSERT_EQ(Run({"lock", "t/all/PriorityRLock", "--kind", "priority-rlock", "--", "true"})
                .exit_code,
            0);
  ASSERT_EQ(Run({"semaphore", "t/all/PrioritySemaphore", "--kind", "priority", "--bound", "2",
                 "--", "true"})
                .exit_code,
            0);
  ASSERT_EQ(Run({"lock", "t/all/RLock", "--kind", "rlock", "--", "true"}).exit_code, 0);
  Result r = Run({"list", "t/all/"});
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 8u) << r.out;
  for (const std::string& line : lines) {
    // "t/all/KIND   KIND": each was created as the kind it is named after.
    std::istringstream fields(line);
    std::string name, kind;
    fields >> name >> kind;
    EXPECT_EQ(name, "t/all/" + kind) << r.out;
  }
}

TEST_F(CliTest, AnotherKindIsExit4WithTheCommandThatFits) {
  ASSERT_EQ(Run({"lock", "t/kind", "--", "true"}).exit_code, 0);  // a PriorityLock
  const std::vector<std::vector<std::string>> others = {
      {"semaphore", "t/kind", "--bound", "1", "--", "true"},
      {"semaphore", "t/kind", "--kind", "priority", "--bound", "1", "--", "true"},
      {"lock", "t/kind", "--kind", "rlock", "--", "true"},
      {"lock", "t/kind", "--kind", "priority-rlock", "--", "true"},
      {"ratelimit", "t/kind"},
      {"ratelimit", "t/kind", "--rate", "1"},
      {"ratelimit", "t/kind", "--wait", "1s"},
      {"latch", "declare", "t/kind", "a=1"},
      {"latch", "count-down", "t/kind", "a"},
      {"latch", "count-down", "t/kind", "--all"},
      {"latch", "wait", "t/kind", "a"},
      {"latch", "wait", "t/kind"},
      {"notify", "t/kind", "k"},
      {"wait", "t/kind", "k", "--timeout", "10s"},
      {"set-rate", "t/kind", "1"},
      {"set-bound", "t/kind", "1"},
      {"reset", "t/kind"},
  };
  for (const std::vector<std::string>& args : others) {
    Result r = Run(args);
    EXPECT_EQ(r.exit_code, 4) << args[0] << " " << args[1] << ": " << r.err;
    EXPECT_NE(r.err.find("'t/kind' is a PriorityLock, not a"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("use baton lock t/kind -- CMD"), std::string::npos) << r.err;
  }
  // And the other way round: the suggestion is the kind NAME has.
  ASSERT_EQ(Run({"semaphore", "t/kind2", "--kind", "priority", "--bound", "1", "--", "true"})
                .exit_code,
            0);
  Result r = Run({"lock", "t/kind2", "--", "true"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("use baton semaphore t/kind2 --kind priority --bound N -- CMD"),
            std::string::npos)
      << r.err;
  r = Run({"--json", "set-bound", "t/kind2", "3"});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("\"code\":\"FAILED_PRECONDITION\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("\"exit\":4,\"kind\":\"PrioritySemaphore\","
                       "\"expected_kind\":\"DynamicBoundedSemaphore\""),
            std::string::npos)
      << r.err;
  r = Run({"--help"});
  EXPECT_NE(r.out.find("  4     NAME exists as another kind"), std::string::npos) << r.out;
}

// IsJsonLine() is a rough check: one line holding one object.
bool IsJsonLine(const std::string& text) {
  return text.size() > 2 && text.front() == '{' && text.substr(text.size() - 2) == "}\n" &&
         Count(text, "\n") == 1;
}

TEST_F(CliTest, JsonIsHonouredByEveryCommandErrorsIncluded) {
  const std::string closed = "127.0.0.1:" + std::to_string(ClosedPort());
  // Failures: one object on stderr, nothing on stdout.
  struct Failing {
    std::vector<std::string> args;
    std::string code;
    int exit_code;
  };
  const std::vector<Failing> failing = {
      {{"--json", "no-such-command"}, "INVALID_ARGUMENT", 2},
      {{"--json", "latch"}, "INVALID_ARGUMENT", 2},
      {{"--json", "lock", "t/j"}, "INVALID_ARGUMENT", 2},
      {{"lock", "t/j", "--json", "--timeout", "soon", "--", "true"}, "INVALID_ARGUMENT", 2},
      {{"--json", "--addr", "127.0.0.1", "health"}, "INVALID_ARGUMENT", 2},
      {{"--json", "--addr", closed, "describe", "t/j"}, "UNAVAILABLE", 69},
      {{"--json", "describe", "t/none"}, "NOT_FOUND", 1},
      {{"--json", "latch", "wait", "t/none"}, "NOT_FOUND", 1},
      {{"--json", "set-rate", "t/none", "1"}, "NOT_FOUND", 1},
      {{"--json", "lock", "t/j", "--", "/no/such/command"}, "NOT_FOUND", 127},
  };
  for (const Failing& f : failing) {
    Result r = Run(f.args);
    EXPECT_EQ(r.exit_code, f.exit_code) << f.args[1] << ": " << r.err;
    EXPECT_TRUE(IsJsonLine(r.err)) << f.args[1] << ": " << r.err;
    EXPECT_EQ(r.err.rfind("{\"command\":", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("\"code\":\"" + f.code + "\""), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("\"exit\":" + std::to_string(f.exit_code)), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("\"message\":\""), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "") << f.args[1];
  }

  // A timeout while waiting, and a conflict.
  const std::string held = Path("held"), release = Path("release");
  auto holder = Start({"lock", "t/j", "--", "sh", "-c",
                       "touch " + held + "; while [ ! -e " + release + " ]; do sleep 0.05; done"});
  ASSERT_TRUE(WaitUntil([&] { return std::filesystem::exists(held); }));
  Result r = Run({"--json", "lock", "t/j", "--timeout", "100ms", "--", "true"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_TRUE(IsJsonLine(r.err)) << r.err;
  EXPECT_NE(r.err.find("\"code\":\"DEADLINE_EXCEEDED\""), std::string::npos) << r.err;
  std::ofstream(release).put('\n');
  EXPECT_EQ(holder->Wait().exit_code, 0);
  ASSERT_EQ(Run({"latch", "declare", "t/jl", "a=1"}).exit_code, 0);
  r = Run({"--json", "latch", "declare", "t/jl", "a=2"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(IsJsonLine(r.err)) << r.err;
  EXPECT_NE(r.err.find("\"existing\":\"a=1\",\"asked\":\"a=2\""), std::string::npos) << r.err;

  // Answers: one object on stdout.
  const std::vector<std::vector<std::string>> answering = {
      {"--json", "health"},
      {"--json", "latch", "declare", "t/jl", "a=1"},
      {"--json", "latch", "count-down", "t/jl", "a"},
      {"--json", "latch", "count-down", "t/jl", "--all"},
      {"--json", "latch", "wait", "t/jl", "a"},
      {"--json", "latch", "wait", "t/jl"},
      {"--json", "notify", "t/jc", "k"},
      {"--json", "ratelimit", "t/jr", "--rate", "10"},
      {"--json", "set-rate", "t/jr", "20"},
      {"--json", "semaphore", "t/js", "--bound", "1", "--", "true"},  // declares t/js
      {"--json", "set-bound", "t/js", "2"},
      {"--json", "semaphore", "t/jp", "--kind", "priority", "--bound", "1", "--", "true"},
      {"--json", "reset", "t/jp"},
      {"--json", "describe", "t/js"},
      {"--json", "list", "t/js"},
      {"--json", "delete", "t/js"},
  };
  for (const std::vector<std::string>& args : answering) {
    r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << args[1] << ": " << r.err;
    EXPECT_EQ(r.err, "") << args[1];
    if (args[1] == "semaphore") {
      EXPECT_EQ(r.out, "") << "CMD's output only";
    } else {
      EXPECT_TRUE(IsJsonLine(r.out)) << args[1] << ": " << r.out;
    }
  }
  r = Run({"--json", "latch", "count-down", "t/jl", "a"});
  EXPECT_EQ(r.out, "{\"name\":\"t/jl\",\"key\":\"a\",\"counted_down\":false}\n");
  r = Run({"--json", "set-bound", "t/js2", "2"});
  EXPECT_TRUE(IsJsonLine(r.err)) << r.err;

  auto waiter = Start({"--json", "wait", "t/jc", "k", "--timeout", "30s"});
  ASSERT_TRUE(WaitForWaiters("t/jc", 1));
  r = Run({"--json", "notify", "t/jc", "k"});
  EXPECT_EQ(r.out, "{\"name\":\"t/jc\",\"key\":\"k\",\"woken\":1}\n");
  r = waiter->Wait();
  EXPECT_EQ(r.out, "{\"name\":\"t/jc\",\"key\":\"k\",\"notified\":true}\n");
}

TEST_F(CliTest, NotifyWakesNOrEveryKeyAndRateLimitsCanBeUnfair) {
  std::vector<std::unique_ptr<Baton>> waiters;
  for (const char* key : {"a", "a", "a", "b"}) {
    waiters.push_back(Start({"wait", "t/n", key, "--timeout", "60s"}));
    ASSERT_TRUE(WaitForWaiters("t/n", static_cast<int>(waiters.size())));
  }
  Result r = Run({"notify", "t/n", "a", "--count", "2"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "notified 2 waiters of t/n key a\n");
  EXPECT_EQ(waiters[0]->Wait().exit_code, 0);  // the oldest two
  EXPECT_EQ(waiters[1]->Wait().exit_code, 0);
  ASSERT_TRUE(WaitForWaiters("t/n", 2));
  r = Run({"notify", "t/n", "b", "--count", "2", "--strict"});
  EXPECT_EQ(r.exit_code, 1) << r.err;  // only one was waiting on b, and it was woken
  EXPECT_NE(r.err.find("FAILED_PRECONDITION"), std::string::npos) << r.err;
  EXPECT_EQ(waiters[3]->Wait().exit_code, 0);
  auto other = Start({"wait", "t/n", "c", "--timeout", "60s"});
  ASSERT_TRUE(WaitForWaiters("t/n", 2));
  r = Run({"notify", "t/n", "--all"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "notified 2 waiters of t/n every key\n");
  EXPECT_EQ(waiters[2]->Wait().exit_code, 0);
  EXPECT_EQ(other->Wait().exit_code, 0);
  EXPECT_EQ(Run({"notify", "t/n"}).exit_code, 2);  // KEY or --all
  EXPECT_EQ(Run({"notify", "t/n", "a", "--count", "0"}).exit_code, 2);
  EXPECT_EQ(Run({"notify", "t/n", "a", "--strict"}).exit_code, 2);

  ASSERT_EQ(Run({"ratelimit", "t/unfair", "--rate", "1", "--unfair"}).exit_code, 0);
  r = Run({"describe", "t/unfair"});
  EXPECT_NE(r.out.find("fair:        no"), std::string::npos) << r.out;
  r = Run({"ratelimit", "t/unfair", "--rate", "1"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("exists with --rate 1 --capacity 1 --unfair, not --rate 1 --capacity 1"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(Run({"ratelimit", "t/unfair", "--unfair"}).exit_code, 2);  // needs --rate
}

TEST_F(CliTest, ABoundConflictNamesTheBoundNAMEHasAndTheOneAsked) {
  ASSERT_EQ(Run({"semaphore", "t/db", "--bound", "1", "--", "true"}).exit_code, 0);
  ASSERT_EQ(Run({"set-bound", "t/db", "8"}).exit_code, 0);
  Result r = Run({"semaphore", "t/db", "--bound", "3", "--", "true"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("'t/db' exists with bound 8, not --bound 3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("baton set-bound t/db 3"), std::string::npos) << r.err;
  // batond's own words name the bound it was declared with.
  EXPECT_NE(r.err.find("value is 8 now (its bound; declared 1), asked 3"), std::string::npos)
      << r.err;
}

// The operator's report: after `set-bound downstream/db 8`, describe shows
// bound 8, so `semaphore --bound 8` must be no conflict. The CLI adds no
// conflict of its own (it only explains the server's ALREADY_EXISTS), so this
// depends on the server side too: Registry::Declare comparing against the
// live bound (the admin/name validation branch). Until that is merged, this
// test FAILS here with "exists with bound 8 (declared with 1), not --bound 8";
// it is meant to pass after the merge, without any change on the CLI side.
TEST_F(CliTest, SemaphoreWithTheBoundDescribeShowsIsNoConflict) {
  ASSERT_EQ(Run({"semaphore", "downstream/db", "--bound", "1", "--", "true"}).exit_code, 0);
  ASSERT_EQ(Run({"set-bound", "downstream/db", "8"}).exit_code, 0);
  Result described = Run({"describe", "downstream/db", "--json"});
  ASSERT_NE(described.out.find("\"bound\":8"), std::string::npos) << described.out;
  Result r = Run({"semaphore", "downstream/db", "--bound", "8", "--", "true"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace baton

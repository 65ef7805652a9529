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
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

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
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("FAILED_PRECONDITION"), std::string::npos) << r.err;
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
  EXPECT_NE(conflict.err.find("another bound"), std::string::npos) << conflict.err;

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

}  // namespace
}  // namespace baton

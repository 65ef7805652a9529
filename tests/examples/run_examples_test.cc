// Copyright 2026 The Baton Authors.
//
// Runs every program of examples/ against a real batond on a loopback port,
// as CI would: each must exit 0, print the line that shows its scenario
// worked, and finish in a few seconds. The paths come from CMake
// (EXAMPLE_<NAME>_PATH).

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/batond_process.h"

namespace baton {
namespace {

using ::baton::testing::BatondProcess;

struct ProgramRun {
  int exit_code = -1;  // -1: killed or not started
  std::string output;  // stdout and stderr, interleaved
  std::chrono::milliseconds took{0};
};

// RunProgram() runs `path args...` with `env` added to the environment,
// collects its output, and kills it after `timeout`.
ProgramRun RunProgram(const std::string& path, std::vector<std::string> args,
                      std::vector<std::string> env = {},
                      std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  ProgramRun run;
  std::vector<std::string> argv_strings = {path};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string(*e).rfind("BATON_ADDR=", 0) != 0) env_strings.push_back(*e);
  }
  env_strings.insert(env_strings.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  int fds[2];
  if (pipe(fds) != 0) return run;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  pid_t pid = -1;
  const auto start = std::chrono::steady_clock::now();
  const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (spawned != 0) {
    close(fds[0]);
    run.output = "cannot start " + path;
    return run;
  }
  const auto deadline = start + timeout;
  bool killed = false;
  char buffer[4096];
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      kill(pid, SIGKILL);
      killed = true;
      break;
    }
    pollfd p{.fd = fds[0], .events = POLLIN};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = read(fds[0], buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the program exited
    run.output.append(buffer, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  run.took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  if (!killed && WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  if (killed) run.output += "\n[killed after " + std::to_string(timeout.count()) + " ms]";
  return run;
}

struct Example {
  const char* name;
  const char* path;
  const char* expected;  // a line (or part of one) the program must print
};

void PrintTo(const Example& example, std::ostream* os) { *os << example.name; }

class ExamplesTest : public ::testing::TestWithParam<Example> {
 protected:
  static void SetUpTestSuite() { batond_ = new BatondProcess({"--shards=2"}); }
  static void TearDownTestSuite() {
    delete batond_;
    batond_ = nullptr;
  }
  static BatondProcess* batond_;
};

BatondProcess* ExamplesTest::batond_ = nullptr;

TEST_P(ExamplesTest, RunsToSuccessAgainstARealBatond) {
  ASSERT_TRUE(batond_->started()) << batond_->log();
  const Example& example = GetParam();
  const ProgramRun run = RunProgram(example.path, {batond_->address()});
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find(example.expected), std::string::npos)
      << "expected \"" << example.expected << "\" in:\n"
      << run.output;
  // "Well under 5 seconds" on an idle machine; some slack for a loaded CI one.
  EXPECT_LT(run.took, std::chrono::seconds(10)) << run.output;
  std::cout << "[" << example.name << ": " << run.took.count() << " ms]\n" << run.output;
}

TEST_P(ExamplesTest, RunsAgainOnTheSameServer) {
  ASSERT_TRUE(batond_->started()) << batond_->log();
  const Example& example = GetParam();
  for (int i = 0; i < 2; ++i) {
    const ProgramRun run = RunProgram(example.path, {batond_->address()});
    EXPECT_EQ(run.exit_code, 0) << "run " << i << ":\n" << run.output;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Examples, ExamplesTest,
    ::testing::Values(
        Example{"hello_lock", EXAMPLE_HELLO_LOCK_PATH, "holding jobs/nightly with fence"},
        Example{"rate_limiter", EXAMPLE_RATE_LIMITER_PATH, "20 calls in"},
        Example{"dynamic_semaphore", EXAMPLE_DYNAMIC_SEMAPHORE_PATH, "all 8 calls done"},
        Example{"keyed_condition", EXAMPLE_KEYED_CONDITION_PATH,
                "job 42 is done, fetching its result"},
        Example{"latch", EXAMPLE_LATCH_PATH, "everything is ready, starting the app"},
        Example{"priority_lock", EXAMPLE_PRIORITY_LOCK_PATH,
                "the stale write was refused: fences work"},
        Example{"priority_rlock", EXAMPLE_PRIORITY_RLOCK_PATH, "order: compactor, then backup"},
        Example{"priority_semaphore", EXAMPLE_PRIORITY_SEMAPHORE_PATH,
                "job: lost the GPU (ABORTED"},
        Example{"rlock", EXAMPLE_RLOCK_PATH, "sidecar: took config/reload"}),
    [](const ::testing::TestParamInfo<Example>& info) { return std::string(info.param.name); });

TEST(ExamplesAddressTest, TheAddressCanComeFromBatonAddr) {
  BatondProcess batond;
  ASSERT_TRUE(batond.started()) << batond.log();
  const ProgramRun run =
      RunProgram(EXAMPLE_HELLO_LOCK_PATH, {}, {"BATON_ADDR=" + batond.address()});
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("released"), std::string::npos) << run.output;
}

TEST(ExamplesAddressTest, NoServerIsAFailureWithAMessage) {
  // A port that was free a moment ago: nothing listens there.
  BatondProcess batond;
  ASSERT_TRUE(batond.started()) << batond.log();
  const std::string address = batond.address();
  batond.SignalAndWait(SIGKILL, std::chrono::seconds(10));
  const ProgramRun run = RunProgram(EXAMPLE_HELLO_LOCK_PATH, {address});
  EXPECT_NE(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("connect:"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace baton

// Copyright 2026 The Baton Authors.
//
// What an operator meets first, against a real batond: a second batond on a
// taken port, fences after a lost data directory, the flags (--help,
// --version, the environment, bad values), and back-pressure on a client
// that sends and never reads.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/integration/session_test_fixture.h"

namespace baton::session_test {
namespace {

class OperatorTest : public SessionTest {};

// RunBatond() runs batond with `args` and `env` (added to this process's)
// to its exit, and returns its exit code and everything it printed.
struct BatondRun {
  int code = -1;
  std::string output;
};
BatondRun RunBatond(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  std::string command;
  for (const std::string& assignment : env) absl::StrAppend(&command, assignment, " ");
  absl::StrAppend(&command, BATOND_PATH);
  for (const std::string& arg : args) absl::StrAppend(&command, " '", arg, "'");
  absl::StrAppend(&command, " 2>&1");
  BatondRun run;
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  std::size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) run.output.append(buffer, n);
  const int status = ::pclose(pipe);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// RssBytes() is the resident set of process `pid`, from /proc.
int64_t RssBytes(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (!absl::StartsWith(line, "VmRSS:")) continue;
    std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    int64_t kib = 0;
    if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &kib)) return kib * 1024;
  }
  return -1;
}

TEST_F(OperatorTest, ASecondBatondOnATakenPortFailsNamingTheAddress) {
  StartBatond();
  ASSERT_TRUE(batond_->started()) << batond_->log();
  auto holder = NewSession("holder");
  ASSERT_TRUE(holder->opened());
  ASSERT_TRUE(Granted(holder->Call(ops::Acquire(1, "jobs/nightly", kLock))));

  // SO_REUSEPORT would let it bind too and take half the connections.
  BatondProcess second({"--listen=" + batond_->address()});
  EXPECT_FALSE(second.started()) << second.log();
  const int status = second.WaitExit(std::chrono::seconds(30));
  ASSERT_TRUE(WIFEXITED(status)) << second.log();
  EXPECT_EQ(WEXITSTATUS(status), 1) << second.log();
  EXPECT_TRUE(absl::StrContains(second.log(), batond_->address())) << second.log();
  EXPECT_TRUE(absl::StrContains(second.log(), "address in use")) << second.log();

  // Under --log_format=json every line of that failure is JSON, gRPC's own
  // report of the bind included (it goes through batond's log).
  BatondProcess third({"--listen=" + batond_->address(), "--log_format=json"});
  EXPECT_FALSE(third.started()) << third.log();
  third.WaitExit(std::chrono::seconds(30));
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(third.log(), '\n', absl::SkipEmpty())) {
    ++lines;
    EXPECT_TRUE(absl::StartsWith(line, "{\"ts\":\"") && absl::EndsWith(line, "}")) << line;
  }
  EXPECT_GE(lines, 2) << third.log();
  EXPECT_TRUE(absl::StrContains(third.log(), "address in use")) << third.log();
  EXPECT_TRUE(absl::StrContains(third.log(), "\"source\":\"grpc\"")) << third.log();

  // Every new connection reaches the first batond, which still holds the
  // lock for `holder`: no one else is granted it.
  for (int i = 0; i < 8; ++i) {
    auto channel = grpc::CreateChannel(batond_->address(), grpc::InsecureChannelCredentials());
    SessionClient other(channel);
    ASSERT_TRUE(other.Open("other", absl::StrCat("other-", i)));
    const std::optional<v1::Response> tried =
        other.Call(ops::Acquire(1, "jobs/nightly", kLock, 0, milliseconds(0)));
    ASSERT_TRUE(tried.has_value()) << "try " << i;
    EXPECT_NE(CodeOf(*tried), grpc::StatusCode::OK) << "try " << i << ": granted twice";
  }
  const std::optional<v1::DescribeResponse> described = Describe("jobs/nightly");
  ASSERT_TRUE(described.has_value());
  EXPECT_EQ(described->ShortDebugString().find("other-"), std::string::npos)
      << described->ShortDebugString();
}

TEST_F(OperatorTest, FencesKeepIncreasingAcrossALostDataDirectory) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / absl::StrCat("operator_test.", ::getpid()))
          .string();
  std::filesystem::remove_all(dir);
  StartBatond({"--shards=2", "--data_dir=" + dir});
  ASSERT_TRUE(batond_->started()) << batond_->log();
  uint64_t highest = 0;
  uint64_t epoch = 0;
  {
    auto a = NewSession("a");
    ASSERT_TRUE(a->opened());
    epoch = a->opened()->server_epoch();
    for (uint64_t i = 0; i < 50; ++i) {
      const std::string name = absl::StrCat("fenced/", i % 5);
      std::optional<v1::Response> granted = a->Call(ops::Acquire(2 * i + 1, name, kLock));
      ASSERT_TRUE(Granted(granted));
      highest = std::max(highest, granted->fence());
      ASSERT_TRUE(Answered(a->Call(ops::Release(2 * i + 2, name, kLock)), grpc::StatusCode::OK));
    }
  }
  ASSERT_EQ(batond_->SignalAndWait(SIGKILL, seconds(30)) >= 0, true);
  // The pod is re-created on an empty volume.
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(batond_->Restart()) << batond_->log();
  Connect();
  auto b = NewSession("b");
  ASSERT_TRUE(b->opened());
  EXPECT_GT(b->opened()->server_epoch(), epoch);
  for (uint64_t i = 0; i < 5; ++i) {
    std::optional<v1::Response> granted =
        b->Call(ops::Acquire(i + 1, absl::StrCat("fenced/", i), kLock));
    ASSERT_TRUE(Granted(granted));
    EXPECT_GT(granted->fence(), highest) << "fenced/" << i;
  }
  std::filesystem::remove_all(dir);
}

TEST(BatondFlagsTest, HelpListsEveryFlagWithItsDefaultAndVariableAndExitsZero) {
  const BatondRun help = RunBatond({"--help"});
  EXPECT_EQ(help.code, 0) << help.output;
  for (const char* flag :
       {"--listen", "--shards", "--completion_queues", "--idle_eviction",
        "--max_instances_per_shard", "--keepalive_time", "--keepalive_timeout", "--data_dir",
        "--max_sessions", "--max_pending_requests", "--max_waits_per_session",
        "--max_requests_per_message", "--max_message_bytes", "--max_key_bytes",
        "--max_unread_bytes", "--default_lease", "--min_lease", "--max_lease", "--grace",
        "--log_level", "--log_format"}) {
    EXPECT_TRUE(absl::StrContains(help.output, flag)) << flag << "\n" << help.output;
  }
  EXPECT_TRUE(absl::StrContains(help.output, "--grace (env BATON_GRACE, default 10s)"))
      << help.output;
  EXPECT_TRUE(absl::StrContains(help.output, "(env BATON_LISTEN, default 127.0.0.1:7070)"))
      << help.output;
  EXPECT_EQ(RunBatond({"-h"}).output, help.output);
}

TEST(BatondFlagsTest, VersionIsBatonsOwn) {
  const BatondRun version = RunBatond({"--version"});
  EXPECT_EQ(version.code, 0) << version.output;
  EXPECT_TRUE(absl::StartsWith(version.output, "batond 0.")) << version.output;
  EXPECT_TRUE(absl::StrContains(version.output, "(git ")) << version.output;
  EXPECT_FALSE(absl::StrContains(version.output, "NDEBUG")) << version.output;
}

TEST(BatondFlagsTest, StrayArgumentsAndUnknownFlagsAreRefused) {
  const BatondRun extra = RunBatond({"extra"});
  EXPECT_EQ(extra.code, 2) << extra.output;
  EXPECT_TRUE(absl::StrContains(extra.output, "unexpected argument 'extra'")) << extra.output;

  const BatondRun unknown = RunBatond({"--max_sesions=5"});
  EXPECT_EQ(unknown.code, 2) << unknown.output;
  EXPECT_TRUE(absl::StrContains(unknown.output, "unknown flag --max_sesions")) << unknown.output;
  EXPECT_TRUE(absl::StrContains(unknown.output, "did you mean --max_sessions?"))
      << unknown.output;
}

TEST(BatondFlagsTest, BadValuesAreExplainedWithAnExample) {
  for (const auto& [args, env, expected] : std::vector<
           std::tuple<std::vector<std::string>, std::vector<std::string>, std::string>>{
           {{"--grace=soon"}, {}, "--grace=soon: expected a duration such as 10s"},
           {{}, {"BATON_GRACE=soon"}, "BATON_GRACE=soon: expected a duration such as 10s"},
           {{"--grace=-5s"}, {}, "--grace=-5s: expected a duration"},
           {{"--shards=two"}, {}, "--shards=two: expected a whole number such as 4"},
           {{"--log_level=loud"}, {}, "--log_level: expected trace, debug, info, warn or error"},
           {{"--log_format=xml"}, {}, "--log_format: expected text or json"},
           {{"--max_sessions=0"}, {}, "--max_sessions must be in [1, "},
           // A flag without its value does not take the next flag as one.
           {{"--data_dir", "--shards=4"}, {}, "--data_dir needs a value"},
           // The command line wins, even over a malformed variable.
           {{"--grace=5s", "--max_sessions=0"}, {"BATON_GRACE=soon"}, "--max_sessions must be"},
           {{"--"}, {}, "unexpected argument '--'"},
       }) {
    const BatondRun run = RunBatond(args, env);
    EXPECT_EQ(run.code, 2) << expected << "\n" << run.output;
    EXPECT_TRUE(absl::StrContains(run.output, expected)) << expected << "\n" << run.output;
  }
}

TEST_F(OperatorTest, DurationsTakeABareNumberOfSecondsAsTheCliDoes) {
  StartBatond({"--shards=1", "--grace=5", "--default_lease=2.5", "--log_level=debug"});
  ASSERT_TRUE(batond_->started()) << batond_->log();
  auto a = NewSession("a");
  ASSERT_TRUE(a->opened());
  EXPECT_EQ(FromDuration(a->opened()->lease()), milliseconds(2500));
}

TEST_F(OperatorTest, AnUnknownBatonVariableIsWarnedAbout) {
  ::setenv("BATON_MAX_SESION", "5", 1);
  StartBatond({"--shards=1"});
  ::unsetenv("BATON_MAX_SESION");
  ASSERT_TRUE(batond_->started()) << batond_->log();
  EXPECT_TRUE(absl::StrContains(batond_->log(),
                                "BATON_MAX_SESION names no batond flag, ignored (did you mean "
                                "BATON_MAX_SESSIONS?)"))
      << batond_->log();
}

TEST_F(OperatorTest, JsonLogsAreOneObjectPerLine) {
  StartBatond({"--shards=1", "--log_format=json"});
  ASSERT_TRUE(batond_->started()) << batond_->log();
  auto a = NewSession("a");
  ASSERT_TRUE(a->opened());
  a->HalfClose();
  EXPECT_TRUE(a->Finish().ok());
  EXPECT_EQ(batond_->SignalAndWait(SIGTERM, seconds(30)), 0) << batond_->log();
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(batond_->log(), '\n', absl::SkipEmpty())) {
    ++lines;
    EXPECT_TRUE(absl::StartsWith(line, "{\"ts\":\"") && absl::EndsWith(line, "}")) << line;
    EXPECT_TRUE(absl::StrContains(line, "\"level\":\"")) << line;
  }
  EXPECT_GE(lines, 4) << batond_->log();
  EXPECT_TRUE(absl::StrContains(batond_->log(), "\"msg\":\"session opened\"")) << batond_->log();
  // A normal close is logged at debug, below the default level.
  EXPECT_FALSE(absl::StrContains(batond_->log(), "session closed")) << batond_->log();
}

TEST_F(OperatorTest, EveryAdminMutationLeavesOneAuditLine) {
  StartBatond({"--shards=2"});
  ASSERT_TRUE(batond_->started()) << batond_->log();
  v1::InstanceConfig config;
  config.set_kind(v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE);
  config.mutable_semaphore()->set_value(4);
  ASSERT_TRUE(Declare("downstream/db", config).ok());
  {
    auto context = Context();
    context->AddMetadata("baton-client-name", "ops-console");
    v1::SetBoundRequest request;
    request.set_name("downstream/db");
    request.set_bound(8);
    v1::SetBoundResponse response;
    ASSERT_TRUE(admin_->SetBound(context.get(), request, &response).ok());
  }
  {
    v1::DeleteRequest request;
    request.set_name("no/such");
    v1::DeleteResponse response;
    EXPECT_EQ(admin_->Delete(Context().get(), request, &response).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  // Reads leave none.
  ASSERT_TRUE(Describe("downstream/db").has_value());
  EXPECT_EQ(batond_->SignalAndWait(SIGTERM, seconds(30)), 0) << batond_->log();
  const std::string log = batond_->log();
  EXPECT_TRUE(absl::StrContains(log, "info  admin call=\"declare\" name=\"downstream/db\" "
                                     "detail=\"created "))
      << log;
  EXPECT_TRUE(absl::StrContains(log, "info  admin call=\"set-bound\" name=\"downstream/db\" "
                                     "detail=\"bound=8 available=8\" result=\"OK\" "
                                     "peer=\"ipv4:127.0.0.1:"))
      << log;
  EXPECT_TRUE(absl::StrContains(log, "client=\"ops-console\"")) << log;
  EXPECT_TRUE(absl::StrContains(log, "warn  admin call=\"delete\" name=\"no/such\" "))
      << log;
  EXPECT_TRUE(absl::StrContains(log, "result=\"NOT_FOUND: ")) << log;
  EXPECT_FALSE(absl::StrContains(log, "call=\"describe\"")) << log;
}

TEST_F(OperatorTest, RejectedRequestsAreLoggedAtABoundedRate) {
  StartBatond({"--shards=1", "--log_rejections_per_second=1"});
  ASSERT_TRUE(batond_->started()) << batond_->log();
  auto a = NewSession("a");
  ASSERT_TRUE(a->opened());
  // 50 requests with a name outside the grammar, each answered.
  for (uint64_t id = 1; id <= 50; ++id) {
    EXPECT_TRUE(Answered(a->Call(ops::Acquire(id, "bad//name", kLock)),
                         grpc::StatusCode::INVALID_ARGUMENT, "name"));
  }
  // Its whole log: the lines batond wrote may still be in the pipe.
  batond_->SignalAndWait(SIGKILL, seconds(30));
  const std::string log = batond_->log();
  std::size_t lines = 0;
  for (std::size_t at = log.find("request rejected"); at != std::string::npos;
       at = log.find("request rejected", at + 1)) {
    ++lines;
  }
  // A burst of two at one line a second: far fewer than 50 (the run takes
  // well under the 48 s that would allow 50).
  EXPECT_GE(lines, 1u) << log;
  EXPECT_LT(lines, 25u) << log;
  EXPECT_TRUE(absl::StrContains(log, "op=\"acquire\"")) << log;
}

// A client that sends and never reads: its answers pile up behind a write
// that never completes. batond stops reading it, then ends it when its
// lease runs out, releasing what it held; its memory stays bounded.
TEST_F(OperatorTest, AClientThatNeverReadsIsPausedThenEndedWithBoundedMemory) {
  // The memory a session can hold is bounded by its limits: the answers
  // waiting (max_unread_bytes, and those of the requests read before the
  // pause) and the requests in flight to the shards (max_pending_requests).
  StartBatond({"--shards=2", "--max_unread_bytes=65536", "--max_pending_requests=20000"});
  ASSERT_TRUE(batond_->started()) << batond_->log();

  // A connection of its own, as a misbehaving client process would have.
  grpc::ChannelArguments own;
  own.SetInt("baton.test.connection", 1);
  auto stub = v1::Baton::NewStub(
      grpc::CreateCustomChannel(batond_->address(), grpc::InsecureChannelCredentials(), own));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + seconds(60));
  auto stream = stub->Session(&context);
  v1::ClientMessage open;
  open.mutable_open()->set_client_name("never-reads");
  open.mutable_open()->set_default_owner_key("flooder");
  // A lease of 3 s: long enough that unbounded growth (~190 MB/s) would
  // pass the bound below by far, short enough for a test.
  *open.mutable_open()->mutable_lease() = ::baton::testing::ToDuration(seconds(3));
  *open.add_requests() = ops::Acquire(1, "flood/lock", kLock);
  ASSERT_TRUE(stream->Write(open));
  const int64_t baseline = RssBytes(batond_->pid());
  ASSERT_GT(baseline, 0);

  std::atomic<bool> writing{true};
  std::atomic<int> sent{0};
  std::thread writer([&] {
    uint64_t id = 2;
    // Bounded: 20,000 messages of 100 reads, far past any buffer.
    for (int m = 0; m < 20'000; ++m) {
      v1::ClientMessage message;
      for (int r = 0; r < 100; ++r) *message.add_requests() = ops::Read(id++, "flood/lock", kLock);
      if (!stream->Write(message)) break;
      sent.fetch_add(1);
    }
    writing.store(false);
  });
  // Until batond ends the session (its lease, 3 s, runs out unread).
  int64_t peak = baseline;
  const auto deadline = Clock::now() + seconds(60);
  while (Clock::now() < deadline && !absl::StrContains(batond_->log(), "session closed")) {
    peak = std::max(peak, RssBytes(batond_->pid()));
    usleep(20'000);  // sampling memory, not timing logic
  }
  // Ended by its lease (1 s) unread, or past the hard bound by the answers
  // of what it sent before the pause, whichever comes first.
  EXPECT_TRUE(absl::StrContains(batond_->log(), "reason=\"RESOURCE_EXHAUSTED: max_unread_bytes: "))
      << batond_->log().substr(0, 4000);
  EXPECT_LT(sent.load(), 20'000) << "the writer was never stopped by flow control";
  // Without back-pressure this grew by ~1.5 GB in 8 s (bench/backpressure).
  // Under AddressSanitizer, freed memory sits in its quarantine (256 MiB)
  // instead of being reused: the resident set says nothing there.
  std::fprintf(stderr, "batond grew by %.1f MiB (peak %.1f MiB), %d messages sent\n",
               static_cast<double>(peak - baseline) / (1 << 20),
               static_cast<double>(peak) / (1 << 20), sent.load());
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(peak - baseline, int64_t{192} << 20) << "baseline " << baseline << ", peak " << peak;
#endif
  // The status cannot pass the answers the client does not read: the call
  // was cancelled. (A client blocked in a write may not learn of it before
  // its own deadline: it is cancelled here.)
  context.TryCancel();
  writer.join();
  EXPECT_FALSE(stream->Finish().ok());

  // Its lock was released with the session.
  auto next = NewSession("next");
  ASSERT_TRUE(next->opened()) << next->Finish().error_message() << " " << batond_->log().substr(0, 4000);
  EXPECT_TRUE(Granted(next->Call(ops::Acquire(1, "flood/lock", kLock))))
      << batond_->log().substr(0, 8000);
}

// A client that reads late gets every answer: reading resumes once it reads.
TEST_F(OperatorTest, AClientThatReadsLateGetsEveryAnswer) {
  StartBatond({"--shards=2", "--max_unread_bytes=4096"});
  ASSERT_TRUE(batond_->started()) << batond_->log();
  auto stub = v1::Baton::NewStub(channel_);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + seconds(60));
  auto stream = stub->Session(&context);
  v1::ClientMessage open;
  open.mutable_open()->set_client_name("reads-late");
  ASSERT_TRUE(stream->Write(open));
  constexpr int kMessages = 300;
  constexpr int kPerMessage = 50;
  std::atomic<int> sent{0};
  std::thread writer([&] {
    uint64_t id = 1;
    for (int m = 0; m < kMessages; ++m) {
      v1::ClientMessage message;
      for (int r = 0; r < kPerMessage; ++r) {
        *message.add_requests() = ops::Read(id++, absl::StrCat("late/", r % 7), kLock);
      }
      if (!stream->Write(message)) break;
      sent.fetch_add(1);
    }
    stream->WritesDone();
  });
  // Let the writer run ahead until it stops (paused) or is done.
  int last = -1;
  while (sent.load() != last && sent.load() < kMessages) {
    last = sent.load();
    usleep(200'000);  // waiting for the writer to stall, not timing logic
  }
  int answers = 0;
  v1::ServerMessage message;
  while (stream->Read(&message)) {
    for (const v1::Response& response : message.responses()) {
      EXPECT_TRUE(Answered(response, grpc::StatusCode::OK));
      ++answers;
    }
  }
  writer.join();
  EXPECT_EQ(sent.load(), kMessages);
  EXPECT_EQ(answers, kMessages * kPerMessage);
  const grpc::Status finished = stream->Finish();
  EXPECT_TRUE(finished.ok()) << finished.error_message() << "\n" << batond_->log();
}

}  // namespace
}  // namespace baton::session_test

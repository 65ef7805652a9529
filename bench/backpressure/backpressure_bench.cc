// Copyright 2026 The Baton Authors.
//
// baton_backpressure_bench: how much memory batond takes on while a client
// sends requests as fast as it can and never reads the answers. Runs a
// fresh batond per row (tests/testing/batond_process.h), one client writing
// messages of 100 `read` requests for a bounded time, and samples batond's
// resident set. Rows:
//   back-pressure   batond's defaults (--max_unread_bytes=1MiB)
//   no bound        --max_unread_bytes=4294967296: the bound is never reached
//                   in the run, which is what batond did before it had one
//
//   baton_backpressure_bench [SECONDS]      (default 8)

#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "baton/v1/session.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "tests/testing/batond_process.h"

namespace {

long RssKib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) != 0) continue;
    std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    long kib = 0;
    if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &kib)) return kib;
  }
  return -1;
}

struct Row {
  long before_kib = 0;
  long peak_kib = 0;
  long messages = 0;
};

Row RunOne(const std::vector<std::string>& flags, double seconds) {
  Row row;
  baton::testing::BatondProcess batond(flags);
  if (!batond.started()) {
    std::fprintf(stderr, "batond did not start:\n%s\n", batond.log().c_str());
    std::exit(1);
  }
  auto channel = grpc::CreateChannel(batond.address(), grpc::InsecureChannelCredentials());
  auto stub = baton::v1::Baton::NewStub(channel);
  grpc::ClientContext context;
  auto stream = stub->Session(&context);
  baton::v1::ClientMessage open;
  open.mutable_open()->set_client_name("never-reads");
  stream->Write(open);
  row.before_kib = RssKib(batond.pid());
  row.peak_kib = row.before_kib;
  std::atomic<bool> stop{false};
  std::atomic<long> sent{0};
  std::thread writer([&] {
    std::uint64_t id = 1;
    while (!stop.load()) {
      baton::v1::ClientMessage message;
      for (int r = 0; r < 100; ++r) {
        baton::v1::Request* request = message.add_requests();
        request->set_id(id++);
        request->set_name("flood/lock");
        request->set_kind(baton::v1::KIND_PRIORITY_LOCK);
        request->mutable_read();
      }
      if (!stream->Write(message)) break;
      sent.fetch_add(1);
    }
  });
  const auto end = std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(static_cast<long>(seconds * 1000));
  while (std::chrono::steady_clock::now() < end) {
    row.peak_kib = std::max(row.peak_kib, RssKib(batond.pid()));
    usleep(50'000);
  }
  stop.store(true);
  context.TryCancel();  // a writer blocked by flow control returns
  writer.join();
  row.messages = sent.load();
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 8;
  if (argc > 1 && (!absl::SimpleAtod(argv[1], &seconds) || seconds <= 0 || seconds > 120)) {
    std::fprintf(stderr, "usage: baton_backpressure_bench [SECONDS in (0, 120]]\n");
    return 2;
  }
  std::printf("a client that sends and never reads, %.0f s per row (batond --shards=2)\n\n",
              seconds);
  std::printf("| batond | RSS before | RSS peak | growth | messages sent (x100 requests) |\n");
  std::printf("|---|---:|---:|---:|---:|\n");
  const struct {
    const char* label;
    std::vector<std::string> flags;
  } rows[] = {
      {"back-pressure (--max_unread_bytes=1MiB, default)", {"--shards=2"}},
      {"no bound (--max_unread_bytes=4294967296)",
       {"--shards=2", "--max_unread_bytes=4294967296"}},
  };
  for (const auto& config : rows) {
    const Row row = RunOne(config.flags, seconds);
    std::printf("| %s | %.1f MiB | %.1f MiB | %.1f MiB | %ld |\n", config.label,
                row.before_kib / 1024.0, row.peak_kib / 1024.0,
                (row.peak_kib - row.before_kib) / 1024.0, row.messages);
    std::fflush(stdout);
  }
  return 0;
}

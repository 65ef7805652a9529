// Copyright 2026 The Baton Authors.
//
// baton_tenants_bench: does one tenant at its quota starve another? A
// "quiet" tenant takes and releases a lock in a loop (one session, one
// request at a time) and records each round trip; meanwhile a "noisy" tenant
// floods from several sessions, 100 requests a message, reading its answers.
// Rows, each on a fresh batond with an --auth_file (both tenants by token):
//   quiet alone               the baseline
//   flood, quota on           noisy's namespace has requests_per_second and
//                             waiters quotas: most of its requests are refused
//   flood, no quota           the same flood with no quota, for comparison
// The ratio column is each row's p50 (and p99) over the quiet row's, in the
// same run. The flood runs on this machine's cores beside batond: it takes
// CPU from both, quota or not.
//
//   baton_tenants_bench [SECONDS] [FLOOD_SESSIONS]     (default 5, 4)

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "baton/v1/session.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "tests/testing/batond_process.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr char kQuiet[] = "quiet-tenant-token-0123456789abcdef";
constexpr char kNoisy[] = "noisy-tenant-token-0123456789abcdef";

std::string AuthFile(bool quota) {
  std::string text = absl::StrCat(
      "principals:\n"
      "  - {name: quiet, tokens: [\"", kQuiet, "\"], grants: {quiet: [use]}}\n",
      "  - {name: noisy, tokens: [\"", kNoisy, "\"], grants: {noisy: [use]}}\n");
  if (quota) text += "quotas:\n  noisy: {requests_per_second: 2000, waiters: 100}\n";
  return text;
}

struct Stream {
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReaderWriter<baton::v1::ClientMessage, baton::v1::ServerMessage>>
      stream;
};

std::unique_ptr<Stream> Open(baton::v1::Baton::Stub* stub, const char* token, const char* name) {
  auto s = std::make_unique<Stream>();
  s->context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  s->stream = stub->Session(&s->context);
  baton::v1::ClientMessage open;
  open.mutable_open()->set_client_name(name);
  open.mutable_open()->set_default_owner_key(name);
  baton::v1::ServerMessage opened;
  if (!s->stream->Write(open) || !s->stream->Read(&opened) || !opened.has_opened()) {
    std::fprintf(stderr, "session %s did not open\n", name);
    std::exit(1);
  }
  return s;
}

baton::v1::Request LockRequest(std::uint64_t id, const std::string& name, bool acquire) {
  baton::v1::Request request;
  request.set_id(id);
  request.set_name(name);
  request.set_kind(baton::v1::KIND_PRIORITY_LOCK);
  if (acquire) {
    request.mutable_acquire();
  } else {
    request.mutable_release();
  }
  return request;
}

struct Row {
  double p50_us = 0;
  double p99_us = 0;
  long quiet_ops = 0;
  long flood_ok = 0;
  long flood_refused = 0;
};

Row RunOne(bool flood, bool quota, double seconds, int flood_sessions) {
  const std::string dir = std::filesystem::temp_directory_path() /
                          absl::StrCat("baton-tenants-", getpid());
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/auth.yaml";
  {
    std::ofstream out(path);
    out << AuthFile(quota);
  }
  baton::testing::BatondProcess batond({"--shards=2", "--auth_file=" + path});
  if (!batond.started()) {
    std::fprintf(stderr, "batond did not start:\n%s\n", batond.log().c_str());
    std::exit(1);
  }
  std::atomic<bool> stop{false};
  std::atomic<long> flood_ok{0};
  std::atomic<long> flood_refused{0};
  std::vector<std::thread> flooders;
  if (flood) {
    for (int f = 0; f < flood_sessions; ++f) {
      flooders.emplace_back([&, f] {
        // A connection of its own, as another service's pod would have.
        grpc::ChannelArguments args;
        args.SetInt("baton.bench.connection", f + 1);
        auto stub = baton::v1::Baton::NewStub(grpc::CreateCustomChannel(
            batond.address(), grpc::InsecureChannelCredentials(), args));
        auto s = Open(stub.get(), kNoisy, "noisy");
        std::uint64_t id = 1;
        const std::string name = absl::StrCat("noisy/lock-", f);
        while (!stop.load(std::memory_order_relaxed)) {
          baton::v1::ClientMessage message;
          for (int r = 0; r < 50; ++r) {
            *message.add_requests() = LockRequest(id++, name, true);
            *message.add_requests() = LockRequest(id++, name, false);
          }
          if (!s->stream->Write(message)) break;
          int answers = 0;
          baton::v1::ServerMessage reply;
          while (answers < 100 && s->stream->Read(&reply)) {
            for (const auto& response : reply.responses()) {
              (response.status().code() == 0 ? flood_ok : flood_refused).fetch_add(1);
            }
            answers += reply.responses_size();
          }
          if (answers < 100) break;
        }
        s->context.TryCancel();
        s->stream->Finish();
      });
    }
    usleep(300'000);  // let the flood reach its pace before measuring
  }
  auto stub = baton::v1::Baton::NewStub(
      grpc::CreateChannel(batond.address(), grpc::InsecureChannelCredentials()));
  auto quiet = Open(stub.get(), kQuiet, "quiet");
  std::vector<double> samples;
  std::uint64_t id = 1;
  const auto end = Clock::now() + std::chrono::milliseconds(static_cast<long>(seconds * 1000));
  while (Clock::now() < end) {
    for (bool acquire : {true, false}) {
      const auto start = Clock::now();
      baton::v1::ClientMessage message;
      *message.add_requests() = LockRequest(id++, "quiet/lock", acquire);
      baton::v1::ServerMessage reply;
      if (!quiet->stream->Write(message)) std::exit(1);
      do {
        if (!quiet->stream->Read(&reply)) std::exit(1);
      } while (reply.responses_size() == 0);
      if (reply.responses(0).status().code() != 0) {
        std::fprintf(stderr, "quiet tenant refused: %s\n",
                     reply.responses(0).status().message().c_str());
        std::exit(1);
      }
      samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    }
  }
  stop.store(true);
  for (std::thread& t : flooders) t.join();
  quiet->context.TryCancel();
  std::filesystem::remove_all(dir);
  Row row;
  std::sort(samples.begin(), samples.end());
  row.p50_us = samples[samples.size() / 2];
  row.p99_us = samples[samples.size() * 99 / 100];
  row.quiet_ops = static_cast<long>(samples.size());
  row.flood_ok = flood_ok.load();
  row.flood_refused = flood_refused.load();
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 5;
  int flood_sessions = 4;
  if ((argc > 1 && (!absl::SimpleAtod(argv[1], &seconds) || seconds <= 0 || seconds > 120)) ||
      (argc > 2 && (!absl::SimpleAtoi(argv[2], &flood_sessions) || flood_sessions < 1 ||
                    flood_sessions > 64))) {
    std::fprintf(stderr, "usage: baton_tenants_bench [SECONDS in (0, 120]] [FLOOD_SESSIONS]\n");
    return 2;
  }
  std::printf("quiet tenant: lock acquire/release round trips, one at a time; noisy tenant: "
              "%d sessions x 100 requests a message; %.0f s per row (batond --shards=2)\n\n",
              flood_sessions, seconds);
  std::printf("| row | quiet p50 | quiet p99 | p50 / alone | p99 / alone | quiet ops | "
              "flood answered OK | flood refused |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
  const struct {
    const char* label;
    bool flood;
    bool quota;
  } rows[] = {{"quiet alone", false, true},
              {"flood, quota on (noisy: 2000 rps, 100 waiters)", true, true},
              {"flood, no quota", true, false}};
  double alone_p50 = 0;
  double alone_p99 = 0;
  for (const auto& config : rows) {
    const Row row = RunOne(config.flood, config.quota, seconds, flood_sessions);
    if (!config.flood) {
      alone_p50 = row.p50_us;
      alone_p99 = row.p99_us;
    }
    std::printf("| %s | %.0f us | %.0f us | %.2f | %.2f | %ld | %ld | %ld |\n", config.label,
                row.p50_us, row.p99_us, row.p50_us / alone_p50, row.p99_us / alone_p99,
                row.quiet_ops, row.flood_ok, row.flood_refused);
    std::fflush(stdout);
  }
  return 0;
}

// Copyright 2026 The Baton Authors.
//
// batond: the Baton server. Hosts named instances of the eight primitives on
// per-shard event loops and serves them over gRPC.
//
//   batond --listen=127.0.0.1:7070 --shards=2
//
// Every flag can also come from the environment (BATON_LISTEN, BATON_SHARDS,
// ...; the flag wins). SIGTERM or SIGINT drains: the server stops accepting
// calls, gives those under way --grace to finish, and exits 0.
//
// Today it serves baton.v1.Admin, the standard health service and server
// reflection; the Session stream comes next (issue 3).

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/marshalling.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/runtime/clock.h"
#include "server/service/admin_service.h"
#include "server/service/node.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7070",
          "address to listen on, host:port (port 0 picks a free port and "
          "prints it); env BATON_LISTEN");
ABSL_FLAG(int, shards, 0,
          "event-loop threads hosting the instances; 0 means one per core; "
          "env BATON_SHARDS");
ABSL_FLAG(absl::Duration, idle_eviction, absl::Minutes(10),
          "evict an instance idle this long when it holds nothing but its "
          "defaults; 0 disables; env BATON_IDLE_EVICTION");
ABSL_FLAG(int64_t, max_instances_per_shard, 1'000'000,
          "instances one shard may host (RESOURCE_EXHAUSTED beyond); env "
          "BATON_MAX_INSTANCES_PER_SHARD");
ABSL_FLAG(absl::Duration, keepalive_time, absl::Seconds(5),
          "ping a silent client after this long; env BATON_KEEPALIVE_TIME");
ABSL_FLAG(absl::Duration, keepalive_timeout, absl::Seconds(5),
          "close a connection whose ping is unanswered this long; a silent "
          "peer is detected within keepalive_time + keepalive_timeout; env "
          "BATON_KEEPALIVE_TIMEOUT");
ABSL_FLAG(absl::Duration, grace, absl::Seconds(10),
          "on SIGTERM, how long calls under way may take to finish; env "
          "BATON_GRACE");

namespace {

// EnvDefaults() makes BATON_<FLAG> the default of each flag; the command
// line still wins. A malformed value is an error naming the variable.
bool EnvDefaults() {
  bool ok = true;
  auto from_env = [&](const char* name, auto* flag) {
    const char* value = std::getenv(name);
    if (value == nullptr) return;
    using T = std::decay_t<decltype(absl::GetFlag(*flag))>;
    T parsed;
    std::string error;
    if (!absl::ParseFlag(absl::string_view(value), &parsed, &error)) {
      std::fprintf(stderr, "batond: %s=%s: %s\n", name, value, error.c_str());
      ok = false;
      return;
    }
    absl::SetFlag(flag, parsed);
  };
  from_env("BATON_LISTEN", &FLAGS_listen);
  from_env("BATON_SHARDS", &FLAGS_shards);
  from_env("BATON_IDLE_EVICTION", &FLAGS_idle_eviction);
  from_env("BATON_MAX_INSTANCES_PER_SHARD", &FLAGS_max_instances_per_shard);
  from_env("BATON_KEEPALIVE_TIME", &FLAGS_keepalive_time);
  from_env("BATON_KEEPALIVE_TIMEOUT", &FLAGS_keepalive_timeout);
  from_env("BATON_GRACE", &FLAGS_grace);
  return ok;
}

int Millis(absl::Duration d) {
  return static_cast<int>(absl::ToInt64Milliseconds(d));
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "batond: the Baton coordination server.\n"
      "  batond --listen=127.0.0.1:7070 [--shards=N] [...]\n"
      "Each flag may also be set as BATON_<FLAG> in the environment.");
  if (!EnvDefaults()) return 2;
  absl::ParseCommandLine(argc, argv);

  const int shards_flag = absl::GetFlag(FLAGS_shards);
  if (shards_flag < 0 || shards_flag > 1024) {
    std::fprintf(stderr, "batond: --shards must be in [0, 1024], got %d\n", shards_flag);
    return 2;
  }
  const int64_t max_instances = absl::GetFlag(FLAGS_max_instances_per_shard);
  if (max_instances < 1) {
    std::fprintf(stderr, "batond: --max_instances_per_shard must be >= 1, got %lld\n",
                 static_cast<long long>(max_instances));
    return 2;
  }
  for (auto [name, value] : {std::pair{"keepalive_time", absl::GetFlag(FLAGS_keepalive_time)},
                             std::pair{"keepalive_timeout", absl::GetFlag(FLAGS_keepalive_timeout)}}) {
    if (value < absl::Milliseconds(100) || value > absl::Hours(1)) {
      std::fprintf(stderr, "batond: --%s must be in [100ms, 1h], got %s\n", name,
                   absl::FormatDuration(value).c_str());
      return 2;
    }
  }

  // Signals are taken by sigwait() below: block them before any thread
  // starts, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  baton::service::Node::Options options;
  options.shards = shards_flag > 0 ? static_cast<std::size_t>(shards_flag)
                                   : std::max(1u, std::thread::hardware_concurrency());
  options.registry.idle_eviction = absl::GetFlag(FLAGS_idle_eviction);
  options.registry.max_instances = static_cast<std::size_t>(max_instances);
  baton::service::Node node(options, baton::runtime::SteadyClock::Get());
  node.Start();
  baton::service::AdminService admin(&node);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  const std::string listen = absl::GetFlag(FLAGS_listen);
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, Millis(absl::GetFlag(FLAGS_keepalive_time)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             Millis(absl::GetFlag(FLAGS_keepalive_timeout)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Let clients ping as often as every second without being cut off.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.RegisterService(&admin);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "batond: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  const std::string host = listen.substr(0, listen.rfind(':'));
  std::fprintf(stderr, "batond: listening on %s:%d (%zu shards)\n", host.c_str(), port,
               node.shard_count());
  std::fflush(stderr);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  const absl::Duration grace = absl::GetFlag(FLAGS_grace);
  std::fprintf(stderr, "batond: %s: draining (grace %s)\n",
               signal_number == SIGTERM ? "SIGTERM" : "SIGINT",
               absl::FormatDuration(grace).c_str());
  server->GetHealthCheckService()->SetServingStatus(false);
  server->Shutdown(std::chrono::system_clock::now() + absl::ToChronoSeconds(grace));
  server->Wait();
  node.Shutdown();
  std::fprintf(stderr, "batond: stopped\n");
  return 0;
}

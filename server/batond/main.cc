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
// It serves baton.v1.Baton (the Session stream), baton.v1.Admin, the
// standard health service and server reflection. Fences stay increasing
// across restarts through the state kept in --data_dir.

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
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/runtime/clock.h"
#include "server/service/admin_service.h"
#include "server/service/fence_store.h"
#include "server/service/session_service.h"
#include "server/service/node.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7070",
          "address to listen on, host:port (port 0 picks a free port and "
          "prints it); env BATON_LISTEN");
ABSL_FLAG(int, shards, 0,
          "event-loop threads hosting the instances; 0 means one per core; "
          "env BATON_SHARDS");
ABSL_FLAG(int, completion_queues, 0,
          "0: serve the Session streams on gRPC's callback API (the cheapest "
          "per message up to a few thousand sessions); N: on N completion "
          "queues, one thread each (better with many thousand sessions, see "
          "bench/RESULTS.md); env BATON_COMPLETION_QUEUES");
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
ABSL_FLAG(std::string, data_dir, "baton-data",
          "directory of the state that outlives a run (the fence epoch); "
          "created if missing; one batond per directory; env BATON_DATA_DIR");
ABSL_FLAG(int64_t, max_sessions, 10'000,
          "sessions open at once (RESOURCE_EXHAUSTED beyond); env "
          "BATON_MAX_SESSIONS");
ABSL_FLAG(int64_t, max_pending_requests, 100'000,
          "unanswered requests of one session; env BATON_MAX_PENDING_REQUESTS");
ABSL_FLAG(int64_t, max_waits_per_session, 50'000,
          "unanswered waits (acquires, waits) of one session; env "
          "BATON_MAX_WAITS_PER_SESSION");
ABSL_FLAG(int64_t, max_requests_per_message, 1'000,
          "requests in one ClientMessage; env BATON_MAX_REQUESTS_PER_MESSAGE");
ABSL_FLAG(int64_t, max_message_bytes, 4 << 20,
          "largest message received; a larger one ends its stream "
          "RESOURCE_EXHAUSTED; env BATON_MAX_MESSAGE_BYTES");
ABSL_FLAG(int64_t, max_key_bytes, 256,
          "bytes of an owner key, condition key or latch key; env "
          "BATON_MAX_KEY_BYTES");
ABSL_FLAG(absl::Duration, default_lease, absl::Seconds(30),
          "a session's lease when the client asks none: it ends after this "
          "long without a message from the client; env BATON_DEFAULT_LEASE");
ABSL_FLAG(absl::Duration, min_lease, absl::Seconds(1),
          "shortest lease granted; env BATON_MIN_LEASE");
ABSL_FLAG(absl::Duration, max_lease, absl::Hours(1),
          "longest lease granted; env BATON_MAX_LEASE");
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
  from_env("BATON_COMPLETION_QUEUES", &FLAGS_completion_queues);
  from_env("BATON_IDLE_EVICTION", &FLAGS_idle_eviction);
  from_env("BATON_MAX_INSTANCES_PER_SHARD", &FLAGS_max_instances_per_shard);
  from_env("BATON_KEEPALIVE_TIME", &FLAGS_keepalive_time);
  from_env("BATON_KEEPALIVE_TIMEOUT", &FLAGS_keepalive_timeout);
  from_env("BATON_GRACE", &FLAGS_grace);
  from_env("BATON_DATA_DIR", &FLAGS_data_dir);
  from_env("BATON_MAX_SESSIONS", &FLAGS_max_sessions);
  from_env("BATON_MAX_PENDING_REQUESTS", &FLAGS_max_pending_requests);
  from_env("BATON_MAX_WAITS_PER_SESSION", &FLAGS_max_waits_per_session);
  from_env("BATON_MAX_REQUESTS_PER_MESSAGE", &FLAGS_max_requests_per_message);
  from_env("BATON_MAX_MESSAGE_BYTES", &FLAGS_max_message_bytes);
  from_env("BATON_MAX_KEY_BYTES", &FLAGS_max_key_bytes);
  from_env("BATON_DEFAULT_LEASE", &FLAGS_default_lease);
  from_env("BATON_MIN_LEASE", &FLAGS_min_lease);
  from_env("BATON_MAX_LEASE", &FLAGS_max_lease);
  return ok;
}

int Millis(absl::Duration d) {
  return static_cast<int>(absl::ToInt64Milliseconds(d));
}

// InRange() checks an integer flag; prints why not.
bool InRange(const char* name, int64_t value, int64_t low, int64_t high) {
  if (value >= low && value <= high) return true;
  std::fprintf(stderr, "batond: --%s must be in [%lld, %lld], got %lld\n", name,
               static_cast<long long>(low), static_cast<long long>(high),
               static_cast<long long>(value));
  return false;
}

// HighestFence() asks every shard for the highest fence it granted, and
// waits for the answers. The shards must be running.
uint64_t HighestFence(baton::service::Node& node) {
  struct Gather {
    absl::Mutex mu;
    uint64_t highest ABSL_GUARDED_BY(mu) = 0;
    std::size_t missing ABSL_GUARDED_BY(mu) = 0;
    bool Done() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return missing == 0; }
  };
  auto gather = std::make_shared<Gather>();
  {
    absl::MutexLock lock(&gather->mu);
    gather->missing = node.shard_count();
  }
  for (std::size_t i = 0; i < node.shard_count(); ++i) {
    node.RunOn(i, [gather](baton::service::Node::Shard& shard) {
      const uint64_t fence = shard.registry.HighestFence();
      absl::MutexLock lock(&gather->mu);
      gather->highest = std::max(gather->highest, fence);
      --gather->missing;
    });
  }
  absl::MutexLock lock(&gather->mu);
  gather->mu.Await(absl::Condition(gather.get(), &Gather::Done));
  return gather->highest;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "batond: the Baton coordination server.\n"
      "  batond --listen=127.0.0.1:7070 [--shards=N] [...]\n"
      "Each flag may also be set as BATON_<FLAG> in the environment.");
  if (!EnvDefaults()) return 2;
  absl::ParseCommandLine(argc, argv);
  // Debian's Abseil is built without NDEBUG, so every absl::Mutex lock
  // feeds a deadlock-detection graph (seen in profiles of the session path).
  // Baton's lock order is fixed and checked by clang's -Wthread-safety.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  const int shards_flag = absl::GetFlag(FLAGS_shards);
  const int queues_flag = absl::GetFlag(FLAGS_completion_queues);
  if (!InRange("completion_queues", queues_flag, 0, 256)) return 2;
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

  const int64_t max_sessions = absl::GetFlag(FLAGS_max_sessions);
  const int64_t max_pending = absl::GetFlag(FLAGS_max_pending_requests);
  const int64_t max_waits = absl::GetFlag(FLAGS_max_waits_per_session);
  const int64_t max_per_message = absl::GetFlag(FLAGS_max_requests_per_message);
  const int64_t max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  const int64_t max_key_bytes = absl::GetFlag(FLAGS_max_key_bytes);
  if (!InRange("max_sessions", max_sessions, 1, 10'000'000) ||
      !InRange("max_pending_requests", max_pending, 1, 100'000'000) ||
      !InRange("max_waits_per_session", max_waits, 1, 100'000'000) ||
      !InRange("max_requests_per_message", max_per_message, 1, 1'000'000) ||
      !InRange("max_message_bytes", max_message_bytes, 1024, 1 << 30) ||
      !InRange("max_key_bytes", max_key_bytes, 1, 1 << 20)) {
    return 2;
  }
  const absl::Duration min_lease = absl::GetFlag(FLAGS_min_lease);
  const absl::Duration max_lease = absl::GetFlag(FLAGS_max_lease);
  const absl::Duration default_lease = absl::GetFlag(FLAGS_default_lease);
  if (min_lease < absl::Milliseconds(100) || max_lease < min_lease ||
      default_lease < min_lease || default_lease > max_lease) {
    std::fprintf(stderr,
                 "batond: leases need 100ms <= --min_lease <= --default_lease <= "
                 "--max_lease, got %s, %s, %s\n",
                 absl::FormatDuration(min_lease).c_str(),
                 absl::FormatDuration(default_lease).c_str(),
                 absl::FormatDuration(max_lease).c_str());
    return 2;
  }

  absl::StatusOr<baton::service::FenceStore> fences =
      baton::service::FenceStore::Open(absl::GetFlag(FLAGS_data_dir));
  if (!fences.ok()) {
    std::fprintf(stderr, "batond: --data_dir: %s\n", fences.status().ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "batond: epoch %llu (state in %s)\n",
               static_cast<unsigned long long>(fences->epoch()), fences->path().c_str());

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
  options.fence_base = fences->fence_base();
  baton::runtime::Clock* clock = baton::runtime::SteadyClock::Get();
  baton::service::Node node(options, clock);
  node.Start();
  baton::service::SessionService::Options session_options;
  session_options.max_sessions = static_cast<std::size_t>(max_sessions);
  session_options.max_pending_requests = static_cast<uint32_t>(max_pending);
  session_options.max_waits_per_session = static_cast<uint32_t>(max_waits);
  session_options.max_requests_per_message = static_cast<uint32_t>(max_per_message);
  session_options.max_key_bytes = static_cast<uint32_t>(max_key_bytes);
  session_options.default_lease = default_lease;
  session_options.min_lease = min_lease;
  session_options.max_lease = max_lease;
  session_options.server_epoch = fences->epoch();
  baton::service::SessionService sessions(&node, clock, session_options);
  baton::service::AdminService admin(
      &node, [&sessions](uint64_t id) { return sessions.ClientName(id); });

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
  builder.SetMaxReceiveMessageSize(static_cast<int>(max_message_bytes));
  sessions.AddTo(&builder, static_cast<std::size_t>(queues_flag));
  builder.RegisterService(&admin);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "batond: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  sessions.Start();
  const std::string host = listen.substr(0, listen.rfind(':'));
  std::fprintf(stderr, "batond: listening on %s:%d (%zu shards, %s)\n", host.c_str(), port,
               node.shard_count(),
               queues_flag == 0 ? "callback API"
                                : absl::StrCat(queues_flag, " completion queues").c_str());
  std::fflush(stderr);

  // The fence floor is persisted every few seconds, so that after a crash
  // the next start is above every fence granted (with a wide margin).
  int signal_number = 0;
  const timespec persist_period{.tv_sec = 5, .tv_nsec = 0};
  while (true) {
    signal_number = sigtimedwait(&signals, nullptr, &persist_period);
    if (signal_number == SIGTERM || signal_number == SIGINT) break;
    if (absl::Status persisted = fences->Persist(HighestFence(node)); !persisted.ok()) {
      std::fprintf(stderr, "batond: persisting fences: %s\n", persisted.ToString().c_str());
    }
  }
  const absl::Duration grace = absl::GetFlag(FLAGS_grace);
  std::fprintf(stderr, "batond: %s: draining (grace %s, %zu sessions)\n",
               signal_number == SIGTERM ? "SIGTERM" : "SIGINT",
               absl::FormatDuration(grace).c_str(), sessions.live_sessions());
  // Drain: not serving; sessions are told and refuse new work; their waits
  // go on until the grace runs out, then every stream ends UNAVAILABLE.
  server->GetHealthCheckService()->SetServingStatus(false);
  sessions.StartDrain(grace);
  sessions.WaitForNoSessions(absl::Now() + grace);
  sessions.EndAll(absl::UnavailableError("server draining: the grace period ran out"));
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  sessions.StopQueues();
  server->Wait();
  if (absl::Status persisted = fences->Persist(HighestFence(node)); !persisted.ok()) {
    std::fprintf(stderr, "batond: persisting fences: %s\n", persisted.ToString().c_str());
  }
  node.Shutdown();
  std::fprintf(stderr, "batond: stopped\n");
  return 0;
}

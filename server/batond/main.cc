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
// It serves baton.v1.Baton (the Session stream), baton.v1.Admin, Envoy's
// rate-limit service (envoy.service.ratelimit.v3, rules from --rls_config,
// reloaded on SIGHUP and when the files change; also on --rls_listen), the
// standard health service and server reflection. Fences stay increasing
// across restarts through the state kept in --data_dir. With --tls_cert_file
// and --tls_key_file every gRPC listener speaks TLS (mTLS with
// --tls_client_ca_file), on files re-read every --tls_reload_interval, and
// in a cluster the node calls its peers over TLS too (--cluster_ca_file);
// /metrics stays plain HTTP.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/protobuf/stubs/logging.h"
#include "grpc/support/log.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/auth/access.h"
#include "server/auth/tls.h"
#include "server/batond/flags.h"
#include "server/cluster/cluster_view.h"
#include "server/cluster/etcd_kept_store.h"
#include "server/cluster/etcd_membership.h"
#include "server/cluster/peer_channels.h"
#include "server/log/log.h"
#include "server/metrics/counters.h"
#include "server/metrics/exposition.h"
#include "server/metrics/http_server.h"
#include "server/runtime/clock.h"
#include "server/service/admin_service.h"
#include "server/service/cluster_binding.h"
#include "server/service/fence_store.h"
#include "server/service/session_service.h"
#include "server/service/node.h"
#include "server/store/store.h"
#include "server/rls/rls_service.h"

namespace {

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

// Listen() adds `address` to `builder` (the port bound goes to `*port`)
// with batond's transport settings and credentials, the same on every
// listener.
void Listen(grpc::ServerBuilder& builder, const std::string& address,
            const std::shared_ptr<grpc::ServerCredentials>& credentials, int max_message_bytes,
            int* port) {
  builder.AddListeningPort(address, credentials, port);
  // gRPC turns SO_REUSEPORT on by default: a second batond on the same port
  // would start too and share the connections, and a lock would be granted
  // by both. Off, the second one fails to bind and says so.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             Millis(absl::GetFlag(FLAGS_keepalive_time).value));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             Millis(absl::GetFlag(FLAGS_keepalive_timeout).value));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Let clients ping as often as every second without being cut off.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.SetMaxReceiveMessageSize(max_message_bytes);
}

// IsLoopback() is true when only this machine can reach `listen`: a
// 127.0.0.0/8 or ::1 address, localhost, or a unix: socket.
bool IsLoopback(const std::string& listen) {
  if (listen.rfind("unix:", 0) == 0) return true;
  sockaddr_storage address{};
  socklen_t length = 0;
  if (!baton::metrics::ParseListenAddress(listen, &address, &length).empty()) return false;
  if (address.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (address.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address);
    return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
           (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127);
  }
  return false;
}

// WhyCannotListen() says why nothing can listen on `listen` (host:port),
// from a bind() of our own: gRPC's builder only says that it failed. Empty
// when the bind works (the failure was something else).
std::string WhyCannotListen(const std::string& listen) {
  sockaddr_storage address{};
  socklen_t length = 0;
  if (std::string why = baton::metrics::ParseListenAddress(listen, &address, &length);
      !why.empty()) {
    // A host name: gRPC's own log says what went wrong.
    return why.rfind("the host", 0) == 0 ? "" : why;
  }
  const int fd = ::socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::strerror(errno);
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  std::string why;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) {
    why = errno == EADDRINUSE ? "address in use: another process (another batond?) listens there"
                              : std::strerror(errno);
  }
  ::close(fd);
  return why;
}

// ProcessStats are read from /proc/self at scrape time.
struct ProcessStats {
  double cpu_seconds = 0;
  double resident_bytes = 0;
  double start_time_seconds = 0;  // since the Unix epoch
};

ProcessStats ReadProcessStats() {
  ProcessStats stats;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  // Fields after the command name (in parentheses, which may hold spaces):
  // field 3 is the state; utime 14, stime 15, starttime 22.
  const std::size_t close = stat.rfind(')');
  if (close != std::string::npos && ticks > 0) {
    std::istringstream fields(stat.substr(close + 2));
    std::vector<std::string> f;
    for (std::string field; fields >> field;) f.push_back(field);
    double utime = 0, stime = 0, start = 0;
    if (f.size() > 19 && absl::SimpleAtod(f[11], &utime) && absl::SimpleAtod(f[12], &stime) &&
        absl::SimpleAtod(f[19], &start)) {
      stats.cpu_seconds = (utime + stime) / ticks;
      std::ifstream proc_stat("/proc/stat");
      for (std::string line; std::getline(proc_stat, line);) {
        double boot = 0;
        if (line.rfind("btime ", 0) == 0 && absl::SimpleAtod(line.substr(6), &boot)) {
          stats.start_time_seconds = boot + start / ticks;
        }
      }
    }
  }
  std::ifstream statm("/proc/self/statm");
  double size = 0, resident = 0;
  if (statm >> size >> resident) {
    stats.resident_bytes = resident * static_cast<double>(sysconf(_SC_PAGESIZE));
  }
  return stats;
}

// ShardCounts() gathers every shard's instances and waiters per kind, each
// shard on its own thread (node.RunOn). A shard that does not answer within
// `wait` is left out: its count is in `missing`.
baton::core::Registry::KindCounts ShardCounts(baton::service::Node& node, absl::Duration wait,
                                             std::size_t* missing) {
  struct Gather {
    absl::Mutex mu;
    baton::core::Registry::KindCounts counts ABSL_GUARDED_BY(mu);
    std::size_t missing ABSL_GUARDED_BY(mu) = 0;
    bool Done() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return missing == 0; }
  };
  // Shared with the shards: one that answers after the wait writes into it
  // harmlessly.
  auto gather = std::make_shared<Gather>();
  {
    absl::MutexLock lock(&gather->mu);
    gather->missing = node.shard_count();
  }
  for (std::size_t i = 0; i < node.shard_count(); ++i) {
    node.RunOn(i, [gather](baton::service::Node::Shard& shard) {
      baton::core::Registry::KindCounts counts;
      shard.registry.AddKindCounts(&counts);
      absl::MutexLock lock(&gather->mu);
      for (std::size_t k = 0; k < baton::core::kKindCount; ++k) {
        gather->counts.instances[k] += counts.instances[k];
        gather->counts.waiters[k] += counts.waiters[k];
      }
      --gather->missing;
    });
  }
  absl::MutexLock lock(&gather->mu);
  gather->mu.AwaitWithTimeout(absl::Condition(gather.get(), &Gather::Done), wait);
  *missing = gather->missing;
  return gather->counts;
}

// RenderNamespaces() adds the --auth_file quotas of each namespace counted:
// what it uses, its quota, and the requests refused at each.
void RenderNamespaces(baton::metrics::Exposition& out, baton::auth::Access& access,
                      std::size_t max_namespaces) {
  if (!access.enabled()) return;
  std::size_t left_out = 0;
  const std::vector<baton::auth::NamespaceUsage::Snapshot> usages =
      access.Usages(max_namespaces, &left_out);
  using Usage = baton::auth::NamespaceUsage;
  const auto labels = [](const Usage::Snapshot& snap, std::size_t q) {
    const std::string_view quota = Usage::kQuotaNames[q];
    return baton::metrics::Labels{{"namespace", snap.name},
                                  {"quota", absl::string_view(quota.data(), quota.size())}};
  };
  out.Family("baton_namespace_usage",
             "What a namespace uses now, per quota of --auth_file (requests_per_second: not "
             "shown).",
             "gauge");
  for (const Usage::Snapshot& snap : usages) {
    for (std::size_t q = 0; q < 3; ++q) {
      out.Sample("baton_namespace_usage", labels(snap, q), static_cast<double>(snap.used[q]));
    }
  }
  out.Family("baton_namespace_quota", "A namespace's quota (absent when unlimited).", "gauge");
  for (const Usage::Snapshot& snap : usages) {
    for (std::size_t q = 0; q < Usage::kQuotaCount; ++q) {
      if (snap.limit[q] >= 0) out.Sample("baton_namespace_quota", labels(snap, q), snap.limit[q]);
    }
  }
  out.Family("baton_namespace_refused_total", "Requests refused at a namespace's quota.",
             "counter");
  for (const Usage::Snapshot& snap : usages) {
    for (std::size_t q = 0; q < Usage::kQuotaCount; ++q) {
      out.Sample("baton_namespace_refused_total", labels(snap, q),
                 static_cast<double>(snap.refused[q]));
    }
  }
  out.Family("baton_namespaces_not_shown",
             "Namespaces counted but left out of these metrics (--metrics_max_label_values).",
             "gauge");
  out.Sample("baton_namespaces_not_shown", {}, static_cast<double>(left_out));
}

// RenderMetrics() is the body of GET /metrics.
std::string RenderMetrics(baton::service::Node& node,
                          const baton::service::SessionService& sessions,
                          baton::auth::Access& access, std::size_t max_namespaces) {
  using baton::metrics::Exposition;
  Exposition out;
  std::size_t missing = 0;
  const baton::core::Registry::KindCounts counts = ShardCounts(node, absl::Seconds(2), &missing);
  const baton::metrics::SessionCounters& session = baton::metrics::Session();

  out.Family("baton_sessions_open", "Session streams open now.", "gauge");
  out.Sample("baton_sessions_open", {}, static_cast<double>(sessions.live_sessions()));
  const auto per_kind = [&](const char* name, const char* help, const char* type,
                            const auto& value_of) {
    out.Family(name, help, type);
    for (std::size_t k = 0; k < baton::core::kKindCount; ++k) {
      const std::string_view kind = baton::core::KindName(static_cast<baton::core::Kind>(k));
      out.Sample(name, {{"kind", absl::string_view(kind.data(), kind.size())}},
                 static_cast<double>(value_of(k)));
    }
  };
  per_kind("baton_instances", "Instances in the registries, per kind.", "gauge",
           [&](std::size_t k) { return counts.instances[k]; });
  per_kind("baton_waiters_queued", "Waits pending on instances, per kind.", "gauge",
           [&](std::size_t k) { return counts.waiters[k]; });
  per_kind("baton_grants_total", "Waits of Session streams granted, per kind.", "counter",
           [&](std::size_t k) { return session.grants(k); });
  per_kind("baton_timeouts_total", "Waits of Session streams that timed out, per kind.",
           "counter", [&](std::size_t k) { return session.timeouts(k); });
  out.Family("baton_scrape_shards_missing",
             "Shards that did not answer this scrape within 2s (their instances are not "
             "counted).",
             "gauge");
  out.Sample("baton_scrape_shards_missing", {}, static_cast<double>(missing));

  out.Family("baton_request_duration_seconds",
             "Session requests, from their message's dispatch to their answer.", "histogram");
  const auto& bounds = baton::metrics::SessionCounters::kDurationBounds;
  out.Histogram("baton_request_duration_seconds", {},
                std::vector<double>(bounds.begin(), bounds.end()), session.duration_counts(),
                session.duration_sum_seconds());

  out.Family("baton_shard_queue_depth", "Work items waiting in a shard's inbox.", "gauge");
  for (std::size_t i = 0; i < node.shard_count(); ++i) {
    const std::string shard = absl::StrCat(i);
    out.Sample("baton_shard_queue_depth", {{"shard", shard}},
               static_cast<double>(node.QueueDepth(i)));
  }

  const std::vector<baton::metrics::RlsCounters::Row> rows = baton::metrics::Rls().Snapshot();
  const auto per_label_set = [&](const char* name, const char* help, auto field) {
    out.Family(name, help, "counter");
    for (const auto& row : rows) {
      out.Sample(name, {{"domain", row.domain}, {"key", row.key}},
                 static_cast<double>(row.*field));
    }
  };
  using Row = baton::metrics::RlsCounters::Row;
  per_label_set("ratelimit_service_rate_limit_total_hits",
                "Rate-limit hits (hits_addend) per domain and descriptor key.", &Row::total_hits);
  per_label_set("ratelimit_service_rate_limit_over_limit",
                "Rate-limit hits over the limit (shadow mode too).", &Row::over_limit);
  per_label_set("ratelimit_service_rate_limit_near_limit",
                "Rate-limit hits within the limit, past 80% of it used.", &Row::near_limit);
  per_label_set("ratelimit_service_rate_limit_within_limit",
                "Rate-limit hits within the limit.", &Row::within_limit);
  per_label_set("ratelimit_service_rate_limit_shadow_mode",
                "Rate-limit hits over the limit of a shadow_mode rule (answered OK).",
                &Row::shadow_mode);
  out.Family("ratelimit_service_global_shadow_mode",
             "Requests over a limit answered OK because of --rls_shadow_mode.", "counter");
  out.Sample("ratelimit_service_global_shadow_mode", {},
             static_cast<double>(baton::metrics::Rls().global_shadow_mode()));
  out.Family("baton_rls_forwarded_total",
             "Rate-limit requests forwarded to their domain's owner node (in a cluster): "
             "answered by it, or unreachable.",
             "counter");
  out.Sample("baton_rls_forwarded_total", {{"result", "answered"}},
             static_cast<double>(baton::metrics::Rls().forwarded()));
  out.Sample("baton_rls_forwarded_total", {{"result", "unreachable"}},
             static_cast<double>(baton::metrics::Rls().forward_failed()));

  RenderNamespaces(out, access, max_namespaces);

  const ProcessStats stats = ReadProcessStats();
  out.Family("process_cpu_seconds_total", "User and system CPU time spent, in seconds.",
             "counter");
  out.Sample("process_cpu_seconds_total", {}, stats.cpu_seconds);
  out.Family("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge");
  out.Sample("process_resident_memory_bytes", {}, stats.resident_bytes);
  out.Family("process_start_time_seconds",
             "Start time of the process since the Unix epoch, in seconds.", "gauge");
  out.Sample("process_start_time_seconds", {}, stats.start_time_seconds);
  return out.Take();
}

// ReloadAccess() reloads --auth_file; a bad file is refused and the one in
// force stays.
void ReloadAccess(baton::auth::Access& access, const char* trigger) {
  if (!access.enabled()) return;
  if (absl::Status loaded = access.Load(); !loaded.ok()) {
    baton::log::Error("auth file refused, the one in force stays",
                      {{"trigger", trigger}, {"status", loaded}});
    return;
  }
  baton::log::Info("auth file reloaded", {{"trigger", trigger},
                                          {"principals", access.Get()->principals().size()}});
}

// QuotaAccounting counts each namespace's instances against its quota.
class QuotaAccounting final : public baton::core::Registry::Accounting {
 public:
  explicit QuotaAccounting(baton::auth::Access* access) : access_(access) {}
  absl::Status Created(std::string_view name) override { return access_->InstanceCreated(name); }
  void Removed(std::string_view name) override { access_->InstanceRemoved(name); }

 private:
  baton::auth::Access* const access_;
};

// ReloadRls() reloads the Envoy rate-limit rules; a bad file is refused and
// logged (file, line, field), and the rules in force stay.
void ReloadRls(baton::rls::RlsRules& rules, const char* trigger) {
  if (rules.path().empty()) {
    baton::log::Info("rls config: nothing to reload (no --rls_config)", {{"trigger", trigger}});
    return;
  }
  if (absl::Status loaded = rules.Load(); !loaded.ok()) {
    baton::log::Error("rls config refused, the rules in force stay",
                      {{"trigger", trigger}, {"path", rules.path()}, {"status", loaded}});
    return;
  }
  const auto config = rules.Get();
  baton::log::Info("rls config reloaded", {{"trigger", trigger},
                                           {"path", rules.path()},
                                           {"domains", config->domain_count()},
                                           {"rules", config->rule_count()}});
}

// RouteLibraryLogs() sends what gRPC and Protobuf log (a failed bind, a
// message that does not parse) through batond's log, so that every line
// has its timestamp and level, and --log_format=json holds for them too.
void RouteLibraryLogs() {
  gpr_set_log_function([](gpr_log_func_args* args) {
    const baton::log::Level level = args->severity == GPR_LOG_SEVERITY_ERROR ? baton::log::Level::kError
                                    : args->severity == GPR_LOG_SEVERITY_INFO
                                        ? baton::log::Level::kInfo
                                        : baton::log::Level::kDebug;
    baton::log::Write(level, args->message,
                      {{"source", "grpc"}, {"file", args->file}, {"line", args->line}});
  });
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel severity, const char* file,
                                     int line, const std::string& message) {
    const baton::log::Level level = severity >= google::protobuf::LOGLEVEL_ERROR
                                        ? baton::log::Level::kError
                                        : severity == google::protobuf::LOGLEVEL_WARNING
                                              ? baton::log::Level::kWarn
                                              : baton::log::Level::kInfo;
    baton::log::Write(level, message, {{"source", "protobuf"}, {"file", file}, {"line", line}});
  });
}

}  // namespace

int main(int argc, char** argv) {
  // Signals are taken by sigtimedwait() in the main loop: blocked first
  // thing, before any thread starts (LevelDB's, gRPC's, the shards'), so
  // that every thread inherits the mask. A thread started earlier would
  // take a SIGHUP with its default action, and end batond.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);  // reloads --rls_config and --auth_file
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::vector<std::string> flag_warnings;
  if (const int code = baton::batond::ParseFlags(argc, argv, stdout, stderr, &flag_warnings);
      code >= 0) {
    return code;
  }
  baton::log::Options log_options;
  if (!baton::log::ParseLevel(absl::GetFlag(FLAGS_log_level), &log_options.level)) {
    std::fprintf(stderr, "batond: --log_level: expected trace, debug, info, warn or error, got '%s'\n",
                 absl::GetFlag(FLAGS_log_level).c_str());
    return 2;
  }
  if (!baton::log::ParseFormat(absl::GetFlag(FLAGS_log_format), &log_options.format)) {
    std::fprintf(stderr, "batond: --log_format: expected text or json, got '%s'\n",
                 absl::GetFlag(FLAGS_log_format).c_str());
    return 2;
  }
  const double rejections_per_second = absl::GetFlag(FLAGS_log_rejections_per_second);
  if (!(rejections_per_second >= 0 && rejections_per_second <= 1e6)) {
    std::fprintf(stderr, "batond: --log_rejections_per_second must be in [0, 1000000], got %g\n",
                 rejections_per_second);
    return 2;
  }
  baton::log::Init(log_options);
  RouteLibraryLogs();
  for (const std::string& warning : flag_warnings) baton::log::Warn(warning);
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
  for (auto [name, value] :
       {std::pair{"keepalive_time", absl::GetFlag(FLAGS_keepalive_time).value},
        std::pair{"keepalive_timeout", absl::GetFlag(FLAGS_keepalive_timeout).value}}) {
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
  const int64_t max_unread_bytes = absl::GetFlag(FLAGS_max_unread_bytes);
  if (!InRange("max_sessions", max_sessions, 1, 10'000'000) ||
      !InRange("max_pending_requests", max_pending, 1, 100'000'000) ||
      !InRange("max_waits_per_session", max_waits, 1, 100'000'000) ||
      !InRange("max_requests_per_message", max_per_message, 1, 1'000'000) ||
      !InRange("max_message_bytes", max_message_bytes, 1024, 1 << 30) ||
      !InRange("max_key_bytes", max_key_bytes, 1, 1 << 20) ||
      !InRange("max_unread_bytes", max_unread_bytes, 4096, int64_t{1} << 32)) {
    return 2;
  }
  const absl::Duration min_lease = absl::GetFlag(FLAGS_min_lease).value;
  const absl::Duration max_lease = absl::GetFlag(FLAGS_max_lease).value;
  const absl::Duration default_lease = absl::GetFlag(FLAGS_default_lease).value;
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

  // TLS: the files are checked now, so that a wrong path or a key of
  // another certificate is exit 2 naming the flag, not a failed handshake
  // at every client.
  const baton::auth::TlsFiles tls{
      .cert_file = absl::GetFlag(FLAGS_tls_cert_file),
      .key_file = absl::GetFlag(FLAGS_tls_key_file),
      .client_ca_file = absl::GetFlag(FLAGS_tls_client_ca_file),
      .reload_interval = absl::GetFlag(FLAGS_tls_reload_interval).value,
  };
  if (absl::Status checked = baton::auth::CheckTlsFiles(tls); !checked.ok()) {
    std::fprintf(stderr, "batond: %s\n", std::string(checked.message()).c_str());
    return 2;
  }

  const int64_t max_label_values = absl::GetFlag(FLAGS_metrics_max_label_values);
  if (!InRange("metrics_max_label_values", max_label_values, 1, 1'000'000)) return 2;
  baton::metrics::Rls().set_max_label_sets(static_cast<std::size_t>(max_label_values));

  // The Envoy rate-limit rules: a bad file at start is exit 2, like a bad flag.
  baton::rls::RlsRules rls_rules(absl::GetFlag(FLAGS_rls_config));
  if (absl::Status loaded = rls_rules.Load(); !loaded.ok()) {
    std::fprintf(stderr, "batond: --rls_config: %s\n", std::string(loaded.message()).c_str());
    return 2;
  }
  if (!rls_rules.path().empty()) {
    const auto config = rls_rules.Get();
    baton::log::Info("rls config loaded", {{"path", rls_rules.path()},
                                           {"domains", config->domain_count()},
                                           {"rules", config->rule_count()}});
  }

  // Access control: a bad file at start is exit 2 too.
  baton::auth::Access access(absl::GetFlag(FLAGS_auth_file));
  if (absl::Status loaded = access.Load(); !loaded.ok()) {
    std::fprintf(stderr, "batond: --auth_file: %s\n", std::string(loaded.message()).c_str());
    return 2;
  }
  if (access.enabled()) {
    const auto config = access.Get();
    baton::log::Info("auth file loaded", {{"path", access.path()},
                                          {"principals", config->principals().size()}});
    if (config->short_tokens() > 0) {
      baton::log::Warn("auth file: some tokens are shorter than 16 bytes: easy to guess",
                       {{"tokens", config->short_tokens()}});
    }
  }

  // Each namespace's instances count against its quota (outlives the node).
  QuotaAccounting accounting(&access);

  // A cluster on etcd (README, "A cluster on etcd"): checked before anything
  // starts; a bad value is exit 2 naming the flag.
  const std::string cluster_etcd = absl::GetFlag(FLAGS_cluster_etcd);
  const bool in_cluster = !cluster_etcd.empty();
  std::vector<std::string> etcd_endpoints;
  std::string cluster_node_id = absl::GetFlag(FLAGS_cluster_node_id);
  const std::string cluster_name = absl::GetFlag(FLAGS_cluster_name);
  const absl::Duration cluster_ttl = absl::GetFlag(FLAGS_cluster_lease_ttl).value;
  if (in_cluster) {
    absl::StatusOr<std::vector<std::string>> endpoints =
        baton::cluster::ParseEndpoints(cluster_etcd, "--cluster_etcd");
    if (!endpoints.ok()) {
      std::fprintf(stderr, "batond: %s\n", std::string(endpoints.status().message()).c_str());
      return 2;
    }
    etcd_endpoints = *std::move(endpoints);
    if (cluster_node_id.empty()) {
      char host[256] = {};
      if (gethostname(host, sizeof(host) - 1) == 0) cluster_node_id = host;
    }
    auto id_char = [](char c) {
      return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
             c == '-';
    };
    if (cluster_node_id.empty() || cluster_node_id.size() > 64 ||
        !std::all_of(cluster_node_id.begin(), cluster_node_id.end(), id_char)) {
      std::fprintf(stderr,
                   "batond: --cluster_node_id must be 1 to 64 letters, digits, '.', '_' or "
                   "'-', got '%s'\n",
                   cluster_node_id.c_str());
      return 2;
    }
    if (cluster_name.empty() || cluster_name.size() > 64 ||
        !std::all_of(cluster_name.begin(), cluster_name.end(), id_char)) {
      std::fprintf(stderr,
                   "batond: --cluster_name must be 1 to 64 letters, digits, '.', '_' or "
                   "'-', got '%s'\n",
                   cluster_name.c_str());
      return 2;
    }
    if (cluster_ttl < absl::Seconds(2) || cluster_ttl > absl::Seconds(60) ||
        cluster_ttl != absl::Seconds(absl::ToInt64Seconds(cluster_ttl))) {
      std::fprintf(stderr,
                   "batond: --cluster_lease_ttl must be whole seconds from 2s to 60s, got %s\n",
                   absl::FormatDuration(cluster_ttl).c_str());
      return 2;
    }
  }
  // TLS between the nodes: on when batond serves TLS (README, "A cluster on
  // etcd", "TLS between the nodes").
  absl::StatusOr<baton::auth::ClientTls> peer_tls =
      baton::auth::PeerTlsOf(tls, in_cluster, absl::GetFlag(FLAGS_cluster_ca_file),
                             absl::GetFlag(FLAGS_cluster_tls_server_name));
  if (!peer_tls.ok()) {
    std::fprintf(stderr, "batond: %s\n", std::string(peer_tls.status().message()).c_str());
    return 2;
  }
  absl::StatusOr<baton::auth::ClientTls> etcd_tls =
      baton::auth::EtcdTlsOf(in_cluster, absl::GetFlag(FLAGS_cluster_etcd_ca_file),
                             absl::GetFlag(FLAGS_cluster_etcd_cert_file),
                             absl::GetFlag(FLAGS_cluster_etcd_key_file), tls.reload_interval);
  if (!etcd_tls.ok()) {
    std::fprintf(stderr, "batond: %s\n", std::string(etcd_tls.status().message()).c_str());
    return 2;
  }
  if (in_cluster && tls.mutual() && access.enabled() && access.Get()->cluster_peers().empty()) {
    baton::log::Warn(
        "auth file: no cluster_peers: a call of a client known by its certificate that "
        "another node forwards to this one (an Admin call, a List's part, Envoy's "
        "ShouldRateLimit) is refused here, so List and rate limits through other nodes "
        "fail (list the nodes' certificate names in cluster_peers)",
        {{"path", access.path()}});
  }

  // The store of what outlives a run (server/store), in --data_dir/state.
  // Not in a cluster: a name's state lives with its owner of the moment.
  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  std::unique_ptr<baton::store::Store> store;
  if (absl::GetFlag(FLAGS_durable) && !data_dir.empty() && !in_cluster) {
    absl::StatusOr<std::unique_ptr<baton::store::Store>> opened =
        baton::store::Store::Open(absl::StrCat(data_dir, "/state"));
    if (!opened.ok()) {
      baton::log::Error("cannot open --data_dir", {{"status", opened.status()}});
      return 1;
    }
    store = *std::move(opened);
  }
  absl::StatusOr<baton::service::FenceStore> fences =
      baton::service::FenceStore::Open(data_dir, absl::Now(), store.get());
  if (!fences.ok()) {
    baton::log::Error("cannot open --data_dir", {{"status", fences.status()}});
    return 1;
  }
  baton::log::Info("starting", {{"version", baton::batond::Version()},
                                {"epoch", fences->epoch()},
                                {"fence_base", absl::StrCat(fences->fence_base())},
                                {"state", fences->path()}});
  if (fences->lead() > absl::Seconds(1)) {
    // Fences stay increasing after a lost data dir only if the clock is not
    // behind this run's by more than the lead (fence_store.h).
    baton::log::Warn("fences are ahead of the wall clock: keep --data_dir across restarts",
                     {{"lead", fences->lead()}});
  }

  baton::service::Node::Options options;
  options.shards = shards_flag > 0 ? static_cast<std::size_t>(shards_flag)
                                   : std::max(1u, std::thread::hardware_concurrency());
  options.registry.idle_eviction = absl::GetFlag(FLAGS_idle_eviction).value;
  options.registry.max_instances = static_cast<std::size_t>(max_instances);
  // In a cluster, fences come from etcd's revisions instead
  // (server/cluster/cluster_view.h): (revision << 32) + a counter.
  options.fence_base = in_cluster ? 0 : fences->fence_base();
  options.store = store.get();
  // In a cluster, what is kept lives in etcd, where a name's next owner
  // finds it (server/cluster/etcd_kept_store.h); --durable=false keeps
  // nothing there.
  std::unique_ptr<baton::cluster::EtcdKeptStore> kept_on_etcd;
  if (in_cluster && absl::GetFlag(FLAGS_durable)) {
    const std::string key_prefix = absl::GetFlag(FLAGS_cluster_key_prefix);
    baton::cluster::EtcdKeptStore::Options kept_options;
    kept_options.endpoints = etcd_endpoints;
    kept_options.key_prefix =
        baton::cluster::EtcdMembership::KeptPrefixOf(key_prefix, cluster_name);
    kept_options.ack_key =
        baton::cluster::EtcdMembership::AckKeyOf(key_prefix, cluster_name, cluster_node_id);
    if (etcd_tls->enabled()) {
      kept_options.credentials = baton::auth::ClientChannelCredentials(*etcd_tls);
    }
    kept_on_etcd = std::make_unique<baton::cluster::EtcdKeptStore>(std::move(kept_options));
    options.store = kept_on_etcd.get();
  }
  baton::runtime::Clock* clock = baton::runtime::SteadyClock::Get();
  baton::service::Node node(options, clock);
  node.Start();
  if (store != nullptr) {
    // Before any request: every kept instance is back when serving starts.
    const absl::Time load_start = absl::Now();
    absl::StatusOr<std::size_t> loaded = node.LoadKeptState(*store, load_start);
    if (!loaded.ok()) {
      baton::log::Error("cannot load the kept state of --data_dir", {{"status", loaded.status()}});
      node.Shutdown();
      return 1;
    }
    baton::log::Info("kept state loaded", {{"instances", *loaded},
                                           {"took", absl::Now() - load_start},
                                           {"store", store->dir()}});
  }
  // After the load: an instance kept in the store is never refused at
  // start by a quota (those are counted from their next creation).
  if (access.enabled()) {
    for (std::size_t i = 0; i < node.shard_count(); ++i) {
      node.RunOn(i, [&accounting](baton::service::Node::Shard& shard) {
        shard.registry.set_accounting(&accounting);
      });
    }
  }
  baton::service::SessionService::Options session_options;
  session_options.max_sessions = static_cast<std::size_t>(max_sessions);
  session_options.max_pending_requests = static_cast<uint32_t>(max_pending);
  session_options.max_waits_per_session = static_cast<uint32_t>(max_waits);
  session_options.max_requests_per_message = static_cast<uint32_t>(max_per_message);
  session_options.max_key_bytes = static_cast<uint32_t>(max_key_bytes);
  session_options.default_lease = default_lease;
  session_options.min_lease = min_lease;
  session_options.max_lease = max_lease;
  session_options.max_unread_bytes = static_cast<std::size_t>(max_unread_bytes);
  session_options.server_epoch = fences->epoch();
  session_options.server_version = baton::batond::Version();
  session_options.rejections_logged_per_second = rejections_per_second;
  session_options.access = &access;
  baton::service::SessionService sessions(&node, clock, session_options);
  baton::service::AdminService admin(
      &node, [&sessions](uint64_t id) { return sessions.ClientName(id); }, &access);
  admin.set_max_key_bytes(session_options.max_key_bytes);
  std::unique_ptr<baton::cluster::ClusterView> cluster_view;
  std::unique_ptr<baton::core::Registry::Admission> cluster_admission;
  baton::cluster::PeerChannels peers(baton::auth::ClientChannelCredentials(*peer_tls),
                                     peer_tls->server_name);
  if (in_cluster) {
    cluster_view =
        std::make_unique<baton::cluster::ClusterView>(cluster_node_id, cluster_name, clock);
    cluster_admission = baton::service::BindCluster(&node, cluster_view.get());
    admin.set_cluster(cluster_view.get(), &peers);
  }

  if (tls.enabled()) {
    baton::log::Info("tls on", {{"certificate", baton::auth::CertificateSummary(tls.cert_file)},
                                {"client_certificates", tls.mutual() ? "required" : "not asked"},
                                {"reload_interval", tls.reload_interval}});
  }
  // One credentials object for both listeners: one watcher of the files.
  const std::shared_ptr<grpc::ServerCredentials> credentials =
      baton::auth::ServerCredentials(tls);
  baton::auth::TlsFileWatch tls_watch(tls);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  const std::string listen = absl::GetFlag(FLAGS_listen);
  int port = 0;
  Listen(builder, listen, credentials, static_cast<int>(max_message_bytes), &port);
  sessions.AddTo(&builder, static_cast<std::size_t>(queues_flag));
  builder.RegisterService(&admin);
  baton::rls::RlsOptions rls_options;
  for (const auto& [flag, name] :
       {std::pair{"rls_header_limit", absl::GetFlag(FLAGS_rls_header_limit)},
        std::pair{"rls_header_remaining", absl::GetFlag(FLAGS_rls_header_remaining)},
        std::pair{"rls_header_reset", absl::GetFlag(FLAGS_rls_header_reset)}}) {
    // An HTTP header name is a token (RFC 9110, 5.6.2).
    const bool token =
        !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
          return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                 std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
        });
    if (!token) {
      std::fprintf(stderr,
                   "batond: --%s must be an HTTP header name (letters, digits and "
                   "!#$%%&'*+-.^_`|~), got '%s'\n",
                   flag, name.c_str());
      return 2;
    }
  }
  rls_options.global_shadow_mode = absl::GetFlag(FLAGS_rls_shadow_mode);
  rls_options.response_headers = absl::GetFlag(FLAGS_rls_response_headers);
  rls_options.limit_header = absl::GetFlag(FLAGS_rls_header_limit);
  rls_options.remaining_header = absl::GetFlag(FLAGS_rls_header_remaining);
  rls_options.reset_header = absl::GetFlag(FLAGS_rls_header_reset);
  baton::rls::RlsService rls(&node, &rls_rules, &access, rls_options);
  if (in_cluster) rls.set_cluster(cluster_view.get(), &peers);
  builder.RegisterService(&rls);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    const std::string why = WhyCannotListen(listen);
    baton::log::Error(absl::StrCat("cannot listen on --listen=", listen, why.empty() ? "" : ": ",
                                   why));
    node.Shutdown();
    return 1;
  }
  // --rls_listen: a second server with the rate-limit service (and health)
  // only; like --listen, it refuses a port something listens on already.
  const std::string rls_listen = absl::GetFlag(FLAGS_rls_listen);
  baton::rls::RlsService rls_second(&node, &rls_rules, &access, rls_options);
  if (in_cluster) rls_second.set_cluster(cluster_view.get(), &peers);
  std::unique_ptr<grpc::Server> rls_server;
  int rls_port = 0;
  if (!rls_listen.empty()) {
    grpc::ServerBuilder rls_builder;
    Listen(rls_builder, rls_listen, credentials, static_cast<int>(max_message_bytes), &rls_port);
    rls_builder.RegisterService(&rls_second);
    rls_server = rls_builder.BuildAndStart();
    if (rls_server == nullptr || rls_port == 0) {
      const std::string why = WhyCannotListen(rls_listen);
      baton::log::Error(absl::StrCat("cannot listen on --rls_listen=", rls_listen,
                                     why.empty() ? "" : ": ", why));
      server->Shutdown(std::chrono::system_clock::now());
      server->Wait();
      node.Shutdown();
      return 1;
    }
  }
  // --metrics_listen: Prometheus's /metrics; like --listen, a port something
  // listens on already is refused.
  const std::string metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  baton::metrics::MetricsHttpServer metrics_server(
      [&node, &sessions, &access, max_label_values] {
        return RenderMetrics(node, sessions, access, static_cast<std::size_t>(max_label_values));
      });
  if (!metrics_listen.empty()) {
    absl::StatusOr<int> metrics_port = metrics_server.Start(metrics_listen);
    if (!metrics_port.ok()) {
      baton::log::Error(std::string(metrics_port.status().message()));
      server->Shutdown(std::chrono::system_clock::now());
      server->Wait();
      if (rls_server != nullptr) {
        rls_server->Shutdown(std::chrono::system_clock::now());
        rls_server->Wait();
      }
      node.Shutdown();
      return 1;
    }
    // Before "listening on": tests read this line once batond is up.
    baton::log::Info(absl::StrCat("metrics on ",
                                  metrics_listen.substr(0, metrics_listen.rfind(':')), ":",
                                  *metrics_port));
  }
  // Loopback is for this machine only. Elsewhere, plaintext lets anyone on
  // the network read the traffic and act as any client, and no --auth_file
  // lets every caller delete, reset or fill anything. Allowed (a mesh
  // sidecar may encrypt, a network policy may fence the port), but said.
  for (const auto& [flag, address] :
       {std::pair{"--listen", listen}, std::pair{"--rls_listen", rls_listen}}) {
    if (address.empty() || IsLoopback(address)) continue;
    if (!tls.enabled()) {
      baton::log::Warn(
          "plaintext gRPC on a non-loopback address: anyone who reaches it can read the "
          "traffic and act as any client; set --tls_cert_file and --tls_key_file (and "
          "--tls_client_ca_file for mTLS), unless something else encrypts it",
          {{"flag", flag}, {"address", address}});
    }
    if (!access.enabled()) {
      baton::log::Warn(
          "no --auth_file on a non-loopback address: every caller may do everything "
          "(delete, reset, fill the server); set --auth_file to require tokens or client "
          "certificates per namespace",
          {{"flag", flag}, {"address", address}});
    }
  }
  sessions.Start();
  const std::string host = listen.substr(0, listen.rfind(':'));
  std::unique_ptr<baton::cluster::EtcdMembership> membership;
  if (in_cluster) {
    std::string advertise = absl::GetFlag(FLAGS_cluster_advertise);
    if (advertise.empty()) {
      if (host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::") {
        std::fprintf(stderr, "batond: --cluster_advertise is required when --listen=%s is a "
                             "wildcard address: set the HOST:PORT clients reach this node at\n",
                     listen.c_str());
        server->Shutdown(std::chrono::system_clock::now());
        node.Shutdown();
        return 2;
      }
      advertise = absl::StrCat(host, ":", port);
    }
    baton::cluster::EtcdMembership::Options membership_options;
    membership_options.endpoints = etcd_endpoints;
    membership_options.key_prefix = absl::GetFlag(FLAGS_cluster_key_prefix);
    membership_options.lease_ttl = cluster_ttl;
    if (etcd_tls->enabled()) {
      membership_options.credentials = baton::auth::ClientChannelCredentials(*etcd_tls);
    }
    membership_options.address = advertise;
    membership_options.kept = kept_on_etcd.get();
    membership = std::make_unique<baton::cluster::EtcdMembership>(
        membership_options, cluster_view.get(), clock,
        baton::service::ClusterApplier(&node, cluster_view.get()));
    if (absl::Status joined = membership->Start(absl::Seconds(10)); !joined.ok()) {
      baton::log::Error("cannot join the cluster", {{"status", joined}});
      server->Shutdown(std::chrono::system_clock::now());
      node.Shutdown();
      return 1;
    }
    baton::log::Info("cluster joined", {{"cluster", cluster_name},
                                        {"node", cluster_node_id},
                                        {"advertise", advertise},
                                        {"etcd", cluster_etcd},
                                        {"peers", peer_tls->enabled() ? "tls" : "plaintext"},
                                        {"etcd_tls", !etcd_tls->enabled()          ? "off"
                                                     : etcd_tls->cert_file.empty() ? "tls"
                                                                                   : "mtls"}});
  }
  // Scripts and tests wait for "listening on HOST:PORT".
  baton::log::Info(absl::StrCat("listening on ", host, ":", port),
                   {{"shards", node.shard_count()},
                    {"sessions_on", queues_flag == 0
                                        ? std::string("callback API")
                                        : absl::StrCat(queues_flag, " completion queues")}});

  if (rls_server != nullptr) {
    // Not "listening on": scripts and tests take the first such line as
    // batond's address.
    baton::log::Info(absl::StrCat("rls service on ", rls_listen.substr(0, rls_listen.rfind(':')),
                                  ":", rls_port));
  }

  // The fence floor is persisted every few seconds, so that after a crash
  // the next start is above every fence granted (with a wide margin). The
  // rate-limit rules are reloaded on SIGHUP, and when their files change
  // (polled every 2 s). A change of the TLS files is logged (gRPC's watcher
  // re-reads them on its own), with what is wrong with them, if anything.
  int signal_number = 0;
  const timespec tick{.tv_sec = 1, .tv_nsec = 0};
  absl::Time next_persist = absl::Now() + absl::Seconds(5);
  absl::Time next_watch = absl::Now() + absl::Seconds(2);
  while (true) {
    signal_number = sigtimedwait(&signals, nullptr, &tick);
    if (signal_number == SIGTERM || signal_number == SIGINT) break;
    const absl::Time now = absl::Now();
    if (signal_number == SIGHUP) {
      ReloadRls(rls_rules, "SIGHUP");
      ReloadAccess(access, "SIGHUP");
    } else if (now >= next_watch) {
      next_watch = now + absl::Seconds(2);
      if (rls_rules.Changed()) ReloadRls(rls_rules, "file changed");
      if (access.Changed()) ReloadAccess(access, "file changed");
      if (tls.enabled() && tls_watch.Changed()) {
        if (absl::Status checked = baton::auth::CheckTlsFiles(tls); checked.ok()) {
          baton::log::Info("tls files changed: new connections get them within "
                           "--tls_reload_interval; connections up keep theirs",
                           {{"certificate", baton::auth::CertificateSummary(tls.cert_file)}});
        } else {
          baton::log::Warn("tls files changed and do not check out: handshakes may fail "
                           "until they are fixed",
                           {{"status", checked}});
        }
      }
    }
    if (now >= next_persist) {
      next_persist = now + absl::Seconds(5);
      if (absl::Status persisted = fences->Persist(HighestFence(node)); !persisted.ok()) {
        baton::log::Error("persisting fences failed", {{"status", persisted}});
      }
      // Bucket levels, so that a crash loses at most these 5 s of them.
      node.CheckpointKeptState(/*wait=*/false);
    }
  }
  const absl::Duration grace = absl::GetFlag(FLAGS_grace).value;
  baton::log::Info("draining", {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"},
                                {"grace", grace},
                                {"sessions", sessions.live_sessions()}});
  // Drain: not serving; sessions are told and refuse new work; their waits
  // go on until the grace runs out, then every stream ends UNAVAILABLE.
  server->GetHealthCheckService()->SetServingStatus(false);
  sessions.StartDrain(grace);
  sessions.WaitForNoSessions(absl::Now() + grace);
  sessions.EndAll(absl::UnavailableError("server draining: the grace period ran out"));
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  if (rls_server != nullptr) {
    rls_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
  sessions.StopQueues();
  metrics_server.Stop();
  server->Wait();
  if (rls_server != nullptr) rls_server->Wait();
  // Every session has ended: this node grants nothing now, so it may leave
  // (its names move at once instead of after the lease's TTL).
  // The bucket levels at shutdown; in a cluster while this node is still a
  // member (its writes to etcd are guarded by its acknowledgement).
  node.CheckpointKeptState(/*wait=*/true);
  if (membership != nullptr) membership->Stop();
  if (absl::Status persisted = fences->Persist(HighestFence(node)); !persisted.ok()) {
    baton::log::Error("persisting fences failed", {{"status", persisted}});
  }
  node.Shutdown();
  if (store != nullptr) store->Close();
  if (kept_on_etcd != nullptr) kept_on_etcd->Close();
  baton::log::Info("stopped");
  return 0;
}

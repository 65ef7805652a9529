// Copyright 2026 The Baton Authors.
//
// batond's flags: their definitions, and how they are read from the
// environment (BATON_<FLAG>) and the command line, listed by --help and
// checked with messages that name the flag and give an example.
//
//   if (int code = baton::batond::ParseFlags(argc, argv, stdout, stderr); code >= 0) return code;
//   absl::Duration grace = absl::GetFlag(FLAGS_grace).value;
//
// Threading: ParseFlags() runs once, in main(), before any thread starts.

#ifndef BATON_SERVER_BATOND_FLAGS_H_
#define BATON_SERVER_BATOND_FLAGS_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace baton::batond {

// A duration flag: 10s, 500ms, 1m30s, 1h, or a bare number of seconds (5,
// 0.5), the same syntax the `baton` CLI takes; never negative. "inf" is
// infinite.
struct FlagDuration {
  absl::Duration value;
};
bool AbslParseFlag(absl::string_view text, FlagDuration* out, std::string* error);
std::string AbslUnparseFlag(const FlagDuration& duration);

// The version batond reports: "0.1.0 (git 1a2b3c4)".
std::string Version();

// ParseFlags() sets every flag from BATON_<FLAG> and then from argv (the
// command line wins). It handles --help (-h) and --version itself, printing
// to `out` and returning 0; on a bad flag, value or argument it prints why
// to `err` and returns 2. It returns -1 when batond should go on. It warns
// about BATON_* variables that name no flag: into `warnings` when given
// (batond logs them once its log is set up, in its format), else on `err`.
int ParseFlags(int argc, char** argv, std::FILE* out, std::FILE* err,
               std::vector<std::string>* warnings = nullptr);

}  // namespace baton::batond

ABSL_DECLARE_FLAG(std::string, listen);
ABSL_DECLARE_FLAG(int, shards);
ABSL_DECLARE_FLAG(int, completion_queues);
ABSL_DECLARE_FLAG(baton::batond::FlagDuration, idle_eviction);
ABSL_DECLARE_FLAG(int64_t, max_instances_per_shard);
ABSL_DECLARE_FLAG(baton::batond::FlagDuration, keepalive_time);
ABSL_DECLARE_FLAG(baton::batond::FlagDuration, keepalive_timeout);
ABSL_DECLARE_FLAG(std::string, data_dir);
ABSL_DECLARE_FLAG(bool, durable);
ABSL_DECLARE_FLAG(int64_t, max_sessions);
ABSL_DECLARE_FLAG(int64_t, max_pending_requests);
ABSL_DECLARE_FLAG(int64_t, max_waits_per_session);
ABSL_DECLARE_FLAG(int64_t, max_requests_per_message);
ABSL_DECLARE_FLAG(int64_t, max_message_bytes);
ABSL_DECLARE_FLAG(int64_t, max_key_bytes);
ABSL_DECLARE_FLAG(int64_t, max_unread_bytes);
ABSL_DECLARE_FLAG(baton::batond::FlagDuration, default_lease);
ABSL_DECLARE_FLAG(baton::batond::FlagDuration, min_lease);
ABSL_DECLARE_FLAG(baton::batond::FlagDuration, max_lease);
ABSL_DECLARE_FLAG(baton::batond::FlagDuration, grace);
ABSL_DECLARE_FLAG(std::string, rls_config);
ABSL_DECLARE_FLAG(std::string, rls_listen);
ABSL_DECLARE_FLAG(std::string, auth_file);
ABSL_DECLARE_FLAG(bool, rls_shadow_mode);
ABSL_DECLARE_FLAG(bool, rls_response_headers);
ABSL_DECLARE_FLAG(std::string, rls_header_limit);
ABSL_DECLARE_FLAG(std::string, rls_header_remaining);
ABSL_DECLARE_FLAG(std::string, rls_header_reset);
ABSL_DECLARE_FLAG(std::string, metrics_listen);
ABSL_DECLARE_FLAG(int64_t, metrics_max_label_values);
ABSL_DECLARE_FLAG(std::string, tls_cert_file);
ABSL_DECLARE_FLAG(std::string, tls_key_file);
ABSL_DECLARE_FLAG(std::string, tls_client_ca_file);
ABSL_DECLARE_FLAG(baton::batond::FlagDuration, tls_reload_interval);
ABSL_DECLARE_FLAG(std::string, cluster_etcd);
ABSL_DECLARE_FLAG(std::string, cluster_name);
ABSL_DECLARE_FLAG(std::string, cluster_key_prefix);
ABSL_DECLARE_FLAG(std::string, cluster_node_id);
ABSL_DECLARE_FLAG(std::string, cluster_advertise);
ABSL_DECLARE_FLAG(baton::batond::FlagDuration, cluster_lease_ttl);
ABSL_DECLARE_FLAG(std::string, cluster_ca_file);
ABSL_DECLARE_FLAG(std::string, cluster_tls_server_name);
ABSL_DECLARE_FLAG(std::string, cluster_etcd_ca_file);
ABSL_DECLARE_FLAG(std::string, cluster_etcd_cert_file);
ABSL_DECLARE_FLAG(std::string, cluster_etcd_key_file);
ABSL_DECLARE_FLAG(std::string, log_level);
ABSL_DECLARE_FLAG(std::string, log_format);
ABSL_DECLARE_FLAG(double, log_rejections_per_second);

#endif  // BATON_SERVER_BATOND_FLAGS_H_

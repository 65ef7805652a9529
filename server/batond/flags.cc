// Copyright 2026 The Baton Authors.

#include "server/batond/flags.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/batond/version.h"

extern char** environ;

using baton::batond::FlagDuration;

ABSL_FLAG(std::string, listen, "127.0.0.1:7070",
          "address to listen on, HOST:PORT (port 0 picks a free port and prints it); "
          "refused at start if anything listens there already");
ABSL_FLAG(int, shards, 0,
          "event-loop threads hosting the instances; 0 means one per core");
ABSL_FLAG(int, completion_queues, 0,
          "0: serve the Session streams on gRPC's callback API (the cheapest per message "
          "up to a few thousand sessions); N: on N completion queues, one thread each "
          "(better with many thousand sessions)");
ABSL_FLAG(FlagDuration, idle_eviction, FlagDuration{absl::Minutes(10)},
          "evict an instance idle this long when it holds nothing but its defaults; "
          "0 disables");
ABSL_FLAG(int64_t, max_instances_per_shard, 1'000'000,
          "instances one shard may host (RESOURCE_EXHAUSTED beyond)");
ABSL_FLAG(FlagDuration, keepalive_time, FlagDuration{absl::Seconds(5)},
          "ping a silent client after this long");
ABSL_FLAG(FlagDuration, keepalive_timeout, FlagDuration{absl::Seconds(5)},
          "close a connection whose ping is unanswered this long; a dead peer is "
          "detected within keepalive_time + keepalive_timeout");
ABSL_FLAG(std::string, data_dir, "baton-data",
          "directory of the state that outlives a run (declared instances, their live "
          "changes, latch counts, bucket levels, the fence epoch and floor); created if "
          "missing; one batond per directory");
ABSL_FLAG(bool, durable, true,
          "keep declared and changed instances in --data_dir's store (answers to changes "
          "wait until they are durable); false: only the fence state is kept, in a file");
ABSL_FLAG(int64_t, max_sessions, 10'000,
          "sessions open at once (RESOURCE_EXHAUSTED beyond)");
ABSL_FLAG(int64_t, max_pending_requests, 100'000, "unanswered requests of one session");
ABSL_FLAG(int64_t, max_waits_per_session, 50'000,
          "unanswered waits (acquires, waits) of one session");
ABSL_FLAG(int64_t, max_requests_per_message, 1'000, "requests in one ClientMessage");
ABSL_FLAG(int64_t, max_message_bytes, 4 << 20,
          "largest message received; a larger one ends its stream RESOURCE_EXHAUSTED");
ABSL_FLAG(int64_t, max_key_bytes, 256, "bytes of an owner key, condition key or latch key");
ABSL_FLAG(int64_t, max_unread_bytes, 1 << 20,
          "back-pressure: a session with more answers than this waiting for its client to "
          "read is not read until the client catches up; a whole lease without reading, or "
          "past 4x this (at least 64 MiB), "
          "reading, it ends RESOURCE_EXHAUSTED and its holds are released");
ABSL_FLAG(FlagDuration, default_lease, FlagDuration{absl::Seconds(30)},
          "a session's lease when the client asks none: it ends after this long without "
          "a message from the client");
ABSL_FLAG(FlagDuration, min_lease, FlagDuration{absl::Seconds(1)}, "shortest lease granted");
ABSL_FLAG(FlagDuration, max_lease, FlagDuration{absl::Hours(1)}, "longest lease granted");
ABSL_FLAG(FlagDuration, grace, FlagDuration{absl::Seconds(10)},
          "on SIGTERM or SIGINT, how long sessions may take to finish before they are ended");
ABSL_FLAG(std::string, rls_config, "",
          "Envoy rate-limit service: a YAML file in envoyproxy/ratelimit's format, or a "
          "directory whose *.yaml/*.yml files are all loaded; reloaded on SIGHUP and when a "
          "file changes (a bad file is refused, the rules in force stay). Empty: no rules, "
          "every ShouldRateLimit is OK");
ABSL_FLAG(std::string, rls_listen, "",
          "also serve the Envoy rate-limit service (and health) on this HOST:PORT; it is "
          "always served on --listen too");
ABSL_FLAG(bool, rls_shadow_mode, false,
          "Envoy rate-limit service: answer every request OK, still counting what was over "
          "its limit (envoyproxy/ratelimit's SHADOW_MODE)");
ABSL_FLAG(bool, rls_response_headers, true,
          "Envoy rate-limit service: add the limit, remaining and reset headers of the "
          "descriptor closest to its limit to the answer (envoyproxy/ratelimit's "
          "LIMIT_RESPONSE_HEADERS_ENABLED)");
ABSL_FLAG(std::string, rls_header_limit, "x-ratelimit-limit",
          "Envoy rate-limit service: the name of the header with the limit (LIMIT_LIMIT_HEADER)");
ABSL_FLAG(std::string, rls_header_remaining, "x-ratelimit-remaining",
          "Envoy rate-limit service: the name of the header with what remains "
          "(LIMIT_REMAINING_HEADER)");
ABSL_FLAG(std::string, rls_header_reset, "x-ratelimit-reset",
          "Envoy rate-limit service: the name of the header with the seconds until the "
          "limit resets (LIMIT_RESET_HEADER)");
ABSL_FLAG(std::string, auth_file, "",
          "access control and quotas: a YAML file of principals (bearer tokens, mTLS "
          "subjects), their roles per namespace (use, admin) and each namespace's quotas; "
          "reloaded on SIGHUP and when it changes (a bad file is refused, the one in force "
          "stays). Empty: every caller may do everything");
ABSL_FLAG(std::string, metrics_listen, "",
          "serve Prometheus metrics at http://HOST:PORT/metrics; empty: off. Port 0 picks "
          "one (logged as \"metrics on HOST:PORT\"). Plain HTTP, even with TLS on the gRPC "
          "listeners: keep it on a network only scrapers reach");
ABSL_FLAG(std::string, tls_cert_file, "",
          "TLS on every gRPC listener (--listen, --rls_listen): the server's PEM certificate "
          "chain, its own first; needs --tls_key_file. Empty: plaintext (batond warns when "
          "such a listener is not on loopback)");
ABSL_FLAG(std::string, tls_key_file, "",
          "the PEM private key of --tls_cert_file (unencrypted); checked to match it at start");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "mTLS: PEM certificates of the CAs whose client certificates are accepted; every "
          "client must present one. Needs --tls_cert_file and --tls_key_file");
ABSL_FLAG(FlagDuration, tls_reload_interval, FlagDuration{absl::Seconds(5)},
          "how often the --tls_* files are re-read (whole seconds, 1s to 24h): a rotated "
          "certificate is served to new connections, and connections already up keep "
          "their sessions");
ABSL_FLAG(std::string, cluster_etcd, "",
          "join a cluster of batond nodes on etcd (v3 API): HOST:PORT[,HOST:PORT...] of its "
          "client URLs. Each name is served by one node (rendezvous hashing over the members); "
          "what is kept (--durable) is kept in etcd, where a name's next owner finds it. "
          "Empty: this batond runs alone");
ABSL_FLAG(std::string, cluster_name, "baton",
          "the cluster's name: its keys in etcd are under --cluster_key_prefix/NAME/");
ABSL_FLAG(std::string, cluster_key_prefix, "/baton", "where in etcd the clusters keep their keys");
ABSL_FLAG(std::string, cluster_node_id, "",
          "this node's id in the cluster, unique (letters, digits, '.', '_', '-'; at most 64); "
          "empty: the host name");
ABSL_FLAG(std::string, cluster_advertise, "",
          "HOST:PORT where clients and the other nodes reach this node; empty: --listen with "
          "its port (required when --listen is a wildcard address)");
ABSL_FLAG(std::string, cluster_ca_file, "",
          "with TLS on in a cluster: PEM certificates of the CAs that signed the other "
          "nodes' serving certificates, checked when this node forwards a call to one (it "
          "presents --tls_cert_file as its client certificate). Empty: --tls_client_ca_file; "
          "one of them is required");
ABSL_FLAG(std::string, cluster_tls_server_name, "",
          "with TLS on in a cluster: the name checked in every other node's certificate (for "
          "certificates issued to one service name). Empty: the host of the node's advertised "
          "address");
ABSL_FLAG(std::string, cluster_etcd_ca_file, "",
          "etcd over TLS: PEM certificates of the CAs that signed etcd's serving certificate "
          "(etcd's --cert-file). Empty: plaintext to etcd");
ABSL_FLAG(std::string, cluster_etcd_cert_file, "",
          "etcd over mTLS (etcd's --client-cert-auth): the PEM client certificate this node "
          "presents to etcd; needs --cluster_etcd_key_file and --cluster_etcd_ca_file");
ABSL_FLAG(std::string, cluster_etcd_key_file, "",
          "the PEM private key of --cluster_etcd_cert_file (unencrypted)");
ABSL_FLAG(FlagDuration, cluster_lease_ttl, FlagDuration{absl::Seconds(5)},
          "TTL of this node's etcd lease (whole seconds, 2s to 60s): a node that dies has its "
          "names served by others after at most this plus about a second");
ABSL_FLAG(int64_t, metrics_max_label_values, 1000,
          "most (domain, key) label sets of the rate-limit metrics; later ones count as "
          "domain=\"other\", key=\"other\"");
ABSL_FLAG(std::string, log_level, "info",
          "trace, debug, info, warn or error: the least severe line logged (debug adds "
          "normal session ends)");
ABSL_FLAG(std::string, log_format, "text",
          "text (for people) or json (one object per line, for log collectors)");
ABSL_FLAG(double, log_rejections_per_second, 10,
          "rejected requests logged per second across the server, at most (the rest are "
          "counted in the next line)");

namespace baton::batond {
namespace {

constexpr char kDurationSyntax[] =
    "a duration such as 10s, 500ms, 1m30s, 1h, or a number of seconds such as 5";

// The client-side variables of the same prefix: not batond's, and no typo.
// The client's TLS variables are named so that a typo of batond's own
// BATON_TLS_* flags is still warned about.
constexpr absl::string_view kClientVariables[] = {
    "BATON_ADDR",   "BATON_LOCK",     "BATON_FENCE",   "BATON_JSON",
    "BATON_TLS_CA", "BATON_TLS_CERT", "BATON_TLS_KEY", "BATON_TLS_SERVER_NAME",
    "BATON_TOKEN", "BATON_TOKEN_FILE"};

std::string EnvName(absl::string_view flag) {
  return absl::StrCat("BATON_", absl::AsciiStrToUpper(flag));
}

// OurFlags() are batond's flags (this file's), by name.
std::map<std::string, absl::CommandLineFlag*> OurFlags() {
  std::map<std::string, absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (absl::StrContains(flag->Filename(), "server/batond/flags.cc")) {
      flags.emplace(std::string(name), flag);
    }
  }
  return flags;
}

// What a value of the flag's type looks like, for an error.
std::string Expected(const absl::CommandLineFlag& flag) {
  if (flag.IsOfType<FlagDuration>()) return kDurationSyntax;
  if (flag.IsOfType<int>() || flag.IsOfType<int64_t>()) return "a whole number such as 4";
  if (flag.IsOfType<double>()) return "a number such as 2.5";
  if (flag.IsOfType<bool>()) return "true or false";
  return "a value";
}

std::size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Closest() is the flag name nearest `name`, or "" when none is close.
std::string Closest(const std::map<std::string, absl::CommandLineFlag*>& flags,
                    absl::string_view name) {
  std::string best;
  std::size_t best_distance = 3;  // at most two edits
  for (const auto& [candidate, flag] : flags) {
    const std::size_t distance = EditDistance(absl::AsciiStrToLower(name), candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

// Set() parses `value` into `flag`; on error prints "`where`: why" and an
// example.
bool Set(absl::CommandLineFlag& flag, absl::string_view value, const std::string& where,
         std::FILE* err) {
  std::string error;
  if (flag.ParseFrom(value, &error)) return true;
  std::fprintf(err, "batond: %s: expected %s, got '%.*s'\n", where.c_str(),
               Expected(flag).c_str(), static_cast<int>(value.size()), value.data());
  return false;
}

// Wrapped() breaks `text` into lines of at most `width` columns, each
// indented by `indent` and ended by a newline.
std::string Wrapped(const std::string& text, std::size_t indent, std::size_t width) {
  std::string out;
  std::string line;
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (!line.empty() && indent + line.size() + 1 + word.size() > width) {
      absl::StrAppend(&out, std::string(indent, ' '), line, "\n");
      line.clear();
    }
    if (!line.empty()) line.push_back(' ');
    line.append(word.data(), word.size());
  }
  if (!line.empty()) absl::StrAppend(&out, std::string(indent, ' '), line, "\n");
  return out;
}

void PrintHelp(const std::map<std::string, absl::CommandLineFlag*>& flags, std::FILE* out) {
  std::fprintf(out,
               "batond %s: the Baton coordination server.\n\n"
               "usage: batond [--FLAG=VALUE ...]\n\n"
               "Every flag can also be set as BATON_<FLAG> in the environment (BATON_GRACE=5s);\n"
               "the command line wins. Durations: 10s, 500ms, 1m30s, 1h, or a number of\n"
               "seconds (5, 0.5). SIGTERM or SIGINT drains and stops batond.\n\nflags:\n",
               Version().c_str());
  for (const auto& [name, flag] : flags) {
    std::string default_value = flag->DefaultValue();
    if (default_value.empty()) default_value = "\"\"";
    std::fprintf(out, "  --%s (env %s, default %s)\n%s", name.c_str(), EnvName(name).c_str(),
                 default_value.c_str(), Wrapped(flag->Help(), 6, 80).c_str());
  }
  std::fprintf(out,
               "  --help, -h\n      print this and exit\n"
               "  --version\n      print batond's version and exit\n");
}

}  // namespace

bool AbslParseFlag(absl::string_view text, FlagDuration* out, std::string* error) {
  const std::string trimmed(absl::StripAsciiWhitespace(text));
  double seconds = 0;
  absl::Duration duration;
  if (absl::SimpleAtod(trimmed, &seconds) && std::isfinite(seconds)) {
    duration = absl::Seconds(seconds);
  } else if (trimmed.empty() || !absl::ParseDuration(trimmed, &duration)) {
    *error = kDurationSyntax;
    return false;
  }
  if (duration < absl::ZeroDuration()) {
    *error = "a duration that is not negative";
    return false;
  }
  out->value = duration;
  return true;
}

std::string AbslUnparseFlag(const FlagDuration& duration) {
  return absl::FormatDuration(duration.value);
}

std::string Version() {
  return absl::StrCat(BATON_VERSION, " (git ", BATON_GIT_REVISION, ")");
}

int ParseFlags(int argc, char** argv, std::FILE* out, std::FILE* err,
               std::vector<std::string>* warnings) {
  const std::map<std::string, absl::CommandLineFlag*> flags = OurFlags();
  // --help and --version first, whatever else is wrong.
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg == "--help" || arg == "-h" || arg == "-help" || arg == "--helpfull") {
      PrintHelp(flags, out);
      return 0;
    }
    if (arg == "--version" || arg == "-version") {
      std::fprintf(out, "batond %s\n", Version().c_str());
      return 0;
    }
  }

  // The flags the command line sets: their variables are not read (the
  // command line wins, even over a malformed variable).
  std::set<std::string> on_command_line;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') continue;
    arg.remove_prefix(arg[1] == '-' ? 2 : 1);
    on_command_line.insert(std::string(arg.substr(0, arg.find('='))));
  }

  // The environment: BATON_<FLAG>, and a warning for a BATON_ name that is
  // no flag's.
  bool ok = true;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const absl::string_view pair = *entry;
    if (!absl::StartsWith(pair, "BATON_")) continue;
    const std::size_t equals = pair.find('=');
    if (equals == absl::string_view::npos) continue;  // not a variable's entry
    const absl::string_view variable = pair.substr(0, equals);
    const absl::string_view value =
        equals == absl::string_view::npos ? absl::string_view() : pair.substr(equals + 1);
    const std::string name = absl::AsciiStrToLower(variable.substr(6));
    const auto it = flags.find(name);
    if (it == flags.end()) {
      if (std::find(std::begin(kClientVariables), std::end(kClientVariables), variable) !=
              std::end(kClientVariables) ||
          absl::StartsWith(variable, "BATON_BENCH_")) {
        continue;
      }
      const std::string closest = Closest(flags, name);
      std::string warning = absl::StrCat(
          variable, " names no batond flag, ignored",
          closest.empty() ? "" : absl::StrCat(" (did you mean ", EnvName(closest), "?)"));
      if (warnings != nullptr) {
        warnings->push_back(std::move(warning));
      } else {
        std::fprintf(err, "batond: warning: %s\n", warning.c_str());
      }
      continue;
    }
    if (on_command_line.count(name) > 0) continue;
    ok = Set(*it->second, value, std::string(pair), err) && ok;
  }
  if (!ok) return 2;

  // The command line: --name=value, --name value, --bool, --nobool.
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-' || arg == "--") {
      std::fprintf(err,
                   "batond: unexpected argument '%.*s': batond takes only --FLAG=VALUE "
                   "(see batond --help)\n",
                   static_cast<int>(arg.size()), arg.data());
      return 2;
    }
    absl::string_view body = arg.substr(arg[1] == '-' ? 2 : 1);
    absl::string_view name = body;
    std::optional<absl::string_view> value;
    if (const std::size_t equals = body.find('='); equals != absl::string_view::npos) {
      name = body.substr(0, equals);
      value = body.substr(equals + 1);
    }
    auto it = flags.find(std::string(name));
    if (it == flags.end() && !value.has_value() && absl::StartsWith(name, "no")) {
      // --nofoo for a boolean foo.
      const auto negated = flags.find(std::string(name.substr(2)));
      if (negated != flags.end() && negated->second->IsOfType<bool>()) {
        ok = Set(*negated->second, "false", std::string(arg), err) && ok;
        continue;
      }
    }
    if (it == flags.end()) {
      const std::string closest = Closest(flags, name);
      std::fprintf(err, "batond: unknown flag --%.*s%s (see batond --help)\n",
                   static_cast<int>(name.size()), name.data(),
                   closest.empty() ? "" : absl::StrCat("; did you mean --", closest, "?").c_str());
      return 2;
    }
    if (!value.has_value()) {
      if (it->second->IsOfType<bool>()) {
        value = "true";
      } else if (i + 1 < argc && !absl::StartsWith(argv[i + 1], "--")) {
        value = argv[++i];
      } else {
        std::fprintf(err, "batond: --%.*s needs a value: %s\n", static_cast<int>(name.size()),
                     name.data(), Expected(*it->second).c_str());
        return 2;
      }
    }
    ok = Set(*it->second, *value, absl::StrCat("--", name, "=", *value), err) && ok;
  }
  return ok ? -1 : 2;
}

}  // namespace baton::batond

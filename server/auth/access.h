// Copyright 2026 The Baton Authors.
//
// Access control and quotas for a shared batond: who a caller is (a bearer
// token, or its mTLS client certificate), what it may do in each namespace,
// and how much each namespace may use. Read from --auth_file (YAML, parsed
// with yaml-cpp), reloaded on SIGHUP and when the file changes.
//
// Namespaces. The namespace of an instance is the first segment of its name:
// "payments/orders/lock" is in "payments". A name of one segment ("jobs") is
// in the namespace "default". Nothing changes for a client: names are what
// they were, and without an auth file every namespace is open to every
// caller (today's behaviour).
//
// The file:
//
//   principals:
//     - name: payments                    # named in errors and audit lines
//       tokens: ["<random, 32+ chars>"]   # sent as "authorization: Bearer <token>"
//       subjects: ["CN=payments"]         # mTLS: the certificate's subject, "CN=<common
//                                         # name>", or one of its SANs (spiffe://...)
//       grants:
//         payments: [use, admin]
//         shared: [use]
//         "team-*": [use]                 # a trailing '*' matches a prefix; "*" any
//   quotas:                               # per namespace; "*" for those not listed
//     payments: {sessions: 200, instances: 10000, waiters: 5000, requests_per_second: 20000}
//     "*": {sessions: 50, instances: 1000, waiters: 1000, requests_per_second: 2000}
//   cluster_peers: ["CN=batond"]          # the client certificates of a cluster's nodes
//
// Cluster peers. A node of a cluster forwards an Admin call to the name's
// owner with the caller's certificate names in the metadata
// "baton-forwarded-subjects-bin" (grpc_credentials.h). The owner takes them
// as the caller's, instead of the forwarding node's own certificate, only
// when that certificate (the immediate peer, verified by mTLS) has a name
// listed in cluster_peers; from anyone else the metadata is refused,
// PERMISSION_DENIED naming it. A cluster peer needs no principal and no
// grant: what a forwarded call may do is what its caller may do.
//
// Roles: `use` is every Session operation and the Admin reads (Describe,
// List, TryAcquire) and Envoy's ShouldRateLimit (namespace "envoy");
// `admin` is `use` plus the Admin mutations (Declare, Delete, SetRate,
// SetBound, Reset). A caller with no token and no known certificate is
// UNAUTHENTICATED; one outside its grants PERMISSION_DENIED naming the
// namespace and the role. Tokens are compared in constant time and never
// logged or quoted.
//
// Quotas (each optional, absent is unlimited), per namespace:
//   sessions             sessions that use the namespace (counted from a
//                        session's first request there until it ends)
//   instances            instances whose name is in the namespace
//   waiters              Session requests that may wait (acquire, wait,
//                        ...) in flight at once
//   requests_per_second  Session requests, a token bucket of one second's
//                        worth
// A namespace at a quota answers RESOURCE_EXHAUSTED naming the quota; every
// other namespace goes on. Usage is counted from the first use of a
// namespace that has a quota (explicit or "*"); a quota added by a reload
// counts what is used from then on.
//
// Threading: Access and NamespaceUsage are thread-safe. A Caller is one
// call's (or one session's): not shared between threads without a lock.

#ifndef BATON_SERVER_AUTH_ACCESS_H_
#define BATON_SERVER_AUTH_ACCESS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace baton::auth {

// The metadata key of the caller's certificate names on a call one cluster
// node forwarded to another (binary: a name may hold any byte; one value
// per name). See "Cluster peers" above.
inline constexpr char kForwardedSubjectsKey[] = "baton-forwarded-subjects-bin";

// NamespaceOf() is the namespace of the instance `name` (see above).
std::string_view NamespaceOf(std::string_view name);

enum class Role { kUse, kAdmin };
std::string_view RoleName(Role role);

// Quotas of one namespace; nullopt: unlimited.
struct Quotas {
  std::optional<std::int64_t> sessions;
  std::optional<std::int64_t> instances;
  std::optional<std::int64_t> waiters;
  std::optional<double> requests_per_second;
};

struct Grant {
  std::string pattern;  // a namespace, "prefix*", or "*"
  bool use = false;
  bool admin = false;
};

struct Principal {
  std::string name;
  std::vector<std::string> tokens;
  std::vector<std::string> subjects;
  std::vector<Grant> grants;
};

// AccessConfig is one parsed --auth_file. Immutable once parsed.
class AccessConfig {
 public:
  // Parse() reads `yaml`; errors name `file`, the line and the field
  // ("auth.yaml:7: principals[1].grants.payments: unknown role 'write'
  // (expected use, admin)").
  static absl::StatusOr<AccessConfig> Parse(std::string_view yaml, std::string_view file);
  static absl::StatusOr<AccessConfig> Load(const std::string& path);

  // ByToken() is the principal whose token is `token`, compared in
  // constant time with every token of the file; nullptr when none.
  const Principal* ByToken(std::string_view token) const;
  // BySubject() is the principal one of whose subjects is one of `names`
  // (the certificate's subject, "CN=" + its common name, its SANs).
  const Principal* BySubject(const std::vector<std::string>& names) const;
  const Principal* ByName(std::string_view name) const;
  // QuotasOf() is the quotas of `ns` (its own, or "*"'s); nullptr: none.
  const Quotas* QuotasOf(std::string_view ns) const;
  // ClusterPeer() is the entry of cluster_peers that is one of `names` (a
  // certificate's names), nullptr when none is.
  const std::string* ClusterPeer(const std::vector<std::string>& names) const;

  const std::vector<Principal>& principals() const { return principals_; }
  const std::vector<std::string>& cluster_peers() const { return cluster_peers_; }
  std::size_t short_tokens() const { return short_tokens_; }

 private:
  class Parser;
  std::vector<Principal> principals_;
  std::vector<std::string> cluster_peers_;
  absl::flat_hash_map<std::string, Quotas> quotas_;
  std::optional<Quotas> default_quotas_;
  std::size_t short_tokens_ = 0;  // tokens under 16 bytes, warned about
};

// Allowed() is OK when `principal` has `role` on `ns`, PERMISSION_DENIED
// naming them otherwise; Permits() is the same answer as a bool.
absl::Status Allowed(const Principal& principal, std::string_view ns, Role role);
bool Permits(const Principal& principal, std::string_view ns, Role role);

// NamespaceUsage is what one namespace uses now, against its quotas (which
// a reload changes in place). Lives as long as the Access that made it.
class NamespaceUsage {
 public:
  explicit NamespaceUsage(std::string name) : name_(std::move(name)) {}

  const std::string& name() const { return name_; }

  // Each Add*() counts one more, or refuses with RESOURCE_EXHAUSTED naming
  // the quota when the namespace is at it (counting nothing then).
  absl::Status AddSession() { return Add(sessions_, max_sessions_, "sessions", 0); }
  void RemoveSession() { Remove(sessions_); }
  absl::Status AddInstance() { return Add(instances_, max_instances_, "instances", 1); }
  void RemoveInstance() { Remove(instances_); }
  absl::Status AddWaiter() { return Add(waiters_, max_waiters_, "waiters", 2); }
  void RemoveWaiter() { Remove(waiters_); }
  // TakeRequest() takes one request from the requests_per_second bucket.
  absl::Status TakeRequest(absl::Time now);
  // RequestInterval() is what one request costs the bucket: 1 /
  // requests_per_second (zero when unlimited).
  absl::Duration RequestInterval();

  // The quotas, in the order of Snapshot's arrays.
  static constexpr std::size_t kQuotaCount = 4;
  static constexpr std::string_view kQuotaNames[kQuotaCount] = {
      "sessions", "instances", "waiters", "requests_per_second"};
  struct Snapshot {
    std::string name;
    std::int64_t used[kQuotaCount] = {};      // requests_per_second: 0
    double limit[kQuotaCount] = {};           // -1: unlimited
    std::uint64_t refused[kQuotaCount] = {};  // requests refused at each quota
  };
  Snapshot Snap();

  std::int64_t sessions() const { return sessions_.load(std::memory_order_relaxed); }
  std::int64_t instances() const { return instances_.load(std::memory_order_relaxed); }
  std::int64_t waiters() const { return waiters_.load(std::memory_order_relaxed); }

  // SetQuotas() applies `quotas` (nullptr: none) from now on.
  void SetQuotas(const Quotas* quotas);

 private:
  absl::Status Add(std::atomic<std::int64_t>& count, const std::atomic<std::int64_t>& max,
                   std::string_view quota, std::size_t index);
  // Counts never go below 0: what was created before a quota applied was
  // not counted.
  static void Remove(std::atomic<std::int64_t>& count);

  const std::string name_;
  std::atomic<std::int64_t> sessions_{0};
  std::atomic<std::int64_t> instances_{0};
  std::atomic<std::int64_t> waiters_{0};
  static constexpr std::int64_t kUnlimited = -1;
  std::atomic<std::int64_t> max_sessions_{kUnlimited};
  std::atomic<std::int64_t> max_instances_{kUnlimited};
  std::atomic<std::int64_t> max_waiters_{kUnlimited};
  std::atomic<std::uint64_t> refused_[kQuotaCount] = {};

  absl::Mutex mu_;
  double rate_ ABSL_GUARDED_BY(mu_) = 0;  // 0: unlimited
  double tokens_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time refilled_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// Credentials are what a call presents: its bearer token (if any) and its
// client certificate's names (if any).
struct Credentials {
  std::optional<std::string> token;  // "authorization: Bearer <token>"
  std::vector<std::string> certificate_names;
  // A malformed authorization header: UNAUTHENTICATED with this message.
  std::string malformed;
  // Set when the call carries "baton-forwarded-subjects-bin": the names of
  // the original caller's certificate, as the forwarding node saw them
  // (possibly none). Trusted only from a cluster peer (see above).
  std::optional<std::vector<std::string>> forwarded_names;
};

// Access is the file in force (or none: everything allowed) and the usage
// of every namespace with a quota.
class Access {
 public:
  // `path`: --auth_file; empty: no access control, no quotas.
  explicit Access(std::string path) : path_(std::move(path)) {}

  bool enabled() const { return !path_.empty(); }
  const std::string& path() const { return path_; }

  // Load() reads the file. On success it replaces the one in force (and
  // every usage takes its new quotas); on error nothing changes.
  absl::Status Load();
  // Changed() is true when the file differs (size, time, inode) from the
  // last Load()'s.
  bool Changed() const;
  std::shared_ptr<const AccessConfig> Get() const;
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // Usage() is the usage of `ns`, or nullptr when no quota applies to it
  // (or access control is off).
  NamespaceUsage* Usage(std::string_view ns);
  // Usages() is a snapshot of every namespace counted, by name, at most
  // `max` of them; `*left_out` says how many more there are.
  std::vector<NamespaceUsage::Snapshot> Usages(std::size_t max, std::size_t* left_out);

  // InstanceCreated() counts an instance of `name` against its namespace's
  // instances quota, or refuses it; InstanceRemoved() uncounts it.
  absl::Status InstanceCreated(std::string_view name);
  void InstanceRemoved(std::string_view name);

 private:
  const std::string path_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const AccessConfig> config_ ABSL_GUARDED_BY(mu_);
  std::string fingerprint_ ABSL_GUARDED_BY(mu_);
  std::atomic<std::uint64_t> generation_{0};
  absl::flat_hash_map<std::string, std::unique_ptr<NamespaceUsage>> usage_ ABSL_GUARDED_BY(mu_);
};

// Caller is the identity of one call or session: resolved from its
// credentials against the file in force, again after every reload (a token
// removed from the file stops working for the sessions that used it).
class Caller {
 public:
  Caller(Access* access, Credentials credentials)
      : access_(access), credentials_(std::move(credentials)) {}

  // Authenticate() is OK when the credentials name a principal (or access
  // control is off), UNAUTHENTICATED otherwise.
  absl::Status Authenticate();
  // Allow() is OK when the caller may act as `role` on the namespace of
  // `name`; UNAUTHENTICATED or PERMISSION_DENIED otherwise.
  absl::Status Allow(std::string_view name, Role role);
  // AllowNamespace() is Allow() for the namespace itself.
  absl::Status AllowNamespace(std::string_view ns, Role role);

  // The principal's name ("" when none, or access control is off).
  std::string principal() const;
  // via() is, for a call a cluster peer forwarded with its caller's
  // certificate names, the cluster_peers entry that peer matched; "" otherwise.
  std::string via() const;
  // Visible() is a predicate, safe on any thread, true for the names in
  // the namespaces the caller may use now; nullptr when access control is
  // off. Call after Authenticate() succeeded.
  std::function<bool(std::string_view)> Visible() const;

 private:
  absl::Status Resolve();

  Access* const access_;
  const Credentials credentials_;
  std::shared_ptr<const AccessConfig> config_;
  const Principal* principal_ = nullptr;
  std::string via_;
  std::uint64_t generation_ = 0;
  absl::Status status_;
};

}  // namespace baton::auth

#endif  // BATON_SERVER_AUTH_ACCESS_H_

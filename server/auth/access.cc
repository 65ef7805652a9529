// Copyright 2026 The Baton Authors.

#include "server/auth/access.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "yaml-cpp/yaml.h"

namespace baton::auth {

namespace {

absl::string_view Absl(std::string_view s) { return {s.data(), s.size()}; }

int Line(const YAML::Node& node) { return node.Mark().line + 1; }

// Tokens are secrets: their bytes decide nothing but equality, and the
// time taken does not depend on where they differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  const std::size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

bool Matches(std::string_view pattern, std::string_view ns) {
  if (!pattern.empty() && pattern.back() == '*') {
    return absl::StartsWith(Absl(ns), Absl(pattern.substr(0, pattern.size() - 1)));
  }
  return pattern == ns;
}

constexpr std::size_t kShortToken = 16;

}  // namespace

std::string_view NamespaceOf(std::string_view name) {
  const std::size_t slash = name.find('/');
  if (slash == std::string_view::npos) return "default";
  return name.substr(0, slash);
}

std::string_view RoleName(Role role) { return role == Role::kAdmin ? "admin" : "use"; }

// ---------------------------------------------------------------------------
// Parsing.

class AccessConfig::Parser {
 public:
  explicit Parser(std::string_view file) : file_(file) {}

  absl::Status Error(const YAML::Node& at, std::string_view field, std::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(Absl(file_), ":", Line(at), ": ", Absl(field), ": ", Absl(what)));
  }

  absl::Status Keys(const YAML::Node& map, std::string_view field,
                    std::initializer_list<std::string_view> allowed) const {
    if (!map.IsMap()) return Error(map, field, "must be a map");
    for (auto it = map.begin(); it != map.end(); ++it) {
      const std::string key = it->first.IsScalar() ? it->first.Scalar() : "";
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::vector<std::string> names(allowed.begin(), allowed.end());
        return Error(it->first, field.empty() ? "(top level)" : field,
                     absl::StrCat("unknown key '", key, "' (expected ",
                                  absl::StrJoin(names, ", "), ")"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Strings(const YAML::Node& node, const std::string& field,
                       std::vector<std::string>* out) const {
    if (!node.IsSequence()) return Error(node, field, "must be a list of strings");
    for (std::size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      const std::string at = absl::StrCat(field, "[", i, "]");
      if (!item.IsScalar()) return Error(item, at, "must be a string");
      out->push_back(item.Scalar());
    }
    return absl::OkStatus();
  }

  absl::Status Count(const YAML::Node& node, const std::string& field,
                     std::optional<std::int64_t>* out) const {
    std::int64_t value = 0;
    if (!node.IsScalar() || !YAML::convert<std::int64_t>::decode(node, value) || value < 0) {
      return Error(node, field,
                   absl::StrCat("must be an integer >= 0, got '",
                                node.IsScalar() ? node.Scalar() : "(not a number)", "'"));
    }
    *out = value;
    return absl::OkStatus();
  }

  absl::Status Principals(const YAML::Node& list, AccessConfig* config) const {
    if (!list.IsSequence()) return Error(list, "principals", "must be a list");
    absl::flat_hash_map<std::string, std::string> token_owner;
    absl::flat_hash_map<std::string, std::string> subject_owner;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const YAML::Node node = list[i];
      const std::string field = absl::StrCat("principals[", i, "]");
      if (auto s = Keys(node, field, {"name", "tokens", "subjects", "grants"}); !s.ok()) return s;
      Principal principal;
      if (!node["name"] || !node["name"].IsScalar() || node["name"].Scalar().empty()) {
        return Error(node, field + ".name", "is required: a non-empty string");
      }
      principal.name = node["name"].Scalar();
      if (config->ByName(principal.name) != nullptr) {
        return Error(node["name"], field + ".name",
                     absl::StrCat("'", principal.name, "' is already the name of a principal"));
      }
      if (node["tokens"]) {
        if (auto s = Strings(node["tokens"], field + ".tokens", &principal.tokens); !s.ok()) {
          return s;
        }
        for (std::size_t t = 0; t < principal.tokens.size(); ++t) {
          const std::string& token = principal.tokens[t];
          const std::string at = absl::StrCat(field, ".tokens[", t, "]");
          // Never quoted: the error names where it is, not what it is.
          if (token.empty()) return Error(node["tokens"][t], at, "must not be empty");
          for (const char c : token) {
            if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
              return Error(node["tokens"][t], at,
                           "must be printable ASCII without spaces (it is sent as an HTTP "
                           "header value)");
            }
          }
          if (auto [it, added] = token_owner.emplace(token, principal.name); !added) {
            return Error(node["tokens"][t], at,
                         absl::StrCat("is also a token of principal '", it->second,
                                      "': a token must name one principal"));
          }
          if (token.size() < kShortToken) ++config->short_tokens_;
        }
      }
      if (node["subjects"]) {
        if (auto s = Strings(node["subjects"], field + ".subjects", &principal.subjects);
            !s.ok()) {
          return s;
        }
        for (std::size_t t = 0; t < principal.subjects.size(); ++t) {
          const std::string at = absl::StrCat(field, ".subjects[", t, "]");
          if (principal.subjects[t].empty()) {
            return Error(node["subjects"][t], at, "must not be empty");
          }
          if (auto [it, added] = subject_owner.emplace(principal.subjects[t], principal.name);
              !added) {
            return Error(node["subjects"][t], at,
                         absl::StrCat("'", principal.subjects[t],
                                      "' is also a subject of principal '", it->second, "'"));
          }
        }
      }
      if (principal.tokens.empty() && principal.subjects.empty()) {
        return Error(node, field,
                     "needs tokens or subjects: a principal no caller can be is a mistake");
      }
      if (node["grants"]) {
        const YAML::Node grants = node["grants"];
        if (!grants.IsMap()) return Error(grants, field + ".grants", "must be a map");
        for (auto it = grants.begin(); it != grants.end(); ++it) {
          Grant grant;
          grant.pattern = it->first.IsScalar() ? it->first.Scalar() : "";
          const std::string at = absl::StrCat(field, ".grants.", grant.pattern);
          if (auto s = Pattern(it->first, at, grant.pattern); !s.ok()) return s;
          std::vector<std::string> roles;
          if (it->second.IsScalar()) {
            roles.push_back(it->second.Scalar());
          } else if (auto s = Strings(it->second, at, &roles); !s.ok()) {
            return s;
          }
          for (const std::string& role : roles) {
            if (role == "use") {
              grant.use = true;
            } else if (role == "admin") {
              grant.use = grant.admin = true;
            } else {
              return Error(it->second, at,
                           absl::StrCat("unknown role '", role, "' (expected use, admin)"));
            }
          }
          principal.grants.push_back(std::move(grant));
        }
      }
      config->principals_.push_back(std::move(principal));
    }
    return absl::OkStatus();
  }

  absl::Status Pattern(const YAML::Node& at, const std::string& field,
                       const std::string& pattern) const {
    if (pattern.empty()) return Error(at, field, "a namespace must not be empty");
    const std::size_t star = pattern.find('*');
    if (star != std::string::npos && star != pattern.size() - 1) {
      return Error(at, field, "'*' may only end a namespace pattern (\"team-*\", \"*\")");
    }
    if (pattern.find('/') != std::string::npos) {
      return Error(at, field,
                   "a namespace is the first segment of a name: it has no '/'");
    }
    return absl::OkStatus();
  }

  absl::Status QuotaMap(const YAML::Node& map, AccessConfig* config) const {
    if (!map.IsMap()) return Error(map, "quotas", "must be a map of namespace to quotas");
    for (auto it = map.begin(); it != map.end(); ++it) {
      const std::string ns = it->first.IsScalar() ? it->first.Scalar() : "";
      const std::string field = absl::StrCat("quotas.", ns);
      if (ns != "*") {
        if (auto s = Pattern(it->first, field, ns); !s.ok()) return s;
        if (ns.find('*') != std::string::npos) {
          return Error(it->first, field, "quotas are per namespace, or \"*\" for the others");
        }
      }
      const YAML::Node node = it->second;
      if (auto s = Keys(node, field, {"sessions", "instances", "waiters", "requests_per_second"});
          !s.ok()) {
        return s;
      }
      Quotas quotas;
      if (node["sessions"]) {
        if (auto s = Count(node["sessions"], field + ".sessions", &quotas.sessions); !s.ok()) {
          return s;
        }
      }
      if (node["instances"]) {
        if (auto s = Count(node["instances"], field + ".instances", &quotas.instances); !s.ok()) {
          return s;
        }
      }
      if (node["waiters"]) {
        if (auto s = Count(node["waiters"], field + ".waiters", &quotas.waiters); !s.ok()) {
          return s;
        }
      }
      if (node["requests_per_second"]) {
        const YAML::Node rps = node["requests_per_second"];
        double value = 0;
        if (!rps.IsScalar() || !YAML::convert<double>::decode(rps, value) ||
            !std::isfinite(value) || value <= 0) {
          return Error(rps, field + ".requests_per_second",
                       absl::StrCat("must be a number > 0, got '",
                                    rps.IsScalar() ? rps.Scalar() : "(not a number)", "'"));
        }
        quotas.requests_per_second = value;
      }
      if (ns == "*") {
        config->default_quotas_ = quotas;
      } else {
        config->quotas_[ns] = quotas;
      }
    }
    return absl::OkStatus();
  }

  absl::Status ClusterPeers(const YAML::Node& list, AccessConfig* config) const {
    if (auto s = Strings(list, "cluster_peers", &config->cluster_peers_); !s.ok()) return s;
    for (std::size_t i = 0; i < config->cluster_peers_.size(); ++i) {
      const std::string at = absl::StrCat("cluster_peers[", i, "]");
      if (config->cluster_peers_[i].empty()) {
        return Error(list[i], at,
                     "must not be empty (a cluster node's certificate name: its subject, "
                     "\"CN=<common name>\", or a SAN)");
      }
      for (std::size_t j = 0; j < i; ++j) {
        if (config->cluster_peers_[j] == config->cluster_peers_[i]) {
          return Error(list[i], at,
                       absl::StrCat("'", config->cluster_peers_[i], "' is listed twice (also ",
                                    "cluster_peers[", j, "])"));
        }
      }
    }
    return absl::OkStatus();
  }

 private:
  const std::string_view file_;
};

absl::StatusOr<AccessConfig> AccessConfig::Parse(std::string_view yaml, std::string_view file) {
  Parser parser(file);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::ParserException& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(Absl(file), ":", e.mark.line + 1, ": not valid YAML: ", e.msg));
  }
  AccessConfig config;
  try {
    if (!root.IsDefined() || root.IsNull()) {
      return absl::InvalidArgumentError(
          absl::StrCat(Absl(file), ":1: the file is empty: it needs principals"));
    }
    if (auto s = parser.Keys(root, "", {"principals", "quotas", "cluster_peers"}); !s.ok()) {
      return s;
    }
    if (!root["principals"]) {
      return parser.Error(root, "principals", "is required: a list of who may connect");
    }
    if (auto s = parser.Principals(root["principals"], &config); !s.ok()) return s;
    if (root["quotas"]) {
      if (auto s = parser.QuotaMap(root["quotas"], &config); !s.ok()) return s;
    }
    if (root["cluster_peers"]) {
      if (auto s = parser.ClusterPeers(root["cluster_peers"], &config); !s.ok()) return s;
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(Absl(file), ":", e.mark.line + 1, ": ", e.msg));
  }
  return config;
}

absl::StatusOr<AccessConfig> AccessConfig::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot read: ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path);
}

const Principal* AccessConfig::ByToken(std::string_view token) const {
  // Every token is compared, whatever matched: the time says nothing of
  // which one did, or how close a guess came.
  const Principal* found = nullptr;
  for (const Principal& principal : principals_) {
    for (const std::string& candidate : principal.tokens) {
      if (ConstantTimeEquals(candidate, token)) found = &principal;
    }
  }
  return found;
}

const Principal* AccessConfig::BySubject(const std::vector<std::string>& names) const {
  for (const Principal& principal : principals_) {
    for (const std::string& subject : principal.subjects) {
      if (std::find(names.begin(), names.end(), subject) != names.end()) return &principal;
    }
  }
  return nullptr;
}

const Principal* AccessConfig::ByName(std::string_view name) const {
  for (const Principal& principal : principals_) {
    if (principal.name == name) return &principal;
  }
  return nullptr;
}

const Quotas* AccessConfig::QuotasOf(std::string_view ns) const {
  if (auto it = quotas_.find(Absl(ns)); it != quotas_.end()) return &it->second;
  return default_quotas_.has_value() ? &*default_quotas_ : nullptr;
}

const std::string* AccessConfig::ClusterPeer(const std::vector<std::string>& names) const {
  for (const std::string& peer : cluster_peers_) {
    if (std::find(names.begin(), names.end(), peer) != names.end()) return &peer;
  }
  return nullptr;
}

bool Permits(const Principal& principal, std::string_view ns, Role role) {
  for (const Grant& grant : principal.grants) {
    if (!Matches(grant.pattern, ns)) continue;
    if (role == Role::kAdmin ? grant.admin : grant.use) return true;
  }
  return false;
}

absl::Status Allowed(const Principal& principal, std::string_view ns, Role role) {
  if (Permits(principal, ns, role)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "namespace '", Absl(ns), "': principal '", principal.name, "' has no '",
      Absl(RoleName(role)), "' role there (grants in --auth_file)"));
}

// ---------------------------------------------------------------------------
// NamespaceUsage.

absl::Status NamespaceUsage::Add(std::atomic<std::int64_t>& count,
                                 const std::atomic<std::int64_t>& max, std::string_view quota,
                                 std::size_t index) {
  const std::int64_t limit = max.load(std::memory_order_relaxed);
  if (limit == kUnlimited) {
    count.fetch_add(1, std::memory_order_relaxed);
    return absl::OkStatus();
  }
  std::int64_t now = count.load(std::memory_order_relaxed);
  while (true) {
    if (now >= limit) {
      refused_[index].fetch_add(1, std::memory_order_relaxed);
      return absl::ResourceExhaustedError(absl::StrCat(
          "quota: namespace '", name_, "' has ", now, " ", Absl(quota), ", its quota (quotas.",
          name_, ".", Absl(quota), " in --auth_file, or quotas.\"*\")"));
    }
    if (count.compare_exchange_weak(now, now + 1, std::memory_order_relaxed)) {
      return absl::OkStatus();
    }
  }
}

void NamespaceUsage::Remove(std::atomic<std::int64_t>& count) {
  std::int64_t now = count.load(std::memory_order_relaxed);
  while (now > 0 && !count.compare_exchange_weak(now, now - 1, std::memory_order_relaxed)) {
  }
}

absl::Status NamespaceUsage::TakeRequest(absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (rate_ <= 0) return absl::OkStatus();
  // A bucket of one second's worth, refilled continuously.
  if (refilled_ == absl::InfinitePast()) {
    tokens_ = rate_;
  } else if (now > refilled_) {
    tokens_ = std::min(rate_, tokens_ + rate_ * absl::ToDoubleSeconds(now - refilled_));
  }
  refilled_ = std::max(refilled_, now);
  if (tokens_ >= 1) {
    tokens_ -= 1;
    return absl::OkStatus();
  }
  refused_[3].fetch_add(1, std::memory_order_relaxed);
  const double wait_ms = std::ceil((1 - tokens_) / rate_ * 1000);
  return absl::ResourceExhaustedError(absl::StrCat(
      "quota: namespace '", name_, "' is over its requests_per_second quota (", rate_,
      "; quotas.", name_, ".requests_per_second in --auth_file, or quotas.\"*\"): retry in ",
      wait_ms, " ms"));
}

NamespaceUsage::Snapshot NamespaceUsage::Snap() {
  Snapshot snap;
  snap.name = name_;
  snap.used[0] = sessions();
  snap.used[1] = instances();
  snap.used[2] = waiters();
  snap.limit[0] = static_cast<double>(max_sessions_.load(std::memory_order_relaxed));
  snap.limit[1] = static_cast<double>(max_instances_.load(std::memory_order_relaxed));
  snap.limit[2] = static_cast<double>(max_waiters_.load(std::memory_order_relaxed));
  {
    absl::MutexLock lock(&mu_);
    snap.limit[3] = rate_ > 0 ? rate_ : -1;
  }
  for (std::size_t i = 0; i < kQuotaCount; ++i) {
    snap.refused[i] = refused_[i].load(std::memory_order_relaxed);
  }
  return snap;
}

absl::Duration NamespaceUsage::RequestInterval() {
  absl::MutexLock lock(&mu_);
  return rate_ > 0 ? absl::Seconds(1 / rate_) : absl::ZeroDuration();
}

void NamespaceUsage::SetQuotas(const Quotas* quotas) {
  const auto set = [](std::atomic<std::int64_t>& max, const std::optional<std::int64_t>& value) {
    max.store(value.has_value() ? *value : kUnlimited, std::memory_order_relaxed);
  };
  set(max_sessions_, quotas != nullptr ? quotas->sessions : std::nullopt);
  set(max_instances_, quotas != nullptr ? quotas->instances : std::nullopt);
  set(max_waiters_, quotas != nullptr ? quotas->waiters : std::nullopt);
  absl::MutexLock lock(&mu_);
  const double rate = quotas != nullptr ? quotas->requests_per_second.value_or(0) : 0;
  if (rate != rate_) {
    rate_ = rate;
    tokens_ = std::min(tokens_, rate_);
    if (refilled_ == absl::InfinitePast()) tokens_ = rate_;
  }
}

// ---------------------------------------------------------------------------
// Access.

namespace {

std::string Fingerprint(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return absl::StrCat("error ", errno);
  return absl::StrCat(st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec, ".",
                      st.st_mtim.tv_nsec);
}

}  // namespace

absl::Status Access::Load() {
  if (path_.empty()) return absl::OkStatus();
  std::string fingerprint = Fingerprint(path_);
  absl::StatusOr<AccessConfig> loaded = AccessConfig::Load(path_);
  absl::MutexLock lock(&mu_);
  fingerprint_ = std::move(fingerprint);
  if (!loaded.ok()) return loaded.status();
  config_ = std::make_shared<const AccessConfig>(std::move(*loaded));
  for (auto& [ns, usage] : usage_) usage->SetQuotas(config_->QuotasOf(ns));
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return absl::OkStatus();
}

bool Access::Changed() const {
  if (path_.empty()) return false;
  const std::string fingerprint = Fingerprint(path_);
  absl::MutexLock lock(&mu_);
  return fingerprint != fingerprint_;
}

std::shared_ptr<const AccessConfig> Access::Get() const {
  absl::MutexLock lock(&mu_);
  return config_;
}

NamespaceUsage* Access::Usage(std::string_view ns) {
  if (path_.empty()) return nullptr;
  absl::MutexLock lock(&mu_);
  if (auto it = usage_.find(Absl(ns)); it != usage_.end()) return it->second.get();
  if (config_ == nullptr) return nullptr;
  const Quotas* quotas = config_->QuotasOf(ns);
  if (quotas == nullptr) return nullptr;
  auto usage = std::make_unique<NamespaceUsage>(std::string(ns));
  usage->SetQuotas(quotas);
  NamespaceUsage* const raw = usage.get();
  usage_.emplace(std::string(ns), std::move(usage));
  return raw;
}

std::vector<NamespaceUsage::Snapshot> Access::Usages(std::size_t max, std::size_t* left_out) {
  std::vector<NamespaceUsage*> all;
  {
    absl::MutexLock lock(&mu_);
    all.reserve(usage_.size());
    for (auto& [ns, usage] : usage_) all.push_back(usage.get());
  }
  std::sort(all.begin(), all.end(),
            [](const NamespaceUsage* a, const NamespaceUsage* b) { return a->name() < b->name(); });
  *left_out = all.size() > max ? all.size() - max : 0;
  if (all.size() > max) all.resize(max);
  std::vector<NamespaceUsage::Snapshot> snaps;
  snaps.reserve(all.size());
  for (NamespaceUsage* usage : all) snaps.push_back(usage->Snap());
  return snaps;
}

absl::Status Access::InstanceCreated(std::string_view name) {
  NamespaceUsage* usage = Usage(NamespaceOf(name));
  return usage != nullptr ? usage->AddInstance() : absl::OkStatus();
}

void Access::InstanceRemoved(std::string_view name) {
  if (NamespaceUsage* usage = Usage(NamespaceOf(name)); usage != nullptr) usage->RemoveInstance();
}

// ---------------------------------------------------------------------------
// Caller.

absl::Status Caller::Resolve() {
  const std::uint64_t generation = access_->generation();
  if (config_ != nullptr && generation == generation_) return status_;
  generation_ = generation;
  config_ = access_->Get();
  principal_ = nullptr;
  via_.clear();
  if (config_ == nullptr) {
    status_ = absl::UnavailableError("--auth_file is not loaded");
    return status_;
  }
  // Whose certificate names count: the caller's own, or, on a call a
  // cluster peer forwarded, those of the caller it forwarded for.
  const std::vector<std::string>* names = &credentials_.certificate_names;
  if (credentials_.forwarded_names.has_value()) {
    const std::string* peer = config_->ClusterPeer(credentials_.certificate_names);
    if (peer == nullptr) {
      status_ = absl::PermissionDeniedError(
          absl::StrCat(kForwardedSubjectsKey,
                       ": only a node of the cluster may send it, and this "
                       "call's client certificate (",
                       credentials_.certificate_names.empty()
                           ? std::string("none")
                           : absl::StrCat("'", credentials_.certificate_names.front(), "'"),
                       ") is not one of --auth_file's cluster_peers"));
      return status_;
    }
    via_ = *peer;
    names = &*credentials_.forwarded_names;
  }
  if (!credentials_.malformed.empty()) {
    status_ = absl::UnauthenticatedError(credentials_.malformed);
  } else if (credentials_.token.has_value()) {
    principal_ = config_->ByToken(*credentials_.token);
    status_ = principal_ != nullptr
                  ? absl::OkStatus()
                  : absl::UnauthenticatedError(
                        "authorization: the bearer token is not one of --auth_file's");
  } else if (!names->empty()) {
    principal_ = config_->BySubject(*names);
    status_ = principal_ != nullptr
                  ? absl::OkStatus()
                  : absl::UnauthenticatedError(absl::StrCat(
                        "authorization: no principal of --auth_file has the client "
                        "certificate's subject '",
                        names->front(), "'", via_.empty() ? "" : " (forwarded by a cluster node)"));
  } else {
    status_ = absl::UnauthenticatedError(
        "authorization: batond requires a bearer token (metadata \"authorization: Bearer "
        "<token>\") or a client certificate known to its --auth_file");
  }
  return status_;
}

absl::Status Caller::Authenticate() {
  if (!access_->enabled()) return absl::OkStatus();
  return Resolve();
}

absl::Status Caller::Allow(std::string_view name, Role role) {
  return AllowNamespace(NamespaceOf(name), role);
}

absl::Status Caller::AllowNamespace(std::string_view ns, Role role) {
  if (!access_->enabled()) return absl::OkStatus();
  if (absl::Status resolved = Resolve(); !resolved.ok()) return resolved;
  return Allowed(*principal_, ns, role);
}

std::function<bool(std::string_view)> Caller::Visible() const {
  if (!access_->enabled() || principal_ == nullptr) return nullptr;
  // The config snapshot keeps the principal alive for the predicate.
  return [config = config_, principal = principal_](std::string_view name) {
    return Permits(*principal, NamespaceOf(name), Role::kUse);
  };
}

std::string Caller::via() const { return via_; }

std::string Caller::principal() const {
  return principal_ != nullptr ? principal_->name : std::string();
}

}  // namespace baton::auth

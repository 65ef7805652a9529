// Copyright 2026 The Baton Authors.
//
// The commands that are unary calls (Admin and Health services): describe,
// list, delete, set-rate, set-bound, reset, health, latch declare, and
// ratelimit (a try-once is Admin.TryAcquire; a wait needs a session).

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "baton/client.h"
#include "baton/v1/admin.grpc.pb.h"
#include "client/cli/commands.h"
#include "client/cli/connection.h"
#include "client/cli/exit_codes.h"
#include "client/cli/format.h"
#include "client/cli/json.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace baton::cli {
namespace {

void PrintLine(const std::string& line) { std::printf("%s\n", line.c_str()); }

// Admin is a reached channel's Admin stub; Call() makes one unary call on it.
class Admin {
 public:
  static absl::StatusOr<Admin> Open(const GlobalOptions& global) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Reach(global);
    if (!channel.ok()) return channel.status();
    return Admin(global, v1::Admin::NewStub(*channel));
  }

  template <typename Request, typename Response>
  absl::Status Call(grpc::Status (v1::Admin::Stub::*method)(grpc::ClientContext*, const Request&,
                                                            Response*),
                    const Request& request, Response* response) {
    std::unique_ptr<grpc::ClientContext> context = UnaryContext(global_);
    return FromGrpc((stub_.get()->*method)(context.get(), request, response));
  }

 private:
  Admin(const GlobalOptions& global, std::unique_ptr<v1::Admin::Stub> stub)
      : global_(global), stub_(std::move(stub)) {}
  GlobalOptions global_;
  std::unique_ptr<v1::Admin::Stub> stub_;
};

// OneCall() opens Admin, makes one call, and reports a failure of either:
// on an instance of kind `expected`, when the call is for one kind only.
// Returns kExitOk when the call succeeded.
template <typename Request, typename Response>
int OneCall(const Invocation& invocation, std::string_view what,
            grpc::Status (v1::Admin::Stub::*method)(grpc::ClientContext*, const Request&,
                                                    Response*),
            const Request& request, Response* response,
            v1::Kind expected = v1::KIND_UNSPECIFIED) {
  absl::StatusOr<Admin> admin = Admin::Open(invocation.global);
  absl::Status status = admin.ok() ? admin->Call(method, request, response) : admin.status();
  if (status.ok()) return kExitOk;
  if (expected == v1::KIND_UNSPECIFIED) return ReportFailure(invocation.global, what, status);
  return ReportFailureOn(invocation.global, what, request.name(), expected, status);
}

// A latch's counts, sorted by key: as declared (LatchParams, entries) or
// now (InstanceState, a map).
std::map<std::string, std::int64_t> Sorted(const v1::LatchParams& latch) {
  std::map<std::string, std::int64_t> sorted;
  for (const v1::LatchParams::Count& entry : latch.counts()) sorted[entry.key()] = entry.value();
  return sorted;
}
std::map<std::string, std::int64_t> Sorted(
    const google::protobuf::Map<std::string, std::int64_t>& counts) {
  return std::map<std::string, std::int64_t>(counts.begin(), counts.end());
}

std::string CountsText(const std::map<std::string, std::int64_t>& sorted) {
  std::vector<std::string> parts;
  for (const auto& [key, count] : sorted) parts.push_back(absl::StrCat(key, "=", count));
  return parts.empty() ? "no keys" : absl::StrJoin(parts, " ");
}

std::string CountsJson(const std::map<std::string, std::int64_t>& sorted) {
  JsonObject json;
  for (const auto& [key, count] : sorted) json.Integer(key, count);
  return json.str();
}

// ExistingText() is what an instance of the declared kind has, for a
// conflict: its parameters now, and as declared when they differ.
std::string ExistingText(const v1::DescribeResponse& described) {
  const v1::InstanceState& state = described.state();
  const v1::InstanceConfig& config = described.config();
  if (config.kind() == v1::KIND_ADVANCED_RATE_LIMIT) {
    std::string text = absl::StrCat("--rate ", FormatAmount(state.rate()), " --capacity ",
                                    FormatAmount(state.capacity()),
                                    state.fair() ? "" : " --unfair");
    const double declared_capacity = config.rate_limit().has_capacity()
                                         ? config.rate_limit().capacity()
                                         : config.rate_limit().rate();
    if (config.rate_limit().rate() != state.rate() || declared_capacity != state.capacity()) {
      absl::StrAppend(&text, " (declared with --rate ", FormatAmount(config.rate_limit().rate()),
                      " --capacity ", FormatAmount(declared_capacity), ")");
    }
    return text;
  }
  if (config.kind() == v1::KIND_MULTI_COUNT_DOWN_LATCH) {
    std::string text = CountsText(Sorted(config.latch()));
    if (const std::string now = CountsText(Sorted(state.counts())); now != text) {
      absl::StrAppend(&text, " (now ", now, ")");
    }
    return text;
  }
  return KindName(config.kind());
}

// ReportDeclareConflict() handles what Declare answers for a name that
// exists with another kind (kExitWrongKind) or other parameters
// (kExitUsage, naming the parameters it has and those asked, `asked`).
// Only the server decides that there is a conflict; this only explains it.
int ReportDeclareConflict(const Invocation& invocation, std::string_view what,
                          const v1::DeclareRequest& request, const std::string& asked,
                          const absl::Status& status) {
  const GlobalOptions& global = invocation.global;
  if (status.code() != absl::StatusCode::kAlreadyExists) {
    return ReportFailureOn(global, what, request.name(), request.config().kind(), status);
  }
  absl::StatusOr<v1::DescribeResponse> described = Describe(global, request.name());
  if (described.ok() && described->config().kind() != request.config().kind()) {
    return ReportWrongKind(global, what, request.name(), request.config().kind(),
                           described->config().kind());
  }
  const std::string existing = described.ok() ? ExistingText(*described) : "";
  return ReportError(
      global, what,
      {.code = status.code(),
       .message = described.ok()
                      ? absl::StrCat("'", request.name(), "' exists with ", existing, ", not ",
                                     asked)
                      : absl::StrCat("it exists with other parameters than ", asked, ": ",
                                     status.message()),
       .exit_code = kExitUsage,
       .fields = {{"existing", existing}, {"asked", asked}}});
}

}  // namespace

int RunDescribe(Invocation& invocation) {
  if (!invocation.ok()) return invocation.UsageError();
  v1::DescribeRequest request;
  request.set_name(invocation.positional[0]);
  v1::DescribeResponse response;
  const int code = OneCall(invocation, absl::StrCat("describe ", request.name()),
                           &v1::Admin::Stub::Describe, request, &response);
  if (code != kExitOk) return code;
  PrintLine(invocation.global.json ? DescribeJson(response) : DescribeText(response));
  return kExitOk;
}

int RunList(Invocation& invocation) {
  v1::ListRequest request;
  if (!invocation.positional.empty()) request.set_prefix(invocation.positional[0]);
  if (invocation.Has("kind")) {
    std::optional<v1::Kind> kind = ParseKind(invocation.StringOr("kind", ""));
    if (!kind.has_value()) {
      invocation.Fail("--kind: expected a kind such as PriorityLock or AdvancedRateLimit");
    } else {
      request.set_kind(*kind);
    }
  }
  if (!invocation.ok()) return invocation.UsageError();

  absl::StatusOr<Admin> admin = Admin::Open(invocation.global);
  if (!admin.ok()) return ReportFailure(invocation.global, "list", admin.status());
  std::vector<v1::InstanceSummary> instances;
  // In a cluster: the members that did not answer for some page.
  std::set<std::string> unreachable;
  request.set_page_size(1000);
  do {
    v1::ListResponse response;
    absl::Status status = admin->Call(&v1::Admin::Stub::List, request, &response);
    if (!status.ok()) return ReportFailure(invocation.global, "list", status);
    instances.insert(instances.end(), response.instances().begin(), response.instances().end());
    unreachable.insert(response.unreachable_nodes().begin(), response.unreachable_nodes().end());
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  if (!unreachable.empty()) {
    // A warning: what the reachable nodes hold is listed, and the exit
    // code stays 0.
    const std::string warning =
        absl::StrCat("node", unreachable.size() > 1 ? "s " : " ", absl::StrJoin(unreachable, ", "),
                     " of the cluster did not answer: their instances are not listed");
    if (invocation.global.json) {
      std::vector<std::string> ids;
      for (const std::string& id : unreachable) ids.push_back(JsonQuote(id));
      std::fprintf(stderr, "%s\n",
                   JsonObject()
                       .String("command", "list")
                       .String("warning", warning)
                       .Raw("unreachable_nodes", JsonArray(ids))
                       .str()
                       .c_str());
    } else {
      std::fprintf(stderr, "baton: list: warning: %s\n", warning.c_str());
    }
  }

  std::size_t width = 0;
  for (const v1::InstanceSummary& instance : instances) {
    width = std::max(width, instance.name().size());
  }
  for (const v1::InstanceSummary& instance : instances) {
    if (invocation.global.json) {
      PrintLine(JsonObject()
                    .String("name", instance.name())
                    .String("kind", KindName(instance.kind()))
                    .str());
    } else {
      std::printf("%-*s  %s\n", static_cast<int>(width), instance.name().c_str(),
                  KindName(instance.kind()).c_str());
    }
  }
  return kExitOk;
}

int RunDelete(Invocation& invocation) {
  if (!invocation.ok()) return invocation.UsageError();
  v1::DeleteRequest request;
  request.set_name(invocation.positional[0]);
  request.set_reason(invocation.StringOr("reason", "baton delete"));
  v1::DeleteResponse response;
  const int code = OneCall(invocation, absl::StrCat("delete ", request.name()),
                           &v1::Admin::Stub::Delete, request, &response);
  if (code != kExitOk) return code;
  if (invocation.global.json) {
    PrintLine(JsonObject()
                  .String("name", request.name())
                  .Bool("deleted", true)
                  .Integer("revoked_holds", response.revoked_holds())
                  .str());
  } else {
    std::printf("deleted %s (%lld holds revoked)\n", request.name().c_str(),
                static_cast<long long>(response.revoked_holds()));
  }
  return kExitOk;
}

int RunSetRate(Invocation& invocation) {
  v1::SetRateRequest request;
  if (invocation.ok()) {
    request.set_name(invocation.positional[0]);
    request.set_rate(invocation.DoubleArg(1, "RATE"));
  }
  if (!invocation.ok()) return invocation.UsageError();
  v1::SetRateResponse response;
  const int code = OneCall(invocation, absl::StrCat("set-rate ", request.name()),
                           &v1::Admin::Stub::SetRate, request, &response,
                           v1::KIND_ADVANCED_RATE_LIMIT);
  if (code != kExitOk) return code;
  if (invocation.global.json) {
    PrintLine(JsonObject()
                  .String("name", request.name())
                  .Number("rate", response.rate())
                  .Number("capacity", response.capacity())
                  .str());
  } else {
    std::printf("%s: rate %s tokens/s, capacity %s\n", request.name().c_str(),
                FormatAmount(response.rate()).c_str(), FormatAmount(response.capacity()).c_str());
  }
  return kExitOk;
}

int RunSetBound(Invocation& invocation) {
  v1::SetBoundRequest request;
  if (invocation.ok()) {
    request.set_name(invocation.positional[0]);
    request.set_bound(invocation.IntArg(1, "BOUND"));
    if (invocation.ok() && request.bound() < 0) invocation.Fail("BOUND: must be >= 0");
  }
  if (!invocation.ok()) return invocation.UsageError();
  v1::SetBoundResponse response;
  const int code = OneCall(invocation, absl::StrCat("set-bound ", request.name()),
                           &v1::Admin::Stub::SetBound, request, &response,
                           v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE);
  if (code != kExitOk) return code;
  if (invocation.global.json) {
    PrintLine(JsonObject()
                  .String("name", request.name())
                  .Integer("bound", response.bound())
                  .Integer("available", response.available())
                  .str());
  } else {
    std::printf("%s: bound %lld, %lld available\n", request.name().c_str(),
                static_cast<long long>(response.bound()),
                static_cast<long long>(response.available()));
  }
  return kExitOk;
}

int RunReset(Invocation& invocation) {
  if (!invocation.ok()) return invocation.UsageError();
  v1::ResetRequest request;
  request.set_name(invocation.positional[0]);
  v1::ResetResponse response;
  const int code = OneCall(invocation, absl::StrCat("reset ", request.name()),
                           &v1::Admin::Stub::Reset, request, &response,
                           v1::KIND_PRIORITY_SEMAPHORE);
  if (code != kExitOk) return code;
  if (invocation.global.json) {
    PrintLine(JsonObject()
                  .String("name", request.name())
                  .Integer("revoked_holds", response.revoked_holds())
                  .Integer("available", response.available())
                  .str());
  } else {
    std::printf("%s: reset (%lld holds revoked), %lld available\n", request.name().c_str(),
                static_cast<long long>(response.revoked_holds()),
                static_cast<long long>(response.available()));
  }
  return kExitOk;
}

int RunHealth(Invocation& invocation) {
  if (!invocation.ok()) return invocation.UsageError();
  const GlobalOptions& global = invocation.global;
  auto report = [&](std::string_view status, const absl::Status& error) {
    if (global.json) {
      JsonObject json;
      json.String("address", global.address).String("status", status);
      if (!error.ok()) json.String("error", std::string(error.message()));
      PrintLine(json.str());
    }
    if (!error.ok()) return ReportFailure(global, "health", error);
    if (!global.json) PrintLine(std::string(status));
    return status == "SERVING" ? kExitOk : kExitFailure;
  };

  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Reach(global);
  if (!channel.ok()) return report("UNREACHABLE", channel.status());
  auto stub = grpc::health::v1::Health::NewStub(*channel);
  std::unique_ptr<grpc::ClientContext> context = UnaryContext(global);
  grpc::health::v1::HealthCheckRequest request;  // "": the server as a whole
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(context.get(), request, &response);
  if (!status.ok()) return report("UNKNOWN", FromGrpc(status));
  return report(grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status()),
                absl::OkStatus());
}

int RunCluster(Invocation& invocation) {
  if (!invocation.ok()) return invocation.UsageError();
  absl::StatusOr<Admin> admin = Admin::Open(invocation.global);
  if (!admin.ok()) return ReportFailure(invocation.global, "cluster", admin.status());
  v1::ClusterResponse response;
  const absl::Status status =
      admin->Call(&v1::Admin::Stub::Cluster, v1::ClusterRequest(), &response);
  if (!status.ok()) return ReportFailure(invocation.global, "cluster", status);
  if (invocation.global.json) {
    std::vector<std::string> members;
    for (const v1::ClusterMember& member : response.members()) {
      members.push_back(JsonObject()
                            .String("node_id", member.node_id())
                            .String("address", member.address())
                            .str());
    }
    PrintLine(JsonObject()
                  .String("cluster", response.cluster_name())
                  .String("node_id", response.node_id())
                  .Integer("revision", response.revision())
                  .Raw("members", JsonArray(members))
                  .str());
    return kExitOk;
  }
  if (response.members().empty()) {
    std::printf("batond at %s runs alone (no --cluster_etcd)\n", invocation.global.address.c_str());
    return kExitOk;
  }
  std::printf("cluster %s: %d members (etcd revision %lld), asked node %s\n",
              response.cluster_name().c_str(), response.members_size(),
              static_cast<long long>(response.revision()), response.node_id().c_str());
  std::size_t width = std::string_view("NODE").size();
  for (const v1::ClusterMember& member : response.members()) {
    width = std::max(width, member.node_id().size());
  }
  std::printf("%-*s  %s\n", static_cast<int>(width), "NODE", "ADDRESS");
  for (const v1::ClusterMember& member : response.members()) {
    std::printf("%-*s  %s%s\n", static_cast<int>(width), member.node_id().c_str(),
                member.address().c_str(), member.node_id() == response.node_id() ? "  *" : "");
  }
  return kExitOk;
}

int RunLatchDeclare(Invocation& invocation) {
  v1::DeclareRequest request;
  if (invocation.ok()) {
    request.set_name(invocation.positional[0]);
    request.mutable_config()->set_kind(v1::KIND_MULTI_COUNT_DOWN_LATCH);
    std::map<std::string, std::int64_t> counts;
    for (std::size_t i = 1; i < invocation.positional.size(); ++i) {
      const std::string& arg = invocation.positional[i];
      const std::size_t eq = arg.find('=');
      std::int64_t count = 0;
      if (eq == 0 || eq == std::string::npos || !absl::SimpleAtoi(arg.substr(eq + 1), &count)) {
        invocation.Fail(absl::StrCat("expected KEY=COUNT (e.g. shards=4), got '", arg, "'"));
        break;
      }
      const std::string key = arg.substr(0, eq);
      if (count < 0) {
        // The server would take it as a finished counter: surely a typo.
        invocation.Fail(absl::StrCat("counts[\"", key, "\"]: must be >= 0, got ", count));
        break;
      }
      if (!counts.insert({key, count}).second) {
        invocation.Fail(absl::StrCat("counts[\"", key, "\"]: given twice"));
        break;
      }
    }
    for (const auto& [key, count] : counts) {
      v1::LatchParams::Count* entry = request.mutable_config()->mutable_latch()->add_counts();
      entry->set_key(key);
      entry->set_value(count);
    }
  }
  if (!invocation.ok()) return invocation.UsageError();
  const std::string what = absl::StrCat("latch declare ", request.name());
  absl::StatusOr<Admin> admin = Admin::Open(invocation.global);
  if (!admin.ok()) return ReportFailure(invocation.global, what, admin.status());
  v1::DeclareResponse response;
  absl::Status status = admin->Call(&v1::Admin::Stub::Declare, request, &response);
  if (!status.ok()) {
    return ReportDeclareConflict(invocation, what, request,
                                 CountsText(Sorted(request.config().latch())), status);
  }
  if (invocation.global.json) {
    PrintLine(JsonObject()
                  .String("name", request.name())
                  .Bool("created", response.created())
                  .Raw("counts", CountsJson(Sorted(request.config().latch())))
                  .str());
  } else {
    std::printf("latch %s %s\n", request.name().c_str(),
                response.created() ? "declared" : "exists as declared");
  }
  return kExitOk;
}

int RunRateLimit(Invocation& invocation) {
  const double tokens = invocation.DoubleOr("tokens", 1);
  const absl::Duration wait = invocation.DurationOr("wait", absl::ZeroDuration());
  if (tokens <= 0) invocation.Fail("--tokens: must be > 0");
  if ((invocation.Has("capacity") || invocation.Has("unfair")) && !invocation.Has("rate")) {
    invocation.Fail(absl::StrCat("--", invocation.Has("capacity") ? "capacity" : "unfair",
                                 " goes with --rate (they declare the rate limit)"));
  }
  v1::DeclareRequest declare;
  if (invocation.ok() && invocation.Has("rate")) {
    declare.set_name(invocation.positional[0]);
    declare.mutable_config()->set_kind(v1::KIND_ADVANCED_RATE_LIMIT);
    v1::RateLimitParams& params = *declare.mutable_config()->mutable_rate_limit();
    params.set_rate(invocation.DoubleOr("rate", 0));
    if (invocation.Has("capacity")) params.set_capacity(invocation.DoubleOr("capacity", 0));
    if (invocation.Has("unfair")) params.set_fair(false);
  }
  if (!invocation.ok()) return invocation.UsageError();
  const std::string& name = invocation.positional[0];
  const std::string what = absl::StrCat("ratelimit ", name);
  const GlobalOptions& global = invocation.global;

  absl::StatusOr<Admin> admin = Admin::Open(global);
  if (!admin.ok()) return ReportFailure(global, what, admin.status());
  if (invocation.Has("rate")) {
    v1::DeclareResponse declared;
    absl::Status status = admin->Call(&v1::Admin::Stub::Declare, declare, &declared);
    if (!status.ok()) {
      const v1::RateLimitParams& params = declare.config().rate_limit();
      const std::string asked =
          absl::StrCat("--rate ", FormatAmount(params.rate()), " --capacity ",
                       FormatAmount(params.has_capacity() ? params.capacity() : params.rate()),
                       params.has_fair() && !params.fair() ? " --unfair" : "");
      return ReportDeclareConflict(invocation, what, declare, asked, status);
    }
  }

  RateDecision decision;
  if (wait <= absl::ZeroDuration()) {
    v1::TryAcquireRequest request;
    request.set_name(name);
    request.set_tokens(tokens);
    v1::TryAcquireResponse response;
    absl::Status status = admin->Call(&v1::Admin::Stub::TryAcquire, request, &response);
    if (!status.ok()) {
      return ReportFailureOn(global, what, name, v1::KIND_ADVANCED_RATE_LIMIT, status);
    }
    decision.granted = response.allowed();
    decision.tokens_left = response.tokens_left();
    decision.retry_after = absl::Seconds(response.retry_after().seconds()) +
                           absl::Nanoseconds(response.retry_after().nanos());
  } else {
    absl::StatusOr<std::unique_ptr<Client>> client = ConnectClient(global, "ratelimit");
    if (!client.ok()) return ReportFailure(global, what, client.status());
    RateLimiter limiter(client->get(), name);
    absl::StatusOr<RateDecision> acquired = limiter.Acquire(tokens, {.timeout = wait}).Wait();
    if (!acquired.ok()) {
      return ReportFailureOn(global, what, name, v1::KIND_ADVANCED_RATE_LIMIT, acquired.status());
    }
    decision = *acquired;
  }

  if (global.json) {
    JsonObject json;
    json.String("name", name).Bool("granted", decision.granted);
    if (decision.granted) {
      json.Number("tokens_left", decision.tokens_left);
    } else if (wait <= absl::ZeroDuration()) {
      json.Number("retry_after_seconds", absl::ToDoubleSeconds(decision.retry_after));
    } else {
      json.Number("waited_seconds", absl::ToDoubleSeconds(wait));
    }
    PrintLine(json.str());
  } else if (decision.granted) {
    std::printf("granted: %s tokens left\n", FormatAmount(decision.tokens_left).c_str());
  } else if (wait <= absl::ZeroDuration()) {
    std::printf("refused: retry after %s\n", FormatSeconds(decision.retry_after).c_str());
  } else {
    std::printf("refused: not granted within %s\n", FormatSeconds(wait).c_str());
  }
  return decision.granted ? kExitOk : kExitFailure;
}

}  // namespace baton::cli

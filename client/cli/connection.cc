// Copyright 2026 The Baton Authors.

#include "client/cli/connection.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "baton/v1/admin.grpc.pb.h"
#include "client/cli/exit_codes.h"
#include "client/cli/format.h"
#include "client/cli/json.h"
#include "client/src/channel_credentials.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace baton::cli {
namespace {

constexpr char kUnreachable[] = "cannot reach batond at ";

// WhyUnreachable() asks gRPC for the last connection error, with a call
// that does not wait for the channel: "failed to connect to all addresses;
// last error: ... Connection refused".
std::string WhyUnreachable(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_wait_for_ready(false);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  if (status.ok() || status.error_message().empty()) return "no connection";
  return status.error_message();
}

// CommandFor() is how to use an instance of `kind` named `name` from the
// command line, for the message of a kind mismatch.
std::string CommandFor(v1::Kind kind, const std::string& name) {
  switch (kind) {
    case v1::KIND_PRIORITY_LOCK:
      return absl::StrCat("baton lock ", name, " -- CMD");
    case v1::KIND_PRIORITY_RLOCK:
      return absl::StrCat("baton lock ", name, " --kind priority-rlock -- CMD");
    case v1::KIND_RLOCK:
      return absl::StrCat("baton lock ", name, " --kind rlock -- CMD");
    case v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE:
      return absl::StrCat("baton semaphore ", name, " --bound N -- CMD, or baton set-bound ",
                          name, " N");
    case v1::KIND_PRIORITY_SEMAPHORE:
      return absl::StrCat("baton semaphore ", name,
                          " --kind priority --bound N -- CMD, or baton reset ", name);
    case v1::KIND_ADVANCED_RATE_LIMIT:
      return absl::StrCat("baton ratelimit ", name, ", or baton set-rate ", name, " RATE");
    case v1::KIND_MULTI_COUNT_DOWN_LATCH:
      return absl::StrCat("baton latch count-down ", name, " KEY, or baton latch wait ", name);
    case v1::KIND_KEYED_CONDITION:
      return absl::StrCat("baton notify ", name, " KEY, or baton wait ", name, " KEY");
    default:
      return absl::StrCat("baton describe ", name);
  }
}

// WithArticle() is "a PriorityLock", "an AdvancedRateLimit".
std::string WithArticle(v1::Kind kind) {
  const std::string name = KindName(kind);
  return absl::StrCat(absl::StrContains("AEIOU", name.front()) ? "an " : "a ", name);
}

constexpr char kAddressExamples[] = "e.g. 127.0.0.1:7070, [::1]:7070 or unix:/run/baton.sock";

}  // namespace

absl::Status ValidateAddress(const std::string& address_text) {
  const absl::string_view address = address_text;
  auto bad = [address](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("expected HOST:PORT (", kAddressExamples,
                                                   "), got '", address, "': ", why));
  };
  if (absl::StartsWith(address, "unix:")) {
    if (address.size() == 5) return bad("no socket path after unix:");
    return absl::OkStatus();
  }
  absl::string_view host, port;
  if (absl::StartsWith(address, "[")) {
    const std::size_t close = address.find(']');
    if (close == absl::string_view::npos) return bad("no ] after the IPv6 address");
    host = address.substr(1, close - 1);
    if (close + 1 >= address.size() || address[close + 1] != ':') return bad("no :PORT");
    port = address.substr(close + 2);
  } else {
    const std::size_t colon = address.rfind(':');
    if (colon == absl::string_view::npos) return bad("no :PORT");
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (absl::StrContains(host, ':')) return bad("an IPv6 address goes in brackets: [::1]:7070");
  }
  if (host.empty()) return bad("no host before the port");
  std::uint32_t number = 0;
  const bool digits =
      !port.empty() && std::all_of(port.begin(), port.end(), [](char c) {
        return absl::ascii_isdigit(static_cast<unsigned char>(c));
      });
  if (!digits || !absl::SimpleAtoi(port, &number) || number < 1 || number > 65535) {
    return bad(port.empty() ? std::string("no port after :")
                            : absl::StrCat("the port must be in 1..65535, got '", port, "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Reach(const GlobalOptions& global) {
  grpc::ChannelArguments args;
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      internal::ChannelCredentials(global.tls, &args);
  if (!credentials.ok()) return credentials.status();
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(global.address, *credentials, args);
  const auto deadline =
      std::chrono::system_clock::now() + absl::ToChronoMilliseconds(global.connect_timeout);
  // Follow the channel's states rather than WaitForConnected(), which keeps
  // retrying until the deadline: TRANSIENT_FAILURE means an attempt failed
  // (refused, no route, unknown host), and waiting longer would only hide it.
  grpc_connectivity_state state = channel->GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY) {
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) {
      return absl::UnavailableError(
          absl::StrCat(kUnreachable, global.address, ": ", WhyUnreachable(channel)));
    }
    if (!channel->WaitForStateChange(state, deadline)) {
      return absl::UnavailableError(absl::StrCat(kUnreachable, global.address, ": ",
                                                 "no connection within ",
                                                 absl::FormatDuration(global.connect_timeout),
                                                 " (--connect-timeout)"));
    }
    state = channel->GetState(/*try_to_connect=*/true);
  }
  return channel;
}

std::unique_ptr<grpc::ClientContext> UnaryContext(const GlobalOptions& global) {
  auto context = std::make_unique<grpc::ClientContext>();
  // Named in batond's audit line of an Admin mutation: who, from where.
  static const std::string client_name = [] {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    const char* user = std::getenv("USER");
    std::string name = absl::StrCat("baton CLI (", user != nullptr ? user : "?", "@", host, ")");
    // Metadata values must be printable ASCII, or the call fails.
    for (char& c : name) {
      if (c < 0x20 || c > 0x7e) c = '?';
    }
    return name;
  }();
  context->AddMetadata("baton-client-name", client_name);
  if (!global.token.empty()) context->AddMetadata("authorization", "Bearer " + global.token);
  context->set_deadline(std::chrono::system_clock::now() +
                        absl::ToChronoMilliseconds(global.connect_timeout));
  return context;
}

absl::StatusOr<std::unique_ptr<Client>> ConnectClient(const GlobalOptions& global,
                                                      const std::string& command) {
  // Reach first: its message says why batond cannot be reached.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> reached = Reach(global);
  if (!reached.ok()) return reached.status();
  ClientOptions options;
  options.address = global.address;
  options.tls = global.tls;
  options.token = global.token;
  options.client_name = absl::StrCat("baton ", command);
  options.connect_timeout = global.connect_timeout;
  return Client::Connect(std::move(options));
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

int ReportError(const GlobalOptions& global, std::string_view what, const Failure& failure) {
  if (global.json) {
    JsonObject json;
    json.String("command", what)
        .String("code", absl::StatusCodeToString(failure.code))
        .String("message", failure.message)
        .Integer("exit", failure.exit_code);
    for (const auto& [key, value] : failure.fields) json.String(key, value);
    std::fprintf(stderr, "%s\n", json.str().c_str());
  } else {
    std::fprintf(stderr, "baton: %.*s: %s\n", static_cast<int>(what.size()), what.data(),
                 failure.message.c_str());
  }
  return failure.exit_code;
}

int ReportFailure(const GlobalOptions& global, std::string_view what, const absl::Status& status) {
  const std::string message(status.message());
  if (status.code() == absl::StatusCode::kUnavailable) {
    return ReportError(global, what,
                       {.code = status.code(),
                        .message = absl::StartsWith(message, kUnreachable)
                                       ? message
                                       : absl::StrCat("batond at ", global.address,
                                                      " is unavailable: ", message),
                        .exit_code = kExitUnavailable});
  }
  return ReportError(
      global, what,
      {.code = status.code(),
       .message = absl::StrCat(absl::StatusCodeToString(status.code()), ": ", message),
       .exit_code = kExitFailure});
}

int ReportFailureOn(const GlobalOptions& global, std::string_view what, const std::string& name,
                    v1::Kind expected, const absl::Status& status) {
  if (status.code() == absl::StatusCode::kFailedPrecondition ||
      status.code() == absl::StatusCode::kAlreadyExists) {
    absl::StatusOr<v1::DescribeResponse> described = Describe(global, name);
    if (described.ok() && described->config().kind() != expected) {
      return ReportWrongKind(global, what, name, expected, described->config().kind());
    }
  }
  return ReportFailure(global, what, status);
}

int ReportWrongKind(const GlobalOptions& global, std::string_view what, const std::string& name,
                    v1::Kind expected, v1::Kind actual) {
  const std::string suggestion = CommandFor(actual, name);
  return ReportError(global, what,
                     {.code = absl::StatusCode::kFailedPrecondition,
                      .message = absl::StrCat("'", name, "' is ", WithArticle(actual),
                                              ", not ", WithArticle(expected), ": use ",
                                              suggestion),
                      .exit_code = kExitWrongKind,
                      .fields = {{"kind", KindName(actual)},
                                 {"expected_kind", KindName(expected)},
                                 {"suggestion", suggestion}}});
}

absl::StatusOr<v1::DescribeResponse> Describe(const GlobalOptions& global,
                                              const std::string& name) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = Reach(global);
  if (!channel.ok()) return channel.status();
  std::unique_ptr<v1::Admin::Stub> stub = v1::Admin::NewStub(*channel);
  v1::DescribeRequest request;
  request.set_name(name);
  v1::DescribeResponse response;
  std::unique_ptr<grpc::ClientContext> context = UnaryContext(global);
  const grpc::Status status = stub->Describe(context.get(), request, &response);
  if (!status.ok()) return FromGrpc(status);
  return response;
}

}  // namespace baton::cli

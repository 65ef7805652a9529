// Copyright 2026 The Baton Authors.

#include "client/cli/connection.h"

#include <chrono>
#include <cstdio>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/cli/exit_codes.h"
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

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> Reach(const GlobalOptions& global) {
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel(global.address, grpc::InsecureChannelCredentials());
  const auto deadline =
      std::chrono::system_clock::now() + absl::ToChronoMilliseconds(global.connect_timeout);
  if (!channel->WaitForConnected(deadline)) {
    return absl::UnavailableError(absl::StrCat(kUnreachable, global.address, ": ",
                                               WhyUnreachable(channel), " (tried for ",
                                               absl::FormatDuration(global.connect_timeout), ")"));
  }
  return channel;
}

std::unique_ptr<grpc::ClientContext> UnaryContext(const GlobalOptions& global) {
  auto context = std::make_unique<grpc::ClientContext>();
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
  options.client_name = absl::StrCat("baton ", command);
  options.connect_timeout = global.connect_timeout;
  return Client::Connect(std::move(options));
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

int ReportFailure(const GlobalOptions& global, std::string_view what, const absl::Status& status) {
  const std::string message(status.message());
  if (status.code() == absl::StatusCode::kUnavailable) {
    if (absl::StartsWith(message, kUnreachable)) {
      std::fprintf(stderr, "baton: %s\n", message.c_str());
    } else {
      std::fprintf(stderr, "baton: %.*s: batond at %s is unavailable: %s\n",
                   static_cast<int>(what.size()), what.data(), global.address.c_str(),
                   message.c_str());
    }
    return kExitUnavailable;
  }
  std::fprintf(stderr, "baton: %.*s: %s: %s\n", static_cast<int>(what.size()), what.data(),
               absl::StatusCodeToString(status.code()).c_str(), message.c_str());
  return kExitFailure;
}

}  // namespace baton::cli

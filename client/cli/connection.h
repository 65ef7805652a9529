// Copyright 2026 The Baton Authors.
//
// How `baton` reaches batond, and how it reports what went wrong: a channel
// for the unary calls (Admin, Health), a baton::Client for what needs a
// session, and one mapping from a failure to a message and an exit code.

#ifndef BATON_CLIENT_CLI_CONNECTION_H_
#define BATON_CLIENT_CLI_CONNECTION_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "baton/client.h"
#include "client/cli/commands.h"
#include "grpcpp/grpcpp.h"

namespace baton::cli {

// Reach() opens a channel to batond and waits up to the connect timeout for
// it to connect. Fails UNAVAILABLE "cannot reach batond at ADDR: why".
absl::StatusOr<std::shared_ptr<grpc::Channel>> Reach(const GlobalOptions& global);

// UnaryContext() is the context of one unary call: it fails after the
// connect timeout, as an unanswered call to a server that answers at once.
std::unique_ptr<grpc::ClientContext> UnaryContext(const GlobalOptions& global);

// ConnectClient() reaches batond and opens a session (client name
// "baton <command>").
absl::StatusOr<std::unique_ptr<Client>> ConnectClient(const GlobalOptions& global,
                                                      const std::string& command);

absl::Status FromGrpc(const grpc::Status& status);

// ReportFailure() prints why `what` failed on stderr and returns the exit
// code: kExitUnavailable for UNAVAILABLE (batond unreachable, gone or
// draining), kExitFailure for any other answer of the server ("baton: what:
// NOT_FOUND: instance 'x' not found").
int ReportFailure(const GlobalOptions& global, std::string_view what, const absl::Status& status);

}  // namespace baton::cli

#endif  // BATON_CLIENT_CLI_CONNECTION_H_

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

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "baton/client.h"
#include "baton/v1/admin.pb.h"
#include "client/cli/commands.h"
#include "grpcpp/grpcpp.h"

namespace baton::cli {

// ValidateAddress() checks an --addr or $BATON_ADDR before anything dials
// it: HOST:PORT, [IPv6]:PORT (a non-empty host, a port in 1..65535), or a
// unix:PATH socket. The error says what is wrong, for a usage error.
absl::Status ValidateAddress(const std::string& address);

// Reach() opens a channel to batond and waits up to the connect timeout for
// it to connect. Fails UNAVAILABLE "cannot reach batond at ADDR: why" as
// soon as the first connection attempt fails (refused, no route, unknown
// host): only a server that is reachable but slow uses the whole timeout.
absl::StatusOr<std::shared_ptr<grpc::Channel>> Reach(const GlobalOptions& global);

// UnaryContext() is the context of one unary call: it fails after the
// connect timeout, as an unanswered call to a server that answers at once.
std::unique_ptr<grpc::ClientContext> UnaryContext(const GlobalOptions& global);

// ConnectClient() reaches batond and opens a session (client name
// "baton <command>").
absl::StatusOr<std::unique_ptr<Client>> ConnectClient(const GlobalOptions& global,
                                                      const std::string& command);

absl::Status FromGrpc(const grpc::Status& status);

// Failure is one reason a command ends without success, as ReportError()
// prints it.
struct Failure {
  // The gRPC code that says what kind of failure it is: the server's
  // answer, or INVALID_ARGUMENT (usage), UNAVAILABLE (unreachable),
  // DEADLINE_EXCEEDED (--timeout), FAILED_PRECONDITION (another kind),
  // ABORTED (lease lost), NOT_FOUND (CMD not found).
  absl::StatusCode code = absl::StatusCode::kUnknown;
  // For people, without the "baton: WHAT: " prefix.
  std::string message;
  int exit_code = 1;
  // More string fields for --json ({"kind": "PriorityLock", ...}); text
  // output shows only the message.
  std::vector<std::pair<std::string, std::string>> fields;
};

// ReportError() is the one place where a failure is printed, on stderr:
// "baton: WHAT: MESSAGE" as text, or with --json one line
//   {"command":WHAT,"code":"NOT_FOUND","message":MESSAGE,"exit":1,...}
// Returns failure.exit_code.
int ReportError(const GlobalOptions& global, std::string_view what, const Failure& failure);

// ReportFailure() reports a failed call and returns the exit code:
// kExitUnavailable for UNAVAILABLE (batond unreachable, gone or draining),
// kExitFailure for any other answer of the server ("baton: what:
// NOT_FOUND: instance 'x' not found").
int ReportFailure(const GlobalOptions& global, std::string_view what, const absl::Status& status);

// ReportFailureOn() is ReportFailure() for a call on the instance `name`
// that the command uses as `expected`: when the server refused it because
// NAME is another kind (FAILED_PRECONDITION, or ALREADY_EXISTS from a
// Declare), it reports kExitWrongKind naming the command that fits.
int ReportFailureOn(const GlobalOptions& global, std::string_view what, const std::string& name,
                    v1::Kind expected, const absl::Status& status);

// ReportWrongKind() reports that `name` is `actual`, not `expected`, and
// which command (or --kind) to use instead; returns kExitWrongKind.
int ReportWrongKind(const GlobalOptions& global, std::string_view what, const std::string& name,
                    v1::Kind expected, v1::Kind actual);

// Describe() is Admin.Describe of `name` (for the messages above).
absl::StatusOr<v1::DescribeResponse> Describe(const GlobalOptions& global,
                                              const std::string& name);

}  // namespace baton::cli

#endif  // BATON_CLIENT_CLI_CONNECTION_H_

// Copyright 2026 The Baton Authors.
//
// Running a command while holding a lease (`baton lock`, `baton semaphore`):
// the process side of it. The command is started with posix_spawn (fork and
// exec in one call: the only safe way to start a process once gRPC's threads
// run), inherits stdin, stdout and stderr, and gets BATON_FENCE and
// BATON_LOCK in its environment.
//
// Signals: SignalChannel blocks SIGTERM, SIGINT, SIGHUP and SIGCHLD in the
// whole process and reads them from a signalfd, so the main thread sees them
// as events next to "the lease was lost". It must be opened before any other
// thread starts (before the first gRPC channel), so that every thread
// inherits the mask; the command gets the original mask back.
//
//   - SIGTERM, SIGINT, SIGHUP to baton: forwarded to the command; baton waits
//     for it to exit, releases, and exits with its code. A signal sent by the
//     terminal (Ctrl-C) reached the command already (same process group) and
//     is not sent twice.
//   - The lease lost (Hold::OnLost): the command gets SIGTERM, then SIGKILL
//     after kill_after; baton exits kExitLeaseLost.
//   - The same signals while still waiting for the lock cancel the wait:
//     baton exits 128 + the signal.
//
// Threads: everything here is for the main thread, except the OnLost
// callback that the client library runs on its dispatcher thread, which
// only writes to a pipe.

#ifndef BATON_CLIENT_CLI_RUN_COMMAND_H_
#define BATON_CLIENT_CLI_RUN_COMMAND_H_

#include <signal.h>

#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "baton/client.h"
#include "baton/v1/common.pb.h"
#include "client/cli/commands.h"

namespace baton::cli {

class SignalChannel {
 public:
  // Open() blocks the signals and opens the signalfd.
  static absl::StatusOr<std::unique_ptr<SignalChannel>> Open();
  ~SignalChannel();
  SignalChannel(const SignalChannel&) = delete;
  SignalChannel& operator=(const SignalChannel&) = delete;

  int fd() const { return fd_; }
  // The signal mask the process had before Open(), for the command.
  const sigset_t& original_mask() const { return original_mask_; }

 private:
  SignalChannel() = default;
  int fd_ = -1;
  sigset_t original_mask_;
};

// HeldCommand: what RunHeldCommand() needs.
struct HeldCommand {
  // For messages: "lock jobs/nightly".
  std::string what;
  // The instance's name (BATON_LOCK), and the kind the command uses it as.
  std::string name;
  v1::Kind kind = v1::KIND_PRIORITY_LOCK;
  // Starts the acquire; `stop` cancels it.
  std::function<Op<Hold>(std::stop_token stop)> acquire;
  // The --timeout given, for the message when it runs out (infinite: none).
  absl::Duration timeout = absl::InfiniteDuration();
  std::vector<std::string> argv;
  // How long the command has between SIGTERM and SIGKILL after a lost lease.
  absl::Duration kill_after = absl::Seconds(10);
};

// RunHeldCommand() acquires (interruptible by the signals), runs the command
// while holding, releases, and returns baton's exit code: the command's
// (128 + signal if it died of one), kExitTimeout, kExitLeaseLost,
// kExitCannotExecute / kExitCommandNotFound, or what ReportFailure() says.
int RunHeldCommand(const HeldCommand& command, SignalChannel& signals, const GlobalOptions& global);

}  // namespace baton::cli

#endif  // BATON_CLIENT_CLI_RUN_COMMAND_H_

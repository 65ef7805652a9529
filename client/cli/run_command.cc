// Copyright 2026 The Baton Authors.

#include "client/cli/run_command.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/cli/connection.h"
#include "client/cli/exit_codes.h"

extern char** environ;

namespace baton::cli {
namespace {

constexpr int kForwardedSignals[] = {SIGTERM, SIGINT, SIGHUP};

// WakePipe wakes poll() from another thread: Notify() makes fd() readable.
class WakePipe {
 public:
  WakePipe() {
    if (pipe2(fds_, O_CLOEXEC | O_NONBLOCK) != 0) fds_[0] = fds_[1] = -1;
  }
  ~WakePipe() {
    for (int fd : fds_) {
      if (fd >= 0) close(fd);
    }
  }
  WakePipe(const WakePipe&) = delete;
  WakePipe& operator=(const WakePipe&) = delete;

  int fd() const { return fds_[0]; }
  void Notify() {
    const char byte = 1;
    [[maybe_unused]] ssize_t ignored = write(fds_[1], &byte, 1);
  }

 private:
  int fds_[2];
};

// LostNotice carries Hold::OnLost's reason from the client's dispatcher
// thread to the main thread.
class LostNotice {
 public:
  void Set(const absl::Status& reason) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      reason_ = reason;
      lost_ = true;
    }
    wake_.Notify();
  }
  int fd() const { return wake_.fd(); }
  std::optional<absl::Status> reason() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!lost_) return std::nullopt;
    return reason_;
  }

 private:
  WakePipe wake_;
  std::mutex mu_;
  bool lost_ = false;    // guarded by mu_
  absl::Status reason_;  // guarded by mu_
};

bool IsForwarded(int signal) {
  for (int forwarded : kForwardedSignals) {
    if (forwarded == signal) return true;
  }
  return false;
}

// ReadSignals() reads every pending signal and returns those baton forwards,
// each with whether it came from the terminal (the kernel) or from kill().
struct Received {
  int signal = 0;
  bool from_terminal = false;
};
std::vector<Received> ReadSignals(const SignalChannel& signals) {
  std::vector<Received> received;
  signalfd_siginfo info;
  while (read(signals.fd(), &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
    const int signal = static_cast<int>(info.ssi_signo);
    if (IsForwarded(signal)) received.push_back({signal, info.ssi_code == SI_KERNEL});
  }
  return received;
}

// PollOnce() waits until one of `fds` is readable or `timeout` passes.
void PollOnce(std::vector<pollfd>& fds, absl::Duration timeout) {
  for (pollfd& fd : fds) fd.revents = 0;
  int timeout_ms = -1;
  if (timeout != absl::InfiniteDuration()) {
    timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(
        absl::Ceil(std::max(timeout, absl::ZeroDuration()), absl::Milliseconds(1))));
  }
  while (poll(fds.data(), fds.size(), timeout_ms) < 0 && errno == EINTR) {
  }
}

// Environment() is baton's environment for the command, with BATON_FENCE,
// BATON_LOCK and BATON_ADDR set.
std::vector<std::string> Environment(const HeldCommand& command, std::uint64_t fence,
                                     const GlobalOptions& global) {
  std::vector<std::string> env;
  for (char** var = environ; *var != nullptr; ++var) {
    const absl::string_view entry(*var);
    if (absl::StartsWith(entry, "BATON_FENCE=") || absl::StartsWith(entry, "BATON_LOCK=") ||
        absl::StartsWith(entry, "BATON_ADDR=")) {
      continue;
    }
    env.emplace_back(entry);
  }
  // A `baton` that CMD runs reaches the same batond the same way: the TLS
  // options given on the command line too (they win over the variables).
  for (auto [variable, value] : {std::pair{"BATON_TLS_CA", &global.tls.ca_file},
                                 std::pair{"BATON_TLS_CERT", &global.tls.cert_file},
                                 std::pair{"BATON_TLS_KEY", &global.tls.key_file},
                                 std::pair{"BATON_TLS_SERVER_NAME", &global.tls.server_name}}) {
    if (value->empty()) continue;
    const std::string prefix = absl::StrCat(variable, "=");
    std::erase_if(env, [&](const std::string& entry) { return absl::StartsWith(entry, prefix); });
    env.push_back(absl::StrCat(prefix, *value));
  }
  // And with the same token (the variable, not the file: the command may
  // not read the file).
  if (!global.token.empty()) {
    std::erase_if(env, [](const std::string& entry) {
      return absl::StartsWith(entry, "BATON_TOKEN=") || absl::StartsWith(entry, "BATON_TOKEN_FILE=");
    });
    env.push_back(absl::StrCat("BATON_TOKEN=", global.token));
  }
  env.push_back(absl::StrCat("BATON_FENCE=", fence));
  env.push_back(absl::StrCat("BATON_LOCK=", command.name));
  env.push_back(absl::StrCat("BATON_ADDR=", global.address));
  return env;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Spawn() starts the command with the signal mask and dispositions it would
// have had without baton. Returns its pid, or -1 and the errno in *error.
pid_t Spawn(const HeldCommand& command, std::vector<std::string> env, const SignalChannel& signals,
            int* error) {
  std::vector<std::string> args = command.argv;
  std::vector<char*> argv = CStrings(args);
  std::vector<char*> envp = CStrings(env);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int signal : {SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGPIPE}) sigaddset(&defaults, signal);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &signals.original_mask());
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  std::fflush(nullptr);  // what baton printed goes out before the command's output
  pid_t pid = -1;
  *error = posix_spawnp(&pid, argv[0], nullptr, &attr, argv.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  return *error == 0 ? pid : -1;
}

int ExitCodeOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return kExitSignalBase + WTERMSIG(wait_status);
  return kExitFailure;
}

// AcquireInterruptibly() runs the acquire on a helper thread while the main
// thread watches the signals; a signal cancels it. Returns the hold, or the
// exit code to leave with.
std::variant<Hold, int> AcquireInterruptibly(const HeldCommand& command, SignalChannel& signals,
                                             const GlobalOptions& global) {
  WakePipe done;
  std::stop_source stop;
  std::optional<absl::StatusOr<Hold>> result;
  std::thread waiter([&] {
    result.emplace(command.acquire(stop.get_token()).Wait());
    done.Notify();
  });
  int interrupted_by = 0;
  std::vector<pollfd> fds = {{signals.fd(), POLLIN, 0}, {done.fd(), POLLIN, 0}};
  while (true) {
    PollOnce(fds, absl::InfiniteDuration());
    if (fds[1].revents != 0) break;
    for (const Received& received : ReadSignals(signals)) {
      interrupted_by = received.signal;
      stop.request_stop();
    }
  }
  waiter.join();

  if (interrupted_by != 0) {
    // A hold that crossed is released by ~Hold.
    return ReportError(global, command.what,
                       {.code = absl::StatusCode::kCancelled,
                        .message = absl::StrCat("interrupted by SIG",
                                                sigabbrev_np(interrupted_by), " while waiting"),
                        .exit_code = kExitSignalBase + interrupted_by});
  }
  if (result->ok()) return *std::move(*result);
  const absl::Status& status = result->status();
  if (status.code() == absl::StatusCode::kDeadlineExceeded) {
    return ReportError(global, command.what,
                       {.code = status.code(),
                        .message = absl::StrCat("timed out after ",
                                                absl::FormatDuration(command.timeout),
                                                " waiting for it"),
                        .exit_code = kExitTimeout});
  }
  return ReportFailureOn(global, command.what, command.name, command.kind, status);
}

void ReportLeaseLost(const GlobalOptions& global, const HeldCommand& command,
                     std::string message) {
  ReportError(global, command.what,
              {.code = absl::StatusCode::kAborted,
               .message = std::move(message),
               .exit_code = kExitLeaseLost});
}

// RunWhileHeld() runs the command under `hold` and returns baton's exit code.
int RunWhileHeld(const HeldCommand& command, Hold& hold, SignalChannel& signals,
                 const GlobalOptions& global) {
  auto lost = std::make_shared<LostNotice>();
  hold.OnLost([lost](const absl::Status& reason) { lost->Set(reason); });

  int error = 0;
  const pid_t pid = Spawn(command, Environment(command, hold.fence(), global), signals, &error);
  if (pid < 0) {
    return ReportError(
        global, command.what,
        {.code = error == ENOENT ? absl::StatusCode::kNotFound
                                 : absl::StatusCode::kPermissionDenied,
         .message = absl::StrCat("cannot run '", command.argv[0], "': ", std::strerror(error)),
         .exit_code = error == ENOENT ? kExitCommandNotFound : kExitCannotExecute});
  }

  std::optional<absl::Time> kill_at;  // set once the lease is lost
  int wait_status = 0;
  std::vector<pollfd> fds = {{signals.fd(), POLLIN, 0}, {lost->fd(), POLLIN, 0}};
  while (true) {
    PollOnce(fds, kill_at.has_value() ? *kill_at - absl::Now() : absl::InfiniteDuration());
    for (const Received& received : ReadSignals(signals)) {
      // The terminal signals the whole foreground process group: the
      // command has it already.
      if (!received.from_terminal) kill(pid, received.signal);
    }
    if (waitpid(pid, &wait_status, WNOHANG) == pid) break;
    if (std::optional<absl::Status> reason = lost->reason();
        reason.has_value() && !kill_at.has_value()) {
      // Said now, while the command is stopping, not once it is gone.
      ReportLeaseLost(global, command,
                      absl::StrCat("lost the lease while '", command.argv[0], "' (pid ", pid,
                                   ") runs: ", reason->ToString(),
                                   "; sending it SIGTERM (SIGKILL in ",
                                   absl::FormatDuration(command.kill_after), ")"));
      kill(pid, SIGTERM);
      kill_at = absl::Now() + command.kill_after;
      fds.pop_back();  // the notice stays readable
    }
    if (kill_at.has_value() && absl::Now() >= *kill_at) {
      if (!global.json) {  // the JSON error was said with the SIGTERM
        std::fprintf(stderr, "baton: %s: '%s' still runs %s after SIGTERM: sending SIGKILL\n",
                     command.what.c_str(), command.argv[0].c_str(),
                     absl::FormatDuration(command.kill_after).c_str());
      }
      kill(pid, SIGKILL);
      kill_at = absl::InfiniteFuture();
    }
  }

  if (std::optional<absl::Status> reason = lost->reason(); reason.has_value()) {
    if (!kill_at.has_value()) {  // lost as the command ended: its work is in doubt
      ReportLeaseLost(global, command,
                      absl::StrCat("lost the lease while '", command.argv[0],
                                   "' ran: ", reason->ToString()));
    }
    return kExitLeaseLost;
  }
  const int exit_code = ExitCodeOf(wait_status);
  if (absl::StatusOr<Done> released = hold.Release().Wait(); !released.ok()) {
    // A warning: the exit code stays the command's.
    ReportError(global, command.what,
                {.code = released.status().code(),
                 .message = absl::StrCat("releasing it after '", command.argv[0],
                                         "' exited: ", released.status().ToString()),
                 .exit_code = exit_code});
  }
  return exit_code;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SignalChannel>> SignalChannel::Open() {
  std::unique_ptr<SignalChannel> channel(new SignalChannel());
  sigset_t set;
  sigemptyset(&set);
  for (int signal : kForwardedSignals) sigaddset(&set, signal);
  sigaddset(&set, SIGCHLD);
  if (const int error = pthread_sigmask(SIG_BLOCK, &set, &channel->original_mask_); error != 0) {
    return absl::InternalError(absl::StrCat("pthread_sigmask: ", std::strerror(error)));
  }
  channel->fd_ = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (channel->fd_ < 0)
    return absl::InternalError(absl::StrCat("signalfd: ", std::strerror(errno)));
  return channel;
}

SignalChannel::~SignalChannel() {
  if (fd_ >= 0) close(fd_);
}

int RunHeldCommand(const HeldCommand& command, SignalChannel& signals,
                   const GlobalOptions& global) {
  std::variant<Hold, int> acquired = AcquireInterruptibly(command, signals, global);
  if (const int* exit_code = std::get_if<int>(&acquired)) return *exit_code;
  return RunWhileHeld(command, std::get<Hold>(acquired), signals, global);
}

}  // namespace baton::cli

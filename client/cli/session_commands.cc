// Copyright 2026 The Baton Authors.
//
// The commands that need a session (a baton::Client): lock and semaphore
// (which run a command while holding, see run_command.h), latch count-down
// and wait, and the condition's notify and wait.

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "baton/client.h"
#include "client/cli/commands.h"
#include "client/cli/connection.h"
#include "client/cli/exit_codes.h"
#include "client/cli/run_command.h"

namespace baton::cli {
namespace {

// A deadline for a command's --timeout, shared by its steps.
class Budget {
 public:
  explicit Budget(absl::Duration timeout) : timeout_(timeout), deadline_(absl::Now() + timeout) {}
  absl::Duration timeout() const { return timeout_; }
  absl::Duration left() const {
    if (timeout_ == absl::InfiniteDuration()) return timeout_;
    return std::max(deadline_ - absl::Now(), absl::ZeroDuration());
  }

 private:
  absl::Duration timeout_;
  absl::Time deadline_;
};

int ReportTimeout(std::string_view what, absl::Duration timeout) {
  std::fprintf(stderr, "baton: %.*s: timed out after %s\n", static_cast<int>(what.size()),
               what.data(), absl::FormatDuration(timeout).c_str());
  return kExitTimeout;
}

// ReportWaitFailure(): a timeout is kExitTimeout, anything else a failure.
int ReportWaitFailure(const GlobalOptions& global, std::string_view what, const Budget& budget,
                      const absl::Status& status) {
  if (status.code() == absl::StatusCode::kDeadlineExceeded) {
    return ReportTimeout(what, budget.timeout());
  }
  return ReportFailure(global, what, status);
}

}  // namespace

int RunLock(Invocation& invocation) {
  const std::string kind = invocation.StringOr("kind", "priority");
  const std::int64_t priority = invocation.IntOr("priority", 0);
  const absl::Duration timeout = invocation.DurationOr("timeout", absl::InfiniteDuration());
  const absl::Duration kill_after = invocation.DurationOr("kill-after", absl::Seconds(10));
  if (kind != "priority" && kind != "rlock" && kind != "priority-rlock") {
    invocation.Fail(
        absl::StrCat("--kind: expected priority, rlock or priority-rlock, got '", kind, "'"));
  } else if (kind == "rlock" && invocation.Has("priority")) {
    invocation.Fail("--priority does not apply to --kind rlock, which serves in arrival order");
  }
  if (!invocation.ok()) return invocation.UsageError();
  const std::string& name = invocation.positional[0];
  const std::string what = absl::StrCat("lock ", name);

  // Before any thread starts: every thread must inherit the blocked signals.
  absl::StatusOr<std::unique_ptr<SignalChannel>> signals = SignalChannel::Open();
  if (!signals.ok()) return ReportFailure(invocation.global, what, signals.status());
  absl::StatusOr<std::unique_ptr<Client>> client = ConnectClient(invocation.global, "lock");
  if (!client.ok()) return ReportFailure(invocation.global, what, client.status());

  HeldCommand command{.what = what,
                      .name = name,
                      .timeout = timeout,
                      .argv = invocation.command,
                      .kill_after = kill_after};
  Client* session = client->get();
  command.acquire = [session, name, kind, priority, timeout](std::stop_token stop) {
    CallOptions options{.timeout = timeout, .stop = std::move(stop)};
    if (kind == "rlock") return RLock(session, name).Acquire(std::move(options));
    if (kind == "priority-rlock") {
      return PriorityRLock(session, name).Acquire(priority, std::move(options));
    }
    return PriorityLock(session, name).Acquire(priority, std::move(options));
  };
  return RunHeldCommand(command, **signals, invocation.global);
}

int RunSemaphore(Invocation& invocation) {
  const std::int64_t bound = invocation.IntOr("bound", -1);
  const absl::Duration timeout = invocation.DurationOr("timeout", absl::InfiniteDuration());
  const absl::Duration kill_after = invocation.DurationOr("kill-after", absl::Seconds(10));
  if (!invocation.Has("bound")) {
    invocation.Fail("--bound N is required: how many may hold the semaphore at once");
  } else if (invocation.ok() && bound < 0) {
    invocation.Fail("--bound: must be >= 0");
  }
  if (!invocation.ok()) return invocation.UsageError();
  const std::string& name = invocation.positional[0];
  const std::string what = absl::StrCat("semaphore ", name);

  absl::StatusOr<std::unique_ptr<SignalChannel>> signals = SignalChannel::Open();
  if (!signals.ok()) return ReportFailure(invocation.global, what, signals.status());
  absl::StatusOr<std::unique_ptr<Client>> client = ConnectClient(invocation.global, "semaphore");
  if (!client.ok()) return ReportFailure(invocation.global, what, client.status());

  DynamicBoundedSemaphore semaphore(client->get(), name);
  if (absl::StatusOr<Done> declared = semaphore.Declare(bound).Wait(); !declared.ok()) {
    if (declared.status().code() != absl::StatusCode::kAlreadyExists) {
      return ReportFailure(invocation.global, what, declared.status());
    }
    std::fprintf(stderr,
                 "baton: %s: it exists with another bound than --bound %lld (or is not a "
                 "semaphore): %s\n",
                 what.c_str(), static_cast<long long>(bound),
                 std::string(declared.status().message()).c_str());
    return kExitUsage;
  }
  HeldCommand command{.what = what,
                      .name = name,
                      .timeout = timeout,
                      .argv = invocation.command,
                      .kill_after = kill_after};
  command.acquire = [semaphore, timeout](std::stop_token stop) {
    DynamicBoundedSemaphore handle = semaphore;
    return handle.Acquire({.timeout = timeout, .stop = std::move(stop)});
  };
  return RunHeldCommand(command, **signals, invocation.global);
}

int RunLatchCountDown(Invocation& invocation) {
  if (!invocation.ok()) return invocation.UsageError();
  const std::string& name = invocation.positional[0];
  const std::string& key = invocation.positional[1];
  const std::string what = absl::StrCat("latch count-down ", name, " ", key);
  absl::StatusOr<std::unique_ptr<Client>> client = ConnectClient(invocation.global, "latch");
  if (!client.ok()) return ReportFailure(invocation.global, what, client.status());
  MultiCountDownLatch latch(client->get(), name);
  absl::StatusOr<Done> counted = latch.CountDown(key, invocation.Has("strict")).Wait();
  if (!counted.ok()) return ReportFailure(invocation.global, what, counted.status());
  std::printf("latch %s: counted down %s\n", name.c_str(), key.c_str());
  return kExitOk;
}

int RunLatchWait(Invocation& invocation) {
  const Budget budget(invocation.DurationOr("timeout", absl::InfiniteDuration()));
  if (!invocation.ok()) return invocation.UsageError();
  const std::string& name = invocation.positional[0];
  const bool one_key = invocation.positional.size() > 1;
  const std::string key = one_key ? invocation.positional[1] : "";
  const std::string what = absl::StrCat("latch wait ", name, one_key ? " " : "", key);
  absl::StatusOr<std::unique_ptr<Client>> client = ConnectClient(invocation.global, "latch");
  if (!client.ok()) return ReportFailure(invocation.global, what, client.status());
  MultiCountDownLatch latch(client->get(), name);
  absl::StatusOr<Done> done = one_key ? latch.Wait(key, false, {.timeout = budget.left()}).Wait()
                                      : latch.WaitAll({.timeout = budget.left()}).Wait();
  if (!done.ok()) return ReportWaitFailure(invocation.global, what, budget, done.status());
  if (one_key) {
    std::printf("latch %s: %s reached zero\n", name.c_str(), key.c_str());
  } else {
    std::printf("latch %s: every key reached zero\n", name.c_str());
  }
  return kExitOk;
}

int RunNotify(Invocation& invocation) {
  const Budget budget(invocation.DurationOr("timeout", absl::InfiniteDuration()));
  if (!invocation.ok()) return invocation.UsageError();
  const std::string& name = invocation.positional[0];
  const std::string& key = invocation.positional[1];
  const std::string what = absl::StrCat("notify ", name, " ", key);
  absl::StatusOr<std::unique_ptr<Client>> client = ConnectClient(invocation.global, "notify");
  if (!client.ok()) return ReportFailure(invocation.global, what, client.status());
  KeyedCondition condition(client->get(), name);
  absl::StatusOr<Hold> hold = condition.Acquire({.timeout = budget.left()}).Wait();
  if (!hold.ok()) return ReportWaitFailure(invocation.global, what, budget, hold.status());
  absl::StatusOr<std::int64_t> woken =
      invocation.Has("all") ? condition.NotifyAll(key).Wait() : condition.Notify(key).Wait();
  absl::StatusOr<Done> released = hold->Release().Wait();
  if (!woken.ok()) return ReportFailure(invocation.global, what, woken.status());
  if (!released.ok()) return ReportFailure(invocation.global, what, released.status());
  std::printf("notified %lld waiter%s of %s key %s\n", static_cast<long long>(*woken),
              *woken == 1 ? "" : "s", name.c_str(), key.c_str());
  return kExitOk;
}

int RunWait(Invocation& invocation) {
  const Budget budget(invocation.DurationOr("timeout", absl::InfiniteDuration()));
  if (!invocation.ok()) return invocation.UsageError();
  const std::string& name = invocation.positional[0];
  const std::string& key = invocation.positional[1];
  const std::string what = absl::StrCat("wait ", name, " ", key);
  absl::StatusOr<std::unique_ptr<Client>> client = ConnectClient(invocation.global, "wait");
  if (!client.ok()) return ReportFailure(invocation.global, what, client.status());
  KeyedCondition condition(client->get(), name);
  absl::StatusOr<Hold> hold = condition.Acquire({.timeout = budget.left()}).Wait();
  if (!hold.ok()) return ReportWaitFailure(invocation.global, what, budget, hold.status());
  absl::StatusOr<ConditionWake> wake = condition.Wait(key, {.timeout = budget.left()}).Wait();
  absl::StatusOr<Done> released = hold->Release().Wait();
  if (!wake.ok()) return ReportWaitFailure(invocation.global, what, budget, wake.status());
  if (!wake->notified) return ReportTimeout(what, budget.timeout());
  if (!released.ok()) return ReportFailure(invocation.global, what, released.status());
  std::printf("notified: %s key %s\n", name.c_str(), key.c_str());
  return kExitOk;
}

}  // namespace baton::cli

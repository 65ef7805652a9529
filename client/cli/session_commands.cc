// Copyright 2026 The Baton Authors.
//
// The commands that need a session (a baton::Client): lock and semaphore
// (which run a command while holding, see run_command.h), latch count-down
// and wait, and the condition's notify and wait.

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "baton/client.h"
#include "client/cli/commands.h"
#include "client/cli/connection.h"
#include "client/cli/exit_codes.h"
#include "client/cli/format.h"
#include "client/cli/json.h"
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

void PrintLine(const std::string& line) { std::printf("%s\n", line.c_str()); }

int ReportTimeout(const GlobalOptions& global, std::string_view what, absl::Duration timeout) {
  return ReportError(global, what,
                     {.code = absl::StatusCode::kDeadlineExceeded,
                      .message = absl::StrCat("timed out after ", absl::FormatDuration(timeout)),
                      .exit_code = kExitTimeout});
}

// ReportWaitFailure(): a timeout is kExitTimeout, anything else a failure on
// the instance `name` of kind `expected`.
int ReportWaitFailure(const GlobalOptions& global, std::string_view what, const std::string& name,
                      v1::Kind expected, const Budget& budget, const absl::Status& status) {
  if (status.code() == absl::StatusCode::kDeadlineExceeded) {
    return ReportTimeout(global, what, budget.timeout());
  }
  return ReportFailureOn(global, what, name, expected, status);
}

// LatchKeys() are the keys of the latch NAME, from a describe ("a, b"); empty
// when it cannot be described.
std::string LatchKeys(const GlobalOptions& global, const std::string& name) {
  absl::StatusOr<v1::DescribeResponse> described = Describe(global, name);
  if (!described.ok()) return "";
  std::vector<std::string> keys;
  for (const auto& [key, count] : described->state().counts()) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  return keys.empty() ? "none" : absl::StrJoin(keys, ", ");
}

// ReportLatchFailure() reports what a strict count-down or wait of `key`
// was answered: an unknown key names the latch's keys.
int ReportLatchFailure(const GlobalOptions& global, std::string_view what, const std::string& name,
                       const std::string& key, const absl::Status& status) {
  if (status.code() == absl::StatusCode::kNotFound) {
    // NOT_FOUND is the key or the latch itself (not declared).
    if (std::string keys = LatchKeys(global, name); !keys.empty()) {
      return ReportError(
          global, what,
          {.code = absl::StatusCode::kNotFound,
           .message = absl::StrCat("the latch ", name, " has no key '", key, "'; its keys: ", keys,
                                   " (--lenient accepts an unknown key as done)"),
           .exit_code = kExitFailure,
           .fields = {{"key", key}, {"keys", keys}}});
    }
  }
  return ReportFailureOn(global, what, name, v1::KIND_MULTI_COUNT_DOWN_LATCH, status);
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
                      .kind = kind == "rlock"            ? v1::KIND_RLOCK
                              : kind == "priority-rlock" ? v1::KIND_PRIORITY_RLOCK
                                                         : v1::KIND_PRIORITY_LOCK,
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

namespace {

// ReportSemaphoreConflict() reports a Declare refused with ALREADY_EXISTS:
// another kind (kExitWrongKind), or another bound, naming both the bound
// NAME has and the one asked (kExitUsage). Only the server decides that
// there is a conflict; this only explains it.
int ReportSemaphoreConflict(const GlobalOptions& global, std::string_view what,
                            const std::string& name, v1::Kind kind, std::int64_t bound,
                            const absl::Status& status) {
  absl::StatusOr<v1::DescribeResponse> described = Describe(global, name);
  if (described.ok() && described->config().kind() != kind) {
    return ReportWrongKind(global, what, name, kind, described->config().kind());
  }
  std::string existing;
  std::string message;
  if (described.ok()) {
    const std::int64_t declared = described->config().semaphore().has_value()
                                      ? described->config().semaphore().value()
                                      : 1;
    if (kind == v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE) {
      // Describe shows the live bound; batond's message says what NAME was
      // declared with, when that differs ("value is 8 now (its bound;
      // declared 1), asked 3").
      const std::int64_t live = described->state().bound();
      existing = absl::StrCat(live);
      message = absl::StrCat("'", name, "' exists with bound ", live, ", not --bound ", bound,
                             ": use --bound ", live, ", or change it with baton set-bound ",
                             name, " ", bound, " (batond: ", status.message(), ")");
    } else {
      existing = absl::StrCat(declared);
      message = absl::StrCat("'", name, "' exists with bound (initial value) ", declared,
                             ", not --bound ", bound, ": use --bound ", declared);
    }
  } else {
    message = absl::StrCat("it exists with another bound than --bound ", bound, ": ",
                           status.message());
  }
  return ReportError(global, what,
                     {.code = status.code(),
                      .message = message,
                      .exit_code = kExitUsage,
                      .fields = {{"existing", existing}, {"asked", absl::StrCat(bound)}}});
}

}  // namespace

int RunSemaphore(Invocation& invocation) {
  const std::string kind_arg = invocation.StringOr("kind", "dynamic");
  const std::int64_t bound = invocation.IntOr("bound", -1);
  const std::int64_t priority = invocation.IntOr("priority", 0);
  const absl::Duration timeout = invocation.DurationOr("timeout", absl::InfiniteDuration());
  const absl::Duration kill_after = invocation.DurationOr("kill-after", absl::Seconds(10));
  if (kind_arg != "dynamic" && kind_arg != "priority") {
    invocation.Fail(absl::StrCat("--kind: expected dynamic or priority, got '", kind_arg, "'"));
  } else if (kind_arg == "dynamic" && invocation.Has("priority")) {
    invocation.Fail(
        "--priority goes with --kind priority: a dynamic semaphore serves in arrival order");
  }
  if (!invocation.Has("bound")) {
    invocation.Fail("--bound N is required: how many may hold the semaphore at once");
  } else if (invocation.ok() && bound < 0) {
    invocation.Fail("--bound: must be >= 0");
  }
  if (!invocation.ok()) return invocation.UsageError();
  const bool by_priority = kind_arg == "priority";
  const v1::Kind kind =
      by_priority ? v1::KIND_PRIORITY_SEMAPHORE : v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE;
  const std::string& name = invocation.positional[0];
  const std::string what = absl::StrCat("semaphore ", name);

  absl::StatusOr<std::unique_ptr<SignalChannel>> signals = SignalChannel::Open();
  if (!signals.ok()) return ReportFailure(invocation.global, what, signals.status());
  absl::StatusOr<std::unique_ptr<Client>> client = ConnectClient(invocation.global, "semaphore");
  if (!client.ok()) return ReportFailure(invocation.global, what, client.status());

  Client* session = client->get();
  absl::StatusOr<Done> declared =
      by_priority ? PrioritySemaphore(session, name).Declare(bound).Wait()
                  : DynamicBoundedSemaphore(session, name).Declare(bound).Wait();
  if (!declared.ok()) {
    if (declared.status().code() != absl::StatusCode::kAlreadyExists) {
      return ReportFailureOn(invocation.global, what, name, kind, declared.status());
    }
    return ReportSemaphoreConflict(invocation.global, what, name, kind, bound, declared.status());
  }
  HeldCommand command{.what = what,
                      .name = name,
                      .kind = kind,
                      .timeout = timeout,
                      .argv = invocation.command,
                      .kill_after = kill_after};
  command.acquire = [session, name, by_priority, priority, timeout](std::stop_token stop) {
    CallOptions options{.timeout = timeout, .stop = std::move(stop)};
    if (by_priority) return PrioritySemaphore(session, name).Acquire(priority, std::move(options));
    return DynamicBoundedSemaphore(session, name).Acquire(std::move(options));
  };
  return RunHeldCommand(command, **signals, invocation.global);
}

int RunLatchCountDown(Invocation& invocation) {
  const bool all = invocation.Has("all");
  const bool one_key = invocation.positional.size() > 1;
  if (invocation.ok() && all == one_key) {
    invocation.Fail(all ? "KEY or --all, not both" : "which key? give KEY, or --all");
  }
  if (invocation.Has("strict") && invocation.Has("lenient")) {
    invocation.Fail("--strict or --lenient, not both");
  }
  if (!invocation.ok()) return invocation.UsageError();
  const GlobalOptions& global = invocation.global;
  const std::string& name = invocation.positional[0];
  const std::string key = one_key ? invocation.positional[1] : "";
  const std::string what = absl::StrCat("latch count-down ", name, one_key ? " " : "", key);
  absl::StatusOr<std::unique_ptr<Client>> client = ConnectClient(global, "latch");
  if (!client.ok()) return ReportFailure(global, what, client.status());
  MultiCountDownLatch latch(client->get(), name);

  if (all) {
    absl::StatusOr<Done> counted = latch.CountDownAll().Wait();
    if (!counted.ok()) {
      return ReportFailureOn(global, what, name, v1::KIND_MULTI_COUNT_DOWN_LATCH,
                             counted.status());
    }
    PrintLine(global.json ? JsonObject().String("name", name).Bool("counted_down", true).str()
                          : absl::StrCat("latch ", name, ": counted down every key"));
    return kExitOk;
  }
  // --lenient: the server's answer is OK whether it counted or not, so the
  // latch's keys (fixed for its life) and counts say which it was. A key it
  // does not have is reported, and nothing is sent.
  bool at_zero_already = false;
  bool known_key = true;
  if (invocation.Has("lenient")) {
    absl::StatusOr<v1::DescribeResponse> described = Describe(global, name);
    if (described.ok() && described->config().kind() == v1::KIND_MULTI_COUNT_DOWN_LATCH) {
      const auto it = described->state().counts().find(key);
      known_key = it != described->state().counts().end();
      at_zero_already = known_key && it->second == 0;
    }
  }
  if (!known_key || at_zero_already) {
    if (global.json) {
      PrintLine(JsonObject()
                    .String("name", name)
                    .String("key", key)
                    .Bool("counted_down", false)
                    .Bool("known_key", known_key)
                    .str());
    } else if (!known_key) {
      PrintLine(absl::StrCat("latch ", name, " has no key ", key,
                             ": nothing counted down (--lenient)"));
    } else {
      PrintLine(absl::StrCat("latch ", name, ": ", key, " was at zero already"));
    }
    return kExitOk;
  }
  // The server's strict mode tells an unknown key (NOT_FOUND) and a finished
  // one (FAILED_PRECONDITION) from a count-down, changing nothing for either.
  absl::StatusOr<Done> counted = latch.CountDown(key, !invocation.Has("lenient")).Wait();
  if (!counted.ok()) {
    const absl::Status& status = counted.status();
    if (status.code() != absl::StatusCode::kFailedPrecondition) {
      return ReportLatchFailure(global, what, name, key, status);
    }
    absl::StatusOr<v1::DescribeResponse> described = Describe(global, name);
    if (!described.ok() || described->config().kind() != v1::KIND_MULTI_COUNT_DOWN_LATCH) {
      return ReportFailureOn(global, what, name, v1::KIND_MULTI_COUNT_DOWN_LATCH, status);
    }
    if (invocation.Has("strict")) {
      return ReportError(global, what,
                         {.code = status.code(),
                          .message = absl::StrCat(key, " is at zero already"),
                          .exit_code = kExitFailure});
    }
    at_zero_already = true;
  }
  if (global.json) {
    PrintLine(JsonObject()
                  .String("name", name)
                  .String("key", key)
                  .Bool("counted_down", !at_zero_already)
                  .str());
  } else if (at_zero_already) {
    PrintLine(absl::StrCat("latch ", name, ": ", key, " was at zero already"));
  } else {
    PrintLine(absl::StrCat("latch ", name, ": counted down ", key));
  }
  return kExitOk;
}

int RunLatchWait(Invocation& invocation) {
  const Budget budget(invocation.DurationOr("timeout", absl::InfiniteDuration()));
  const bool one_key = invocation.positional.size() > 1;
  if (invocation.Has("lenient") && !one_key) invocation.Fail("--lenient goes with a KEY");
  if (!invocation.ok()) return invocation.UsageError();
  const GlobalOptions& global = invocation.global;
  const std::string& name = invocation.positional[0];
  const std::string key = one_key ? invocation.positional[1] : "";
  const std::string what = absl::StrCat("latch wait ", name, one_key ? " " : "", key);
  absl::StatusOr<std::unique_ptr<Client>> client = ConnectClient(global, "latch");
  if (!client.ok()) return ReportFailure(global, what, client.status());
  MultiCountDownLatch latch(client->get(), name);
  const bool strict = !invocation.Has("lenient");
  absl::StatusOr<Done> done = one_key
                                  ? latch.Wait(key, strict, {.timeout = budget.left()}).Wait()
                                  : latch.WaitAll({.timeout = budget.left()}).Wait();
  if (!done.ok()) {
    if (done.status().code() == absl::StatusCode::kDeadlineExceeded) {
      return ReportTimeout(global, what, budget.timeout());
    }
    return ReportLatchFailure(global, what, name, key, done.status());
  }
  if (global.json) {
    JsonObject json;
    json.String("name", name);
    if (one_key) json.String("key", key);
    PrintLine(json.Bool("reached_zero", true).str());
  } else if (one_key) {
    PrintLine(absl::StrCat("latch ", name, ": ", key, " reached zero"));
  } else {
    PrintLine(absl::StrCat("latch ", name, ": every key reached zero"));
  }
  return kExitOk;
}

int RunNotify(Invocation& invocation) {
  const Budget budget(invocation.DurationOr("timeout", absl::InfiniteDuration()));
  const std::int64_t count = invocation.IntOr("count", 1);
  const bool all = invocation.Has("all");
  const bool one_key = invocation.positional.size() > 1;
  if (invocation.Has("count") && count < 1) invocation.Fail("--count: must be >= 1");
  if (all && (invocation.Has("count") || invocation.Has("strict"))) {
    invocation.Fail("--all wakes every waiter: not with --count or --strict");
  }
  if (invocation.Has("strict") && !invocation.Has("count")) {
    invocation.Fail("--strict goes with --count N");
  }
  if (!one_key && !all) invocation.Fail("which key? give KEY, or --all for every key");
  if (!invocation.ok()) return invocation.UsageError();
  const GlobalOptions& global = invocation.global;
  const std::string& name = invocation.positional[0];
  const std::string key = one_key ? invocation.positional[1] : "";
  const std::string what = absl::StrCat("notify ", name, one_key ? " " : "", key);
  constexpr v1::Kind kKind = v1::KIND_KEYED_CONDITION;
  absl::StatusOr<std::unique_ptr<Client>> client = ConnectClient(global, "notify");
  if (!client.ok()) return ReportFailure(global, what, client.status());
  KeyedCondition condition(client->get(), name);
  absl::StatusOr<Hold> hold = condition.Acquire({.timeout = budget.left()}).Wait();
  if (!hold.ok()) return ReportWaitFailure(global, what, name, kKind, budget, hold.status());
  absl::StatusOr<std::int64_t> woken =
      all ? condition.NotifyAll(one_key ? std::optional<std::string>(key) : std::nullopt).Wait()
          : condition.Notify(key, count, invocation.Has("strict")).Wait();
  absl::StatusOr<Done> released = hold->Release().Wait();
  if (!woken.ok()) return ReportFailureOn(global, what, name, kKind, woken.status());
  if (!released.ok()) return ReportFailure(global, what, released.status());
  if (global.json) {
    JsonObject json;
    json.String("name", name);
    if (one_key) json.String("key", key);
    PrintLine(json.Integer("woken", *woken).str());
  } else {
    const std::string whose = one_key ? absl::StrCat("key ", key) : "every key";
    std::printf("notified %lld waiter%s of %s %s\n", static_cast<long long>(*woken),
                *woken == 1 ? "" : "s", name.c_str(), whose.c_str());
  }
  return kExitOk;
}

int RunWait(Invocation& invocation) {
  const Budget budget(invocation.DurationOr("timeout", absl::InfiniteDuration()));
  if (!invocation.ok()) return invocation.UsageError();
  const GlobalOptions& global = invocation.global;
  const std::string& name = invocation.positional[0];
  const std::string& key = invocation.positional[1];
  const std::string what = absl::StrCat("wait ", name, " ", key);
  constexpr v1::Kind kKind = v1::KIND_KEYED_CONDITION;
  absl::StatusOr<std::unique_ptr<Client>> client = ConnectClient(global, "wait");
  if (!client.ok()) return ReportFailure(global, what, client.status());
  KeyedCondition condition(client->get(), name);
  absl::StatusOr<Hold> hold = condition.Acquire({.timeout = budget.left()}).Wait();
  if (!hold.ok()) return ReportWaitFailure(global, what, name, kKind, budget, hold.status());
  absl::StatusOr<ConditionWake> wake = condition.Wait(key, {.timeout = budget.left()}).Wait();
  absl::StatusOr<Done> released = hold->Release().Wait();
  if (!wake.ok()) return ReportWaitFailure(global, what, name, kKind, budget, wake.status());
  if (!wake->notified) return ReportTimeout(global, what, budget.timeout());
  if (!released.ok()) return ReportFailure(global, what, released.status());
  if (global.json) {
    PrintLine(JsonObject().String("name", name).String("key", key).Bool("notified", true).str());
  } else {
    PrintLine(absl::StrCat("notified: ", name, " key ", key));
  }
  return kExitOk;
}

}  // namespace baton::cli

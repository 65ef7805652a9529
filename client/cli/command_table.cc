// Copyright 2026 The Baton Authors.
//
// The table of `baton` commands: their arguments, options, help text,
// examples and exit codes. The parser and `baton help` are made from it.

#include <string>
#include <vector>

#include "client/cli/commands.h"

namespace baton::cli {
namespace {

const OptionSpec kTimeout{"timeout", "T",
                          "give up after T (exit 3); default: wait as long as it takes"};
const OptionSpec kKillAfter{"kill-after", "T",
                            "after a lost lease, CMD has T between SIGTERM and SIGKILL "
                            "(default 10s)"};

constexpr char kRunExitCodes[] =
    "  CMD's exit code     CMD ran and exited (128+N if it died of signal N)\n"
    "  2                   usage error\n"
    "  3                   --timeout ran out before it was granted\n"
    "  69                  batond cannot be reached\n"
    "  75                  the lease was lost while CMD ran; CMD was stopped\n"
    "  126, 127            CMD cannot be executed, or was not found\n"
    "  128+N               baton got signal N while waiting\n";

constexpr char kRunSignals[] =
    "CMD inherits stdin, stdout and stderr, and gets BATON_LOCK=<name>, "
    "BATON_FENCE=<fencing token> and BATON_ADDR in its environment: tag what CMD writes "
    "with BATON_FENCE so that a store can refuse a stale holder. SIGTERM, SIGINT and "
    "SIGHUP sent to baton are passed on to CMD; baton waits for CMD, releases, and exits "
    "with CMD's code. If the lease is lost while CMD runs (batond restarted or became "
    "unreachable past its keepalive, or an operator deleted the instance), someone else "
    "may get it: baton sends CMD SIGTERM (SIGKILL after --kill-after), says why on "
    "stderr, and exits 75, as `consul lock` does.";

std::vector<CommandSpec> MakeCommands() {
  std::vector<CommandSpec> commands;
  commands.push_back({
      .name = "lock",
      .arguments = "NAME [options] -- CMD [ARGS...]",
      .summary = "run CMD while holding the lock NAME",
      .description =
          std::string("Waits for the lock NAME (a PriorityLock unless --kind says otherwise; "
                      "created on first use), runs CMD while holding it, and releases it when "
                      "CMD exits. Two `baton lock NAME` anywhere never run their commands at "
                      "the same time. ") +
          kRunSignals,
      .options = {{"priority", "P",
                   "waiters with a higher P are served first (default 0; not with "
                   "--kind rlock)"},
                  kTimeout,
                  {"kind", "K",
                   "priority (PriorityLock, default), rlock (RLock, first come first "
                   "served) or priority-rlock (PriorityRLock): use the kind NAME has"},
                  kKillAfter},
      .examples =
          {"baton lock jobs/nightly -- ./nightly.sh --full",
           "baton lock db/migrate --timeout 30s -- sh -c 'migrate --fence \"$BATON_FENCE\"'"},
      .exit_codes = kRunExitCodes,
      .min_positional = 1,
      .max_positional = 1,
      .takes_command = true,
      .run = RunLock,
  });
  commands.push_back({
      .name = "semaphore",
      .arguments = "NAME --bound N [options] -- CMD [ARGS...]",
      .summary = "run CMD while holding one of N permits of NAME",
      .description =
          std::string("Like lock, with up to N holders at once: takes a permit of the "
                      "DynamicBoundedSemaphore NAME (declared with bound N if it does not "
                      "exist), runs CMD, gives the permit back. If NAME exists with another "
                      "bound (or is not a semaphore) baton says so and exits 2; an operator "
                      "changes the bound of a live semaphore with `baton set-bound`. ") +
          kRunSignals,
      .options = {{"bound", "N", "how many may hold it at once (required)"}, kTimeout, kKillAfter},
      .examples = {"baton semaphore render/gpu --bound 2 -- ./render.sh scene.blend"},
      .exit_codes = std::string(kRunExitCodes) +
                    "  2                   also: NAME exists with another bound\n",
      .min_positional = 1,
      .max_positional = 1,
      .takes_command = true,
      .run = RunSemaphore,
  });
  commands.push_back({
      .name = "ratelimit",
      .arguments = "NAME [--rate R [--capacity C]] [--tokens N] [--wait T]",
      .summary = "take tokens from the rate limit NAME (exit 1 when refused)",
      .description =
          "Takes N tokens (default 1) from the token bucket NAME, shared by everyone who "
          "uses the name. With --rate, declares it first if it does not exist: R tokens per "
          "second, at most C in the bucket (default C = R), starting full. Without --wait "
          "it tries once: granted prints the tokens left and exits 0; refused prints how "
          "long until N tokens would be there ('refused: retry after 0.250s') and exits 1. "
          "With --wait T it queues up to T for its turn.",
      .options = {{"rate", "R", "tokens added per second (declares NAME if needed)"},
                  {"capacity", "C", "most tokens the bucket holds (default R)"},
                  {"tokens", "N", "tokens to take (default 1; may be fractional)"},
                  {"wait", "T", "wait up to T for the tokens (default 0: try once)"}},
      .examples = {"baton ratelimit api/github --rate 10 --capacity 50 && curl ...",
                   "baton ratelimit api/github --tokens 5 --wait 30s --json"},
      .exit_codes = "  0  granted\n  1  refused (or a server error)\n  2  usage error, or "
                    "NAME exists with another rate or capacity\n  69 batond cannot be "
                    "reached\n",
      .min_positional = 1,
      .max_positional = 1,
      .run = RunRateLimit,
  });
  commands.push_back({
      .name = "latch declare",
      .arguments = "NAME KEY=COUNT...",
      .summary = "create the countdown latch NAME with a counter per key",
      .description =
          "Creates the MultiCountDownLatch NAME with one counter per KEY, starting at "
          "COUNT. Declaring it again the same way is fine; with other counts it exits 2.",
      .examples = {"baton latch declare deploy/ready db=1 cache=3"},
      .exit_codes = "  0  declared, or exists as declared\n  2  usage error, or NAME "
                    "exists with other counts\n",
      .min_positional = 2,
      .max_positional = -1,
      .run = RunLatchDeclare,
  });
  commands.push_back({
      .name = "latch count-down",
      .arguments = "NAME KEY",
      .summary = "count the latch NAME's counter KEY down by one",
      .description = "Counts KEY of the latch NAME down by one (it stops at zero).",
      .options = {{"strict", "", "fail if KEY does not exist or is at zero already"}},
      .examples = {"baton latch count-down deploy/ready cache"},
      .exit_codes = "  0  counted down\n  1  a server error (NAME not declared, ...)\n",
      .min_positional = 2,
      .max_positional = 2,
      .run = RunLatchCountDown,
  });
  commands.push_back({
      .name = "latch wait",
      .arguments = "NAME [KEY] [--timeout T]",
      .summary = "wait until the latch's KEY (or every key) is at zero",
      .description = "Waits until counter KEY of the latch NAME reaches zero; without KEY, "
                     "until every counter does.",
      .options = {kTimeout},
      .examples = {"baton latch wait deploy/ready --timeout 5m && ./start-traffic.sh"},
      .exit_codes = "  0  reached zero\n  3  --timeout ran out\n",
      .min_positional = 1,
      .max_positional = 2,
      .run = RunLatchWait,
  });
  commands.push_back({
      .name = "notify",
      .arguments = "NAME KEY [--all]",
      .summary = "wake the oldest waiter (or all) of the condition NAME's KEY",
      .description = "Takes the KeyedCondition NAME's lock, wakes the oldest `baton wait "
                     "NAME KEY` (every one with --all), and releases the lock. Prints how "
                     "many it woke; a notify with no waiter is not remembered.",
      .options = {{"all", "", "wake every waiter of KEY"},
                  {"timeout", "T", "give up waiting for the condition's lock after T"}},
      .examples = {"baton notify queue/jobs new-job"},
      .exit_codes = "  0  done (even if no one waited)\n  3  --timeout ran out\n",
      .min_positional = 2,
      .max_positional = 2,
      .run = RunNotify,
  });
  commands.push_back({
      .name = "wait",
      .arguments = "NAME KEY [--timeout T]",
      .summary = "wait for a notify of the condition NAME's KEY",
      .description = "Takes the KeyedCondition NAME's lock, waits (without it) for a "
                     "`baton notify NAME KEY`, and releases the lock again.",
      .options = {kTimeout},
      .examples = {"baton wait queue/jobs new-job --timeout 1m && ./drain-queue.sh"},
      .exit_codes = "  0  notified\n  3  --timeout ran out\n",
      .min_positional = 2,
      .max_positional = 2,
      .run = RunWait,
  });
  commands.push_back({
      .name = "describe",
      .arguments = "NAME",
      .summary = "show an instance: kind, parameters, state, holders",
      .description = "Shows everything batond knows of NAME: its kind and declared "
                     "parameters, its state now (held, tokens, permits, counters, "
                     "waiters, last fence) and who holds it.",
      .examples = {"baton describe jobs/nightly", "baton describe api/github --json"},
      .exit_codes = "  0  shown\n  1  NOT_FOUND or another server error\n",
      .min_positional = 1,
      .max_positional = 1,
      .run = RunDescribe,
  });
  commands.push_back({
      .name = "list",
      .arguments = "[PREFIX] [--kind K]",
      .summary = "list instances (by name prefix)",
      .description = "Lists the instances whose name starts with PREFIX (every one "
                     "without), with their kinds, in name order.",
      .options = {{"kind", "K", "only this kind (PriorityLock, AdvancedRateLimit, ...)"}},
      .examples = {"baton list jobs/", "baton list --kind AdvancedRateLimit --json"},
      .exit_codes = "  0  listed (possibly nothing)\n",
      .min_positional = 0,
      .max_positional = 1,
      .run = RunList,
  });
  commands.push_back({
      .name = "delete",
      .arguments = "NAME [--reason R]",
      .summary = "delete an instance; its holders lose it, its waiters fail",
      .description = "Deletes NAME for good: every hold is revoked (a `baton lock` running "
                     "under it stops its command and exits 75) and every wait fails. The "
                     "name can be used again afterwards.",
      .options = {{"reason", "R", "why, told to the holders and waiters"}},
      .examples = {"baton delete jobs/nightly --reason 'stuck holder'"},
      .exit_codes = "  0  deleted\n  1  NOT_FOUND or another server error\n",
      .min_positional = 1,
      .max_positional = 1,
      .run = RunDelete,
  });
  commands.push_back({
      .name = "set-rate",
      .arguments = "NAME RATE",
      .summary = "change a rate limit's rate (tokens per second), live",
      .description = "Sets the rate of the rate limit NAME; its capacity grows to RATE if "
                     "it was smaller.",
      .examples = {"baton set-rate api/github 20"},
      .exit_codes = "  0  changed\n  1  a server error\n",
      .min_positional = 2,
      .max_positional = 2,
      .run = RunSetRate,
  });
  commands.push_back({
      .name = "set-bound",
      .arguments = "NAME BOUND",
      .summary = "change a semaphore's bound, live",
      .description = "Sets the bound of the DynamicBoundedSemaphore NAME. Lowering it below "
                     "the permits out revokes nothing: newcomers wait until enough leave.",
      .examples = {"baton set-bound render/gpu 4"},
      .exit_codes = "  0  changed\n  1  a server error\n",
      .min_positional = 2,
      .max_positional = 2,
      .run = RunSetBound,
  });
  commands.push_back({
      .name = "reset",
      .arguments = "NAME",
      .summary = "reset a priority semaphore, revoking every permit",
      .description = "Returns the PrioritySemaphore NAME to its initial value; every "
                     "permit out is revoked.",
      .examples = {"baton reset pool/workers"},
      .exit_codes = "  0  reset\n  1  a server error\n",
      .min_positional = 1,
      .max_positional = 1,
      .run = RunReset,
  });
  commands.push_back({
      .name = "health",
      .arguments = "",
      .summary = "check that batond is SERVING (the container's HEALTHCHECK)",
      .description = "Asks batond's gRPC health service (grpc.health.v1) whether it "
                     "serves. A draining batond answers NOT_SERVING.",
      .examples = {"baton health", "baton --addr baton.coordination:7070 health --json"},
      .exit_codes = "  0  SERVING\n  1  NOT_SERVING or no answer\n  69 batond cannot be "
                    "reached\n",
      .run = RunHealth,
  });
  return commands;
}

}  // namespace

const std::vector<CommandSpec>& AllCommands() {
  static const std::vector<CommandSpec>* const commands =
      new std::vector<CommandSpec>(MakeCommands());
  return *commands;
}

const std::vector<OptionSpec>& GlobalOptionSpecs() {
  static const std::vector<OptionSpec>* const options = new std::vector<OptionSpec>{
      {"addr", "HOST:PORT", "batond's address (default: $BATON_ADDR, else 127.0.0.1:7070)"},
      {"json", "", "describe, list, ratelimit, health: one JSON object per line"},
      {"connect-timeout", "T", "how long to try to reach batond (default 5s)"},
      {"help", "", "show help (also: baton help COMMAND)"},
  };
  return *options;
}

}  // namespace baton::cli

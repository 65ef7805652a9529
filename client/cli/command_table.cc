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
    "  4                   NAME exists as another kind (the message says which command fits)\n"
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
    "unreachable past its keepalive, or an operator deleted or reset the instance), someone else "
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
                   "waiters with a lower P are served first, equal P in arrival order (default "
                   "0; -1 goes before 0; not with --kind rlock)"},
                  kTimeout,
                  {"kind", "K",
                   "priority (PriorityLock, default), rlock (RLock, first come first "
                   "served) or priority-rlock (PriorityRLock): use the kind NAME has"},
                  kKillAfter},
      .examples =
          {"baton lock jobs/nightly -- ./nightly.sh --full",
           "baton lock jobs/nightly --priority -1 -- ./hotfix.sh   # before the priority-0 waiters",
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
                      "semaphore NAME (declared with bound N if it does not exist), runs CMD, "
                      "gives the permit back. By default NAME is a DynamicBoundedSemaphore, "
                      "served in arrival order, whose bound an operator changes live with "
                      "`baton set-bound`; with --kind priority it is a PrioritySemaphore, "
                      "whose waiters are served by --priority (lower first) and which `baton "
                      "reset` returns to N permits, revoking those out. If NAME exists with "
                      "another bound baton names both and exits 2; if it is another kind, "
                      "exit 4. ") +
          kRunSignals,
      .options = {{"bound", "N",
                   "how many may hold it at once (required): the bound of a dynamic "
                   "semaphore, the initial permits of a priority one"},
                  {"kind", "K",
                   "dynamic (DynamicBoundedSemaphore, default) or priority "
                   "(PrioritySemaphore): use the kind NAME has"},
                  {"priority", "P",
                   "--kind priority: waiters with a lower P are served first, equal P in "
                   "arrival order (default 0)"},
                  kTimeout,
                  kKillAfter},
      .examples = {"baton semaphore render/gpu --bound 2 -- ./render.sh scene.blend",
                   "baton semaphore pool/workers --kind priority --bound 4 --priority -1 -- "
                   "./urgent-job.sh"},
      .exit_codes = std::string(kRunExitCodes) +
                    "  2                   also: NAME exists with another bound\n",
      .min_positional = 1,
      .max_positional = 1,
      .takes_command = true,
      .run = RunSemaphore,
  });
  commands.push_back({
      .name = "ratelimit",
      .arguments = "NAME [--rate R [--capacity C] [--unfair]] [--tokens N] [--wait T]",
      .summary = "take tokens from the rate limit NAME (exit 1 when refused)",
      .description =
          "Takes N tokens (default 1) from the token bucket NAME, shared by everyone who "
          "uses the name. With --rate, declares it first if it does not exist: R tokens per "
          "second, at most C in the bucket (default C = R), starting full. Without --wait "
          "it tries once: granted prints the tokens left and exits 0; refused prints how "
          "long until N tokens would be there ('refused: retry after 0.250s') and exits 1. "
          "With --wait T it queues up to T for its turn: first come first served, unless the "
          "bucket was declared --unfair, where any waiter whose N fits is served first (a "
          "large N may starve). N may not exceed the capacity (an error, exit 1: it could "
          "never be granted).",
      .options = {{"rate", "R", "tokens added per second (declares NAME if needed)"},
                  {"capacity", "C", "most tokens the bucket holds (default R)"},
                  {"unfair", "", "with --rate: declare it unfair (waiters can cut the queue)"},
                  {"tokens", "N", "tokens to take (default 1; may be fractional)"},
                  {"wait", "T", "wait up to T for the tokens (default 0: try once)"}},
      .examples = {"baton ratelimit api/github --rate 10 --capacity 20 && curl ...",
                   "baton ratelimit api/github --tokens 5 --wait 30s --json"},
      .exit_codes = "  0  granted\n  1  refused (or a server error)\n  2  usage error, or "
                    "NAME exists with another rate or capacity\n  4  NAME is not a rate "
                    "limit\n  69 batond cannot be reached\n",
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
          "COUNT (>= 0; 0 starts finished). The keys are fixed for the latch's life. "
          "Declaring it again the same way is fine; with other counts it exits 2, naming "
          "both.",
      .examples = {"baton latch declare deploy/ready db=1 cache=3"},
      .exit_codes = "  0  declared, or exists as declared\n  2  usage error, or NAME "
                    "exists with other counts\n  4  NAME is not a latch\n",
      .min_positional = 2,
      .max_positional = -1,
      .run = RunLatchDeclare,
  });
  commands.push_back({
      .name = "latch count-down",
      .arguments = "NAME (KEY | --all) [--strict | --lenient]",
      .summary = "count the latch NAME's counter KEY (or every one) down by one",
      .description = "Counts KEY of the latch NAME down by one (it stops at zero; a KEY at "
                     "zero already is reported, exit 0). A KEY the latch does not have is an "
                     "error naming the latch's keys. With --all, counts every counter not at "
                     "zero down by one.",
      .options = {{"all", "", "count every key down by one"},
                  {"strict", "", "also fail (exit 1) if KEY is at zero already"},
                  {"lenient", "", "accept a KEY the latch does not have, as done (exit 0)"}},
      .examples = {"baton latch count-down deploy/ready cache"},
      .exit_codes = "  0  counted down (or at zero already)\n  1  no such KEY, NAME not "
                    "declared, or (--strict) at zero already\n  4  NAME is not a latch\n",
      .min_positional = 1,
      .max_positional = 2,
      .run = RunLatchCountDown,
  });
  commands.push_back({
      .name = "latch wait",
      .arguments = "NAME [KEY] [--timeout T] [--lenient]",
      .summary = "wait until the latch's KEY (or every key) is at zero",
      .description = "Waits until counter KEY of the latch NAME reaches zero; without KEY, "
                     "until every counter does. A KEY the latch does not have is an error "
                     "naming the latch's keys.",
      .options = {kTimeout,
                  {"lenient", "", "a KEY the latch does not have counts as at zero (exit 0)"}},
      .examples = {"baton latch wait deploy/ready --timeout 5m && ./start-traffic.sh"},
      .exit_codes = "  0  reached zero\n  1  no such KEY, or NAME not declared\n  3  "
                    "--timeout ran out\n  4  NAME is not a latch\n",
      .min_positional = 1,
      .max_positional = 2,
      .run = RunLatchWait,
  });
  commands.push_back({
      .name = "notify",
      .arguments = "NAME [KEY] [--count N [--strict] | --all]",
      .summary = "wake the oldest waiter (or all) of the condition NAME's KEY",
      .description = "Takes the KeyedCondition NAME's lock, wakes the oldest `baton wait "
                     "NAME KEY` (the N oldest with --count N, every one with --all; without "
                     "KEY, --all wakes the waiters of every key), and releases the lock. Prints "
                     "how many it woke; a notify with no waiter is not remembered.",
      .options = {{"count", "N", "wake up to N waiters of KEY, oldest first (default 1)"},
                  {"strict", "", "with --count: fail (exit 1) if fewer than N were waiting "
                                 "(those there are still woken)"},
                  {"all", "", "wake every waiter of KEY, or of every key without KEY"},
                  {"timeout", "T", "give up waiting for the condition's lock after T"}},
      .examples = {"baton notify queue/jobs new-job", "baton notify queue/jobs --all"},
      .exit_codes = "  0  done (even if no one waited)\n  1  --strict: fewer than N were "
                    "waiting\n  3  --timeout ran out\n  4  NAME is not a condition\n",
      .min_positional = 1,
      .max_positional = 2,
      .run = RunNotify,
  });
  commands.push_back({
      .name = "wait",
      .arguments = "NAME KEY [--timeout T]",
      .summary = "wait for a notify of the condition NAME's KEY",
      .description = "Takes the KeyedCondition NAME's lock, waits (without it) for a "
                     "`baton notify NAME KEY`, and releases the lock again. Only a notify "
                     "sent while it waits wakes it.",
      .options = {kTimeout},
      .examples = {"baton wait queue/jobs new-job --timeout 1m && ./drain-queue.sh"},
      .exit_codes = "  0  notified\n  3  --timeout ran out\n  4  NAME is not a condition\n",
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
                     "without), with their kinds, in name order. In a cluster, any node "
                     "lists every node's instances; nodes that do not answer are named in "
                     "a warning on stderr (exit code 0).",
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
      .exit_codes = "  0  changed\n  1  a server error (NOT_FOUND, ...)\n  4  NAME is not a "
                    "rate limit\n",
      .min_positional = 2,
      .max_positional = 2,
      .run = RunSetRate,
  });
  commands.push_back({
      .name = "set-bound",
      .arguments = "NAME BOUND",
      .summary = "change a semaphore's bound, live",
      .description = "Sets the bound of the DynamicBoundedSemaphore NAME (BOUND >= 0). "
                     "Raising it lets waiters in at once. Lowering it below the permits out "
                     "revokes nothing: newcomers wait until enough leave.",
      .examples = {"baton set-bound render/gpu 4"},
      .exit_codes = "  0  changed\n  1  a server error (NOT_FOUND, ...)\n  4  NAME is not "
                    "a DynamicBoundedSemaphore (a PrioritySemaphore has reset)\n",
      .min_positional = 2,
      .max_positional = 2,
      .run = RunSetBound,
  });
  commands.push_back({
      .name = "reset",
      .arguments = "NAME",
      .summary = "reset a priority semaphore, revoking every permit",
      .description = "Returns the PrioritySemaphore NAME (`baton semaphore NAME --kind "
                     "priority`) to its initial permits: every permit out is revoked (a `baton "
                     "semaphore` running under one stops its command and exits 75), and the "
                     "queued waiters are served from the fresh permits in priority order.",
      .examples = {"baton reset pool/workers"},
      .exit_codes = "  0  reset\n  1  a server error (NOT_FOUND, ...)\n  4  NAME is not a "
                    "PrioritySemaphore\n",
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
  commands.push_back({
      .name = "cluster",
      .arguments = "",
      .summary = "show the nodes of batond's cluster",
      .description = "Asks batond (any node) for the members of its cluster (batond "
                     "--cluster_etcd): each node's id and the address its clients reach it "
                     "at; * marks the node asked. A batond that runs alone says so. The "
                     "commands that take a lock, a permit or a wait send it to the node "
                     "that owns NAME, whichever node --addr names; the others are "
                     "forwarded there by the node asked.",
      .examples = {"baton cluster", "baton --addr 10.0.0.2:7070 cluster --json"},
      .exit_codes = "  0  shown\n  1  a server error\n  69 batond cannot be reached\n",
      .run = RunCluster,
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
      {"addr", "HOST:PORT",
       "batond's address: HOST:PORT, [IPv6]:PORT or unix:PATH (default: $BATON_ADDR, else "
       "127.0.0.1:7070)"},
      {"json", "",
       "answers as one JSON object per line on stdout; failures as one JSON object on stderr "
       "(see baton --help)"},
      {"connect-timeout", "T",
       "how long to wait for a slow batond (default 5s); a refused connection fails at once"},
      {"tls_ca", "FILE",
       "TLS: the PEM certificates of the CAs that signed batond's certificate (default: "
       "$BATON_TLS_CA; the system's CAs when only --tls_cert or --tls_server_name is set)"},
      {"tls_cert", "FILE",
       "mTLS: this client's PEM certificate, for a batond started with --tls_client_ca_file "
       "(default: $BATON_TLS_CERT); needs --tls_key"},
      {"tls_key", "FILE", "mTLS: the PEM private key of --tls_cert (default: $BATON_TLS_KEY)"},
      {"tls_server_name", "NAME",
       "TLS: the name batond's certificate must carry, when it is not the host of --addr "
       "(default: $BATON_TLS_SERVER_NAME)"},
      {"token", "TOKEN",
       "the bearer token for a batond with --auth_file (default: $BATON_TOKEN); other "
       "users can see a command line: prefer --token_file or the variable"},
      {"token_file", "FILE",
       "read the token from FILE, trailing whitespace ignored (default: $BATON_TOKEN_FILE)"},
      {"help", "", "show help (also: baton help COMMAND)"},
      {"version", "", "print baton's version and exit"},
  };
  return *options;
}

}  // namespace baton::cli

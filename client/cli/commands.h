// Copyright 2026 The Baton Authors.
//
// The commands of the `baton` tool: how each is described (CommandSpec, the
// table in command_table.cc, from which the parser and the help are made),
// what one run of it sees (Invocation: the global options and its parsed
// arguments), and the functions that run them (admin_commands.cc for the
// unary Admin calls, session_commands.cc for what needs a session).
//
// Threads: all of this runs on the main thread of the process.

#ifndef BATON_CLIENT_CLI_COMMANDS_H_
#define BATON_CLIENT_CLI_COMMANDS_H_

#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "baton/client.h"

namespace baton::cli {

// GlobalOptions: what every command takes, before or after its name.
struct GlobalOptions {
  // --addr, else $BATON_ADDR, else kDefaultAddress.
  std::string address;
  // Where `address` came from, to name it in a usage error: "--addr",
  // "BATON_ADDR" or "the default address".
  std::string address_from = "the default address";
  // --json: every command prints its answer as one JSON object per line on
  // stdout, and a failure as one JSON object on stderr (ReportError() in
  // connection.h says its fields).
  bool json = false;
  // --connect-timeout: how long to wait for a slow batond before exit 69 (an
  // unreachable one is reported at once).
  absl::Duration connect_timeout = absl::Seconds(5);
  // --tls_ca, --tls_cert, --tls_key, --tls_server_name, else BATON_TLS_CA,
  // BATON_TLS_CERT, BATON_TLS_KEY, BATON_TLS_SERVER_NAME: TLS (mTLS with a
  // certificate) when any is set.
  baton::TlsOptions tls;
  // --token_file, else --token, else BATON_TOKEN_FILE, else BATON_TOKEN:
  // the bearer token for a batond with --auth_file.
  std::string token;
  std::string token_file;
};

inline constexpr char kDefaultAddress[] = "127.0.0.1:7070";

// OptionSpec: one --option of a command.
struct OptionSpec {
  std::string name;        // without the dashes: "timeout"
  std::string value_name;  // "T"; empty for a switch (--all)
  std::string help;
};

class Invocation;

// CommandSpec: everything the parser and the help need to know of a command.
struct CommandSpec {
  std::string name;       // "lock", or "latch declare" for a subcommand
  std::string arguments;  // what follows the name in the usage line
  std::string summary;    // one line, for `baton --help`
  std::string description;
  std::vector<OptionSpec> options;
  std::vector<std::string> examples;
  std::string exit_codes;  // the exit codes the command uses, one per line
  int min_positional = 0;
  int max_positional = 0;      // -1: any number
  bool takes_command = false;  // requires "-- CMD [ARGS...]"
  int (*run)(Invocation& invocation) = nullptr;
};

// AllCommands() is the table of commands, in the order `baton --help` shows.
const std::vector<CommandSpec>& AllCommands();
// GlobalOptionSpecs() are the options every command accepts.
const std::vector<OptionSpec>& GlobalOptionSpecs();

// Invocation is one run of a command: its spec, the global options, and its
// arguments. The typed getters return the option's value, or `fallback` when
// it was not given; a malformed value records a usage error (ok() turns
// false, UsageError() reports it) and returns `fallback`.
class Invocation {
 public:
  explicit Invocation(const CommandSpec& spec) : spec_(spec) {}

  const CommandSpec& spec() const { return spec_; }
  GlobalOptions global;
  std::vector<std::string> positional;
  std::vector<std::string> command;            // after "--"
  std::map<std::string, std::string> options;  // given ones; a switch is ""

  bool Has(const std::string& name) const { return options.count(name) > 0; }
  std::string StringOr(const std::string& name, std::string fallback);
  // Durations: "500ms", "2s", "1m", "1h30m", "inf"; a bare number is seconds.
  absl::Duration DurationOr(const std::string& name, absl::Duration fallback);
  std::int64_t IntOr(const std::string& name, std::int64_t fallback);
  double DoubleOr(const std::string& name, double fallback);
  // Positional arguments, parsed the same way (`what` names it in errors).
  std::int64_t IntArg(std::size_t index, std::string_view what);
  double DoubleArg(std::size_t index, std::string_view what);

  bool ok() const { return error_.empty(); }
  // Fail() records a usage error (the first one wins).
  void Fail(std::string message);
  // UsageError() prints the recorded error and the command's usage on
  // stderr (one JSON object with --json) and returns kExitUsage.
  int UsageError() const;

 private:
  const CommandSpec& spec_;
  std::string error_;
};

// ParseDurationArg() parses a duration as the options take it.
std::optional<absl::Duration> ParseDurationArg(std::string_view text);

// ParseInvocation() fills `invocation` from the arguments that follow the
// command's name (global options included). Sets *help when --help or -h is
// among them. A usage error is recorded in the invocation.
void ParseInvocation(const std::vector<std::string>& args, Invocation& invocation, bool* help);

// PrintCommandHelp() writes `baton help NAME` for one command.
void PrintCommandHelp(const CommandSpec& spec, std::FILE* out);
// PrintUsageLine() writes "usage: baton NAME ARGUMENTS".
void PrintUsageLine(const CommandSpec& spec, std::FILE* out);
// PrintOverview() writes `baton --help`: every command, the global options,
// the exit codes. PrintGroupHelp() writes the help of every subcommand of
// `group` ("latch").
void PrintOverview(std::FILE* out);
void PrintGroupHelp(const std::string& group, std::FILE* out);

// The commands (admin_commands.cc).
int RunDescribe(Invocation& invocation);
int RunList(Invocation& invocation);
int RunDelete(Invocation& invocation);
int RunSetRate(Invocation& invocation);
int RunSetBound(Invocation& invocation);
int RunReset(Invocation& invocation);
int RunHealth(Invocation& invocation);
int RunCluster(Invocation& invocation);
int RunRateLimit(Invocation& invocation);
int RunLatchDeclare(Invocation& invocation);
// The commands (session_commands.cc).
int RunLock(Invocation& invocation);
int RunSemaphore(Invocation& invocation);
int RunLatchCountDown(Invocation& invocation);
int RunLatchWait(Invocation& invocation);
int RunNotify(Invocation& invocation);
int RunWait(Invocation& invocation);

}  // namespace baton::cli

#endif  // BATON_CLIENT_CLI_COMMANDS_H_

// Copyright 2026 The Baton Authors.
//
// baton: the command-line client of batond. This file finds the command
// (`baton [global options] COMMAND [ARGS...]`, COMMAND being one word or,
// for the latch, two), parses its arguments against the command table
// (command_table.cc) and runs it. `baton --help` and `baton help COMMAND`
// say what each command does; exit_codes.h lists the exit codes.

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "client/cli/commands.h"
#include "client/cli/connection.h"
#include "client/cli/exit_codes.h"
#include "client/src/channel_credentials.h"

namespace baton::cli {
namespace {

// FindCommand() finds the command named by args[at] (and args[at + 1] for a
// group such as "latch"); *words is how many arguments its name took.
const CommandSpec* FindCommand(const std::vector<std::string>& args, std::size_t at,
                               std::size_t* words) {
  for (const CommandSpec& spec : AllCommands()) {
    if (spec.name == args[at]) {
      *words = 1;
      return &spec;
    }
    if (at + 1 < args.size() && spec.name == absl::StrCat(args[at], " ", args[at + 1])) {
      *words = 2;
      return &spec;
    }
  }
  return nullptr;
}

bool IsGroup(const std::string& word) {
  for (const CommandSpec& spec : AllCommands()) {
    if (absl::StartsWith(spec.name, absl::StrCat(word, " "))) return true;
  }
  return false;
}

// CommandStart() is the index of the command's name: the first argument
// that is neither a global option nor the value of one.
std::size_t CommandStart(const std::vector<std::string>& args) {
  std::size_t i = 0;
  while (i < args.size() && absl::StartsWith(args[i], "-") && args[i] != "--") {
    const std::string& arg = args[i];
    // A global option that takes a value (and is not written --name=value)
    // is followed by it: the table says which do.
    bool takes_value = false;
    for (const OptionSpec& option : GlobalOptionSpecs()) {
      if (arg == absl::StrCat("--", option.name)) takes_value = !option.value_name.empty();
    }
    i += takes_value ? 2 : 1;
  }
  return i;
}

// WantsJson() is true when --json is among the arguments (before "--"), for
// the errors found before the command's own arguments are parsed.
bool WantsJson(const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg == "--") break;
    if (arg == "--json") return true;
  }
  return false;
}

// EarlyUsageError() reports a usage error found before the command is
// known; `text` is what a person reads (the first line is the message).
int EarlyUsageError(const std::vector<std::string>& args, const std::string& what,
                    const std::string& message, const std::string& text) {
  if (WantsJson(args)) {
    GlobalOptions global;
    global.json = true;
    return ReportError(global, what,
                       {.code = absl::StatusCode::kInvalidArgument,
                        .message = message,
                        .exit_code = kExitUsage});
  }
  std::fprintf(stderr, "%s", text.c_str());
  return kExitUsage;
}

int Help(const std::vector<std::string>& topic) {
  if (topic.empty()) {
    PrintOverview(stdout);
    return kExitOk;
  }
  std::size_t words = 0;
  if (const CommandSpec* spec = FindCommand(topic, 0, &words)) {
    PrintCommandHelp(*spec, stdout);
    return kExitOk;
  }
  if (IsGroup(topic[0])) {
    PrintGroupHelp(topic[0], stdout);
    return kExitOk;
  }
  const std::string message =
      absl::StrCat("no command '", topic[0], "'; the commands are in 'baton --help'");
  return EarlyUsageError(topic, "help", message, absl::StrCat("baton help: ", message, "\n"));
}

int Main(std::vector<std::string> args) {
  const std::size_t at = CommandStart(args);
  for (std::size_t i = 0; i < at; ++i) {
    if (args[i] == "--help" || args[i] == "-h") return Help({});
    if (args[i] == "--version") {
      std::printf("baton %s\n", BATON_CLI_VERSION);
      return kExitOk;
    }
  }
  if (at >= args.size()) {
    if (WantsJson(args)) {
      return EarlyUsageError(args, "", "which command? (baton --help lists them)", "");
    }
    std::fprintf(stderr, "baton: which command? (baton --help lists them)\n\n");
    PrintOverview(stderr);
    return kExitUsage;
  }
  if (args[at] == "help")
    return Help({args.begin() + static_cast<std::ptrdiff_t>(at) + 1, args.end()});

  std::size_t words = 0;
  const CommandSpec* spec = FindCommand(args, at, &words);
  if (spec == nullptr) {
    if (IsGroup(args[at])) {
      if (WantsJson(args)) {
        return EarlyUsageError(args, args[at], "which one? (baton help " + args[at] + ")", "");
      }
      std::fprintf(stderr, "baton %s: which one?\n", args[at].c_str());
      for (const CommandSpec& sub : AllCommands()) {
        if (absl::StartsWith(sub.name, absl::StrCat(args[at], " "))) PrintUsageLine(sub, stderr);
      }
      return kExitUsage;
    }
    const std::string message = absl::StrCat("no command '", args[at], "'");
    return EarlyUsageError(args, "", message,
                           absl::StrCat("baton: ", message,
                                        "\nusage: baton [global options] COMMAND [ARGS...]\n"
                                        "Run 'baton --help' for the commands.\n"));
  }

  // The global options before the name, then everything after it.
  std::vector<std::string> rest(args.begin(), args.begin() + static_cast<std::ptrdiff_t>(at));
  rest.insert(rest.end(), args.begin() + static_cast<std::ptrdiff_t>(at + words), args.end());
  Invocation invocation(*spec);
  invocation.global.address = kDefaultAddress;
  const char* env_address = std::getenv("BATON_ADDR");
  if (env_address != nullptr && *env_address != '\0') {  // set but empty: unset
    invocation.global.address = env_address;
    invocation.global.address_from = "BATON_ADDR";
  }
  // TLS from the environment first; the options win.
  for (auto [variable, field] : {std::pair{"BATON_TLS_CA", &TlsOptions::ca_file},
                                 std::pair{"BATON_TLS_CERT", &TlsOptions::cert_file},
                                 std::pair{"BATON_TLS_KEY", &TlsOptions::key_file},
                                 std::pair{"BATON_TLS_SERVER_NAME", &TlsOptions::server_name}}) {
    const char* value = std::getenv(variable);
    if (value != nullptr) invocation.global.tls.*field = value;
  }
  if (const char* token = std::getenv("BATON_TOKEN"); token != nullptr) {
    invocation.global.token = token;
  }
  if (const char* file = std::getenv("BATON_TOKEN_FILE"); file != nullptr && *file != '\0') {
    invocation.global.token_file = file;
  }
  bool help = false;
  ParseInvocation(rest, invocation, &help);
  if (help) {
    PrintCommandHelp(*spec, stdout);
    return kExitOk;
  }
  // Before any command dials it: a malformed address is a usage error, not
  // an unreachable server (nor a dial of a port it was wrapped into).
  if (absl::Status valid = ValidateAddress(invocation.global.address); !valid.ok()) {
    invocation.Fail(absl::StrCat(invocation.global.address_from, ": ", valid.message()));
    return invocation.UsageError();
  }
  // A token file that cannot be read, or a token that cannot be sent, is a
  // usage error (the token itself is never printed).
  if (!invocation.global.token_file.empty()) {
    std::ifstream in(invocation.global.token_file);
    std::stringstream text;
    if (in) text << in.rdbuf();
    if (!in) {
      invocation.Fail(absl::StrCat("--token_file (or BATON_TOKEN_FILE): cannot read '",
                                   invocation.global.token_file, "': ", std::strerror(errno)));
      return invocation.UsageError();
    }
    invocation.global.token = std::string(absl::StripTrailingAsciiWhitespace(text.str()));
  }
  if (absl::Status token = internal::CheckToken(invocation.global.token,
                                                "--token (or BATON_TOKEN, --token_file)");
      !token.ok()) {
    invocation.Fail(std::string(token.message()));
    return invocation.UsageError();
  }
  // TLS files that cannot be read are a usage error too, named as the user
  // wrote them.
  grpc::ChannelArguments ignored;
  if (absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
          internal::ChannelCredentials(invocation.global.tls, &ignored);
      !credentials.ok()) {
    std::string message(credentials.status().message());
    for (auto [field, names] : {std::pair{"tls.ca_file", "--tls_ca (or BATON_TLS_CA)"},
                                std::pair{"tls.cert_file", "--tls_cert (or BATON_TLS_CERT)"},
                                std::pair{"tls.key_file", "--tls_key (or BATON_TLS_KEY)"}}) {
      absl::StrReplaceAll({{field, names}}, &message);
    }
    absl::StrReplaceAll({{"tls: ", ""}, {" (or cert_pem)", ""}, {" (or key_pem)", ""}}, &message);
    invocation.Fail(message);
    return invocation.UsageError();
  }
  return spec->run(invocation);
}

}  // namespace
}  // namespace baton::cli

int main(int argc, char** argv) {
  return baton::cli::Main(std::vector<std::string>(argv + 1, argv + argc));
}

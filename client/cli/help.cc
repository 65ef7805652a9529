// Copyright 2026 The Baton Authors.
//
// `baton --help` and `baton help COMMAND`, made from the command table.

#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/cli/commands.h"

namespace baton::cli {
namespace {

constexpr std::size_t kWidth = 80;

// Wrap() fills `text` into lines of at most kWidth, each after `indent`.
std::string Wrap(absl::string_view text, absl::string_view indent) {
  std::string out;
  std::string line(indent);
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (line.size() > indent.size() && line.size() + 1 + word.size() > kWidth) {
      absl::StrAppend(&out, line, "\n");
      line = std::string(indent);
    }
    if (line.size() > indent.size()) line.push_back(' ');
    absl::StrAppend(&line, word);
  }
  if (line.size() > indent.size()) absl::StrAppend(&out, line, "\n");
  return out;
}

void PrintOptions(const std::vector<OptionSpec>& options, std::FILE* out) {
  for (const OptionSpec& option : options) {
    std::string left = absl::StrCat("  --", option.name);
    if (!option.value_name.empty()) absl::StrAppend(&left, " ", option.value_name);
    if (left.size() < 24) {
      left.resize(24, ' ');
      std::string wrapped = Wrap(option.help, std::string(24, ' '));
      std::fprintf(out, "%s%s", left.c_str(), wrapped.c_str() + 24);
    } else {
      std::fprintf(out, "%s\n%s", left.c_str(), Wrap(option.help, std::string(24, ' ')).c_str());
    }
  }
}

constexpr char kExitCodes[] =
    "Exit codes (each command's help lists its own):\n"
    "  0     done: granted, ran, SERVING\n"
    "  1     the server said no: refused, NOT_SERVING, or an error (its status is printed)\n"
    "  2     usage error (the usage is printed), or a declaration that conflicts with the\n"
    "        bound, rate or counts NAME has (both are named)\n"
    "  3     --timeout ran out\n"
    "  4     NAME exists as another kind than the command uses; the message names the\n"
    "        command or --kind that fits\n"
    "  69    batond cannot be reached at the address (or is draining)\n"
    "  75    lock, semaphore: the lease was lost while CMD ran; CMD was stopped\n"
    "  other lock, semaphore: CMD's own exit code (128+N when it died of signal N)\n";

constexpr char kJson[] =
    "With --json, every command prints its answer as one JSON object per line on stdout "
    "(lock and semaphore print none: CMD's output is CMD's), and a failure as one JSON "
    "object on stderr:";
constexpr char kJsonExample[] =
    "  {\"command\":\"describe jobs/x\",\"code\":\"NOT_FOUND\",\"message\":\"...\",\"exit\":1}\n";
constexpr char kJsonFields[] =
    "code is the gRPC status name (INVALID_ARGUMENT for a usage error, UNAVAILABLE "
    "unreachable, DEADLINE_EXCEEDED --timeout, FAILED_PRECONDITION another kind, ABORTED "
    "lease lost) and exit is baton's exit code. Some failures add string fields: usage; kind, "
    "expected_kind, suggestion; existing, asked; key, keys.";

// SortedExitCodes() orders "  N  meaning" lines by N (stable; a line without
// a number first), so that the codes every command shares merge in place.
std::string SortedExitCodes(const std::string& codes) {
  std::vector<std::pair<int, std::string>> lines;
  for (absl::string_view line : absl::StrSplit(codes, '\n', absl::SkipEmpty())) {
    const absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(line);
    std::size_t digits = 0;
    while (digits < trimmed.size() &&
           absl::ascii_isdigit(static_cast<unsigned char>(trimmed[digits]))) {
      ++digits;
    }
    int code = -1;
    if (digits > 0 && !absl::SimpleAtoi(trimmed.substr(0, digits), &code)) code = -1;
    lines.emplace_back(code, std::string(line));
  }
  std::stable_sort(lines.begin(), lines.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out;
  for (const auto& [code, line] : lines) absl::StrAppend(&out, line, "\n");
  return out;
}

}  // namespace

void PrintUsageLine(const CommandSpec& spec, std::FILE* out) {
  std::fprintf(out, "usage: baton %s%s%s\n", spec.name.c_str(), spec.arguments.empty() ? "" : " ",
               spec.arguments.c_str());
}

void PrintCommandHelp(const CommandSpec& spec, std::FILE* out) {
  PrintUsageLine(spec, out);
  std::fprintf(out, "\n%s", Wrap(spec.description, "").c_str());
  if (!spec.options.empty()) {
    std::fprintf(out, "\nOptions:\n");
    PrintOptions(spec.options, out);
  }
  std::fprintf(out, "\nGlobal options (anywhere before --):\n");
  PrintOptions(GlobalOptionSpecs(), out);
  std::fprintf(out, "\nDurations (every T above): 500ms, 2s, 1m, 1h30m, inf; a bare number is seconds.\n");
  if (!spec.examples.empty()) {
    std::fprintf(out, "\nExample%s:\n", spec.examples.size() > 1 ? "s" : "");
    for (const std::string& example : spec.examples) std::fprintf(out, "  %s\n", example.c_str());
  }
  std::string codes = spec.exit_codes;
  // Every command can end with these two; a command's own text may
  // already say them in its words.
  if (!absl::StrContains(codes, "  2 ")) absl::StrAppend(&codes, "  2  usage error\n");
  if (!absl::StrContains(codes, "69")) absl::StrAppend(&codes, "  69 batond cannot be reached\n");
  std::fprintf(out, "\nExit codes:\n%s", SortedExitCodes(codes).c_str());
  std::fprintf(out, "\n%s",
               Wrap(spec.takes_command
                        ? "With --json, baton prints nothing on stdout (CMD's output is CMD's) "
                          "and its own failures as one JSON object on stderr (baton --help "
                          "shows its fields)."
                        : "With --json, the answer is one JSON object per line on stdout and a "
                          "failure one JSON object on stderr (baton --help shows its fields).",
                    "")
                   .c_str());
}

void PrintGroupHelp(const std::string& group, std::FILE* out) {
  bool first = true;
  for (const CommandSpec& spec : AllCommands()) {
    if (!absl::StartsWith(spec.name, absl::StrCat(group, " "))) continue;
    if (!first) std::fprintf(out, "\n----\n\n");
    first = false;
    PrintCommandHelp(spec, out);
  }
}

void PrintOverview(std::FILE* out) {
  std::fprintf(out,
               "baton: the command-line client of batond, Baton's coordination server.\n\n"
               "usage: baton [global options] COMMAND [ARGS...]\n\n%s\nCommands:\n",
               Wrap("Runs a command under a distributed lock or semaphore, takes tokens from "
                    "a shared rate limit, counts down and waits on latches, notifies and "
                    "waits on conditions, and shows and manages what batond hosts. Every "
                    "instance has a name (e.g. jobs/nightly) shared by every client of the "
                    "same batond.",
                    "")
                   .c_str());
  for (const CommandSpec& spec : AllCommands()) {
    std::string left = absl::StrCat("  ", spec.name);
    left.resize(std::max<std::size_t>(left.size() + 1, 21), ' ');
    std::fprintf(out, "%s%s\n", left.c_str(), spec.summary.c_str());
  }
  std::fprintf(out, "\nGlobal options:\n");
  PrintOptions(GlobalOptionSpecs(), out);
  std::fprintf(out,
               "\nExamples:\n"
               "  baton lock jobs/nightly -- ./nightly.sh      # one at a time, cluster-wide\n"
               "  baton ratelimit api/github --rate 10 --capacity 20  # exit 0: go, exit 1: wait\n"
               "  BATON_ADDR=baton:7070 baton describe jobs/nightly\n"
               "  baton --addr baton:7070 --tls_ca ca.crt health  # over TLS\n"
               "  BATON_TLS_CERT=me.crt BATON_TLS_KEY=me.key baton --tls_ca ca.crt list  # mTLS\n\n"
               "%s\n%s%s%s\n"
               "Run 'baton help COMMAND' for a command's options, examples and exit codes.\n",
               kExitCodes, Wrap(kJson, "").c_str(), kJsonExample, Wrap(kJsonFields, "").c_str());
}

}  // namespace baton::cli

// Copyright 2026 The Baton Authors.
//
// The argument parser of `baton`: options (--name VALUE, --name=VALUE,
// switches), positional arguments, and the command after "--", checked
// against the command's CommandSpec; and the typed getters of Invocation.

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client/cli/commands.h"
#include "client/cli/connection.h"
#include "client/cli/exit_codes.h"

namespace baton::cli {
namespace {

const OptionSpec* FindOption(const std::vector<OptionSpec>& specs, std::string_view name) {
  for (const OptionSpec& spec : specs) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

// A negative number is a positional argument (`set-bound NAME -1`), not an
// option.
bool LooksLikeNumber(std::string_view arg) {
  double ignored;
  return absl::SimpleAtod(std::string(arg), &ignored);
}

void ApplyGlobalOption(const std::string& name, const std::string& value, Invocation& invocation) {
  if (name == "addr") {
    invocation.global.address = value;
    invocation.global.address_from = "--addr";
  } else if (name == "json") {
    invocation.global.json = true;
  } else if (name == "tls_ca") {
    invocation.global.tls.ca_file = value;
  } else if (name == "tls_cert") {
    invocation.global.tls.cert_file = value;
  } else if (name == "tls_key") {
    invocation.global.tls.key_file = value;
  } else if (name == "tls_server_name") {
    invocation.global.tls.server_name = value;
  } else if (name == "token") {
    invocation.global.token = value;
    invocation.global.token_file.clear();
  } else if (name == "token_file") {
    invocation.global.token_file = value;
  } else if (name == "connect-timeout") {
    std::optional<absl::Duration> timeout = ParseDurationArg(value);
    if (!timeout.has_value() || *timeout <= absl::ZeroDuration()) {
      invocation.Fail(absl::StrCat(
          "--connect-timeout: expected a positive duration (500ms, 2s), got '", value, "'"));
    } else {
      invocation.global.connect_timeout = *timeout;
    }
  }
}

}  // namespace

std::optional<absl::Duration> ParseDurationArg(std::string_view text) {
  absl::Duration duration;
  double seconds;
  if (absl::SimpleAtod(std::string(text), &seconds) && std::isfinite(seconds)) {
    duration = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(std::string(text), &duration)) {
    return std::nullopt;
  }
  if (duration < absl::ZeroDuration()) return std::nullopt;
  return duration;
}

void ParseInvocation(const std::vector<std::string>& args, Invocation& invocation, bool* help) {
  const CommandSpec& spec = invocation.spec();
  *help = false;
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      invocation.command.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (arg == "-h" || arg == "--help") {
      *help = true;
      return;
    }
    if (arg.size() < 2 || arg[0] != '-' || LooksLikeNumber(arg)) {
      invocation.positional.push_back(arg);
      continue;
    }
    if (arg[1] != '-') {
      invocation.Fail(absl::StrCat("unknown option '", arg, "' (options start with --)"));
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> value;
    if (const std::size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    const OptionSpec* option = FindOption(spec.options, name);
    bool global = false;
    if (option == nullptr) {
      option = FindOption(GlobalOptionSpecs(), name);
      global = option != nullptr;
    }
    if (option == nullptr) {
      invocation.Fail(absl::StrCat("unknown option --", name));
      continue;
    }
    if (option->value_name.empty()) {
      if (value.has_value()) invocation.Fail(absl::StrCat("--", name, " takes no value"));
      value = "";
    } else if (!value.has_value()) {
      if (i + 1 >= args.size() || args[i + 1] == "--") {
        invocation.Fail(absl::StrCat("--", name, " needs a value (", option->value_name, ")"));
        continue;
      }
      value = args[++i];
    }
    if (global) {
      ApplyGlobalOption(name, *value, invocation);
    } else {
      invocation.options[name] = *value;
    }
  }

  const int count = static_cast<int>(invocation.positional.size());
  if (count < spec.min_positional) {
    invocation.Fail(absl::StrCat("missing arguments: expected ", spec.arguments));
  } else if (spec.max_positional >= 0 && count > spec.max_positional) {
    invocation.Fail(
        absl::StrCat("unexpected argument '",
                     invocation.positional[static_cast<std::size_t>(spec.max_positional)], "'",
                     spec.takes_command ? " (put the command after --)" : ""));
  }
  if (spec.takes_command && invocation.command.empty()) {
    invocation.Fail("missing the command to run: put it after --, e.g. -- ./job.sh");
  } else if (!spec.takes_command && i < args.size()) {
    invocation.Fail("this command runs no command: unexpected --");
  }
}

// ---------------------------------------------------------------------------
// Invocation.

void Invocation::Fail(std::string message) {
  if (error_.empty()) error_ = std::move(message);
}

int Invocation::UsageError() const {
  if (global.json) {
    const std::string usage =
        absl::StrCat("baton ", spec_.name, spec_.arguments.empty() ? "" : " ", spec_.arguments);
    return ReportError(global, spec_.name,
                       {.code = absl::StatusCode::kInvalidArgument,
                        .message = error_,
                        .exit_code = kExitUsage,
                        .fields = {{"usage", usage}}});
  }
  std::fprintf(stderr, "baton %s: %s\n", spec_.name.c_str(), error_.c_str());
  PrintUsageLine(spec_, stderr);
  std::fprintf(stderr, "Run 'baton help %s' for its options and examples.\n", spec_.name.c_str());
  return kExitUsage;
}

std::string Invocation::StringOr(const std::string& name, std::string fallback) {
  auto it = options.find(name);
  return it == options.end() ? fallback : it->second;
}

absl::Duration Invocation::DurationOr(const std::string& name, absl::Duration fallback) {
  auto it = options.find(name);
  if (it == options.end()) return fallback;
  std::optional<absl::Duration> duration = ParseDurationArg(it->second);
  if (!duration.has_value()) {
    Fail(absl::StrCat("--", name, ": expected a duration such as 500ms, 2s, 1m or inf, got '",
                      it->second, "'"));
    return fallback;
  }
  return *duration;
}

std::int64_t Invocation::IntOr(const std::string& name, std::int64_t fallback) {
  auto it = options.find(name);
  if (it == options.end()) return fallback;
  std::int64_t value;
  if (!absl::SimpleAtoi(it->second, &value)) {
    Fail(absl::StrCat("--", name, ": expected an integer, got '", it->second, "'"));
    return fallback;
  }
  return value;
}

double Invocation::DoubleOr(const std::string& name, double fallback) {
  auto it = options.find(name);
  if (it == options.end()) return fallback;
  double value;
  if (!absl::SimpleAtod(it->second, &value) || !std::isfinite(value)) {
    Fail(absl::StrCat("--", name, ": expected a number, got '", it->second, "'"));
    return fallback;
  }
  return value;
}

std::int64_t Invocation::IntArg(std::size_t index, std::string_view what) {
  std::int64_t value = 0;
  if (index >= positional.size() || !absl::SimpleAtoi(positional[index], &value)) {
    Fail(absl::StrCat(
        std::string(what), ": expected an integer",
        index < positional.size() ? absl::StrCat(", got '", positional[index], "'") : ""));
  }
  return value;
}

double Invocation::DoubleArg(std::size_t index, std::string_view what) {
  double value = 0;
  if (index >= positional.size() || !absl::SimpleAtod(positional[index], &value) ||
      !std::isfinite(value)) {
    Fail(absl::StrCat(
        std::string(what), ": expected a number",
        index < positional.size() ? absl::StrCat(", got '", positional[index], "'") : ""));
  }
  return value;
}

}  // namespace baton::cli

// Copyright 2026 The Baton Authors.
//
// How `baton` prints instances, as text for people and as JSON (one object
// per line) for programs: kinds by their class names (PriorityLock, ...),
// amounts without noise digits, durations in seconds.

#ifndef BATON_CLIENT_CLI_FORMAT_H_
#define BATON_CLIENT_CLI_FORMAT_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "baton/v1/admin.pb.h"

namespace baton::cli {

// KindName() is the class name of a kind ("PriorityLock"); ParseKind() reads
// it back (case-insensitive).
std::string KindName(v1::Kind kind);
std::optional<v1::Kind> ParseKind(const std::string& name);

// FormatAmount() prints tokens and rates: "4", "0.25", "1.333".
std::string FormatAmount(double value);
// FormatSeconds() prints a duration in seconds, to the millisecond: "0.250s".
std::string FormatSeconds(absl::Duration duration);

// Describe: text ("key: value" lines, holders last) and JSON (one line).
std::string DescribeText(const v1::DescribeResponse& response);
std::string DescribeJson(const v1::DescribeResponse& response);

}  // namespace baton::cli

#endif  // BATON_CLIENT_CLI_FORMAT_H_

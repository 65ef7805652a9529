// Copyright 2026 The Baton Authors.
//
// batond's log: one line per event on stderr, with a timestamp, a level, a
// message and named fields, as text for people or as JSON lines for log
// collectors. Written on spdlog (Debian's libspdlog-dev): its sinks are
// thread-safe and its level check is one relaxed load, so a disabled line
// costs nearly nothing.
//
//   2026-12-07T01:02:03.456Z info  session opened session=12 client="jobs" peer="ipv4:127.0.0.1:5000"
//   {"ts":"2026-12-07T01:02:03.456Z","level":"info","msg":"session opened","session":12,...}
//
// Example:
//   log::Init({.level = log::Level::kInfo, .format = log::Format::kJson});
//   log::Info("session opened", {{"session", id}, {"client", name}});
//   if (log::Enabled(log::Level::kDebug)) log::Debug("...", {...});
//
// Threading: every function is safe from any thread. Init() is meant to be
// called once, before other threads log; lines logged before it go out as
// text at info.

#ifndef BATON_SERVER_LOG_LOG_H_
#define BATON_SERVER_LOG_LOG_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace baton::log {

enum class Level { kTrace, kDebug, kInfo, kWarn, kError, kOff };
enum class Format { kText, kJson };

// ParseLevel() takes trace, debug, info, warn (or warning), error, off.
bool ParseLevel(std::string_view text, Level* level);
bool ParseFormat(std::string_view text, Format* format);
std::string_view LevelName(Level level);

struct Options {
  Level level = Level::kInfo;
  Format format = Format::kText;
};
void Init(const Options& options);

bool Enabled(Level level);

// A named value of a line. Strings are quoted (and escaped) in both formats;
// numbers and booleans are not.
class Field {
 public:
  Field(std::string_view name, std::string_view value)
      : name_(name), kind_(Kind::kString), text_(value) {}
  Field(std::string_view name, const std::string& value)
      : Field(name, std::string_view(value)) {}
  Field(std::string_view name, const char* value)
      : Field(name, std::string_view(value)) {}
  Field(std::string_view name, bool value) : name_(name), kind_(Kind::kBool), int_(value) {}
  template <typename T, typename = std::enable_if_t<std::is_integral_v<T>>>
  Field(std::string_view name, T value)
      : name_(name),
        kind_(std::is_signed_v<T> ? Kind::kInt : Kind::kUint),
        int_(static_cast<std::int64_t>(value)),
        uint_(static_cast<std::uint64_t>(value)) {}
  Field(std::string_view name, double value)
      : name_(name), kind_(Kind::kDouble), double_(value) {}
  // A duration, in the format the flags take ("1.5s").
  Field(std::string_view name, absl::Duration value);
  // A status: its code and message, as "CANCELLED: the client cancelled".
  Field(std::string_view name, const absl::Status& status);

  // AppendTo() writes ` name=value` (text) or `,"name":value` (JSON).
  void AppendTo(Format format, std::string* out) const;

 private:
  enum class Kind { kString, kOwned, kInt, kUint, kBool, kDouble };
  std::string_view name_;
  Kind kind_;
  std::string_view text_;
  std::string owned_;  // a duration's or status's text
  std::int64_t int_ = 0;
  std::uint64_t uint_ = 0;
  double double_ = 0;
};

using Fields = std::initializer_list<Field>;

void Write(Level level, std::string_view message, Fields fields = {});
inline void Trace(std::string_view message, Fields fields = {}) {
  Write(Level::kTrace, message, fields);
}
inline void Debug(std::string_view message, Fields fields = {}) {
  Write(Level::kDebug, message, fields);
}
inline void Info(std::string_view message, Fields fields = {}) {
  Write(Level::kInfo, message, fields);
}
inline void Warn(std::string_view message, Fields fields = {}) {
  Write(Level::kWarn, message, fields);
}
inline void Error(std::string_view message, Fields fields = {}) {
  Write(Level::kError, message, fields);
}

// FormatLine() is the line Write() would log, without the timestamp and
// level (text) or with them left out of the object (JSON). For tests.
std::string FormatLine(Format format, std::string_view message, Fields fields);

// RateLimiter lets through at most `burst` lines, refilled at `per_second`:
// for events a client can cause at will (rejected requests), so that one
// client cannot flood the log. Allow() returns how many lines were
// suppressed since the last allowed one (to be logged with it), or -1 when
// this one is suppressed too. A burst below 1 lets nothing through.
// Thread-safe.
class RateLimiter {
 public:
  RateLimiter(double per_second, double burst) : per_second_(per_second), burst_(burst) {}
  std::int64_t Allow(absl::Time now);

 private:
  absl::Mutex mu_;
  const double per_second_;
  const double burst_;
  double tokens_ ABSL_GUARDED_BY(mu_) = -1;  // -1: full, on first use
  absl::Time last_ ABSL_GUARDED_BY(mu_);
  std::int64_t suppressed_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace baton::log

#endif  // BATON_SERVER_LOG_LOG_H_

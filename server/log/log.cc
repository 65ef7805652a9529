// Copyright 2026 The Baton Authors.

#include "server/log/log.h"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace baton::log {
namespace {

std::atomic<Format> g_format{Format::kText};

spdlog::level::level_enum ToSpd(Level level) {
  switch (level) {
    case Level::kTrace: return spdlog::level::trace;
    case Level::kDebug: return spdlog::level::debug;
    case Level::kInfo: return spdlog::level::info;
    case Level::kWarn: return spdlog::level::warn;
    case Level::kError: return spdlog::level::err;
    case Level::kOff: return spdlog::level::off;
  }
  return spdlog::level::info;
}

// The one logger: stderr, unbuffered lines, a mutex per line.
spdlog::logger& Logger() {
  static spdlog::logger* logger = [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto* made = new spdlog::logger("batond", std::move(sink));
    made->set_level(spdlog::level::info);
    made->flush_on(spdlog::level::trace);
    // UTC, to the millisecond, ISO 8601: what collectors parse without help.
    made->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %v", spdlog::pattern_time_type::utc);
    return made;
  }();
  return *logger;
}

// Utf8Length() is the length of the well-formed UTF-8 sequence at the
// start of `text` (a lead byte >= 0x80), or 0 when it is not one.
std::size_t Utf8Length(std::string_view text) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const auto tail = [&](std::size_t i) { return i < text.size() && (b(i) & 0xC0) == 0x80; };
  const unsigned char lead = b(0);
  if (lead >= 0xC2 && lead <= 0xDF) return tail(1) ? 2 : 0;
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (!tail(1) || !tail(2)) return 0;
    if (lead == 0xE0 && b(1) < 0xA0) return 0;  // overlong
    if (lead == 0xED && b(1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (!tail(1) || !tail(2) || !tail(3)) return 0;
    if (lead == 0xF0 && b(1) < 0x90) return 0;  // overlong
    if (lead == 0xF4 && b(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// AppendQuoted() writes `text` quoted and escaped. Bytes that are not
// well-formed UTF-8 (a client's name may hold anything) become U+FFFD in
// JSON, which must stay valid, and \xNN in text.
void AppendQuoted(Format format, std::string_view text, std::string* out) {
  out->push_back('"');
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      const std::size_t length = Utf8Length(text.substr(i));
      if (length == 0) {
        if (format == Format::kJson) {
          out->append("\\ufffd");
        } else {
          absl::StrAppendFormat(out, "\\x%02x", u);
        }
      } else {
        out->append(text.substr(i, length));
        i += length - 1;
      }
      continue;
    }
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (u < 0x20 || u == 0x7f) {
          if (format == Format::kJson) {
            absl::StrAppendFormat(out, "\\u%04x", u);
          } else {
            absl::StrAppendFormat(out, "\\x%02x", u);
          }
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

}  // namespace

bool ParseLevel(std::string_view text, Level* level) {
  const std::string lower = absl::AsciiStrToLower(absl::string_view(text.data(), text.size()));
  if (lower == "trace") *level = Level::kTrace;
  else if (lower == "debug") *level = Level::kDebug;
  else if (lower == "info") *level = Level::kInfo;
  else if (lower == "warn" || lower == "warning") *level = Level::kWarn;
  else if (lower == "error") *level = Level::kError;
  else if (lower == "off") *level = Level::kOff;
  else return false;
  return true;
}

bool ParseFormat(std::string_view text, Format* format) {
  const std::string lower = absl::AsciiStrToLower(absl::string_view(text.data(), text.size()));
  if (lower == "text") *format = Format::kText;
  else if (lower == "json") *format = Format::kJson;
  else return false;
  return true;
}

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kTrace: return "trace";
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warn";
    case Level::kError: return "error";
    case Level::kOff: return "off";
  }
  return "info";
}

void Init(const Options& options) {
  spdlog::logger& logger = Logger();
  g_format.store(options.format, std::memory_order_relaxed);
  logger.set_level(ToSpd(options.level));
  if (options.format == Format::kJson) {
    // The level, message and fields are JSON already (Write()): spdlog's
    // own level names say "warning" where the flag and the docs say "warn".
    logger.set_pattern(R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ",%v})", spdlog::pattern_time_type::utc);
  } else {
    logger.set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %v", spdlog::pattern_time_type::utc);
  }
}

bool Enabled(Level level) { return Logger().should_log(ToSpd(level)); }

Field::Field(std::string_view name, absl::Duration value)
    : name_(name), kind_(Kind::kOwned), owned_(absl::FormatDuration(value)) {}

Field::Field(std::string_view name, const absl::Status& status)
    : name_(name), kind_(Kind::kOwned), owned_(status.ToString()) {}

void Field::AppendTo(Format format, std::string* out) const {
  if (format == Format::kJson) {
    out->push_back(',');
    AppendQuoted(format, name_, out);
    out->push_back(':');
  } else {
    out->append(" ").append(name_).append("=");
  }
  switch (kind_) {
    case Kind::kString: AppendQuoted(format, text_, out); break;
    case Kind::kOwned: AppendQuoted(format, owned_, out); break;
    case Kind::kInt: absl::StrAppend(out, int_); break;
    case Kind::kUint: absl::StrAppend(out, uint_); break;
    case Kind::kBool: out->append(int_ != 0 ? "true" : "false"); break;
    case Kind::kDouble:
      if (std::isfinite(double_)) {
        absl::StrAppend(out, double_);
      } else {
        AppendQuoted(format, absl::StrCat(double_), out);
      }
      break;
  }
}

std::string FormatLine(Format format, std::string_view message, Fields fields) {
  std::string line;
  if (format == Format::kJson) {
    line.append("\"msg\":");
    AppendQuoted(format, message, &line);
  } else {
    line.append(message);
  }
  for (const Field& field : fields) field.AppendTo(format, &line);
  return line;
}

void Write(Level level, std::string_view message, Fields fields) {
  spdlog::logger& logger = Logger();
  const spdlog::level::level_enum spd = ToSpd(level);
  if (!logger.should_log(spd)) return;
  const Format format = g_format.load(std::memory_order_relaxed);
  std::string line;
  if (format == Format::kJson) {
    const std::string_view name = LevelName(level);
    line.append("\"level\":\"").append(name).append("\",");
  } else {
    const std::string_view name = LevelName(level);
    line.append(name.data(), name.size());
    line.append(6 - std::min<std::size_t>(name.size(), 5), ' ');  // "warn  ", "error "
  }
  line += FormatLine(format, message, fields);
  logger.log(spd, "{}", line);
}

std::int64_t RateLimiter::Allow(absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (burst_ < 1) {  // 0 per second: log none
    ++suppressed_;
    return -1;
  }
  if (tokens_ < 0) {
    tokens_ = burst_;
    last_ = now;
  }
  if (now > last_) {
    tokens_ = std::min(burst_, tokens_ + absl::ToDoubleSeconds(now - last_) * per_second_);
    last_ = now;
  }
  if (tokens_ < 1) {
    ++suppressed_;
    return -1;
  }
  tokens_ -= 1;
  const std::int64_t suppressed = suppressed_;
  suppressed_ = 0;
  return suppressed;
}

}  // namespace baton::log

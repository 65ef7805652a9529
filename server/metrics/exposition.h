// Copyright 2026 The Baton Authors.
//
// Exposition writes metrics in Prometheus's text exposition format, version
// 0.0.4: one "# HELP" and one "# TYPE" line per family, then its samples,
// `name{label="value",...} value`, one a line.
//
// Example:
//   Exposition out;
//   out.Family("baton_sessions_open", "Session streams open now.", "gauge");
//   out.Sample("baton_sessions_open", {}, 3);
//   out.Family("baton_grants_total", "Waits granted.", "counter");
//   out.Sample("baton_grants_total", {{"kind", "PriorityLock"}}, 12);
//   std::string body = out.Take();
//
// Label values may hold any bytes: backslash, double quote and newline are
// escaped as the format requires (EscapeLabelValue). HELP text escapes
// backslash and newline.
//
// Threading: an Exposition is one scrape's, used by one thread.

#ifndef BATON_SERVER_METRICS_EXPOSITION_H_
#define BATON_SERVER_METRICS_EXPOSITION_H_

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"
#include <utility>
#include <vector>

namespace baton::metrics {

// The Content-Type of the text format.
inline constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

using Labels = std::vector<std::pair<absl::string_view, absl::string_view>>;

// EscapeLabelValue() escapes `value` for the inside of a label's quotes:
// \ as \\, " as \", newline as \n.
std::string EscapeLabelValue(absl::string_view value);

// EscapeHelp() escapes HELP text: \ as \\, newline as \n.
std::string EscapeHelp(absl::string_view help);

// FormatValue() writes a sample value: integers without a fraction, other
// values with up to 17 significant digits, and +Inf, -Inf, NaN.
std::string FormatValue(double value);

class Exposition {
 public:
  // Family() starts a metric family: its HELP and TYPE lines. `type` is
  // "counter", "gauge" or "histogram".
  void Family(absl::string_view name, absl::string_view help, absl::string_view type);

  // Sample() writes one sample of the current family.
  void Sample(absl::string_view name, const Labels& labels, double value);

  // Histogram() writes a histogram's samples: name_bucket{le=...} for each
  // upper bound (cumulative counts), le="+Inf", name_sum and name_count.
  // `counts[i]` is the count of observations in bucket i (not cumulative),
  // with one more entry than `bounds` for the observations above them all.
  void Histogram(absl::string_view name, const Labels& labels,
                 const std::vector<double>& bounds, const std::vector<std::uint64_t>& counts,
                 double sum);

  const std::string& text() const { return text_; }
  std::string Take() { return std::move(text_); }

 private:
  std::string text_;
};

}  // namespace baton::metrics

#endif  // BATON_SERVER_METRICS_EXPOSITION_H_

// Copyright 2026 The Baton Authors.
//
// Just enough JSON for `baton --json`: a string escaper and a builder of one
// flat-or-nested object, written field by field. No parsing, no dependency.
//
// Example:
//   JsonObject out;
//   out.String("name", "api/limit").Number("tokens_left", 4).Bool("granted", true);
//   std::puts(out.str().c_str());   // {"name":"api/limit","tokens_left":4,"granted":true}

#ifndef BATON_CLIENT_CLI_JSON_H_
#define BATON_CLIENT_CLI_JSON_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace baton::cli {

// JsonQuote() is `text` as a JSON string, quotes included: `"`, `\` and the
// control characters are escaped; other bytes (UTF-8) pass as they are.
std::string JsonQuote(std::string_view text);
// JsonNumber() is a double as JSON: shortest exact form, null when not finite.
std::string JsonNumber(double value);

// JsonObject builds one object; fields appear in the order they are added.
class JsonObject {
 public:
  JsonObject& String(std::string_view key, std::string_view value);
  JsonObject& Number(std::string_view key, double value);
  JsonObject& Integer(std::string_view key, std::int64_t value);
  JsonObject& Unsigned(std::string_view key, std::uint64_t value);
  JsonObject& Bool(std::string_view key, bool value);
  // Raw() adds a value that is JSON already (an object or array).
  JsonObject& Raw(std::string_view key, std::string_view json);
  bool empty() const { return body_.empty(); }
  std::string str() const { return "{" + body_ + "}"; }

 private:
  void Key(std::string_view key);
  std::string body_;
};

// JsonArray() joins values that are JSON already into an array.
std::string JsonArray(const std::vector<std::string>& values);

}  // namespace baton::cli

#endif  // BATON_CLIENT_CLI_JSON_H_

// Copyright 2026 The Baton Authors.

#include "server/core/instance_name.h"

#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace baton::core {
namespace {

void ExpectInvalid(const std::string& name, const std::string& message_part) {
  const absl::Status status = ValidateName(name);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument)
      << "name of " << name.size() << " bytes: " << status;
  const std::string message(status.message());
  EXPECT_NE(message.find(message_part), std::string::npos)
      << "'" << message << "' lacks '" << message_part << "'";
  EXPECT_EQ(message.rfind("name ", 0), 0u) << message;
}

TEST(ValidateNameTest, OrdinaryNamesAreValid) {
  for (const char* name :
       {"a", "jobs/42", "jobs/nightly", "downstream/db", "with_underscore", "ünïcödé",
        "日本語/ジョブ", "emoji-😀", "~!@#$%^&*()_+-={}[]|\\:;\"'<>,.?", "a.b/..c/d..",
        "...", "api:v1/limit@eu-west-1", "\xEE\x80\x80" /* private use U+E000 */}) {
    EXPECT_TRUE(ValidateName(name).ok()) << name;
  }
}

// Every name of up to 6 bytes over "a./ " against the grammar, computed here
// the slow way: ValidateName()'s one-pass fast path for plain ASCII names
// must agree with it, on valid and invalid names alike.
bool ByTheGrammar(const std::string& name) {
  if (name.empty() || name.find(' ') != std::string::npos) return false;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = name.find('/', start);
    const std::string segment =
        name.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (segment.empty() || segment == "." || segment == "..") return false;
    if (slash == std::string::npos) return true;
    start = slash + 1;
  }
}

TEST(ValidateNameTest, EveryShortNameOverASmallAlphabetFollowsTheGrammar) {
  const std::string alphabet = "a./ ";
  std::vector<std::string> names = {""};
  for (int length = 1; length <= 6; ++length) {
    std::vector<std::string> longer;
    for (const std::string& name : names) {
      if (static_cast<int>(name.size()) != length - 1) continue;
      for (const char c : alphabet) longer.push_back(name + c);
    }
    names.insert(names.end(), longer.begin(), longer.end());
  }
  for (const std::string& name : names) {
    EXPECT_EQ(ValidateName(name).ok(), ByTheGrammar(name)) << "'" << name << "'";
  }
}

// Longer names (the check goes eight bytes at a time): random ones over a
// few characters, and every word boundary of a plain name broken once.
TEST(ValidateNameTest, LongerNamesFollowTheGrammar) {
  std::mt19937 random(16);
  const std::string alphabet = "ab./";
  for (int n = 0; n < 20000; ++n) {
    std::string name(1 + random() % 40, 'a');
    for (char& c : name) c = alphabet[random() % alphabet.size()];
    EXPECT_EQ(ValidateName(name).ok(), ByTheGrammar(name)) << "'" << name << "'";
  }
  const std::string plain = "loadgen/12345/lock/3/15/and/more/segments";
  ASSERT_TRUE(ValidateName(plain).ok());
  for (std::size_t i = 0; i < plain.size(); ++i) {
    for (const char c : {'/', '.', ' ', '\x7f', '\x01'}) {
      std::string name = plain;
      name[i] = c;
      EXPECT_EQ(ValidateName(name).ok(), ByTheGrammar(name) && c != '\x7f' && c != '\x01')
          << "'" << name << "'";
    }
  }
}

TEST(ValidateNameTest, EmptyIsInvalid) {
  ExpectInvalid("", "name must not be empty");
}

TEST(ValidateNameTest, LengthLimitIs256Bytes) {
  EXPECT_TRUE(ValidateName(std::string(1, 'x')).ok());
  EXPECT_TRUE(ValidateName(std::string(256, 'x')).ok());
  ExpectInvalid(std::string(257, 'x'),
                "name must be at most 256 bytes, got 257");
  ExpectInvalid(std::string(300, 'x'),
                "name must be at most 256 bytes, got 300");
}

TEST(ValidateNameTest, LengthCountsBytesNotCharacters) {
  // 2-byte characters: 128 of them are 256 bytes.
  std::string two;
  for (int i = 0; i < 128; ++i) two += "é";
  EXPECT_TRUE(ValidateName(two).ok());
  ExpectInvalid(two + "a", "got 257");
  // 4-byte characters: 64 fill 256 bytes exactly.
  std::string four;
  for (int i = 0; i < 64; ++i) four += "😀";
  EXPECT_TRUE(ValidateName(four).ok());
  // A 3-byte character straddling the limit: 254 + 3 = 257.
  ExpectInvalid(std::string(254, 'x') + "€", "got 257");
  EXPECT_TRUE(ValidateName(std::string(253, 'x') + "€").ok());
}

TEST(ValidateNameTest, CutMultiByteCharacterIsInvalid) {
  // A name truncated to 256 bytes in the middle of a character.
  std::string name(255, 'x');
  name += "\xE2\x82";  // first two bytes of U+20AC
  name.resize(256);
  ExpectInvalid(name, "truncated sequence at byte offset 255");
  ExpectInvalid("\xC3", "truncated sequence at byte offset 0");
  ExpectInvalid("ab\xF0\x9F\x98", "truncated sequence at byte offset 2");
}

TEST(ValidateNameTest, StrayAndInvalidBytes) {
  ExpectInvalid("\x80", "unexpected continuation byte 0x80 at byte offset 0");
  ExpectInvalid("a\xBF", "unexpected continuation byte 0xBF at byte offset 1");
  ExpectInvalid("\xF8\x88\x80\x80\x80", "invalid lead byte 0xF8");
  ExpectInvalid("\xFF", "invalid lead byte 0xFF");
  ExpectInvalid("\xFE", "invalid lead byte 0xFE");
  // A lead byte followed by a non-continuation.
  ExpectInvalid(
      "\xC3"
      "a",
      "expected a continuation byte, got 0x61 at byte offset 1");
  ExpectInvalid(
      "\xE2\x82"
      "a",
      "at byte offset 2");
}

TEST(ValidateNameTest, OverlongEncodingsAreInvalid) {
  ExpectInvalid("\xC0\xAF", "overlong encoding of U+002F");  // '/'
  ExpectInvalid("\xC1\xBF", "overlong encoding of U+007F");
  ExpectInvalid("\xC0\x80", "overlong");  // NUL
  ExpectInvalid("\xE0\x80\xAF", "overlong encoding of U+002F");
  ExpectInvalid("\xE0\x9F\xBF", "overlong encoding of U+07FF");
  ExpectInvalid("\xF0\x80\x80\xAF", "overlong encoding of U+002F");
  ExpectInvalid("\xF0\x8F\xBF\xBF", "overlong encoding of U+FFFF");
  // The smallest proper encodings of each length are fine.
  EXPECT_TRUE(ValidateName("\xC2\xA1").ok());          // U+00A1
  EXPECT_TRUE(ValidateName("\xE0\xA0\x80").ok());      // U+0800
  EXPECT_TRUE(ValidateName("\xF0\x90\x80\x80").ok());  // U+10000
}

TEST(ValidateNameTest, SurrogatesAreInvalid) {
  ExpectInvalid("\xED\xA0\x80", "surrogate U+D800");
  ExpectInvalid("\xED\xBF\xBF", "surrogate U+DFFF");
  ExpectInvalid("ok\xED\xB0\x80", "surrogate U+DC00 at byte offset 2");
  EXPECT_TRUE(ValidateName("\xED\x9F\xBF").ok());  // U+D7FF
  EXPECT_TRUE(ValidateName("\xEE\x80\x80").ok());  // U+E000
}

TEST(ValidateNameTest, AboveU10FFFFIsInvalid) {
  EXPECT_TRUE(ValidateName("\xF4\x8F\xBF\xBD").ok());   // U+10FFFD (U+10FFFF: a noncharacter)
  ExpectInvalid("\xF4\x90\x80\x80", "above U+10FFFF");  // U+110000
  ExpectInvalid("\xF7\xBF\xBF\xBF", "above U+10FFFF");  // U+1FFFFF
}

TEST(ValidateNameTest, ControlCharactersAreInvalid) {
  ExpectInvalid(std::string("a\0b", 3),
                "control characters, got U+0000 at byte offset 1");
  ExpectInvalid("\x01", "U+0001");
  ExpectInvalid("tab\t", "U+0009");
  ExpectInvalid("new\nline", "U+000A");
  ExpectInvalid("\x1F", "U+001F");
  ExpectInvalid("\x7F", "U+007F");             // DEL
  ExpectInvalid("\xC2\x80", "U+0080");         // C1 first
  ExpectInvalid("\xC2\x85", "U+0085");         // NEL
  ExpectInvalid("\xC2\x9F", "U+009F");         // C1 last
  EXPECT_TRUE(ValidateName("!").ok());         // U+0021
  EXPECT_TRUE(ValidateName("~").ok());         // U+007E
  EXPECT_TRUE(ValidateName("\xC2\xA1").ok());  // U+00A1 (after C1 and U+00A0)
}

TEST(ValidateNameTest, EveryC0AndC1ControlIsRejected) {
  for (int c = 0; c < 0x20; ++c) {
    EXPECT_FALSE(ValidateName(std::string(1, static_cast<char>(c))).ok()) << c;
  }
  for (int c = 0x80; c <= 0x9F; ++c) {
    std::string encoded = {static_cast<char>(0xC0 | (c >> 6)),
                           static_cast<char>(0x80 | (c & 0x3F))};
    EXPECT_FALSE(ValidateName(encoded).ok()) << c;
  }
}

// The names an operator found accepted, each now refused with the rule it
// breaks.
TEST(ValidateNameTest, TheFirstHourOfAnOperatorsNamesAreRefusedNamingTheRule) {
  ExpectInvalid("jobs/nightly ", "name must not contain whitespace, got U+0020 at byte offset 12");
  ExpectInvalid("my lock", "name must not contain whitespace, got U+0020 at byte offset 2");
  ExpectInvalid("a//b", "name must not contain an empty segment ('//' at byte offset 1)");
  ExpectInvalid("/leading", "name must not start with '/', got '/leading'");
  EXPECT_TRUE(ValidateName("jobs/nightly").ok());
}

TEST(ValidateNameTest, EveryUnicodeWhitespaceIsRefused) {
  ExpectInvalid(" ", "whitespace, got U+0020");
  ExpectInvalid(" leading", "at byte offset 0");
  ExpectInvalid("a\xC2\xA0" "b", "whitespace, got U+00A0 at byte offset 1");
  ExpectInvalid("\xE1\x9A\x80", "whitespace, got U+1680");
  ExpectInvalid("\xE2\x80\x80", "whitespace, got U+2000");
  ExpectInvalid("\xE2\x80\x8A", "whitespace, got U+200A");
  ExpectInvalid("\xE2\x80\xA8", "whitespace, got U+2028");
  ExpectInvalid("\xE2\x80\xA9", "whitespace, got U+2029");
  ExpectInvalid("\xE2\x80\xAF", "whitespace, got U+202F");
  ExpectInvalid("\xE2\x81\x9F", "whitespace, got U+205F");
  ExpectInvalid("\xE3\x80\x80", "whitespace, got U+3000");
  // The whitespace controls are reported as controls.
  ExpectInvalid("tab\t", "control characters, got U+0009");
  ExpectInvalid("\xC2\x85", "control characters, got U+0085");
}

TEST(ValidateNameTest, InvisibleFormatCharactersAndNoncharactersAreRefused) {
  ExpectInvalid("ab\xC2\xAD", "invisible format characters, got U+00AD at byte offset 2");
  ExpectInvalid("a\xE2\x80\x8B" "b", "invisible format characters, got U+200B");  // zero width
  ExpectInvalid("\xE2\x80\x8D", "U+200D");                                     // ZWJ
  ExpectInvalid("\xE2\x80\x8F", "U+200F");                                     // RLM
  ExpectInvalid("\xE2\x80\xAE", "U+202E");                                     // RLO
  ExpectInvalid("\xE2\x81\xA0", "U+2060");                                     // WJ
  ExpectInvalid("\xE2\x81\xA6", "U+2066");
  ExpectInvalid("\xEF\xBB\xBF", "invisible format characters, got U+FEFF");  // BOM
  ExpectInvalid("\xEF\xB7\x90", "noncharacters, got U+FDD0");
  ExpectInvalid("\xEF\xBF\xBE", "noncharacters, got U+FFFE");
  ExpectInvalid("\xEF\xBF\xBF", "noncharacters, got U+FFFF");
  ExpectInvalid("\xF0\x9F\xBF\xBE", "noncharacters, got U+1FFFE");
  ExpectInvalid("\xF4\x8F\xBF\xBF", "noncharacters, got U+10FFFF");
  // Their neighbours are ordinary characters.
  EXPECT_TRUE(ValidateName("\xC2\xAC").ok());      // U+00AC
  EXPECT_TRUE(ValidateName("\xE2\x80\x90").ok());  // U+2010 hyphen
  EXPECT_TRUE(ValidateName("\xEF\xB7\xB0").ok());  // U+FDF0
  EXPECT_TRUE(ValidateName("\xEF\xBF\xBD").ok());  // U+FFFD
}

TEST(ValidateNameTest, SegmentsAreSeparatedBySingleSlashes) {
  EXPECT_TRUE(ValidateName("a/b/c").ok());
  EXPECT_TRUE(ValidateName("a").ok());
  ExpectInvalid("/", "name must not start with '/'");
  ExpectInvalid("/a/b", "must not start with '/'");
  ExpectInvalid("a/b/", "name must not end with '/', got 'a/b/'");
  ExpectInvalid("a/b//c", "empty segment ('//' at byte offset 3)");
  ExpectInvalid("a///b", "empty segment ('//' at byte offset 1)");
  ExpectInvalid("a//b", "segments separated by single '/'");
}

TEST(ValidateNameTest, DotSegmentsAreRefused) {
  ExpectInvalid(".", "name must not contain a '.' segment (at byte offset 0)");
  ExpectInvalid("..", "a '..' segment (at byte offset 0)");
  ExpectInvalid("a/./b", "a '.' segment (at byte offset 2)");
  ExpectInvalid("a/..", "a '..' segment (at byte offset 2)");
  ExpectInvalid("../etc", "a '..' segment");
  EXPECT_TRUE(ValidateName(".a/b./...").ok());
}

TEST(ValidateNameTest, ALongNameWithManySegmentsIsValidAtTheLimit) {
  std::string name = "a";
  while (name.size() + 2 <= kMaxNameBytes) name += "/b";
  EXPECT_EQ(name.size(), kMaxNameBytes - 1);
  EXPECT_TRUE(ValidateName(name).ok());
  ExpectInvalid(name + "/", "must not end with '/'");
  ExpectInvalid(name + "/c", "at most 256 bytes, got 257");
}

TEST(ValidateUtf8Test, AcceptsAnyWellFormedTextControlsIncludedAndNamesTheField) {
  for (const std::string& text : {std::string(), std::string("a\tb\n"), std::string(1, '\0'),
                                 std::string("\xC2\x85"), std::string("日本語 😀"),
                                 std::string(" a//b "), std::string("\xEF\xBB\xBF")}) {
    EXPECT_TRUE(ValidateUtf8(text, "owner_key").ok()) << text;
  }
  for (const std::string& text : {std::string("\xFF"), std::string("a\xC3"),
                                 std::string("\xC0\xAF"), std::string("\xED\xA0\x80")}) {
    const absl::Status status = ValidateUtf8(text, "notify.key");
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_EQ(std::string(status.message()).rfind("notify.key must be valid UTF-8", 0), 0u)
        << status;
  }
}

}  // namespace
}  // namespace baton::core

// Copyright 2026 The Baton Authors.

#include "server/core/instance_name.h"

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/core/status_macros.h"

namespace baton::core {
namespace {

// Hex() writes `value` in upper-case hexadecimal, at least `width` digits.
std::string Hex(std::uint32_t value, int width) {
  return absl::AsciiStrToUpper(absl::StrCat(
      absl::Hex(value, width == 2 ? absl::kZeroPad2 : absl::kZeroPad4)));
}

absl::Status BadByte(absl::string_view field, const char* what, unsigned char byte,
                     std::size_t offset) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, " must be valid UTF-8: ", what, " 0x", Hex(byte, 2),
                   " at byte offset ", offset));
}

bool IsControl(std::uint32_t c) { return c < 0x20 || (c >= 0x7F && c <= 0x9F); }

// IsWhitespace() is Unicode's White_Space property (PropList.txt), less the
// controls among it (TAB..CR, U+0085), which IsControl() reports first.
bool IsWhitespace(std::uint32_t c) {
  return c == 0x20 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// IsInvisibleFormat() is the characters that render as nothing (or reorder
// what follows) and so make two different names look alike: the soft
// hyphen, the Arabic letter mark, the Mongolian vowel separator, zero-width
// characters, direction marks and bidi controls, the word joiner and
// invisible operators, the deprecated format characters, the BOM and the
// interlinear annotation controls.
bool IsInvisibleFormat(std::uint32_t c) {
  return c == 0xAD || c == 0x061C || c == 0x180E || (c >= 0x200B && c <= 0x200F) ||
         (c >= 0x202A && c <= 0x202E) || (c >= 0x2060 && c <= 0x206F) || c == 0xFEFF ||
         (c >= 0xFFF9 && c <= 0xFFFB);
}

// IsNoncharacter() is Unicode's 66 noncharacters.
bool IsNoncharacter(std::uint32_t c) {
  return (c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE;
}

// ScanUtf8() checks that `name` is well-formed UTF-8 and, with
// `forbid_controls` (names), free of control, whitespace, invisible format
// characters and noncharacters; errors name `field`.
absl::Status ScanUtf8(std::string_view name, absl::string_view field,
                      bool forbid_controls) {
  std::size_t i = 0;
  while (i < name.size()) {
    const std::size_t start = i;
    const auto lead = static_cast<unsigned char>(name[i]);
    // Printable ASCII other than the space, most names' every byte: one
    // compare, not the classification below (this runs on every request).
    if (lead > 0x20 && lead < 0x7F) {
      ++i;
      continue;
    }
    // The sequence length and the smallest code point it may encode (below
    // that, the encoding is overlong).
    std::size_t length;
    std::uint32_t code_point;
    std::uint32_t min_code_point;
    if (lead < 0x80) {
      length = 1;
      code_point = lead;
      min_code_point = 0;
    } else if (lead >= 0xC0 && lead < 0xE0) {
      length = 2;
      code_point = lead & 0x1F;
      min_code_point = 0x80;
    } else if (lead >= 0xE0 && lead < 0xF0) {
      length = 3;
      code_point = lead & 0x0F;
      min_code_point = 0x800;
    } else if (lead >= 0xF0 && lead < 0xF8) {
      length = 4;
      code_point = lead & 0x07;
      min_code_point = 0x10000;
    } else if (lead < 0xC0) {
      return BadByte(field, "unexpected continuation byte", lead, start);
    } else {
      return BadByte(field, "invalid lead byte", lead, start);
    }
    if (name.size() - start < length) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, " must be valid UTF-8: truncated sequence at byte offset ",
          start));
    }
    for (std::size_t k = 1; k < length; ++k) {
      const auto byte = static_cast<unsigned char>(name[start + k]);
      if ((byte & 0xC0) != 0x80) {
        return BadByte(field, "expected a continuation byte, got", byte, start + k);
      }
      code_point = (code_point << 6) | (byte & 0x3F);
    }
    if (code_point < min_code_point) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " must be valid UTF-8: overlong encoding of U+",
                       Hex(code_point, 4), " at byte offset ", start));
    }
    if (code_point >= 0xD800 && code_point <= 0xDFFF) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " must be valid UTF-8: surrogate U+",
                       Hex(code_point, 4), " at byte offset ", start));
    }
    if (code_point > 0x10FFFF) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, " must be valid UTF-8: code point above U+10FFFF at byte "
          "offset ",
          start));
    }
    if (forbid_controls) {
      const char* what = IsControl(code_point)           ? "control characters"
                         : IsWhitespace(code_point)      ? "whitespace"
                         : IsInvisibleFormat(code_point) ? "invisible format characters"
                         : IsNoncharacter(code_point)    ? "Unicode noncharacters"
                                                         : nullptr;
      if (what != nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, " must not contain ", what, ", got U+",
                         Hex(code_point, 4), " at byte offset ", start));
      }
    }
    i = start + length;
  }
  return absl::OkStatus();
}

}  // namespace

namespace {

// IsPlainName() is true for most names, which are valid: printable ASCII
// other than the space, segments separated by single '/', none starting
// with '.' (so none is "." or ".."), no '/' at either end. Eight bytes at a
// time, a few word operations each: this runs on every request. False does
// not mean invalid: ValidateName() then checks the name in full.
constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
constexpr std::uint64_t kHigh = 0x8080808080808080ULL;

// ZeroBytes() has 0x80 in each byte of `v` that is zero, 0 in the others
// (exact: no carry crosses a byte).
std::uint64_t ZeroBytes(std::uint64_t v) {
  return ~(((v & ~kHigh) + ~kHigh) | v) & kHigh;
}

bool IsPlainName(std::string_view name) {
  if (name.empty() || name.back() == '/') return false;
  // 0x80 in byte 0 when the byte before this word is a '/' (or the name
  // starts here): a '/' or '.' there is a "//", a leading '/' or a segment
  // starting with '.'.
  std::uint64_t after_slash = 0x80;
  for (std::size_t i = 0; i < name.size(); i += 8) {
    std::uint64_t w;
    if (name.size() - i >= 8) {
      std::memcpy(&w, name.data() + i, 8);  // one load
    } else if (std::endian::native == std::endian::little && i >= 8) {
      // The last bytes: the name's last 8 (one load, overlapping the word
      // before), shifted down to drop those checked already, and padded
      // with 'a' above, as below.
      const std::size_t rest = name.size() - i;  // 1 to 7
      std::memcpy(&w, name.data() + name.size() - 8, 8);
      const unsigned shift = static_cast<unsigned>(8 * (8 - rest));
      w = (w >> shift) | ((kOnes * 'a') << (64 - shift));
    } else {
      char tail[8] = {'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a'};  // padded with 'a'
      for (std::size_t k = 0; k < name.size() - i; ++k) tail[k] = name[i + k];
      std::memcpy(&w, tail, 8);
    }
    if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap64(w);
    // Every byte in [0x21, 0x7E]: below 0x80, and adding 0x5F carries into
    // its high bit while adding 0x01 does not (no byte overflows).
    if ((w & kHigh) != 0 || ((w + kOnes * 0x5F) & kHigh) != kHigh ||
        ((w + kOnes * 0x01) & kHigh) != 0) {
      return false;
    }
    const std::uint64_t slash = ZeroBytes(w ^ (kOnes * '/'));
    const std::uint64_t dot = ZeroBytes(w ^ (kOnes * '.'));
    if ((((slash << 8) | after_slash) & (slash | dot)) != 0) return false;
    after_slash = slash >> 56;
  }
  return true;
}

}  // namespace

absl::Status ValidateName(std::string_view name) {
  if (name.size() <= kMaxNameBytes && IsPlainName(name)) return absl::OkStatus();
  if (name.empty()) {
    return absl::InvalidArgumentError("name must not be empty");
  }
  if (name.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "name must be at most ", kMaxNameBytes, " bytes, got ", name.size()));
  }
  BATON_RETURN_IF_ERROR(ScanUtf8(name, "name", /*forbid_controls=*/true));
  // The text is clean: the segments are left to check, and the name can be
  // quoted as it is.
  constexpr absl::string_view kGrammar =
      " (a name is segments separated by single '/', like jobs/nightly)";
  const absl::string_view quoted(name.data(), name.size());
  if (name.front() == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("name must not start with '/', got '", quoted, "'", kGrammar));
  }
  if (name.back() == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("name must not end with '/', got '", quoted, "'", kGrammar));
  }
  // One pass over the bytes: a segment ends at each '/'.
  std::size_t start = 0;
  for (std::size_t i = 0; i <= name.size(); ++i) {
    if (i < name.size() && name[i] != '/') continue;
    const std::string_view segment = name.substr(start, i - start);
    if (segment.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("name must not contain an empty segment ('//' at byte offset ",
                       start - 1, "), got '", quoted, "'", kGrammar));
    }
    if (segment.size() <= 2 && (segment == "." || segment == "..")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "name must not contain a '", absl::string_view(segment.data(), segment.size()),
          "' segment (at byte offset ", start, "), got '", quoted, "'", kGrammar));
    }
    start = i + 1;
  }
  return absl::OkStatus();
}

absl::Status ValidateUtf8(std::string_view text, std::string_view field) {
  return ScanUtf8(text, absl::string_view(field.data(), field.size()),
                  /*forbid_controls=*/false);
}

}  // namespace baton::core

// Copyright 2026 The Baton Authors.

#include "server/core/instance_name.h"

#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

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

// ScanUtf8() checks that `name` is well-formed UTF-8 and, with
// `forbid_controls`, free of control characters; errors name `field`.
absl::Status ScanUtf8(std::string_view name, absl::string_view field,
                      bool forbid_controls) {
  std::size_t i = 0;
  while (i < name.size()) {
    const std::size_t start = i;
    const auto lead = static_cast<unsigned char>(name[i]);
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
    if (forbid_controls &&
        (code_point < 0x20 || (code_point >= 0x7F && code_point <= 0x9F))) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " must not contain control characters, got U+",
                       Hex(code_point, 4), " at byte offset ", start));
    }
    i = start + length;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateName(std::string_view name) {
  if (name.empty()) {
    return absl::InvalidArgumentError("name must not be empty");
  }
  if (name.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "name must be at most ", kMaxNameBytes, " bytes, got ", name.size()));
  }
  return ScanUtf8(name, "name", /*forbid_controls=*/true);
}

absl::Status ValidateUtf8(std::string_view text, std::string_view field) {
  return ScanUtf8(text, absl::string_view(field.data(), field.size()),
                  /*forbid_controls=*/false);
}

}  // namespace baton::core

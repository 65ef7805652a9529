// Copyright 2026 The Baton Authors.
//
// The rules for the name of an instance (a lock, a semaphore, ...). A name is
// what clients agree on to share an instance, so it is checked once, where it
// enters the registry, and every later message can quote it safely.
//
// A valid name is:
//   - non-empty and at most kMaxNameBytes (256) bytes of UTF-8;
//   - well-formed UTF-8: no stray continuation bytes, no truncated
//     sequences, no overlong encodings, no surrogates (U+D800..U+DFFF), no
//     code points above U+10FFFF;
//   - free of control characters: C0 (U+0000..U+001F), DEL (U+007F) and C1
//     (U+0080..U+009F).
// Everything else is allowed, spaces and '/' included.
//
// Example:
//   BATON_RETURN_IF_ERROR(ValidateName(request.name()));
//
// Threading: stateless; safe from any thread.

#ifndef BATON_SERVER_CORE_INSTANCE_NAME_H_
#define BATON_SERVER_CORE_INSTANCE_NAME_H_

#include <cstddef>
#include <string_view>

#include "absl/status/status.h"

namespace baton::core {

inline constexpr std::size_t kMaxNameBytes = 256;

// ValidateName() is OK for a valid name (see above), and otherwise
// INVALID_ARGUMENT naming the field ("name"), the rule broken and where, e.g.
// "name must be at most 256 bytes, got 300".
absl::Status ValidateName(std::string_view name);

// ValidateUtf8() is OK when `text` is well-formed UTF-8 (as above; control
// characters are allowed), and otherwise INVALID_ARGUMENT naming `field`.
// For the client-chosen keys, which travel as bytes so that a bad one is
// answered as a bad request instead of failing the whole message's parse.
absl::Status ValidateUtf8(std::string_view text, std::string_view field);

}  // namespace baton::core

#endif  // BATON_SERVER_CORE_INSTANCE_NAME_H_

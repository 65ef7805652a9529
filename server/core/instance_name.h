// Copyright 2026 The Baton Authors.
//
// The rules for the name of an instance (a lock, a semaphore, ...). A name is
// what clients agree on to share an instance, and what operators read in
// `baton list`, logs and metrics, so two names that look alike must be the
// same name. It is checked once, where it enters the server (every Session
// request and every Admin call), and every later message can quote it safely.
//
// The grammar (close to an etcd key or a Consul KV path, stricter than either
// on what can hide in a name, looser than a Kubernetes name on the alphabet):
//
//   name    = segment *( "/" segment )      ; 1 to kMaxNameBytes (256) bytes
//   segment = 1*char, neither "." nor ".."
//   char    = any Unicode scalar value except "/", control characters,
//             whitespace, invisible format characters and noncharacters
//
// Rule by rule (ValidateName() names the rule it finds broken first, in this
// order):
//   1. non-empty, and at most kMaxNameBytes (256) bytes (bytes, not
//      characters);
//   2. well-formed UTF-8: no stray continuation bytes, no truncated
//      sequences, no overlong encodings, no surrogates (U+D800..U+DFFF), no
//      code points above U+10FFFF;
//   3. no control characters: C0 (U+0000..U+001F), DEL (U+007F), C1
//      (U+0080..U+009F);
//   4. no whitespace: none of Unicode's White_Space characters (space,
//      U+00A0 no-break space, U+2000..U+200A, U+3000 ideographic space, ...),
//      so "jobs/nightly " and "jobs/nightly" cannot both exist;
//   5. no invisible format characters (soft hyphen U+00AD, zero-width
//      U+200B..U+200D, direction marks and bidi controls U+200E/F,
//      U+202A..U+202E, U+2066..U+2069, word joiner U+2060..U+2064, U+FEFF,
//      ...) and no noncharacters (U+FDD0..U+FDEF, U+xxFFFE, U+xxFFFF);
//   6. segments separated by single '/': no leading or trailing '/', no
//      empty segment ("a//b");
//   7. no "." or ".." segment ("a/./b", "../x").
// Everything else is allowed: letters and digits of any script, punctuation
// ("-", "_", ".", ":", "@", ...), symbols and emoji. Names are case-sensitive
// and compared byte for byte (no Unicode normalization).
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
// "name must be at most 256 bytes, got 300", "name must not contain
// whitespace, got U+0020 at byte offset 12".
absl::Status ValidateName(std::string_view name);

// ValidateUtf8() is OK when `text` is well-formed UTF-8 (as above; control
// characters are allowed), and otherwise INVALID_ARGUMENT naming `field`.
// For the client-chosen keys, which travel as bytes so that a bad one is
// answered as a bad request instead of failing the whole message's parse.
absl::Status ValidateUtf8(std::string_view text, std::string_view field);

}  // namespace baton::core

#endif  // BATON_SERVER_CORE_INSTANCE_NAME_H_

// Copyright 2026 The Baton Authors.
//
// Conversions between the wire contract (baton.v1) and server/core. Errors
// name the request field, as the contract promises.

#ifndef BATON_SERVER_SERVICE_PROTO_CONVERT_H_
#define BATON_SERVER_SERVICE_PROTO_CONVERT_H_

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "baton/v1/admin.pb.h"
#include "baton/v1/common.pb.h"
#include "server/core/registry.h"

namespace baton::service {

// KindFromProto() fails with INVALID_ARGUMENT naming `field` when unset.
absl::StatusOr<core::Kind> KindFromProto(v1::Kind kind, std::string_view field);
v1::Kind KindToProto(core::Kind kind);

// ConfigFromProto() checks that the parameters fit the kind and are valid;
// an error names the field's whole path ("config.rate_limit.rate: must be
// finite and > 0, got nan", "config.latch.counts[\"db\"]: must be >= 0 ...").
// Latch keys: UTF-8, each once, at most `max_key_bytes` (a client's
// Declare passes batond's --max_key_bytes; a record read back from the
// store, which was checked when declared, passes no limit).
absl::StatusOr<core::InstanceConfig> ConfigFromProto(
    const v1::InstanceConfig& config,
    std::uint32_t max_key_bytes = std::numeric_limits<std::uint32_t>::max());
// LatchKeyPath() is the path of a latch key's count in a DeclareRequest:
// config.latch.counts["<key>"], the key C-escaped.
std::string LatchKeyPath(std::string_view key);

void ConfigToProto(const core::InstanceConfig& config, v1::InstanceConfig* out);

// HasLockOwner() is true for the kinds whose holder is one owner: the three
// locks and the condition (its lock).
bool HasLockOwner(core::Kind kind);

// StateToProto() fills the InstanceState of a snapshot: the fields of its
// kind, and the owner for the lock kinds. is_owner and session_permits,
// which depend on who asks, are left to the caller.
void StateToProto(const core::InstanceSnapshot& snapshot, v1::InstanceState* out);

// SnapshotToProto() fills a DescribeResponse from a snapshot.
void SnapshotToProto(const core::InstanceSnapshot& snapshot,
                     v1::DescribeResponse* out);

}  // namespace baton::service

#endif  // BATON_SERVER_SERVICE_PROTO_CONVERT_H_

// Copyright 2026 The Baton Authors.
//
// The one place where absl::Status becomes grpc::Status (STYLE.md rule 2).
// Their codes are the same numbers by design.

#ifndef BATON_SERVER_SERVICE_STATUS_CONVERT_H_
#define BATON_SERVER_SERVICE_STATUS_CONVERT_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace baton::service {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace baton::service

#endif  // BATON_SERVER_SERVICE_STATUS_CONVERT_H_

// Copyright 2026 The Baton Authors.
//
// Abseil 20220623 (Debian 12) has no ABSL_RETURN_IF_ERROR; these are ours.
//
// Example:
//   BATON_RETURN_IF_ERROR(ValidateName(name));
//   BATON_ASSIGN_OR_RETURN(Instance* instance, registry.Find(name));

#ifndef BATON_SERVER_CORE_STATUS_MACROS_H_
#define BATON_SERVER_CORE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define BATON_RETURN_IF_ERROR(expr)                        \
  do {                                                     \
    if (::absl::Status baton_status_ = (expr);             \
        !baton_status_.ok()) {                             \
      return baton_status_;                                \
    }                                                      \
  } while (false)

#define BATON_STATUS_CONCAT_INNER_(a, b) a##b
#define BATON_STATUS_CONCAT_(a, b) BATON_STATUS_CONCAT_INNER_(a, b)

#define BATON_ASSIGN_OR_RETURN(lhs, expr)                                   \
  BATON_ASSIGN_OR_RETURN_IMPL_(                                             \
      BATON_STATUS_CONCAT_(baton_statusor_, __LINE__), lhs, expr)

#define BATON_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                 \
  if (!statusor.ok()) return statusor.status();           \
  lhs = std::move(statusor).value()

#endif  // BATON_SERVER_CORE_STATUS_MACROS_H_

// Copyright 2026 The Baton Authors.
//
// CredentialsOf() reads what a gRPC call presents to Access: the bearer
// token of its "authorization" metadata, and the names of its TLS client
// certificate (subject, "CN=<common name>", subject alternative names), as
// gRPC's auth context carries them after a verified mTLS handshake.
//
// Example:
//   auth::Caller caller(access, auth::CredentialsOf(*context));
//   if (absl::Status s = caller.Allow(request->name(), auth::Role::kAdmin); !s.ok()) ...
//
// Threading: reads the context only; call it on the call's reaction.

#ifndef BATON_SERVER_AUTH_GRPC_CREDENTIALS_H_
#define BATON_SERVER_AUTH_GRPC_CREDENTIALS_H_

#include <grpcpp/server_context.h>

#include "server/auth/access.h"

namespace baton::auth {

Credentials CredentialsOf(const grpc::ServerContextBase& context);

}  // namespace baton::auth

#endif  // BATON_SERVER_AUTH_GRPC_CREDENTIALS_H_

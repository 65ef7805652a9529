// Copyright 2026 The Baton Authors.
//
// CredentialsOf() reads what a gRPC call presents to Access: the bearer
// token of its "authorization" metadata, and the names of its TLS client
// certificate (subject, "CN=<common name>", subject alternative names), as
// gRPC's auth context carries them after a verified mTLS handshake.
//
// A call one cluster node forwarded to another also carries the names of
// the original caller's certificate, in kForwardedSubjectsKey (one value
// per name), which the forwarding node sets from CertificateNamesOf() of
// the call it received. CredentialsOf() reads them into
// Credentials::forwarded_names; Caller trusts them only when the immediate
// peer's certificate is one of --auth_file's cluster_peers (access.h).
//
// Example:
//   auth::Caller caller(access, auth::CredentialsOf(*context));
//   if (absl::Status s = caller.Allow(request->name(), auth::Role::kAdmin); !s.ok()) ...
//
// Threading: reads the context only; call it on the call's reaction.

#ifndef BATON_SERVER_AUTH_GRPC_CREDENTIALS_H_
#define BATON_SERVER_AUTH_GRPC_CREDENTIALS_H_

#include <grpcpp/server_context.h>

#include <string>
#include <vector>

#include "server/auth/access.h"

namespace baton::auth {

Credentials CredentialsOf(const grpc::ServerContextBase& context);

// CertificateNamesOf() is the names of the verified client certificate of
// `context` (subject, "CN=<common name>", SANs), empty without one.
std::vector<std::string> CertificateNamesOf(const grpc::ServerContextBase& context);

}  // namespace baton::auth

#endif  // BATON_SERVER_AUTH_GRPC_CREDENTIALS_H_

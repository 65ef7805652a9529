// Copyright 2026 The Baton Authors.
//
// The channel credentials of a TlsOptions, shared by the client library and
// the `baton` CLI (which dials batond for its unary calls itself).
//
//   grpc::ChannelArguments args;
//   absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
//       baton::internal::ChannelCredentials(options.tls, &args);
//   if (!credentials.ok()) return credentials.status();
//   auto channel = grpc::CreateCustomChannel(address, *credentials, args);
//
// Threading: a plain function; call it from any thread.

#ifndef BATON_CLIENT_SRC_CHANNEL_CREDENTIALS_H_
#define BATON_CLIENT_SRC_CHANNEL_CREDENTIALS_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "baton/client.h"
#include "grpcpp/client_context.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace baton::internal {

// ChannelCredentials() is plaintext when !tls.on(), else TLS with the PEMs
// of `tls` (read from their files now); a server name goes into `*args`.
// INVALID_ARGUMENT naming the field when a file cannot be read, or a
// certificate comes without its key.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(
    const TlsOptions& tls, grpc::ChannelArguments* args);

// CheckToken() is OK for an empty token or one that can be sent as an HTTP
// header value (printable ASCII, no spaces); INVALID_ARGUMENT naming
// `field` otherwise (the token itself is never quoted).
absl::Status CheckToken(const std::string& token, std::string_view field);

// AddToken() adds "authorization: Bearer <token>" to `context` when
// `options` has a token (batond's --auth_file). Metadata, not call
// credentials: those are not sent on a plaintext channel, and a batond on
// loopback may check tokens without TLS.
void AddToken(const ClientOptions& options, grpc::ClientContext& context);

}  // namespace baton::internal

#endif  // BATON_CLIENT_SRC_CHANNEL_CREDENTIALS_H_

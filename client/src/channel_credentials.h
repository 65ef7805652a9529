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

#include "absl/status/statusor.h"
#include "baton/client.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace baton::internal {

// ChannelCredentials() is plaintext when !tls.on(), else TLS with the PEMs
// of `tls` (read from their files now); a server name goes into `*args`.
// INVALID_ARGUMENT naming the field when a file cannot be read, or a
// certificate comes without its key.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(
    const TlsOptions& tls, grpc::ChannelArguments* args);

}  // namespace baton::internal

#endif  // BATON_CLIENT_SRC_CHANNEL_CREDENTIALS_H_

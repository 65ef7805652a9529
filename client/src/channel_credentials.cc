// Copyright 2026 The Baton Authors.

#include "client/src/channel_credentials.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"

namespace baton::internal {
namespace {

// Pem() is `text`, else the contents of `file`, else "".
absl::StatusOr<std::string> Pem(const char* what, const std::string& file,
                                const std::string& text) {
  if (!text.empty() || file.empty()) return text;
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": cannot read '", file, "': ", std::strerror(errno)));
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (bytes.str().find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": '", file, "' holds no PEM block (-----BEGIN ...)"));
  }
  return bytes.str();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(
    const TlsOptions& tls, grpc::ChannelArguments* args) {
  if (!tls.on()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  absl::StatusOr<std::string> ca = Pem("tls.ca_file", tls.ca_file, tls.ca_pem);
  if (!ca.ok()) return ca.status();
  absl::StatusOr<std::string> cert = Pem("tls.cert_file", tls.cert_file, tls.cert_pem);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = Pem("tls.key_file", tls.key_file, tls.key_pem);
  if (!key.ok()) return key.status();
  if (cert->empty() != key->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tls: a client certificate needs its key and a key its certificate, but ",
        cert->empty() ? "tls.cert_file (or cert_pem)" : "tls.key_file (or key_pem)",
        " is not set"));
  }
  ssl.pem_root_certs = *std::move(ca);  // empty: gRPC's default roots
  ssl.pem_cert_chain = *std::move(cert);
  ssl.pem_private_key = *std::move(key);
  if (!tls.server_name.empty()) {
    args->SetSslTargetNameOverride(tls.server_name);
  }
  return grpc::SslCredentials(ssl);
}

absl::Status CheckToken(const std::string& token, std::string_view field) {
  for (const char c : token) {
    if (c <= ' ' || c > '~') {
      return absl::InvalidArgumentError(absl::StrCat(
          absl::string_view(field.data(), field.size()),
          ": must be printable ASCII without spaces (it is sent as an HTTP header value)"));
    }
  }
  return absl::OkStatus();
}

void AddToken(const ClientOptions& options, grpc::ClientContext& context) {
  if (!options.token.empty()) context.AddMetadata("authorization", "Bearer " + options.token);
}

}  // namespace baton::internal

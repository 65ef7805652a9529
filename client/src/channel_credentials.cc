// Copyright 2026 The Baton Authors.

#include "client/src/channel_credentials.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

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
  if (!tls.server_name.empty()) {
    args->SetSslTargetNameOverride(tls.server_name);
  }
  // Files only: watched, so that a long-lived client's reconnects present
  // the certificate cert-manager renewed (and trust a rotated CA). gRPC's
  // TLS credentials check batond's name as the SSL ones do.
  if (tls.ca_pem.empty() && tls.cert_pem.empty() && tls.key_pem.empty() &&
      (!tls.ca_file.empty() || !tls.cert_file.empty())) {
    const auto seconds = static_cast<unsigned int>(
        std::max(1.0, std::ceil(absl::ToDoubleSeconds(tls.reload_interval))));
    auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        tls.key_file, tls.cert_file, tls.ca_file, seconds);
    grpc::experimental::TlsChannelCredentialsOptions options;
    options.set_certificate_provider(provider);
    if (!tls.ca_file.empty()) options.watch_root_certs();  // else the system's CAs
    if (!tls.cert_file.empty()) options.watch_identity_key_cert_pairs();
    return grpc::experimental::TlsCredentials(options);
  }
  ssl.pem_root_certs = *std::move(ca);  // empty: gRPC's default roots
  ssl.pem_cert_chain = *std::move(cert);
  ssl.pem_private_key = *std::move(key);
  return grpc::SslCredentials(ssl);
}

}  // namespace baton::internal

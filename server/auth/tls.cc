// Copyright 2026 The Baton Authors.

#include "server/auth/tls.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace baton::auth {
namespace {

// OpenSSL's objects, freed by their own functions.
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct InfoStackFree {
  void operator()(STACK_OF(X509_INFO) * infos) const {
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
  }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Cert = std::unique_ptr<X509, X509Free>;
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;

// A key protected by a pass phrase is refused, not prompted for on a
// terminal batond may not have.
int NoPassphrase(char*, int, int, void*) { return 0; }

// ReadFile() is the file's bytes, or why not, naming `flag`.
absl::StatusOr<std::string> ReadFile(const char* flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read '", path, "': ", std::strerror(errno)));
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

Bio MemoryBio(const std::string& bytes) {
  return Bio(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

absl::StatusOr<Cert> ReadCertificate(const char* flag, const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFile(flag, path);
  if (!pem.ok()) return pem.status();
  Bio bio = MemoryBio(*pem);
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
  if (cert == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": '", path,
        "' holds no PEM certificate (expected a block starting -----BEGIN CERTIFICATE-----)"));
  }
  return cert;
}

std::string TimeText(const ASN1_TIME* time) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) return "?";
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// CheckKeyPair() is OK when the certificate at `cert_path` and the key at
// `key_path` read and match; errors name `cert_flag` or `key_flag`.
absl::Status CheckKeyPair(const char* cert_flag, const std::string& cert_path, const char* key_flag,
                          const std::string& key_path) {
  absl::StatusOr<Cert> cert = ReadCertificate(cert_flag, cert_path);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key_pem = ReadFile(key_flag, key_path);
  if (!key_pem.ok()) return key_pem.status();
  Bio key_bio = MemoryBio(*key_pem);
  Key key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, NoPassphrase, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(key_flag, ": '", key_path,
                     "' holds no unencrypted PEM private key (expected a block starting -----BEGIN "
                     "PRIVATE KEY-----; a key with a pass phrase is not supported)"));
  }
  if (X509_check_private_key(cert->get(), key.get()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(key_flag, ": the key in '", key_path,
                                                   "' does not match the certificate in '",
                                                   cert_path, "' (", cert_flag, ")"));
  }
  return absl::OkStatus();
}

// CheckCaFile() is OK when `path` holds at least one PEM certificate.
absl::Status CheckCaFile(const char* flag, const std::string& path) {
  absl::StatusOr<std::string> ca_pem = ReadFile(flag, path);
  if (!ca_pem.ok()) return ca_pem.status();
  Bio ca_bio = MemoryBio(*ca_pem);
  std::unique_ptr<STACK_OF(X509_INFO), InfoStackFree> infos(
      PEM_X509_INFO_read_bio(ca_bio.get(), nullptr, NoPassphrase, nullptr));
  int certificates = 0;
  for (int i = 0; infos != nullptr && i < sk_X509_INFO_num(infos.get()); ++i) {
    if (sk_X509_INFO_value(infos.get(), i)->x509 != nullptr) ++certificates;
  }
  if (certificates == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": '", path,
                     "' holds no PEM certificate (expected the CA certificates, each a block "
                     "starting -----BEGIN CERTIFICATE-----)"));
  }
  return absl::OkStatus();
}

// ReloadSeconds() is `interval` as gRPC's file watcher counts it: whole
// seconds, rounded up, from 1 s to a day (an unchecked "inf" included).
unsigned int ReloadSeconds(absl::Duration interval) {
  const double seconds = std::ceil(absl::ToDoubleSeconds(interval));
  return static_cast<unsigned int>(std::clamp(seconds, 1.0, 86400.0));
}

// A host name or an IP address, as a certificate's SAN would hold it.
bool IsServerName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_' || c == ':';
  });
}

}  // namespace

absl::Status CheckTlsFiles(const TlsFiles& files) {
  if (!files.enabled()) {
    if (files.mutual()) {
      return absl::InvalidArgumentError(
          "--tls_client_ca_file needs --tls_cert_file and --tls_key_file: clients are "
          "verified over TLS, which the server's own certificate and key set up");
    }
    return absl::OkStatus();
  }
  if (files.cert_file.empty() || files.key_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls_cert_file and --tls_key_file go together (TLS needs both), but ",
        files.cert_file.empty() ? "--tls_cert_file" : "--tls_key_file", " is not set"));
  }
  if (files.reload_interval < absl::Seconds(1) || files.reload_interval > absl::Hours(24)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_reload_interval must be in [1s, 24h], got ",
                     absl::FormatDuration(files.reload_interval)));
  }
  if (absl::Status pair =
          CheckKeyPair("--tls_cert_file", files.cert_file, "--tls_key_file", files.key_file);
      !pair.ok()) {
    return pair;
  }
  if (files.mutual()) return CheckCaFile("--tls_client_ca_file", files.client_ca_file);
  return absl::OkStatus();
}

std::string CertificateSummary(const std::string& cert_file) {
  absl::StatusOr<Cert> cert = ReadCertificate("--tls_cert_file", cert_file);
  if (!cert.ok()) return "";
  char subject[256] = {};
  X509_NAME_oneline(X509_get_subject_name(cert->get()), subject, sizeof subject - 1);
  return absl::StrCat(subject, ", not after ", TimeText(X509_get0_notAfter(cert->get())));
}

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const TlsFiles& files) {
  if (!files.enabled()) return grpc::InsecureServerCredentials();
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      files.key_file, files.cert_file, files.client_ca_file, ReloadSeconds(files.reload_interval));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (files.mutual()) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

absl::StatusOr<ClientTls> PeerTlsOf(const TlsFiles& files, bool in_cluster,
                                    const std::string& cluster_ca_file,
                                    const std::string& cluster_tls_server_name) {
  const char* given = !cluster_ca_file.empty()           ? "--cluster_ca_file"
                      : !cluster_tls_server_name.empty() ? "--cluster_tls_server_name"
                                                         : nullptr;
  if (!files.enabled() || !in_cluster) {
    if (given == nullptr) return ClientTls{};
    if (!files.enabled()) {
      return absl::InvalidArgumentError(
          absl::StrCat(given,
                       " needs --tls_cert_file and --tls_key_file: the nodes of a cluster call "
                       "each other over TLS only when they serve TLS"));
    }
    return absl::InvalidArgumentError(
        absl::StrCat(given, " is for the nodes of a cluster, and --cluster_etcd is not set"));
  }
  ClientTls tls{.cert_file = files.cert_file,
                .key_file = files.key_file,
                .ca_file = cluster_ca_file,
                .server_name = cluster_tls_server_name,
                .reload_interval = files.reload_interval};
  const char* ca_flag = "--cluster_ca_file";
  if (tls.ca_file.empty()) {
    tls.ca_file = files.client_ca_file;
    ca_flag = "--tls_client_ca_file";
  }
  if (tls.ca_file.empty()) {
    return absl::InvalidArgumentError(
        "--cluster_ca_file is required in a cluster with TLS on (--tls_cert_file): the PEM "
        "certificates of the CAs that signed the other nodes' serving certificates, which "
        "this node checks when it forwards a call (default: --tls_client_ca_file, not set "
        "either)");
  }
  if (absl::Status ca = CheckCaFile(ca_flag, tls.ca_file); !ca.ok()) return ca;
  if (!tls.server_name.empty() && !IsServerName(tls.server_name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--cluster_tls_server_name must be a host name or an IP address, as the nodes' "
        "certificates hold it (1 to 253 letters, digits, '.', '-', '_', ':'), got '",
        tls.server_name.size() > 253 ? tls.server_name.substr(0, 253) + "..." : tls.server_name,
        "'"));
  }
  return tls;
}

absl::StatusOr<ClientTls> EtcdTlsOf(bool in_cluster, const std::string& ca_file,
                                    const std::string& cert_file, const std::string& key_file,
                                    absl::Duration reload_interval) {
  const char* given = !ca_file.empty()     ? "--cluster_etcd_ca_file"
                      : !cert_file.empty() ? "--cluster_etcd_cert_file"
                      : !key_file.empty()  ? "--cluster_etcd_key_file"
                                           : nullptr;
  if (given == nullptr) return ClientTls{};
  if (!in_cluster) {
    return absl::InvalidArgumentError(
        absl::StrCat(given, " is for the nodes of a cluster, and --cluster_etcd is not set"));
  }
  if (cert_file.empty() != key_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--cluster_etcd_cert_file and --cluster_etcd_key_file go together (etcd's client "
        "certificate needs both), but ",
        cert_file.empty() ? "--cluster_etcd_cert_file" : "--cluster_etcd_key_file", " is not set"));
  }
  if (ca_file.empty()) {
    return absl::InvalidArgumentError(
        "--cluster_etcd_ca_file is required with --cluster_etcd_cert_file: the PEM "
        "certificates of the CAs that signed etcd's serving certificate");
  }
  if (absl::Status ca = CheckCaFile("--cluster_etcd_ca_file", ca_file); !ca.ok()) return ca;
  if (!cert_file.empty()) {
    if (absl::Status pair = CheckKeyPair("--cluster_etcd_cert_file", cert_file,
                                         "--cluster_etcd_key_file", key_file);
        !pair.ok()) {
      return pair;
    }
  }
  return ClientTls{.cert_file = cert_file,
                   .key_file = key_file,
                   .ca_file = ca_file,
                   .reload_interval = reload_interval};
}

std::shared_ptr<grpc::ChannelCredentials> ClientChannelCredentials(const ClientTls& tls) {
  if (!tls.enabled()) return grpc::InsecureChannelCredentials();
  const bool identity = !tls.cert_file.empty();
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      identity ? tls.key_file : "", identity ? tls.cert_file : "", tls.ca_file,
      ReloadSeconds(tls.reload_interval));
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider);
  options.watch_root_certs();
  if (identity) options.watch_identity_key_cert_pairs();
  // The server's certificate is checked against the CAs and the name (its
  // address's host, or tls.server_name through the channel's arguments).
  options.set_verify_server_certs(true);
  return grpc::experimental::TlsCredentials(options);
}

TlsFileWatch::TlsFileWatch(const TlsFiles& files) {
  for (const std::string* path : {&files.cert_file, &files.key_file, &files.client_ca_file}) {
    if (!path->empty()) paths_.push_back(*path);
  }
  stamps_ = Read();
}

bool TlsFileWatch::Changed() {
  std::vector<Stamp> now = Read();
  if (now == stamps_) return false;
  stamps_ = std::move(now);
  return true;
}

std::vector<TlsFileWatch::Stamp> TlsFileWatch::Read() const {
  std::vector<Stamp> stamps;
  for (const std::string& path : paths_) {
    Stamp stamp;
    struct stat info {};
    if (::stat(path.c_str(), &info) == 0) {  // follows a symlink, as gRPC's reads do
      stamp.size = static_cast<long long>(info.st_size);
      stamp.mtime_ns = static_cast<long long>(info.st_mtim.tv_sec) * 1'000'000'000 +
                       static_cast<long long>(info.st_mtim.tv_nsec);
      stamp.inode = static_cast<unsigned long long>(info.st_ino);
    }
    stamps.push_back(stamp);
  }
  return stamps;
}

}  // namespace baton::auth

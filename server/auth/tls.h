// Copyright 2026 The Baton Authors.
//
// batond's TLS: the server credentials of every gRPC listener, from the
// files named by --tls_cert_file, --tls_key_file and --tls_client_ca_file,
// checked at start and re-read while batond runs.
//
//   baton::auth::TlsFiles files{.cert_file = "/etc/baton/tls/tls.crt", ...};
//   if (absl::Status ok = baton::auth::CheckTlsFiles(files); !ok.ok()) ...  // exit 2
//   builder.AddListeningPort(address, baton::auth::ServerCredentials(files));
//
// Rotation: gRPC's FileWatcherCertificateProvider re-reads the files every
// reload_interval and hands the new certificate (and client CA) to the
// handshakes that follow; connections already up keep theirs, so sessions
// are not dropped. Kubernetes (cert-manager's Secrets) swaps the files of a
// mounted Secret at once, through a symlink; anyone else should rename new
// files into place, key and certificate together.
//
// batond's own calls out go over TLS too, on ClientTls files re-read as
// the server's are (ClientChannelCredentials()):
//   - a node of a cluster calls the other nodes over TLS when it serves TLS
//     (PeerTlsOf()): it checks their certificates against --cluster_ca_file
//     (default --tls_client_ca_file) and presents its own certificate and
//     key as its client certificate;
//   - it calls etcd over TLS when --cluster_etcd_ca_file (and, for etcd's
//     --client-cert-auth, --cluster_etcd_cert_file and --cluster_etcd_key_file)
//     are set (EtcdTlsOf()).
//
// Threading: every function may be called from any thread; a TlsFileWatch
// belongs to one thread (batond's main loop).

#ifndef BATON_SERVER_AUTH_TLS_H_
#define BATON_SERVER_AUTH_TLS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"

namespace baton::auth {

struct TlsFiles {
  // PEM: the server's certificate chain (its own first) and its private key.
  // Both empty: plaintext.
  std::string cert_file;
  std::string key_file;
  // PEM: the CAs whose client certificates are accepted. Set: every client
  // must present a certificate signed by one of them (mTLS).
  std::string client_ca_file;
  // How often the files are re-read; gRPC counts whole seconds (rounded up).
  absl::Duration reload_interval = absl::Seconds(5);

  bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
  bool mutual() const { return !client_ca_file.empty(); }
};

// CheckTlsFiles() is OK when `files` is plaintext (nothing set) or when the
// files can be read, hold PEM, and the key is the certificate's. Otherwise
// INVALID_ARGUMENT naming the flag: "--tls_key_file: the key in 'k' does not
// match the certificate in 'c' (--tls_cert_file)".
absl::Status CheckTlsFiles(const TlsFiles& files);

// CertificateSummary() describes the server certificate for the start line
// ("CN=baton, not after 2027-01-01T00:00:00Z"); "" when it cannot be read.
std::string CertificateSummary(const std::string& cert_file);

// ServerCredentials() is plaintext when !files.enabled(), else TLS on the
// files (mTLS when files.mutual()), re-read every reload_interval. Every
// listener may share one: they then share one watcher of the files. Call
// after CheckTlsFiles() said OK.
std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const TlsFiles& files);

// ClientTls is how batond calls a server (another node, etcd). Not
// enabled(): plaintext.
struct ClientTls {
  // PEM: the client certificate chain and key batond presents; both empty:
  // none.
  std::string cert_file;
  std::string key_file;
  // PEM: the CAs that signed the server's certificate.
  std::string ca_file;
  // The name the server's certificate must hold; empty: the host of its
  // address.
  std::string server_name;
  absl::Duration reload_interval = absl::Seconds(5);

  bool enabled() const { return !ca_file.empty(); }
};

// PeerTlsOf() is how this node calls its peers, from the server's `files`
// (checked by CheckTlsFiles() already), whether it is `in_cluster`
// (--cluster_etcd), and the flags --cluster_ca_file and
// --cluster_tls_server_name. TLS on in a cluster: TLS to the peers, their
// CAs from --cluster_ca_file or else --tls_client_ca_file (one of them is
// required), checked here. Errors are INVALID_ARGUMENT naming the flag: a
// --cluster_* TLS flag without TLS on or outside a cluster, no CA, a CA
// file that holds no certificate, a server name that is no host name.
absl::StatusOr<ClientTls> PeerTlsOf(const TlsFiles& files, bool in_cluster,
                                    const std::string& cluster_ca_file,
                                    const std::string& cluster_tls_server_name);

// EtcdTlsOf() is how this node calls etcd, from the flags
// --cluster_etcd_ca_file, --cluster_etcd_cert_file and
// --cluster_etcd_key_file, re-read every `reload_interval`: plaintext when
// none is set; TLS checked against the CA; a client certificate when the
// certificate and key are set (together, and matching). Errors are
// INVALID_ARGUMENT naming the flag: one without `in_cluster`, a certificate
// without its key (or its CA), a file that does not check out.
absl::StatusOr<ClientTls> EtcdTlsOf(bool in_cluster, const std::string& ca_file,
                                    const std::string& cert_file, const std::string& key_file,
                                    absl::Duration reload_interval);

// ClientChannelCredentials() is the credentials of channels to a server:
// plaintext when !tls.enabled(), else TLS on the files of `tls`, re-read
// every reload_interval. tls.server_name goes in the channel's arguments
// (grpc::ChannelArguments::SetSslTargetNameOverride), not here.
std::shared_ptr<grpc::ChannelCredentials> ClientChannelCredentials(const ClientTls& tls);

// TlsFileWatch says when the files changed (size, time, inode: a symlink
// swap counts), so that batond can log the rotation it serves.
class TlsFileWatch {
 public:
  explicit TlsFileWatch(const TlsFiles& files);
  // Changed() is true once after each change seen since the last call.
  bool Changed();

 private:
  struct Stamp {
    long long size = -1;
    long long mtime_ns = -1;
    unsigned long long inode = 0;
    bool operator==(const Stamp&) const = default;
  };
  std::vector<Stamp> Read() const;

  std::vector<std::string> paths_;
  std::vector<Stamp> stamps_;
};

}  // namespace baton::auth

#endif  // BATON_SERVER_AUTH_TLS_H_

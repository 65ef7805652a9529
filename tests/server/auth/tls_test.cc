// Copyright 2026 The Baton Authors.
//
// CheckTlsFiles() on files the openssl command makes, and TlsFileWatch;
// PeerTlsOf() and the peers' channels: handshakes with an in-process server
// that serves mTLS as batond does.
// batond's side of these (exit 2, the log lines) is in
// tests/integration/tls_test.cc.

#include "server/auth/tls.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace baton::auth {
namespace {

class TlsFilesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char path[] = "/tmp/baton-auth-test-XXXXXX";
    ASSERT_NE(mkdtemp(path), nullptr);
    dir_ = new std::string(path);
    const std::string command = std::string("bash ") + MAKE_TEST_CERTS + " " + *dir_ +
                                " && openssl pkey -in " + *dir_ + "/server.key -aes256 " +
                                "-passout pass:secret -out " + *dir_ + "/encrypted.key";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    std::filesystem::remove_all(*dir_, ignored);
    delete dir_;
  }
  static std::string File(const std::string& name) { return *dir_ + "/" + name; }

  static std::string* dir_;
};

std::string* TlsFilesTest::dir_ = nullptr;

TEST_F(TlsFilesTest, NothingSetIsPlaintextAndAMatchingPairIsTls) {
  EXPECT_TRUE(CheckTlsFiles({}).ok());
  EXPECT_FALSE(TlsFiles{}.enabled());
  const TlsFiles tls{.cert_file = File("server.crt"), .key_file = File("server.key")};
  EXPECT_TRUE(CheckTlsFiles(tls).ok()) << CheckTlsFiles(tls);
  TlsFiles mutual = tls;
  mutual.client_ca_file = File("ca.crt");
  EXPECT_TRUE(CheckTlsFiles(mutual).ok()) << CheckTlsFiles(mutual);
  EXPECT_NE(CertificateSummary(File("server.crt")).find("CN=baton test server, not after 20"),
            std::string::npos)
      << CertificateSummary(File("server.crt"));
}

TEST_F(TlsFilesTest, EachMistakeNamesItsFlag) {
  struct Case {
    TlsFiles files;
    std::string message;
  };
  const Case cases[] = {
      {{.cert_file = File("server.crt"), .key_file = File("client.key")},
       "--tls_key_file: the key in '" + File("client.key") +
           "' does not match the certificate in '" + File("server.crt") +
           "' (--tls_cert_file)"},
      {{.cert_file = File("server.key"), .key_file = File("server.key")},
       "--tls_cert_file: '" + File("server.key") + "' holds no PEM certificate"},
      {{.cert_file = File("server.crt"), .key_file = File("server.crt")},
       "--tls_key_file: '" + File("server.crt") + "' holds no unencrypted PEM private key"},
      // A pass phrase is refused, never prompted for.
      {{.cert_file = File("server.crt"), .key_file = File("encrypted.key")},
       "a key with a pass phrase is not supported"},
      {{.cert_file = File("server.crt"), .key_file = File("server.key"),
        .client_ca_file = File("server.key")},
       "--tls_client_ca_file: '" + File("server.key") + "' holds no PEM certificate"},
      {{.cert_file = File("server.crt"), .key_file = File("server.key"),
        .client_ca_file = File("missing.crt")},
       "--tls_client_ca_file: cannot read '" + File("missing.crt") +
           "': No such file or directory"},
      {{.key_file = File("server.key")}, "but --tls_cert_file is not set"},
      {{.client_ca_file = File("ca.crt")},
       "--tls_client_ca_file needs --tls_cert_file and --tls_key_file"},
      {{.cert_file = File("server.crt"), .key_file = File("server.key"),
        .reload_interval = absl::Milliseconds(500)},
       "--tls_reload_interval must be in [1s, 24h], got 500ms"},
  };
  for (const Case& c : cases) {
    const absl::Status status = CheckTlsFiles(c.files);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_NE(std::string(status.message()).find(c.message), std::string::npos)
        << status << "\nexpected: " << c.message;
  }
}

TEST_F(TlsFilesTest, TheWatchSeesAReplacedFileOnce) {
  const std::string live = File("watched");
  std::filesystem::create_directories(live);
  std::filesystem::copy_file(File("server.crt"), live + "/tls.crt",
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(File("server.key"), live + "/tls.key",
                             std::filesystem::copy_options::overwrite_existing);
  TlsFileWatch watch({.cert_file = live + "/tls.crt", .key_file = live + "/tls.key"});
  EXPECT_FALSE(watch.Changed());
  // Renamed into place: a new inode, whatever the times.
  std::filesystem::copy_file(File("other-server.crt"), live + "/tls.crt.new");
  std::filesystem::rename(live + "/tls.crt.new", live + "/tls.crt");
  EXPECT_TRUE(watch.Changed());
  EXPECT_FALSE(watch.Changed());
}

TEST_F(TlsFilesTest, PeerTlsFollowsTheServersAndEachMistakeNamesItsFlag) {
  const TlsFiles plain{};
  const TlsFiles tls{.cert_file = File("server.crt"), .key_file = File("server.key")};
  TlsFiles mutual = tls;
  mutual.client_ca_file = File("ca.crt");

  // Plaintext, or TLS alone: the peers are called as before, in plaintext.
  absl::StatusOr<ClientTls> peer = PeerTlsOf(plain, /*in_cluster=*/true, "", "");
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_FALSE(peer->enabled());
  peer = PeerTlsOf(mutual, /*in_cluster=*/false, "", "");
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_FALSE(peer->enabled());

  // In a cluster: the client CA by default, --cluster_ca_file first.
  peer = PeerTlsOf(mutual, /*in_cluster=*/true, "", "");
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_TRUE(peer->enabled());
  EXPECT_EQ(peer->ca_file, File("ca.crt"));
  EXPECT_EQ(peer->cert_file, File("server.crt"));
  EXPECT_EQ(peer->key_file, File("server.key"));
  EXPECT_EQ(peer->server_name, "");
  peer = PeerTlsOf(tls, /*in_cluster=*/true, File("other-ca.crt"), "baton.example");
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_EQ(peer->ca_file, File("other-ca.crt"));
  EXPECT_EQ(peer->server_name, "baton.example");

  struct Case {
    TlsFiles files;
    bool in_cluster;
    std::string ca;
    std::string server_name;
    std::string message;
  };
  const Case cases[] = {
      {tls, true, "", "", "--cluster_ca_file is required in a cluster with TLS on"},
      {plain, true, File("ca.crt"), "",
       "--cluster_ca_file needs --tls_cert_file and --tls_key_file"},
      {plain, true, "", "localhost", "--cluster_tls_server_name needs --tls_cert_file"},
      {tls, false, File("ca.crt"), "", "--cluster_ca_file is for the nodes of a cluster"},
      {tls, false, "", "localhost", "--cluster_tls_server_name is for the nodes of a cluster"},
      {tls, true, File("server.key"), "",
       "--cluster_ca_file: '" + File("server.key") + "' holds no PEM certificate"},
      {tls, true, File("missing.crt"), "", "--cluster_ca_file: cannot read"},
      {mutual, true, "", "two words",
       "--cluster_tls_server_name must be a host name or an IP address"},
      {mutual, true, "", std::string(254, 'a'), "1 to 253"},
  };
  for (const Case& c : cases) {
    const absl::Status status = PeerTlsOf(c.files, c.in_cluster, c.ca, c.server_name).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_NE(std::string(status.message()).find(c.message), std::string::npos)
        << status << "\nexpected: " << c.message;
  }
}

TEST_F(TlsFilesTest, EtcdTlsIsOptionalAndEachMistakeNamesItsFlag) {
  absl::StatusOr<ClientTls> etcd = EtcdTlsOf(/*in_cluster=*/true, "", "", "", absl::Seconds(5));
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  EXPECT_FALSE(etcd->enabled());
  etcd = EtcdTlsOf(true, File("ca.crt"), "", "", absl::Seconds(5));
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  EXPECT_TRUE(etcd->enabled());
  EXPECT_EQ(etcd->cert_file, "");
  etcd = EtcdTlsOf(true, File("ca.crt"), File("client.crt"), File("client.key"), absl::Seconds(7));
  ASSERT_TRUE(etcd.ok()) << etcd.status();
  EXPECT_EQ(etcd->cert_file, File("client.crt"));
  EXPECT_EQ(etcd->reload_interval, absl::Seconds(7));

  struct Case {
    bool in_cluster;
    std::string ca, cert, key;
    std::string message;
  };
  const Case cases[] = {
      {false, File("ca.crt"), "", "", "--cluster_etcd_ca_file is for the nodes of a cluster"},
      {false, "", "", File("client.key"), "--cluster_etcd_key_file is for the nodes"},
      {true, File("ca.crt"), File("client.crt"), "", "--cluster_etcd_key_file is not set"},
      {true, File("ca.crt"), "", File("client.key"), "--cluster_etcd_cert_file is not set"},
      {true, "", File("client.crt"), File("client.key"),
       "--cluster_etcd_ca_file is required with --cluster_etcd_cert_file"},
      {true, File("client.key"), "", "",
       "--cluster_etcd_ca_file: '" + File("client.key") + "' holds no PEM certificate"},
      {true, File("ca.crt"), File("client.crt"), File("server.key"),
       "--cluster_etcd_key_file: the key in '" + File("server.key") +
           "' does not match the certificate in '" + File("client.crt") +
           "' (--cluster_etcd_cert_file)"},
      {true, File("ca.crt"), File("client.key"), File("client.key"),
       "--cluster_etcd_cert_file: '" + File("client.key") + "' holds no PEM certificate"},
  };
  for (const Case& c : cases) {
    const absl::Status status =
        EtcdTlsOf(c.in_cluster, c.ca, c.cert, c.key, absl::Seconds(5)).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_NE(std::string(status.message()).find(c.message), std::string::npos)
        << status << "\nexpected: " << c.message;
  }
}

// Connects() is true when a channel to `port` with the peers' credentials
// of `tls` completes its handshake with the server.
bool Connects(int port, const ClientTls& tls) {
  grpc::ChannelArguments args;
  if (!tls.server_name.empty()) args.SetSslTargetNameOverride(tls.server_name);
  auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                           ClientChannelCredentials(tls), args);
  const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(5);
  grpc_connectivity_state state = channel->GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY && state != GRPC_CHANNEL_TRANSIENT_FAILURE) {
    if (!channel->WaitForStateChange(state, deadline)) return false;
    state = channel->GetState(/*try_to_connect=*/true);
  }
  return state == GRPC_CHANNEL_READY;
}

TEST_F(TlsFilesTest, PeersPresentTheirCertificateAndCheckTheOthersName) {
  // A node serving mTLS, as batond does.
  const TlsFiles mutual{.cert_file = File("server.crt"),
                        .key_file = File("server.key"),
                        .client_ca_file = File("ca.crt")};
  int port = 0;
  grpc::CallbackGenericService no_calls;  // a server needs a service
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", ServerCredentials(mutual), &port);
  builder.RegisterCallbackGenericService(&no_calls);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);

  absl::StatusOr<ClientTls> peer = PeerTlsOf(mutual, /*in_cluster=*/true, "", "");
  ASSERT_TRUE(peer.ok()) << peer.status();
  // The node's own certificate is accepted as a client certificate, and
  // 127.0.0.1 (the address's host) is a SAN of the server's.
  EXPECT_TRUE(Connects(port, *peer));
  ClientTls named = *peer;
  named.server_name = "localhost";
  EXPECT_TRUE(Connects(port, named));
  named.server_name = "elsewhere.example";
  EXPECT_FALSE(Connects(port, named));
  // A CA that did not sign the server's certificate.
  ClientTls stranger = *peer;
  stranger.ca_file = File("other-ca.crt");
  EXPECT_FALSE(Connects(port, stranger));
  server->Shutdown();

  // A server without mTLS (etcd without --client-cert-auth): the CA alone,
  // no client certificate, and an "inf" reload interval kept in range.
  int plain_port = 0;
  grpc::CallbackGenericService no_calls_either;
  grpc::ServerBuilder tls_only;
  tls_only.AddListeningPort(
      "127.0.0.1:0",
      ServerCredentials({.cert_file = File("server.crt"), .key_file = File("server.key")}),
      &plain_port);
  tls_only.RegisterCallbackGenericService(&no_calls_either);
  std::unique_ptr<grpc::Server> etcd_like = tls_only.BuildAndStart();
  ASSERT_NE(etcd_like, nullptr);
  ClientTls anonymous = *peer;
  anonymous.cert_file.clear();
  anonymous.key_file.clear();
  anonymous.reload_interval = absl::InfiniteDuration();
  EXPECT_TRUE(Connects(plain_port, anonymous));
  etcd_like->Shutdown();
}

}  // namespace
}  // namespace baton::auth

// Copyright 2026 The Baton Authors.
//
// TLS and mTLS end to end: a real batond started with --tls_* flags on
// certificates made at test time by the openssl command
// (tests/testing/make_test_certs.sh), reached by the C++ client, raw gRPC
// channels and the `baton` CLI. Covers what a client must and must not get
// through, the checks at start, the warning for plaintext off loopback, and
// a certificate rotated under a live session.

#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "baton/client.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testing/batond_process.h"

namespace baton {
namespace {

using ::baton::testing::BatondProcess;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

class TlsTest : public ::testing::Test {
 protected:
  // One set of certificates for the whole suite (openssl takes a second).
  static void SetUpTestSuite() {
    char path[] = "/tmp/baton-tls-test-XXXXXX";
    ASSERT_NE(mkdtemp(path), nullptr);
    dir_ = new std::string(path);
    const std::string command = std::string("bash ") + MAKE_TEST_CERTS + " " + *dir_;
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }
  static void TearDownTestSuite() {
    std::error_code ignored;
    std::filesystem::remove_all(*dir_, ignored);
    delete dir_;
  }

  static std::string File(const std::string& name) { return *dir_ + "/" + name; }

  static std::vector<std::string> TlsFlags(bool mutual) {
    std::vector<std::string> flags = {"--shards=1", "--tls_cert_file=" + File("server.crt"),
                                      "--tls_key_file=" + File("server.key")};
    if (mutual) flags.push_back("--tls_client_ca_file=" + File("ca.crt"));
    return flags;
  }

  // Health() is one health check over `credentials`, failing fast when the
  // handshake fails (no wait for ready).
  static grpc::Status Health(const std::string& address,
                             std::shared_ptr<grpc::ChannelCredentials> credentials) {
    auto stub = grpc::health::v1::Health::NewStub(grpc::CreateChannel(address, credentials));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    return stub->Check(&context, request, &response);
  }

  static std::shared_ptr<grpc::ChannelCredentials> Ssl(const std::string& ca,
                                                       const std::string& client = "") {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadFile(File(ca + ".crt"));
    if (!client.empty()) {
      options.pem_cert_chain = ReadFile(File(client + ".crt"));
      options.pem_private_key = ReadFile(File(client + ".key"));
    }
    return grpc::SslCredentials(options);
  }

  // Connect() opens a session; one that should fail waits out `timeout`
  // (the client retries a failed handshake as it would a server starting).
  static absl::StatusOr<std::unique_ptr<Client>> Connect(
      const std::string& address, TlsOptions tls, absl::Duration timeout = absl::Seconds(5)) {
    ClientOptions options;
    options.address = address;
    options.client_name = "tls test";
    options.tls = std::move(tls);
    options.connect_timeout = timeout;
    return Client::Connect(std::move(options));
  }
  static constexpr absl::Duration kRefused = absl::Milliseconds(500);

  // Cli() runs the `baton` binary with `args` (a shell fragment) and returns
  // its exit code.
  static int Cli(const std::string& env, const std::string& args) {
    const std::string command =
        env + " " + BATON_CLI_PATH + " " + args + " >/dev/null 2>&1";
    const int status = std::system(command.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  static std::string* dir_;
};

std::string* TlsTest::dir_ = nullptr;

TEST_F(TlsTest, ClientsThatTrustTheCaGetThroughAndNoOtherDoes) {
  std::vector<std::string> flags = TlsFlags(/*mutual=*/false);
  flags.push_back("--rls_listen=127.0.0.1:0");
  BatondProcess batond(flags);
  ASSERT_TRUE(batond.started()) << batond.log();
  EXPECT_NE(batond.log().find("tls on"), std::string::npos) << batond.log();

  absl::StatusOr<std::unique_ptr<Client>> client =
      Connect(batond.address(), {.ca_file = File("ca.crt")});
  ASSERT_TRUE(client.ok()) << client.status() << batond.log();
  PriorityLock lock(client->get(), "tls/lock");
  absl::StatusOr<Hold> hold = lock.Acquire().Wait();
  ASSERT_TRUE(hold.ok()) << hold.status();
  EXPECT_GT(hold->fence(), 0u);

  // Plaintext against TLS: no handshake, no call.
  EXPECT_EQ(Health(batond.address(), grpc::InsecureChannelCredentials()).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // A CA that did not sign batond's certificate.
  EXPECT_EQ(Health(batond.address(), Ssl("other-ca")).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_FALSE(Connect(batond.address(), {.ca_file = File("other-ca.crt")}, kRefused).ok());
  // The right CA, but a name the certificate does not carry.
  EXPECT_FALSE(Connect(batond.address(),
                       {.ca_file = File("ca.crt"), .server_name = "wrong.example"}, kRefused)
                   .ok());

  // --rls_listen speaks TLS too.
  const std::string rls = batond.WordAfter("rls service on ");
  ASSERT_FALSE(rls.empty()) << batond.log();
  EXPECT_TRUE(Health(rls, Ssl("ca")).ok());
  EXPECT_EQ(Health(rls, grpc::InsecureChannelCredentials()).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, MutualTlsWantsAClientCertificateFromTheTrustedCa) {
  BatondProcess batond(TlsFlags(/*mutual=*/true));
  ASSERT_TRUE(batond.started()) << batond.log();

  // PEM text rather than files, and a server name the certificate carries.
  absl::StatusOr<std::unique_ptr<Client>> client =
      Connect(batond.address(), {.ca_pem = ReadFile(File("ca.crt")),
                                 .cert_pem = ReadFile(File("client.crt")),
                                 .key_pem = ReadFile(File("client.key")),
                                 .server_name = "localhost"});
  ASSERT_TRUE(client.ok()) << client.status() << batond.log();
  absl::StatusOr<Hold> hold = PriorityLock(client->get(), "mtls/lock").Acquire().Wait();
  EXPECT_TRUE(hold.ok()) << hold.status();

  EXPECT_TRUE(Health(batond.address(), Ssl("ca", "client")).ok());
  // No client certificate, or one from a CA batond does not trust.
  EXPECT_EQ(Health(batond.address(), Ssl("ca")).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Health(batond.address(), Ssl("ca", "other-client")).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_FALSE(Connect(batond.address(), {.ca_file = File("ca.crt")}, kRefused).ok());
  // A certificate without its key is the caller's mistake, said at once.
  absl::StatusOr<std::unique_ptr<Client>> keyless =
      Connect(batond.address(), {.ca_file = File("ca.crt"), .cert_file = File("client.crt")});
  EXPECT_EQ(keyless.status().code(), absl::StatusCode::kInvalidArgument) << keyless.status();
}

TEST_F(TlsTest, TheCliSpeaksTlsFromOptionsAndFromTheEnvironment) {
  BatondProcess batond(TlsFlags(/*mutual=*/true));
  ASSERT_TRUE(batond.started()) << batond.log();
  const std::string addr = "--addr " + batond.address();
  const std::string ca = " --tls_ca " + File("ca.crt");
  const std::string cert = " --tls_cert " + File("client.crt") + " --tls_key " + File("client.key");
  EXPECT_EQ(Cli("", addr + ca + cert + " health"), 0);
  EXPECT_EQ(Cli("", addr + " health"), 69);       // plaintext: unreachable
  EXPECT_EQ(Cli("", addr + ca + " health"), 69);  // no client certificate
  EXPECT_EQ(Cli("", addr + " --tls_ca /nonexistent/ca.crt health"), 2);  // usage
  // From BATON_TLS_*, handed on to a `baton` run under the lock.
  const std::string env = "BATON_ADDR=" + batond.address() + " BATON_TLS_CA=" + File("ca.crt") +
                          " BATON_TLS_CERT=" + File("client.crt") +
                          " BATON_TLS_KEY=" + File("client.key");
  EXPECT_EQ(Cli(env, std::string("lock tls/cli -- ") + BATON_CLI_PATH + " describe tls/cli"), 0);
}

TEST_F(TlsTest, ARotatedCertificateIsServedToNewConnectionsWhileSessionsKeepTheirLocks) {
  // batond reads copies, which the test replaces the way a tool should:
  // new files renamed into place.
  const std::string live = File("live");
  std::filesystem::create_directories(live);
  std::filesystem::copy_file(File("server.crt"), live + "/tls.crt",
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(File("server.key"), live + "/tls.key",
                             std::filesystem::copy_options::overwrite_existing);
  BatondProcess batond({"--shards=1", "--tls_cert_file=" + live + "/tls.crt",
                        "--tls_key_file=" + live + "/tls.key", "--tls_reload_interval=1s"});
  ASSERT_TRUE(batond.started()) << batond.log();
  absl::StatusOr<std::unique_ptr<Client>> client =
      Connect(batond.address(), {.ca_file = File("ca.crt")});
  ASSERT_TRUE(client.ok()) << client.status() << batond.log();
  PriorityLock lock(client->get(), "tls/rotated");
  absl::StatusOr<Hold> hold = lock.Acquire().Wait();
  ASSERT_TRUE(hold.ok()) << hold.status();
  const std::uint64_t session = (*client)->session_id();

  std::filesystem::copy_file(File("other-server.key"), live + "/tls.key.new");
  std::filesystem::copy_file(File("other-server.crt"), live + "/tls.crt.new");
  std::filesystem::rename(live + "/tls.key.new", live + "/tls.key");
  std::filesystem::rename(live + "/tls.crt.new", live + "/tls.crt");

  // Polls the real file watcher (it re-reads every second): a new
  // connection trusting only the new CA gets through within a few seconds.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool rotated = false;
  while (!rotated && std::chrono::steady_clock::now() < deadline) {
    rotated = Health(batond.address(), Ssl("other-ca")).ok();
    if (!rotated) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(rotated) << batond.log();
  EXPECT_EQ(Health(batond.address(), Ssl("ca")).error_code(), grpc::StatusCode::UNAVAILABLE);

  // The session from before the rotation is the same one, and holds its lock.
  EXPECT_FALSE(hold->lost());
  EXPECT_EQ((*client)->session_id(), session);
  absl::StatusOr<bool> owner = lock.IsOwner().Wait();
  ASSERT_TRUE(owner.ok()) << owner.status();
  EXPECT_TRUE(*owner);

  // The operator is told, naming the new certificate (batond looks every 2 s).
  const auto logged_by = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (batond.log().find("tls files changed") == std::string::npos &&
         std::chrono::steady_clock::now() < logged_by) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(batond.log().find("tls files changed"), std::string::npos) << batond.log();
  EXPECT_NE(batond.log().find("CN=baton test other-server"), std::string::npos) << batond.log();
}

TEST_F(TlsTest, BadTlsFlagsStopBatondAtStartNamingTheFlag) {
  struct Case {
    std::vector<std::string> flags;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--tls_cert_file=" + File("server.crt"), "--tls_key_file=" + File("client.key")},
       "--tls_key_file: the key in"},
      {{"--tls_cert_file=" + File("server.crt")}, "--tls_key_file is not set"},
      {{"--tls_client_ca_file=" + File("ca.crt")},
       "--tls_client_ca_file needs --tls_cert_file and --tls_key_file"},
      {{"--tls_cert_file=/nonexistent/tls.crt", "--tls_key_file=" + File("server.key")},
       "--tls_cert_file: cannot read '/nonexistent/tls.crt'"},
  };
  for (const Case& c : cases) {
    BatondProcess batond(c.flags);
    EXPECT_FALSE(batond.started());
    const int status = batond.WaitExit(std::chrono::seconds(10));
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << status << batond.log();
    EXPECT_NE(batond.log().find(c.message), std::string::npos) << batond.log();
  }
}

TEST_F(TlsTest, PlaintextOffLoopbackIsWarnedAbout) {
  BatondProcess open({"--shards=1", "--listen=0.0.0.0:0"});
  ASSERT_TRUE(open.started()) << open.log();
  EXPECT_NE(open.log().find("plaintext gRPC on a non-loopback address"), std::string::npos)
      << open.log();
  BatondProcess loopback({"--shards=1"});
  ASSERT_TRUE(loopback.started()) << loopback.log();
  EXPECT_EQ(loopback.log().find("plaintext gRPC"), std::string::npos) << loopback.log();
}

TEST_F(TlsTest, TheClientsTlsVariablesPassQuietlyAndATypoOfBatondsIsWarnedAbout) {
  // The container sets both sides' variables in one environment (the
  // HEALTHCHECK's client certificate beside batond's files).
  setenv("BATON_TLS_CA", File("ca.crt").c_str(), 1);
  setenv("BATON_TLS_CERT_FIEL", "typo", 1);
  BatondProcess batond({"--shards=1"});
  unsetenv("BATON_TLS_CA");
  unsetenv("BATON_TLS_CERT_FIEL");
  ASSERT_TRUE(batond.started()) << batond.log();
  EXPECT_EQ(batond.log().find("BATON_TLS_CA names"), std::string::npos) << batond.log();
  EXPECT_NE(batond.log().find("BATON_TLS_CERT_FIEL names no batond flag, ignored (did you mean "
                              "BATON_TLS_CERT_FILE?)"),
            std::string::npos)
      << batond.log();
}

}  // namespace
}  // namespace baton

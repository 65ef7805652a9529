// Copyright 2026 The Baton Authors.
//
// CheckTlsFiles() on files the openssl command makes, and TlsFileWatch.
// batond's side of these (exit 2, the log lines) is in
// tests/integration/tls_test.cc.

#include "server/auth/tls.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

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

}  // namespace
}  // namespace baton::auth

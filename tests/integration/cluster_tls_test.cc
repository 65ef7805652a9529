// Copyright 2026 The Baton Authors.
//
// TLS between the nodes of a cluster (README, "A cluster on etcd", "TLS
// between the nodes"): three nodes on one etcd, serving mTLS on
// certificates made by tests/testing/make_test_certs.sh, with an auth file
// that grants by certificate subject.
//
//   - an Admin call sent to a node that does not own the name is forwarded
//     over TLS (the node presents server.crt as its client certificate) and
//     authorized on the owner by the caller's subject, which the node
//     carries in baton-forwarded-subjects-bin: the node's own subject is
//     listed in cluster_peers but has no grant, so the call could not pass
//     as the node. The owner's audit line names the caller and the node;
//   - a node checks its peers' certificates for --cluster_tls_server_name
//     when set: one that lacks the name is not called (UNAVAILABLE);
//   - a client with a valid certificate that sends that metadata itself is
//     refused PERMISSION_DENIED naming it;
//   - nodes join through etcd served over mTLS (--cluster_etcd_ca_file,
//     --cluster_etcd_cert_file, --cluster_etcd_key_file);
//   - TLS in a cluster without a CA for the peers, and the --cluster_* TLS
//     flags without TLS, stop batond at start (exit 2) naming the flag.

#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "baton/v1/admin.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server/cluster/placement.h"
#include "tests/testing/batond_process.h"
#include "tests/testing/etcd_process.h"

namespace baton {
namespace {

using ::baton::testing::BatondProcess;
using ::baton::testing::EtcdProcess;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// Certs is a directory of the test certificates, removed at the end.
class Certs {
 public:
  Certs() {
    char path[] = "/tmp/baton-cluster-tls-XXXXXX";
    if (mkdtemp(path) == nullptr) return;
    dir_ = path;
    const std::string command =
        std::string("bash ") + MAKE_TEST_CERTS + " " + dir_ + " >/dev/null 2>&1";
    made_ = std::system(command.c_str()) == 0;
  }
  ~Certs() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  bool made() const { return made_; }
  std::string File(const std::string& name) const { return dir_ + "/" + name; }
  // Write() writes `text` into the file `name` of the directory.
  std::string Write(const std::string& name, const std::string& text) const {
    std::ofstream(File(name)) << text;
    return File(name);
  }

  // A client's mTLS credentials: client.crt, trusting ca.crt.
  std::shared_ptr<grpc::ChannelCredentials> Client() const {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadFile(File("ca.crt"));
    options.pem_cert_chain = ReadFile(File("client.crt"));
    options.pem_private_key = ReadFile(File("client.key"));
    return grpc::SslCredentials(options);
  }

 private:
  std::string dir_;
  bool made_ = false;
};

// The auth file: the client may administer "tenant"; the nodes' own
// subject is a cluster peer and nothing else.
constexpr char kAuthFile[] = R"(principals:
  - name: tenant-admin
    subjects: ["CN=baton test client"]
    grants:
      tenant: [admin]
cluster_peers: ["CN=baton test server"]
)";

class ClusterTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(certs_.made());
    ASSERT_TRUE(etcd_.Ready()) << "etcd did not start: " << etcd_.last_error();
    auth_file_ = certs_.Write("auth.yaml", kAuthFile);
  }

  // AddNode() starts a node serving mTLS; the peers' CA is
  // --tls_client_ca_file's (ca.crt signed both the nodes and the client).
  BatondProcess& AddNode(const std::string& id, std::vector<std::string> more = {}) {
    std::vector<std::string> flags = {"--shards=1",
                                      "--cluster_etcd=" + etcd_.endpoint(),
                                      "--cluster_node_id=" + id,
                                      "--cluster_lease_ttl=2s",
                                      "--cluster_name=tls",
                                      "--grace=0s",
                                      "--tls_cert_file=" + certs_.File("server.crt"),
                                      "--tls_key_file=" + certs_.File("server.key"),
                                      "--tls_client_ca_file=" + certs_.File("ca.crt"),
                                      "--auth_file=" + auth_file_};
    flags.insert(flags.end(), more.begin(), more.end());
    nodes_[id] = std::make_unique<BatondProcess>(flags);
    return *nodes_[id];
  }

  std::unique_ptr<v1::Admin::Stub> Admin(const std::string& address) {
    return v1::Admin::NewStub(grpc::CreateChannel(address, certs_.Client()));
  }

  static void SetDeadline(grpc::ClientContext* context) {
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }

  // WaitForMembers() waits until every node lists exactly `ids`, and
  // returns them in the order placement takes them.
  std::optional<std::vector<std::string>> WaitForMembers(std::vector<std::string> ids) {
    std::sort(ids.begin(), ids.end());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      bool all = true;
      for (const std::string& id : ids) {
        grpc::ClientContext context;
        SetDeadline(&context);
        v1::ClusterResponse response;
        all = all &&
              Admin(nodes_[id]->address())->Cluster(&context, v1::ClusterRequest(), &response).ok();
        std::vector<std::string> seen;
        for (const v1::ClusterMember& member : response.members()) {
          seen.push_back(member.node_id());
        }
        all = all && seen == ids;
      }
      if (all) return ids;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling the members
    }
    return std::nullopt;
  }

  Certs certs_;
  EtcdProcess etcd_;
  std::string auth_file_;
  std::map<std::string, std::unique_ptr<BatondProcess>> nodes_;
};

TEST_F(ClusterTlsTest, ForwardedCallsGoOverTlsAndActAsTheCallersSubject) {
  ASSERT_TRUE(AddNode("a").started()) << nodes_["a"]->log();
  ASSERT_TRUE(AddNode("b").started()) << nodes_["b"]->log();
  // c checks its peers' certificates for "localhost" (a SAN of server.crt)
  // rather than the host of their address, 127.0.0.1.
  ASSERT_TRUE(AddNode("c", {"--cluster_tls_server_name=localhost"}).started())
      << nodes_["c"]->log();
  const std::optional<std::vector<std::string>> ids = WaitForMembers({"a", "b", "c"});
  ASSERT_TRUE(ids.has_value());
  EXPECT_NE(nodes_["a"]->log().find("peers=\"tls\""), std::string::npos) << nodes_["a"]->log();

  // From each node, a name another node owns: Declare and Describe there.
  for (const std::string& via : *ids) {
    std::string name;
    std::string owner;
    for (int i = 0; owner.empty() || owner == via; ++i) {
      name = "tenant/forwarded-by-" + via + "-" + std::to_string(i);
      owner = (*ids)[*cluster::OwnerIndex(*ids, name)];
    }
    SCOPED_TRACE(name + " sent to " + via + ", owned by " + owner);
    auto admin = Admin(nodes_[via]->address());

    grpc::ClientContext declare_context;
    SetDeadline(&declare_context);
    v1::DeclareRequest declare;
    declare.set_name(name);
    declare.mutable_config()->set_kind(v1::KIND_ADVANCED_RATE_LIMIT);
    declare.mutable_config()->mutable_rate_limit()->set_rate(10);
    v1::DeclareResponse declared;
    const grpc::Status status = admin->Declare(&declare_context, declare, &declared);
    ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << nodes_[via]->log();
    EXPECT_TRUE(declared.created());

    grpc::ClientContext describe_context;
    SetDeadline(&describe_context);
    v1::DescribeRequest describe;
    describe.set_name(name);
    v1::DescribeResponse described;
    const grpc::Status read = admin->Describe(&describe_context, describe, &described);
    ASSERT_TRUE(read.ok()) << read.error_message();
    EXPECT_EQ(described.config().rate_limit().rate(), 10);

    // The owner made it, and its audit line names the caller and the node
    // (logged before the answer, read from batond's stderr soon after).
    std::string log = nodes_[owner]->log();
    for (int i = 0; i < 200 && log.find(name) == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling the log
      log = nodes_[owner]->log();
    }
    const std::size_t line = log.find(name);
    ASSERT_NE(line, std::string::npos) << log;
    const std::string audit = log.substr(line, log.find('\n', line) - line);
    EXPECT_NE(audit.find("tenant-admin"), std::string::npos) << audit;
    EXPECT_NE(audit.find("via=\"" + via + "\""), std::string::npos) << audit;
    EXPECT_NE(audit.find("CN=baton test server"), std::string::npos) << audit;
    EXPECT_EQ(nodes_[via]->log().find(name), std::string::npos) << "not forwarded";
  }
}

TEST_F(ClusterTlsTest, APeerWhoseCertificateLacksTheServerNameIsNotCalled) {
  ASSERT_TRUE(AddNode("a").started()) << nodes_["a"]->log();
  ASSERT_TRUE(AddNode("x", {"--cluster_tls_server_name=elsewhere.example"}).started())
      << nodes_["x"]->log();
  const std::optional<std::vector<std::string>> ids = WaitForMembers({"a", "x"});
  ASSERT_TRUE(ids.has_value());
  std::string name;
  for (int i = 0; name.empty() || (*ids)[*cluster::OwnerIndex(*ids, name)] != "a"; ++i) {
    name = "tenant/owned-by-a-" + std::to_string(i);
  }
  // x checks a's certificate for a name it does not hold: no call goes.
  grpc::ClientContext context;
  SetDeadline(&context);
  v1::DescribeRequest describe;
  describe.set_name(name);
  v1::DescribeResponse described;
  const grpc::Status status =
      Admin(nodes_["x"]->address())->Describe(&context, describe, &described);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_NE(status.error_message().find("Hostname Verification"), std::string::npos)
      << status.error_message();
  // a, which checks x's for 127.0.0.1, calls it.
  for (int i = 0; (*ids)[*cluster::OwnerIndex(*ids, name)] != "x"; ++i) {
    name = "tenant/owned-by-x-" + std::to_string(i);
  }
  describe.set_name(name);
  grpc::Status answered;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  do {  // UNAVAILABLE while x settles (its first acknowledgement)
    grpc::ClientContext forwarded;
    SetDeadline(&forwarded);
    answered = Admin(nodes_["a"]->address())->Describe(&forwarded, describe, &described);
    if (answered.error_code() != grpc::StatusCode::UNAVAILABLE) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the node settling
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(answered.error_code(), grpc::StatusCode::NOT_FOUND) << answered.error_message();
}

TEST_F(ClusterTlsTest, AClientThatSendsTheForwardedSubjectsIsRefused) {
  ASSERT_TRUE(AddNode("a").started()) << nodes_["a"]->log();
  ASSERT_TRUE(WaitForMembers({"a"}).has_value());
  auto admin = Admin(nodes_["a"]->address());
  // A valid client certificate, claiming to be another caller (here, the
  // same one) as a node would, and claiming a node forwarded it.
  for (const bool as_forwarded : {false, true}) {
    grpc::ClientContext context;
    SetDeadline(&context);
    context.AddMetadata("baton-forwarded-subjects-bin", "CN=baton test client");
    if (as_forwarded) context.AddMetadata("baton-forwarded-by", "b");
    v1::DescribeRequest describe;
    describe.set_name("tenant/x");
    v1::DescribeResponse described;
    const grpc::Status status = admin->Describe(&context, describe, &described);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
    EXPECT_NE(status.error_message().find("baton-forwarded-subjects-bin"), std::string::npos)
        << status.error_message();
    EXPECT_NE(status.error_message().find("cluster_peers"), std::string::npos)
        << status.error_message();
  }
  // Without it, the same client is itself: let in, and told the name does
  // not exist once the node serves (UNAVAILABLE until its first
  // acknowledgement is back: it cannot tell yet whether the name is its own).
  v1::DescribeRequest describe;
  describe.set_name("tenant/x");
  grpc::Status status;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  do {
    grpc::ClientContext context;
    SetDeadline(&context);
    v1::DescribeResponse described;
    status = admin->Describe(&context, describe, &described);
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the node settling
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
}

TEST(ClusterEtcdTlsTest, NodesJoinThroughEtcdOverMutualTls) {
  Certs certs;
  ASSERT_TRUE(certs.made());
  EtcdProcess etcd({.cert_file = certs.File("server.crt"),
                    .key_file = certs.File("server.key"),
                    .trusted_ca_file = certs.File("ca.crt")});
  ASSERT_TRUE(etcd.Ready()) << "etcd did not start: " << etcd.last_error();
  std::map<std::string, std::unique_ptr<BatondProcess>> nodes;
  for (const char* id : {"a", "b"}) {
    nodes[id] = std::make_unique<BatondProcess>(std::vector<std::string>{
        "--shards=1", "--cluster_etcd=" + etcd.endpoint(), std::string("--cluster_node_id=") + id,
        "--cluster_lease_ttl=2s", "--cluster_name=etcd-tls", "--grace=0s",
        "--cluster_etcd_ca_file=" + certs.File("ca.crt"),
        "--cluster_etcd_cert_file=" + certs.File("client.crt"),
        "--cluster_etcd_key_file=" + certs.File("client.key")});
    ASSERT_TRUE(nodes[id]->started()) << nodes[id]->log();
    EXPECT_NE(nodes[id]->log().find("etcd_tls=\"mtls\""), std::string::npos) << nodes[id]->log();
  }
  // Each sees both: they registered and watch through etcd over mTLS.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool both = false;
  while (!both && std::chrono::steady_clock::now() < deadline) {
    both = true;
    for (const auto& [id, node] : nodes) {
      auto admin = v1::Admin::NewStub(
          grpc::CreateChannel(node->address(), grpc::InsecureChannelCredentials()));
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
      v1::ClusterResponse response;
      both = both && admin->Cluster(&context, v1::ClusterRequest(), &response).ok() &&
             response.members_size() == 2;
    }
    if (!both) std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling
  }
  EXPECT_TRUE(both) << nodes["a"]->log();
}

// ExitOf() starts batond on `flags` and returns its exit code (-1 when it
// started, or did not exit) and its log.
int ExitOf(const std::vector<std::string>& flags, std::string* log) {
  BatondProcess batond(flags);
  if (batond.started()) return -1;
  const int status = batond.WaitExit(std::chrono::seconds(5));
  *log = batond.log();
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(ClusterTlsFlagsTest, TlsInAClusterWithoutACaForThePeersAndStrayFlagsExit2) {
  Certs certs;
  ASSERT_TRUE(certs.made());
  // Nothing is reached: the flags are checked before etcd is.
  const std::string etcd = "--cluster_etcd=127.0.0.1:1";
  const std::vector<std::string> tls = {"--tls_cert_file=" + certs.File("server.crt"),
                                        "--tls_key_file=" + certs.File("server.key")};
  struct Case {
    std::vector<std::string> flags;
    std::string message;
  };
  const std::string not_pem = certs.Write("not.pem", "not a certificate\n");
  const std::vector<Case> cases = {
      {{etcd, tls[0], tls[1]}, "--cluster_ca_file is required in a cluster with TLS on"},
      {{etcd, "--cluster_ca_file=" + certs.File("ca.crt")},
       "--cluster_ca_file needs --tls_cert_file and --tls_key_file"},
      {{etcd, "--cluster_tls_server_name=localhost"},
       "--cluster_tls_server_name needs --tls_cert_file"},
      {{tls[0], tls[1], "--cluster_ca_file=" + certs.File("ca.crt")},
       "--cluster_ca_file is for the nodes of a cluster"},
      {{etcd, tls[0], tls[1], "--cluster_ca_file=" + not_pem},
       "--cluster_ca_file: '" + not_pem + "' holds no PEM certificate"},
      {{etcd, tls[0], tls[1], "--cluster_ca_file=" + certs.File("missing.crt")},
       "--cluster_ca_file: cannot read"},
      {{etcd, tls[0], tls[1], "--tls_client_ca_file=" + certs.File("ca.crt"),
        "--cluster_tls_server_name=no spaces"},
       "--cluster_tls_server_name must be a host name"},
      {{"--cluster_etcd_ca_file=" + certs.File("ca.crt")},
       "--cluster_etcd_ca_file is for the nodes of a cluster"},
      {{etcd, "--cluster_etcd_ca_file=" + certs.File("ca.crt"),
        "--cluster_etcd_cert_file=" + certs.File("client.crt")},
       "--cluster_etcd_key_file is not set"},
      {{etcd, "--cluster_etcd_ca_file=" + certs.File("ca.crt"),
        "--cluster_etcd_cert_file=" + certs.File("client.crt"),
        "--cluster_etcd_key_file=" + certs.File("server.key")},
       "--cluster_etcd_key_file: the key in '" + certs.File("server.key") +
           "' does not match the certificate"},
  };
  for (const Case& c : cases) {
    std::string log;
    EXPECT_EQ(ExitOf(c.flags, &log), 2) << c.message << "\n" << log;
    EXPECT_NE(log.find(c.message), std::string::npos) << c.message << "\n" << log;
  }
}

}  // namespace
}  // namespace baton

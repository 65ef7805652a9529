// Copyright 2026 The Baton Authors.

#include "server/auth/access.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace baton::auth {
namespace {

using ::testing::HasSubstr;

constexpr char kFile[] = R"(principals:
  - name: payments
    tokens: ["payments-token-0123456789"]
    grants:
      payments: [use, admin]
      shared: use
  - name: search
    tokens: ["search-token-0123456789", "search-token-second-abcdef"]
    subjects: ["CN=search", "spiffe://cluster.local/ns/search/sa/api"]
    grants:
      "search-*": [use]
  - name: operator
    subjects: ["CN=operator,O=acme"]
    grants:
      "*": [admin]
quotas:
  payments: {sessions: 2, instances: 3, waiters: 4, requests_per_second: 10}
  "*": {instances: 100}
)";

AccessConfig Parsed(std::string_view text = kFile) {
  absl::StatusOr<AccessConfig> config = AccessConfig::Parse(text, "auth.yaml");
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *std::move(config) : AccessConfig();
}

absl::Status ParseError(std::string_view text) {
  return AccessConfig::Parse(text, "auth.yaml").status();
}

TEST(NamespaceOfTest, IsTheFirstSegmentOrDefault) {
  EXPECT_EQ(NamespaceOf("payments/orders/lock"), "payments");
  EXPECT_EQ(NamespaceOf("payments/x"), "payments");
  EXPECT_EQ(NamespaceOf("jobs"), "default");
}

TEST(AccessConfigTest, FindsPrincipalsByTokenAndBySubject) {
  const AccessConfig config = Parsed();
  ASSERT_NE(config.ByToken("payments-token-0123456789"), nullptr);
  EXPECT_EQ(config.ByToken("payments-token-0123456789")->name, "payments");
  EXPECT_EQ(config.ByToken("search-token-second-abcdef")->name, "search");
  EXPECT_EQ(config.ByToken("payments-token-012345678"), nullptr);   // a prefix
  EXPECT_EQ(config.ByToken("payments-token-01234567890"), nullptr);  // longer
  EXPECT_EQ(config.ByToken(""), nullptr);
  EXPECT_EQ(config.BySubject({"CN=nobody"}), nullptr);
  EXPECT_EQ(config.BySubject({"O=x", "CN=search"})->name, "search");
  EXPECT_EQ(config.BySubject({"spiffe://cluster.local/ns/search/sa/api"})->name, "search");
  EXPECT_EQ(config.BySubject({"CN=operator,O=acme"})->name, "operator");
}

TEST(AccessConfigTest, GrantsByNamespacePrefixAndWildcard) {
  const AccessConfig config = Parsed();
  const Principal& payments = *config.ByName("payments");
  EXPECT_TRUE(Allowed(payments, "payments", Role::kAdmin).ok());
  EXPECT_TRUE(Allowed(payments, "shared", Role::kUse).ok());
  const absl::Status denied = Allowed(payments, "shared", Role::kAdmin);
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(denied.message(), HasSubstr("namespace 'shared'"));
  EXPECT_THAT(denied.message(), HasSubstr("'admin'"));
  EXPECT_THAT(denied.message(), HasSubstr("principal 'payments'"));
  EXPECT_EQ(Allowed(payments, "search-a", Role::kUse).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Allowed(payments, "default", Role::kUse).code(),
            absl::StatusCode::kPermissionDenied);

  const Principal& search = *config.ByName("search");
  EXPECT_TRUE(Allowed(search, "search-a", Role::kUse).ok());
  EXPECT_TRUE(Allowed(search, "search-", Role::kUse).ok());
  EXPECT_FALSE(Allowed(search, "search", Role::kUse).ok());  // "search-*" needs the dash
  EXPECT_FALSE(Allowed(search, "search-a", Role::kAdmin).ok());

  // admin implies use, "*" is every namespace.
  const Principal& op = *config.ByName("operator");
  EXPECT_TRUE(Allowed(op, "anything", Role::kUse).ok());
  EXPECT_TRUE(Allowed(op, "default", Role::kAdmin).ok());
}

TEST(AccessConfigTest, QuotasOfANamespaceOrTheDefault) {
  const AccessConfig config = Parsed();
  ASSERT_NE(config.QuotasOf("payments"), nullptr);
  EXPECT_EQ(config.QuotasOf("payments")->sessions, 2);
  EXPECT_EQ(config.QuotasOf("payments")->requests_per_second, 10);
  ASSERT_NE(config.QuotasOf("other"), nullptr);
  EXPECT_EQ(config.QuotasOf("other")->instances, 100);
  EXPECT_FALSE(config.QuotasOf("other")->sessions.has_value());
  const AccessConfig none = Parsed("principals: [{name: a, tokens: [aaaaaaaaaaaaaaaaaaaa]}]");
  EXPECT_EQ(none.QuotasOf("other"), nullptr);
}

TEST(AccessConfigTest, ErrorsNameTheFileLineAndField) {
  struct Case {
    std::string yaml;
    std::vector<std::string> expected;
  };
  const std::vector<Case> cases = {
      {"principals: [", {"auth.yaml:1", "not valid YAML"}},
      {"", {"auth.yaml:1", "empty"}},
      {"quotas: {}\n", {"principals", "required"}},
      {"principals: []\nusers: []\n", {"auth.yaml:2", "unknown key 'users'"}},
      {"principals:\n  - tokens: [abc]\n", {"auth.yaml:2", "principals[0].name", "required"}},
      {"principals:\n  - name: a\n    tokens: [abc]\n    grants: {x: [write]}\n",
       {"auth.yaml:4", "principals[0].grants.x", "unknown role 'write'"}},
      {"principals:\n  - name: a\n", {"principals[0]", "needs tokens or subjects"}},
      {"principals:\n  - {name: a, tokens: [t1]}\n  - {name: b, tokens: [t1]}\n",
       {"auth.yaml:3", "principals[1].tokens[0]", "also a token of principal 'a'"}},
      {"principals:\n  - {name: a, tokens: [t1]}\n  - {name: a, tokens: [t2]}\n",
       {"principals[1].name", "already the name"}},
      {"principals:\n  - {name: a, tokens: [t1], grants: {\"a*b\": use}}\n",
       {"principals[0].grants.a*b", "'*' may only end"}},
      {"principals:\n  - {name: a, tokens: [t1], grants: {\"a/b\": use}}\n",
       {"principals[0].grants.a/b", "no '/'"}},
      {"principals:\n  - {name: a, tokens: [\"has space\"]}\n",
       {"principals[0].tokens[0]", "printable ASCII"}},
      {"principals: [{name: a, tokens: [t1]}]\nquotas:\n  x: {sessions: -1}\n",
       {"auth.yaml:3", "quotas.x.sessions", "integer >= 0"}},
      {"principals: [{name: a, tokens: [t1]}]\nquotas:\n  x: {requests_per_second: 0}\n",
       {"quotas.x.requests_per_second", "> 0"}},
      {"principals: [{name: a, tokens: [t1]}]\nquotas:\n  x: {queue: 3}\n",
       {"quotas.x", "unknown key 'queue'"}},
      {"principals: [{name: a, tokens: [t1]}]\nquotas:\n  \"x*\": {sessions: 3}\n",
       {"quotas.x*", "per namespace"}},
      {"principals: [{name: a, tokens: [t1]}]\ncluster_peers: CN=batond\n",
       {"auth.yaml:2", "cluster_peers", "list of strings"}},
      {"principals: [{name: a, tokens: [t1]}]\ncluster_peers: [\"CN=b\", \"\"]\n",
       {"auth.yaml:2", "cluster_peers[1]", "must not be empty"}},
      {"principals: [{name: a, tokens: [t1]}]\ncluster_peers: [\"CN=b\", \"CN=b\"]\n",
       {"cluster_peers[1]", "'CN=b' is listed twice"}},
      {"principals: [{name: a, tokens: [t1]}]\ncluster_peers: [[x]]\n",
       {"cluster_peers[0]", "must be a string"}},
  };
  for (const Case& c : cases) {
    const absl::Status status = ParseError(c.yaml);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.yaml;
    for (const std::string& part : c.expected) {
      EXPECT_THAT(status.message(), HasSubstr(part)) << c.yaml;
    }
  }
}

TEST(AccessConfigTest, AnErrorNeverQuotesAToken) {
  const absl::Status status =
      ParseError("principals:\n  - {name: a, tokens: [secret-value-1]}\n"
                 "  - {name: b, tokens: [secret-value-1]}\n");
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), ::testing::Not(HasSubstr("secret-value-1")));
}

TEST(AccessConfigTest, CountsShortTokens) {
  EXPECT_EQ(Parsed("principals: [{name: a, tokens: [short, long-enough-token-123]}]")
                .short_tokens(),
            1u);
}

TEST(NamespaceUsageTest, CountsAgainstQuotasAndRefusesAtThem) {
  NamespaceUsage usage("payments");
  Quotas quotas;
  quotas.sessions = 2;
  quotas.instances = 1;
  usage.SetQuotas(&quotas);
  EXPECT_TRUE(usage.AddSession().ok());
  EXPECT_TRUE(usage.AddSession().ok());
  const absl::Status full = usage.AddSession();
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(full.message(), HasSubstr("namespace 'payments'"));
  EXPECT_THAT(full.message(), HasSubstr("sessions"));
  EXPECT_EQ(usage.sessions(), 2);
  usage.RemoveSession();
  EXPECT_TRUE(usage.AddSession().ok());
  EXPECT_TRUE(usage.AddInstance().ok());
  EXPECT_FALSE(usage.AddInstance().ok());
  // Waiters: no quota, counted anyway.
  EXPECT_TRUE(usage.AddWaiter().ok());
  EXPECT_EQ(usage.waiters(), 1);
  // Never below 0 (what was made before a quota applied was not counted).
  usage.RemoveWaiter();
  usage.RemoveWaiter();
  EXPECT_EQ(usage.waiters(), 0);
  // A reload that lifts the quota.
  usage.SetQuotas(nullptr);
  EXPECT_TRUE(usage.AddInstance().ok());
}

TEST(NamespaceUsageTest, RequestsPerSecondIsABucketOfOneSecond) {
  NamespaceUsage usage("payments");
  Quotas quotas;
  quotas.requests_per_second = 4;
  usage.SetQuotas(&quotas);
  const absl::Time t0 = absl::FromUnixSeconds(1'000'000);  // a manual clock
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(usage.TakeRequest(t0).ok()) << i;
  const absl::Status over = usage.TakeRequest(t0);
  EXPECT_EQ(over.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(over.message(), HasSubstr("requests_per_second"));
  EXPECT_THAT(over.message(), HasSubstr("retry in 250 ms"));
  // A quarter second later, one more.
  EXPECT_TRUE(usage.TakeRequest(t0 + absl::Milliseconds(250)).ok());
  EXPECT_FALSE(usage.TakeRequest(t0 + absl::Milliseconds(250)).ok());
  // Long idle: at most one second's worth.
  const absl::Time later = t0 + absl::Hours(1);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(usage.TakeRequest(later).ok()) << i;
  EXPECT_FALSE(usage.TakeRequest(later).ok());
  // A clock that goes back takes nothing extra.
  EXPECT_FALSE(usage.TakeRequest(t0).ok());
}

TEST(NamespaceUsageTest, ConcurrentAddsNeverPassTheQuota) {
  NamespaceUsage usage("ns");
  Quotas quotas;
  quotas.waiters = 1000;
  usage.SetQuotas(&quotas);
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (usage.AddWaiter().ok()) granted.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(granted.load(), 1000);
  EXPECT_EQ(usage.waiters(), 1000);
}

class AccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char path[] = "/tmp/baton-access-XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    path_ = path;
  }
  void TearDown() override { std::remove(path_.c_str()); }
  void Write(const std::string& text) {
    std::ofstream out(path_, std::ios::trunc);
    out << text;
  }
  std::string path_;
};

TEST_F(AccessTest, WithoutAFileEverythingIsAllowed) {
  Access access("");
  EXPECT_FALSE(access.enabled());
  Caller caller(&access, Credentials{});
  EXPECT_TRUE(caller.Authenticate().ok());
  EXPECT_TRUE(caller.Allow("anything/x", Role::kAdmin).ok());
  EXPECT_EQ(access.Usage("anything"), nullptr);
  EXPECT_TRUE(access.InstanceCreated("anything/x").ok());
}

TEST_F(AccessTest, CallersAreAuthenticatedAndReResolvedAfterAReload) {
  Write(kFile);
  Access access(path_);
  ASSERT_TRUE(access.Load().ok());

  Caller none(&access, Credentials{});
  const absl::Status anonymous = none.Authenticate();
  EXPECT_EQ(anonymous.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(anonymous.message(), HasSubstr("Bearer"));

  Caller wrong(&access, Credentials{.token = "nope"});
  EXPECT_EQ(wrong.Authenticate().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(wrong.Authenticate().message(), ::testing::Not(HasSubstr("nope")));

  Caller malformed(&access, Credentials{.malformed = "authorization: must be \"Bearer <token>\""});
  EXPECT_EQ(malformed.Authenticate().code(), absl::StatusCode::kUnauthenticated);

  Caller by_cert(&access, Credentials{.certificate_names = {"CN=search"}});
  EXPECT_TRUE(by_cert.Authenticate().ok());
  EXPECT_EQ(by_cert.principal(), "search");

  Caller payments(&access, Credentials{.token = "payments-token-0123456789"});
  EXPECT_TRUE(payments.Authenticate().ok());
  EXPECT_TRUE(payments.Allow("payments/lock", Role::kAdmin).ok());
  EXPECT_EQ(payments.Allow("search-a/lock", Role::kUse).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(payments.Allow("lock", Role::kUse).code(), absl::StatusCode::kPermissionDenied);

  // The token is revoked: the same caller (a session) is refused from now on.
  Write("principals: [{name: payments, tokens: [a-new-token-0123456789], "
        "grants: {payments: use}}]\n");
  ASSERT_TRUE(access.Load().ok());
  EXPECT_EQ(payments.Allow("payments/lock", Role::kUse).code(),
            absl::StatusCode::kUnauthenticated);

  // A bad file is refused; the one in force stays.
  Write("principals: [{name: x}]\n");
  EXPECT_FALSE(access.Load().ok());
  Caller renewed(&access, Credentials{.token = "a-new-token-0123456789"});
  EXPECT_TRUE(renewed.Allow("payments/lock", Role::kUse).ok());
  EXPECT_FALSE(renewed.Allow("payments/lock", Role::kAdmin).ok());
}

TEST(AccessConfigTest, ClusterPeersAreFoundByAnyNameOfACertificate) {
  const AccessConfig config = Parsed(
      "principals: [{name: a, tokens: [aaaaaaaaaaaaaaaaaaaa]}]\n"
      "cluster_peers: [\"CN=batond\", \"spiffe://cluster.local/ns/baton/sa/batond\"]\n");
  EXPECT_EQ(config.cluster_peers().size(), 2u);
  ASSERT_NE(config.ClusterPeer({"O=x", "CN=batond"}), nullptr);
  EXPECT_EQ(*config.ClusterPeer({"O=x", "CN=batond"}), "CN=batond");
  EXPECT_EQ(*config.ClusterPeer({"spiffe://cluster.local/ns/baton/sa/batond"}),
            "spiffe://cluster.local/ns/baton/sa/batond");
  EXPECT_EQ(config.ClusterPeer({"CN=other"}), nullptr);
  EXPECT_EQ(config.ClusterPeer({}), nullptr);
  EXPECT_EQ(Parsed().ClusterPeer({"CN=batond"}), nullptr);  // none listed
}

TEST_F(AccessTest, ForwardedSubjectsCountOnlyFromAClusterPeer) {
  Write(std::string(kFile) + "cluster_peers: [\"CN=batond\"]\n");
  Access access(path_);
  ASSERT_TRUE(access.Load().ok());

  // From a node of the cluster: the caller is who the node says.
  Caller forwarded(&access,
                   Credentials{.certificate_names = {"CN=batond"},
                               .forwarded_names = std::vector<std::string>{"O=acme", "CN=search"}});
  EXPECT_TRUE(forwarded.Allow("search-a/lock", Role::kUse).ok());
  EXPECT_EQ(forwarded.principal(), "search");
  EXPECT_EQ(forwarded.via(), "CN=batond");
  EXPECT_EQ(forwarded.Allow("payments/lock", Role::kUse).code(),
            absl::StatusCode::kPermissionDenied);

  // The node itself is nobody: no principal has its subject.
  Caller node(&access, Credentials{.certificate_names = {"CN=batond"}});
  EXPECT_EQ(node.Authenticate().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(node.via(), "");

  // A token the node copied wins, as it did on the node.
  Caller with_token(&access, Credentials{.token = "payments-token-0123456789",
                                         .certificate_names = {"CN=batond"},
                                         .forwarded_names = std::vector<std::string>{}});
  EXPECT_TRUE(with_token.Allow("payments/lock", Role::kAdmin).ok());
  EXPECT_EQ(with_token.via(), "CN=batond");

  // Forwarded for a caller with no token and no certificate (the key sent
  // empty): nobody, never the node's own principal, even if it had one.
  Caller anonymous(&access, Credentials{.certificate_names = {"CN=batond"},
                                        .forwarded_names = std::vector<std::string>{}});
  EXPECT_EQ(anonymous.Authenticate().code(), absl::StatusCode::kUnauthenticated);

  // Forwarded names nobody has: unauthenticated, as the caller would be.
  Caller unknown(&access, Credentials{.certificate_names = {"CN=batond"},
                                      .forwarded_names = std::vector<std::string>{"CN=x"}});
  EXPECT_EQ(unknown.Authenticate().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(unknown.Authenticate().message(), HasSubstr("forwarded by a cluster node"));

  // From anyone else, the metadata is refused, never silently ignored.
  for (const std::vector<std::string>& names :
       {std::vector<std::string>{"CN=search"}, std::vector<std::string>{}}) {
    Caller impostor(&access,
                    Credentials{.certificate_names = names,
                                .forwarded_names = std::vector<std::string>{"CN=operator,O=acme"}});
    const absl::Status refused = impostor.Allow("x/lock", Role::kAdmin);
    EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied);
    EXPECT_THAT(refused.message(), HasSubstr("baton-forwarded-subjects-bin"));
    EXPECT_THAT(refused.message(), HasSubstr("cluster_peers"));
    EXPECT_EQ(impostor.principal(), "");
  }

  // cluster_peers removed by a reload: the node is no longer believed.
  Write(kFile);
  ASSERT_TRUE(access.Load().ok());
  EXPECT_EQ(forwarded.Allow("search-a/lock", Role::kUse).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(forwarded.via(), "");
}

TEST_F(AccessTest, WithoutAFileForwardedSubjectsChangeNothing) {
  Access access("");
  Caller caller(&access, Credentials{.forwarded_names = std::vector<std::string>{"CN=x"}});
  EXPECT_TRUE(caller.Allow("anything/x", Role::kAdmin).ok());
}

TEST_F(AccessTest, UsageFollowsTheQuotasOfTheFileInForce) {
  Write(kFile);
  Access access(path_);
  ASSERT_TRUE(access.Load().ok());
  NamespaceUsage* payments = access.Usage("payments");
  ASSERT_NE(payments, nullptr);
  EXPECT_EQ(access.Usage("payments"), payments);  // one per namespace
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(access.InstanceCreated("payments/x").ok());
  const absl::Status full = access.InstanceCreated("payments/y");
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(full.message(), HasSubstr("instances"));
  access.InstanceRemoved("payments/x");
  EXPECT_TRUE(access.InstanceCreated("payments/y").ok());

  // Reload with a higher quota: the count stays, the quota moves.
  Write("principals: [{name: a, tokens: [t0123456789abcdef]}]\n"
        "quotas: {payments: {instances: 5}}\n");
  ASSERT_TRUE(access.Load().ok());
  EXPECT_EQ(payments->instances(), 3);
  EXPECT_TRUE(access.InstanceCreated("payments/z").ok());
  EXPECT_TRUE(access.InstanceCreated("payments/w").ok());
  EXPECT_FALSE(access.InstanceCreated("payments/v").ok());
  // No "*" any more: other namespaces are not counted.
  EXPECT_EQ(access.Usage("other"), nullptr);
}

TEST_F(AccessTest, ChangedSeesANewFile) {
  Write(kFile);
  Access access(path_);
  ASSERT_TRUE(access.Load().ok());
  EXPECT_FALSE(access.Changed());
  // Renamed over, as an editor or a Kubernetes Secret update does.
  const std::string next = path_ + ".next";
  {
    std::ofstream out(next);
    out << kFile << "\n";
  }
  ASSERT_EQ(std::rename(next.c_str(), path_.c_str()), 0);
  EXPECT_TRUE(access.Changed());
}

// deploy/k8s/components/auth's example is a file batond accepts.
TEST(AccessConfigTest, TheKubernetesExampleParses) {
  absl::StatusOr<AccessConfig> config = AccessConfig::Load(
      std::string(BATON_SOURCE_DIR) + "/deploy/k8s/components/auth/auth.example.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->principals().size(), 3u);
  ASSERT_NE(config->ByName("envoy"), nullptr);
  EXPECT_TRUE(Allowed(*config->ByName("envoy"), "envoy", Role::kUse).ok());
}

}  // namespace
}  // namespace baton::auth

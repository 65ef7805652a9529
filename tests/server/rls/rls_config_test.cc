// Copyright 2026 The Baton Authors.
//
// Tests of server/rls/rls_config.h (the YAML rules and their matching) and
// of the bucket names of server/rls/rls_service.h.

#include "server/rls/rls_config.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "server/core/instance_name.h"
#include "server/rls/rls_service.h"
#include "server/service/node.h"

namespace baton::rls {
namespace {

constexpr char kEdge[] = R"(domain: edge
descriptors:
  - key: remote_address
    rate_limit:
      unit: minute
      requests_per_unit: 100
  - key: remote_address
    value: 10.0.0.1
    rate_limit: {unit: SECOND, requests_per_unit: 5}
  - key: path
    value: /login
    shadow_mode: true
    rate_limit: {unit: second, requests_per_unit: 2, name: login}
  - key: path
    value: /api/*
    descriptors:
      - key: user
        rate_limit: {unit: hour, requests_per_unit: 1000}
      - key: user
        value: admin
  - key: path
    rate_limit: {unit: day, requests_per_unit: 7}
  - key: internal
    rate_limit: {unlimited: true, replaces: [{name: login}]}
  - key: blocked
    rate_limit: {unit: second, requests_per_unit: 0}
)";

RlsConfig Edge() {
  absl::StatusOr<RlsConfig> config = RlsConfig::Parse(kEdge, "edge.yaml");
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? std::move(*config) : RlsConfig();
}

absl::Status ParseError(const std::string& text) {
  absl::StatusOr<RlsConfig> config = RlsConfig::Parse(text, "bad.yaml");
  EXPECT_FALSE(config.ok()) << "accepted:\n" << text;
  return config.ok() ? absl::OkStatus() : config.status();
}

TEST(RlsConfigTest, ParsesTheDomainAndItsRules) {
  RlsConfig config = Edge();
  EXPECT_EQ(config.domain_count(), 1u);
  EXPECT_EQ(config.rule_count(), 7u);
  EXPECT_TRUE(config.HasDomain("edge"));
  EXPECT_FALSE(config.HasDomain("other"));
}

TEST(RlsConfigTest, ExactValueBeatsTheKeyOnlyDefault) {
  RlsConfig config = Edge();
  const RlsLimit* exact = config.Find("edge", {{"remote_address", "10.0.0.1"}});
  ASSERT_NE(exact, nullptr);
  EXPECT_EQ(exact->requests_per_unit, 5u);
  EXPECT_EQ(exact->unit, Unit::kSecond);  // "SECOND": case-insensitive
  const RlsLimit* fallback = config.Find("edge", {{"remote_address", "10.0.0.2"}});
  ASSERT_NE(fallback, nullptr);
  EXPECT_EQ(fallback->requests_per_unit, 100u);
  EXPECT_EQ(fallback->unit, Unit::kMinute);
  EXPECT_EQ(fallback->source, "edge.yaml:5");  // where its fields start
}

TEST(RlsConfigTest, WildcardValuesMatchAPrefixBeforeTheDefault) {
  RlsConfig config = Edge();
  const RlsLimit* nested = config.Find("edge", {{"path", "/api/v1/items"}, {"user", "bob"}});
  ASSERT_NE(nested, nullptr);
  EXPECT_EQ(nested->requests_per_unit, 1000u);
  EXPECT_EQ(nested->unit, Unit::kHour);
  // The wildcard rule has no limit of its own: a descriptor that stops
  // there gets none (depth must match), and does not fall back to the
  // default "path" rule.
  EXPECT_EQ(config.Find("edge", {{"path", "/api/v1"}}), nullptr);
  // Other paths: the default.
  const RlsLimit* other = config.Find("edge", {{"path", "/home"}});
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->requests_per_unit, 7u);
  EXPECT_EQ(other->unit, Unit::kDay);
}

TEST(RlsConfigTest, NestingFollowsTheEntriesInOrder) {
  RlsConfig config = Edge();
  // An exact nested value without a limit: no limit (it beats the default
  // "user" rule beside it).
  EXPECT_EQ(config.Find("edge", {{"path", "/api/x"}, {"user", "admin"}}), nullptr);
  // Deeper than the rules: no limit.
  EXPECT_EQ(config.Find("edge", {{"remote_address", "1.2.3.4"}, {"user", "bob"}}), nullptr);
  // Entries in another order: no limit.
  EXPECT_EQ(config.Find("edge", {{"user", "bob"}, {"path", "/api/x"}}), nullptr);
  // Unknown key, unknown domain.
  EXPECT_EQ(config.Find("edge", {{"nope", "x"}}), nullptr);
  EXPECT_EQ(config.Find("other", {{"path", "/login"}}), nullptr);
}

TEST(RlsConfigTest, ShadowModeUnlimitedNameAndReplaces) {
  RlsConfig config = Edge();
  const RlsLimit* login = config.Find("edge", {{"path", "/login"}});
  ASSERT_NE(login, nullptr);
  EXPECT_TRUE(login->shadow_mode);
  EXPECT_EQ(login->name, "login");
  const RlsLimit* internal = config.Find("edge", {{"internal", "yes"}});
  ASSERT_NE(internal, nullptr);
  EXPECT_TRUE(internal->unlimited);
  EXPECT_EQ(internal->replaces, std::vector<std::string>{"login"});
  const RlsLimit* blocked = config.Find("edge", {{"blocked", "x"}});
  ASSERT_NE(blocked, nullptr);
  EXPECT_EQ(blocked->requests_per_unit, 0u);
}

TEST(RlsConfigTest, UnitsAndTheirLengths) {
  EXPECT_EQ(ParseUnit("Minute"), Unit::kMinute);
  EXPECT_EQ(ParseUnit("YEAR"), Unit::kYear);
  EXPECT_EQ(ParseUnit("minutes"), std::nullopt);
  EXPECT_EQ(UnitDuration(Unit::kDay), absl::Hours(24));
  EXPECT_EQ(UnitDuration(Unit::kMonth), absl::Hours(24 * 30));
}

struct BadCase {
  std::string text;
  std::string expected;  // a substring of the error
};

TEST(RlsConfigTest, ErrorsNameTheFileTheLineTheFieldAndTheRule) {
  const std::vector<BadCase> cases = {
      {"domain: a\ndescriptors:\n  - key: k\n    rate_limit: {unit: minutes, "
       "requests_per_unit: 1}\n",
       "bad.yaml:4: descriptors[0].rate_limit.unit: must be second, minute, hour, day, month "
       "or year, got 'minutes'"},
      {"domain: a\ndescriptors:\n  - key: k\n    rate_limit:\n      unit: second\n"
       "      requests_per_unit: -3\n",
       "bad.yaml:6: descriptors[0].rate_limit.requests_per_unit: must be an integer in [0, "
       "4294967295], got '-3'"},
      {"domain: a\ndescriptors:\n  - key: k\n    rate_limit: {unit: second}\n",
       "bad.yaml:4: descriptors[0].rate_limit.requests_per_unit: missing"},
      {"domain: a\ndescriptors:\n  - key: k\n    rate_limit: {unlimited: true, unit: second}\n",
       "descriptors[0].rate_limit.unit: must not be given when unlimited is true"},
      {"domain: a\ndescriptors:\n  - key: k\n    rate_limt: {unit: second}\n",
       "bad.yaml:4: descriptors[0]: unknown key 'rate_limt'"},
      {"domain: a\ndescriptors:\n  - value: v\n", "bad.yaml:3: descriptors[0].key: missing"},
      {"domain: a\ndescriptors:\n  - key: \"\"\n", "descriptors[0].key: must not be empty"},
      {"domain: a\ndescriptors:\n  - key: k\n  - key: k\n",
       "bad.yaml:4: descriptors[1]: duplicate descriptor key 'k' without a value"},
      {"domain: a\ndescriptors:\n  - key: k\n    value: v\n    descriptors:\n      - key: x\n"
       "        value: y\n      - key: x\n        value: y\n",
       "bad.yaml:8: descriptors[0].descriptors[1]: duplicate descriptor key 'x' value 'y'"},
      {"domain: a\ndescriptors:\n  - key: k\n    shadow_mode: maybe\n",
       "bad.yaml:4: descriptors[0].shadow_mode: must be true or false, got 'maybe'"},
      {"descriptors: []\n", "bad.yaml:1: domain: missing"},
      {"domain: \"\"\n", "bad.yaml:1: domain: must not be empty"},
      {"", "bad.yaml:1: domain: missing"},
      {"domain: a\ndescriptors: {key: k}\n", "bad.yaml:2: descriptors: must be a list"},
      {"domain: a\ndescriptors:\n  - key: [k\n", "bad.yaml:"},  // not YAML
      {"domain: a\ndescriptors:\n  - key: k\n    rate_limit: {unit: second, "
       "requests_per_unit: 1, name: n, replaces: [{name: n}]}\n",
       "descriptors[0].rate_limit.replaces[0].name: must not be the limit's own name 'n'"},
  };
  for (const BadCase& c : cases) {
    const absl::Status error = ParseError(c.text);
    EXPECT_EQ(error.code(), absl::StatusCode::kInvalidArgument) << c.text;
    EXPECT_TRUE(absl::StrContains(error.message(), c.expected))
        << "got: " << error.message() << "\nexpected: " << c.expected;
  }
}

class RlsConfigFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char path[] = "/tmp/rls-config-test-XXXXXX";
    ASSERT_NE(mkdtemp(path), nullptr);
    dir_ = path;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
  }
  std::string dir_;
};

TEST_F(RlsConfigFilesTest, LoadsEveryYamlFileOfADirectory) {
  Write("a.yaml", "domain: a\ndescriptors:\n  - key: k\n    rate_limit: {unit: second, "
                  "requests_per_unit: 1}\n");
  Write("b.yml", "domain: b\n");
  Write("notes.txt", "not: loaded\n");
  absl::StatusOr<RlsConfig> config = RlsConfig::Load(dir_);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->domain_count(), 2u);
  EXPECT_EQ(config->rule_count(), 1u);
  EXPECT_TRUE(config->HasDomain("b"));
  // A single file.
  absl::StatusOr<RlsConfig> one = RlsConfig::Load(dir_ + "/a.yaml");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->domain_count(), 1u);
}

TEST_F(RlsConfigFilesTest, ADomainTwiceMissingPathsAndBadFilesAreNamed) {
  Write("a.yaml", "domain: a\n");
  Write("b.yaml", "domain: a\n");
  absl::StatusOr<RlsConfig> twice = RlsConfig::Load(dir_);
  ASSERT_FALSE(twice.ok());
  EXPECT_TRUE(absl::StrContains(twice.status().message(), "b.yaml:1: domain: 'a' is defined twice"))
      << twice.status();
  EXPECT_TRUE(absl::StrContains(twice.status().message(), "a.yaml")) << twice.status();

  EXPECT_EQ(RlsConfig::Load(dir_ + "/missing.yaml").status().code(), absl::StatusCode::kNotFound);
  std::filesystem::remove(dir_ + "/b.yaml");
  Write("c.yaml", "domain: c\ndescriptors:\n  - key: k\n    rate_limit: {unit: weekly}\n");
  absl::StatusOr<RlsConfig> bad = RlsConfig::Load(dir_);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::StrContains(bad.status().message(), dir_ + "/c.yaml:4: descriptors[0]"))
      << bad.status();
}

TEST_F(RlsConfigFilesTest, TheFingerprintChangesWithTheFiles) {
  Write("a.yaml", "domain: a\n");
  const std::string before = RlsConfig::Fingerprint(dir_);
  EXPECT_FALSE(before.empty());
  EXPECT_EQ(RlsConfig::Fingerprint(dir_), before);
  Write("a.yaml", "domain: a2\n");  // another size
  EXPECT_NE(RlsConfig::Fingerprint(dir_), before);
  EXPECT_EQ(RlsConfig::Fingerprint(dir_ + "/missing"), "");
}

TEST(RlsRulesTest, ABadReloadKeepsTheRulesInForce) {
  char path[] = "/tmp/rls-rules-test-XXXXXX";
  ASSERT_NE(mkdtemp(path), nullptr);
  const std::string file = std::string(path) + "/rules.yaml";
  std::ofstream(file) << "domain: a\n";
  RlsRules rules(file);
  ASSERT_TRUE(rules.Load().ok());
  EXPECT_FALSE(rules.Changed());
  std::ofstream(file) << "domain: [broken\n";
  EXPECT_TRUE(rules.Changed());
  EXPECT_FALSE(rules.Load().ok());
  EXPECT_FALSE(rules.Changed());  // the failed attempt is remembered
  EXPECT_TRUE(rules.Get()->HasDomain("a"));
  std::filesystem::remove_all(path);
}

TEST(BucketNameTest, OneSegmentPerEntryEscapedToAValidName) {
  absl::StatusOr<std::string> name =
      BucketName("edge", {{"remote_address", "10.0.0.1"}, {"path", "/a b=c%"}}, nullptr);
  ASSERT_TRUE(name.ok()) << name.status();
  EXPECT_EQ(*name, "envoy/edge/remote_address=10.0.0.1/path=%2Fa%20b%3Dc%25");
  EXPECT_TRUE(core::ValidateName(*name).ok());

  RlsLimit limit{.requests_per_unit = 10, .unit = Unit::kMinute};
  name = BucketName("edge", {{"k", "v"}}, &limit);
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(*name, "envoy/edge/k=v/!limit=10-per-minute");

  name = BucketName("..", {{"k", "\xE2\x80\x8B"}}, nullptr);  // zero-width space
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(*name, "envoy/%2E%2E/k=%E2%80%8B");  // not a ".." segment
  EXPECT_TRUE(core::ValidateName(*name).ok());
}

TEST(BucketNameTest, LongNamesAreHashedUnderTheDomain) {
  const std::string long_value(300, 'x');
  absl::StatusOr<std::string> name = BucketName("edge", {{"k", long_value}}, nullptr);
  ASSERT_TRUE(name.ok());
  EXPECT_TRUE(absl::StartsWith(*name, "envoy/edge/!hash=")) << *name;
  EXPECT_EQ(name->size(), std::string("envoy/edge/!hash=").size() + 16);
  EXPECT_EQ(*BucketName("edge", {{"k", long_value}}, nullptr), *name);  // stable
  EXPECT_NE(*BucketName("edge", {{"k", long_value + "y"}}, nullptr), *name);
  EXPECT_EQ(BucketName(std::string(200, 'd'), {{"k", "v"}}, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ShardKeyTest, EveryBucketOfADomainSharesItsShard) {
  EXPECT_EQ(service::Node::ShardKeyOf("envoy/edge/k=v/x=y"), "envoy/edge/");
  EXPECT_EQ(service::Node::ShardKeyOf("envoy/edge/!hash=0123"), "envoy/edge/");
  EXPECT_EQ(service::Node::ShardKeyOf("envoy/edge"), "envoy/edge");
  EXPECT_EQ(service::Node::ShardKeyOf("jobs/nightly"), "jobs/nightly");
}

}  // namespace
}  // namespace baton::rls

// Copyright 2026 The Baton Authors.
//
// deploy/envoy/: there is no Envoy binary here, so the example config is at
// least parsed, and checked to point the rate-limit filter at batond (port
// 7070, HTTP/2) with a domain that deploy/envoy/ratelimit-config.yaml defines.

#include <string>

#include "gtest/gtest.h"
#include "server/rls/rls_config.h"
#include "yaml-cpp/yaml.h"

namespace baton::rls {
namespace {

const std::string kDir = std::string(BATON_SOURCE_DIR) + "/deploy/envoy/";

YAML::Node FindNamed(const YAML::Node& list, const std::string& name) {
  for (const YAML::Node& item : list) {
    if (item["name"] && item["name"].as<std::string>() == name) return item;
  }
  return YAML::Node();
}

TEST(EnvoyExampleTest, TheRateLimitClusterIsBatondOverHttp2) {
  YAML::Node envoy;
  ASSERT_NO_THROW(envoy = YAML::LoadFile(kDir + "envoy.yaml"));
  const YAML::Node cluster = FindNamed(envoy["static_resources"]["clusters"], "baton_rls");
  ASSERT_TRUE(cluster.IsMap());
  const YAML::Node options =
      cluster["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"];
  ASSERT_TRUE(options.IsMap());
  EXPECT_TRUE(options["explicit_http_config"]["http2_protocol_options"].IsDefined());
  const YAML::Node address = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]
                                    ["endpoint"]["address"]["socket_address"];
  EXPECT_EQ(address["port_value"].as<int>(), 7070);
}

TEST(EnvoyExampleTest, TheFilterAsksBatondAboutADomainOfTheRules) {
  YAML::Node envoy = YAML::LoadFile(kDir + "envoy.yaml");
  const YAML::Node manager =
      envoy["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"];
  const YAML::Node filter = FindNamed(manager["http_filters"], "envoy.filters.http.ratelimit");
  ASSERT_TRUE(filter.IsMap());
  const YAML::Node config = filter["typed_config"];
  EXPECT_EQ(config["@type"].as<std::string>(),
            "type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit");
  EXPECT_EQ(config["rate_limit_service"]["transport_api_version"].as<std::string>(), "V3");
  EXPECT_EQ(config["rate_limit_service"]["grpc_service"]["envoy_grpc"]["cluster_name"]
                .as<std::string>(),
            "baton_rls");
  absl::StatusOr<RlsConfig> rules = RlsConfig::Load(kDir + "ratelimit-config.yaml");
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_TRUE(rules->HasDomain(config["domain"].as<std::string>()));
  const RlsLimit* login = rules->Find("edge", {{"path", "/login"}});
  ASSERT_NE(login, nullptr);
  EXPECT_EQ(login->requests_per_unit, 5u);
}

}  // namespace
}  // namespace baton::rls

// Copyright 2026 The Baton Authors.
//
// deploy/: there is no Kubernetes and no compose engine here, so the
// manifests are checked the way a reviewer would, against the code they
// configure: every file parses; every file a kustomization names exists;
// every BATON_* variable given to a batond container is a flag batond knows,
// with a value its flag parser takes (batond's own ParseFlags, in this
// process); Services, the PodDisruptionBudget and the StatefulSet select the
// pods they mean; the ports agree; and in the cluster variants each node
// advertises the DNS name the others reach it at, with unique node ids and an
// etcd that exists. deploy/test.sh runs the image itself.

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "server/batond/flags.h"
#include "yaml-cpp/yaml.h"
#include "gtest/gtest.h"

extern char **environ;

namespace baton::deploy {
namespace {

namespace fs = std::filesystem;

const fs::path kDeploy = fs::path(BATON_SOURCE_DIR) / "deploy";

using Env = std::map<std::string, std::string>;

std::vector<YAML::Node> Documents(const fs::path &file) {
  std::vector<YAML::Node> docs;
  for (const YAML::Node &doc : YAML::LoadAllFromFile(file.string())) {
    if (doc.IsMap())
      docs.push_back(doc);
  }
  return docs;
}

std::vector<fs::path> YamlFiles(const fs::path &dir) {
  std::vector<fs::path> files;
  for (const auto &entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The variables of a Kubernetes container's env list, with fieldRef
// metadata.name as `pod` and $(VAR) references expanded as the kubelet does.
Env ContainerEnv(const YAML::Node &container, const std::string &pod) {
  Env env;
  for (const YAML::Node &var : container["env"]) {
    const std::string name = var["name"].as<std::string>();
    if (var["valueFrom"]) {
      if (var["valueFrom"]["fieldRef"]["fieldPath"].as<std::string>("") ==
          "metadata.name") {
        env[name] = pod;
      }
      continue;
    }
    std::string value = var["value"].as<std::string>("");
    for (const auto &[earlier, earlier_value] : env) {
      value = absl::StrReplaceAll(
          value, {{absl::StrCat("$(", earlier, ")"), earlier_value}});
    }
    env[name] = value;
  }
  return env;
}

// What batond's flag parser says of `env` as its environment: "" when it
// takes every variable without a warning, else its errors and warnings.
std::string ParseAsBatond(const Env &env) {
  // The test's own environment must not leak in (CI may set BATON_*).
  std::vector<std::string> saved;
  for (char **entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    if (absl::StartsWith(*entry, "BATON_"))
      saved.emplace_back(*entry);
  }
  for (const std::string &pair : saved)
    unsetenv(pair.substr(0, pair.find('=')).c_str());
  for (const auto &[name, value] : env)
    setenv(name.c_str(), value.c_str(), 1);

  // The flags keep what this sets (no absl::FlagSaver: it logs every
  // restore); each call sets its own and only the parse is judged.
  std::string said;
  {
    char *out_buffer = nullptr;
    std::size_t out_size = 0;
    std::FILE *out = open_memstream(&out_buffer, &out_size);
    char arg0[] = "batond";
    char *argv[] = {arg0, nullptr};
    std::vector<std::string> warnings;
    const int code = batond::ParseFlags(1, argv, out, out, &warnings);
    std::fclose(out);
    said = std::string(out_buffer, out_size);
    std::free(out_buffer);
    if (code != -1)
      said += absl::StrCat(" (ParseFlags returned ", code, ")");
    if (!warnings.empty())
      said += absl::StrJoin(warnings, "; ");
  }

  for (const auto &[name, value] : env)
    unsetenv(name.c_str());
  for (const std::string &pair : saved) {
    const std::size_t equals = pair.find('=');
    setenv(pair.substr(0, equals).c_str(), pair.substr(equals + 1).c_str(), 1);
  }
  return said;
}

int PortOf(const std::string &host_port) {
  int port = 0;
  const std::size_t colon = host_port.rfind(':');
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(host_port.substr(colon + 1), &port)) {
    return -1;
  }
  return port;
}

std::string HostOf(const std::string &host_port) {
  return host_port.substr(0, host_port.rfind(':'));
}

bool Selects(const YAML::Node &selector, const YAML::Node &labels) {
  if (!selector.IsMap() || selector.size() == 0)
    return false;
  for (const auto &pair : selector) {
    const std::string key = pair.first.as<std::string>();
    if (!labels[key] ||
        labels[key].as<std::string>() != pair.second.as<std::string>()) {
      return false;
    }
  }
  return true;
}

// The documents of a kustomization's resources, by kind.
std::multimap<std::string, YAML::Node> Resources(const fs::path &dir) {
  std::multimap<std::string, YAML::Node> by_kind;
  for (const YAML::Node &resource :
       YAML::LoadFile((dir / "kustomization.yaml").string())["resources"]) {
    const fs::path file = dir / resource.as<std::string>();
    if (!fs::is_regular_file(file))
      continue; // a directory: checked elsewhere
    for (const YAML::Node &doc : Documents(file))
      by_kind.emplace(doc["kind"].as<std::string>(), doc);
  }
  return by_kind;
}

const YAML::Node *Named(const std::multimap<std::string, YAML::Node> &resources,
                        const std::string &kind, const std::string &name) {
  auto [begin, end] = resources.equal_range(kind);
  for (auto it = begin; it != end; ++it) {
    if (it->second["metadata"]["name"].as<std::string>() == name)
      return &it->second;
  }
  return nullptr;
}

YAML::Node BatondContainer(const YAML::Node &workload) {
  for (const YAML::Node &container :
       workload["spec"]["template"]["spec"]["containers"]) {
    if (container["name"].as<std::string>() == "batond")
      return container;
  }
  return YAML::Node();
}

int ContainerPort(const YAML::Node &container, const std::string &name) {
  for (const YAML::Node &port : container["ports"]) {
    if (port["name"].as<std::string>("") == name)
      return port["containerPort"].as<int>();
  }
  return -1;
}

TEST(DeployManifestsTest, EveryFileParsesAndEveryKustomizationPathExists) {
  int kustomizations = 0;
  for (const fs::path &file : YamlFiles(kDeploy)) {
    SCOPED_TRACE(file.string());
    std::vector<YAML::Node> docs;
    ASSERT_NO_THROW(docs = Documents(file));
    EXPECT_FALSE(docs.empty());
    if (file.filename() != "kustomization.yaml")
      continue;
    ++kustomizations;
    const YAML::Node kustomization = docs.front();
    for (const char *field : {"resources", "components"}) {
      for (const YAML::Node &path : kustomization[field]) {
        EXPECT_TRUE(fs::exists(file.parent_path() / path.as<std::string>()))
            << field << ": " << path.as<std::string>();
      }
    }
    for (const YAML::Node &patch : kustomization["patches"]) {
      if (patch["path"]) {
        EXPECT_TRUE(
            fs::exists(file.parent_path() / patch["path"].as<std::string>()))
            << "patches: " << patch["path"].as<std::string>();
      }
    }
  }
  EXPECT_GE(kustomizations, 5); // base, cluster, three components
}

// The flag parser is the one the image's batond runs: a variable that names
// no flag (a typo, a removed flag) or a value it refuses fails here.
TEST(DeployManifestsTest, EveryBatondVariableIsAFlagWithAValueBatondTakes) {
  // The test must be able to fail: a misspelt variable is reported.
  EXPECT_NE(ParseAsBatond({{"BATON_SHARD", "2"}}), "");
  EXPECT_NE(ParseAsBatond({{"BATON_GRACE", "ten seconds"}}), "");
  EXPECT_EQ(ParseAsBatond({{"BATON_GRACE", "10s"}}), "");

  int containers = 0;
  for (const fs::path &file : YamlFiles(kDeploy / "k8s")) {
    for (const YAML::Node &doc : Documents(file)) {
      if (!doc["spec"] || !doc["spec"]["template"])
        continue;
      const YAML::Node batond = BatondContainer(doc);
      if (!batond)
        continue;
      ++containers;
      SCOPED_TRACE(file.string());
      EXPECT_EQ(ParseAsBatond(ContainerEnv(batond, "baton-0")), "");
    }
  }
  for (const char *compose : {"compose.yaml", "compose.cluster.yaml"}) {
    const YAML::Node services =
        YAML::LoadFile((kDeploy / compose).string())["services"];
    for (const auto &service : services) {
      const std::string name = service.first.as<std::string>();
      if (!absl::StartsWith(name, "batond"))
        continue;
      ++containers;
      SCOPED_TRACE(absl::StrCat(compose, ": ", name));
      Env env;
      for (const auto &var : service.second["environment"]) {
        env[var.first.as<std::string>()] = var.second.as<std::string>();
      }
      EXPECT_EQ(ParseAsBatond(env), "");
    }
  }
  // deployment.yaml, three component patches, the cluster's StatefulSet;
  // compose's batond and the three cluster nodes.
  EXPECT_GE(containers, 9);
}

TEST(DeployManifestsTest, TheSingleNodeServiceAndBudgetSelectBatondOnItsPorts) {
  const auto resources = Resources(kDeploy / "k8s");
  const YAML::Node *deployment = Named(resources, "Deployment", "baton");
  ASSERT_NE(deployment, nullptr);
  const YAML::Node pod_labels =
      (*deployment)["spec"]["template"]["metadata"]["labels"];
  EXPECT_TRUE(
      Selects((*deployment)["spec"]["selector"]["matchLabels"], pod_labels));
  const YAML::Node batond = BatondContainer(*deployment);
  const Env env = ContainerEnv(batond, "baton-0");
  EXPECT_EQ(ContainerPort(batond, "grpc"), PortOf(env.at("BATON_LISTEN")));
  EXPECT_EQ(ContainerPort(batond, "metrics"),
            PortOf(env.at("BATON_METRICS_LISTEN")));
  const YAML::Node annotations =
      (*deployment)["spec"]["template"]["metadata"]["annotations"];
  EXPECT_EQ(annotations["prometheus.io/scrape"].as<std::string>(), "true");
  EXPECT_EQ(annotations["prometheus.io/port"].as<std::string>(),
            std::to_string(ContainerPort(batond, "metrics")));
  EXPECT_EQ(batond["readinessProbe"]["grpc"]["port"].as<int>(),
            ContainerPort(batond, "grpc"));

  const YAML::Node *service = Named(resources, "Service", "baton");
  ASSERT_NE(service, nullptr);
  EXPECT_TRUE(Selects((*service)["spec"]["selector"], pod_labels));
  const YAML::Node *budget = Named(resources, "PodDisruptionBudget", "baton");
  ASSERT_NE(budget, nullptr);
  EXPECT_TRUE(
      Selects((*budget)["spec"]["selector"]["matchLabels"], pod_labels));
}

// The cluster: each pod advertises <pod>.<headless service>:<its gRPC port>,
// which resolves only through a headless Service of the StatefulSet's
// serviceName that selects it; --cluster_etcd names a Service of the
// kustomization that selects the etcd pod, on etcd's client port; the
// budget leaves a majority of nodes and allows one away.
TEST(DeployManifestsTest,
     TheClusterStatefulSetAdvertisesNamesItsServicesResolve) {
  const auto resources = Resources(kDeploy / "k8s" / "cluster");
  const YAML::Node *nodes = Named(resources, "StatefulSet", "baton");
  ASSERT_NE(nodes, nullptr);
  const YAML::Node pod_labels =
      (*nodes)["spec"]["template"]["metadata"]["labels"];
  EXPECT_TRUE(Selects((*nodes)["spec"]["selector"]["matchLabels"], pod_labels));
  const int replicas = (*nodes)["spec"]["replicas"].as<int>();
  EXPECT_GE(replicas, 3);

  const YAML::Node batond = BatondContainer(*nodes);
  const Env env = ContainerEnv(batond, "baton-1");
  const int grpc_port = ContainerPort(batond, "grpc");
  EXPECT_EQ(PortOf(env.at("BATON_LISTEN")), grpc_port);
  EXPECT_EQ(env.at("BATON_CLUSTER_NODE_ID"),
            "baton-1"); // node id = pod name: unique

  const std::string headless =
      (*nodes)["spec"]["serviceName"].as<std::string>();
  const YAML::Node *service = Named(resources, "Service", headless);
  ASSERT_NE(service, nullptr) << headless;
  EXPECT_EQ((*service)["spec"]["clusterIP"].as<std::string>(""), "None");
  EXPECT_TRUE((*service)["spec"]["publishNotReadyAddresses"].as<bool>(false))
      << "nodes must resolve each other before they are ready";
  EXPECT_TRUE(Selects((*service)["spec"]["selector"], pod_labels));
  EXPECT_EQ(env.at("BATON_CLUSTER_ADVERTISE"),
            absl::StrCat("baton-1.", headless, ":", grpc_port));

  for (const std::string &etcd : std::vector<std::string>(
           absl::StrSplit(env.at("BATON_CLUSTER_ETCD"), ','))) {
    const YAML::Node *etcd_service = Named(resources, "Service", HostOf(etcd));
    ASSERT_NE(etcd_service, nullptr) << etcd;
    bool port_found = false;
    for (const YAML::Node &port : (*etcd_service)["spec"]["ports"]) {
      port_found |= port["port"].as<int>() == PortOf(etcd);
    }
    EXPECT_TRUE(port_found) << etcd;
    const YAML::Node *etcd_pods = Named(resources, "StatefulSet", HostOf(etcd));
    ASSERT_NE(etcd_pods, nullptr);
    EXPECT_TRUE(
        Selects((*etcd_service)["spec"]["selector"],
                (*etcd_pods)["spec"]["template"]["metadata"]["labels"]));
    EXPECT_FALSE(Selects((*etcd_service)["spec"]["selector"], pod_labels));
  }

  const YAML::Node *budget = Named(resources, "PodDisruptionBudget", "baton");
  ASSERT_NE(budget, nullptr);
  EXPECT_TRUE(
      Selects((*budget)["spec"]["selector"]["matchLabels"], pod_labels));
  const int min_available = (*budget)["spec"]["minAvailable"].as<int>();
  EXPECT_GT(min_available, replicas / 2);
  EXPECT_LT(min_available, replicas);
}

TEST(DeployManifestsTest, TheComposeClusterNodesAdvertiseTheirServiceNames) {
  const YAML::Node services =
      YAML::LoadFile((kDeploy / "compose.cluster.yaml").string())["services"];
  std::set<std::string> node_ids;
  int nodes = 0;
  for (const auto &service : services) {
    const std::string name = service.first.as<std::string>();
    const YAML::Node env = service.second["environment"];
    if (!env || !env["BATON_CLUSTER_ETCD"])
      continue;
    ++nodes;
    SCOPED_TRACE(name);
    const std::string listen =
        env["BATON_LISTEN"].as<std::string>("0.0.0.0:7070"); // the image's
    EXPECT_EQ(env["BATON_CLUSTER_ADVERTISE"].as<std::string>(),
              absl::StrCat(name, ":", PortOf(listen)));
    EXPECT_TRUE(
        node_ids.insert(env["BATON_CLUSTER_NODE_ID"].as<std::string>()).second)
        << "node id used twice";
    for (const std::string &etcd : std::vector<std::string>(absl::StrSplit(
             env["BATON_CLUSTER_ETCD"].as<std::string>(), ','))) {
      EXPECT_TRUE(services[HostOf(etcd)].IsMap())
          << "no service " << HostOf(etcd);
    }
  }
  EXPECT_EQ(nodes, 3);
}

} // namespace
} // namespace baton::deploy

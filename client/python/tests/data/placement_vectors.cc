// Prints placement vectors from the server's own Placement code, for
// tests/test_routing.py to check the Python port (baton/_placement.py)
// against. Generated once; regenerate after a change to placement.cc:
//
//   g++ -std=c++20 -O1 -I. client/python/tests/data/placement_vectors.cc \
//       server/cluster/placement.cc -o /tmp/placement_vectors &&
//   /tmp/placement_vectors > client/python/tests/data/placement_vectors.txt
//
// (from the repository's root). Lines, tab-separated, names as hex bytes:
//   score <node_id hex> <key hex> <score>
//   key <name hex> <placement key hex>
//   owner <node ids, comma-separated hex> <name hex> <owner's node id hex>

#include <cstdio>
#include <string>
#include <vector>

#include "server/cluster/placement.h"

namespace {

std::string Hex(const std::string& s) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out = s.empty() ? "-" : "";
  for (unsigned char c : s) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

}  // namespace

int main() {
  using baton::cluster::OwnerIndex;
  using baton::cluster::PlacementKey;
  using baton::cluster::RendezvousScore;
  std::vector<std::string> names = {"",        "a",          "b",           "jobs/nightly",
                                    "envoy",   "envoy/",     "envoy/dom",   "envoy/dom/",
                                    "envoy/dom/a/b", "envoy/other/k", "envoyx/dom/a",
                                    "x/\xc3\xa9t\xc3\xa9", std::string("nul\0byte", 8),
                                    "\xff\xfe"};
  for (int i = 0; i < 300; ++i) names.push_back("name/" + std::to_string(i));
  for (int i = 0; i < 40; ++i) names.push_back("envoy/d" + std::to_string(i % 7) + "/k" + std::to_string(i));
  const std::vector<std::vector<std::string>> sets = {
      {"n1"},
      {"a", "b", "c"},
      {"a", "b", "c", "d"},
      {"n1", "n2", "n3"},
      {"node-a", "node-b", "node-c", "node-d", "node-e"},
      {"baton-0", "baton-1", "baton-2"},
      {"", "x"},
  };
  for (const auto& ids : sets) {
    for (const std::string& id : ids) {
      for (std::size_t i = 0; i < names.size(); i += 7) {
        std::printf("score\t%s\t%s\t%llu\n", Hex(id).c_str(), Hex(names[i]).c_str(),
                    static_cast<unsigned long long>(RendezvousScore(id, names[i])));
      }
    }
  }
  for (const std::string& name : names) {
    std::printf("key\t%s\t%s\n", Hex(name).c_str(), Hex(std::string(PlacementKey(name))).c_str());
  }
  for (const auto& ids : sets) {
    std::string joined;
    for (const std::string& id : ids) joined += (joined.empty() ? "" : ",") + Hex(id);
    for (const std::string& name : names) {
      std::printf("owner\t%s\t%s\t%s\n", joined.c_str(), Hex(name).c_str(),
                  Hex(ids[*OwnerIndex(ids, name)]).c_str());
    }
  }
  return 0;
}

// Copyright 2026 The Baton Authors.
//
// Placement: which node of a cluster owns a name. Rendezvous (highest
// random weight) hashing over the members' node ids: each member scores
// the name, the highest score owns it. A member that joins takes only the
// names it now scores highest on, and one that leaves gives up only its
// own: the other members' names do not move.
//
// The score is FNV-1a 64 of `node_id`, a zero byte and the placement key,
// finished with splitmix64's mixer; every client that routes (the C++
// client's client/src/routing.h, the Python client) computes the same
// function, and tests/server/cluster/placement_test.cc pins its values.
//
// The placement key of a name is the name itself, except under "envoy/",
// where it is "envoy/<domain>/" (Node::ShardKeyOf): an Envoy rate-limit
// domain lives on one node, as it lives on one shard.
//
// Example:
//   std::vector<std::string> ids = {"a", "b", "c"};
//   std::optional<std::size_t> owner = OwnerIndex(ids, "jobs/nightly");
//
// Threading: pure functions, any thread.

#ifndef BATON_SERVER_CLUSTER_PLACEMENT_H_
#define BATON_SERVER_CLUSTER_PLACEMENT_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace baton::cluster {

// RendezvousScore() is `node_id`'s score for `key`.
std::uint64_t RendezvousScore(std::string_view node_id, std::string_view key);

// PlacementKey() is the part of `name` that places it (see above).
std::string_view PlacementKey(std::string_view name);

// OwnerIndex() is the index in `node_ids` of the owner of `name`: the
// highest score, ties to the smaller id. nullopt when `node_ids` is empty.
std::optional<std::size_t> OwnerIndex(std::span<const std::string> node_ids,
                                      std::string_view name);

}  // namespace baton::cluster

#endif  // BATON_SERVER_CLUSTER_PLACEMENT_H_

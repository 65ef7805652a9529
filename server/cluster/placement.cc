// Copyright 2026 The Baton Authors.

#include "server/cluster/placement.h"

namespace baton::cluster {
namespace {

constexpr std::uint64_t kFnvOffset = 14695981039346656037ull;
constexpr std::uint64_t kFnvPrime = 1099511628211ull;

std::uint64_t Fnv1a(std::uint64_t hash, std::string_view bytes) {
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= kFnvPrime;
  }
  return hash;
}

std::uint64_t Mix(std::uint64_t x) {  // splitmix64's finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

}  // namespace

std::uint64_t RendezvousScore(std::string_view node_id, std::string_view key) {
  std::uint64_t hash = Fnv1a(kFnvOffset, node_id);
  hash = Fnv1a(hash, std::string_view("\0", 1));
  hash = Fnv1a(hash, key);
  return Mix(hash);
}

std::string_view PlacementKey(std::string_view name) {
  constexpr std::string_view kEnvoyPrefix = "envoy/";
  if (name.substr(0, kEnvoyPrefix.size()) != kEnvoyPrefix) return name;
  const std::size_t slash = name.find('/', kEnvoyPrefix.size());
  if (slash == std::string_view::npos) return name;
  return name.substr(0, slash + 1);
}

std::optional<std::size_t> OwnerIndex(std::span<const std::string> node_ids,
                                      std::string_view name) {
  const std::string_view key = PlacementKey(name);
  std::optional<std::size_t> best;
  std::uint64_t best_score = 0;
  for (std::size_t i = 0; i < node_ids.size(); ++i) {
    const std::uint64_t score = RendezvousScore(node_ids[i], key);
    if (!best || score > best_score ||
        (score == best_score && node_ids[i] < node_ids[*best])) {
      best = i;
      best_score = score;
    }
  }
  return best;
}

}  // namespace baton::cluster

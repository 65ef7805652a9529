// Copyright 2026 The Baton Authors.
//
// PeerChannels is how one node of a cluster calls another: one gRPC channel
// per peer address, made on first use with the credentials the node was
// given, and kept (gRPC reconnects a channel on its own). Forwarded Admin
// calls, List across the nodes and Envoy's ShouldRateLimit forwarded to a
// domain's owner all go through it.
//
// A forwarded call carries ForwardedBy (this node's id): the node that
// receives it answers it itself, whatever it thinks of the owner, so a call
// is forwarded at most once. PrepareForwarded() also carries the caller's
// `authorization` and client name, so that the owner checks the caller, not
// the forwarding node.
//
// Threading: thread-safe.

#ifndef BATON_SERVER_CLUSTER_PEER_CHANNELS_H_
#define BATON_SERVER_CLUSTER_PEER_CHANNELS_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"

namespace baton::cluster {

// The metadata key of a call one node forwarded to another; its value is the
// forwarding node's id.
inline constexpr char kForwardedByKey[] = "baton-forwarded-by";

// The longest a forwarded call may run, whatever the caller's deadline.
inline constexpr std::chrono::seconds kMaxForwardedDeadline{60};

class PeerChannels {
 public:
  // `credentials`: how this node reaches its peers (plaintext when null).
  explicit PeerChannels(std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr);

  PeerChannels(const PeerChannels&) = delete;
  PeerChannels& operator=(const PeerChannels&) = delete;

  // ChannelTo() is the channel to the peer at `address` (HOST:PORT, as its
  // member key advertises it).
  std::shared_ptr<grpc::Channel> ChannelTo(const std::string& address);

  // IsForwarded() tells whether `server` is a call another node forwarded.
  static bool IsForwarded(const grpc::ServerContextBase& server);

  // PrepareForwarded() readies `client` to forward the call of `server`:
  // its deadline (capped at kMaxForwardedDeadline), ForwardedBy
  // (`node_id`), and the caller's `authorization` and client name.
  static void PrepareForwarded(const grpc::ServerContextBase& server, std::string_view node_id,
                               grpc::ClientContext* client);

 private:
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  absl::Mutex mutex_;
  absl::flat_hash_map<std::string, std::shared_ptr<grpc::Channel>> channels_
      ABSL_GUARDED_BY(mutex_);
};

}  // namespace baton::cluster

#endif  // BATON_SERVER_CLUSTER_PEER_CHANNELS_H_

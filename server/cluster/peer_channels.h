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
// the forwarding node; and, for a caller known by its mTLS certificate
// rather than a token, that certificate's names
// (auth::kForwardedSubjectsKey), which the owner believes only from a node
// listed in its --auth_file's cluster_peers (server/auth/access.h).
//
// With TLS on (--tls_cert_file), the channels speak TLS: credentials from
// auth::ClientChannelCredentials() (server/auth/tls.h), and, when
// --cluster_tls_server_name is set, that name checked in every peer's
// certificate instead of the host of its address.
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
  // `server_name`: the name a peer's certificate must hold; empty: the host
  // of the peer's address.
  explicit PeerChannels(std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr,
                        std::string server_name = "");

  PeerChannels(const PeerChannels&) = delete;
  PeerChannels& operator=(const PeerChannels&) = delete;

  // ChannelTo() is the channel to the peer at `address` (HOST:PORT, as its
  // member key advertises it).
  std::shared_ptr<grpc::Channel> ChannelTo(const std::string& address);

  // IsForwarded() tells whether `server` is a call another node forwarded.
  static bool IsForwarded(const grpc::ServerContextBase& server);

  // PrepareForwarded() readies `client` to forward the call of `server`:
  // its deadline (capped at kMaxForwardedDeadline), ForwardedBy
  // (`node_id`), the caller's `authorization` and client name (its user
  // agent when it sent none), and, without `authorization`, its client
  // certificate's names.
  static void PrepareForwarded(const grpc::ServerContextBase& server, std::string_view node_id,
                               grpc::ClientContext* client);

 private:
  const std::shared_ptr<grpc::ChannelCredentials> credentials_;
  const std::string server_name_;
  absl::Mutex mutex_;
  absl::flat_hash_map<std::string, std::shared_ptr<grpc::Channel>> channels_
      ABSL_GUARDED_BY(mutex_);
};

}  // namespace baton::cluster

#endif  // BATON_SERVER_CLUSTER_PEER_CHANNELS_H_

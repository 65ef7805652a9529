// Copyright 2026 The Baton Authors.

#include "server/cluster/peer_channels.h"

#include <algorithm>
#include <string>
#include <utility>

namespace baton::cluster {

PeerChannels::PeerChannels(std::shared_ptr<grpc::ChannelCredentials> credentials)
    : credentials_(credentials != nullptr ? std::move(credentials)
                                          : grpc::InsecureChannelCredentials()) {}

std::shared_ptr<grpc::Channel> PeerChannels::ChannelTo(const std::string& address) {
  absl::MutexLock lock(&mutex_);
  std::shared_ptr<grpc::Channel>& channel = channels_[address];
  if (channel == nullptr) channel = grpc::CreateChannel(address, credentials_);
  return channel;
}

bool PeerChannels::IsForwarded(const grpc::ServerContextBase& server) {
  const auto& metadata = server.client_metadata();
  return metadata.find(kForwardedByKey) != metadata.end();
}

void PeerChannels::PrepareForwarded(const grpc::ServerContextBase& server,
                                    std::string_view node_id, grpc::ClientContext* client) {
  const auto cap = std::chrono::system_clock::now() + kMaxForwardedDeadline;
  client->set_deadline(std::min(server.deadline(), cap));
  client->AddMetadata(kForwardedByKey, std::string(node_id));
  const auto& metadata = server.client_metadata();
  for (const char* key : {"authorization", "baton-client-name"}) {
    if (auto it = metadata.find(key); it != metadata.end()) {
      client->AddMetadata(key, std::string(it->second.data(), it->second.size()));
    }
  }
}

}  // namespace baton::cluster

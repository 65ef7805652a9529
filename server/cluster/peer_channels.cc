// Copyright 2026 The Baton Authors.

#include "server/cluster/peer_channels.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "server/auth/grpc_credentials.h"

namespace baton::cluster {

PeerChannels::PeerChannels(std::shared_ptr<grpc::ChannelCredentials> credentials,
                           std::string server_name)
    : credentials_(credentials != nullptr ? std::move(credentials)
                                          : grpc::InsecureChannelCredentials()),
      server_name_(std::move(server_name)) {}

std::shared_ptr<grpc::Channel> PeerChannels::ChannelTo(const std::string& address) {
  absl::MutexLock lock(&mutex_);
  std::shared_ptr<grpc::Channel>& channel = channels_[address];
  if (channel == nullptr) {
    grpc::ChannelArguments args;
    if (!server_name_.empty()) args.SetSslTargetNameOverride(server_name_);
    channel = grpc::CreateCustomChannel(address, credentials_, args);
  }
  return channel;
}

bool PeerChannels::IsForwarded(const grpc::ServerContextBase& server) {
  const auto& metadata = server.client_metadata();
  return metadata.find(kForwardedByKey) != metadata.end();
}

void PeerChannels::PrepareForwarded(const grpc::ServerContextBase& server, std::string_view node_id,
                                    grpc::ClientContext* client) {
  const auto cap = std::chrono::system_clock::now() + kMaxForwardedDeadline;
  client->set_deadline(std::min(server.deadline(), cap));
  client->AddMetadata(kForwardedByKey, std::string(node_id));
  const auto& metadata = server.client_metadata();
  for (const char* key : {"authorization", "baton-client-name"}) {
    if (auto it = metadata.find(key); it != metadata.end()) {
      client->AddMetadata(key, std::string(it->second.data(), it->second.size()));
    }
  }
  // The owner's audit line names the caller by its user agent when it sent
  // no client name; the forwarded call's own would be this node's.
  if (metadata.find("baton-client-name") == metadata.end()) {
    if (auto it = metadata.find("user-agent"); it != metadata.end()) {
      client->AddMetadata("baton-client-name", std::string(it->second.data(), it->second.size()));
    }
  }
  // A token names the caller on the owner as it does here; without one, the
  // names of its certificate do (the owner sees this node's certificate).
  // Always sent without a token, empty when the caller has no certificate:
  // the owner must never take the call for this node's own.
  if (metadata.find("authorization") == metadata.end()) {
    std::vector<std::string> names = auth::CertificateNamesOf(server);
    if (names.empty()) names.emplace_back();
    for (std::string& name : names) {
      client->AddMetadata(auth::kForwardedSubjectsKey, std::move(name));
    }
  }
}

}  // namespace baton::cluster

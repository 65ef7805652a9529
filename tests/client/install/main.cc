// Copyright 2026 The Baton Authors.
//
// A program outside Baton's tree, built against the installed package
// (find_package(Baton), or pkg-config baton). Given a batond address, it
// asks batond's health service through the installed grpc.health.v1 stub
// (installed under include/baton/third_party/, included as gRPC spells it),
// then takes a lock and prints its fence. Without one it connects to a port
// nothing listens on and expects UNAVAILABLE.

#include <chrono>
#include <cstdio>
#include <memory>

#include "baton/client.h"
#include "baton/task.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

baton::Task<absl::Status> TakeLock(baton::Client& client) {
  baton::PriorityLock lock(&client, "consumer/lock");
  absl::StatusOr<baton::Hold> hold = co_await lock.Acquire();
  if (!hold.ok()) co_return hold.status();
  std::printf("fence %llu\n", static_cast<unsigned long long>(hold->fence()));
  absl::StatusOr<baton::Done> released = co_await hold->Release();
  co_return released.status();
}

// True if batond at `address` answers SERVING.
bool Serving(const char* address) {
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::health::v1::HealthCheckRequest request;  // "": the server as a whole
  grpc::health::v1::HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) std::fprintf(stderr, "health: %s\n", status.error_message().c_str());
  return status.ok() && response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
}

int main(int argc, char** argv) {
  baton::ClientOptions options;
  options.address = argc > 1 ? argv[1] : "127.0.0.1:1";
  options.client_name = "consumer";
  options.connect_timeout = absl::Seconds(argc > 1 ? 10 : 1);
  if (argc > 1 && !Serving(argv[1])) return 1;
  absl::StatusOr<std::unique_ptr<baton::Client>> client = baton::Client::Connect(options);
  if (argc == 1) {
    if (client.ok() || client.status().code() != absl::StatusCode::kUnavailable) return 1;
    std::printf("unreachable, as expected\n");
    return 0;
  }
  if (!client.ok()) {
    std::fprintf(stderr, "%s\n", client.status().ToString().c_str());
    return 1;
  }
  const absl::Status status = baton::SyncWait(TakeLock(**client));
  if (!status.ok()) std::fprintf(stderr, "%s\n", status.ToString().c_str());
  return status.ok() ? 0 : 1;
}

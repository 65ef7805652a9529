// Copyright 2026 The Baton Authors.
//
// A program outside Baton's tree, built against the installed package
// (find_package(Baton), or pkg-config baton). Given a batond address, it
// takes a lock and prints its fence; without one it connects to a port
// nothing listens on and expects UNAVAILABLE.

#include <cstdio>

#include "baton/client.h"
#include "baton/task.h"

baton::Task<absl::Status> TakeLock(baton::Client& client) {
  baton::PriorityLock lock(&client, "consumer/lock");
  absl::StatusOr<baton::Hold> hold = co_await lock.Acquire();
  if (!hold.ok()) co_return hold.status();
  std::printf("fence %llu\n", static_cast<unsigned long long>(hold->fence()));
  absl::StatusOr<baton::Done> released = co_await hold->Release();
  co_return released.status();
}

int main(int argc, char** argv) {
  baton::ClientOptions options;
  options.address = argc > 1 ? argv[1] : "127.0.0.1:1";
  options.client_name = "consumer";
  options.connect_timeout = absl::Seconds(argc > 1 ? 10 : 1);
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

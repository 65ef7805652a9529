// hello_lock: connect, take a lock with co_await, print its fence, release.
// The smallest Baton program (the one in the README).
//
//   hello_lock [host:port]      (else $BATON_ADDR, else 127.0.0.1:7070)

#include <cstdio>
#include <cstdlib>
#include <string>

#include "baton/client.h"
#include "baton/task.h"

// Fail() reports what failed and why; main() returns its 1.
int Fail(const std::string& what, const absl::Status& why = absl::OkStatus()) {
  if (why.ok()) {
    std::fprintf(stderr, "%s\n", what.c_str());
  } else {
    std::fprintf(stderr, "%s: %s\n", what.c_str(), why.ToString().c_str());
  }
  return 1;
}

baton::Task<absl::Status> Run(baton::Client& client) {
  baton::PriorityLock lock(&client, "jobs/nightly");
  absl::StatusOr<baton::Hold> hold = co_await lock.Acquire();
  if (!hold.ok()) co_return hold.status();
  std::printf("holding %s with fence %llu\n", hold->name().c_str(),
              static_cast<unsigned long long>(hold->fence()));
  absl::StatusOr<baton::Done> released = co_await hold->Release();
  co_return released.status();
}

int main(int argc, char** argv) {
  const char* env = std::getenv("BATON_ADDR");
  std::string address = argc > 1 ? argv[1] : env != nullptr ? env : "127.0.0.1:7070";
  auto client = baton::Client::Connect({.address = address});
  if (!client.ok()) return Fail("connect", client.status());
  absl::Status status = baton::SyncWait(Run(**client));
  if (!status.ok()) return Fail("failed", status);
  std::printf("released\n");
  return 0;
}

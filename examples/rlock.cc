// rlock: a config reloader holds "config/reload" and calls helpers that take
// it again: with the same owner that is a re-entry, granted at once with the
// same fence, and the lock is free only after the last release. A second
// owner of the same process (the sidecar thread) is kept out until then.
// Owners are (session, owner key): two threads of one client that must
// exclude each other need two keys (WithOwner).
//
//   rlock [host:port]      (else $BATON_ADDR, else 127.0.0.1:7070)

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "baton/client.h"

// Fail() reports what failed and why; main() returns its 1.
int Fail(const std::string& what, const absl::Status& why = absl::OkStatus()) {
  if (why.ok()) {
    std::fprintf(stderr, "%s\n", what.c_str());
  } else {
    std::fprintf(stderr, "%s: %s\n", what.c_str(), why.ToString().c_str());
  }
  return 1;
}

// A helper that takes the lock itself, so it is safe to call on its own too.
absl::Status ApplySection(baton::RLock lock, const std::string& section) {
  absl::StatusOr<baton::Hold> hold = lock.Acquire().Wait();  // re-entry: at once
  if (!hold.ok()) return hold.status();
  std::printf("  reloader: applying [%s] (re-entered, fence %llu)\n", section.c_str(),
              static_cast<unsigned long long>(hold->fence()));
  return hold->Release().Wait().status();
}

int main(int argc, char** argv) {
  const char* env = std::getenv("BATON_ADDR");
  std::string address = argc > 1 ? argv[1] : env != nullptr ? env : "127.0.0.1:7070";
  auto client = baton::Client::Connect({.address = address, .client_name = "rlock"});
  if (!client.ok()) return Fail("connect", client.status());

  baton::RLock reloader = baton::RLock(client->get(), "config/reload").WithOwner("reloader");
  baton::RLock sidecar = baton::RLock(client->get(), "config/reload").WithOwner("sidecar");

  absl::StatusOr<baton::Hold> outer = reloader.Acquire().Wait();
  if (!outer.ok()) return Fail("acquire", outer.status());
  std::printf("reloader: took config/reload, fence %llu\n",
              static_cast<unsigned long long>(outer->fence()));
  for (const char* section : {"database", "cache"}) {
    if (absl::Status s = ApplySection(reloader, section); !s.ok()) return Fail("apply", s);
  }

  // The sidecar, another owner, tries once (timeout 0): refused while held.
  baton::CallOptions once;
  once.timeout = absl::ZeroDuration();
  absl::StatusOr<baton::Hold> refused = sidecar.Acquire(once).Wait();
  if (refused.ok()) return Fail("the sidecar got a held lock");
  absl::StatusOr<std::optional<std::string>> owner = sidecar.Owner().Wait();
  std::printf("sidecar: busy (%s), owner is %s\n",
              absl::StatusCodeToString(refused.status().code()).c_str(),
              owner.ok() && owner->has_value() ? (*owner)->c_str() : "?");

  // The sidecar waits; the reloader's last release hands it the lock.
  absl::StatusOr<baton::Hold> sidecar_hold;
  std::thread waiter([&sidecar, &sidecar_hold] {
    baton::CallOptions options;
    options.timeout = absl::Seconds(3);
    sidecar_hold = sidecar.Acquire(options).Wait();
  });
  std::printf("reloader: done, releasing\n");
  if (!outer->Release().Wait().ok()) return Fail("release failed");
  waiter.join();
  if (!sidecar_hold.ok()) return Fail("sidecar", sidecar_hold.status());
  std::printf("sidecar: took config/reload, fence %llu\n",
              static_cast<unsigned long long>(sidecar_hold->fence()));
  if (sidecar_hold->fence() <= outer->fence()) return Fail("fence did not grow");
  return sidecar_hold->Release().Wait().ok() ? 0 : 1;
}

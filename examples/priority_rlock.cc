// priority_rlock: the indexer holds "db/shard-7" and re-enters it from a
// nested call. Meanwhile, in another service, the backup (priority 5) and
// then the compactor (priority 0: lower runs first) queue for it. When the
// indexer's last release frees the shard, the compactor goes first although
// the backup queued first. Re-entry never queues, whatever its priority.
//
//   priority_rlock [host:port]      (else $BATON_ADDR, else 127.0.0.1:7070)

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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

// Waiting() is how many wait for the lock now (-1 if it cannot tell).
int Waiting(baton::PriorityRLock& lock) {
  absl::StatusOr<baton::InstanceState> state = lock.Read().Wait();
  return state.ok() ? static_cast<int>(state->waiters) : -1;
}

int main(int argc, char** argv) {
  const char* env = std::getenv("BATON_ADDR");
  std::string address = argc > 1 ? argv[1] : env != nullptr ? env : "127.0.0.1:7070";
  // The indexer's client acts for owner "indexer" by default (ClientOptions::owner_key).
  auto indexer_client = baton::Client::Connect({.address = address, .owner_key = "indexer"});
  auto maintenance = baton::Client::Connect({.address = address, .client_name = "maintenance"});
  if (!indexer_client.ok()) return Fail("connect", indexer_client.status());
  if (!maintenance.ok()) return Fail("connect", maintenance.status());

  baton::PriorityRLock indexer(indexer_client->get(), "db/shard-7");
  absl::StatusOr<baton::Hold> outer = indexer.Acquire().Wait();
  if (!outer.ok()) return Fail("acquire", outer.status());
  absl::StatusOr<baton::Hold> inner =
      indexer.Acquire(/*priority=*/100).Wait();  // re-entry: at once
  if (!inner.ok()) return Fail("re-enter", inner.status());
  std::printf("indexer: holds db/shard-7 twice (fence %llu)\n",
              static_cast<unsigned long long>(inner->fence()));

  // Two owners of the maintenance service queue: backup first, then compactor.
  baton::PriorityRLock shard(maintenance->get(), "db/shard-7");
  std::mutex mu;
  std::vector<std::string> order;
  std::vector<std::thread> waiters;
  for (const auto& waiter : {std::pair<std::string, int>{"backup", 5}, {"compactor", 0}}) {
    const std::string who = waiter.first;
    const int priority = waiter.second;
    waiters.emplace_back([mine = shard.WithOwner(who), who, priority, &mu, &order]() mutable {
      baton::CallOptions options;
      options.timeout = absl::Seconds(3);
      absl::StatusOr<baton::Hold> hold = mine.Acquire(priority, options).Wait();
      if (!hold.ok()) {
        Fail(who, hold.status());
        return;
      }
      std::printf("%s (priority %d): got db/shard-7, fence %llu\n", who.c_str(), priority,
                  static_cast<unsigned long long>(hold->fence()));
      std::lock_guard<std::mutex> lock(mu);
      order.push_back(who);  // ~Hold releases it
    });
    // For a predictable demo, let each one queue before the next comes.
    for (int i = 0; i < 500 && Waiting(shard) < static_cast<int>(waiters.size()); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  absl::StatusOr<std::optional<std::string>> owner = shard.Owner().Wait();
  std::printf("owner: %s, 2 waiting\n", owner.ok() && owner->has_value() ? (*owner)->c_str() : "?");
  if (!inner->Release().Wait().ok()) return Fail("release failed");
  absl::StatusOr<bool> still_owner = indexer.IsOwner().Wait();
  if (!still_owner.ok() || !*still_owner) return Fail("the first release freed it");
  std::printf("indexer: released once, still the owner\n");
  if (!outer->Release().Wait().ok()) return Fail("release failed");
  for (std::thread& t : waiters) t.join();
  if (order != std::vector<std::string>{"compactor", "backup"})
    return Fail("served in the wrong order");
  std::printf("order: compactor, then backup\n");
  return 0;
}

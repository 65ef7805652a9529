// priority_lock: the nightly report job must run on one replica at a time.
// Each replica takes "jobs/nightly-report" and tags every write with the
// lock's fencing token; the store remembers the highest fence it has seen
// and refuses older ones. So a replica that lost the lock (a long GC pause,
// a network cut: its lease ended and someone else took over) and writes late
// cannot overwrite the newer job's work. A replica also stops writing as soon
// as its hold is lost (Hold::OnLost / Hold::lost()).
//
//   priority_lock [host:port]      (else $BATON_ADDR, else 127.0.0.1:7070)

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
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

// The downstream store: refuses a write whose fence is older than one it saw.
class FencedStore {
 public:
  bool Write(std::uint64_t fence, const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    if (fence < highest_) {
      std::printf("  store: refused '%s' (fence %llu < %llu)\n", what.c_str(),
                  static_cast<unsigned long long>(fence),
                  static_cast<unsigned long long>(highest_));
      return false;
    }
    highest_ = fence;
    std::printf("  store: wrote '%s' (fence %llu)\n", what.c_str(),
                static_cast<unsigned long long>(fence));
    return true;
  }

 private:
  std::mutex mu_;
  std::uint64_t highest_ = 0;
};

// One replica's run of the job; returns the fence it ran under.
baton::Task<absl::StatusOr<std::uint64_t>> NightlyJob(baton::PriorityLock lock, FencedStore& store,
                                                      std::string replica) {
  absl::StatusOr<baton::Hold> hold = co_await lock.Acquire();
  if (!hold.ok()) co_return hold.status();
  const std::uint64_t fence = hold->fence();
  std::printf("%s: took %s, fence %llu\n", replica.c_str(), lock.name().c_str(),
              static_cast<unsigned long long>(fence));
  hold->OnLost([replica](const absl::Status& why) {
    std::printf("%s: lost the lock (%s): stopping\n", replica.c_str(), why.ToString().c_str());
  });
  for (int part = 1; part <= 2; ++part) {
    if (hold->lost()) co_return absl::AbortedError("lost the lock: the job stops");
    store.Write(fence, replica + " part " + std::to_string(part));
  }
  absl::StatusOr<baton::Done> released = co_await hold->Release();
  if (!released.ok()) co_return released.status();
  co_return fence;
}

int main(int argc, char** argv) {
  const char* env = std::getenv("BATON_ADDR");
  std::string address = argc > 1 ? argv[1] : env != nullptr ? env : "127.0.0.1:7070";
  auto a = baton::Client::Connect({.address = address, .client_name = "replica-a"});
  auto b = baton::Client::Connect({.address = address, .client_name = "replica-b"});
  if (!a.ok()) return Fail("connect", a.status());
  if (!b.ok()) return Fail("connect", b.status());

  FencedStore store;
  baton::PriorityLock lock_a(a->get(), "jobs/nightly-report");
  baton::PriorityLock lock_b(b->get(), "jobs/nightly-report");
  absl::StatusOr<std::uint64_t> fence_a = baton::SyncWait(NightlyJob(lock_a, store, "replica-a"));
  if (!fence_a.ok()) return Fail("replica-a", fence_a.status());
  absl::StatusOr<std::uint64_t> fence_b = baton::SyncWait(NightlyJob(lock_b, store, "replica-b"));
  if (!fence_b.ok()) return Fail("replica-b", fence_b.status());

  // Replica A wakes up from a long pause and writes with its old fence.
  std::printf("replica-a: (late) writing with its old fence %llu\n",
              static_cast<unsigned long long>(*fence_a));
  if (store.Write(*fence_a, "replica-a late write")) return Fail("a stale write was accepted");
  std::printf("the stale write was refused: fences work\n");
  return 0;
}

// keyed_condition: two workers of one service wait until job 42 is done; the
// producer, in another service, stores the job's result and notifies the
// "job-42" waiters. The condition has a lock of its own: the workers check
// the state and wait under it, and the producer changes the state under it,
// so a notify can never slip in between a check and a wait.
//
//   keyed_condition [host:port]      (else $BATON_ADDR, else 127.0.0.1:7070)

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
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

// The job's result, as the workers can read it (in real life, a database row).
std::atomic<bool> job42_done{false};

int main(int argc, char** argv) {
  const char* env = std::getenv("BATON_ADDR");
  std::string address = argc > 1 ? argv[1] : env != nullptr ? env : "127.0.0.1:7070";
  // Two clients, as two services would have.
  auto workers_client = baton::Client::Connect({.address = address, .client_name = "workers"});
  auto producer_client = baton::Client::Connect({.address = address, .client_name = "producer"});
  if (!workers_client.ok()) return Fail("connect", workers_client.status());
  if (!producer_client.ok()) return Fail("connect", producer_client.status());

  baton::KeyedCondition jobs(workers_client->get(), "jobs/done");
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int w = 1; w <= 2; ++w) {
    // Two threads of one client are two owners of the lock: one key each.
    baton::KeyedCondition mine = jobs.WithOwner("worker-" + std::to_string(w));
    workers.emplace_back([mine, w, &failures]() mutable {
      absl::StatusOr<baton::Hold> lock = mine.Acquire().Wait();
      if (!lock.ok()) {
        Fail("worker " + std::to_string(w), lock.status());
        ++failures;
        return;
      }
      std::printf("worker %d: waiting for job 42\n", w);
      baton::CallOptions options;
      options.timeout = absl::Seconds(3);  // per wait
      // WaitFor: check, then wait (releasing the lock) until notified, re-check.
      absl::Status done = mine.WaitFor(
          "job-42", [] { return job42_done.load(); }, options);
      if (!done.ok()) {
        Fail("worker " + std::to_string(w), done);
        ++failures;
        return;
      }
      std::printf("worker %d: job 42 is done, fetching its result (lock fence %llu)\n", w,
                  static_cast<unsigned long long>(lock->fence()));
      if (!lock->Release().Wait().ok()) ++failures;
    });
  }

  // The producer runs job 42 (200 ms), then publishes it under the lock.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  baton::KeyedCondition producer(producer_client->get(), "jobs/done");
  absl::StatusOr<baton::Hold> lock = producer.Acquire().Wait();
  if (!lock.ok()) return Fail("producer", lock.status());
  job42_done = true;
  absl::StatusOr<std::int64_t> woken = producer.NotifyAll("job-42").Wait();
  if (!woken.ok()) return Fail("notify", woken.status());
  std::printf("producer: job 42 stored, notified %lld waiter(s)\n", static_cast<long long>(*woken));
  if (!lock->Release().Wait().ok()) return Fail("producer: release failed");

  for (std::thread& worker : workers) worker.join();
  return failures > 0 ? 1 : 0;
}

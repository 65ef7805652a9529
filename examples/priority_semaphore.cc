// priority_semaphore: one GPU ("gpu/slots", 1 permit) shared by batch jobs
// (priority 10) and urgent requests (priority 0: lower runs first). While the
// GPU is busy, three batch jobs queue, then an urgent request arrives: it is
// served next, then the batch jobs in arrival order. Then an operator resets
// the semaphore: the job holding the permit learns at once that it lost it
// (Hold::OnLost) and stops using the GPU.
//
//   priority_semaphore [host:port]      (else $BATON_ADDR, else 127.0.0.1:7070)

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
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

// Waiting() is how many wait for a permit now (-1 if it cannot tell).
int Waiting(baton::PrioritySemaphore& semaphore) {
  absl::StatusOr<baton::InstanceState> state = semaphore.Read().Wait();
  return state.ok() ? static_cast<int>(state->waiters) : -1;
}

int main(int argc, char** argv) {
  const char* env = std::getenv("BATON_ADDR");
  std::string address = argc > 1 ? argv[1] : env != nullptr ? env : "127.0.0.1:7070";
  auto client = baton::Client::Connect({.address = address, .client_name = "priority_semaphore"});
  if (!client.ok()) return Fail("connect", client.status());

  baton::PrioritySemaphore gpu(client->get(), "gpu/slots");
  if (auto declared = gpu.Declare(1).Wait(); !declared.ok())
    return Fail("declare", declared.status());
  absl::StatusOr<baton::Hold> busy = gpu.Acquire().Wait();  // someone is using the GPU
  if (!busy.ok()) return Fail("acquire", busy.status());

  std::mutex mu;
  std::vector<std::string> served;
  std::vector<std::thread> jobs;
  const std::vector<std::pair<std::string, int>> arrivals = {
      {"batch-1", 10}, {"batch-2", 10}, {"batch-3", 10}, {"urgent", 0}};
  for (const auto& arrival : arrivals) {
    // Named copies: clang 14 cannot capture structured bindings.
    const std::string name = arrival.first;
    const int priority = arrival.second;
    jobs.emplace_back([gpu, name, priority, &mu, &served]() mutable {
      baton::CallOptions options;
      options.timeout = absl::Seconds(3);
      absl::StatusOr<baton::Hold> slot = gpu.Acquire(priority, options).Wait();
      if (!slot.ok()) {
        Fail(name, slot.status());
        return;
      }
      std::printf("%s (priority %d): got the GPU\n", name.c_str(), priority);
      std::lock_guard<std::mutex> lock(mu);
      served.push_back(name);
      // ~Hold releases the permit: the next job in line gets it.
    });
    // For a predictable demo, let each job queue before the next arrives.
    for (int i = 0; i < 500 && Waiting(gpu) < static_cast<int>(jobs.size()); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  std::printf("GPU free: %zu jobs queued\n", jobs.size());
  if (!busy->Release().Wait().ok()) return Fail("release failed");
  for (std::thread& job : jobs) job.join();
  const std::vector<std::string> expected = {"urgent", "batch-1", "batch-2", "batch-3"};
  if (served != expected) return Fail("served in the wrong order");
  std::printf("served in order: urgent, batch-1, batch-2, batch-3\n");

  // Lease loss: a job holds the GPU; an operator resets the semaphore.
  absl::StatusOr<baton::Hold> slot = gpu.Acquire().Wait();
  if (!slot.ok()) return Fail("acquire", slot.status());
  std::promise<absl::Status> lost;
  slot->OnLost([&lost](const absl::Status& why) { lost.set_value(why); });  // stop work here
  if (auto reset = gpu.Reset().Wait(); !reset.ok()) return Fail("reset", reset.status());
  std::future<absl::Status> why = lost.get_future();
  if (why.wait_for(std::chrono::seconds(2)) != std::future_status::ready)
    return Fail("the hold never learned it was lost");
  std::printf("job: lost the GPU (%s): stopping\n", why.get().ToString().c_str());
  return 0;
}

// dynamic_semaphore: cap the concurrent calls to a fragile downstream
// ("downstream/payments-api") at 2 across every caller, then raise the cap
// to 4 while the calls go on: the waiting callers get in at once, no one
// restarts. Eight worker threads each make one 200 ms call under a permit.
//
//   dynamic_semaphore [host:port]      (else $BATON_ADDR, else 127.0.0.1:7070)

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

int main(int argc, char** argv) {
  const char* env = std::getenv("BATON_ADDR");
  std::string address = argc > 1 ? argv[1] : env != nullptr ? env : "127.0.0.1:7070";
  auto client = baton::Client::Connect({.address = address, .client_name = "dynamic_semaphore"});
  if (!client.ok()) return Fail("connect", client.status());

  baton::DynamicBoundedSemaphore calls(client->get(), "downstream/payments-api");
  if (auto declared = calls.Declare(2).Wait(); !declared.ok())
    return Fail("declare", declared.status());
  // The bound lives on in the server; this demo starts from 2 again.
  if (auto set = calls.SetBound(2).Wait(); !set.ok()) return Fail("set bound", set.status());

  std::atomic<int> bound{2}, in_flight{0}, peak{0}, failures{0};
  std::vector<std::thread> workers;
  for (int w = 1; w <= 8; ++w) {
    workers.emplace_back([calls, w, &bound, &in_flight, &peak, &failures]() mutable {
      baton::CallOptions options;
      options.timeout = absl::Seconds(3);
      absl::StatusOr<baton::Hold> permit = calls.Acquire(options).Wait();
      if (!permit.ok()) {
        std::fprintf(stderr, "worker %d: %s\n", w, permit.status().ToString().c_str());
        ++failures;
        return;
      }
      const int now = ++in_flight;
      for (int p = peak; now > p && !peak.compare_exchange_weak(p, now);) {
      }
      std::printf("worker %d: calling (%d in flight, bound %d)\n", w, now, bound.load());
      if (now > bound) ++failures;                                  // never happens
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the call
      --in_flight;
      if (!permit->Release().Wait().ok()) ++failures;
    });
  }

  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  std::printf("ops: raising the bound to 4\n");
  bound = 4;  // before the server's, so that no worker sees more than the bound
  if (auto set = calls.SetBound(4).Wait(); !set.ok()) {
    std::fprintf(stderr, "set bound: %s\n", set.status().ToString().c_str());
    ++failures;
  }
  for (std::thread& worker : workers) worker.join();
  if (failures > 0) return Fail(std::to_string(failures.load()) + " failure(s)");
  std::printf("all 8 calls done, peak %d in flight\n", peak.load());
  return 0;
}

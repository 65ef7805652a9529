// rate_limiter: four worker threads share the outbound API budget
// "api/outbound": 20 calls per second, bursts of up to 5. Every process that
// uses the same name shares the same bucket, so the budget holds across all
// replicas of a service. A worker that is over budget waits in the server's
// queue (no polling, no retry loop); a try-once acquire says when to retry.
//
//   rate_limiter [host:port]      (else $BATON_ADDR, else 127.0.0.1:7070)

#include <atomic>
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
  auto client = baton::Client::Connect({.address = address, .client_name = "rate_limiter"});
  if (!client.ok()) return Fail("connect", client.status());

  baton::RateLimiter limiter(client->get(), "api/outbound");
  // Declare() creates the bucket, or checks it exists with these parameters.
  absl::StatusOr<baton::Done> declared = limiter.Declare(/*rate=*/20, /*capacity=*/5).Wait();
  if (!declared.ok()) return Fail("declare", declared.status());

  constexpr int kWorkers = 4, kCallsEach = 5;
  const absl::Time start = absl::Now();
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int w = 1; w <= kWorkers; ++w) {
    workers.emplace_back([limiter, w, start, &failures]() mutable {
      for (int call = 1; call <= kCallsEach; ++call) {
        baton::CallOptions options;
        options.timeout = absl::Seconds(3);  // give up rather than wait forever
        absl::StatusOr<baton::RateDecision> token = limiter.Acquire(1, options).Wait();
        if (!token.ok() || !token->granted) {
          std::fprintf(stderr, "worker %d: no token: %s\n", w,
                       token.ok() ? "timed out" : token.status().ToString().c_str());
          ++failures;
          return;
        }
        std::printf("[%4lld ms] worker %d: call %d (tokens left %.1f)\n",
                    static_cast<long long>(absl::ToInt64Milliseconds(absl::Now() - start)), w, call,
                    token->tokens_left);
        // ... call the API here ...
      }
    });
  }
  for (std::thread& worker : workers) worker.join();
  if (failures > 0) return 1;

  // 20 calls through a bucket of 5 refilled at 20/s take at least 0.75 s.
  const absl::Duration took = absl::Now() - start;
  std::printf("%d calls in %lld ms\n", kWorkers * kCallsEach,
              static_cast<long long>(absl::ToInt64Milliseconds(took)));
  if (took < absl::Milliseconds(700)) return Fail("the limit was not enforced");

  // A try-once acquire (timeout 0) never queues: refused, it says when to retry.
  baton::CallOptions now;
  now.timeout = absl::ZeroDuration();
  absl::StatusOr<baton::RateDecision> once = limiter.Acquire(5, now).Wait();
  if (!once.ok()) return Fail("try-once", once.status());
  if (once->granted) {
    std::printf("try-once burst of 5: granted\n");
  } else {
    std::printf("try-once burst of 5: refused, retry after %lld ms\n",
                static_cast<long long>(absl::ToInt64Milliseconds(once->retry_after)));
  }
  return 0;
}

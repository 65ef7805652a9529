// latch: the app of a deploy starts when its 3 schema migrations and its 2
// cache warmers are done. Each migration and warmer counts down its key when
// it finishes (here: threads; in real life: separate jobs, any machine);
// the app co_awaits the latch. Counts belong to no session: a job that
// counted down may exit at once.
//
//   latch [host:port]      (else $BATON_ADDR, else 127.0.0.1:7070)

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

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

baton::Task<absl::Status> StartApp(baton::MultiCountDownLatch ready) {
  std::printf("app: waiting for the migrations\n");
  std::string key = "migrations";  // arguments built before co_await (GCC 12)
  baton::CallOptions options;
  options.timeout = absl::Seconds(3);
  absl::StatusOr<baton::Done> migrated = co_await ready.Wait(std::move(key), false, options);
  if (!migrated.ok()) co_return migrated.status();
  std::printf("app: schema is migrated, waiting for the cache warmers\n");
  absl::StatusOr<baton::Done> all = co_await ready.WaitAll(std::move(options));
  if (!all.ok()) co_return all.status();
  std::printf("app: everything is ready, starting the app\n");
  co_return absl::OkStatus();
}

int main(int argc, char** argv) {
  const char* env = std::getenv("BATON_ADDR");
  std::string address = argc > 1 ? argv[1] : env != nullptr ? env : "127.0.0.1:7070";
  auto client = baton::Client::Connect({.address = address, .client_name = "latch"});
  if (!client.ok()) return Fail("connect", client.status());

  // One latch per deploy: its counts are fixed when it is declared.
  const std::string deploy =
      "deploy/" + std::to_string(getpid()) + "-" + std::to_string(absl::ToUnixMillis(absl::Now()));
  baton::MultiCountDownLatch ready(client->get(), deploy + "/ready");
  if (auto declared = ready.Declare({{"migrations", 3}, {"cache-warmers", 2}}).Wait();
      !declared.ok())
    return Fail("declare", declared.status());

  std::atomic<int> failures{0};
  std::vector<std::thread> jobs;
  auto job = [&](std::string key, std::string name, int millis) {
    jobs.emplace_back([ready, key, name, millis, &failures]() mutable {
      std::this_thread::sleep_for(std::chrono::milliseconds(millis));  // the work
      std::printf("%s: done\n", name.c_str());
      if (!ready.CountDown(key).Wait().ok()) ++failures;
    });
  };
  for (int i = 1; i <= 3; ++i) job("migrations", "migration " + std::to_string(i), 100 * i);
  for (int i = 1; i <= 2; ++i)
    job("cache-warmers", "cache warmer " + std::to_string(i), 200 + 150 * i);

  absl::Status started = baton::SyncWait(StartApp(ready));
  for (std::thread& t : jobs) t.join();
  if (!started.ok()) return Fail("app", started);
  if (failures > 0) return Fail("a count down failed");
  return 0;
}

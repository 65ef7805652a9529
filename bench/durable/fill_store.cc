// Copyright 2026 The Baton Authors.
//
// baton_fill_store: writes N kept instances into a data directory's store,
// as batond would have kept them (MultiCountDownLatch records, one counted
// down), so that bench/durable/run.sh can time batond's start with them.
//
//   baton_fill_store DATA_DIR N

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "baton/store/record.pb.h"
#include "server/store/store.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: baton_fill_store DATA_DIR N\n");
    return 2;
  }
  const std::string dir = argv[1];
  const long n = std::atol(argv[2]);
  absl::StatusOr<std::unique_ptr<baton::store::Store>> store =
      baton::store::Store::Open(dir + "/state", {.sync = false});
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  const absl::Time start = absl::Now();
  baton::store::Store::Batch batch;
  for (long i = 0; i < n; ++i) {
    baton::store::InstanceRecord record;
    record.mutable_declared()->set_kind(baton::v1::KIND_MULTI_COUNT_DOWN_LATCH);
    {
    auto* entry = record.mutable_declared()->mutable_latch()->add_counts();
    entry->set_key("done");
    entry->set_value(3);
  }
    (*record.mutable_counts())["done"] = 2;
    batch.Put(absl::StrCat("i/bench/latch/", i), record.SerializeAsString());
    if (batch.size() == 10'000 || i + 1 == n) {
      if (absl::Status written = (*store)->Write(std::move(batch)); !written.ok()) {
        std::fprintf(stderr, "%s\n", std::string(written.message()).c_str());
        return 1;
      }
      batch = baton::store::Store::Batch();
    }
  }
  std::printf("wrote %ld records in %.2f s\n", n, absl::ToDoubleSeconds(absl::Now() - start));
  return 0;
}

// Copyright 2026 The Baton Authors.
//
// The unary driver (rate_unary): sessions x in_flight slots, each a chain of
// Admin.TryAcquire calls on the callback unary API: a call's completion
// issues the slot's next call. Slots are spread over the channels.
//
// Threading: a slot's completions run on gRPC's callback threads, one at a
// time per slot (its next call starts from the previous one's callback), so
// a slot's state needs no lock. The main thread only calls Start and Stop;
// Stop waits until no call is outstanding.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "baton/v1/admin.grpc.pb.h"
#include "bench/loadgen/run.h"
#include "echo.grpc.pb.h"

namespace baton::bench {
namespace {

class UnaryDriver final : public Driver {
 public:
  UnaryDriver(const RunOptions& options, std::vector<std::shared_ptr<grpc::Channel>> channels)
      : options_(options) {
    for (const auto& channel : channels) {
      if (options_.echo_service) {
        echo_stubs_.push_back(Echo::NewStub(channel));
      } else {
        stubs_.push_back(v1::Admin::NewStub(channel));
      }
    }
    for (int key = 0; key < options_.keys; ++key) rate_names_.push_back(RateKeyName(key));
  }

  void Start(const Window& window) override {
    window_ = window;
    const int slots = options_.sessions * options_.in_flight;
    slots_ = std::vector<Slot>(static_cast<size_t>(slots));
    for (int i = 0; i < slots; ++i) {
      if (options_.echo_service) {
        slots_[i].echo_stub = echo_stubs_[i % echo_stubs_.size()].get();
      } else {
        slots_[i].stub = stubs_[i % stubs_.size()].get();
      }
      slots_[i].rng = 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(i + 1);
    }
    outstanding_.store(slots);
    for (Slot& slot : slots_) Issue(&slot);
  }

  Counts Stop() override {
    stopping_.store(true);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (outstanding_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (outstanding_.load() > 0) {
      std::fprintf(stderr, "loadgen: %d calls still outstanding; counts may be torn\n",
                   outstanding_.load());
    }
    Counts total;
    for (const Slot& slot : slots_) total.Merge(slot.counts);
    return total;
  }

 private:
  struct Slot {
    // One of the two: Baton's Admin, or the echo server's TryAcquire.
    v1::Admin::Stub* stub = nullptr;
    Echo::Stub* echo_stub = nullptr;
    uint64_t rng = 0;
    std::optional<grpc::ClientContext> context;
    v1::TryAcquireRequest request;
    v1::TryAcquireResponse response;
    int64_t issued_ns = 0;
    Counts counts;
  };

  void Issue(Slot* slot) {
    slot->rng ^= slot->rng << 13;
    slot->rng ^= slot->rng >> 7;
    slot->rng ^= slot->rng << 17;
    const int key = options_.hot_key ? 0 : static_cast<int>(slot->rng % options_.keys);
    slot->request.set_name(rate_names_[key]);
    slot->context.emplace();
    slot->issued_ns = NowNanos();
    auto done = [this, slot](grpc::Status status) { OnDone(slot, status); };
    if (slot->echo_stub != nullptr) {
      slot->echo_stub->async()->TryAcquire(&*slot->context, &slot->request, &slot->response,
                                           std::move(done));
    } else {
      slot->stub->async()->TryAcquire(&*slot->context, &slot->request, &slot->response,
                                      std::move(done));
    }
  }

  void OnDone(Slot* slot, const grpc::Status& status) {
    const int64_t now = NowNanos();
    if (window_.Contains(now)) {
      ++slot->counts.ops;
      slot->counts.latency.Record(static_cast<uint64_t>(now - slot->issued_ns));
      if (status.ok() && !slot->response.allowed()) ++slot->counts.refused;
    }
    if (!status.ok()) {
      ++slot->counts.errors;
      if (slot->counts.first_error.empty()) {
        slot->counts.first_error = absl::StrCat(status.error_code(), " ", status.error_message());
      }
    }
    if (stopping_.load(std::memory_order_relaxed)) {
      outstanding_.fetch_sub(1, std::memory_order_acq_rel);
      return;
    }
    Issue(slot);
  }

  const RunOptions options_;
  Window window_;
  std::vector<std::unique_ptr<v1::Admin::Stub>> stubs_;
  std::vector<std::unique_ptr<Echo::Stub>> echo_stubs_;
  std::vector<std::string> rate_names_;
  std::vector<Slot> slots_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> outstanding_{0};
};

}  // namespace

std::unique_ptr<Driver> NewUnaryDriver(const RunOptions& options,
                                       std::vector<std::shared_ptr<grpc::Channel>> channels) {
  return std::make_unique<UnaryDriver>(options, std::move(channels));
}

}  // namespace baton::bench

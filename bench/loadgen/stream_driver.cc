// Copyright 2026 The Baton Authors.
//
// The stream driver: sessions are Session streams opened with the raw
// generated stubs (baton.v1.Baton or baton.bench.Echo: the same messages),
// each keeping `in_flight` requests outstanding.
//
// Threading: sessions are spread over `client_threads` completion queues,
// each polled by one thread; a session (and, for handoff, its partner) is
// only touched by its queue's thread, so nothing here takes a lock. The main
// thread only calls Start, then Stop (which cancels every call and waits for
// the queues to drain).
//
// Writes are batched as the client library does: one write in flight per
// stream; requests that become ready meanwhile ride together in the next
// ClientMessage (at most --batch of them).

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "baton/v1/session.grpc.pb.h"
#include "bench/loadgen/run.h"
#include "echo.grpc.pb.h"

namespace baton::bench {
namespace {

using v1::ClientMessage;
using v1::ServerMessage;
using Stream = grpc::ClientAsyncReaderWriter<ClientMessage, ServerMessage>;
using StreamFactory =
    std::function<std::unique_ptr<Stream>(grpc::ClientContext*, grpc::CompletionQueue*)>;

// A request's id is slot * kOps + op: one request per (slot, op) is pending
// at most, as ids must be unique among a session's pending requests.
enum Op : uint32_t { kAcquire = 0, kRead = 1, kRelease = 2, kRateAcquire = 3 };
constexpr uint32_t kOps = 4;
constexpr int kDeadlineExceeded = 4;  // google.rpc.Code

class StreamSession;

// What a completion-queue tag points to.
struct Tag {
  enum Kind { kStart, kRead, kWrite, kFinish };
  StreamSession* session;
  Kind kind;
};

// handoff: one lock passed back and forth between the two sessions of a
// pair. The holder releases only once the other side's acquire is known to
// be queued (the answer to a Read sent after it on the same stream came
// back), so every grant after the first is a handoff.
struct HandoffLock {
  int holder = 0;
  int64_t release_ns = 0;  // When the holder's release was issued.
};
struct HandoffPair {
  StreamSession* side[2] = {nullptr, nullptr};
  std::vector<HandoffLock> locks;
};

struct SessionConfig {
  const RunOptions* options;
  const Window* window;
  const std::atomic<bool>* stopping;
  std::atomic<int>* sessions_done;
  std::string name_prefix;  // "loadgen/<pid>"
  const std::vector<std::string>* rate_names;  // RateKeyName(0..keys-1)
};

class StreamSession {
 public:
  StreamSession(const SessionConfig& config, int index, grpc::CompletionQueue* cq,
                HandoffPair* pair, int side)
      : config_(config), options_(*config.options), index_(index), cq_(cq), pair_(pair),
        side_(side), rng_(0x9E3779B97F4A7C15ull * static_cast<uint64_t>(index + 1)) {
    slots_.resize(options_.in_flight);
    ready_.reserve(static_cast<size_t>(options_.in_flight) * 2);
    for (int s = 0; s < options_.in_flight; ++s) {
      switch (options_.scenario) {
        case Scenario::kEcho:
        case Scenario::kLock:
          slots_[s].name = absl::StrCat(config_.name_prefix, "/lock/", index_, "/", s);
          break;
        case Scenario::kHandoff:
          slots_[s].name = absl::StrCat(config_.name_prefix, "/handoff/", index_ / 2, "/", s);
          break;
        case Scenario::kSemaphore:
          slots_[s].name = kSemaphoreName;
          break;
        default:
          break;
      }
    }
  }

  // Open starts the call and queues each slot's first request. Called from
  // the main thread before the queue's thread polls.
  void Open(const StreamFactory& factory) {
    const int64_t now = NowNanos();
    for (int s = 0; s < options_.in_flight; ++s) {
      switch (options_.scenario) {
        case Scenario::kRateStream:
          Issue(s, kRateAcquire, now);
          break;
        case Scenario::kHandoff:
          if (side_ == 0) Issue(s, kAcquire, now);
          break;
        default:
          Issue(s, kAcquire, now);
      }
    }
    stream_ = factory(&context_, cq_);
    stream_->StartCall(&start_tag_);
  }

  // Cancel ends the call; thread-safe.
  void Cancel() { context_.TryCancel(); }

  void Proceed(Tag::Kind kind, bool ok) {
    switch (kind) {
      case Tag::kStart:
        if (!ok) {
          reads_done_ = true;
          NoteError("the stream could not start");
          MaybeFinish();
          return;
        }
        started_ = true;
        StartRead();
        Flush();
        return;
      case Tag::kRead:
        reading_ = false;
        if (!ok) {
          reads_done_ = true;
          MaybeFinish();
          return;
        }
        OnMessage();
        StartRead();
        Flush();
        if (pair_ != nullptr) pair_->side[1 - side_]->Flush();
        return;
      case Tag::kWrite:
        writing_ = false;
        if (!ok) {
          write_failed_ = true;
          MaybeFinish();
          return;
        }
        Flush();
        MaybeFinish();  // The reads may have ended while this write was in flight.
        return;
      case Tag::kFinish:
        if (!status_.ok() && !config_.stopping->load(std::memory_order_relaxed)) {
          NoteError(absl::StrCat("stream ended: ", status_.error_code(), " ",
                                 status_.error_message()));
        }
        config_.sessions_done->fetch_add(1, std::memory_order_acq_rel);
        return;
    }
  }

  const Counts& counts() const { return counts_; }

  // Issue queues request (slot, op), issued at `now`; Flush sends it.
  void Issue(int slot, Op op, int64_t now) {
    slots_[slot].issued_ns = now;
    ready_.push_back(static_cast<uint32_t>(slot) * kOps + op);
  }

  // Flush writes what is ready, unless a write is in flight (its completion
  // flushes again).
  void Flush() {
    if (!started_ || writing_ || write_failed_ || reads_done_) return;
    if (ready_.empty() && open_sent_) return;
    out_.Clear();
    if (!open_sent_) {
      out_.mutable_open()->set_client_name("baton_loadgen");
      open_sent_ = true;
    }
    const size_t n = std::min(ready_.size(), static_cast<size_t>(options_.batch));
    for (size_t i = 0; i < n; ++i) AddRequest(ready_[i]);
    ready_.erase(ready_.begin(), ready_.begin() + static_cast<std::ptrdiff_t>(n));
    writing_ = true;
    if (config_.window->Contains(NowNanos())) ++counts_.messages_written;
    stream_->Write(out_, &write_tag_);
  }

 private:
  struct Slot {
    std::string name;
    int64_t issued_ns = 0;
  };

  void StartRead() {
    reading_ = true;
    stream_->Read(&in_, &read_tag_);
  }

  void MaybeFinish() {
    if (!reads_done_ || reading_ || writing_ || finishing_) return;
    finishing_ = true;
    if (!started_) {
      config_.sessions_done->fetch_add(1, std::memory_order_acq_rel);
      return;
    }
    stream_->Finish(&status_, &finish_tag_);
  }

  void AddRequest(uint32_t id) {
    v1::Request* request = out_.add_requests();
    request->set_id(id);
    const Slot& slot = slots_[id / kOps];
    switch (options_.scenario) {
      case Scenario::kRateStream: {
        const int key = options_.hot_key ? 0 : static_cast<int>(NextRandom() % options_.keys);
        request->set_name((*config_.rate_names)[key]);
        request->set_kind(v1::KIND_ADVANCED_RATE_LIMIT);
        request->mutable_rate_acquire()->mutable_timeout();  // Zero: try once.
        return;
      }
      case Scenario::kSemaphore:
        request->set_kind(v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE);
        break;
      case Scenario::kCountDown:
        // Both ops of a slot's cycle are a count_down of the one latch.
        request->set_name(kLatchName);
        request->set_kind(v1::KIND_MULTI_COUNT_DOWN_LATCH);
        request->mutable_count_down()->set_key("k");
        return;
      default:
        request->set_kind(v1::KIND_PRIORITY_LOCK);
    }
    request->set_name(slot.name);
    switch (static_cast<Op>(id % kOps)) {
      case kAcquire:
        request->mutable_acquire();
        break;
      case kRelease:
        request->mutable_release();
        break;
      default:
        request->mutable_read();
    }
  }

  void OnMessage() {
    const int64_t now = NowNanos();
    const bool in_window = config_.window->Contains(now);
    if (in_window) ++counts_.messages_read;
    for (const v1::Response& response : in_.responses()) {
      const int slot = static_cast<int>(response.id() / kOps);
      const Op op = static_cast<Op>(response.id() % kOps);
      const int code = response.has_status() ? response.status().code() : 0;
      if (slot >= options_.in_flight) {
        NoteError(absl::StrCat("answer to an unknown id ", response.id()));
        continue;
      }
      if (code == kDeadlineExceeded && op == kRateAcquire) {
        if (in_window) ++counts_.refused;
      } else if (code != 0) {
        NoteError(absl::StrCat(code, " ", response.status().message()));
      }
      if (options_.scenario == Scenario::kHandoff) {
        OnHandoffResponse(slot, op, code, now, in_window);
        continue;
      }
      if (in_window) {
        ++counts_.ops;
        counts_.latency.Record(static_cast<uint64_t>(now - slots_[slot].issued_ns));
      }
      Op next = kAcquire;
      if (op == kRateAcquire) {
        next = kRateAcquire;
      } else if (op == kAcquire && code == 0) {
        next = kRelease;
      }
      Issue(slot, next, now);
    }
  }

  void OnHandoffResponse(int slot, Op op, int code, int64_t now, bool in_window) {
    HandoffLock& lock = pair_->locks[slot];
    StreamSession* other = pair_->side[1 - side_];
    switch (op) {
      case kAcquire:  // This side is granted the lock.
        if (code != 0) return;
        if (lock.holder != side_) {
          if (in_window) {
            ++counts_.ops;
            counts_.latency.Record(static_cast<uint64_t>(now - lock.release_ns));
          }
          lock.holder = side_;
        }
        // The other side queues behind it, then learns it is queued.
        other->Issue(slot, kAcquire, now);
        other->Issue(slot, kRead, now);
        return;
      case kRead:  // This side's acquire is queued: the holder releases.
        lock.release_ns = now;
        other->Issue(slot, kRelease, now);
        return;
      default:
        return;
    }
  }

  uint64_t NextRandom() {
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    return rng_;
  }

  void NoteError(std::string what) {
    ++counts_.errors;
    if (counts_.first_error.empty()) counts_.first_error = std::move(what);
  }

  const SessionConfig config_;
  const RunOptions& options_;
  const int index_;
  grpc::CompletionQueue* const cq_;
  HandoffPair* const pair_;  // handoff only.
  const int side_;
  uint64_t rng_;

  grpc::ClientContext context_;
  std::unique_ptr<Stream> stream_;
  grpc::Status status_;
  Tag start_tag_{this, Tag::kStart};
  Tag read_tag_{this, Tag::kRead};
  Tag write_tag_{this, Tag::kWrite};
  Tag finish_tag_{this, Tag::kFinish};
  ClientMessage out_;
  ServerMessage in_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> ready_;  // Request ids to send, in order.
  bool started_ = false;
  bool open_sent_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool reads_done_ = false;
  bool write_failed_ = false;
  bool finishing_ = false;
  Counts counts_;
};

class StreamDriver final : public Driver {
 public:
  StreamDriver(const RunOptions& options, std::vector<std::shared_ptr<grpc::Channel>> channels)
      : options_(options) {
    for (const auto& channel : channels) {
      if (options_.echo_service) {
        auto stub = std::shared_ptr<Echo::Stub>(Echo::NewStub(channel));
        factories_.push_back([stub](grpc::ClientContext* context, grpc::CompletionQueue* cq) {
          return stub->PrepareAsyncSession(context, cq);
        });
      } else {
        auto stub = std::shared_ptr<v1::Baton::Stub>(v1::Baton::NewStub(channel));
        factories_.push_back([stub](grpc::ClientContext* context, grpc::CompletionQueue* cq) {
          return stub->PrepareAsyncSession(context, cq);
        });
      }
    }
    for (int i = 0; i < options_.client_threads; ++i) {
      queues_.push_back(std::make_unique<grpc::CompletionQueue>());
    }
  }

  void Start(const Window& window) override {
    window_ = window;
    SessionConfig config{.options = &options_,
                         .window = &window_,
                         .stopping = &stopping_,
                         .sessions_done = &sessions_done_,
                         .name_prefix = absl::StrCat("loadgen/", getpid()),
                         .rate_names = &rate_names_};
    for (int key = 0; key < options_.keys; ++key) rate_names_.push_back(RateKeyName(key));
    const int threads = static_cast<int>(queues_.size());
    if (options_.scenario == Scenario::kHandoff) {
      const int pairs = options_.sessions / 2;
      pairs_.resize(pairs);
      for (int p = 0; p < pairs; ++p) {
        pairs_[p].locks.resize(options_.in_flight);
        for (int side = 0; side < 2; ++side) {
          sessions_.push_back(std::make_unique<StreamSession>(
              config, 2 * p + side, queues_[p % threads].get(), &pairs_[p], side));
          pairs_[p].side[side] = sessions_.back().get();
        }
      }
    } else {
      for (int i = 0; i < options_.sessions; ++i) {
        sessions_.push_back(std::make_unique<StreamSession>(config, i, queues_[i % threads].get(),
                                                            nullptr, 0));
      }
    }
    for (size_t i = 0; i < sessions_.size(); ++i) {
      sessions_[i]->Open(factories_[i % factories_.size()]);
    }
    for (auto& queue : queues_) {
      threads_.emplace_back([cq = queue.get()] {
        void* tag = nullptr;
        bool ok = false;
        while (cq->Next(&tag, &ok)) {
          Tag* done = static_cast<Tag*>(tag);
          done->session->Proceed(done->kind, ok);
        }
      });
    }
  }

  Counts Stop() override {
    stopping_.store(true);
    for (auto& session : sessions_) session->Cancel();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (sessions_done_.load() < static_cast<int>(sessions_.size())) {
      if (std::chrono::steady_clock::now() > deadline) {
        std::fprintf(stderr, "loadgen: %d of %zu sessions did not end; counts may be torn\n",
                     static_cast<int>(sessions_.size()) - sessions_done_.load(),
                     sessions_.size());
        Counts total;
        for (auto& session : sessions_) total.Merge(session->counts());
        return total;  // The caller exits without tearing down the calls.
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    for (auto& queue : queues_) queue->Shutdown();
    for (auto& thread : threads_) thread.join();
    Counts total;
    for (auto& session : sessions_) total.Merge(session->counts());
    return total;
  }

 private:
  const RunOptions options_;
  Window window_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> sessions_done_{0};
  std::vector<std::string> rate_names_;
  std::vector<StreamFactory> factories_;
  std::vector<std::unique_ptr<grpc::CompletionQueue>> queues_;
  std::vector<HandoffPair> pairs_;
  std::vector<std::unique_ptr<StreamSession>> sessions_;
  std::vector<std::thread> threads_;
};

}  // namespace

std::unique_ptr<Driver> NewStreamDriver(const RunOptions& options,
                                        std::vector<std::shared_ptr<grpc::Channel>> channels) {
  return std::make_unique<StreamDriver>(options, std::move(channels));
}

}  // namespace baton::bench

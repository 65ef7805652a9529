// Copyright 2026 The Baton Authors.
//
// SessionClient is a small synchronous client of the baton.v1.Baton/Session
// stream for tests: it opens a session, sends requests (several may ride in
// one ClientMessage), and a reader thread files every Response by its id and
// every Notice as they arrive, so that a test can wait for one with a bound.
// The ops:: functions build one Request each.
//
// Example:
//   SessionClient a(channel);
//   ASSERT_TRUE(a.Open("worker-a", "a"));
//   a.Send(ops::Acquire(1, "jobs", v1::KIND_PRIORITY_LOCK),
//          ops::Read(2, "jobs", v1::KIND_PRIORITY_LOCK));
//   std::optional<v1::Response> granted = a.WaitResponse(1);
//   ASSERT_TRUE(granted && IsOk(*granted));
//   a.HalfClose();
//   EXPECT_TRUE(a.Finish().ok());
//
// Thread safety: every method may be called from any thread; writes are
// serialized by a mutex, and the reader thread is the stream's only reader.
// Waiting never sleeps: it waits on a condition variable for what it needs,
// up to the timeout given.

#ifndef BATON_TESTS_TESTING_SESSION_CLIENT_H_
#define BATON_TESTS_TESTING_SESSION_CLIENT_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "baton/v1/session.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace baton::testing {

// The default bound of every wait: generous, since a wait ends as soon as
// what it waits for arrives.
inline constexpr std::chrono::milliseconds kDefaultWait = std::chrono::seconds(10);

// ToDuration() converts to google.protobuf.Duration (seconds and nanos of the
// same sign, as the wire contract wants).
inline google::protobuf::Duration ToDuration(std::chrono::nanoseconds d) {
  google::protobuf::Duration out;
  out.set_seconds(d.count() / 1'000'000'000);
  out.set_nanos(static_cast<int32_t>(d.count() % 1'000'000'000));
  return out;
}

inline std::chrono::nanoseconds FromDuration(const google::protobuf::Duration& d) {
  return std::chrono::seconds(d.seconds()) + std::chrono::nanoseconds(d.nanos());
}

// The code of a Response (absent status: OK).
inline grpc::StatusCode CodeOf(const v1::Response& response) {
  return response.has_status() ? static_cast<grpc::StatusCode>(response.status().code())
                               : grpc::StatusCode::OK;
}
inline bool IsOk(const v1::Response& response) {
  return CodeOf(response) == grpc::StatusCode::OK;
}

// Builders of one Request each. `timeout` absent: wait forever.
namespace ops {

using Timeout = std::optional<std::chrono::nanoseconds>;

inline v1::Request Base(uint64_t id, const std::string& name, v1::Kind kind) {
  v1::Request request;
  request.set_id(id);
  request.set_name(name);
  request.set_kind(kind);
  return request;
}

// WithOwner() sets the request's owner key (instead of the session default).
inline v1::Request WithOwner(v1::Request request, const std::string& owner_key) {
  request.set_owner_key(owner_key);
  return request;
}

inline v1::Request Acquire(uint64_t id, const std::string& name, v1::Kind kind,
                           int64_t priority = 0, Timeout timeout = std::nullopt) {
  v1::Request request = Base(id, name, kind);
  v1::Acquire* acquire = request.mutable_acquire();
  acquire->set_priority(priority);
  if (timeout) *acquire->mutable_timeout() = ToDuration(*timeout);
  return request;
}

inline v1::Request Release(uint64_t id, const std::string& name, v1::Kind kind,
                           std::optional<bool> strict = std::nullopt) {
  v1::Request request = Base(id, name, kind);
  v1::Release* release = request.mutable_release();
  if (strict) release->set_strict(*strict);
  return request;
}

inline v1::Request Read(uint64_t id, const std::string& name, v1::Kind kind) {
  v1::Request request = Base(id, name, kind);
  request.mutable_read();
  return request;
}

inline v1::Request RateAcquire(uint64_t id, const std::string& name,
                               std::optional<double> tokens = std::nullopt,
                               Timeout timeout = std::nullopt) {
  v1::Request request = Base(id, name, v1::KIND_ADVANCED_RATE_LIMIT);
  v1::RateAcquire* acquire = request.mutable_rate_acquire();
  if (tokens) acquire->set_tokens(*tokens);
  if (timeout) *acquire->mutable_timeout() = ToDuration(*timeout);
  return request;
}

inline v1::Request RateRelease(uint64_t id, const std::string& name,
                               std::optional<double> tokens = std::nullopt) {
  v1::Request request = Base(id, name, v1::KIND_ADVANCED_RATE_LIMIT);
  v1::RateRelease* release = request.mutable_rate_release();
  if (tokens) release->set_tokens(*tokens);
  return request;
}

// Cancel names no instance: name and kind stay empty.
inline v1::Request Cancel(uint64_t id, uint64_t request_id) {
  v1::Request request;
  request.set_id(id);
  request.mutable_cancel()->set_request_id(request_id);
  return request;
}

inline v1::Request ConditionWait(uint64_t id, const std::string& name, const std::string& key,
                                 Timeout timeout = std::nullopt) {
  v1::Request request = Base(id, name, v1::KIND_KEYED_CONDITION);
  v1::ConditionWait* wait = request.mutable_condition_wait();
  wait->set_key(key);
  if (timeout) *wait->mutable_timeout() = ToDuration(*timeout);
  return request;
}

inline v1::Request Notify(uint64_t id, const std::string& name, const std::string& key,
                          std::optional<int64_t> n = std::nullopt, bool strict = false) {
  v1::Request request = Base(id, name, v1::KIND_KEYED_CONDITION);
  v1::Notify* notify = request.mutable_notify();
  notify->set_key(key);
  if (n) notify->set_n(*n);
  notify->set_strict(strict);
  return request;
}

// NotifyAll(): `key` absent wakes the waiters of every key.
inline v1::Request NotifyAll(uint64_t id, const std::string& name,
                             std::optional<std::string> key = std::nullopt) {
  v1::Request request = Base(id, name, v1::KIND_KEYED_CONDITION);
  v1::NotifyAll* notify_all = request.mutable_notify_all();
  if (key) notify_all->set_key(*key);
  return request;
}

// WaitAll() on a KIND_KEYED_CONDITION or a KIND_MULTI_COUNT_DOWN_LATCH.
inline v1::Request WaitAll(uint64_t id, const std::string& name, v1::Kind kind,
                           Timeout timeout = std::nullopt) {
  v1::Request request = Base(id, name, kind);
  v1::WaitAll* wait_all = request.mutable_wait_all();
  if (timeout) *wait_all->mutable_timeout() = ToDuration(*timeout);
  return request;
}

inline v1::Request CountDown(uint64_t id, const std::string& name, const std::string& key,
                             bool strict = false) {
  v1::Request request = Base(id, name, v1::KIND_MULTI_COUNT_DOWN_LATCH);
  v1::CountDown* count_down = request.mutable_count_down();
  count_down->set_key(key);
  count_down->set_strict(strict);
  return request;
}

inline v1::Request CountDownAll(uint64_t id, const std::string& name) {
  v1::Request request = Base(id, name, v1::KIND_MULTI_COUNT_DOWN_LATCH);
  request.mutable_count_down_all();
  return request;
}

inline v1::Request LatchWait(uint64_t id, const std::string& name, const std::string& key,
                             bool strict = false, Timeout timeout = std::nullopt) {
  v1::Request request = Base(id, name, v1::KIND_MULTI_COUNT_DOWN_LATCH);
  v1::LatchWait* wait = request.mutable_latch_wait();
  wait->set_key(key);
  wait->set_strict(strict);
  if (timeout) *wait->mutable_timeout() = ToDuration(*timeout);
  return request;
}

inline v1::Request SetRate(uint64_t id, const std::string& name, double rate) {
  v1::Request request = Base(id, name, v1::KIND_ADVANCED_RATE_LIMIT);
  request.mutable_set_rate()->set_rate(rate);
  return request;
}

inline v1::Request SetBound(uint64_t id, const std::string& name, int64_t bound,
                            v1::Kind kind = v1::KIND_DYNAMIC_BOUNDED_SEMAPHORE) {
  v1::Request request = Base(id, name, kind);
  request.mutable_set_bound()->set_bound(bound);
  return request;
}

inline v1::Request Reset(uint64_t id, const std::string& name) {
  v1::Request request = Base(id, name, v1::KIND_PRIORITY_SEMAPHORE);
  request.mutable_reset();
  return request;
}

}  // namespace ops

class SessionClient {
 public:
  explicit SessionClient(std::shared_ptr<grpc::Channel> channel)
      : stub_(v1::Baton::NewStub(std::move(channel))) {}
  SessionClient(const SessionClient&) = delete;
  SessionClient& operator=(const SessionClient&) = delete;
  ~SessionClient() {
    if (stream_ == nullptr) return;
    if (!finished_) {
      context_.TryCancel();
      Finish(kDefaultWait);
    }
  }

  // AddMetadata() adds call metadata ("authorization", "Bearer ..."); before
  // Start() or Open().
  void AddMetadata(const std::string& key, const std::string& value) {
    context_.AddMetadata(key, value);
  }

  // Start() begins the call without sending anything (for tests of the
  // protocol itself; Open() calls it). `deadline` bounds the whole call.
  void Start(std::chrono::milliseconds deadline = std::chrono::seconds(120)) {
    if (stream_ != nullptr) return;
    context_.set_deadline(std::chrono::system_clock::now() + deadline);
    stream_ = stub_->Session(&context_);
    reader_ = std::thread([this] { ReadAll(); });
  }

  // Open() starts the call, sends ClientMessage{open, requests} and waits for
  // SessionOpened. Returns it, or nullopt when the stream ended (or nothing
  // came within `timeout`).
  std::optional<v1::SessionOpened> Open(const std::string& client_name = "",
                                        const std::string& default_owner_key = "",
                                        ops::Timeout lease = std::nullopt,
                                        std::vector<v1::Request> requests = {},
                                        std::chrono::milliseconds timeout = kDefaultWait) {
    Start();
    v1::ClientMessage message;
    v1::OpenSession* open = message.mutable_open();
    open->set_client_name(client_name);
    open->set_default_owner_key(default_owner_key);
    if (lease) *open->mutable_lease() = ToDuration(*lease);
    for (auto& request : requests) *message.add_requests() = std::move(request);
    if (!Write(message)) return std::nullopt;
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, timeout, [&] { return opened_.has_value() || ended_; });
    return opened_;
  }

  // Write() sends one ClientMessage as it is. False once the stream is done.
  bool Write(const v1::ClientMessage& message) {
    std::lock_guard<std::mutex> lock(write_mutex_);
    if (stream_ == nullptr || half_closed_) return false;
    return stream_->Write(message);
  }

  // Send() sends the requests together, in one ClientMessage.
  bool Send(std::vector<v1::Request> requests) {
    v1::ClientMessage message;
    for (auto& request : requests) *message.add_requests() = std::move(request);
    return Write(message);
  }
  template <typename... Requests>
  bool Send(v1::Request first, Requests... rest) {
    std::vector<v1::Request> requests;
    requests.push_back(std::move(first));
    (requests.push_back(std::move(rest)), ...);
    return Send(std::move(requests));
  }

  // Heartbeat() sends an empty ClientMessage, renewing the lease.
  bool Heartbeat() { return Write(v1::ClientMessage()); }

  // Call() sends one request and waits for its answer.
  std::optional<v1::Response> Call(v1::Request request,
                                   std::chrono::milliseconds timeout = kDefaultWait) {
    const uint64_t id = request.id();
    if (!Send(std::move(request))) return std::nullopt;
    return WaitResponse(id, timeout);
  }

  // WaitResponse() waits up to `timeout` for an answer to request `id` and
  // takes it (the oldest one not taken yet: ids may be reused once answered,
  // and a duplicate id gets an answer of its own). nullopt: none came, or the
  // stream ended without one.
  std::optional<v1::Response> WaitResponse(uint64_t id,
                                           std::chrono::milliseconds timeout = kDefaultWait) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, timeout, [&] {
      auto it = responses_.find(id);
      return ended_ || (it != responses_.end() && !it->second.empty());
    });
    auto it = responses_.find(id);
    if (it == responses_.end() || it->second.empty()) return std::nullopt;
    v1::Response response = std::move(it->second.front());
    it->second.pop_front();
    return response;
  }

  // NoResponseYet() is true when no answer to `id` is waiting to be taken.
  bool NoResponseYet(uint64_t id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = responses_.find(id);
    return it == responses_.end() || it->second.empty();
  }

  // WaitNotice() waits up to `timeout` for a notice that `matches` (among
  // every notice received since the start, the earliest) and returns it.
  std::optional<v1::Notice> WaitNotice(const std::function<bool(const v1::Notice&)>& matches,
                                       std::chrono::milliseconds timeout = kDefaultWait) {
    std::unique_lock<std::mutex> lock(mutex_);
    std::optional<v1::Notice> found;
    changed_.wait_for(lock, timeout, [&] {
      for (const v1::Notice& notice : notices_) {
        if (matches(notice)) {
          found = notice;
          return true;
        }
      }
      return ended_;
    });
    return found;
  }

  std::vector<v1::Notice> notices() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return notices_;
  }

  // WaitEnded() waits up to `timeout` for the server to end the stream.
  bool WaitEnded(std::chrono::milliseconds timeout = kDefaultWait) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return ended_; });
  }
  bool ended() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return ended_;
  }

  // HalfClose() tells the server the client sends nothing more.
  void HalfClose() {
    std::lock_guard<std::mutex> lock(write_mutex_);
    if (stream_ == nullptr || half_closed_) return;
    half_closed_ = true;
    stream_->WritesDone();
  }

  // Finish() waits up to `timeout` for the server to end the stream
  // (cancelling the call if it does not) and returns its final status.
  grpc::Status Finish(std::chrono::milliseconds timeout = kDefaultWait) {
    if (stream_ == nullptr) return grpc::Status(grpc::StatusCode::INTERNAL, "not started");
    if (finished_) return final_status_;
    if (!WaitEnded(timeout)) context_.TryCancel();
    if (reader_.joinable()) reader_.join();
    final_status_ = stream_->Finish();
    finished_ = true;
    return final_status_;
  }

  // Cancel() cancels the call from the client side (CANCELLED).
  void CancelCall() { context_.TryCancel(); }

  std::optional<v1::SessionOpened> opened() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return opened_;
  }

  // AnswersPerMessage() is how many answers each ServerMessage that carried
  // any brought, in the order they came.
  std::vector<int> AnswersPerMessage() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return answers_per_message_;
  }

 private:
  // ReadAll() runs on reader_: files every ServerMessage until the stream ends.
  void ReadAll() {
    v1::ServerMessage message;
    while (stream_->Read(&message)) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (message.has_opened()) opened_ = message.opened();
      if (message.responses_size() > 0) answers_per_message_.push_back(message.responses_size());
      for (v1::Response& response : *message.mutable_responses()) {
        const uint64_t id = response.id();
        responses_[id].push_back(std::move(response));
      }
      for (v1::Notice& notice : *message.mutable_notices()) notices_.push_back(std::move(notice));
      changed_.notify_all();
      message.Clear();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    ended_ = true;
    changed_.notify_all();
  }

  std::unique_ptr<v1::Baton::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::ClientMessage, v1::ServerMessage>> stream_;
  std::thread reader_;
  bool finished_ = false;  // test thread only
  grpc::Status final_status_;

  std::mutex write_mutex_;
  bool half_closed_ = false;  // guarded by write_mutex_

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::optional<v1::SessionOpened> opened_;                // guarded by mutex_
  std::map<uint64_t, std::deque<v1::Response>> responses_;  // guarded by mutex_
  std::vector<v1::Notice> notices_;                         // guarded by mutex_
  std::vector<int> answers_per_message_;                    // guarded by mutex_
  bool ended_ = false;                                      // guarded by mutex_
};

}  // namespace baton::testing

#endif  // BATON_TESTS_TESTING_SESSION_CLIENT_H_

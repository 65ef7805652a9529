// Copyright 2026 The Baton Authors.
//
// baton_echo_server: the physical-limit baseline for batond. It serves
// baton.bench.Echo/Session (bench/echo/echo.proto), Baton's session stream
// with no work behind it: every Request of a ClientMessage is answered with a
// Response carrying the same id, and the first ServerMessage also carries
// `opened`. Answers read while a write is in flight are coalesced into the
// next ServerMessage, as batond does.
//
// Two variants, chosen by --api:
//   callback  one ServerBidiReactor per stream and a ServerUnaryReactor per
//             TryAcquire (the API batond uses);
//   cq        the async service, one completion queue and one thread per
//             core, and a hand-written state machine per stream and per
//             TryAcquire call.
//
//   baton_echo_server --listen=127.0.0.1:0 --api=cq
//   -> stderr: "echo_server: listening on 127.0.0.1:PORT (cq, 2 threads)"
//
// It runs until SIGTERM or SIGINT.

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "echo.grpc.pb.h"
#include "grpcpp/grpcpp.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "address to listen on; port 0 picks a free one");
ABSL_FLAG(std::string, api, "callback", "callback (ServerBidiReactor) or cq (async service)");
ABSL_FLAG(int, threads, 0, "cq: completion queues, one thread each; 0: one per core");

namespace baton::bench {
namespace {

using v1::ClientMessage;
using v1::ServerMessage;

std::atomic<uint64_t> next_session_id{1};

// Appends to `out` one Response per Request of `in`, and `opened` when
// `first` is set.
void Answer(const ClientMessage& in, bool first, ServerMessage* out) {
  if (first) {
    v1::SessionOpened* opened = out->mutable_opened();
    opened->set_session_id(next_session_id.fetch_add(1, std::memory_order_relaxed));
    opened->set_server_epoch(1);
    opened->mutable_lease()->set_seconds(30);
    opened->mutable_limits()->set_max_requests_per_message(1000);
    opened->mutable_limits()->set_max_pending_requests(100000);
    opened->mutable_limits()->set_max_name_bytes(256);
    opened->mutable_limits()->set_max_key_bytes(256);
    opened->set_server_version("echo");
  }
  for (const v1::Request& request : in.requests()) out->add_responses()->set_id(request.id());
}

// ---------------------------------------------------------------------------
// The callback variant.

// One stream. gRPC runs OnReadDone and OnWriteDone on its own threads, and
// they may run at once: mu_ guards what both touch. One read and one write
// are outstanding at most; only OnDone frees.
class CallbackSession final : public grpc::ServerBidiReactor<ClientMessage, ServerMessage> {
 public:
  CallbackSession() { StartRead(&in_); }

  void OnReadDone(bool ok) override {
    bool write = false;
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      if (!ok) {
        reads_done_ = true;
        finish = !writing_;
      } else {
        Answer(in_, !opened_, &pending_);
        opened_ = true;
        if (!writing_) {
          out_.Swap(&pending_);
          pending_.Clear();
          writing_ = write = true;
        }
      }
    }
    if (ok) StartRead(&in_);  // in_ is consumed: Answer copied what it needs.
    if (write) StartWrite(&out_);
    if (finish) Finish(grpc::Status::OK);
  }

  void OnWriteDone(bool ok) override {
    bool write = false;
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      if (ok && pending_.responses_size() > 0) {
        out_.Swap(&pending_);
        pending_.Clear();
        write = true;
      } else {
        writing_ = false;
        finish = reads_done_;
      }
    }
    if (write) StartWrite(&out_);
    if (finish) Finish(grpc::Status::OK);
  }

  void OnDone() override { delete this; }

 private:
  ClientMessage in_;   // Only the reading side touches it.
  ServerMessage out_;  // Only the writing side (writing_ set) touches it.
  absl::Mutex mu_;
  ServerMessage pending_ ABSL_GUARDED_BY(mu_);
  bool opened_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
};

// TryAcquire: allowed, at once, on the calling thread.
grpc::ServerUnaryReactor* AnswerTryAcquire(grpc::CallbackServerContext* context,
                                           baton::v1::TryAcquireResponse* response) {
  response->set_allowed(true);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

class CallbackEcho final : public Echo::CallbackService {
 public:
  grpc::ServerBidiReactor<ClientMessage, ServerMessage>* Session(
      grpc::CallbackServerContext* /*context*/) override {
    return new CallbackSession();
  }
  grpc::ServerUnaryReactor* TryAcquire(grpc::CallbackServerContext* context,
                                       const baton::v1::TryAcquireRequest* /*request*/,
                                       baton::v1::TryAcquireResponse* response) override {
    return AnswerTryAcquire(context, response);
  }
};

// The completion-queue variant's service: Session and TryAcquire both on
// the queues, so that its unary calls measure the CQ API beside the
// callback variant's.
using CqEcho = Echo::WithAsyncMethod_Session<Echo::WithAsyncMethod_TryAcquire<Echo::Service>>;

// ---------------------------------------------------------------------------
// The completion-queue variant.

class CqSession;

// What a completion-queue tag points to: the stream and which of its
// operations completed.
struct CqTag {
  enum Kind { kAccept, kRead, kWrite, kFinish, kUnaryAccept, kUnaryFinish };
  CqSession* session;
  Kind kind;
  class CqUnary* unary = nullptr;  // set for the kUnary* kinds instead of session
};

// One TryAcquire call on a completion queue: accepted, answered allowed at
// once, deleted when its Finish completes. Each accepted call posts the
// next accept first.
class CqUnary {
 public:
  CqUnary(CqEcho* service, grpc::ServerCompletionQueue* cq) : service_(service), cq_(cq) {
    service_->RequestTryAcquire(&context_, &request_, &responder_, cq_, cq_, &accept_);
  }

  void Proceed(CqTag::Kind kind, bool ok) {
    if (kind == CqTag::kUnaryFinish || !ok) {  // done, or the server is shutting down
      delete this;
      return;
    }
    new CqUnary(service_, cq_);
    response_.set_allowed(true);
    responder_.Finish(response_, grpc::Status::OK, &finish_);
  }

 private:
  CqEcho* const service_;
  grpc::ServerCompletionQueue* const cq_;
  grpc::ServerContext context_;
  baton::v1::TryAcquireRequest request_;
  baton::v1::TryAcquireResponse response_;
  grpc::ServerAsyncResponseWriter<baton::v1::TryAcquireResponse> responder_{&context_};
  CqTag accept_{nullptr, CqTag::kUnaryAccept, this};
  CqTag finish_{nullptr, CqTag::kUnaryFinish, this};
};

// One stream, driven by the one thread that polls its completion queue: no
// lock. At most one read and one write are outstanding; Finish is called
// when neither is, after the client half-closed (or the call broke).
class CqSession {
 public:
  CqSession(CqEcho* service, grpc::ServerCompletionQueue* cq)
      : service_(service), cq_(cq) {
    service_->RequestSession(&context_, &stream_, cq_, cq_, &accept_);
  }

  void Proceed(CqTag::Kind kind, bool ok) {
    switch (kind) {
      case CqTag::kAccept:
        if (!ok) {  // The server is shutting down.
          delete this;
          return;
        }
        new CqSession(service_, cq_);  // The next stream to accept.
        StartRead();
        return;
      case CqTag::kRead:
        reading_ = false;
        if (!ok) {
          reads_done_ = true;
        } else {
          Answer(in_, !opened_, &pending_);
          opened_ = true;
          StartRead();
          if (!writing_) StartWrite();
        }
        MaybeFinish();
        return;
      case CqTag::kWrite:
        writing_ = false;
        if (!ok) write_failed_ = true;
        if (!write_failed_ && pending_.responses_size() > 0) StartWrite();
        MaybeFinish();
        return;
      case CqTag::kFinish:
        delete this;
        return;
      case CqTag::kUnaryAccept:
      case CqTag::kUnaryFinish:
        return;  // CqUnary's, never a session's
    }
  }

 private:
  void StartRead() {
    reading_ = true;
    stream_.Read(&in_, &read_);
  }
  void StartWrite() {
    out_.Swap(&pending_);
    pending_.Clear();
    writing_ = true;
    stream_.Write(out_, &write_);
  }
  void MaybeFinish() {
    if (!reads_done_ || reading_ || writing_ || finishing_) return;
    if (!write_failed_ && pending_.responses_size() > 0) {
      StartWrite();
      return;
    }
    finishing_ = true;
    stream_.Finish(grpc::Status::OK, &finish_);
  }

  CqEcho* const service_;
  grpc::ServerCompletionQueue* const cq_;
  grpc::ServerContext context_;
  grpc::ServerAsyncReaderWriter<ServerMessage, ClientMessage> stream_{&context_};
  CqTag accept_{this, CqTag::kAccept};
  CqTag read_{this, CqTag::kRead};
  CqTag write_{this, CqTag::kWrite};
  CqTag finish_{this, CqTag::kFinish};
  ClientMessage in_;
  ServerMessage out_;
  ServerMessage pending_;
  bool opened_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool reads_done_ = false;
  bool write_failed_ = false;
  bool finishing_ = false;
};

// Streams accepted ahead on each queue, so that a burst of new sessions does
// not wait for one accept at a time.
constexpr int kAcceptsAhead = 8;

void PollQueue(CqEcho* service, grpc::ServerCompletionQueue* cq) {
  for (int i = 0; i < kAcceptsAhead; ++i) {
    new CqSession(service, cq);
    new CqUnary(service, cq);
  }
  void* tag = nullptr;
  bool ok = false;
  while (cq->Next(&tag, &ok)) {
    CqTag* done = static_cast<CqTag*>(tag);
    if (done->unary != nullptr) {
      done->unary->Proceed(done->kind, ok);
    } else {
      done->session->Proceed(done->kind, ok);
    }
  }
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage("baton_echo_server --listen=HOST:PORT --api=callback|cq");
  absl::ParseCommandLine(argc, argv);
  // As batond does: Debian's Abseil is built without NDEBUG, so every
  // absl::Mutex lock (gRPC's own among them) would feed a deadlock-detection
  // graph, a cost batond does not pay and a floor must not either.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  const std::string api = absl::GetFlag(FLAGS_api);
  if (api != "callback" && api != "cq") {
    std::fprintf(stderr, "echo_server: --api must be callback or cq\n");
    return 2;
  }
  int threads = absl::GetFlag(FLAGS_threads);
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  // Signals are taken by sigwait below, not by any thread gRPC starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  grpc::ServerBuilder builder;
  const std::string listen = absl::GetFlag(FLAGS_listen);
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  CallbackEcho callback_service;
  CqEcho async_service;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues;
  if (api == "callback") {
    builder.RegisterService(&callback_service);
  } else {
    builder.RegisterService(&async_service);
    for (int i = 0; i < threads; ++i) queues.push_back(builder.AddCompletionQueue());
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "echo_server: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  std::vector<std::thread> pollers;
  for (auto& queue : queues) pollers.emplace_back(PollQueue, &async_service, queue.get());

  const std::string host = listen.substr(0, listen.rfind(':'));
  std::fprintf(stderr, "echo_server: listening on %s:%d (%s, %d threads)\n", host.c_str(), port,
               api.c_str(), api == "cq" ? threads : 0);
  std::fflush(stderr);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  // A benchmark baseline needs no graceful drain: streams still open are
  // cancelled, and the process ends without unwinding the pollers.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  std::fflush(stderr);
  std::_Exit(0);
}

}  // namespace
}  // namespace baton::bench

int main(int argc, char** argv) { return baton::bench::Main(argc, argv); }

// Copyright 2026 The Baton Authors.
//
// baton_scale_bench: how batond scales with sessions, instances and waiters
// (issue 6, the scale rows). It starts nothing: it talks to a running batond
// (--target_addr) over raw Session streams and reads that process's memory
// (VmRSS in /proc/--server_pid/status). bench/scale/run_scale.sh starts a
// suitable batond and runs it.
//
// Phases, in this order (each memory figure is an RSS delta of the server
// around its phase, read after --settle, the median of --samples readings;
// what a phase creates stays alive until the memory phases are over, so
// that no later phase reuses memory an earlier one freed):
//   1. idle sessions: --sessions Session streams over --channels channels
//      (TCP connections, sessions spread round-robin), each opening and
//      doing one Read of a PriorityLock (so its per-shard state exists on
//      that lock's shard), then idle. Delta / sessions.
//   2. idle instances: one session creates --instances PriorityLocks by an
//      acquire and a release of each (distinct names of 15 bytes, --batch
//      requests per ClientMessage, at most --window_messages messages
//      unanswered). batond must run with --idle_eviction=0. Delta / instances.
//   3. queued waiters: one session holds lock L; --waiter_sessions sessions
//      queue --waiters acquires on L between them (no timeout), each session
//      ending its acquires with a Read of L, whose answer says they are
//      queued (requests on one instance are applied in order). Delta /
//      waiters. batond's --max_pending_requests and --max_waits_per_session
//      (this program's --max_waits_per_session says what it is) must allow a
//      session's share. The waiter sessions are then cancelled, which
//      cancels their waits.
//   4. throughput: every session above is closed; then uncontended
//      PriorityLock acquire + release, one request in flight per session
//      (one lock per session), with --throughput_small sessions and then
//      --throughput_large, over the same channels and the same
//      --client_threads completion queues. An op is one request answered
//      (an acquire and its release are two), as in baton_loadgen.
//
// Output: one Markdown table on stdout (| measure | value | target | met? |),
// then the raw figures as a list. Progress on stderr. Exit status 1 when a
// phase failed or a request was answered with an unexpected error.
//
// Every wait is bounded (--phase_timeout); on a timeout the program says
// what it was waiting for and exits 1 without tearing gRPC down.

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "baton/v1/session.grpc.pb.h"
#include "bench/common/measure.h"
#include "grpcpp/grpcpp.h"

ABSL_FLAG(std::string, target_addr, "127.0.0.1:7070", "batond's address");
ABSL_FLAG(int, server_pid, 0, "batond's pid (required): its VmRSS is measured");
ABSL_FLAG(int, sessions, 10'000, "phase 1: idle sessions");
ABSL_FLAG(int, channels, 100, "gRPC channels (TCP connections) the sessions are spread over");
ABSL_FLAG(int, instances, 1'000'000, "phase 2: idle PriorityLocks created");
ABSL_FLAG(int, waiters, 1'000'000, "phase 3: acquires queued on one lock");
ABSL_FLAG(int, waiter_sessions, 100, "phase 3: sessions the waiters are spread over");
ABSL_FLAG(int64_t, max_waits_per_session, 50'000,
          "batond's --max_waits_per_session (not announced in SessionLimits): a session's share "
          "of the waiters must fit in it");
ABSL_FLAG(int, throughput_small, 100, "phase 4: sessions of the first run");
ABSL_FLAG(int, throughput_large, 10'000, "phase 4: sessions of the second run");
ABSL_FLAG(bool, only_throughput, false,
          "run phase 4 alone and print its rows (for a second batond, e.g. on completion queues)");
ABSL_FLAG(std::string, label, "",
          "appended to the throughput rows' measure, e.g. \", sessions on 8 completion queues\"");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2), "phase 4: run this long before measuring");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5), "phase 4: measure this long, each run");
ABSL_FLAG(absl::Duration, settle, absl::Seconds(2),
          "pause before reading the server's RSS");
ABSL_FLAG(int, samples, 5, "RSS readings (250 ms apart) after the pause; the median is kept");
ABSL_FLAG(int, batch, 1000, "requests per ClientMessage (phases 2 and 3)");
ABSL_FLAG(int, window_messages, 16, "phase 2: most ClientMessages unanswered");
ABSL_FLAG(int, client_threads, 0, "completion queues, one thread each; 0: one per core");
ABSL_FLAG(absl::Duration, phase_timeout, absl::Seconds(120), "the longest any wait may take");

namespace baton::bench {
namespace {

using v1::ClientMessage;
using v1::ServerMessage;
using Stream = grpc::ClientAsyncReaderWriter<ClientMessage, ServerMessage>;


// ---------------------------------------------------------------------------
// Errors, counted across threads.

std::atomic<int64_t> g_errors{0};
std::mutex g_error_mu;
std::string g_first_error;

void NoteError(const std::string& what) {
  if (g_errors.fetch_add(1) == 0) {
    std::lock_guard<std::mutex> lock(g_error_mu);
    g_first_error = what;
    std::fprintf(stderr, "scale_bench: first error: %s\n", what.c_str());
  }
}

std::string FirstError() {
  std::lock_guard<std::mutex> lock(g_error_mu);
  return g_first_error;
}

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "scale_bench: FAILED: %s\n", what.c_str());
  std::fflush(stderr);
  std::fflush(stdout);
  std::_Exit(1);  // gRPC is not torn down: calls may be mid-flight.
}

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// WaitUntil polls `done` every 10 ms for at most --phase_timeout; on a
// timeout the run fails, naming `what` and the progress `progress` reports.
void WaitUntil(const std::function<bool()>& done, const std::string& what,
               const std::function<std::string()>& progress = nullptr) {
  const auto deadline =
      std::chrono::steady_clock::now() +
      absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_phase_timeout));
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      Fail(absl::StrCat("timed out waiting for ", what, progress ? " (" + progress() + ")" : "",
                        g_errors.load() > 0 ? "; first error: " + FirstError() : ""));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// ---------------------------------------------------------------------------
// The server process.

// RssBytes is VmRSS of `pid`; -1 when it cannot be read.
int64_t RssBytes(int pid) {
  std::ifstream file(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(file, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      int64_t kib = -1;
      fields >> kib;
      return kib < 0 ? -1 : kib * 1024;
    }
  }
  return -1;
}

// SettledRss pauses --settle, then reads RSS --samples times, 250 ms apart,
// and returns the median (logging every reading).
int64_t SettledRss(int pid, const char* label) {
  std::this_thread::sleep_for(absl::ToChronoNanoseconds(absl::GetFlag(FLAGS_settle)));
  std::vector<int64_t> readings;
  const int samples = std::max(1, absl::GetFlag(FLAGS_samples));
  for (int i = 0; i < samples; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(250));
    const int64_t rss = RssBytes(pid);
    if (rss < 0) Fail(absl::StrCat("cannot read /proc/", pid, "/status: is batond running?"));
    readings.push_back(rss);
  }
  std::string shown;
  for (int64_t r : readings) absl::StrAppend(&shown, shown.empty() ? "" : " ", r / 1024);
  std::sort(readings.begin(), readings.end());
  const int64_t median = readings[readings.size() / 2];
  std::fprintf(stderr, "scale_bench: RSS %s: %.1f MiB (readings, KiB: %s)\n", label,
               static_cast<double>(median) / (1 << 20), shown.c_str());
  return median;
}

// ---------------------------------------------------------------------------
// A session: one Session stream, driven on a completion queue.

class Session;

struct Tag {
  enum Kind { kStart, kRead, kWrite, kFinish };
  Session* session;
  Kind kind;
};

// A group of sessions: counts those that ended.
struct Group {
  std::atomic<int> finished{0};
};

class Session {
 public:
  // Called on the session's queue thread for each ServerMessage, one at a
  // time; it may call Send.
  using Handler = std::function<void(Session&, ServerMessage&)>;

  Session(int index, v1::Baton::Stub* stub, grpc::CompletionQueue* cq, Group* group,
          Handler handler)
      : index_(index), stub_(stub), cq_(cq), group_(group), handler_(std::move(handler)) {}

  int index() const { return index_; }

  // Open starts the call; `first` (to which `open` is added here) is the
  // first message sent. Called once, before any Send.
  void Open(ClientMessage first) {
    v1::OpenSession* open = first.mutable_open();
    open->set_client_name("baton_scale_bench");
    open->mutable_lease()->set_seconds(3600);  // No heartbeats needed: batond clamps it.
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(first));
    }
    stream_ = stub_->PrepareAsyncSession(&context_, cq_);
    stream_->StartCall(&start_tag_);
  }

  // Send queues `message`; one write is in flight at a time. Thread-safe.
  void Send(ClientMessage message) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(message));
    FlushLocked();
  }

  // Cancel ends the call. Thread-safe.
  void Cancel() { context_.TryCancel(); }

  void Proceed(Tag::Kind kind, bool ok) {
    switch (kind) {
      case Tag::kStart: {
        std::lock_guard<std::mutex> lock(mu_);
        if (!ok) {
          reads_done_ = true;
          if (!cancelled_expected_) NoteError("a stream could not start");
          MaybeFinishLocked();
          return;
        }
        started_ = true;
        stream_->Read(&in_, &read_tag_);
        FlushLocked();
        return;
      }
      case Tag::kRead:
        if (!ok) {
          std::lock_guard<std::mutex> lock(mu_);
          reads_done_ = true;
          MaybeFinishLocked();
          return;
        }
        handler_(*this, in_);
        in_.Clear();
        stream_->Read(&in_, &read_tag_);
        return;
      case Tag::kWrite: {
        std::lock_guard<std::mutex> lock(mu_);
        writing_ = false;
        if (!ok) write_failed_ = true;
        FlushLocked();
        MaybeFinishLocked();
        return;
      }
      case Tag::kFinish:
        if (!status_.ok() && !cancelled_expected_.load()) {
          NoteError(absl::StrCat("a stream ended: ", status_.error_code(), " ",
                                 status_.error_message()));
        }
        group_->finished.fetch_add(1);
        return;
    }
  }

  // ExpectEnd says the coming end of the stream (a cancel) is no error.
  void ExpectEnd() { cancelled_expected_ = true; }

  // Counters for the handlers, touched only on the session's queue thread
  // (and read by the main thread once the session finished).
  int64_t ops = 0;
  int64_t answered = 0;

 private:
  void FlushLocked() {
    if (!started_ || writing_ || write_failed_ || reads_done_ || queue_.empty()) return;
    out_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    stream_->Write(out_, &write_tag_);
  }

  void MaybeFinishLocked() {
    if (!reads_done_ || writing_ || finishing_) return;
    finishing_ = true;
    if (!started_) {
      group_->finished.fetch_add(1);
      return;
    }
    stream_->Finish(&status_, &finish_tag_);
  }

  const int index_;
  v1::Baton::Stub* const stub_;
  grpc::CompletionQueue* const cq_;
  Group* const group_;
  const Handler handler_;

  grpc::ClientContext context_;
  std::unique_ptr<Stream> stream_;
  grpc::Status status_;
  Tag start_tag_{this, Tag::kStart};
  Tag read_tag_{this, Tag::kRead};
  Tag write_tag_{this, Tag::kWrite};
  Tag finish_tag_{this, Tag::kFinish};
  ServerMessage in_;
  std::atomic<bool> cancelled_expected_{false};

  std::mutex mu_;
  std::deque<ClientMessage> queue_;
  ClientMessage out_;  // The message being written.
  bool started_ = false;
  bool writing_ = false;
  bool write_failed_ = false;
  bool reads_done_ = false;
  bool finishing_ = false;
};

// ---------------------------------------------------------------------------
// The client: channels, stubs, completion queues. Sessions are never freed
// (the program exits with _Exit), so no tag outlives its session.

class Client {
 public:
  Client(const std::string& target, int channels, int threads) {
    for (int i = 0; i < channels; ++i) {
      grpc::ChannelArguments arguments;
      // Distinct channels get distinct connections.
      arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      channels_.push_back(
          grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), arguments));
      stubs_.push_back(v1::Baton::NewStub(channels_.back()));
    }
    for (int i = 0; i < threads; ++i) {
      queues_.push_back(std::make_unique<grpc::CompletionQueue>());
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

  // Connect waits for every channel to be connected.
  void Connect() {
    const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(10);
    for (size_t i = 0; i < channels_.size(); ++i) {
      if (!channels_[i]->WaitForConnected(deadline)) {
        Fail(absl::StrCat("channel ", i, " cannot connect to ",
                          absl::GetFlag(FLAGS_target_addr)));
      }
    }
  }

  // NewSession makes session `index`: channel index % channels, queue
  // index % threads. Not opened yet.
  Session* NewSession(int index, Group* group, Session::Handler handler) {
    sessions_.push_back(std::make_unique<Session>(
        index, stubs_[static_cast<size_t>(index) % stubs_.size()].get(),
        queues_[static_cast<size_t>(index) % queues_.size()].get(), group, std::move(handler)));
    return sessions_.back().get();
  }

  size_t channel_count() const { return channels_.size(); }

 private:
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<v1::Baton::Stub>> stubs_;
  std::vector<std::unique_ptr<grpc::CompletionQueue>> queues_;
  std::vector<std::thread> threads_;
  std::vector<std::unique_ptr<Session>> sessions_;
};

// CancelAll cancels `sessions` (of `group`) and waits until all ended.
void CancelAll(const std::vector<Session*>& sessions, Group* group, const std::string& what) {
  const int before = group->finished.load();
  for (Session* session : sessions) {
    session->ExpectEnd();
    session->Cancel();
  }
  const int want = before + static_cast<int>(sessions.size());
  WaitUntil([&] { return group->finished.load() >= want; }, what,
            [&] { return absl::StrCat(group->finished.load() - before, " of ", sessions.size(),
                                      " ended"); });
}

void AddRequest(ClientMessage* message, uint64_t id, const std::string& name) {
  v1::Request* request = message->add_requests();
  request->set_id(id);
  request->set_name(name);
  request->set_kind(v1::KIND_PRIORITY_LOCK);
}

void AddRead(ClientMessage* message, uint64_t id, const std::string& name) {
  AddRequest(message, id, name);
  message->mutable_requests(message->requests_size() - 1)->mutable_read();
}

void AddAcquire(ClientMessage* message, uint64_t id, const std::string& name) {
  AddRequest(message, id, name);
  message->mutable_requests(message->requests_size() - 1)->mutable_acquire();
}

void AddRelease(ClientMessage* message, uint64_t id, const std::string& name) {
  AddRequest(message, id, name);
  message->mutable_requests(message->requests_size() - 1)->mutable_release();
}

int StatusCode(const v1::Response& response) {
  return response.has_status() ? response.status().code() : 0;
}

std::string Describe(const v1::Response& response) {
  return absl::StrCat("request ", response.id(), ": ", StatusCode(response), " ",
                      response.status().message());
}

// SessionLimits seen in the first `opened`.
std::atomic<int64_t> g_max_pending{-1};

void NoteOpened(const ServerMessage& message) {
  if (message.has_opened()) {
    g_max_pending.store(message.opened().limits().max_pending_requests());
  }
}

// ---------------------------------------------------------------------------
// The phases.

struct Figures {
  // Phase 1.
  int64_t rss_start = 0, rss_sessions = 0;
  double open_seconds = 0;
  // Phase 2.
  int64_t rss_before_instances = 0, rss_instances = 0;
  double create_seconds = 0;
  // Phase 3.
  int64_t rss_before_waiters = 0, rss_waiters = 0;
  int64_t waiter_count_seen = 0;
  double queue_seconds = 0;
  // Phase 4.
  double small_ops = 0, large_ops = 0;
  double small_cpu_per_m = -1, large_cpu_per_m = -1;
  double large_open_seconds = 0;
};

std::string LockName(const char* prefix, int64_t i) { return absl::StrCat(prefix, i); }

// Phase 1: idle sessions.
std::vector<Session*> OpenIdleSessions(Client& client, Group* group, int count,
                                       std::atomic<int>* ready) {
  std::vector<Session*> sessions;
  for (int i = 0; i < count; ++i) {
    Session* session = client.NewSession(i, group, [ready](Session&, ServerMessage& message) {
      NoteOpened(message);
      for (const v1::Response& response : message.responses()) {
        if (StatusCode(response) != 0) NoteError(Describe(response));
        ready->fetch_add(1);
      }
    });
    ClientMessage first;
    // 16 locks: the sessions' per-shard state is spread over the shards.
    AddRead(&first, 1, LockName("scale/session/", i % 16));
    session->Open(std::move(first));
    sessions.push_back(session);
  }
  WaitUntil([&] { return ready->load() >= count; }, "the idle sessions to open",
            [&] { return absl::StrCat(ready->load(), " of ", count, " open"); });
  return sessions;
}

// Phase 2: one session creates `count` locks, acquire + release each.
class InstanceFeeder {
 public:
  InstanceFeeder(int count, int batch, int window_messages)
      : count_(count), per_message_(std::max(2, batch) / 2), window_(window_messages) {}

  void Attach(Session* session) { session_ = session; }

  // OnMessage counts answers and tops the window up.
  void OnMessage(ServerMessage& message) {
    NoteOpened(message);
    std::lock_guard<std::mutex> lock(mu_);
    for (const v1::Response& response : message.responses()) {
      if (StatusCode(response) != 0) NoteError(Describe(response));
      ++answered_;
    }
    TopUpLocked();
  }

  void Start() {
    std::lock_guard<std::mutex> lock(mu_);
    started_ = true;
    TopUpLocked();
  }

  bool done() {
    std::lock_guard<std::mutex> lock(mu_);
    return answered_ >= 2 * static_cast<int64_t>(count_);
  }
  std::string progress() {
    std::lock_guard<std::mutex> lock(mu_);
    return absl::StrCat(answered_, " of ", 2 * static_cast<int64_t>(count_), " answered");
  }

 private:
  void TopUpLocked() {
    if (!started_) return;  // The session's `opened` comes before Start.
    const int64_t window_requests = 2 * static_cast<int64_t>(per_message_) * window_;
    while (next_ < count_ && sent_ - answered_ < window_requests) {
      ClientMessage message;
      const int end = std::min(count_, next_ + per_message_);
      for (int i = next_; i < end; ++i) {
        // 15 bytes: the name fits std::string's inline buffer.
        const std::string name = absl::StrFormat("scale/i/%07d", i);
        AddAcquire(&message, 2 * static_cast<uint64_t>(i), name);
        AddRelease(&message, 2 * static_cast<uint64_t>(i) + 1, name);
      }
      sent_ += 2 * (end - next_);
      next_ = end;
      session_->Send(std::move(message));
    }
  }

  const int count_;
  const int per_message_;
  const int window_;
  Session* session_ = nullptr;
  std::mutex mu_;
  bool started_ = false;
  int next_ = 0;
  int64_t sent_ = 0;
  int64_t answered_ = 0;
};

// Phase 4: uncontended lock, one request in flight per session.
struct ThroughputRun {
  std::atomic<bool> stopping{false};
  std::atomic<int> ready{0};
  int64_t window_start = 0, window_end = 0;  // Written before the first acquire.
};

constexpr uint64_t kPrimeId = 1, kAcquireId = 2, kReleaseId = 3;

double RunThroughput(Client& client, int count, int index_base, Figures* figures, bool large,
                     int server_pid) {
  Group group;
  ThroughputRun run;
  std::vector<Session*> sessions;
  std::vector<std::string> names;
  names.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) names.push_back(LockName("scale/tp/", i));
  const int64_t start_open = NowNanos();
  for (int i = 0; i < count; ++i) {
    const std::string* name = &names[static_cast<size_t>(i)];
    Session* session = client.NewSession(
        index_base + i, &group, [&run, name](Session& self, ServerMessage& message) {
          for (const v1::Response& response : message.responses()) {
            if (StatusCode(response) != 0) NoteError(Describe(response));
            if (response.id() == kPrimeId) {
              run.ready.fetch_add(1);
              continue;
            }
            const int64_t now = NowNanos();
            if (now >= run.window_start && now < run.window_end) ++self.ops;
            if (run.stopping.load(std::memory_order_relaxed)) continue;
            ClientMessage next;
            if (response.id() == kAcquireId && StatusCode(response) == 0) {
              AddRelease(&next, kReleaseId, *name);
            } else {
              AddAcquire(&next, kAcquireId, *name);
            }
            self.Send(std::move(next));
          }
        });
    ClientMessage first;
    AddRead(&first, kPrimeId, *name);  // Creates the lock and the per-shard state.
    session->Open(std::move(first));
    sessions.push_back(session);
  }
  WaitUntil([&] { return run.ready.load() >= count; },
            absl::StrCat("the ", count, " throughput sessions to open"),
            [&] { return absl::StrCat(run.ready.load(), " open"); });
  if (large) figures->large_open_seconds = static_cast<double>(NowNanos() - start_open) / 1e9;
  const int64_t warmup = absl::ToInt64Nanoseconds(absl::GetFlag(FLAGS_warmup));
  const int64_t duration = absl::ToInt64Nanoseconds(absl::GetFlag(FLAGS_duration));
  run.window_start = NowNanos() + warmup;
  run.window_end = run.window_start + duration;
  for (size_t i = 0; i < sessions.size(); ++i) {
    ClientMessage message;
    AddAcquire(&message, kAcquireId, names[i]);
    sessions[i]->Send(std::move(message));
  }
  std::this_thread::sleep_for(std::chrono::nanoseconds(run.window_start - NowNanos()));
  const double cpu_before = ProcessCpuSeconds(server_pid);
  std::this_thread::sleep_for(std::chrono::nanoseconds(run.window_end - NowNanos()));
  const double cpu_after = ProcessCpuSeconds(server_pid);
  run.stopping.store(true);
  CancelAll(sessions, &group, absl::StrCat("the ", count, " throughput sessions to end"));
  int64_t ops = 0;
  for (Session* session : sessions) ops += session->ops;
  const double rate = static_cast<double>(ops) / (static_cast<double>(duration) / 1e9);
  const double cpu_per_m =
      ops > 0 ? (cpu_after - cpu_before) / static_cast<double>(ops) * 1e6 : -1;
  (large ? figures->large_cpu_per_m : figures->small_cpu_per_m) = cpu_per_m;
  std::fprintf(stderr, "scale_bench: throughput, %d sessions: %.0f ops/s (%lld ops), server CPU "
               "%.2f s per 1M ops\n", count, rate, static_cast<long long>(ops), cpu_per_m);
  return rate;
}

std::string Bytes(double bytes) {
  if (bytes >= 10 * 1024.0 * 1024) return absl::StrFormat("%.0f MiB", bytes / (1 << 20));
  if (bytes >= 10 * 1024.0) return absl::StrFormat("%.1f KiB", bytes / 1024);
  return absl::StrFormat("%.0f B", bytes);
}

std::string Count(int64_t n) {
  std::string digits = absl::StrCat(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

const char* Met(bool met) { return met ? "yes" : "no"; }

// ExitWithErrors() prints the error count (and the first error) as the last
// line, and exits: 1 when there was an error.
[[noreturn]] void ExitWithErrors() {
  std::printf("- errors: %lld%s\n", static_cast<long long>(g_errors.load()),
              g_errors.load() > 0 ? (" (first: " + FirstError() + ")").c_str() : "");
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(g_errors.load() > 0 ? 1 : 0);
}

// The throughput rows of the table (phase 4), with --label after each measure.
void PrintThroughputRows(const Figures& f, int small, int large) {
  const std::string label = absl::GetFlag(FLAGS_label);
  const double ratio = f.small_ops > 0 ? f.large_ops / f.small_ops : 0;
  std::printf("| lock acquire+release, %s sessions × 1 in flight%s | %.0f ops/s | – | – |\n",
              Count(small).c_str(), label.c_str(), f.small_ops);
  std::printf("| lock acquire+release, %s sessions × 1 in flight%s | %.0f ops/s | – | – |\n",
              Count(large).c_str(), label.c_str(), f.large_ops);
  std::printf("| throughput %s sessions / %s sessions%s | %.2f | ≥ 0.90 | %s |\n",
              Count(large).c_str(), Count(small).c_str(), label.c_str(), ratio,
              Met(ratio >= 0.9));
}

void PrintThroughputNote(const Figures& f, int small, int large, int channels, int threads) {
  std::printf("- throughput%s: an op is one request answered (acquire and release are two); "
              "warm-up %s, measured %s; %d channels, %d client threads; server CPU %.2f s per "
              "1M ops (%s sessions) vs %.2f (%s)\n",
              absl::GetFlag(FLAGS_label).c_str(),
              absl::FormatDuration(absl::GetFlag(FLAGS_warmup)).c_str(),
              absl::FormatDuration(absl::GetFlag(FLAGS_duration)).c_str(), channels, threads,
              f.small_cpu_per_m, Count(small).c_str(), f.large_cpu_per_m, Count(large).c_str());
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "baton_scale_bench --target_addr=HOST:PORT --server_pid=PID [--sessions=N ...]");
  absl::ParseCommandLine(argc, argv);
  const int server_pid = absl::GetFlag(FLAGS_server_pid);
  if (server_pid <= 0) Fail("--server_pid is required");
  if (RssBytes(server_pid) < 0) Fail(absl::StrCat("cannot read /proc/", server_pid, "/status"));
  const int sessions = std::max(1, absl::GetFlag(FLAGS_sessions));
  const int instances = std::max(1, absl::GetFlag(FLAGS_instances));
  const int waiters = std::max(1, absl::GetFlag(FLAGS_waiters));
  const int waiter_sessions = std::clamp(absl::GetFlag(FLAGS_waiter_sessions), 1, waiters);
  const int batch = std::clamp(absl::GetFlag(FLAGS_batch), 2, 1'000'000);
  const int small = std::max(1, absl::GetFlag(FLAGS_throughput_small));
  const int large = std::max(1, absl::GetFlag(FLAGS_throughput_large));
  const int channels = std::max(1, absl::GetFlag(FLAGS_channels));
  int threads = absl::GetFlag(FLAGS_client_threads);
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int per_waiter_session = (waiters + waiter_sessions - 1) / waiter_sessions;
  if (per_waiter_session > absl::GetFlag(FLAGS_max_waits_per_session)) {
    Fail(absl::StrCat(per_waiter_session, " waits per session exceed --max_waits_per_session=",
                      absl::GetFlag(FLAGS_max_waits_per_session),
                      ": raise --waiter_sessions, or both it and batond's flag"));
  }

  Figures f;
  Client client(absl::GetFlag(FLAGS_target_addr), channels, threads);
  if (absl::GetFlag(FLAGS_only_throughput)) {
    client.Connect();
    std::fprintf(stderr, "scale_bench: throughput alone, %d sessions then %d, %d client threads\n",
                 small, large, threads);
    f.small_ops = RunThroughput(client, small, 0, &f, false, server_pid);
    f.large_ops = RunThroughput(client, large, 0, &f, true, server_pid);
    PrintThroughputRows(f, small, large);
    std::printf("\n");
    PrintThroughputNote(f, small, large, static_cast<int>(client.channel_count()), threads);
    ExitWithErrors();
  }
  // Connections are part of what the sessions cost: connect after the
  // first reading.
  f.rss_start = SettledRss(server_pid, "at start");
  client.Connect();

  // 1. Idle sessions.
  std::fprintf(stderr, "scale_bench: 1. opening %d idle sessions over %d channels\n", sessions,
               channels);
  Group idle_group;
  std::atomic<int> idle_ready{0};
  int64_t t0 = NowNanos();
  std::vector<Session*> idle = OpenIdleSessions(client, &idle_group, sessions, &idle_ready);
  f.open_seconds = static_cast<double>(NowNanos() - t0) / 1e9;
  f.rss_sessions = SettledRss(server_pid, "with the idle sessions");
  if (g_max_pending.load() >= 0 && g_max_pending.load() < per_waiter_session + 1) {
    Fail(absl::StrCat("batond's max_pending_requests (", g_max_pending.load(),
                      ") is below a waiter session's share (", per_waiter_session + 1,
                      "): raise it or --waiter_sessions"));
  }

  // 2. Idle instances.
  std::fprintf(stderr, "scale_bench: 2. creating %d PriorityLocks\n", instances);
  Group instance_group;
  InstanceFeeder feeder(instances, batch, std::max(1, absl::GetFlag(FLAGS_window_messages)));
  std::atomic<bool> instance_open{false};
  Session* creator = client.NewSession(
      0, &instance_group, [&feeder, &instance_open](Session&, ServerMessage& message) {
        if (message.has_opened()) instance_open.store(true);
        feeder.OnMessage(message);
      });
  feeder.Attach(creator);
  creator->Open(ClientMessage());
  WaitUntil([&] { return instance_open.load(); }, "the instance session to open");
  f.rss_before_instances = SettledRss(server_pid, "before the instances");
  t0 = NowNanos();
  feeder.Start();
  WaitUntil([&] { return feeder.done(); }, "the instances to be created",
            [&] { return feeder.progress(); });
  f.create_seconds = static_cast<double>(NowNanos() - t0) / 1e9;
  f.rss_instances = SettledRss(server_pid, "with the instances");

  // 3. Queued waiters.
  std::fprintf(stderr, "scale_bench: 3. queueing %d acquires on one lock from %d sessions\n",
               waiters, waiter_sessions);
  const std::string lock_name = "scale/waited";
  Group waiter_group;
  std::atomic<bool> held{false};
  Session* holder = client.NewSession(0, &waiter_group, [&held](Session&, ServerMessage& message) {
    for (const v1::Response& response : message.responses()) {
      if (StatusCode(response) != 0) {
        NoteError(Describe(response));
      } else {
        held.store(true);
      }
    }
  });
  {
    ClientMessage first;
    AddAcquire(&first, 1, lock_name);
    holder->Open(std::move(first));
  }
  WaitUntil([&] { return held.load(); }, "the holder to hold the lock");
  // Ids: 0 the opening Read, 1..n the acquires, n+1 the closing Read.
  std::atomic<int> waiter_open{0}, waiter_queued{0};
  std::atomic<int64_t> acquires_answered{0}, waiter_count_seen{0};
  std::vector<Session*> waiting;
  std::vector<int> shares;
  for (int s = 0; s < waiter_sessions; ++s) {
    const int share = std::min(per_waiter_session, waiters - s * per_waiter_session);
    if (share <= 0) break;
    shares.push_back(share);
    const uint64_t closing_id = static_cast<uint64_t>(share) + 1;
    Session* session = client.NewSession(
        s, &waiter_group,
        [&, closing_id](Session&, ServerMessage& message) {
          for (const v1::Response& response : message.responses()) {
            if (StatusCode(response) != 0) NoteError(Describe(response));
            if (response.id() == 0) {
              waiter_open.fetch_add(1);
            } else if (response.id() == closing_id) {
              const int64_t seen = response.state().waiter_count();
              int64_t max = waiter_count_seen.load();
              while (seen > max && !waiter_count_seen.compare_exchange_weak(max, seen)) {
              }
              waiter_queued.fetch_add(1);
            } else {
              acquires_answered.fetch_add(1);
            }
          }
        });
    ClientMessage first;
    AddRead(&first, 0, lock_name);
    session->Open(std::move(first));
    waiting.push_back(session);
  }
  const int waiting_count = static_cast<int>(waiting.size());
  WaitUntil([&] { return waiter_open.load() >= waiting_count; }, "the waiter sessions to open",
            [&] { return absl::StrCat(waiter_open.load(), " of ", waiting_count, " open"); });
  f.rss_before_waiters = SettledRss(server_pid, "before the waiters");
  t0 = NowNanos();
  for (int s = 0; s < waiting_count; ++s) {
    // Requests 1..share are the acquires, share + 1 the closing Read; at
    // most `batch` per message.
    const int share = shares[static_cast<size_t>(s)];
    for (int i = 1; i <= share + 1; i += batch) {
      ClientMessage message;
      const int end = std::min(share + 2, i + batch);
      for (int id = i; id < end; ++id) {
        if (id <= share) {
          AddAcquire(&message, static_cast<uint64_t>(id), lock_name);
        } else {
          AddRead(&message, static_cast<uint64_t>(id), lock_name);
        }
      }
      waiting[static_cast<size_t>(s)]->Send(std::move(message));
    }
  }
  WaitUntil([&] { return waiter_queued.load() >= waiting_count; }, "the waits to be queued",
            [&] { return absl::StrCat(waiter_queued.load(), " of ", waiting_count,
                                      " sessions queued"); });
  f.queue_seconds = static_cast<double>(NowNanos() - t0) / 1e9;
  f.waiter_count_seen = waiter_count_seen.load();
  if (acquires_answered.load() > 0) {
    NoteError(absl::StrCat(acquires_answered.load(), " queued acquires were answered"));
  }
  if (f.waiter_count_seen != waiters) {
    NoteError(absl::StrCat("the lock's waiter_count is ", f.waiter_count_seen, ", not ", waiters));
  }
  f.rss_waiters = SettledRss(server_pid, "with the waiters");
  std::fprintf(stderr, "scale_bench: cancelling the waiter sessions\n");
  CancelAll(waiting, &waiter_group, "the waiter sessions to end");
  CancelAll({holder}, &waiter_group, "the holder to end");

  // 4. Throughput.
  CancelAll(idle, &idle_group, "the idle sessions to end");
  CancelAll({creator}, &instance_group, "the instance session to end");
  std::fprintf(stderr, "scale_bench: 4. throughput, %d sessions then %d, %d client threads\n",
               small, large, threads);
  f.small_ops = RunThroughput(client, small, 0, &f, false, server_pid);
  f.large_ops = RunThroughput(client, large, 0, &f, true, server_pid);

  // The table.
  const double per_session =
      static_cast<double>(f.rss_sessions - f.rss_start) / static_cast<double>(sessions);
  const double per_instance = static_cast<double>(f.rss_instances - f.rss_before_instances) /
                              static_cast<double>(instances);
  const double waiters_delta = static_cast<double>(f.rss_waiters - f.rss_before_waiters);
  const double per_waiter = waiters_delta / static_cast<double>(waiters);
  // The 1 GiB target is for 1,000,000 waiters; scaled when fewer are run.
  const double waiter_budget = 1024.0 * 1024 * 1024 * waiters / 1e6;
  const int per_channel = (sessions + channels - 1) / channels;

  std::printf("| measure | value | target | met? |\n");
  std::printf("| --- | ---: | ---: | --- |\n");
  std::printf("| memory per idle session (%s sessions, %d per connection, one Read each) | %s "
              "| ≤ 32 KiB | %s |\n",
              Count(sessions).c_str(), per_channel, Bytes(per_session).c_str(),
              Met(per_session <= 32 * 1024));
  std::printf("| memory per idle instance (%s PriorityLocks, 15-byte names) | %s | ≤ 200 B | %s |\n",
              Count(instances).c_str(), Bytes(per_instance).c_str(), Met(per_instance <= 200));
  std::printf("| memory per queued waiter (%s acquires on one lock, %d sessions) | %s | ≤ 256 B "
              "| %s |\n",
              Count(waiters).c_str(), waiting_count, Bytes(per_waiter).c_str(),
              Met(per_waiter <= 256));
  std::printf("| %s queued waiters: RSS delta (server total) | %s (%s) | ≤ %s | %s |\n",
              Count(waiters).c_str(), Bytes(waiters_delta).c_str(),
              Bytes(static_cast<double>(f.rss_waiters)).c_str(),
              waiters == 1'000'000 ? "1 GiB" : Bytes(waiter_budget).c_str(),
              Met(waiters_delta <= waiter_budget));
  PrintThroughputRows(f, small, large);
  std::printf("\n");
  const auto mib = [](int64_t bytes) { return static_cast<double>(bytes) / (1 << 20); };
  std::printf("- server RSS (MiB, medians of %d readings after %s): at start %.1f; with %s idle "
              "sessions %.1f; before the instances %.1f, with them %.1f; before the waiters "
              "%.1f, with them %.1f\n",
              std::max(1, absl::GetFlag(FLAGS_samples)),
              absl::FormatDuration(absl::GetFlag(FLAGS_settle)).c_str(), mib(f.rss_start),
              Count(sessions).c_str(), mib(f.rss_sessions), mib(f.rss_before_instances),
              mib(f.rss_instances), mib(f.rss_before_waiters), mib(f.rss_waiters));
  std::printf("- times: %s sessions opened in %.1f s; %s locks created in %.1f s (%.0f requests/s); "
              "%s acquires queued in %.1f s; %s throughput sessions opened in %.1f s\n",
              Count(sessions).c_str(), f.open_seconds, Count(instances).c_str(), f.create_seconds,
              2.0 * instances / std::max(f.create_seconds, 1e-9), Count(waiters).c_str(),
              f.queue_seconds, Count(large).c_str(), f.large_open_seconds);
  std::printf("- the lock's waiter_count read after queueing: %s\n",
              Count(f.waiter_count_seen).c_str());
  PrintThroughputNote(f, small, large, static_cast<int>(client.channel_count()), threads);
  ExitWithErrors();
}

}  // namespace
}  // namespace baton::bench

int main(int argc, char** argv) { return baton::bench::Main(argc, argv); }

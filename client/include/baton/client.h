// Copyright 2026 The Baton Authors.
//
// The Baton C++ client: a remote lock, semaphore, latch, condition or rate
// limit that feels local. One Client is one session with a batond: every
// operation of every handle travels on its one stream, and what is issued in
// the same instant goes out in one message.
//
// Clusters (batond --cluster_etcd): connected to any node, the client learns
// the members from it (Admin.Cluster) and sends each operation straight to
// the node that owns its name, on one session per node, opened on first
// use. A node that is not the owner answers with a redirect, which the
// client follows (and refreshes its member list); while a name is handed
// over between nodes it retries, within the operation's timeout and
// ClientOptions::handoff_timeout. Every hold belongs to the session of its
// node: a node that fails or leaves makes its holds lost, as below; holds
// on the other nodes are kept. Against a batond that runs alone nothing of
// this runs.
//
// Example (a coroutine of yours):
//   auto client = baton::Client::Connect({.address = "127.0.0.1:7070"});
//   if (!client.ok()) return client.status();
//   baton::PriorityLock lock(client->get(), "jobs/nightly");
//   absl::StatusOr<baton::Hold> hold = co_await lock.Acquire();
//   if (!hold.ok()) co_return hold.status();
//   ... write to storage, tagging each write with hold->fence() ...
//   co_await hold->Release();     // or let ~Hold release it
//
// And from a plain thread, every operation also has a blocking form:
//   absl::StatusOr<baton::Hold> hold = lock.Acquire().Wait();
//
// Threads: a Client is safe to use from any number of threads at once.
// Coroutines awaiting an operation resume on the client's dispatcher thread
// (one per Client), never on a gRPC thread and never inside the call that
// issued the operation; set ClientOptions::executor to resume them on an
// executor of yours instead. Callbacks (Hold::OnLost, ClientOptions::
// on_lease_lost) run in the same place. Wait() blocks the calling thread;
// calling it on the dispatcher thread itself is refused (it would deadlock).
//
// Owners: a lock is held by an owner, the pair (session, owner key). Every
// operation acts for the client's default owner key (ClientOptions::
// owner_key) unless its handle was given another (WithOwner) or the call
// sets CallOptions::owner_key. Two coroutines of one process that should
// exclude each other through a reentrant lock (RLock, PriorityRLock) must use
// two owner keys: with one key, the second acquire is a re-entry and is
// granted at once. Semaphore permits and rate-limit tokens belong to the
// session, whatever the owner key.
//
// Leases: the session is a lease. When it ends (the server restarted or is
// unreachable past its keepalive, the lease expired, the server drained),
// every Hold learns it at once (Hold::lost(), Hold::OnLost, co_await
// Hold::Lost()), every pending operation fails UNAVAILABLE, and the next
// operation opens a new session, retrying with backoff. Holds are never
// re-acquired behind the caller's back: between the old session's end and a
// new acquire, someone else may have held the lock and changed what it
// guards; only the caller can decide whether its work is still valid. A hold
// the server takes away (a semaphore Reset, an admin Delete) is lost the same
// way.

#ifndef BATON_CLIENT_INCLUDE_BATON_CLIENT_H_
#define BATON_CLIENT_INCLUDE_BATON_CLIENT_H_

#include <coroutine>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "baton/task.h"

namespace baton {

class Hold;

namespace internal {
class ClientImpl;
class Call;
struct HoldState;
Hold MakeHold(std::shared_ptr<HoldState> state);
}  // namespace internal

// Executor runs a function, now or later, on some thread of the caller's.
using Executor = std::function<void(absl::AnyInvocable<void()>)>;

// TLS to batond (batond --tls_cert_file). Nothing set: plaintext. Each PEM
// comes from a file or from text (the text wins), read once by Connect(): a
// process that outlives its client certificate makes a new Client.
struct TlsOptions {
  // TLS even when nothing below is set (the system's CAs then verify batond).
  bool enabled = false;
  // The CAs that signed batond's certificate. Empty: the system's CAs.
  std::string ca_file;
  std::string ca_pem;
  // The client's certificate chain and private key, for a batond that asks
  // for one (--tls_client_ca_file: mTLS). Both or neither.
  std::string cert_file;
  std::string cert_pem;
  std::string key_file;
  std::string key_pem;
  // The name batond's certificate must carry, when it is not the host of
  // ClientOptions::address (a tunnel, a test, a pod reached by IP).
  std::string server_name;

  bool on() const {
    return enabled || !ca_file.empty() || !ca_pem.empty() || !cert_file.empty() ||
           !cert_pem.empty() || !key_file.empty() || !key_pem.empty() || !server_name.empty();
  }
};

struct ClientOptions {
  // host:port of batond; in a cluster, of any node.
  std::string address = "127.0.0.1:7070";
  // In a cluster: more nodes, tried in turn by Connect() when `address`
  // cannot be reached (then options().address names the one reached).
  std::vector<std::string> seeds;
  // TLS or mTLS; plaintext when tls.on() is false.
  TlsOptions tls;
  // The bearer token for a batond with --auth_file, sent as
  // "authorization: Bearer <token>" on every call; empty: none. Printable
  // ASCII without spaces (Connect() fails INVALID_ARGUMENT otherwise).
  std::string token;
  // For humans: shown by `baton describe` and batond's logs.
  std::string client_name;
  // The default owner key. Empty: "<hostname>:<pid>".
  std::string owner_key;
  // How long Connect() and a reconnect may take before failing UNAVAILABLE.
  absl::Duration connect_timeout = absl::Seconds(5);
  // HTTP/2 keepalive pings: a dead server is noticed within about twice this.
  absl::Duration keepalive = absl::Seconds(5);
  // The lease asked of the server; zero: the server's default. The client
  // sends a heartbeat every lease / 3 when it has nothing else to send.
  absl::Duration lease = absl::ZeroDuration();
  // The timeout of waits whose call sets none. Infinite: wait until granted.
  absl::Duration default_timeout = absl::InfiniteDuration();
  // In a cluster: how long a request is sent again while its name is being
  // handed over between nodes (the owner answers UNAVAILABLE, or cannot be
  // reached) before it fails UNAVAILABLE; a wait's timeout bounds it too,
  // and a try-once (timeout zero) is not sent again.
  absl::Duration handoff_timeout = absl::Seconds(15);
  // Where coroutines resume and callbacks run; empty: the client's own
  // dispatcher thread.
  Executor executor;
  // Called once per session that ends while the client is in use, with why.
  std::function<void(const absl::Status&)> on_lease_lost;
};

// Per-call options; every field may be left out.
struct CallOptions {
  // The owner this call acts for; absent: the handle's, or the client's.
  std::optional<std::string> owner_key;
  // Waits: absent is ClientOptions::default_timeout; zero tries once; a
  // positive timeout gives up with DEADLINE_EXCEEDED after that long.
  std::optional<absl::Duration> timeout;
  // Waits: a stop request cancels the wait (CANCELLED). A grant that crossed
  // the cancel on the wire is released by the library.
  std::stop_token stop;
};

// Op<T> is one operation, not yet sent: a C++20 awaitable (co_await it in a
// coroutine) or, with Wait(), a blocking call. It is sent when first awaited
// (or waited on), and may be awaited once. Dropping it unsent sends nothing.
template <typename T>
class [[nodiscard]] Op {
 public:
  using Convert = absl::StatusOr<T> (*)(internal::Call& call);
  Op(std::shared_ptr<internal::Call> call, Convert convert)
      : call_(std::move(call)), convert_(convert) {}
  Op(Op&&) noexcept = default;
  Op& operator=(Op&&) noexcept = default;

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> handle);
  absl::StatusOr<T> await_resume() { return convert_(*call_); }

  // Wait() sends the operation and blocks until it is answered.
  absl::StatusOr<T> Wait() &&;

 private:
  std::shared_ptr<internal::Call> call_;
  Convert convert_;
};

// Nothing: what an operation answers when all it says is "done".
struct Done {};

// Hold is what an acquire grants: a lock held, a semaphore permit, a
// condition's lock. Destroying a Hold that is still held releases it (sent
// without waiting); Release() does so and waits for the answer; Detach()
// keeps it held beyond the Hold (release it later through the handle).
class Hold {
 public:
  Hold() = default;
  Hold(Hold&& other) noexcept = default;
  Hold& operator=(Hold&& other) noexcept;
  Hold(const Hold&) = delete;
  Hold& operator=(const Hold&) = delete;
  ~Hold();

  // The fencing token of the hold: larger than every fence this instance
  // granted before (across server restarts too). Tag writes with it so that a
  // downstream store can refuse a stale holder.
  std::uint64_t fence() const;
  const std::string& name() const;
  // held() is true until released, detached or lost.
  bool held() const;

  // lost() is true once the hold was taken away: the session ended, or the
  // server revoked it. lost_reason() says why (OK while not lost).
  bool lost() const;
  absl::Status lost_reason() const;
  // OnLost() calls `callback(reason)` once, when the hold is lost (at once,
  // on the executor, if it already is). Not called after a release.
  void OnLost(absl::AnyInvocable<void(const absl::Status&)> callback);
  // Lost() is an awaitable that completes (with the reason) when the hold is
  // lost; it never completes after a release. Any number may wait.
  class LostAwaitable;
  LostAwaitable Lost();

  // Release() gives the hold back and reports the server's answer. A hold
  // already released, detached or lost answers OK at once without a call.
  Op<Done> Release();
  // Detach() forgets the hold without releasing it.
  void Detach();

 private:
  friend Hold internal::MakeHold(std::shared_ptr<internal::HoldState> state);
  explicit Hold(std::shared_ptr<internal::HoldState> state) : state_(std::move(state)) {}
  std::shared_ptr<internal::HoldState> state_;
};

class Hold::LostAwaitable {
 public:
  explicit LostAwaitable(std::shared_ptr<internal::HoldState> state)
      : state_(std::move(state)) {}
  bool await_ready() const;
  bool await_suspend(std::coroutine_handle<> handle);
  absl::Status await_resume() const;

 private:
  std::shared_ptr<internal::HoldState> state_;
};

// What a rate limit's acquire answers (a refusal is an answer, not an error).
struct RateDecision {
  bool granted = false;
  // Granted: tokens left in the bucket after the grant.
  double tokens_left = 0;
  // Refused by a try-once (timeout 0): how long until it could be granted.
  absl::Duration retry_after = absl::ZeroDuration();
};

// What a condition wait answers; either way the lock is held again.
struct ConditionWake {
  bool notified = false;  // false: timed out or cancelled
  std::uint64_t fence = 0;
};

// What can be read of an instance (the fields of its kind; others default).
struct InstanceState {
  bool locked = false;
  bool is_owner = false;
  std::int64_t waiters = 0;
  std::optional<std::uint64_t> owner_session;
  std::string owner_key;
  std::uint64_t last_fence = 0;
  // Rate limit.
  double tokens = 0, rate = 0, capacity = 0;
  bool fair = true;
  // Semaphores.
  std::int64_t available = 0, held = 0, session_permits = 0, bound = 0, pool = 0;
  // Latch.
  bool broken = false;
  std::map<std::string, std::int64_t> counts;
};

class Client {
 public:
  // Connect() opens a session with the server at options.address, or fails
  // INVALID_ARGUMENT naming the option when options.tls cannot be read, or
  // UNAVAILABLE after options.connect_timeout.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(ClientOptions options);
  ~Client();  // ends the session: everything it holds is released
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // The session's id and the server's epoch (0 while reconnecting); in a
  // cluster, those of the session with the node at options().address.
  std::uint64_t session_id() const;
  std::uint64_t server_epoch() const;
  const ClientOptions& options() const;

  // Heartbeat-free liveness: true while a session is open (in a cluster,
  // the one with the node at options().address).
  bool connected() const;

  // In a cluster: the members the client routes by now (node id and
  // address, ascending ids); empty for a batond that runs alone.
  std::vector<std::pair<std::string, std::string>> members() const;

  internal::ClientImpl& impl() { return *impl_; }

 private:
  explicit Client(std::shared_ptr<internal::ClientImpl> impl);
  std::shared_ptr<internal::ClientImpl> impl_;
};

// The handles: one per named instance, cheap to copy, all sharing the
// client. Each is created on the server on first use with its kind's
// defaults (a rate limit and a latch must be declared first: Declare()).
// Their operations mirror the seed API (SEMANTICS.md).

class Handle {
 public:
  const std::string& name() const { return name_; }

 protected:
  Handle(Client* client, std::string name, int kind)
      : client_(client), name_(std::move(name)), kind_(kind) {}
  // NewCall() starts the call of one request on this handle.
  std::shared_ptr<internal::Call> NewCall(const CallOptions& options) const;

  Client* client_;
  std::string name_;
  int kind_;  // baton.v1.Kind
  std::optional<std::string> owner_key_;
};

// AdvancedRateLimit: a token bucket shared by every replica of a service.
class RateLimiter : public Handle {
 public:
  RateLimiter(Client* client, std::string name);
  // Declare() creates it (rate tokens/s, capacity: absent = rate, fair or
  // "waiters can cut the queue"), or checks it exists as declared.
  Op<Done> Declare(double rate, std::optional<double> capacity = std::nullopt,
                   bool fair = true);
  // Acquire() waits for `tokens`; with timeout 0 it answers at once. A
  // refusal (timeout 0, or a positive timeout run out) is granted = false,
  // with retry_after for timeout 0.
  Op<RateDecision> Acquire(double tokens = 1, CallOptions options = {});
  Op<Done> Release(double tokens = 1);
  Op<Done> SetRate(double rate);
  Op<InstanceState> Read();
  Op<bool> Locked();
};

// DynamicBoundedSemaphore: a FIFO semaphore whose bound changes live.
class DynamicBoundedSemaphore : public Handle {
 public:
  DynamicBoundedSemaphore(Client* client, std::string name);
  Op<Done> Declare(std::int64_t value = 1);
  Op<Hold> Acquire(CallOptions options = {});
  Op<Done> Release();
  Op<Done> SetBound(std::int64_t bound);
  Op<std::int64_t> Bound();
  Op<InstanceState> Read();
};

// PrioritySemaphore: a counting semaphore served by priority, then arrival.
class PrioritySemaphore : public Handle {
 public:
  PrioritySemaphore(Client* client, std::string name);
  Op<Done> Declare(std::int64_t value = 1);
  Op<Hold> Acquire(std::int64_t priority = 0, CallOptions options = {});
  Op<Done> Release(bool strict = true);
  Op<Done> Reset();
  Op<bool> Locked();
  Op<InstanceState> Read();
};

// The three mutexes: PriorityLock (not reentrant), PriorityRLock and RLock
// (reentrant; RLock is FIFO).
class PriorityLock : public Handle {
 public:
  PriorityLock(Client* client, std::string name);
  PriorityLock WithOwner(std::string owner_key) const;
  Op<Hold> Acquire(std::int64_t priority = 0, CallOptions options = {});
  Op<Done> Release(CallOptions options = {});
  Op<bool> Locked();
  Op<bool> IsOwner(CallOptions options = {});
  Op<InstanceState> Read(CallOptions options = {});

 protected:
  PriorityLock(Client* client, std::string name, int kind);
};

class PriorityRLock : public PriorityLock {
 public:
  PriorityRLock(Client* client, std::string name);
  PriorityRLock WithOwner(std::string owner_key) const;
  // Owner() is the holder's owner key, or nullopt when free.
  Op<std::optional<std::string>> Owner();
};

class RLock : public PriorityLock {
 public:
  RLock(Client* client, std::string name);
  RLock WithOwner(std::string owner_key) const;
  Op<Hold> Acquire(CallOptions options = {});
  Op<std::optional<std::string>> Owner();
};

// KeyedCondition: a condition variable over a lock of its own, waiters
// grouped by key.
class KeyedCondition : public Handle {
 public:
  KeyedCondition(Client* client, std::string name);
  KeyedCondition WithOwner(std::string owner_key) const;
  Op<Hold> Acquire(CallOptions options = {});
  Op<Done> Release(CallOptions options = {});
  // Wait() releases the lock, waits for a notify of `key`, and re-acquires
  // the lock before it answers (also after a timeout or a cancel).
  Op<ConditionWake> Wait(std::string key, CallOptions options = {});
  // Notify() wakes up to n waiters of `key`, oldest first; returns how many.
  Op<std::int64_t> Notify(std::string key, std::int64_t n = 1, bool strict = false,
                          CallOptions options = {});
  Op<std::int64_t> NotifyAll(std::optional<std::string> key = std::nullopt,
                             CallOptions options = {});
  // WaitAll() waits until every waiter present now was notified or left.
  Op<Done> WaitAll(CallOptions options = {});
  Op<bool> Locked();
  Op<InstanceState> Read(CallOptions options = {});
  // AssertLocked() is OK when the caller holds the lock.
  absl::Status AssertLocked(CallOptions options = {});
  // WaitFor() waits on `key` until `predicate()` holds (checked with the lock
  // held, first before any wait): the client-side loop of the seed's
  // wait_for. Blocking; each wait takes options.timeout. Answers
  // DEADLINE_EXCEEDED when a wait times out with the predicate still false.
  absl::Status WaitFor(std::string key, const std::function<bool()>& predicate,
                       CallOptions options = {});
  // WaitForAsync() is WaitFor() for coroutines.
  Task<absl::Status> WaitForAsync(std::string key, std::function<bool()> predicate,
                                  CallOptions options = {});
};

// MultiCountDownLatch: counters by key, fixed at creation.
class MultiCountDownLatch : public Handle {
 public:
  MultiCountDownLatch(Client* client, std::string name);
  Op<Done> Declare(std::map<std::string, std::int64_t> counts);
  Op<Done> CountDown(std::string key, bool strict = false);
  Op<Done> CountDownAll();
  Op<Done> Wait(std::string key, bool strict = false, CallOptions options = {});
  Op<Done> WaitAll(CallOptions options = {});
  Op<bool> Broken();
  Op<InstanceState> Read();
};

}  // namespace baton

#endif  // BATON_CLIENT_INCLUDE_BATON_CLIENT_H_

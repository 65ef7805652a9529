// Copyright 2026 The Baton Authors.
//
// AdminService implements baton.v1.Admin, the unary calls that are not waits:
// Declare, Describe, List, Delete, SetRate, SetBound, Reset, TryAcquire.
//
// Threading: gRPC calls the handlers on its own threads. A handler checks
// what it can there, then posts the work to the shard that owns the name
// (Node::Run) and returns at once: a reaction never blocks, and the
// instance is only touched by its shard's thread, which finishes the call.
// List asks every shard and merges their pages.
//
// In a cluster (set_cluster()), a call that names an instance another node
// owns is forwarded to that node (once: a forwarded call is never forwarded
// again), with the caller's deadline, `authorization` and client name; its
// answer is the owner's. List lists the whole cluster: this node's
// instances and, asked concurrently (forwarded, so that each answers only
// its own), every other member's, merged in name order; the members that
// did not answer in time are named in the answer (unreachable_nodes).

#ifndef BATON_SERVER_SERVICE_ADMIN_SERVICE_H_
#define BATON_SERVER_SERVICE_ADMIN_SERVICE_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "baton/v1/admin.grpc.pb.h"
#include "server/auth/access.h"
#include "server/cluster/cluster_view.h"
#include "server/cluster/peer_channels.h"
#include "server/service/node.h"

namespace baton::service {

class AdminService final : public v1::Admin::CallbackService {
 public:
  // ClientNameOf() tells the client name of a live session by its id ("" when
  // unknown), for Describe's holders. Called from shard threads.
  using ClientNameOf = absl::AnyInvocable<std::string(std::uint64_t session_id) const>;

  // `access`: --auth_file (nullptr: everything allowed); must outlive the
  // service. Mutations need the `admin` role on the name's namespace,
  // Describe and TryAcquire `use`; List shows only the namespaces the
  // caller may use.
  explicit AdminService(Node* node, ClientNameOf client_name_of = nullptr,
                        auth::Access* access = nullptr)
      : node_(node), client_name_of_(std::move(client_name_of)), access_(access) {}

  // The longest latch key a Declare may name (batond's --max_key_bytes, as
  // the Session stream's keys).
  void set_max_key_bytes(std::uint32_t max_key_bytes) { max_key_bytes_ = max_key_bytes; }

  grpc::ServerUnaryReactor* Declare(grpc::CallbackServerContext* context,
                                    const v1::DeclareRequest* request,
                                    v1::DeclareResponse* response) override;
  grpc::ServerUnaryReactor* Describe(grpc::CallbackServerContext* context,
                                     const v1::DescribeRequest* request,
                                     v1::DescribeResponse* response) override;
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* context,
                                 const v1::ListRequest* request,
                                 v1::ListResponse* response) override;
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* context,
                                   const v1::DeleteRequest* request,
                                   v1::DeleteResponse* response) override;
  grpc::ServerUnaryReactor* SetRate(grpc::CallbackServerContext* context,
                                    const v1::SetRateRequest* request,
                                    v1::SetRateResponse* response) override;
  grpc::ServerUnaryReactor* SetBound(grpc::CallbackServerContext* context,
                                     const v1::SetBoundRequest* request,
                                     v1::SetBoundResponse* response) override;
  grpc::ServerUnaryReactor* Reset(grpc::CallbackServerContext* context,
                                  const v1::ResetRequest* request,
                                  v1::ResetResponse* response) override;
  grpc::ServerUnaryReactor* TryAcquire(grpc::CallbackServerContext* context,
                                       const v1::TryAcquireRequest* request,
                                       v1::TryAcquireResponse* response) override;
  grpc::ServerUnaryReactor* Cluster(grpc::CallbackServerContext* context,
                                    const v1::ClusterRequest* request,
                                    v1::ClusterResponse* response) override;

  // set_cluster() makes this node's Admin service a cluster member's:
  // Cluster answers `view`'s members and calls are forwarded to their
  // owner through `peers`. Before the server starts; both outlive the
  // service.
  void set_cluster(const cluster::ClusterView* view, cluster::PeerChannels* peers) {
    cluster_ = view;
    peers_ = peers;
  }

 private:
  class ListMerge;

  // The longest a List waits for another member's page.
  static constexpr std::chrono::seconds kListPeerTimeout{10};

  // ListPeers() asks each of `peers` for the page `request` asks (each
  // answers with its own instances only), into `merge`; returns at once.
  void ListPeers(grpc::CallbackServerContext* context, const v1::ListRequest* request,
                 const std::vector<cluster::Member>& peers,
                 const std::shared_ptr<ListMerge>& merge);
  // Forward() forwards the call naming `name` to its owner when that is
  // another node, and then returns the reactor the owner's answer will
  // finish (`reactor`, or the context's DefaultReactor() when null);
  // nullptr when the call is this node's. `call` starts it on a stub.
  template <typename Request, typename Response, typename Call>
  grpc::ServerUnaryReactor* Forward(grpc::CallbackServerContext* context, std::string_view name,
               const Request* request, Response* response, grpc::ServerUnaryReactor* reactor,
               Call call);
  std::shared_ptr<v1::Admin::Stub> StubFor(const std::string& address);

  Node* const node_;
  const ClientNameOf client_name_of_;
  auth::Access* const access_;
  std::uint32_t max_key_bytes_ = 256;
  const cluster::ClusterView* cluster_ = nullptr;
  cluster::PeerChannels* peers_ = nullptr;
  absl::Mutex stubs_mutex_;
  absl::flat_hash_map<std::string, std::shared_ptr<v1::Admin::Stub>> stubs_
      ABSL_GUARDED_BY(stubs_mutex_);
};

}  // namespace baton::service

#endif  // BATON_SERVER_SERVICE_ADMIN_SERVICE_H_

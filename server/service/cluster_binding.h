// Copyright 2026 The Baton Authors.
//
// The two hooks by which a Node serves as a member of a cluster
// (server/cluster): every shard's registry asks the ClusterView before it
// creates an instance (ClusterView::Admit: the name is this node's to
// grant now, and the fence floor), and the membership's Applier deletes,
// on every shard, the instances of names the node no longer owns (their
// holders get HoldRevoked notices, their waits fail with a redirect to the
// new owner, or UNAVAILABLE when the node owns nothing any more).
//
// Example:
//   BindCluster(&node, &view);   // after node.Start()
//   EtcdMembership membership(options, &view, clock, ClusterApplier(&node, &view));
//
// Threading: BindCluster() once, from the thread that started the node.
// The applier may be called from any thread while the node runs; it posts
// to the shards and calls `done` from the last of them.

#ifndef BATON_SERVER_SERVICE_CLUSTER_BINDING_H_
#define BATON_SERVER_SERVICE_CLUSTER_BINDING_H_

#include <memory>

#include "server/cluster/cluster_view.h"
#include "server/cluster/etcd_membership.h"
#include "server/service/node.h"

namespace baton::service {

// BindCluster() sets the admission of every shard's registry; returns the
// object that must outlive the node's registries.
std::unique_ptr<core::Registry::Admission> BindCluster(Node* node, cluster::ClusterView* view);

// ClusterApplier() is the membership's Applier for `node`.
cluster::EtcdMembership::Applier ClusterApplier(Node* node, cluster::ClusterView* view);

}  // namespace baton::service

#endif  // BATON_SERVER_SERVICE_CLUSTER_BINDING_H_

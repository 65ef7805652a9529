// Copyright 2026 The Baton Authors.

#include "server/service/cluster_binding.h"

#include <atomic>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"

namespace baton::service {
namespace {

class ViewAdmission final : public core::Registry::Admission {
 public:
  explicit ViewAdmission(cluster::ClusterView* view) : view_(view) {}
  absl::StatusOr<std::uint64_t> Admit(std::string_view name) override {
    return view_->Admit(name);
  }

 private:
  cluster::ClusterView* const view_;
};

// Why a hold or wait on `name` ends: a redirect to its new owner when it
// moved to another node, UNAVAILABLE when this node owns nothing now.
absl::Status MovedReason(cluster::ClusterView& view, const std::vector<std::string>& node_ids,
                         std::string_view name) {
  if (!node_ids.empty()) {
    const std::string_view owner = cluster::OwnerOf(node_ids, name);
    for (const cluster::Member& member : view.Members(nullptr)) {
      if (member.node_id == owner) return cluster::RedirectStatus(name, member);
    }
  }
  return absl::UnavailableError(
      absl::StrCat("node ", view.node_id(),
                   " stopped serving: it cannot prove its cluster membership (is etcd reachable?)"));
}

}  // namespace

std::unique_ptr<core::Registry::Admission> BindCluster(Node* node, cluster::ClusterView* view) {
  auto admission = std::make_unique<ViewAdmission>(view);
  absl::Notification done;
  std::atomic<std::size_t> left{node->shard_count()};
  for (std::size_t i = 0; i < node->shard_count(); ++i) {
    node->RunOn(i, [&, raw = admission.get()](Node::Shard& shard) {
      shard.registry.set_admission(raw);
      if (left.fetch_sub(1) == 1) done.Notify();
    });
  }
  done.WaitForNotification();
  return admission;
}

cluster::EtcdMembership::Applier ClusterApplier(Node* node, cluster::ClusterView* view) {
  return [node, view](std::vector<std::string> node_ids, absl::AnyInvocable<void() &&> done) {
    struct Sweep {
      std::vector<std::string> node_ids;
      absl::AnyInvocable<void() &&> done;
      std::atomic<std::size_t> left;
    };
    auto sweep = std::make_shared<Sweep>();
    sweep->node_ids = std::move(node_ids);
    sweep->done = std::move(done);
    sweep->left = node->shard_count();
    for (std::size_t i = 0; i < node->shard_count(); ++i) {
      node->RunOn(i, [sweep, view](Node::Shard& shard) {
        std::vector<std::string> moved;
        shard.registry.ForEach([&](core::Instance& instance) {
          if (!view->OwnsUnder(sweep->node_ids, instance.name())) {
            moved.emplace_back(instance.name());
          }
        });
        for (const std::string& name : moved) {
          // A change not yet kept is kept as it is (not as a deletion).
          if (shard.kept != nullptr) {
            if (const core::Instance* instance = shard.registry.FindLoaded(name)) {
              shard.kept->Release(*instance);
            }
          }
          (void)shard.registry.Delete(name, MovedReason(*view, sweep->node_ids, name));
        }
        auto swept = [sweep] {
          if (sweep->left.fetch_sub(1) == 1) std::move(sweep->done)();
        };
        if (shard.kept == nullptr) {
          swept();
          return;
        }
        // The acknowledgement that lets other nodes take these names is
        // written after `done`: the shard's changes go to the store first,
        // so the new owners read them (etcd_kept_store.h).
        shard.kept->WhenDurable([swept](const absl::Status&) { swept(); });
      });
    }
  };
}

}  // namespace baton::service

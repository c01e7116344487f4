// DetectorStoreEdge: the state store and the detector's staged writes as the
// delivery stage's StoreGuard sees them (delivery/store_guard.h): whether the
// store takes writes, why its last write failed, and the detector's commit.
// Both are reached through pointers to the daemon's owners, which are made
// after the guard.
//
//   sync::DetectorStoreEdge edge(&store_, &detector_);
//   delivery::StoreGuard guard(&edge, &clock, &store_metrics, hooks);
//
// Thread-safety: the loop thread's.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "classify/detector.h"
#include "delivery/store_guard.h"
#include "state/store.h"

namespace dedupd::sync {

class DetectorStoreEdge final : public delivery::StoreEdge {
 public:
  DetectorStoreEdge(const state::StateStorePtr* store,
                    const std::unique_ptr<classify::Detector>* detector)
      : store_(store), detector_(detector) {}
  static std::optional<delivery::StoreFault> Fault(const std::optional<state::StoreError>& e) {
    if (!e) return std::nullopt;
    return delivery::StoreFault{std::string(state::StoreErrorKindName(e->kind)), e->message};
  }
  std::optional<delivery::StoreFault> CheckWritable() override {
    return Fault((*store_)->CheckWritable());
  }
  std::optional<delivery::StoreFault> LastError() override { return Fault((*store_)->LastError()); }
  bool Commit(const std::map<std::string, std::string>& meta, std::string* why) override {
    return (*detector_)->Commit(meta, why);
  }

 private:
  const state::StateStorePtr* store_;
  const std::unique_ptr<classify::Detector>* detector_;
};

}  // namespace dedupd::sync

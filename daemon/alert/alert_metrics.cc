#include "alert/alert_metrics.h"

namespace dedupd::alert {

AlertMetrics::AlertMetrics(prometheus::Registry& registry)
    : posts_(prometheus::BuildCounter()
                 .Name("dedupd_alertmanager_posts_total")
                 .Help("Alert batches posted to Alertmanager, by result")
                 .Register(registry)),
      // Pre-created so that each series exists (at 0) before its first post.
      ok_(posts_.Add({{"result", "ok"}})),
      error_(posts_.Add({{"result", "error"}})),
      dropped_(posts_.Add({{"result", "dropped"}})) {}

void AlertMetrics::CountPost(PostResult result) {
  switch (result) {
    case PostResult::kOk: ok_.Increment(); return;
    case PostResult::kError: error_.Increment(); return;
    case PostResult::kDropped: dropped_.Increment(); return;
  }
}

}  // namespace dedupd::alert

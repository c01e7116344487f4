// Maps the loaded configuration onto the typed options of each stage, so a
// stage never reads configuration keys itself.
#pragma once

#include "api/api.h"
#include "app/pipeline.h"
#include "classify/detector.h"
#include "config/config.h"

namespace dedupd::app {

classify::DetectOptions DetectOptionsFrom(const config::Config& cfg);
// The API's options from the same settings (shingles, diff, history_versions).
api::ApiOptions ApiOptionsFrom(const config::Config& cfg);
PipelineOptions PipelineOptionsFrom(const config::Config& cfg);

}  // namespace dedupd::app

// Maps the loaded configuration onto the typed options of each stage, so a
// stage never reads configuration keys itself.
#pragma once

#include "app/pipeline.h"
#include "classify/detector.h"
#include "config/config.h"

namespace dedupd::app {

classify::DetectOptions DetectOptionsFrom(const config::Config& cfg);
PipelineOptions PipelineOptionsFrom(const config::Config& cfg);

}  // namespace dedupd::app

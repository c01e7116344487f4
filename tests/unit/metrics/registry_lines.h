// RegistryLines: a Prometheus registry rendered in the text format, as the
// set of its lines. prometheus-cpp orders a family's series by a hash of
// their labels, so tests of a stage's metrics compare lines, not text.
//
//   EXPECT_EQ(RegistryLines(registry), (Lines{"# TYPE x counter", ...}));
//
// Thread-safety: as the registry's Collect().
#pragma once

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <set>
#include <sstream>
#include <string>

namespace dedupd::testing {

using Lines = std::multiset<std::string>;

inline Lines RegistryLines(const prometheus::Registry& registry) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry.Collect());
  Lines lines;
  std::istringstream in(out.str());
  for (std::string line; std::getline(in, line);) lines.insert(line);
  return lines;
}

}  // namespace dedupd::testing

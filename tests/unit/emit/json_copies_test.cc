// The direct JSON writer's copies (issue #11 item 3, session 11): an event
// is written at a cursor into the output string, its keys, punctuation,
// numbers and short strings with inline copies, not a std::string::append
// (a memcpy call) each: 42 calls for this event before. Calls are counted by a
// memcpy and memmove of this test binary's own; the output is protobuf's.
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <string>

#include "emit/json.h"
#include "unit/counting_copies.h"

namespace dedupd::emit {
namespace {

// A REVISED event as `dedupd scan` prints them (30k zh stream, line 2626).
v1::PageEvent Event() {
  v1::PageEvent e;
  const std::string url = "https://archive.mirror2-gen.example/xxgk/2025-04/13/content_1272.htm";
  e.set_url(url);
  e.set_canonical_url(url);
  e.set_site("mirror2-gen.example");
  e.set_fetched_at_ms(1741210774000);
  e.set_processed_at_ms(1796604710622);
  e.set_verdict(v1::REVISED);
  e.set_version(2);
  e.set_simhash(13985908788913492266u);
  e.set_content_hash("3f090d183fc4acbc89a9c13e3bc9b88e");
  v1::Match* m = e.mutable_match();
  m->set_url(url);
  m->set_distance(1);
  m->set_similarity(0.999450247388675);
  m->set_version(1);
  v1::TextStats* t = e.mutable_text();
  t->set_blocks(20);
  t->set_sentences(39);
  t->set_characters(1819);
  t->set_shingles(1512);
  t->set_boilerplate_blocks(7);
  v1::SourceCoordinates* s = e.mutable_source();
  s->set_topic("/tmp/hloop-zh.jsonl");
  s->set_offset(2625);
  e.set_title("投贷联动试点合作机制今天致动");
  e.set_severity(v1::MINOR);
  e.set_event_id("/tmp/hloop-zh.jsonl/0/2625");
  return e;
}

TEST(JsonWriterCopies, AnEventIsWrittenWithFewCopyCalls) {
  const v1::PageEvent e = Event();
  std::string want;
  AppendProtobufJson(e, &want);
  std::string out = "{\"event\":";
  AppendJson(e, &out);  // grown
  ASSERT_EQ(out, "{\"event\":" + want);
  out.reserve(4096);
  out.assign("{\"event\":");
  calls = 0;
  counting = true;
  AppendJson(e, &out);
  counting = false;
  EXPECT_EQ(out, "{\"event\":" + want);
  if (!DEDUPD_COPIES_INTERCEPTED) {
    EXPECT_LE(calls.load(), 2u) << calls.load()
                                << " (before: one per key, number and string run, 42)";
  }
}

}  // namespace
}  // namespace dedupd::emit

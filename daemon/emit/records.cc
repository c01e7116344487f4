#include "emit/records.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdio>

#include "emit/json.h"

namespace dedupd::emit {
namespace {

v1::Verdict ToProto(Verdict v) {
  switch (v) {
    case Verdict::kNew: return v1::NEW;
    case Verdict::kUnchanged: return v1::UNCHANGED;
    case Verdict::kRevised: return v1::REVISED;
    case Verdict::kDuplicate: return v1::DUPLICATE;
    case Verdict::kNearDuplicate: return v1::NEAR_DUPLICATE;
  }
  return v1::VERDICT_UNSPECIFIED;
}

v1::Severity ToProto(diff::Severity s) {
  switch (s) {
    case diff::Severity::kCosmetic: return v1::COSMETIC;
    case diff::Severity::kMinor: return v1::MINOR;
    case diff::Severity::kMajor: return v1::MAJOR;
  }
  return v1::SEVERITY_UNSPECIFIED;
}

v1::DeadLetter::Reason ToProto(parse::ErrorCode c) {
  switch (c) {
    case parse::ErrorCode::kInvalidJson: return v1::DeadLetter::INVALID_JSON;
    case parse::ErrorCode::kMissingField: return v1::DeadLetter::MISSING_FIELD;
    case parse::ErrorCode::kWrongType: return v1::DeadLetter::WRONG_TYPE;
    case parse::ErrorCode::kInvalidUtf8: return v1::DeadLetter::INVALID_UTF8;
    case parse::ErrorCode::kTooLarge: return v1::DeadLetter::TOO_LARGE;
    case parse::ErrorCode::kEmptyBody: return v1::DeadLetter::EMPTY_BODY;
    case parse::ErrorCode::kInvalidUrl: return v1::DeadLetter::INVALID_URL;
  }
  return v1::DeadLetter::REASON_UNSPECIFIED;
}

void FillSource(const SourceCoordinates& s, v1::SourceCoordinates* out) {
  out->set_topic(std::string(s.topic));
  out->set_partition(s.partition);
  out->set_offset(s.offset);
  out->set_timestamp_ms(s.timestamp_ms);
}

}  // namespace

std::string HexHash(const ContentHash128& h) {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h.high),
                static_cast<unsigned long long>(h.low));
  return buf;
}

std::string EventId(const SourceCoordinates& s) {
  return std::string(s.topic) + "/" + std::to_string(s.partition) + "/" + std::to_string(s.offset);
}

v1::PageEvent MakeEvent(const parse::ParsedPage& page, const classify::Outcome& o,
                        const SourceCoordinates& source, int64_t fetched_at_ms,
                        int64_t processed_at_ms) {
  v1::PageEvent e;
  e.set_url(page.url);
  e.set_canonical_url(page.canonical_url);
  e.set_site(page.site);
  e.set_title(page.title);
  e.set_fetched_at_ms(fetched_at_ms);
  e.set_processed_at_ms(processed_at_ms);
  e.set_verdict(ToProto(o.verdict));
  if (o.flags.Has(Flag::kRepeatedContent)) e.add_flags(v1::REPEATED_CONTENT);
  if (o.flags.Has(Flag::kReverted)) e.add_flags(v1::REVERTED);
  if (o.flags.Has(Flag::kBoilerplateOnly)) e.add_flags(v1::BOILERPLATE_ONLY);
  e.set_version(o.version);
  e.set_simhash(o.simhash.bits);
  e.set_content_hash(HexHash(o.content_hash));
  if (o.match) {
    auto* m = e.mutable_match();
    m->set_url(o.match->url);
    m->set_distance(static_cast<uint32_t>(o.match->distance));
    m->set_similarity(o.match->similarity);
    m->set_version(o.match->version);
    if (o.verdict == Verdict::kNearDuplicate) {
      m->set_jaccard(o.match->jaccard);
      if (o.match->found_by & classify::kFoundBySimHash) m->add_found_by("simhash");
      if (o.match->found_by & classify::kFoundByPassages) m->add_found_by("passages");
      if (o.diff) {
        // Sentences outside every hunk's new range are the match's, in order.
        uint32_t changed = 0;
        for (const auto& h : o.diff->result.hunks) changed += h.new_end - h.new_begin;
        const auto n = static_cast<uint32_t>(o.diff->new_sentences.size());
        m->set_sentences(n);
        m->set_shared_sentences(n - std::min(n, changed));
      }
      m->set_boilerplate_blocks(o.match->boilerplate_blocks);
    }
  }
  e.set_repeated_fraction(o.repeated_fraction);
  auto* t = e.mutable_text();
  t->set_blocks(o.stats.blocks);
  t->set_sentences(o.stats.sentences);
  t->set_characters(o.stats.characters);
  t->set_shingles(o.stats.shingles);
  t->set_boilerplate_blocks(o.stats.boilerplate_blocks);
  t->set_invalid_utf8(o.stats.invalid_utf8);
  FillSource(source, e.mutable_source());
  if (o.severity) e.set_severity(ToProto(*o.severity));
  e.set_event_id(EventId(source));
  return e;
}

std::optional<v1::PageDiff> MakeDiff(const parse::ParsedPage& page, const classify::Outcome& o,
                                     const SourceCoordinates& source, int64_t fetched_at_ms) {
  if (!o.diff || !o.match) return std::nullopt;
  v1::PageDiff d;
  d.set_canonical_url(page.canonical_url);
  d.set_site(page.site);
  d.set_verdict(ToProto(o.verdict));
  auto* old_side = d.mutable_old_side();
  old_side->set_url(o.match->url);
  old_side->set_version(o.match->version);
  old_side->set_fetched_at_ms(o.match->fetched_at_ms);
  old_side->set_content_hash(HexHash(o.match->content_hash));
  auto* new_side = d.mutable_new_side();
  new_side->set_url(page.canonical_url);
  new_side->set_version(o.version);
  new_side->set_fetched_at_ms(fetched_at_ms);
  new_side->set_content_hash(HexHash(o.content_hash));
  for (const auto& h : o.diff->result.hunks) {
    auto* ph = d.add_hunks();
    switch (h.kind) {
      case diff::HunkKind::kAdded: ph->set_kind(v1::Hunk::ADDED); break;
      case diff::HunkKind::kRemoved: ph->set_kind(v1::Hunk::REMOVED); break;
      case diff::HunkKind::kChanged: ph->set_kind(v1::Hunk::CHANGED); break;
    }
    ph->set_old_begin(h.old_begin);
    ph->set_old_end(h.old_end);
    ph->set_new_begin(h.new_begin);
    ph->set_new_end(h.new_end);
    ph->set_old_first_line(h.old_first_block + 1);
    ph->set_old_last_line(h.old_last_block + 1);
    ph->set_new_first_line(h.new_first_block + 1);
    ph->set_new_last_line(h.new_last_block + 1);
    for (const auto& s : h.old_text) ph->add_old_text(s);
    for (const auto& s : h.new_text) ph->add_new_text(s);
    for (uint32_t i = 0; i < h.old_spans.size(); ++i) {
      for (const auto& span : h.old_spans[i]) {
        auto* ps = ph->add_old_spans();
        ps->set_begin(span.begin);
        ps->set_end(span.end);
        ph->add_old_span_sentence(i);
      }
    }
    for (uint32_t i = 0; i < h.new_spans.size(); ++i) {
      for (const auto& span : h.new_spans[i]) {
        auto* ps = ph->add_new_spans();
        ps->set_begin(span.begin);
        ps->set_end(span.end);
        ph->add_new_span_sentence(i);
      }
    }
  }
  d.set_unified(o.diff->unified);
  const auto& sig = o.diff->result.significance;
  auto* ps = d.mutable_significance();
  ps->set_changed_fraction(sig.changed_fraction);
  ps->set_sentences_added(sig.sentences_added);
  ps->set_sentences_removed(sig.sentences_removed);
  ps->set_sentences_changed(sig.sentences_changed);
  ps->set_chars_added(sig.chars_added);
  ps->set_chars_removed(sig.chars_removed);
  ps->set_numbers_changed(sig.numbers_changed);
  ps->set_dates_changed(sig.dates_changed);
  ps->set_amounts_changed(sig.amounts_changed);
  ps->set_severity(ToProto(sig.severity));
  d.set_truncated(o.diff->result.truncated);
  d.set_reverted(o.flags.Has(Flag::kReverted));
  d.set_event_id(EventId(source));
  return d;
}

v1::DeadLetter MakeDeadLetter(const parse::ParseError& error, std::string_view original,
                              std::string_view key, const SourceCoordinates& source,
                              size_t max_original_bytes, int64_t now_ms) {
  return MakeDeadLetter(ToProto(error.code), parse::ReasonCode(error.code), error.detail, original,
                        key, source, max_original_bytes, now_ms);
}

v1::DeadLetter MakeDeadLetter(v1::DeadLetter::Reason reason, std::string_view reason_code,
                              std::string_view detail, std::string_view original,
                              std::string_view key, const SourceCoordinates& source,
                              size_t max_original_bytes, int64_t now_ms) {
  v1::DeadLetter d;
  d.set_reason(reason);
  d.set_reason_code(std::string(reason_code));
  d.set_detail(std::string(detail));
  d.set_original(std::string(original.substr(0, max_original_bytes)));
  d.set_original_truncated(original.size() > max_original_bytes);
  d.set_original_size(original.size());
  FillSource(source, d.mutable_source());
  d.set_dead_lettered_at_ms(now_ms);
  d.set_original_key(std::string(key));
  return d;
}

std::string Encode(const google::protobuf::Message& message, OutputFormat format) {
  std::string out;
  switch (format) {
    case OutputFormat::kProtobuf: message.SerializeToString(&out); break;
    case OutputFormat::kJson: {
      // Events and diffs (one or two per page) through the direct writer:
      // the same bytes (emit/json.h); dead letters through protobuf.
      using google::protobuf::DynamicCastToGenerated;
      if (const auto* event = DynamicCastToGenerated<v1::PageEvent>(&message)) {
        AppendJson(*event, &out);
      } else if (const auto* diff = DynamicCastToGenerated<v1::PageDiff>(&message)) {
        AppendJson(*diff, &out);
      } else {
        AppendProtobufJson(message, &out);
      }
      break;
    }
  }
  return out;
}

}  // namespace dedupd::emit

#include "emit/records.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <memory>

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
  out->mutable_topic()->assign(s.topic);
  out->set_partition(s.partition);
  out->set_offset(s.offset);
  out->set_timestamp_ms(s.timestamp_ms);
}

// 32 lower-case hex digits, no terminator.
void WriteHexHash(const ContentHash128& h, char* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 16; ++i) out[i] = kHex[(h.high >> (60 - 4 * i)) & 15];
  for (int i = 0; i < 16; ++i) out[16 + i] = kHex[(h.low >> (60 - 4 * i)) & 15];
}

void AssignHexHash(const ContentHash128& h, std::string* out) {
  char buf[32];
  WriteHexHash(h, buf);
  out->assign(buf, sizeof buf);
}

template <typename T>
void AppendDecimal(T v, std::string* out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, end);
}

void AssignEventId(const SourceCoordinates& s, std::string* out) {
  out->assign(s.topic);
  out->push_back('/');
  AppendDecimal(s.partition, out);
  out->push_back('/');
  AppendDecimal(s.offset, out);
}

}  // namespace

std::string HexHash(const ContentHash128& h) {
  std::string out;
  AssignHexHash(h, &out);
  return out;
}

std::string EventId(const SourceCoordinates& s) {
  std::string out;
  AssignEventId(s, &out);
  return out;
}

v1::PageEvent MakeEvent(const parse::ParsedPage& page, const classify::Outcome& o,
                        const SourceCoordinates& source, int64_t fetched_at_ms,
                        int64_t processed_at_ms) {
  v1::PageEvent e;
  FillEvent(page, o, source, fetched_at_ms, processed_at_ms, &e);
  return e;
}

// Every field is written, defaults included, so that whatever `e` held
// before, it ends equal to a fresh message filled the same way; the strings,
// lists and sub-messages it already has are reused, not reallocated.
void FillEvent(const parse::ParsedPage& page, const classify::Outcome& o,
               const SourceCoordinates& source, int64_t fetched_at_ms, int64_t processed_at_ms,
               v1::PageEvent* e) {
  e->mutable_url()->assign(page.url);
  e->mutable_canonical_url()->assign(page.canonical_url);
  e->mutable_site()->assign(page.site);
  e->mutable_title()->assign(page.title);
  e->set_fetched_at_ms(fetched_at_ms);
  e->set_processed_at_ms(processed_at_ms);
  e->set_verdict(ToProto(o.verdict));
  e->clear_flags();
  if (o.flags.Has(Flag::kRepeatedContent)) e->add_flags(v1::REPEATED_CONTENT);
  if (o.flags.Has(Flag::kReverted)) e->add_flags(v1::REVERTED);
  if (o.flags.Has(Flag::kBoilerplateOnly)) e->add_flags(v1::BOILERPLATE_ONLY);
  e->set_version(o.version);
  e->set_simhash(o.simhash.bits);
  AssignHexHash(o.content_hash, e->mutable_content_hash());
  // A page without a match keeps the last one's message (its URL's and
  // found_by's strings) for the next page with one, instead of deleting it
  // and allocating a new one then: the thread's spare (an event on an arena
  // keeps its own, as protobuf would copy it out).
  thread_local std::unique_ptr<v1::Match> spare_match;
  if (o.match) {
    if (!e->has_match() && spare_match && e->GetArena() == nullptr) {
      e->set_allocated_match(spare_match.release());
    }
    auto* m = e->mutable_match();
    m->mutable_url()->assign(o.match->url);
    m->set_distance(static_cast<uint32_t>(o.match->distance));
    m->set_similarity(o.match->similarity);
    m->set_version(o.match->version);
    m->set_jaccard(0);
    m->clear_found_by();
    m->set_sentences(0);
    m->set_shared_sentences(0);
    m->set_boilerplate_blocks(0);
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
  } else if (e->has_match() && e->GetArena() == nullptr) {
    spare_match.reset(e->release_match());
  } else {
    e->clear_match();
  }
  e->set_repeated_fraction(o.repeated_fraction);
  auto* t = e->mutable_text();
  t->set_blocks(o.stats.blocks);
  t->set_sentences(o.stats.sentences);
  t->set_characters(o.stats.characters);
  t->set_shingles(o.stats.shingles);
  t->set_boilerplate_blocks(o.stats.boilerplate_blocks);
  t->set_invalid_utf8(o.stats.invalid_utf8);
  FillSource(source, e->mutable_source());
  e->set_severity(o.severity ? ToProto(*o.severity) : v1::SEVERITY_UNSPECIFIED);
  AssignEventId(source, e->mutable_event_id());
}

std::optional<v1::PageDiff> MakeDiff(const parse::ParsedPage& page, const classify::Outcome& o,
                                     const SourceCoordinates& source, int64_t fetched_at_ms) {
  if (!o.diff || !o.match) return std::nullopt;
  v1::PageDiff d;
  FillDiff(page, o, source, fetched_at_ms, &d);
  return d;
}

namespace {

void FillSpans(const std::vector<std::vector<diff::Span>>& spans,
               google::protobuf::RepeatedPtrField<v1::Span>* out,
               google::protobuf::RepeatedField<uint32_t>* sentence) {
  for (uint32_t i = 0; i < spans.size(); ++i) {
    for (const auto& span : spans[i]) {
      auto* ps = out->Add();
      ps->set_begin(span.begin);
      ps->set_end(span.end);
      sentence->Add(i);
    }
  }
}

void FillStrings(const std::vector<std::string>& in,
                 google::protobuf::RepeatedPtrField<std::string>* out) {
  // Add() hands back a string cleared by the last Clear(), capacity kept.
  for (const auto& s : in) out->Add()->assign(s);
}

}  // namespace

void FillDiff(const parse::ParsedPage& page, const classify::Outcome& o,
              const SourceCoordinates& source, int64_t fetched_at_ms, v1::PageDiff* d) {
  d->mutable_canonical_url()->assign(page.canonical_url);
  d->mutable_site()->assign(page.site);
  d->set_verdict(ToProto(o.verdict));
  auto* old_side = d->mutable_old_side();
  old_side->mutable_url()->assign(o.match->url);
  old_side->set_version(o.match->version);
  old_side->set_fetched_at_ms(o.match->fetched_at_ms);
  AssignHexHash(o.match->content_hash, old_side->mutable_content_hash());
  auto* new_side = d->mutable_new_side();
  new_side->mutable_url()->assign(page.canonical_url);
  new_side->set_version(o.version);
  new_side->set_fetched_at_ms(fetched_at_ms);
  AssignHexHash(o.content_hash, new_side->mutable_content_hash());
  // Clear() keeps the hunks (and their strings and spans) for Add() to reuse.
  d->clear_hunks();
  for (const auto& h : o.diff->result.hunks) {
    auto* ph = d->add_hunks();
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
    FillStrings(h.old_text, ph->mutable_old_text());
    FillStrings(h.new_text, ph->mutable_new_text());
    FillSpans(h.old_spans, ph->mutable_old_spans(), ph->mutable_old_span_sentence());
    FillSpans(h.new_spans, ph->mutable_new_spans(), ph->mutable_new_span_sentence());
  }
  d->mutable_unified()->assign(o.diff->unified);
  const auto& sig = o.diff->result.significance;
  auto* ps = d->mutable_significance();
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
  d->set_truncated(o.diff->result.truncated);
  d->set_reverted(o.flags.Has(Flag::kReverted));
  AssignEventId(source, d->mutable_event_id());
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

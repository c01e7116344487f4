#include "api/api.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "api/html.h"
#include "common/json.h"
#include "common/types.h"
#include "fingerprint/fingerprint.h"
#include "text/normalize.h"
#include "text/segment.h"

namespace dedupd::api {
namespace {

using metrics::HttpRequest;
using metrics::HttpResponse;

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty()) out.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

std::vector<diff::Sentence> Sentences(std::string_view text) {
  std::vector<diff::Sentence> out;
  const auto lines = Lines(text);
  for (uint32_t b = 0; b < lines.size(); ++b) {
    for (std::string_view s : text::SplitSentences(lines[b])) {
      diff::Sentence sentence;
      sentence.text = std::string(s);
      sentence.key = text::ContentKey(s);
      sentence.block = b;
      if (!sentence.key.empty()) out.push_back(std::move(sentence));
    }
  }
  return out;
}

std::vector<uint64_t> ShingleSet(std::string_view text, int k) {
  std::string joined, form;
  for (std::string_view line : Lines(text)) {
    text::NormalizeForMatch(line, &form);
    if (form.empty()) continue;
    if (!joined.empty()) joined.push_back('\n');
    joined.append(form);
  }
  fingerprint::ShingleOptions options;
  options.k = k;
  std::vector<uint64_t> out;
  fingerprint::ShingleSet(joined, options, &out);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// ---------------------------------------------------------------- JSON --

std::string Q(std::string_view s) {
  std::string out = "\"";
  AppendJsonEscaped(&out, s);
  out.push_back('"');
  return out;
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

std::string Percent(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, v > 0 && v < 0.1 ? "%.1f%%" : "%.0f%%", v * 100);
  return buf;
}

std::string IsoTime(int64_t ms) {
  const time_t seconds = static_cast<time_t>(ms / 1000);
  tm t{};
  gmtime_r(&seconds, &t);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &t);
  return buf;
}

std::string HexHash(const ContentHash128& h) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h.high),
                static_cast<unsigned long long>(h.low));
  return buf;
}

std::string_view VerdictText(uint8_t v) {
  return v <= static_cast<uint8_t>(Verdict::kNearDuplicate) ? VerdictName(static_cast<Verdict>(v))
                                                            : "UNKNOWN";
}

std::vector<std::string> FlagNames(uint32_t bits) {
  std::vector<std::string> out;
  if (bits & static_cast<uint32_t>(Flag::kRepeatedContent)) out.push_back("REPEATED_CONTENT");
  if (bits & static_cast<uint32_t>(Flag::kReverted)) out.push_back("REVERTED");
  if (bits & static_cast<uint32_t>(Flag::kBoilerplateOnly)) out.push_back("BOILERPLATE_ONLY");
  return out;
}

std::string StringArray(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += Q(items[i]);
  }
  return out + "]";
}

void AddSecurityHeaders(HttpResponse* r) {
  r->headers.emplace_back("X-Content-Type-Options", "nosniff");
  r->headers.emplace_back("Cache-Control", "no-store");
}

// The pages for people: scraped text escaped, and nothing may run anyway.
HttpResponse HtmlResponse(std::string body) {
  HttpResponse r{200, "text/html; charset=utf-8", std::move(body), {}};
  AddSecurityHeaders(&r);
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; "
                         "script-src 'none'; base-uri 'none'; form-action 'self'; "
                         "frame-ancestors 'none'");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  return r;
}

constexpr std::string_view kFooter =
    "</section><p class=\"muted\">dedupd · page text is shown as scraped, escaped; "
    "nothing on this page runs scripts.</p></body></html>\n";

HttpResponse JsonResponse(int status, std::string body) {
  HttpResponse r{status, "application/json; charset=utf-8", std::move(body) + "\n", {}};
  AddSecurityHeaders(&r);
  return r;
}

HttpResponse JsonError(int status, std::string_view code, std::string_view message) {
  return JsonResponse(status, "{\"error\":{\"status\":" + std::to_string(status) +
                                  ",\"code\":" + Q(code) + ",\"message\":" + Q(message) + "}}");
}

// The versions a state keeps, newest first, with their texts (versions[0]'s
// is the state's own). A record without history (format < 4, or
// state.history_versions = 0) has its current version only.
struct VersionRef {
  state::VersionRecord meta;
  const std::string* text = nullptr;
};

std::vector<VersionRef> VersionsOf(const state::UrlState& s) {
  std::vector<VersionRef> out;
  if (s.versions.empty()) {
    state::VersionRecord v;
    v.version = s.version;
    v.fetched_at_ms = s.fetched_at_ms;
    v.content_hash = s.content_hash;
    v.verdict = static_cast<uint8_t>(s.version > 1 ? Verdict::kRevised : Verdict::kNew);
    out.push_back({v, &s.text});
    return out;
  }
  for (size_t i = 0; i < s.versions.size(); ++i) {
    out.push_back({s.versions[i], i == 0 ? &s.text : &s.versions[i].text});
  }
  return out;
}

// Common request checks: the query's length and a url parameter. Returns an
// error response, or nullopt with *state set.
struct Lookup {
  std::optional<HttpResponse> error;
  std::optional<state::UrlState> state;
};

std::optional<HttpResponse> CheckQuery(const HttpRequest& request, size_t max_bytes) {
  if (request.query.size() > max_bytes) {
    return JsonError(414, "query_too_long",
                     "the query string is " + std::to_string(request.query.size()) +
                         " bytes; at most " + std::to_string(max_bytes) + " are accepted");
  }
  return std::nullopt;
}

const std::string* Required(const HttpRequest& request, std::string_view name,
                            std::optional<HttpResponse>* error) {
  const std::string* v = request.Param(name);
  if (v == nullptr || v->empty()) {
    *error = JsonError(400, "missing_parameter",
                       "the parameter '" + std::string(name) + "' is required");
    return nullptr;
  }
  return v;
}

std::optional<state::UrlState> Find(state::StateStore* store, const std::string& url,
                                    std::optional<HttpResponse>* error) {
  auto s = store->GetCommitted(url);
  if (!s) *error = JsonError(404, "unknown_url", "no page with the canonical URL '" + url + "'");
  return s;
}

// Parses a version number; 0 with *error on a malformed one.
uint32_t ParseVersion(const std::string& text, std::string_view name,
                      std::optional<HttpResponse>* error) {
  uint32_t v = 0;
  bool ok = !text.empty() && text.size() <= 9;
  for (char c : text) {
    if (c < '0' || c > '9') ok = false;
    if (ok) v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (!ok || v == 0) {
    *error =
        JsonError(400, "bad_parameter",
                  "the parameter '" + std::string(name) + "' must be a version number (1, 2, ...)");
    return 0;
  }
  return v;
}

// The kept version `v` of `s`: 404 for one that never existed, 410 for one
// that existed but is no longer kept.
std::optional<VersionRef> FindVersion(const state::UrlState& s, uint32_t v, size_t kept_setting,
                                      std::optional<HttpResponse>* error) {
  for (const auto& ref : VersionsOf(s)) {
    if (ref.meta.version == v) return ref;
  }
  if (v > s.version) {
    *error = JsonError(404, "unknown_version",
                       "'" + s.canonical_url + "' has versions up to " + std::to_string(s.version) +
                           "; version " + std::to_string(v) + " does not exist");
  } else {
    *error = JsonError(410, "version_gone",
                       "version " + std::to_string(v) + " of '" + s.canonical_url +
                           "' is no longer kept (state.history_versions = " +
                           std::to_string(kept_setting) + " keeps the last ones)");
  }
  return std::nullopt;
}

std::string VersionJson(const VersionRef& v, bool with_text) {
  const auto& m = v.meta;
  std::string out = "{\"version\":" + std::to_string(m.version) +
                    ",\"fetched_at_ms\":" + std::to_string(m.fetched_at_ms) +
                    ",\"fetched_at\":" + Q(IsoTime(m.fetched_at_ms)) +
                    ",\"content_hash\":" + Q(HexHash(m.content_hash)) +
                    ",\"verdict\":" + Q(VerdictText(m.verdict));
  if (m.severity >= 0 && m.severity <= static_cast<int8_t>(diff::Severity::kMajor)) {
    out += ",\"severity\":" + Q(diff::SeverityName(static_cast<diff::Severity>(m.severity)));
  }
  out += ",\"flags\":" + StringArray(FlagNames(m.flags));
  if (!m.copy_of.empty()) {
    out += ",\"copy_of\":{\"url\":" + Q(m.copy_of) +
           ",\"version\":" + std::to_string(m.copy_of_version) + "}";
  }
  if (v.text != nullptr) {
    out += ",\"text_bytes\":" + std::to_string(v.text->size());
    if (with_text) out += ",\"text\":" + Q(*v.text);
  }
  return out + "}";
}

std::string MatchNumbersJson(const state::VersionRecord& r) {
  return "{\"verdict\":" + Q(VerdictText(r.verdict)) + ",\"version\":" + std::to_string(r.version) +
         ",\"of_version\":" + std::to_string(r.copy_of_version) +
         ",\"containment\":" + Num(r.containment) + ",\"jaccard\":" + Num(r.jaccard) +
         ",\"simhash_distance\":" + std::to_string(r.distance) +
         ",\"found_by\":" + StringArray(FoundByNames(r.found_by)) +
         ",\"boilerplate_blocks_left_out\":" + std::to_string(r.boilerplate_blocks) + "}";
}

std::string CopyJson(const CopyEdge& e) {
  return "{\"url\":" + Q(e.copy) + ",\"version\":" + std::to_string(e.copy_version) +
         ",\"verdict\":" + Q(VerdictText(e.verdict)) +
         ",\"of_version\":" + std::to_string(e.of_version) +
         ",\"containment\":" + Num(e.containment) + ",\"jaccard\":" + Num(e.jaccard) +
         ",\"simhash_distance\":" + std::to_string(e.distance) +
         ",\"found_by\":" + StringArray(FoundByNames(e.found_by)) +
         ",\"fetched_at\":" + Q(IsoTime(e.fetched_at_ms)) + "}";
}

std::string SpansJson(const std::vector<std::vector<diff::Span>>& spans) {
  std::string out = "[";
  for (size_t i = 0; i < spans.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('[');
    for (size_t k = 0; k < spans[i].size(); ++k) {
      if (k > 0) out.push_back(',');
      out += "{\"begin\":" + std::to_string(spans[i][k].begin) +
             ",\"end\":" + std::to_string(spans[i][k].end) + "}";
    }
    out.push_back(']');
  }
  return out + "]";
}

std::string DiffJson(const TextDiff& d) {
  const auto& g = d.result.significance;
  std::string out = "\"significance\":{\"changed_fraction\":" + Num(g.changed_fraction) +
                    ",\"sentences_added\":" + std::to_string(g.sentences_added) +
                    ",\"sentences_removed\":" + std::to_string(g.sentences_removed) +
                    ",\"sentences_changed\":" + std::to_string(g.sentences_changed) +
                    ",\"chars_added\":" + std::to_string(g.chars_added) +
                    ",\"chars_removed\":" + std::to_string(g.chars_removed) +
                    ",\"numbers_changed\":" + (g.numbers_changed ? "true" : "false") +
                    ",\"dates_changed\":" + (g.dates_changed ? "true" : "false") +
                    ",\"amounts_changed\":" + (g.amounts_changed ? "true" : "false") +
                    ",\"severity\":" + Q(diff::SeverityName(g.severity)) + "}" +
                    ",\"truncated\":" + (d.result.truncated ? "true" : "false") + ",\"hunks\":[";
  for (size_t i = 0; i < d.result.hunks.size(); ++i) {
    const diff::Hunk& h = d.result.hunks[i];
    if (i > 0) out.push_back(',');
    out += "{\"kind\":" + Q(diff::HunkKindName(h.kind)) +
           ",\"old_begin\":" + std::to_string(h.old_begin) +
           ",\"old_end\":" + std::to_string(h.old_end) +
           ",\"new_begin\":" + std::to_string(h.new_begin) +
           ",\"new_end\":" + std::to_string(h.new_end) +
           ",\"old_first_line\":" + std::to_string(h.old_first_block + 1) +
           ",\"old_last_line\":" + std::to_string(h.old_last_block + 1) +
           ",\"new_first_line\":" + std::to_string(h.new_first_block + 1) +
           ",\"new_last_line\":" + std::to_string(h.new_last_block + 1) +
           ",\"coarse\":" + (h.coarse ? "true" : "false") +
           ",\"old_text\":" + StringArray(h.old_text) + ",\"new_text\":" + StringArray(h.new_text) +
           ",\"old_spans\":" + SpansJson(h.old_spans) + ",\"new_spans\":" + SpansJson(h.new_spans) +
           "}";
  }
  return out + "]";
}

std::string ExplanationJson(const MatchExplanation& m) {
  std::string out = "{\"url\":" + Q(m.a) + ",\"version\":" + std::to_string(m.a_version) +
                    ",\"of\":" + Q(m.b) + ",\"of_version\":" + std::to_string(m.b_version) +
                    ",\"summary\":" + Q(m.summary) +
                    ",\"shingles\":{\"url\":" + std::to_string(m.a_shingles) +
                    ",\"of\":" + std::to_string(m.b_shingles) +
                    ",\"shared\":" + std::to_string(m.shared_shingles) + "}" +
                    ",\"containment\":{\"url_in_of\":" + Num(m.a_in_b) +
                    ",\"of_in_url\":" + Num(m.b_in_a) + "},\"jaccard\":" + Num(m.jaccard) +
                    ",\"simhash_distance\":" + std::to_string(m.simhash_distance) +
                    ",\"sentences\":{\"url\":" + std::to_string(m.a_sentences) +
                    ",\"of\":" + std::to_string(m.b_sentences) +
                    ",\"shared\":" + std::to_string(m.shared_sentences) + "}" +
                    ",\"recorded\":" + (m.recorded ? MatchNumbersJson(*m.recorded) : "null") +
                    ",\"shared_passages\":[";
  for (size_t i = 0; i < m.passages.size(); ++i) {
    const auto& p = m.passages[i];
    if (i > 0) out.push_back(',');
    out += "{\"url_sentences\":[" + std::to_string(p.a_begin) + "," + std::to_string(p.a_end) +
           "],\"of_sentences\":[" + std::to_string(p.b_begin) + "," + std::to_string(p.b_end) +
           "],\"text\":" + StringArray(p.sentences) + "}";
  }
  return out + "]}";
}

// ---------------------------------------------------------------- HTML --

// A BCP 47 tag for text by its script: the page's own language is unknown,
// but the script picks the right CJK font and line breaking.
std::string_view LangOf(std::string_view text) {
  bool han = false;
  for (size_t i = 0; i + 2 < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0xE0 || c > 0xEF) continue;
    const uint32_t cp = ((c & 0x0F) << 12) |
                        ((static_cast<unsigned char>(text[i + 1]) & 0x3F) << 6) |
                        (static_cast<unsigned char>(text[i + 2]) & 0x3F);
    if (cp >= 0x3040 && cp <= 0x30FF) return "ja";
    if (cp >= 0xAC00 && cp <= 0xD7A3) return "ko";
    if (cp >= 0x4E00 && cp <= 0x9FFF) han = true;
  }
  return han ? "zh" : "";
}

std::string LangAttr(std::string_view text) {
  const auto lang = LangOf(text);
  return lang.empty() ? std::string() : " lang=\"" + std::string(lang) + "\"";
}

// The sentence with its changed spans wrapped in <ins> or <del>.
std::string Marked(std::string_view text, const std::vector<diff::Span>& spans,
                   std::string_view tag) {
  std::string out;
  size_t at = 0;
  for (const diff::Span& s : spans) {
    if (s.begin < at || s.end > text.size() || s.begin >= s.end) continue;
    AppendHtml(&out, text.substr(at, s.begin - at));
    out += "<" + std::string(tag) + ">";
    AppendHtml(&out, text.substr(s.begin, s.end - s.begin));
    out += "</" + std::string(tag) + ">";
    at = s.end;
  }
  AppendHtml(&out, text.substr(at));
  return out;
}

struct Row {
  std::string kind;         // same | changed | added | removed
  std::string left, right;  // HTML
};

std::vector<Row> DiffRows(const TextDiff& d) {
  std::vector<Row> rows;
  uint32_t i = 0, j = 0;
  auto same_until = [&](uint32_t old_end, uint32_t new_end) {
    while (i < old_end && j < new_end) {
      rows.push_back({"same", Html(d.old_sentences[i].text), Html(d.new_sentences[j].text)});
      ++i;
      ++j;
    }
  };
  for (const diff::Hunk& h : d.result.hunks) {
    same_until(h.old_begin, h.new_begin);
    const uint32_t n_old = h.old_end - h.old_begin, n_new = h.new_end - h.new_begin;
    switch (h.kind) {
      case diff::HunkKind::kChanged:
        for (uint32_t k = 0; k < std::max(n_old, n_new); ++k) {
          Row r{"changed", "", ""};
          if (k < n_old) {
            const auto& text = d.old_sentences[h.old_begin + k].text;
            r.left = h.coarse || k >= h.old_spans.size() ? "<del>" + Html(text) + "</del>"
                                                         : Marked(text, h.old_spans[k], "del");
          }
          if (k < n_new) {
            const auto& text = d.new_sentences[h.new_begin + k].text;
            r.right = h.coarse || k >= h.new_spans.size() ? "<ins>" + Html(text) + "</ins>"
                                                          : Marked(text, h.new_spans[k], "ins");
          }
          rows.push_back(std::move(r));
        }
        break;
      case diff::HunkKind::kAdded:
        for (uint32_t k = 0; k < n_new; ++k) {
          rows.push_back(
              {"added", "", "<ins>" + Html(d.new_sentences[h.new_begin + k].text) + "</ins>"});
        }
        break;
      case diff::HunkKind::kRemoved:
        for (uint32_t k = 0; k < n_old; ++k) {
          rows.push_back(
              {"removed", "<del>" + Html(d.old_sentences[h.old_begin + k].text) + "</del>", ""});
        }
        break;
    }
    i = h.old_end;
    j = h.new_end;
  }
  same_until(static_cast<uint32_t>(d.old_sentences.size()),
             static_cast<uint32_t>(d.new_sentences.size()));
  return rows;
}

constexpr std::string_view kStyle = R"css(
:root{color-scheme:light;--ins:#d7f5dc;--ins-strong:#8ee09c;--del:#fbe0e0;--del-strong:#f3a6a6}
body{margin:0 auto;max-width:1240px;padding:16px 20px;background:#fff;color:#1f2328;
font:15px/1.6 system-ui,-apple-system,"Segoe UI","Noto Sans","Noto Sans CJK SC","Noto Sans CJK JP","Noto Sans CJK KR","Source Han Sans SC","PingFang SC","Microsoft YaHei",sans-serif}
:lang(zh){font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei","Noto Sans",sans-serif}
:lang(ja){font-family:"Noto Sans CJK JP","Source Han Sans JP","Noto Sans",sans-serif}
:lang(ko){font-family:"Noto Sans CJK KR","Source Han Sans KR","Noto Sans",sans-serif}
h1{font-size:20px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px;border-bottom:1px solid #d0d7de}
bdi,.t{unicode-bidi:isolate;overflow-wrap:anywhere}
.url{font-family:ui-monospace,"Noto Sans Mono",monospace;font-size:13px;color:#57606a;overflow-wrap:anywhere}
ol.timeline{list-style:none;padding:0;margin:0;display:flex;flex-wrap:wrap;gap:6px}
ol.timeline li{border:1px solid #d0d7de;border-radius:6px;padding:4px 8px;font-size:13px;min-width:150px}
ol.timeline li.from{border-color:#cf222e;background:#fff5f5}ol.timeline li.to{border-color:#1a7f37;background:#f3fff5}
.verdict{font-weight:600}.sev-major{color:#cf222e}.sev-minor{color:#9a6700}.sev-cosmetic{color:#57606a}
table.diff{width:100%;border-collapse:collapse;table-layout:fixed}
table.diff th{text-align:left;font-size:13px;background:#f6f8fa;padding:4px 8px;border:1px solid #d0d7de}
table.diff td{vertical-align:top;padding:3px 8px;border:1px solid #eaeef2;overflow-wrap:anywhere;unicode-bidi:isolate;overflow:hidden}
tr.changed td{background:#fffbe6}tr.added td.new{background:var(--ins)}tr.removed td.old{background:var(--del)}
tr.skip td{color:#57606a;font-size:12px;text-align:center;background:#f6f8fa}
ins{background:var(--ins-strong);text-decoration:none;border-radius:2px}
del{background:var(--del-strong);text-decoration:line-through;border-radius:2px}
tr.added ins,tr.removed del{background:none}
ul.copies{padding-left:18px}ul.copies li{margin-bottom:10px}
.why{color:#424a53;font-size:14px}
form.pick{margin:8px 0;font-size:14px}
.muted{color:#57606a;font-size:13px}
)css";

void AppendTimeline(const state::UrlState& s, uint32_t from, uint32_t to, std::string* out) {
  *out += "<section id=\"timeline\"><h2>Versions</h2><ol class=\"timeline\">";
  for (const auto& v : VersionsOf(s)) {
    const auto& m = v.meta;
    std::string cls = "version";
    if (m.version == from) cls += " from";
    if (m.version == to) cls += " to";
    *out += "<li class=\"" + cls + "\" data-version=\"" + std::to_string(m.version) + "\">";
    *out += "<a href=\"/ui/page?url=" + Html(UrlEncode(s.canonical_url)) +
            "&amp;to=" + std::to_string(m.version) + "\">v" + std::to_string(m.version) + "</a> ";
    *out += "<span class=\"verdict\">" + Html(VerdictText(m.verdict)) + "</span>";
    if (m.severity >= 0 && m.severity <= static_cast<int8_t>(diff::Severity::kMajor)) {
      const auto sev = diff::SeverityName(static_cast<diff::Severity>(m.severity));
      *out += " <span class=\"sev-" + std::string(sev) + "\">" + std::string(sev) + "</span>";
    }
    for (const auto& f : FlagNames(m.flags)) *out += " <span class=\"flag\">" + f + "</span>";
    *out += "<br><time>" + IsoTime(m.fetched_at_ms) + "</time></li>";
  }
  *out += "</ol>";
  if (s.versions.size() <= 1 && s.version > 1) {
    *out += "<p class=\"muted\">Earlier versions are not kept (state.history_versions).</p>";
  }
  *out += "</section>";
}

void AppendPicker(const state::UrlState& s, uint32_t from, uint32_t to, std::string* out) {
  const auto versions = VersionsOf(s);
  if (versions.size() < 2) return;
  auto select = [&](std::string_view name, uint32_t selected) {
    std::string html = "<select name=\"" + std::string(name) + "\">";
    for (const auto& v : versions) {
      const auto n = std::to_string(v.meta.version);
      html += "<option value=\"" + n + "\"" + (v.meta.version == selected ? " selected" : "") +
              ">v" + n + "</option>";
    }
    return html + "</select>";
  };
  *out +=
      "<form class=\"pick\" method=\"get\" action=\"/ui/page\">"
      "<input type=\"hidden\" name=\"url\" value=\"" +
      Html(s.canonical_url) + "\">Compare " + select("from", from) + " with " + select("to", to) +
      " <button type=\"submit\">Show</button></form>";
}

void AppendDiffTable(const state::UrlState& s, const VersionRef& from, const VersionRef& to,
                     const TextDiff& d, std::string* out) {
  const auto& g = d.result.significance;
  *out += "<section id=\"diff\"><h2>Changes from v" + std::to_string(from.meta.version) + " to v" +
          std::to_string(to.meta.version) + "</h2>";
  *out += "<p class=\"summary\">" + std::to_string(g.sentences_changed) + " changed, " +
          std::to_string(g.sentences_added) + " added, " + std::to_string(g.sentences_removed) +
          " removed sentences; " + Percent(g.changed_fraction) + " of the text; severity " +
          std::string(diff::SeverityName(g.severity)) +
          (g.numbers_changed ? "; numbers changed" : "") +
          (g.dates_changed ? "; dates changed" : "") +
          (g.amounts_changed ? "; amounts changed" : "") + "</p>";
  const std::string lang = LangAttr(s.text);
  *out += "<table class=\"diff\"" + lang + "><colgroup><col><col></colgroup><thead><tr><th>v" +
          std::to_string(from.meta.version) + " · " + IsoTime(from.meta.fetched_at_ms) +
          "</th><th>v" + std::to_string(to.meta.version) + " · " + IsoTime(to.meta.fetched_at_ms) +
          "</th></tr></thead><tbody>";
  const auto rows = DiffRows(d);
  // Long runs of unchanged sentences are folded to two of context each side.
  constexpr size_t kContext = 2;
  for (size_t r = 0; r < rows.size();) {
    if (rows[r].kind != "same") {
      *out += "<tr class=\"" + rows[r].kind + "\"><td class=\"old\" dir=\"auto\">" + rows[r].left +
              "</td><td class=\"new\" dir=\"auto\">" + rows[r].right + "</td></tr>";
      ++r;
      continue;
    }
    size_t end = r;
    while (end < rows.size() && rows[end].kind == "same") ++end;
    const size_t keep_head = r == 0 ? 0 : kContext;
    const size_t keep_tail = end == rows.size() ? 0 : kContext;
    for (size_t k = r; k < end; ++k) {
      const bool shown = k < r + keep_head || k + keep_tail >= end;
      if (!shown) {
        size_t skip_end = end - keep_tail;
        *out += "<tr class=\"skip\"><td colspan=\"2\">… " + std::to_string(skip_end - k) +
                " unchanged sentences …</td></tr>";
        k = skip_end - 1;
        continue;
      }
      *out += "<tr class=\"same\"><td class=\"old\" dir=\"auto\">" + rows[k].left +
              "</td><td class=\"new\" dir=\"auto\">" + rows[k].right + "</td></tr>";
    }
    r = end;
  }
  if (rows.empty() || d.result.hunks.empty()) {
    *out += "<tr class=\"skip\"><td colspan=\"2\">no change in the text</td></tr>";
  }
  *out += "</tbody></table></section>";
}

void AppendText(const VersionRef& v, std::string* out) {
  *out += "<section id=\"text\"><h2>Text of v" + std::to_string(v.meta.version) +
          "</h2><div class=\"t\"" + LangAttr(*v.text) + ">";
  for (std::string_view line : Lines(*v.text)) *out += "<p dir=\"auto\">" + Html(line) + "</p>";
  *out += "</div></section>";
}

}  // namespace

std::vector<std::string> FoundByNames(uint8_t found_by) {
  std::vector<std::string> out;
  if (found_by & classify::kFoundBySimHash) out.push_back("simhash");
  if (found_by & classify::kFoundByPassages) out.push_back("passages");
  return out;
}

TextDiff DiffTexts(std::string_view old_text, std::string_view new_text,
                   const diff::DiffOptions& options) {
  TextDiff d;
  d.old_sentences = Sentences(old_text);
  d.new_sentences = Sentences(new_text);
  d.result = diff::DiffSentences(d.old_sentences, d.new_sentences, options);
  return d;
}

MatchExplanation ExplainMatch(const state::UrlState& a, const state::UrlState& b, int shingle_k) {
  MatchExplanation m;
  m.a = a.canonical_url;
  m.b = b.canonical_url;
  m.a_version = a.version;
  m.b_version = b.version;
  const auto sa = ShingleSet(a.text, shingle_k), sb = ShingleSet(b.text, shingle_k);
  m.a_shingles = sa.size();
  m.b_shingles = sb.size();
  m.shared_shingles = fingerprint::IntersectionSize(sa, sb);
  m.a_in_b =
      sa.empty() ? 0 : static_cast<double>(m.shared_shingles) / static_cast<double>(sa.size());
  m.b_in_a =
      sb.empty() ? 0 : static_cast<double>(m.shared_shingles) / static_cast<double>(sb.size());
  m.jaccard = fingerprint::Jaccard(sa, sb);
  m.simhash_distance = HammingDistance(a.simhash, b.simhash);
  for (const auto& v : a.versions) {
    if (v.copy_of == b.canonical_url) {
      m.recorded = v;
      m.recorded->text.clear();
      break;
    }
  }
  // Shared passages: the runs of sentences the sentence diff of b -> a leaves
  // unchanged, aligned by their positions on both sides.
  const TextDiff d = DiffTexts(b.text, a.text, diff::DiffOptions{});
  m.a_sentences = static_cast<uint32_t>(d.new_sentences.size());
  m.b_sentences = static_cast<uint32_t>(d.old_sentences.size());
  uint32_t i = 0, j = 0;
  auto shared_until = [&](uint32_t old_end, uint32_t new_end) {
    const uint32_t n = std::min(old_end - std::min(old_end, i), new_end - std::min(new_end, j));
    if (n == 0) return;
    SharedPassage p{j, j + n, i, i + n, {}};
    for (uint32_t k = 0; k < n; ++k) p.sentences.push_back(d.new_sentences[j + k].text);
    m.shared_sentences += n;
    m.passages.push_back(std::move(p));
  };
  for (const auto& h : d.result.hunks) {
    shared_until(h.old_begin, h.new_begin);
    i = h.old_end;
    j = h.new_end;
  }
  shared_until(static_cast<uint32_t>(d.old_sentences.size()),
               static_cast<uint32_t>(d.new_sentences.size()));

  std::string s = m.a + " ";
  if (m.recorded) {
    s += "was found to be a " + std::string(VerdictText(m.recorded->verdict)) + " of " + m.b +
         " (its v" + std::to_string(m.recorded->version) + " against v" +
         std::to_string(m.recorded->copy_of_version) + ")";
    const auto paths = FoundByNames(m.recorded->found_by);
    if (!paths.empty()) {
      s += "; the candidate came from the " +
           std::string(paths.size() == 2       ? "SimHash index and the passage index"
                       : paths[0] == "simhash" ? "SimHash index"
                                               : "passage index");
    } else if (m.recorded->verdict == static_cast<uint8_t>(Verdict::kDuplicate)) {
      s += "; the candidate came from the exact content hash";
    }
    s += "; " + std::to_string(m.recorded->boilerplate_blocks) +
         " blocks of page chrome and site boilerplate were left out before comparing. ";
  } else {
    s += "has no recorded match with " + m.b + ". ";
  }
  s += "Now: " + Percent(m.a_in_b) + " of its " + std::to_string(m.a_shingles) + " " +
       std::to_string(shingle_k) + "-token shingles are in the other page, " + Percent(m.b_in_a) +
       " of the other's are in it (Jaccard " + Num(m.jaccard) + "); " +
       std::to_string(m.shared_sentences) + " of its " + std::to_string(m.a_sentences) +
       " sentences appear in the other page in the same order, in " +
       std::to_string(m.passages.size()) + " passage" + (m.passages.size() == 1 ? "" : "s") +
       "; their SimHash fingerprints differ in " + std::to_string(m.simhash_distance) +
       " of 64 bits.";
  m.summary = std::move(s);
  return m;
}

Api::Api(state::StateStore* store, const CopyIndex* copies, ApiOptions options)
    : store_(store), copies_(copies), options_(std::move(options)) {}

bool Api::OwnsUrl(std::string_view url) const {
  auto s = store_->GetCommitted(url);
  return s && s->history_full;
}

HttpResponse Api::Pages(const HttpRequest& request) const {
  std::optional<HttpResponse> error = CheckQuery(request, options_.max_query_bytes);
  if (error) return *error;
  const std::string* url = Required(request, "url", &error);
  if (!url) return *error;
  auto s = Find(store_, *url, &error);
  if (!s) return *error;
  const std::string* text = request.Param("text");
  const bool with_text = text != nullptr && (*text == "1" || *text == "true");
  std::string out = "{\"url\":" + Q(s->canonical_url) + ",\"site\":" + Q(s->site) +
                    ",\"title\":" + Q(s->title) + ",\"version\":" + std::to_string(s->version) +
                    ",\"owner\":" + (s->history_full ? "true" : "false") +
                    ",\"history_versions\":" + std::to_string(options_.history_versions) +
                    ",\"versions\":[";
  const auto versions = VersionsOf(*s);
  for (size_t i = 0; i < versions.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += VersionJson(versions[i], with_text);
  }
  out += "],\"copy_of\":";
  if (!s->versions.empty() && !s->versions[0].copy_of.empty()) {
    out += "{\"url\":" + Q(s->versions[0].copy_of) +
           ",\"match\":" + MatchNumbersJson(s->versions[0]) + "}";
  } else {
    out += "null";
  }
  out += ",\"copies\":[";
  const auto copies = copies_ ? copies_->CopiesOf(s->canonical_url) : std::vector<CopyEdge>{};
  for (size_t i = 0; i < copies.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += CopyJson(copies[i]);
  }
  return JsonResponse(200, out + "]}");
}

HttpResponse Api::Diff(const HttpRequest& request) const {
  std::optional<HttpResponse> error = CheckQuery(request, options_.max_query_bytes);
  if (error) return *error;
  const std::string* url = Required(request, "url", &error);
  if (!url) return *error;
  const std::string* from_text = Required(request, "from", &error);
  if (!from_text) return *error;
  const std::string* to_text = Required(request, "to", &error);
  if (!to_text) return *error;
  const uint32_t from = ParseVersion(*from_text, "from", &error);
  if (error) return *error;
  const uint32_t to = ParseVersion(*to_text, "to", &error);
  if (error) return *error;
  auto s = Find(store_, *url, &error);
  if (!s) return *error;
  auto a = FindVersion(*s, from, options_.history_versions, &error);
  if (!a) return *error;
  auto b = FindVersion(*s, to, options_.history_versions, &error);
  if (!b) return *error;
  const TextDiff d = DiffTexts(*a->text, *b->text, options_.diff);
  auto side = [&](const VersionRef& v) {
    return "{\"url\":" + Q(s->canonical_url) + ",\"version\":" + std::to_string(v.meta.version) +
           ",\"fetched_at_ms\":" + std::to_string(v.meta.fetched_at_ms) +
           ",\"content_hash\":" + Q(HexHash(v.meta.content_hash)) + "}";
  };
  return JsonResponse(200, "{\"canonical_url\":" + Q(s->canonical_url) + ",\"old_side\":" +
                               side(*a) + ",\"new_side\":" + side(*b) + "," + DiffJson(d) + "}");
}

HttpResponse Api::Match(const HttpRequest& request) const {
  std::optional<HttpResponse> error = CheckQuery(request, options_.max_query_bytes);
  if (error) return *error;
  const std::string* url = Required(request, "url", &error);
  if (!url) return *error;
  const std::string* of = Required(request, "of", &error);
  if (!of) return *error;
  auto a = Find(store_, *url, &error);
  if (!a) return *error;
  auto b = Find(store_, *of, &error);
  if (!b) return *error;
  return JsonResponse(200, ExplanationJson(ExplainMatch(*a, *b, options_.shingle_k)));
}

HttpResponse Api::Page(const HttpRequest& request) const {
  auto html_error = [](const HttpResponse& json) {
    HttpResponse r = json;  // the JSON error body, as plain text for people
    r.content_type = "text/plain; charset=utf-8";
    return r;
  };
  std::optional<HttpResponse> error = CheckQuery(request, options_.max_query_bytes);
  if (error) return html_error(*error);
  const std::string* url = Required(request, "url", &error);
  if (!url) return html_error(*error);
  auto s = Find(store_, *url, &error);
  if (!s) return html_error(*error);
  const auto versions = VersionsOf(*s);
  // Default: the current version against the one before it (if kept).
  uint32_t to = s->version;
  if (const std::string* t = request.Param("to")) {
    to = ParseVersion(*t, "to", &error);
    if (error) return html_error(*error);
  }
  uint32_t from = 0;
  if (const std::string* f = request.Param("from")) {
    from = ParseVersion(*f, "from", &error);
    if (error) return html_error(*error);
  } else {
    for (const auto& v : versions) {
      if (v.meta.version < to) {
        from = v.meta.version;
        break;
      }
    }
  }
  auto to_ref = FindVersion(*s, to, options_.history_versions, &error);
  if (!to_ref) return html_error(*error);
  std::optional<VersionRef> from_ref;
  if (from != 0) {
    from_ref = FindVersion(*s, from, options_.history_versions, &error);
    if (!from_ref) return html_error(*error);
  }

  std::string out;
  out.reserve(16384 + s->text.size() * 3);
  out +=
      "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
      "<title>dedupd · ";
  AppendHtml(&out, s->title.empty() ? s->canonical_url : s->title);
  out += "</title><style>" + std::string(kStyle) + "</style></head><body>";
  out += "<header><h1 class=\"t\"" + LangAttr(s->title) + " dir=\"auto\">";
  AppendHtml(&out, s->title.empty() ? s->canonical_url : s->title);
  out += "</h1><p class=\"url\"><bdi>";
  AppendHtml(&out, s->canonical_url);
  out += "</bdi> · site <bdi>";
  AppendHtml(&out, s->site);
  out += "</bdi> · version " + std::to_string(s->version) +
         " · <a href=\"/v1/pages?url=" + Html(UrlEncode(s->canonical_url)) +
         "\">JSON</a></p></header>";
  AppendTimeline(*s, from, to, &out);
  AppendPicker(*s, from, to, &out);
  if (from_ref) {
    AppendDiffTable(*s, *from_ref, *to_ref,
                    DiffTexts(*from_ref->text, *to_ref->text, options_.diff), &out);
  } else {
    AppendText(*to_ref, &out);
  }

  out += "<section id=\"copies\"><h2>Copies</h2>";
  if (!s->versions.empty() && !s->versions[0].copy_of.empty()) {
    const auto& of = s->versions[0].copy_of;
    out += "<p>This page is a copy of <a href=\"/ui/page?url=" + Html(UrlEncode(of)) + "\"><bdi>" +
           Html(of) + "</bdi></a>.</p>";
    if (auto original = store_->GetCommitted(of)) {
      out += "<p class=\"why t\" dir=\"auto\">" +
             Html(ExplainMatch(*s, *original, options_.shingle_k).summary) + "</p>";
    }
  }
  const auto copies = copies_ ? copies_->CopiesOf(s->canonical_url) : std::vector<CopyEdge>{};
  if (copies.empty()) {
    out += "<p class=\"muted\">No copies of this page are known.</p>";
  } else {
    out += "<ul class=\"copies\">";
    // Each explanation diffs two texts: the first kMaxExplained copies get one.
    constexpr size_t kMaxExplained = 20;
    size_t explained = 0;
    for (const CopyEdge& e : copies) {
      out += "<li class=\"copy\"><a href=\"/ui/page?url=" + Html(UrlEncode(e.copy)) + "\"><bdi>" +
             Html(e.copy) + "</bdi></a> <span class=\"verdict\">" + Html(VerdictText(e.verdict)) +
             "</span> · <a href=\"/v1/match?url=" + Html(UrlEncode(e.copy)) +
             "&amp;of=" + Html(UrlEncode(s->canonical_url)) + "\">JSON</a>";
      auto copy = explained < kMaxExplained ? store_->GetCommitted(e.copy) : std::nullopt;
      if (copy) {
        ++explained;
        out += "<div class=\"why t\" dir=\"auto\">" +
               Html(ExplainMatch(*copy, *s, options_.shingle_k).summary) + "</div>";
      }
      out += "</li>";
    }
    out += "</ul>";
  }
  out += kFooter;

  return HtmlResponse(std::move(out));
}

HttpResponse Api::Site(const HttpRequest& request) const {
  auto text_error = [](HttpResponse r) {
    r.content_type = "text/plain; charset=utf-8";
    return r;
  };
  std::optional<HttpResponse> error = CheckQuery(request, options_.max_query_bytes);
  if (error) return text_error(*error);
  const std::string* site = Required(request, "site", &error);
  if (!site) return text_error(*error);
  const auto edits = copies_ ? copies_->RecentEdits(*site) : std::vector<SiteEdit>{};
  std::string out;
  out.reserve(4096 + edits.size() * 512);
  out +=
      "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
      "<title>dedupd · edits on ";
  AppendHtml(&out, *site);
  out += "</title><style>" + std::string(kStyle) + "</style></head><body>";
  out += "<header><h1>Recent edits on <bdi>";
  AppendHtml(&out, *site);
  out += "</bdi></h1><p class=\"muted\">The last " + std::to_string(kRecentEditsPerSite) +
         " revised pages of this site that this instance has seen since it started, newest "
         "first.</p></header><section id=\"edits\">";
  if (edits.empty()) {
    out += "<p class=\"muted\">No edit of this site seen yet.</p>";
  } else {
    out +=
        "<table class=\"edits\"><thead><tr><th>page</th><th>versions</th><th>severity</th>"
        "<th>fetched</th></tr></thead><tbody>";
    for (const SiteEdit& e : edits) {
      const std::string link = "/ui/page?url=" + UrlEncode(e.url) +
                               "&from=" + std::to_string(e.from_version) +
                               "&to=" + std::to_string(e.version);
      out += "<tr class=\"edit\"><td><a href=\"" + Html(link) + "\"><bdi>" + Html(e.url) +
             "</bdi></a></td><td>v" + std::to_string(e.from_version) + " → v" +
             std::to_string(e.version) + "</td><td>";
      if (e.severity >= 0 && e.severity <= static_cast<int8_t>(diff::Severity::kMajor)) {
        out += Html(diff::SeverityName(static_cast<diff::Severity>(e.severity)));
      }
      out += "</td><td>" + Html(IsoTime(e.fetched_at_ms)) + "</td></tr>";
    }
    out += "</tbody></table>";
  }
  out += kFooter;
  return HtmlResponse(std::move(out));
}

void Api::Register(metrics::HttpServer* server) const {
  server->Handle("/ui/site", [this](const HttpRequest& r) { return Site(r); });
  server->Handle("/v1/pages", [this](const HttpRequest& r) { return Pages(r); });
  server->Handle("/v1/diff", [this](const HttpRequest& r) { return Diff(r); });
  server->Handle("/v1/match", [this](const HttpRequest& r) { return Match(r); });
  server->Handle("/ui/page", [this](const HttpRequest& r) { return Page(r); });
}

void Api::RegisterDeferred(metrics::HttpServer* server, const std::atomic<const Api*>* api,
                           const std::function<metrics::HttpHandler(metrics::HttpHandler)>& wrap) {
  using Method = HttpResponse (Api::*)(const HttpRequest&) const;
  auto deferred = [api, &wrap](Method method) {
    metrics::HttpHandler handler = [api, method](const HttpRequest& r) {
      const Api* ready = api->load(std::memory_order_acquire);
      if (ready == nullptr) {
        return JsonError(503, "not_ready", "the state is still loading; try again shortly");
      }
      return (ready->*method)(r);
    };
    return wrap ? wrap(std::move(handler)) : handler;
  };
  server->Handle("/v1/pages", deferred(&Api::Pages));
  server->Handle("/v1/diff", deferred(&Api::Diff));
  server->Handle("/v1/match", deferred(&Api::Match));
  server->Handle("/ui/page", deferred(&Api::Page));
  // Per site, not per URL: any instance answers (not routed to an owner).
  server->Handle("/ui/site", [api](const HttpRequest& r) {
    const Api* ready = api->load(std::memory_order_acquire);
    if (ready == nullptr) {
      return JsonError(503, "not_ready", "the state is still loading; try again shortly");
    }
    return ready->Site(r);
  });
}

}  // namespace dedupd::api

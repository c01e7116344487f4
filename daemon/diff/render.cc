// Text renderings of a DiffResult: unified diff (for page-diffs and humans)
// and git --word-diff style lines (for a console).
#include <algorithm>
#include <charconv>
#include <string>
#include <string_view>
#include <vector>

#include "diff/diff.h"
#include "diff/internal/unicode.h"

namespace dedupd::diff {
namespace {

// One sentence per line: line breaks inside a sentence become spaces.
void AppendLine(char prefix, std::string_view text, std::string* out) {
  out->push_back(prefix);
  const size_t at = out->size();
  out->append(text);  // one copy, then the line breaks replaced in place
  for (size_t i = at; i < out->size(); ++i) {
    char& c = (*out)[i];
    if (c == '\n' || c == '\r') c = ' ';
  }
  out->push_back('\n');
}

void AppendNumber(size_t v, std::string* out) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, end);
}

// "a,b" in unified-diff convention: b == 1 is written "a"; an empty range
// names the line before it.
void AppendRange(size_t begin, size_t count, std::string* out) {
  if (count == 0) {
    AppendNumber(begin, out);
    out->append(",0");
    return;
  }
  AppendNumber(begin + 1, out);
  if (count == 1) return;
  out->push_back(',');
  AppendNumber(count, out);
}

bool IsSpaceByteAt(std::string_view s, size_t i, size_t* len) {
  const std::vector<internal::CodePoint> one =
      internal::Decode(s.substr(i, std::min<size_t>(4, s.size() - i)));
  *len = one.empty() ? 1 : one.front().length;
  return !one.empty() && internal::IsSpace(one.front().cp);
}

size_t NonSpaceBytes(std::string_view s, size_t begin, size_t end) {
  size_t count = 0;
  for (size_t i = begin; i < end;) {
    size_t len = 1;
    if (!IsSpaceByteAt(s, i, &len)) count += len;
    i += len;
  }
  return count;
}

// Position after `count` non-space bytes from `begin` (not past `end`).
size_t AdvanceNonSpace(std::string_view s, size_t begin, size_t end, size_t count) {
  size_t i = begin;
  while (i < end && count > 0) {
    size_t len = 1;
    if (!IsSpaceByteAt(s, i, &len)) count -= std::min(count, len);
    i += len;
  }
  return std::min(i, end);
}

std::vector<Span> Clean(const std::vector<Span>& spans, size_t size) {
  std::vector<Span> out;
  for (Span s : spans) {
    s.end = static_cast<uint32_t>(std::min<size_t>(s.end, size));
    if (s.begin < s.end) out.push_back(s);
  }
  std::sort(out.begin(), out.end(), [](Span x, Span y) { return x.begin < y.begin; });
  return out;
}

// Merges a changed sentence pair into one line. Outside the spans both texts
// hold the same tokens (whitespace aside), so the walk advances the two sides
// by equal counts of non-space bytes and prints the new side's text.
std::string WordDiffLine(std::string_view o, const std::vector<Span>& old_spans, std::string_view n,
                         const std::vector<Span>& new_spans) {
  const std::vector<Span> os = Clean(old_spans, o.size());
  const std::vector<Span> ns = Clean(new_spans, n.size());
  std::string out;
  size_t po = 0, pn = 0, si = 0, sj = 0;
  while (po < o.size() || pn < n.size()) {
    bool progressed = false;
    if (si < os.size() && os[si].begin <= po) {
      const size_t b = std::max<size_t>(po, os[si].begin);
      if (b < os[si].end) out += "[-" + std::string(o.substr(b, os[si].end - b)) + "-]";
      po = std::max<size_t>(po, os[si].end);
      ++si;
      progressed = true;
    }
    if (sj < ns.size() && ns[sj].begin <= pn) {
      const size_t b = std::max<size_t>(pn, ns[sj].begin);
      if (b < ns[sj].end) out += "{+" + std::string(n.substr(b, ns[sj].end - b)) + "+}";
      pn = std::max<size_t>(pn, ns[sj].end);
      ++sj;
      progressed = true;
    }
    if (progressed) continue;
    const size_t oend = si < os.size() ? os[si].begin : o.size();
    const size_t nend = sj < ns.size() ? ns[sj].begin : n.size();
    const size_t co = NonSpaceBytes(o, po, oend);
    const size_t cn = NonSpaceBytes(n, pn, nend);
    const size_t c = std::min(co, cn);
    if (c == 0) {
      // Only whitespace before one side's next span: print the new side's,
      // skip the old side's.
      bool moved = false;
      if (cn == 0 && pn < nend) {
        out += n.substr(pn, nend - pn);
        pn = nend;
        moved = true;
      }
      if (co == 0 && po < oend) {
        po = oend;
        moved = true;
      }
      if (!moved) {  // spans that do not fit the texts: never loop
        out += n.substr(pn, nend - pn);
        pn = nend;
        po = oend;
      }
      continue;
    }
    const size_t pn2 = AdvanceNonSpace(n, pn, nend, c);
    out += n.substr(pn, pn2 - pn);
    pn = pn2;
    po = AdvanceNonSpace(o, po, oend, c);
  }
  for (char& ch : out) {
    if (ch == '\n' || ch == '\r') ch = ' ';
  }
  return out;
}

}  // namespace

std::string RenderUnified(const std::vector<Sentence>& old_side,
                          const std::vector<Sentence>& new_side, const DiffResult& diff,
                          std::string_view old_label, std::string_view new_label, int context) {
  std::string out;
  RenderUnified(old_side, new_side, diff, old_label, new_label, context, &out);
  return out;
}

void RenderUnified(const std::vector<Sentence>& old_side, const std::vector<Sentence>& new_side,
                   const DiffResult& diff, std::string_view old_label, std::string_view new_label,
                   int context, std::string* out_string) {
  thread_local std::vector<SentenceView> old_views, new_views;
  Views(old_side, &old_views);
  Views(new_side, &new_views);
  RenderUnified(old_views, new_views, diff, old_label, new_label, context, out_string);
}

void RenderUnified(const std::vector<SentenceView>& old_side,
                   const std::vector<SentenceView>& new_side, const DiffResult& diff,
                   std::string_view old_label, std::string_view new_label, int context,
                   std::string* out_string) {
  std::string& out = *out_string;
  out.clear();
  if (diff.hunks.empty()) return;
  const size_t ctx = context < 0 ? 0 : static_cast<size_t>(context);
  const size_t n = old_side.size(), m = new_side.size();
  out += "--- ";
  out += old_label;
  out += "\n+++ ";
  out += new_label;
  out += "\n";
  const std::vector<Hunk>& hunks = diff.hunks;
  size_t g = 0;
  while (g < hunks.size()) {
    // Hunks whose context would touch or overlap go into one @@ group.
    size_t e = g + 1;
    while (e < hunks.size() && hunks[e].old_begin <= hunks[e - 1].old_end + 2 * ctx) ++e;
    const Hunk& first = hunks[g];
    const Hunk& last = hunks[e - 1];
    const size_t lead = std::min<size_t>({ctx, first.old_begin, first.new_begin});
    const size_t os = first.old_begin - lead, ns = first.new_begin - lead;
    const size_t trail = std::min(
        {ctx, n - std::min<size_t>(n, last.old_end), m - std::min<size_t>(m, last.new_end)});
    const size_t oe = std::min<size_t>(n, last.old_end + trail);
    const size_t ne = std::min<size_t>(m, last.new_end + trail);
    out += "@@ -";
    AppendRange(os, oe - std::min(oe, os), &out);
    out += " +";
    AppendRange(ns, ne - std::min(ne, ns), &out);
    out += " @@";
    // Where on the page: the 1-based line (block) of the first change.
    const bool new_side_empty = first.new_begin == first.new_end;
    const uint32_t block = new_side_empty ? first.old_first_block : first.new_first_block;
    out += " line ";
    AppendNumber(static_cast<size_t>(block) + 1, &out);
    out += "\n";
    size_t o = os;
    for (size_t k = g; k < e; ++k) {
      const Hunk& h = hunks[k];
      for (; o < h.old_begin && o < n; ++o) AppendLine(' ', old_side[o].text, &out);
      for (size_t i = h.old_begin; i < h.old_end && i < n; ++i) {
        AppendLine('-', old_side[i].text, &out);
      }
      for (size_t j = h.new_begin; j < h.new_end && j < m; ++j) {
        AppendLine('+', new_side[j].text, &out);
      }
      o = std::max<size_t>(o, h.old_end);
    }
    for (; o < oe; ++o) AppendLine(' ', old_side[o].text, &out);
    g = e;
  }
}

std::string RenderWordDiff(const Hunk& hunk) {
  std::string out;
  auto whole = [&out](std::string_view open, const std::vector<std::string>& texts,
                      std::string_view close) {
    for (const std::string& t : texts) {
      out += open;
      for (char c : t) out.push_back(c == '\n' || c == '\r' ? ' ' : c);
      out += close;
      out += "\n";
    }
  };
  switch (hunk.kind) {
    case HunkKind::kAdded: whole("{+", hunk.new_text, "+}"); break;
    case HunkKind::kRemoved: whole("[-", hunk.old_text, "-]"); break;
    case HunkKind::kChanged:
      if (hunk.coarse || hunk.old_text.size() != hunk.new_text.size() ||
          hunk.old_spans.size() != hunk.old_text.size() ||
          hunk.new_spans.size() != hunk.new_text.size()) {
        whole("[-", hunk.old_text, "-]");
        whole("{+", hunk.new_text, "+}");
        break;
      }
      for (size_t k = 0; k < hunk.old_text.size(); ++k) {
        out +=
            WordDiffLine(hunk.old_text[k], hunk.old_spans[k], hunk.new_text[k], hunk.new_spans[k]);
        out += "\n";
      }
      break;
  }
  return out;
}

}  // namespace dedupd::diff

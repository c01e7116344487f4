// Api: the read-only JSON API and the page for people on the daemon's HTTP
// port (docs/api.md): a URL's version history and copies, the diff of any two
// of its kept versions, why two pages matched, and /ui/page, which shows all
// of that as one server-rendered HTML page.
//
//   api::CopyIndex copies(200000);
//   detector.SetStateObserver([&](const state::UrlState& s) { copies.Observe(s); });
//   api::Api api(store.get(), &copies, api::ApiOptions{});
//   api.Register(&http_server);   // GET /v1/pages, /v1/diff, /v1/match, /ui/page
//
// Reads go through StateStore::GetCommitted and CopyIndex only, both
// thread-safe, so handlers run on any number of HTTP threads while the
// processing loop writes; nothing here can change state.
//
// Thread-safety: const methods, safe from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/copy_index.h"
#include "classify/detector.h"
#include "diff/diff.h"
#include "metrics/http_server.h"
#include "state/store.h"

namespace dedupd::api {

struct ApiOptions {
  int shingle_k = 4;              // as detect.shingle_k: the match explanation's shingles
  diff::DiffOptions diff;         // as the detector's
  size_t max_query_bytes = 4096;  // a longer query string: 414
  size_t history_versions = 10;   // state.history_versions, shown in answers
};

// Two versions' sentences and their diff, as the detector makes it.
struct TextDiff {
  std::vector<diff::Sentence> old_sentences, new_sentences;
  diff::DiffResult result;
};
TextDiff DiffTexts(std::string_view old_text, std::string_view new_text,
                   const diff::DiffOptions& options);

// A run of sentences the two texts share, in the same order.
struct SharedPassage {
  uint32_t a_begin = 0, a_end = 0;     // sentence range in the first text
  uint32_t b_begin = 0, b_end = 0;     // in the second
  std::vector<std::string> sentences;  // the first text's wording
};

// Why `a` matched `b`, computed now over the stored current texts, plus what
// the detector recorded when it matched them (if it did).
struct MatchExplanation {
  std::string a, b;
  uint32_t a_version = 0, b_version = 0;
  size_t a_shingles = 0, b_shingles = 0, shared_shingles = 0;
  double a_in_b = 0;  // |A∩B| / |A|
  double b_in_a = 0;  // |A∩B| / |B|
  double jaccard = 0;
  int simhash_distance = 0;
  uint32_t a_sentences = 0, b_sentences = 0, shared_sentences = 0;
  std::vector<SharedPassage> passages;
  std::optional<state::VersionRecord> recorded;  // a's version that was found a copy of b
  std::string summary;                           // the same in plain words
};
MatchExplanation ExplainMatch(const state::UrlState& a, const state::UrlState& b, int shingle_k);

// found_by bits as words: "simhash", "passages".
std::vector<std::string> FoundByNames(uint8_t found_by);

class Api {
 public:
  Api(state::StateStore* store, const CopyIndex* copies, ApiOptions options);

  // True when this instance holds the URL's full record (it processed the URL
  // or restored it from its changelog), false for an unknown URL or one known
  // only from another instance's fingerprint record. In scan mode every URL
  // seen is local.
  bool OwnsUrl(std::string_view url) const;

  metrics::HttpResponse Pages(const metrics::HttpRequest& request) const;  // GET /v1/pages
  metrics::HttpResponse Diff(const metrics::HttpRequest& request) const;   // GET /v1/diff
  metrics::HttpResponse Match(const metrics::HttpRequest& request) const;  // GET /v1/match
  metrics::HttpResponse Page(const metrics::HttpRequest& request) const;   // GET /ui/page
  // GET /ui/site?site=S: the site's recent edits (CopyIndex::RecentEdits),
  // each linked to its /ui/page with the two versions preselected; where the
  // dashboards' revision panels link (their series carry a site, no URL).
  // Answered by any instance: every instance sees every edit.
  metrics::HttpResponse Site(const metrics::HttpRequest& request) const;

  // Registers the five handlers on `server`.
  void Register(metrics::HttpServer* server) const;
  // For a server started before the state is loaded: the handlers answer 503
  // (JSON) until *api is set, then forward to it.
  // `wrap` (optional) wraps each per-URL handler before it is registered:
  // the several-instances router (metrics/owner_routing.h) in `dedupd run`
  // (/ui/site needs no owner and is not wrapped).
  static void RegisterDeferred(
      metrics::HttpServer* server, const std::atomic<const Api*>* api,
      const std::function<metrics::HttpHandler(metrics::HttpHandler)>& wrap = {});

 private:
  state::StateStore* store_;
  const CopyIndex* copies_;
  ApiOptions options_;
};

}  // namespace dedupd::api

#include "app/scan.h"

#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <thread>

#include "api/api.h"
#include "app/line_reader.h"
#include "app/settings.h"
#include "common/log.h"
#include "delivery/store_metrics.h"
#include "emit/json.h"
#include "metrics/http_server.h"
#include "pipeline/pipeline.h"
#include "pipeline/workers.h"
#include "state/store.h"

namespace dedupd::app {
namespace {

std::string Json(const google::protobuf::Message& m) {
  return emit::Encode(m, emit::OutputFormat::kJson);
}

void PrintText(size_t line_no, const PipelineResult& r, std::ostream& out) {
  char head[32];
  std::snprintf(head, sizeof head, "#%-4zu ", line_no);
  switch (r.kind) {
    case PipelineResult::Kind::kDeadLetter:
      out << head << "DEAD_LETTER     " << parse::ReasonCode(r.error.code) << ": " << r.error.detail
          << "\n";
      return;
    case PipelineResult::Kind::kSkipped:
      out << head << "SKIPPED         HTTP " << r.page.status << " " << r.page.canonical_url
          << "\n";
      return;
    case PipelineResult::Kind::kEvent: break;
  }
  const auto& o = r.outcome;
  std::string verdict(VerdictName(o.verdict));
  if (o.verdict == Verdict::kRevised) verdict += " v" + std::to_string(o.version);
  verdict.resize(std::max<size_t>(verdict.size(), 15), ' ');
  out << head << verdict << " " << r.page.canonical_url;
  if (o.flags.Has(Flag::kRepeatedContent)) {
    out << "  [REPEATED_CONTENT " << static_cast<int>(o.repeated_fraction * 100 + 0.5) << "%]";
  }
  if (o.flags.Has(Flag::kReverted)) out << "  [REVERTED]";
  if (o.flags.Has(Flag::kBoilerplateOnly)) out << "  [BOILERPLATE_ONLY]";
  out << "\n";
  if (o.match && (o.verdict == Verdict::kDuplicate || o.verdict == Verdict::kNearDuplicate)) {
    char sim[64];
    std::snprintf(sim, sizeof sim, "similarity %.2f, simhash distance %d", o.match->similarity,
                  o.match->distance);
    out << "      of " << o.match->url << " (" << sim << ")\n";
  }
  if (o.diff && o.verdict == Verdict::kRevised) {
    const auto& s = o.diff->result.significance;
    out << "      severity " << diff::SeverityName(s.severity) << ": " << s.sentences_changed
        << " changed, " << s.sentences_added << " added, " << s.sentences_removed << " removed"
        << (s.numbers_changed ? ", numbers changed" : "")
        << (s.dates_changed ? ", dates changed" : "")
        << (s.amounts_changed ? ", amounts changed" : "") << "\n";
    for (const auto& hunk : o.diff->result.hunks) {
      std::string rendered = diff::RenderWordDiff(hunk);
      size_t start = 0;
      while (start < rendered.size()) {
        size_t nl = rendered.find('\n', start);
        out << "      | " << rendered.substr(start, nl - start) << "\n";
        if (nl == std::string::npos) break;
        start = nl + 1;
      }
    }
  }
}

// *out = the decimal digits of v, written in place: a line number's few
// digits, without building a string (std::to_string) and copying it.
void SetDecimal(size_t v, std::string* out) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, v).ptr;
  out->clear();
  for (const char* d = digits; d != end; ++d) out->push_back(*d);
}

}  // namespace

int RunScan(const config::Settings& cfg, const ScanArgs& args) {
  std::string error;
  state::StateStorePtr store;
  if (args.state_dir.empty()) {
    store = state::NewMemoryStore();
  } else {
    state::RocksStoreOptions options;
    options.min_free_bytes = cfg.state.min_free_bytes;
    options.blob_min_bytes = cfg.state.blob_min_bytes;
    store = state::OpenRocksStore(args.state_dir, options, &error);
    if (!store) {
      log::Error("cannot open the state store", {{"error", error}});
      return 1;
    }
  }
  // Owned here, and left to the OS at exit with an in-memory store (see the
  // end): freeing the indexes and the copy index one by one was ~0.1% of a
  // scan's CPU (session 11).
  auto detector_owned = std::make_unique<classify::Detector>(DetectOptionsFrom(cfg), store.get());
  classify::Detector& detector = *detector_owned;
  // Nothing here reads an outcome's stored state: the in-memory store keeps
  // the detector's buffers instead of a copy of them.
  detector.SetOutcomeStored(false);
  auto copies_owned = std::make_unique<api::CopyIndex>(api::kCopyIndexEdges);
  api::CopyIndex& copies = *copies_owned;
  detector.SetStateObserver([&](const state::UrlState& s) { copies.Observe(s); });
  LoadState(&detector, /*log_empty=*/false);
  const api::Api page_api(store.get(), &copies, ApiOptionsFrom(cfg));

  metrics::Metrics metrics(cfg.metrics.site_label_limit, DEDUPD_VERSION);
  delivery::StoreMetrics store_metrics(*metrics.registry());
  metrics::HttpServer server(HttpServerOptionsFrom(cfg));
  if (args.metrics_port >= 0 || args.hold_seconds > 0) {
    page_api.Register(&server);  // the API and /ui/page: browse the scanned stream
    server.Handle("/metrics", [&] {
      return metrics::HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                                   metrics.Render()};
    });
    server.Handle("/healthz", [] { return metrics::HttpResponse{200, "text/plain", "ok\n"}; });
    server.Handle("/readyz", [] { return metrics::HttpResponse{200, "text/plain", "ready\n"}; });
    if (!server.Start(cfg.metrics.bind, std::max(args.metrics_port, 0), &error)) {
      log::Error("cannot start the metrics server", {{"error", error}});
      return 1;
    }
    log::Info("metrics",
              {{"url", "http://127.0.0.1:" + std::to_string(server.port()) + "/metrics"}});
  }

  PipelineOptions options = PipelineOptionsFrom(cfg);
  Pipeline pipeline(options, &detector, &metrics);

  // The input is read in 1 MiB blocks, and each line copied once, into its
  // slot, with the zero bytes after it that the parser needs to read it in
  // place (no copy into the parser's buffer, no std::getline).
  int fd = STDIN_FILENO;
  if (args.input != "-") {
    fd = ::open(args.input.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      log::Error("cannot read the input file", {{"file", args.input}});
      return 1;
    }
  }
  struct CloseFile {
    int fd;
    ~CloseFile() {
      if (fd != STDIN_FILENO) ::close(fd);
    }
  } close_file{fd};
  LineReader reader(fd, size_t{1} << 20, parse::kPadding);
  std::string topic = args.input == "-" ? "stdin" : args.input;
  // The pages are parsed and prepared on `threads` threads and finished
  // (verdict, state) here in line order. Each slot keeps its line, page,
  // event and diff across lines (their strings, lists and sub-messages are
  // reused), and no output record is encoded (scan prints the result).
  Workers workers(&pipeline, WorkerThreads(cfg.processing.threads));
  // One page's JSON lines, reused. It starts with the event's opening,
  // which each line keeps (cut back to it, not written again).
  constexpr std::string_view kEventOpening = "{\"event\":";
  std::string json(kEventOpening);
  std::map<std::string, std::string> commit_metadata{{"scan.last_line", ""}};  // reused
  const auto last_line = commit_metadata.begin();
  size_t line_no = 0;
  size_t lines_read = 0;
  bool input_done = false;
  std::ostream& out = std::cout;
  while (true) {
    while (!input_done && !workers.Full()) {
      Workers::Slot& slot = workers.Acquire();
      std::string_view line;
      if (!reader.Next(&slot.storage, &line)) {
        input_done = true;
        break;
      }
      slot.message = {line,
                      {},
                      SourceCoordinates{topic, 0, static_cast<int64_t>(lines_read), 0},
                      /*zero_padded=*/true};
      ++lines_read;
      workers.Submit();
    }
    if (workers.Empty()) break;
    Workers::Slot& slot = workers.Front();
    ++line_no;
    pipeline.Finish(slot.message, &slot.prepared, /*out=*/nullptr, &slot.result);
    const PipelineResult& r = slot.result;
    // Each line is its own commit in file mode: state is durable per line,
    // and committed before its verdict is printed, so that every verdict
    // printed is one the store holds, whatever stops the scan.
    SetDecimal(line_no, &last_line->second);
    if (!detector.Commit(commit_metadata, &error)) {
      out.flush();
      const auto why = store->LastError();
      const auto kind = why ? why->kind : state::StoreErrorKind::kIo;
      store_metrics.SetWritable(false);
      store_metrics.CountError(state::StoreErrorKindName(kind));
      switch (kind) {
        case state::StoreErrorKind::kNoSpace:
          log::Error(
              "state store full: the scan stopped; the verdicts printed before line " +
                  std::to_string(line_no) +
                  " are stored, that line and the rest were not processed. Free space on the "
                  "state volume (or lower state.min_free_bytes), then scan the rest with the same "
                  "--state-dir: tail -n +" +
                  std::to_string(line_no) + " " + (args.input == "-" ? "FILE" : args.input) +
                  " | dedupd scan - --state-dir " + args.state_dir,
              {{"state_dir", args.state_dir}, {"line", std::to_string(line_no)}, {"error", error}});
          return kExitStateFull;
        case state::StoreErrorKind::kIo:
          log::Error(
              "state commit failed: the scan stopped; the verdicts printed before line " +
                  std::to_string(line_no) + " are stored",
              {{"state_dir", args.state_dir}, {"line", std::to_string(line_no)}, {"error", error}});
          return 1;
      }
    }
    if (args.format == "text") {
      PrintText(line_no, r, out);
    } else {
      switch (r.kind) {
        case PipelineResult::Kind::kEvent:
          // The direct writer (same bytes as protobuf's JSON) into a buffer
          // kept across lines: no allocation per page once it has grown.
          json.resize(kEventOpening.size());
          emit::AppendJson(r.event, &json);
          json.push_back('}');  // (one byte at a time: no memcpy call)
          json.push_back('\n');
          if (r.diff) {
            json.append("{\"diff\":");
            emit::AppendJson(*r.diff, &json);
            json.push_back('}');
            json.push_back('\n');
          }
          out.write(json.data(), static_cast<std::streamsize>(json.size()));
          break;
        case PipelineResult::Kind::kDeadLetter:
          out << "{\"dead_letter\":" << Json(r.dead_letter) << "}\n";
          break;
        case PipelineResult::Kind::kSkipped:
          out << "{\"skipped\":{\"canonical_url\":\"" << r.page.canonical_url
              << "\",\"status\":" << r.page.status << ",\"line\":" << line_no << "}}\n";
          break;
      }
    }
    workers.PopFront();
  }
  out.flush();
  const auto speculation = detector.Speculation();
  const Workers::Stats work = workers.stats();
  log::Debug("scan done", {{"threads", std::to_string(workers.threads())},
                           {"prepared_here", std::to_string(work.prepared_here)},
                           {"prepared_by_workers", std::to_string(work.prepared_by_workers)},
                           {"waits", std::to_string(work.waits)},
                           {"wait_seconds", std::to_string(work.wait_seconds)},
                           {"wakeups", std::to_string(work.wakeups)},
                           {"speculated_fingerprints_used", std::to_string(speculation.hits)},
                           {"speculated_fingerprints_redone", std::to_string(speculation.misses)}});
  metrics.SetIndexDocuments(static_cast<double>(detector.IndexedDocuments()));
  metrics.SetStateBytes(static_cast<double>(store->ApproximateBytes()));
  if (args.hold_seconds > 0) {
    log::Info(
        "scan done; serving metrics and the API",
        {{"seconds", std::to_string(args.hold_seconds)},
         {"pages", "http://127.0.0.1:" + std::to_string(server.port()) + "/ui/page?url=..."}});
    std::this_thread::sleep_for(std::chrono::seconds(args.hold_seconds));
  }
  if (args.state_dir.empty()) {
    // The in-memory store dies with the process: freeing its states one by
    // one was ~0.7% of a scan's CPU (docs/benchmarks.md, session 8), so it is
    // left to the OS, as compilers do with -disable-free. Held by a static,
    // it stays reachable (no leak report). A RocksDB store is closed.
    static const state::StateStore* const kept_until_exit = store.release();
    (void)kept_until_exit;
    // The detector and the copy index likewise (nothing of theirs needs
    // closing: the store they point to is the one above).
    static const classify::Detector* const detector_until_exit = detector_owned.release();
    static const api::CopyIndex* const copies_until_exit = copies_owned.release();
    (void)detector_until_exit;
    (void)copies_until_exit;
  }
  return 0;
}

}  // namespace dedupd::app

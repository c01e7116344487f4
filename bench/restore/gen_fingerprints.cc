// Writes N fingerprint records to a compacted topic for the restore benchmark
// (bench/restore/restore.py): each one an encoded UrlState as `dedupd run`
// writes it to the fingerprints topic (EncodeUrlState with
// HistoryPart::kLatest), keyed by its canonical URL, with a text of random
// words of a realistic size (the issue's ~2.7 KB per record on zh pages),
// SimHash, 8 passage hashes, ~40 line hashes and a 64-value sketch.
//
//   bench_restore_gen 127.0.0.1:9092 bench-fingerprints 6 1000000 [first_id] [words]
//
// Creates the topic (cleanup.policy=compact) when missing, produces records
// with ids [first_id, first_id + N) (url https://siteS.example/doc/ID), and
// prints the count and the mean value size. Exit 0 when every record was
// acknowledged. Single-threaded; deterministic for a given id.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "kafka/admin.h"
#include "kafka/config.h"
#include "kafka/handles.h"
#include "state/url_state.h"

namespace {

uint64_t Mix(uint64_t x) {  // splitmix64
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

struct Rng {
  uint64_t s;
  uint64_t Next() { return s = Mix(s); }
};

std::vector<std::string> Vocabulary() {
  std::vector<std::string> words;
  Rng r{42};
  for (int i = 0; i < 6000; ++i) {
    std::string w;
    const int n = 2 + static_cast<int>(r.Next() % 9);
    for (int j = 0; j < n; ++j) w.push_back(static_cast<char>('a' + r.Next() % 26));
    words.push_back(std::move(w));
  }
  return words;
}

dedupd::state::UrlState MakeState(uint64_t id, const std::vector<std::string>& vocab, int words) {
  dedupd::state::UrlState s;
  Rng r{id * 7919 + 1};
  const uint64_t site = id % 997;
  s.site = "site" + std::to_string(site) + ".example";
  s.canonical_url = "https://" + s.site + "/doc/" + std::to_string(id);
  s.version = 1 + static_cast<uint32_t>(r.Next() % 3);
  s.content_hash = {r.Next(), r.Next()};
  s.simhash.bits = r.Next();
  s.fetched_at_ms = 1700000000000 + static_cast<int64_t>(id);
  for (int i = 0; i < 8; ++i) s.paragraph_hashes.push_back(r.Next());
  std::string line;
  for (int w = 0; w < words; ++w) {
    line += vocab[r.Next() % vocab.size()];
    line.push_back(w % 14 == 13 ? '.' : ' ');
    if (w % 18 == 17) {
      s.text += line;
      s.text.push_back('\n');
      s.line_hashes.push_back(r.Next());
      line.clear();
    }
  }
  s.text += line;
  s.line_hashes.push_back(r.Next());
  s.line_hashes_known = true;
  for (int i = 0; i < 64; ++i) s.sketch.push_back(static_cast<uint32_t>(r.Next()));
  std::sort(s.sketch.begin(), s.sketch.end());
  s.shingle_count = static_cast<uint32_t>(words);
  s.sketch_known = true;
  s.title = "Document " + std::to_string(id);
  dedupd::state::VersionRecord v;
  v.version = s.version;
  v.fetched_at_ms = s.fetched_at_ms;
  v.content_hash = s.content_hash;
  s.versions.push_back(v);
  s.history_full = false;
  return s;
}

class Reports : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override {
    if (m.err() != RdKafka::ERR_NO_ERROR && failed++ == 0) {
      std::fprintf(stderr, "bench_restore_gen: delivery: %s\n", m.errstr().c_str());
    }
  }
  uint64_t failed = 0;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr,
                 "usage: bench_restore_gen BOOTSTRAP TOPIC PARTITIONS COUNT [FIRST_ID] [WORDS]\n");
    return 2;
  }
  const std::string bootstrap = argv[1];
  const std::string topic = argv[2];
  const int32_t partitions = std::atoi(argv[3]);
  const uint64_t count = std::strtoull(argv[4], nullptr, 10);
  const uint64_t first = argc > 5 ? std::strtoull(argv[5], nullptr, 10) : 0;
  const int words = argc > 6 ? std::atoi(argv[6]) : 500;
  std::string error;
  if (!dedupd::kafka::EnsureTopics({{"bootstrap.servers", bootstrap}},
                                   {{topic, partitions, 1, {{"cleanup.policy", "compact"}}}},
                                   std::chrono::seconds(60), &error)) {
    std::fprintf(stderr, "bench_restore_gen: %s\n", error.c_str());
    return 1;
  }
  dedupd::kafka::ConfPtr conf = dedupd::kafka::MakeConf({{"bootstrap.servers", bootstrap},
                                                         {"enable.idempotence", "true"},
                                                         {"linger.ms", "50"},
                                                         {"batch.size", "1000000"},
                                                         {"queue.buffering.max.kbytes", "262144"}},
                                                        &error);
  if (!conf) {
    std::fprintf(stderr, "bench_restore_gen: %s\n", error.c_str());
    return 1;
  }
  Reports reports;
  conf->set("dr_cb", &reports, error);
  dedupd::kafka::ProducerPtr producer(RdKafka::Producer::create(conf.get(), error));
  if (!producer) {
    std::fprintf(stderr, "bench_restore_gen: %s\n", error.c_str());
    return 1;
  }
  const std::vector<std::string> vocab = Vocabulary();
  uint64_t bytes = 0;
  for (uint64_t id = first; id < first + count; ++id) {
    const dedupd::state::UrlState s = MakeState(id, vocab, words);
    const std::string value = dedupd::state::EncodeUrlState(s, dedupd::state::HistoryPart::kLatest);
    bytes += value.size();
    for (int attempt = 0;; ++attempt) {
      const RdKafka::ErrorCode err =
          producer->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                            const_cast<char*>(value.data()), value.size(), s.canonical_url.data(),
                            s.canonical_url.size(), 0, nullptr);
      if (err == RdKafka::ERR_NO_ERROR) break;
      if (err != RdKafka::ERR__QUEUE_FULL || attempt > 600) {
        std::fprintf(stderr, "bench_restore_gen: produce: %s\n", RdKafka::err2str(err).c_str());
        return 1;
      }
      producer->poll(100);
    }
    producer->poll(0);
  }
  if (producer->flush(120000) != RdKafka::ERR_NO_ERROR) {
    std::fprintf(stderr, "bench_restore_gen: flush timed out\n");
    return 1;
  }
  if (reports.failed > 0) {
    std::fprintf(stderr, "bench_restore_gen: %llu records not delivered\n",
                 static_cast<unsigned long long>(reports.failed));
    return 1;
  }
  std::printf("records=%llu mean_value_bytes=%.0f\n", static_cast<unsigned long long>(count),
              count ? static_cast<double>(bytes) / static_cast<double>(count) : 0.0);
  return 0;
}

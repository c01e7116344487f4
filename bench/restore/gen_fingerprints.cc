// Writes N fingerprint records to a compacted topic for the restore benchmark
// (bench/restore/restore.py): each one an encoded UrlState as `dedupd run`
// writes it to the fingerprints topic, keyed by its canonical URL: FORMAT
// compact (the default, what `dedupd run` writes since issue #15: the
// text-free format-5 record, EncodeFingerprintRecord) or full (format 4 with
// the text, EncodeUrlState with HistoryPart::kLatest: what it wrote before,
// and writes under state.fingerprint_format: full), from a state with a text
// of random words of a realistic size (the issue's ~2.7 KB per record on zh
// pages), SimHash, 8 passage hashes, ~40 line hashes and a 64-value sketch.
//
//   bench_restore_gen 127.0.0.1:9092 bench-fingerprints 6 1000000 [first_id] [words] [format]
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
#include "restore/records.h"
#include "state/url_state.h"

namespace {

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
                 "usage: bench_restore_gen BOOTSTRAP TOPIC PARTITIONS COUNT [FIRST_ID] [WORDS] "
                 "[compact|full]\n");
    return 2;
  }
  const std::string bootstrap = argv[1];
  const std::string topic = argv[2];
  const int32_t partitions = std::atoi(argv[3]);
  const uint64_t count = std::strtoull(argv[4], nullptr, 10);
  const uint64_t first = argc > 5 ? std::strtoull(argv[5], nullptr, 10) : 0;
  const int words = argc > 6 ? std::atoi(argv[6]) : 500;
  const std::string format = argc > 7 ? argv[7] : "compact";
  if (format != "compact" && format != "full") {
    std::fprintf(stderr, "bench_restore_gen: format '%s': expected compact or full\n",
                 format.c_str());
    return 2;
  }
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
  const std::vector<std::string> vocab = restore_bench::Vocabulary();
  uint64_t bytes = 0;
  for (uint64_t id = first; id < first + count; ++id) {
    const dedupd::state::UrlState s = restore_bench::MakeState(id, vocab, words);
    const std::string value =
        format == "full" ? dedupd::state::EncodeUrlState(s, dedupd::state::HistoryPart::kLatest)
                         : dedupd::state::EncodeFingerprintRecord(s);
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

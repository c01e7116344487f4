// Probe/answer round trip through a real broker, as the sharded design
// (docs/scale.md) makes it: a page-stage producer sends probe records to a
// probes topic, a shard (consumer group member + idempotent producer, not
// transactional) answers each on an answers topic with the answer partition the
// probe names, and the page stage's consumer of that topic sees the answer.
// Measures the time from produce() of the probe to the answer's arrival.
//
//   scripts/kafka start --port 0 --dir /tmp/k   # bootstrap=127.0.0.1:P
//   bench_scale_roundtrip --bootstrap 127.0.0.1:P --probes 20000 --rate 2000 --linger-ms 0
//
// Prints one JSON line: p50/p90/p99/p99.9/max of the round trip in ms, the
// count sent and answered. Everything is bounded: --deadline-s (60) for the
// whole run, after which it reports what arrived. Thread-safety: two threads
// (the shard and the page stage), each with its own clients.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "kafka/admin.h"
#include "kafka/handles.h"

namespace {

using Clock = std::chrono::steady_clock;
using dedupd::kafka::ConfPtr;
using dedupd::kafka::KafkaConsumerPtr;
using dedupd::kafka::MessagePtr;
using dedupd::kafka::ProducerPtr;

struct Probe {  // the measured part of a probe record's value
  int64_t sent_ns;
  uint32_t seq;
  int32_t answer_partition;
};

// CPU time of this thread (the shard's loop: what its Kafka clients cost per
// probe answered, librdkafka's own threads not included) and of the process.
double CpuSeconds(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

ConfPtr Conf(const std::vector<std::pair<std::string, std::string>>& kv) {
  ConfPtr c(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [k, v] : kv) {
    if (c->set(k, v, err) != RdKafka::Conf::CONF_OK) {
      std::fprintf(stderr, "config %s=%s: %s\n", k.c_str(), v.c_str(), err.c_str());
      std::exit(2);
    }
  }
  return c;
}

KafkaConsumerPtr Subscribe(const std::string& bootstrap, const std::string& group,
                           const std::string& topic) {
  ConfPtr c = Conf({{"bootstrap.servers", bootstrap},
                    {"group.id", group},
                    {"auto.offset.reset", "earliest"},
                    {"enable.auto.commit", "false"},
                    {"fetch.wait.max.ms", "100"}});
  std::string err;
  KafkaConsumerPtr consumer(RdKafka::KafkaConsumer::create(c.get(), err));
  if (!consumer) {
    std::fprintf(stderr, "consumer: %s\n", err.c_str());
    std::exit(1);
  }
  consumer->subscribe({topic});
  return consumer;
}

ProducerPtr Producer(const std::string& bootstrap, const std::string& linger_ms) {
  ConfPtr c = Conf(
      {{"bootstrap.servers", bootstrap}, {"enable.idempotence", "true"}, {"linger.ms", linger_ms}});
  std::string err;
  ProducerPtr p(RdKafka::Producer::create(c.get(), err));
  if (!p) {
    std::fprintf(stderr, "producer: %s\n", err.c_str());
    std::exit(1);
  }
  return p;
}

double At(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  return sorted[std::min(sorted.size() - 1,
                         static_cast<size_t>(q * static_cast<double>(sorted.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  std::string bootstrap, linger = "0";
  size_t probes = 20000;
  double rate = 2000;
  int partitions = 4, deadline_s = 60;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--bootstrap") {
      bootstrap = v;
    } else if (a == "--probes") {
      probes = std::stoull(v);
    } else if (a == "--rate") {
      rate = std::stod(v);
    } else if (a == "--linger-ms") {
      linger = v;
    } else if (a == "--partitions") {
      partitions = std::stoi(v);
    } else if (a == "--deadline-s") {
      deadline_s = std::stoi(v);
    }
  }
  if (bootstrap.empty() || rate <= 0 || partitions < 1) {
    std::fprintf(stderr,
                 "usage: bench_scale_roundtrip --bootstrap HOST:PORT [--probes N] [--rate R/s] "
                 "[--linger-ms L] [--partitions P] [--deadline-s S]\n");
    return 2;
  }
  const std::string suffix = std::to_string(::getpid()) + "-" + std::to_string(NowNs() % 100000);
  const std::string probe_topic = "rt-probes-" + suffix, answer_topic = "rt-answers-" + suffix;
  std::string error;
  if (!dedupd::kafka::EnsureTopics(
          {{"bootstrap.servers", bootstrap}},
          {{probe_topic, partitions, 1, {}}, {answer_topic, partitions, 1, {}}},
          std::chrono::seconds(60), &error)) {
    std::fprintf(stderr, "topics: %s\n", error.c_str());
    return 1;
  }
  const auto deadline = Clock::now() + std::chrono::seconds(deadline_s);
  std::atomic<bool> stop{false};
  std::atomic<size_t> shard_answered{0};
  double shard_cpu_s = 0;

  // The shard: answer every probe on the partition it names, unbatched by
  // anything but linger.ms.
  std::thread shard([&] {
    KafkaConsumerPtr in = Subscribe(bootstrap, "rt-shard-" + suffix, probe_topic);
    ProducerPtr out = Producer(bootstrap, linger);
    while (!stop.load() && Clock::now() < deadline) {
      MessagePtr m(in->consume(20));
      out->poll(0);
      if (m->err() != RdKafka::ERR_NO_ERROR || m->len() < sizeof(Probe)) continue;
      Probe p;
      std::memcpy(&p, m->payload(), sizeof p);
      out->produce(answer_topic, p.answer_partition, RdKafka::Producer::RK_MSG_COPY, m->payload(),
                   m->len(), m->key_pointer(), m->key_len(), 0, nullptr);
      shard_answered.fetch_add(1);
    }
    shard_cpu_s = CpuSeconds(CLOCK_THREAD_CPUTIME_ID);
    out->flush(2000);
  });

  // The page stage: its answer consumer first (so it is in the group before
  // the first answer), then probes at the given rate.
  KafkaConsumerPtr answers = Subscribe(bootstrap, "rt-page-" + suffix, answer_topic);
  ProducerPtr out = Producer(bootstrap, linger);
  // Warm-up: one probe every 100 ms until one comes back, so that both groups
  // are joined and assigned before anything is measured; their answers (seq
  // above `probes`) are not counted.
  char value[96] = {};  // a probe record of the planned size (docs/scale.md, "Records")
  bool warm = false;
  for (uint32_t w = 0; !warm && Clock::now() < deadline; ++w) {
    Probe p{NowNs(), static_cast<uint32_t>(probes) + w, 0};
    std::memcpy(value, &p, sizeof p);
    out->produce(probe_topic, static_cast<int32_t>(w % static_cast<uint32_t>(partitions)),
                 RdKafka::Producer::RK_MSG_COPY, value, sizeof value, nullptr, 0, 0, nullptr);
    for (int i = 0; i < 10 && !warm; ++i) {
      MessagePtr m(answers->consume(10));
      out->poll(0);
      warm = m->err() == RdKafka::ERR_NO_ERROR;
    }
  }
  std::vector<double> rtt_ms;
  rtt_ms.reserve(probes);
  const auto start = Clock::now();
  const double cpu_start = CpuSeconds(CLOCK_PROCESS_CPUTIME_ID);
  size_t sent = 0;
  while (Clock::now() < deadline && rtt_ms.size() < probes) {
    const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(static_cast<double>(sent) / rate));
    if (sent < probes && Clock::now() >= due) {
      Probe p{NowNs(), static_cast<uint32_t>(sent), static_cast<int32_t>(sent % partitions)};
      std::memcpy(value, &p, sizeof p);
      const uint16_t band = static_cast<uint16_t>(sent * 2654435761u);
      out->produce(probe_topic, static_cast<int32_t>(band % partitions),
                   RdKafka::Producer::RK_MSG_COPY, value, sizeof value, &band, sizeof band, 0,
                   nullptr);
      ++sent;
      out->poll(0);
      continue;
    }
    MessagePtr m(answers->consume(1));
    out->poll(0);
    if (m->err() != RdKafka::ERR_NO_ERROR || m->len() < sizeof(Probe)) continue;
    Probe p;
    std::memcpy(&p, m->payload(), sizeof p);
    if (p.seq >= probes) continue;  // a warm-up probe
    rtt_ms.push_back(static_cast<double>(NowNs() - p.sent_ns) / 1e6);
  }
  const double wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  const double process_cpu_s = CpuSeconds(CLOCK_PROCESS_CPUTIME_ID) - cpu_start;
  stop.store(true);
  shard.join();
  out->flush(2000);
  std::sort(rtt_ms.begin(), rtt_ms.end());
  std::printf(
      "{\"sent\":%zu,\"answered\":%zu,\"rate\":%.0f,\"linger_ms\":%s,\"partitions\":%d,"
      "\"rtt_ms\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"p999\":%.2f,\"max\":%.2f},"
      "\"shard_thread_cpu_us_per_answer\":%.1f,\"process_cpu_share\":%.3f}\n",
      sent, rtt_ms.size(), rate, linger.c_str(), partitions, At(rtt_ms, 0.5), At(rtt_ms, 0.9),
      At(rtt_ms, 0.99), At(rtt_ms, 0.999), rtt_ms.empty() ? 0.0 : rtt_ms.back(),
      shard_answered.load() ? shard_cpu_s * 1e6 / static_cast<double>(shard_answered.load()) : 0.0,
      process_cpu_s / wall_s);
  return rtt_ms.size() == probes ? 0 : 1;
}

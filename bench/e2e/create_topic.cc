// Creates Kafka topics for the end-to-end benchmark (the local broker refuses
// auto-creation), through dedupd's own admin helper.
//
//   bench_create_topic 127.0.0.1:9092 bench-pages 1 [more-topic 1 ...]
//
// Exits 0 when every topic exists with its partition count. Single-threaded.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "kafka/admin.h"

int main(int argc, char** argv) {
  if (argc < 4 || (argc - 2) % 2 != 0) {
    std::fprintf(stderr,
                 "usage: bench_create_topic BOOTSTRAP TOPIC PARTITIONS [TOPIC PARTITIONS]...\n");
    return 2;
  }
  std::vector<dedupd::kafka::TopicSpec> topics;
  for (int i = 2; i + 1 < argc; i += 2) {
    topics.push_back({argv[i], static_cast<int32_t>(std::stoi(argv[i + 1])), 1, {}});
  }
  std::string error;
  if (!dedupd::kafka::EnsureTopics({{"bootstrap.servers", argv[1]}}, topics,
                                   std::chrono::seconds(60), &error)) {
    std::fprintf(stderr, "bench_create_topic: %s\n", error.c_str());
    return 1;
  }
  return 0;
}

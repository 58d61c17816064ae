// Shard GC and snapshot streaming benchmark (not a test): one ShardStateMachine
// on the real file system (a temp dir, removed afterwards), one thread.
//   1. applies `keys` keys x `versions` versions (100-byte values);
//   2. times a GC pass in steps of kMaxGcVersionsPerStep (the cost of one kGc
//      apply, and versions examined per second);
//   3. streams a snapshot of the result into a second replica in 1 MiB chunks
//      (source -> receiver -> install), reporting MB/s and the growth of the
//      process's peak RSS, which stays near one chunk whatever the shard size;
//   4. for contrast, the same snapshot built in memory (CreateSnapshot).
//
//   dkv_shard_gc_bench [keys=100000] [versions=5]
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "node/limits.h"
#include "node/shard_state_machine.h"

namespace dkv::node {
namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

long PeakRssKb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

void Check(const Status& st, const char* what) {
  if (st.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, st.ToString().c_str());
  std::exit(1);
}

int Run(uint64_t keys, uint64_t versions) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("dkv_shard_gc_bench_" + std::to_string(getpid())))
          .string();
  std::filesystem::create_directories(dir + "/a");
  std::filesystem::create_directories(dir + "/b");
  storage::Env* env = storage::Env::Posix();
  auto opened = ShardStateMachine::Open(env, dir + "/a", 1);
  Check(opened.status(), "open");
  std::unique_ptr<ShardStateMachine> sm = std::move(opened).value();

  // 1. History: every key rewritten `versions` times, 256 commands per apply.
  uint64_t index = 0;
  int64_t ts = 1'700'000'000'000'000;
  const std::string value(100, 'v');
  auto start = std::chrono::steady_clock::now();
  std::vector<raft::Entry> batch;
  for (uint64_t v = 0; v < versions; v++) {
    for (uint64_t k = 0; k < keys; k++) {
      ShardCommand put = ShardCommand::Put("key" + std::to_string(k), value);
      put.ts = Timestamp{ts++, 0};
      batch.push_back(raft::Entry{1, ++index, raft::EntryType::kNormal, EncodeShardCommand(put)});
      if (batch.size() == 256) {
        Check(sm->Apply(batch), "apply");
        batch.clear();
      }
    }
  }
  Check(sm->Apply(batch), "apply");
  std::printf("history: %llu keys x %llu versions applied in %.2f s\n",
              static_cast<unsigned long long>(keys), static_cast<unsigned long long>(versions),
              Seconds(start));

  // 2. One GC pass below the last round of writes, one kGc apply per step.
  const Timestamp point{ts - static_cast<int64_t>(keys) - 1, 0};
  start = std::chrono::steady_clock::now();
  uint64_t steps = 0;
  double step_max_s = 0;
  do {
    ShardCommand gc = ShardCommand::Gc(point);
    auto step_start = std::chrono::steady_clock::now();
    Check(sm->Apply({raft::Entry{1, ++index, raft::EntryType::kNormal, EncodeShardCommand(gc)}}),
          "gc");
    step_max_s = std::max(step_max_s, Seconds(step_start));
    steps++;
  } while (!sm->applied().gc_cursor.empty());
  const double gc_s = Seconds(start);
  const double examined = static_cast<double>(keys * versions);
  std::printf(
      "gc pass: %llu steps of <= %zu versions, %.2f s, %.0f versions examined/s, "
      "%.2f ms per step (max %.2f ms)\n",
      static_cast<unsigned long long>(steps), kMaxGcVersionsPerStep, gc_s, examined / gc_s,
      1000 * gc_s / static_cast<double>(steps), 1000 * step_max_s);

  // 3. Streamed snapshot into another replica.
  auto other_opened = ShardStateMachine::Open(env, dir + "/b", 1);
  Check(other_opened.status(), "open b");
  std::unique_ptr<ShardStateMachine> other = std::move(other_opened).value();
  const long rss_before = PeakRssKb();
  start = std::chrono::steady_clock::now();
  auto src = sm->CreateSnapshotSource();
  Check(src.status(), "snapshot source");
  const double create_s = Seconds(start);
  raft::SnapshotSink* sink = other->snapshot_sink();
  Check(sink->Begin(raft::SnapshotMetadata{}), "begin");
  const uint64_t size = (*src)->Size();
  const uint64_t chunk_bytes = 1 << 20;
  std::string chunk;
  for (uint64_t at = 0; at < size; at += chunk_bytes) {
    chunk.clear();
    Check((*src)->Read(at, chunk_bytes, &chunk), "read chunk");
    Check(sink->Append(chunk), "append chunk");
  }
  Check(sink->Finish(), "finish");
  Check(other->InstallReceivedSnapshot(), "install");
  const double stream_s = Seconds(start);
  const long rss_streamed = PeakRssKb();
  if (other->applied() != sm->applied()) {
    std::fprintf(stderr, "restored replica differs\n");
    return 1;
  }
  std::printf(
      "streamed snapshot: %.1f MB, %.2f s (checkpoint + checksums %.2f s), %.0f MB/s, "
      "peak RSS +%ld KiB\n",
      static_cast<double>(size) / 1e6, stream_s, create_s,
      static_cast<double>(size) / 1e6 / stream_s, rss_streamed - rss_before);
  src->reset();

  // 4. The same bytes built in memory.
  start = std::chrono::steady_clock::now();
  auto bytes = sm->CreateSnapshot();
  Check(bytes.status(), "in-memory snapshot");
  std::printf("in-memory snapshot (tests only): %.1f MB in %.2f s, peak RSS +%ld KiB\n",
              static_cast<double>(bytes->size()) / 1e6, Seconds(start), PeakRssKb() - rss_streamed);
  sm.reset();
  other.reset();
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace dkv::node

int main(int argc, char** argv) {
  const uint64_t keys = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000;
  const uint64_t versions = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 5;
  if (keys == 0 || versions == 0) {
    std::fprintf(stderr, "usage: dkv_shard_gc_bench [keys>0] [versions>0]\n");
    return 2;
  }
  return dkv::node::Run(keys, versions);
}

// dkv_db_bench: DistKV's storage engine against LevelDB and RocksDB, same
// workloads, same settings, same key sequences, in one process.
//
// Each engine is wrapped in a small BenchEngine adapter configured alike: 4 MiB
// write buffer, 4 KiB blocks, 8 MiB block cache, 10-bit bloom filters, no
// compression, 2 MiB tables, 10 MiB level 1, L0 slowdown/stop at 8/12, checksums
// verified on reads. Keys are 16-byte zero-padded decimals of numbers in
// [0, num) (db_bench's format); values are value_size bytes of seeded random
// data. Every workload draws its keys from a dkv::Rng seeded the same way for
// each engine, and engines are interleaved within each run so that noise from
// a shared machine hits them alike. Reported ops/s is the median over runs.
//
// The harness is single-purpose and single-process; not meant to be linked.
#include <CLI/CLI.hpp>

#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/random.h"

#ifdef DKV_BENCH_HAVE_DISTKV
#include "storage/cache.h"
#include "storage/db.h"
#endif
#ifdef DKV_BENCH_HAVE_LEVELDB
#include <leveldb/cache.h>
#include <leveldb/db.h>
#include <leveldb/filter_policy.h>
#include <leveldb/write_batch.h>
#endif
#ifdef DKV_BENCH_HAVE_ROCKSDB
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#endif

namespace {

// ---------------------------------------------------------------- settings --

struct BenchSettings {
  uint64_t num = 1'000'000;
  int runs = 3;
  size_t value_size = 100;
  std::string db_dir = "/tmp";
  uint64_t seed = 301;
  bool verify_checksums = true;
  // Shared shape of every engine (see the file comment).
  static constexpr size_t kWriteBufferBytes = 4 << 20;
  static constexpr size_t kBlockBytes = 4 << 10;
  static constexpr size_t kBlockCacheBytes = 8 << 20;
  static constexpr int kBloomBitsPerKey = 10;
  static constexpr size_t kTargetFileBytes = 2 << 20;
  static constexpr uint64_t kLevel1Bytes = 10 << 20;
  static constexpr int kL0CompactionTrigger = 4;
  static constexpr int kL0SlowdownTrigger = 8;
  static constexpr int kL0StopTrigger = 12;
  static constexpr size_t kKeyBytes = 16;
  // fillsync does num / kSyncDivisor synced writes: an fsync each is slow.
  static constexpr uint64_t kSyncDivisor = 100;
  static constexpr int kSyncThreads = 8;
};

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "dkv_db_bench: %s\n", what.c_str());
  std::exit(1);
}

// ----------------------------------------------------------------- engines --

// What the workloads need from an engine. Implementations die on errors: a
// benchmark that silently skips failed operations measures nothing.
class BenchEngine {
 public:
  virtual ~BenchEngine() = default;
  virtual void Put(std::string_view key, std::string_view value, bool sync) = 0;
  // True if found.
  virtual bool Get(std::string_view key, std::string* value) = 0;
  // Full forward scan; returns entries seen.
  virtual uint64_t ScanAll() = 0;
  // Seeks to key and reads the entry there; true if positioned on one.
  virtual bool SeekAndRead(std::string_view key) = 0;
  // Flushes and compacts everything so reads measure a settled tree.
  virtual void CompactAll() = 0;
};

using EngineFactory = std::function<std::unique_ptr<BenchEngine>(const std::string& dir)>;

#ifdef DKV_BENCH_HAVE_DISTKV
class DistKVEngine final : public BenchEngine {
 public:
  DistKVEngine(const std::string& dir, const BenchSettings& s) {
    namespace st = dkv::storage;
    st::Options o;
    o.create_if_missing = true;
    o.write_buffer_size = BenchSettings::kWriteBufferBytes;
    o.block_size = BenchSettings::kBlockBytes;
    o.bloom_bits_per_key = BenchSettings::kBloomBitsPerKey;
    o.compression = st::CompressionType::kNone;
    o.block_cache = st::NewLRUCache(BenchSettings::kBlockCacheBytes);
    o.target_file_size = BenchSettings::kTargetFileBytes;
    o.max_bytes_for_level_base = BenchSettings::kLevel1Bytes;
    o.level0_compaction_trigger = BenchSettings::kL0CompactionTrigger;
    o.level0_slowdown_writes_trigger = BenchSettings::kL0SlowdownTrigger;
    o.level0_stop_writes_trigger = BenchSettings::kL0StopTrigger;
    auto db = st::DB::Open(o, dir);
    if (!db.ok()) Die("distkv open " + dir + ": " + db.status().ToString());
    db_ = std::move(db).value();
    read_.verify_checksums = s.verify_checksums;
    scan_ = read_;
    scan_.fill_cache = false;
  }
  void Put(std::string_view key, std::string_view value, bool sync) override {
    dkv::storage::WriteOptions w;
    w.sync = sync;
    dkv::Status s = db_->Put(w, key, value);
    if (!s.ok()) Die("distkv put: " + s.ToString());
  }
  bool Get(std::string_view key, std::string* value) override {
    dkv::Status s = db_->Get(read_, key, value);
    if (s.IsNotFound()) return false;
    if (!s.ok()) Die("distkv get: " + s.ToString());
    return true;
  }
  uint64_t ScanAll() override {
    auto it = db_->NewIterator(scan_);
    uint64_t n = 0;
    size_t bytes = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      bytes += it->key().size() + it->value().size();
      n++;
    }
    if (!it->status().ok()) Die("distkv scan: " + it->status().ToString());
    return bytes > 0 ? n : 0;
  }
  bool SeekAndRead(std::string_view key) override {
    auto it = db_->NewIterator(read_);
    it->Seek(key);
    bool found = it->Valid() && !it->value().empty();
    if (!it->status().ok()) Die("distkv seek: " + it->status().ToString());
    return found;
  }
  void CompactAll() override {
    dkv::Status s = db_->CompactRange(nullptr, nullptr);
    if (!s.ok()) Die("distkv compact: " + s.ToString());
  }

 private:
  std::unique_ptr<dkv::storage::DB> db_;
  dkv::storage::ReadOptions read_;
  dkv::storage::ReadOptions scan_;
};
#endif

#ifdef DKV_BENCH_HAVE_LEVELDB
class LevelDBEngine final : public BenchEngine {
 public:
  LevelDBEngine(const std::string& dir, const BenchSettings& s)
      : cache_(leveldb::NewLRUCache(BenchSettings::kBlockCacheBytes)),
        filter_(leveldb::NewBloomFilterPolicy(BenchSettings::kBloomBitsPerKey)) {
    leveldb::Options o;
    o.create_if_missing = true;
    o.write_buffer_size = BenchSettings::kWriteBufferBytes;
    o.block_size = BenchSettings::kBlockBytes;
    o.block_cache = cache_.get();
    o.filter_policy = filter_.get();
    o.compression = leveldb::kNoCompression;
    o.max_file_size = BenchSettings::kTargetFileBytes;
    // LevelDB's level sizes (10 MiB L1, x10) and L0 triggers (4/8/12) are
    // compiled in and already equal the shared settings.
    leveldb::DB* db = nullptr;
    leveldb::Status st = leveldb::DB::Open(o, dir, &db);
    if (!st.ok()) Die("leveldb open " + dir + ": " + st.ToString());
    db_.reset(db);
    read_.verify_checksums = s.verify_checksums;
    scan_ = read_;
    scan_.fill_cache = false;
  }
  ~LevelDBEngine() override { db_.reset(); }  // before the cache and filter
  void Put(std::string_view key, std::string_view value, bool sync) override {
    leveldb::WriteOptions w;
    w.sync = sync;
    leveldb::Status s = db_->Put(w, leveldb::Slice(key.data(), key.size()),
                                 leveldb::Slice(value.data(), value.size()));
    if (!s.ok()) Die("leveldb put: " + s.ToString());
  }
  bool Get(std::string_view key, std::string* value) override {
    leveldb::Status s = db_->Get(read_, leveldb::Slice(key.data(), key.size()), value);
    if (s.IsNotFound()) return false;
    if (!s.ok()) Die("leveldb get: " + s.ToString());
    return true;
  }
  uint64_t ScanAll() override {
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(scan_));
    uint64_t n = 0;
    size_t bytes = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      bytes += it->key().size() + it->value().size();
      n++;
    }
    if (!it->status().ok()) Die("leveldb scan: " + it->status().ToString());
    return bytes > 0 ? n : 0;
  }
  bool SeekAndRead(std::string_view key) override {
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(read_));
    it->Seek(leveldb::Slice(key.data(), key.size()));
    bool found = it->Valid() && !it->value().empty();
    if (!it->status().ok()) Die("leveldb seek: " + it->status().ToString());
    return found;
  }
  void CompactAll() override { db_->CompactRange(nullptr, nullptr); }

 private:
  std::unique_ptr<leveldb::Cache> cache_;
  std::unique_ptr<const leveldb::FilterPolicy> filter_;
  std::unique_ptr<leveldb::DB> db_;
  leveldb::ReadOptions read_;
  leveldb::ReadOptions scan_;
};
#endif

#ifdef DKV_BENCH_HAVE_ROCKSDB
class RocksDBEngine final : public BenchEngine {
 public:
  RocksDBEngine(const std::string& dir, const BenchSettings& s) {
    rocksdb::Options o;
    o.create_if_missing = true;
    o.write_buffer_size = BenchSettings::kWriteBufferBytes;
    o.compression = rocksdb::kNoCompression;
    o.target_file_size_base = BenchSettings::kTargetFileBytes;
    o.max_bytes_for_level_base = BenchSettings::kLevel1Bytes;
    o.max_bytes_for_level_multiplier = 10;
    o.level0_file_num_compaction_trigger = BenchSettings::kL0CompactionTrigger;
    o.level0_slowdown_writes_trigger = BenchSettings::kL0SlowdownTrigger;
    o.level0_stop_writes_trigger = BenchSettings::kL0StopTrigger;
    rocksdb::BlockBasedTableOptions t;
    t.block_size = BenchSettings::kBlockBytes;
    t.block_cache = rocksdb::NewLRUCache(BenchSettings::kBlockCacheBytes);
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(BenchSettings::kBloomBitsPerKey));
    o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
    rocksdb::DB* db = nullptr;
    rocksdb::Status st = rocksdb::DB::Open(o, dir, &db);
    if (!st.ok()) Die("rocksdb open " + dir + ": " + st.ToString());
    db_.reset(db);
    read_.verify_checksums = s.verify_checksums;
    scan_ = read_;
    scan_.fill_cache = false;
  }
  void Put(std::string_view key, std::string_view value, bool sync) override {
    rocksdb::WriteOptions w;
    w.sync = sync;
    rocksdb::Status s = db_->Put(w, rocksdb::Slice(key.data(), key.size()),
                                 rocksdb::Slice(value.data(), value.size()));
    if (!s.ok()) Die("rocksdb put: " + s.ToString());
  }
  bool Get(std::string_view key, std::string* value) override {
    rocksdb::Status s = db_->Get(read_, rocksdb::Slice(key.data(), key.size()), value);
    if (s.IsNotFound()) return false;
    if (!s.ok()) Die("rocksdb get: " + s.ToString());
    return true;
  }
  uint64_t ScanAll() override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(scan_));
    uint64_t n = 0;
    size_t bytes = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      bytes += it->key().size() + it->value().size();
      n++;
    }
    if (!it->status().ok()) Die("rocksdb scan: " + it->status().ToString());
    return bytes > 0 ? n : 0;
  }
  bool SeekAndRead(std::string_view key) override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_));
    it->Seek(rocksdb::Slice(key.data(), key.size()));
    bool found = it->Valid() && !it->value().empty();
    if (!it->status().ok()) Die("rocksdb seek: " + it->status().ToString());
    return found;
  }
  void CompactAll() override {
    rocksdb::Status s = db_->Flush(rocksdb::FlushOptions());
    if (!s.ok()) Die("rocksdb flush: " + s.ToString());
    rocksdb::CompactRangeOptions c;
    s = db_->CompactRange(c, nullptr, nullptr);
    if (!s.ok()) Die("rocksdb compact: " + s.ToString());
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::ReadOptions read_;
  rocksdb::ReadOptions scan_;
};
#endif

// --------------------------------------------------------------- workloads --

// db_bench's key format: the number zero-padded to 16 decimal digits (no
// terminator). REQUIRES: n < 10^16 (main checks --num).
void FormatKey(uint64_t n, char* buf) {
  for (int i = static_cast<int>(BenchSettings::kKeyBytes) - 1; i >= 0; i--) {
    buf[i] = static_cast<char>('0' + n % 10);
    n /= 10;
  }
}
// A 16-byte key that is never written: 15 digits and a '.', which sorts among
// real keys but matches none, so reads go through the bloom filters.
void FormatMissingKey(uint64_t n, char* buf) {
  FormatKey(n, buf);
  // Shift the low 15 digits left by one and end with '.'.
  std::memmove(buf, buf + 1, BenchSettings::kKeyBytes - 1);
  buf[BenchSettings::kKeyBytes - 1] = '.';
}

// Seeded random bytes that values are sliced from, so producing a value costs
// nothing inside the timed loop and every engine writes the same bytes.
class ValueSource {
 public:
  ValueSource(size_t value_size, uint64_t seed) : value_size_(value_size) {
    constexpr size_t kPoolBytes = 1 << 20;
    dkv::Rng rng(seed);
    pool_.resize(std::max(kPoolBytes, value_size * 4));
    for (char& c : pool_) c = static_cast<char>(' ' + rng.Uniform(95));
  }
  std::string_view Next() {
    if (pos_ + value_size_ > pool_.size()) pos_ = 0;
    std::string_view v(pool_.data() + pos_, value_size_);
    pos_ += 97;  // a prime stride so consecutive values differ
    return v;
  }

 private:
  size_t value_size_;
  std::string pool_;
  size_t pos_ = 0;
};

struct Measured {
  uint64_t ops = 0;
  double seconds = 0;
  uint64_t found = 0;  // reads that found their key / entries scanned
  double OpsPerSec() const { return seconds > 0 ? static_cast<double>(ops) / seconds : 0; }
};

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

enum class Order { kSequential, kRandom };

// num puts of keys in the given order; the only timed part of a fill.
Measured Fill(BenchEngine* e, const BenchSettings& s, Order order, uint64_t ops, bool sync,
              uint64_t seed) {
  dkv::Rng rng(seed);
  ValueSource values(s.value_size, seed ^ 0x5eed);
  char key[BenchSettings::kKeyBytes + 1];
  auto start = Clock::now();
  for (uint64_t i = 0; i < ops; i++) {
    FormatKey(order == Order::kSequential ? i : rng.Uniform(s.num), key);
    e->Put(std::string_view(key, BenchSettings::kKeyBytes), values.Next(), sync);
  }
  return Measured{ops, Since(start), 0};
}

// Synced random puts from `threads` writers at once (the group commit case).
Measured FillSyncConcurrent(BenchEngine* e, const BenchSettings& s, int threads, uint64_t ops,
                            uint64_t seed) {
  std::vector<std::thread> workers;
  std::atomic<bool> go{false};
  const uint64_t per_thread = ops / static_cast<uint64_t>(threads);
  for (int t = 0; t < threads; t++) {
    workers.emplace_back([&, t] {
      dkv::Rng rng(seed + 1000 * static_cast<uint64_t>(t + 1));
      ValueSource values(s.value_size, seed ^ static_cast<uint64_t>(t));
      char key[BenchSettings::kKeyBytes + 1];
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      for (uint64_t i = 0; i < per_thread; i++) {
        FormatKey(rng.Uniform(s.num), key);
        e->Put(std::string_view(key, BenchSettings::kKeyBytes), values.Next(), true);
      }
    });
  }
  auto start = Clock::now();
  go.store(true, std::memory_order_release);
  for (auto& w : workers) w.join();
  return Measured{per_thread * static_cast<uint64_t>(threads), Since(start), 0};
}

Measured ReadRandom(BenchEngine* e, const BenchSettings& s, bool missing, uint64_t seed) {
  dkv::Rng rng(seed);
  char key[BenchSettings::kKeyBytes + 1];
  std::string value;
  Measured m;
  auto start = Clock::now();
  for (uint64_t i = 0; i < s.num; i++) {
    const uint64_t k = rng.Uniform(s.num);
    if (missing) {
      FormatMissingKey(k, key);
    } else {
      FormatKey(k, key);
    }
    if (e->Get(std::string_view(key, BenchSettings::kKeyBytes), &value)) m.found++;
  }
  m.seconds = Since(start);
  m.ops = s.num;
  if (missing && m.found != 0) Die("readmissing found keys that were never written");
  return m;
}

Measured SeekRandom(BenchEngine* e, const BenchSettings& s, uint64_t seed) {
  dkv::Rng rng(seed);
  char key[BenchSettings::kKeyBytes + 1];
  Measured m;
  auto start = Clock::now();
  for (uint64_t i = 0; i < s.num; i++) {
    FormatKey(rng.Uniform(s.num), key);
    if (e->SeekAndRead(std::string_view(key, BenchSettings::kKeyBytes))) m.found++;
  }
  m.seconds = Since(start);
  m.ops = s.num;
  return m;
}

// Full forward scans, repeated until num entries are read, so that the timed
// part is long enough to measure even when the fill left ~63% of num keys.
Measured ReadSeq(BenchEngine* e, const BenchSettings& s) {
  Measured m;
  auto start = Clock::now();
  while (m.ops < s.num) {
    const uint64_t n = e->ScanAll();
    if (n == 0) Die("readseq: empty DB");
    m.ops += n;
  }
  m.seconds = Since(start);
  m.found = m.ops;
  return m;
}

const std::vector<std::string> kAllWorkloads = {"fillseq",    "fillrandom",  "overwrite",
                                                "readrandom", "readmissing", "readseq",
                                                "seekrandom", "fillsync",    "fillsync8"};

bool IsReadWorkload(const std::string& w) {
  return w == "readrandom" || w == "readmissing" || w == "readseq" || w == "seekrandom";
}

// The per-workload seed: the same for every engine and every run, so each
// engine sees exactly the same key sequence.
uint64_t WorkloadSeed(const BenchSettings& s, const std::string& workload) {
  uint64_t h = s.seed;
  for (char c : workload) h = h * 131 + static_cast<uint8_t>(c);
  return h;
}

// One fresh directory per engine instance, removed when done.
class ScratchDir {
 public:
  ScratchDir(const std::string& root, const std::string& name) {
    path_ = root + "/dkv_db_bench_" + std::to_string(::getpid()) + "/" + name;
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(std::filesystem::path(path_).parent_path());
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    std::filesystem::remove(std::filesystem::path(path_).parent_path(), ec);  // if empty
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Measured RunWriteWorkload(const EngineFactory& make, const BenchSettings& s, const std::string& w,
                          const std::string& dir) {
  auto e = make(dir);
  const uint64_t seed = WorkloadSeed(s, w);
  const uint64_t sync_ops = std::max<uint64_t>(1, s.num / BenchSettings::kSyncDivisor);
  if (w == "fillseq") return Fill(e.get(), s, Order::kSequential, s.num, false, seed);
  if (w == "fillrandom") return Fill(e.get(), s, Order::kRandom, s.num, false, seed);
  if (w == "overwrite") {
    // Untimed: the same DB fillrandom would build; then timed overwrites.
    (void)Fill(e.get(), s, Order::kRandom, s.num, false, WorkloadSeed(s, "fillrandom"));
    return Fill(e.get(), s, Order::kRandom, s.num, false, seed);
  }
  if (w == "fillsync") return Fill(e.get(), s, Order::kRandom, sync_ops, true, seed);
  if (w == "fillsync8") {
    return FillSyncConcurrent(e.get(), s, BenchSettings::kSyncThreads, sync_ops, seed);
  }
  Die("unknown workload " + w);
}

Measured RunReadWorkload(BenchEngine* e, const BenchSettings& s, const std::string& w) {
  const uint64_t seed = WorkloadSeed(s, w);
  if (w == "readrandom") return ReadRandom(e, s, false, seed);
  if (w == "readmissing") return ReadRandom(e, s, true, seed);
  if (w == "readseq") return ReadSeq(e, s);
  if (w == "seekrandom") return SeekRandom(e, s, seed);
  Die("unknown workload " + w);
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  BenchSettings s;
  std::string workloads_flag =
      "fillseq,fillrandom,overwrite,readrandom,readmissing,readseq,"
      "seekrandom,fillsync,fillsync8";
  std::string engines_flag = "distkv,leveldb,rocksdb";
  std::string json_path;

  CLI::App app{"DistKV storage engine vs LevelDB and RocksDB (same settings, same keys)"};
  app.add_option("--num", s.num, "Keys per fill and operations per read workload")
      ->check(CLI::PositiveNumber);
  app.add_option("--runs", s.runs, "Runs per workload; the median is reported")
      ->check(CLI::PositiveNumber);
  app.add_option(
      "--workloads", workloads_flag, "Comma list of: " + [] {
        std::string all;
        for (const auto& w : kAllWorkloads) all += (all.empty() ? "" : ",") + w;
        return all;
      }());
  app.add_option("--engines", engines_flag, "Comma list of: distkv,leveldb,rocksdb");
  app.add_option("--json", json_path, "Also write the results as JSON here");
  app.add_option("--value_size", s.value_size, "Value bytes")->check(CLI::PositiveNumber);
  app.add_option("--db_dir", s.db_dir, "Root for the fresh per-engine DB directories");
  app.add_option("--seed", s.seed, "Seed of every key sequence");
  app.add_option("--verify_checksums", s.verify_checksums,
                 "Verify block checksums on reads (all engines alike)");
  CLI11_PARSE(app, argc, argv);

  std::map<std::string, EngineFactory> available;
#ifdef DKV_BENCH_HAVE_DISTKV
  available["distkv"] = [&s](const std::string& d) {
    return std::unique_ptr<BenchEngine>(new DistKVEngine(d, s));
  };
#endif
#ifdef DKV_BENCH_HAVE_LEVELDB
  available["leveldb"] = [&s](const std::string& d) {
    return std::unique_ptr<BenchEngine>(new LevelDBEngine(d, s));
  };
#endif
#ifdef DKV_BENCH_HAVE_ROCKSDB
  available["rocksdb"] = [&s](const std::string& d) {
    return std::unique_ptr<BenchEngine>(new RocksDBEngine(d, s));
  };
#endif

  const std::vector<std::string> workloads = SplitList(workloads_flag);
  for (const auto& w : workloads) {
    if (std::find(kAllWorkloads.begin(), kAllWorkloads.end(), w) == kAllWorkloads.end()) {
      Die("unknown workload '" + w + "'");
    }
  }
  std::vector<std::string> engines;
  for (const auto& e : SplitList(engines_flag)) {
    if (!available.count(e)) {
      std::fprintf(stderr, "dkv_db_bench: engine '%s' not built in; skipping\n", e.c_str());
      continue;
    }
    engines.push_back(e);
  }
  if (engines.empty()) Die("no engines to run");
  // Keys are 16 decimal digits.
  if (s.num > 1'000'000'000'000'000ULL) Die("--num must be at most 10^15");

  std::fprintf(stderr,
               "num=%" PRIu64 " runs=%d value_size=%zu key_size=%zu seed=%" PRIu64
               " write_buffer=%zu block=%zu cache=%zu bloom_bits=%d compression=none\n",
               s.num, s.runs, s.value_size, BenchSettings::kKeyBytes, s.seed,
               BenchSettings::kWriteBufferBytes, BenchSettings::kBlockBytes,
               BenchSettings::kBlockCacheBytes, BenchSettings::kBloomBitsPerKey);

  // results[workload][engine] = ops/s of each run.
  std::map<std::string, std::map<std::string, std::vector<double>>> results;
  bool any_reads = false;
  for (const auto& w : workloads) any_reads |= IsReadWorkload(w);

  for (int run = 0; run < s.runs; run++) {
    // Writes: one fresh DB per (workload, engine), engines interleaved.
    for (const auto& w : workloads) {
      if (IsReadWorkload(w)) continue;
      for (const auto& name : engines) {
        ScratchDir dir(s.db_dir, name + "_" + w + "_" + std::to_string(run));
        Measured m = RunWriteWorkload(available[name], s, w, dir.path());
        results[w][name].push_back(m.OpsPerSec());
        std::fprintf(stderr, "run %d %-11s %-8s %12.0f ops/s (%" PRIu64 " ops, %.2f s)\n", run,
                     w.c_str(), name.c_str(), m.OpsPerSec(), m.ops, m.seconds);
      }
    }
    if (!any_reads) continue;
    // Reads: each engine fills a DB with fillrandom's keys (untimed), settles
    // it with a full compaction, then runs every read workload on it.
    for (const auto& name : engines) {
      ScratchDir dir(s.db_dir, name + "_reads_" + std::to_string(run));
      auto e = available[name](dir.path());
      (void)Fill(e.get(), s, Order::kRandom, s.num, false, WorkloadSeed(s, "fillrandom"));
      e->CompactAll();
      for (const auto& w : workloads) {
        if (!IsReadWorkload(w)) continue;
        Measured m = RunReadWorkload(e.get(), s, w);
        results[w][name].push_back(m.OpsPerSec());
        std::fprintf(
            stderr, "run %d %-11s %-8s %12.0f ops/s (%" PRIu64 " ops, %.2f s, found %" PRIu64 ")\n",
            run, w.c_str(), name.c_str(), m.OpsPerSec(), m.ops, m.seconds, m.found);
      }
    }
  }

  // Table: median ops/s per engine, then DistKV's ratio to each peer.
  const bool have_distkv = std::find(engines.begin(), engines.end(), "distkv") != engines.end();
  std::vector<std::string> peers;
  for (const auto& e : engines) {
    if (e != "distkv") peers.push_back(e);
  }
  std::printf("%-12s", "workload");
  for (const auto& e : engines) std::printf(" %14s", (e + " ops/s").c_str());
  if (have_distkv) {
    for (const auto& p : peers) std::printf(" %12s", ("vs " + p).c_str());
  }
  std::printf("\n");
  std::ostringstream json;
  json << "{\n  \"settings\": {\"num\": " << s.num << ", \"runs\": " << s.runs
       << ", \"key_size\": " << BenchSettings::kKeyBytes << ", \"value_size\": " << s.value_size
       << ", \"write_buffer_size\": " << BenchSettings::kWriteBufferBytes
       << ", \"block_size\": " << BenchSettings::kBlockBytes
       << ", \"block_cache_size\": " << BenchSettings::kBlockCacheBytes
       << ", \"bloom_bits_per_key\": " << BenchSettings::kBloomBitsPerKey
       << ", \"compression\": \"none\", \"verify_checksums\": "
       << (s.verify_checksums ? "true" : "false") << ", \"seed\": " << s.seed
       << ", \"fillsync_ops\": " << std::max<uint64_t>(1, s.num / BenchSettings::kSyncDivisor)
       << ", \"fillsync8_threads\": " << BenchSettings::kSyncThreads << "},\n  \"workloads\": [";
  bool first_row = true;
  for (const auto& w : workloads) {
    std::printf("%-12s", w.c_str());
    std::map<std::string, double> median;
    for (const auto& e : engines) {
      median[e] = Median(results[w][e]);
      std::printf(" %14.0f", median[e]);
    }
    json << (first_row ? "\n" : ",\n") << "    {\"workload\": \"" << w << "\", \"ops_per_sec\": {";
    first_row = false;
    bool first = true;
    for (const auto& e : engines) {
      json << (first ? "" : ", ") << "\"" << e << "\": " << static_cast<uint64_t>(median[e]);
      first = false;
    }
    json << "}, \"runs\": {";
    first = true;
    for (const auto& e : engines) {
      json << (first ? "" : ", ") << "\"" << e << "\": [";
      for (size_t i = 0; i < results[w][e].size(); i++) {
        json << (i ? ", " : "") << static_cast<uint64_t>(results[w][e][i]);
      }
      json << "]";
      first = false;
    }
    json << "}";
    if (have_distkv) {
      json << ", \"distkv_ratio\": {";
      first = true;
      for (const auto& p : peers) {
        const double r = median[p] > 0 ? median["distkv"] / median[p] : 0;
        std::printf(" %11.2fx", r);
        char buf[32];
        std::snprintf(buf, sizeof(buf), "%.3f", r);
        json << (first ? "" : ", ") << "\"" << p << "\": " << buf;
        first = false;
      }
      json << "}";
    }
    json << "}";
    std::printf("\n");
  }
  json << "\n  ]\n}\n";
  if (!json_path.empty()) {
    std::filesystem::path p(json_path);
    if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
    std::ofstream out(json_path);
    out << json.str();
    if (!out) Die("cannot write " + json_path);
    std::fprintf(stderr, "wrote %s\n", json_path.c_str());
  }
  return 0;
}

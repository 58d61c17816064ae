// Behaviour of the DB through its public API, on the in-memory
// FaultInjectionEnv (fast, deterministic, and it can fill the disk).
#include "storage/db.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <thread>

#include "common/random.h"
#include "storage/fault_env.h"
#include "storage/filename.h"
#include "storage/limits.h"
#include "storage/table_cache.h"

namespace dkv::storage {
namespace {

class DBTest : public testing::Test {
 protected:
  DBTest() {
    options_.env = &env_;
    options_.create_if_missing = true;
  }
  ~DBTest() override { db_.reset(); }

  void Open() {
    db_.reset();
    auto r = DB::Open(options_, dbname_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    db_ = std::move(r).value();
  }
  Status Put(std::string_view k, std::string_view v) { return db_->Put(WriteOptions(), k, v); }
  Status Del(std::string_view k) { return db_->Delete(WriteOptions(), k); }
  std::string Get(std::string_view k, const Snapshot* snap = nullptr) {
    ReadOptions ro;
    ro.snapshot = snap;
    std::string v;
    Status s = db_->Get(ro, k, &v);
    if (s.IsNotFound()) return "NOT_FOUND";
    if (!s.ok()) return s.ToString();
    return v;
  }
  std::string Contents(const ReadOptions& ro = ReadOptions()) {
    std::string r;
    auto it = db_->NewIterator(ro);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      r += std::string(it->key()) + "=" + std::string(it->value()) + ";";
    }
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
    return r;
  }
  std::string ContentsBackward() {
    std::string r;
    auto it = db_->NewIterator(ReadOptions());
    for (it->SeekToLast(); it->Valid(); it->Prev()) {
      r += std::string(it->key()) + "=" + std::string(it->value()) + ";";
    }
    return r;
  }
  int FilesAtLevel(int level) {
    std::string v;
    EXPECT_TRUE(db_->GetProperty("dkv.num-files-at-level" + std::to_string(level), &v));
    return std::stoi(v);
  }
  int TotalFiles() {
    int n = 0;
    for (int l = 0; l < 7; l++) n += FilesAtLevel(l);
    return n;
  }
  static std::string Key(int i) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "key%06d", i);
    return buf;
  }

  FaultInjectionEnv env_;
  Options options_;
  const std::string dbname_ = "/db";
  std::unique_ptr<DB> db_;
};

TEST_F(DBTest, PutGetDelete) {
  Open();
  ASSERT_TRUE(Put("foo", "v1").ok());
  EXPECT_EQ(Get("foo"), "v1");
  ASSERT_TRUE(Put("foo", "v2").ok());
  EXPECT_EQ(Get("foo"), "v2");
  ASSERT_TRUE(Del("foo").ok());
  EXPECT_EQ(Get("foo"), "NOT_FOUND");
  EXPECT_EQ(Get("never"), "NOT_FOUND");
  ASSERT_TRUE(Put("", "empty key").ok());
  EXPECT_EQ(Get(""), "empty key");
}

TEST_F(DBTest, BatchAppliesAllOperationsInOrder) {
  Open();
  ASSERT_TRUE(Put("b", "old").ok());
  WriteBatch batch;
  batch.Put("a", "1");
  batch.Delete("b");
  batch.Put("c", "3");
  batch.Put("c", "33");
  ASSERT_TRUE(db_->Write(WriteOptions(), batch).ok());
  EXPECT_EQ(Contents(), "a=1;c=33;");
}

TEST_F(DBTest, IteratorMovesBothWaysAndSeeks) {
  Open();
  for (const char* k : {"a", "c", "e", "g"}) ASSERT_TRUE(Put(k, std::string(k) + "v").ok());
  ASSERT_TRUE(Del("e").ok());
  EXPECT_EQ(Contents(), "a=av;c=cv;g=gv;");
  EXPECT_EQ(ContentsBackward(), "g=gv;c=cv;a=av;");
  auto it = db_->NewIterator(ReadOptions());
  it->Seek("b");
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "c");
  it->Next();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "g");
  it->Prev();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "c");
  it->Prev();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "a");
  it->Prev();
  EXPECT_FALSE(it->Valid());
  it->Seek("h");
  EXPECT_FALSE(it->Valid());
}

TEST_F(DBTest, UpperBoundStopsIteration) {
  Open();
  for (const char* k : {"p:1", "p:2", "q:1"}) ASSERT_TRUE(Put(k, "x").ok());
  ReadOptions ro;
  ro.iterate_upper_bound = "q";
  auto it = db_->NewIterator(ro);
  int n = 0;
  for (it->Seek("p"); it->Valid(); it->Next()) n++;
  EXPECT_EQ(n, 2);
  it->SeekToLast();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "p:2");
}

TEST_F(DBTest, SnapshotSeesStateAtItsCreation) {
  Open();
  ASSERT_TRUE(Put("k", "v1").ok());
  const Snapshot* s1 = db_->GetSnapshot();
  ASSERT_TRUE(Put("k", "v2").ok());
  ASSERT_TRUE(Put("new", "n").ok());
  EXPECT_EQ(Get("k", s1), "v1");
  EXPECT_EQ(Get("new", s1), "NOT_FOUND");
  ReadOptions ro;
  ro.snapshot = s1;
  EXPECT_EQ(Contents(ro), "k=v1;");
  // Snapshots survive flushes and compactions.
  ASSERT_TRUE(db_->CompactRange(nullptr, nullptr).ok());
  EXPECT_EQ(Get("k", s1), "v1");
  EXPECT_EQ(Get("k"), "v2");
  db_->ReleaseSnapshot(s1);
}

TEST_F(DBTest, CompactionKeepsVersionForEachSnapshotAndDropsTheRest) {
  options_.write_buffer_size = 64 << 10;
  Open();
  ASSERT_TRUE(Put("k", "a").ok());
  const Snapshot* s1 = db_->GetSnapshot();
  ASSERT_TRUE(Put("k", "b").ok());
  ASSERT_TRUE(Put("k", "c").ok());  // hides "b" from everyone
  const Snapshot* s2 = db_->GetSnapshot();
  ASSERT_TRUE(Del("k").ok());
  ASSERT_TRUE(db_->CompactRange(nullptr, nullptr).ok());
  EXPECT_EQ(Get("k", s1), "a");
  EXPECT_EQ(Get("k", s2), "c");
  EXPECT_EQ(Get("k"), "NOT_FOUND");
  db_->ReleaseSnapshot(s1);
  db_->ReleaseSnapshot(s2);
  ASSERT_TRUE(db_->CompactRange(nullptr, nullptr).ok());
  EXPECT_EQ(Get("k"), "NOT_FOUND");
  // Everything was deleted and no snapshot needs it: no tables remain.
  EXPECT_EQ(TotalFiles(), 0);
}

TEST_F(DBTest, CompactionDropsOverwrittenVersionsNoSnapshotNeeds) {
  options_.write_buffer_size = 16 << 10;
  Open();
  for (int i = 0; i < 2000; i++) ASSERT_TRUE(Put("k", std::string(100, 'a' + i % 26)).ok());
  ASSERT_TRUE(db_->CompactRange(nullptr, nullptr).ok());
  EXPECT_EQ(TotalFiles(), 1);
  std::string tables;
  ASSERT_TRUE(db_->GetProperty("dkv.sstables", &tables));
  // One entry left: the table is a few hundred bytes, not 2000 values.
  size_t at = tables.find(".sst ");
  ASSERT_NE(at, std::string::npos) << tables;
  EXPECT_LT(std::stoull(tables.substr(at + 5)), 2000u) << tables;
  EXPECT_EQ(Get("k"), std::string(100, 'a' + 1999 % 26));
}

TEST_F(DBTest, ReopenRecoversFromWal) {
  Open();
  ASSERT_TRUE(Put("a", "1").ok());
  ASSERT_TRUE(Put("b", "2").ok());
  ASSERT_TRUE(Del("a").ok());
  Open();
  EXPECT_EQ(Get("a"), "NOT_FOUND");
  EXPECT_EQ(Get("b"), "2");
  ASSERT_TRUE(Put("c", "3").ok());
  Open();
  EXPECT_EQ(Contents(), "b=2;c=3;");
}

TEST_F(DBTest, FlushAndCompactionFormLevels) {
  options_.write_buffer_size = 32 << 10;
  options_.target_file_size = 32 << 10;
  options_.max_bytes_for_level_base = 128 << 10;
  Open();
  Rng rng(7);
  std::map<std::string, std::string> model;
  for (int i = 0; i < 6000; i++) {
    std::string k = Key(static_cast<int>(rng.Uniform(3000)));
    std::string v = std::string(40, static_cast<char>('a' + rng.Uniform(26))) + std::to_string(i);
    ASSERT_TRUE(Put(k, v).ok());
    model[k] = v;
  }
  ASSERT_TRUE(db_->Flush().ok());
  int deeper = 0;
  for (int l = 1; l < 7; l++) deeper += FilesAtLevel(l);
  EXPECT_GT(deeper, 0) << [&] {
    std::string s;
    db_->GetProperty("dkv.sstables", &s);
    return s;
  }();
  for (const auto& [k, v] : model) ASSERT_EQ(Get(k), v) << k;
  std::string expect;
  for (const auto& [k, v] : model) expect += k + "=" + v + ";";
  EXPECT_EQ(Contents(), expect);
  Open();
  for (const auto& [k, v] : model) ASSERT_EQ(Get(k), v) << k;
  std::string stats;
  EXPECT_TRUE(db_->GetProperty("dkv.stats", &stats));
  EXPECT_NE(stats.find("level"), std::string::npos);
}

TEST_F(DBTest, UniversalCompactionKeepsData) {
  options_.compaction_style = CompactionStyle::kUniversal;
  options_.write_buffer_size = 16 << 10;
  options_.target_file_size = 16 << 10;
  Open();
  Rng rng(11);
  std::map<std::string, std::string> model;
  for (int i = 0; i < 5000; i++) {
    std::string k = Key(static_cast<int>(rng.Uniform(1500)));
    if (rng.Uniform(10) == 0) {
      ASSERT_TRUE(Del(k).ok());
      model.erase(k);
    } else {
      std::string v = "v" + std::to_string(i);
      ASSERT_TRUE(Put(k, v).ok());
      model[k] = v;
    }
  }
  ASSERT_TRUE(db_->Flush().ok());
  EXPECT_LT(FilesAtLevel(0), 40);
  std::string expect;
  for (const auto& [k, v] : model) expect += k + "=" + v + ";";
  EXPECT_EQ(Contents(), expect);
  ASSERT_TRUE(db_->CompactRange(nullptr, nullptr).ok());
  EXPECT_EQ(FilesAtLevel(0), 0);
  EXPECT_EQ(Contents(), expect);
  Open();
  EXPECT_EQ(Contents(), expect);
}

TEST_F(DBTest, CheckpointOpensWithSameContents) {
  options_.write_buffer_size = 16 << 10;
  Open();
  for (int i = 0; i < 2000; i++) ASSERT_TRUE(Put(Key(i), "v" + std::to_string(i)).ok());
  ASSERT_TRUE(Del(Key(5)).ok());
  std::string expect = Contents();
  ASSERT_TRUE(db_->CreateCheckpoint("/ckpt").ok());
  EXPECT_TRUE(db_->CreateCheckpoint("/ckpt").IsInvalidArgument());
  ASSERT_TRUE(Put("after", "x").ok());  // not in the checkpoint
  Options o = options_;
  o.create_if_missing = false;
  auto ck = DB::Open(o, "/ckpt");
  ASSERT_TRUE(ck.ok()) << ck.status().ToString();
  std::string got;
  auto it = (*ck)->NewIterator(ReadOptions());
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    got += std::string(it->key()) + "=" + std::string(it->value()) + ";";
  }
  it.reset();
  EXPECT_EQ(got, expect);
  // The checkpoint is a working DB.
  ASSERT_TRUE((*ck)->Put(WriteOptions(), "ck", "1").ok());
  EXPECT_EQ(Get("ck"), "NOT_FOUND");
}

TEST_F(DBTest, ConcurrentWritersAndReaders) {
  options_.write_buffer_size = 64 << 10;
  Open();
  constexpr int kWriters = 4;
  constexpr int kPerWriter = 1500;
  std::atomic<bool> stop{false};
  std::atomic<int> read_errors{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; w++) {
    threads.emplace_back([&, w] {
      WriteOptions wo;
      wo.sync = (w % 2 == 0);
      for (int i = 0; i < kPerWriter; i++) {
        std::string k = "w" + std::to_string(w) + "-" + Key(i);
        ASSERT_TRUE(db_->Put(wo, k, k).ok());
      }
    });
  }
  std::thread reader([&] {
    Rng rng(5);
    while (!stop.load()) {
      int w = static_cast<int>(rng.Uniform(kWriters));
      std::string k =
          "w" + std::to_string(w) + "-" + Key(static_cast<int>(rng.Uniform(kPerWriter)));
      std::string v;
      Status s = db_->Get(ReadOptions(), k, &v);
      if (!(s.IsNotFound() || (s.ok() && v == k))) read_errors++;
    }
  });
  std::thread scanner([&] {
    // Iterators pin their Version while compactions replace files.
    while (!stop.load()) {
      auto it = db_->NewIterator(ReadOptions());
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        if (it->key() != it->value()) read_errors++;
      }
      if (!it->status().ok()) read_errors++;
    }
  });
  for (auto& t : threads) t.join();
  stop = true;
  reader.join();
  scanner.join();
  EXPECT_EQ(read_errors.load(), 0);
  int n = 0;
  auto it = db_->NewIterator(ReadOptions());
  for (it->SeekToFirst(); it->Valid(); it->Next()) n++;
  EXPECT_EQ(n, kWriters * kPerWriter);
}

TEST_F(DBTest, FullDiskFailsWritesClearlyAndReadsKeepWorking) {
  options_.write_buffer_size = 16 << 10;
  Open();
  for (int i = 0; i < 100; i++) ASSERT_TRUE(Put(Key(i), "v").ok());
  env_.SetSpaceLimit(env_.BytesStored() + (8 << 10));
  Status s;
  for (int i = 100; i < 5000 && s.ok(); i++) s = Put(Key(i), std::string(100, 'x'));
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.IsNoSpace()) << s.ToString();
  EXPECT_EQ(Get(Key(5)), "v");
  EXPECT_TRUE(Put("more", "x").IsNoSpace());
  std::string err;
  ASSERT_TRUE(db_->GetProperty("dkv.background-error", &err));
  EXPECT_NE(err, "OK");
  db_.reset();  // closing with a background error must not crash
  env_.SetSpaceLimit(0);
  Open();
  EXPECT_EQ(Get(Key(5)), "v");
}

TEST_F(DBTest, SyncWalMakesEarlierWritesSurviveACrash) {
  Open();
  WriteOptions no_sync;
  no_sync.sync = false;
  ASSERT_TRUE(db_->Put(no_sync, "a", "1").ok());
  ASSERT_TRUE(db_->Put(no_sync, "b", "2").ok());
  ASSERT_TRUE(db_->SyncWal().ok());
  ASSERT_TRUE(db_->Put(no_sync, "c", "3").ok());  // may be lost
  env_.Crash();
  Open();
  EXPECT_EQ(Get("a"), "1");
  EXPECT_EQ(Get("b"), "2");
}

TEST_F(DBTest, OnLoggedRunsOnceAfterTheSyncAndBeforeReadsSeeTheWrite) {
  Open();
  int calls = 0;
  std::string seen;
  WriteOptions wo;
  wo.on_logged = [&] {
    calls++;
    // Durable but not in the memtable yet: a crash now keeps it, reads miss it.
    seen = Get("k");
  };
  ASSERT_TRUE(db_->Put(wo, "k", "v").ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen, "NOT_FOUND");
  EXPECT_EQ(Get("k"), "v");
  env_.Crash();
  Open();
  EXPECT_EQ(Get("k"), "v");
}

// A synced group goes into the memtable while its WAL bytes are written,
// before the fsync; if the fsync then fails, nothing of it may be readable.
TEST_F(DBTest, ASyncedWriteWhoseSyncFailsIsNeverReadable) {
  Open();
  ASSERT_TRUE(db_->Put(WriteOptions(), "before", "1").ok());
  int logged = 0;
  WriteOptions wo;
  wo.on_logged = [&] { logged++; };
  env_.SetSyncErrors(true);
  WriteBatch batch;
  batch.Put("k", "v");
  batch.Delete("before");
  EXPECT_FALSE(db_->Write(wo, batch).ok());
  env_.SetSyncErrors(false);
  EXPECT_EQ(logged, 0);
  EXPECT_EQ(Get("k"), "NOT_FOUND");
  EXPECT_EQ(Get("before"), "1");
  std::unique_ptr<Iterator> it = db_->NewIterator(ReadOptions());
  int n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    EXPECT_EQ(it->key(), "before");
    n++;
  }
  EXPECT_EQ(n, 1);
  // The DB stops taking writes rather than build on an unknown log tail.
  EXPECT_FALSE(db_->Put(WriteOptions(), "after", "2").ok());
  it.reset();
  env_.Crash();
  Open();
  EXPECT_EQ(Get("before"), "1");
  EXPECT_EQ(Get("after"), "NOT_FOUND");
}

TEST_F(DBTest, OnLoggedIsNotCalledWhenTheWriteFails) {
  Open();
  int calls = 0;
  WriteOptions wo;
  wo.on_logged = [&] { calls++; };
  env_.SetWriteErrors(true);
  EXPECT_FALSE(db_->Put(wo, "k", "v").ok());
  env_.SetWriteErrors(false);
  EXPECT_EQ(calls, 0);
}

TEST_F(DBTest, SyncedWritesSurviveACrashAcrossMemtableSwitches) {
  options_.write_buffer_size = 8 << 10;
  Open();
  WriteOptions no_sync;
  no_sync.sync = false;
  for (int i = 0; i < 500; i++) {
    // Unsynced writes, then one synced: everything before it must survive.
    ASSERT_TRUE(db_->Put(i % 10 == 9 ? WriteOptions() : no_sync, Key(i), "v").ok());
  }
  env_.Crash();
  Open();
  for (int i = 0; i < 500; i++) ASSERT_EQ(Get(Key(i)), "v") << i;
}

TEST_F(DBTest, FlushedDataSurvivesACrash) {
  Open();
  WriteOptions no_sync;
  no_sync.sync = false;
  for (int i = 0; i < 100; i++) ASSERT_TRUE(db_->Put(no_sync, Key(i), "v").ok());
  ASSERT_TRUE(db_->Flush().ok());
  env_.Crash();
  Open();
  for (int i = 0; i < 100; i++) ASSERT_EQ(Get(Key(i)), "v") << i;
}

TEST_F(DBTest, TableCacheEvictsButKeepsTablesInUseAlive) {
  Open();
  for (int round = 0; round < 5; round++) {
    for (int i = 0; i < 50; i++) ASSERT_TRUE(Put(Key(round * 100 + i), "v").ok());
    ASSERT_TRUE(db_->Flush().ok());
  }
  db_.reset();
  auto children = env_.GetChildren(dbname_);
  ASSERT_TRUE(children.ok());
  std::vector<std::pair<uint64_t, uint64_t>> tables;  // number, size
  for (const std::string& name : *children) {
    uint64_t number;
    FileType type;
    if (ParseFileName(name, &number, &type) && type == FileType::kTableFile) {
      auto size = env_.GetFileSize(dbname_ + "/" + name);
      ASSERT_TRUE(size.ok());
      tables.emplace_back(number, *size);
    }
  }
  ASSERT_GE(tables.size(), 3u);
  InternalKeyComparator icmp(BytewiseComparator());
  TableOptions topt;
  topt.comparator = &icmp;
  TableCache cache(dbname_, &env_, topt, /*capacity=*/2);
  // Hold an iterator on every table while the cache (capacity 2) evicts.
  std::vector<std::unique_ptr<Iterator>> iters;
  for (const auto& [number, size] : tables) {
    iters.push_back(cache.NewIterator(ReadOptions(), number, size));
  }
  int entries = 0;
  for (auto& it : iters) {
    for (it->SeekToFirst(); it->Valid(); it->Next()) entries++;
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  }
  EXPECT_EQ(entries, 250);
  // Evicted tables reopen on demand.
  for (const auto& [number, size] : tables) ASSERT_TRUE(cache.FindTable(number, size).ok());
  EXPECT_FALSE(cache.FindTable(999999, 100).ok());
}

TEST_F(DBTest, SecondOpenIsBusy) {
  Open();
  auto r = DB::Open(options_, dbname_);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsBusy()) << r.status().ToString();
}

TEST_F(DBTest, MissingDbWithoutCreateIsInvalidArgument) {
  options_.create_if_missing = false;
  auto r = DB::Open(options_, "/nothing-here");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
}

TEST_F(DBTest, ErrorIfExistsRefusesExistingDb) {
  Open();
  db_.reset();
  options_.error_if_exists = true;
  auto r = DB::Open(options_, dbname_);
  EXPECT_TRUE(r.status().IsInvalidArgument());
}

TEST_F(DBTest, OversizedKeyOrValueIsInvalidArgument) {
  Open();
  EXPECT_TRUE(Put(std::string(kMaxKeySize + 1, 'k'), "v").IsInvalidArgument());
  EXPECT_TRUE(Put("k", std::string(kMaxValueSize + 1, 'v')).IsInvalidArgument());
  EXPECT_TRUE(Put(std::string(kMaxKeySize, 'k'), "v").ok());
}

TEST_F(DBTest, PropertiesAnswer) {
  Open();
  ASSERT_TRUE(Put("a", "1").ok());
  std::string v;
  EXPECT_TRUE(db_->GetProperty("dkv.approximate-memory-usage", &v));
  EXPECT_GT(std::stoll(v), 0);
  EXPECT_TRUE(db_->GetProperty("dkv.background-error", &v));
  EXPECT_EQ(v, "OK");
  ASSERT_TRUE(db_->Flush().ok());
  EXPECT_TRUE(db_->GetProperty("dkv.sstables", &v));
  EXPECT_NE(v.find(".sst"), std::string::npos);
  EXPECT_FALSE(db_->GetProperty("dkv.no-such-thing", &v));
}

TEST_F(DBTest, DestroyDbRemovesEverything) {
  Open();
  ASSERT_TRUE(Put("a", "1").ok());
  ASSERT_TRUE(db_->Flush().ok());
  db_.reset();
  ASSERT_TRUE(DestroyDB(dbname_, options_).ok());
  options_.create_if_missing = false;
  EXPECT_FALSE(DB::Open(options_, dbname_).ok());
}

TEST_F(DBTest, PosixEnvRoundTrip) {
  char tmpl[] = "/tmp/dkv_db_test_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = std::string(tmpl) + "/db";
  Options o;
  o.create_if_missing = true;
  o.write_buffer_size = 16 << 10;
  {
    auto db = DB::Open(o, dir);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    for (int i = 0; i < 1000; i++) ASSERT_TRUE((*db)->Put(WriteOptions(), Key(i), "v").ok());
  }
  {
    auto db = DB::Open(o, dir);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    std::string v;
    ASSERT_TRUE((*db)->Get(ReadOptions(), Key(999), &v).ok());
    ASSERT_TRUE((*db)->CreateCheckpoint(std::string(tmpl) + "/ckpt").ok());
  }
  ASSERT_TRUE(DestroyDB(dir, o).ok());
  ASSERT_TRUE(DestroyDB(std::string(tmpl) + "/ckpt", o).ok());
  rmdir(tmpl);
}

// WriteOptions::sync = false: a process crash (kill -9) loses nothing, so the
// record is in the OS (the log file's bytes) as soon as Write returns.
TEST_F(DBTest, UnsyncedWriteIsInTheLogFileWhenWriteReturns) {
  char tmpl[] = "/tmp/dkv_db_test_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = std::string(tmpl) + "/db";
  Options o;
  o.create_if_missing = true;
  {
    auto db = DB::Open(o, dir);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    WriteOptions no_sync;
    no_sync.sync = false;
    const std::string value = "unsynced-but-handed-to-the-os";
    ASSERT_TRUE((*db)->Put(no_sync, "k", value).ok());
    bool found = false;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.path().extension() != ".log") continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (bytes.find(value) != std::string::npos) found = true;
    }
    EXPECT_TRUE(found);
  }
  ASSERT_TRUE(DestroyDB(dir, o).ok());
  rmdir(tmpl);
}

// Many threads doing synced writes on a real file system: the group-commit
// leader may wait for the others (Options::max_group_commit_wait_micros), and
// with the wait on or off every acknowledged write is there after a reopen.
TEST_F(DBTest, ConcurrentSyncedWritersAllLandWithAndWithoutGroupWait) {
  for (int64_t wait_micros : {int64_t{200}, int64_t{0}}) {
    char tmpl[] = "/tmp/dkv_db_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    const std::string dir = std::string(tmpl) + "/db";
    Options o;
    o.create_if_missing = true;
    o.max_group_commit_wait_micros = wait_micros;
    constexpr int kThreads = 8;
    constexpr int kPerThread = 100;
    {
      auto db = DB::Open(o, dir);
      ASSERT_TRUE(db.ok()) << db.status().ToString();
      std::atomic<int> failures{0};
      std::vector<std::thread> threads;
      for (int t = 0; t < kThreads; t++) {
        threads.emplace_back([&, t] {
          for (int i = 0; i < kPerThread; i++) {
            if (!(*db)->Put(WriteOptions(), Key(t * kPerThread + i), std::to_string(t)).ok()) {
              failures++;
            }
          }
        });
      }
      for (auto& th : threads) th.join();
      ASSERT_EQ(failures.load(), 0);
    }
    {
      auto db = DB::Open(o, dir);
      ASSERT_TRUE(db.ok()) << db.status().ToString();
      for (int k = 0; k < kThreads * kPerThread; k++) {
        std::string v;
        ASSERT_TRUE((*db)->Get(ReadOptions(), Key(k), &v).ok())
            << "wait " << wait_micros << " key " << k;
        EXPECT_EQ(v, std::to_string(k / kPerThread));
      }
    }
    ASSERT_TRUE(DestroyDB(dir, o).ok());
    rmdir(tmpl);
  }
}

}  // namespace
}  // namespace dkv::storage

// Randomized operations against the DB and a std::map model, with simulated
// machine crashes (FaultInjectionEnv::Crash, torn writes) and reopen cycles.
// Small write buffers force flushes and compactions all the time.
//
// Checked: after a crash the DB holds exactly the state after some prefix of
// the acknowledged writes that includes every write made with sync=true;
// nothing never written appears; Get, iterators (both ways) and snapshots
// agree with the model. Each seed prints how to rerun it on failure:
//   DKV_SEED=123 ./storage_db_model_test
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <vector>

#include "common/random.h"
#include "storage/db.h"
#include "storage/fault_env.h"

namespace dkv::storage {
namespace {

using Model = std::map<std::string, std::string>;

struct Op {
  bool is_delete;
  std::string key;
  std::string value;
};

class ModelRun {
 public:
  ModelRun(uint64_t seed, CompactionStyle style) : seed_(seed), rng_(seed), env_(0) {
    options_.env = &env_;
    options_.create_if_missing = true;
    options_.write_buffer_size = 8 << 10;
    options_.target_file_size = 8 << 10;
    options_.max_bytes_for_level_base = 32 << 10;
    options_.level0_compaction_trigger = 2;
    options_.level0_slowdown_writes_trigger = 4;
    options_.level0_stop_writes_trigger = 6;
    options_.block_size = 512;
    options_.compaction_style = style;
    env_.SetTornWrites(true, seed);
  }

  void Run(int steps) {
    Open();
    for (int step = 0; step < steps && !testing::Test::HasFailure(); step++) {
      step_ = step;
      uint64_t r = rng_.Uniform(1000);
      if (r < 450) {
        DoWrite(/*batch=*/false);
      } else if (r < 550) {
        DoWrite(/*batch=*/true);
      } else if (r < 700) {
        CheckGet();
      } else if (r < 760) {
        CheckIterator();
      } else if (r < 800) {
        CheckSnapshot();
      } else if (r < 815) {
        Crash();
      } else if (r < 825) {
        CleanReopen();
      } else if (r < 835) {
        ASSERT_TRUE(db_->Flush().ok()) << Where();
      } else if (r < 840) {
        ASSERT_TRUE(db_->CompactRange(nullptr, nullptr).ok()) << Where();
      } else {
        DoWrite(false);
      }
    }
    db_.reset();
  }
  int crashes() const { return crashes_; }
  int lost_writes() const { return lost_writes_; }

 private:
  std::string Where() const {
    return "seed " + std::to_string(seed_) + " step " + std::to_string(step_) +
           "; rerun: DKV_SEED=" + std::to_string(seed_) + " ./storage_db_model_test";
  }

  void Open() {
    db_.reset();
    auto r = DB::Open(options_, "/db");
    ASSERT_TRUE(r.ok()) << r.status().ToString() << " " << Where();
    db_ = std::move(r).value();
  }

  std::string RandomKey() {
    // A small key space so overwrites, deletes and shadowing are common.
    return "k" + std::to_string(rng_.Uniform(300));
  }

  void DoWrite(bool batch) {
    WriteBatch b;
    std::vector<Op> ops;
    int n = batch ? 1 + static_cast<int>(rng_.Uniform(6)) : 1;
    for (int i = 0; i < n; i++) {
      Op op{rng_.Uniform(5) == 0, RandomKey(), {}};
      if (op.is_delete) {
        b.Delete(op.key);
      } else {
        op.value = "v" + std::to_string(step_) + "." + std::to_string(i) +
                   std::string(rng_.Uniform(100), 'x');
        b.Put(op.key, op.value);
      }
      ops.push_back(std::move(op));
    }
    WriteOptions wo;
    wo.sync = rng_.Uniform(4) == 0;
    Status s = db_->Write(wo, b);
    ASSERT_TRUE(s.ok()) << s.ToString() << " " << Where();
    pending_.push_back(ops);
    for (const Op& op : ops) Apply(&model_, op);
    if (wo.sync) {
      durable_ = model_;
      pending_.clear();
    }
  }

  static void Apply(Model* m, const Op& op) {
    if (op.is_delete) {
      m->erase(op.key);
    } else {
      (*m)[op.key] = op.value;
    }
  }

  void CheckGet() {
    std::string k = RandomKey();
    std::string v;
    Status s = db_->Get(ReadOptions(), k, &v);
    auto it = model_.find(k);
    if (it == model_.end()) {
      ASSERT_TRUE(s.IsNotFound()) << k << " " << s.ToString() << " " << Where();
    } else {
      ASSERT_TRUE(s.ok()) << k << " " << s.ToString() << " " << Where();
      ASSERT_EQ(v, it->second) << k << " " << Where();
    }
  }

  Model ReadAll(const ReadOptions& ro) {
    Model m;
    auto it = db_->NewIterator(ro);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      m[std::string(it->key())] = std::string(it->value());
    }
    EXPECT_TRUE(it->status().ok()) << it->status().ToString() << " " << Where();
    return m;
  }

  void CheckIterator() {
    ASSERT_EQ(ReadAll(ReadOptions()), model_) << Where();
    // Backward and from a random seek point.
    auto it = db_->NewIterator(ReadOptions());
    auto mit = model_.rbegin();
    for (it->SeekToLast(); it->Valid(); it->Prev(), ++mit) {
      ASSERT_NE(mit, model_.rend()) << Where();
      ASSERT_EQ(it->key(), mit->first) << Where();
    }
    ASSERT_EQ(mit, model_.rend()) << Where();
    std::string target = RandomKey();
    it->Seek(target);
    auto lb = model_.lower_bound(target);
    for (int i = 0; i < 5; i++) {
      if (lb == model_.end()) {
        ASSERT_FALSE(it->Valid()) << Where();
        break;
      }
      ASSERT_TRUE(it->Valid()) << Where();
      ASSERT_EQ(it->key(), lb->first) << Where();
      ASSERT_EQ(it->value(), lb->second) << Where();
      if (i % 2 == 1 && lb != model_.begin()) {
        it->Prev();
        --lb;
      } else {
        it->Next();
        ++lb;
      }
    }
  }

  void CheckSnapshot() {
    const Snapshot* snap = db_->GetSnapshot();
    Model at_snap = model_;
    // Some writes (and maybe a flush/compaction) after the snapshot.
    for (int i = 0; i < 20; i++) DoWrite(rng_.Uniform(3) == 0);
    if (rng_.Uniform(2) == 0) {
      ASSERT_TRUE(db_->Flush().ok()) << Where();
    }
    if (rng_.Uniform(4) == 0) {
      ASSERT_TRUE(db_->CompactRange(nullptr, nullptr).ok()) << Where();
    }
    ReadOptions ro;
    ro.snapshot = snap;
    EXPECT_EQ(ReadAll(ro), at_snap) << Where();
    for (int i = 0; i < 10; i++) {
      std::string k = RandomKey();
      std::string v;
      Status s = db_->Get(ro, k, &v);
      auto it = at_snap.find(k);
      if (it == at_snap.end()) {
        EXPECT_TRUE(s.IsNotFound()) << k << " " << Where();
      } else {
        EXPECT_TRUE(s.ok() && v == it->second) << k << " " << Where();
      }
    }
    db_->ReleaseSnapshot(snap);
  }

  void Crash() {
    env_.Crash();
    db_.reset();  // its files are dead: nothing it does now reaches the disk
    Open();
    if (testing::Test::HasFailure()) return;
    Model got = ReadAll(ReadOptions());
    // The recovered state must be durable_ plus a prefix of pending_.
    Model candidate = durable_;
    bool matched = got == candidate;
    size_t used = 0;
    for (size_t i = 0; i < pending_.size() && !matched; i++) {
      for (const Op& op : pending_[i]) Apply(&candidate, op);
      if (got == candidate) {
        matched = true;
        used = i + 1;
      }
    }
    ASSERT_TRUE(matched) << "state after crash is not a prefix of the writes (" << got.size()
                         << " keys, model " << model_.size() << ", durable " << durable_.size()
                         << ", pending " << pending_.size() << ") " << Where();
    crashes_++;
    lost_writes_ += static_cast<int>(pending_.size() - used);
    model_ = got;
    durable_ = got;  // recovery flushed it to synced tables
    pending_.clear();
  }

  void CleanReopen() {
    Open();
    if (testing::Test::HasFailure()) return;
    ASSERT_EQ(ReadAll(ReadOptions()), model_) << Where();
    durable_ = model_;
    pending_.clear();
  }

  const uint64_t seed_;
  Rng rng_;
  FaultInjectionEnv env_;
  Options options_;
  std::unique_ptr<DB> db_;
  Model model_;                           // every acknowledged write
  Model durable_;                         // as of the last synced write
  std::vector<std::vector<Op>> pending_;  // writes since then, in order
  int step_ = 0;
  int crashes_ = 0;
  int lost_writes_ = 0;  // unsynced writes a crash took away (expected)
};

std::vector<uint64_t> Seeds() {
  if (const char* s = std::getenv("DKV_SEED")) return {std::strtoull(s, nullptr, 10)};
  return {1, 2, 3, 4, 5, 6};
}

TEST(DBModelTest, LeveledSurvivesCrashesAndAgreesWithModel) {
  int lost = 0;
  for (uint64_t seed : Seeds()) {
    SCOPED_TRACE("DKV_SEED=" + std::to_string(seed) + " ./storage_db_model_test");
    ModelRun run(seed, CompactionStyle::kLeveled);
    run.Run(3000);
    if (HasFailure()) break;
    EXPECT_GT(run.crashes(), 0);
    lost += run.lost_writes();
  }
  // The crashes really did take unsynced writes away (the check has teeth).
  std::printf("unsynced writes lost to crashes: %d\n", lost);
}

TEST(DBModelTest, UniversalSurvivesCrashesAndAgreesWithModel) {
  int lost = 0;
  for (uint64_t seed : Seeds()) {
    SCOPED_TRACE("DKV_SEED=" + std::to_string(seed) + " ./storage_db_model_test");
    ModelRun run(seed + 1000, CompactionStyle::kUniversal);
    run.Run(3000);
    if (HasFailure()) break;
    EXPECT_GT(run.crashes(), 0);
    lost += run.lost_writes();
  }
  // The crashes really did take unsynced writes away (the check has teeth).
  std::printf("unsynced writes lost to crashes: %d\n", lost);
}

}  // namespace
}  // namespace dkv::storage

// VersionSet: manifest write + recovery, and compaction picking for both
// styles, on file metadata alone (no table is opened).
#include "storage/version_set.h"

#include <gtest/gtest.h>

#include "storage/fault_env.h"
#include "storage/filename.h"
#include "storage/wal_writer.h"

namespace dkv::storage {
namespace {

std::string IKey(std::string_view user, SequenceNumber seq = 100) {
  std::string r;
  AppendInternalKey(&r, user, seq, ValueType::kValue);
  return r;
}

class VersionSetTest : public testing::Test {
 protected:
  VersionSetTest() : icmp_(BytewiseComparator()) {
    options_.env = &env_;
    options_.level0_compaction_trigger = 4;
    options_.target_file_size = 1000;
    options_.max_bytes_for_level_base = 10000;
    EXPECT_TRUE(env_.CreateDir("/db").ok());
    Reset();
  }

  void Reset() {
    vset_.reset();
    cache_ = std::make_unique<TableCache>("/db", &env_, TableOptions(), 10);
    vset_ = std::make_unique<VersionSet>("/db", &options_, cache_.get(), &icmp_);
  }

  Status Apply(VersionEdit* edit) {
    MutexLock l(&mu_);
    return vset_->LogAndApply(edit, &mu_);
  }

  // Adds file `number` covering [lo, hi] at level.
  void AddFile(int level, uint64_t number, std::string_view lo, std::string_view hi,
               uint64_t size = 100) {
    VersionEdit edit;
    vset_->MarkFileNumberUsed(number);
    edit.AddFile(level, number, size, IKey(lo), IKey(hi, 1));
    ASSERT_TRUE(Apply(&edit).ok());
  }

  std::vector<uint64_t> Numbers(const std::vector<std::pair<int, FileMetaData*>>& in) {
    std::vector<uint64_t> r;
    for (const auto& [level, f] : in) r.push_back(f->number);
    return r;
  }

  FaultInjectionEnv env_;
  Options options_;
  InternalKeyComparator icmp_;
  Mutex mu_;
  std::unique_ptr<TableCache> cache_;
  std::unique_ptr<VersionSet> vset_;
};

TEST_F(VersionSetTest, LogAndApplyThenRecoverRestoresState) {
  AddFile(0, 10, "a", "f");
  AddFile(1, 11, "g", "k", 5000);
  vset_->SetLastSequence(77);
  VersionEdit edit;
  edit.RemoveFile(0, 10);
  ASSERT_TRUE(Apply(&edit).ok());
  uint64_t next = vset_->NewFileNumber();
  Reset();
  ASSERT_TRUE(vset_->Recover().ok());
  EXPECT_EQ(vset_->NumLevelFiles(0), 0);
  ASSERT_EQ(vset_->NumLevelFiles(1), 1);
  EXPECT_EQ(vset_->current()->files(1)[0]->number, 11u);
  EXPECT_EQ(vset_->current()->files(1)[0]->file_size, 5000u);
  EXPECT_EQ(vset_->LastSequence(), 77u);
  EXPECT_GE(vset_->NewFileNumber(), next);
}

TEST_F(VersionSetTest, RecoverWithoutCurrentFails) {
  Status s = vset_->Recover();
  EXPECT_FALSE(s.ok());
}

TEST_F(VersionSetTest, CurrentNamingAMissingManifestSaysSo) {
  ASSERT_TRUE(WriteStringToFile(&env_, "MANIFEST-000009\n", "/db/CURRENT", true).ok());
  Status s = vset_->Recover();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.ToString().find("CURRENT names a missing manifest"), std::string::npos)
      << s.ToString();
}

TEST_F(VersionSetTest, GarbageCurrentIsCorruption) {
  ASSERT_TRUE(WriteStringToFile(&env_, "hello\n", "/db/CURRENT", true).ok());
  Status s = vset_->Recover();
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_NE(s.ToString().find("CURRENT"), std::string::npos);
}

TEST_F(VersionSetTest, ManifestWithOverlappingLevelFilesIsCorruption) {
  VersionEdit edit;
  edit.SetComparatorName(BytewiseComparator()->Name());
  edit.SetLogNumber(0);
  edit.SetNextFile(10);
  edit.SetLastSequence(5);
  edit.AddFile(1, 3, 100, IKey("a"), IKey("m", 1));
  edit.AddFile(1, 4, 100, IKey("k"), IKey("z", 1));  // overlaps file 3
  std::string record;
  edit.EncodeTo(&record);
  {
    auto file = env_.NewWritableFile(DescriptorFileName("/db", 2));
    ASSERT_TRUE(file.ok());
    WalWriter writer(file->get(), 2);
    ASSERT_TRUE(writer.AddRecord(record).ok());
    ASSERT_TRUE(writer.Sync().ok());
  }
  ASSERT_TRUE(SetCurrentFile(&env_, "/db", 2).ok());
  Status s = vset_->Recover();
  ASSERT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.ToString().find("overlap"), std::string::npos) << s.ToString();
  EXPECT_NE(s.ToString().find("MANIFEST-000002"), std::string::npos) << s.ToString();
}

TEST_F(VersionSetTest, Level0OverlapWidensTheRange) {
  AddFile(0, 1, "a", "c");
  AddFile(0, 2, "b", "f");
  AddFile(0, 3, "x", "z");
  std::vector<FileMetaData*> in;
  std::string_view lo = "a", hi = "b";
  vset_->current()->GetOverlappingInputs(0, &lo, &hi, &in);
  ASSERT_EQ(in.size(), 2u);  // 1 and 2 (2 reaches past b), never 3
}

TEST_F(VersionSetTest, LeveledPicksLevel0AtTriggerWithOverlappingLevel1) {
  AddFile(1, 20, "a", "d");
  AddFile(1, 21, "m", "p");
  for (uint64_t n = 1; n <= 3; n++) AddFile(0, n, "b", "c");
  MutexLock l(&mu_);
  EXPECT_FALSE(vset_->NeedsCompaction());
  mu_.Unlock();
  AddFile(0, 4, "c", "e");
  mu_.Lock();
  ASSERT_TRUE(vset_->NeedsCompaction());
  auto c = vset_->PickCompaction();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->level(), 0);
  EXPECT_EQ(c->output_level(), 1);
  EXPECT_EQ(c->num_input_files(0), 4);
  ASSERT_EQ(c->num_input_files(1), 1);
  EXPECT_EQ(c->input(1, 0)->number, 20u);
}

TEST_F(VersionSetTest, LeveledRoundRobinsThroughTheLevel) {
  // Level 1 over its 10000-byte budget: three files of 5000.
  AddFile(1, 1, "a", "b", 5000);
  AddFile(1, 2, "c", "d", 5000);
  AddFile(1, 3, "e", "f", 5000);
  MutexLock l(&mu_);
  auto c1 = vset_->PickCompaction();
  ASSERT_NE(c1, nullptr);
  EXPECT_EQ(c1->level(), 1);
  EXPECT_EQ(c1->input(0, 0)->number, 1u);
  auto c2 = vset_->PickCompaction();
  ASSERT_NE(c2, nullptr);
  EXPECT_EQ(c2->input(0, 0)->number, 2u);
}

TEST_F(VersionSetTest, TrivialMoveWhenNothingOverlapsBelow) {
  AddFile(1, 1, "a", "b", 20000);
  MutexLock l(&mu_);
  auto c = vset_->PickCompaction();
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->IsTrivialMove());
}

TEST_F(VersionSetTest, UniversalMergesRunsOfSimilarSize) {
  options_.compaction_style = CompactionStyle::kUniversal;
  Reset();
  AddFile(6, 50, "a", "z", 100000);  // old big run
  for (uint64_t n = 1; n <= 4; n++) AddFile(0, n, "a", "z", 100);
  MutexLock l(&mu_);
  ASSERT_TRUE(vset_->NeedsCompaction());
  auto c = vset_->PickCompaction();
  ASSERT_NE(c, nullptr);
  // The four small runs merge; the big one is left alone and the output
  // lands just above it.
  EXPECT_EQ(Numbers(c->all_inputs()), (std::vector<uint64_t>{4, 3, 2, 1}));
  EXPECT_EQ(c->output_level(), 5);
}

TEST_F(VersionSetTest, UniversalSpaceAmplificationMergesEverything) {
  options_.compaction_style = CompactionStyle::kUniversal;
  Reset();
  AddFile(6, 50, "a", "z", 1000);
  AddFile(0, 1, "a", "z", 800);
  AddFile(0, 2, "a", "z", 700);
  AddFile(0, 3, "a", "z", 600);  // newer runs: 2100 > 200% of 1000
  MutexLock l(&mu_);
  auto c = vset_->PickCompaction();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->all_inputs().size(), 4u);
  EXPECT_EQ(c->output_level(), 6);
}

TEST_F(VersionSetTest, UniversalNeverMergesANewerRunBelowAnOlderOne) {
  options_.compaction_style = CompactionStyle::kUniversal;
  options_.level0_compaction_trigger = 2;
  Reset();
  AddFile(1, 40, "a", "z", 100);  // an older run sits at level 1
  AddFile(0, 1, "a", "z", 5000);
  AddFile(0, 2, "a", "z", 100);
  MutexLock l(&mu_);
  auto c = vset_->PickCompaction();
  ASSERT_NE(c, nullptr);
  // No room above level 1 for level-0 runs alone: the window must reach it.
  bool has_level1 = false;
  for (const auto& [level, f] : c->all_inputs()) has_level1 |= level == 1;
  EXPECT_TRUE(has_level1);
  EXPECT_EQ(c->output_level(), 1);
}

TEST(InternalKeyComparatorTest, KeysShorterThanTheTrailerSortFirstWithoutReadingPastThem) {
  InternalKeyComparator icmp(BytewiseComparator());
  std::string good;
  AppendInternalKey(&good, "a", 5, ValueType::kValue);
  // Malformed keys (a corrupt block read without checksums) come before every
  // well-formed key, bytewise among themselves, and compare without overread
  // (ASan would catch one).
  EXPECT_LT(icmp.Compare("xyz", good), 0);
  EXPECT_GT(icmp.Compare(good, "xyz"), 0);
  EXPECT_LT(icmp.Compare("ab", "abc"), 0);
  EXPECT_EQ(icmp.Compare("", ""), 0);
  EXPECT_LT(icmp.Compare("", "a"), 0);
}

}  // namespace
}  // namespace dkv::storage

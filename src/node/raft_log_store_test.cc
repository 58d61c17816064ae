// Tests of the raft log engine: many groups in one DB, conflicting suffixes,
// compaction, snapshots, restart, and a crash on a disk that forgets unsynced
// writes.
#include "node/raft_log_store.h"

#include <gtest/gtest.h>

#include "storage/fault_env.h"

namespace dkv::node {
namespace {

using raft::Entry;
using raft::EntryType;

Entry E(uint64_t term, uint64_t index, std::string data = "x") {
  return Entry{term, index, EntryType::kNormal, std::move(data)};
}

class RaftLogStoreTest : public ::testing::Test {
 protected:
  void Open() {
    store_.reset();
    auto s = RaftLogStore::Open(&env_, "/raft");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  void SetUp() override { Open(); }

  std::vector<Entry> All(ShardId shard) {
    GroupLog* g = store_->Find(shard);
    EXPECT_NE(g, nullptr);
    auto r = g->Entries(g->FirstIndex(), g->LastIndex() + 1, UINT64_MAX);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::vector<Entry>{};
  }

  storage::FaultInjectionEnv env_;
  std::unique_ptr<RaftLogStore> store_;
};

TEST_F(RaftLogStoreTest, EncodingsRoundTripAndRejectGarbage) {
  raft::SnapshotMetadata m{7, 3, {{1, 2, 3}, {9}}};
  auto dm = DecodeSnapshotMetadata(EncodeSnapshotMetadata(m));
  ASSERT_TRUE(dm.ok());
  EXPECT_EQ(*dm, m);
  raft::HardState hs{5, 2, 40};
  EXPECT_EQ(*DecodeHardState(EncodeHardState(hs)), hs);
  EXPECT_TRUE(DecodeHardState("\xff").status().IsCorruption());
  EXPECT_TRUE(DecodeSnapshotMetadata("\x01\x01\x80").status().IsCorruption());
  Entry e;
  EXPECT_TRUE(DecodeLogEntry("", &e).IsCorruption());
  EXPECT_TRUE(DecodeLogEntry("\x07\x01", &e).IsCorruption());
  // Keys of one group sort by index, and groups do not interleave.
  EXPECT_LT(LogEntryKey(1, 255), LogEntryKey(1, 256));
  EXPECT_LT(LogEntryKey(1, UINT64_MAX), LogEntryKey(2, 0));
}

TEST_F(RaftLogStoreTest, AppendThenReadBackFromMemoryAndAfterRestart) {
  ASSERT_TRUE(store_->Append(1, {E(1, 1, "a"), E(1, 2, "b"), E(2, 3, "c")}).ok());
  store_->SetHardState(1, {2, 1, 3});
  ASSERT_TRUE(store_->Commit(true).ok());
  GroupLog* g = store_->Find(1);
  EXPECT_EQ(g->FirstIndex(), 1u);
  EXPECT_EQ(g->LastIndex(), 3u);
  EXPECT_EQ(*g->Term(3), 2u);
  EXPECT_EQ(*g->Term(0), 0u);
  EXPECT_TRUE(g->Term(4).status().IsUnavailable());

  Open();
  g = store_->Find(1);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->LastIndex(), 3u);
  EXPECT_EQ(g->GetInitialState().hard_state, (raft::HardState{2, 1, 3}));
  auto ents = All(1);
  ASSERT_EQ(ents.size(), 3u);
  EXPECT_EQ(ents[2].data.view(), "c");
  EXPECT_EQ(ents[2].term, 2u);
  // Byte budget: always at least one entry.
  auto one = g->Entries(1, 4, 1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->size(), 1u);
}

TEST_F(RaftLogStoreTest, AppendDropsConflictingSuffix) {
  ASSERT_TRUE(store_->Append(1, {E(1, 1), E(1, 2), E(1, 3), E(1, 4)}).ok());
  ASSERT_TRUE(store_->Commit(true).ok());
  ASSERT_TRUE(store_->Append(1, {E(2, 3, "new")}).ok());
  ASSERT_TRUE(store_->Commit(true).ok());
  EXPECT_EQ(store_->Find(1)->LastIndex(), 3u);
  Open();
  auto ents = All(1);
  ASSERT_EQ(ents.size(), 3u);
  EXPECT_EQ(ents[2].term, 2u);
  EXPECT_EQ(ents[2].data.view(), "new");
  EXPECT_TRUE(store_->Append(1, {E(2, 9)}).IsInvalidArgument());  // a hole
}

TEST_F(RaftLogStoreTest, ManyGroupsShareOneSyncedWrite) {
  for (ShardId s = 1; s <= 5; s++) {
    ASSERT_TRUE(store_->Append(s, {E(1, 1, std::to_string(s)), E(1, 2)}).ok());
    store_->SetHardState(s, {1, s, 1});
  }
  const uint64_t before = store_->synced_commits();
  ASSERT_TRUE(store_->Commit(true).ok());
  EXPECT_EQ(store_->synced_commits(), before + 1);
  Open();
  EXPECT_EQ(store_->Groups(), (std::vector<ShardId>{1, 2, 3, 4, 5}));
  for (ShardId s = 1; s <= 5; s++) {
    auto ents = All(s);
    ASSERT_EQ(ents.size(), 2u);
    EXPECT_EQ(ents[0].data.view(), std::to_string(s));
    EXPECT_EQ(store_->Find(s)->hard_state().vote, s);
  }
}

TEST_F(RaftLogStoreTest, CompactKeepsTermOfLastDiscardedEntry) {
  std::vector<Entry> ents;
  for (uint64_t i = 1; i <= 10; i++) ents.push_back(E(i < 6 ? 1 : 2, i));
  ASSERT_TRUE(store_->Append(3, ents).ok());
  ASSERT_TRUE(store_->Commit(true).ok());
  raft::ConfState conf{{1, 2, 3}, {}};
  ASSERT_TRUE(store_->Compact(3, 6, conf).ok());
  ASSERT_TRUE(store_->Commit(true).ok());
  GroupLog* g = store_->Find(3);
  EXPECT_EQ(g->FirstIndex(), 7u);
  EXPECT_EQ(*g->Term(6), 2u);
  EXPECT_TRUE(g->Term(5).status().IsNotFound());
  EXPECT_TRUE(g->Entries(5, 8, UINT64_MAX).status().IsNotFound());
  EXPECT_TRUE(store_->Compact(3, 11, conf).IsInvalidArgument());
  Open();
  g = store_->Find(3);
  EXPECT_EQ(g->FirstIndex(), 7u);
  EXPECT_EQ(g->LastIndex(), 10u);
  EXPECT_EQ(g->GetInitialState().conf_state, conf);
  EXPECT_EQ(All(3).size(), 4u);
  auto snap = g->GetSnapshot();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->metadata.index, 6u);
}

TEST_F(RaftLogStoreTest, ApplySnapshotReplacesTheLog) {
  ASSERT_TRUE(store_->Append(1, {E(1, 1), E(1, 2)}).ok());
  ASSERT_TRUE(store_->ApplySnapshot(1, {50, 4, {{1, 2}, {}}}).ok());
  ASSERT_TRUE(store_->Append(1, {E(4, 51)}).ok());
  ASSERT_TRUE(store_->Commit(true).ok());
  Open();
  GroupLog* g = store_->Find(1);
  EXPECT_EQ(g->FirstIndex(), 51u);
  EXPECT_EQ(g->LastIndex(), 51u);
  EXPECT_EQ(*g->Term(50), 4u);
  EXPECT_TRUE(store_->ApplySnapshot(1, {10, 1, {}}).IsInvalidArgument());
}

TEST_F(RaftLogStoreTest, LargeLogIsServedFromTheEngineBeyondTheCache) {
  std::string big(64 << 10, 'v');
  std::vector<Entry> ents;
  for (uint64_t i = 1; i <= 100; i++) ents.push_back(E(1, i, big + std::to_string(i)));
  ASSERT_TRUE(store_->Append(1, ents).ok());
  ASSERT_TRUE(store_->Commit(false).ok());
  auto all = All(1);
  ASSERT_EQ(all.size(), 100u);
  for (uint64_t i = 1; i <= 100; i++) EXPECT_EQ(all[i - 1].data.view(), big + std::to_string(i));
}

TEST_F(RaftLogStoreTest, CrashKeepsSyncedWritesAndLosesUnsyncedOnes) {
  ASSERT_TRUE(store_->Append(1, {E(1, 1), E(1, 2)}).ok());
  store_->SetHardState(1, {1, 1, 2});
  ASSERT_TRUE(store_->Commit(true).ok());
  ASSERT_TRUE(store_->Append(1, {E(1, 3)}).ok());
  store_->SetHardState(1, {1, 1, 3});
  ASSERT_TRUE(store_->Commit(false).ok());
  env_.Crash();  // before closing: Close would sync
  Open();
  GroupLog* g = store_->Find(1);
  ASSERT_NE(g, nullptr);
  EXPECT_GE(g->LastIndex(), 2u);
  EXPECT_GE(g->hard_state().commit, 2u);
  EXPECT_LE(g->hard_state().commit, g->LastIndex());
}

TEST_F(RaftLogStoreTest, DropGroupForgetsEverything) {
  ASSERT_TRUE(store_->Append(1, {E(1, 1)}).ok());
  ASSERT_TRUE(store_->Append(2, {E(1, 1)}).ok());
  store_->PutReplicaInfo(2, "info");
  ASSERT_TRUE(store_->Commit(true).ok());
  EXPECT_EQ(*store_->GetReplicaInfo(2), "info");
  store_->DropGroup(2);
  ASSERT_TRUE(store_->Commit(true).ok());
  Open();
  EXPECT_EQ(store_->Groups(), (std::vector<ShardId>{1}));
}

}  // namespace
}  // namespace dkv::node

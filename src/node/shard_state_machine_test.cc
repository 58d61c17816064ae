// Tests of the shard state machine: command encoding, MVCC reads, GC,
// apply/replay, snapshots, and a crash of the unsynced engine.
#include "node/shard_state_machine.h"

#include <gtest/gtest.h>

#include "node/limits.h"
#include "storage/fault_env.h"

namespace dkv::node {
namespace {

using raft::Entry;

Timestamp Ts(int64_t wall, uint32_t logical = 0) { return Timestamp{wall, logical}; }

Entry Cmd(uint64_t index, ShardCommand cmd, uint64_t term = 1) {
  return Entry{term, index, raft::EntryType::kNormal, EncodeShardCommand(cmd)};
}

ShardCommand At(ShardCommand c, Timestamp ts) {
  c.ts = ts;
  return c;
}

TEST(ShardCommandTest, RoundTripsEveryKind) {
  ShardCommand w = ShardCommand::Write({{OpType::kPut, "a", "1"},
                                        {OpType::kDelete, "b", ""},
                                        {OpType::kPut, std::string("z\0z", 3), ""}});
  w.ts = Ts(1700000000000000, 7);
  auto d = DecodeShardCommand(EncodeShardCommand(w));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(*d, w);
  ShardCommand gc = ShardCommand::Gc(Ts(5, 1));
  EXPECT_EQ(*DecodeShardCommand(EncodeShardCommand(gc)), gc);
}

TEST(ShardCommandTest, EncodingIsTheFrozenOneOfDocsNodeMd) {
  ShardCommand put = ShardCommand::Put("k", "v");
  put.ts = Ts(1700000000000000, 0);
  const std::string want(
      "\x01\x01\x80\x06\x0a\x24\x18\x1e\x40\x00\x00\x00\x00\x00"
      "\x01\x01\x01k\x01v",
      20);
  EXPECT_EQ(EncodeShardCommand(put), want);
}

TEST(ShardCommandTest, DecoderRejectsEveryTruncationAndTrailingBytes) {
  const std::string enc = EncodeShardCommand(ShardCommand::Put("key", "value"));
  for (size_t n = 0; n < enc.size(); n++) {
    EXPECT_TRUE(DecodeShardCommand(enc.substr(0, n)).status().IsCorruption()) << n;
  }
  EXPECT_TRUE(DecodeShardCommand(enc + "x").status().IsCorruption());
  std::string bad_version = enc;
  bad_version[0] = 9;
  EXPECT_TRUE(DecodeShardCommand(bad_version).status().IsCorruption());
}

TEST(ShardCommandTest, ValidateEnforcesLimits) {
  EXPECT_TRUE(ShardCommand::Put("k", "v").Validate().ok());
  EXPECT_TRUE(ShardCommand::Put("", "v").Validate().IsInvalidArgument());
  EXPECT_TRUE(ShardCommand::Write({}).Validate().IsInvalidArgument());
  EXPECT_TRUE(
      ShardCommand::Put(std::string(kMaxKeyBytes + 1, 'k'), "v").Validate().IsInvalidArgument());
}

TEST(MvccKeyTest, OrdersByKeyThenNewestFirstAndParsesBack) {
  EXPECT_LT(MvccKey("a", Ts(5)), MvccKey("a", Ts(4)));
  EXPECT_LT(MvccKey("a", Ts(1)), MvccKey("b", Ts(9)));
  // Prefix-free: "a" and all its versions sort before "a\0" and "ab".
  EXPECT_LT(MvccKey("a", Ts(0)), MvccKey(std::string("a\0", 2), Ts(9)));
  EXPECT_LT(MvccKey(std::string("a\0", 2), Ts(0)), MvccKey("ab", Ts(9)));
  std::string key;
  Timestamp ts;
  ASSERT_TRUE(ParseMvccKey(MvccKey(std::string("x\0y", 3), Ts(42, 3)), &key, &ts).ok());
  EXPECT_EQ(key, std::string("x\0y", 3));
  EXPECT_EQ(ts, Ts(42, 3));
  EXPECT_TRUE(ParseMvccKey("\x02short", &key, &ts).IsCorruption());
}

class ShardStateMachineTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open() {
    sm_.reset();
    auto r = ShardStateMachine::Open(&env_, "/data", 7);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    sm_ = std::move(r).value();
  }
  std::string Read(std::string_view key, std::optional<Timestamp> at = std::nullopt) {
    auto r = sm_->Get(key, at);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() && r->found ? r->value : "<none>";
  }

  storage::FaultInjectionEnv env_;
  std::unique_ptr<ShardStateMachine> sm_;
};

TEST_F(ShardStateMachineTest, ApplyThenReadLatestAndAtTimestamps) {
  ASSERT_TRUE(sm_->Apply({Cmd(1, At(ShardCommand::Put("k", "v1"), Ts(10))),
                          Cmd(2, At(ShardCommand::Put("k", "v2"), Ts(20))),
                          Cmd(3, At(ShardCommand::Delete("k"), Ts(30))),
                          Cmd(4, At(ShardCommand::Put("other", "o"), Ts(40)))})
                  .ok());
  EXPECT_EQ(sm_->applied().index, 4u);
  EXPECT_EQ(Read("k"), "<none>");
  EXPECT_EQ(Read("k", Ts(25)), "v2");
  EXPECT_EQ(Read("k", Ts(10)), "v1");
  EXPECT_EQ(Read("k", Ts(9)), "<none>");
  EXPECT_EQ(Read("other"), "o");
  EXPECT_EQ(Read("missing"), "<none>");
}

TEST_F(ShardStateMachineTest, MultiWriteIsOneVersionAndTimestampsFollowLogOrder) {
  // The second command carries an older timestamp (a new leader with a slow
  // clock): apply still orders it after the first.
  ASSERT_TRUE(
      sm_->Apply(
             {Cmd(1, At(ShardCommand::Write({{OpType::kPut, "a", "1"}, {OpType::kPut, "b", "2"}}),
                        Ts(100))),
              Cmd(2, At(ShardCommand::Put("a", "newer"), Ts(50)))})
          .ok());
  EXPECT_EQ(Read("a"), "newer");
  EXPECT_EQ(Read("b"), "2");
  EXPECT_EQ(sm_->applied().max_ts, Ts(100, 1));
  auto r = sm_->Get("a", Ts(100));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->value, "1");
}

TEST_F(ShardStateMachineTest, ConfChangesAndNoOpsAdvanceAppliedAndBadCommandsAreSkipped) {
  std::vector<Entry> ents;
  for (uint64_t id = 1; id <= 3; id++) {
    ents.push_back({1, id, raft::EntryType::kConfChange,
                    raft::EncodeConfChange({raft::ConfChangeType::kAddVoter, id, {}})});
  }
  ents.push_back({2, 4, raft::EntryType::kNormal, ""});
  ents.push_back({2, 5, raft::EntryType::kNormal, "garbage"});
  ASSERT_TRUE(sm_->Apply(ents).ok());
  EXPECT_EQ(sm_->applied().index, 5u);
  EXPECT_EQ(sm_->applied().term, 2u);
  EXPECT_EQ(sm_->applied().conf.voters, (std::vector<raft::NodeId>{1, 2, 3}));
  EXPECT_EQ(sm_->bad_commands(), 1u);
}

TEST_F(ShardStateMachineTest, ReplayAfterRestartIsSkippedAndStateSurvives) {
  ASSERT_TRUE(sm_->Apply({Cmd(1, At(ShardCommand::Put("k", "v"), Ts(10)))}).ok());
  ASSERT_TRUE(sm_->Sync().ok());
  Open();
  EXPECT_EQ(sm_->applied().index, 1u);
  EXPECT_EQ(Read("k"), "v");
  // Entries at or below applied are ignored.
  ASSERT_TRUE(sm_->Apply({Cmd(1, At(ShardCommand::Put("k", "other"), Ts(10))),
                          Cmd(2, At(ShardCommand::Put("j", "w"), Ts(11)))})
                  .ok());
  EXPECT_EQ(Read("k"), "v");
  EXPECT_EQ(Read("j"), "w");
}

TEST_F(ShardStateMachineTest, CrashLosesUnsyncedApplyButAppliedIndexStaysConsistent) {
  ASSERT_TRUE(sm_->Apply({Cmd(1, At(ShardCommand::Put("a", "1"), Ts(10)))}).ok());
  ASSERT_TRUE(sm_->Sync().ok());
  ASSERT_TRUE(sm_->Apply({Cmd(2, At(ShardCommand::Put("b", "2"), Ts(11)))}).ok());
  env_.Crash();
  Open();
  // Either both or only the synced part: data and applied index move together.
  if (sm_->applied().index == 1) {
    EXPECT_EQ(Read("b"), "<none>");
  } else {
    EXPECT_EQ(sm_->applied().index, 2u);
    EXPECT_EQ(Read("b"), "2");
  }
  EXPECT_EQ(Read("a"), "1");
}

TEST_F(ShardStateMachineTest, GcDropsOnlyVersionsNoReadAboveTheSafePointSees) {
  ASSERT_TRUE(sm_->Apply({Cmd(1, At(ShardCommand::Put("k", "v1"), Ts(10))),
                          Cmd(2, At(ShardCommand::Put("k", "v2"), Ts(20))),
                          Cmd(3, At(ShardCommand::Put("k", "v3"), Ts(30))),
                          Cmd(4, At(ShardCommand::Put("d", "x"), Ts(40))),
                          Cmd(5, At(ShardCommand::Delete("d"), Ts(50)))})
                  .ok());
  auto dropped = sm_->GarbageCollect(Ts(25));
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(*dropped, 1u);  // k@10, hidden by k@20 for every read at or above 25
  EXPECT_EQ(Read("k", Ts(25)), "v2");
  EXPECT_EQ(Read("k"), "v3");
  EXPECT_EQ(Read("d", Ts(45)), "x");
  EXPECT_TRUE(sm_->Get("k", Ts(15)).status().IsInvalidArgument());
  // Through the log as a command, on every replica alike: k@20, and d's
  // tombstone with the put it hides.
  ASSERT_TRUE(sm_->Apply({Cmd(6, ShardCommand::Gc(Ts(55)))}).ok());
  EXPECT_EQ(sm_->applied().index, 6u);
  EXPECT_EQ(sm_->applied().gc_safe_point, Ts(55));
  EXPECT_EQ(Read("k"), "v3");
  EXPECT_EQ(Read("d"), "<none>");
  EXPECT_TRUE(sm_->Get("k", Ts(30)).status().IsInvalidArgument());
  auto again = sm_->GarbageCollect(Ts(60));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0u);
  // Only k@30 is left.
  std::unique_ptr<storage::Iterator> it = sm_->db()->NewIterator(storage::ReadOptions());
  int versions = 0;
  for (it->Seek(std::string(1, '\x02')); it->Valid(); it->Next()) versions++;
  EXPECT_EQ(versions, 1);
}

TEST_F(ShardStateMachineTest, SnapshotRestoresIntoAnotherReplica) {
  std::vector<Entry> ents;
  for (uint64_t i = 1; i <= 200; i++) {
    ents.push_back(Cmd(i, At(ShardCommand::Put("key" + std::to_string(i), std::string(100, 'v')),
                             Ts(static_cast<int64_t>(i)))));
  }
  ASSERT_TRUE(sm_->Apply(ents).ok());
  auto snap = sm_->CreateSnapshot();
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();

  storage::FaultInjectionEnv other_env;
  auto other = ShardStateMachine::Open(&other_env, "/data", 7);
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE((*other)->Apply({Cmd(1, At(ShardCommand::Put("stale", "s"), Ts(1)))}).ok());
  ASSERT_TRUE((*other)->RestoreSnapshot(*snap).ok());
  EXPECT_EQ((*other)->applied(), sm_->applied());
  auto r = (*other)->Get("key200");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->found);
  EXPECT_FALSE((*other)->Get("stale")->found);
  // The restored engine survives a crash and reopen (CURRENT switched durably).
  other->reset();
  other_env.Crash();
  auto reopened = ShardStateMachine::Open(&other_env, "/data", 7);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ((*reopened)->applied().index, 200u);
  EXPECT_TRUE((*reopened)->Get("key1")->found);
}

TEST_F(ShardStateMachineTest, CorruptSnapshotIsRefusedAndTheOldEngineStays) {
  ASSERT_TRUE(sm_->Apply({Cmd(1, At(ShardCommand::Put("k", "v"), Ts(1)))}).ok());
  auto snap = sm_->CreateSnapshot();
  ASSERT_TRUE(snap.ok());
  std::string bad = *snap;
  bad[bad.size() / 2] ^= 0x10;
  EXPECT_TRUE(sm_->RestoreSnapshot(bad).IsCorruption());
  EXPECT_TRUE(sm_->RestoreSnapshot("DKSS").IsCorruption());
  EXPECT_EQ(Read("k"), "v");
  // A well-formed container whose files are not a DB.
  EXPECT_TRUE(sm_->RestoreSnapshot(EncodeSnapshotFiles({{"junk", "xyz"}})).IsCorruption());
  EXPECT_EQ(Read("k"), "v");
  EXPECT_TRUE(DecodeSnapshotFiles(EncodeSnapshotFiles({{"../x", "y"}})).status().IsCorruption());
}

}  // namespace
}  // namespace dkv::node

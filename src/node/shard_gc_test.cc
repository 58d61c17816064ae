// Tests of MVCC GC in the shard state machine: passes split into bounded steps
// that resume from a cursor kept in the applied state, reads at or above the
// safe point unchanged, a restart in the middle of a pass, and replicas that
// apply the same kGc commands ending byte-identical.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "node/limits.h"
#include "node/shard_state_machine.h"
#include "storage/fault_env.h"

namespace dkv::node {
namespace {

using raft::Entry;

Timestamp Ts(int64_t wall, uint32_t logical = 0) { return Timestamp{wall, logical}; }

Entry Cmd(uint64_t index, ShardCommand cmd) {
  return Entry{1, index, raft::EntryType::kNormal, EncodeShardCommand(cmd)};
}

ShardCommand At(ShardCommand c, Timestamp ts) {
  c.ts = ts;
  return c;
}

std::unique_ptr<ShardStateMachine> OpenSm(storage::Env* env) {
  auto r = ShardStateMachine::Open(env, "/data", 3);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

// Every key and value of the engine (data and applied state), for comparing replicas.
std::map<std::string, std::string> Contents(ShardStateMachine& sm) {
  std::map<std::string, std::string> out;
  std::unique_ptr<storage::Iterator> it = sm.db()->NewIterator(storage::ReadOptions());
  for (it->SeekToFirst(); it->Valid(); it->Next()) out[std::string(it->key())] = it->value();
  EXPECT_TRUE(it->status().ok());
  return out;
}

size_t Versions(ShardStateMachine& sm) {
  size_t n = 0;
  for (const auto& [k, v] : Contents(sm)) n += k[0] == '\x02';
  return n;
}

// A history of 40 keys x 1..6 versions at timestamps 1..N (some deletes),
// with the seed printed so a failure replays.
std::vector<Entry> History(uint32_t seed, uint64_t* next_index) {
  std::mt19937 rng(seed);
  std::vector<Entry> ents;
  int64_t ts = 1;
  for (int round = 0; round < 6; round++) {
    for (int k = 0; k < 40; k++) {
      if (rng() % 6 < static_cast<uint32_t>(round)) continue;
      const std::string key = "key" + std::to_string(k);
      ShardCommand c = rng() % 4 == 0 ? ShardCommand::Delete(key)
                                      : ShardCommand::Put(key, "v" + std::to_string(ts));
      ents.push_back(Cmd((*next_index)++, At(c, Ts(ts++))));
    }
  }
  return ents;
}

TEST(ShardGcTest, AppliedStateWithACursorRoundTripsAndTheOldFormStillDecodes) {
  AppliedState s;
  s.index = 9;
  s.term = 2;
  s.gc_safe_point = Ts(50);
  const std::string idle = EncodeAppliedState(s);
  EXPECT_EQ(*DecodeAppliedState(idle), s);
  s.gc_cursor = MvccKey("k", Ts(7));
  s.gc_cursor_kept = true;
  const std::string running = EncodeAppliedState(s);
  EXPECT_EQ(*DecodeAppliedState(running), s);
  EXPECT_EQ(running.substr(0, idle.size()), idle);  // the cursor is an optional tail
  for (size_t n = idle.size() + 1; n < running.size(); n++) {
    EXPECT_TRUE(DecodeAppliedState(running.substr(0, n)).status().IsCorruption()) << n;
  }
  EXPECT_TRUE(DecodeAppliedState(running + "x").status().IsCorruption());
}

TEST(ShardGcTest, StepsResumeFromTheCursorAndEndIdenticalToOneLargeStep) {
  const uint32_t seed = 20261124;
  SCOPED_TRACE("seed " + std::to_string(seed));
  storage::FaultInjectionEnv env_small, env_large;
  auto small = OpenSm(&env_small);
  auto large = OpenSm(&env_large);
  small->set_gc_versions_per_step(3);
  uint64_t index = 1;
  std::vector<Entry> history = History(seed, &index);
  ASSERT_TRUE(small->Apply(history).ok());
  ASSERT_TRUE(large->Apply(history).ok());
  const int64_t last_ts = static_cast<int64_t>(history.size());
  const Timestamp point = Ts(last_ts / 2);
  // What reads at or above the safe point see before GC.
  std::map<std::pair<int, int64_t>, std::string> before;
  for (int k = 0; k < 40; k++) {
    for (int64_t t = point.wall_time_us; t <= last_ts + 1; t++) {
      auto r = large->Get("key" + std::to_string(k), Ts(t));
      ASSERT_TRUE(r.ok());
      before[{k, t}] = r->found ? r->value : "<none>";
    }
  }
  const size_t versions_before = Versions(*large);

  // The same kGc commands on both; the small-step replica needs many of them.
  int commands = 0;
  do {
    const Entry gc = Cmd(index++, At(ShardCommand::Gc(point), Ts(1)));
    ASSERT_TRUE(small->Apply({gc}).ok());
    ASSERT_TRUE(large->Apply({gc}).ok());
    commands++;
    ASSERT_LT(commands, 1000);
    EXPECT_EQ(small->applied().gc_safe_point, point);  // refused below at once
  } while (!small->applied().gc_cursor.empty());
  EXPECT_GT(commands, 10);
  EXPECT_TRUE(large->applied().gc_cursor.empty());
  EXPECT_LT(Versions(*large), versions_before);

  EXPECT_EQ(Contents(*small), Contents(*large));
  for (const auto& [kt, want] : before) {
    auto r = small->Get("key" + std::to_string(kt.first), Ts(kt.second));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->found ? r->value : "<none>", want) << "key" << kt.first << " at " << kt.second;
  }
  EXPECT_TRUE(small->Get("key1", Ts(point.wall_time_us - 1)).status().IsInvalidArgument());
  // Nothing left that a read at or above the point cannot see: a second pass
  // at the same point is not even started.
  EXPECT_EQ(*small->GarbageCollect(point), 0u);
}

TEST(ShardGcTest, TombstoneGoesOnlyWithTheVersionsItHidesWhateverTheStepSize) {
  for (size_t step = 1; step <= 6; step++) {
    SCOPED_TRACE("step " + std::to_string(step));
    storage::FaultInjectionEnv env;
    auto sm = OpenSm(&env);
    sm->set_gc_versions_per_step(step);
    uint64_t index = 1;
    std::vector<Entry> ents;
    for (int64_t t = 1; t <= 5; t++) {
      ents.push_back(Cmd(index++, At(ShardCommand::Put("a", "old" + std::to_string(t)), Ts(t))));
    }
    ents.push_back(Cmd(index++, At(ShardCommand::Delete("a"), Ts(6))));
    ents.push_back(Cmd(index++, At(ShardCommand::Put("b", "b"), Ts(7))));
    ASSERT_TRUE(sm->Apply(ents).ok());
    // After every step, no read at or above the point sees a deleted value.
    do {
      ASSERT_TRUE(sm->Apply({Cmd(index++, ShardCommand::Gc(Ts(10)))}).ok());
      EXPECT_FALSE(sm->Get("a")->found);
      EXPECT_FALSE(sm->Get("a", Ts(10))->found);
      EXPECT_EQ(sm->Get("b")->value, "b");
    } while (!sm->applied().gc_cursor.empty());
    // A tombstone kept because its step ended inside the key goes in the next pass.
    ASSERT_TRUE(sm->GarbageCollect(Ts(11)).ok());
    EXPECT_EQ(Versions(*sm), 1u);  // b alone
  }
}

TEST(ShardGcTest, RestartInTheMiddleOfAPassResumesItAndEndsLikeAReplicaThatDidNot) {
  storage::FaultInjectionEnv env, ref_env;
  auto sm = OpenSm(&env);
  auto ref = OpenSm(&ref_env);
  sm->set_gc_versions_per_step(5);
  ref->set_gc_versions_per_step(5);
  uint64_t index = 1;
  std::vector<Entry> history = History(7, &index);
  ASSERT_TRUE(sm->Apply(history).ok());
  ASSERT_TRUE(ref->Apply(history).ok());
  std::vector<Entry> gcs;
  for (int i = 0; i < 400; i++) gcs.push_back(Cmd(index++, ShardCommand::Gc(Ts(100))));

  // Three steps made durable, a fourth lost in a crash (apply is unsynced).
  ASSERT_TRUE(sm->Apply({gcs[0], gcs[1], gcs[2]}).ok());
  ASSERT_TRUE(sm->Sync().ok());
  const std::string cursor = sm->applied().gc_cursor;
  ASSERT_FALSE(cursor.empty());
  ASSERT_TRUE(sm->Apply({gcs[3]}).ok());
  const std::string cursor4 = sm->applied().gc_cursor;
  env.Crash();
  sm.reset();
  sm = OpenSm(&env);
  sm->set_gc_versions_per_step(5);
  // The cursor moves with the step's deletes: the synced state, or (if the
  // engine happened to persist the fourth step) that one, never in between.
  if (sm->applied().index == gcs[2].index) {
    EXPECT_EQ(sm->applied().gc_cursor, cursor);
  } else {
    EXPECT_EQ(sm->applied().index, gcs[3].index);
    EXPECT_EQ(sm->applied().gc_cursor, cursor4);
  }
  // The node replays from applied + 1, then goes on.
  ASSERT_TRUE(sm->Apply(gcs).ok());
  ASSERT_TRUE(ref->Apply(gcs).ok());
  EXPECT_TRUE(sm->applied().gc_cursor.empty());
  EXPECT_EQ(Contents(*sm), Contents(*ref));
}

TEST(ShardGcTest, ASnapshotTakenMidPassCarriesTheCursorAndTheReplicaFinishesAlike) {
  storage::FaultInjectionEnv env, other_env;
  auto sm = OpenSm(&env);
  auto other = OpenSm(&other_env);
  sm->set_gc_versions_per_step(4);
  other->set_gc_versions_per_step(4);
  uint64_t index = 1;
  ASSERT_TRUE(sm->Apply(History(11, &index)).ok());
  std::vector<Entry> gcs;
  for (int i = 0; i < 400; i++) gcs.push_back(Cmd(index++, ShardCommand::Gc(Ts(90))));
  ASSERT_TRUE(sm->Apply({gcs[0], gcs[1]}).ok());
  ASSERT_FALSE(sm->applied().gc_cursor.empty());
  auto snap = sm->CreateSnapshot();
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  ASSERT_TRUE(other->RestoreSnapshot(*snap).ok());
  EXPECT_EQ(other->applied(), sm->applied());  // the cursor came along
  ASSERT_TRUE(sm->Apply(gcs).ok());
  ASSERT_TRUE(other->Apply(gcs).ok());
  EXPECT_TRUE(other->applied().gc_cursor.empty());
  EXPECT_EQ(Contents(*other), Contents(*sm));
}

TEST(ShardGcTest, StaleOrDuplicateGcCommandsStartNoPassAndWritesStayAboveThePoint) {
  storage::FaultInjectionEnv env;
  auto sm = OpenSm(&env);
  ASSERT_TRUE(
      sm->Apply({Cmd(1, At(ShardCommand::Put("k", "1"), Ts(10))),
                 Cmd(2, At(ShardCommand::Put("k", "2"), Ts(20))), Cmd(3, ShardCommand::Gc(Ts(30))),
                 Cmd(4, ShardCommand::Gc(Ts(30))), Cmd(5, ShardCommand::Gc(Ts(25)))})
          .ok());
  EXPECT_EQ(sm->applied().gc_safe_point, Ts(30));
  EXPECT_TRUE(sm->applied().gc_cursor.empty());
  EXPECT_EQ(Versions(*sm), 1u);
  // A write stamped below the safe point (a leader with a slow clock) lands above it.
  ASSERT_TRUE(sm->Apply({Cmd(6, At(ShardCommand::Put("k", "3"), Ts(5)))}).ok());
  auto r = sm->Get("k", Ts(30));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->value, "2");
  EXPECT_EQ(sm->Get("k")->value, "3");
  EXPECT_GT(sm->Get("k")->ts, Ts(30));
}

}  // namespace
}  // namespace dkv::node

// Tests for the rules of the Raft paper (Ongaro & Ousterhout, "In Search of an
// Understandable Consensus Algorithm", 2014), each citing its section.
#include <gtest/gtest.h>

#include "raft/raft_test_util.h"

namespace dkv::raft {
namespace {

using testing::Network;

Message Msg(MessageType type, NodeId from, NodeId to, uint64_t term) {
  Message m;
  m.type = type;
  m.from = from;
  m.to = to;
  m.term = term;
  return m;
}

// Drains a lone node's Ready (persisting it) and returns its messages.
std::vector<Message> Drain(testing::TestNode& tn) {
  std::vector<Message> out;
  while (tn.node->HasReady()) {
    Ready rd = tn.node->GetReady();
    if (rd.snapshot) {
      EXPECT_TRUE(tn.storage.ApplySnapshot(*rd.snapshot).ok());
    }
    EXPECT_TRUE(tn.storage.Append(rd.entries).ok());
    if (rd.hard_state) tn.storage.SetHardState(*rd.hard_state);
    for (Message& m : rd.messages) out.push_back(std::move(m));
    tn.node->Advance(rd);
  }
  return out;
}

// §5.2: a follower that hears nothing for an election timeout campaigns, and a
// candidate that gets a majority becomes leader; everyone learns the leader.
TEST(RaftPaperTest, S5_2_FollowerTimesOutAndIsElected) {
  Network net(3);
  for (int i = 0; i < 30 && net.Leader() == kNoNode; i++) net.TickAll(1);
  const NodeId leader = net.Leader();
  ASSERT_NE(leader, kNoNode);
  for (NodeId id : net.ids()) EXPECT_EQ(net.node(id).status().leader_id, leader);
}

// §5.2: election timeouts are randomized in [election_tick, 2 * election_tick).
TEST(RaftPaperTest, S5_2_ElectionTimeoutIsRandomizedWithinBounds) {
  std::set<int> seen;
  for (uint64_t seed = 1; seed <= 40; seed++) {
    testing::TestNode tn;
    Config c;
    c.id = 1;
    c.peers = {1, 2, 3};
    c.pre_vote = false;
    c.rng_seed = seed;
    tn.node = std::move(RawNode::Create(c, &tn.storage)).value();
    int ticks = 0;
    while (tn.node->GetStatus().role == Role::kFollower && ticks < 100) {
      tn.node->Tick();
      ticks++;
    }
    EXPECT_GE(ticks, c.election_tick) << "seed " << seed;
    EXPECT_LT(ticks, 2 * c.election_tick) << "seed " << seed;
    seen.insert(ticks);
  }
  EXPECT_GT(seen.size(), 3u);  // actually random
}

// §5.2: each server votes for at most one candidate in a term, first come first served.
TEST(RaftPaperTest, S5_2_VoterGrantsOneVotePerTerm) {
  Network net(3, [](Config* c) { c->pre_vote = false; });
  auto& tn = net.node(1);
  Message v2 = Msg(MessageType::kMsgVote, 2, 1, 5);
  v2.index = 3;  // as up to date as the voter (the bootstrap entries, term 1)
  v2.log_term = 1;
  ASSERT_TRUE(tn.node->Step(v2).ok());
  Message v3 = v2;
  v3.from = 3;
  ASSERT_TRUE(tn.node->Step(v3).ok());
  auto msgs = Drain(tn);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_FALSE(msgs[0].reject);
  EXPECT_EQ(msgs[0].to, 2u);
  EXPECT_TRUE(msgs[1].reject);
  EXPECT_EQ(tn.storage.GetInitialState().hard_state.vote, 2u);  // vote persisted
  // Asking again is answered the same way (the vote is idempotent).
  ASSERT_TRUE(tn.node->Step(v2).ok());
  msgs = Drain(tn);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_FALSE(msgs[0].reject);
}

// §5.2: a candidate that learns of a leader of its term returns to follower.
TEST(RaftPaperTest, S5_2_CandidateStepsDownOnAppendFromLeaderOfItsTerm) {
  Network net(3, [](Config* c) { c->pre_vote = false; });
  auto& tn = net.node(1);
  ASSERT_TRUE(tn.node->Campaign().ok());
  Drain(tn);
  ASSERT_EQ(tn.status().role, Role::kCandidate);
  const uint64_t term = tn.status().hard_state.term;
  Message hb = Msg(MessageType::kMsgHeartbeat, 2, 1, term);
  ASSERT_TRUE(tn.node->Step(hb).ok());
  EXPECT_EQ(tn.status().role, Role::kFollower);
  EXPECT_EQ(tn.status().leader_id, 2u);
}

// §5.3: entries proposed on the leader are replicated and applied, in the same
// order, on every node.
TEST(RaftPaperTest, S5_3_LeaderReplicatesAndAllApplyInOrder) {
  Network net(3);
  net.Elect(1);
  for (int i = 0; i < 20; i++) {
    ASSERT_TRUE(net.node(1).node->Propose("v" + std::to_string(i)).ok());
  }
  net.Deliver();
  net.TickAll(2);  // heartbeats carry the final commit index to followers
  for (NodeId id : net.ids()) {
    ASSERT_EQ(net.node(id).state.size(), 20u) << "node " << id;
    EXPECT_EQ(net.node(id).state.front(), "v0");
    EXPECT_EQ(net.node(id).state.back(), "v19");
  }
  net.CheckLogsAgree();
}

// §5.3: a follower whose log does not contain the entry preceding new ones refuses
// them, and hints the last index whose term is no newer than the leader's.
TEST(RaftPaperTest, S5_3_FollowerRejectsMismatchWithTermHint) {
  testing::TestNode tn;
  ASSERT_TRUE(tn.storage
                  .Append({{1, 1, EntryType::kNormal, "a"},
                           {1, 2, EntryType::kNormal, "b"},
                           {2, 3, EntryType::kNormal, "c"},
                           {2, 4, EntryType::kNormal, "d"}})
                  .ok());
  tn.storage.SetHardState({2, 0, 0});
  tn.storage.SetConfState({{1, 2, 3}, {}});
  Config c;
  c.id = 1;
  tn.node = std::move(RawNode::Create(c, &tn.storage)).value();
  Message app = Msg(MessageType::kMsgApp, 2, 1, 3);
  app.index = 4;
  app.log_term = 3;  // the leader has term 3 at index 4: we have term 2 there
  ASSERT_TRUE(tn.node->Step(app).ok());
  auto msgs = Drain(tn);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_TRUE(msgs[0].reject);
  EXPECT_EQ(msgs[0].index, 4u);
  EXPECT_EQ(msgs[0].reject_hint, 4u);  // our term 2 <= 3: index 4 may match at term 2
  EXPECT_EQ(msgs[0].log_term, 2u);
  app.index = 4;
  app.log_term = 1;  // the leader says term 1 at 4: skip our whole term-2 run
  ASSERT_TRUE(tn.node->Step(app).ok());
  msgs = Drain(tn);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].reject_hint, 2u);
  EXPECT_EQ(msgs[0].log_term, 1u);
}

// §5.3: a leader repairs a follower with a long conflicting suffix, and the
// follower's conflicting entries are replaced by the leader's.
TEST(RaftPaperTest, S5_3_LeaderOverwritesConflictingFollowerSuffix) {
  Network net(3);
  net.Elect(1);
  ASSERT_TRUE(net.node(1).node->Propose("common").ok());
  net.Deliver();
  // Node 1 (leader) is cut off and takes proposals that never commit.
  net.Isolate(1);
  for (int i = 0; i < 5; i++)
    ASSERT_TRUE(net.node(1).node->Propose("lost" + std::to_string(i)).ok());
  net.Deliver();
  // The others elect a new leader and commit different entries.
  net.TickAll(30);
  const NodeId leader = net.Leader();
  ASSERT_TRUE(leader == 2 || leader == 3);
  for (int i = 0; i < 3; i++)
    ASSERT_TRUE(net.node(leader).node->Propose("won" + std::to_string(i)).ok());
  net.Deliver();
  net.Heal();
  net.TickAll(30);
  EXPECT_EQ(net.Leader(), leader);
  for (NodeId id : net.ids()) {
    auto& st = net.node(id).state;
    EXPECT_EQ(st, (std::vector<std::string>{"common", "won0", "won1", "won2"})) << "node " << id;
  }
  net.CheckLogsAgree();
}

// §5.4.1: a voter denies its vote to a candidate whose log is less up to date.
TEST(RaftPaperTest, S5_4_1_VoteDeniedToCandidateWithStaleLog) {
  testing::TestNode tn;
  ASSERT_TRUE(
      tn.storage.Append({{1, 1, EntryType::kNormal, ""}, {3, 2, EntryType::kNormal, ""}}).ok());
  tn.storage.SetHardState({3, 0, 0});
  tn.storage.SetConfState({{1, 2, 3}, {}});
  Config c;
  c.id = 1;
  c.pre_vote = false;
  tn.node = std::move(RawNode::Create(c, &tn.storage)).value();
  struct Case {
    uint64_t last_index, last_term;
    bool granted;
  } cases[] = {
      {5, 2, false},  // lower last term loses even with a longer log
      {1, 3, false},  // same term, shorter log
      {2, 3, true},   // same term, same length
      {1, 4, true},   // higher last term wins
  };
  uint64_t term = 4;
  for (const Case& tc : cases) {
    Message v = Msg(MessageType::kMsgVote, 2, 1, term++);  // a fresh term per case
    v.index = tc.last_index;
    v.log_term = tc.last_term;
    ASSERT_TRUE(tn.node->Step(v).ok());
    auto msgs = Drain(tn);
    ASSERT_EQ(msgs.size(), 1u);
    EXPECT_EQ(!msgs[0].reject, tc.granted) << tc.last_index << "/" << tc.last_term;
  }
}

// §5.4.2 (Figure 8): a leader must not commit an entry of an earlier term by
// counting replicas; it is committed only once an entry of its own term is.
TEST(RaftPaperTest, S5_4_2_LeaderDoesNotCommitOldTermEntryByCounting) {
  testing::TestNode tn;
  ASSERT_TRUE(
      tn.storage.Append({{1, 1, EntryType::kNormal, "a"}, {2, 2, EntryType::kNormal, "b"}}).ok());
  tn.storage.SetHardState({2, 0, 1});
  tn.storage.SetConfState({{1, 2, 3}, {}});
  Config c;
  c.id = 1;
  c.pre_vote = false;
  tn.node = std::move(RawNode::Create(c, &tn.storage)).value();
  ASSERT_TRUE(tn.node->Campaign().ok());
  Drain(tn);
  Message grant = Msg(MessageType::kMsgVoteResp, 2, 1, 3);
  ASSERT_TRUE(tn.node->Step(grant).ok());
  ASSERT_EQ(tn.status().role, Role::kLeader);
  Drain(tn);
  ASSERT_EQ(tn.status().last_index, 3u);  // the leader's empty entry of term 3
  // Node 2 now holds index 2 (term 2): a majority (1, 2) has it, but it is old.
  Message ack = Msg(MessageType::kMsgAppResp, 2, 1, 3);
  ack.index = 2;
  ASSERT_TRUE(tn.node->Step(ack).ok());
  Drain(tn);
  EXPECT_EQ(tn.status().hard_state.commit, 1u);
  // Once the term-3 entry is on a majority, it and everything before it commit.
  ack.index = 3;
  ASSERT_TRUE(tn.node->Step(ack).ok());
  Drain(tn);
  EXPECT_EQ(tn.status().hard_state.commit, 3u);
}

// §5.4.2 end to end: a leader elected over a log with an uncommitted old-term
// entry commits it only together with its own no-op.
TEST(RaftPaperTest, S5_4_2_NewLeaderCommitsPriorEntriesThroughItsOwnTerm) {
  Network net(3);
  net.Elect(1);
  net.SetDropFilter([](const Message& m) { return m.type == MessageType::kMsgApp && m.to == 3; });
  ASSERT_TRUE(net.node(1).node->Propose("x").ok());
  net.Deliver();
  net.SetDropFilter(nullptr);
  net.Isolate(1);
  net.TickAll(30);
  ASSERT_EQ(net.Leader(), 2u);  // only node 2 has the newest entry
  net.TickAll(2);
  for (NodeId id : {2, 3}) EXPECT_EQ(net.node(id).state, std::vector<std::string>{"x"});
}

// §5.5 / restart: term, vote and log survive a restart from storage.
TEST(RaftPaperTest, S5_5_RestartKeepsTermVoteAndLog) {
  Network net(3);
  net.Elect(1);
  ASSERT_TRUE(net.node(1).node->Propose("a").ok());
  net.Deliver();
  net.TickAll(2);
  const NodeStatus before = net.node(2).status();
  net.Restart(2);
  const NodeStatus after = net.node(2).status();
  EXPECT_EQ(after.hard_state.term, before.hard_state.term);
  EXPECT_EQ(after.hard_state.vote, before.hard_state.vote);
  EXPECT_EQ(after.last_index, before.last_index);
  EXPECT_EQ(after.conf_state, before.conf_state);
  net.TickAll(3);
  ASSERT_TRUE(net.node(1).node->Propose("b").ok());
  net.Deliver();
  net.TickAll(2);
  EXPECT_EQ(net.node(2).state, (std::vector<std::string>{"a", "b"}));
}

// Restart after the application snapshotted without compacting: the state
// machine restarts from the snapshot and the core resumes applying after it.
TEST(RaftPaperTest, RestartAppliesFromSnapshotIndexWhenLogWasNotCompacted) {
  Network net(3);
  net.Elect(1);
  for (int i = 0; i < 5; i++) ASSERT_TRUE(net.node(1).node->Propose("e" + std::to_string(i)).ok());
  net.Deliver();
  net.TickAll(2);
  auto& tn = net.node(2);
  ASSERT_TRUE(tn.storage.CreateSnapshot(tn.applied_index, tn.applied_conf, tn.EncodeState()).ok());
  net.Restart(2);  // the harness checks each applied entry follows the previous one
  ASSERT_TRUE(net.node(1).node->Propose("after").ok());
  net.Deliver();
  net.TickAll(2);
  EXPECT_EQ(net.node(2).state, net.node(1).state);
  EXPECT_EQ(net.node(2).state.size(), 6u);
}

// Only forwarded requests may omit the term; anything else is refused.
TEST(RaftPaperTest, MessagesWithoutTermAreRefusedExceptForwardedRequests) {
  Network net(3);
  Message m = Msg(MessageType::kMsgApp, 2, 1, 0);
  EXPECT_TRUE(net.node(1).node->Step(m).IsInvalidArgument());
  EXPECT_EQ(net.node(1).status().leader_id, kNoNode);
  m = Msg(MessageType::kMsgHeartbeat, 2, 3, 1);
  EXPECT_TRUE(net.node(1).node->Step(m).IsInvalidArgument());  // not addressed to node 1
}

// Malformed messages are refused with a Status before they reach the log.
TEST(RaftPaperTest, MalformedAppendIsRefused) {
  Network net(3);
  Message m = Msg(MessageType::kMsgApp, 2, 1, 2);
  m.index = 3;
  m.log_term = 1;
  m.entries = {{2, 5, EntryType::kNormal, "gap"}};  // should be index 4
  EXPECT_TRUE(net.node(1).node->Step(m).IsInvalidArgument());
  m.entries = {{3, 4, EntryType::kNormal, "future term"}};  // above the message's term
  EXPECT_TRUE(net.node(1).node->Step(m).IsInvalidArgument());
  m.entries = {{2, 4, EntryType::kNormal, "ok"}};
  EXPECT_TRUE(net.node(1).node->Step(m).ok());
  EXPECT_EQ(net.node(1).status().last_index, 4u);
  Message bad_type = Msg(static_cast<MessageType>(99), 2, 1, 2);
  EXPECT_TRUE(net.node(1).node->Step(bad_type).IsInvalidArgument());
}

}  // namespace
}  // namespace dkv::raft

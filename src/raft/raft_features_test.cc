// Tests for what issue #3 adds on top of the paper: pre-vote, check-quorum and
// leader stickiness (thesis §9.6, §6.2, §4.2.3), snapshots in chunks (§7),
// single-server membership changes (thesis §4), leadership transfer (thesis §3.10),
// ReadIndex and lease reads (thesis §6.4), and proposal forwarding.
#include <gtest/gtest.h>

#include "common/random.h"
#include "raft/raft_test_util.h"

namespace dkv::raft {
namespace {

using testing::Network;

// Thesis §9.6: a node cut off from the group pre-votes, fails, and so does not
// raise its term; when it comes back it does not depose the healthy leader.
TEST(PreVoteTest, PartitionedNodeRejoiningDoesNotDeposeLeader) {
  Network net(3);
  net.Elect(1);
  const uint64_t term = net.node(1).status().hard_state.term;
  net.Isolate(3);
  net.TickAll(100);
  EXPECT_EQ(net.node(3).status().hard_state.term, term);  // pre-vote kept it from bumping
  EXPECT_NE(net.node(3).status().role, Role::kLeader);
  net.Heal();
  net.TickAll(20);
  EXPECT_EQ(net.Leader(), 1u);
  EXPECT_EQ(net.node(1).status().hard_state.term, term);
  ASSERT_TRUE(net.node(1).node->Propose("after").ok());
  net.Deliver();
  net.TickAll(2);
  EXPECT_EQ(net.node(3).state, std::vector<std::string>{"after"});
}

// Without pre-vote the same story disrupts the group: the rejoining node's higher
// term forces a new election (the problem pre-vote solves).
TEST(PreVoteTest, WithoutPreVoteRejoiningNodeForcesNewTerm) {
  Network net(3, [](Config* c) {
    c->pre_vote = false;
    c->check_quorum = false;
  });
  net.Elect(1);
  const uint64_t term = net.node(1).status().hard_state.term;
  net.Isolate(3);
  net.TickAll(100);
  EXPECT_GT(net.node(3).status().hard_state.term, term);
  net.Heal();
  net.TickAll(40);
  EXPECT_GT(net.node(1).status().hard_state.term, term);
}

// Thesis §6.2: a leader that hears from no quorum for an election timeout steps down.
TEST(CheckQuorumTest, IsolatedLeaderStepsDown) {
  Network net(3);
  net.Elect(1);
  net.Isolate(1);
  net.TickAll(25);
  EXPECT_NE(net.node(1).status().role, Role::kLeader);
  NodeId leader = net.Leader();
  EXPECT_TRUE(leader == 2 || leader == 3);
}

// Thesis §4.2.3: a follower that heard from its leader within an election timeout
// ignores vote requests, even of a higher term.
TEST(CheckQuorumTest, FollowerWithLiveLeaderIgnoresVotes) {
  Network net(3, [](Config* c) { c->pre_vote = false; });
  net.Elect(1);
  const uint64_t term = net.node(2).status().hard_state.term;
  Message v;
  v.type = MessageType::kMsgVote;
  v.from = 3;
  v.to = 2;
  v.term = term + 1;
  v.index = 100;
  v.log_term = term;
  ASSERT_TRUE(net.node(2).node->Step(v).ok());
  EXPECT_EQ(net.node(2).status().hard_state.term, term);
  EXPECT_EQ(net.node(2).status().hard_state.vote, 1u);
}

// §7: a follower so far behind that the leader compacted what it needs gets the
// snapshot, in several chunks, and catches up.
TEST(SnapshotTest, FarBehindFollowerCatchesUpBySnapshotChunks) {
  Network net(3, [](Config* c) { c->max_snapshot_chunk_bytes = 16; });
  net.Elect(1);
  net.Isolate(3);
  for (int i = 0; i < 30; i++) {
    ASSERT_TRUE(net.node(1).node->Propose("entry-" + std::to_string(i)).ok());
  }
  net.Deliver();
  net.TickAll(2);
  net.node(1).SnapshotAndCompact();
  net.node(2).SnapshotAndCompact();
  ASSERT_GT(net.node(1).storage.FirstIndex(), net.node(3).status().last_index + 1);
  net.ClearSent();
  net.Heal();
  net.TickAll(10);
  EXPECT_GT(net.CountSent(MessageType::kMsgSnap), 5u);  // many 16-byte chunks
  EXPECT_TRUE(net.node(3).installed_snapshot);
  EXPECT_EQ(net.node(3).state, net.node(1).state);
  ASSERT_TRUE(net.node(1).node->Propose("tail").ok());
  net.Deliver();
  net.TickAll(2);
  EXPECT_EQ(net.node(3).state.back(), "tail");
  EXPECT_EQ(net.node(3).state.size(), 31u);
}

// Lost chunks are resent after a heartbeat without progress.
TEST(SnapshotTest, LostChunksAreResent) {
  Network net(3, [](Config* c) { c->max_snapshot_chunk_bytes = 8; });
  net.Elect(1);
  net.Isolate(3);
  for (int i = 0; i < 10; i++) ASSERT_TRUE(net.node(1).node->Propose("e" + std::to_string(i)).ok());
  net.Deliver();
  net.TickAll(2);
  net.node(1).SnapshotAndCompact();
  net.Heal();
  int n = 0;
  net.SetDropFilter(
      [&n](const Message& m) { return m.type == MessageType::kMsgSnap && (n++ % 3 == 1); });
  net.TickAll(40);
  net.SetDropFilter(nullptr);
  net.TickAll(5);
  EXPECT_EQ(net.node(3).state, net.node(1).state);
}

// Thesis §4.1: add a learner, let it catch up (it never votes), promote it, then
// remove another member; every member converges on the same membership.
TEST(MembershipTest, AddLearnerPromoteThenRemove) {
  Network net(3);
  net.Elect(1);
  ASSERT_TRUE(net.node(1).node->Propose("before").ok());
  net.Deliver();
  net.AddNode(4, {});  // joins empty; learns the membership from the log
  ASSERT_TRUE(net.node(1).node->ProposeConfChange({ConfChangeType::kAddLearner, 4, {}}).ok());
  // One change at a time: a second one is refused until the first commits.
  EXPECT_TRUE(net.node(1).node->ProposeConfChange({ConfChangeType::kAddLearner, 5, {}}).IsBusy());
  net.Deliver();
  net.TickAll(3);
  EXPECT_EQ(net.node(4).state, std::vector<std::string>{"before"});
  EXPECT_TRUE(net.node(4).status().conf_state.IsLearner(4));
  EXPECT_EQ(net.node(4).status().role, Role::kFollower);
  // A learner never campaigns.
  EXPECT_TRUE(net.node(4).node->Campaign().IsUnavailable());

  ASSERT_TRUE(net.node(1).node->ProposeConfChange({ConfChangeType::kAddVoter, 4, {}}).ok());
  net.Deliver();
  net.TickAll(2);
  for (NodeId id : net.ids()) {
    EXPECT_EQ(net.node(id).status().conf_state, (ConfState{{1, 2, 3, 4}, {}})) << "node " << id;
  }
  ASSERT_TRUE(net.node(1).node->ProposeConfChange({ConfChangeType::kRemoveNode, 2, {}}).ok());
  net.Deliver();
  net.TickAll(2);
  for (NodeId id : {1, 3, 4}) {
    EXPECT_EQ(net.node(id).status().conf_state, (ConfState{{1, 3, 4}, {}})) << "node " << id;
    EXPECT_EQ(net.node(id).applied_conf, (ConfState{{1, 3, 4}, {}})) << "node " << id;
  }
  // The group of three (1, 3, 4) commits without node 2.
  net.Isolate(2);
  ASSERT_TRUE(net.node(1).node->Propose("after").ok());
  net.Deliver();
  net.TickAll(2);
  EXPECT_EQ(net.node(4).state, (std::vector<std::string>{"before", "after"}));
  net.CheckLogsAgree();
}

// The promoted node can win an election: it is a full voter.
TEST(MembershipTest, PromotedLearnerCanBecomeLeader) {
  Network net(3);
  net.Elect(1);
  net.AddNode(4, {});
  ASSERT_TRUE(net.node(1).node->ProposeConfChange({ConfChangeType::kAddLearner, 4, {}}).ok());
  net.Deliver();
  net.TickAll(2);
  ASSERT_TRUE(net.node(1).node->ProposeConfChange({ConfChangeType::kAddVoter, 4, {}}).ok());
  net.Deliver();
  net.TickAll(2);
  ASSERT_TRUE(net.node(1).node->TransferLeadership(4).ok());
  net.Deliver();
  EXPECT_EQ(net.Leader(), 4u);
}

// Thesis §4.2.2: a leader that removes itself steps down once the change commits,
// and the rest elect a new leader.
TEST(MembershipTest, LeaderRemovingItselfStepsDown) {
  Network net(3);
  net.Elect(1);
  ASSERT_TRUE(net.node(1).node->ProposeConfChange({ConfChangeType::kRemoveNode, 1, {}}).ok());
  net.Deliver();
  EXPECT_NE(net.node(1).status().role, Role::kLeader);
  net.Isolate(1);
  net.TickAll(40);
  const NodeId leader = net.Leader();
  EXPECT_TRUE(leader == 2 || leader == 3);
  EXPECT_EQ(net.node(leader).status().conf_state, (ConfState{{2, 3}, {}}));
}

// An invalid change is refused with a clear error.
TEST(MembershipTest, InvalidChangesAreRefused) {
  Network net(1);
  net.Elect(1);
  EXPECT_TRUE(net.node(1)
                  .node->ProposeConfChange({ConfChangeType::kRemoveNode, 1, {}})
                  .IsInvalidArgument());
  EXPECT_TRUE(
      net.node(1).node->ProposeConfChange({ConfChangeType::kAddVoter, 1, {}}).IsInvalidArgument());
}

// A new leader may not change membership before an entry of its term commits.
TEST(MembershipTest, NewLeaderWaitsForItsOwnEntryBeforeChanges) {
  Network net(3);
  net.SetDropFilter([](const Message& m) { return m.type == MessageType::kMsgAppResp; });
  net.Elect(1);
  EXPECT_TRUE(net.node(1).node->ProposeConfChange({ConfChangeType::kAddLearner, 4, {}}).IsBusy());
  net.SetDropFilter(nullptr);
  net.TickAll(2);
  EXPECT_TRUE(net.node(1).node->ProposeConfChange({ConfChangeType::kAddLearner, 4, {}}).ok());
}

// Thesis §3.10: leadership moves to an up-to-date target at once.
TEST(TransferTest, TransferToUpToDateFollower) {
  Network net(3);
  net.Elect(1);
  net.TickAll(1);
  ASSERT_TRUE(net.node(1).node->TransferLeadership(3).ok());
  net.Deliver();
  EXPECT_EQ(net.Leader(), 3u);
  EXPECT_EQ(net.node(1).status().leader_id, 3u);
}

// A lagging target is brought up to date first; proposals are refused meanwhile.
TEST(TransferTest, LaggingTargetCatchesUpFirstAndProposalsAreRefused) {
  Network net(3);
  net.Elect(1);
  net.Isolate(3);
  for (int i = 0; i < 5; i++) ASSERT_TRUE(net.node(1).node->Propose("p" + std::to_string(i)).ok());
  net.Deliver();
  ASSERT_TRUE(net.node(1).node->TransferLeadership(3).ok());
  EXPECT_TRUE(net.node(1).node->Propose("refused").IsUnavailable());
  net.Heal();
  net.TickAll(3);
  EXPECT_EQ(net.Leader(), 3u);
  EXPECT_EQ(net.node(3).state.size(), 5u);
}

// A transfer that cannot finish within an election timeout is abandoned, and the
// old leader accepts proposals again.
TEST(TransferTest, TransferAbortsAfterElectionTimeout) {
  Network net(3, [](Config* c) { c->check_quorum = false; });
  net.Elect(1);
  net.Isolate(3);
  ASSERT_TRUE(net.node(1).node->TransferLeadership(3).ok());
  EXPECT_EQ(net.node(1).status().lead_transferee, 3u);
  net.TickAll(11);
  EXPECT_EQ(net.node(1).status().lead_transferee, kNoNode);
  EXPECT_EQ(net.Leader(), 1u);
  EXPECT_TRUE(net.node(1).node->Propose("ok").ok());
}

// A follower may ask for leadership for itself; the leader forwards the request.
TEST(TransferTest, FollowerRequestsLeadershipForItself) {
  Network net(3);
  net.Elect(1);
  net.TickAll(1);
  ASSERT_TRUE(net.node(2).node->TransferLeadership(2).ok());
  net.Deliver();
  EXPECT_EQ(net.Leader(), 2u);
}

// Thesis §6.4: ReadIndex returns the commit index after a heartbeat round
// confirms leadership.
TEST(ReadIndexTest, LeaderAnswersAfterHeartbeatQuorum) {
  Network net(3);
  net.Elect(1);
  ASSERT_TRUE(net.node(1).node->Propose("w").ok());
  net.Deliver();
  const uint64_t commit = net.node(1).status().hard_state.commit;
  ASSERT_TRUE(net.node(1).node->ReadIndex("r1").ok());
  net.ProcessAll();
  EXPECT_TRUE(net.node(1).reads.empty());  // not before the heartbeat round
  net.Deliver();
  ASSERT_EQ(net.node(1).reads.size(), 1u);
  EXPECT_EQ(net.node(1).reads[0].context, "r1");
  EXPECT_EQ(net.node(1).reads[0].index, commit);
}

// A leader cut off from the others cannot confirm leadership: no read state.
TEST(ReadIndexTest, PartitionedLeaderCannotAnswer) {
  Network net(3);
  net.Elect(1);
  net.Isolate(1);
  ASSERT_TRUE(net.node(1).node->ReadIndex("r").ok());
  net.Deliver();
  EXPECT_TRUE(net.node(1).reads.empty());
}

// A follower's read request is forwarded; the answer comes back with the index.
TEST(ReadIndexTest, FollowerReadIsForwardedToLeader) {
  Network net(3);
  net.Elect(1);
  ASSERT_TRUE(net.node(1).node->Propose("w").ok());
  net.Deliver();
  ASSERT_TRUE(net.node(2).node->ReadIndex("f").ok());
  net.Deliver();
  ASSERT_EQ(net.node(2).reads.size(), 1u);
  EXPECT_EQ(net.node(2).reads[0].context, "f");
  EXPECT_EQ(net.node(2).reads[0].index, net.node(1).status().hard_state.commit);
}

// A new leader answers no read until an entry of its own term has committed.
TEST(ReadIndexTest, NewLeaderDefersReadsUntilItsEntryCommits) {
  Network net(3);
  net.SetDropFilter([](const Message& m) { return m.type == MessageType::kMsgAppResp; });
  net.Elect(1);
  ASSERT_TRUE(net.node(1).node->ReadIndex("early").ok());
  net.Deliver();
  EXPECT_TRUE(net.node(1).reads.empty());
  net.SetDropFilter(nullptr);
  net.TickAll(2);
  ASSERT_EQ(net.node(1).reads.size(), 1u);
  EXPECT_GE(net.node(1).reads[0].index, 4u);  // at least the leader's empty entry
}

// With a drift bound the leader answers from its lease, without a heartbeat round.
TEST(LeaseReadTest, LeaseAnswersWithoutHeartbeatRound) {
  Network net(3, [](Config* c) { c->clock_drift_bound_ticks = 2; });
  net.Elect(1);
  net.TickAll(2);  // heartbeats acknowledged: the lease is fresh
  net.ClearSent();
  ASSERT_TRUE(net.node(1).node->ReadIndex("lease").ok());
  net.ProcessAll();
  ASSERT_EQ(net.node(1).reads.size(), 1u);
  EXPECT_EQ(net.CountSent(MessageType::kMsgHeartbeat), 0u);
}

// Without a drift bound, no lease: the read waits for a heartbeat round.
TEST(LeaseReadTest, NoLeaseWithoutDriftBound) {
  Network net(3);
  net.Elect(1);
  net.TickAll(2);
  ASSERT_TRUE(net.node(1).node->ReadIndex("r").ok());
  net.ProcessAll();
  EXPECT_TRUE(net.node(1).reads.empty());
  EXPECT_GT(net.CountSent(MessageType::kMsgHeartbeat), 0u);
}

// The lease runs out election_tick - drift ticks after the last acknowledged
// heartbeat: an isolated leader stops answering from it.
TEST(LeaseReadTest, LeaseExpiresWhenHeartbeatsAreNotAcknowledged) {
  Network net(3, [](Config* c) {
    c->clock_drift_bound_ticks = 3;
    c->election_tick = 20;  // check-quorum would need 20 ticks to depose it
  });
  net.Elect(1);
  net.TickAll(2);
  net.Isolate(1);
  // The last acknowledged heartbeat left 2 ticks ago; 17 more reach 20 - 3 since it.
  for (int i = 0; i < 17; i++) net.Tick(1);
  net.Deliver();
  ASSERT_EQ(net.node(1).status().role, Role::kLeader);
  ASSERT_TRUE(net.node(1).node->ReadIndex("late").ok());
  net.Deliver();
  EXPECT_TRUE(net.node(1).reads.empty());
}

TEST(LeaseReadTest, ConfigRejectsLeaseWithoutCheckQuorum) {
  Config c;
  c.id = 1;
  c.clock_drift_bound_ticks = 2;
  c.check_quorum = false;
  EXPECT_TRUE(c.Validate().IsInvalidArgument());
  c.check_quorum = true;
  c.clock_drift_bound_ticks = c.election_tick;
  EXPECT_TRUE(c.Validate().IsInvalidArgument());
}

// A follower forwards proposals to the leader when configured to.
TEST(ForwardingTest, FollowerForwardsProposal) {
  Network net(3);
  net.Elect(1);
  ASSERT_TRUE(net.node(2).node->Propose("via-2").ok());
  net.Deliver();
  net.TickAll(2);
  for (NodeId id : net.ids()) EXPECT_EQ(net.node(id).state, std::vector<std::string>{"via-2"});
}

// Without forwarding a follower says who the leader is.
TEST(ForwardingTest, WithoutForwardingFollowerNamesLeader) {
  Network net(3, [](Config* c) { c->forward_proposals = false; });
  net.Elect(1);
  Status s = net.node(2).node->Propose("x");
  EXPECT_TRUE(s.IsUnavailable());
  EXPECT_NE(s.message().find("not leader, leader is 1"), std::string::npos) << s.ToString();
}

TEST(ForwardingTest, NoKnownLeaderIsUnavailable) {
  Network net(3);
  Status s = net.node(2).node->Propose("x");
  EXPECT_TRUE(s.IsUnavailable());
  EXPECT_NE(s.message().find("leader is unknown"), std::string::npos);
}

// Batching: many proposals travel in few MsgApps, bounded by max_size_per_msg.
TEST(ReplicationTest, ProposalsAreBatchedUnderByteLimit) {
  Network net(3, [](Config* c) { c->max_size_per_msg = 1 << 20; });
  net.Elect(1);
  net.ClearSent();
  // Hold back acknowledgements so proposals accumulate, then release them.
  for (int i = 0; i < 100; i++) ASSERT_TRUE(net.node(1).node->Propose(std::string(100, 'a')).ok());
  net.Deliver();
  net.TickAll(2);
  EXPECT_EQ(net.node(3).state.size(), 100u);
  size_t max_entries = 0;
  for (const Message& m : net.sent()) {
    if (m.type == MessageType::kMsgApp) max_entries = std::max(max_entries, m.entries.size());
  }
  EXPECT_GE(max_entries, 1u);
  // And a tight limit splits them.
  Network small(3, [](Config* c) { c->max_size_per_msg = 500; });
  small.Elect(1);
  small.Isolate(3);
  for (int i = 0; i < 50; i++) ASSERT_TRUE(small.node(1).node->Propose(std::string(100, 'b')).ok());
  small.Deliver();
  small.Heal();
  small.ClearSent();
  small.TickAll(3);
  EXPECT_EQ(small.node(3).state.size(), 50u);
  for (const Message& m : small.sent()) {
    if (m.type != MessageType::kMsgApp) continue;
    size_t bytes = 0;
    for (const Entry& e : m.entries) bytes += e.ByteSize();
    EXPECT_TRUE(m.entries.size() <= 1 || bytes <= 500) << bytes;
  }
}

// Just before expiry the lease still answers at once.
TEST(LeaseReadTest, LeaseStillValidJustBeforeExpiry) {
  Network net(3, [](Config* c) {
    c->clock_drift_bound_ticks = 3;
    c->election_tick = 20;
  });
  net.Elect(1);
  net.TickAll(2);
  net.Isolate(1);
  for (int i = 0; i < 16; i++) net.Tick(1);
  net.Deliver();
  ASSERT_TRUE(net.node(1).node->ReadIndex("in-time").ok());
  net.ProcessAll();
  EXPECT_EQ(net.node(1).reads.size(), 1u);
}

// Pipelining is bounded: a silent follower never has more than max_inflight_msgs
// MsgApps outstanding.
TEST(ReplicationTest, InflightWindowBoundsPipelining) {
  Network net(3, [](Config* c) {
    c->max_inflight_msgs = 4;
    c->max_size_per_msg = 1;  // one entry per MsgApp
  });
  net.Elect(1);
  net.TickAll(1);
  ASSERT_EQ(net.node(1).raw().GetStatus().role, Role::kLeader);
  net.SetDropFilter([](const Message& m) { return m.to == 1 && m.from == 3; });
  net.ClearSent();
  for (int i = 0; i < 20; i++) ASSERT_TRUE(net.node(1).node->Propose("p").ok());
  net.Deliver();
  size_t to3 = 0, to2 = 0;
  for (const Message& m : net.sent()) {
    if (m.type != MessageType::kMsgApp || m.entries.empty()) continue;
    to3 += m.to == 3;
    to2 += m.to == 2;
  }
  EXPECT_EQ(to3, 4u);
  EXPECT_GE(to2, 20u);
}

// A follower's membership change is forwarded to the leader like a proposal.
TEST(MembershipTest, FollowerForwardsConfChange) {
  Network net(3);
  net.Elect(1);
  net.TickAll(1);
  net.AddNode(4, {});
  ASSERT_TRUE(net.node(2).node->ProposeConfChange({ConfChangeType::kAddLearner, 4, {}}).ok());
  net.Deliver();
  net.TickAll(2);
  EXPECT_TRUE(net.node(1).status().conf_state.IsLearner(4));
  EXPECT_TRUE(net.node(4).status().conf_state.IsLearner(4));
}

// A leader that cannot commit stops taking proposals once too many bytes wait.
TEST(ReplicationTest, UncommittedBytesAreBounded) {
  Network net(3, [](Config* c) { c->max_uncommitted_entries_size = 1000; });
  net.Elect(1);
  net.TickAll(1);
  net.Isolate(1);
  Status s;
  int accepted = 0;
  for (int i = 0; i < 100 && s.ok(); i++) {
    s = net.node(1).node->Propose(std::string(100, 'u'));
    accepted += s.ok();
  }
  EXPECT_TRUE(s.IsResourceExhausted()) << s.ToString();
  EXPECT_GE(accepted, 5);
  EXPECT_LE(accepted, 10);
  net.Heal();
  net.TickAll(2);  // the backlog commits and frees the budget
  EXPECT_TRUE(net.node(1).node->Propose("again").ok());
}

// Learners receive the log but never count towards a commit quorum.
TEST(MembershipTest, LearnerDoesNotCountForCommit) {
  Network net(2);
  net.Elect(1);
  net.AddNode(3, {});
  ASSERT_TRUE(net.node(1).node->ProposeConfChange({ConfChangeType::kAddLearner, 3, {}}).ok());
  net.Deliver();
  net.TickAll(2);
  ASSERT_TRUE(net.node(3).status().conf_state.IsLearner(3));
  net.Cut(1, 2);
  const uint64_t commit = net.node(1).status().hard_state.commit;
  ASSERT_TRUE(net.node(1).node->Propose("needs-2").ok());
  net.Deliver();
  EXPECT_EQ(net.node(3).status().last_index, net.node(1).status().last_index);  // replicated
  EXPECT_EQ(net.node(1).status().hard_state.commit, commit);                    // not committed
}

// ReportUnreachable stops pipelining to a follower: it goes back to probing.
TEST(ReplicationTest, ReportUnreachableMovesFollowerToProbe) {
  Network net(3);
  net.Elect(1);
  net.TickAll(1);
  auto state_of = [&](NodeId id) {
    for (const PeerProgress& p : net.node(1).status().progress) {
      if (p.id == id) return p.state;
    }
    return ProgressState::kSnapshot;
  };
  ASSERT_EQ(state_of(2), ProgressState::kReplicate);
  net.node(1).node->ReportUnreachable(2);
  EXPECT_EQ(state_of(2), ProgressState::kProbe);
  ASSERT_TRUE(net.node(1).node->Propose("probe").ok());  // the probe's answer resumes it
  net.Deliver();
  EXPECT_EQ(state_of(2), ProgressState::kReplicate);
}

// A leadership transfer revokes the lease: the target may be elected at once.
TEST(LeaseReadTest, TransferRevokesLease) {
  Network net(3, [](Config* c) { c->clock_drift_bound_ticks = 2; });
  net.Elect(1);
  net.TickAll(2);
  net.Isolate(3);
  ASSERT_TRUE(net.node(1).node->TransferLeadership(3).ok());
  ASSERT_TRUE(net.node(1).node->ReadIndex("after-transfer").ok());
  net.ProcessAll();
  EXPECT_TRUE(net.node(1).reads.empty());
}

TEST(ConfigTest, ValidateNamesTheBadField) {
  Config c;
  EXPECT_TRUE(c.Validate().IsInvalidArgument());  // id 0
  c.id = 1;
  EXPECT_TRUE(c.Validate().ok());
  Config bad = c;
  bad.heartbeat_tick = bad.election_tick;
  EXPECT_NE(bad.Validate().message().find("election_tick"), std::string::npos);
  bad = c;
  bad.max_inflight_msgs = 0;
  EXPECT_NE(bad.Validate().message().find("max_inflight_msgs"), std::string::npos);
  bad = c;
  bad.peers = {1, 2};
  bad.learners = {2};
  EXPECT_TRUE(bad.Validate().IsInvalidArgument());
  MemoryLogStorage storage;
  EXPECT_TRUE(RawNode::Create(bad, &storage).status().IsInvalidArgument());
}

// A follower that acknowledged the leader and then restarted must not help elect
// another leader while that lease may still run: it stays sticky for an election
// timeout after it starts.
TEST(LeaseReadTest, RestartedFollowersDoNotCutTheLeaseShort) {
  Network net(3, [](Config* c) { c->clock_drift_bound_ticks = 2; });
  net.Elect(1);
  net.TickAll(2);
  net.Isolate(1);
  net.Restart(2);
  net.Restart(3);
  ASSERT_TRUE(net.node(2).node->Campaign().ok());
  net.Deliver();
  EXPECT_NE(net.node(2).status().role, Role::kLeader);
  // For the rest of node 1's lease, nobody else becomes leader.
  for (int i = 0; i < 7; i++) {
    for (NodeId id : {1, 2, 3}) net.Tick(id);
    net.Deliver();
    EXPECT_EQ(net.Leader(), 1u) << "tick " << i;
  }
  ASSERT_TRUE(net.node(1).node->ReadIndex("still-leased").ok());
  net.ProcessAll();
  EXPECT_EQ(net.node(1).reads.size(), 1u);
  // Later the others do elect a leader.
  net.TickAll(40);
  EXPECT_TRUE(net.node(2).status().role == Role::kLeader ||
              net.node(3).status().role == Role::kLeader);
}

}  // namespace
}  // namespace dkv::raft

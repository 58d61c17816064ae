// Tests of RawNode's hook for runtimes that persist a Ready on another thread
// (TakeStableCommittedEntries): while a Ready is outstanding, only entries that
// are committed AND already durable here are handed out, each exactly once,
// never one the outstanding Ready is still persisting.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "raft/raft_test_util.h"

namespace dkv::raft {
namespace {

using testing::Network;
using testing::TestNode;

// The runtime's step 2 for a Ready: entries and hard state into storage.
void Persist(TestNode& tn, const Ready& rd) {
  ASSERT_TRUE(tn.storage.Append(rd.entries).ok());
  if (rd.hard_state) tn.storage.SetHardState(*rd.hard_state);
}

// Steps into `to` the messages of `from` addressed to it.
void StepInto(TestNode& to, const std::vector<Message>& msgs) {
  for (const Message& m : msgs) {
    if (m.to == to.id) {
      ASSERT_TRUE(to.node->Step(m).ok());
    }
  }
}

// A follower's whole round (persist, then answer): its messages.
std::vector<Message> FollowerRound(TestNode& f) {
  Ready rd = f.node->GetReady();
  Persist(f, rd);
  std::vector<Message> out = rd.messages;
  f.node->Advance(rd);
  return out;
}

uint64_t LastIndexOf(const std::vector<Entry>& entries) {
  return entries.empty() ? 0 : entries.back().index;
}

TEST(RawNodeAsyncTest, StableCommittedEntriesAreHandedOutOnceAndNeverWhilePersisting) {
  Network net(3);
  net.Elect(1);
  TestNode& leader = net.node(1);
  TestNode& follower = net.node(2);
  ASSERT_FALSE(leader.node->HasReady());
  EXPECT_TRUE(leader.node->TakeStableCommittedEntries().empty());  // no Ready outstanding

  // Round A: "a" appended and persisted by the leader.
  ASSERT_TRUE(leader.node->Propose("a").ok());
  Ready ra = leader.node->GetReady();
  ASSERT_EQ(ra.entries.size(), 1u);
  const uint64_t a = ra.entries[0].index;
  Persist(leader, ra);
  leader.node->Advance(ra);

  // Round B outstanding ("b" being persisted) when the follower's answer for
  // "a" arrives: "a" is handed out, once.
  ASSERT_TRUE(leader.node->Propose("b").ok());
  Ready rb = leader.node->GetReady();
  ASSERT_EQ(rb.entries.size(), 1u);
  const uint64_t b = rb.entries[0].index;
  StepInto(follower, ra.messages);
  StepInto(leader, FollowerRound(follower));
  std::vector<Entry> got = leader.node->TakeStableCommittedEntries();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].index, a);
  EXPECT_EQ(got[0].data.ToString(), "a");
  EXPECT_TRUE(leader.node->TakeStableCommittedEntries().empty());

  // "b" commits (the follower has it) while still being persisted here: not
  // handed out.
  StepInto(follower, rb.messages);
  StepInto(leader, FollowerRound(follower));
  EXPECT_GE(leader.node->GetStatus().hard_state.commit, b);
  EXPECT_TRUE(leader.node->TakeStableCommittedEntries().empty());

  // After the Advance, the next Ready hands out "b" only ("a" counts as applied).
  Persist(leader, rb);
  leader.node->Advance(rb);
  EXPECT_EQ(leader.node->GetStatus().applied, a);
  ASSERT_TRUE(leader.node->HasReady());
  Ready rc = leader.node->GetReady();
  ASSERT_EQ(rc.committed_entries.size(), 1u);
  EXPECT_EQ(rc.committed_entries[0].index, b);
  EXPECT_EQ(LastIndexOf(rc.entries), 0u);
  Persist(leader, rc);
  leader.node->Advance(rc);
  EXPECT_EQ(leader.node->GetStatus().applied, b);
}

// A follower learns that entries it is still persisting are committed: they
// are not handed out until its Ready's Advance, then come in the next Ready.
TEST(RawNodeAsyncTest, FollowerDoesNotApplyEntriesItIsStillPersisting) {
  Network net(3);
  net.Elect(1);
  TestNode& leader = net.node(1);
  TestNode& slow = net.node(2);
  TestNode& fast = net.node(3);
  ASSERT_TRUE(leader.node->Propose("x").ok());
  Ready rx = leader.node->GetReady();
  ASSERT_EQ(rx.entries.size(), 1u);
  const uint64_t x = rx.entries[0].index;
  Persist(leader, rx);
  leader.node->Advance(rx);
  // The slow follower starts persisting "x"; the fast one acknowledges it.
  StepInto(slow, rx.messages);
  Ready slow_rd = slow.node->GetReady();
  ASSERT_EQ(LastIndexOf(slow_rd.entries), x);
  StepInto(fast, rx.messages);
  StepInto(leader, FollowerRound(fast));
  ASSERT_GE(leader.node->GetStatus().hard_state.commit, x);
  // The leader's next append tells the slow follower that "x" is committed.
  ASSERT_TRUE(leader.node->Propose("y").ok());
  Ready ry = leader.node->GetReady();
  Persist(leader, ry);
  leader.node->Advance(ry);
  StepInto(slow, ry.messages);
  EXPECT_GE(slow.node->GetStatus().hard_state.commit, x);
  EXPECT_TRUE(slow.node->TakeStableCommittedEntries().empty());
  Persist(slow, slow_rd);
  slow.node->Advance(slow_rd);
  Ready next = slow.node->GetReady();
  ASSERT_FALSE(next.committed_entries.empty());
  EXPECT_EQ(next.committed_entries[0].index, x);
}

}  // namespace
}  // namespace dkv::raft

// Unit tests for the pieces under the Raft core: storage, log, progress, quorum.
#include <gtest/gtest.h>

#include "raft/log_storage.h"
#include "raft/progress.h"
#include "raft/quorum.h"
#include "raft/raft_log.h"

namespace dkv::raft {
namespace {

std::vector<Entry> Ents(std::initializer_list<std::pair<uint64_t, uint64_t>> index_term) {
  std::vector<Entry> out;
  for (auto [i, t] : index_term) out.push_back(Entry{t, i, EntryType::kNormal, "x"});
  return out;
}

TEST(MemoryLogStorageTest, AppendReplacesConflictingSuffix) {
  MemoryLogStorage s;
  ASSERT_TRUE(s.Append(Ents({{1, 1}, {2, 1}, {3, 1}})).ok());
  ASSERT_TRUE(s.Append(Ents({{2, 2}})).ok());
  EXPECT_EQ(s.LastIndex(), 2u);
  EXPECT_EQ(*s.Term(2), 2u);
  EXPECT_TRUE(s.Term(3).status().IsUnavailable());
}

TEST(MemoryLogStorageTest, CompactKeepsSnapshotTermAndRejectsOldReads) {
  MemoryLogStorage s;
  ASSERT_TRUE(s.Append(Ents({{1, 1}, {2, 1}, {3, 2}, {4, 2}})).ok());
  ConfState cs{{1, 2, 3}, {}};
  ASSERT_TRUE(s.CreateSnapshot(3, cs, "state").ok());
  ASSERT_TRUE(s.Compact(3).ok());
  EXPECT_EQ(s.FirstIndex(), 4u);
  EXPECT_EQ(*s.Term(3), 2u);
  EXPECT_TRUE(s.Term(2).status().IsNotFound());
  EXPECT_TRUE(s.Entries(3, 5, 100).status().IsNotFound());
  auto ents = s.Entries(4, 5, 100);
  ASSERT_TRUE(ents.ok());
  EXPECT_EQ(ents->size(), 1u);
  EXPECT_EQ(s.GetInitialState().conf_state, cs);
  EXPECT_TRUE(s.Compact(4).IsInvalidArgument());  // beyond the snapshot
}

TEST(MemoryLogStorageTest, EntriesRespectByteLimitButReturnAtLeastOne) {
  MemoryLogStorage s;
  ASSERT_TRUE(s.Append(Ents({{1, 1}, {2, 1}, {3, 1}})).ok());
  EXPECT_EQ(s.Entries(1, 4, 0)->size(), 1u);
  EXPECT_EQ(s.Entries(1, 4, 2 * Ents({{1, 1}})[0].ByteSize())->size(), 2u);
}

TEST(MemoryLogStorageTest, ApplySnapshotDropsLog) {
  MemoryLogStorage s;
  ASSERT_TRUE(s.Append(Ents({{1, 1}, {2, 1}})).ok());
  Snapshot snap;
  snap.metadata = {10, 3, ConfState{{1}, {}}};
  ASSERT_TRUE(s.ApplySnapshot(snap).ok());
  EXPECT_EQ(s.FirstIndex(), 11u);
  EXPECT_EQ(s.LastIndex(), 10u);
  EXPECT_EQ(*s.Term(10), 3u);
}

TEST(ConfChangeCodecTest, RoundTripsAndRejectsGarbage) {
  ConfChange cc{ConfChangeType::kAddLearner, 42, "10.0.0.4:7000"};
  auto back = DecodeConfChange(EncodeConfChange(cc));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, cc);
  EXPECT_TRUE(DecodeConfChange("").status().IsCorruption());
  EXPECT_TRUE(DecodeConfChange(std::string("\x07", 1)).status().IsCorruption());
  std::string truncated = EncodeConfChange(cc);
  truncated.pop_back();
  EXPECT_TRUE(DecodeConfChange(truncated).status().IsCorruption());
}

TEST(RaftLogTest, FindConflictReportsFirstMismatch) {
  MemoryLogStorage s;
  ASSERT_TRUE(s.Append(Ents({{1, 1}, {2, 2}, {3, 3}})).ok());
  RaftLog log(&s, 1 << 20);
  EXPECT_EQ(log.FindConflict(Ents({{1, 1}, {2, 2}})), 0u);
  EXPECT_EQ(log.FindConflict(Ents({{2, 2}, {3, 4}})), 3u);
  EXPECT_EQ(log.FindConflict(Ents({{3, 3}, {4, 4}})), 4u);
}

TEST(RaftLogTest, FindConflictByTermSkipsWholeTerms) {
  MemoryLogStorage s;
  ASSERT_TRUE(s.Append(Ents({{1, 1}, {2, 1}, {3, 2}, {4, 2}, {5, 4}})).ok());
  RaftLog log(&s, 1 << 20);
  EXPECT_EQ(log.FindConflictByTerm(5, 3), (std::pair<uint64_t, uint64_t>{4, 2}));
  EXPECT_EQ(log.FindConflictByTerm(5, 1), (std::pair<uint64_t, uint64_t>{2, 1}));
  EXPECT_EQ(log.FindConflictByTerm(9, 9), (std::pair<uint64_t, uint64_t>{5, 4}));
}

// §5.4.2: counting replicas commits only an entry of the current term.
TEST(RaftLogTest, MaybeCommitRefusesEntryOfOlderTerm) {
  MemoryLogStorage s;
  ASSERT_TRUE(s.Append(Ents({{1, 1}, {2, 2}})).ok());
  RaftLog log(&s, 1 << 20);
  EXPECT_FALSE(log.MaybeCommit(2, 3));
  EXPECT_EQ(log.committed(), 0u);
  EXPECT_TRUE(log.MaybeCommit(2, 2));
  EXPECT_EQ(log.committed(), 2u);
  EXPECT_FALSE(log.MaybeCommit(1, 1));  // never backwards
  EXPECT_EQ(log.committed(), 2u);
}

TEST(RaftLogTest, AppendTruncatesUnstableAndStableTail) {
  MemoryLogStorage s;
  ASSERT_TRUE(s.Append(Ents({{1, 1}, {2, 1}})).ok());
  RaftLog log(&s, 1 << 20);
  log.Append(Ents({{3, 1}, {4, 1}}));
  EXPECT_EQ(log.LastIndex(), 4u);
  log.Append(Ents({{4, 2}}));
  EXPECT_EQ(log.LastIndex(), 4u);
  EXPECT_EQ(log.TermOrZero(4), 2u);
  log.Append(Ents({{2, 3}}));  // below the unstable tail: replaces stable entry 2
  EXPECT_EQ(log.LastIndex(), 2u);
  EXPECT_EQ(log.TermOrZero(2), 3u);
  EXPECT_EQ(log.unstable_entries().size(), 1u);
  std::vector<Entry> out;
  ASSERT_TRUE(log.Slice(1, 3, 1 << 20, &out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].term, 3u);
}

TEST(RaftLogTest, NextCommittedEntriesStopAtCommitAndAdvanceWithApplied) {
  MemoryLogStorage s;
  RaftLog log(&s, 1 << 20);
  log.Append(Ents({{1, 1}, {2, 1}, {3, 1}}));
  EXPECT_FALSE(log.HasNextCommittedEntries());
  log.CommitTo(2);
  auto ents = log.NextCommittedEntries();
  ASSERT_EQ(ents.size(), 2u);
  log.AppliedTo(2);
  EXPECT_FALSE(log.HasNextCommittedEntries());
}

TEST(InflightsTest, FullWindowFreesInOrder) {
  Inflights in(3);
  in.Add(5);
  in.Add(7);
  in.Add(9);
  EXPECT_TRUE(in.Full());
  in.FreeLE(7);
  EXPECT_EQ(in.Count(), 1u);
  in.Add(11);
  in.Add(13);
  EXPECT_TRUE(in.Full());  // wrapped around the ring
  in.FreeFirstOne();
  EXPECT_EQ(in.Count(), 2u);
  in.FreeLE(100);
  EXPECT_EQ(in.Count(), 0u);
}

TEST(ProgressTest, ProbeIsPausedUntilAnswered) {
  Progress pr(5, 4, false);
  EXPECT_FALSE(pr.IsPaused());
  pr.SentEntries(6, 1);
  EXPECT_TRUE(pr.IsPaused());
  EXPECT_TRUE(pr.MaybeUpdate(6));
  EXPECT_FALSE(pr.IsPaused());
  EXPECT_EQ(pr.next, 7u);
}

TEST(ProgressTest, ReplicatePipelinesUpToWindow) {
  Progress pr(1, 2, false);
  pr.BecomeReplicate();
  pr.SentEntries(3, 3);
  EXPECT_EQ(pr.next, 4u);
  pr.SentEntries(5, 2);
  EXPECT_TRUE(pr.IsPaused());
  pr.MaybeUpdate(3);
  pr.inflights.FreeLE(3);
  EXPECT_FALSE(pr.IsPaused());
}

TEST(ProgressTest, StaleRejectionIsIgnored) {
  Progress pr(10, 4, false);
  pr.match = 5;
  pr.BecomeReplicate();                // next = 6
  EXPECT_FALSE(pr.MaybeDecrTo(5, 3));  // at or below match: stale
  EXPECT_TRUE(pr.MaybeDecrTo(8, 3));
  EXPECT_EQ(pr.next, 6u);
  pr.BecomeProbe();
  pr.next = 9;
  EXPECT_FALSE(pr.MaybeDecrTo(5, 2));  // not the outstanding probe (next-1 = 8)
  EXPECT_TRUE(pr.MaybeDecrTo(8, 6));
  EXPECT_EQ(pr.next, 7u);
}

TEST(QuorumTest, MajorityValueIsTheMedianForOddGroups) {
  std::map<NodeId, uint64_t> match{{1, 5}, {2, 3}, {3, 9}};
  auto f = [&](NodeId id) { return match[id]; };
  EXPECT_EQ(MajorityValue({1, 2, 3}, f), 5u);
  EXPECT_EQ(MajorityValue({1, 2}, f), 3u);
  EXPECT_EQ(MajorityValue({}, f), 0u);
}

TEST(QuorumTest, VoteResultNeedsMajorityOfVoters) {
  EXPECT_EQ(MajorityVoteResult({1, 2, 3}, {{1, true}}), VoteResult::kPending);
  EXPECT_EQ(MajorityVoteResult({1, 2, 3}, {{1, true}, {2, true}}), VoteResult::kWon);
  EXPECT_EQ(MajorityVoteResult({1, 2, 3}, {{1, true}, {2, false}, {3, false}}), VoteResult::kLost);
  EXPECT_EQ(MajorityVoteResult({1, 2, 3, 4}, {{1, true}, {2, true}, {9, true}}),
            VoteResult::kPending);  // 9 is not a voter
}

TEST(QuorumTest, ConfChangeValidation) {
  ConfState cs{{1, 2}, {3}};
  EXPECT_TRUE(ValidateConfChange(cs, {ConfChangeType::kAddVoter, 3, {}}).ok());  // promote
  EXPECT_TRUE(ValidateConfChange(cs, {ConfChangeType::kAddVoter, 1, {}}).IsInvalidArgument());
  EXPECT_TRUE(ValidateConfChange(cs, {ConfChangeType::kAddLearner, 2, {}}).IsInvalidArgument());
  EXPECT_TRUE(ValidateConfChange(cs, {ConfChangeType::kRemoveNode, 9, {}}).IsInvalidArgument());
  EXPECT_TRUE(ValidateConfChange(ConfState{{1}, {}}, {ConfChangeType::kRemoveNode, 1, {}})
                  .IsInvalidArgument());
  ConfState promoted = ApplyConfChange(cs, {ConfChangeType::kAddVoter, 3, {}});
  EXPECT_EQ(promoted, (ConfState{{1, 2, 3}, {}}));
}

}  // namespace
}  // namespace dkv::raft

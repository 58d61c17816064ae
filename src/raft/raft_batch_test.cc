// Tests for batched proposals (RawNode::ProposeBatch) and the shared, immutable
// entry bytes (Payload) that make a batch cheap to fan out to followers.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "raft/limits.h"
#include "raft/payload.h"
#include "raft/raft_test_util.h"

namespace dkv::raft {
namespace {

using testing::Network;

TEST(PayloadTest, CopiesShareOneAllocationAndCompareByBytes) {
  Payload empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.use_count(), 0u);
  EXPECT_EQ(empty.view(), "");

  Payload a(std::string("hello"));
  EXPECT_EQ(a.use_count(), 1u);
  {
    Payload b = a;
    EXPECT_EQ(a.use_count(), 2u);
    EXPECT_EQ(b.data(), a.data());  // the same bytes, not a copy
    Payload c = std::move(b);
    EXPECT_EQ(a.use_count(), 2u);
    EXPECT_EQ(c.view(), "hello");
  }
  EXPECT_EQ(a.use_count(), 1u);
  EXPECT_EQ(a, Payload(std::string_view("hello")));  // separate allocations, same bytes
  EXPECT_FALSE(a == Payload("hellO"));

  const std::string binary("a\0b", 3);
  Payload bin(binary);
  EXPECT_EQ(bin.size(), 3u);
  EXPECT_EQ(bin.ToString(), binary);
}

// A batch is appended in order, replicated in one MsgApp per follower, and applied
// by every node in the same order.
TEST(ProposeBatchTest, LeaderAppendsBatchInOrderAndEveryNodeApplies) {
  Network net(3);
  net.Elect(1);
  net.ClearSent();
  ASSERT_TRUE(net.node(1).node->ProposeBatch({"a", "b", "c"}).ok());
  net.Deliver();
  net.TickAll(2);
  const std::vector<std::string> want{"a", "b", "c"};
  for (NodeId id : net.ids()) EXPECT_EQ(net.node(id).state, want) << "node " << id;
  size_t apps_with_all_three = 0;
  for (const Message& m : net.sent()) {
    if (m.type == MessageType::kMsgApp && m.entries.size() == 3) apps_with_all_three++;
  }
  EXPECT_EQ(apps_with_all_three, 2u);  // one per follower
  net.CheckLogsAgree();
}

TEST(ProposeBatchTest, FollowerForwardsTheBatchAsOneProposal) {
  Network net(3);
  net.Elect(1);
  net.ClearSent();
  ASSERT_TRUE(net.node(2).node->ProposeBatch({"x", "y"}).ok());
  net.Deliver();
  net.TickAll(2);
  EXPECT_EQ(net.CountSent(MessageType::kMsgProp), 1u);
  const std::vector<std::string> want{"x", "y"};
  for (NodeId id : net.ids()) EXPECT_EQ(net.node(id).state, want) << "node " << id;
}

TEST(ProposeBatchTest, EmptyBatchDoesNothingAndOversizedBatchIsRefused) {
  Network net(3);
  net.Elect(1);
  const uint64_t last = net.node(1).status().applied;
  EXPECT_TRUE(net.node(1).node->ProposeBatch({}).ok());
  std::vector<std::string> too_many(kMaxEntriesPerMsg + 1, "v");
  Status s = net.node(1).node->ProposeBatch(std::move(too_many));
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  net.Deliver();
  net.TickAll(2);
  EXPECT_EQ(net.node(1).status().applied, last);
  EXPECT_TRUE(net.node(1).state.empty());
}

TEST(ProposeBatchTest, NodeWithoutLeaderRefusesTheWholeBatch) {
  Network net(3);
  Status s = net.node(1).node->ProposeBatch({"a", "b"});
  EXPECT_TRUE(s.IsUnavailable()) << s.ToString();
}

}  // namespace
}  // namespace dkv::raft

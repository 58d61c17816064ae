// Unit tests of the forward wire form of ShardRouter: shard operations as
// ForwardRequest args and shard replies as RESP2 ForwardResponse bytes. A
// damaged answer must decode to an error, never to a value.
#include "runtime/shard_router.h"

#include <gtest/gtest.h>

namespace dkv::runtime {
namespace {

TEST(ShardOpTest, ArgsRoundTripForEveryKind) {
  ShardOp put;
  put.kind = ShardOp::Kind::kPut;
  put.shard = 3;
  put.keys = {"a", "b"};
  put.values = {"1", std::string("\0\r\n", 3)};
  EXPECT_EQ(put.ToArgs(), (std::vector<std::string>{"PUT", "a", "1", "b", put.values[1]}));
  Result<ShardOp> back = ShardOp::FromArgs(3, put.ToArgs());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value().kind, ShardOp::Kind::kPut);
  EXPECT_EQ(back.value().keys, put.keys);
  EXPECT_EQ(back.value().values, put.values);

  for (auto kind : {ShardOp::Kind::kDelete, ShardOp::Kind::kGet}) {
    ShardOp op;
    op.kind = kind;
    op.keys = {"x", "y", "z"};
    Result<ShardOp> r = ShardOp::FromArgs(1, op.ToArgs());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().kind, kind);
    EXPECT_EQ(r.value().keys, op.keys);
    EXPECT_EQ(r.value().shard, 1u);
  }
}

TEST(ShardOpTest, MalformedArgsAreRefused) {
  EXPECT_TRUE(ShardOp::FromArgs(0, {}).status().IsInvalidArgument());
  EXPECT_TRUE(ShardOp::FromArgs(0, {"GET"}).status().IsInvalidArgument());
  EXPECT_TRUE(ShardOp::FromArgs(0, {"PUT", "k"}).status().IsInvalidArgument());
  EXPECT_TRUE(ShardOp::FromArgs(0, {"INCR", "k"}).status().IsInvalidArgument());
}

TEST(ShardReplyTest, EveryKindRoundTrips) {
  ShardReply ok;
  ShardReply integer;
  integer.kind = ShardReply::Kind::kInteger;
  integer.integer = 7;
  ShardReply values;
  values.kind = ShardReply::Kind::kValues;
  values.values = {std::string("v\r\n1"), std::nullopt, std::string()};
  ShardReply not_leader;
  not_leader.kind = ShardReply::Kind::kNotLeader;
  not_leader.leader = 2;
  ShardReply no_leader;
  no_leader.kind = ShardReply::Kind::kNoLeader;
  ShardReply no_replica;
  no_replica.kind = ShardReply::Kind::kNoReplica;
  ShardReply error = ShardReply::Error("UNAVAILABLE shard 4 has no leader");
  for (const ShardReply& r : {ok, integer, values, not_leader, no_leader, no_replica, error}) {
    Result<ShardReply> back = DecodeShardReply(EncodeShardReply(r));
    ASSERT_TRUE(back.ok()) << EncodeShardReply(r);
    EXPECT_EQ(back.value().kind, r.kind);
    EXPECT_EQ(back.value().integer, r.integer);
    EXPECT_EQ(back.value().values, r.values);
    EXPECT_EQ(back.value().leader, r.leader);
    EXPECT_EQ(back.value().error, r.error);
  }
}

TEST(ShardReplyTest, ErrorTextLosesLineBreaksInsteadOfBreakingTheFrame) {
  Result<ShardReply> back = DecodeShardReply(EncodeShardReply(ShardReply::Error("ERR a\r\nb")));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value().error, "ERR a  b");
}

TEST(ShardReplyTest, DamagedRepliesAreCorruptionNeverValues) {
  const std::vector<std::string> bad = {
      "",
      "+OK",
      "+YES\r\n",
      ":-1\r\n",
      ":x\r\n",
      "*1\r\n",
      "*2\r\n$-1\r\n",
      "*1\r\n$5\r\nab\r\n",
      "*1\r\n$2\r\nabXY",
      "$3\r\nabc\r\n",
      "+OK\r\ntrailing",
      "-NOTLEADER x\r\n",
      "*99999999\r\n",
  };
  for (const std::string& b : bad) {
    EXPECT_TRUE(DecodeShardReply(b).status().IsCorruption()) << "'" << b << "'";
  }
}

}  // namespace
}  // namespace dkv::runtime

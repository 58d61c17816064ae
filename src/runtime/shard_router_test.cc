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

TEST(ShardOpTest, EvalTravelsAsItsShardCommandEncoding) {
  ShardOp op;
  op.kind = ShardOp::Kind::kEval;
  op.shard = 2;
  op.eval.type = node::EvalOpType::kSet;
  op.eval.key = "k";
  op.eval.value = std::string("v\0\r\n", 4);
  op.eval.flags = node::kSetNx | node::kSetGet;
  op.eval.expiry_mode = node::ExpiryMode::kRelativeMs;
  op.eval.expiry_ms = 1500;
  op.keys = {"k"};
  const std::vector<std::string> args = op.ToArgs();
  ASSERT_EQ(args.size(), 2u);
  EXPECT_EQ(args[0], "EVAL");
  Result<ShardOp> back = ShardOp::FromArgs(2, args);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back.value().kind, ShardOp::Kind::kEval);
  EXPECT_FALSE(back.value().is_read());
  EXPECT_EQ(back.value().eval, op.eval);
  EXPECT_EQ(back.value().keys, op.keys);
  // A damaged command, a plain write, or extra args are refused.
  std::string damaged = args[1];
  damaged.pop_back();  // truncated
  EXPECT_TRUE(ShardOp::FromArgs(2, {"EVAL", damaged}).status().IsInvalidArgument());
  EXPECT_TRUE(
      ShardOp::FromArgs(2, {"EVAL", node::EncodeShardCommand(node::ShardCommand::Put("k", "v"))})
          .status()
          .IsInvalidArgument());
  EXPECT_TRUE(ShardOp::FromArgs(2, {"EVAL", args[1], "x"}).status().IsInvalidArgument());
}

TEST(ShardOpTest, ScanCarriesItsLimitAndCursorKey) {
  ShardOp op;
  op.kind = ShardOp::Kind::kScan;
  op.limit = 100;
  op.keys = {std::string("a\0b", 3)};
  EXPECT_EQ(op.ToArgs(), (std::vector<std::string>{"SCAN", "100", op.keys[0]}));
  Result<ShardOp> back = ShardOp::FromArgs(4, op.ToArgs());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back.value().kind, ShardOp::Kind::kScan);
  EXPECT_TRUE(back.value().is_read());
  EXPECT_EQ(back.value().limit, 100u);
  EXPECT_EQ(back.value().keys, op.keys);
  EXPECT_TRUE(ShardOp::FromArgs(4, {"SCAN", "100", ""}).ok());  // from the first key
  for (const std::string& limit :
       std::vector<std::string>{"0", "-1", "x", std::to_string(kMaxScanPage + 1)}) {
    EXPECT_TRUE(ShardOp::FromArgs(4, {"SCAN", limit, ""}).status().IsInvalidArgument()) << limit;
  }
  EXPECT_TRUE(ShardOp::FromArgs(4, {"SCAN", "1"}).status().IsInvalidArgument());
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
  ShardReply negative;  // an INCR's answer
  negative.kind = ShardReply::Kind::kInteger;
  negative.integer = INT64_MIN;
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
  for (const ShardReply& r :
       {ok, integer, negative, values, not_leader, no_leader, no_replica, error}) {
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
      ":x\r\n",
      ":\r\n",
      ":+1\r\n",
      ":1.5\r\n",
      ":99999999999999999999\r\n",
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
